"""Benchmark, pair by pair: two commands back to back, many times, and the median of their
pairwise ratios.

    python benchmarks/pairs.py                        # 1,000,000 records, the default run
                                                      # against the baseline, 7 pairs
    python benchmarks/pairs.py --records 100000 --pairs 11 --pin
    python benchmarks/pairs.py --run noxlsx           # another of run.py's runs
    python benchmarks/pairs.py --before ../old        # a lever: this checkout's code against
                                                      # the code of another checkout
    python benchmarks/pairs.py --before ../old --shape shifted   # on a real file's shape

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
real files' shapes instead of ``--run``.
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

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from generate import SUBMITTED, generate, generate_updates  # noqa: E402
from run import measure  # noqa: E402
from shapes import COMMAND, SHAPES  # noqa: E402

# The runs of run.py that need nothing prepared between two runs, by their key there.
RUNS: dict[str, Callable[[Path, Path, Path, Path], list[str]]] = {
    "all": lambda sent, results, _updates, out: [
        "reconcile", str(sent), str(results), "--out", str(out), "--force", "--no-ledger",
    ],
    "noxlsx": lambda sent, results, _updates, out: [
        "reconcile", str(sent), str(results), "--out", str(out), "--force", "--no-ledger",
        "--no-xlsx",
    ],
    "updates": lambda sent, results, updates, out: [
        "reconcile", str(sent), str(results), "--out", str(out), "--force", "--no-ledger",
        "--updates", str(updates), "--submitted", SUBMITTED,
    ],
    "check": lambda sent, _results, _updates, out: [
        "check", str(sent), "--out", str(out), "--force",
    ],
}  # fmt: skip
# Their names in run.py's table.
NAMES = {
    "all": "reconcile (all outputs)",
    "noxlsx": "reconcile --no-xlsx",
    "updates": "reconcile + updates",
    "check": "check",
}


def pairs(
    first: tuple[list[str], dict[str, str], Path],
    second: tuple[list[str], dict[str, str], Path],
    count: int,
    *,
    pin: bool,
) -> dict[str, list[float]]:
    """``count`` pairs of runs of the two commands (each: argv, environment, the output it
    writes, removed before each run), the first going first in even pairs and second in odd
    ones. Per run: wall seconds, CPU seconds, peak RSS in MB."""
    got: dict[str, list[float]] = {
        key: [] for key in ("wall_a", "cpu_a", "rss_a", "wall_b", "cpu_b", "rss_b")
    }
    for i in range(count):
        order = [("a", first), ("b", second)]
        for side, (cmd, env, target) in order if i % 2 == 0 else order[::-1]:
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
            if hasattr(os, "sync"):
                os.sync()
            wall, cpu, rss, _code = measure(cmd, env, pin=pin)
            got[f"wall_{side}"].append(wall)
            got[f"cpu_{side}"].append(cpu)
            got[f"rss_{side}"].append(rss)
    return got


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
    args.out.mkdir(parents=True, exist_ok=True)
    command, given = "", []
    if args.shape is not None:
        folder = args.out / f"shapes_{n}"
        folder.mkdir(parents=True, exist_ok=True)
        given = SHAPES[args.shape](sent, results, folder)
        command = COMMAND.get(args.shape, "reconcile")
    base_env = {**os.environ, "SOURCE_DATE_EPOCH": "1790000000"}
    base_env.pop("PYTHONPATH", None)

    def tool(tree: Path, name: str) -> tuple[list[str], dict[str, str], Path]:
        target = args.out / f"pairs_{name}_{n}"
        if args.shape is None:
            how = RUNS[run](sent, results, updates, target)
        else:  # as shapes.py runs it
            how = [command, *given, "--out", str(target), "--force"]
            how += ["--no-ledger"] if command == "reconcile" else []
        # -P: the working directory is not put first on the import path, where a checkout's
        # own package (run from its root) would shadow the tree asked for.
        cmd = [sys.executable, "-P", "-m", "reconciler", *how]
        return cmd, {**base_env, "PYTHONPATH": str(tree)}, target

    second = tool(ROOT, "now")
    if before is not None:
        first = tool(before, "before")
        what = NAMES[run] if args.shape is None else f"the {args.shape} shape"
        names = (f"{what}, code in {before}", f"{what}, this checkout")
    else:
        target = args.out / f"pairs_baseline_{n}.csv"
        cmd = [sys.executable, str(HERE / "baseline.py"), str(sent), str(results), str(target)]
        first = (cmd, base_env, target)
        names = ("pandas baseline", NAMES[run])
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
        }
        args.json.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
