"""A 64-bit hash of each row's values, so that the ledger can tell the same row sent again
(a resubmission, a correction written twice) without keeping the rows themselves.

A row is hashed as reconciled.csv writes it (``writers.encode_rows``: its fields quoted where
CSV needs it, joined by commas), so the sent rows already encoded for reconciled.csv cost
only the hashing; a resubmission written from a sent file's columns hashes the same as that
file's rows when it is sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from .writers import encode_rows


def row_hashes(frame: pd.DataFrame) -> np.ndarray:
    """Per row of ``frame``: the hash of its values, in column order."""
    return encoded_row_hashes(encode_rows(frame, safe=True))


def encoded_row_hashes(chunks: Sequence[Any]) -> np.ndarray:
    """Per row: the hash of its encoded text (``encode_rows(frame, safe=True)``'s chunks)."""
    parts = [
        pd.util.hash_array(chunk.to_numpy(zero_copy_only=False), categorize=False)
        for chunk in chunks
    ]
    if not parts:
        return np.zeros(0, dtype=np.int64)
    return np.asarray(np.concatenate(parts), dtype=np.uint64).view(np.int64)
