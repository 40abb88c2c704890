"""The one place that chains the stages: read → detect → normalize → match → classify → write.

Owns the order of stages and the summary figures. Each stage stays a pure function elsewhere.
"""

from __future__ import annotations

import contextlib
import functools
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from . import __version__
from .catalogue import Catalogue, load_catalogue
from .classify import COMPLETENESS_LABELS, Completeness, SubmissionState, classify_records
from .clock import clock
from .detect import (
    SHAPE_TITLES,
    ResultSchema,
    ResultShape,
    SentSchema,
    detect_results,
    detect_template,
    looks_like_results,
)
from .errors import InputError, ShapeError, UsageError
from .fixes import fix_amount
from .gather import Gathered, assess, gather
from .match import LineBaseChoice, Ties, foreign_evidence, match_results
from .model import LineBase, Outcome, Resolution, Table
from .normalize import ID_FIELDS, PAYLOAD_FIELDS, arrow_strings, result_rows, sent_keys
from .readers import LEGACY_ENCODINGS, read_table
from .remediate import RemediateOptions, Remediation, remediate, start_file_counts
from .templates import TEMPLATE_TITLES, header_key
from .threads import background
from .writers import (
    Sheet,
    check_out_dir,
    encode_rows,
    run_jobs,
    staged_output,
    write_csv,
    write_json,
    write_xlsx,
)

if TYPE_CHECKING:
    from .preflight import CheckResult, FixResult

NEEDS_ATTENTION: tuple[str, ...] = (
    Resolution.FIX_MANUALLY,
    Resolution.CONTACT_SUPPORT,
    Resolution.REVIEW,
)
ATTENTION_COLUMNS: tuple[str, ...] = (
    "SourceLine",
    "ErrorCodes",
    "Resolution",
    "Advice",
    "CellsToFix",
)
RECORD_COLUMNS: tuple[str, ...] = (
    "SourceLine",
    "Outcome",
    "ErrorCodes",
    "Resolution",
    "TiedBy",
    "TieNote",
    "Advice",
)
UNMATCHED_COLUMNS: tuple[str, ...] = (
    "ResultFile",
    "ResultRow",
    "ResultLine",
    "Line",
    "ActionId",
    "OrderId",
    "ActionTrackerId",
    "Sku",
    "ErrorCodes",
    "Reason",
    "Detail",
    "CandidateLines",
)


@dataclass(frozen=True, slots=True)
class ReconcileOptions:
    overrides: Mapping[str, str] = field(default_factory=dict)
    sheet: str | None = None
    line_base: LineBase = LineBase.AUTO
    now: datetime | None = None
    fixes: RemediateOptions = field(default_factory=RemediateOptions)
    max_rows: int | None = None  # split resubmit.csv into files of at most this many records
    workbooks: bool = True  # needs-attention.xlsx beside needs-attention.csv
    # Records no result speaks of are accepted only when counts prove the results complete.
    require_complete: bool = False
    # Go on with results whose identifiers say they are another file's (no untied record is
    # then accepted).
    force: bool = False
    # How input files that are not valid UTF-8 are decoded (None: worked out from their bytes).
    encoding: str | None = None


@dataclass(frozen=True, slots=True, eq=False)
class Reconciliation:
    sent: Table
    results: Table  # the result records of every results file, combined
    gathered: Gathered  # the results files and what came with them (pages, batch status)
    sent_schema: SentSchema
    result_schema: ResultSchema
    line_base: LineBaseChoice
    submission: SubmissionState
    records: pd.DataFrame  # per sent record, in sent order
    unmatched: pd.DataFrame
    remediation: Remediation
    # The summary figures, worked out on a thread of their own: writing reconciled.csv does not
    # need them, so it starts at once. Read them through ``summary``.
    summary_job: Future[dict[str, Any]]
    # The sent rows encoded for reconciled.csv (``writers.encode_rows``), made on a second
    # thread while the rest runs.
    sent_rows: Future[list[Any]]

    @property
    def summary(self) -> dict[str, Any]:
        return self.summary_job.result()

    @property
    def needs_attention(self) -> bool:
        return bool(self.summary["needs_attention"])


def _read(path: Path, sheet: str | None, other_is_xlsx: bool, encoding: str | None) -> Table:
    try:
        return read_table(path, sheet=sheet, encoding=encoding)
    except InputError as exc:
        # --sheet names a sheet of the other workbook: read this one's first sheet.
        if sheet is not None and other_is_xlsx and "sheet" in exc.message.lower():
            return read_table(path, encoding=encoding)
        raise


