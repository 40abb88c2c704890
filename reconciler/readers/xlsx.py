"""Workbooks: the first visible sheet (or ``--sheet``), its header row, its rows built from the
cells it holds, and the cells whose value the file does not hold (formulas never calculated,
error values, merged cells)."""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib
import io
import json
import math
import pyexpat
import warnings
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any

import numpy as np
from defusedxml import DefusedXmlException, DTDForbidden, EntitiesForbidden

from reconciler.errors import InputError
from reconciler.model import Table
from reconciler.readers import limits
from reconciler.readers.common import (
    _check_column_count,
    _check_record_count,
    _clean_label,
    _exc_text,
    _refuse_repeated_header,
    _size,
    _text_frame,
    _trimmed_width,
    _unique_labels,
)

_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_ROW, _CELL, _VALUE, _FORMULA, _INLINE = (_MAIN + n for n in ("row", "c", "v", "f", "is"))
_TEXT, _RUN, _PHONETIC, _SHARED, _MERGE = (_MAIN + n for n in ("t", "r", "rPh", "si", "mergeCell"))
_CHUNK = 1 << 16


@dataclass(frozen=True, slots=True)
class _SheetPart:
    """A worksheet of the workbook: its name, whether it is shown, and its part in the zip."""

    title: str
    sheet_state: str
    target: str


@dataclass(slots=True)
class _Styles:
    """What the cells' values need from the workbook: which cell styles are dates or
    durations, and the date system (1900 or 1904)."""

    dates: frozenset[int]
    durations: frozenset[int]
    epoch: dt.datetime


def _read_xlsx(path: Path, raw: bytes, sheet: str | None, max_records: int) -> Table:
    """The chosen sheet, read from the cells that hold values: the workbook's structure and
    styles through openpyxl, the sheet and its shared strings streamed with expat, so that
    empty cells and rows, skipped row numbers and unused shared strings cost only their
    parsing, and never more than the zip's parts allow (``_inspect_zip``)."""
    members = _inspect_zip(path, raw)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            archive, sheets, styles, strings_part = _open_workbook(path, raw, members)
    except InputError:
        raise
    except Exception as exc:  # openpyxl raises an open-ended set of types on damaged input
        _refuse_defused(path, exc)
        raise InputError(
            f"could not be opened as an Excel workbook ({_exc_text(exc)}); open it in Excel "
            "and save it again as .xlsx",
            path=path,
        ) from None
    with archive:
        worksheet = _pick_sheet(path, sheets, sheet)
        title = worksheet.title
        # Hidden sheets passed over to reach it: said in the summary.
        skipped = []
        for ws in sheets:
            if ws is worksheet:
                break
            if ws.sheet_state != "visible":
                skipped.append(ws.title)
        try:
            _check_ratio(path, members[worksheet.target])
            room = sum(members[ws.target].file_size for ws in sheets)
            strings = _shared_strings(path, archive, members, strings_part, room)
            issues: dict[tuple[int, int], str] = {}
            merged: list[tuple[int, int, int, int]] = []
            with archive.open(worksheet.target) as source:
                table = _sheet_table(
                    path,
                    title,
                    _sheet_rows(path, title, source, strings, styles, issues, merged),
                    max_records,
                    hidden=[ws.title for ws in sheets if ws.sheet_state != "visible"],
                )
        except InputError:
            raise
        except Exception as exc:  # malformed sheet XML, a shared string that is not there, ...
            _refuse_defused(path, exc)
            raise InputError(
                f"sheet {title!r} could not be read ({_exc_text(exc)}); open the workbook in "
                "Excel and save it again as .xlsx",
                path=path,
            ) from None
    if merged:
        # Every merged range below the header, whatever its size ("low_row, low_col,
        # high_row, high_col"): the cells it covers are expanded for the records only.
        below = [m for m in merged if m[2] > table.header_line]
        if below:
            table = replace(table, meta={**table.meta, "@merged_ranges": json.dumps(below)})
    if issues:
        # Cells of the records whose value the file does not hold: "row:column" ->
        # what is wrong (json: Table.meta holds text).
        found = {
            f"{row}:{column}": what
            for (row, column), what in sorted(issues.items())
            if row > table.header_line
        }
        if found:
            table = replace(table, meta={**table.meta, "@cell_issues": json.dumps(found)})
    if skipped:
        table = replace(table, meta={**table.meta, "@hidden_sheets": ", ".join(skipped)})
    return table


