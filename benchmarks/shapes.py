"""Benchmark: the shapes of real files the synthetic data of ``run.py`` never takes.

    python benchmarks/shapes.py                  # 100,000 records, every shape
    python benchmarks/shapes.py --sizes 1000000  # another size
    python benchmarks/shapes.py --only spoiled shifted

The default benchmark's results tie by line, one row an error, its amounts plain, its dates
ISO 8601: the cheap path everywhere. Real files take others, and each of them once cost a
Python step a record or worse (a spoiled ID looked for among every record, once a result).
Each shape here is made from the default data by one change a real file makes, and timed
beside the default run on the same records (fresh processes taking turns, medians, as
``run.py`` does, ``--pin`` for one core): a shape should cost about what the default run
costs, and a ratio far above it is a regression to look at.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import shutil
import statistics
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from generate import SUBMITTED, generate, generate_updates  # noqa: E402
from run import measure  # noqa: E402

Shape = Callable[[Path, Path, Path], list[str]]  # (sent, results, folder) -> arguments


def _rows(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


def _write(path: Path, rows: Iterator[list[str]] | list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)
    return path


def spoiled(sent: Path, results: Path, folder: Path) -> list[str]:
    """Results saved by a spreadsheet: every long OrderId in scientific notation
    (``4.05123E+18``), one in a hundred of them on a row sent by ActionId alone, so that the
    spoiled ID may be any of thousands of records."""
    rows = _rows(results)
    out = [rows[0]]
    for k, row in enumerate(rows[1:]):
        line, oid = row[0], row[1]
        if not oid and k % 100 == 0:
            oid = str(4051234567890000000 + int(line))  # an Oid on a row sent by ActionId
        if len(oid) >= 16:
            oid = f"{float(oid):.5E}"
        out.append([line, oid, *row[2:]])
    return [str(sent), str(_write(folder / "results_spoiled.csv", out))]


def shifted(sent: Path, results: Path, folder: Path) -> list[str]:
    """Results whose lines are one off (another numbering, or a line added after export):
    most lines contradict their record, or name another record's ID."""
    rows = _rows(results)
    out = [rows[0], *([str(int(r[0]) + 1), *r[1:]] for r in rows[1:])]
    return [str(sent), str(_write(folder / "results_shifted.csv", out))]


def past_the_end(sent: Path, results: Path, folder: Path) -> list[str]:
    """Results of a longer file: every line past the sent file's last."""
    rows = _rows(results)
    n = len(_rows(sent))
    out = [rows[0], *([str(int(r[0]) + n + 10), *r[1:]] for r in rows[1:])]
    return [str(sent), str(_write(folder / "results_past_the_end.csv", out))]


def two_rows(sent: Path, results: Path, folder: Path) -> list[str]:
    """An error listing that gives each error of a line on a row of its own: every errored
    record twice, with two codes."""
    rows = _rows(results)
    out = [rows[0]]
    for r in rows[1:]:
        other = "BAD_DISPOSITION" if r[4] == "MALFORMED" else "MALFORMED"
        out += [r, [*r[:4], other]]
    return [str(sent), str(_write(folder / "results_two_rows.csv", out))]


def decimal_commas(sent: Path, results: Path, folder: Path) -> list[str]:
    """A file from a European spreadsheet: every amount with a comma for its point, each
    such record MALFORMED in the results (the resubmission corrects them)."""
    rows = _rows(sent)
    errors = [["Line", "Order Id", "Action Tracker Id", "Error Type", "Message"]]
    out = [rows[0]]
    for line, row in enumerate(rows[1:], start=2):
        amount = row[3]
        if amount not in ("0", "") and amount.replace(".", "", 1).isdigit():
            row = [*row[:3], amount.replace(".", ","), *row[4:]]
            errors.append([str(line), row[1], row[2], "Validation", "MALFORMED"])
        out.append(row)
    return [
        str(_write(folder / "sent_decimal_commas.csv", out)),
        str(_write(folder / "results_decimal_commas.csv", errors)),
    ]


def _export(sent: Path, path: Path, *, real: bool) -> Path:
    """An Actions export of every action of ``sent``: every one pending and open, or (``real``)
    as a real export reads, a third approved, a tenth reversed and a fifth past their
    locking date."""
    export = [["Action Id", "Oid", "Action Tracker Id", "State", "Amount", "Locking Date",
               "Event Date"]]  # fmt: skip
    for i, row in enumerate(_rows(sent)[1:]):
        action = row[0] or f"1000.4637.{158133 + i}"
        state, locking = "PENDING", "2027-01-01"
        if real:
            state = "REVERSED" if i % 10 == 0 else "APPROVED" if i % 10 < 4 else "PENDING"
            locking = "2026-01-01" if i % 5 == 4 else locking
        export.append([action, row[1], "16027", state, "10.00", locking, "2026-10-01T00:00:00Z"])
    return _write(path, export)


