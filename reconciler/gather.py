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
import numpy.typing as npt
import pandas as pd

from .classify import Completeness, SubmissionState
from .detect import ResultSchema, ResultShape, map_sent_columns
from .errors import ShapeError
from .model import IntArray, Outcome, Table
from .statuswords import StatusKind, status_kind
from .templates import RESULT_FIELDS, header_key

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
    counts_raw: tuple[str, str] = ("", "")  # TotalRecords and TotalErrors as written


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
    repeated_rows: int = 0  # result rows another file given had already: counted once
    next_pages: tuple[int, ...] = ()  # pages a page given names as next, not given (0: unnumbered)
    has_results: bool = True  # a file of result records was given (not only a batch's status)
    # Results files that carry their count (TotalErrors) on each row but hold no row: their
    # count cannot be read, and an empty file says nothing of the others' batch.
    countless: tuple[Path, ...] = ()

    @property
    def file_names(self) -> list[str]:
        return [str(p) for p in self.files]


def _int(raw: object) -> int | None:
    return read_count(raw)[0]


_THOUSANDS = re.compile(r"\d{1,3}(?:,\d{3})+")
_WHOLE = re.compile(r"(\d+)(?:\.0+)?")


def read_count(raw: object) -> tuple[int | None, str]:
    """A count as impact.com writes it (``"7"``, ``7``, ``"7.0"``, ``"1,000"``), and why it
    cannot be used when it cannot ("" when the cell is empty: no count was given)."""
    text = str(raw or "").strip()
    if not text:
        return None, ""
    whole = _WHOLE.fullmatch(text)
    if whole and text.isascii():
        return int(whole.group(1)), ""
    if _THOUSANDS.fullmatch(text):
        return int(text.replace(",", "")), ""
    return None, f"{text!r} is not a count"


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
            counts_raw=(r.strip(), e.strip()),
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


_IDENTITY: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    # (name shown, meta key, column keys): what one submission's exports all share.
    ("BatchId", "BatchId", ("batchid",)),
    ("FileName", "FileName", ("filename",)),
    ("TotalRecords", "TotalRecords", ("totalrecords",)),
    ("TotalErrors", "TotalErrors", ("totalerrors",)),
)


def _identity(table: Table) -> dict[str, frozenset[str]]:
    """What tells one submission's export from another's: its BatchId, FileName, counts and
    the list it was fetched from (``@uri`` without its paging), as the file gives them."""
    labels: dict[str, list[str]] = {}
    for label in table.frame.columns:
        labels.setdefault(header_key(label), []).append(label)
    out: dict[str, frozenset[str]] = {}
    for name, meta_key, keys in _IDENTITY:
        values = {table.meta.get(meta_key, "").strip()}
        for key in keys:
            for label in labels.get(key, []):
                values.update(str(v).strip() for v in table.frame[label].unique())
        values.discard("")
        if name.startswith("Total"):
            values = {str(_int(v)) if _int(v) is not None else v for v in values}
        if values:
            out[name] = frozenset(values)
    uri = _PAGE_QUERY.sub(r"\1", table.meta.get("@uri", "")).rstrip("?&").strip()
    if uri:
        out["@uri"] = frozenset({uri})
    return out


def _same_export(first: Table, other: Table) -> None:
    """ShapeError when ``other`` is plainly another submission's export than ``first``."""
    mine, theirs = _identity(first), _identity(other)
    for name in (*(i[0] for i in _IDENTITY), "@uri"):
        if name in mine and name in theirs and mine[name] != theirs[name]:
            raise ShapeError(
                f"is another export than {first.path}: {name} {_shown(theirs[name])} here, "
                f"{_shown(mine[name])} there; give the results of one submission (the pages "
                "or Error Type filters of one export), one run per submission",
                path=other.path,
            )


def _shown(values: frozenset[str]) -> str:
    shown = sorted(values)
    return ", ".join(repr(v) for v in shown[:3]) + (" ..." if len(shown) > 3 else "")


_NEXT_PAGE = re.compile(r"(?i)[?&]page=(\d+)")