def _open_workbook(
    path: Path, raw: bytes, members: dict[str, zipfile.ZipInfo]
) -> tuple[zipfile.ZipFile, list[_SheetPart], _Styles, str | None]:
    """The zip, its worksheets in order, the styles the values need, and the shared-string
    part. openpyxl reads the manifest, the workbook part and the styles only: not the shared
    strings, not the sheets (its read-only mode would parse every sheet whole to size it)."""
    excel = importlib.import_module("openpyxl.reader.excel")
    stylesheet = importlib.import_module("openpyxl.styles.stylesheet")
    relationship = importlib.import_module("openpyxl.packaging.relationship")
    for name in ("[Content_Types].xml", "_rels/.rels"):
        if name in members:
            _check_ratio(path, members[name])
    reader = excel.ExcelReader(io.BytesIO(raw), read_only=True, data_only=True, keep_links=False)
    try:
        reader.read_manifest()
        part = excel._find_workbook_part(reader.package).PartName[1:]
        for name in (part, relationship.get_rels_path(part), "xl/styles.xml"):
            if name in members:
                _check_ratio(path, members[name])
        reader.read_workbook()
        stylesheet.apply_stylesheet(reader.archive, reader.wb)
        sheets = [
            _SheetPart(str(ws.name), str(ws.state or "visible"), str(rel.target))
            for ws, rel in reader.parser.find_sheets()
            if rel.target in members and "chartsheet" not in str(rel.Type)
        ]
        found = reader.package.find(excel.SHARED_STRINGS)
        strings_part = str(found.PartName[1:]) if found is not None else None
        wb = reader.wb
        styles = _Styles(
            frozenset(int(i) for i in wb._date_formats),
            frozenset(int(i) for i in wb._timedelta_formats),
            wb.epoch,
        )
    except BaseException:
        reader.archive.close()
        raise
    return reader.archive, sheets, styles, strings_part


def _check_ratio(path: Path, member: zipfile.ZipInfo) -> None:
    """A part about to be read that inflates far more than XML written by a spreadsheet."""
    ratio = member.file_size / max(member.compress_size, 1)
    if member.file_size > limits.PART_RATIO_MIN_BYTES and ratio > limits.MAX_PART_RATIO:
        raise InputError(
            f"has a part ({member.filename}) that inflates {ratio:,.0f} times to "
            f"{_size(member.file_size)}, more than a spreadsheet's XML does (possible zip "
            "bomb); save a copy holding only the data, or export the sheet as CSV",
            path=path,
        )


def _expat(collect: Any) -> Any:
    """An expat parser with namespaces resolved ("uri}local") that refuses DTDs and entity
    declarations, as defusedxml does; ``collect`` gets character data."""
    parser = pyexpat.ParserCreate(namespace_separator="}")
    parser.buffer_text = True
    parser.CharacterDataHandler = collect

    def doctype(name: str, sysid: Any, pubid: Any, _subset: Any) -> None:
        raise DTDForbidden(name, sysid, pubid)

    def entity(
        name: str, _param: Any, value: Any, base: Any, sysid: Any, pubid: Any, notation: Any
    ) -> None:
        raise EntitiesForbidden(name, value, base, sysid, pubid, notation)

    parser.StartDoctypeDeclHandler = doctype
    parser.EntityDeclHandler = entity
    parser.SetParamEntityParsing(pyexpat.XML_PARAM_ENTITY_PARSING_NEVER)
    return parser


