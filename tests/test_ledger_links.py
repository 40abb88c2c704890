"""What the ledger changes in a run: each record's attempts (Attempt, PreviousBatch,
PreviousOutcome), corrections never resubmitted twice (unless --again), the 1,000 cap counted
across batches, reconciling a batch again changing nothing. On SQLite and PostgreSQL. And the
key that ties a record to its earlier attempts, made as defined whatever the arrays."""

from __future__ import annotations

import csv
import json
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.ledger import ledger_url
from reconciler.ledger.entries import (
    DECODED_SCHEMA,
    RECORD_SCHEMA,
    compose_keys,
    decode_records,
    encode_records,
)
from reconciler.ledger.schema import SCHEMA_VERSION
from reconciler.ledger.store import open_ledger, own_entry
from tests.test_ledger import DEMO, _batches, _reconcile

ROOT = Path(__file__).resolve().parent.parent
NO_ERRORS = ROOT / "fixtures" / "no_errors" / "results.csv"
BAD_LINE = 7  # the demo's record corrected automatically (Reason 'item returned')


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def _run(ledger: str, sent: Path, *files: Path, extra: tuple[str, ...] = ()) -> str:
    """Reconcile ``sent`` with its results (every file but the last) into the last."""
    *results, out = files
    code, stdout, stderr = _reconcile(sent, *results, "--out", out, "--ledger", ledger, *extra)
    assert code in (0, 1), stderr
    return stdout


def _copy(tmp_path: Path, name: str) -> Path:
    """The demo's sent file under another name, one byte different (another batch)."""
    path = tmp_path / name
    path.write_bytes((DEMO / "sent.csv").read_bytes() + b"\n")
    return path


def test_a_resubmission_names_its_attempt_and_the_batch_before(ledger: str, tmp_path: Path) -> None:
    _run(ledger, DEMO / "sent.csv", DEMO / "results.csv", tmp_path / "first")
    first = _rows(tmp_path / "first" / "reconciled.csv")
    assert {r["Attempt"] for r in first} == {"1"}
    assert {r["PreviousBatch"] for r in first} == {""}
    # The resubmission written, sent as a batch of its own, and accepted.
    resubmit = tmp_path / "resubmit-sent.csv"
    shutil.copyfile(tmp_path / "first" / "resubmit.csv", resubmit)
    stdout = _run(ledger, resubmit, NO_ERRORS, tmp_path / "second")
    (row,) = _rows(tmp_path / "second" / "reconciled.csv")
    assert (row["Outcome"], row["Attempt"], row["PreviousBatch"], row["PreviousOutcome"]) == (
        "accepted",
        "2",
        "sent.csv",
        "rejected: BAD_DISPOSITION",
    )
    assert "1 record sent before (Attempt, PreviousBatch)" in stdout
    history = json.loads((tmp_path / "second" / "summary.json").read_text())["history"]
    assert history["batches_before"] == 1 and history["records_seen_before"] == 1
    assert [p["batch"] for p in history["trend"]] == ["sent.csv", "resubmit-sent.csv"]
    assert [p["this_run"] for p in history["trend"]] == [False, True]


def test_the_same_correction_is_not_resubmitted_twice(ledger: str, tmp_path: Path) -> None:
    _run(ledger, DEMO / "sent.csv", DEMO / "results.csv", tmp_path / "first")
    written = (tmp_path / "first" / "resubmit.csv").read_bytes()
    # The same records sent again in another file, with the same errors.
    again = _copy(tmp_path, "sent-again.csv")
    stdout = _run(ledger, again, DEMO / "results.csv", tmp_path / "second")
    out = tmp_path / "second"
    assert not (out / "resubmit.csv").exists()
    held = [r for r in _rows(out / "needs-attention.csv") if r["SourceLine"] == str(BAD_LINE)]
    assert len(held) == 1 and held[0]["Resolution"] == "review"
    assert held[0]["Advice"].startswith(
        "This same correction is already in resubmit.csv written for sent.csv (reconciled "
    )
    assert "reconcile with --again to send it anyway" in held[0]["Advice"]
    assert "1 corrected record was left out of the resubmission" in stdout
    summary = json.loads((out / "summary.json").read_text())
    assert summary["history"]["already_sent"] == 1 and summary["resubmit_records"] == 0
    # --again sends it: the same row as the first time.
    _run(ledger, again, DEMO / "results.csv", tmp_path / "third", extra=("--again",))
    assert (tmp_path / "third" / "resubmit.csv").read_bytes() == written