def _is_xlsx(path: Path) -> bool:
    return path.suffix.lower() in (".xlsx", ".xlsm")


def _unmatched_frame(ties: Ties, sent: Table, gathered: Gathered) -> pd.DataFrame:
    res = ties.results
    bad = res[res["s_idx"].to_numpy() < 0]
    lines = np.asarray(sent.lines)

    def _cand_lines(c: str) -> str:
        return " ".join(str(int(lines[int(i)])) for i in c.split()) if c else ""

    names = [p.name for p in gathered.files]
    files = np.asarray(names, dtype=object)[gathered.row_file[bad["r_idx"].to_numpy()]]
    return pd.DataFrame(
        {
            "ResultFile": files,
            "ResultRow": (bad["r_idx"].to_numpy() + 1),
            "ResultLine": bad["result_line"].to_numpy(),
            "Line": bad["line_raw"].to_numpy(),
            "ActionId": bad["action_id_raw"].to_numpy(),
            "OrderId": bad["oid_raw"].to_numpy(),
            "ActionTrackerId": bad["action_tracker_id_raw"].to_numpy(),
            "Sku": bad["sku_raw"].to_numpy(),
            "ErrorCodes": bad["codes"].to_numpy(),
            "Reason": bad["reason"].to_numpy(),
            "Detail": bad["detail"].to_numpy(),
            "CandidateLines": [_cand_lines(str(c)) for c in bad["candidates"]],
        },
        columns=list(UNMATCHED_COLUMNS),
    )


def _counts(values: pd.Series) -> dict[str, int]:
    vc = values.value_counts()
    vc = vc[vc > 0]  # a categorical lists its unused categories too
    return {str(k): int(v) for k, v in sorted(vc.items(), key=lambda kv: (-kv[1], str(kv[0])))}


def _by_code(codes: pd.Series) -> dict[str, int]:
    counter: Counter[str] = Counter()
    for cell, n in codes[codes != ""].value_counts().items():
        if not n:
            continue  # a categorical lists its unused categories too
        for code in str(cell).split(";"):
            counter[code] += int(n)
    return dict(sorted(counter.items(), key=lambda kv: (-kv[1], kv[0])))


def reconcile(
    sent_path: Path,
    results_paths: Path | Sequence[Path],
    options: ReconcileOptions | None = None,
    catalogue: Catalogue | None = None,
    progress: Callable[[str], None] | None = None,
) -> Reconciliation:
    """Read the sent file and its results (one file, or several: the pages of one export
    and the batch's status), tie every result to its record and classify every record."""
    options = options or ReconcileOptions()
    catalogue = catalogue or load_catalogue()
    step = progress or (lambda _msg: None)
    paths = [results_paths] if isinstance(results_paths, Path) else list(results_paths)
    for path in paths:
        with contextlib.suppress(OSError, RuntimeError):  # a symlink loop: the reader says so
            if sent_path.resolve() == path.resolve():
                raise UsageError(
                    "is given as both the sent file and the results; give the results "
                    "impact.com reported after the sent file",
                    path=sent_path,
                )
    any_xlsx = any(_is_xlsx(p) for p in paths)
    step(f"reading {sent_path.name}")
    sent = _read(sent_path, options.sheet, any_xlsx, options.encoding)
    _refuse_results_as_sent(sent)
    tables = []
    for path in paths:
        step(f"reading {path.name}")
        tables.append(_read(path, options.sheet, _is_xlsx(sent_path), options.encoding))
    return reconcile_tables(sent, tables, options, catalogue, step)


SWAPPED = "give the sent file first, then its results: reconciler reconcile SENT RESULTS..."


def _refuse_results_as_sent(sent: Table) -> None:
    """Arguments swapped: a results export (or any JSON) given as the sent file."""
    if sent.format == "json":
        raise ShapeError(
            "is JSON, which impact.com does not take as a submission: it looks like a results "
            "export, not the file that was sent; " + SWAPPED,
            path=sent.path,
        )
    if looks_like_results(sent):
        raise ShapeError(
            "looks like a results export, not the file that was sent; " + SWAPPED,
            path=sent.path,
        )