def _shared_strings(
    path: Path,
    archive: zipfile.ZipFile,
    members: dict[str, zipfile.ZipInfo],
    part: str | None,
    room: int,
) -> list[str]:
    """The shared strings, as openpyxl reads them (the text of the plain and rich runs, not
    the phonetic ones). A table longer than the workbook's sheets have room to use (``room``
    bytes of sheet XML) is refused as soon as it is: its parsing never costs more than the
    sheets'."""
    if part is None or part not in members:
        return []
    _check_ratio(path, members[part])
    most = room // limits.SHARED_STRING_CELL_BYTES + limits.SHARED_STRINGS_SLACK
    strings: list[str] = []
    text: list[str] = []
    state = {"depth": 0, "phonetic": 0, "on": False}

    def start(name: str, _attrs: Any) -> None:
        if name == _SHARED:
            text.clear()
            state["depth"] = 1
        elif state["depth"]:
            if name == _PHONETIC:
                state["phonetic"] += 1
            elif name == _TEXT and not state["phonetic"]:
                state["on"] = True

    def end(name: str) -> None:
        if name == _SHARED:
            state["depth"] = 0
            strings.append("".join(text).replace("x005F_", ""))
            if len(strings) > most:
                raise InputError(
                    f"holds more than {most:,} shared strings, more than its sheets have room "
                    "to use (possible zip bomb); save a copy holding only the data, or export "
                    "the sheet as CSV",
                    path=path,
                )
        elif name == _PHONETIC:
            state["phonetic"] -= 1
        elif name == _TEXT:
            state["on"] = False

    def chars(data: str) -> None:
        if state["on"]:
            text.append(data)

    parser = _expat(chars)
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    with archive.open(part) as source:
        while chunk := source.read(_CHUNK):
            parser.Parse(chunk, False)
    parser.Parse(b"", True)
    return strings


class _SheetReader:
    """expat handlers for a worksheet: each row as (sheet row, [(column, value)]) for the cells
    that hold a value, the cells whose value the file does not hold noted by (row, column),
    the merged ranges. Values are what openpyxl gives with ``data_only=True``."""

    def __init__(
        self,
        path: Path,
        title: str,
        strings: Sequence[str],
        styles: _Styles,
        issues: dict[tuple[int, int], str],
        merged: list[tuple[int, int, int, int]],
    ) -> None:
        self.path, self.title, self.strings, self.styles = path, title, strings, styles
        self.issues, self.merged = issues, merged
        self.done: list[tuple[int, list[tuple[int, object]]]] = []
        self.row = 0
        self.last = 0  # the last row that held a value
        self.column = 0
        self.cells: list[tuple[int, object]] = []
        self.attrs: dict[str, str] = {}
        self.value: list[str] | None = None  # the <v> of the cell, when it has one
        self.inline: list[str] | None = None  # the <is> of the cell, when it has one
        self.formula = False
        self.collect: list[str] | None = None  # where character data goes now
        self.in_cell = self.in_inline = False
        self.phonetic = 0
        self.columns: dict[str, int] = {}

    def start(self, name: str, attrs: dict[str, str]) -> None:
        if name == _CELL:
            self.attrs = attrs
            self.in_cell = True
            self.value = self.inline = None
            self.formula = False
        elif not self.in_cell:
            if name == _ROW:
                number = attrs.get("r")
                if not number:
                    self.row += 1
                elif number.isdigit() and len(number) < 8:  # the usual case, kept short
                    self.row = self._check_row(int(number))
                else:
                    self.row = self._row_number(number)
                self.column = 0
                if self.cells:  # cells given outside any row belong to none
                    self.cells = []
            elif name == _MERGE:
                with contextlib.suppress(Exception):  # a damaged range is no range
                    self.merged.append(_merge_bounds(attrs["ref"]))
        elif self.in_inline:
            if name == _PHONETIC:
                self.phonetic += 1
            elif name == _TEXT and not self.phonetic and self.inline is not None:
                self.collect = self.inline
        elif name == _VALUE:
            if self.value is None:
                self.value = []
                self.collect = self.value
        elif name == _INLINE:
            self.in_inline = True
            if self.inline is None:
                self.inline = []
        elif name == _FORMULA:
            self.formula = True

    def end(self, name: str) -> None:
        if name == _CELL:
            self.in_cell = False
            self.collect = None
            if self.value is None and self.inline is None and not self.formula:
                self._place()  # an empty (styled) cell: only its column counts
                return
            self._cell()
        elif name == _ROW:
            if self.cells:
                if self.row <= self.last:
                    raise InputError(
                        f"sheet {self.title!r} gives row {self.row:,} after row {self.last:,} "
                        "(rows out of order or repeated); open the workbook in Excel and save "
                        "it again as .xlsx",
                        path=self.path,
                    )
                self.last = self.row
                self.done.append((self.row, self.cells))
                self.cells = []
        elif self.in_cell:
            if name in (_VALUE, _TEXT):
                self.collect = None
            elif name == _INLINE:
                self.in_inline = False
                self.collect = None
            elif name == _PHONETIC:
                self.phonetic -= 1

    def chars(self, data: str) -> None:
        if self.collect is not None:
            self.collect.append(data)

    def _place(self) -> tuple[int, int]:
        ref = self.attrs.get("r")
        if ref:
            row, column = self._coordinate(ref)
        else:
            row, column = self.row, self.column + 1
            if column > limits.XLSX_MAX_COLUMN:
                raise InputError(
                    f"sheet {self.title!r} has more than {limits.XLSX_MAX_COLUMN:,} cells in "
                    f"row {row:,}, past Excel's last column (XFD); it was not written by a "
                    "spreadsheet: save a copy holding only the data, or export the sheet as CSV",
                    path=self.path,
                )
        self.column = column
        return row, column

    def _cell(self) -> None:
        row, column = self._place()
        kind = self.attrs.get("t", "n")
        value: object = None
        if kind == "inlineStr":
            if self.inline is not None:
                value = "".join(self.inline)
        elif self.value is not None:
            text = "".join(self.value)
            value = text or None
            if value is not None:
                if kind == "n":
                    value = _number(text)
                    style = int(self.attrs.get("s") or 0)
                    if style in self.styles.dates:
                        try:
                            value = _from_excel(
                                value, self.styles.epoch, style in self.styles.durations
                            )
                        except (OverflowError, ValueError):
                            kind, value = "e", "#VALUE!"
                elif kind == "s":
                    value = self.strings[int(text)]
                elif kind == "b":
                    value = bool(int(text))
                elif kind == "d":
                    value = _from_iso(text)
        if value is None:
            if self.formula:
                self.issues[(row, column)] = "a formula without a saved value"
                # Held without a value: its row is a record even if no cell of it has one.
                self.cells.append((column, None))
            return
        if kind == "e":
            self.issues[(row, column)] = f"the Excel error {value}"
        self.cells.append((column, value))

    def _row_number(self, text: str) -> int:
        try:
            number = int(text)
        except ValueError:
            real = float(text)
            if not real.is_integer():
                raise ValueError(f"{text} is not a valid row number") from None
            number = int(real)
        return self._check_row(number)

    def _check_row(self, number: int) -> int:
        if number < 1:
            raise ValueError(f"{number} is not a valid row number")
        if number > limits.XLSX_MAX_ROW:
            raise InputError(
                f"sheet {self.title!r} has a row numbered {number:,}, past Excel's last row "
                f"({limits.XLSX_MAX_ROW:,}); it was not written by a spreadsheet: save a copy "
                "holding only the data, or export the sheet as CSV",
                path=self.path,
            )
        return number

    def _coordinate(self, ref: str) -> tuple[int, int]:
        letters = ref.rstrip("0123456789")
        column = self.columns.get(letters)
        if column is None:
            column = _column_number(letters)
            if column > limits.XLSX_MAX_COLUMN:
                raise InputError(
                    f"sheet {self.title!r} has a cell {ref[:20]!r} past Excel's last column "
                    f"(XFD); it was not written by a spreadsheet: save a copy holding only "
                    "the data, or export the sheet as CSV",
                    path=self.path,
                )
            self.columns[letters] = column
        digits = ref[len(letters) :]
        if not digits.isascii() or not digits.isdigit():
            raise ValueError(f"{ref[:20]!r} is not a cell reference")
        return self._check_row(int(digits)), column


