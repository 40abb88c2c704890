"""Workbooks written directly as SpreadsheetML, a column at a time: text cells (IDs keep
their digits, formula-like values stay inert), shared strings, frozen filterable headers."""

from __future__ import annotations

import contextlib
import functools
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from reconciler.bytescan import (
    _XML_SPECIAL_BYTES,
    _arrow_text,
    _bytes_match,
    _data_view,
    _has_xml_illegal,
    _null_where,
)
from reconciler.formulas import formula_like
from reconciler.writers.zipout import DEFLATE, Deflate, ZipWriter


@dataclass(frozen=True, slots=True, eq=False)
class Sheet:
    """One worksheet: a header and a frame of values (all written as text unless numeric
    dtype), optional per-cell highlight mask, frozen header and autofilter."""

    name: str
    header: Sequence[str]
    frame: pd.DataFrame
    highlight: np.ndarray | None = None
    note: str = ""  # a line above the header (e.g. "rows capped: see reconciled.csv")
    widths: Mapping[int, float] = field(default_factory=dict)
    wrap: frozenset[int] = frozenset()  # columns whose text wraps (long advice), top-aligned
    # Columns holding money, each with its currency column (None: none): a plain decimal is
    # written as a number in the currency's format, anything else stays text as sent.
    money: Mapping[int, int | None] = field(default_factory=dict)


_HIGHLIGHT = "FFFFF2CC"


_HEADER_FILL = "FFDDEBF7"


_XML_ILLEGAL = r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]"


MAX_CELL_CHARS = 32767  # Excel's limit for one cell


def write_xlsx(
    sheets: Sequence[Sheet], path: Path, *, now: datetime, deflate: Deflate = DEFLATE
) -> None:
    """A workbook written directly as SpreadsheetML, a whole column at a time.

    openpyxl spends tens of microseconds per cell; a million-row report needs columns turned
    into XML with vectorised string operations instead. Every non-numeric value is a *string*
    cell (shared when its text repeats, inline otherwise), which a spreadsheet never evaluates
    (a value starting with ``=`` stays text); IDs keep their digits. The header row is frozen and filterable; highlighted cells get a
    yellow fill. The zip entries carry the fixed timestamp ``now`` so output is reproducible.

    The zip container is written by ``zipout`` with ISA-L's deflate where it is installed
    (with zlib's ``deflate``, what ``zipfile`` wrote, byte for byte). The workbook is written to ``<name>.part`` and renamed into place
    when whole; cut short, nothing of it stays.
    """
    iso, date_time = zip_stamp(now)
    tmp = path.with_name(path.name + ".part")
    try:
        with open(tmp, "w+b") as fp:
            archive = ZipWriter(fp, deflate)
            for name, chunks, level in workbook_parts(sheets, iso, deflate):
                archive.write(name, chunks(), date_time=date_time, level=level)
            archive.close()
        os.replace(tmp, path)
    except BaseException:
        # A workbook cut short is no output: nothing of it stays (the staging folder it is
        # written in is removed too, but a caller writing elsewhere gets no stray part).
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def zip_stamp(now: datetime) -> tuple[str, tuple[int, int, int, int, int, int]]:
    """``now`` as the workbook's properties give it (ISO 8601, UTC) and as its zip entries'
    date and time (UTC; a zip cannot say a year before 1980)."""
    stamp = now.astimezone(UTC).replace(tzinfo=None) if now.tzinfo else now
    iso = stamp.strftime("%Y-%m-%dT%H:%M:%SZ")
    year = max(stamp.year, 1980)
    return iso, (year, stamp.month, stamp.day, stamp.hour, stamp.minute, stamp.second)


def workbook_parts(
    sheets: Sequence[Sheet], iso: str, deflate: Deflate = DEFLATE
) -> list[tuple[str, Callable[[], Iterable[str | memoryview]], int]]:
    """The workbook's zip entries in order: each name, its content's chunks (made when
    called) and its deflate level. The shared strings and the money formats are known once
    every sheet is written: their parts come last."""
    names = _unique_titles([spec.name for spec in sheets])
    fixed = [
        ("[Content_Types].xml", _content_types(len(sheets))),
        ("_rels/.rels", _ROOT_RELS),
        ("docProps/core.xml", _core(iso)),
        ("docProps/app.xml", _APP),
        ("xl/workbook.xml", _workbook(names, sheets)),
        ("xl/_rels/workbook.xml.rels", _workbook_rels(len(sheets))),
    ]
    parts: list[tuple[str, Callable[[], Iterable[str | memoryview]], int]] = [
        (name, functools.partial(_whole, text), deflate.fixed_level) for name, text in fixed
    ]
    strings = _SharedStrings()
    styles = _Styles()
    parts += [
        (
            f"xl/worksheets/sheet{i}.xml",
            functools.partial(_sheet_xml, spec, rows, k),
            deflate.level,
        )
        for i, (spec, (rows, k)) in enumerate(
            zip(sheets, _row_groups(sheets, strings, styles), strict=True), start=1
        )
    ]
    parts += [
        ("xl/sharedStrings.xml", strings.xml, deflate.level),
        ("xl/styles.xml", styles.xml, deflate.level),
    ]
    return parts


