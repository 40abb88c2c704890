"""CSV outputs: UTF-8, comma-separated, quoted where needed, built a column at a time with
Arrow's string kernels; analyst-facing files get formulas neutralised."""

from __future__ import annotations

import codecs
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from reconciler.bytescan import (
    _NEEDS_QUOTES,
    _arrow_text,
    _data_view,
    _rows_holding,
)
from reconciler.formulas import formula_like, formula_mask

ROWS_PER_CHUNK = 100_000


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
        # Categorical columns' texts, encoded once for all chunks (by the first one).
        memo: dict[tuple[int, bool], Any] = {}

        def body(i: int) -> memoryview:
            part = frame.iloc[i * ROWS_PER_CHUNK : (i + 1) * ROWS_PER_CHUNK]
            return _csv_body(part, safe=safe, lead=None if lead is None else lead[i], memo=memo)

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
    return [
        _csv_rows(frame.iloc[start : start + ROWS_PER_CHUNK], safe=safe, alone=False, memo={})
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
    doubled = pc.replace_substring(subset, '"', '""')
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
) -> memoryview:
    """The CSV lines of a slice, as one buffer. The line end rides on the last field and
    ``lead`` joins in the same pass: the row text is built once."""
    import pyarrow as pa
    import pyarrow.compute as pc

    columns = _csv_fields(frame, safe=safe, alone=lead is None, line_end=True, memo=memo)
    if lead is not None:
        columns = [lead, *columns]
    comma = pa.scalar(",", pa.large_string())
    rows = pc.binary_join_element_wise(*columns, comma) if len(columns) > 1 else columns[0]
    return _data_view(rows)


def _csv_rows(
    frame: pd.DataFrame,
    *,
    safe: bool,
    alone: bool,
    memo: dict[tuple[int, bool], Any] | None = None,
) -> Any:
    """The fields of each row joined by commas (``alone``: these are all of the row's fields)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    columns = _csv_fields(frame, safe=safe, alone=alone, line_end=False, memo=memo)
    comma = pa.scalar(",", pa.large_string())
    return pc.binary_join_element_wise(*columns, comma) if len(columns) > 1 else columns[0]


def _csv_fields(
    frame: pd.DataFrame,
    *,
    safe: bool,
    alone: bool,
    line_end: bool,
    memo: dict[tuple[int, bool], Any] | None,
) -> list[Any]:
    """Each column's encoded fields; with ``line_end`` the last one ends with ``\\n``."""
    import pyarrow as pa
    import pyarrow.compute as pc

    text = pa.large_string()
    empty = pa.scalar("", text)
    newline = pa.scalar("\n", text)
    last = frame.shape[1] - 1

    def encoder(i: int) -> Callable[[Any], Any]:
        def cell(arr: Any) -> Any:
            out = _csv_quote(_neutralise_arrow(arr) if safe else arr)
            if alone and last == 0:
                # A lone empty field would read back as a blank line.
                out = pc.if_else(pc.equal(out, empty), pa.scalar('""', text), out)
            if line_end and i == last:
                out = pc.binary_join_element_wise(out, newline, empty)
            return out

        return cell

    columns = []
    for i in range(frame.shape[1]):
        series = frame.iloc[:, i]
        if series.dtype.kind in "iuf":
            columns.append(encoder(i)(_arrow_text(series)))
        else:
            columns.append(_column_via_uniques(series, encoder(i), memo, i == last and line_end))
    return columns
