"""Words and numbers as the report and the workbook show them, and the rows they pick.

Shared by ``view`` (the HTML report's view model) and ``workbook`` (reconciled.xlsx), so both
say the same thing the same way: counts with thousands separators, plurals, money, the labels
and display order of resolutions, cells cut to a bounded length, and the first records by
line of a selection.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation

import numpy as np
import numpy.typing as npt
import pandas as pd

MAX_CELL_CHARS = 200
"""A longer cell is cut (the CSV holds it whole), so one huge value cannot bloat the report."""
"""A longer cell is cut (the CSV holds it whole), so one huge value cannot bloat the report."""

# Display order of resolutions: what needs a person first, accepted last.
RESOLUTION_ORDER: tuple[str, ...] = (
    "fix_manually", "contact_support", "review", "recheck", "auto_fixed", "wait", "no_action",
    "none",
)  # fmt: skip
RESOLUTION_LABELS: Mapping[str, str] = {
    "none": "Accepted",
    "auto_fixed": "Fixed automatically",
    "fix_manually": "Fix by hand",
    "contact_support": "Contact support",
    "review": "Review by hand",
    "wait": "Wait",
    "recheck": "Unknown: get all results",
    "no_action": "Terminal",
}
RESOLUTION_HINTS: Mapping[str, str] = {
    "none": "applied as sent",
    "auto_fixed": "corrected in the resubmission file; applies once you upload it",
    "fix_manually": "applies once a person corrects the row and resubmits it",
    "contact_support": "needs a configuration change or impact.com support first",
    "review": "a person must decide what happened",
    "wait": "the platform has not finished; not final yet",
    "recheck": "the results given do not say; get them complete and reconcile again",
    "no_action": "can no longer be changed through a file",
}
CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SLUG = re.compile(r"[^A-Za-z0-9_-]+")


def count(n: int) -> str:
    return f"{int(n):,}"


def plural(n: int, one: str, many: str | None = None) -> str:
    return f"{count(n)} {one if int(n) == 1 else (many or one + 's')}"


def money_text(raw: object) -> str:
    """``"1567.05"`` → ``"1,567.05"``; text that is not a number is shown as it is."""
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        return str(raw)
    return f"{value:,.2f}"


def clip(value: object, limit: int = MAX_CELL_CHARS) -> str:
    text = "" if value is None else str(value)
    if text == "nan" and not isinstance(value, str):
        return ""
    text = CONTROL_CHARS.sub("\ufffd", text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def slug(text: str) -> str:
    return _SLUG.sub("-", text).strip("-") or "x"


def table_note(shown: int, total: int, more: str) -> str:
    """``"3 rows."`` or ``"Showing 500 of 20,000 rows. <where the rest are>"``."""
    if shown < total:
        return f"Showing {count(shown)} of {count(total)} rows. {more}"
    return f"{plural(shown, 'row')}."


def resolution_label(res: str) -> str:
    return RESOLUTION_LABELS.get(res, res)


def resolution_tone(res: str) -> str:
    return res if res in RESOLUTION_LABELS else "review"


def ordered_resolutions(keys: Iterable[str]) -> list[str]:
    known = [r for r in RESOLUTION_ORDER if r in keys]
    return known + sorted(k for k in keys if k not in RESOLUTION_ORDER)


def equals(series: pd.Series, value: str) -> npt.NDArray[np.bool_]:
    """``series.to_numpy() == value``, without turning a categorical column into objects
    (that alone takes about 0.1 s for a million records)."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        categories = list(series.cat.categories)
        if value not in categories:
            return np.zeros(len(series), dtype=bool)
        codes = np.asarray(series.cat.codes.to_numpy())
        return np.asarray(codes == categories.index(value), dtype=bool)
    # Text columns compare with Arrow's kernels; a missing value equals nothing.
    return np.asarray((series == value).to_numpy(dtype=bool, na_value=False), dtype=bool)


def in_line_order(lines: npt.NDArray[np.int64]) -> bool:
    """Whether records are in line order: then the first by line are simply the first."""
    return bool(np.all(lines[1:] >= lines[:-1]))


def first_by_line(
    mask: npt.NDArray[np.bool_], lines: npt.NDArray[np.int64], limit: int, ordered: bool
) -> npt.NDArray[np.intp]:
    """Positions of the first ``limit`` records of ``mask`` by line (ties: by position).

    ``ordered``: ``in_line_order(lines)``, which makes sorting needless."""
    positions = np.flatnonzero(mask)
    if ordered:
        return positions[:limit]
    return positions[np.argsort(lines[positions], kind="stable")[:limit]]
