"""The submission ledger, on SQLite and on a real PostgreSQL server (``.ci/run`` starts one and
sets RECONCILER_TEST_POSTGRES; elsewhere the PostgreSQL cases skip, saying so)."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from reconciler.cli import app
from reconciler.ledger import ledger_url
from reconciler.ledger.entries import decode_records
from reconciler.ledger.store import open_ledger

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "fixtures" / "modification_view_errors"
PAGED = ROOT / "fixtures" / "paged_error_details"
runner = CliRunner()


def _reconcile(*args: object) -> tuple[int, str, str]:
    result = runner.invoke(app, ["reconcile", *(str(a) for a in args)])
    return result.exit_code, result.stdout, result.stderr


def _batches(url: str) -> list[dict[str, object]]:
    opened = open_ledger(ledger_url(url) or "")
    try:
        return opened.batches()
    finally:
        opened.close()


def test_a_run_is_recorded_once_however_often_it_is_reconciled(ledger: str, tmp_path: Path) -> None:
    for _ in range(2):
        code, _stdout, stderr = _reconcile(
            DEMO / "sent.csv", DEMO / "results.csv", "--out", tmp_path / "out", "--ledger", ledger
        )
        assert code == 1, stderr
    batches = _batches(ledger)
    assert len(batches) == 1
    entry = batches[0]
    assert (entry["file_name"], entry["records"], entry["accepted"], entry["rejected"]) == (
        "sent.csv",
        30,
        20,
        10,
    )
    assert entry["codes"] == json.loads((tmp_path / "out" / "summary.json").read_text())["by_code"]
    opened = open_ledger(ledger_url(ledger) or "")
    try:
        got = opened.records_of(int(str(entry["id"])))
    finally:
        opened.close()
    assert got is not None and got[0] == "arrow-ipc-zstd/2"
    table = decode_records(got[1])
    assert table.num_rows == 30
    with (tmp_path / "out" / "reconciled.csv").open(encoding="utf-8-sig", newline="") as handle:
        outcomes = [row["Outcome"] for row in csv.DictReader(handle)]
    assert table.column("outcome").to_pylist() == outcomes
    keys = table.column("record_key").to_pylist()
    assert keys[0] == "a:1000.4636.158133" and keys[1] == "o:T52324111211|16027"
    assert table.column("resubmit_file").to_pylist().count("resubmit.csv") == 1


def test_a_batch_is_known_by_its_batch_id(ledger: str, tmp_path: Path) -> None:
    results = [
        PAGED / "submission.json",
        PAGED / "results-page1.json",
        PAGED / "results-page2.json",
    ]
    code, _stdout, stderr = _reconcile(
        PAGED / "sent.csv", *results, "--out", tmp_path / "out", "--ledger", ledger
    )
    assert code == 1, stderr
    (entry,) = _batches(ledger)
    assert entry["batch_id"] == "F-7d3e52a1-4b0c-4e8f-9a61-2c5d8e0f9b13"
    assert entry["batch_key"] == "batch:F-7d3e52a1-4b0c-4e8f-9a61-2c5d8e0f9b13"
    assert entry["results_complete"] is True
    assert entry["submitted_at"] == "2025-03-04T09:12:40-05:00"  # the FtpSubmission's


def test_no_ledger_records_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "ledger.sqlite"
    monkeypatch.setenv("RECONCILER_LEDGER", str(path))
    code, _stdout, _stderr = _reconcile(
        DEMO / "sent.csv", DEMO / "results.csv", "--out", tmp_path / "o", "--no-ledger"
    )
    assert code == 1 and not path.exists()
    monkeypatch.setenv("RECONCILER_LEDGER", "off")
    code, _stdout, _stderr = _reconcile(
        DEMO / "sent.csv", DEMO / "results.csv", "--out", tmp_path / "o"
    )
    assert code == 1 and not path.exists()


def test_the_default_ledger_is_in_the_user_data_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RECONCILER_LEDGER")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    if sys.platform != "linux":
        pytest.skip("the data folder is XDG's on Linux only")
    code, _stdout, stderr = _reconcile(
        DEMO / "sent.csv", DEMO / "results.csv", "--out", tmp_path / "o"
    )
    assert code == 1, stderr
    assert (tmp_path / "data" / "reconciler" / "ledger.sqlite").is_file()


def test_a_newer_or_corrupt_ledger_is_one_line_and_changes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    ledger = tmp_path / "ledger.sqlite"
    code, _stdout, _stderr = _reconcile(
        DEMO / "sent.csv", DEMO / "results.csv", "--out", out, "--ledger", ledger
    )
    assert code == 1
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    with sqlite3.connect(ledger) as conn:
        conn.execute("UPDATE ledger_meta SET value = '99' WHERE key = 'schema_version'")
    code, _stdout, stderr = _reconcile(
        DEMO / "sent.csv", DEMO / "results.csv", "--out", out, "--ledger", ledger
    )
    assert code == 2
    assert stderr.splitlines() == [
        f"reconciler: sqlite:///{ledger} was written by a newer reconciler (schema 99, this "
        "one knows 2); upgrade reconciler, or use another --ledger"
    ]
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    broken = tmp_path / "broken.sqlite"
    broken.write_bytes(b"this is not a database" * 100)
    code, _stdout, stderr = _reconcile(
        DEMO / "sent.csv", DEMO / "results.csv", "--out", out, "--ledger", broken
    )
    assert code == 2 and len(stderr.splitlines()) == 1
    assert "cannot open the ledger" in stderr and "--no-ledger" in stderr
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_two_processes_recording_at_once_lose_nothing(ledger: str, tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    cases = [
        (DEMO, [DEMO / "results.csv"]),
        (
            PAGED,
            [PAGED / n for n in ("submission.json", "results-page1.json", "results-page2.json")],
        ),
        (ROOT / "fixtures" / "no_errors", [ROOT / "fixtures" / "no_errors" / "results.csv"]),
    ]
    runs = []
    for i, (folder, results) in enumerate(cases):
        command = [
            sys.executable, "-m", "reconciler", "reconcile", str(folder / "sent.csv"),
            *map(str, results), "--out", str(tmp_path / f"o{i}"), "--ledger", ledger, "--quiet",
        ]  # fmt: skip
        runs.append(subprocess.Popen(command, env=env, stderr=subprocess.PIPE))
    for proc in runs:
        _out, err = proc.communicate(timeout=120)
        assert proc.returncode in (0, 1), err.decode()
    batches = _batches(ledger)
    assert len(batches) == 3
    # The SHA-256 the start-up read took is the file's.
    digests = {
        hashlib.sha256((folder / "sent.csv").read_bytes()).hexdigest() for folder, _ in cases
    }
    assert {b["sent_sha256"] for b in batches} == digests


def test_history_lists_the_batches_and_the_trend_of_their_codes(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.sqlite"
    _reconcile(DEMO / "sent.csv", DEMO / "results.csv", "--out", tmp_path / "o", "--ledger", ledger)
    paged = [PAGED / n for n in ("submission.json", "results-page1.json", "results-page2.json")]
    _reconcile(PAGED / "sent.csv", *paged, "--out", tmp_path / "p", "--ledger", ledger)
    result = runner.invoke(app, ["history", "--ledger", str(ledger)])
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "sent.csv: 20 of 30 accepted (66.7%), 10 rejected" in lines[0]
    assert "F-7d3e52a1-4b0c-4e8f-9a61-2c5d8e0f9b13: 13 of 20 accepted (65.0%)" in lines[1]
    assert lines[2] == "by code, batch after batch:"
    assert any(line.strip().startswith("ALREADY_LOCKED: 2 → ") for line in lines[3:])
    result = runner.invoke(app, ["history", "--ledger", str(ledger), "--json"])
    data = json.loads(result.stdout)
    assert [b["records"] for b in data["batches"]] == [30, 20]
    assert data["trend"]["ALREADY_LOCKED"][0] == 2
    result = runner.invoke(
        app,
        ["history", "--ledger", str(ledger), "--batch", "F-7d3e52a1-4b0c-4e8f-9a61-2c5d8e0f9b13"],
    )
    assert len(result.stdout.splitlines()) == 1
    result = runner.invoke(app, ["history", "--ledger", str(ledger), "--batch", "F-nope"])
    assert result.exit_code == 2 and "knows no batch 'F-nope'" in result.stderr


def test_history_of_one_record(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.sqlite"
    for run in ("a", "b"):  # the same file twice into two folders: one entry, one attempt
        _reconcile(
            DEMO / "sent.csv", DEMO / "results.csv", "--out", tmp_path / run, "--ledger", ledger
        )
    result = runner.invoke(
        app, ["history", "--ledger", str(ledger), "--record", "1000.4636.158207"]
    )
    assert result.exit_code == 0, result.stderr
    assert (
        result.stdout.splitlines() == [result.stdout.splitlines()[0]]
        and "line 4: rejected (ALREADY_LOCKED), no_action" in result.stdout
    )
    result = runner.invoke(
        app, ["history", "--ledger", str(ledger), "--record", "T52324111211", "--json"]
    )
    (attempt,) = json.loads(result.stdout)
    assert attempt["record_key"] == "o:T52324111211|16027" and attempt["outcome"] == "accepted"


def test_history_tells_an_oid_holding_a_bar_from_a_shorter_oid_with_a_tracker(
    tmp_path: Path,
) -> None:
    sent = tmp_path / "sent.csv"
    extra = ",X|T,,10.00,USD,,ORDER_UPDATE\n,X,T,10.00,USD,,ORDER_UPDATE\n"
    sent.write_text((DEMO / "sent.csv").read_text(encoding="utf-8") + extra, encoding="utf-8")
    ledger = tmp_path / "ledger.sqlite"
    _reconcile(sent, DEMO / "results.csv", "--out", tmp_path / "o", "--ledger", ledger)
    found = {}
    for record in ("X|T", "X", "o:X|T"):
        result = runner.invoke(
            app, ["history", "--ledger", str(ledger), "--record", record, "--json"]
        )
        assert result.exit_code == 0, result.stderr
        found[record] = [a["record_key"] for a in json.loads(result.stdout)]
    assert found == {"X|T": ["o:X\\|T"], "X": ["o:X|T"], "o:X|T": ["o:X|T"]}


def test_history_exports_every_table(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.sqlite"
    _reconcile(DEMO / "sent.csv", DEMO / "results.csv", "--out", tmp_path / "o", "--ledger", ledger)
    out = tmp_path / "export"
    result = runner.invoke(app, ["history", "--ledger", str(ledger), "--export", str(out)])
    assert result.exit_code == 0, result.stderr
    names = sorted(p.name for p in out.iterdir() if not p.name.startswith("."))
    assert names == ["batch_codes.csv", "batches.csv", "records.csv", "resubmissions.csv"]
    with (out / "records.csv").open(encoding="utf-8-sig", newline="") as handle:
        records = list(csv.DictReader(handle))
    assert len(records) == 30 and records[0]["record_key"] == "a:1000.4636.158133"
    with (out / "resubmissions.csv").open(encoding="utf-8-sig", newline="") as handle:
        (resent,) = list(csv.DictReader(handle))
    assert resent["file_name"] == "resubmit.csv" and resent["records"] == "1"
    assert len(resent["sha256"]) == 64


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_a_pipe_given_as_the_sent_file_never_blocks_the_ledger(tmp_path: Path) -> None:
    # The reader refuses a pipe; nothing may open it meanwhile (a reader of a pipe without a
    # writer waits forever, and the process would never exit).
    pipe = tmp_path / "sent.csv"
    os.mkfifo(pipe)
    done = subprocess.run(
        [sys.executable, "-m", "reconciler", "reconcile", str(pipe), str(DEMO / "results.csv"),
         "--out", str(tmp_path / "out"), "--ledger", str(tmp_path / "ledger.sqlite")],
        env=dict(os.environ, PYTHONPATH=str(ROOT)), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert "is not a regular file" in done.stderr


def test_asking_the_history_does_not_create_a_ledger(tmp_path: Path) -> None:
    path = tmp_path / "none.sqlite"
    result = runner.invoke(app, ["history", "--ledger", str(path)])
    assert result.exit_code == 0
    assert "does not exist yet" in result.stdout
    assert not path.exists()


def test_the_run_says_where_it_was_recorded(tmp_path: Path) -> None:
    from reconciler.ledger.location import shown

    ledger = tmp_path / "ledger.sqlite"
    _code, stdout, _stderr = _reconcile(
        DEMO / "sent.csv", DEMO / "results.csv", "--out", tmp_path / "o", "--ledger", ledger
    )
    assert stdout.splitlines()[-1] == f"recorded in the ledger {ledger}"
    assert (
        shown("postgresql+psycopg://team:s3cret@db.example.com:5432/reconciler")
        == "postgresql+psycopg://team:***@db.example.com:5432/reconciler"
    )


# ------------------------------------------------ ledgers written before: the same database

EARLIER = ROOT / "tests" / "cases" / "ledger"


def _layout(path: Path) -> dict[str, object]:
    """Every table's columns (name, type, not null, key), foreign keys and indexes."""
    with sqlite3.connect(path) as conn:
        names = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
                "ORDER BY name"
            )
        ]
        return {
            name: (
                conn.execute(f"PRAGMA table_info('{name}')").fetchall(),
                conn.execute(f"PRAGMA foreign_key_list('{name}')").fetchall(),
                sorted(r[1:] for r in conn.execute(f"PRAGMA index_list('{name}')")),
            )
            for name in names
        }