def actions(sent: Path, results: Path, folder: Path) -> list[str]:
    """``--actions``: an Actions export of every action, and results where 2% of the records
    are ACTION_NOT_FOUND (their IDs recovered from the export, one look-up each)."""
    errors = [["Line", "Order Id", "Action Tracker Id", "Error Type", "Message"]]
    for i, row in enumerate(_rows(sent)[1:]):
        if i % 50 == 0:
            errors.append([str(i + 2), row[1], row[2], "Validation", "ACTION_NOT_FOUND"])
    return [
        str(sent),
        str(_write(folder / "results_not_found.csv", errors)),
        "--actions",
        str(_export(sent, folder / "actions.csv", real=False)),
    ]


def check_actions(sent: Path, results: Path, folder: Path) -> list[str]:
    """``check`` before sending, with an Actions export of every action as a real one reads
    (``_export``): most records get a finding (already approved, locked, reversed), each
    saying which action and why."""
    export = _export(sent, folder / "actions_real.csv", real=True)
    return [str(sent), "--actions", str(export), "--today", "2026-11-27"]


def local_dates(sent: Path, results: Path, folder: Path) -> list[str]:
    """``--updates`` exported through a spreadsheet: every UpdateDate written ``11/2/2026
    7:37:34`` (month first, no zone), nearly every one a distinct value."""
    feed = _rows(generate_updates(len(_rows(sent)) - 1, folder))
    rng = random.Random(3)
    out = [feed[0]]
    for row in feed[1:]:
        day = row[8][:10]
        y, m, d = day.split("-")
        when = f"{int(m)}/{int(d)}/{y} {rng.randint(0, 23)}:{rng.randint(0, 59):02d}:"
        out.append([*row[:8], when + f"{rng.randint(0, 59):02d}"])
    return [
        str(sent),
        str(results),
        "--updates",
        str(_write(folder / "updates_local_dates.csv", out)),
        "--submitted",
        SUBMITTED,
    ]


SHAPES: dict[str, Shape] = {
    "spoiled": spoiled,
    "shifted": shifted,
    "past-the-end": past_the_end,
    "two-rows": two_rows,
    "decimal-commas": decimal_commas,
    "actions": actions,
    "local-dates": local_dates,
    "check-actions": check_actions,
}
COMMAND: dict[str, str] = {"check-actions": "check"}  # the others: reconcile


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000])
    parser.add_argument("--data", type=Path, default=HERE / "data")
    parser.add_argument("--out", type=Path, default=HERE / "out")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--pin", action="store_true", help="every run on CPU 0 only")
    parser.add_argument("--only", nargs="+", choices=sorted(SHAPES))
    args = parser.parse_args()
    env = {**os.environ, "SOURCE_DATE_EPOCH": "1790000000"}
    reconciler = [sys.executable, "-m", "reconciler"]
    print("| records | shape | CPU s | × the default run | wall s | peak RSS |")
    print("| ---: | --- | ---: | ---: | ---: | ---: |")
    for n in args.sizes:
        sent, results = generate(n, args.data, args.seed)
        folder = args.out / f"shapes_{n}"
        folder.mkdir(parents=True, exist_ok=True)
        runs = {"default": [str(sent), str(results)]}
        for name in args.only or SHAPES:
            runs[name] = SHAPES[name](sent, results, folder)
        figures: dict[str, list[tuple[float, float, float]]] = {name: [] for name in runs}
        for _ in range(max(1, args.repeat)):
            for name, given in runs.items():
                target = folder / f"out_{name}"
                if target.exists():
                    shutil.rmtree(target)
                command = COMMAND.get(name, "reconcile")
                cmd = [*reconciler, command, *given, "--out", str(target), "--force"]
                if command == "reconcile":
                    cmd.append("--no-ledger")
                wall, cpu, rss, _code = measure(cmd, env, pin=args.pin)
                figures[name].append((wall, cpu, rss))
        plain = statistics.median(f[1] for f in figures["default"])
        for name, got in figures.items():
            cpu = statistics.median(f[1] for f in got)
            wall = statistics.median(f[0] for f in got)
            rss = max(f[2] for f in got)
            print(f"| {n:,} | {name} | {cpu:.2f} | {cpu / plain:.2f} | {wall:.2f} | {rss:.0f} MB |")


if __name__ == "__main__":
    main()