def _whole(text: str) -> list[str]:
    return [text]


class _SharedStrings:
    """The workbook's shared-string table: each repeated text is stored once and cells refer
    to it by number (what Excel itself writes). Texts that hardly repeat stay inline."""

    def __init__(self) -> None:
        self._index: dict[str, int] = {}

    def numbers(self, texts: Any) -> Any:
        """The table number of each text of an Arrow string array (added when new), as an
        Arrow string array of decimal numbers."""
        import pyarrow as pa

        index = self._index
        found = [index.setdefault(t, len(index)) for t in texts.to_pylist()]
        return pa.array([str(i) for i in found], type=pa.large_string())

    def xml(self) -> Iterator[str | memoryview]:
        import pyarrow as pa
        import pyarrow.compute as pc

        text = pa.large_string()
        yield (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
            f'uniqueCount="{len(self._index)}">'
        )
        if self._index:
            texts = pa.array(list(self._index), type=text)
            opening = pc.if_else(
                pa.array(_edge_space(texts)),
                pa.scalar('<si><t xml:space="preserve">', text),
                pa.scalar("<si><t>", text),
            )
            items = pc.binary_join_element_wise(
                opening, _xml_text(texts), pa.scalar("</t></si>", text), pa.scalar("", text)
            )
            yield _data_view(items)
        yield "</sst>"


def _column_letter(i: int) -> str:
    out = ""
    i += 1
    while i:
        i, rem = divmod(i - 1, 26)
        out = chr(65 + rem) + out
    return out


_ARROW_XML_ILLEGAL = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x{FFFE}\x{FFFF}]"


def _xml_text(arr: Any) -> Any:
    """Escape an Arrow string array for XML text; characters XML cannot hold become U+FFFD."""
    import pyarrow as pa
    import pyarrow.compute as pc

    # Each kernel runs only when one C scan of the bytes says it has something to do.
    if _has_xml_illegal(arr):
        arr = pc.replace_substring_regex(arr, _ARROW_XML_ILLEGAL, "\ufffd")
    if (
        _longest(arr) > MAX_CELL_CHARS
        and pc.any(pc.greater(pc.utf8_length(arr), MAX_CELL_CHARS)).as_py()
    ):
        arr = pc.utf8_slice_codeunits(arr, 0, MAX_CELL_CHARS)
    # Text like "_x000D_" is an escape to Excel, which would show another character: the
    # underscore starting each such run (overlapping ones too) is escaped itself
    # ("_x005F_x000D_"), as Excel writes it. Rare: per value, only where one occurs.
    if _bytes_match(arr, b"_"):
        escapes = pc.fill_null(pc.match_substring_regex(arr, _EXCEL_ESCAPE), False)
        if pc.any(escapes).as_py():
            texts = arr.filter(escapes).to_pylist()
            fixed = pa.array([_EXCEL_UNDERSCORE.sub("_x005F_", t) for t in texts], arr.type)
            arr = pc.replace_with_mask(arr, escapes, fixed)
    if _bytes_match(arr, _XML_SPECIAL_BYTES):
        for char, entity in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;")):
            arr = pc.replace_substring(arr, char, entity)
    # A carriage return as such is read back as a line feed by every XML parser (Excel's
    # too): a character reference keeps it.
    if _bytes_match(arr, b"\r"):
        arr = pc.replace_substring(arr, "\r", "&#13;")
    return arr


_EXCEL_ESCAPE = "_x[0-9A-Fa-f]{4}_"
_EXCEL_UNDERSCORE = re.compile("_(?=x[0-9A-Fa-f]{4}_)")


def _longest(arr: Any) -> int:
    """The most UTF-8 bytes any value of a (non-chunked) string array holds."""
    import pyarrow as pa

    if len(arr) == 0:
        return 0
    kind = np.int64 if pa.types.is_large_string(arr.type) else np.int32
    offsets = np.frombuffer(arr.buffers()[1], dtype=kind)[arr.offset : arr.offset + len(arr) + 1]
    return int(np.diff(offsets).max())


