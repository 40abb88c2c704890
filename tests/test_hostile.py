"""The hostile-input corpus through the real ``reconcile`` command (typer's CliRunner).

Refusals: exit 2, stderr exactly one line ``reconciler: <file>[:<line>]: <fragment...>``, no
traceback, and nothing written (no output folder, no staging folder left beside it). Normal
runs: the exit code, outputs that pass the case's check, stderr lines all ``reconciler: ...``.
The corpus itself lives in ``tests/hostile_cases.py``.
"""

from __future__ import annotations

import importlib.util
import os
import re
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from typer.testing import CliRunner

from reconciler.cli import app
from reconciler.readers import limits
from tests.hostile_cases import (
    CASES,
    DEMO,
    HTML_PAYLOADS,
    NORMAL,
    REFUSED,
    RESULTS,
    SENT,
    Case,
)

runner = CliRunner()
CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
HAS_REPORTS = importlib.util.find_spec("reports") is not None
ROOT = Path(__file__).resolve().parent.parent


def _params(cases: list[Case]) -> list[object]:
    params: list[object] = []
    for case in cases:
        marks = []
        if case.known_bug:
            marks.append(pytest.mark.xfail(strict=True, reason=f"BUG: {case.known_bug}"))
        params.append(pytest.param(case, id=case.name, marks=marks))
    return params


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def _names(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def run_case(
    case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, light: bool = True
) -> tuple[int, str, str, Path, Path]:
    """Build the hostile argument, run ``reconcile``; (exit, stdout, stderr, hostile, out)."""
    for name, value in case.limits.items():
        monkeypatch.setattr(limits, name, value)
    work = tmp_path / "work"
    work.mkdir()
    hostile = case.build(work)
    if case.needs_unprivileged and os.access(hostile, os.R_OK):
        # Root ignores permission bits: make the open itself fail as it would for a user.
        real_open = Path.open

        def denied(self: Path, *args: Any, **kwargs: Any) -> Any:
            if self == hostile:
                raise PermissionError(13, "Permission denied", str(self))
            return real_open(self, *args, **kwargs)

        monkeypatch.setattr(Path, "open", denied)
    sent, results, out = SENT, RESULTS, tmp_path / "out"
    if case.role == "sent":
        sent = hostile
    elif case.role == "results":
        results = hostile
    elif case.role == "out":
        out = hostile
    extra = {"reason-map": ["--reason-map", str(hostile)], "actions": ["--actions", str(hostile)]}
    if case.name == "option-sheet-missing":
        sent = DEMO.parent / "modification_sent_xlsx" / "sent.xlsx"
    options = [arg.format(work=work) for arg in case.args]
    args = ["reconcile", str(sent), str(results), "--out", str(out), *options]
    args += extra.get(case.role, [])
    if light:
        args += ["--no-report", "--no-xlsx"]
    OUT_BEFORE[case.name] = _snapshot(out) if out.is_dir() else {}
    result = runner.invoke(app, args)
    return result.exit_code, result.stdout, result.stderr, hostile, out


OUT_BEFORE: dict[str, dict[str, bytes]] = {}  # --out as it was just before the run


def _stray_staging(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".") and ".tmp" in p.name)


