"""Delimited text (CSV, TSV, semicolons, pipes): Arrow's parse when it can be trusted, pandas'
C parser otherwise, and every record's physical start line."""

from __future__ import annotations

import codecs
import io
import re
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from reconciler.errors import InputError
from reconciler.model import IntArray, Table
from reconciler.readers import layout, limits, prefetch
from reconciler.readers.common import (
    _FIX_EXPORT_CSV,
    _check_record_count,
    _clean_label,
    _first_bytes,
    _refuse_repeated_header,
    _size,
    _trimmed_width,
    _unique_labels,
)
from reconciler.readers.encodings import _decode_legacy, _decode_utf16, _utf16_encoding

_FLAT_CELLS: Final = 1_000_000  # cells checked in one flat pass when few rows remain


_DELIMITER_NAMES: Final = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}


_BLANK_LINE: Final = re.compile(rb"[ \t,;|]*")


_LONE_CR: Final = re.compile(rb"\r(?!\n)")


_C_TOO_MANY: Final = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")


_C_EOF_IN_QUOTE: Final = re.compile(r"EOF inside string starting at row (\d+)")


class _NotUtf8(Exception):
    """The tentative UTF-8 reading met invalid bytes: decode as cp1252/latin-1 and retry."""


def _read_delimited(path: Path, raw: bytes, max_records: int, forced: str | None = None) -> Table:
    utf16 = _utf16_encoding(raw)
    if utf16 is not None:
        data = _decode_utf16(path, raw, *utf16).encode("utf-8")
        return _parse_delimited(path, data, 0, utf16[0], max_records, validated=True)
    bom = len(codecs.BOM_UTF8) if raw.startswith(codecs.BOM_UTF8) else 0
    try:
        # Only the head is checked here; pyarrow or the C parser validate the rest as they go.
        codecs.getincrementaldecoder("utf-8")().decode(
            raw[bom : bom + layout.HEAD_BYTES], final=False
        )
    except UnicodeDecodeError:
        pass
    else:
        encoding = "utf-8-sig" if bom else "utf-8"
        try:
            return _parse_delimited(path, raw, bom, encoding, max_records, validated=False)
        except _NotUtf8:
            pass
    encoding, text = _decode_legacy(path, raw[bom:], forced, bom=bom > 0)
    return _parse_delimited(path, text.encode("utf-8"), 0, encoding, max_records, validated=True)


def _parse_delimited(
    path: Path, data: bytes, base: int, encoding: str, max_records: int, *, validated: bool
) -> Table:
    """Parse the UTF-8 text ``data[base:]`` (not yet validated unless ``validated``)."""
    _check_line_lengths(path, data)
    nul = data.find(b"\x00", base)
    if nul >= 0:  # the sniff only looks at the head; one memchr finds a NUL anywhere after it
        line = 1 + _count_breaks(data, base, nul)
        raise InputError(
            f"is not a text table (looks like binary data: a NUL byte on line {line}); "
            f"{_FIX_EXPORT_CSV}",
            path=path,
            line=line,
        )
    start, end = layout.content_span(data, base)
    if _BLANK_LINE.fullmatch(data, start, end):
        what = "is empty" if len(data) == base else "holds only blank lines"
        raise InputError(
            f"has no header row (the file {what}); export the table again with its header",
            path=path,
        )
    header_line = 1 + _count_breaks(data, base, start)
    delimiter, ncols, has_quote = layout.header_layout(data, start, end, path.suffix.lower())
    _check_header_width(path, data, start, end, delimiter, header_line)

    parsed = None
    if layout.ARROW and ncols is not None:
        parsed = _parse_with_pyarrow(data, start, end, delimiter, ncols, has_quote)
    if parsed is None:
        rows = _parse_with_c(path, data[start:end], delimiter, header_line, validated)
        spans = _row_spans(rows, has_quote, _count_breaks(data, start, end) if has_quote else 0)
    else:
        rows, spans = parsed
    return _assemble(
        path,
        rows,
        spans,
        header_line=header_line,
        encoding=encoding,
        delimiter=delimiter,
        max_records=max_records,
    )