def _column_number(letters: str) -> int:
    """A column's number from its letters (``$`` and lower case as openpyxl takes them)."""
    name = letters.replace("$", "").upper()
    if not name or len(name) > 3 or not name.isascii() or not name.isalpha():
        raise ValueError(f"{letters[:20]!r} is not a column name")
    number = 0
    for char in name:
        number = number * 26 + ord(char) - 64
    return number


def _merge_bounds(ref: str) -> tuple[int, int, int, int]:
    low_col, low_row, high_col, high_row = _range_bounds(ref)
    return low_row, low_col, high_row, high_col


def _number(text: str) -> int | float:
    if "." in text or "E" in text or "e" in text:
        return float(text)
    return int(text)


def _from_excel(value: float, epoch: dt.datetime, duration: bool) -> object:
    convert = importlib.import_module("openpyxl.utils.datetime")
    return convert.from_excel(value, epoch, timedelta=duration)


def _from_iso(text: str) -> object:
    convert = importlib.import_module("openpyxl.utils.datetime")
    return convert.from_ISO8601(text)


def _sheet_rows(
    path: Path,
    title: str,
    source: IO[bytes],
    strings: Sequence[str],
    styles: _Styles,
    issues: dict[tuple[int, int], str],
    merged: list[tuple[int, int, int, int]],
) -> Iterator[tuple[int, list[tuple[int, object]]]]:
    """The sheet's rows that hold a value, as (sheet row, [(column, value)]) in sheet order,
    refused with one line when the cells they imply outgrow the values
    (``limits.MAX_XLSX_CELLS``). Rows and cells that hold nothing cost only their parsing;
    row numbers skipped cost nothing. ``issues`` gets the cells whose value the file does
    not hold, by (sheet row, column): a formula without a saved value, an Excel error
    (``#N/A``), a cell merged into another. Every such formula or error cell is noted, in
    every column (one note per cell the sheet holds, so they are bounded by the cells read):
    a cap would hide the cells after it, whose rows would then be sent blank. ``merged`` gets
    every merged range (low row, low column, high row, high column); the cells of the small
    ones are noted in ``issues`` too, up to ``limits.MAX_MERGED_CELL_NOTES`` in all."""
    reader = _SheetReader(path, title, strings, styles, issues, merged)
    parser = _expat(reader.chars)
    parser.StartElementHandler = reader.start
    parser.EndElementHandler = reader.end
    implied = values = 0
    final = False
    while not final:
        chunk = source.read(_CHUNK)
        final = not chunk
        parser.Parse(chunk, final)
        for number, held in reader.done:
            width = max(column for column, _ in held)
            implied += width
            values += len(held)
            if implied > limits.MAX_XLSX_CELLS and implied > 100 * values:
                raise InputError(
                    f"sheet {title!r} spreads {values:,} values over {implied:,} cells (up to "
                    f"column {_column_name(width)}): delete the stray cells beyond the table, "
                    "or copy the table alone into a new workbook",
                    path=path,
                )
            yield number, held
        reader.done.clear()
    # Merged ranges come after the rows: every cell but the first of a range is blank.
    budget = limits.MAX_MERGED_CELL_NOTES
    for low_row, low_col, high_row, high_col in merged:
        area = (high_row - low_row + 1) * (high_col - low_col + 1)
        if area > limits.MAX_CELL_ISSUES or area > budget:
            continue  # listed by range only (``merged``)
        budget -= area
        first = f"{_column_name(low_col)}{low_row}"
        for r in range(low_row, high_row + 1):
            for c in range(low_col, high_col + 1):
                if (r, c) != (low_row, low_col):
                    issues[(r, c)] = f"merged into {first}"


