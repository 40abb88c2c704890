"""Value fixes over whole columns, vectorised: the one amount parser every stage uses."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from .values import fix_amount

# An amount with a comma for its point and nothing else (``82,13``, ``0,5``): at most six
# digits before it, so never past decimal(8,2), and no sign or code to weigh against the
# record's currency. ``fix_amount`` reads it as that decimal with a point.
_DECIMAL_COMMA = r"^[0-9]{1,6},[0-9]{1,2}$"


def decimal_commas(
    values: npt.NDArray[np.object_],
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.object_]]:
    """Which ``values`` are amounts written with a decimal comma, and for those what
    ``fix_amount`` makes of them (``82.13``, leading zeros dropped: ``0.5`` for ``00,5``),
    whole columns at a time: a file of such amounts holds a distinct one a record."""
    import pyarrow as pa

    arr = pa.array([v if isinstance(v, str) else "" for v in values.tolist()], pa.large_string())
    hit, text = _decimal_comma_texts(arr)
    fixed = np.empty(len(values), dtype=object)
    if hit.any():
        fixed[hit] = text.to_pylist()
    return hit, fixed


def _decimal_comma_texts(arr: Any) -> tuple[npt.NDArray[np.bool_], Any]:
    """``decimal_commas`` on an Arrow string array (nulls are no amounts): which values are
    amounts with a decimal comma, and what ``fix_amount`` makes of those, as Arrow text."""
    import pyarrow as pa
    import pyarrow.compute as pc

    text_type = pa.large_string()
    found = pc.fill_null(pc.match_substring_regex(arr, _DECIMAL_COMMA), False)
    hit = np.asarray(found.to_numpy(zero_copy_only=False), dtype=bool)
    if not hit.any():
        return hit, pa.array([], text_type)
    taken = pc.replace_substring(pc.cast(arr.filter(pa.array(hit)), text_type), ",", ".")
    whole = pc.utf8_ltrim(taken, characters="0")
    zero = pc.starts_with(whole, ".")
    padded = pc.binary_join_element_wise(pa.scalar("0", text_type), whole, pa.scalar("", text_type))
    return hit, pc.if_else(zero, padded, whole)


def amount_numbers(values: pd.Series) -> npt.NDArray[np.float64]:
    """Amount cells as floats, NaN where a cell is not an amount ``fix_amount`` can read.

    Plain decimals (``12``, ``12.50``) are parsed by Arrow in one pass; every other
    non-empty spelling (``1.234,50``, ``$12``, ``12 EUR``) once per distinct value."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from reconciler.normalize import arrow_strings

    arr = arrow_strings(values.astype("str")).combine_chunks()
    plain = pc.match_substring_regex(arr, r"^[0-9]+(?:\.[0-9]+)?$")
    parsed = pc.cast(pc.if_else(plain, arr, pa.scalar(None, arr.type)), pa.float64())
    out = np.array(parsed.to_numpy(zero_copy_only=False), dtype=np.float64, copy=True)
    odd = np.flatnonzero(np.isnan(out) & (values != "").to_numpy(dtype=bool))
    if len(odd):
        # Decimal commas read whole (nearly every one a distinct value), in Arrow: each fixed
        # text is a plain decimal, which Arrow reads as Python's float() does (correctly
        # rounded); the rest one by one.
        comma, fixed = _decimal_comma_texts(arr.take(pa.array(odd)))
        if comma.any():
            out[odd[comma]] = np.asarray(
                pc.cast(fixed, pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64
            )
            odd = odd[~comma]
    if len(odd):
        memo: dict[str, float] = {}
        for i, raw in zip(odd, values.iloc[odd].to_numpy(dtype=object), strict=True):
            if raw not in memo:
                fix = fix_amount(str(raw))
                memo[raw] = float(fix.value) if fix.ok else float("nan")
            out[i] = memo[raw]
    return out
