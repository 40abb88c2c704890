"""Benchmark: reconciler against the plain pandas baseline, same files, same run.

    python benchmarks/run.py                 # 100,000 and 1,000,000 records
    python benchmarks/run.py --sizes 100000  # one size
    python benchmarks/run.py --big           # also 3,000,000
    python benchmarks/run.py --seed 11       # fresh synthetic data

    python benchmarks/run.py --pin both      # unpinned, then every command on one core
    python benchmarks/run.py --only all      # only the baseline and the default run

Each command runs as a fresh process (as a user runs it); wall time, CPU time (user + system)
and peak RSS come from the operating system (``os.wait4``). Every command runs ``--repeat``
times (3), the commands taking turns, and the median is reported: single runs on a shared
2-core machine vary by ±10%. Each command starts once what earlier ones wrote is flushed to disk
(``os.sync``). ``--pin`` runs the commands (the baseline too) on CPU 0 only, as on a one-core or
busy machine (``taskset -c 0``). Prints a Markdown table of wall, CPU and RSS ratios to the
baseline of the same size and pinning; ``--json FILE`` also saves the figures.

The baseline runs as an analyst runs it, on Arrow's default allocator; it runs a second time
on the C library's allocator, the one reconciler uses, and the default run's ratios to that
second baseline are printed below the table: where the two baselines differ, the machine's
allocator, not the tool, makes part of the first ratio.

Beside ``reconcile + updates`` and the second batch runs the script an analyst would write for
that job (``baseline.py --updates``, ``--earlier``: the merge, then the platform's latest change
of each record's action, or each record's outcome in the batch before), as written; the
capability's ratios to it are printed below the table too.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from generate import SUBMITTED, generate, generate_updates, split_results  # noqa: E402


def measure(
    cmd: list[str], env: dict[str, str] | None = None, *, pin: bool = False
) -> tuple[float, float, float, int]:
    """Wall seconds, CPU seconds (user + system), peak RSS in MB, exit code of one fresh
    process; with ``pin`` it may run on CPU 0 only."""

    def one_core() -> None:
        os.sched_setaffinity(0, {0})

    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
        preexec_fn=one_core if pin else None,  # this process starts no threads
    )
    _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        raise SystemExit(f"{' '.join(cmd)} failed ({code}): {err}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, code


def size_of(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


def mb(n: float) -> str:
    return f"{n / 1e6:.1f} MB"


def bench(
    n: int,
    data: Path,
    out: Path,
    repeat: int,
    seed: int,
    *,
    pin: bool = False,
    only: set[str] | None = None,
) -> list[dict[str, object]]:
    """Every command ``repeat`` times, the commands taking turns (so a slow moment of the
    machine falls on all of them alike); each row reports the median run."""
    sent, results = generate(n, data, seed)
    # a change per record (and a later approval of some), for --updates
    updates = generate_updates(n, data, seed) if only is None or "updates" in only else data
    # the results as three pages of one export, for several results files
    pages = split_results(results, 3) if only is None or "pages" in only else []
    reconciler = [sys.executable, "-m", "reconciler"]
    env = {**os.environ, "SOURCE_DATE_EPOCH": "1790000000"}
    base_out = out / f"baseline_{n}.csv"
    system_out = out / f"baseline_system_{n}.csv"
    # The baseline as an analyst runs it: Arrow's default allocator (mimalloc in pyarrow's
    # wheels). reconciler runs on the C library's allocator (``__main__``), and on some
    # machines the two cost very differently: the same script on the C library's allocator is
    # timed beside it, so a ratio that comes from the allocator alone shows as such.
    as_written = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    runs: list[tuple[str, list[str], Path, dict[str, str] | None]] = [
        (
            BASELINE,
            [sys.executable, str(HERE / "baseline.py"), str(sent), str(results), str(base_out)],
            base_out,
            as_written,
        ),
        (
            SYSTEM_BASELINE,
            [sys.executable, str(HERE / "baseline.py"), str(sent), str(results), str(system_out)],
            system_out,
            {**as_written, "ARROW_DEFAULT_MEMORY_POOL": "system"},
        ),
    ]
    # A ledger that already holds a batch of the same records (the file sent before, one byte
    # different): each "second batch" run starts from a copy of it, so every record is tied
    # to its earlier attempt and every correction checked against what went out before.
    seeded = out / f"ledger_seed_{n}.sqlite"
    earlier = out / f"earlier_{n}.csv"
    if only is None or "second" in only:
        earlier.write_bytes(sent.read_bytes() + b"\n")
    if not seeded.exists() and (only is None or "second" in only):
        measure(
            [*reconciler, "reconcile", str(earlier), str(results), "--out",
             str(out / f"earlier_{n}"), "--force", "--no-xlsx", "--no-report",
             "--ledger", str(seeded)],
            env,
        )  # fmt: skip
    second = out / f"ledger_second_{n}.sqlite"
    prepare = {"reconcile + ledger, second batch": lambda: _fresh_copy(seeded, second)}
    for name, args in (
        (
            "reconcile (all outputs)",
            [
                "reconcile",
                str(sent),
                str(results),
                "--out",
                str(out / f"all_{n}"),
                "--force",
                "--no-ledger",
            ],
        ),
        (
            "reconcile + ledger",
            [
                "reconcile",
                str(sent),
                str(results),
                "--out",
                str(out / f"ledger_{n}"),
                "--force",
                "--ledger",
                str(out / f"ledger_{n}.sqlite"),
            ],
        ),
        (
            "reconcile + ledger, second batch",
            [
                "reconcile",
                str(sent),
                str(results),
                "--out",
                str(out / f"second_{n}"),
                "--force",
                "--ledger",
                str(second),
            ],
        ),
        (
            "reconcile + updates",
            [
                "reconcile",
                str(sent),
                str(results),
                "--out",
                str(out / f"updates_{n}"),
                "--force",
                "--no-ledger",
                "--updates",
                str(updates),
                "--submitted",
                SUBMITTED,
            ],
        ),
        (
            "reconcile, results in 3 files",
            [
                "reconcile",
                str(sent),
                *(str(p) for p in pages),
                "--out",
                str(out / f"pages_{n}"),
                "--force",
                "--no-ledger",
            ],
        ),
        (
            "reconcile --no-xlsx",
            [
                "reconcile",
                str(sent),
                str(results),
                "--out",
                str(out / f"noxlsx_{n}"),
                "--no-xlsx",
                "--force",
                "--no-ledger",
            ],
        ),
        ("check", ["check", str(sent), "--out", str(out / f"check_{n}"), "--force"]),
    ):
        if only is None or KEYS[name] in only:
            runs.append((name, [*reconciler, *args], Path(args[args.index("--out") + 1]), env))
            # The script an analyst would write for the same job, as written (baseline.py).
            job = SAME_JOB.get(name)
            if job is not None:
                script_out = out / f"{KEYS[name]}_script_{n}.csv"
                extra = (
                    ["--updates", str(updates), SUBMITTED]
                    if KEYS[name] == "updates"
                    else ["--earlier", str(earlier), str(results)]
                )
                script = [sys.executable, str(HERE / "baseline.py"), str(sent), str(results)]
                runs.append((job, [*script, str(script_out), *extra], script_out, as_written))
    times: dict[str, list[float]] = {name: [] for name, *_ in runs}
    cpu: dict[str, list[float]] = {name: [] for name, *_ in runs}
    rss: dict[str, list[float]] = {name: [] for name, *_ in runs}
    for _ in range(repeat):
        for name, cmd, target, cmd_env in runs:
            if target.is_dir():
                shutil.rmtree(target)
            if name in prepare:
                prepare[name]()
            # Flush what earlier commands (and the generator) wrote, so that writing it back to
            # disk does not land on this command's time.
            if hasattr(os, "sync"):
                os.sync()
            t, used, mem, _code = measure(cmd, cmd_env, pin=pin)
            times[name].append(t)
            cpu[name].append(used)
            rss[name].append(mem)
    base = statistics.median(times[BASELINE])
    base_cpu = statistics.median(cpu[BASELINE])
    base_rss = max(rss[BASELINE])
    rows: list[dict[str, object]] = []
    for name, _cmd, target, _env in runs:
        seconds = statistics.median(times[name])
        row: dict[str, object] = {
            "records": n,
            "run": name,
            "pinned": pin,
            "seconds": seconds,
            "runs": times[name],
            "ratio": seconds / base,
            "cpu": statistics.median(cpu[name]),
            "cpu_ratio": statistics.median(cpu[name]) / base_cpu,
            "rss_mb": max(rss[name]),
            "rss_ratio": max(rss[name]) / base_rss,
            "output": size_of(target),
        }
        report = target / "report.html"
        if report.exists():
            row["report_html"] = report.stat().st_size
        rows.append(row)
    return rows


BASELINE = "pandas baseline"
SYSTEM_BASELINE = "pandas baseline, C library's allocator"

# The script an analyst would write for the job of a run (``baseline.py --updates`` or
# ``--earlier``), timed beside it.
SAME_JOB = {
    "reconcile + ledger, second batch": "pandas script, same job: earlier batch",
    "reconcile + updates": "pandas script, same job: updates",
}

KEYS = {
    "reconcile (all outputs)": "all",
    "reconcile + ledger": "ledger",
    "reconcile + ledger, second batch": "second",
    "reconcile + updates": "updates",
    "reconcile, results in 3 files": "pages",
    "reconcile --no-xlsx": "noxlsx",
    "check": "check",
}


def _fresh_copy(source: Path, target: Path) -> None:
    """``target`` as a copy of the SQLite ledger ``source`` (its journal files removed)."""
    for leftover in target.parent.glob(target.name + "*"):
        leftover.unlink()
    shutil.copyfile(source, target)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--big", action="store_true", help="also 3,000,000 records")
    parser.add_argument("--data", type=Path, default=HERE / "data")
    parser.add_argument("--out", type=Path, default=HERE / "out")
    parser.add_argument("--json", type=Path)
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs of each command; the median is reported"
    )
    parser.add_argument("--seed", type=int, default=7, help="seed of the synthetic data")
    parser.add_argument(
        "--pin",
        choices=("no", "yes", "both"),
        default="both",
        help="run every command on CPU 0 only (yes), not (no), or both in turn (both)",
    )
    parser.add_argument(
        "--only",
        nargs="+",
        choices=sorted(KEYS.values()),
        help="the runs to time beside the baseline (default: every one)",
    )
    args = parser.parse_args()
    sizes = [*args.sizes, *([3_000_000] if args.big else [])]
    args.out.mkdir(parents=True, exist_ok=True)
    # Run the tool as pip installs it: compiled. (``python -m reconciler`` here imports the
    # source tree; with PYTHONDONTWRITEBYTECODE set, every run would otherwise recompile about
    # 10,000 lines, some 0.1 s that no installed copy pays.)
    for package in ("reconciler", "reports"):
        compileall.compile_dir(str(HERE.parent / package), quiet=1)
    pins = {"no": [False], "yes": [True], "both": [False, True]}[args.pin]
    only = set(args.only) if args.only else None
    rows: list[dict[str, object]] = []
    for n in sizes:
        for pin in pins:
            rows.extend(
                bench(n, args.data, args.out, max(1, args.repeat), args.seed, pin=pin, only=only)
            )
    print(
        f"median of {max(1, args.repeat)} runs each (seed {args.seed}); "
        "peak RSS is the largest of the runs; ratios are to the baseline of the same size and "
        "pinning"
    )
    print(
        "| records | cores | run | wall s | runs (min–max) | × wall | CPU s | × CPU "
        "| peak RSS | × RSS | outputs |"
    )
    print("| ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        spread = r["runs"]
        assert isinstance(spread, list)
        f = {k: float(v) for k, v in r.items() if isinstance(v, int | float)}
        print(
            f"| {r['records']:,} | {'1 (pinned)' if r['pinned'] else 'all'} | {r['run']} | "
            f"{f['seconds']:.2f} | {min(spread):.2f}–{max(spread):.2f} | {f['ratio']:.2f} | "
            f"{f['cpu']:.2f} | {f['cpu_ratio']:.2f} | {f['rss_mb']:.0f} MB | "
            f"{f['rss_ratio']:.2f} | {mb(f['output'])} |"
        )
    by = {(r["records"], r["pinned"], r["run"]): float(r["seconds"]) for r in rows}  # type: ignore[arg-type]
    by_cpu = {(r["records"], r["pinned"], r["run"]): float(r["cpu"]) for r in rows}  # type: ignore[arg-type]
    for pin in pins:
        where = "pinned" if pin else "unpinned"
        if len(sizes) > 1:
            lo, hi = min(sizes), max(sizes)
            for run in ("reconcile (all outputs)", "reconcile --no-xlsx", "check"):
                if (hi, pin, run) in by and (lo, pin, run) in by:
                    slope = (by[(hi, pin, run)] - by[(lo, pin, run)]) / ((hi - lo) / 1e6)
                    print(f"{run}, {where}: {slope:.2f} s per million records ({lo:,} to {hi:,})")
        for n in sizes:
            plain = by.get((n, pin, "reconcile (all outputs)"))
            system = (n, pin, SYSTEM_BASELINE)
            if plain and system in by:
                print(
                    f"reconcile (all outputs) at {n:,}, {where}, against the baseline on the C "
                    f"library's allocator: {plain / by[system]:.2f}x wall, "
                    f"{by_cpu[(n, pin, 'reconcile (all outputs)')] / by_cpu[system]:.2f}x CPU "
                    f"(that baseline: {by_cpu[system] / by_cpu[(n, pin, BASELINE)]:.2f}x the "
                    "CPU of the script as run)"
                )
            for run in (
                "reconcile + ledger",
                "reconcile + ledger, second batch",
                "reconcile + updates",
                "reconcile, results in 3 files",
            ):
                if plain and (n, pin, run) in by:
                    extra = by[(n, pin, run)]
                    print(f"{run} at {n:,}, {where}: {extra - plain:+.2f} s, {extra / plain:.2f}x")
            for run, job in SAME_JOB.items():
                if (n, pin, run) in by and (n, pin, job) in by:
                    print(
                        f"{run} at {n:,}, {where}, against the pandas script for the same job: "
                        f"{by[(n, pin, run)] / by[(n, pin, job)]:.2f}x wall, "
                        f"{by_cpu[(n, pin, run)] / by_cpu[(n, pin, job)]:.2f}x CPU"
                    )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
