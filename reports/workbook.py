"""The analyst workbook ``reconciled.xlsx``: a Summary sheet, then one sheet per resolution.

Owns: which sheets there are, their rows and notes. Each resolution sheet holds the records of
that resolution (the sent columns as written, then SourceLine, Outcome, ErrorCodes, Resolution,
TiedBy, Advice) sorted by line, with the header frozen and filterable. Writing, text cells
(IDs keep their digits, formula-like values stay inert text) and column widths are
``reconciler.writers.write_xlsx``'s job.

It is the overview, not the record of every row: a sheet shows up to ``MAX_SHEET_ROWS`` records
of its resolution (the first by line), enough to see what each resolution looks like and to
filter it, and the workbook at most ``MAX_WORKBOOK_ROWS``, given to the sheets in order
(records needing a person first, accepted records last). Every record is in
``reconciled.csv``, and every record needing a person in ``needs-attention.xlsx`` (the work
list): a capped sheet says so in a note row above its header. A 1,000,000-record run thus
writes at most 50,000 rows here.

Does not compute statistics: the Summary sheet shows the run's summary figures.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from reconciler.catalogue import load_catalogue
from reconciler.model import CompletenessFigures, MoneyFigures, Reconciliation, Summary
from reconciler.outputs import MAX_ATTENTION_ROWS, NEEDS_ATTENTION, RECORD_COLUMNS
from reconciler.writers import Sheet, write_xlsx

from .formatting import (
    RESOLUTION_LABELS,
    count,
    equals,
    first_by_line,
    in_line_order,
    money_text,
    ordered_resolutions,
    plural,
    resolution_label,
)

MAX_SHEET_ROWS = 10_000
MAX_WORKBOOK_ROWS = 50_000
MAX_SUMMARY_CODES = 1_000
SUMMARY_HEADER: tuple[str, ...] = ("Section", "Item", "Records", "Detail")


def summary_sheet(summary: Summary) -> Sheet:
    """Headline figures, then records by code and by resolution (one row each)."""
    s = summary
    by_res = s.by_resolution
    money = s.money
    currency = money.currency or ""
    amounts = money.not_applied_by_resolution
    rows: list[tuple[str, str, int, str]] = [
        ("Headline", "Records sent", s.sent_records, str(s.template_title)),
        ("Headline", "Accepted", s.accepted, f"{s.accepted_pct}%"),
        ("Headline", "Rejected", s.rejected, _money_detail(money)),
        ("Headline", "Fixed automatically", s.auto_fixed, ", ".join(s.resubmit_files)),
        (
            "Headline",
            "Need a person",
            s.needs_attention_records,
            ", ".join(s.needs_attention_files),
        ),
        (
            "Headline",
            "Terminal",
            int(by_res.get("no_action", 0)),
            "can no longer be changed through a file",
        ),
        (
            "Headline",
            "Unmatched results",
            s.unmatched_results,
            "result rows tied to no record: unmatched_results.csv",
        ),
        (
            "Headline",
            "Ambiguous ties",
            s.ambiguous,
            f"{plural(s.ambiguous_records, 'record')} share their identifiers",
        ),
    ]
    if s.missing:
        rows.append(("Headline", "Missing", s.missing, "absent from complete results"))
    if s.unknown:
        rows.append(
            ("Headline", "Unknown", s.unknown, "the results given do not say: get them all")
        )
    if s.pending:
        rows.append(("Headline", "Pending", s.pending, "results not final yet"))
    if s.results_tied is not None:
        done = s.completeness or CompletenessFigures()
        rows.append(
            (
                "Headline",
                "Results tied",
                s.results_tied,
                f"of {count(s.result_rows)} results; results {done.label}: {done.detail}",
            )
        )
    catalogue = load_catalogue()
    by_code = s.by_code
    for code, n in list(by_code.items())[:MAX_SUMMARY_CODES]:
        info = catalogue.get(code)
        rows.append(("By code", str(code), int(n), f"{info.title} ({info.resolution})"))
    for res in ordered_resolutions(by_res):
        detail = RESOLUTION_LABELS.get(res, res)
        if res in amounts:
            detail += f"; amount not applied {money_text(amounts[res])}"
            if currency and currency != "mixed":
                detail += f" {currency}"
        rows.append(("By resolution", res, int(by_res[res]), detail))
    frame = pd.DataFrame(
        {
            "Section": pd.Series([r[0] for r in rows], dtype=object),
            "Item": pd.Series([r[1] for r in rows], dtype=object),
            "Records": pd.Series([r[2] for r in rows], dtype=np.int64),
            "Detail": pd.Series([r[3] for r in rows], dtype=object),
        }
    )
    note = (
        f"reconciler {s.version} · {s.sent_file} against {s.results_file} · "
        f"{s.template_title} · lines {s.line_base_detail} · generated {s.generated_at}"
    )
    if len(by_code) > MAX_SUMMARY_CODES:
        note += (
            f" · by code: the {count(MAX_SUMMARY_CODES)} most frequent of {count(len(by_code))} "
            "codes (reconciled.csv holds them all)"
        )
    return Sheet(
        "Summary", list(SUMMARY_HEADER), frame, note=note, widths={0: 16, 1: 28, 2: 10, 3: 70}
    )


def _money_detail(money: MoneyFigures) -> str:
    if not money.amount_column:
        return ""
    currency = money.currency or ""
    total = money_text(money.not_applied_total)
    if currency == "mixed":
        text = f"amount not applied {total} (mixed currencies: {money.currencies_text()})"
    else:
        text = f"amount not applied {total}" + (f" {currency}" if currency else "")
    shown = [
        f"{count(money.accepted_not_applied)} accepted but not shown applied counted"
        if money.accepted_not_applied
        else "",
        f"{count(money.rejected_applied)} rejected but shown applied not counted"
        if money.rejected_applied
        else "",
    ]
    said = "; ".join(x for x in shown if x)
    return f"{text} (as the platform's updates show: {said})" if said else text


def resolution_sheets(rec: Reconciliation) -> list[Sheet]:
    """One sheet per resolution present, in display order, within the row caps."""
    s = rec.summary
    by_res = s.by_resolution
    resolution = rec.records["Resolution"]
    lines = np.asarray(rec.records["SourceLine"].to_numpy(), dtype=np.int64)
    ordered = in_line_order(lines)
    header = [*rec.sent.header, *RECORD_COLUMNS]
    verdict = rec.records[list(RECORD_COLUMNS)]
    budget = MAX_WORKBOOK_ROWS
    chosen: list[tuple[str, int, npt.NDArray[np.intp]]] = []
    for res in ordered_resolutions(by_res):
        cap = min(MAX_SHEET_ROWS, budget)
        if cap > 0:
            positions = first_by_line(equals(resolution, res), lines, cap, ordered)
        else:  # the workbook is full: the sheet only says where the records are
            positions = np.zeros(0, dtype=np.intp)
        budget -= len(positions)
        chosen.append((res, int(by_res[res]), positions))
    # Take the rows of every sheet at once: a take from a column of many chunks joins them
    # all first, so one take a column instead of one a sheet saves most of the work.
    every = np.sort(np.concatenate([np.zeros(0, dtype=np.intp), *(p for _, _, p in chosen)]))
    rows = pd.concat(
        [
            rec.sent.frame.iloc[every].reset_index(drop=True),
            verdict.iloc[every].reset_index(drop=True),
        ],
        axis=1,
        ignore_index=True,
    )
    money = rec.sent_schema.money_columns(list(rec.sent.frame.columns))
    sheets: list[Sheet] = []
    for res, total, positions in chosen:
        frame = rows.iloc[np.searchsorted(every, positions)].reset_index(drop=True)
        note = ""
        limits = (
            f"the workbook keeps at most {count(MAX_SHEET_ROWS)} records a sheet and "
            f"{count(MAX_WORKBOOK_ROWS)} in all"
        )
        where = f"reconciled.csv holds every record: filter its Resolution column by {res}."
        if res in NEEDS_ATTENTION:
            where = (
                "needs-attention.xlsx (up to "
                f"{count(MAX_ATTENTION_ROWS)} rows) and needs-attention.csv hold every record "
                f"needing a person; reconciled.csv holds every record (Resolution {res})."
            )
        if not len(positions) and total:
            note = (
                f"{resolution_label(res)}: {plural(total, 'record')}, none shown here ({limits}, "
                f"given to the records needing a person first). {where}"
            )
        elif len(positions) < total:
            note = (
                f"{resolution_label(res)}: showing the first {count(len(positions))} of "
                f"{count(total)} records by line ({limits}). {where}"
            )
        name = sheet_name(res, {x.name for x in sheets})
        sheets.append(
            Sheet(name, header, frame, note=note, wrap=frozenset({len(header) - 1}), money=money)
        )
    return sheets


_NOT_IN_SHEET_NAMES = str.maketrans({c: "-" for c in "[]:*?/\\"})


def sheet_name(resolution: str, taken: set[str]) -> str:
    """A resolution's sheet: the report's words for it ("Fix by hand"), as Excel allows a
    sheet name (no ``[]:*?/\\``, at most 31 characters), unique in the workbook."""
    label = resolution_label(resolution).replace(": ", " - ")
    base = label.translate(_NOT_IN_SHEET_NAMES).strip(" '")[:31]
    name, n = base or resolution[:31], 2
    while name in taken or name == "Summary":
        suffix = f" ({n})"
        name, n = base[: 31 - len(suffix)] + suffix, n + 1
    return name


def write_workbook(rec: Reconciliation, path: Path) -> None:
    now = datetime.fromisoformat(rec.summary.generated_at.replace("Z", "+00:00"))
    write_xlsx([summary_sheet(rec.summary), *resolution_sheets(rec)], path, now=now)