def test_a_ledger_written_through_sqlalchemy_is_read_and_written_as_it_is(tmp_path: Path) -> None:
    # Two batches recorded by reconciler 0.1.0 when it reached the ledger through SQLAlchemy,
    # and the history it gave of them then.
    ledger = tmp_path / "ledger.sqlite"
    ledger.write_bytes((EARLIER / "written_through_sqlalchemy.sqlite").read_bytes())
    then = (EARLIER / "written_through_sqlalchemy.history.json").read_text("utf-8")
    result = runner.invoke(app, ["history", "--ledger", str(ledger), "--json"])
    assert result.exit_code == 0, result.output
    assert result.stdout == then
    # The demo again (its entry updated, not doubled) and a batch of its own.
    for folder in (DEMO, ROOT / "fixtures" / "no_errors"):
        code, _stdout, stderr = _reconcile(
            folder / "sent.csv", folder / "results.csv", "--out", tmp_path / folder.name,
            "--ledger", ledger,
        )  # fmt: skip
        assert code in (0, 1), stderr
    batches = _batches(str(ledger))
    earlier = json.loads(then)["batches"]
    assert sorted(int(str(b["id"])) for b in batches) == [1, 2, 3]
    demo = next(b for b in batches if b["batch_key"] == earlier[0]["batch_key"])
    assert (demo["id"], demo["out_dir"]) == (earlier[0]["id"], str(tmp_path / DEMO.name))
    assert all(isinstance(b["results_complete"], bool) for b in batches)
    opened = open_ledger(ledger_url(str(ledger)) or "")
    try:
        for entry in batches:
            got = opened.records_of(int(str(entry["id"])))
            assert got is not None and decode_records(got[1]).num_rows == entry["records"]
    finally:
        opened.close()
    # A ledger made now has the tables, columns, keys and indexes of one made then.
    fresh = tmp_path / "fresh.sqlite"
    open_ledger(ledger_url(str(fresh)) or "").close()
    assert _layout(fresh) == _layout(ledger)


