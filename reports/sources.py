"""Where a report's run comes from: a finished ``Reconciliation`` in memory, or an output folder
of ``reconciler reconcile`` read back (``summary.json``, ``reconciled.csv``,
``unmatched_results.csv``, through ``reconciler.readers``). Both give the same ``RunData``, so
``reconciler report`` re-renders exactly what ``reconcile`` wrote.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from reconciler.errors import InputError
from reconciler.model import Reconciliation, Summary, SummaryError
from reconciler.outputs import (
    RECONCILED,
    RECORD_COLUMNS,
    RECORD_COLUMNS_V1,
    RECORD_COLUMNS_V2,
    SUMMARY,
    UNMATCHED,
    UNMATCHED_COLUMNS,
)
from reconciler.readers import read_table
from reconciler.readers.document import read_json_document


@dataclass(frozen=True, slots=True, eq=False)
class RunData:
    """What both sources provide: the summary, the sent columns, the verdict columns
    (``RECORD_COLUMNS``) and the unmatched results. ``neutralised``: values were written by
    ``writers.neutralise`` (a ``'`` before formula-like text), to undo for display."""

    summary: Summary
    sent: pd.DataFrame
    verdict: pd.DataFrame
    lines: npt.NDArray[np.int64]
    unmatched: pd.DataFrame
    neutralised: bool


def run_from_reconciliation(rec: Reconciliation) -> RunData:
    verdict = rec.records[list(RECORD_COLUMNS)]
    return RunData(
        summary=rec.summary,
        sent=rec.sent.frame,
        verdict=verdict,
        lines=np.asarray(verdict["SourceLine"].to_numpy(), dtype=np.int64),
        unmatched=rec.unmatched,
        neutralised=False,
    )


def run_from_folder(out_dir: Path) -> RunData:
    """Read an output folder of ``reconciler reconcile``; InputError when it is not one."""
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        raise InputError(
            "is not a folder; give the output folder of reconciler reconcile", path=out_dir
        )
    for name in (SUMMARY, RECONCILED, UNMATCHED):
        if not (out_dir / name).is_file():
            raise InputError(
                f"holds no {name}; give the output folder of reconciler reconcile "
                "(or run it again)",
                path=out_dir,
            )
    summary = _read_summary(out_dir / SUMMARY)
    records = read_table(out_dir / RECONCILED)
    frame = records.frame
    # Earlier versions: before the platform's confirmation, before the ledger.
    for columns in (RECORD_COLUMNS, RECORD_COLUMNS_V2, RECORD_COLUMNS_V1):
        if tuple(records.header[-len(columns) :]) == columns:
            verdict = frame.iloc[:, -len(columns) :].set_axis(list(columns), axis=1)
            break
    else:
        raise InputError(
            f"does not end with the columns {', '.join(RECORD_COLUMNS)}; "
            "was it written by reconciler reconcile?",
            path=out_dir / RECONCILED,
        )
    verdict = verdict.reindex(columns=list(RECORD_COLUMNS), fill_value="")
    try:
        lines = np.asarray(verdict["SourceLine"].astype(np.int64).to_numpy(), dtype=np.int64)
    except (TypeError, ValueError):
        raise InputError(
            "has a SourceLine that is not a whole number; was it edited? run reconcile again",
            path=out_dir / RECONCILED,
        ) from None
    if len(frame) != summary.sent_records:
        raise InputError(
            f"holds {len(frame):,} records but summary.json says {summary.sent_records:,}; "
            "the folder was edited: run reconcile again",
            path=out_dir / RECONCILED,
        )
    unmatched = read_table(out_dir / UNMATCHED)
    missing = [c for c in UNMATCHED_COLUMNS if c not in unmatched.frame.columns]
    if missing:
        raise InputError(
            f"lacks the column {missing[0]}; was it written by reconciler reconcile?",
            path=out_dir / UNMATCHED,
        )
    return RunData(
        summary=summary,
        sent=frame.iloc[:, : -len(columns)],
        verdict=verdict,
        lines=lines,
        unmatched=unmatched.frame,
        neutralised=True,
    )


def _read_summary(path: Path) -> Summary:
    try:
        data = read_json_document(path, "run reconcile again")
    except InputError as exc:
        if "nested too deeply" in exc.message:
            raise InputError(
                "is nested too deeply to be a reconciler summary; run reconcile again", path=path
            ) from None
        raise
    try:
        return Summary.from_json(data)
    except SummaryError as exc:
        raise InputError(
            f"{exc}: it was written by another reconciler version or edited; run reconcile again",
            path=path,
        ) from None