def _distinct(series: pd.Series) -> tuple[Any, Any]:
    """A text column as (Arrow strings, codes): the distinct values and each row's position
    among them, or (every value, None) when the values hardly repeat."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(series.dtype, pd.CategoricalDtype):
        cat_codes = np.asarray(series.array.codes, dtype=np.int64)
        if len(cat_codes) and cat_codes.min() >= 0:
            # Only the categories this slice uses: a slice of a long column shares all of
            # the column's categories (a million records' advice texts).
            categories = series.array.categories
            used, local = _used_codes(cat_codes, len(categories))
            texts = pd.Series(np.asarray(categories.take(used), dtype=object), dtype=object)
            return _arrow_text(texts), pa.array(local)
    arr = _arrow_text(series)
    encoded = pc.dictionary_encode(arr)
    if len(encoded.dictionary) * 4 < len(arr):
        return encoded.dictionary, encoded.indices
    return arr, None


def _used_codes(codes: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(codes, return_inverse=True)`` for codes in ``range(n)``, in linear time:
    the codes used, in order, and each row's position among them."""
    seen = np.zeros(n, dtype=bool)
    seen[codes] = True
    used = np.flatnonzero(seen)
    position = np.cumsum(seen) - 1
    return used, position[codes]


def _rows_xml(
    part: pd.DataFrame,
    numbers: np.ndarray,
    ncols: int,
    highlight: np.ndarray | None,
    strings: _SharedStrings,
    wrap: frozenset[int] = frozenset(),
    money: Mapping[int, int | None] | None = None,
    styles: _Styles | None = None,
) -> Any:
    """``<row>`` elements for a slice of the frame, built a column at a time with Arrow: an
    Arrow string array of one element a row, each numbered as ``numbers`` says.

    A text column whose values repeat refers to ``strings`` (the workbook's shared-string
    table); one whose values hardly repeat holds them inline. A cell that is not written (a
    blank value) is null in its column, and the join of a row's cells skips nulls: no pass
    per column to blank them."""
    import pyarrow as pa
    import pyarrow.compute as pc

    text = pa.large_string()

    def lit(value: str) -> Any:
        return pa.scalar(value, text)

    nums = pc.cast(pa.array(numbers), text)
    empty = lit("")
    cells = []
    for c in range(min(ncols, part.shape[1])):
        series = part.iloc[:, c]
        ref = lit('<c r="' + _column_letter(c))
        marks = highlight[:, c] if highlight is not None else None
        as_numbers = None
        if money and styles is not None and c in money and series.dtype.kind not in "iuf":
            as_numbers, series = _money_cells(part, c, money[c], marks, styles, ref, nums)
        if series.dtype.kind in "iuf":
            arr = pa.array(series, from_pandas=True)
            # A missing number makes its cell null (not written).
            cells.append(
                pc.binary_join_element_wise(
                    ref, nums, lit('"><v>'), pc.cast(arr, text), lit("</v></c>"), empty
                )
            )
            continue
        marked = marks if marks is not None and marks.any() else None
        # Everything that depends on a value alone is worked out once per distinct value.
        distinct, codes_of = _distinct(series)
        if codes_of is not None:
            # Values used more than once in this slice go to the shared-string table, the
            # rest stay inline; the XML of each value is made once.
            used, local = _used_codes(np.asarray(codes_of), len(distinct))
            values = distinct.take(pa.array(used))
            repeated = np.bincount(local, minlength=len(used)) > 1
            bodies, blanks, formulas = _value_bodies(values)
            kinds = pa.array(np.where(repeated, '" t="s"', '" t="inlineStr"'), type=text)
            if repeated.any():
                numbers = strings.numbers(values.filter(pa.array(repeated)))
                shared = pc.binary_join_element_wise(lit("><v>"), numbers, lit("</v></c>"), empty)
                bodies = pc.replace_with_mask(bodies, pa.array(repeated), shared)
            full = _cell_texts(kinds, bodies, blanks, formulas, local, marked, c in wrap)
            if as_numbers is None:
                cells.extend(_cell_parts(_column_letter(c), nums, full))
                continue
            cell = pc.binary_join_element_wise(ref, nums, full, empty)
        else:
            body, blank, formula = _value_bodies(distinct)
            cell = _cells_by_row(ref, nums, body, blank, formula, marked, c in wrap)
        if as_numbers is not None:
            cell = pc.if_else(as_numbers[0], as_numbers[1], cell)
        cells.append(cell)
    # The literals are never null: Arrow's skipping drops a row whose values are all null
    # (pyarrow 26 returns fewer rows than it is given).
    rows = pc.binary_join_element_wise(
        lit('<row r="'),
        nums,
        lit('">'),
        *cells,
        lit("</row>"),
        empty,
        null_handling="skip",
    )
    return rows  # each sheet's slice written without a copy


# Styles: 2 highlighted, 3 quotePrefix (a formula-like text stays text even when edited in
# Excel), 4 both; 5 to 8 the same, wrapped. By style code: none, (unused), marked, formula,
# both.
_STYLE_ATTRS = ("", "", ' s="2"', ' s="3"', ' s="4"')
_WRAPPED_STYLE_ATTRS = (' s="5"', ' s="5"', ' s="6"', ' s="7"', ' s="8"')
_STYLED_BLANK = '" s="2"/>'  # a blank cell that is marked (or would be quote-prefixed)