def _check_line_lengths(path: Path, data: bytes) -> None:
    """Refuse a physical line longer than limits.MAX_LINE_BYTES without scanning line by line.

    A line of length >= L fully covers at least one aligned window of L/2 bytes, so it is
    enough to probe each aligned window for a line break (``bytes.find`` stops at the first).
    """
    limit = limits.MAX_LINE_BYTES
    if len(data) <= limit:
        return
    half = limit // 2
    for lo in range(0, len(data), half):
        hi = min(len(data), lo + half)
        if hi - lo < half or data.find(b"\n", lo, hi) >= 0 or data.find(b"\r", lo, hi) >= 0:
            continue
        line_start = max(data.rfind(b"\n", 0, lo), data.rfind(b"\r", 0, lo)) + 1
        nl, cr = data.find(b"\n", hi), data.find(b"\r", hi)
        line_end = min((x for x in (nl, cr) if x >= 0), default=len(data))
        if line_end - line_start > limit:
            line = 1 + _count_breaks(data, 0, line_start)
            raise InputError(
                f"line {line} is {_size(line_end - line_start)} long, over the "
                f"{_size(limit)} limit for one line; check the delimiter and the line endings "
                f"or {_FIX_EXPORT_CSV}",
                path=path,
                line=line,
            )


def _check_header_width(
    path: Path, data: bytes, start: int, end: int, delimiter: str, header_line: int
) -> None:
    """Refuse a header wider than limits.MAX_COLUMNS before the parser builds one array per field.

    Delimiters on the header's first physical line bound its width from above; only when that
    bound is over the limit are quoted delimiters discounted (the exact count).
    """
    breaks = [x for x in (data.find(b"\n", start, end), data.find(b"\r", start, end)) if x >= 0]
    line_end = min(breaks, default=end)
    sep = delimiter.encode("ascii")
    if data.count(sep, start, line_end) < limits.MAX_COLUMNS:
        return
    line = data[start:line_end].decode("utf-8", "replace")
    fields = layout.QUOTED.sub('""', line).count(delimiter) + 1
    if fields > limits.MAX_COLUMNS:
        raise InputError(
            f"has {fields:,} columns in its header, more than the limit of {limits.MAX_COLUMNS:,}; "
            f"check the delimiter and the line endings or {_FIX_EXPORT_CSV}",
            path=path,
            line=header_line,
        )


def _count_breaks(data: bytes, lo: int, hi: int) -> int:
    """Line breaks in ``data[lo:hi]``: ``\\r\\n``, lone ``\\r`` and lone ``\\n`` count once."""
    count = _count_newlines(data, lo, hi)
    if data.find(b"\r", lo, hi) >= 0 and _LONE_CR.search(data, lo, hi):
        count += data.count(b"\r", lo, hi) - data.count(b"\r\n", lo, hi)
    return count


_COUNT_BLOCK: Final = 1 << 22


def _count_newlines(data: bytes, lo: int, hi: int) -> int:
    """``data.count(b"\\n", lo, hi)``, by NumPy in blocks (twice as fast on a large file)."""
    if hi - lo < _COUNT_BLOCK:
        return data.count(b"\n", lo, hi)
    view = np.frombuffer(data, dtype=np.uint8)
    return sum(
        int(np.count_nonzero(view[at : min(hi, at + _COUNT_BLOCK)] == 0x0A))
        for at in range(lo, hi, _COUNT_BLOCK)
    )


def _parse_with_pyarrow(
    data: bytes, start: int, end: int, delimiter: str, ncols: int, has_quote: bool
) -> tuple[pd.DataFrame, IntArray] | None:
    """Fast path: one row per physical line outside quotes, like the C path.

    Returns None whenever the result could differ from the exact path: a row with fewer or
    more fields (pyarrow refuses both; the C path pads or reports the line), invalid UTF-8,
    a row longer than pyarrow's block.
    """
    table = prefetch.parsed(data, (start, end, delimiter, ncols, has_quote))
    if table is None:
        table = layout.arrow_read(data, start, end, delimiter, ncols, has_quote)
    if table is None:
        return None
    rows: pd.DataFrame = table.to_pandas()
    rows.columns = pd.RangeIndex(ncols)
    spans = _row_spans(rows, has_quote, _count_breaks(data, start, end) if has_quote else 0)
    if has_quote and not _last_record_closed(data, start, end, delimiter, spans):
        return None  # pyarrow accepts a quote left open at the end of the file; C does not
    return rows, spans


