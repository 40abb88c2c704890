"""Spreadsheet formulas in analyst-facing files (OWASP CSV injection): which values a
spreadsheet would run, the leading ``'`` that makes them inert text, and taking it off again
when a file reconciler wrote is read back.

The rule: a value is formula-like when it starts with ``=``, ``+``, ``-``, ``@``, a tab or a
carriage return and is not a plain number (``-12.50`` stays a number). Files meant for
impact.com keep every value exact; analyst-facing files (reconciled.csv, needs-attention,
changes.csv, check.csv, the workbooks) get the ``'``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from reconciler.bytescan import _arrow_text, _bytes_match, _first_bytes

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
PLAIN_NUMBER = r"[+-]?(?:[0-9]+(?:[.,][0-9]*)?|[.,][0-9]+)(?:[eE][+-]?[0-9]+)?"
_FORMULA_BYTES = b"=+-@\t\r"
# By first byte: the characters are ASCII, and an ASCII byte in UTF-8 is always that character.
_FORMULA_FIRST = np.zeros(256, dtype=bool)
_FORMULA_FIRST[list(_FORMULA_BYTES)] = True


def formula_mask(values: pd.Series) -> np.ndarray:
    """True where a spreadsheet would run the cell as a formula (OWASP CSV injection)."""
    if values.dtype == object or isinstance(values.dtype, pd.CategoricalDtype):
        # Judge each distinct value once (verdict columns repeat a handful of texts).
        codes, uniques = pd.factorize(values)
        if len(uniques) < len(values) // 4:
            judged = _formula_mask(pd.Series(np.asarray(uniques, dtype=object)).astype("str"))
            out = np.zeros(len(values), dtype=bool)
            valid = codes >= 0
            out[valid] = judged[codes[valid]]
            return out
    return _formula_mask(values)


def _formula_mask(values: pd.Series) -> np.ndarray:
    return formula_like(_arrow_text(values))


def neutralise(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy where every formula-like cell is prefixed with ``'`` so it stays text."""
    out: dict[str, Any] = {}
    for col in frame.columns:
        series = frame[col]
        if series.dtype.kind in "iufb":
            out[col] = series
            continue
        mask = formula_mask(series)
        if mask.any():
            series = series.astype(object).copy()
            series[mask] = "'" + series[mask].astype(str)
        out[col] = series
    return pd.DataFrame(out, index=frame.index)


def formula_like(arr: Any) -> np.ndarray:
    """Values a spreadsheet would run as a formula (see ``formula_mask``), on an Arrow array."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not _bytes_match(arr, _FORMULA_BYTES):
        return np.zeros(len(arr), dtype=bool)
    # Each value's first byte, looked up: no regular expression over the whole column.
    risky: np.ndarray = _FORMULA_FIRST[_first_bytes(arr)]
    if risky.any():
        idx = np.flatnonzero(risky)
        plain = pc.match_substring_regex(pc.take(arr, pa.array(idx)), "^" + PLAIN_NUMBER + "$")
        risky[idx[np.asarray(plain.to_numpy(zero_copy_only=False), dtype=bool)]] = False
    return risky


def unneutralise(values: Sequence[str]) -> list[str]:
    """Drop exactly the ``'`` that ``neutralise`` put before formula-like text.

    One case cannot be told apart: an input value that itself began with ``'`` followed by
    formula-like text (``'=x``) loses its quote here."""
    out = list(values)
    quoted = [i for i, v in enumerate(out) if v.startswith("'")]
    if quoted:
        mask = formula_mask(pd.Series([out[i][1:] for i in quoted], dtype=object))
        for i, risky in zip(quoted, mask, strict=True):
            if risky:
                out[i] = out[i][1:]
    return out
