"""A 64-bit hash of each row's values, so that the ledger can tell the same row sent again
(a resubmission, a correction written twice) without keeping the rows themselves."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .bytescan import _bytes_match
from .normalize import arrow_strings

SEPARATOR = "\x1f"


def row_hashes(frame: pd.DataFrame) -> np.ndarray:
    """Per row: its values in column order, joined by a unit separator (escaped where a value
    holds one, so that different rows never join the same), hashed as one text. A resubmission
    written from a sent file's columns hashes the same as that file's rows when it is sent."""
    columns = []
    for label in frame.columns:
        arr = pc.cast(arrow_strings(frame[label]).combine_chunks(), pa.string())
        arr = pc.fill_null(arr, "")
        if _bytes_match(arr, b"\x1f\\"):
            arr = pc.replace_substring(pc.replace_substring(arr, "\\", "\\\\"), SEPARATOR, "\\x1f")
        columns.append(arr)
    if not columns or not len(frame):
        return np.zeros(len(frame), dtype=np.int64)
    joined = pc.binary_join_element_wise(*columns, SEPARATOR)
    hashed = pd.util.hash_array(joined.to_numpy(zero_copy_only=False), categorize=False)
    return np.asarray(hashed, dtype=np.uint64).view(np.int64)
