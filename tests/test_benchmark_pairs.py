"""benchmarks/pairs.py: two commands timed pair by pair, and the median of their ratios."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAIRS = ROOT / "benchmarks" / "pairs.py"


def _pairs_module() -> ModuleType:
    sys.path.insert(0, str(PAIRS.parent))
    try:
        spec = importlib.util.spec_from_file_location("bench_pairs", PAIRS)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(PAIRS.parent))


def _run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``benchmarks/pairs.py`` with ``args``, as a user runs it."""
    return subprocess.run(
        [sys.executable, str(PAIRS), *args],
        capture_output=True, text=True, timeout=300, check=False, cwd=cwd,
    )  # fmt: skip


def test_the_ratio_is_the_median_of_each_pairs_ratio() -> None:
    # Three pairs whose ratios are 2, 1 and 0.5: the median ratio is 1 (the ratio of the
    # medians would be 2 / 2 = 1 too, but not in general), with the spread of the pairs.
    summary = _pairs_module().summary(
        {
            "wall_a": [1.0, 2.0, 4.0], "wall_b": [2.0, 2.0, 2.0],
            "cpu_a": [1.0, 1.0, 1.0], "cpu_b": [0.5, 0.8, 3.0],
            "rss_a": [100.0, 120.0, 110.0], "rss_b": [150.0, 90.0, 60.0],
        }
    )  # fmt: skip
    assert summary["wall_ratio"] == 1.0
    assert (summary["wall_ratio_min"], summary["wall_ratio_max"]) == (0.5, 2.0)
    assert summary["cpu_ratio"] == 0.8 and summary["cpu_a"] == 1.0
    assert summary["rss_ratio"] == 150.0 / 120.0  # the largest peak of each side


