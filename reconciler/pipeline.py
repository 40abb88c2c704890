"""The one place that chains the stages: read → detect → normalize → match → classify → write.

Owns the order of stages and the summary figures. Each stage stays a pure function elsewhere.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from . import __version__
from .catalogue import Catalogue, load_catalogue
from .classify import SubmissionState, classify_records
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
from .match import LineBaseChoice, Ties, match_results
from .model import LineBase, Outcome, Resolution, Table
from .normalize import ID_FIELDS, PAYLOAD_FIELDS, arrow_strings, result_rows, sent_keys
from .readers import read_table
from .remediate import RemediateOptions, Remediation, remediate, start_file_counts
from .templates import SUBMISSION_DONE_VALUES, SUBMISSION_STATUS_VALUES, TEMPLATE_TITLES
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
    "Advice",
)
UNMATCHED_COLUMNS: tuple[str, ...] = (
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


def clock() -> datetime:
    """Now, or SOURCE_DATE_EPOCH when set (reproducible outputs)."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if epoch.isdigit():
        return datetime.fromtimestamp(int(epoch), tz=UTC)
    return datetime.now(tz=UTC).replace(microsecond=0)


@dataclass(frozen=True, slots=True)
class ReconcileOptions:
    overrides: Mapping[str, str] = field(default_factory=dict)
    sheet: str | None = None
    line_base: LineBase = LineBase.AUTO
    now: datetime | None = None
    fixes: RemediateOptions = field(default_factory=RemediateOptions)
    max_rows: int | None = None  # split resubmit.csv into files of at most this many records
    workbooks: bool = True  # needs-attention.xlsx beside needs-attention.csv


@dataclass(frozen=True, slots=True, eq=False)
class Reconciliation:
    sent: Table
    results: Table
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


def _read(path: Path, sheet: str | None, other_is_xlsx: bool) -> Table:
    try:
        return read_table(path, sheet=sheet)
    except InputError as exc:
        # --sheet names a sheet of the other workbook: read this one's first sheet.
        if sheet is not None and other_is_xlsx and "sheet" in exc.message.lower():
            return read_table(path)
        raise


def _is_xlsx(path: Path) -> bool:
    return path.suffix.lower() in (".xlsx", ".xlsm")


def submission_state(results: Table, schema: ResultSchema) -> SubmissionState:
    """Submission-level facts from the results' columns or the JSON wrapper around them."""
    statuses: list[str] = []
    label = schema.column("submission_status")
    if label is not None:
        statuses = sorted({v.strip() for v in results.frame[label].unique() if str(v).strip()})
    meta_status = results.meta.get("Status", "").strip()
    if not statuses and meta_status.lower() in SUBMISSION_STATUS_VALUES:
        statuses = [meta_status]
    complete = all(s.lower() in SUBMISSION_DONE_VALUES for s in statuses)
    pending = [s for s in statuses if s.lower() not in SUBMISSION_DONE_VALUES]

    def _int(name: str, meta_key: str) -> int | None:
        raw = results.meta.get(meta_key, "")
        col = schema.column(name)
        if not raw and col is not None and results.records:
            values = {v.strip() for v in results.frame[col].unique() if str(v).strip()}
            raw = values.pop() if len(values) == 1 else ""
        raw = raw.strip()
        return int(raw) if raw.isdigit() else None

    batch_col = schema.column("batch_id")
    batches: set[str] = set()
    if batch_col is not None:
        batches = {v.strip() for v in results.frame[batch_col].unique() if str(v).strip()}
    if results.meta.get("BatchId"):
        batches.add(results.meta["BatchId"].strip())
    return SubmissionState(
        status=", ".join(pending or statuses),
        complete=complete,
        total_records=_int("total_records", "TotalRecords"),
        total_errors=_int("total_errors", "TotalErrors"),
        lists_every_record=schema.shape is ResultShape.SENT_WITH_STATUS,
        batch_ids=tuple(sorted(batches)),
    )


