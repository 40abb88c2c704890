"""Small builders shared by the tests: tables made in memory, compact verdict tuples."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from reconciler.model import Table
from reconciler.pipeline import Reconciliation


def table(
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    lines: Sequence[int] | None = None,
    fmt: str = "csv",
    name: str = "t.csv",
    header_line: int = 1,
    meta: dict[str, str] | None = None,
) -> Table:
    frame = pd.DataFrame([list(r) for r in rows], columns=list(header), dtype=object)
    if not rows:
        frame = pd.DataFrame({h: pd.Series([], dtype=object) for h in header})
    if lines is None:
        lines = list(range(header_line + 1, header_line + 1 + len(rows)))
    return Table(
        path=Path(name),
        format=fmt,
        header=tuple(header),
        frame=frame,
        lines=np.asarray(lines, dtype=np.int64),
        header_line=header_line,
        meta=meta or {},
    )


def verdicts(rec: Reconciliation) -> list[tuple[int, str, str, str]]:
    """(SourceLine, Outcome, ErrorCodes, TiedBy) per sent record, in sent order."""
    r = rec.records
    return [
        (int(a), str(b), str(c), str(d))
        for a, b, c, d in zip(
            r["SourceLine"], r["Outcome"], r["ErrorCodes"], r["TiedBy"], strict=True
        )
    ]


def unmatched(rec: Reconciliation) -> list[tuple[int, str]]:
    """(ResultRow, Reason) per unmatched result row."""
    u = rec.unmatched
    return [(int(a), str(b)) for a, b in zip(u["ResultRow"], u["Reason"], strict=True)]


def scenario_inputs(folder: Path, root: Path | None = None) -> tuple[Path, list[Path]]:
    """A fixture scenario's sent file and its results files, in the order to give them:
    ``results*`` (one file, or the pages of one export) then ``submission*`` (the batch's
    FtpSubmission status). Paths relative to ``root`` when it is given."""
    files = sorted(folder.iterdir())
    sent = next(p for p in files if p.stem == "sent")
    results = [
        p
        for prefix in ("results", "submission")
        for p in files
        if p.stem.startswith(prefix) and p.suffix != ".txt"
    ]
    if root is not None:
        return sent.relative_to(root), [p.relative_to(root) for p in results]
    return sent, results