def test_a_correction_already_accepted_is_not_sent_again(ledger: str, tmp_path: Path) -> None:
    _run(ledger, DEMO / "sent.csv", DEMO / "results.csv", tmp_path / "first")
    resubmit = tmp_path / "resubmit-sent.csv"
    shutil.copyfile(tmp_path / "first" / "resubmit.csv", resubmit)
    _run(ledger, resubmit, NO_ERRORS, tmp_path / "second")  # sent and accepted
    _run(ledger, _copy(tmp_path, "sent-again.csv"), DEMO / "results.csv", tmp_path / "third")
    (held,) = [
        r
        for r in _rows(tmp_path / "third" / "needs-attention.csv")
        if r["SourceLine"] == str(BAD_LINE)
    ]
    assert held["Advice"].startswith(
        "This corrected row was already sent, exactly, in resubmit-sent.csv (reconciled "
    )
    assert "and accepted: it is applied" in held["Advice"]
    assert not (tmp_path / "third" / "resubmit.csv").exists()


def test_reconciling_a_batch_again_changes_nothing(ledger: str, tmp_path: Path) -> None:
    _run(ledger, DEMO / "sent.csv", DEMO / "results.csv", tmp_path / "first")
    stdout = _run(ledger, DEMO / "sent.csv", DEMO / "results.csv", tmp_path / "second")
    for name in ("reconciled.csv", "resubmit.csv", "needs-attention.csv"):
        assert (tmp_path / "first" / name).read_bytes() == (
            tmp_path / "second" / name
        ).read_bytes(), name
    assert "this batch was reconciled before: its entry is updated" in stdout
    history = json.loads((tmp_path / "second" / "summary.json").read_text())["history"]
    assert history["recorded_before"] is True and history["batches_before"] == 0
    assert len(_batches(ledger)) == 1


def test_results_naming_the_batch_later_update_the_same_entry(tmp_path: Path) -> None:
    # Recorded first from results without a BatchId, then from results that name it.
    entries = [(1, "file:abc", None, "abc"), (2, "batch:77", "77", "def")]
    assert own_entry(entries, "88", "abc") == 1  # adopted: the same file, no BatchId yet
    assert own_entry(entries, "77", "zzz") == 2
    assert own_entry(entries, None, "def") == 2  # no BatchId now: the same file's entry
    assert own_entry(entries, "99", "def") is None  # the same file sent again as a new batch


def test_modifications_in_earlier_batches_count_toward_the_cap(ledger: str, tmp_path: Path) -> None:
    header = "ActionId,Oid,ActionTrackerId,Amount,CurrencyCode,CustomerStatus,Reason\n"
    action = "1000.4636.777001"
    earlier = tmp_path / "earlier.csv"
    earlier.write_text(
        header + "".join(f"{action},,,{i}.00,USD,,ORDER_UPDATE\n" for i in range(1, 1000)),
        encoding="utf-8",
    )
    _run(ledger, earlier, NO_ERRORS, tmp_path / "first")  # 999 applied
    now = tmp_path / "now.csv"
    now.write_text(header + f"{action},,,5.00,USD,,item returned\n", encoding="utf-8")
    results = tmp_path / "results.csv"
    results.write_text(
        "Line,Order Id,Action Tracker Id,Error Type,Message\n2,,,Validation,BAD_DISPOSITION\n",
        encoding="utf-8",
    )
    _run(ledger, now, results, tmp_path / "second")
    (row,) = _rows(tmp_path / "second" / "needs-attention.csv")
    assert row["Resolution"] == "contact_support"
    assert row["Advice"].startswith(
        "This action has 1 modifications in the file, 999 in earlier batches (the ledger's), "
        "and 1 would be resent; impact.com allows 1000 per action"
    )
    assert not (tmp_path / "second" / "resubmit.csv").exists()