def reconcile_tables(
    sent: Table,
    results: Table | Sequence[Table],
    options: ReconcileOptions | None = None,
    catalogue: Catalogue | None = None,
    progress: Callable[[str], None] | None = None,
) -> Reconciliation:
    """The stages after reading: detect, gather, normalize, match, classify, summarise."""
    options = options or ReconcileOptions()
    catalogue = catalogue or load_catalogue()
    step = progress or (lambda _msg: None)
    step("recognising the files")

    _refuse_results_as_sent(sent)
    sent_schema = detect_template(sent)
    if not sent.records:
        raise ShapeError(
            "has no records under its header: there is nothing to reconcile",
            path=sent.path,
            line=sent.header_line or None,
        )
    gathered = gather([results] if isinstance(results, Table) else list(results), sent)
    combined = gathered.table
    result_schema = detect_results(combined, sent_schema, sent, options.overrides)
    # reconciled.csv repeats the sent rows as they are: encode them on the second core now,
    # while the records are tied and classified (Arrow's kernels run outside the GIL).
    sent_rows = background("encode", encode_rows, sent.frame, safe=True)
    step("reading result codes and keying sent records")
    # Key only the identifiers the results have a column for: the others can never tie or
    # contradict. Both sides are independent Arrow-heavy work, so they run side by side.
    payload = result_schema.column("payload") is not None
    carried = [f for f in ID_FIELDS if result_schema.column(f) or (payload and f in PAYLOAD_FIELDS)]
    keyed = background(
        "keys", sent_keys, sent, sent_schema, carried, with_skus=bool(result_schema.column("sku"))
    )
    rows = result_rows(combined, result_schema, catalogue)
    keys, skus, rewritten = keyed.result()
    known = {f: keys[f] for f in carried}
    submission = assess(
        gathered, result_schema, rows, sent, require_complete=options.require_complete
    )
    step("tying results to records")
    sent_raw = {
        f: sent.frame[label] for f in carried if (label := sent_schema.column(f)) is not None
    }
    ties = match_results(
        sent,
        rows,
        keys,
        skus,
        options.line_base,
        rewritten=rewritten,
        sent_raw=sent_raw,
        require_agreement=submission.records_differ,
    )
    foreign = foreign_evidence(ties, sent, sent_raw)
    if foreign:
        if not options.force:
            raise ShapeError(
                foreign + "; give this submission's results, or --force to reconcile anyway "
                "(no record without a result is then called accepted)",
                path=combined.path,
            )
        submission = _as_foreign(submission)
    step("classifying")
    verdict = classify_records(sent.records, ties, catalogue, submission)
    # The cap counts the file's rows per action of the records remediation may correct: on
    # the second core while it works out the corrections.
    file_counts = (
        start_file_counts(sent, sent_schema, verdict, known) if submission.complete else None
    )
    step("correcting what can be fixed")
    fixes = options.fixes
    if fixes.today is None:
        fixes = replace(fixes, today=(options.now or clock()).date())
    # Results are trusted only once the submission is complete (impact-reference §7.3):
    # nothing is corrected or resubmitted before then.
    no_fixes = not submission.complete
    remediation = remediate(
        sent, sent_schema, verdict, catalogue, fixes, known, skip=no_fixes, file_counts=file_counts
    )
    records = remediation.records.assign(SourceLine=np.asarray(sent.lines, dtype=np.int64))
    unmatched = _unmatched_frame(ties, sent, gathered)
    release_free_memory()
    step("summarising")
    summary_job = background(
        "summary",
        _summary,
        sent,
        gathered,
        sent_schema,
        result_schema,
        ties,
        submission,
        records,
        unmatched,
        remediation,
        options,
        foreign,
    )
    return Reconciliation(
        sent=sent,
        results=combined,
        gathered=gathered,
        sent_schema=sent_schema,
        result_schema=result_schema,
        line_base=ties.line_base,
        submission=submission,
        records=records,
        unmatched=unmatched,
        remediation=remediation,
        summary_job=summary_job,
        sent_rows=sent_rows,
    )


def _as_foreign(submission: SubmissionState) -> SubmissionState:
    """--force past results that are not this file's: a record without a result of its own
    is unknown, never accepted (nor missing from results that are not its own)."""
    if submission.unlisted not in (Outcome.ACCEPTED, Outcome.MISSING):
        return submission
    return replace(
        submission,
        completeness=Completeness.FOREIGN,
        completeness_detail="they look like another file's results (reconciled with --force): "
        "records without a result of their own are unknown",
        unlisted=Outcome.UNKNOWN,
        unknown_advice=(
            "The results given look like another file's (reconciled with --force), so they "
            "say nothing about this record: get this submission's results and reconcile again."
        ),
    )


