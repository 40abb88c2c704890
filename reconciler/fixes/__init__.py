"""Fixing values: what a safe correction is, one cell at a time (``values``), for whole
columns (``columns``), and per error code (``rules``, the fix rules ``remediate`` applies).

``values`` and ``columns`` are imported here; ``rules`` (which needs the stages' schemas) is
imported as ``reconciler.fixes.rules`` by the code that applies them.
"""

from __future__ import annotations

from .columns import amount_numbers
from .values import (
    ISO_CURRENCIES,
    ISO_DATETIME,
    MAX_AMOUNT,
    PLAIN_AMOUNT,
    PLAIN_INTEGER,
    SPREADSHEET_DIGITS,
    Fix,
    column_rounding_problem,
    fix_amount,
    fix_date,
    fix_integer,
    fix_reason,
    looks_rounded,
    may_be_rounded,
    reason_key,
    refuse,
    spoiled_form_of,
    spoiled_id_problem,
    timezone,
    unchanged,
)

__all__ = [
    "ISO_CURRENCIES",
    "ISO_DATETIME",
    "MAX_AMOUNT",
    "PLAIN_AMOUNT",
    "PLAIN_INTEGER",
    "SPREADSHEET_DIGITS",
    "Fix",
    "amount_numbers",
    "column_rounding_problem",
    "fix_amount",
    "fix_date",
    "fix_integer",
    "fix_reason",
    "looks_rounded",
    "may_be_rounded",
    "reason_key",
    "refuse",
    "spoiled_form_of",
    "spoiled_id_problem",
    "timezone",
    "unchanged",
]