def _style_codes(marked: np.ndarray | None, formula: np.ndarray) -> np.ndarray:
    """Each cell's style code (see ``_STYLE_ATTRS``) from its mark and formula-likeness."""
    if marked is None:
        return np.where(formula, 3, 0)
    return np.where(marked, np.where(formula, 4, 2), np.where(formula, 3, 0))


def _cell_texts(
    kinds: Any,
    bodies: Any,
    blanks: Any,
    formulas: np.ndarray,
    index: np.ndarray,
    marked: np.ndarray | None,
    wraps: bool,
) -> Any:
    """A column's cell texts after the cell reference, from its distinct values' XML: each
    value's is made once, unmarked and, when any row is marked, marked; every row takes its
    own. A blank value's is null (not written) or, styled, an empty styled cell's."""
    import pyarrow as pa
    import pyarrow.compute as pc

    text = pa.large_string()
    attrs = pa.array(_WRAPPED_STYLE_ATTRS if wraps else _STYLE_ATTRS, type=text)
    is_blank = np.asarray(blanks, dtype=bool)
    variants = [np.where(formulas, 3, 0)]
    if marked is not None:
        variants.append(np.where(formulas, 4, 2))
    table = []
    for style in variants:
        full = pc.binary_join_element_wise(
            kinds, attrs.take(pa.array(style)), bodies, pa.scalar("", text)
        )
        if is_blank.any():
            blank_cells = pa.array([None, _STYLED_BLANK], type=text).take(
                pa.array((style > 0).astype(np.int8))
            )
            full = pc.if_else(pa.array(is_blank), blank_cells, full)
        table.append(full)
    if marked is not None:
        where = index + marked * len(formulas)
        full = pa.concat_arrays(table).take(pa.array(where))
    else:
        full = table[0].take(pa.array(index))
    return full


def _cell_parts(letter: str, nums: Any, texts: Any) -> list[Any]:
    """A column's cells as three parts of the row join (``<c r="A``, the row number, the cell
    text), the first two null where the text is: the join skips all three, and the cells are
    never joined on their own (a pass over the column's bytes saved)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    text = pa.large_string()
    opening = '<c r="' + letter
    if not texts.null_count:
        return [pa.scalar(opening, text), nums, texts]
    if texts.offset or nums.offset or nums.null_count:
        return [
            pc.binary_join_element_wise(pa.scalar(opening, text), nums, texts, pa.scalar("", text))
        ]
    n = len(texts)
    valid = texts.buffers()[0]
    raw = opening.encode("ascii")
    offsets = pa.py_buffer(np.arange(n + 1, dtype=np.int64) * len(raw))
    openings = pa.Array.from_buffers(text, n, [valid, offsets, pa.py_buffer(raw * n)])
    numbers = pa.Array.from_buffers(text, n, [valid, *nums.buffers()[1:]])
    return [openings, numbers, texts]


def _cells_by_row(
    ref: Any,
    nums: Any,
    bodies: Any,
    blanks: Any,
    formulas: np.ndarray,
    marked: np.ndarray | None,
    wraps: bool,
) -> Any:
    """A column's cells from its values' XML, one value a row (values that hardly repeat):
    a blank value's cell is null (not written) or, styled, an empty styled cell."""
    import pyarrow as pa
    import pyarrow.compute as pc

    text = pa.large_string()
    attrs = _WRAPPED_STYLE_ATTRS if wraps else _STYLE_ATTRS
    codes = _style_codes(marked, formulas)
    style: Any = pa.scalar(attrs[0], text)
    if codes.any():
        style = pa.array(attrs, type=text).take(pa.array(codes))
    is_blank = np.asarray(blanks, dtype=bool)
    cell = pc.binary_join_element_wise(
        ref,
        nums,
        pa.scalar('" t="inlineStr"', text),
        style,
        _null_where(bodies, is_blank),
        pa.scalar("", text),
    )
    styled_blank = is_blank & (codes > 0)
    if styled_blank.any():
        empty_styled = pc.binary_join_element_wise(
            ref, nums, pa.scalar(_STYLED_BLANK, text), pa.scalar("", text)
        )
        cell = pc.if_else(pa.array(styled_blank), empty_styled, cell)
    return cell


# A decimal Excel holds exactly (15 significant digits at most), written as the file has it.
_PLAIN_DECIMAL = r"^-?(0|[1-9][0-9]*)(\.[0-9]+)?$"
_MAX_EXACT_DIGITS = 15


