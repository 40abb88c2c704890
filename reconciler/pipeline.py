"""The two chains: ``reconcile`` (read → detect → gather → normalize → match → classify →
remediate → summarise → write) and ``check`` (read → preflight → fix → write).

Owns the order of stages, what runs beside what, and reading the option files. Each stage is a
function elsewhere: ``readers``, ``detect``, ``gather``, ``normalize``, ``match``, ``classify``,
``remediate``, ``summary``, ``preflight``, ``writers``, ``reports``. The command line parses
options, calls one chain and prints what it returns.

Concurrency stays here and in the stages that need it; nothing returned holds a thread. While
the records are tied, the sent rows are encoded for reconciled.csv on the second core; while
the output files are written (two threads), the summary figures are worked out, and only the
report, the workbook and summary.json wait for them.

About 700 lines: both chains with their writing stage, which is where the order of files, the
staging folder and the overlap of threads are decided; each piece is a short function.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .catalogue import Catalogue, load_catalogue
from .classify import Completeness, SubmissionState, classify_records
from .clock import clock
from .confirm import apply_confirmation, confirmation_columns
from .detect import ResultSchema, SentSchema, detect_results, detect_template, looks_like_results
from .errors import InputError, ShapeError, UsageError
from .gather import Gathered, assess, gather, settle
from .match import Ties, candidate_records, foreign_evidence, match_results
from .model import (
    FixFiles,
    HistoryFigures,
    Outcome,
    ReconcileOptions,
    Reconciliation,
    RemediateOptions,
    Summary,
    Table,
    TrendPoint,
)
from .normalize import ID_FIELDS, PAYLOAD_FIELDS, result_rows, sent_keys
from .outputs import (
    ATTENTION_COLUMNS,
    CHANGES,
    CHECK_CSV,
    CHECK_JSON,
    MAX_ATTENTION_ROWS,
    NEEDS_ATTENTION,
    NEEDS_ATTENTION_CSV,
    NEEDS_ATTENTION_XLSX,
    RECONCILED,
    RECORD_COLUMNS,
    SUMMARY,
    UNMATCHED,
    UNMATCHED_COLUMNS,
    attention_names,
    check_names,
    fixed_name,
    resubmit_names,
)
from .readers import read_table
from .readers.document import file_sha256
from .remediate import Prior, Remediation, remediate
from .summary import summarise
from .threads import background
from .writers import (
    Sheet,
    check_out_dir,
    encode_rows,
    prove_ahead,
    run_jobs,
    staged_output,
    write_csv,
    write_json,
    write_raw,
    write_xlsx,
)

if TYPE_CHECKING:
    from .confirm import Confirmed
    from .ledger.entries import EncodedRecords
    from .ledger.past import Attempts, Linked, Past
    from .ledger.store import Ledger
    from .preflight import CheckResult, FixResult

__all__ = [
    "CheckRun",
    "CheckRunOptions",
    "ReconcileOptions",
    "Reconciliation",
    "attention_frame",
    "check",
    "fix_options",
    "reconcile",
    "reconcile_tables",
    "write_check_outputs",
    "write_outputs",
]

Progress = Callable[[str], None]
Hashed = tuple[np.ndarray, np.ndarray]  # positions of sent records, the hashes of their rows


# --------------------------------------------------------------------------- reconcile


def reconcile(
    sent_path: Path,
    results_paths: Path | Sequence[Path],
    options: ReconcileOptions | None = None,
    *,
    out: Path | None = None,
    catalogue: Catalogue | None = None,
    progress: Progress | None = None,
    keep: Sequence[tuple[Path, str]] = (),
    _ledger: Future[Ledger] | None = None,
) -> Reconciliation:
    """Read the sent file and its results (one file, or several: the pages of one export
    and the batch's status), tie every result to its record and classify every record; with
    ``out``, write every output there (whole or not at all) and name them in ``outputs``.

    ``keep``: results files (path, name) to copy into ``out`` under that name, byte for byte
    (an API snapshot); the run then names them where they are kept.

    The output folder and the option files (``options.fix_files``) are checked before any
    input is read, so a wrong ``--out`` costs nothing."""
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
    given = options.fix_files
    if out is not None:
        check_out_dir(out, [sent_path, *paths, *(given.paths if given else ()), *options.updates])
        prove_ahead(out)  # the previous outputs' digests, on a thread while the run computes
    if given is not None:
        options = replace(options, fixes=fix_options(given), fix_files=None)
    if out is not None and options.ledger is not None:
        # Opened (its schema checked) on a thread of its own while the inputs are read, its
        # code imported beforehand on the main thread (``ledger.prepare``: no thread imports);
        # joined before any output is written, so a ledger that cannot be used stops the run
        # before it changes anything.
        opening = background("ledger", _open_ledger, options.ledger)
        try:
            return reconcile(
                sent_path,
                paths,
                replace(options, ledger=None),
                out=out,
                catalogue=catalogue,
                progress=progress,
                keep=keep,
                _ledger=opening,
            )
        finally:
            with contextlib.suppress(Exception):
                opening.result().close()
    any_xlsx = any(_is_xlsx(p) for p in paths)
    step(f"reading {sent_path.name}")
    sent = _read(sent_path, options.sheet, any_xlsx, options.encoding)
    # The sent file's SHA-256 (the ledger's) once the reader has found it a regular file:
    # taken by the start-up read when it read this very file, else read again on a thread.
    sha = background("sha256", _sent_digest, sent_path) if _ledger is not None else None
    looking = None
    if _ledger is not None and sha is not None:
        # The ledger's other batches, read while the inputs are: they give each record its
        # attempt, the cap its earlier modifications, the resubmission what went out before.
        looking = _Looking(_ledger, background("past", _load_past, _ledger, sha), sha)
    _refuse_results_as_sent(sent)
    tables = []
    kept = dict(keep)
    for path in paths:
        step(f"reading {path.name}")
        table = _read(path, options.sheet, _is_xlsx(sent_path), options.encoding)
        if out is not None and path in kept:
            table = replace(table, path=out / kept[path])
        tables.append(table)
    if out is None:
        return _stages(sent, tables, options, catalogue, step, looking=looking).finish()
    ledger = (_ledger, sha) if _ledger is not None and sha is not None else None
    # No name here holds the stages: what only the summary needs (each result's tie, the
    # records' keys) is let go once it is worked out, while the files are still being written.
    return _write(
        _stages(sent, tables, options, catalogue, step, encode=True, looking=looking),
        out,
        options,
        step,
        keep=keep,
        ledger=ledger,
    )


def reconcile_tables(
    sent: Table,
    results: Table | Sequence[Table],
    options: ReconcileOptions | None = None,
    catalogue: Catalogue | None = None,
    progress: Progress | None = None,
) -> Reconciliation:
    """The stages after reading: detect, gather, normalize, match, classify, remediate,
    summarise. Writes nothing."""
    options = options or ReconcileOptions()
    stages = _stages(
        sent, results, options, catalogue or load_catalogue(), progress or (lambda _m: None)
    )
    return stages.finish()


def write_outputs(
    rec: Reconciliation,
    out: Path,
    *,
    force: bool = False,
    report: bool = False,
    workbook: bool = False,
) -> list[str]:
    """Write the outputs of ``rec`` into ``out`` (whole or not at all): the CSVs and
    summary.json, with ``report`` report.html, with ``workbook`` reconciled.xlsx. Returns the
    file names written."""
    check_out_dir(out, [rec.sent.path, *rec.gathered.files])
    done: Future[Reconciliation] = Future()
    done.set_result(rec)
    parts = _Parts(
        sent=rec.sent,
        records=rec.records,
        unmatched=rec.unmatched,
        remediation=rec.remediation,
        resubmit_files=rec.summary.resubmit_files,
        attention_files=rec.summary.needs_attention_files,
        max_rows=rec.summary.max_rows,
        now=_generated(rec.summary),
        sent_rows=None,
        money=rec.sent_schema.money_columns(list(rec.sent.frame.columns)),
    )
    return _write_files(parts, done, out, force=force, report=report, workbook=workbook)


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


@dataclass(frozen=True, slots=True, eq=False)
class _Stages:
    """Every stage's result but the summary's, and what the summary is worked out from."""

    sent: Table
    gathered: Gathered
    sent_schema: SentSchema
    result_schema: ResultSchema
    ties: Ties
    submission: SubmissionState
    records: pd.DataFrame
    unmatched: pd.DataFrame
    remediation: Remediation
    options: ReconcileOptions
    foreign: str
    now: datetime
    sent_rows: Future[list[Any]] | None  # reconciled.csv's encoded sent rows, when wanted
    looked: _Looked | None = None  # what the ledger's other batches said
    content: Future[Hashed] | None = None  # hashes of sent rows the ledger keeps
    confirmed: Confirmed | None = None  # what the platform's updates confirmed

    def finish(self) -> Reconciliation:
        """Summarise: the figures of the run, and the run itself."""
        summary = summarise(
            self.sent,
            self.gathered,
            self.sent_schema,
            self.result_schema,
            self.ties,
            self.submission,
            self.records,
            self.unmatched,
            self.remediation,
            self.options,
            self.foreign,
            now=self.now,
            history=self.looked.history if self.looked is not None else None,
            confirmed=self.confirmed,
            updates_complete=self.options.updates_complete,
        )
        return Reconciliation(
            sent=self.sent,
            results=self.gathered.table,
            gathered=self.gathered,
            sent_schema=self.sent_schema,
            result_schema=self.result_schema,
            line_base=self.ties.line_base,
            submission=self.submission,
            records=self.records,
            unmatched=self.unmatched,
            remediation=self.remediation,
            summary=summary,
        )


def _stages(
    sent: Table,
    results: Table | Sequence[Table],
    options: ReconcileOptions,
    catalogue: Catalogue,
    step: Progress,
    *,
    encode: bool = False,
    looking: _Looking | None = None,
) -> _Stages:
    step("recognising the files")
    now = options.now or clock()
    fixes = options.fixes
    if options.fix_files is not None:
        fixes = fix_options(options.fix_files)
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
    step("reading result codes and keying sent records")
    # Key only the identifiers the results have a column for: the others can never tie or
    # contradict. Both sides are independent Arrow-heavy work, so they run side by side.
    payload = result_schema.column("payload") is not None
    carried = [f for f in ID_FIELDS if result_schema.column(f) or (payload and f in PAYLOAD_FIELDS)]
    keyed = background(
        "keys", sent_keys, sent, sent_schema, carried, with_skus=bool(result_schema.column("sku"))
    )
    # The platform's updates say what changed whatever the results say: they are read and
    # the records confirmed against them on a thread of their own, while results are tied
    # (with the sent records' keys, once worked out, for the identifiers keyed already).
    confirming = None
    if options.updates:
        confirming = background(
            "confirm", _confirm, sent, sent_schema, options.updates, gathered, options, keyed,
            carried,
        )  # fmt: skip
    # reconciled.csv repeats the sent rows as they are: encode them on the second core now,
    # while the records are tied and classified (Arrow's kernels run outside the GIL).
    sent_rows = background("encode", encode_rows, sent.frame, safe=True) if encode else None
    rows = result_rows(combined, result_schema, catalogue)
    keys, skus, rewritten = keyed.result()
    known = {f: keys[f] for f in carried}
    linking = (
        background("link", _link, looking, sent, sent_schema, known)
        if looking is not None
        else None
    )
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
    # Counts prove the results whole only for the errors that tied to a record.
    submission = settle(submission, ties.results)
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
    confirmed = None
    if confirming is not None:
        step("confirming against the platform's updates")
        confirmed = confirming.result()
        verdict = apply_confirmation(verdict, confirmed)
    step("correcting what can be fixed")
    if fixes.today is None:
        fixes = replace(fixes, today=now.date())
    # Results are trusted only once the submission is complete (impact-reference §7.3):
    # nothing is corrected or resubmitted before then.
    no_fixes = not submission.complete
    looked = None
    content = None
    if looking is not None and linking is not None:
        step("looking up earlier batches in the ledger")
        looked = _look_back(looking, linking, submission, options)
        if sent_rows is not None:
            # Rows that may answer a correction written before are hashed (from the rows
            # encoded for reconciled.csv) while the corrections are worked out.
            content = background("rowhash", _content_hashes, sent_rows, looked.answering)
    remediation = remediate(
        sent,
        sent_schema,
        verdict,
        catalogue,
        fixes,
        known,
        skip=no_fixes,
        prior=looked.prior if looked is not None else None,
    )
    records = remediation.records.assign(
        SourceLine=np.asarray(sent.lines, dtype=np.int64),
        **_attempt_columns(looked.attempts if looked is not None else None, len(sent.frame)),
        **confirmation_columns(confirmed, len(sent.frame)),
    )
    unmatched = _unmatched_frame(ties, sent, gathered)
    step("summarising")
    return _Stages(
        sent=sent,
        gathered=gathered,
        sent_schema=sent_schema,
        result_schema=result_schema,
        ties=ties,
        submission=submission,
        records=records,
        unmatched=unmatched,
        remediation=remediation,
        options=options,
        foreign=foreign,
        now=now,
        sent_rows=sent_rows,
        looked=looked,
        content=content,
        confirmed=confirmed,
    )


def _confirm(
    sent: Table,
    schema: SentSchema,
    paths: Sequence[Path],
    gathered: Gathered,
    options: ReconcileOptions,
    keyed: Future[tuple[pd.DataFrame, pd.DataFrame, dict[str, np.ndarray]]] | None = None,
    carried: Sequence[str] = (),
) -> Confirmed:
    """Read the platform's updates and confirm the records against them, from when the
    batch was submitted (``--submitted``, else the results' SubmissionDate). ``keyed``: the
    sent records' keys (``sent_keys``), of which the ``carried`` identifiers are worked out."""
    from .confirm import confirm
    from .updates import read_updates

    tables = [_read(path, None, False, options.encoding) for path in paths]
    updates = read_updates(tables)
    del tables  # the files as read: what the updates keep of them is in their frame
    given = options.submitted
    source = "--submitted"
    if given is None and gathered.batch is not None and gathered.batch.submission_date:
        given, source = gathered.batch.submission_date, "the batch's SubmissionDate"
    submitted = None
    if given:
        try:
            submitted = pd.Timestamp(given)
        except (ValueError, TypeError):
            raise UsageError(
                f"{source} {given!r} is not a date; give it as 2026-11-05 or "
                "2026-11-05T14:30:00-05:00"
            ) from None
        submitted = (
            submitted.tz_localize("UTC")
            if submitted.tzinfo is None
            else submitted.tz_convert("UTC")
        )
    known = {}
    if keyed is not None:
        keys = keyed.result()[0]
        known = {f: keys[f] for f in carried}
    return confirm(
        sent,
        schema,
        updates,
        submitted=submitted,
        complete=options.updates_complete,
        known=known,
    )


@dataclass(frozen=True, slots=True, eq=False)
class _Looking:
    """The ledger of a run, while it opens: the ledger, its other batches, the sent file's
    SHA-256."""

    ledger: Future[Ledger]
    past: Future[Past]
    sha: Future[str]


@dataclass(frozen=True, slots=True, eq=False)
class _Looked:
    """What the ledger's other batches said about this run's records."""

    parts: Any  # ledger.entries.KeyParts: each record's identifiers
    attempts: Attempts
    prior: Prior
    history: HistoryFigures
    answering: np.ndarray  # records that may answer a correction written before


def _content_hashes(sent_rows: Future[list[Any]], positions: np.ndarray) -> Hashed:
    """The hashes of the sent rows at ``positions``, from their encoded text."""
    import pyarrow as pa

    from .rowhash import encoded_row_hashes

    if not len(positions):
        return positions, np.zeros(0, dtype=np.int64)
    rows = pa.chunked_array(sent_rows.result()).take(pa.array(positions))
    return positions, encoded_row_hashes(rows.chunks)


def _link(
    looking: _Looking, sent: Table, schema: SentSchema, known: Mapping[str, pd.Series]
) -> Linked:
    """The records' identifiers, tied to the ledger's records of the same keys (on a thread
    of its own, while the results are tied and classified)."""
    from .ledger.entries import key_parts

    return looking.past.result().link(key_parts(sent, schema, known))


def _look_back(
    looking: _Looking,
    linking: Future[Linked],
    submission: SubmissionState,
    options: ReconcileOptions,
) -> _Looked:
    """Each record's attempts, the earlier modifications of its action, and the check of
    corrected rows against what went out before (not with --again)."""
    from .ledger.location import shown

    linked = linking.result()
    ids = submission.batch_ids
    linked = linked.without(ids[0] if len(ids) == 1 else None, looking.sha.result())
    past = linked.past
    attempts = linked.attempts()
    can_tell = linked.past.records.num_rows > 0  # else no row went out before
    prior = Prior(
        modifications=linked.modifications(),
        already_sent=linked.already_sent if can_tell and not options.again else None,
    )
    trend = tuple(
        TrendPoint(
            batch=b.label,
            reconciled_at=b.reconciled_at,
            records=b.records,
            accepted=b.accepted,
            rejected=b.rejected,
        )
        for b in past.earlier[-(TREND_BATCHES - 1) :]
    )
    history = HistoryFigures(
        ledger=shown(looking.ledger.result().where),
        batches_before=len(past.batches),
        recorded_before=past.own is not None,
        records_seen_before=attempts.seen_before,
        again=options.again,
        trend=trend,
    )
    return _Looked(linked.parts, attempts, prior, history, linked.answering())


TREND_BATCHES = 12  # the report's trend chart: this batch and the 11 before it


def _attempt_columns(attempts: Attempts | None, n: int) -> dict[str, Any]:
    """reconciled.csv's Attempt, PreviousBatch and PreviousOutcome (blank without a ledger)."""
    if attempts is None:
        blank = pd.Categorical.from_codes(np.zeros(n, dtype=np.int8), categories=pd.Index([""]))
        return {"Attempt": blank, "PreviousBatch": blank, "PreviousOutcome": blank}
    top = int(attempts.attempt.max()) if n else 1
    numbers = pd.Categorical.from_codes(
        attempts.attempt.astype(np.int32) - 1,
        categories=pd.Index([str(i) for i in range(1, top + 1)]),
    )
    return {
        "Attempt": numbers,
        "PreviousBatch": attempts.previous,
        "PreviousOutcome": attempts.previous_outcome,
    }


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
    import pyarrow as pa
    import pyarrow.compute as pc

    lines = np.asarray(sent.lines, dtype=np.int64)
    # Each candidate record as its line, the lines of a row joined by spaces.
    offsets, records = candidate_records(bad["candidates"].tolist())
    listed = pa.LargeListArray.from_arrays(
        pa.array(offsets), pc.cast(pa.array(lines[records]), pa.large_string())
    )
    joined = pc.binary_join(listed, pa.scalar(" ", pa.large_string()))
    candidate_lines = np.asarray(joined.to_numpy(zero_copy_only=False), dtype=object)
    # A list cut short says how many more records the result may speak of.
    more = bad["candidate_count"].to_numpy() - np.diff(offsets)
    cut = np.flatnonzero(more > 0)
    candidate_lines[cut] = [
        f"{text} (+{n:,} more)"
        for text, n in zip(candidate_lines[cut], more[cut].tolist(), strict=True)
    ]
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
            "CandidateLines": candidate_lines,
        },
        columns=list(UNMATCHED_COLUMNS),
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


# --------------------------------------------------------------------------- writing


@dataclass(frozen=True, slots=True, eq=False)
class _Parts:
    """What the output files are made of, all known before the summary is."""

    sent: Table
    records: pd.DataFrame
    unmatched: pd.DataFrame
    remediation: Remediation
    resubmit_files: tuple[str, ...]
    attention_files: tuple[str, ...]
    max_rows: int | None
    now: datetime
    sent_rows: Future[list[Any]] | None
    money: Mapping[int, int | None]  # money columns of the sent frame, with their currency's


def _write(
    stages: _Stages,
    out: Path,
    options: ReconcileOptions,
    step: Progress,
    keep: Sequence[tuple[Path, str]] = (),
    ledger: tuple[Future[Ledger], Future[str]] | None = None,
) -> Reconciliation:
    """Write every output of a run into ``out`` while its summary (and, with a ledger, the
    records' entry) is worked out; then record the run in the ledger."""
    step("writing outputs")
    if ledger is not None:
        ledger[0].result()  # a ledger that cannot be used: one line, nothing written
    finished = background("summary", stages.finish)
    names = resubmit_names(stages.remediation.resubmit_records, options.max_rows)
    encoded = None
    if ledger is not None and stages.looked is not None:
        from .ledger.entries import encode_run_records

        encoded = background(
            "ledger",
            encode_run_records,
            stages.sent,
            stages.records,
            names,
            options.max_rows,
            stages.looked.parts,
            stages.remediation.correction_hashes,
            stages.content,
            stages.remediation.corrected,
        )
    n_attention = int(stages.records["Resolution"].isin(NEEDS_ATTENTION).sum())
    parts = _Parts(
        sent=stages.sent,
        records=stages.records,
        unmatched=stages.unmatched,
        remediation=stages.remediation,
        resubmit_files=names,
        attention_files=attention_names(n_attention, workbook=options.workbooks),
        max_rows=options.max_rows,
        now=stages.now,
        sent_rows=stages.sent_rows,
        money=stages.sent_schema.money_columns(list(stages.sent.frame.columns)),
    )
    # The summary's thread holds the stages until it is done; then what only it needed goes.
    del stages
    written = _write_files(
        parts,
        finished,
        out,
        force=options.force,
        report=options.report,
        workbook=options.workbooks,
        keep=keep,
    )
    rec = finished.result()
    rec = replace(rec, summary=replace(rec.summary, outputs=tuple(written)), outputs=tuple(written))
    if ledger is not None and encoded is not None:
        _record(ledger[0].result(), rec, out, ledger[1].result(), encoded.result())
    return rec


def _write_files(
    parts: _Parts,
    finished: Future[Reconciliation],
    out: Path,
    *,
    force: bool,
    report: bool,
    workbook: bool,
    keep: Sequence[tuple[Path, str]] = (),
) -> list[str]:
    """The files are independent, so two threads write them: most of the work is in Arrow's
    string kernels and zlib, which run outside the GIL. Jobs start heaviest first so the two
    threads finish together: the workbook, reconciled.csv, needs-attention, the report (which
    waits for the summary), then the small files; summary.json last, naming them all."""
    if report or workbook:
        from reports import render_outputs

        def render_job(html: bool, xlsx: bool) -> Callable[[], list[str]]:
            return lambda: render_outputs(finished.result(), stage, html=html, xlsx=xlsx)

    with staged_output(out, force=force) as stage:
        jobs: list[Callable[[], list[str]]] = [
            *([render_job(False, True)] if workbook else []),
            lambda: _write_reconciled(parts, stage),
            lambda: _write_attention(parts, stage),
            *([render_job(True, False)] if report else []),
            lambda: _write_unmatched(parts, stage),
            lambda: _write_resubmission(parts, stage),
            *([functools.partial(_copy_kept, keep, stage)] if keep else []),
        ]
        written = sorted([*(name for names in run_jobs(jobs) for name in names), SUMMARY])
        summary = replace(finished.result().summary, outputs=tuple(written))
        write_json(summary.to_json(), stage / SUMMARY)
    return written


def _sent_digest(path: Path) -> str:
    """The sent file's SHA-256: the start-up read's when it read this very file, else read
    again now."""
    from .readers import prefetch

    return prefetch.digest(path) or file_sha256(path)


def _load_past(opening: Future[Ledger], sha: Future[str]) -> Past:
    from .ledger.past import load_past

    return load_past(opening.result(), sha.result())


def _open_ledger(url: str) -> Ledger:
    """Open the ledger (its code and driver were imported on the main thread)."""
    from .ledger.store import open_ledger

    return open_ledger(url)


def _record(
    ledger: Ledger, rec: Reconciliation, out: Path, sha256: str, encoded: EncodedRecords
) -> None:
    """Record a written run in the ledger (the outputs stay whatever happens here)."""
    from .ledger.entries import run_record

    hashes = {name: file_sha256(out / name) for name in rec.summary.resubmit_files}
    entry = run_record(rec, encoded, sha256=sha256, out_dir=out, resubmission_hashes=hashes)
    ledger.record(entry)


def _copy_kept(keep: Sequence[tuple[Path, str]], stage: Path) -> list[str]:
    """Results files kept in the output folder as they were read (an API snapshot)."""
    from .readers.document import read_document_bytes

    for path, name in keep:
        write_raw(stage / name, read_document_bytes(path))
    return [name for _path, name in keep]


def _generated(summary: Summary) -> datetime:
    return datetime.fromisoformat(summary.generated_at.replace("Z", "+00:00"))


def _write_reconciled(parts: _Parts, stage: Path) -> list[str]:
    # The sent columns come pre-encoded; the verdict columns follow them on each line.
    lead = parts.sent_rows.result() if parts.sent_rows is not None else None
    write_csv(
        parts.records[list(RECORD_COLUMNS)],
        stage / RECONCILED,
        header=[*parts.sent.header, *RECORD_COLUMNS],
        safe=True,
        lead=lead if lead is not None else encode_rows(parts.sent.frame, safe=True),
    )
    return [RECONCILED]


def _write_unmatched(parts: _Parts, stage: Path) -> list[str]:
    write_csv(parts.unmatched, stage / UNMATCHED, safe=True)
    return [UNMATCHED]


def _write_resubmission(parts: _Parts, stage: Path) -> list[str]:
    names = parts.resubmit_files
    if not names:
        return []
    corrected = parts.remediation.corrected
    header = list(parts.sent.header)
    size = parts.max_rows or len(corrected)
    for i, name in enumerate(names):
        part = corrected.iloc[i * size : (i + 1) * size]
        write_csv(part, stage / name, header=header)  # exact values: impact.com needs the data
    if len(parts.remediation.changes):
        write_csv(parts.remediation.changes, stage / CHANGES, safe=True, bom=True)
        return [*names, CHANGES]
    return list(names)


def _write_attention(parts: _Parts, stage: Path) -> list[str]:
    if not parts.attention_files:
        return []
    attention = attention_frame(parts.sent, parts.records)
    header = [*parts.sent.header, *ATTENTION_COLUMNS]
    write_csv(attention, stage / NEEDS_ATTENTION_CSV, header=header, safe=True, bom=True)
    if NEEDS_ATTENTION_XLSX not in parts.attention_files:
        return [NEEDS_ATTENTION_CSV]  # --no-xlsx
    total = len(attention)
    note = ""
    if total > MAX_ATTENTION_ROWS:  # the work list a person can open; the CSV has every row
        attention = attention.iloc[:MAX_ATTENTION_ROWS]
        note = (
            f"Showing the first {MAX_ATTENTION_ROWS:,} of {total:,} records needing a person, "
            f"by line (this workbook keeps at most {MAX_ATTENTION_ROWS:,}). "
            f"{NEEDS_ATTENTION_CSV} holds every one."
        )
    highlight = _highlight_mask(parts.sent, attention, header)
    # Long: wrapped, not one endless line (its place, should the sent file have an "Advice").
    advice = frozenset({len(parts.sent.header) + ATTENTION_COLUMNS.index("Advice")})
    sheet = Sheet(
        "Needs attention",
        header,
        attention,
        highlight=highlight,
        note=note,
        wrap=advice,
        money=parts.money,
    )
    write_xlsx([sheet], stage / NEEDS_ATTENTION_XLSX, now=parts.now)
    return [NEEDS_ATTENTION_CSV, NEEDS_ATTENTION_XLSX]


def attention_frame(sent_table: Table, records: pd.DataFrame) -> pd.DataFrame:
    """Records a person must handle: original columns + SourceLine, codes, resolution, advice."""
    mask = records["Resolution"].isin(NEEDS_ATTENTION).to_numpy()
    sent = sent_table.frame.iloc[np.flatnonzero(mask)].reset_index(drop=True)
    extra = records.iloc[np.flatnonzero(mask)].reset_index(drop=True)
    extra = extra.rename(columns={"FixColumns": "CellsToFix"})
    frame = pd.concat([sent, extra[list(ATTENTION_COLUMNS)]], axis=1, ignore_index=True)
    frame.columns = pd.Index(range(frame.shape[1]))
    return frame


def _highlight_mask(sent: Table, attention: pd.DataFrame, header: list[str]) -> np.ndarray:
    """Boolean (rows x columns) of the cells a person should fix: named in CellsToFix."""
    labels = list(sent.frame.columns)
    pos = {lab: i for i, lab in enumerate(labels)}
    # Worked out once per distinct CellsToFix text (a few dozen), then taken row by row.
    codes, texts = pd.factorize(attention.iloc[:, len(header) - 1], use_na_sentinel=False)
    rows = np.zeros((len(texts) + 1, attention.shape[1]), dtype=bool)
    for k, text in enumerate(texts):
        for lab in named_labels(str(text), pos):
            rows[k, pos[lab]] = True
    return rows[np.asarray(codes, dtype=np.intp)]


def named_labels(text: str, labels: Collection[str]) -> set[str]:
    """The column labels a CellsToFix text names. It joins them with ``;``, and a label may
    hold a ``;`` itself (a header is anything), so the text is read as the ways it splits into
    whole labels of the file; one that splits no such way is read at each ``;``."""
    n = len(text)
    # whole[i]: text[i:] splits into labels; steps[i]: the labels that start there and end
    # where the text or another label does.
    whole = [False] * (n + 1)
    whole[n] = True
    steps: dict[int, list[tuple[str, int]]] = {}
    for i in range(n - 1, -1, -1):
        if i and text[i - 1] != ";":
            continue
        for lab in labels:
            end = i + len(lab)
            if not lab or not text.startswith(lab, i):
                continue
            if end == n or (text[end] == ";" and end + 1 < n and whole[end + 1]):
                whole[i] = True
                steps.setdefault(i, []).append((lab, end + 1))
    if not n or not whole[0]:
        return {lab for lab in text.split(";") if lab in labels}
    found: set[str] = set()
    todo, seen = [0], {0}
    while todo:
        i = todo.pop()
        for lab, nxt in steps.get(i, []):
            found.add(lab)
            if nxt < n and nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return found


# --------------------------------------------------------------------------- option files


def fix_options(given: FixFiles) -> RemediateOptions:
    """The fix-rule options shared by reconcile and check, their files read and validated."""
    from .actions import index_actions
    from .fixes import timezone as parse_timezone
    from .fixes.cells import ascii_code_problem
    from .readers import read_reason_map

    reason, tracker = given.reason, given.action_tracker_id
    if reason is not None and not reason.strip():
        raise UsageError("--reason needs a code, e.g. --reason ITEM_RETURNED")
    if reason is not None and (problem := ascii_code_problem(reason.strip())):
        raise UsageError(f"--reason {reason!r} {problem}")
    return RemediateOptions(
        reason_map=read_reason_map(given.reason_map) if given.reason_map else {},
        reason=reason.strip() if reason else None,
        timezone=parse_timezone(given.timezone),
        action_tracker_id=tracker.strip() if tracker else None,
        actions=index_actions(read_table(given.actions)) if given.actions else None,
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
    force: bool = False  # replace an --out folder not made by reconciler


@dataclass(frozen=True, slots=True, eq=False)
class CheckRun:
    """A finished check: its findings, and with ``--fix`` the fixed records."""

    path: Path
    result: CheckResult
    fixed: FixResult | None

    @property
    def fixed_name(self) -> str:
        return fixed_name(self.path)

    @property
    def outputs(self) -> list[str]:
        return list(check_names(self.path, fix=self.fixed is not None))


def check(
    path: Path, options: CheckRunOptions | None = None, *, out: Path | None = None
) -> CheckRun:
    """Read ``path`` and check it before it is sent: what impact.com would refuse, and why;
    with ``fix``, every record with the safe fixes applied. With ``out``, write the outputs
    there (whole or not at all); the folder is checked before anything is read."""
    from .preflight import CheckOptions, fix_table
    from .preflight import check as run_checks

    options = options or CheckRunOptions()
    given = FixFiles(
        reason_map=options.reason_map, timezone=options.timezone, actions=options.actions
    )
    if out is not None:
        check_out_dir(out, [path, *given.paths])
    day = options.today or clock().date()
    fixes = replace(fix_options(given), today=day)
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
    run = CheckRun(path, result, fix_table(result, fixes) if options.fix else None)
    if out is not None:
        write_check_outputs(run, out, force=options.force)
    return run


def write_check_outputs(run: CheckRun, out: Path, *, force: bool = False) -> list[str]:
    """check.csv and check.json (and with ``--fix`` the fixed file and changes.csv), written
    into ``out`` whole or not at all."""
    written = run.outputs
    with staged_output(out, force=force) as stage:
        jobs: list[Callable[[], None]] = [
            lambda: write_json({**run.result.to_json(), "outputs": written}, stage / CHECK_JSON),
            lambda: write_csv(run.result.findings, stage / CHECK_CSV, safe=True, bom=True),
        ]
        fixed = run.fixed
        if fixed is not None:
            # Meant for impact.com: exact values, UTF-8 without BOM, commas, every record.
            jobs.append(lambda: write_csv(fixed.frame, stage / run.fixed_name, header=fixed.header))
            jobs.append(lambda: write_csv(fixed.changes, stage / CHANGES, safe=True, bom=True))
        run_jobs(jobs)
    return written
