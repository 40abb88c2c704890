"""End-to-end scenarios: every fixture folder reconciled and checked against its hand-written
oracle (``expected.csv``, ``expected_unmatched.csv``), plus golden output files for the README demo.

Golden files live in ``tests/golden/<scenario>/`` (see ``tests/goldens.py``): a missing golden
fails; on a mismatch the actual file is written to the git-ignored ``tests/actual/``. To
regenerate after an intended change, run ``RECONCILER_UPDATE_GOLDEN=1 pytest`` and review the diff.
"""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

import pytest

from reconciler.errors import ReconcilerError
from reconciler.pipeline import ReconcileOptions, reconcile, write_outputs
from tests import goldens
from tests.helpers import scenario_inputs

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
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
    problems = goldens.compare(
        scenario,
        {
            name: (out / name).read_bytes() if (out / name).exists() else None
            for name in GOLDEN_FILES
        },
    )
    assert not problems, "\n".join(problems)
    assert "summary.json" in written


CHECK_GOLDEN_SCENARIOS = ["modification_view_errors", "item_modification_xlsx"]
CHECK_FILES = ["check.csv", "check.json", "sent.fixed.csv", "changes.csv"]


@pytest.mark.parametrize("scenario", CHECK_GOLDEN_SCENARIOS)
def test_check_outputs_match_golden_files(
    scenario: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``reconciler check --fix`` on a fixture's sent file, byte for byte."""
    from typer.testing import CliRunner

    from reconciler.cli import app

    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1764244800")  # 2025-11-27
    sent, _ = scenario_inputs(FIXTURES / scenario, ROOT)
    out = tmp_path / "checked"
    done = CliRunner().invoke(
        app, ["check", str(sent), "--fix", "--today", "2025-02-20", "-o", str(out)]
    )
    assert done.exit_code in (0, 1), done.output
    problems = goldens.compare(
        f"check_{scenario}",
        {
            name: (out / name).read_bytes() if (out / name).exists() else None
            for name in CHECK_FILES
        },
    )
    assert not problems, "\n".join(problems)