def _next_page(table: Table) -> int | None:
    """The page ``@nextpageuri`` names (0 when it names one without a number); None when the
    table names no next page."""
    uri = table.meta.get("@nextpageuri", "").strip()
    if not uri:
        return None
    m = _NEXT_PAGE.search(uri)
    if m:
        return int(m.group(1))
    pages = _pages_of(table)
    return max(pages) + 1 if pages else 0


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
        if kept:
            _same_export(kept[0], t)
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
    repeated = 0
    if kept:
        table = _combine(kept)
        row_file = np.concatenate(
            [np.full(t.records, files.index(t.path), dtype=np.int64) for t in kept]
        )
        if len(kept) > 1:
            again_rows = _repeated_rows(table, row_file)
            repeated = int(again_rows.sum())
            if repeated:
                keep = np.flatnonzero(~again_rows)
                by_file = np.bincount(row_file[again_rows], minlength=len(files))
                notes.append(
                    "; ".join(
                        f"{n:,} result row{'' if n == 1 else 's'} of {files[i]} "
                        f"{'is' if n == 1 else 'are'} in a file given before"
                        for i, n in enumerate(by_file.tolist())
                        if n
                    )
                    + " (the same row, or the same error Uri): counted once"
                )
                table = replace(
                    table,
                    frame=table.frame.iloc[keep].reset_index(drop=True),
                    lines=np.asarray(table.lines, dtype=np.int64)[keep],
                )
                row_file = row_file[keep]
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
    named = {n for n in (_next_page(t) for t in kept) if n is not None}
    next_pages = tuple(sorted(n for n in named if n == 0 or n not in seen_pages))
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
    return Gathered(
        table,
        files,
        row_file,
        batch,
        page_numbers,
        numpages,
        total,
        tuple(notes),
        repeated_rows=repeated,
        next_pages=next_pages,
        has_results=bool(kept),
        countless=tuple(
            t.path
            for t in kept
            if not t.records
            and {header_key(c) for c in t.frame.columns} & {"totalerrors", "totalrecords"}
        ),
    )


def _repeated_rows(table: Table, row_file: IntArray) -> npt.NDArray[np.bool_]:
    """Rows that a file given before already holds: the same row (every cell), or the same
    error ``Uri`` (the platform's id of one error). A file sorted otherwise, or a page that
    repeats another's errors, is then counted once. Rows repeated within one file stay (two
    errors of one line may read alike)."""
    frame = table.frame
    again = np.zeros(len(frame), dtype=bool)
    keys = [pd.util.hash_pandas_object(frame, index=False).to_numpy()]
    for label in frame.columns:
        if header_key(label) == "uri":
            uri = frame[label].astype("str").str.strip()
            ids, _ = pd.factorize(uri.where(uri != "", None))
            keys.append(np.where(ids >= 0, ids, -1 - np.arange(len(frame))))
    for key in keys:
        first = pd.Series(row_file).groupby(pd.Series(key)).transform("min").to_numpy(np.int64)
        again |= row_file > first
    return again


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


_PLAIN_HEADER = re.compile(r"[A-Za-z][A-Za-z0-9]*")


