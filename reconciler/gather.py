"""Gather the results given for one submission, and judge how much of them is in hand.

Owns: telling result records (errors, API submission records, a sent file with status) from
batch-status records (an ``FtpSubmission``, alone or in an ``FTPFileSubmissions`` list);
combining the pages of one export into one table (a page given twice counts once; pages of
different exports are refused); choosing the batch that fits the sent file among several; and
the completeness rules, which decide what a record no result speaks of is (``assess``):

* the platform read 0 records: nothing was applied (``zero_records``);
* the batch is Queued / In Progress, or has no CompletionDate: ``pending``;
* pages missing, or fewer error rows than TotalErrors / ``@total``: ``unknown``;
* results that list every record (API submissions, a sent file with status): ``missing``;
* counts that match: ``accepted`` (``complete``); nothing either way: ``accepted`` on the
  presumption that an error list lists every error (``presumed``), or ``unknown`` with
  ``--require-complete``.

Does not read files (``readers``), tie results to records (``match``) or classify records
(``classify``). How impact.com numbers and pages its exports is partly inferred
(impact-reference §5, §7.3): every rule here is lenient about spelling and says what it saw.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from .classify import Completeness, SubmissionState
from .detect import ResultSchema, ResultShape
from .errors import ShapeError
from .model import IntArray, Outcome, Table
from .templates import (
    RESULT_FIELDS,
    SUBMISSION_DONE_VALUES,
    SUBMISSION_STATUS_VALUES,
    header_key,
)

_CODE_KEYS = frozenset(header_key(a) for a in RESULT_FIELDS["code"])
_LINE_KEYS = frozenset(header_key(a) for a in RESULT_FIELDS["line"])
_BATCH_IN_URI = re.compile(r"/FTPFileSubmissions/([^/?#]+)/ErrorDetails", re.IGNORECASE)
_PAGE_QUERY = re.compile(r"(?i)([?&])(page|pagesize)=[^&#]*")
_LISTING_CONTAINERS = frozenset({"apisubmission", "apisubmissions"})


@dataclass(frozen=True, slots=True)
class BatchState:
    """One FtpSubmission: the batch's own account of itself."""

    batch_id: str
    status: str
    total_records: int | None
    total_errors: int | None
    completion_date: str
    file_name: str
    source: Path
    chosen_by: str = ""  # how it was picked among several ("" when it was the only one)
    submission_date: str = ""  # when it was submitted, as reported ("" when not)


@dataclass(frozen=True, slots=True, eq=False)
class Gathered:
    """The result records of every results file, in the order given, and what came with
    them. ``row_file[i]`` is the position in ``files`` of the file result row ``i`` is from."""

    table: Table
    files: tuple[Path, ...]
    row_file: IntArray
    batch: BatchState | None
    pages: tuple[int, ...]  # page numbers given (paged JSON exports)
    numpages: int | None
    total: int | None  # @total: the rows the export holds in all
    notes: tuple[str, ...]  # said among the warnings (a page given twice, ...)

    @property
    def file_names(self) -> list[str]:
        return [str(p) for p in self.files]


def _int(raw: object) -> int | None:
    text = str(raw or "").strip()
    if text.endswith(".0"):
        text = text[:-2]
    return int(text) if text.isascii() and text.isdigit() else None


def is_batch_status(table: Table) -> bool:
    """An FtpSubmission record (or a list of them): BatchId and its counts, no error column."""
    keys = {header_key(c) for c in table.frame.columns}
    return (
        "batchid" in keys
        and bool({"totalrecords", "totalerrors"} & keys)
        and not keys & _CODE_KEYS
        and not keys & _LINE_KEYS
    )


def _batches(table: Table) -> list[BatchState]:
    labels = {header_key(c): c for c in reversed(list(table.frame.columns))}

    def col(name: str) -> list[str]:
        label = labels.get(name)
        if label is None:
            return [""] * table.records
        return [str(v) for v in table.frame[label].tolist()]

    submitted = next(
        (col(k) for k in ("submissiondate", "datesubmitted", "createddate", "uploaddate")
         if k in labels),
        [""] * table.records,
    )  # fmt: skip
    rows = zip(
        col("batchid"),
        col("status"),
        col("totalrecords"),
        col("totalerrors"),
        col("completiondate"),
        col("filename"),
        submitted,
        strict=True,
    )
    return [
        BatchState(
            b.strip(),
            s.strip(),
            _int(r),
            _int(e),
            c.strip(),
            f.strip(),
            table.path,
            submission_date=d.strip(),
        )
        for b, s, r, e, c, f, d in rows
    ]


