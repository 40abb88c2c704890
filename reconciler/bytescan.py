"""Byte scans (memchr, numpy) that tell whether a column of text needs a kernel at all:
quotes, formula characters, XML specials and characters XML cannot hold. Used by the
formula rule (``formulas``), the CSV and XLSX writers and the ledger's record keys; with them
the views of a string array's buffers these scans and joins share."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, cast

import numpy as np
import pandas as pd

_NEEDS_QUOTES = b',"\r\n'


_XML_SPECIAL_BYTES = b"&<>"


_XML_NONCHARACTERS = (b"\xef\xbf\xbe", b"\xef\xbf\xbf")  # U+FFFE, U+FFFF


_XML_CONTROL = np.ones(256, dtype=bool)
_XML_CONTROL[0x20:] = False
_XML_CONTROL[[0x09, 0x0A, 0x0D]] = False


def _load_memchr() -> Callable[[int, int, int], int | None] | None:
    """The C library's ``memchr``, to scan a buffer where it lies (None where it cannot be
    loaded: the scans then search a copy)."""
    try:
        import ctypes

        libc = ctypes.cdll.msvcrt if sys.platform == "win32" else ctypes.CDLL(None)
        found = libc.memchr
    except (ImportError, OSError, AttributeError):  # a Python without ctypes, or no memchr
        return None
    found.restype = ctypes.c_void_p
    found.argtypes = (ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t)
    return cast("Callable[[int, int, int], int | None]", found)


_MEMCHR = _load_memchr()


def _bytes_present(view: memoryview, chars: bytes) -> list[int]:
    """Which of the bytes ``chars`` occur in ``view``: a memchr scan per byte of the buffer
    where it lies, not of a copy (a million-row column's bytes are tens of MB, and a copy
    of them is as many fresh pages). ctypes lets go of the GIL for the scan."""
    if not len(view):
        return []
    if _MEMCHR is None:
        data = bytes(view)
        return [c for c in chars if data.find(c) >= 0]
    raw = np.frombuffer(view, dtype=np.uint8)  # holds the buffer while it is scanned
    where, size = raw.ctypes.data, len(raw)
    return [c for c in chars if _MEMCHR(where, c, size)]


def _bytes_match(arr: Any, chars: bytes) -> bool:
    """Whether any of the bytes ``chars`` occurs in a string array's data: a memchr scan of
    its buffer per byte, which lets the per-value kernels be skipped for the many columns
    that need none."""
    return bool(_bytes_present(_data_view(arr), chars))


def _rows_holding(arr: Any, chars: bytes) -> np.ndarray:
    """Per value of a string array: whether it holds any of the (ASCII) bytes ``chars``.

    A numpy pass over the bytes of each character present (memchr says which), the hits
    mapped to their values by the offsets: no per-value kernel, however long the texts.
    Null values hold nothing."""
    out = np.zeros(len(arr), dtype=bool)
    if not len(arr):
        return out
    view = _data_view(arr)
    present = _bytes_present(view, chars)
    if not present:
        return out
    raw = np.frombuffer(view, dtype=np.uint8)
    hit = raw == present[0]
    for c in present[1:]:
        hit |= raw == c
    at = np.flatnonzero(hit)
    if len(at):
        out[np.searchsorted(_offsets(arr), at, side="right") - 1] = True
    if arr.null_count:
        out &= np.asarray(arr.is_valid())
    return out


def _first_bytes(arr: Any) -> np.ndarray:
    """Per value of a string array: its first byte (0 for an empty or null value)."""
    offsets = _offsets(arr)
    raw = np.frombuffer(_data_view(arr), dtype=np.uint8)
    if not len(raw):
        return np.zeros(len(arr), dtype=np.uint8)
    out = raw.take(offsets[:-1], mode="clip")
    out[offsets[1:] == offsets[:-1]] = 0
    if arr.null_count:
        out[~np.asarray(arr.is_valid())] = 0
    return out


_FIRST_MIX = np.uint64(0x9E3779B97F4A7C15)
_LAST_MIX = np.uint64(0xC2B2AE3D27D4EB4F)


def _fingerprints(arr: Any) -> np.ndarray:
    """Per value of a (null-free) string array: a 64-bit fingerprint mixed from its length
    and its first and last eight bytes. Equal values have equal fingerprints (a value is
    never read past its own bytes into the next one's); different values seldom share one,
    so a caller compares as text only the values whose fingerprint repeats. One gather of
    eight bytes at each end: no hash of a string a value."""
    offsets = _offsets(arr)
    starts, ends = offsets[:-1], offsets[1:]
    lengths = (ends - starts).astype(np.uint64)
    raw = np.frombuffer(_data_view(arr), dtype=np.uint8)
    if len(raw) < 8:  # too short to hold one word: read it from a padded copy
        raw = np.concatenate((raw, np.zeros(8, dtype=np.uint8)))
    # Eight bytes starting at each byte, read as one little-endian integer, where the data
    # lie (a copy of a million values' bytes is as many fresh pages): the words end with the
    # data, and a value starting in its last seven bytes is read from the last word, shifted
    # down (the bytes past the data then read as 0, as a padded copy's would).
    tail = len(raw) - 8
    words = np.ndarray((tail + 1,), dtype="<u8", buffer=raw, strides=(1,))
    short = lengths < 8
    keep = np.where(
        short, (np.uint64(1) << (lengths.clip(max=7) * np.uint64(8))) - np.uint64(1), ~np.uint64(0)
    )
    first = words[starts.clip(max=tail)]
    late = starts > tail
    if late.any():
        first[late] >>= (starts[late] - tail).astype(np.uint64) * np.uint64(8)
    first &= keep
    last = np.where(short, first, words[np.maximum(ends - 8, 0)])
    with np.errstate(over="ignore"):
        return np.asarray(first * _FIRST_MIX ^ last * _LAST_MIX ^ lengths, dtype=np.uint64)


def _offsets(arr: Any) -> np.ndarray:
    """A string array's ``len(arr) + 1`` value offsets into ``_data_view(arr)`` (from 0)."""
    import pyarrow as pa

    wide = pa.types.is_large_string(arr.type) or pa.types.is_large_binary(arr.type)
    kind = np.int64 if wide else np.int32
    offsets: np.ndarray = np.frombuffer(arr.buffers()[1], dtype=kind)
    offsets = offsets[arr.offset : arr.offset + len(arr) + 1]
    relative: np.ndarray = (offsets - offsets[0]).astype(np.int64, copy=False)
    return relative


def _null_where(arr: Any, mask: np.ndarray) -> Any:
    """A string array with the values at ``mask`` null, sharing its offsets and bytes."""
    import pyarrow as pa

    if not mask.any():
        return arr
    if arr.offset or arr.null_count:
        return pa.compute.if_else(pa.array(mask), pa.scalar(None, arr.type), arr)
    valid = pa.array(~mask).buffers()[1]
    return pa.Array.from_buffers(arr.type, len(arr), [valid, *arr.buffers()[1:]])


def _has_xml_illegal(arr: Any) -> bool:
    """Whether a string array holds a character XML 1.0 cannot (C0 controls, U+FFFE/F):
    numpy scans of its bytes, exact checks only when a suspect byte shows up."""
    view = _data_view(arr)
    if not len(view):
        return False
    raw = np.frombuffer(view, dtype=np.uint8)
    low = raw < 0x20
    if low.any() and _XML_CONTROL[raw[low]].any():
        return True
    if (raw == 0xEF).any():
        data = bytes(view)
        return any(seq in data for seq in _XML_NONCHARACTERS)
    return False


def _data_view(arr: Any) -> memoryview:
    """The UTF-8 bytes of a (non-chunked) string array's values, concatenated, without copying."""
    import pyarrow as pa

    offsets = memoryview(arr.buffers()[1]).cast("B")
    data = arr.buffers()[2]
    first, last = arr.offset, arr.offset + len(arr)
    if pa.types.is_large_string(arr.type):
        start = offsets[first * 8 : (first + 1) * 8].cast("q")[0]
        end = offsets[last * 8 : (last + 1) * 8].cast("q")[0]
    else:
        start = offsets[first * 4 : (first + 1) * 4].cast("i")[0]
        end = offsets[last * 4 : (last + 1) * 4].cast("i")[0]
    return memoryview(data)[start:end] if data is not None else memoryview(b"")


def _arrow_text(series: pd.Series) -> Any:
    """A column as an Arrow ``large_string`` array with nulls as ""."""
    import pyarrow as pa
    import pyarrow.compute as pc

    values = series.to_numpy(dtype=object) if series.dtype == object else series
    arr = pa.array(values, from_pandas=True)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    if arr.type != pa.large_string():
        arr = pc.cast(arr, pa.large_string())
    return pc.fill_null(arr, pa.scalar("", pa.large_string()))
