"""End-to-end scenarios: every fixture folder reconciled and checked against its hand-written
oracle (``expected.csv``, ``expected_unmatched.csv``), plus golden output files for the README demo.

Golden files live in ``tests/golden/<scenario>/``. A missing golden file fails the test. To
regenerate after an intended change, run ``RECONCILER_UPDATE_GOLDEN=1 pytest tests/test_fixtures_e2e.py``
and review the diff; on a mismatch the actual file is written beside the golden one as ``*.actual``.
"""

from __future__ import annotations

import csv
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from reconciler.errors import ReconcilerError
from reconciler.pipeline import ReconcileOptions, reconcile, write_outputs
from tests.helpers import scenario_inputs

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
GOLDEN = Path(__file__).resolve().parent / "golden"
FIXED_NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
SCENARIOS = sorted(p.name for p in FIXTURES.iterdir() if (p / "expected.csv").exists())


def _input(folder: Path, stem: str) -> Path:
    return next(p for p in sorted(folder.iterdir()) if p.stem == stem)


def _rel(path: Path) -> Path:
    return path.relative_to(ROOT)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_fixture_matches_its_oracle(scenario: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    folder = FIXTURES / scenario
    rec = reconcile(*scenario_inputs(folder, ROOT))
    with (folder / "expected.csv").open(newline="", encoding="utf-8") as fh:
        expected = [
            (int(r["SourceLine"]), r["Outcome"], r["ErrorCodes"], r["TiedBy"])
            for r in csv.DictReader(fh)
        ]
    got = [
        (int(a), str(b), str(c), str(d))
        for a, b, c, d in zip(
            rec.records["SourceLine"],
            rec.records["Outcome"],
            rec.records["ErrorCodes"],
            rec.records["TiedBy"],
            strict=True,
        )
    ]
    assert got == expected
    expected_unmatched: list[tuple[int, str]] = []
    if (folder / "expected_unmatched.csv").exists():
        with (folder / "expected_unmatched.csv").open(newline="", encoding="utf-8") as fh:
            expected_unmatched = [(int(r["ResultRow"]), r["Reason"]) for r in csv.DictReader(fh)]
    got_unmatched = [
        (int(a), str(b))
        for a, b in zip(rec.unmatched["ResultRow"], rec.unmatched["Reason"], strict=True)
    ]
    assert sorted(got_unmatched) == sorted(expected_unmatched)


REFUSALS = sorted(p.name for p in FIXTURES.iterdir() if (p / "expected_refusal.txt").exists())


@pytest.mark.parametrize("scenario", REFUSALS)
def test_fixture_refused_as_its_oracle_says(scenario: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Scenarios whose results cannot be this file's: one line with the evidence, exit 2."""
    folder = FIXTURES / scenario
    monkeypatch.chdir(folder)
    with pytest.raises(ReconcilerError) as caught:
        reconcile(*scenario_inputs(folder, folder))
    assert caught.value.exit_code == 2
    assert (
        str(caught.value) == (folder / "expected_refusal.txt").read_text(encoding="utf-8").strip()
    )


GOLDEN_SCENARIOS = ["modification_view_errors", "item_modification_xlsx", "modification_ftp_json"]
GOLDEN_FILES = [
    "reconciled.csv",
    "unmatched_results.csv",
    "summary.json",
    "resubmit.csv",
    "changes.csv",
    "needs-attention.csv",
]


@pytest.mark.parametrize("scenario", GOLDEN_SCENARIOS)
def test_outputs_match_golden_files(
    scenario: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    folder = FIXTURES / scenario
    rec = reconcile(*scenario_inputs(folder, ROOT), ReconcileOptions(now=FIXED_NOW))
    out = tmp_path / "out"
    written = write_outputs(rec, out)
    update = os.environ.get("RECONCILER_UPDATE_GOLDEN") == "1"
    gold = GOLDEN / scenario
    problems: list[str] = []
    for name in GOLDEN_FILES:
        actual = out / name
        golden = gold / name
        if update:
            gold.mkdir(parents=True, exist_ok=True)
            if actual.exists():
                golden.write_bytes(actual.read_bytes())
            elif golden.exists():
                golden.unlink()
            continue
        if not actual.exists():
            if golden.exists():
                problems.append(f"{name}: expected (golden exists) but not written")
            continue
        if not golden.exists():
            problems.append(
                f"{name}: no golden file {golden} (run with RECONCILER_UPDATE_GOLDEN=1)"
            )
            continue
        if actual.read_bytes() != golden.read_bytes():
            golden.with_name(name + ".actual").write_bytes(actual.read_bytes())
            problems.append(f"{name}: differs from {golden} (see {name}.actual)")
    assert not problems, "\n".join(problems)
    assert "summary.json" in written