def release_free_memory() -> None:
    """Hand the C library's free heap memory back to the system (glibc's ``malloc_trim``).

    The stages before the writes leave a few hundred megabytes of freed-but-kept heap at a
    million records (temporary columns made and dropped by several threads); the writes then
    grow the process on top of it. Trimming takes about 10 ms and lowers the peak by about a
    third. Elsewhere than glibc there is nothing to do."""
    import ctypes

    try:
        trim = ctypes.CDLL(None).malloc_trim  # the process's own C library
    except (OSError, AttributeError, TypeError):
        return
    trim(0)


def _summary(
    sent: Table,
    gathered: Gathered,
    sent_schema: SentSchema,
    result_schema: ResultSchema,
    ties: Ties,
    submission: SubmissionState,
    records: pd.DataFrame,
    unmatched: pd.DataFrame,
    remediation: Remediation,
    options: ReconcileOptions,
    foreign: str = "",
) -> dict[str, Any]:
    results = gathered.table
    now = options.now or clock()
    outcome = records["Outcome"]
    resolution = records["Resolution"]
    n = len(records)
    accepted = int((outcome == Outcome.ACCEPTED).sum())
    attention = resolution.isin(
        [*NEEDS_ATTENTION, Resolution.WAIT, Resolution.AUTO_FIXED, Resolution.RECHECK]
    )
    res = ties.results
    tied = res["s_idx"].to_numpy() >= 0
    spoiled = int((res["note"].to_numpy(dtype=object)[tied] != "").sum()) if len(res) else 0
    warnings: list[str] = []
    if foreign:
        warnings.append(
            f"{foreign}; reconciled anyway (--force): records without a result of their own "
            "are unknown"
        )
    if submission.completeness not in (
        Completeness.COMPLETE,
        Completeness.PRESUMED,
        Completeness.FOREIGN,
    ) or (submission.completeness is Completeness.PRESUMED and options.require_complete):
        label = COMPLETENESS_LABELS[submission.completeness]
        warnings.append(f"results {label}: {submission.completeness_detail}")
    warnings.extend(f"{sent.path.name}: {note}" for note in sent_schema.notes)
    warnings.extend(
        f"{results.path.name}: {note}"
        for note in result_schema.notes
        if not note.startswith("columns set with --map")
    )
    warnings.extend(submission.notes)
    for table in (sent, results):
        if table.encoding in LEGACY_ENCODINGS and not options.encoding:
            warnings.append(
                f"{table.path.name} is not UTF-8: read as {table.encoding}, the encoding its "
                "bytes fit best; if its text looks wrong, name the right one with --encoding"
            )
        hidden = table.meta.get("@hidden_sheets")
        if hidden:
            warnings.append(
                f"{table.path.name}: read sheet {table.sheet!r}, the first visible one; hidden "
                f"sheets skipped: {hidden} (name another with --sheet)"
            )
    if ties.line_base.warning:
        warnings.append(ties.line_base.warning)
    if (
        ties.line_base.requested is LineBase.AUTO
        and not ties.line_base.confirmed
        and result_schema.column("line") is not None
        and results.records
    ):
        warnings.append(
            "the results' identifiers cannot tell how lines are numbered; "
            f"assumed {ties.line_base.base} (header = line 1); use --line-base if that is wrong"
        )
    if spoiled:
        example = next(t for t in res["note"].to_numpy(dtype=object)[tied] if t)
        warnings.append(
            f"{spoiled:,} result{'s carry IDs' if spoiled > 1 else ' carries an ID'} spoiled by "
            f"a spreadsheet, tied where the line or the rest of the key agrees (e.g. {example})"
        )
    warnings.extend(remediation.warnings)
    ambiguous_results = int((unmatched["Reason"] == "ambiguous_key").sum())
    resubmit_n = remediation.resubmit_records
    attention_n = int(resolution.isin(NEEDS_ATTENTION).sum())
    return {
        "tool": "reconciler",
        "version": __version__,
        "generated_at": now.isoformat().replace("+00:00", "Z"),
        "sent_file": str(sent.path),
        "results_file": str(gathered.files[0])
        if len(gathered.files) == 1
        else ", ".join(str(p) for p in gathered.files),
        "results_files": gathered.file_names,
        "sent_format": sent.format,
        "sent_sheet": sent.sheet,
        "results_sheet": results.sheet,
        "sent_encoding": sent.encoding,
        "sent_delimiter": sent.delimiter,
        "results_format": results.format,
        "template": str(sent_schema.template),
        "template_title": TEMPLATE_TITLES[sent_schema.template],
        "result_shape": str(result_schema.shape),
        "result_shape_title": shape_title(result_schema, results),
        "result_columns": {k: v for k, v in sorted(result_schema.fields.items())},
        "line_base": str(ties.line_base.base),
        "line_base_detail": ties.line_base.describe()
        if result_schema.column("line") is not None
        else "not used: the results carry no line numbers, so they are tied by identifiers",
        "line_base_evidence": {k: dict(v) for k, v in ties.line_base.evidence.items()},
        "line_base_warning": ties.line_base.warning,
        "submission": {
            "status": submission.status,
            "complete": submission.complete,
            "total_records": submission.total_records,
            "total_errors": submission.total_errors,
            "batch_ids": list(submission.batch_ids),
            "file_name": submission.file_name,
        },
        "completeness": {
            "state": str(submission.completeness),
            "label": COMPLETENESS_LABELS[submission.completeness],
            "detail": submission.completeness_detail,
            "records_without_result": str(submission.unlisted),
            "pages_given": list(gathered.pages),
            "pages": gathered.numpages,
            "rows_counted": gathered.total,
            "require_complete": options.require_complete,
        },
        "sent_records": n,
        "result_rows": results.records,
        "results_tied": int(tied.sum()),
        "spoiled_id_ties": spoiled,
        "foreign_results": foreign,
        "accepted": accepted,
        "accepted_pct": round(100.0 * accepted / n, 1) if n else 0.0,
        "rejected": int((outcome == Outcome.REJECTED).sum()),
        "missing": int((outcome == Outcome.MISSING).sum()),
        "pending": int((outcome == Outcome.PENDING).sum()),
        "unknown": int((outcome == Outcome.UNKNOWN).sum()),
        "ambiguous": ambiguous_results,
        "ambiguous_records": int((outcome == Outcome.AMBIGUOUS).sum()),
        "unmatched_results": len(unmatched),
        # Exit 1 unless every record was accepted and every result tied.
        "needs_attention": bool(
            accepted < n or int(attention.sum()) or len(unmatched) or not submission.complete
        ),
        "records_to_follow_up": int(attention.sum()),  # all but accepted and terminal
        "by_outcome": _counts(outcome),
        "by_code": _by_code(records["ErrorCodes"]),
        "by_resolution": _counts(resolution),
        "tied_by": _counts(records["TiedBy"]),
        "unmatched_by_reason": _counts(unmatched["Reason"]) if len(unmatched) else {},
        "auto_fixed": int((resolution == Resolution.AUTO_FIXED).sum()),
        "resubmit_records": resubmit_n,
        "changed_cells": len(remediation.changes),
        "resubmit_files": resubmit_names(resubmit_n, options.max_rows),
        "needs_attention_records": attention_n,
        "needs_attention_files": [
            "needs-attention.csv",
            *(["needs-attention.xlsx"] if options.workbooks else []),
        ]
        if attention_n
        else [],
        "held_by_modification_cap": remediation.capped,
        "formula_like_cells_in_resubmission": remediation.formula_cells,
        "money": money_at_stake(sent, sent_schema, records),
        "sent_fields": dict(sorted(sent_schema.fields.items())),
        "sent_item_fields": {
            name: list(sent_schema.item_columns(name))
            for name in ("sku", "quantity", "item_amount", "category")
            if sent_schema.item_columns(name)
        },
        "max_rows": options.max_rows,
        "warnings": warnings,
    }


