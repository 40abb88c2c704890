"""What to fetch for a batch, and the account's list of file submissions.

A file batch (``F-...``): its FtpSubmission record (``submission.json``), then every page of
its ErrorDetails (``errors-001.json``, ``errors-002.json``, ...). An API batch (``A-...``):
every page of its APISubmission records (``api-submissions-001.json``, ...). Each file is a
response body byte for byte, so ``reconcile`` reads a snapshot as it reads an export saved
by hand, and a snapshot survives the platform forgetting the batch (impact-reference §5).

``--wait`` polls a Queued or In Progress batch until it is Complete. A batch that is not
complete is still snapshotted as it is when asked without ``--wait``: ``reconcile`` then
calls its records ``pending``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from reconciler.errors import UsageError

from .client import ApiError, Client, NotFound, Page

BATCH_ID = re.compile(r"^[FA]-[0-9A-Za-z][0-9A-Za-z-]{0,100}$")
DONE = "complete"
PAGE_SIZE = "1000"  # rows asked for per page (the API may send fewer; pages are followed)

SUBMISSION_COLUMNS: tuple[str, ...] = (
    "BatchId",
    "FileName",
    "Type",
    "Status",
    "TotalRecords",
    "TotalErrors",
    "SubmissionDate",
    "CompletionDate",
)


def check_batch_id(batch_id: str) -> str:
    """``batch_id`` as given, checked: ``F-`` (a file) or ``A-`` (an API submission), then
    letters, digits and dashes only (it becomes part of a URL and of file names)."""
    text = batch_id.strip()
    if not BATCH_ID.match(text):
        raise UsageError(
            f"{batch_id!r} is not a batch ID: they start with F- (a file) or A- (API "
            "submissions), e.g. F-f6675c69-4a69-4c04-8a1d-3f2eb7a6754e (File Submissions, or "
            "reconciler submissions)"
        )
    return text


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What the API said about one batch: the files to keep, and its state."""

    batch_id: str
    files: tuple[tuple[str, bytes], ...]  # (file name, response body as sent)
    status: str  # as reported ("Complete", "In Progress", "Queued"; "" when not said)
    file_name: str  # the FileName impact.com recorded ("" for API batches)
    total_records: str
    total_errors: str
    submitted: str = ""  # SubmissionDate, as reported ("" when not said)

    @property
    def complete(self) -> bool:
        return self.status.strip().lower() == DONE


Progress = Callable[[str], None]


