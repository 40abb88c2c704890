"""Same inputs, same bytes: every output of two runs is byte-identical (workbooks included).

The two runs happen in separate processes that differ in everything that should not matter:
the hash seed (set and dict-of-set ordering), the local time zone and the wall clock (the
second run starts later). ``SOURCE_DATE_EPOCH`` fixes the clock the outputs show. Both runs
write to the same ``--out`` path, one after the other, so a path inside a file is not a
difference. Each process runs every scenario through the CLI, to pay the start-up once.
"""

from __future__ import annotations

import importlib.util
import io
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
HAS_REPORTS = importlib.util.find_spec("reports") is not None

SCENARIOS: dict[str, tuple[str, str]] = {
    "modification_view_errors": ("sent.csv", "results.csv"),
    "item_modification_xlsx": ("sent.csv", "results.xlsx"),
    "xml_modification": ("sent.xml", "results.json"),
    "conversion_utf16_tab": ("sent.txt", "results.csv"),
}

# Runs every scenario given as JSON [[name, args], ...] through the CLI, in this process.
DRIVER = """
import json, sys
from reconciler.cli import app
for name, args in json.loads(sys.argv[1]):
    try:
        app(args, standalone_mode=False)
    except SystemExit as exc:
        code = exc.code
    else:
        code = 0
    print(name, code, flush=True)
"""


def _run_all(work: Path, light: bool, *, seed: str, tz: str) -> dict[str, dict[str, bytes]]:
    """Outputs of every scenario, written to ``work/out`` one at a time."""
    jobs = []
    for name, (sent, results) in SCENARIOS.items():
        args = [
            "reconcile", str(FIXTURES / name / sent), str(FIXTURES / name / results),
            "--out", str(work / "out" / name), "--quiet",
        ]  # fmt: skip
        jobs.append([name, [*args, "--no-report", "--no-xlsx"] if light else args])
    if (work / "out").exists():
        shutil.rmtree(work / "out")
    # Each set of runs records in an empty ledger at the same place: summary.json names it,
    # and says whether a batch was recorded before.
    for leftover in work.glob("ledger.sqlite*"):
        leftover.unlink()
    env = dict(os.environ)
    env.update(
        RECONCILER_LEDGER=str(work / "ledger.sqlite"),
        PYTHONPATH=str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""),
        SOURCE_DATE_EPOCH="1700000000",
        PYTHONHASHSEED=seed,
        TZ=tz,
    )
    done = subprocess.run(
        [sys.executable, "-c", DRIVER, json.dumps(jobs)], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    codes = dict(line.split() for line in done.stdout.splitlines())
    assert set(codes) == set(SCENARIOS), done.stdout + done.stderr
    assert all(code in ("0", "1") for code in codes.values()), done.stdout + done.stderr
    return {
        name: {
            str(p.relative_to(work / "out" / name)): p.read_bytes()
            for p in sorted((work / "out" / name).rglob("*"))
            if p.is_file()
        }
        for name in SCENARIOS
    }


def _differences(first: dict[str, bytes], second: dict[str, bytes]) -> list[str]:
    names = sorted(set(first) | set(second))
    out = []
    for name in names:
        if first.get(name) == second.get(name):
            continue
        detail = ""
        if name.endswith(".xlsx") and name in first and name in second:
            detail = " (" + ", ".join(_zip_differences(first[name], second[name])) + ")"
        out.append(name + detail)
    return out


def _zip_differences(a: bytes, b: bytes) -> list[str]:
    """Which members of two workbooks differ, and whether only their zip timestamps do."""
    za, zb = zipfile.ZipFile(io.BytesIO(a)), zipfile.ZipFile(io.BytesIO(b))
    found = []
    for info in za.infolist():
        other = zb.getinfo(info.filename)
        if za.read(info) != zb.read(other):
            found.append(f"{info.filename} content")
        elif info.date_time != other.date_time:
            found.append(f"{info.filename} timestamp")
    return found or ["zip container"]


@pytest.mark.parametrize(
    "light",
    [
        pytest.param(True, id="csv-json-only"),
        pytest.param(
            False,
            id="with-report-and-workbook",
            marks=pytest.mark.skipif(not HAS_REPORTS, reason="reports is not importable"),
        ),
    ],
)
def test_two_runs_give_the_same_bytes(tmp_path: Path, light: bool) -> None:
    first = _run_all(tmp_path, light, seed="1", tz="UTC")
    second = _run_all(tmp_path, light, seed="2", tz="Pacific/Kiritimati")
    for name in SCENARIOS:
        assert first[name], name
        assert _differences(first[name], second[name]) == [], name
    summary = json.loads(first["modification_view_errors"]["summary.json"])
    assert summary["generated_at"] == "2023-11-14T22:13:20Z"
    # Zip entry times have a 2-second grain, so equal bytes could be luck: pin them instead.
    for name, files in first.items():
        for file, data in files.items():
            if file.endswith(".xlsx"):
                stamps = {i.date_time for i in zipfile.ZipFile(io.BytesIO(data)).infolist()}
                assert stamps == {(2023, 11, 14, 22, 13, 20)}, (name, file, stamps)
