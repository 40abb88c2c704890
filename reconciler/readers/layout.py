"""The layout of a delimited text file, worked out from its bytes, and Arrow's parse of it.

Owns: where the header starts and the content ends, the delimiter, the header's field count,
and the call to Arrow's CSV reader with the options the reader relies on. Free of pandas, so
``prefetch`` can use it while pandas is still being imported; ``readers`` owns everything else
(encodings, limits, checks, the exact C-parser path and the table it builds).
"""

from __future__ import annotations

import importlib
import re
from typing import Any, Final

HEAD_BYTES: Final = 64 * 1024
DELIMITERS: Final = (",", ";", "\t", "|")
# Lines made only of blanks and delimiters before the header; a line break ends each one.
LEADING_BLANK_LINES: Final = re.compile(rb"(?:[ \t,;|]*(?:\r\n|\r|\n))*")
LINE_BREAK: Final = r"\r\n|\r|\n"
QUOTED: Final = re.compile(r'"(?:[^"]|"")*"')

try:  # pyarrow is optional: without it every delimited file takes the exact C-parser path.
    _pa: Any = importlib.import_module("pyarrow")
    _pacsv: Any = importlib.import_module("pyarrow.csv")
except ImportError:  # pragma: no cover - pyarrow is a dependency
    _pa = None
    _pacsv = None
ARROW: Final = _pacsv is not None


def content_end(data: bytes, lo: int) -> int:
    """End of the last line that holds a non-blank character (trailing blank lines cut)."""
    hi = len(data)
    ws_start = lo
    while hi > lo:
        chunk_lo = max(lo, hi - HEAD_BYTES)
        kept = data[chunk_lo:hi].rstrip(b" \t\r\n")
        if kept:
            ws_start = chunk_lo + len(kept)
            break
        hi = chunk_lo
    breaks = [x for x in (data.find(b"\n", ws_start), data.find(b"\r", ws_start)) if x >= 0]
    return min(breaks) if breaks else len(data)


def sniff_delimiter(head: str, truncated: bool, suffix: str) -> str:
    """The delimiter of the header line, confirmed by the lines after it (quotes ignored)."""
    text = QUOTED.sub('""', head)
    lines = re.split(LINE_BREAK, text)
    if truncated and len(lines) > 1:
        lines.pop()  # probably cut in the middle
    lines = [line for line in lines if line.strip(" \t,;|")][:20]
    if not lines:
        return "\t" if suffix == ".tsv" else ","
    header, rest = lines[0], lines[1:]
    if suffix == ".tsv" and "\t" in header:
        return "\t"
    order = ("\t", ",", ";", "|") if suffix == ".tsv" else DELIMITERS
    best: tuple[float, int, int] | None = None
    chosen = ","
    for rank, delimiter in enumerate(order):
        in_header = header.count(delimiter)
        if in_header == 0:
            continue
        agreeing = sum(1 for line in rest if line.count(delimiter) == in_header)
        score = (agreeing / len(rest) if rest else 1.0, in_header, -rank)
        if best is None or score > best:
            best, chosen = score, delimiter
    return chosen


def count_header_fields(head: str, delimiter: str, truncated: bool) -> int | None:
    """Fields in the first record of ``head``, or None when it cannot be told from the head."""
    fields, pos, size = 0, 0, len(head)
    unquoted = re.compile(f"[^{re.escape(delimiter)}\\r\\n]*")
    while True:
        fields += 1
        if pos < size and head[pos] == '"':
            quoted = QUOTED.match(head, pos)
            if quoted is None:
                return None  # unterminated, or longer than the head
            pos = quoted.end()
        tail = unquoted.match(head, pos)
        pos = tail.end() if tail else pos
        if pos < size and head[pos] == delimiter:
            pos += 1
            continue
        if pos >= size and truncated:
            return None
        return fields


def arrow_read(
    data: bytes,
    start: int,
    end: int,
    delimiter: str,
    ncols: int,
    has_quote: bool,
    *,
    threads: bool = True,
) -> Any:
    """Arrow's parse of ``data[start:end]`` as ``ncols`` text columns (a ``pyarrow.Table``),
    or None when Arrow refuses it or cannot be used: ragged rows, invalid UTF-8, a row longer
    than a block (``readers`` then takes its exact path)."""
    if _pacsv is None:
        return None
    names = [f"f{i}" for i in range(ncols)]
    try:
        table = _pacsv.read_csv(
            _pa.BufferReader(_pa.py_buffer(data).slice(start, end - start)),
            read_options=_pacsv.ReadOptions(autogenerate_column_names=True, use_threads=threads),
            parse_options=_pacsv.ParseOptions(
                delimiter=delimiter,
                quote_char='"',
                double_quote=True,
                escape_char=False,
                newlines_in_values=has_quote,
                ignore_empty_lines=False,  # an empty line becomes an empty row
            ),
            convert_options=_pacsv.ConvertOptions(
                column_types={name: _pa.string() for name in names},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
                null_values=[],
                check_utf8=True,
            ),
        )
    except (_pa.ArrowException, ValueError, OSError):
        return None
    if table.num_columns != ncols or any(t != _pa.string() for t in table.schema.types):
        return None
    # One piece per column, not one per block read: every later step that needs a column
    # whole (most of Arrow's kernels and every hand-over to NumPy) would otherwise join its
    # pieces again, a copy of the column each time.
    return table.combine_chunks()


def content_span(data: bytes, base: int) -> tuple[int, int]:
    """Where the header starts (after leading blank lines) and where the content ends."""
    match = LEADING_BLANK_LINES.match(data, base)
    start = match.end() if match else base
    return start, content_end(data, start)


def header_layout(data: bytes, start: int, end: int, suffix: str) -> tuple[str, int | None, bool]:
    """The delimiter, the header's field count (None when the head cannot tell) and whether
    the content holds a quote."""
    head = data[start : start + HEAD_BYTES].decode("utf-8", "replace")
    truncated = start + HEAD_BYTES < end
    delimiter = sniff_delimiter(head, truncated, suffix)
    ncols = count_header_fields(head, delimiter, truncated)
    return delimiter, ncols, data.find(b'"', start, end) >= 0


def layout(data: bytes, suffix: str) -> tuple[int, int, str, int, bool] | None:
    """For a UTF-8 file's bytes (BOM or not): (start, end, delimiter, field count, has quotes)
    as ``readers`` works them out for Arrow's parse, or None when it would not get that far
    by this simple route (UTF-16, blank, a header longer than the head). A guess for
    ``prefetch``: ``readers`` decides for itself and uses a read made ahead only when its
    own answer is the same."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return None
    start, end = content_span(data, 3 if data.startswith(b"\xef\xbb\xbf") else 0)
    if end <= start:
        return None
    delimiter, ncols, has_quote = header_layout(data, start, end, suffix)
    if ncols is None:
        return None
    return start, end, delimiter, ncols, has_quote
