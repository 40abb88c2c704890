"""The Brand API commands against a real HTTP server on localhost (pytest-httpserver) serving the
published response shapes: fetch, reconcile --batch, submissions, audit, and every failure.

No test reaches the internet: RECONCILER_IMPACT_API points at the local server.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from typer.testing import CliRunner
from werkzeug import Request, Response

from reconciler.cli import app
from reconciler.errors import INTERRUPTED

ROOT = Path(__file__).resolve().parent.parent
PAGED = ROOT / "fixtures" / "paged_error_details"
SID = "IRxB7kR2mQ9d1853962vWtYhLpZs4NfAc1"
TOKEN = "tok-SECRET-5f2c9e81d7a04b6b9d3e"
BATCH = "F-7d3e52a1-4b0c-4e8f-9a61-2c5d8e0f9b13"
BASE = f"/Advertisers/{SID}"
runner = CliRunner()


def _csv(path: Path) -> list[dict[str, str]]:
    import csv

    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def _page(n: int) -> bytes:
    return (PAGED / f"results-page{n}.json").read_bytes()


class FakeApi:
    """The account's endpoints on the local server; ``calls`` counts requests per path."""

    def __init__(self, server: HTTPServer) -> None:
        self.server = server
        self.calls: dict[str, int] = {}
        self.auth: list[str] = []

    def route(self, path: str, handler: Callable[[Request], Response]) -> None:
        def counted(request: Request) -> Response:
            self.calls[path] = self.calls.get(path, 0) + 1
            self.auth.append(request.headers.get("Authorization", ""))
            return handler(request)

        self.server.expect_request(path).respond_with_handler(counted)

    def batch(self, status: Callable[[], str] | None = None) -> None:
        """The paged fixture's batch: its record and two pages of errors."""
        record = json.loads((PAGED / "submission.json").read_text(encoding="utf-8"))

        def head(_request: Request) -> Response:
            body = dict(record, Status=status()) if status else record
            raw = (
                (PAGED / "submission.json").read_bytes()
                if status is None
                else json.dumps(body).encode()
            )
            return Response(raw, content_type="application/json")

        def errors(request: Request) -> Response:
            page = 2 if request.args.get("Page") == "2" else 1
            return Response(_page(page), content_type="application/json")

        self.route(f"{BASE}/FTPFileSubmissions/{BATCH}", head)
        self.route(f"{BASE}/FTPFileSubmissions/{BATCH}/ErrorDetails", errors)


@pytest.fixture
def api(httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeApi]:
    monkeypatch.setenv("RECONCILER_IMPACT_API", httpserver.url_for("/").rstrip("/"))
    monkeypatch.setenv("IMPACT_ACCOUNT_SID", SID)
    monkeypatch.setenv("IMPACT_AUTH_TOKEN", TOKEN)
    monkeypatch.setenv("RECONCILER_API_BACKOFF", "0")
    monkeypatch.setenv("RECONCILER_API_POLL", "0.05")
    monkeypatch.setenv("RECONCILER_CREDENTIALS", str(Path(os.devnull).parent / "no-such-file"))
    yield FakeApi(httpserver)