def shape_title(schema: ResultSchema, results: Table) -> str:
    """The results' shape in words; an FTP error list without Line is still FTP errors."""
    if not results.records and not results.header and results.container == "ErrorDetail":
        return "FTP submission status only (no error details)"
    if schema.shape is ResultShape.FTP_ERROR_DETAILS and schema.column("line") is None:
        return "Brand API FTP error details (JSON, no line numbers)"
    if schema.shape is ResultShape.API_SUBMISSIONS and results.container == "@object":
        return "One API submission record (JSON)"
    return SHAPE_TITLES[schema.shape]


def resubmit_names(n: int, max_rows: int | None) -> list[str]:
    if n == 0:
        return []
    if not max_rows:
        return ["resubmit.csv"]
    parts = -(-n // max_rows)
    return [f"resubmit-{i:03d}.csv" for i in range(1, parts + 1)]


def _amounts(values: pd.Series) -> npt.NDArray[np.float64]:
    """Amount cells as floats (NaN where not a readable amount)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = arrow_strings(values).combine_chunks()
    plain = pc.match_substring_regex(arr, r"^[0-9]+(?:\.[0-9]+)?$")
    parsed = pc.cast(pc.if_else(plain, arr, pa.scalar(None, arr.type)), pa.float64())
    out = np.array(parsed.to_numpy(zero_copy_only=False), dtype=np.float64, copy=True)
    odd = np.flatnonzero(np.isnan(out) & (values != "").to_numpy(dtype=bool))
    if len(odd):
        memo: dict[str, float] = {}
        for i, raw in zip(odd, values.iloc[odd].to_numpy(dtype=object), strict=True):
            if raw not in memo:
                fix = fix_amount(str(raw))
                memo[raw] = float(fix.value) if fix.ok else float("nan")
            out[i] = memo[raw]
    return out


def _has_code(codes: pd.Series, code: str) -> npt.NDArray[np.bool_]:
    """Per record: its ``;``-joined ErrorCodes include ``code`` (worked out per category)."""
    cat = codes.astype("category").array
    hit = np.array([code in str(c).split(";") for c in cat.categories] + [False], dtype=bool)
    return hit[np.asarray(cat.codes, dtype=np.int64)]


def money_at_stake(sent: Table, schema: SentSchema, records: pd.DataFrame) -> dict[str, Any]:
    """Sum of Amount over records that were not applied, by resolution, in their currency.

    Not applied: rejected, or missing from results that list every record; a NO_CHANGE left
    the action as it was, so nothing is at stake there (ambiguous, pending and unknown
    records are not known either way). Item-level files add up their items, a unit
    ``ItemPrice`` times its quantity."""
    frame = sent.frame
    amount_col = schema.column("amount")
    item_cols = list(schema.item_columns("item_amount"))
    if amount_col is None and not item_cols:
        return {"amount_column": None}
    rejected = records["Outcome"].isin([Outcome.REJECTED, Outcome.MISSING]).to_numpy(dtype=bool)
    rejected = rejected & ~_has_code(records["ErrorCodes"], "NO_CHANGE")
    where = np.flatnonzero(rejected)
    amt = np.zeros(len(frame), dtype=np.float64)
    unreadable = np.zeros(len(frame), dtype=bool)
    if amount_col is not None:
        amt[where] = _amounts(frame[amount_col].astype("str").iloc[where])
        unreadable[where] = np.isnan(amt[where]) & (frame[amount_col].iloc[where] != "").to_numpy()
        label = amount_col
    else:
        quantities = {i.index: i.column for i in schema.items if i.field == "quantity"}
        parts: list[str] = []
        for item in sorted(schema.items, key=lambda i: i.index):
            if item.field != "item_amount":
                continue
            values = _amounts(frame[item.column].astype("str").iloc[where])
            unreadable[where] |= (
                np.isnan(values) & (frame[item.column].iloc[where] != "").to_numpy()
            )
            qty_col = quantities.get(item.index)
            if header_key(item.column).startswith("itemprice") and qty_col is not None:
                qty = _amounts(frame[qty_col].astype("str").iloc[where])
                values = values * np.where(np.isnan(qty), 1.0, qty)
                parts.append(f"{item.column} \u00d7 {qty_col}")
            else:
                parts.append(item.column)
            amt[where] += np.nan_to_num(values)
        label = " + ".join(parts)
    currency_col = schema.column("currency")
    currencies: list[str] = []
    cur = np.full(len(frame), "", dtype=object)
    if currency_col is not None:
        cur[where] = (
            frame[currency_col]
            .astype("str")
            .iloc[where]
            .str.strip()
            .str.upper()
            .to_numpy(dtype=object)
        )
        currencies = sorted({str(c) for c in cur[where] if c})
    by_res: dict[str, str] = {}
    resolution = records["Resolution"].astype("category").array
    res = np.asarray(resolution.codes, dtype=np.int64)
    names = [str(c) for c in resolution.categories]
    for code in sorted(set(np.unique(res[where]).tolist()), key=lambda c: names[c]):
        mask = res[where] == code
        by_res[names[code]] = f"{np.nansum(amt[where][mask]):.2f}"
    reversals = rejected & (amt == 0) & ~unreadable
    by_currency: dict[str, str] = {}
    if len(currencies) > 1:
        for name in sorted({str(c) for c in cur[where]}):
            mask = rejected & (cur == name)
            by_currency[name or "(none)"] = f"{np.nansum(amt[mask]):.2f}"
    return {
        "amount_column": label,
        # The currency of the amounts not applied: "mixed" only when they really mix.
        "currency": currencies[0] if len(currencies) == 1 else ("mixed" if currencies else None),
        "currencies": currencies,
        "not_applied_total": f"{np.nansum(amt[rejected]):.2f}",
        "not_applied_by_resolution": by_res,
        "not_applied_by_currency": by_currency,
        "reversals_not_applied": int(reversals.sum()) if amount_col is not None else 0,
        "unreadable_amounts": int(unreadable.sum()),
    }


def attention_frame(rec: Reconciliation) -> pd.DataFrame:
    """Records a person must handle: original columns + SourceLine, codes, resolution, advice."""
    mask = rec.records["Resolution"].isin(NEEDS_ATTENTION).to_numpy()
    sent = rec.sent.frame.iloc[np.flatnonzero(mask)].reset_index(drop=True)
    extra = rec.records.iloc[np.flatnonzero(mask)].reset_index(drop=True)
    extra = extra.rename(columns={"FixColumns": "CellsToFix"})
    frame = pd.concat([sent, extra[list(ATTENTION_COLUMNS)]], axis=1, ignore_index=True)
    frame.columns = pd.Index(range(frame.shape[1]))
    return frame


def _write_resubmission(rec: Reconciliation, stage: Path) -> list[str]:
    names = rec.summary["resubmit_files"]
    if not names:
        return []
    corrected = rec.remediation.corrected
    header = list(rec.sent.header)
    step = rec.summary.get("max_rows") or len(corrected)
    for i, name in enumerate(names):
        part = corrected.iloc[i * step : (i + 1) * step]
        write_csv(part, stage / name, header=header)  # exact values: impact.com needs the data
    if len(rec.remediation.changes):
        write_csv(rec.remediation.changes, stage / "changes.csv", safe=True)
        return [*names, "changes.csv"]
    return list(names)


def _highlight_mask(rec: Reconciliation, attention: pd.DataFrame, header: list[str]) -> np.ndarray:
    """Boolean (rows x columns) of the cells a person should fix: named in CellsToFix."""
    labels = list(rec.sent.frame.columns)
    mask = np.zeros(attention.shape, dtype=bool)
    cells = attention.iloc[:, len(header) - 1].to_numpy()
    pos = {lab: i for i, lab in enumerate(labels)}
    for r, text in enumerate(cells):
        for lab in str(text).split(";"):
            if lab in pos:
                mask[r, pos[lab]] = True
    return mask


def _now(rec: Reconciliation) -> datetime:
    return datetime.fromisoformat(str(rec.summary["generated_at"]).replace("Z", "+00:00"))


Extra = Callable[["Reconciliation", Path], list[str]]


def write_outputs(
    rec: Reconciliation,
    out: Path,
    *,
    force: bool = False,
    extras: Sequence[Extra] = (),
    light_extras: Sequence[Extra] = (),
) -> list[str]:
    """Write every output into ``out`` atomically. Returns the file names written.

    ``extras`` write more files (the analyst workbook, the HTML report) into the same staging
    folder, so they land together with the rest or not at all. The files are independent, so
    they are written by two threads: most of the work is in Arrow's string kernels and zlib,
    which run outside the GIL, and a machine's second core is otherwise idle. Jobs start
    heaviest first so the two threads finish together: ``extras`` (the workbook), then
    reconciled.csv and needs-attention, then ``light_extras`` (the report, which also waits
    for the summary figures), then the small files."""
    check_out_dir(out, [rec.sent.path, *rec.gathered.files])
    with staged_output(out, force=force) as stage:
        jobs: list[Callable[[], list[str]]] = [
            *[functools.partial(extra, rec, stage) for extra in extras],
            lambda: _write_reconciled(rec, stage),
            lambda: _write_attention(rec, stage),
            *[functools.partial(extra, rec, stage) for extra in light_extras],
            lambda: _write_unmatched(rec, stage),
            lambda: _write_resubmission(rec, stage),
        ]
        written = [name for names in run_jobs(jobs) for name in names]
        summary = dict(rec.summary)
        summary["outputs"] = sorted([*written, "summary.json"])
        write_json(summary, stage / "summary.json")
    return sorted([*written, "summary.json"])


def _write_reconciled(rec: Reconciliation, stage: Path) -> list[str]:
    # The sent columns come pre-encoded; the verdict columns follow them on each line.
    write_csv(
        rec.records[list(RECORD_COLUMNS)],
        stage / "reconciled.csv",
        header=[*rec.sent.header, *RECORD_COLUMNS],
        safe=True,
        lead=rec.sent_rows.result(),
    )
    return ["reconciled.csv"]


def _write_unmatched(rec: Reconciliation, stage: Path) -> list[str]:
    write_csv(rec.unmatched, stage / "unmatched_results.csv", safe=True)
    return ["unmatched_results.csv"]


def _write_attention(rec: Reconciliation, stage: Path) -> list[str]:
    attention = attention_frame(rec)
    if not len(attention):
        return []
    header = [*rec.sent.header, *ATTENTION_COLUMNS]
    write_csv(attention, stage / "needs-attention.csv", header=header, safe=True)
    if "needs-attention.xlsx" not in rec.summary["needs_attention_files"]:
        return ["needs-attention.csv"]  # --no-xlsx
    highlight = _highlight_mask(rec, attention, header)
    sheet = Sheet("Needs attention", header, attention, highlight=highlight)
    write_xlsx([sheet], stage / "needs-attention.xlsx", now=_now(rec))
    return ["needs-attention.csv", "needs-attention.xlsx"]


# --------------------------------------------------------------------------- option files


def fix_options(
    reason_map: Path | None,
    reason: str | None,
    timezone: str | None,
    actions: Path | None,
    action_tracker_id: str | None = None,
) -> RemediateOptions:
    """The fix-rule options shared by reconcile and check, their files read and validated."""
    from .actions import index_actions
    from .fixes import timezone as parse_timezone
    from .readers import read_reason_map

    if reason is not None and not reason.strip():
        raise UsageError("--reason needs a code, e.g. --reason ITEM_RETURNED")
    return RemediateOptions(
        reason_map=read_reason_map(reason_map) if reason_map else {},
        reason=reason.strip() if reason else None,
        timezone=parse_timezone(timezone),
        action_tracker_id=action_tracker_id.strip() if action_tracker_id else None,
        actions=index_actions(read_table(actions)) if actions else None,
    )


# --------------------------------------------------------------------------- check


@dataclass(frozen=True, slots=True)
class CheckRunOptions:
    """What ``reconciler check`` is asked: the file's sheet and encoding, the date locking
    dates and ages are measured from, whether to write the fixed file, the option files."""

    sheet: str | None = None
    encoding: str | None = None
    today: date | None = None
    fix: bool = False
    reason_map: Path | None = None
    actions: Path | None = None
    timezone: str | None = None


@dataclass(frozen=True, slots=True, eq=False)
class CheckRun:
    """A finished check: its findings, and with ``--fix`` the fixed records."""

    path: Path
    result: CheckResult
    fixed: FixResult | None

    @property
    def fixed_name(self) -> str:
        return f"{self.path.stem}.fixed.csv"

    @property
    def outputs(self) -> list[str]:
        names = ["check.csv", "check.json"]
        return [*names, self.fixed_name, "changes.csv"] if self.fixed is not None else names


def check(path: Path, options: CheckRunOptions | None = None) -> CheckRun:
    """Read ``path`` and check it before it is sent: what impact.com would refuse, and why;
    with ``fix``, every record with the safe fixes applied."""
    from .preflight import CheckOptions, fix_table
    from .preflight import check as run_checks

    options = options or CheckRunOptions()
    day = options.today or clock().date()
    fixes = replace(
        fix_options(options.reason_map, None, options.timezone, options.actions), today=day
    )
    table = read_table(path, sheet=options.sheet, encoding=options.encoding)
    result = run_checks(
        table,
        CheckOptions(
            reason_map=fixes.reason_map,
            actions=fixes.actions,
            today=day,
            timezone=fixes.timezone,
            fix=options.fix,
        ),
    )
    return CheckRun(path, result, fix_table(result, fixes) if options.fix else None)


def write_check_outputs(run: CheckRun, out: Path, *, force: bool = False) -> list[str]:
    """check.csv and check.json (and with ``--fix`` the fixed file and changes.csv), written
    into ``out`` whole or not at all."""
    written = run.outputs
    with staged_output(out, force=force) as stage:
        jobs: list[Callable[[], None]] = [
            lambda: write_json({**run.result.to_json(), "outputs": written}, stage / "check.json"),
            lambda: write_csv(run.result.findings, stage / "check.csv", safe=True),
        ]
        fixed = run.fixed
        if fixed is not None:
            # Meant for impact.com: exact values, UTF-8 without BOM, commas, every record.
            jobs.append(lambda: write_csv(fixed.frame, stage / run.fixed_name, header=fixed.header))
            jobs.append(lambda: write_csv(fixed.changes, stage / "changes.csv", safe=True))
        run_jobs(jobs)
    return written
