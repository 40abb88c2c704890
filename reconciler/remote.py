"""The chains that talk to the Brand API: ``fetch`` (a batch's snapshot), ``reconcile_batch``
(fetch, keep the snapshot, reconcile), ``submissions`` (the account's file submissions) and
``audit`` (every completed submission of a window, reconciled, with one index).

Each builds on ``pipeline.reconcile`` and the API client (``reconciler.api``); files are
written through ``reconciler.writers`` only, each output folder whole or not at all, so an
interrupted fetch leaves no half snapshot.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from .api import (
    ApiError,
    Client,
    Settings,
    Snapshot,
    check_batch_id,
    fetch_batch,
    fetch_updates,
    list_submissions,
    load_credentials,
)
from .errors import ReconcilerError
from .model import ReconcileOptions, Reconciliation, Summary
from .writers import check_out_dir, staged_output, write_raw

Progress = Callable[[str], None]


def connect(on_request: Callable[[str], None] | None = None) -> Client:
    """A client with the credentials and settings of the environment (or the credentials
    file); one-line errors when they are missing or wrong."""
    settings = Settings.from_env()
    poll_seconds()  # a bad RECONCILER_API_POLL is said before anything is asked
    creds = load_credentials()
    return Client(creds.sid, creds.token, settings, on_request=on_request)


def poll_seconds() -> float:
    """Seconds between two looks at a batch that is not complete (``RECONCILER_API_POLL``)."""
    import os

    raw = os.environ.get("RECONCILER_API_POLL", "").strip()
    if not raw:
        return 10.0
    try:
        return max(0.0, float(raw))
    except ValueError:
        raise ApiError(f"RECONCILER_API_POLL {raw!r} is not a number of seconds") from None


@dataclass(frozen=True, slots=True)
class FetchRun:
    """A fetched batch: its snapshot, where it was written, and what that took."""

    snapshot: Snapshot
    out: Path
    outputs: tuple[str, ...]
    requests: int
    seconds: float


def fetch(
    batch_id: str,
    out: Path,
    *,
    wait: bool = False,
    timeout: float = 600.0,
    force: bool = False,
    progress: Progress | None = None,
    client: Client | None = None,
) -> FetchRun:
    """Fetch everything the API holds on ``batch_id`` into ``out`` (raw JSON, byte for byte)."""
    batch_id = check_batch_id(batch_id)
    check_out_dir(out, [])
    started = time.monotonic()
    own = client is None
    api = client or connect()
    try:
        snapshot = fetch_batch(
            api, batch_id, wait=wait, timeout=timeout, poll=poll_seconds(), progress=progress
        )
        requests = api.requests
    finally:
        if own:
            api.close()
    with staged_output(out, force=force) as stage:
        for name, raw in snapshot.files:
            write_raw(stage / name, raw)
    names = tuple(sorted(name for name, _raw in snapshot.files))
    return FetchRun(snapshot, out, names, requests, time.monotonic() - started)


def reconcile_batch(
    sent: Path,
    batch_id: str,
    options: ReconcileOptions,
    *,
    out: Path,
    wait: bool = False,
    timeout: float = 600.0,
    progress: Progress | None = None,
    client: Client | None = None,
) -> Reconciliation:
    """Fetch ``batch_id``, keep its snapshot in ``out`` beside the outputs, reconcile ``sent``
    against it. A batch that is not complete gives ``pending`` records; every completeness
    rule of ``reconcile`` applies."""
    import shutil
    import tempfile

    from .pipeline import reconcile

    batch_id = check_batch_id(batch_id)
    given = options.fix_files
    check_out_dir(out, [sent, *(given.paths if given else ())])
    own = client is None
    api = client or connect()
    try:
        snapshot = fetch_batch(
            api, batch_id, wait=wait, timeout=timeout, poll=poll_seconds(), progress=progress
        )
        updates: list[tuple[str, bytes]] = []
        if options.fetch_updates:
            start = _submitted(options.submitted or snapshot.submitted, batch_id)
            if progress is not None:
                progress(f"fetching the action updates since {start:%Y-%m-%d}")
            updates = fetch_updates(api, start, datetime.now(UTC))
    finally:
        if own:
            api.close()
    out.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{out.name[:60]}.batch-", dir=out.parent))
    try:
        paths = []
        for name, raw in snapshot.files:
            write_raw(scratch / name, raw)
            paths.append(scratch / name)
        fetched = []
        for name, raw in updates:
            write_raw(scratch / name, raw)
            fetched.append(scratch / name)
        if options.fetch_updates:
            options = replace(
                options,
                updates=(*options.updates, *fetched),
                submitted=options.submitted or snapshot.submitted or None,
            )
        keep = [(path, path.name) for path in (*paths, *fetched)]
        return reconcile(sent, paths, options, out=out, progress=progress, keep=keep)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)  # a folder of our own, made just above


def _submitted(raw: str, batch_id: str) -> datetime:
    """When the batch was submitted: where the updates to fetch start."""
    try:
        when = datetime.fromisoformat(raw.strip().replace("Z", "+00:00")) if raw.strip() else None
    except ValueError:
        when = None
    if when is None:
        raise ApiError(
            f"batch {batch_id}: the API gives no SubmissionDate ({raw!r}), so the updates to "
            "fetch cannot start from it; give --submitted DATE"
        )
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def submissions(
    since: date | None, until: date | None, *, client: Client | None = None
) -> list[dict[str, Any]]:
    """The account's FTP file submissions made between ``since`` and ``until``."""
    own = client is None
    api = client or connect()
    try:
        rows, _pages = list_submissions(api, since, until)
    finally:
        if own:
            api.close()
    return rows