def test_pairs_times_the_default_run_against_the_baseline(tmp_path: Path) -> None:
    saved = tmp_path / "pairs.json"
    done = _run(
        "--records", "2000", "--pairs", "2", "--data", str(tmp_path / "data"), "--out",
        str(tmp_path / "out"), "--json", str(saved),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "2,000 records, 2 pairs, cores: all; medians, peak RSS the largest"
    assert lines[3].startswith("| pandas baseline | ")
    assert lines[4].startswith("| reconcile (all outputs) | ")
    assert lines[5].startswith("second / first, the median of the pairs: ")
    doc = json.loads(saved.read_text(encoding="utf-8"))
    assert doc["second"] == "reconcile (all outputs)" and doc["pairs"] == 2
    for key in ("wall_a", "cpu_a", "rss_a", "wall_b", "cpu_b", "rss_b"):
        assert len(doc["runs"][key]) == 2 and all(v > 0 for v in doc["runs"][key])
    ratios = sorted(b / a for a, b in zip(doc["runs"]["cpu_a"], doc["runs"]["cpu_b"], strict=True))
    assert abs(doc["summary"]["cpu_ratio"] - sum(ratios) / 2) < 1e-12
    # What it wrote is what the tool writes: a whole output folder.
    assert (tmp_path / "out" / "pairs_now_2000" / "reconciled.csv").is_file()


def test_before_must_be_a_checkout(tmp_path: Path) -> None:
    done = _run("--before", str(tmp_path), "--records", "10")
    assert done.returncode == 2
    assert "--before" in done.stderr and "no reconciler package there" in done.stderr
    assert "Traceback" not in done.stderr


def test_pairs_times_a_shape_on_two_checkouts(tmp_path: Path) -> None:
    # A lever's before/after on a real file's shape: here this checkout against itself.
    done = _run(
        "--records", "2000", "--pairs", "1", "--shape", "shifted", "--before", str(ROOT),
        "--data", str(tmp_path / "data"), "--out", str(tmp_path / "out"),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[3].startswith(f"| the shifted shape, code in {ROOT} | ")
    assert lines[4].startswith("| the shifted shape, this checkout | ")
    # The same code on both sides writes the same files, and pairs.py says so.
    assert lines[6].startswith("outputs: the same, byte for byte (")
    # The shape's results (lines one off) were made and tied as shapes.py ties them.
    assert (tmp_path / "out" / "shapes_2000" / "results_shifted.csv").is_file()
    assert (tmp_path / "out" / "pairs_now_2000" / "unmatched_results.csv").is_file()


def test_a_shape_needs_two_checkouts(tmp_path: Path) -> None:
    done = _run("--shape", "shifted", "--records", "10")
    assert done.returncode == 2
    assert "give it with --before" in done.stderr and "Traceback" not in done.stderr


def test_the_code_before_is_the_code_run_even_from_this_checkout(tmp_path: Path) -> None:
    # Run from the repository's root (as the README says), the command of --before DIR runs
    # DIR's package, not the one in the working directory: here a stand-in that leaves a mark.
    before = tmp_path / "before"
    (before / "reconciler").mkdir(parents=True)
    (before / "reconciler" / "__init__.py").write_text("", encoding="utf-8")
    mark = tmp_path / "ran-before"
    (before / "reconciler" / "__main__.py").write_text(
        f"from pathlib import Path\nPath({str(mark)!r}).touch()\n", encoding="utf-8"
    )
    done = _run(
        "--records", "2000", "--pairs", "1", "--before", str(before), "--data",
        str(tmp_path / "data"), "--out", str(tmp_path / "out"), cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert mark.exists()
    # And this checkout's side ran this checkout's code (its whole output folder).
    assert (tmp_path / "out" / "pairs_now_2000" / "reconciled.csv").is_file()


def test_a_second_batch_is_timed_against_its_own_ledger_on_each_side(tmp_path: Path) -> None:
    # Each side's ledger is made by that side's code and holds the earlier batch afresh
    # before every run: every record timed is seen before, in every run.
    out = tmp_path / "out"
    done = _run(
        "--records", "2000", "--pairs", "2", "--run", "second", "--before", str(ROOT),
        "--data", str(tmp_path / "data"), "--out", str(out),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[3].startswith(f"| reconcile + ledger, second batch, code in {ROOT} | ")
    assert lines[4].startswith("| reconcile + ledger, second batch, this checkout | ")
    # Each side's outputs name its own ledger, and only that tells them apart.
    assert lines[6].startswith("outputs: the same but for the path of each side's ledger (")
    for side in ("old", "now"):
        assert (out / f"pairs_{side}_2000_seed.sqlite").is_file()
        summary = json.loads((out / f"pairs_{side}_2000" / "summary.json").read_text("utf-8"))
        assert summary["history"]["batches_before"] == 1
        assert summary["history"]["records_seen_before"] == 2000


@pytest.mark.parametrize(
    ("run", "name"), [("pages", "reconcile, results in 3 files"), ("ledger", "reconcile + ledger")]
)
def test_every_run_of_run_py_can_be_timed(tmp_path: Path, run: str, name: str) -> None:
    out = tmp_path / "out"
    done = _run(
        "--records", "2000", "--pairs", "1", "--run", run, "--data",
        str(tmp_path / "data"), "--out", str(out),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[4].startswith(f"| {name} | ")
    summary = json.loads((out / "pairs_now_2000" / "summary.json").read_text("utf-8"))
    if run == "pages":  # the three pages of one export, every result tied
        assert len(summary["results_files"]) == 3
    else:  # a repeated run: the batch was recorded before the one timed
        assert summary["history"]["recorded_before"] is True


def _folder(where: Path, files: dict[str, bytes]) -> Path:
    where.mkdir(parents=True)
    for name, data in files.items():
        (where / name).write_bytes(data)
    return where


def _workbook(*parts: tuple[str, bytes]) -> bytes:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in parts:
            z.writestr(name, data)
    return buffer.getvalue()


def test_the_outputs_of_two_sides_are_compared_file_by_file(tmp_path: Path) -> None:
    compared = _pairs_module().outputs_compared
    same = {"reconciled.csv": b"a,b\n1,2\n", "summary.json": b"{}"}
    old = _folder(tmp_path / "old", {**same, ".reconciler-output": b"old"})
    now = _folder(tmp_path / "now", {**same, ".reconciler-output": b"now"})
    # The manifest names its own folder: it is not compared.
    assert compared(old, now) == "outputs: the same, byte for byte (2 files)"
    (now / "reconciled.csv").write_bytes(b"a,b\n1,3\n")
    (now / "extra.csv").write_bytes(b"")
    assert compared(old, now) == "outputs differ: extra.csv, reconciled.csv"
    assert compared(old, tmp_path / "none").startswith("outputs: not compared")


def test_each_sides_ledger_path_is_all_that_may_differ(tmp_path: Path) -> None:
    compared = _pairs_module().outputs_compared
    ledgers = ("/x/pairs_old_10.sqlite", "/x/pairs_now_10.sqlite")

    def side(name: str, path: str, extra: bytes = b"") -> Path:
        text = f'{{"ledger": "{path}"}}'.encode()
        sheet = b"<c><is><t>" + path.encode() + b"</t></is></c>" + extra
        return _folder(
            tmp_path / name,
            {"summary.json": text, "reconciled.xlsx": _workbook(("xl/sheet1.xml", sheet))},
        )

    old, now = side("old", ledgers[0]), side("now", ledgers[1])
    assert compared(old, now) == "outputs differ: reconciled.xlsx, summary.json"
    assert compared(old, now, ledgers) == (
        "outputs: the same but for the path of each side's ledger (2 files)"
    )
    # Anything else that differs inside a workbook's parts still counts.
    changed = side("changed", ledgers[1], extra=b"<c/>")
    assert compared(old, changed, ledgers) == "outputs differ: reconciled.xlsx"