def _last_record_closed(data: bytes, start: int, end: int, delimiter: str, spans: IntArray) -> bool:
    """Whether the last record parses on its own with the C parser (no quote left open).

    A record always starts outside quotes, so the last one can be checked alone: walk back
    over the physical lines it spans. Very long last records are left to the exact path.
    """
    lines = int(spans[-1])
    if lines > 1000:
        return False
    pos = record_start = end
    for _ in range(lines):
        brk = max(data.rfind(b"\n", start, pos), data.rfind(b"\r", start, pos))
        if brk < 0:
            record_start = start
            break
        record_start = brk + 1
        pos = brk - 1 if data[brk] == 0x0A and data[brk - 1] == 0x0D and brk > start else brk
    try:
        _c_read(data[record_start:end], delimiter, None)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError):
        return False
    return True


def _parse_with_c(
    path: Path, chunk: bytes, delimiter: str, header_line: int, validated: bool
) -> pd.DataFrame:
    """Exact path: pandas' C parser keeps one row per blank line (skip_blank_lines=False)."""
    try:
        return _c_read(chunk, delimiter, None)
    except UnicodeDecodeError:
        if validated:  # pragma: no cover - the bytes were produced by str.encode("utf-8")
            raise InputError(f"could not be decoded; {_FIX_EXPORT_CSV}", path=path) from None
        raise _NotUtf8 from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        message = str(exc).strip()
        name = _DELIMITER_NAMES[delimiter]
        too_many = _C_TOO_MANY.search(message)
        if too_many:
            expected, row, saw = (int(g) for g in too_many.groups())
            line = _line_of_row(chunk, delimiter, row - 1, header_line)
            raise InputError(
                f"line {line} has {saw} fields but the header has {expected}; quote fields "
                f"that contain the delimiter ({name}) or remove the extra fields",
                path=path,
                line=line,
            ) from None
        eof = _C_EOF_IN_QUOTE.search(message)
        if eof:
            line = _line_of_row(chunk, delimiter, int(eof.group(1)), header_line)
            raise InputError(
                f'a quoted field starting on line {line} is never closed; add the closing " '
                'or double the stray quote ("")',
                path=path,
                line=line,
            ) from None
        first = message.splitlines()[0] if message else type(exc).__name__
        raise InputError(
            f"could not be parsed as {name}-delimited text ({first}); check the quoting "
            f"or {_FIX_EXPORT_CSV}",
            path=path,
        ) from None


def _c_read(chunk: bytes, delimiter: str, nrows: int | None) -> pd.DataFrame:
    return pd.read_csv(
        io.BytesIO(chunk),
        sep=delimiter,
        header=None,
        dtype=str,
        na_filter=False,
        keep_default_na=False,
        skip_blank_lines=False,
        quotechar='"',
        doublequote=True,
        escapechar=None,
        skipinitialspace=False,
        index_col=False,
        encoding="utf-8",
        encoding_errors="strict",
        engine="c",
        nrows=nrows,
    )


def _line_of_row(chunk: bytes, delimiter: str, row: int, header_line: int) -> int:
    """Physical line where 0-based parser row ``row`` starts (error path only)."""
    if row <= 0:
        return header_line
    try:
        before = _c_read(chunk, delimiter, row)
    except (pd.errors.ParserError, ValueError):  # pragma: no cover - rows before parsed fine
        return header_line + row
    return header_line + int(_row_spans(before, True, None).sum())


def _row_spans(rows: pd.DataFrame, has_quote: bool, breaks: int | None) -> IntArray:
    """Physical lines each row covers: 1 + line breaks inside its fields.

    ``breaks`` (line breaks in the parsed text, when ``rows`` is all of it) saves the search
    column by column: one row per physical line means no field holds a break.
    """
    spans = np.ones(len(rows), dtype=np.int64)
    if not has_quote or (breaks is not None and breaks + 1 == len(rows)):
        return spans  # only a quoted field can hold a line break
    for column in rows.columns:
        values = rows[column]
        if values.str.contains(r"[\r\n]", regex=True).any():
            spans += values.str.count(layout.LINE_BREAK).to_numpy(dtype=np.int64)
    return spans