def test_a_ledger_url_is_read_as_before_and_never_shows_its_password() -> None:
    from reconciler.ledger.store import DatabaseURL, describe, parse_url

    url = parse_url("postgresql+psycopg://te%40m:p%3Ass@[::1]:5433/recon?sslmode=require&a=b")
    assert (url.backend, url.driver, url.username, url.password) == (
        "postgresql", "psycopg", "te@m", "p:ss",
    )  # fmt: skip
    assert (url.host, url.port, url.database, dict(url.query)) == (
        "::1", 5433, "recon", {"sslmode": "require", "a": "b"},
    )  # fmt: skip
    assert url.shown() == "postgresql+psycopg://te%40m:***@[::1]:5433/recon?a=b&sslmode=require"
    assert "p:ss" not in repr(url) and "p%3Ass" not in repr(url)
    assert describe("sqlite:////data/ledger.sqlite") == "sqlite:////data/ledger.sqlite"
    assert describe("not a url") == "the ledger"
    assert parse_url("sqlite://") == DatabaseURL(backend="sqlite", driver="", text="sqlite://")


def test_an_sqlite_ledger_named_by_a_uri_is_opened_as_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    url = "sqlite:///file:named.sqlite?uri=true&cache=private"
    code, _stdout, stderr = _reconcile(
        DEMO / "sent.csv", DEMO / "results.csv", "--out", tmp_path / "o", "--ledger", url
    )
    assert code == 1, stderr
    assert (tmp_path / "named.sqlite").is_file()
    assert len(_batches(url)) == 1