def _range_bounds(ref: str) -> tuple[int, int, int, int]:
    utils = importlib.import_module("openpyxl.utils")
    low_col, low_row, high_col, high_row = utils.range_boundaries(ref)
    return int(low_col), int(low_row), int(high_col), int(high_row)


def _column_name(number: int) -> str:
    name = ""
    while number:
        number, rest = divmod(number - 1, 26)
        name = chr(65 + rest) + name
    return name


def _refuse_defused(path: Path, exc: BaseException) -> None:
    """openpyxl parses with defusedxml and wraps its refusal: say what it really was."""
    seen: BaseException | None = exc
    for _ in range(20):  # a bounded walk: exception chains can be cyclic
        if seen is None:
            return
        if isinstance(seen, DefusedXmlException):
            raise InputError(
                "holds XML with a DTD or entity declaration, which reconciler refuses for "
                "safety; open the workbook in Excel and save it again as .xlsx",
                path=path,
            ) from None
        seen = seen.__cause__ or seen.__context__


def _inspect_zip(path: Path, raw: bytes) -> dict[str, zipfile.ZipInfo]:
    """Refuse damaged zips and zip bombs from the central directory, inflating nothing; the
    members by name (the parts read are held to ``_check_ratio`` too)."""
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            members = archive.infolist()
    except Exception as exc:  # BadZipFile, but also struct/Value/EOF errors on hostile bytes
        raise InputError(
            f"is not a readable workbook: the zip container is damaged or truncated "
            f"({_exc_text(exc)}); download or export it again",
            path=path,
        ) from None
    if len(members) > limits.MAX_XLSX_MEMBERS:
        raise InputError(
            f"holds {len(members):,} zip members, more than the {limits.MAX_XLSX_MEMBERS:,} a "
            "workbook needs; it is not a normal .xlsx, export the sheet as CSV",
            path=path,
        )
    total = sum(member.file_size for member in members)
    if total > limits.MAX_XLSX_UNCOMPRESSED:
        raise InputError(
            f"would inflate to {_size(total)}, over the {_size(limits.MAX_XLSX_UNCOMPRESSED)} limit "
            "for a workbook (possible zip bomb); export the sheet as CSV instead",
            path=path,
        )
    for member in members:
        ratio = member.file_size / max(member.compress_size, 1)
        if member.file_size > limits.ZIP_RATIO_MIN_BYTES and ratio > limits.MAX_ZIP_RATIO:
            raise InputError(
                f"has a part ({member.filename}) that inflates {ratio:,.0f} times to "
                f"{_size(member.file_size)} (possible zip bomb); refusing to open it, "
                "export the sheet as CSV instead",
                path=path,
            )
    names = {member.filename for member in members}
    if "xl/workbook.xml" not in names and "xl/workbook.bin" not in names:
        raise InputError(
            "is a zip archive but not an Excel workbook (no xl/workbook.xml); unzip it and "
            "pass the table inside, or save the sheet as .xlsx",
            path=path,
        )
    return {member.filename: member for member in members}