@pytest.mark.parametrize("case", _params(REFUSED))
def test_refused_with_one_line(case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = _names(tmp_path)
    code, stdout, stderr, hostile, out = run_case(case, tmp_path, monkeypatch)
    assert "Traceback" not in stdout + stderr
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    line = lines[0]
    assert line.startswith("reconciler: "), line
    assert not CONTROL.search(line), repr(line)  # nothing that could drive a terminal
    if case.role != "option" and not CONTROL.search(str(hostile)):
        assert str(hostile) in line or str(hostile.resolve()) in line, line
    assert case.fragment in line, line
    assert ":0:" not in line, line  # lines count from 1; XML/JSON have no header line
    assert "internal error" not in line
    assert code == case.exit_code, line
    if case.role == "out":  # an existing --out is left exactly as it was
        assert (_snapshot(out) if out.is_dir() else {}) == OUT_BEFORE[case.name]
    else:
        assert not out.exists()
    assert _stray_staging(tmp_path) == []
    if case.role != "out":
        assert _names(tmp_path) - {"work", f"work/{hostile.name}"} <= before  # nothing written


@pytest.mark.parametrize("case", _params(NORMAL))
def test_usable_input_runs_normally(
    case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, stdout, stderr, _hostile, out = run_case(case, tmp_path, monkeypatch)
    assert "Traceback" not in stdout + stderr
    assert code == case.exit_code, stderr
    for line in stderr.splitlines():
        assert line.startswith("reconciler: "), line
    if case.exit_code in (0, 1):
        assert (out / "reconciled.csv").exists()
        assert case.check is not None
        case.check(out, stderr)
    assert _stray_staging(out.parent) == []


@pytest.mark.skipif(not HAS_REPORTS, reason="the reports package is not importable")
@pytest.mark.parametrize(
    "name",
    ["sent-formula-values", "sent-html-in-values", "results-html-in-values", "results-as-xlsx"],
)
def test_normal_runs_with_report_and_workbook(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = next(c for c in NORMAL if c.name == name)
    code, stdout, stderr, _hostile, out = run_case(case, tmp_path, monkeypatch, light=False)
    assert "Traceback" not in stdout + stderr
    assert code == case.exit_code, stderr
    assert case.check is not None
    case.check(out, stderr)
    assert (out / "report.html").exists()
    html = (out / "report.html").read_text(encoding="utf-8")
    for payload in HTML_PAYLOADS:  # every value is escaped: no markup from the inputs
        assert payload not in html
    if name == "sent-formula-values":
        assert '=HYPERLINK("http' not in html  # quotes are escaped too
    for workbook in sorted(out.glob("*.xlsx")):
        for sheet in openpyxl.load_workbook(workbook).worksheets:
            for row in sheet.iter_rows():
                for cell in row:
                    assert cell.data_type != "f", (workbook.name, cell.coordinate, cell.value)


@pytest.mark.skipif(not HAS_REPORTS, reason="the reports package is not importable")
@pytest.mark.parametrize(
    "name", ["sent-png-renamed", "results-zip-bomb-claimed-size", "out-folder-not-ours"]
)
def test_refusals_with_report_and_workbook(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = next(c for c in REFUSED if c.name == name)
    code, stdout, stderr, _hostile, out = run_case(case, tmp_path, monkeypatch, light=False)
    assert code == 2
    assert "Traceback" not in stdout + stderr
    assert len(stderr.splitlines()) == 1 and case.fragment in stderr
    assert not (out / "report.html").exists()


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            "reconcile",
            str(tmp_path / "nope.csv"),
            str(RESULTS),
            "--out",
            str(tmp_path / "o"),
            "--debug",
        ],
    )
    assert result.exit_code == 2
    assert "Traceback" in result.stderr
    assert result.stderr.rstrip().splitlines()[-1].startswith("reconciler: ")


def test_corpus_size() -> None:
    """The module docstring of hostile_cases states these figures."""
    import tests.hostile_cases as module

    refused = sum(1 for c in CASES if c.exit_code == 2)
    normal = len(CASES) - refused
    assert (
        f"The corpus holds {len(CASES)} cases: {refused} refusals (exit 2) and {normal} "
        "normal runs." in " ".join((module.__doc__ or "").split())
    )
    assert len({c.name for c in CASES}) == len(CASES)


@pytest.mark.skipif(
    not os.environ.get("RECONCILER_MEASURE_MEMORY"),
    reason="measurement, not a test: set RECONCILER_MEASURE_MEMORY=1 to run it (about 10 s)",
)
def test_measure_peak_memory_of_a_million_records(tmp_path: Path) -> None:
    """Peak RSS of one 1,000,000-record reconcile in a subprocess, printed, never asserted."""
    import resource
    import subprocess
    import sys

    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        from generate import generate  # type: ignore[import-not-found]
    finally:
        sys.path.pop(0)
    sent, results = generate(1_000_000, tmp_path / "data")
    env = dict(os.environ, PYTHONPATH=str(ROOT), SOURCE_DATE_EPOCH="1700000000")
    done = subprocess.run(
        [sys.executable, "-m", "reconciler", "reconcile", str(sent), str(results),
         "--out", str(tmp_path / "out"), "--quiet"],
        env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode in (0, 1), done.stderr
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    size = (sent.stat().st_size + results.stat().st_size) / 2**20
    print(f"\npeak RSS {peak:.0f} MiB for {size:.1f} MiB of input ({peak / size:.1f}x)")
