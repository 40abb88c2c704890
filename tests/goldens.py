"""Golden files: one comparison for every test that checks outputs byte for byte.

A golden lives in ``tests/golden/<case>/<name>``. A missing golden fails. On a mismatch the
actual output is written to ``tests/actual/<case>/<name>`` (git-ignored), never beside the
golden. ``RECONCILER_UPDATE_GOLDEN=1 pytest`` writes the goldens instead; review the diff.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

HERE = Path(__file__).resolve().parent
GOLDEN = HERE / "golden"
ACTUAL = HERE / "actual"


def updating() -> bool:
    return os.environ.get("RECONCILER_UPDATE_GOLDEN") == "1"


def compare(case: str, outputs: Mapping[str, bytes | None]) -> list[str]:
    """Compare ``outputs`` (name -> bytes, None when the run did not write it) with the
    goldens of ``case``; a list of problems, empty when all match."""
    gold = GOLDEN / case
    problems: list[str] = []
    for name, actual in outputs.items():
        golden = gold / name
        stray = ACTUAL / case / name
        if updating():
            gold.mkdir(parents=True, exist_ok=True)
            if actual is not None:
                golden.write_bytes(actual)
            elif golden.exists():
                golden.unlink()
            continue
        if actual is None:
            if golden.exists():
                problems.append(f"{name}: expected (golden exists) but not written")
            continue
        if not golden.exists():
            problems.append(
                f"{name}: no golden file {golden} (run with RECONCILER_UPDATE_GOLDEN=1)"
            )
            continue
        if actual != golden.read_bytes():
            stray.parent.mkdir(parents=True, exist_ok=True)
            stray.write_bytes(actual)
            problems.append(f"{name}: differs from {golden} (the actual output is {stray})")
        elif stray.exists():
            stray.unlink()
    return problems