def _pick_sheet(path: Path, worksheets: Sequence[_SheetPart], sheet: str | None) -> _SheetPart:
    """``sheet`` by name (exact, else the one matching without case), or the first visible
    sheet: a hidden sheet before it is usually an old copy or a lookup table."""
    names = [ws.title for ws in worksheets]
    if not worksheets:
        raise InputError("has no worksheets; save the table in a normal sheet", path=path)
    if sheet is None:
        visible = [ws for ws in worksheets if ws.sheet_state == "visible"]
        if not visible:
            raise InputError(
                f"has only hidden sheets ({', '.join(repr(n) for n in names)}); unhide the "
                "table's sheet or name it with --sheet",
                path=path,
            )
        return visible[0]
    if sheet in names:
        return worksheets[names.index(sheet)]
    folded = [i for i, name in enumerate(names) if name.casefold() == sheet.casefold()]
    if len(folded) == 1:
        return worksheets[folded[0]]
    listed = ", ".join(repr(name) for name in names)
    raise InputError(f"has no sheet named {sheet!r}; choose one of: {listed}", path=path)


def _sheet_table(
    path: Path,
    title: str,
    rows: Iterable[tuple[int, Sequence[tuple[int, object]]]],
    max_records: int,
    hidden: Sequence[str] = (),
) -> Table:
    """The table of a sheet given as its rows that hold values, (sheet row, [(column,
    value)]): the header found among the top rows, every later row holding a non-blank value
    a record whose line is its sheet row. Rows are kept as lists up to their last value, or
    by their cells when those are far apart, so the cost follows the values."""
    iterator = iter(rows)
    scan = limits.HEADER_SCAN_ROWS
    top: list[tuple[list[str], int]] = [([], 0)] * scan  # (cells as text, text-cell count)
    pending: tuple[int, Sequence[tuple[int, object]]] | None = None
    unvalued: dict[int, int] = {}  # top row -> last column held without a value
    for number, held in iterator:
        if number > scan:
            pending = (number, held)
            break
        top[number - 1] = _xlsx_row(held)
        last = max((column for column, value in held if value is None), default=0)
        if last:
            unvalued[number] = last
    header_index = _pick_header_row(top)
    if header_index is None:
        others = [t for t in hidden if t != title]
        raise InputError(
            f"has no header row (sheet {title!r} is empty in its first {scan} rows); "
            + (
                f"its hidden sheets were not read ({', '.join(repr(t) for t in others[:3])}): "
                f"name the one to read with --sheet {others[0]!r}, or "
                if others
                else ""
            )
            + "put the column names in the first row",
            path=path,
        )
    header = [_clean_label(cell) for cell in top[header_index][0]]
    records: list[list[str]] = []  # a sparse record is [] here and its cells in ``sparse``
    sparse: list[tuple[int, dict[int, str]]] = []
    lines: list[int] = []
    width = len(header)
    values = 0
    farthest = (width, header_index + 1)  # (column, sheet row) of the value farthest right

    def add(number: int, cells: list[str], held_to: int = 0) -> None:
        nonlocal width, values, farthest
        # A cell held without a value (a formula never calculated) keeps its row a record.
        used = max(_used_width(cells), held_to)
        if used == 0:
            return
        cells = cells + [""] * (used - len(cells))
        if used > width:
            width = used
            farthest = (used, number)
            if width > limits.MAX_COLUMNS:
                _check_column_count(path, width)
        records.append(cells[:used])
        lines.append(number)
        values += sum(1 for cell in cells if cell)
        if len(records) > max_records:
            _check_record_count(path, len(records), max_records)

    def add_held(number: int, held: Sequence[tuple[int, object]]) -> None:
        nonlocal width, values, farthest
        texts = [(column, _cell_text(value)) for column, value in held]
        used = max(
            (
                column
                for (column, text), (_, value) in zip(texts, held, strict=True)
                if text.strip() or value is None
            ),
            default=0,
        )
        if used == 0:
            return
        kept = [(column, text) for column, text in texts if column <= used]
        if used <= 2 * len(kept) + 16:
            cells = [""] * used
            for column, text in kept:
                cells[column - 1] = text
            add(number, cells)
            return
        if used > width:
            width = used
            farthest = (used, number)
            if width > limits.MAX_COLUMNS:
                _check_column_count(path, width)
        sparse.append((len(records), {column - 1: text for column, text in kept}))
        records.append([])
        lines.append(number)
        values += sum(1 for _, text in kept if text)
        if len(records) > max_records:
            _check_record_count(path, len(records), max_records)

    for number in range(header_index + 2, scan + 1):
        if top[number - 1][0]:
            add(number, top[number - 1][0], unvalued.get(number, 0))
    if pending is not None:
        add_held(*pending)
    for number, held in iterator:
        add_held(number, held)

    cells_total = width * len(records)
    if cells_total > limits.MAX_XLSX_CELLS and cells_total > limits.MAX_XLSX_SPREAD * values:
        column, row = farthest
        raise InputError(
            f"sheet {title!r} spreads {values:,} values over {cells_total:,} cells "
            f"({len(records):,} rows by {width:,} columns, out to column "
            f"{_column_name(column)} in row {row:,}): delete the stray cells beyond the table, "
            "or copy the table alone into "
            "a new workbook (or save it as CSV)",
            path=path,
        )
    header += [""] * (width - len(header))
    columns = [[row[i] if i < len(row) else "" for row in records] for i in range(width)]
    for position, cells_at in sparse:
        for index, text in cells_at.items():
            columns[index][position] = text
    width = _trimmed_width(header, lambda i: all(value == "" for value in columns[i]))
    header = header[:width]
    frame = _text_frame(_unique_labels(header), columns[:width], len(records))
    row_lines = np.asarray(lines, dtype=np.int64)
    _refuse_repeated_header(path, header, frame, row_lines)
    return Table(
        path=path,
        format="xlsx",
        header=tuple(header),
        frame=frame,
        lines=row_lines,
        header_line=header_index + 1,
        sheet=title,
    )