def _money_cells(
    part: pd.DataFrame,
    c: int,
    currency: int | None,
    marks: np.ndarray | None,
    styles: _Styles,
    ref: Any,
    nums: Any,
) -> tuple[tuple[Any, Any] | None, pd.Series]:
    """A money column's plain decimals as number cells in their currency's format.

    Returns ((mask, cells), the column with those values blanked for the text path) or
    (None, the column) when no value is a plain decimal. The number is the text as sent
    (``<v>64.00</v>``), never a float's rendering; anything else ($1,299.00, 1.299,00, a
    decimal Excel would round) stays text, exactly as sent."""
    import pyarrow as pa
    import pyarrow.compute as pc

    text = pa.large_string()
    values = _arrow_text(part.iloc[:, c])
    plain = pc.match_substring_regex(values, _PLAIN_DECIMAL)
    if not pc.any(plain).as_py():
        return None, part.iloc[:, c]
    length = np.asarray(pc.utf8_length(values), dtype=np.int64)
    dot = np.asarray(pc.find_substring(values, "."), dtype=np.int64)
    minus = np.asarray(pc.starts_with(values, "-"), dtype=bool)
    digits = length - minus - (dot >= 0)
    mask = np.asarray(plain, dtype=bool) & (digits <= _MAX_EXACT_DIGITS)
    if not mask.any():
        return None, part.iloc[:, c]
    decimals = np.minimum(np.where(dot >= 0, length - dot - 1, 0), _MAX_EXACT_DIGITS)
    if currency is not None and currency < part.shape[1]:
        # Each currency as sent read once: its code (trimmed, upper case; "" when not three
        # letters), numbered by first appearance.
        encoded = pc.dictionary_encode(_arrow_text(part.iloc[:, currency]))
        codes = pc.utf8_upper(pc.utf8_trim_whitespace(encoded.dictionary))
        codes = pc.if_else(pc.match_substring_regex(codes, r"^[A-Z]{3}$"), codes, "")
        first: dict[str, int] = {}
        number = [first.setdefault(code, len(first)) for code in codes.to_pylist()]
        names = list(first)
        which = np.asarray(number, dtype=np.int64)[np.asarray(encoded.indices)]
    else:
        names, which = [""], np.zeros(len(part), dtype=np.int64)
    marked = marks if marks is not None else np.zeros(len(part), dtype=bool)
    # One style per (currency, decimals, highlighted) present: worked out per distinct key.
    key = (which * (_MAX_EXACT_DIGITS + 1) + decimals) * 2 + marked
    distinct, index = _used_codes(key, len(names) * (_MAX_EXACT_DIGITS + 1) * 2)
    attrs = pa.array(
        [
            f'" s="{styles.money(names[k // 2 // (_MAX_EXACT_DIGITS + 1)], k // 2 % (_MAX_EXACT_DIGITS + 1), bool(k % 2))}"><v>'
            for k in distinct.tolist()
        ],
        type=text,
    )
    cells = pc.binary_join_element_wise(
        ref,
        nums,
        attrs.take(pa.array(index)),
        values,
        pa.scalar("</v></c>", text),
        pa.scalar("", text),
    )
    flags = pa.array(mask)
    rest = pc.if_else(flags, pa.scalar("", text), values)
    return (flags, cells), pd.Series(pd.arrays.ArrowExtensionArray(rest), index=part.index)


def _value_bodies(values: Any) -> tuple[Any, Any, np.ndarray]:
    """Inline-string cell bodies (after the cell's attributes), blank and formula-like masks,
    one for each of ``values``."""
    import pyarrow as pa
    import pyarrow.compute as pc

    text = pa.large_string()
    # xml:space="preserve" only where surrounding whitespace must survive.
    opening = pc.if_else(
        pa.array(_edge_space(values)),
        pa.scalar('><is><t xml:space="preserve">', text),
        pa.scalar("><is><t>", text),
    )
    bodies = pc.binary_join_element_wise(
        opening, _xml_text(values), pa.scalar("</t></is></c>", text), pa.scalar("", text)
    )
    return bodies, pc.equal(values, pa.scalar("", text)), formula_like(values)


# What a regular expression's \s is in Arrow's (RE2) syntax: ASCII whitespace but \v.
_EDGE_SPACE = np.zeros(256, dtype=bool)
_EDGE_SPACE[list(b"\t\n\x0c\r ")] = True


def _edge_space(arr: Any) -> np.ndarray:
    """Whether each value of a (non-chunked) string array starts or ends with whitespace
    (``^\\s|\\s$``), read off its first and last bytes: a UTF-8 byte below 0x80 is a whole
    character."""
    import pyarrow as pa

    n = len(arr)
    if n == 0:
        return np.zeros(0, dtype=bool)
    kind = np.int64 if pa.types.is_large_string(arr.type) else np.int32
    window = np.frombuffer(arr.buffers()[1], dtype=kind)[arr.offset : arr.offset + n + 1]
    offsets: npt.NDArray[np.int64] = window.astype(np.int64, copy=False)
    data = arr.buffers()[2]
    raw = np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(0, np.uint8)
    starts, ends = offsets[:-1], offsets[1:]
    filled = ends > starts
    out = np.zeros(n, dtype=bool)
    if filled.any():
        out[filled] = _EDGE_SPACE[raw[starts[filled]]] | _EDGE_SPACE[raw[ends[filled] - 1]]
    if arr.null_count:
        out &= np.asarray(arr.is_valid())
    return out