def _blank_rows(rows: pd.DataFrame) -> npt.NDArray[np.bool_]:
    """Rows whose fields are all empty or whitespace (blank lines, ``,,,``).

    Column by column, each pass keeping only the rows still blank, while that is cheap; the
    few rows left across many columns (a wide file) are then checked in one flat pass.
    """
    if rows.shape[1] == 0:
        return np.ones(len(rows), dtype=bool)
    width = rows.shape[1]
    candidates = np.flatnonzero(_blank_cells(rows.iloc[:, 0]))
    position = 1
    # While many rows are still candidates, a whole-column pass is cheaper than taking them
    # out of the (chunked) column.
    while position < width and candidates.size * 8 > len(rows):
        blank_here = _blank_cells(rows.iloc[:, position])
        candidates = candidates[blank_here[candidates]]
        position += 1
    while candidates.size and position < width:
        if position >= 8 and candidates.size * (width - position) <= _FLAT_CELLS:
            rest = rows.iloc[candidates, position:].to_numpy(dtype=object).ravel()
            flat = pd.Series(rest, dtype=rows.dtypes.iloc[position])
            keep = _blank_cells(flat).reshape(candidates.size, width - position).all(axis=1)
            candidates = candidates[keep]
            break
        candidates = candidates[_blank_cells(rows.iloc[candidates, position])]
        position += 1
    blank = np.zeros(len(rows), dtype=bool)
    blank[candidates] = True
    return blank


def _blank_cells(values: pd.Series) -> npt.NDArray[np.bool_]:
    """Which cells are empty or whitespace. By the first byte where it tells (empty: blank;
    a printable ASCII character: not), so only the few cells starting with a space, a
    control or a non-ASCII character are stripped."""
    found = _first_bytes(values)
    if found is None:
        return _blank_cells_exact(values)
    first, _column = found
    blank: npt.NDArray[np.bool_] = np.equal(first, -1)
    unsure = np.flatnonzero(_UNSURE_BLANK[first + 1])
    if len(unsure):
        blank[unsure] = _blank_cells_exact(values.iloc[unsure])
    return blank


def _blank_cells_exact(values: pd.Series) -> npt.NDArray[np.bool_]:
    return values.str.strip().eq("").to_numpy(dtype=bool)


def _unsure_blank() -> npt.NDArray[np.bool_]:
    """Indexed by first byte + 1 (``_first_bytes``): whether the cell must be stripped to tell
    if it is blank. Not for an empty cell or one starting with a printable ASCII character;
    for a space, a control character (whitespace to some), a non-ASCII byte, a missing
    cell."""
    table = np.ones(258, dtype=bool)
    table[0] = False
    table[1 + 0x21 : 1 + 0x7F] = False
    return table


_UNSURE_BLANK: Final = _unsure_blank()


def _assemble(
    path: Path,
    rows: pd.DataFrame,
    spans: IntArray,
    *,
    header_line: int,
    encoding: str,
    delimiter: str,
    max_records: int,
) -> Table:
    """Header row + records with their start lines; blank rows and dead columns removed."""
    starts = header_line + np.concatenate(([0], np.cumsum(spans)[:-1])).astype(np.int64)
    header = [_clean_label(str(v)) for v in rows.iloc[0].tolist()]
    records = rows.iloc[1:]
    keep = ~_blank_rows(records)
    lines: IntArray = starts[1:]
    if not keep.all():
        records, lines = records.iloc[np.flatnonzero(keep)], lines[keep]
    _check_record_count(path, len(records), max_records)
    width = _trimmed_width(header, lambda i: bool(records.iloc[:, i].eq("").all()))
    records = records.iloc[:, :width].reset_index(drop=True)
    records.columns = pd.Index(_unique_labels(header[:width]))
    _refuse_repeated_header(path, header[:width], records, lines)
    return Table(
        path=path,
        format="csv",
        header=tuple(header[:width]),
        frame=records,
        lines=np.ascontiguousarray(lines, dtype=np.int64),
        header_line=header_line,
        encoding=encoding,
        delimiter=delimiter,
    )