def _zero_record_findings(sent: Table) -> list[tuple[str, str]]:
    """What in the sent file explains impact.com reading 0 records of it, each with its fix
    (seed: the Records column shows 0 when the extension is not .csv or .xml)."""
    found: list[tuple[str, str]] = []
    suffix = sent.path.suffix.lower()
    if suffix not in (".csv", ".xml"):
        found.append(
            (
                f"its extension is {suffix or '(none)'}, and impact.com reads only .csv and .xml",
                "save it with a .csv (or .xml) extension",
            )
        )
    if sent.format not in ("csv", "xml"):
        found.append(
            (
                f"it is {sent.format.upper()}, not CSV or XML",
                "save it as CSV (comma-separated, UTF-8), not as a workbook or other format",
            )
        )
    if sent.format == "csv" and sent.delimiter not in (None, ","):
        names = {";": "semicolons", "\t": "tabs", "|": "pipes"}
        found.append(
            (
                f"its columns are separated by "
                f"{names.get(sent.delimiter or '', repr(sent.delimiter))}, not commas",
                "save it with commas between the columns (CSV UTF-8 (Comma delimited))",
            )
        )
    if sent.encoding and sent.encoding.replace("_", "-") not in ("utf-8", "utf-8-sig", "ascii"):
        found.append(
            (
                f"it is encoded as {sent.encoding}, not UTF-8",
                "save it encoded as UTF-8",
            )
        )
    if sent.encoding == "utf-8-sig":
        found.append(
            (
                "it starts with a byte-order mark, which can hide the first column name",
                "save it as UTF-8 without a byte-order mark",
            )
        )
    if sent.header_line > 1:
        found.append(
            (
                f"its header is on line {sent.header_line}, not the first line",
                "remove the rows above the header, so that the column names are the first line",
            )
        )
    columns = list(sent.frame.columns)
    written = (
        dict(zip(columns, sent.header, strict=True)) if len(sent.header) == len(columns) else {}
    )
    fields, items = map_sent_columns(columns)
    odd = [
        name
        for label in [*fields.values(), *(i.column for i in items)]
        if (name := written.get(label, label).strip().lstrip("\ufeff"))
        and not _PLAIN_HEADER.fullmatch(name)
    ]
    if odd:
        shown = ", ".join(repr(n) for n in odd[:4]) + (" ..." if len(odd) > 4 else "")
        found.append(
            (
                f"its column names are not written as impact.com documents them ({shown}: "
                "spaces or other signs, where the template has e.g. ActionId, OrderId, "
                "ActionTrackerId)",
                "name the columns exactly as the impact.com template does (ActionId, Oid or "
                "OrderId, ActionTrackerId, Amount, Reason, ...)",
            )
        )
    return found


def zero_record_causes(sent: Table) -> list[str]:
    """What in the sent file explains impact.com reading 0 records of it."""
    return [cause for cause, _ in _zero_record_findings(sent)]


def zero_record_advice(sent: Table) -> str:
    """What to do about a record of a file impact.com read as 0 records: the fixes of the
    causes found, or, when none is found, to check the file before sending it again."""
    fixes = [fix for _, fix in _zero_record_findings(sent)]
    if not fixes:
        return (
            "impact.com read none of the file's records, and nothing in the file given explains "
            "why: check that it is the file that was submitted (Download Original File on File "
            "Submissions) and ask impact.com support before submitting it again."
        )
    return (
        "impact.com read none of the file's records: "
        + "; ".join(fixes)
        + "; then submit it again."
    )


def _error_records(rows: pd.DataFrame, errors: npt.NDArray[np.bool_]) -> int:
    """How many records the error rows name: distinct lines, or for rows without a line,
    distinct identifiers (a record may have several errors)."""
    if not errors.any():
        return 0
    err = rows.loc[errors]
    line = err["line"].to_numpy(dtype=np.int64)
    with_line = line >= 0
    n = len(np.unique(line[with_line]))
    if not with_line.all():
        # Distinct (ActionId, Oid, ActionTrackerId, SKU): compared column by column, since
        # an identifier may hold any character a separator could be.
        ids = err.loc[~with_line, ["action_id", "oid", "action_tracker_id", "sku"]]
        n += len(ids.astype("str").drop_duplicates())
    return n


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


_PARTIAL_PAGES_ADVICE = (
    "The results are partial (pages of the export are missing): they do not say whether "
    "this record was applied. Give every page (reconciler reconcile SENT PAGE1 PAGE2 ...) "
    "and reconcile again; do not resubmit it meanwhile."
)
_PARTIAL_ROWS_ADVICE = (
    "The results are partial (the export holds fewer rows than it counts): they do not say "
    "whether this record was applied. Export or fetch the results again, every page, and "
    "reconcile again; do not resubmit it meanwhile."
)
_FILTERED_ADVICE = (
    "The results are partial (fewer errors than TotalErrors): they do not say whether this "
    "record was applied. On View Errors, remove the Error Type filter and export every error "
    "(or fetch them again), then reconcile again; do not resubmit this record meanwhile."
)
_NO_DETAILS_ADVICE = (
    "impact.com reported errors for this submission but their details were not given: pass "
    "the error details (every page) beside the submission's status and reconcile again; do "
    "not resubmit this record meanwhile."
)
_COUNTS_ADVICE = (
    "The results and their counts do not agree, so they do not prove whether this record was "
    "applied: export every error of this submission once (View Errors without a filter, or "
    "every page of its ErrorDetails) with its TotalErrors, and reconcile again; do not "
    "resubmit this record meanwhile."
)
_OTHER_FILE_ADVICE = (
    "impact.com counted another number of records than the sent file holds: the results may "
    "be for another version of the file, so they do not say whether this record was applied. "
    "Check which file was submitted (Download Original File on File Submissions) and "
    "reconcile that file; do not resubmit this record meanwhile."
)
_NO_EVIDENCE_ADVICE = (
    "Nothing given says whether this record was applied: give the submission's error details "
    "(View Errors export or every page of its ErrorDetails) with a usable TotalErrors, and "
    "reconcile again; do not resubmit it meanwhile."
)