XLSX_ROWS_PER_CHUNK = 25_000  # bounds memory: each chunk's XML is built whole


def _row_groups(
    sheets: Sequence[Sheet], strings: _SharedStrings, styles: _Styles
) -> list[tuple[_SheetRows, int]]:
    """Each sheet's rows and its place among them: consecutive sheets with the same columns
    (the overview's sheet per resolution) are written in one pass over their rows together.
    Each column's work (its distinct values, their XML) is then done once for all of them,
    not once a sheet."""
    out: list[tuple[_SheetRows, int]] = []
    group: list[Sheet] = []

    def close() -> None:
        if group:
            rows = _SheetRows(group, strings, styles)
            out.extend((rows, k) for k in range(len(group)))
            group.clear()

    for spec in sheets:
        if group and not _same_columns(group[0], spec):
            close()
        group.append(spec)
    close()
    return out


def _same_columns(a: Sheet, b: Sheet) -> bool:
    """Whether two sheets' rows can be written as one: the same columns, of the same types
    (categories included), written the same way."""
    return (
        len(a.header) == len(b.header)
        and a.frame.shape[1] == b.frame.shape[1]
        and a.wrap == b.wrap
        and dict(a.money) == dict(b.money)
        and (a.highlight is None) == (b.highlight is None)
        and all(x == y for x, y in zip(a.frame.dtypes, b.frame.dtypes, strict=True))
    )


class _SheetRows:
    """The ``<row>`` elements of one or more sheets with the same columns, built
    ``XLSX_ROWS_PER_CHUNK`` rows at a time over all of them and handed to each sheet as its
    slices. Sheets are written in order, so a chunk is built once: the last one is kept for
    the next sheet, which starts where the previous one ended."""

    def __init__(self, sheets: Sequence[Sheet], strings: _SharedStrings, styles: _Styles) -> None:
        first = sheets[0]
        # Joined by position: columns are written by place, and two sheets' columns may
        # have other names (joined by name they would make columns of blanks).
        width = first.frame.shape[1]
        self._frame = (
            first.frame
            if len(sheets) == 1
            else pd.concat(
                [s.frame.set_axis(pd.RangeIndex(width), axis=1) for s in sheets],
                ignore_index=True,
            )
        )
        sizes = np.array([len(s.frame) for s in sheets], dtype=np.int64)
        self._starts = np.concatenate([np.zeros(1, dtype=np.int64), np.cumsum(sizes)])
        # Each row's number in its own sheet: below the header (and the note when there is one).
        below = np.array([(3 if s.note else 2) for s in sheets], dtype=np.int64)
        shift = np.repeat(below - self._starts[:-1], sizes)
        self._numbers = np.arange(len(self._frame), dtype=np.int64) + shift
        self._highlight = (
            None
            if first.highlight is None
            else first.highlight
            if len(sheets) == 1
            else np.concatenate([s.highlight for s in sheets if s.highlight is not None])
        )
        self._ncols = len(first.header)
        self._spec = first
        self._strings, self._styles = strings, styles
        self._built: tuple[int, Any] | None = None

    def _chunk(self, j: int) -> Any:
        if self._built is None or self._built[0] != j:
            size = XLSX_ROWS_PER_CHUNK
            rows = slice(j * size, (j + 1) * size)
            mask = None if self._highlight is None else self._highlight[rows]
            spec = self._spec
            xml = _rows_xml(
                self._frame.iloc[rows],
                self._numbers[rows],
                self._ncols,
                mask,
                self._strings,
                spec.wrap,
                spec.money,
                self._styles,
            )
            self._built = (j, xml)
        return self._built[1]

    def xml(self, k: int) -> Iterator[memoryview]:
        """The XML of sheet ``k``'s rows, in pieces."""
        start, stop = int(self._starts[k]), int(self._starts[k + 1])
        size = XLSX_ROWS_PER_CHUNK
        at = start
        while at < stop:
            j = at // size
            end = min(stop, (j + 1) * size)
            yield _data_view(self._chunk(j).slice(at - j * size, end - at))
            at = end


