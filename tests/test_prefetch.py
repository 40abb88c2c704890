"""Reading ahead (``reconciler.readers.prefetch``): which files a command line names, and that a read
made ahead changes nothing the reader returns.

The read ahead is only a head start: ``readers.read_table`` must give the very table a plain
read gives, take the bytes only of an unchanged file, and take Arrow's parse only for the
layout it works out itself. The command-level check runs the real ``python -m reconciler``
with it on and off and compares every output byte for byte.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from reconciler.readers import layout as delimited
from reconciler.readers import prefetch, read_table

SENT = "ActionId,Oid,ActionTrackerId,Amount,Reason\n" + "".join(
    f"1000.1.{i},,,{i}.00,ORDER_UPDATE\n" for i in range(1, 200)
)
RESULTS = "Line,Action Id,Message\n3,1000.1.2,NO_CHANGE\n9,1000.1.8,ALREADY_LOCKED\n"


@pytest.fixture(autouse=True)
def _clean() -> Iterator[None]:
    prefetch._jobs.clear()
    yield
    prefetch._jobs.clear()


def _files(tmp_path: Path) -> tuple[Path, Path]:
    sent, results = tmp_path / "sent.csv", tmp_path / "results.csv"
    sent.write_text(SENT, encoding="utf-8")
    results.write_text(RESULTS, encoding="utf-8")
    return sent, results


def _wait() -> None:
    for job in list(prefetch._jobs.values()):
        job.parsed.wait(10)


def _same(a: object, b: object) -> None:
    assert isinstance(a, type(b))
    for name in ("header", "header_line", "encoding", "delimiter", "format", "path"):
        assert getattr(a, name) == getattr(b, name), name
    assert list(a.lines) == list(b.lines)  # type: ignore[attr-defined]
    pd.testing.assert_frame_equal(a.frame, b.frame)  # type: ignore[attr-defined]


def test_reads_ahead_only_the_files_a_reconcile_or_check_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent, results = _files(tmp_path)
    other = tmp_path / "map.toml"
    other.write_text("", encoding="utf-8")
    prefetch.start(["reconcile", "--out", str(tmp_path), str(other), str(sent), str(results)])
    assert prefetch.pending() == sorted([str(sent), str(results)])
    prefetch._jobs.clear()
    prefetch.start(["check", str(tmp_path / "missing.csv"), str(sent)])
    assert prefetch.pending() == [str(sent)]
    prefetch._jobs.clear()
    prefetch.start(["catalogue", str(sent)])
    assert prefetch.pending() == []
    monkeypatch.setenv("RECONCILER_PREFETCH", "0")
    prefetch.start(["reconcile", str(sent), str(results)])
    assert prefetch.pending() == []
    _wait()


def test_a_read_ahead_gives_the_table_a_plain_read_gives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent, results = _files(tmp_path)
    plain = read_table(sent), read_table(results)
    prefetch.start(["reconcile", str(sent), str(results)])
    _wait()
    # The reader parses nothing itself: Arrow's parse made ahead is taken.
    calls: list[int] = []
    real = delimited.arrow_read
    monkeypatch.setattr(delimited, "arrow_read", lambda *a, **k: calls.append(1) or real(*a, **k))
    ahead = read_table(sent), read_table(results)
    assert calls == []
    for a, b in zip(ahead, plain, strict=True):
        _same(a, b)
    assert prefetch.pending() == []  # each read ahead is released once used


def test_a_file_changed_after_the_read_ahead_is_read_again(tmp_path: Path) -> None:
    sent, results = _files(tmp_path)
    prefetch.start(["reconcile", str(sent), str(results)])
    _wait()
    changed = SENT.replace("ORDER_UPDATE", "ORDER_ERROR")  # same size, new content
    sent.write_text(changed, encoding="utf-8")
    os.utime(sent, ns=(0, 1_000_000_000))  # a different modification time
    table = read_table(sent)
    assert set(table.frame["Reason"]) == {"ORDER_ERROR"}
    _same(table, read_table(sent))


def test_a_layout_the_reader_does_not_share_is_parsed_again(tmp_path: Path) -> None:
    """A guess that differs from the reader's (here: UTF-16 text, which the reader re-encodes)
    is never used; nor is a read whose parse Arrow refused (ragged rows)."""
    utf16 = tmp_path / "sent16.csv"
    utf16.write_bytes(SENT.encode("utf-16"))
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("a,b\n1,2\n3\n4,5\n", encoding="utf-8")
    plain = read_table(utf16), read_table(ragged)
    prefetch.start(["check", str(utf16), str(ragged)])
    _wait()
    for a, b in zip((read_table(utf16), read_table(ragged)), plain, strict=True):
        _same(a, b)


def _run(tmp_path: Path, sent: Path, results: Path, out: str, on: bool) -> dict[str, bytes]:
    # Each run records in an empty ledger at the same place: summary.json names it, and says
    # whether the batch was recorded before.
    ledger = tmp_path / "ledger.sqlite"
    for leftover in tmp_path.glob("ledger.sqlite*"):
        leftover.unlink()
    env = {
        **os.environ,
        "RECONCILER_LEDGER": str(ledger),
        "SOURCE_DATE_EPOCH": "1790000000",
        "RECONCILER_PREFETCH": "1" if on else "0",
    }
    folder = tmp_path / out
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "reconciler",
            "reconcile",
            str(sent),
            str(results),
            "--out",
            str(folder),
        ],
        env=env,
        capture_output=True,
        timeout=120,
    )
    assert done.returncode in (0, 1), done.stderr.decode()
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_the_command_writes_the_same_outputs_with_and_without_reading_ahead(
    tmp_path: Path,
) -> None:
    sent, results = _files(tmp_path)
    on = _run(tmp_path, sent, results, "on", on=True)
    off = _run(tmp_path, sent, results, "off", on=False)
    assert on.keys() == off.keys()
    for name in on:
        assert on[name] == off[name], name
