"""The report's builder: a finished run in, the display-ready view model (``viewmodel``) out.

Owns: choosing which rows each table shows (the first ``MAX_TABLE_ROWS`` by line, fewer when
more than four code sections share ``MAX_SECTION_ROWS``; each table names the CSV that holds the
rest), which columns identify a record and which values a code says to check, the report's
wording (facts, figures, verdict, money, next steps, charts, code sections) and chart
geometry. Its run comes from ``sources`` (memory or an output folder: the same view either
way, so ``reconciler report`` re-renders exactly what ``reconcile`` wrote); words and numbers
are formatted by ``formatting``, shared with the workbook.

Does not own: any statistic. Counts, percentages and money come from the run's typed summary
(``reconciler.summary``); this module only arranges them. It reads and writes no files and
knows no HTML (``reports.html`` renders the view).

Longer than most modules (about 1,000 lines) for one reason: ``_Builder`` is one class whose
sections (record tables, code sections, unmatched results) share cached selections and
per-value cells that make a million-record report take a second; split apart, each part would
recompute them or pass them through a dozen parameters.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from reconciler.catalogue import Catalogue, CodeInfo, load_catalogue
from reconciler.errors import InputError, ReconcilerError
from reconciler.formulas import unneutralise
from reconciler.model import HistoryFigures, Reconciliation, required_summary_fields
from reconciler.outputs import MAX_ATTENTION_ROWS

from .formatting import (
    CONTROL_CHARS,
    MAX_CELL_CHARS,
    RESOLUTION_HINTS,
    clip,
    count,
    equals,
    first_by_line,
    in_line_order,
    money_text,
    ordered_resolutions,
    plural,
    resolution_label,
    resolution_tone,
    slug,
    table_note,
)
from .sources import RunData, run_from_folder, run_from_reconciliation
from .viewmodel import (
    Bar,
    Cell,
    Chart,
    CodeSection,
    Column,
    Fact,
    Figure,
    Money,
    MoneyLine,
    ReasonNote,
    Report,
    Row,
    Step,
    TableView,
)

MAX_TABLE_ROWS = 500
"""Rows one HTML table embeds; the rest stay in the CSV the table names."""
MAX_CODE_SECTIONS = 20
"""Codes that get a section of their own (the most frequent); the others are listed only."""
MAX_SECTION_ROWS = 2_000
"""Rows all code sections embed together: with more than 4 sections each gets fewer than 500
(at least 100), so a run with many codes still gives a report of about 2 MB."""
MAX_CHART_BARS = 15
MAX_ADVICE_CHARS = 1000
MAX_VALUE_PAIRS = 6
MAX_CELL_CODES = 20
"""Codes one table cell shows; a record with more says how many more are in reconciled.csv."""

REQUIRED_SUMMARY_KEYS: tuple[str, ...] = required_summary_fields()

UNMATCHED_REASONS: Mapping[str, str] = {
    "line_out_of_range": "The result names a line past the end of the sent file.",
    "not_a_record_line": "The result names a line that holds no record (the header, a blank "
    "line or the inside of a multi-line value).",
    "contradicts_line": "The identifiers in the result disagree with the record at its line, "
    "and they name no single other record.",
    "no_such_record": "No record of the sent file carries the result's identifiers.",
    "ambiguous_key": "The result's identifiers name several records of the sent file; it "
    "belongs to one of them but the results do not say which.",
    "no_identifiers": "The result carries neither a line nor an identifier to tie it with.",
    "unconfirmed_line": "impact.com counted another number of records than the sent file "
    "holds, and no identifier of the result confirms the record at its line.",
}
IDENTIFIER_FIELDS: tuple[str, ...] = ("action_id", "oid", "action_tracker_id")
MODIFICATION_TEMPLATES = frozenset({"modification", "item_modification", "mobile"})
CONVERSION_TEMPLATES = frozenset({"conversion", "item_conversion", "chained_conversion"})


# --------------------------------------------------------------------------- formatting


def section_rows(sections: int) -> int:
    """Rows each code section's table embeds when there are ``sections`` of them."""
    return min(MAX_TABLE_ROWS, max(100, MAX_SECTION_ROWS // max(sections, 1)))


def _file_name(path: str) -> str:
    return re.split(r"[\\/]", path.rstrip("\\/"))[-1] or path


# --------------------------------------------------------------------------- building


class _Rows:
    """Display values of the chosen records of every record table, looked up by column label.

    The positions of all tables are fetched together, once per column: taking a few thousand
    rows of a million-row column costs about as much as taking a few hundred."""

    def __init__(self, run: RunData, positions: npt.NDArray[np.intp]) -> None:
        self.positions = np.unique(positions)
        self._start = int(self.positions[0]) if len(self.positions) else 0
        self._stop = int(self.positions[-1]) + 1 if len(self.positions) else 0
        self._run = run
        self._cache: dict[tuple[str, str], list[str]] = {}
        self._clipped: dict[tuple[str, str], list[str]] = {}

    def index(self, positions: npt.NDArray[np.intp]) -> list[int]:
        """Where each of ``positions`` is among the fetched rows."""
        return [int(i) for i in np.searchsorted(self.positions, positions)]

    def column(self, part: str, label: str) -> list[str]:
        key = (part, label)
        if key not in self._cache:
            frame = self._run.sent if part == "sent" else self._run.verdict
            if label not in frame.columns:
                values = [""] * len(self.positions)
            else:
                # Take the few rows first: converting a whole million-row column is slow. The
                # rows shown are the first by line, so they lie in a short stretch of a long
                # column: slicing to it first spares a take from every chunk of the column.
                stretch = frame[label].iloc[self._start : self._stop]
                raw = stretch.iloc[self.positions - self._start].to_numpy(dtype=object)
                values = ["" if v is None else str(v) for v in raw]
                # Only input values were neutralised for a formula; the verdict columns are
                # reconciler's own text (advice may start with a quote: "'Returned' is...").
                if self._run.neutralised and part == "sent":
                    values = unneutralise(values)
            self._cache[key] = values
        return self._cache[key]

    def clipped(self, part: str, label: str) -> list[str]:
        """``clip`` of each value of ``column(part, label)``."""
        key = (part, label)
        if key not in self._clipped:
            self._clipped[key] = _clip_all(self.column(part, label))
        return self._clipped[key]


def _clip_all(values: list[str], limit: int = MAX_CELL_CHARS) -> list[str]:
    """``[clip(v, limit) for v in values]`` for text values, at once when none needs a change."""
    if not values:
        return []
    # "\n" is no control character of CONTROL_CHARS, so it cannot make the joined text match.
    if max(map(len, values)) <= limit and not CONTROL_CHARS.search("\n".join(values)):
        return values
    return [clip(v, limit) for v in values]


@dataclass(frozen=True, slots=True)
class _CodesCell:
    """What a record table shows for one ErrorCodes value (the same for every record with it)."""

    codes: tuple[str, ...]
    cell: Cell
    filter: str  # Row.codes
    flagged: frozenset[str]  # identifier columns the codes say to check
    value_labels: tuple[str, ...]  # the other columns the codes say to check, in order


@dataclass(frozen=True, slots=True)
class _Selection:
    records: npt.NDArray[np.intp]
    sections: tuple[npt.NDArray[np.intp], ...]
    rows: _Rows


_FIRST_SCAN = 1 << 16
"""Records of the first block scanned for the codes of the sections (the blocks then double)."""


class _Builder:
    def __init__(self, run: RunData, catalogue: Catalogue) -> None:
        self.run = run
        self.s = run.summary
        self.cat = catalogue
        fields: Mapping[str, str] = self.s.sent_fields
        items: Mapping[str, Sequence[str]] = self.s.sent_item_fields
        sent_cols = set(map(str, run.sent.columns))
        self.fields = {k: v for k, v in fields.items() if v in sent_cols}
        self.item_fields = {k: [c for c in v if c in sent_cols] for k, v in items.items()}
        self.id_fields = [f for f in IDENTIFIER_FIELDS if f in self.fields]
        by_code = self.s.by_code
        self.section_codes = list(by_code)[:MAX_CODE_SECTIONS]
        self.anchors = {c: f"code-{i + 1}-{slug(c)}" for i, c in enumerate(self.section_codes)}
        self.in_line_order = in_line_order(run.lines)
        self._selection: _Selection | None = None
        self._codes_cells: dict[str, _CodesCell] = {}
        self._labels: dict[str, str] = {}

    # -- selection

    def _section_positions(self, limit: int) -> list[npt.NDArray[np.intp]]:
        """For each section code, the first ``limit`` records by line whose ErrorCodes hold it.

        In line order, blocks of records are scanned until every code has ``limit`` of them
        (frequent codes are found in the first block); otherwise all records at once."""
        column = self.run.verdict["ErrorCodes"]
        n = len(column)
        found: dict[str, list[npt.NDArray[np.intp]]] = {c: [] for c in self.section_codes}
        counts = dict.fromkeys(self.section_codes, 0)
        pending = list(self.section_codes)
        split: dict[str, list[str]] = {}
        start, size = 0, (_FIRST_SCAN if self.in_line_order else n)
        while pending and start < n:
            ids, cells = pd.factorize(column.iloc[start : start + size])
            codes_of = []
            for cell in cells:
                text = str(cell)
                if text not in split:
                    split[text] = text.split(";")
                codes_of.append(split[text])
            for code in pending:
                hits = [i for i, codes in enumerate(codes_of) if code in codes]
                if not hits:
                    continue
                lookup = np.zeros(len(codes_of) + 1, dtype=bool)  # the last: a missing value
                lookup[hits] = True
                positions = np.flatnonzero(lookup[ids]) + start
                found[code].append(positions)
                counts[code] += len(positions)
            if self.in_line_order:
                pending = [c for c in pending if counts[c] < limit]
            start += size
            size *= 2
        out: list[npt.NDArray[np.intp]] = []
        for code in self.section_codes:
            positions = np.concatenate([np.zeros(0, dtype=np.intp), *found[code]])
            if not self.in_line_order:
                positions = positions[np.argsort(self.run.lines[positions], kind="stable")]
            out.append(positions[:limit].astype(np.intp))
        return out

    def selection(self) -> _Selection:
        """The records each record table shows, and their display values."""
        if self._selection is None:
            records = first_by_line(
                ~equals(self.run.verdict["Resolution"], "none"),
                self.run.lines,
                MAX_TABLE_ROWS,
                self.in_line_order,
            )
            sections = self._section_positions(section_rows(len(self.section_codes)))
            every = np.concatenate([records, *sections]).astype(np.intp)
            self._selection = _Selection(records, tuple(sections), _Rows(self.run, every))
        return self._selection

    # -- record tables

    def _check_fields(self, codes: Sequence[str]) -> list[str]:
        seen: list[str] = []
        for code in codes:
            for f in self.cat.get(code).fields:
                if f not in seen:
                    seen.append(f)
        return seen

    def _columns_of(self, field: str) -> list[str]:
        if field in self.fields:
            return [self.fields[field]]
        return list(self.item_fields.get(field, []))

    def _label(self, label: str) -> str:
        if label not in self._labels:
            self._labels[label] = clip(label, 60)
        return self._labels[label]

    def _codes_cell(self, text: str) -> _CodesCell:
        if text not in self._codes_cells:
            every = [c for c in text.split(";") if c]
            # A record may carry thousands of codes (one API record with a flood of them):
            # the cell shows the first MAX_CELL_CODES and says how many more are in the CSV.
            codes = every[:MAX_CELL_CODES]
            check = self._check_fields(codes)
            clipped = [clip(c, 80) for c in codes]
            items = [(k, self.anchors.get(c, "")) for c, k in zip(codes, clipped, strict=True)]
            if len(every) > len(codes):
                items.append((f"and {count(len(every) - len(codes))} more in reconciled.csv", ""))
            self._codes_cells[text] = _CodesCell(
                codes=tuple(codes),
                cell=Cell(" ".join(codes), "codes", items=tuple(items)),
                filter=" ".join(clipped),
                flagged=frozenset(self.fields[f] for f in check if f in self.id_fields),
                value_labels=tuple(
                    label for f in check if f not in self.id_fields for label in self._columns_of(f)
                ),
            )
        return self._codes_cells[text]

    def record_table(
        self,
        table_id: str,
        caption: str,
        positions: npt.NDArray[np.intp],
        total: int,
        more: str,
        section: CodeInfo | None = None,
    ) -> TableView:
        """Records at ``positions`` (from ``selection``), in that order.

        In the section of one code (``section``), a column that would only repeat that code or
        its advice (shown above the table) is left out, and so is an empty column."""
        rows = self.selection().rows
        where = rows.index(positions)
        id_labels = [self.fields[f] for f in self.id_fields]
        ids = [(lab, self._label(lab), rows.clipped("sent", lab)) for lab in id_labels]
        codes_col = rows.column("verdict", "ErrorCodes")
        res_col = rows.column("verdict", "Resolution")
        advice_col = rows.column("verdict", "Advice")
        history_col = self._history(rows)
        lines = self.run.lines[positions].tolist()
        names = (
            "Line", "Identifiers", "Codes", "Resolution", "Sent before", "Values to check",
            "Advice",
        )  # fmt: skip
        useful = dict.fromkeys(names, section is None)
        useful["Line"] = useful["Identifiers"] = useful["Resolution"] = True
        useful["Values to check"] = useful["Sent before"] = False
        no_history = Cell("", "muted")
        advice_cells: dict[str, Cell] = {}
        res_cells: dict[str, Cell] = {}
        no_values = Cell("", "values", items=())
        grid: list[tuple[list[Cell], str, str]] = []
        for i, j in enumerate(where):
            info = self._codes_cell(codes_col[j])
            id_items = tuple((clab, col[j]) for lab, clab, col in ids if col[j])
            marks = tuple(lab in info.flagged for lab, _, col in ids if col[j])
            pairs: list[tuple[str, str]] = []
            for label in info.value_labels:
                value = rows.clipped("sent", label)[j]
                if value:
                    pairs.append((self._label(label), value))
                    if len(pairs) == MAX_VALUE_PAIRS:
                        break
            advice = advice_col[j]
            advice_cell = advice_cells.get(advice)
            if advice_cell is None:
                if section is not None and advice == section.advice:
                    advice_cell = Cell("See “What to do” above.", "muted")
                elif section is not None and section.advice and advice.endswith(section.advice):
                    # record-specific words, then the code's advice: keep only the first part
                    head = _TRAILING_LABEL.sub("", advice[: -len(section.advice)])
                    head = head.rstrip(" .;|")
                    advice_cell = Cell(clip(head, MAX_ADVICE_CHARS) + ". See “What to do” above.")
                else:
                    advice_cell = Cell(clip(advice, MAX_ADVICE_CHARS))
                advice_cells[advice] = advice_cell
            if advice_cell.kind != "muted":
                useful["Advice"] = True
            if section is not None and info.codes != (section.code,):
                useful["Codes"] = True
            if pairs:
                useful["Values to check"] = True
            res = res_col[j]
            res_cell = res_cells.get(res)
            if res_cell is None:
                res_cell = res_cells[res] = Cell(
                    resolution_label(res), "resolution", items=((res, ""),)
                )
            history = history_col[j]
            if history:
                useful["Sent before"] = True
            cells = [
                Cell(str(lines[i]), "num"),
                Cell(" ".join(v for _, v in id_items), "ids", items=id_items, marks=marks),
                info.cell,
                res_cell,
                Cell(history) if history else no_history,
                Cell("", "values", items=tuple(pairs)) if pairs else no_values,
                advice_cell,
            ]
            grid.append((cells, info.filter, res))
        keep = [i for i, name in enumerate(names) if useful[name]]
        columns = tuple(Column(names[i], numeric=names[i] == "Line") for i in keep)
        if len(keep) == len(names):
            out = [Row(tuple(cells), codes, res) for cells, codes, res in grid]
        else:
            out = [Row(tuple(cells[i] for i in keep), codes, res) for cells, codes, res in grid]
        return TableView(
            id=table_id,
            caption=caption,
            columns=columns,
            rows=tuple(out),
            total=total,
            note=table_note(len(out), total, more),
            filterable=True,
            empty="No records.",
        )

    def _history(self, rows: _Rows) -> list[str]:
        """Per fetched record, what the ledger knew of it: ``Attempt 2: last sent in
        sent.csv (rejected: BAD_DISPOSITION)``; "" for a first attempt, or without a ledger."""
        attempts = rows.column("verdict", "Attempt")
        batches = rows.column("verdict", "PreviousBatch")
        outcomes = rows.column("verdict", "PreviousOutcome")
        texts: list[str] = []
        for attempt, batch, outcome in zip(attempts, batches, outcomes, strict=True):
            if attempt in ("", "1"):
                texts.append("")
                continue
            said = f" ({outcome})" if outcome else ""
            texts.append(clip(f"Attempt {attempt}: last sent in {batch}{said}", MAX_ADVICE_CHARS))
        return texts

    # -- sections

    def facts(self) -> tuple[Fact, ...]:
        s = self.s
        sub = s.submission
        facts = [
            Fact("Sent file", s.sent_file),
            Fact("Results file", s.results_file),
            Fact("Template", s.template_title),
            Fact("Results shape", s.result_shape_title),
            Fact("Line numbering", s.line_base_detail),
        ]
        status = sub.status or ""
        parts = [
            status or ("status not given (taken as finished)" if sub.complete else "not complete")
        ]
        if sub.total_records is not None:
            parts.append(f"{plural(sub.total_records, 'record')} counted by impact.com")
        batches = list(sub.batch_ids)
        if len(batches) == 1:
            parts.append(f"batch {batches[0]}")
        elif batches:
            shown = ", ".join(batches[:2])
            more = f" and {count(len(batches) - 2)} more" if len(batches) > 2 else ""
            parts.append(f"{count(len(batches))} batches: {shown}{more}")
        facts.append(Fact("Submission", "; ".join(parts)))
        done = s.completeness
        if done is not None:
            state = str(done.label or done.state).replace("_", " ")
            facts.append(Fact("Results", f"{state}: {done.detail}"))
        if s.results_tied is not None:
            facts.append(Fact("Results tied", f"{count(s.results_tied)} of {count(s.result_rows)}"))
        if s.history is not None:
            facts.append(Fact("Ledger", _ledger_fact(s.history)))
        facts.append(Fact("Generated", s.generated_at))
        facts.append(Fact("Tool", f"reconciler {s.version}"))
        return tuple(facts)

    def figures(self) -> tuple[Figure, ...]:
        s = self.s
        by_res = s.by_resolution
        terminal = int(by_res.get("no_action", 0))
        person = s.needs_attention_records
        figures = [
            Figure("Records sent", count(s.sent_records), s.template_title, "neutral"),
            Figure(
                "Accepted",
                count(s.accepted),
                f"{s.accepted_pct}% of the records sent",
                "ok",
            ),
            Figure(
                "Rejected",
                count(s.rejected),
                "not applied by impact.com",
                "bad" if s.rejected else "ok",
            ),
            *self._confirmed_figure(),
            Figure(
                "Fixed automatically",
                count(s.auto_fixed),
                "in " + ", ".join(s.resubmit_files) if s.resubmit_files else "nothing to resubmit",
                "info",
            ),
            Figure(
                "Need a person",
                count(person),
                "in " + s.needs_attention_files[0]
                if s.needs_attention_files
                else "nothing to fix by hand",
                "warn" if person else "ok",
            ),
            Figure(
                "Terminal",
                count(terminal),
                "can no longer be changed through a file",
                "bad" if terminal else "neutral",
            ),
            Figure(
                "Unmatched results",
                count(s.unmatched_results),
                "result rows tied to no record",
                "warn" if s.unmatched_results else "ok",
            ),
            Figure(
                "Ambiguous ties",
                count(s.ambiguous),
                f"results that fit {plural(s.ambiguous_records, 'record')}"
                if s.ambiguous
                else "results that fit several records",
                "warn" if s.ambiguous else "ok",
            ),
        ]
        if s.missing:
            figures.append(
                Figure("Missing", count(s.missing), "absent from complete results", "warn")
            )
        if s.unknown:
            figures.append(
                Figure("Unknown", count(s.unknown), "the results given do not say", "warn")
            )
        if s.pending or by_res.get("wait"):
            figures.append(
                Figure(
                    "Pending",
                    count(s.pending or by_res["wait"]),
                    "results not final yet",
                    "warn",
                )
            )
        if s.results_tied is not None:
            tied, rows = s.results_tied, s.result_rows
            figures.append(
                Figure(
                    "Results tied",
                    f"{count(tied)} of {count(rows)}",
                    "results tied to a sent record",
                    "ok" if tied == rows else "warn",
                )
            )
        return tuple(figures)

    def _confirmed_figure(self) -> list[Figure]:
        c = self.s.confirmation
        if c is None:
            return []
        whole = c.accepted_confirmed == c.accepted
        return [
            Figure(
                "Confirmed on the platform",
                f"{count(c.accepted_confirmed)} of {count(c.accepted)}",
                "accepted records the platform's updates show applied",
                "ok" if whole else "warn",
            )
        ]

    def confirmation_chart(self) -> Chart | None:
        """The records by what the platform's updates show (with --updates)."""
        c = self.s.confirmation
        if c is None:
            return None
        bars = _bars(
            [
                (CONFIRMATION_LABELS.get(k, k), int(n), CONFIRMATION_TONES.get(k, "wait"))
                for k, n in c.by_status.items()
            ]
        )
        window = (
            f" Updates from {c.first_update[:10]} to {c.last_update[:10]}" if c.first_update else ""
        )
        submitted = f"; submitted {c.submitted[:10]}." if c.submitted else "."
        return Chart(
            id="chart-confirmed",
            title="Confirmed on the platform",
            description="Bar chart: how many records the platform's updates show applied as "
            "asked, not applied, applied otherwise, changed since, or do not cover.",
            bars=bars,
            height=_chart_height(bars),
            note=(
                f"{count(c.accepted_confirmed)} of {plural(c.accepted, 'accepted record')} "
                f"confirmed, from {', '.join(c.updates_files)}.{window}{submitted}"
            ),
        )

    def verdict(self) -> tuple[str, str]:
        s = self.s
        by_res = s.by_resolution
        parts = []
        if s.foreign_results:
            parts.append("The results look like another file's (reconciled with --force).")
        if by_res.get("wait"):
            parts.append("The submission has not finished: these results are not final.")
        parts.append(
            f"{count(s.accepted)} of {plural(s.sent_records, 'record')} "
            f"({s.accepted_pct}%) were accepted."
        )
        c = s.confirmation
        if c is not None:
            review = (
                f"; the platform shows {plural(c.accepted_for_review, 'other')} not as asked: "
                "they need a person"
                if c.accepted_for_review
                else ""
            )
            parts.append(
                f"{count(c.accepted_confirmed)} of {count(c.accepted)} accepted records "
                f"confirmed on the platform{review}."
            )
        if s.rejected:
            # The rejected records only, by what happens to them next: the parts add up to
            # the rejected count (ambiguous, missing, pending and unknown records are said
            # below, on their own).
            rejected = self._rejected_by_resolution()
            groups = (
                ("fixed automatically", ("auto_fixed",)),
                ("need a person", ("fix_manually", "contact_support", "review")),
                ("can no longer be changed", ("no_action",)),
                ("wait for the submission to finish", ("wait",)),
                ("need the complete results", ("recheck",)),
            )
            detail = []
            for words, names in groups:
                n = sum(rejected.pop(name, 0) for name in names)
                if n:
                    detail.append(f"{count(n)} {words}")
            rest = sum(rejected.values())
            if rest:
                detail.append(f"{count(rest)} other")
            parts.append(
                f"{count(s.rejected)} were rejected"
                + (": " + ", ".join(detail) if detail else "")
                + "."
            )
        # The other outcomes, so that the sentence adds up to the records sent.
        for key, one, many, why in (
            ("unknown", "is", "are", "unknown: the results given do not say"),
            ("pending", "is", "are", "pending: not final yet"),
            ("missing", "is", "are", "missing from results that list every record"),
            ("ambiguous_records", "is", "are", "ambiguous: a result fits several records"),
        ):
            n = int(getattr(s, key))
            if n:
                parts.append(f"{count(n)} {one if n == 1 else many} {why}.")
        if s.unmatched_results:
            parts.append(
                f"{plural(s.unmatched_results, 'result row')} could not be tied to a record."
            )
        attention = s.needs_attention and (
            s.rejected
            or s.unmatched_results
            or s.missing
            or by_res.get("wait")
            or s.ambiguous_records
            or s.unknown
        )
        return " ".join(parts), ("warn" if attention else "ok")

    def _rejected_by_resolution(self) -> dict[str, int]:
        """How many rejected records each resolution has."""
        verdict = self.run.verdict
        rejected = (verdict["Outcome"] == "rejected").to_numpy(dtype=bool)
        counts = verdict["Resolution"][rejected].value_counts()
        return {str(k): int(v) for k, v in counts.items() if int(v)}

    def money(self) -> Money:
        s = self.s
        m = s.money
        column = m.amount_column
        template = s.template
        if not column:
            return Money(
                available=False,
                column="",
                currency="",
                total="",
                lines=(),
                notes=(
                    "The sent file has no amount column, so there is no money to add up"
                    + (" (a reset file carries none)." if template == "reset" else "."),
                ),
            )
        currency = m.currency or ""
        suffix = f" {currency}" if currency and currency != "mixed" else ""
        by_res = m.not_applied_by_resolution
        lines = tuple(
            MoneyLine(
                resolution=r,
                label=resolution_label(r),
                amount=money_text(by_res[r]) + suffix,
                hint=RESOLUTION_HINTS.get(r, ""),
            )
            for r in ordered_resolutions(by_res)
        )
        notes: list[str] = []
        reversals = m.reversals_not_applied
        if template in MODIFICATION_TEMPLATES:
            notes.append(
                f"{column} is the new total of an action, not a difference: a modification that "
                "did not apply leaves the action at its old amount, and partners are paid on it."
            )
            if reversals:
                notes.append(
                    f"{plural(reversals, 'reversal')} ({column} 0) did not apply: partners may "
                    "still be paid commission on orders that were returned or cancelled."
                )
        elif template in CONVERSION_TEMPLATES:
            notes.append(
                "Conversions that were not recorded earn partners no commission and are missing "
                "from reporting until they are resubmitted: partners may be underpaid."
            )
        if currency == "mixed":
            notes.append(
                f"The amounts not applied mix currencies ({m.currencies_text()}); the sums add "
                "them together as plain numbers. Filter reconciled.csv by currency for exact "
                "figures."
            )
        elif not currency:
            notes.append("The file names no currency; amounts are shown as plain numbers.")
        if m.accepted_not_applied:
            notes.append(
                f"As the platform's updates show: {plural(m.accepted_not_applied, 'record')} "
                "the results accepted but the platform does not show applied as sent "
                f"{'is' if m.accepted_not_applied == 1 else 'are'} counted here."
            )
        if m.rejected_applied:
            notes.append(
                f"{plural(m.rejected_applied, 'record')} the results rejected but the platform "
                f"shows applied {'is' if m.rejected_applied == 1 else 'are'} not counted."
            )
        unreadable = m.unreadable_amounts
        if unreadable:
            notes.append(
                f"{plural(unreadable, 'amount')} could not be read as a number and "
                f"{'is' if unreadable == 1 else 'are'} not in the sums."
            )
        return Money(
            available=True,
            column=str(column),
            currency=str(currency),
            total=money_text(m.not_applied_total) + suffix,
            lines=lines,
            notes=tuple(notes),
        )

    def steps(self) -> tuple[Step, ...]:
        s = self.s
        by_res = s.by_resolution
        steps: list[Step] = []
        if by_res.get("wait"):
            steps.append(
                Step(
                    "step-wait",
                    f"Wait for the submission to finish ({plural(by_res['wait'], 'record')})",
                    "Its results are not final. Export them again once impact.com shows the "
                    "submission as Complete, then run reconciler again.",
                    (),
                )
            )
        if by_res.get("recheck"):
            detail = s.completeness.detail if s.completeness is not None else ""
            steps.append(
                Step(
                    "step-recheck",
                    f"Get the complete results ({plural(by_res['recheck'], 'record')} unknown)",
                    "The results given do not say whether these records were applied"
                    + (f" ({detail})" if detail else "")
                    + ". Export every page (on View Errors, with no Error Type filter) or fetch "
                    "them again, then run reconciler again. Do not resubmit these records "
                    "meanwhile.",
                    ("reconciled.csv",),
                )
            )
        if s.resubmit_records:
            n = s.resubmit_records
            detail = (
                f"{plural(n, 'record')} corrected automatically. Check "
                f"{'it' if n == 1 else 'them'}, then upload the file to impact.com as a new "
                "submission."
            )
            files = list(s.resubmit_files)
            cells = s.changed_cells
            if cells:
                detail += (
                    " changes.csv lists the changed cell."
                    if cells == 1
                    else f" changes.csv lists each of the {count(cells)} changed cells."
                )
                files.append("changes.csv")
            steps.append(
                Step("step-resubmit", "Upload the corrected records", detail, tuple(files))
            )
        if s.needs_attention_records:
            parts = [
                f"{count(by_res[r])} {what}"
                for r, what in (
                    ("fix_manually", "to fix by hand"),
                    ("review", "to review"),
                    ("contact_support", "for impact.com support"),
                )
                if by_res.get(r)
            ]
            steps.append(
                Step(
                    "step-attention",
                    f"Work through {plural(s.needs_attention_records, 'record')} by hand",
                    f"{', '.join(parts)}. Each row says what to do; the cells to fix are "
                    "highlighted in the workbook. Submit the corrected rows as a new file."
                    + (
                        f" The workbook holds the first {count(MAX_ATTENTION_ROWS)} by line; "
                        "needs-attention.csv holds every one."
                        if s.needs_attention_records > MAX_ATTENTION_ROWS
                        and "needs-attention.xlsx" in s.needs_attention_files
                        else ""
                    ),
                    tuple(s.needs_attention_files),
                )
            )
        if by_res.get("no_action"):
            steps.append(
                Step(
                    "step-terminal",
                    f"Settle {plural(by_res['no_action'], 'terminal record')} outside the platform",
                    "They can no longer be changed through a file (locked, approved, already "
                    "reversed or unchanged). Do not resubmit them; settle any difference with "
                    "the partner directly.",
                    ("reconciled.csv",),
                )
            )
        if s.unmatched_results:
            steps.append(
                Step(
                    "step-unmatched",
                    f"Check {plural(s.unmatched_results, 'result row')} tied to no record",
                    "See the reasons below; tie them by hand before resubmitting anything they "
                    "might belong to.",
                    ("unmatched_results.csv",),
                )
            )
        if not steps:
            steps.append(
                Step(
                    "step-none",
                    "Nothing to do: every record was accepted",
                    "Keep reconciled.csv with the batch as the record of what was applied.",
                    ("reconciled.csv",),
                )
            )
        return tuple(steps)

    def trend_chart(self) -> Chart | None:
        """Acceptance of the latest batches the ledger knows, this one last; None unless the
        ledger knows an earlier batch."""
        history = self.s.history
        if history is None or len(history.trend) < 2:
            return None
        bars = []
        for i, point in enumerate(history.trend):
            rate = 100.0 * point.accepted / point.records if point.records else 0.0
            # green from 95 %, amber from 80 %, red below (the resolution bars' colours)
            tone = "none" if rate >= 95 else "fix_manually" if rate >= 80 else "no_action"
            label = f"{point.batch} · {point.reconciled_at[:10]}"
            if point.this_run:
                label += " (this run)"
            bars.append(
                Bar(
                    clip(label, 90),
                    f"{rate:.1f}% of {count(point.records)}",
                    f"{max(rate, 0.6 if point.accepted else 0.0):.1f}",
                    i * _BAR_ROW,
                    tone,
                )
            )
        return Chart(
            id="chart-trend",
            title="Accepted, batch by batch",
            description="Bar chart: the share of records accepted in each of the latest "
            "batches the ledger remembers, oldest first, this run last.",
            bars=tuple(bars),
            height=_chart_height(bars),
            note=f"From the ledger {history.ledger}; reconciler history lists every batch.",
        )

    def charts(self) -> tuple[Chart, ...]:
        s = self.s
        by_code = s.by_code
        shown = list(by_code.items())[:MAX_CHART_BARS]
        code_bars = _bars(
            [
                (
                    f"{code} · {self.cat.get(code).title}",
                    n,
                    resolution_tone(str(self.cat.get(code).resolution)),
                )
                for code, n in shown
            ]
        )
        rest = len(by_code) - len(shown)
        by_res = s.by_resolution
        res_bars = _bars(
            [
                (resolution_label(r), int(by_res[r]), resolution_tone(r))
                for r in ordered_resolutions(by_res)
            ]
        )
        trend = self.trend_chart()
        confirmed = self.confirmation_chart()
        return (
            *((confirmed,) if confirmed is not None else ()),
            *((trend,) if trend is not None else ()),
            Chart(
                id="chart-codes",
                title="Records by error code",
                description="Bar chart: how many records carry each code. "
                "The table below gives the same figures.",
                bars=code_bars,
                height=_chart_height(code_bars),
                note=f"{plural(rest, 'more code')} in the table below." if rest > 0 else "",
            ),
            Chart(
                id="chart-resolutions",
                title="Records by resolution",
                description="Bar chart: how many records have each resolution.",
                bars=res_bars,
                height=_chart_height(res_bars),
                note="",
            ),
        )

    def codes_table(self) -> TableView:
        by_code = self.s.by_code
        rows: list[Row] = []
        for code, n in list(by_code.items())[:MAX_TABLE_ROWS]:
            info = self.cat.get(code)
            res = str(info.resolution)
            rows.append(
                Row(
                    (
                        Cell(code, "codes", items=((clip(code, 80), self.anchors.get(code, "")),)),
                        Cell(clip(info.title) + ("" if info.known else " (not in the catalogue)")),
                        Cell(resolution_label(res), "resolution", items=((res, ""),)),
                        Cell(count(n), "num"),
                    ),
                    clip(code, 80),
                    res,
                )
            )
        return TableView(
            id="t-codes",
            caption="Error codes found, most frequent first",
            columns=(
                Column("Code"),
                Column("Title"),
                Column("Usual resolution"),
                Column("Records", numeric=True),
            ),
            rows=tuple(rows),
            total=len(by_code),
            note=table_note(
                len(rows),
                len(by_code),
                "The others are in the ErrorCodes column of reconciled.csv.",
            ),
            filterable=False,
            empty="No error codes: every result was a success.",
        )

    def records_table(self) -> TableView:
        s = self.s
        by_res = s.by_resolution
        total = sum(int(v) for k, v in by_res.items() if k != "none")
        return self.record_table(
            "t-records",
            "Records to follow up, by line",
            self.selection().records,
            total,
            "All of them are in reconciled.csv (every record, with its Resolution).",
        )

    def code_sections(self) -> tuple[CodeSection, ...]:
        by_code = self.s.by_code
        sections: list[CodeSection] = []
        selected = self.selection().sections
        for i, code in enumerate(self.section_codes):
            info = self.cat.get(code)
            n = int(by_code[code])
            table = self.record_table(
                f"t-code-{i + 1}",
                f"Records with {code}, by line",
                selected[i],
                n,
                f"All of them are in reconciled.csv (ErrorCodes contains {code}).",
                section=info,
            )
            res = str(info.resolution)
            sections.append(
                CodeSection(
                    code=code,
                    anchor=self.anchors[code],
                    title=info.title,
                    known=info.known,
                    meaning=info.meaning,
                    advice=info.advice,
                    resolution=res,
                    resolution_label=resolution_label(res),
                    count=plural(n, "record"),
                    table=table,
                )
            )
        return tuple(sections)

    def codes_without_section(self) -> str:
        rest = len(self.s.by_code) - len(self.section_codes)
        if rest <= 0:
            return ""
        own = "has no section of its own" if rest == 1 else "have no sections of their own"
        return (
            f"{plural(rest, 'less frequent code')} {own}: see the table of codes above and "
            "reconciled.csv; “reconciler explain CODE” explains any code."
        )

    def unmatched_reasons(self) -> tuple[ReasonNote, ...]:
        by_reason = self.s.unmatched_by_reason
        return tuple(
            ReasonNote(
                reason=r,
                count=plural(by_reason[r], "result"),
                text=UNMATCHED_REASONS.get(r, "The result could not be tied to a record."),
            )
            for r in sorted(by_reason)
            if r != "ambiguous_key"
        )

    def unmatched_table(self, ambiguous: bool) -> TableView:
        frame = self.run.unmatched
        # ambiguous_key cells are never formula-like, so the neutralised text compares as is
        is_amb = equals(frame["Reason"], "ambiguous_key")
        mask = is_amb if ambiguous else ~is_amb
        positions = np.flatnonzero(mask)
        total = len(positions)
        positions = positions[:MAX_TABLE_ROWS]
        by_reason = self.s.unmatched_by_reason
        if ambiguous:
            total = int(by_reason.get("ambiguous_key", 0))
            names = ["ResultRow", "ActionId", "OrderId", "ActionTrackerId", "Sku",
                     "ErrorCodes", "CandidateLines", "Detail"]  # fmt: skip
            labels = ["Result row", "ActionId", "OrderId", "ActionTrackerId", "Sku",
                      "Codes", "Candidate lines", "Detail"]  # fmt: skip
        else:
            total = sum(int(v) for k, v in by_reason.items() if k != "ambiguous_key")
            names = ["ResultRow", "Line", "ActionId", "OrderId", "ActionTrackerId", "Sku",
                     "ErrorCodes", "Reason", "Detail"]  # fmt: skip
            labels = ["Result row", "Line", "ActionId", "OrderId", "ActionTrackerId", "Sku",
                      "Codes", "Reason", "Detail"]  # fmt: skip
        values: dict[str, list[str]] = {}
        for name in names:
            raw = [_scalar_text(v) for v in frame[name].iloc[positions].to_numpy()]
            values[name] = unneutralise(raw) if self.run.neutralised else raw
        keep = [
            i
            for i, name in enumerate(names)
            if name in ("ResultRow", "Reason", "ErrorCodes") or any(values[name])
        ]
        numeric = {"ResultRow", "Line"}
        columns = tuple(Column(labels[i], numeric=names[i] in numeric) for i in keep)
        rows: list[Row] = []
        for r in range(len(positions)):
            codes = [c for c in values["ErrorCodes"][r].split(";") if c]
            cells: list[Cell] = []
            for i in keep:
                name = names[i]
                v = values[name][r]
                if name == "ErrorCodes":
                    items = tuple((clip(c, 80), self.anchors.get(c, "")) for c in codes)
                    cells.append(Cell(" ".join(codes), "codes", items=items))
                elif name == "Reason":
                    cells.append(Cell(clip(v)))
                elif name in numeric:
                    cells.append(Cell(clip(v), "num"))
                else:
                    cells.append(Cell(clip(v), "id" if name != "Detail" else "text"))
            rows.append(Row(tuple(cells), " ".join(clip(c, 80) for c in codes), ""))
        what = "Ambiguous ties" if ambiguous else "Unmatched results"
        return TableView(
            id="t-ambiguous" if ambiguous else "t-unmatched",
            caption=f"{what}, in the order of the results file",
            columns=columns,
            rows=tuple(rows),
            total=total,
            note=table_note(len(rows), total, "All of them are in unmatched_results.csv."),
            filterable=True,
            empty="None.",
        )

    def build(self) -> Report:
        s = self.s
        verdict, tone = self.verdict()
        sent_name = _file_name(s.sent_file)
        return Report(
            title=f"Reconciliation of {sent_name}",
            sent_name=sent_name,
            verdict=verdict,
            tone=tone,
            facts=self.facts(),
            figures=self.figures(),
            warnings=tuple(str(w) for w in s.warnings),
            money=self.money(),
            steps=self.steps(),
            charts=self.charts(),
            codes_table=self.codes_table(),
            records_table=self.records_table(),
            code_sections=self.code_sections(),
            codes_without_section=self.codes_without_section(),
            unmatched_reasons=self.unmatched_reasons(),
            unmatched_table=self.unmatched_table(ambiguous=False),
            ambiguous_table=self.unmatched_table(ambiguous=True),
            ambiguous_records=s.ambiguous_records,
            generated_at=s.generated_at,
            version=s.version,
        )


# What is left of a multi-code advice once the section's own advice is cut off its end: the
# code's label before it ("... | MALFORMED:"), which must go with it.
_TRAILING_LABEL = re.compile(r"\s*\|?\s*[A-Z][A-Z0-9_]*:\s*$")

CONFIRMATION_LABELS = {
    "confirmed": "Confirmed",
    "not_applied": "Not applied",
    "differs": "Applied otherwise",
    "changed_since": "Changed since",
    "not_in_updates": "Not in the updates",
}
CONFIRMATION_TONES = {  # the resolution bars' colours
    "confirmed": "none",
    "not_applied": "no_action",
    "differs": "fix_manually",
    "changed_since": "review",
    "not_in_updates": "wait",
}


def _ledger_fact(history: HistoryFigures) -> str:
    parts = [f"{plural(history.batches_before, 'other batch', 'other batches')} known"]
    if history.records_seen_before:
        parts.append(f"{plural(history.records_seen_before, 'record')} sent before")
    if history.already_sent:
        parts.append(f"{count(history.already_sent)} held back: sent before")
    if history.recorded_before:
        parts.append("this batch was reconciled before")
    return "; ".join(parts) + f" ({history.ledger})"


def _scalar_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float | np.floating):
        if np.isnan(value):
            return ""
        if float(value).is_integer():
            return str(int(value))
    return str(value)


_BAR_ROW = 40


def _bars(data: Sequence[tuple[str, int, str]]) -> tuple[Bar, ...]:
    """Horizontal bars: the longest is the full width; a non-zero count stays visible."""
    top = max((n for _, n, _ in data), default=0)
    bars = []
    for i, (label, n, tone) in enumerate(data):
        width = 0.0 if top <= 0 else max(100.0 * n / top, 0.6 if n else 0.0)
        bars.append(Bar(clip(label, 90), count(n), f"{width:.1f}", i * _BAR_ROW, tone))
    return tuple(bars)


def _chart_height(bars: Sequence[Bar]) -> int:
    return max(len(bars), 1) * _BAR_ROW


def build_report(run: RunData, catalogue: Catalogue | None = None) -> Report:
    """The view of one run. Raises InputError when the summary is not the expected shape."""
    try:
        return _Builder(run, catalogue or load_catalogue()).build()
    except ReconcilerError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InputError(
            f"the run's summary is not in the expected shape ({type(exc).__name__}: {exc}); "
            "run reconcile again"
        ) from None


def report_from_reconciliation(rec: Reconciliation, catalogue: Catalogue | None = None) -> Report:
    return build_report(run_from_reconciliation(rec), catalogue)


def report_from_folder(out_dir: Path, catalogue: Catalogue | None = None) -> Report:
    return build_report(run_from_folder(out_dir), catalogue)