def assess(
    gathered: Gathered,
    schema: ResultSchema,
    rows: pd.DataFrame,
    sent: Table,
    *,
    require_complete: bool = False,
) -> SubmissionState:
    """What the results say about the submission, and what a record no result speaks of is.

    ``rows`` are the result rows (``normalize.result_rows``): their codes and finality.
    Evidence first: a record without a result is accepted only when counts that agree in
    every reading prove the results whole, or (the documented default) when a plain error
    list without counts is presumed whole. Anything the counts contradict or leave open
    makes it ``unknown``, with the reason in the detail."""
    results = gathered.table
    batch = gathered.batch
    shape = schema.shape
    error_shape = shape in (ResultShape.ERROR_LIST, ResultShape.FTP_ERROR_DETAILS)
    notes = list(gathered.notes)

    # Has the platform finished? A batch's own status must say Complete; a row's status in a
    # listing is that record's (Failed is a failure, not a wait: normalize reads it).
    statuses: set[str] = set()
    pending: set[str] = set()
    row_pending: set[str] = set()  # a record's own status that is not final (Pending, ...)
    label = schema.column("submission_status")
    if label is not None:
        for value in results.frame[label].unique():
            word = str(value).strip()
            if not word:
                continue
            kind = status_kind(word)
            if shape is ResultShape.SENT_WITH_STATUS:
                # The sent file's Status column is each record's own.
                if kind is StatusKind.WAITING:
                    row_pending.add(word)
                continue
            statuses.add(word)
            if kind is StatusKind.WAITING or (error_shape and kind is not StatusKind.DONE):
                pending.add(word)
    meta_status = results.meta.get("Status", "").strip()
    if status_kind(meta_status) in (StatusKind.DONE, StatusKind.WAITING):
        statuses.add(meta_status)
        if status_kind(meta_status) is StatusKind.WAITING:
            pending.add(meta_status)
    if batch is not None:
        # Only a batch that says Complete has finished (a blank Status says nothing).
        if batch.status:
            statuses.add(batch.status)
        if status_kind(batch.status) is not StatusKind.DONE:
            pending.add(batch.status or "without a Status")
    undated = (batch is not None and not batch.completion_date) or (
        "CompletionDate" in results.meta and not results.meta["CompletionDate"].strip()
    )
    n_rows = len(rows)
    final = rows["final"].to_numpy(dtype=bool) if "final" in rows.columns else np.ones(n_rows, bool)
    unread = (
        rows["unread"].to_numpy(dtype=bool) if "unread" in rows.columns else np.zeros(n_rows, bool)
    )
    waiting_rows = ~final & ~unread
    rec = schema.column("record_status")
    if waiting_rows.any() and rec is not None:
        row_pending |= {
            str(v).strip()
            for v in results.frame[rec].to_numpy(dtype=object)[waiting_rows]
            if status_kind(v) is StatusKind.WAITING
        }
    complete = not pending and not undated and not waiting_rows.any()
    if unread.any():
        notes.append(
            f"{_plural(int(unread.sum()), 'result row')} {'says' if unread.sum() == 1 else 'say'} "
            "nothing readable of its record (a blank or unfamiliar status word): its record is "
            "not called accepted"
        )

    def _count(name: str, meta_key: str) -> tuple[int | None, str]:
        """The count, and why a count that was given cannot be used ("" when none was)."""
        shown = "TotalRecords" if name == "total_records" else "TotalErrors"
        given, given_why = read_count(
            batch.counts_raw[0 if name == "total_records" else 1] if batch is not None else ""
        )
        if given_why:
            return None, f"{shown} {given_why}"
        value, why = _results_count(name, meta_key, shown)
        if given is not None and value is not None and value != given:
            return None, (
                f"{shown} is {given:,} in the submission's status but {value:,} in the results: "
                "they are not of one submission"
            )
        if given is not None:
            return given, ""
        return value, why

    def _results_count(name: str, meta_key: str, shown: str) -> tuple[int | None, str]:
        raw = results.meta.get(meta_key, "")
        col = schema.column(name)
        if not raw.strip() and col is not None and results.records:
            values = {v.strip() for v in results.frame[col].unique() if str(v).strip()}
            read = {read_count(v)[0] for v in values}
            if len(read) > 1:
                return None, (
                    f"the results' {shown} column holds several values "
                    f"({', '.join(sorted(values)[:3])}): they mix submissions"
                )
            raw = values.pop() if values else ""
        value, why = read_count(raw)
        return value, f"{shown} {why}" if why else ""

    total_records, records_why = _count("total_records", "TotalRecords")
    total_errors, errors_why = _count("total_errors", "TotalErrors")
    batches: set[str] = set()
    batch_col = schema.column("batch_id")
    if batch_col is not None:
        batches = {v.strip() for v in results.frame[batch_col].unique() if str(v).strip()}
        theirs = batches | ({batch.batch_id} if batch is not None and batch.batch_id else set())
        if error_shape and len(theirs) > 1:
            # One file's errors (an API listing has a batch per request): rows of another
            # batch would tie to this file's lines and count against its
            # TotalErrors as if they were its own.
            shown = ", ".join(sorted(theirs)[:3]) + (", ..." if len(theirs) > 3 else "")
            raise ShapeError(
                f"the results hold rows of {len(theirs)} batches ({shown}) in their "
                f"{batch_col!r} column"
                + (" and the batch status" if batch is not None and batch.batch_id else "")
                + ": give the errors of this file's batch only (filter the export by its "
                "BatchId)",
                path=results.path,
            )
    if results.meta.get("BatchId"):
        batches.add(results.meta["BatchId"].strip())
    if batch is not None and batch.batch_id:
        batches.add(batch.batch_id)
    batches |= _batch_hints([results]) - {""}

    codes = rows["codes"].to_numpy(dtype=object) if n_rows else np.array([], dtype=object)
    errors = np.asarray(codes != "", dtype=bool) if n_rows else np.zeros(0, dtype=bool)
    n_errors = int(errors.sum())
    success_rows = n_rows - n_errors
    container = results.container.casefold()
    listing = shape is ResultShape.SENT_WITH_STATUS or (
        shape is ResultShape.API_SUBMISSIONS
        and (container in _LISTING_CONTAINERS or container == "@object" or success_rows > 0)
    )
    records_differ = total_records is not None and total_records not in (0, sent.records)
    if records_differ and total_records is not None:
        notes.append(
            f"impact.com counted {total_records:,} records in the submission but the sent file "
            f"holds {sent.records:,}: the results may be for another version of the file; a "
            "result is tied by its line only where an identifier confirms it"
        )

    # Reasons the results do not prove every record's fate, each with its advice.
    partial: list[str] = []
    advice: list[str] = []

    def _partial(reason: str, what_to_do: str) -> None:
        partial.append(reason)
        advice.append(what_to_do)

    missing_pages: list[int] = []
    if gathered.numpages and gathered.pages:
        missing_pages = [p for p in range(1, gathered.numpages + 1) if p not in gathered.pages]
    if missing_pages:
        given = ", ".join(str(p) for p in gathered.pages)
        many = len(gathered.pages) > 1
        _partial(
            f"the export has {gathered.numpages} pages but only page{'s' if many else ''} "
            f"{given} {'were' if many else 'was'} given",
            _PARTIAL_PAGES_ADVICE,
        )
    elif gathered.next_pages:
        named = [p for p in gathered.next_pages if p]
        _partial(
            "a page given names a next page (@nextpageuri)"
            + (f", page {', '.join(map(str, named))}," if named else "")
            + " that was not given",
            _PARTIAL_PAGES_ADVICE,
        )
    if gathered.total is not None and n_rows < gathered.total and not missing_pages:
        _partial(
            f"the export counts {gathered.total:,} rows (@total) but holds {n_rows:,}"
            + (
                f" once the {_plural(gathered.repeated_rows, 'row')} given twice are counted once"
                if gathered.repeated_rows
                else ""
            ),
            _PARTIAL_ROWS_ADVICE,
        )
    elif gathered.total is not None and n_rows > gathered.total:
        _partial(
            f"the results hold {n_rows:,} rows but the export counts {gathered.total:,} (@total): "
            "more rows than it counts is not one export's, and proves nothing",
            _COUNTS_ADVICE,
        )
    if records_differ and total_records is not None:
        _partial(
            f"impact.com counted {total_records:,} records but the sent file holds "
            f"{sent.records:,}: the results may be for another version of the file",
            _OTHER_FILE_ADVICE,
        )
    for path in gathered.countless:
        # An export that carries its count on every row, with no row: the count is there but
        # cannot be read (a filter that matched nothing), which is not "no count".
        _partial(
            f"{path.name} carries TotalErrors on each row but holds no row: its count cannot "
            "be read",
            _COUNTS_ADVICE,
        )
    for why in (records_why, errors_why if gathered.has_results else ""):
        if why:
            _partial(why, _COUNTS_ADVICE)
    proof = ""
    if error_shape and total_errors is not None:
        n_records = _error_records(rows, errors)
        several = f" on {_plural(n_records, 'record')}" if n_records != n_errors else ""
        if n_errors < total_errors:
            if not gathered.has_results:
                _partial(
                    f"the submission has {_plural(total_errors, 'error')} (TotalErrors) but no "
                    "error details were given",
                    _NO_DETAILS_ADVICE,
                )
            else:
                _partial(
                    f"impact.com counts {_plural(total_errors, 'error')} (TotalErrors) but the "
                    f"results hold {n_errors:,}: an Error Type filter or a missing page",
                    _FILTERED_ADVICE,
                )
        elif n_records == total_errors:
            proof = f"{_plural(n_errors, 'error row')}{several}, as TotalErrors says" + (
                " (a record can have several)" if several else ""
            )
        elif n_errors > total_errors:
            _partial(
                f"the results hold {_plural(n_errors, 'error row')}{several} but TotalErrors is "
                f"{total_errors:,}: more errors than the submission counts (a file given twice, "
                "or another submission's results) prove nothing",
                _COUNTS_ADVICE,
            )
        else:
            _partial(
                f"{_plural(n_errors, 'error row')}{several} for TotalErrors {total_errors:,}: "
                "counted as errors every error is here, but counted as records with errors "
                f'(impact.com\'s "Record errors") {total_errors - n_records:,} '
                f"{'is' if total_errors - n_records == 1 else 'are'} missing; the two readings "
                "disagree, so the results are not proven complete",
                _FILTERED_ADVICE,
            )
    if not gathered.has_results and total_errors is None:
        _partial(
            "no error list was given and the submission gives no usable TotalErrors"
            + (f" ({errors_why})" if errors_why else "")
            + ": nothing says which records were applied",
            _NO_EVIDENCE_ADVICE,
        )

    reported_records = total_records
    if total_records == 0 and not complete:
        # A batch not yet finished has not counted its records: 0 is no diagnosis yet.
        reported_records = None
        notes.append(
            "impact.com reports TotalRecords 0 so far: the submission has not finished, so "
            "this is not yet a count of the records read"
        )
    unknown_advice = advice[0] if advice else ""
    if not complete:
        n_waiting = int(waiting_rows.sum())
        if pending:
            shown = " / ".join(sorted(pending))
            detail = f"the submission is {shown}, not Complete: results are not final"
        elif undated:
            detail = "the submission has no CompletionDate yet: results are not final"
        elif row_pending:
            detail = (
                f"{_plural(n_waiting, 'result row')} "
                f"{'says its record is' if n_waiting == 1 else 'say their record is'} not "
                f"processed yet ({', '.join(sorted(row_pending))}): results are not final"
            )
        else:
            detail = (
                f"{_plural(n_waiting, 'result row')} {'has' if n_waiting == 1 else 'have'} no "
                "CompletionDate yet: results are not final"
            )
        state, unlisted = Completeness.NOT_FINAL, Outcome.PENDING
    elif total_records == 0:
        causes = zero_record_causes(sent)
        detail = "impact.com counted 0 records: nothing in the file was read or applied" + (
            " (" + "; ".join(causes) + ")" if causes else ""
        )
        state, unlisted = Completeness.ZERO_RECORDS, Outcome.REJECTED
        unknown_advice = zero_record_advice(sent)
    elif partial:
        detail = "; ".join(partial)
        state, unlisted = Completeness.PARTIAL, Outcome.UNKNOWN
    elif listing:
        detail = (
            f"the results list every record ({_plural(n_rows, 'row')}); a record absent from "
            "them is missing"
        )
        state, unlisted = Completeness.COMPLETE, Outcome.MISSING
    elif proof:
        detail = proof
        state, unlisted = Completeness.COMPLETE, Outcome.ACCEPTED
    elif gathered.total is not None and n_rows == gathered.total:
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
            unknown_advice = (
                "Nothing proves the results complete, and --require-complete asks for proof: "
                "give the submission's FtpSubmission (its TotalErrors) or every page of the "
                "error details, and reconcile again."
            )
    return SubmissionState(
        status=", ".join(sorted(pending) or sorted(row_pending))
        or ("no CompletionDate yet" if not complete else ", ".join(sorted(statuses))),
        complete=complete,
        total_records=reported_records,
        total_errors=total_errors,
        lists_every_record=listing,
        batch_ids=tuple(sorted(batches)),
        completeness=state,
        completeness_detail=detail,
        unlisted=unlisted,
        unknown_advice=unknown_advice,
        file_name=batch.file_name if batch is not None else "",
        notes=tuple(notes),
        records_differ=records_differ,
    )