def _pages_of(table: Table) -> list[int]:
    raw = table.meta.get("@page", "")
    return [n for n in (_int(p) for p in raw.split(",")) if n is not None]


def _export_key(table: Table) -> tuple[str, ...]:
    """What pages of one export share: where they come from and the export's size."""
    if _pages_of(table):
        uri = _PAGE_QUERY.sub(r"\1", table.meta.get("@uri", "")).rstrip("?&")
        return (
            "pages",
            table.container.casefold(),
            uri,
            table.meta.get("@numpages", "").strip(),
            table.meta.get("@total", "").strip(),
        )
    return ("file", table.format, *sorted({header_key(c) for c in table.frame.columns}))


def _batch_hints(tables: Sequence[Table]) -> set[str]:
    """BatchIds the result records name: in a page's @uri, or in a BatchId column."""
    hints: set[str] = set()
    for t in tables:
        for value in (t.meta.get("@uri", ""), t.meta.get("ErrorsUri", "")):
            m = _BATCH_IN_URI.search(value)
            if m:
                hints.add(m.group(1))
        for label in t.frame.columns:
            if header_key(label) == "batchid":
                hints.update(v.strip() for v in t.frame[label].unique() if str(v).strip())
    return hints


def gather(tables: Sequence[Table], sent: Table) -> Gathered:
    """Split ``tables`` (read from the RESULTS files, in the order given) into result records
    and batch status, combine the result records and pick the batch. ShapeError when the
    files cannot be one submission's results."""
    if not tables:
        raise ShapeError("no results file given: reconciler reconcile SENT RESULTS [RESULTS...]")
    files = tuple(t.path for t in tables)
    status_tables = [t for t in tables if is_batch_status(t)]
    result_tables = [t for t in tables if not is_batch_status(t)]
    notes: list[str] = []

    kept: list[Table] = []
    seen_pages: dict[int, Table] = {}
    key: tuple[str, ...] | None = None
    for t in result_tables:
        k = _export_key(t)
        if key is not None and k != key:
            first = kept[0] if kept else result_tables[0]
            raise ShapeError(
                f"is not part of the same export as {first.path} (another "
                + ("export, batch or filter" if k[0] == key[0] == "pages" else "kind of file")
                + "); give the pages of one export of this submission's results",
                path=t.path,
            )
        key = k
        pages = _pages_of(t)
        again = [p for p in pages if p in seen_pages]
        if again:
            other = seen_pages[again[0]]
            if other.frame.equals(t.frame) and other.header == t.header:
                notes.append(f"{t.path} is page {again[0]} again (as {other.path}); counted once")
                continue
            raise ShapeError(
                f"is page {again[0]} of the export, as is {other.path}, but they differ; "
                "export the results again and give each page once",
                path=t.path,
            )
        if not pages and any(o.frame.equals(t.frame) and o.header == t.header for o in kept):
            notes.append(f"{t.path} holds the same results as a file given before; counted once")
            continue
        for p in pages:
            seen_pages[p] = t
        kept.append(t)

    batch = _pick_batch(status_tables, kept, sent)
    if kept:
        table = _combine(kept)
        row_file = np.concatenate(
            [np.full(t.records, files.index(t.path), dtype=np.int64) for t in kept]
        )
    else:
        # Only the batch's status: no result record at all.
        table = Table(
            path=status_tables[0].path,
            format="json",
            header=(),
            frame=pd.DataFrame(index=pd.RangeIndex(0)),
            lines=np.array([], dtype=np.int64),
            header_line=0,
            container="ErrorDetail",
        )
        row_file = np.array([], dtype=np.int64)
    numpages = max((_int(t.meta.get("@numpages")) or 0 for t in kept), default=0) or None
    total = next((n for n in (_int(t.meta.get("@total")) for t in kept) if n is not None), None)
    page_numbers = tuple(sorted(seen_pages))
    if (
        batch is not None
        and batch.file_name
        and batch.file_name.casefold()
        not in (
            sent.path.name.casefold(),
            "",
        )
    ):
        notes.append(
            f"impact.com names the batch's file {batch.file_name!r}, but the sent file given is "
            f"{sent.path.name!r}: check that it is the file that was submitted"
        )
    return Gathered(table, files, row_file, batch, page_numbers, numpages, total, tuple(notes))