def _sheet_xml(spec: Sheet, rows: _SheetRows, k: int) -> Iterator[str | memoryview]:
    ncols = len(spec.header)
    head_row = 2 if spec.note else 1
    widths = _column_widths(spec)
    last = _column_letter(max(ncols - 1, 0))
    yield (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        f'<dimension ref="A1:{last}{head_row + len(spec.frame)}"/>'
        '<sheetViews><sheetView workbookViewId="0">'
        f'<pane ySplit="{head_row}" topLeftCell="A{head_row + 1}" activePane="bottomLeft" state="frozen"/>'
        '<selection pane="bottomLeft"/></sheetView></sheetViews>'
        '<sheetFormatPr defaultRowHeight="15"/><cols>'
    )
    yield (
        "".join(
            f'<col min="{i + 1}" max="{i + 1}" width="{spec.widths.get(i, widths[i]):.1f}" customWidth="1"/>'
            for i in range(ncols)
        )
        or '<col min="1" max="1" width="10" customWidth="1"/>'
    )
    yield "</cols><sheetData>"
    if spec.note:
        yield f'<row r="1"><c r="A1" t="inlineStr"><is><t xml:space="preserve">{_esc1(spec.note)}</t></is></c></row>'
    yield (
        f'<row r="{head_row}">'
        + "".join(
            f'<c r="{_column_letter(i)}{head_row}" t="inlineStr" s="1"><is><t xml:space="preserve">'
            f"{_esc1(str(h))}</t></is></c>"
            for i, h in enumerate(spec.header)
        )
        + "</row>"
    )
    yield from rows.xml(k)
    yield "</sheetData>"
    if ncols:
        yield f'<autoFilter ref="A{head_row}:{last}{head_row + max(len(spec.frame), 1)}"/>'
    yield '<pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" footer="0.3"/></worksheet>'


def _esc1(text: str) -> str:
    cleaned = re.sub(_XML_ILLEGAL, "\ufffd", text)[:MAX_CELL_CHARS]
    return (
        cleaned.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
    )


def _unique_titles(names: Sequence[str]) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    for name in names:
        base = _sheet_title(name)
        title, n = base, 2
        while title.lower() in seen:
            suffix = f" ({n})"
            title = base[: 31 - len(suffix)] + suffix
            n += 1
        seen.add(title.lower())
        out.append(title)
    return out


def _sheet_title(name: str) -> str:
    bad = set("[]:*?/\\")
    return "".join("_" if ch in bad else ch for ch in name)[:31] or "Sheet"


def _content_types(n: int) -> str:
    sheets = "".join(
        f'<Override PartName="/xl/worksheets/sheet{i}.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        for i in range(1, n + 1)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/styles.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
        '<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
        '<Override PartName="/docProps/core.xml" '
        'ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>'
        '<Override PartName="/docProps/app.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.extended-properties+xml"/>'
        f"{sheets}</Types>"
    )


_ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/officeDocument" Target="xl/workbook.xml"/>'
    '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/'
    'metadata/core-properties" Target="docProps/core.xml"/>'
    '<Relationship Id="rId3" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/extended-properties" Target="docProps/app.xml"/>'
    "</Relationships>"
)


_APP = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties">'
    "<Application>reconciler</Application></Properties>"
)


def _core(iso: str) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/'
        'core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:dcterms="http://purl.org/dc/terms/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        "<dc:creator>reconciler</dc:creator>"
        f'<dcterms:created xsi:type="dcterms:W3CDTF">{iso}</dcterms:created>'
        f'<dcterms:modified xsi:type="dcterms:W3CDTF">{iso}</dcterms:modified>'
        "</cp:coreProperties>"
    )


def _workbook(names: Sequence[str], sheets: Sequence[Sheet]) -> str:
    entries = "".join(
        f'<sheet name="{_esc1(name)}" sheetId="{i}" r:id="rId{i}"/>'
        for i, name in enumerate(names, start=1)
    )
    filters = ""
    for i, (name, spec) in enumerate(zip(names, sheets, strict=True)):
        if spec.header:
            head = 2 if spec.note else 1
            last = _column_letter(len(spec.header) - 1)
            quoted = _esc1("'" + name.replace("'", "''") + "'")
            filters += (
                f'<definedName name="_xlnm._FilterDatabase" localSheetId="{i}" hidden="1">'
                f"{quoted}!$A${head}:${last}${head + max(len(spec.frame), 1)}</definedName>"
            )
    defined = f"<definedNames>{filters}</definedNames>" if filters else ""
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
        f"<bookViews><workbookView/></bookViews><sheets>{entries}</sheets>{defined}</workbook>"
    )


def _workbook_rels(n: int) -> str:
    rels = "".join(
        f'<Relationship Id="rId{i}" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        f'relationships/worksheet" Target="worksheets/sheet{i}.xml"/>'
        for i in range(1, n + 1)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        f'{rels}<Relationship Id="rId{n + 1}" Type="http://schemas.openxmlformats.org/'
        'officeDocument/2006/relationships/styles" Target="styles.xml"/>'
        f'<Relationship Id="rId{n + 2}" Type="http://schemas.openxmlformats.org/'
        'officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/>'
        "</Relationships>"
    )