def settle(submission: SubmissionState, ties: pd.DataFrame) -> SubmissionState:
    """The completeness state once the results are tied (``match``'s result rows).

    Counts prove the results whole only for the errors that tied: an error counted in
    TotalErrors (or @total) but tied to no record belongs to some record nobody can name, so
    no record without a listed error is accepted on those counts. (An error whose key fits
    several records is accounted for: one of them has it.) Results only *presumed* complete
    lose the presumption the same way when an error names neither a line nor an identifier:
    it is some record's of the file, and nobody can say whose."""
    presumed = submission.completeness is Completeness.PRESUMED
    if submission.completeness is not Completeness.COMPLETE and not presumed:
        return submission
    if submission.unlisted is not Outcome.ACCEPTED or not len(ties):
        return submission
    untied = (ties["s_idx"].to_numpy(dtype=np.int64) < 0) & (
        ties["codes"].to_numpy(dtype=object) != ""
    )
    if "reason" in ties.columns:
        reason = ties["reason"].to_numpy(dtype=object)
        untied &= reason != "ambiguous_key"
        if presumed:
            # Not a line past the file or another file's ID: an error naming nothing.
            untied &= reason == "no_identifiers"
    elif presumed:
        return submission
    n = int(untied.sum())
    if not n:
        return submission
    return replace(
        submission,
        completeness=Completeness.PARTIAL,
        completeness_detail=(
            f"{submission.completeness_detail}, but {_plural(n, 'error')} "
            + (
                f"{'names' if n == 1 else 'name'} neither a line nor an identifier "
                "(unmatched_results.csv): some record has it, so none without a listed error "
                "is presumed accepted"
                if presumed
                else f"{'is' if n == 1 else 'are'} tied to no record (unmatched_results.csv): "
                "the counts prove nothing for the records without a listed error"
            )
        ),
        unlisted=Outcome.UNKNOWN,
        unknown_advice=(
            "An error the submission counts is tied to no record, and may be this one's: check "
            "the unmatched results (unmatched_results.csv) against the sent file before "
            "resubmitting anything, then reconcile again."
        ),
    )
