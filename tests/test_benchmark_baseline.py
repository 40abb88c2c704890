"""benchmarks/baseline.py: the script an analyst would write, and the scripts for the same job as
``--updates`` and a second batch (the references ``run.py`` and ``pairs.py --same-job`` time)."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "benchmarks" / "baseline.py"
PAIRS = ROOT / "benchmarks" / "pairs.py"

SENT = (
    "ActionId,Oid,ActionTrackerId,Amount,Reason\n"
    "1000.1.1,,,10.00,ITEM_RETURNED\n"  # line 2: changed as asked after the submission
    "1000.1.2,,,20.00,ITEM_RETURNED\n"  # line 3: changed, but to another amount
    "1000.1.3,,,30.00,ITEM_RETURNED\n"  # line 4: its only change came before
    "1000.1.4,,,40.00,ITEM_RETURNED\n"  # line 5: the updates do not list it
    ",405000000000000001,16027,50.00,ITEM_RETURNED\n"  # line 6: by its Oid, as asked
)
RESULTS = "Line,Message\n4,NO_CHANGE\n5,ACTION_NOT_FOUND\n"
UPDATES = (
    "Id,ActionId,Oid,CampaignId,State,Disposition,DeltaAmount,Amount,UpdateDate\n"
    "1000.1.1.2,1000.1.1,,1000,PENDING,ORDER_UPDATE,-5.00,10.00,2026-11-02T09:00:00Z\n"
    "1000.1.2.3,1000.1.2,,1000,PENDING,ORDER_UPDATE,0.00,20.00,2026-11-02T09:00:00Z\n"
    # The latest change of 1000.1.2 wins: another amount.
    "1000.1.2.4,1000.1.2,,1000,APPROVED,ORDER_UPDATE,-2.00,18.00,2026-11-03T09:00:00Z\n"
    "1000.1.3.2,1000.1.3,,1000,PENDING,ORDER_UPDATE,-5.00,30.00,2026-10-20T09:00:00Z\n"
    "1000.9.9.2,1000.9.9,405000000000000001,1000,PENDING,ORDER_UPDATE,-1.00,50.00,"
    "2026-11-02T09:00:00Z\n"
)
SUBMITTED = "2026-11-01T12:00:00Z"


def _files(tmp_path: Path) -> tuple[Path, Path, Path]:
    sent, results, updates = tmp_path / "sent.csv", tmp_path / "results.csv", tmp_path / "u.csv"
    sent.write_text(SENT, encoding="utf-8")
    results.write_text(RESULTS, encoding="utf-8")
    updates.write_text(UPDATES, encoding="utf-8")
    return sent, results, updates


def _script(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(BASELINE), *args],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_the_baseline_merges_on_the_line_and_counts_codes(tmp_path: Path) -> None:
    sent, results, _ = _files(tmp_path)
    out = tmp_path / "merged.csv"
    done = _script(str(sent), str(results), str(out))
    assert done.returncode == 0, done.stderr
    assert "NO_CHANGE" in done.stdout and "ACTION_NOT_FOUND" in done.stdout
    rows = _rows(out)
    assert [r["Line"] for r in rows] == ["2", "3", "4", "5", "6"]
    assert [r["Message"] for r in rows] == ["", "", "NO_CHANGE", "ACTION_NOT_FOUND", ""]


def test_the_updates_script_shows_each_records_latest_change_after_the_submission(
    tmp_path: Path,
) -> None:
    sent, results, updates = _files(tmp_path)
    out = tmp_path / "confirmed.csv"
    done = _script(str(sent), str(results), str(out), "--updates", str(updates), SUBMITTED)
    assert done.returncode == 0, done.stderr
    rows = _rows(out)
    assert [r["Confirmed"] for r in rows] == [
        "confirmed",  # 10.00 as asked
        "differs",  # the latest change shows 18.00, not 20.00
        "not_in_updates",  # its only change came before the submission
        "not_in_updates",  # not listed
        "confirmed",  # by its Oid
    ]
    assert [r["PlatformState"] for r in rows] == ["PENDING", "APPROVED", "", "", "PENDING"]
    assert rows[0]["ActionId"] == "1000.1.1" and rows[4]["Oid"] == "405000000000000001"
    assert list(rows[0])[:5] == ["ActionId", "Oid", "ActionTrackerId", "Amount", "Reason"]


def test_the_earlier_batch_script_gives_each_records_previous_outcome(tmp_path: Path) -> None:
    sent, results, _ = _files(tmp_path)
    earlier = tmp_path / "earlier.csv"
    # The batch before: the first record and the order only, the order rejected then.
    earlier.write_text(
        "ActionId,Oid,ActionTrackerId,Amount,Reason\n"
        "1000.1.1,,,12.00,ITEM_RETURNED\n"
        ",405000000000000001,16027,50.00,ITEM_RETURNED\n",
        encoding="utf-8",
    )
    earlier_results = tmp_path / "earlier_results.csv"
    earlier_results.write_text("Line,Message\n3,BAD_DISPOSITION\n", encoding="utf-8")
    out = tmp_path / "second.csv"
    done = _script(
        str(sent), str(results), str(out), "--earlier", str(earlier), str(earlier_results)
    )
    assert done.returncode == 0, done.stderr
    rows = _rows(out)
    assert [r["PreviousOutcome"] for r in rows] == ["accepted", "", "", "", "BAD_DISPOSITION"]
    assert [r["Attempt"] for r in rows] == ["2", "1", "1", "1", "2"]
    assert "Key" not in rows[0]


def test_the_script_says_how_to_run_it(tmp_path: Path) -> None:
    done = _script(str(tmp_path / "sent.csv"), "--updates")
    assert done.returncode == 1
    assert "baseline.py SENT RESULTS OUT --updates UPDATES SUBMITTED" in done.stderr
    assert "Traceback" not in done.stderr


def _pairs(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(PAIRS), *args],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def test_pairs_times_updates_against_the_script_for_the_same_job(tmp_path: Path) -> None:
    done = _pairs(
        "--records", "2000", "--pairs", "1", "--run", "updates", "--same-job",
        "--system-allocator", "--data", str(tmp_path / "data"), "--out", str(tmp_path / "out"),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    reference = "| pandas script, same job: updates, C library's allocator | "
    assert lines[3].startswith(reference), lines
    assert lines[4].startswith("| reconcile + updates | ")
    # The script ran on the generated updates: its merged file says what each record shows.
    rows = _rows(tmp_path / "out" / "pairs_baseline_2000.csv")
    assert len(rows) == 2000 and {r["Confirmed"] for r in rows} >= {"confirmed", "differs"}


def test_pairs_times_a_second_batch_against_the_script_for_the_same_job(tmp_path: Path) -> None:
    done = _pairs(
        "--records", "2000", "--pairs", "1", "--run", "second", "--same-job",
        "--data", str(tmp_path / "data"), "--out", str(tmp_path / "out"),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[3].startswith("| pandas script, same job: earlier batch | "), lines
    assert lines[4].startswith("| reconcile + ledger, second batch | ")
    # Every record was sent in the earlier batch (the same file, one byte longer).
    rows = _rows(tmp_path / "out" / "pairs_baseline_2000.csv")
    assert len(rows) == 2000 and {r["Attempt"] for r in rows} == {"2"}


def test_same_job_needs_a_run_that_has_a_script(tmp_path: Path) -> None:
    for extra in (["--run", "all"], ["--run", "updates", "--before", str(ROOT)]):
        done = _pairs("--records", "10", "--same-job", *extra)
        assert done.returncode == 2
        assert "--same-job times --run updates or --run second" in done.stderr
        assert "Traceback" not in done.stderr


def test_the_system_allocator_is_for_the_script_only() -> None:
    done = _pairs("--records", "10", "--system-allocator", "--before", str(ROOT))
    assert done.returncode == 2
    assert "--system-allocator is for the pandas script" in done.stderr
    assert "Traceback" not in done.stderr