# Styles 5 to 8: 0 and 2 to 4, their text wrapped and top-aligned (long advice).
_WRAP = '<alignment wrapText="1" vertical="top"/></xf>'
_WRAPPED = (
    f'<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0" applyAlignment="1">{_WRAP}'
    f'<xf numFmtId="0" fontId="0" fillId="3" borderId="0" xfId="0" applyFill="1" '
    f'applyAlignment="1">{_WRAP}'
    f'<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0" quotePrefix="1" '
    f'applyAlignment="1">{_WRAP}'
    f'<xf numFmtId="0" fontId="0" fillId="3" borderId="0" xfId="0" applyFill="1" '
    f'quotePrefix="1" applyAlignment="1">{_WRAP}'
)

# Digits after the decimal point by ISO 4217 (2 for any currency not listed).
_MINOR_UNITS = dict.fromkeys(
    [
        "BIF",
        "CLP",
        "DJF",
        "GNF",
        "ISK",
        "JPY",
        "KMF",
        "KRW",
        "PYG",
        "RWF",
        "UGX",
        "UYI",
        "VND",
        "VUV",
        "XAF",
        "XOF",
        "XPF",
    ],
    0,
) | dict.fromkeys(["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"], 3)
_FIRST_MONEY_STYLE = 9  # after the fixed styles below
_FIRST_NUMBER_FORMAT = 164  # the first id a workbook's own number formats may take


class _Styles:
    """The workbook's cell styles: the fixed ones (header, highlight, quote prefix, wrap)
    and one per money format used (currency, decimals, highlighted or not)."""

    def __init__(self) -> None:
        self._money: dict[tuple[str, int, bool], tuple[int, str]] = {}  # -> (style, format)
        self._formats: dict[str, int] = {}  # format code -> its id

    def money(self, currency: str, decimals: int, marked: bool) -> int:
        """The style of an amount in ``currency`` ("": none) sent with ``decimals`` digits
        after the point: grouped thousands, the currency's decimals (more when sent with
        more, so nothing sent is hidden), its code after the number."""
        key = (currency, decimals, marked)
        if key not in self._money:
            places = max(_MINOR_UNITS.get(currency, 2), decimals)
            code = "#,##0" + ("." + "0" * places if places else "")
            code += f' "{currency}"' if currency else ""
            self._formats.setdefault(code, _FIRST_NUMBER_FORMAT + len(self._formats))
            self._money[key] = (_FIRST_MONEY_STYLE + len(self._money), code)
        return self._money[key][0]

    def xml(self) -> Iterator[str]:
        yield _STYLES_HEAD
        if self._formats:
            formats = "".join(
                f'<numFmt numFmtId="{n}" formatCode="{_esc1(code)}"/>'
                for code, n in self._formats.items()
            )
            yield f'<numFmts count="{len(self._formats)}">{formats}</numFmts>'
        money = []
        for (_, _, marked), (_, code) in self._money.items():
            fill = ' fillId="3" applyFill="1"' if marked else ' fillId="0"'
            money.append(
                f'<xf numFmtId="{self._formats[code]}" fontId="0"{fill} borderId="0" xfId="0" '
                'applyNumberFormat="1"/>'
            )
        count = f'<cellXfs count="{_FIRST_MONEY_STYLE + len(money)}">'
        yield _STYLES_BODY.replace('<cellXfs count="9">', count).replace(
            "</cellXfs>", "".join(money) + "</cellXfs>"
        )


_STYLES_HEAD = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
)
_STYLES_BODY = (
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/><family val="2"/></font></fonts>'
    '<fills count="4"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill>'
    f'<fill><patternFill patternType="solid"><fgColor rgb="{_HEADER_FILL}"/><bgColor indexed="64"/></patternFill></fill>'
    f'<fill><patternFill patternType="solid"><fgColor rgb="{_HIGHLIGHT}"/><bgColor indexed="64"/></patternFill></fill>'
    "</fills>"
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="9"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="2" borderId="0" xfId="0" applyFont="1" applyFill="1"/>'
    '<xf numFmtId="0" fontId="0" fillId="3" borderId="0" xfId="0" applyFill="1"/>'
    '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0" quotePrefix="1"/>'
    '<xf numFmtId="0" fontId="0" fillId="3" borderId="0" xfId="0" applyFill="1" quotePrefix="1"/>'
    f"{_WRAPPED}"
    "</cellXfs>"
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)


def _column_widths(spec: Sheet) -> list[float]:
    """Each column as wide as its header or the longest of its first 200 values (8 to 60)."""
    sample = spec.frame.head(200)
    values = [sample.iloc[:, i].tolist() for i in range(sample.shape[1])] if len(sample) else []
    out: list[float] = []
    for i, h in enumerate(spec.header):
        longest = len(str(h))
        if i < len(values):
            longest = max(longest, *(len(str(v)) for v in values[i]))
        out.append(float(min(max(longest + 2, 8), 60)))
    return out