def _combine(tables: Sequence[Table]) -> Table:
    if len(tables) == 1:
        return tables[0]
    header: list[str] = []
    for t in tables:
        header.extend(h for h in t.header if h not in header)
    labels: list[str] = []
    for t in tables:
        labels.extend(c for c in t.frame.columns if c not in labels)
    frames = [t.frame.reindex(columns=labels, fill_value="") for t in tables]
    frame = pd.concat(frames, ignore_index=True)
    for label in labels:
        if frame[label].dtype != "str":
            frame[label] = frame[label].fillna("").astype("str")
    first = tables[0]
    meta = dict(first.meta)
    pages = [str(p) for t in tables for p in _pages_of(t)]
    if pages:
        meta["@page"] = ",".join(pages)
    return replace(
        first,
        header=tuple(header) if len(header) == len(labels) else tuple(labels),
        frame=frame,
        lines=np.concatenate([np.asarray(t.lines, dtype=np.int64) for t in tables]),
        meta=meta,
    )


def _pick_batch(
    status_tables: Sequence[Table], results: Sequence[Table], sent: Table
) -> BatchState | None:
    batches: dict[str, BatchState] = {}
    for t in status_tables:
        for b in _batches(t):
            batches.setdefault(b.batch_id or f"#{len(batches)}", b)
    if not batches:
        return None
    found = list(batches.values())
    hints = _batch_hints(results)
    where = status_tables[0].path
    if hints:
        chosen = [b for b in found if b.batch_id in hints]
        if not chosen:
            raise ShapeError(
                f"holds the status of batch {_names(found)}, but the results given are for "
                f"{', '.join(sorted(hints)[:3])}; give the FtpSubmission of the same batch",
                path=where,
            )
        if len(chosen) == 1:
            return replace(chosen[0], chosen_by="" if len(found) == 1 else "its BatchId")
        found = chosen
    if len(found) == 1:
        return found[0]
    name = sent.path.name.casefold()
    by_name = [b for b in found if b.file_name.casefold() == name]
    if len(by_name) == 1:
        return replace(by_name[0], chosen_by="its FileName")
    pool = by_name or found
    by_count = [b for b in pool if b.total_records == sent.records]
    if len(by_count) == 1:
        how = "its FileName and record count" if by_name else "its record count"
        return replace(by_count[0], chosen_by=how)
    raise ShapeError(
        f"lists {len(found)} submissions and {'several' if len(pool) > 1 else 'none'} fit "
        f"{sent.path.name} ({sent.records} records): {_names(pool)}; give only the "
        "FtpSubmission of the batch that was this file (fetch it by its BatchId)",
        path=where,
    )


def _names(batches: Sequence[BatchState]) -> str:
    shown = [
        f"{b.batch_id} ({b.file_name or 'no file name'}, {b.total_records} records)"
        for b in batches[:4]
    ]
    more = len(batches) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def zero_record_causes(sent: Table) -> list[str]:
    """What in the sent file explains impact.com reading 0 records of it (seed: the Records
    column shows 0 when the extension is not .csv or .xml)."""
    causes: list[str] = []
    suffix = sent.path.suffix.lower()
    if suffix not in (".csv", ".xml"):
        causes.append(
            f"its extension is {suffix or '(none)'}, and impact.com reads only .csv and .xml"
        )
    if sent.format not in ("csv", "xml"):
        causes.append(f"it is {sent.format.upper()}, not CSV or XML")
    if sent.format == "csv" and sent.delimiter not in (None, ","):
        names = {";": "semicolons", "\t": "tabs", "|": "pipes"}
        causes.append(
            f"its columns are separated by {names.get(sent.delimiter or '', repr(sent.delimiter))}, "
            "not commas"
        )
    if sent.encoding and sent.encoding.replace("_", "-") not in ("utf-8", "utf-8-sig", "ascii"):
        causes.append(f"it is encoded as {sent.encoding}, not UTF-8")
    if sent.encoding == "utf-8-sig":
        causes.append("it starts with a byte-order mark, which can hide the first column name")
    return causes