def test_a_ledger_of_the_first_schema_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    opened = open_ledger(ledger_url(str(path)) or "")
    opened.close()
    with sqlite3.connect(path) as conn:  # as the first version left it
        conn.execute("DROP INDEX ix_batches_sent_sha256")
        conn.execute("UPDATE ledger_meta SET value = '1' WHERE key = 'schema_version'")
    opened = open_ledger(ledger_url(str(path)) or "")
    opened.close()
    with sqlite3.connect(path) as conn:
        version = conn.execute("SELECT value FROM ledger_meta").fetchone()[0]
        indexes = {r[1] for r in conn.execute("PRAGMA index_list('batches')")}
    assert version == str(SCHEMA_VERSION) == "2"
    assert "ix_batches_sent_sha256" in indexes


def test_records_of_the_first_format_are_read_with_no_corrections() -> None:
    first = pa.schema(
        [
            ("position", pa.int32()),
            ("line", pa.int64()),
            ("record_key", pa.string()),
            ("content_hash", pa.int64()),
            ("outcome", pa.string()),
            ("codes", pa.string()),
            ("resolution", pa.string()),
            ("resubmit_file", pa.string()),
        ]
    )
    row = {
        "position": 0,
        "line": 2,
        "record_key": "a:1",
        "content_hash": 5,
        "outcome": "accepted",
        "codes": "",
        "resolution": "none",
        "resubmit_file": "",
    }
    got = decode_records(encode_records(pa.Table.from_pylist([row], schema=first)))
    assert got.schema.names == DECODED_SCHEMA.names
    assert got.column("record_key").to_pylist() == ["a:1"]
    assert got.column("correction_hash").to_pylist() == [None]


def test_keys_are_made_from_the_identifiers_kept() -> None:
    table = pa.Table.from_pylist(
        [
            {"action_id": "1000.1", "oid": "", "action_tracker_id": ""},
            {"action_id": "", "oid": "A7", "action_tracker_id": "16027"},
            {"action_id": "", "oid": "A8", "action_tracker_id": ""},
            {"action_id": "", "oid": "", "action_tracker_id": "16027"},
        ],
        schema=pa.schema(
            [RECORD_SCHEMA.field(n) for n in ("action_id", "oid", "action_tracker_id")]
        ),
    )
    n = table.num_rows
    for name in RECORD_SCHEMA.names:
        if name not in table.column_names:
            table = table.append_column(
                RECORD_SCHEMA.field(name), pa.nulls(n, RECORD_SCHEMA.field(name).type)
            )
    table = table.select(RECORD_SCHEMA.names)
    got = decode_records(encode_records(table))
    assert got.column("record_key").to_pylist() == ["a:1000.1", "o:A7|16027", "o:A8", ""]


@pytest.mark.parametrize("again", [False, True])
def test_without_a_ledger_the_columns_are_blank(tmp_path: Path, again: bool) -> None:
    code, _stdout, stderr = _reconcile(
        DEMO / "sent.csv",
        DEMO / "results.csv",
        "--out",
        tmp_path / "out",
        "--no-ledger",
        *(["--again"] if again else []),
    )
    assert code == 1, stderr
    rows = _rows(tmp_path / "out" / "reconciled.csv")
    assert {(r["Attempt"], r["PreviousBatch"], r["PreviousOutcome"]) for r in rows} == {
        ("", "", "")
    }
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["history"] is None


def test_the_report_shows_the_trend_and_each_records_attempts(tmp_path: Path) -> None:
    ledger = str(tmp_path / "ledger.sqlite")
    _run(ledger, DEMO / "sent.csv", DEMO / "results.csv", tmp_path / "first")
    first = (tmp_path / "first" / "report.html").read_text(encoding="utf-8")
    assert 'id="chart-trend-t"' not in first  # nothing earlier to compare with
    assert ">Sent before<" not in first
    assert "0 other batches known" in first
    _run(ledger, _copy(tmp_path, "sent-again.csv"), DEMO / "results.csv", tmp_path / "second")
    report = (tmp_path / "second" / "report.html").read_text(encoding="utf-8")
    assert 'id="chart-trend-t"' in report and "Accepted, batch by batch" in report
    assert "sent-again.csv · " in report and "(this run)" in report
    assert "66.7% of 30" in report
    assert ">Sent before<" in report
    assert "Attempt 2: last sent in sent.csv (rejected: BAD_DISPOSITION)" in report
    assert "1 other batch known; 30 records sent before; 1 held back: sent before" in report


