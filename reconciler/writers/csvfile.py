"""CSV outputs: UTF-8, comma-separated, quoted where needed, built a column at a time with
Arrow's string kernels; analyst-facing files get formulas neutralised."""

from __future__ import annotations

import codecs
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from reconciler.bytescan import (
    _NEEDS_QUOTES,
    _arrow_text,
    _bytes_match,
    _data_view,
    _rows_holding,
)
from reconciler.formulas import formula_like, formula_mask

# Rows encoded at a time. Each chunk's columns are made whole (Arrow's ``take`` of a text
# column grows its buffer by doubling, then copies it once more to shrink it), and two chunks
# are in flight: at 100,000 rows those transient buffers of 15 to 35 MB outgrew the holes
# earlier ones left, and the heap kept growing (at 1,000,000 records, 100 MB more peak memory
# and 25,000 more page faults than at 25,000 rows, which cost no more CPU).
ROWS_PER_CHUNK = 25_000


def write_csv(
    frame: pd.DataFrame,
    path: Path,
    *,
    header: Sequence[str] | None = None,
    safe: bool = False,
    lead: Sequence[Any] | None = None,
    bom: bool = False,
) -> None:
    """UTF-8 (no BOM), comma-separated, header first, ``\\n`` line ends, minimal quoting.

    A field is quoted only when it holds a comma, a quote or a line break (quotes doubled),
    exactly as Python's csv module does. Rows are built a whole column at a time with Arrow's
    string kernels and written as one buffer: pandas' ``to_csv`` spends seconds per million
    rows in Python.

    ``safe`` neutralises formula-like values on the way (see ``neutralise``), for files
    analysts open in a spreadsheet.

    ``bom``: a UTF-8 byte-order mark first, for the files analysts open by double-clicking
    (Excel on Windows then reads UTF-8, not the machine's code page); never for a file meant
    for impact.com.

    ``lead``: the leading fields of every row, already encoded by ``encode_rows`` (with the
    same ``safe``); ``frame`` then holds only the columns that follow them, and ``header``
    names all of them.
    """
    names = [str(h) for h in (header if header is not None else frame.columns)]
    if safe:
        risky = formula_mask(pd.Series(names, dtype=object))
        names = ["'" + n if r else n for n, r in zip(names, risky, strict=True)]
    with path.open("wb") as fh:
        if bom:
            fh.write(codecs.BOM_UTF8)
        fh.write((",".join(_quote_one(h) for h in names) + "\n").encode("utf-8"))
        if len(frame) == 0:
            return
        # Runs of categorical columns, encoded once per distinct combination for all chunks;
        # other categorical columns' texts are encoded once by the first chunk.
        runs = _categorical_runs(frame, safe=safe, alone=lead is None, line_end=True)
        memo: dict[tuple[int, bool], Any] = {}

        def body(i: int) -> memoryview:
            rows = slice(i * ROWS_PER_CHUNK, (i + 1) * ROWS_PER_CHUNK)
            return _csv_body(
                frame.iloc[rows],
                safe=safe,
                lead=None if lead is None else lead[i],
                memo=memo,
                runs=runs,
                rows=rows,
            )

        chunks = -(-len(frame) // ROWS_PER_CHUNK)
        fh.write(body(0))
        if chunks > 2:
            # Two chunks in flight at a time, written in order: the second core helps when
            # it is free, and memory stays bounded.
            with ThreadPoolExecutor(max_workers=2, thread_name_prefix="reconciler-csv") as pool:
                pending = [pool.submit(body, i) for i in range(1, min(3, chunks))]
                for i in range(1, chunks):
                    done = pending.pop(0).result()
                    if i + 2 < chunks:
                        pending.append(pool.submit(body, i + 2))
                    fh.write(done)
        else:
            for i in range(1, chunks):
                fh.write(body(i))


def encode_rows(frame: pd.DataFrame, *, safe: bool = False) -> list[Any]:
    """Every row of ``frame`` as its CSV fields joined by commas, without the line end: one
    Arrow string array per ``ROWS_PER_CHUNK`` rows, for ``write_csv(lead=...)``.

    Encoding the sent file's own columns does not depend on the verdicts, so the pipeline
    does it on the second core while the records are being tied and classified."""
    runs = _categorical_runs(frame, safe=safe, alone=False, line_end=False)
    memo: dict[tuple[int, bool], Any] = {}
    return [
        _csv_rows(
            frame.iloc[start : start + ROWS_PER_CHUNK],
            safe=safe,
            alone=False,
            memo=memo,
            runs=runs,
            rows=slice(start, start + ROWS_PER_CHUNK),
        )
        for start in range(0, len(frame), ROWS_PER_CHUNK)
    ]


def _quote_one(value: str) -> str:
    if any(ch in value for ch in ',"\r\n'):
        return '"' + value.replace('"', '""') + '"'
    return value


def _column_via_uniques(
    series: pd.Series,
    transform: Callable[[Any], Any],
    memo: dict[tuple[int, bool], Any] | None = None,
    variant: bool = False,
) -> Any:
    """``transform`` (Arrow string array -> Arrow string array) over a column.

    Verdict columns repeat a few texts (Outcome, Resolution, codes, advice): they are
    factorised and transformed once per distinct value, then expanded with ``take``."""
    import pyarrow as pa

    if isinstance(series.dtype, pd.CategoricalDtype):
        cat_codes = np.asarray(series.array.codes, dtype=np.int64)
        if len(cat_codes) and cat_codes.min() >= 0:
            # The slices of one column share their dtype; ``variant`` tells two transforms
            # of one column apart.
            key = (id(series.dtype), variant)
            done = memo.get(key) if memo is not None else None
            if done is None:
                texts = pd.Series(np.asarray(series.array.categories, dtype=object), dtype=object)
                done = transform(_arrow_text(texts))
                if memo is not None:
                    memo[key] = done
            return done.take(pa.array(cat_codes))
    if series.dtype == object or isinstance(series.dtype, pd.CategoricalDtype):
        codes, uniques = pd.factorize(series, use_na_sentinel=False)
        if len(uniques) * 4 < len(series):
            values = pd.Series(np.asarray(uniques, dtype=object), dtype=object)
            done = transform(_arrow_text(values))
            return done.take(pa.array(codes.astype(np.int64)))
    return transform(_arrow_text(series))


def _csv_quote(arr: Any) -> Any:
    """Quote the values of an Arrow string array that need it (as the csv module does)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    text = pa.large_string()
    # A byte scan finds the values to quote; only they are quoted and put back: a column
    # with a few "1,299.00" among a million amounts is not rewritten whole.
    needs = _rows_holding(arr, _NEEDS_QUOTES)
    if not needs.any():
        return arr
    subset = arr.take(pa.array(np.flatnonzero(needs)))
    quote = pa.scalar('"', text)
    doubled = pc.replace_substring(subset, '"', '""') if _bytes_match(subset, b'"') else subset
    quoted = pc.binary_join_element_wise(quote, doubled, quote, pa.scalar("", text))
    return pc.replace_with_mask(arr, pa.array(needs), quoted)


def _neutralise_arrow(arr: Any) -> Any:
    """Prefix ``'`` to values a spreadsheet would run as a formula (Arrow array in and out)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    risky = formula_like(arr)
    if not risky.any():
        return arr
    # Only the risky values are rewritten and put back, not the whole column.
    prefixed = pc.binary_join_element_wise(
        pa.scalar("'", pa.large_string()),
        arr.take(pa.array(np.flatnonzero(risky))),
        pa.scalar("", pa.large_string()),
    )
    return pc.replace_with_mask(arr, pa.array(risky), prefixed)


def _csv_body(
    frame: pd.DataFrame,
    *,
    safe: bool = False,
    lead: Any = None,
    memo: dict[tuple[int, bool], Any] | None = None,
    runs: dict[int, _Run] | None = None,
    rows: slice | None = None,
) -> memoryview:
    """The CSV lines of a slice, as one buffer. The line end rides on the last field and
    ``lead`` joins in the same pass: the row text is built once.

    ``runs``: the whole frame's runs of categorical columns (``_categorical_runs``), ``rows``
    the slice's place in the whole frame."""
    import pyarrow as pa
    import pyarrow.compute as pc

    columns = _csv_fields(
        frame, safe=safe, alone=lead is None, line_end=True, memo=memo, runs=runs, rows=rows
    )
    if lead is not None:
        columns = [lead, *columns]
    comma = pa.scalar(",", pa.large_string())
    rows_text = pc.binary_join_element_wise(*columns, comma) if len(columns) > 1 else columns[0]
    return _data_view(rows_text)


def _csv_rows(
    frame: pd.DataFrame,
    *,
    safe: bool,
    alone: bool,
    memo: dict[tuple[int, bool], Any] | None = None,
    runs: dict[int, _Run] | None = None,
    rows: slice | None = None,
) -> Any:
    """The fields of each row joined by commas (``alone``: these are all of the row's fields)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    columns = _csv_fields(
        frame, safe=safe, alone=alone, line_end=False, memo=memo, runs=runs, rows=rows
    )
    comma = pa.scalar(",", pa.large_string())
    return pc.binary_join_element_wise(*columns, comma) if len(columns) > 1 else columns[0]


def _encode_field(arr: Any, *, safe: bool, lone: bool) -> Any:
    """A column's fields as written: formula-like values neutralised (``safe``), quoted where
    needed; ``lone`` (the row's only field): an empty one is written ``""``, as a lone empty
    field would read back as a blank line."""
    import pyarrow as pa
    import pyarrow.compute as pc

    out = _csv_quote(_neutralise_arrow(arr) if safe else arr)
    if lone:
        text = pa.large_string()
        out = pc.if_else(pc.equal(out, pa.scalar("", text)), pa.scalar('""', text), out)
    return out


def _csv_fields(
    frame: pd.DataFrame,
    *,
    safe: bool,
    alone: bool,
    line_end: bool,
    memo: dict[tuple[int, bool], Any] | None,
    runs: dict[int, _Run] | None = None,
    rows: slice | None = None,
) -> list[Any]:
    """Each column's encoded fields; with ``line_end`` the last one ends with ``\\n``. A run
    of categorical columns (``runs``, for the rows ``rows`` of the whole frame) comes as
    one array: its fields already joined by commas."""
    import pyarrow as pa
    import pyarrow.compute as pc

    text = pa.large_string()
    empty = pa.scalar("", text)
    newline = pa.scalar("\n", text)
    last = frame.shape[1] - 1

    def encoder(i: int) -> Callable[[Any], Any]:
        def cell(arr: Any) -> Any:
            out = _encode_field(arr, safe=safe, lone=alone and last == 0)
            if line_end and i == last:
                out = pc.binary_join_element_wise(out, newline, empty)
            return out

        return cell

    columns = []
    i = 0
    while i < frame.shape[1]:
        run = runs.get(i) if runs is not None and rows is not None else None
        if run is not None and rows is not None:
            columns.append(run.text.take(pa.array(run.ids[rows])))
            i = run.stop
            continue
        series = frame.iloc[:, i]
        if series.dtype.kind in "iuf":
            columns.append(encoder(i)(_arrow_text(series)))
        else:
            columns.append(_column_via_uniques(series, encoder(i), memo, i == last and line_end))
        i += 1
    return columns


@dataclass(frozen=True, slots=True, eq=False)
class _Run:
    """Adjacent categorical columns ``start:stop`` written as one field group: each distinct
    combination of their values is encoded once (fields joined by commas, with the line end
    when the run ends the line) and taken by code for each row."""

    start: int
    stop: int
    ids: np.ndarray  # per row of the whole frame: its combination
    text: Any  # Arrow large_string: each combination's fields, as written


def _categorical_runs(
    frame: pd.DataFrame, *, safe: bool, alone: bool, line_end: bool
) -> dict[int, _Run]:
    """The frame's runs of adjacent categorical columns of text, by first column.

    Verdict columns (Outcome, codes, Resolution, Advice...) repeat a few texts: rather than
    a take and a join per column and row, a row's codes are combined into one number, the
    distinct combinations found once for the whole frame, their fields encoded and joined
    once each, and each row takes its combination's text: one take and one joined column per
    row for the whole run."""
    import pyarrow as pa
    import pyarrow.compute as pc

    width = frame.shape[1]
    if not len(frame):
        return {}
    textual = [_text_categorical(frame.iloc[:, i]) for i in range(width)]
    runs: dict[int, _Run] = {}
    i = 0
    while i < width:
        if not textual[i]:
            i += 1
            continue
        stop = i
        while stop < width and textual[stop]:
            stop += 1
        columns = [frame.iloc[:, j].array for j in range(i, stop)]
        codes = [_slots(col) for col in columns]
        ids, count = _combinations(codes, len(frame))
        # Any row of each combination stands for it.
        sample = np.empty(count, dtype=np.int64)
        sample[ids] = np.arange(len(ids), dtype=np.int64)
        fields = []
        for col, (slot, count) in zip(columns, codes, strict=True):
            # Only the values the combinations use are encoded (a slice of the records may
            # use a few of a column's categories); the slot after them, missing values, is "".
            each = slot[sample]
            present = np.zeros(count, dtype=bool)
            present[each] = True
            texts = np.append(np.asarray(col.categories, dtype=object), "")[:count][present]
            done = _encode_field(
                _arrow_text(pd.Series(texts, dtype=object)), safe=safe, lone=alone and width == 1
            )
            fields.append(done.take(pa.array(np.cumsum(present, dtype=np.int64)[each] - 1)))
        comma = pa.scalar(",", pa.large_string())
        joined = pc.binary_join_element_wise(*fields, comma) if len(fields) > 1 else fields[0]
        if line_end and stop == width:
            newline, empty = pa.scalar("\n", pa.large_string()), pa.scalar("", pa.large_string())
            joined = pc.binary_join_element_wise(joined, newline, empty)
        runs[i] = _Run(i, stop, ids, joined)
        i = stop
    return runs


def _slots(column: Any) -> tuple[np.ndarray, int]:
    """A categorical's codes and how many values they take: its categories, and one slot
    more after them for missing values (code -1, written "") when it has any."""
    codes = np.asarray(column.codes)
    count = len(column.categories)
    if len(codes) and codes.min() < 0:
        return np.where(codes < 0, count, codes.astype(np.int64)), count + 1
    return codes, count


# Combination numbers up to this many are renumbered by counting (bincount) rather than by
# hashing (factorize): a few milliseconds for a million rows.
_DENSE = 1 << 16


def _combinations(codes: Sequence[tuple[np.ndarray, int]], rows: int) -> tuple[np.ndarray, int]:
    """Per row, the number (0 to count - 1) of its combination of the columns' codes, and
    that count. Mixed-radix numbers, renumbered to the combinations present whenever the
    next column would make them too large to count."""
    limit = max(_DENSE, 4 * rows)
    key: np.ndarray | None = None
    size = 1
    for code, count in codes:
        if count <= 1:
            continue  # every row holds the same value
        if key is None:
            key, size = code.astype(np.int64), count
            continue
        if size * count > limit:
            key, size = _renumber(key, size, limit)
        key *= count
        key += code
        size *= count
    if key is None:
        return np.zeros(rows, dtype=np.int64), 1
    return _renumber(key, size, limit)


def _renumber(key: np.ndarray, size: int, limit: int) -> tuple[np.ndarray, int]:
    """``key``'s values (0 to size - 1) renumbered 0 to count - 1 (the count present)."""
    if size <= limit:
        present = np.bincount(key, minlength=size) > 0
        number = np.cumsum(present, dtype=np.int64) - 1
        return number[key], int(number[-1]) + 1
    ids, uniques = pd.factorize(key)
    return ids.astype(np.int64), len(uniques)


def _text_categorical(series: pd.Series) -> bool:
    """A categorical column whose categories are all text (others keep the column path)."""
    if not isinstance(series.dtype, pd.CategoricalDtype):
        return False
    categories = series.dtype.categories
    if isinstance(categories.dtype, pd.StringDtype):
        return True
    return categories.dtype == object and pd.api.types.infer_dtype(categories) == "string"