def fetch_batch(
    client: Client,
    batch_id: str,
    *,
    wait: bool = False,
    timeout: float = 600.0,
    poll: float = 10.0,
    progress: Progress | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Snapshot:
    """Everything the API holds on ``batch_id`` (see the module's docstring)."""
    batch_id = check_batch_id(batch_id)
    say = progress or (lambda _msg: None)
    started = clock()
    while True:
        if batch_id.startswith("F-"):
            head = _ftp_submission(client, batch_id)
            status = str(head.data.get("Status") or "")
        else:
            pages = _api_pages(client, batch_id)
            status = _api_status(pages)
        if not wait or status.strip().lower() == DONE:
            break
        waited = clock() - started
        if waited >= timeout:
            raise ApiError(
                f"batch {batch_id} is still {status or 'not complete'} after {waited:.0f} s; "
                "run the command again later (without --wait it keeps what there is now)"
            )
        say(f"batch {batch_id} is {status or 'not complete'}; asking again in {poll:g} s")
        sleep(min(poll, max(0.0, timeout - waited)))
    if batch_id.startswith("A-"):
        files = tuple((f"api-submissions-{i:03d}.json", p.raw) for i, p in enumerate(pages, 1))
        return Snapshot(batch_id, files, status, "", "", "")
    say(f"batch {batch_id} is {status or 'of unknown status'}; fetching its errors")
    record = head.data
    errors = _error_pages(client, batch_id, record)
    files = (
        ("submission.json", head.raw),
        *((f"errors-{i:03d}.json", p.raw) for i, p in enumerate(errors, 1)),
    )
    return Snapshot(
        batch_id,
        files,
        status,
        str(record.get("FileName") or ""),
        str(record.get("TotalRecords") or ""),
        str(record.get("TotalErrors") or ""),
        str(record.get("SubmissionDate") or ""),
    )


def _ftp_submission(client: Client, batch_id: str) -> Page:
    try:
        page = client.get(f"{client.account_path}/FTPFileSubmissions/{batch_id}")
    except NotFound:
        raise ApiError(
            f"no batch {batch_id} in this account (HTTP 404); check the ID on File Submissions "
            "(batches are kept 90 days)"
        ) from None
    record = page.data
    if "FTPFileSubmissions" in record and isinstance(record["FTPFileSubmissions"], list):
        listed = [r for r in record["FTPFileSubmissions"] if isinstance(r, dict)]
        record = next((r for r in listed if r.get("BatchId") == batch_id), {})
        page = Page(raw=page.raw, data=record, path=page.path)
    if record.get("BatchId") not in (None, "", batch_id):
        raise ApiError(
            f"asked for batch {batch_id}, the API answered about {record.get('BatchId')!r}; "
            "not kept"
        )
    return page


def _error_pages(client: Client, batch_id: str, record: Mapping[str, Any]) -> list[Page]:
    path = f"{client.account_path}/FTPFileSubmissions/{batch_id}/ErrorDetails"
    try:
        return list(client.pages(path, {"PageSize": PAGE_SIZE}))
    except NotFound:
        # A batch without errors may have no error list at all (inferred): only when its
        # record says so is that taken as "no errors".
        if str(record.get("TotalErrors") or "").strip() in ("0", "0.0"):
            return []
        raise ApiError(
            f"batch {batch_id} has no error list (HTTP 404) though it reports "
            f"{record.get('TotalErrors') or 'an unknown number of'} errors; try again later"
        ) from None


def _api_pages(client: Client, batch_id: str) -> list[Page]:
    try:
        return list(client.pages(f"{client.account_path}/APISubmissions/{batch_id}"))
    except NotFound:
        raise ApiError(
            f"no batch {batch_id} in this account (HTTP 404); API submissions are kept 90 days"
        ) from None


def _api_status(pages: Sequence[Page]) -> str:
    """An API batch's state: Complete when every record says so, else the first other."""
    statuses: list[str] = []
    for page in pages:
        data = page.data
        records = data.get("APISubmission", data.get("APISubmissions"))
        if isinstance(records, list):
            statuses.extend(str(r.get("Status") or "") for r in records if isinstance(r, dict))
        elif "Status" in data:
            statuses.append(str(data.get("Status") or ""))
    pending = [s for s in statuses if s.strip().lower() != DONE]
    if not statuses:
        return ""
    return pending[0] if pending else "Complete"


def list_submissions(
    client: Client, since: date | None = None, until: date | None = None
) -> tuple[list[dict[str, Any]], int]:
    """The account's FTP file submissions made in [since, until] (dates, whole days, in the
    API's own clock), oldest first; and how many pages that took."""
    params = {"SortBy": "SubmissionDate", "SortOrder": "ASC", "PageSize": PAGE_SIZE}
    if since is not None:
        params["SubmissionDateStart"] = f"{since.isoformat()}T00:00:00Z"
    if until is not None:
        params["SubmissionDateEnd"] = f"{until.isoformat()}T23:59:59Z"
    rows: list[dict[str, Any]] = []
    pages = 0
    for page in client.pages(f"{client.account_path}/FTPFileSubmissions", params):
        pages += 1
        listed = page.data.get("FTPFileSubmissions")
        if listed is None:
            listed = []
        if not isinstance(listed, list):
            raise ApiError(f"{page.path}: FTPFileSubmissions is not a list; not read")
        rows.extend(r for r in listed if isinstance(r, dict))
    return rows, pages


UPDATES_WINDOW_DAYS = 45  # the longest span asked for at once (the Actions list's limit)


def fetch_updates(
    client: Client,
    start: datetime,
    end: datetime,
    *,
    days: int = UPDATES_WINDOW_DAYS,
) -> list[tuple[str, bytes]]:
    """Every page of the account's ActionUpdates made between ``start`` and ``end`` (UpdateDate),
    asked for in spans of at most ``days`` days: ``action-updates-001.json``, ... byte for
    byte, for ``reconcile --updates``."""
    files: list[tuple[str, bytes]] = []
    low = start
    while low < end:
        high = min(end, low + timedelta(days=days))
        params = {
            "StartDate": _stamp(low),
            "EndDate": _stamp(high),
            "PageSize": PAGE_SIZE,
        }
        for page in client.pages(f"{client.account_path}/ActionUpdates", params):
            files.append((f"action-updates-{len(files) + 1:03d}.json", page.raw))
        low = high
    return files


def _stamp(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
