"""Which file holds what: the names and column contracts of every output, for both commands.

``reconcile`` writes reconciled.csv (every sent row, then ``RECORD_COLUMNS``),
needs-attention.csv/.xlsx (the rows a person must handle, then ``ATTENTION_COLUMNS``),
unmatched_results.csv (``UNMATCHED_COLUMNS``), resubmit.csv (or ``resubmit-NNN.csv`` with
``--max-rows``: the sent template exactly), changes.csv (``CHANGE_COLUMNS``), summary.json,
report.html and reconciled.xlsx. ``check`` writes check.csv (``FINDING_COLUMNS``), check.json
and, with ``--fix``, ``<name>.fixed.csv`` and changes.csv. Stages, writers and reports take the
names from here; nothing else spells them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from .model import Resolution

RECONCILED: Final = "reconciled.csv"
NEEDS_ATTENTION_CSV: Final = "needs-attention.csv"
NEEDS_ATTENTION_XLSX: Final = "needs-attention.xlsx"
UNMATCHED: Final = "unmatched_results.csv"
RESUBMIT: Final = "resubmit.csv"
CHANGES: Final = "changes.csv"
SUMMARY: Final = "summary.json"
REPORT: Final = "report.html"
WORKBOOK: Final = "reconciled.xlsx"
CHECK_CSV: Final = "check.csv"
CHECK_JSON: Final = "check.json"

# The records a person must handle (needs-attention.csv).
# needs-attention.xlsx holds at most this many records (the first by line); the CSV every one.
MAX_ATTENTION_ROWS: Final = 100_000

NEEDS_ATTENTION: tuple[str, ...] = (
    Resolution.FIX_MANUALLY,
    Resolution.CONTACT_SUPPORT,
    Resolution.REVIEW,
)
# Every record but the accepted and the terminal ones: the summary's records_to_follow_up.
FOLLOW_UP: tuple[str, ...] = (
    *NEEDS_ATTENTION,
    Resolution.WAIT,
    Resolution.AUTO_FIXED,
    Resolution.RECHECK,
)

RECORD_COLUMNS: tuple[str, ...] = (
    "SourceLine",
    "Outcome",
    "ErrorCodes",
    "Resolution",
    "TiedBy",
    "TieNote",
    "Attempt",
    "PreviousBatch",
    "PreviousOutcome",
    "Confirmed",
    "PlatformShows",
    "Advice",
)
# What reconciled.csv ended with before the ledger's columns (``reconciler report`` reads both).
LEDGER_COLUMNS: tuple[str, ...] = ("Attempt", "PreviousBatch", "PreviousOutcome")
CONFIRM_COLUMNS: tuple[str, ...] = ("Confirmed", "PlatformShows")
RECORD_COLUMNS_V2: tuple[str, ...] = tuple(c for c in RECORD_COLUMNS if c not in CONFIRM_COLUMNS)
RECORD_COLUMNS_V1: tuple[str, ...] = tuple(
    c for c in RECORD_COLUMNS if c not in LEDGER_COLUMNS + CONFIRM_COLUMNS
)
ATTENTION_COLUMNS: tuple[str, ...] = (
    "SourceLine",
    "ErrorCodes",
    "Resolution",
    "Advice",
    "CellsToFix",
)
UNMATCHED_COLUMNS: tuple[str, ...] = (
    "ResultFile",
    "ResultRow",
    "ResultLine",
    "Line",
    "ActionId",
    "OrderId",
    "ActionTrackerId",
    "Sku",
    "ErrorCodes",
    "Reason",
    "Detail",
    "CandidateLines",
)
CHANGE_COLUMNS: tuple[str, ...] = ("SourceLine", "Column", "Before", "After", "Rule")
FINDING_COLUMNS: tuple[str, ...] = (
    "SourceLine",
    "Column",
    "Value",
    "Finding",
    "Severity",
    "PredictedError",
    "Advice",
)


def resubmit_names(n: int, max_rows: int | None) -> tuple[str, ...]:
    """The resubmission's files for ``n`` records, at most ``max_rows`` in each."""
    if n == 0:
        return ()
    if not max_rows:
        return (RESUBMIT,)
    parts = -(-n // max_rows)
    return tuple(f"resubmit-{i:03d}.csv" for i in range(1, parts + 1))


def attention_names(n: int, *, workbook: bool) -> tuple[str, ...]:
    """The needs-attention files for ``n`` records (the workbook unless ``--no-xlsx``)."""
    if not n:
        return ()
    return (NEEDS_ATTENTION_CSV, *((NEEDS_ATTENTION_XLSX,) if workbook else ()))


def fixed_name(checked: Path) -> str:
    """``check --fix``'s corrected copy of ``checked``."""
    return f"{checked.stem}.fixed.csv"


def check_names(checked: Path, *, fix: bool) -> tuple[str, ...]:
    """What ``check`` writes for ``checked``."""
    names = (CHECK_CSV, CHECK_JSON)
    return (*names, fixed_name(checked), CHANGES) if fix else names
