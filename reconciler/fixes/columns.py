"""Value fixes over whole columns, vectorised: the one amount parser every stage uses."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from .values import fix_amount


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
        memo: dict[str, float] = {}
        for i, raw in zip(odd, values.iloc[odd].to_numpy(dtype=object), strict=True):
            if raw not in memo:
                fix = fix_amount(str(raw))
                memo[raw] = float(fix.value) if fix.ok else float("nan")
            out[i] = memo[raw]
    return out