# --------------------------------------------------------------------------- audit


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One submission of the window, and what became of it."""

    batch_id: str
    file_name: str
    submitted: str
    status: str
    outcome: str  # reconciled | not_found | not_complete | failed
    detail: str = ""
    folder: str = ""  # the batch's output folder, relative to the audit's
    summary: Summary | None = None


@dataclass(frozen=True, slots=True)
class AuditRun:
    entries: tuple[AuditEntry, ...]
    out: Path
    outputs: tuple[str, ...] = field(default=())

    @property
    def needs_attention(self) -> bool:
        return any(
            e.outcome == "failed" or (e.summary is not None and e.summary.needs_attention)
            for e in self.entries
        )


def audit(
    since: date,
    until: date | None,
    sent_dir: Path,
    out: Path,
    options: ReconcileOptions,
    *,
    progress: Progress | None = None,
    client: Client | None = None,
) -> AuditRun:
    """Every completed submission of [since, until] whose file is in ``sent_dir`` (by its
    FileName), reconciled into ``out/<BatchId>/``, and an index (``index.html``,
    ``index.csv``) of them all, those not found or not complete included."""
    from reports.audit import write_index

    say = progress or (lambda _msg: None)
    if not sent_dir.is_dir():
        raise ReconcilerError(
            "is not a folder; give the folder of the files you sent", path=sent_dir
        )
    check_out_dir(out, [sent_dir])
    _check_audit_folder(out)
    own = client is None
    api = client or connect()
    entries: list[AuditEntry] = []
    try:
        rows, _pages = list_submissions(api, since, until)
        files = _files_by_name(sent_dir)
        for row in rows:
            batch = str(row.get("BatchId") or "")
            name = str(row.get("FileName") or "")
            status = str(row.get("Status") or "")
            submitted = str(row.get("SubmissionDate") or "")

            def entry(
                outcome: str,
                detail: str = "",
                *,
                head: tuple[str, str, str, str] = (batch, name, submitted, status),
                **more: Any,
            ) -> AuditEntry:
                return AuditEntry(*head, outcome, detail, **more)

            if status.strip().lower() != "complete":
                entries.append(entry("not_complete", status))
                continue
            found = files.get(name) or files.get(name.lower())
            if found is None:
                entries.append(entry("not_found", f"no {name} in {sent_dir}"))
                continue
            say(f"reconciling {batch} ({name})")
            try:
                rec = reconcile_batch(
                    found, batch, options, out=out / check_batch_id(batch), client=api
                )
            except ReconcilerError as exc:
                entries.append(entry("failed", str(exc)))
                continue
            entries.append(entry("reconciled", folder=batch, summary=rec.summary))
    finally:
        if own:
            api.close()
    written = write_index(entries, out, since=since, until=until, sent_dir=sent_dir)
    return AuditRun(tuple(entries), out, tuple(written))


AUDIT_MARKER = ".reconciler-audit"


def _check_audit_folder(out: Path) -> None:
    """An audit writes into a folder of its own (new, empty, or an earlier audit's): never
    over an index.html or a batch folder that someone else made."""
    from .errors import OutputError

    if out.exists() and not out.is_dir():
        raise OutputError("exists and is not a folder; choose another --out", path=out)
    if out.is_dir() and any(out.iterdir()) and not (out / AUDIT_MARKER).is_file():
        raise OutputError(
            "holds files and was not made by reconciler audit; choose another --out (an "
            "empty or new folder)",
            path=out,
        )


def _files_by_name(folder: Path) -> dict[str, Path]:
    """The files of ``folder`` by name (and by lower-case name, for a case-blind match)."""
    found: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.is_file():
            found.setdefault(path.name, path)
            found.setdefault(path.name.lower(), path)
    return found
