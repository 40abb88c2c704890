"""Benchmark, pair by pair: two commands back to back, many times, and the median of their
pairwise ratios.

    python benchmarks/pairs.py                        # 1,000,000 records, the default run
                                                      # against the baseline, 7 pairs
    python benchmarks/pairs.py --records 100000 --pairs 11 --pin
    python benchmarks/pairs.py --run noxlsx           # another of run.py's runs
    python benchmarks/pairs.py --run second           # a second batch against a ledger
    python benchmarks/pairs.py --before ../old        # a lever: this checkout's code against
                                                      # the code of another checkout
    python benchmarks/pairs.py --before ../old --shape shifted   # on a real file's shape
    python benchmarks/pairs.py --run updates --same-job   # against the script for that job

``run.py`` times every command a few times and compares medians: on a shared machine a slow
minute can still fall on one command more than another. Here the two commands run back to
back, the one first in a pair going second in the next, so each pair meets the machine in the
same state; each pair gives a ratio, and the median of those ratios is reported with their
spread. With ``--before DIR`` the reference is not the baseline but the same reconciler
command run on the code in ``DIR`` (a checkout of this repository at another commit, e.g.
``git worktree add ../old HEAD~1``): the before/after of a lever. Each command is a fresh
process, started once what earlier ones wrote is flushed to disk; wall time, CPU time (user +
system) and peak RSS come from the operating system. ``--pin`` runs both on CPU 0 only, as
``taskset -c 0`` does. ``--shape NAME`` (with ``--before``) runs one of ``shapes.py``'s
real files' shapes instead of ``--run``. Every run of ``run.py`` can be timed; with a
ledger (``ledger``, ``second``) each side keeps its own, made by its own code before any run
is timed, as ``run.py`` makes it: the batch reconciled once already, or a ledger holding an
earlier batch of the same records, copied afresh before each run. With ``--before`` it then
says whether the two sides' last outputs are the same, byte for byte (with a ledger: but for
the path of each side's own ledger, which the outputs name), or which files differ: a lever
meant to change no output is checked as it is timed. ``--same-job`` (with ``--run updates`` or
``--run second``) takes as the reference the script an analyst would write for that job
(``baseline.py --updates``, ``--earlier``); ``--system-allocator`` runs the reference script on
the C library's allocator, the one reconciler uses.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import shutil
import statistics
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from generate import SUBMITTED, generate, generate_updates, split_results  # noqa: E402
from run import measure  # noqa: E402
from shapes import COMMAND, SHAPES  # noqa: E402


class Given(NamedTuple):
    """What a run reads and where it writes: the files of ``generate``, the results as three
    pages, the ledger a side keeps (its own, per checkout) and the output folder."""

    sent: Path
    results: Path
    updates: Path
    pages: list[Path]
    ledger: Path
    out: Path


# The runs of run.py, by their key there.
RUNS: dict[str, Callable[[Given], list[str]]] = {
    "all": lambda g: [
        "reconcile", str(g.sent), str(g.results), "--out", str(g.out), "--force", "--no-ledger",
    ],
    "noxlsx": lambda g: [
        "reconcile", str(g.sent), str(g.results), "--out", str(g.out), "--force", "--no-ledger",
        "--no-xlsx",
    ],
    "updates": lambda g: [
        "reconcile", str(g.sent), str(g.results), "--out", str(g.out), "--force", "--no-ledger",
        "--updates", str(g.updates), "--submitted", SUBMITTED,
    ],
    "pages": lambda g: [
        "reconcile", str(g.sent), *map(str, g.pages), "--out", str(g.out), "--force",
        "--no-ledger",
    ],
    "ledger": lambda g: [
        "reconcile", str(g.sent), str(g.results), "--out", str(g.out), "--force",
        "--ledger", str(g.ledger),
    ],
    "second": lambda g: [
        "reconcile", str(g.sent), str(g.results), "--out", str(g.out), "--force",
        "--ledger", str(g.ledger),
    ],
    "check": lambda g: [
        "check", str(g.sent), "--out", str(g.out), "--force",
    ],
}  # fmt: skip
# Their names in run.py's table.
NAMES = {
    "all": "reconcile (all outputs)",
    "noxlsx": "reconcile --no-xlsx",
    "updates": "reconcile + updates",
    "pages": "reconcile, results in 3 files",
    "ledger": "reconcile + ledger",
    "second": "reconcile + ledger, second batch",
    "check": "check",
}
# The arguments that make baseline.py the script for a run's job (updates, earlier sent file,
# earlier results).
SAME_JOB: dict[str, Callable[[Path, Path, Path], list[str]]] = {
    "updates": lambda updates, _earlier, _results: ["--updates", str(updates), SUBMITTED],
    "second": lambda _updates, earlier, results: ["--earlier", str(earlier), str(results)],
}
# A side: its command, environment, the output it writes (removed before each run) and what
# is made ready before each run (the ledger of a second batch), if anything.
Side = tuple[list[str], dict[str, str], Path, Callable[[], None] | None]


def pairs(first: Side, second: Side, count: int, *, pin: bool) -> dict[str, list[float]]:
    """``count`` pairs of runs of the two commands (each a ``Side``), the first going first
    in even pairs and second in odd ones. Per run: wall seconds, CPU seconds, peak RSS in
    MB."""
    got: dict[str, list[float]] = {
        key: [] for key in ("wall_a", "cpu_a", "rss_a", "wall_b", "cpu_b", "rss_b")
    }
    for i in range(count):
        order = [("a", first), ("b", second)]
        for side, (cmd, env, target, prepare) in order if i % 2 == 0 else order[::-1]:
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
            if prepare is not None:
                prepare()
            if hasattr(os, "sync"):
                os.sync()
            wall, cpu, rss, _code = measure(cmd, env, pin=pin)
            got[f"wall_{side}"].append(wall)
            got[f"cpu_{side}"].append(cpu)
            got[f"rss_{side}"].append(rss)
    return got


def _ledger_ready(
    run: str, python: list[str], env: dict[str, str], given: Given
) -> Callable[[], None] | None:
    """For a run with a ledger, each side's own, made by that side's code before any run is
    timed (two checkouts may write different ledgers), as run.py makes it: for ``ledger``,
    the batch reconciled once already, so that every run timed is a repeated run; for
    ``second``, a ledger holding an earlier batch of the same records (the file sent before,
    one byte different), copied afresh before each run. None for the other runs."""
    if run not in ("ledger", "second"):
        return None
    ledger = given.ledger
    for leftover in ledger.parent.glob(ledger.name + "*"):
        leftover.unlink()
    if run == "ledger":
        _made([*python, *RUNS["ledger"](given)], env)
        return None
    # One earlier file for both sides: the outputs name it (PreviousBatch).
    earlier = given.out.parent / f"{given.sent.stem}_earlier.csv"
    earlier.write_bytes(given.sent.read_bytes() + b"\n")
    seeded = ledger.with_name(ledger.stem + "_seed.sqlite")
    for leftover in seeded.parent.glob(seeded.name + "*"):
        leftover.unlink()
    first = given._replace(sent=earlier, ledger=seeded, out=given.out.with_name(earlier.stem))
    _made([*python, *RUNS["second"](first), "--no-xlsx", "--no-report"], env)

    def fresh() -> None:
        for leftover in ledger.parent.glob(ledger.name + "*"):
            leftover.unlink()
        shutil.copyfile(seeded, ledger)

    return fresh


def _made(cmd: list[str], env: dict[str, str]) -> None:
    """Run a command that makes a ledger ready (untimed); stop if it fails (exit 1 only
    says that records need a person)."""
    code = measure(cmd, env)[3]
    if code not in (0, 1):
        sys.exit(f"pairs.py: making the ledger ready failed (exit {code}): {' '.join(cmd)}")


MANIFEST = ".reconciler-output"  # names its own folder: never the same on two sides


def outputs_compared(first: Path, second: Path, ledgers: tuple[str, str] | None = None) -> str:
    """One line on what the two sides wrote last: the same byte for byte, or which files
    differ or are on one side only. The manifest is left out. ``ledgers``: the path of each
    side's own ledger, which its outputs may name (summary.json, the report, the workbook's
    Summary sheet): a file that differs only there is the same. A workbook is compared part
    by part, each part inflated (where the path would be)."""
    if not (first.is_dir() and second.is_dir()):
        return "outputs: not compared (a side wrote no output folder)"
    names = sorted(
        {p.name for p in first.iterdir() if p.is_file()}
        | {p.name for p in second.iterdir() if p.is_file()}
    )
    names = [name for name in names if name != MANIFEST]
    differ = [name for name in names if not _same_file(first / name, second / name, ledgers)]
    if differ:
        return f"outputs differ: {', '.join(differ)}"
    if ledgers is not None:
        return f"outputs: the same but for the path of each side's ledger ({len(names)} files)"
    return f"outputs: the same, byte for byte ({len(names)} files)"


def _same_file(a: Path, b: Path, ledgers: tuple[str, str] | None) -> bool:
    if not (a.is_file() and b.is_file()):
        return False
    left, right = a.read_bytes(), b.read_bytes()
    if left == right:
        return True
    if ledgers is None:
        return False
    if a.suffix == ".xlsx":
        return _same_parts(left, right, ledgers)
    return _without(left, ledgers[0]) == _without(right, ledgers[1])


def _same_parts(left: bytes, right: bytes, ledgers: tuple[str, str]) -> bool:
    """Two workbooks' parts (inflated), each side's ledger path left out."""
    import io
    import zipfile

    with zipfile.ZipFile(io.BytesIO(left)) as za, zipfile.ZipFile(io.BytesIO(right)) as zb:
        if za.namelist() != zb.namelist():
            return False
        return all(
            _without(za.read(name), ledgers[0]) == _without(zb.read(name), ledgers[1])
            for name in za.namelist()
        )


def _without(data: bytes, path: str) -> bytes:
    return data.replace(path.encode("utf-8"), b"\x00ledger\x00") if path else data


def summary(got: dict[str, list[float]]) -> dict[str, float]:
    """Medians of each side, and the median, least and greatest of the pairwise ratios
    (second / first) of wall and CPU time; the ratio of the peak RSS (largest of the runs)."""
    out: dict[str, float] = {}
    for side in ("a", "b"):
        out[f"wall_{side}"] = statistics.median(got[f"wall_{side}"])
        out[f"cpu_{side}"] = statistics.median(got[f"cpu_{side}"])
        out[f"rss_{side}"] = max(got[f"rss_{side}"])
    for what in ("wall", "cpu"):
        ratios = [b / a for a, b in zip(got[f"{what}_a"], got[f"{what}_b"], strict=True)]
        out[f"{what}_ratio"] = statistics.median(ratios)
        out[f"{what}_ratio_min"] = min(ratios)
        out[f"{what}_ratio_max"] = max(ratios)
    out["rss_ratio"] = out["rss_b"] / out["rss_a"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--pairs", type=int, default=7, help="pairs of runs (7)")
    parser.add_argument("--run", choices=sorted(RUNS), help="which run (all)")
    parser.add_argument(
        "--shape", choices=sorted(SHAPES), help="a shape of shapes.py instead (with --before)"
    )
    parser.add_argument(
        "--before",
        type=Path,
        help="a checkout of reconciler whose code is the reference, instead of the baseline",
    )
    parser.add_argument("--pin", action="store_true", help="both commands on CPU 0 only")
    parser.add_argument(
        "--same-job",
        action="store_true",
        help="with --run updates or second: against the pandas script for that job "
        "(baseline.py --updates, --earlier) instead of the baseline",
    )
    parser.add_argument(
        "--system-allocator",
        action="store_true",
        help="the pandas script on the C library's allocator, the one reconciler uses",
    )
    parser.add_argument("--data", type=Path, default=HERE / "data")
    parser.add_argument("--out", type=Path, default=HERE / "out")
    parser.add_argument("--seed", type=int, default=7, help="seed of the synthetic data")
    parser.add_argument("--json", type=Path, help="also save every run's figures here")
    args = parser.parse_args()
    if args.pairs < 1 or args.records < 1:
        parser.error("--pairs and --records take a whole number of at least 1")
    if args.shape is not None and (args.before is None or args.run is not None):
        parser.error("--shape times a shape on two checkouts: give it with --before, not --run")
    run = args.run or "all"
    if args.same_job and (run not in SAME_JOB or args.before is not None):
        parser.error(
            "--same-job times --run updates or --run second against a script, not --before"
        )
    if args.system_allocator and args.before is not None:
        parser.error("--system-allocator is for the pandas script, not --before")
    before: Path | None = args.before.resolve() if args.before is not None else None
    if before is not None and not (before / "reconciler" / "__init__.py").is_file():
        parser.error(
            f"--before {args.before}: no reconciler package there; give a checkout of this "
            "repository (git worktree add DIR COMMIT)"
        )
    for tree in (ROOT, *([before] if before is not None else [])):
        # As pip install leaves it: compiled, so that no run pays for compiling.
        for package in ("reconciler", "reports"):
            compileall.compile_dir(str(tree / package), quiet=1)

    n = args.records
    sent, results = generate(n, args.data, args.seed)
    updates = generate_updates(n, args.data, args.seed) if run == "updates" else results
    pages = split_results(results, 3) if run == "pages" else []
    args.out.mkdir(parents=True, exist_ok=True)
    command, given = "", []
    if args.shape is not None:
        folder = args.out / f"shapes_{n}"
        folder.mkdir(parents=True, exist_ok=True)
        given = SHAPES[args.shape](sent, results, folder)
        command = COMMAND.get(args.shape, "reconcile")
    base_env = {**os.environ, "SOURCE_DATE_EPOCH": "1790000000"}
    base_env.pop("PYTHONPATH", None)

    def tool(tree: Path, name: str) -> Side:
        target = args.out / f"pairs_{name}_{n}"
        env = {**base_env, "PYTHONPATH": str(tree)}
        # -P: the working directory is not put first on the import path, where a checkout's
        # own package (run from its root) would shadow the tree asked for.
        python = [sys.executable, "-P", "-m", "reconciler"]
        if args.shape is not None:  # as shapes.py runs it
            how = [command, *given, "--out", str(target), "--force"]
            how += ["--no-ledger"] if command == "reconcile" else []
            return [*python, *how], env, target, None
        inputs = Given(sent, results, updates, pages, args.out / f"pairs_{name}_{n}.sqlite", target)
        how = RUNS[run](inputs)
        return [*python, *how], env, target, _ledger_ready(run, python, env, inputs)

    second = tool(ROOT, "now")
    if before is not None:
        first = tool(before, "old")  # as long as "now": the two sides' paths are as long
        what = NAMES[run] if args.shape is None else f"the {args.shape} shape"
        names = (f"{what}, code in {before}", f"{what}, this checkout")
    else:
        target = args.out / f"pairs_baseline_{n}.csv"
        cmd = [sys.executable, str(HERE / "baseline.py"), str(sent), str(results), str(target)]
        name = "pandas baseline"
        if args.same_job:  # the earlier file is the one the tool's side was made ready with
            earlier = args.out / f"{sent.stem}_earlier.csv"
            cmd += SAME_JOB[run](updates, earlier, results)
            name = f"pandas script, same job: {'earlier batch' if run == 'second' else run}"
        # As an analyst runs it (Arrow's default allocator), unless asked otherwise.
        env = {k: v for k, v in base_env.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
        if args.system_allocator:
            env["ARROW_DEFAULT_MEMORY_POOL"] = "system"
            name += ", C library's allocator"
        first = (cmd, env, target, None)
        names = (name, NAMES[run])
    got = pairs(first, second, args.pairs, pin=args.pin)
    s = summary(got)
    cores = "1 (pinned)" if args.pin else "all"
    print(f"{n:,} records, {args.pairs} pairs, cores: {cores}; medians, peak RSS the largest")
    print("| command | wall s | CPU s | peak RSS |")
    print("| --- | ---: | ---: | ---: |")
    for name, side in zip(names, ("a", "b"), strict=True):
        print(
            f"| {name} | {s[f'wall_{side}']:.2f} | {s[f'cpu_{side}']:.2f} | {s[f'rss_{side}']:.0f} MB |"
        )
    print(
        f"second / first, the median of the pairs: {s['wall_ratio']:.2f}x wall "
        f"({s['wall_ratio_min']:.2f}-{s['wall_ratio_max']:.2f}), {s['cpu_ratio']:.2f}x CPU "
        f"({s['cpu_ratio_min']:.2f}-{s['cpu_ratio_max']:.2f}), {s['rss_ratio']:.2f}x peak RSS"
    )
    compared = None
    if before is not None:
        ledgers = None
        if args.shape is None and run in ("ledger", "second"):  # each side's own, as given
            ledgers = (
                str(args.out / f"pairs_old_{n}.sqlite"),
                str(args.out / f"pairs_now_{n}.sqlite"),
            )
        compared = outputs_compared(first[2], second[2], ledgers)
        print(compared)
    if args.json:
        doc = {
            "records": n,
            "pairs": args.pairs,
            "pinned": args.pin,
            "run": run if args.shape is None else f"shape {args.shape}",
            "first": names[0],
            "second": names[1],
            "runs": got,
            "summary": s,
            "outputs": compared,
        }
        args.json.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