def assess(
    gathered: Gathered,
    schema: ResultSchema,
    rows: pd.DataFrame,
    sent: Table,
    *,
    require_complete: bool = False,
) -> SubmissionState:
    """What the results say about the submission, and what a record no result speaks of is.

    ``rows`` are the result rows (``normalize.result_rows``): their codes and finality."""
    results = gathered.table
    batch = gathered.batch
    statuses: set[str] = set()
    label = schema.column("submission_status")
    if label is not None:
        statuses |= {v.strip() for v in results.frame[label].unique() if str(v).strip()}
    meta_status = results.meta.get("Status", "").strip()
    if meta_status.lower() in SUBMISSION_STATUS_VALUES:
        statuses.add(meta_status)
    if batch is not None and batch.status:
        statuses.add(batch.status)
    pending = sorted(s for s in statuses if s.lower() not in SUBMISSION_DONE_VALUES)
    undated = (batch is not None and not batch.completion_date) or (
        "CompletionDate" in results.meta and not results.meta["CompletionDate"].strip()
    )
    rows_final = rows["final"].to_numpy(dtype=bool) if "final" in rows.columns else None
    complete = not pending and not undated and (rows_final is None or bool(rows_final.all()))

    def _count(name: str, meta_key: str) -> int | None:
        if batch is not None:
            value = getattr(batch, name)
            if value is not None:
                return int(value)
        raw = results.meta.get(meta_key, "")
        col = schema.column(name)
        if not raw and col is not None and results.records:
            values = {v.strip() for v in results.frame[col].unique() if str(v).strip()}
            raw = values.pop() if len(values) == 1 else ""
        return _int(raw)

    total_records = _count("total_records", "TotalRecords")
    total_errors = _count("total_errors", "TotalErrors")
    batches: set[str] = set()
    batch_col = schema.column("batch_id")
    if batch_col is not None:
        batches = {v.strip() for v in results.frame[batch_col].unique() if str(v).strip()}
    if results.meta.get("BatchId"):
        batches.add(results.meta["BatchId"].strip())
    if batch is not None and batch.batch_id:
        batches.add(batch.batch_id)
    batches |= _batch_hints([results]) - {""}

    codes = rows["codes"].to_numpy(dtype=object) if len(rows) else np.array([], dtype=object)
    n_rows = len(rows)
    shape = schema.shape
    error_shape = shape in (ResultShape.ERROR_LIST, ResultShape.FTP_ERROR_DETAILS)
    success_rows = int(np.count_nonzero(codes == "")) if n_rows else 0
    listing = shape is ResultShape.SENT_WITH_STATUS or (
        shape is ResultShape.API_SUBMISSIONS
        and (results.container.casefold() in _LISTING_CONTAINERS or success_rows > 0)
    )
    notes = list(gathered.notes)
    if total_records is not None and total_records not in (0, sent.records):
        notes.append(
            f"impact.com counted {total_records:,} records in the submission but the sent file "
            f"holds {sent.records:,}: the results may be for another version of the file; a "
            "result is tied by its line only where an identifier confirms it"
        )

    # Partial: pages, @total, TotalErrors.
    partial: list[str] = []
    advice = ""
    missing_pages: list[int] = []
    if gathered.numpages and gathered.pages:
        missing_pages = [p for p in range(1, gathered.numpages + 1) if p not in gathered.pages]
    if missing_pages:
        given = ", ".join(str(p) for p in gathered.pages)
        partial.append(
            f"the export has {gathered.numpages} pages but only page{'s' if len(gathered.pages) > 1 else ''} "
            f"{given} {'were' if len(gathered.pages) > 1 else 'was'} given"
        )
        advice = (
            "The results are partial (pages of the export are missing): they do not say whether "
            "this record was applied. Give every page (reconciler reconcile SENT PAGE1 PAGE2 "
            "...) and reconcile again; do not resubmit it meanwhile."
        )
    elif gathered.total is not None and n_rows < gathered.total:
        partial.append(f"the export counts {gathered.total:,} rows (@total) but holds {n_rows:,}")
        advice = (
            "The results are partial (the export holds fewer rows than it counts): they do not "
            "say whether this record was applied. Export or fetch the results again, every "
            "page, and reconcile again; do not resubmit it meanwhile."
        )
    if error_shape and total_errors is not None and n_rows < total_errors and not partial:
        if n_rows == 0 and batch is not None:
            partial.append(
                f"the submission has {total_errors:,} errors (TotalErrors) but no error details "
                "were given"
            )
            advice = (
                "impact.com reported errors for this submission but their details were not "
                "given: pass the error details (every page) beside the submission's status and "
                "reconcile again; do not resubmit this record meanwhile."
            )
        else:
            partial.append(
                f"impact.com counts {total_errors:,} errors (TotalErrors) but the results hold "
                f"{n_rows:,}: an Error Type filter or a missing page"
            )
            advice = (
                "The results are partial (fewer errors than TotalErrors): they do not say "
                "whether this record was applied. On View Errors, remove the Error Type filter "
                "and export every error (or fetch them again), then reconcile again; do not "
                "resubmit this record meanwhile."
            )

    if total_records == 0:
        causes = zero_record_causes(sent)
        detail = "impact.com counted 0 records: nothing in the file was read or applied" + (
            " (" + "; ".join(causes) + ")" if causes else ""
        )
        state, unlisted = Completeness.ZERO_RECORDS, Outcome.REJECTED
    elif not complete:
        detail = (
            f"the submission is {' / '.join(pending)}, not Complete: results are not final"
            if pending
            else "the submission has no CompletionDate yet: results are not final"
        )
        state, unlisted = Completeness.NOT_FINAL, Outcome.PENDING
    elif partial:
        detail = "; ".join(partial)
        state, unlisted = Completeness.PARTIAL, Outcome.UNKNOWN
    elif listing:
        detail = (
            f"the results list every record ({n_rows:,} rows); a record absent from them is missing"
        )
        state, unlisted = Completeness.COMPLETE, Outcome.MISSING
    elif error_shape and total_errors is not None:
        detail = (
            f"{n_rows:,} error row{'' if n_rows == 1 else 's'}, as TotalErrors says"
            if n_rows == total_errors
            else f"{n_rows:,} error row{'' if n_rows == 1 else 's'} for TotalErrors "
            f"{total_errors:,} (a record can have several)"
        )
        state, unlisted = Completeness.COMPLETE, Outcome.ACCEPTED
    elif gathered.total is not None and n_rows >= gathered.total:
        detail = f"every page of the export is here ({n_rows:,} rows, as @total says)"
        state, unlisted = Completeness.COMPLETE, Outcome.ACCEPTED
    else:
        detail = "no count of errors (TotalErrors or @total) proves them complete; " + (
            "records without a listed error are unknown (--require-complete)"
            if require_complete
            else "records without a listed error are presumed accepted"
        )
        state = Completeness.PRESUMED
        unlisted = Outcome.UNKNOWN if require_complete else Outcome.ACCEPTED
        if require_complete:
            advice = (
                "Nothing proves the results complete, and --require-complete asks for proof: "
                "give the submission's FtpSubmission (its TotalErrors) or every page of the "
                "error details, and reconcile again."
            )
    return SubmissionState(
        status=", ".join(pending or sorted(statuses)),
        complete=complete,
        total_records=total_records,
        total_errors=total_errors,
        lists_every_record=listing,
        batch_ids=tuple(sorted(batches)),
        completeness=state,
        completeness_detail=detail,
        unlisted=unlisted,
        unknown_advice=advice,
        file_name=batch.file_name if batch is not None else "",
        notes=tuple(notes),
        records_differ=total_records is not None and total_records not in (0, sent.records),
    )