def _run(*args: object) -> tuple[int, str, str]:
    result = runner.invoke(app, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


def _no_token_anywhere(folder: Path, *texts: str) -> None:
    for text in texts:
        assert TOKEN not in text
    for path in folder.rglob("*"):
        if path.is_file():
            assert TOKEN.encode() not in path.read_bytes(), path


# --------------------------------------------------------------------------- fetch


def test_fetch_keeps_every_page_byte_for_byte(api: FakeApi, tmp_path: Path) -> None:
    api.batch()
    out = tmp_path / "snap"
    code, stdout, stderr = _run("fetch", BATCH, "--out", out)
    assert code == 0, stderr
    assert f"batch {BATCH} is Complete, 20 records, 7 errors" in stdout
    assert (out / "submission.json").read_bytes() == (PAGED / "submission.json").read_bytes()
    assert (out / "errors-001.json").read_bytes() == _page(1)
    assert (out / "errors-002.json").read_bytes() == _page(2)
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == [
        "errors-001.json",
        "errors-002.json",
        "submission.json",
    ]
    # Basic authentication with the Account SID and the Auth Token, on every request.
    assert api.auth and all(a.startswith("Basic ") for a in api.auth)
    # What was fetched reconciles like the export saved by hand.
    code, stdout, stderr = _run(
        "reconcile", PAGED / "sent.csv", *sorted(out.glob("*.json")), "--out", tmp_path / "rec"
    )
    assert code == 1, stderr
    assert "20 records sent" in stdout and "7 of 7 results tied" in stdout
    _no_token_anywhere(tmp_path, stdout, stderr)


def test_a_429_then_a_500_are_retried(api: FakeApi, tmp_path: Path) -> None:
    answers = iter(
        [
            Response("slow down", status=429, headers={"Retry-After": "0"}),
            Response("oops", status=500),
        ]
    )
    body = (PAGED / "submission.json").read_bytes()

    def flaky(_request: Request) -> Response:
        return next(answers, None) or Response(body, content_type="application/json")

    api.route(f"{BASE}/FTPFileSubmissions/{BATCH}", flaky)
    api.route(
        f"{BASE}/FTPFileSubmissions/{BATCH}/ErrorDetails",
        lambda r: Response(
            _page(2 if r.args.get("Page") == "2" else 1), content_type="application/json"
        ),
    )
    code, _stdout, stderr = _run("fetch", BATCH, "--out", tmp_path / "snap", "--quiet")
    assert code == 0, stderr
    assert api.calls[f"{BASE}/FTPFileSubmissions/{BATCH}"] == 3


def test_a_response_past_the_timeout_is_one_line(
    api: FakeApi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RECONCILER_API_TIMEOUT", "0.2")
    monkeypatch.setenv("RECONCILER_API_RETRIES", "1")

    def slow(_request: Request) -> Response:
        time.sleep(0.6)
        return Response("{}", content_type="application/json")

    api.route(f"{BASE}/FTPFileSubmissions/{BATCH}", slow)
    code, _stdout, stderr = _run("fetch", BATCH, "--out", tmp_path / "snap")
    assert code == 2
    assert stderr.splitlines() == [stderr.splitlines()[0]] and "within 0.2 s (2 tries)" in stderr
    assert "RECONCILER_API_TIMEOUT" in stderr
    assert not (tmp_path / "snap").exists()


@pytest.mark.parametrize(
    ("status", "body", "content_type", "said"),
    [
        (401, "", "text/plain", "check IMPACT_ACCOUNT_SID and IMPACT_AUTH_TOKEN"),
        (403, "", "text/plain", "check IMPACT_ACCOUNT_SID and IMPACT_AUTH_TOKEN"),
        (404, "", "text/plain", f"no batch {BATCH} in this account"),
        (200, "<html><body>Service Unavailable</body></html>", "text/html", "that is not JSON"),
        (200, "<ImpactRadiusResponse/>", "application/xml", "that is not JSON"),
    ],
)
def test_refusals_are_one_line_and_exit_2(
    api: FakeApi, tmp_path: Path, status: int, body: str, content_type: str, said: str
) -> None:
    api.route(
        f"{BASE}/FTPFileSubmissions/{BATCH}",
        lambda _r: Response(body, status=status, content_type=content_type),
    )
    code, stdout, stderr = _run("fetch", BATCH, "--out", tmp_path / "snap", "--debug")
    assert code == 2
    last = stderr.splitlines()[-1]  # --debug prints the traceback first: never the token
    assert last.startswith("reconciler: ") and said in last
    _no_token_anywhere(tmp_path, stdout, stderr)
    code, _stdout, stderr = _run("fetch", BATCH, "--out", tmp_path / "snap")
    assert code == 2 and len(stderr.splitlines()) == 1 and said in stderr
    assert not (tmp_path / "snap").exists()


def test_an_error_page_echoing_the_token_does_not_print_it(api: FakeApi, tmp_path: Path) -> None:
    api.route(
        f"{BASE}/FTPFileSubmissions/{BATCH}",
        lambda _r: Response(
            f"<html>bad token {TOKEN}</html>", status=502, content_type="text/html"
        ),
    )
    code, stdout, stderr = _run("fetch", BATCH, "--out", tmp_path / "snap", "--debug")
    assert code == 2
    _no_token_anywhere(tmp_path, stdout, stderr)


def test_wait_polls_until_the_batch_is_complete(api: FakeApi, tmp_path: Path) -> None:
    states = iter(["Queued", "In Progress", "In Progress"])
    api.batch(status=lambda: next(states, "Complete"))
    code, stdout, stderr = _run("fetch", BATCH, "--out", tmp_path / "snap", "--wait")
    assert code == 0, stderr
    assert "is Complete" in stdout
    assert api.calls[f"{BASE}/FTPFileSubmissions/{BATCH}"] == 4


def test_wait_gives_up_after_its_timeout(api: FakeApi, tmp_path: Path) -> None:
    api.batch(status=lambda: "In Progress")
    code, _stdout, stderr = _run(
        "fetch", BATCH, "--out", tmp_path / "snap", "--wait", "--timeout", "0.2"
    )
    assert code == 2
    assert "still In Progress after" in stderr
    assert not (tmp_path / "snap").exists()


def test_a_batch_not_complete_is_fetched_as_it_is(api: FakeApi, tmp_path: Path) -> None:
    api.batch(status=lambda: "In Progress")
    code, stdout, _stderr = _run("fetch", BATCH, "--out", tmp_path / "snap")
    assert code == 1  # kept, but not final
    assert "is In Progress" in stdout


def test_a_bad_batch_id_or_no_credentials_is_one_line(
    api: FakeApi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _stdout, stderr = _run("fetch", "F-../../etc", "--out", tmp_path / "x")
    assert code == 2 and "is not a batch ID" in stderr
    monkeypatch.delenv("IMPACT_AUTH_TOKEN")
    monkeypatch.delenv("IMPACT_ACCOUNT_SID")
    code, _stdout, stderr = _run("fetch", BATCH, "--out", tmp_path / "x")
    assert code == 2
    assert "no API credentials: set IMPACT_ACCOUNT_SID and IMPACT_AUTH_TOKEN" in stderr
    assert len(stderr.splitlines()) == 1


def test_the_credentials_file_is_used_only_when_private(
    api: FakeApi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    api.batch()
    monkeypatch.delenv("IMPACT_AUTH_TOKEN")
    monkeypatch.delenv("IMPACT_ACCOUNT_SID")
    creds = tmp_path / "credentials.toml"
    creds.write_text(f'account_sid = "{SID}"\nauth_token = "{TOKEN}"\n', encoding="utf-8")
    monkeypatch.setenv("RECONCILER_CREDENTIALS", str(creds))
    creds.chmod(0o644)
    code, stdout, stderr = _run("fetch", BATCH, "--out", tmp_path / "snap")
    if os.name == "posix":
        assert code == 2 and "others can read it; run chmod 600" in stderr
        creds.chmod(0o600)
        code, stdout, stderr = _run("fetch", BATCH, "--out", tmp_path / "snap")
    assert code == 0, stderr
    _no_token_anywhere(tmp_path / "snap", stdout, stderr)


# --------------------------------------------------------------------------- reconcile --batch


def test_reconcile_batch_keeps_the_snapshot_beside_the_outputs(
    api: FakeApi, tmp_path: Path
) -> None:
    api.batch()
    out = tmp_path / "out"
    code, stdout, stderr = _run("reconcile", PAGED / "sent.csv", "--batch", BATCH, "--out", out)
    assert code == 1, stderr
    assert (out / "errors-002.json").read_bytes() == _page(2)
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    # The run names the results where they are kept, not the scratch they were read from.
    assert summary["results_files"] == [
        str(out / "submission.json"),
        str(out / "errors-001.json"),
        str(out / "errors-002.json"),
    ]
    assert {"errors-001.json", "submission.json", "summary.json"} <= set(summary["outputs"])
    assert summary["completeness"]["state"] == "complete"
    assert (summary["accepted"], summary["rejected"]) == (13, 7)  # as the export saved by hand
    assert not [p for p in tmp_path.iterdir() if ".batch-" in p.name]  # the scratch is gone
    _no_token_anywhere(tmp_path, stdout, stderr)


def test_reconcile_batch_fetches_the_updates_from_its_submission_on(
    api: FakeApi, tmp_path: Path
) -> None:
    api.batch()
    asked: list[dict[str, str]] = []

    def updates(request: Request) -> Response:
        asked.append(dict(request.args))
        body = {
            "@page": "1",
            "@numpages": "1",
            "@nextpageuri": "",
            "ActionUpdates": [
                {
                    "Id": "1000.4636.210105.2",
                    "ActionId": "1000.4636.210105",
                    "State": "REVERSED",
                    "Disposition": "ITEM_RETURNED",
                    "DeltaAmount": "-45.00",
                    "UpdateDate": "2025-03-04T09:12:55-05:00",
                }
            ],
        }
        return Response(json.dumps(body), content_type="application/json")

    api.route(f"{BASE}/ActionUpdates", updates)
    out = tmp_path / "out"
    code, stdout, stderr = _run(
        "reconcile", PAGED / "sent.csv", "--batch", BATCH, "--fetch-updates", "--out", out
    )
    assert code == 1, stderr
    # From the batch's SubmissionDate (2025-03-04T09:12:40-05:00), in spans of 45 days.
    assert asked[0]["StartDate"] == "2025-03-04T14:12:40Z"
    assert len(asked) >= 2 and all(a["EndDate"] > a["StartDate"] for a in asked)
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    confirmation = summary["confirmation"]
    assert confirmation["submitted"] == "2025-03-04T14:12:40Z"
    assert confirmation["updates_files"][0] == "action-updates-001.json"
    assert (out / "action-updates-001.json").exists()
    rows = {r["SourceLine"]: r for r in _csv(out / "reconciled.csv")}
    assert rows["6"]["Confirmed"] == "confirmed"  # reversed as asked
    assert "confirmed on the platform: 1 of 13 accepted records" in stdout
    _no_token_anywhere(tmp_path, stdout, stderr)


def test_fetch_updates_needs_a_batch(api: FakeApi, tmp_path: Path) -> None:
    code, _stdout, stderr = _run(
        "reconcile", PAGED / "sent.csv", PAGED / "submission.json", "--fetch-updates"
    )
    assert code == 2 and "--fetch-updates fetches with --batch BATCH_ID" in stderr


def test_reconcile_batch_in_progress_gives_pending(api: FakeApi, tmp_path: Path) -> None:
    api.batch(status=lambda: "In Progress")
    out = tmp_path / "out"
    code, _stdout, stderr = _run("reconcile", PAGED / "sent.csv", "--batch", BATCH, "--out", out)
    assert code == 1, stderr
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["accepted"] == 0 and summary["pending"] > 0


def test_reconcile_wants_results_or_a_batch_not_both(api: FakeApi, tmp_path: Path) -> None:
    code, _stdout, stderr = _run("reconcile", PAGED / "sent.csv")
    assert code == 2 and "--batch BATCH_ID" in stderr
    code, _stdout, stderr = _run(
        "reconcile", PAGED / "sent.csv", PAGED / "submission.json", "--batch", BATCH
    )
    assert code == 2 and "one or the other" in stderr


# --------------------------------------------------------------------------- submissions, audit


def _listing(rows: list[dict[str, Any]]) -> bytes:
    paging = {"@page": "1", "@numpages": "1", "@total": str(len(rows)), "@nextpageuri": ""}
    return json.dumps({**paging, "FTPFileSubmissions": rows}).encode()


def _row(batch: str, name: str, status: str = "Complete") -> dict[str, Any]:
    return {
        "BatchId": batch, "FileName": name, "Type": "Modification", "Status": status,
        "TotalRecords": "20", "TotalErrors": "7", "SubmissionDate": "2026-11-30T09:12:40-05:00",
        "CompletionDate": "2026-11-30T09:13:02-05:00" if status == "Complete" else None,
    }  # fmt: skip


def test_submissions_lists_the_window(api: FakeApi) -> None:
    seen: list[dict[str, str]] = []

    def listing(request: Request) -> Response:
        seen.append(dict(request.args))
        return Response(_listing([_row(BATCH, "sent.csv")]), content_type="application/json")

    api.route(f"{BASE}/FTPFileSubmissions", listing)
    code, stdout, stderr = _run("submissions", "--since", "2026-11-24", "--until", "2026-11-30")
    assert code == 0, stderr
    assert stdout.splitlines()[0].split() == [
        "BatchId", "FileName", "Type", "Status", "TotalRecords", "TotalErrors",
        "SubmissionDate", "CompletionDate",
    ]  # fmt: skip
    assert BATCH in stdout and "sent.csv" in stdout
    assert seen[0]["SubmissionDateStart"] == "2026-11-24T00:00:00Z"
    assert seen[0]["SubmissionDateEnd"] == "2026-11-30T23:59:59Z"
    code, stdout, _stderr = _run("submissions", "--json")
    assert json.loads(stdout)[0]["BatchId"] == BATCH
    code, _stdout, stderr = _run("submissions", "--since", "30/11/2026")
    assert code == 2 and "give a date as YYYY-MM-DD" in stderr


def test_audit_reconciles_every_completed_batch_with_an_index(api: FakeApi, tmp_path: Path) -> None:
    api.batch()
    other = "F-0c9a4d27-61e5-4b3f-8d72-95e1f3a6b840"
    rows = [
        _row(BATCH, "sent.csv"),
        _row("F-5b2f8e10-3c47-4a9d-b6e1-0d7c2a9f4e55", "missing.csv"),
        _row(other, "later.csv", status="In Progress"),
    ]
    api.route(
        f"{BASE}/FTPFileSubmissions",
        lambda _r: Response(_listing(rows), content_type="application/json"),
    )
    sent_dir = tmp_path / "sent"
    sent_dir.mkdir()
    (sent_dir / "sent.csv").write_bytes((PAGED / "sent.csv").read_bytes())
    out = tmp_path / "audit"
    code, stdout, stderr = _run(
        "audit", "--since", "2026-11-24", "--sent-dir", sent_dir, "--out", out
    )
    assert code == 1, stderr  # the reconciled batch has rejections
    assert "3 submissions: 1 reconciled, 1 need attention" in stdout
    assert "missing.csv: not found (no missing.csv in" in stdout
    index = (out / "index.csv").read_text(encoding="utf-8").splitlines()
    assert index[0].startswith("BatchId,FileName,SubmissionDate,Status,Outcome,Records")
    outcomes = {line.split(",")[0]: line.split(",")[4] for line in index[1:]}
    assert outcomes == {
        BATCH: "reconciled",
        "F-5b2f8e10-3c47-4a9d-b6e1-0d7c2a9f4e55": "not_found",
        other: "not_complete",
    }
    html = (out / "index.html").read_text(encoding="utf-8")
    assert f'<a href="{BATCH}/report.html">{BATCH}</a>' in html
    assert (out / BATCH / "report.html").is_file()
    assert (out / BATCH / "errors-001.json").read_bytes() == _page(1)
    _no_token_anywhere(tmp_path, stdout, stderr)
    # Each reconciled batch is in the ledger (the test session's), known by its BatchId.
    result = runner.invoke(app, ["history", "--json"])
    assert BATCH in [entry["batch_id"] for entry in json.loads(result.stdout)["batches"]]


def test_ctrl_c_while_the_snapshot_is_written_leaves_none(
    api: FakeApi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from reconciler import remote

    api.batch()
    real = remote.write_raw
    written: list[str] = []

    def interrupted(path: Path, data: bytes) -> None:
        if written:
            raise KeyboardInterrupt
        written.append(path.name)
        real(path, data)

    monkeypatch.setattr(remote, "write_raw", interrupted)
    out = tmp_path / "snap"
    code, _stdout, stderr = _run("fetch", BATCH, "--out", out)
    assert code == 130
    assert stderr.splitlines() == [f"reconciler: {INTERRUPTED}"]
    assert not out.exists()
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".snap")]


def test_an_api_batch_is_fetched_and_reconciled(api: FakeApi, tmp_path: Path) -> None:
    folder = ROOT / "fixtures" / "in_progress_api"
    body = (folder / "results.json").read_bytes()
    batch = json.loads(body)["APISubmission"][0]["BatchId"]
    api.route(
        f"{BASE}/APISubmissions/{batch}", lambda _r: Response(body, content_type="application/json")
    )
    out = tmp_path / "snap"
    code, stdout, stderr = _run("fetch", batch, "--out", out)
    assert code == 1, stderr  # some of its records are still In Progress
    assert f"batch {batch} is In Progress" in stdout
    assert (out / "api-submissions-001.json").read_bytes() == body
    rec_out = tmp_path / "rec"
    code, stdout, stderr = _run(
        "reconcile", folder / "sent.csv", "--batch", batch, "--out", rec_out
    )
    summary = json.loads((rec_out / "summary.json").read_text(encoding="utf-8"))
    assert summary["pending"] > 0 and summary["accepted"] == 0, stdout


def test_a_batch_without_errors_may_have_no_error_list(api: FakeApi, tmp_path: Path) -> None:
    record = json.loads((PAGED / "submission.json").read_text(encoding="utf-8"))
    record["TotalErrors"] = "0"
    raw = json.dumps(record).encode()
    api.route(
        f"{BASE}/FTPFileSubmissions/{BATCH}",
        lambda _r: Response(raw, content_type="application/json"),
    )
    api.route(f"{BASE}/FTPFileSubmissions/{BATCH}/ErrorDetails", lambda _r: Response("", 404))
    out = tmp_path / "out"
    code, stdout, stderr = _run("reconcile", PAGED / "sent.csv", "--batch", BATCH, "--out", out)
    assert code == 0, stderr
    assert "20 records sent: 20 accepted" in stdout
    assert sorted(p.name for p in out.glob("*.json")) == ["submission.json", "summary.json"]


def test_wait_says_what_it_waits_for(
    api: FakeApi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RECONCILER_PROGRESS", "1")
    states = iter(["Queued"])
    api.batch(status=lambda: next(states, "Complete"))
    code, _stdout, stderr = _run("fetch", BATCH, "--out", tmp_path / "snap", "--wait")
    assert code == 0
    assert f"batch {BATCH} is Queued; asking again in 0.05 s" in stderr


def test_audit_never_writes_into_a_folder_it_did_not_make(api: FakeApi, tmp_path: Path) -> None:
    api.route(
        f"{BASE}/FTPFileSubmissions",
        lambda _r: Response(_listing([]), content_type="application/json"),
    )
    out = tmp_path / "mine"
    out.mkdir()
    (out / "index.html").write_text("my own page", encoding="utf-8")
    code, _stdout, stderr = _run(
        "audit", "--since", "2026-11-24", "--sent-dir", tmp_path, "--out", out
    )
    assert code == 2 and "was not made by reconciler audit" in stderr
    assert (out / "index.html").read_text(encoding="utf-8") == "my own page"
    again = tmp_path / "audit"
    for _ in range(2):  # an earlier audit's folder is its own: run again into it
        code, stdout, stderr = _run(
            "audit", "--since", "2026-11-24", "--sent-dir", tmp_path / "mine", "--out", again
        )
        assert code == 0, stderr
        assert "0 submissions: 0 reconciled, 0 need attention" in stdout


def test_audit_keeps_an_index_the_analyst_edited(api: FakeApi, tmp_path: Path) -> None:
    api.route(
        f"{BASE}/FTPFileSubmissions",
        lambda _r: Response(_listing([]), content_type="application/json"),
    )
    out = tmp_path / "audit"
    args = ("audit", "--since", "2026-11-24", "--sent-dir", tmp_path, "--out", out)
    code, _stdout, stderr = _run(*args)
    assert code == 0, stderr
    written = (out / "index.html").read_bytes()
    (out / "index.html").write_text("my notes on the audit", encoding="utf-8")
    code, _stdout, stderr = _run(*args)
    assert code == 0, stderr
    kept = sorted(p.name for p in out.glob("index.edited-*.html"))
    assert len(kept) == 1
    assert (out / kept[0]).read_text(encoding="utf-8") == "my notes on the audit"
    assert f"index.html had been edited since reconciler wrote it: kept as {kept[0]}" in stderr
    assert (out / "index.html").read_bytes() == written
    code, _stdout, stderr = _run(*args)  # unedited: rewritten, nothing kept
    assert code == 0 and "kept as" not in stderr
    assert len(list(out.glob("index.edited-*.html"))) == 1


def test_an_answer_larger_than_the_bound_is_not_read(
    api: FakeApi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from reconciler.api import client

    monkeypatch.setattr(client, "MAX_BODY_BYTES", 1024)
    api.batch()
    code, _stdout, stderr = _run("fetch", BATCH, "--out", tmp_path / "snap")
    assert code == 2
    assert "the answer is over 1,024 bytes; not read" in stderr
    assert not (tmp_path / "snap").exists()