def _unmatched_frame(ties: Ties, sent: Table) -> pd.DataFrame:
    res = ties.results
    bad = res[res["s_idx"].to_numpy() < 0]
    lines = np.asarray(sent.lines)

    def _cand_lines(c: str) -> str:
        return " ".join(str(int(lines[int(i)])) for i in c.split()) if c else ""

    return pd.DataFrame(
        {
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
    results_path: Path,
    options: ReconcileOptions | None = None,
    catalogue: Catalogue | None = None,
    progress: Callable[[str], None] | None = None,
) -> Reconciliation:
    """Read both files, tie every result to its record and classify every record."""
    options = options or ReconcileOptions()
    catalogue = catalogue or load_catalogue()
    step = progress or (lambda _msg: None)
    with contextlib.suppress(OSError, RuntimeError):  # a symlink loop: the reader says so
        if sent_path.resolve() == results_path.resolve():
            raise UsageError(
                "is given as both the sent file and the results; give the results impact.com "
                "reported as the second file",
                path=sent_path,
            )
    step(f"reading {sent_path.name}")
    sent = _read(sent_path, options.sheet, _is_xlsx(results_path))
    step(f"reading {results_path.name}")
    results = _read(results_path, options.sheet, _is_xlsx(sent_path))
    return reconcile_tables(sent, results, options, catalogue, step)


def reconcile_tables(
    sent: Table,
    results: Table,
    options: ReconcileOptions | None = None,
    catalogue: Catalogue | None = None,
    progress: Callable[[str], None] | None = None,
) -> Reconciliation:
    """The stages after reading: detect, normalize, match, classify, summarise."""
    options = options or ReconcileOptions()
    catalogue = catalogue or load_catalogue()
    step = progress or (lambda _msg: None)
    step("recognising the files")

    if looks_like_results(sent):
        raise ShapeError(
            "looks like a results export, not the file that was sent; give the sent file first: "
            "reconciler reconcile SENT RESULTS",
            path=sent.path,
        )
    sent_schema = detect_template(sent)
    if not sent.records:
        raise ShapeError(
            "has no records under its header: there is nothing to reconcile",
            path=sent.path,
            line=sent.header_line or None,
        )
    result_schema = detect_results(results, sent_schema, sent, options.overrides)
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
    rows = result_rows(results, result_schema, catalogue)
    keys, skus = keyed.result()
    known = {f: keys[f] for f in carried}
    submission = submission_state(results, result_schema)
    step("tying results to records")
    ties = match_results(sent, rows, keys, skus, options.line_base)
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
    unmatched = _unmatched_frame(ties, sent)
    release_free_memory()
    step("summarising")
    summary_job = background(
        "summary",
        _summary,
        sent,
        results,
        sent_schema,
        result_schema,
        ties,
        submission,
        records,
        unmatched,
        remediation,
        options,
    )
    return Reconciliation(
        sent=sent,
        results=results,
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
    results: Table,
    sent_schema: SentSchema,
    result_schema: ResultSchema,
    ties: Ties,
    submission: SubmissionState,
    records: pd.DataFrame,
    unmatched: pd.DataFrame,
    remediation: Remediation,
    options: ReconcileOptions,
) -> dict[str, Any]:
    now = options.now or clock()
    outcome = records["Outcome"]
    resolution = records["Resolution"]
    n = len(records)
    accepted = int((outcome == Outcome.ACCEPTED).sum())
    attention = resolution.isin([*NEEDS_ATTENTION, Resolution.WAIT, Resolution.AUTO_FIXED])
    warnings: list[str] = []
    if submission.total_records == 0 and n:
        warnings.append(
            "impact.com counted 0 records in this submission: the file was probably not read at "
            "all (make sure its extension is .csv or .xml) and nothing was applied"
        )
    if not submission.complete:
        warnings.append(
            f"the submission is not complete (status {submission.status}); results are not final"
        )
    if (
        submission.total_errors is not None
        and submission.total_errors != len(results.frame)
        and (result_schema.shape is not ResultShape.SENT_WITH_STATUS)
    ):
        warnings.append(
            f"the results say TotalErrors={submission.total_errors} but hold {results.records} "
            "rows: the export may be partial (another page?)"
        )
    if (
        ties.line_base.requested is LineBase.AUTO
        and not ties.line_base.confirmed
        and result_schema.column("line") is not None
        and results.records
    ):
        warnings.append(
            "the results carry no identifiers to confirm how lines are numbered; "
            f"assumed {ties.line_base.base} (header = line 1); use --line-base if that is wrong"
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
        "results_file": str(results.path),
        "sent_format": sent.format,
        "sent_encoding": sent.encoding,
        "sent_delimiter": sent.delimiter,
        "results_format": results.format,
        "template": str(sent_schema.template),
        "template_title": TEMPLATE_TITLES[sent_schema.template],
        "result_shape": str(result_schema.shape),
        "result_shape_title": SHAPE_TITLES[result_schema.shape],
        "result_columns": {k: v for k, v in sorted(result_schema.fields.items())},
        "line_base": str(ties.line_base.base),
        "line_base_detail": ties.line_base.describe()
        if result_schema.column("line") is not None
        else "not used: the results carry no line numbers, so they are tied by identifiers",
        "line_base_evidence": {k: dict(v) for k, v in ties.line_base.evidence.items()},
        "submission": {
            "status": submission.status,
            "complete": submission.complete,
            "total_records": submission.total_records,
            "total_errors": submission.total_errors,
            "batch_ids": list(submission.batch_ids),
        },
        "sent_records": n,
        "result_rows": results.records,
        "accepted": accepted,
        "accepted_pct": round(100.0 * accepted / n, 1) if n else 0.0,
        "rejected": int((outcome == Outcome.REJECTED).sum()),
        "missing": int((outcome == Outcome.MISSING).sum()),
        "pending": int((outcome == Outcome.PENDING).sum()),
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
    plain = pc.match_substring_regex(arr, r"^\d+(?:\.\d+)?$")
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


def money_at_stake(sent: Table, schema: SentSchema, records: pd.DataFrame) -> dict[str, Any]:
    """Sum of Amount over records that were not applied, by resolution, in the file's currency."""
    frame = sent.frame
    amount_col = schema.column("amount")
    item_cols = list(schema.item_columns("item_amount"))
    if amount_col is None and not item_cols:
        return {"amount_column": None}
    # Not applied: rejected, or missing from results that list every record. (Ambiguous and
    # pending records are not known either way.)
    rejected = records["Outcome"].isin([Outcome.REJECTED, Outcome.MISSING]).to_numpy(dtype=bool)
    where = np.flatnonzero(rejected)
    amt = np.zeros(len(frame), dtype=np.float64)
    if amount_col is not None:
        amt[where] = _amounts(frame[amount_col].astype("str").iloc[where])
        label = amount_col
    else:
        for c in item_cols:
            amt[where] += np.nan_to_num(_amounts(frame[c].astype("str").iloc[where]))
        label = " + ".join(item_cols)
    currency_col = schema.column("currency")
    currencies: list[str] = []
    if currency_col is not None:
        currencies = sorted(
            {str(c).strip().upper() for c in frame[currency_col].unique() if str(c).strip()}
        )
    by_res: dict[str, str] = {}
    resolution = records["Resolution"].astype("category").array
    res = np.asarray(resolution.codes, dtype=np.int64)
    names = [str(c) for c in resolution.categories]
    for code in sorted(set(np.unique(res[where]).tolist()), key=lambda c: names[c]):
        mask = res[where] == code
        by_res[names[code]] = f"{np.nansum(amt[where][mask]):.2f}"
    reversals = rejected & (amt == 0)
    by_currency: dict[str, str] = {}
    if currency_col is not None and len(currencies) > 1:
        cur = frame[currency_col].astype("str").str.strip().str.upper().to_numpy(dtype=object)
        for name in sorted(set(cur[rejected])):
            mask = rejected & (cur == name)
            by_currency[str(name) or "(none)"] = f"{np.nansum(amt[mask]):.2f}"
    return {
        "amount_column": label,
        "currency": currencies[0] if len(currencies) == 1 else ("mixed" if currencies else None),
        "currencies": currencies,
        "not_applied_total": f"{np.nansum(amt[rejected]):.2f}",
        "not_applied_by_resolution": by_res,
        "not_applied_by_currency": by_currency,
        "reversals_not_applied": int(reversals.sum()),
        "unreadable_amounts": int(
            (np.isnan(amt[where]) & (frame[amount_col].iloc[where] != "").to_numpy()).sum()
        )
        if amount_col is not None
        else 0,
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
    check_out_dir(out, [rec.sent.path, rec.results.path])
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