def test_the_same_file_sent_again_as_another_batch_is_a_second_attempt(tmp_path: Path) -> None:
    paged = ROOT / "fixtures" / "paged_error_details"
    names = ("submission.json", "results-page1.json", "results-page2.json")
    ledger = str(tmp_path / "ledger.sqlite")
    _run(ledger, paged / "sent.csv", *(paged / n for n in names), tmp_path / "first")
    other = tmp_path / "other"
    other.mkdir()
    for name in names:  # the same file's results, under another BatchId
        text = (paged / name).read_text(encoding="utf-8")
        (other / name).write_text(
            text.replace("F-7d3e52a1-4b0c-4e8f-9a61-2c5d8e0f9b13", "F-00000000-second"),
            encoding="utf-8",
        )
    _run(ledger, paged / "sent.csv", *(other / n for n in names), tmp_path / "second")
    rows = _rows(tmp_path / "second" / "reconciled.csv")
    assert {r["Attempt"] for r in rows} == {"2"}
    assert {r["PreviousBatch"] for r in rows} == {"F-7d3e52a1-4b0c-4e8f-9a61-2c5d8e0f9b13"}
    assert len(_batches(ledger)) == 2


def test_records_naming_nothing_tie_to_nothing(ledger: str, tmp_path: Path) -> None:
    # Two rows with neither ActionId nor Oid, in two batches: each is its own first attempt,
    # not the other's second, while the rows that name an action are tied across batches.
    lines = (DEMO / "sent.csv").read_text(encoding="utf-8").splitlines()
    body = [*lines, ",,,5.00,USD,,ORDER_UPDATE", ",,,6.00,USD,,ORDER_UPDATE"]
    first = tmp_path / "first.csv"
    first.write_text("\n".join(body) + "\n", encoding="utf-8")
    second = tmp_path / "second.csv"
    second.write_text("\n".join(body) + "\n\n", encoding="utf-8")
    _run(ledger, first, DEMO / "results.csv", tmp_path / "one")
    _run(ledger, second, DEMO / "results.csv", tmp_path / "two")
    rows = _rows(tmp_path / "two" / "reconciled.csv")
    blank = [r for r in rows if not r["ActionId"] and not r["Oid"]]
    assert len(blank) == 2
    assert {r["Attempt"] for r in blank} == {"1"}
    assert {r["PreviousBatch"] for r in blank} == {""}
    named = [r for r in rows if r["ActionId"] or r["Oid"]]
    assert {r["Attempt"] for r in named} == {"2"}


# --------------------------------------------------------------------------- record keys


def _key(aid: str | None, oid: str | None, trk: str | None) -> str:
    """A record's key by its definition, one record at a time."""
    aid, oid, trk = aid or "", oid or "", trk or ""
    if aid:
        return "a:" + aid
    if oid:
        escaped = oid.replace("\\", "\\\\").replace("|", "\\|")
        return "o:" + escaped + ("|" + trk if trk else "")
    return ""


_IDS = st.one_of(
    st.none(),
    st.sampled_from(["", "", "7", "x|y", "x", "y", "y|", "|y", "a:", "o:1", "ü", " 2 ", "00"]),
    st.sampled_from(["x\\", "x\\|y", "\\", "|", "x\\\\|y"]),
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(_IDS, _IDS, _IDS), max_size=30),
    st.integers(0, 3),
    st.sampled_from([pa.string(), pa.large_string()]),
)
def test_record_keys_are_made_by_their_definition(
    rows: list[tuple[str | None, str | None, str | None]], cut: int, kind: pa.DataType
) -> None:
    # The identifiers as arrays (nulls among them, and slices that start inside a buffer, as
    # a chunk of a stream read back gives them).
    parts = [pa.array([r[i] for r in rows], type=kind).slice(min(cut, len(rows))) for i in range(3)]
    keys = compose_keys(*parts)
    assert keys.to_pylist() == [_key(*r) for r in rows[min(cut, len(rows)) :]]
    assert keys.type == kind and keys.null_count == 0