def _xlsx_row(held: Sequence[tuple[int, object]]) -> tuple[list[str], int]:
    """A top row's cells as text, up to its last value, and how many are non-blank text."""
    width = max((column for column, _ in held), default=0)
    cells = [""] * width
    for column, value in held:
        cells[column - 1] = _cell_text(value)
    texts = sum(1 for _, value in held if isinstance(value, str) and value.strip())
    return cells, texts


def _used_width(cells: Sequence[str]) -> int:
    for index in range(len(cells) - 1, -1, -1):
        if cells[index].strip():
            return index + 1
    return 0


def _pick_header_row(top: Sequence[tuple[list[str], int]]) -> int | None:
    counts = [sum(1 for cell in cells if cell.strip()) for cells, _ in top]
    widest = max(counts, default=0)
    if widest == 0:
        return None
    needed = max(2, math.ceil(widest / 2))
    for index, ((_, texts), count) in enumerate(zip(top, counts, strict=True)):
        if count >= needed and texts * 2 > count:
            return index
    return counts.index(widest)


def _cell_text(value: object) -> str:
    """An XLSX cell value as the text a user sees (IDs keep their digits, no ``.0``)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is None and value.time() == dt.time(0):
            return value.date().isoformat()  # openpyxl gives datetimes for date-only cells
        return value.isoformat(timespec="seconds" if value.microsecond == 0 else "auto")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)
