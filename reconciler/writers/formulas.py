"""Spreadsheet formulas in analyst-facing files (OWASP CSV injection): which values a
spreadsheet would run, and the leading ``'`` that makes them inert text."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from reconciler.writers.bytescan import _arrow_text, _formula_like


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
    return _formula_like(_arrow_text(values))


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