# Few, short identifiers of bars and backslashes, so that one Oid often starts another.
_BARS = st.sampled_from([None, "", "x", "x|x", "x|", "|x", "|", "\\", "x\\", "x\\|x", "\\|"])


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from([None, "", "x|x"]), _BARS, _BARS), min_size=2, max_size=12)
)
def test_two_records_share_a_key_only_when_they_name_the_same_identifiers(
    rows: list[tuple[str | None, str | None, str | None]],
) -> None:
    """An Oid holding ``|`` or ``\\`` alone and a shorter Oid with a tracker (``x|y`` and
    ``x`` with ``y``) were one key, so the ledger tied one record's history to the other."""
    parts = [pa.array([r[i] for r in rows], type=pa.string()) for i in range(3)]
    keys = compose_keys(*parts).to_pylist()

    def named(aid: str | None, oid: str | None, trk: str | None) -> tuple[str, ...]:
        aid, oid, trk = aid or "", oid or "", trk or ""
        return ("a", aid) if aid else ("o", oid, trk) if oid else ()

    for i, a in enumerate(rows):
        for j, b in enumerate(rows):
            if keys[i] and keys[j]:
                assert (keys[i] == keys[j]) == (named(*a) == named(*b)), (a, b, keys[i])


def test_an_oid_holding_a_bar_is_not_the_shorter_oid_with_a_tracker() -> None:
    keys = compose_keys(
        pa.array(["", "", ""]), pa.array(["X|T", "X", "X\\"]), pa.array(["", "T", "|T"])
    )
    assert keys.to_pylist() == ["o:X\\|T", "o:X|T", "o:X\\\\||T"]
    assert len(set(keys.to_pylist())) == 3


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 9), st.integers(0, 3)), max_size=40),
    st.booleans(),
)
def test_batches_per_key_count_each_batch_once(rows: list[tuple[int, int]], flags: bool) -> None:
    # A record sent twice in one batch is one batch; both ways of counting agree.
    from reconciler.ledger import past

    codes = np.array([k for k, _ in rows], dtype=np.int64)
    rank = np.array([b for _, b in rows], dtype=np.int64)
    expected = [len({b for k2, b in rows if k2 == k}) for k in range(10)]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(past, "_PAIR_FLAGS", 1 << 24 if flags else 0)
        assert past._batches_per_key(codes, rank, 10, 4).tolist() == expected


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.lists(
            st.tuples(
                st.integers(1, 3),
                st.sampled_from(["accepted", "rejected", None]),
                st.sampled_from(["", "NO_CHANGE", "BAD_DISPOSITION;NO_CHANGE", None]),
            ),
            max_size=6,
        ),
        min_size=1,
        max_size=4,
    ),
    st.lists(st.integers(0, 10**6), min_size=1, max_size=40),
)
def test_each_row_has_the_kind_of_its_own_values(
    chunks: list[list[tuple[int, str | None, str | None]]], picks: list[int]
) -> None:
    # The ledger's rows in chunks (one per batch read), asked for most of them or a few:
    # each row's kind is its own values, a null its own value, never another's.
    from reconciler.ledger.past import _combinations

    flat = [row for chunk in chunks for row in chunk]
    if not flat:
        return
    table = pa.Table.from_batches(
        [
            pa.record_batch(
                [
                    pa.array([r[0] for r in chunk], pa.int32()),
                    pa.array([r[1] for r in chunk], pa.string()),
                    pa.array([r[2] for r in chunk], pa.string()),
                ],
                names=["entry", "outcome", "codes"],
            )
            for chunk in chunks
        ]
    )
    rows = np.array([p % len(flat) for p in picks], dtype=np.int64)
    kinds, which = _combinations(table, rows, ("entry", "outcome", "codes"))
    assert [kinds[k] for k in which.tolist()] == [flat[r] for r in rows.tolist()]
    assert len(set(kinds)) == len(kinds)
