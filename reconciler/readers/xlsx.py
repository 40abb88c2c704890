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
import warnings
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from defusedxml import DefusedXmlException

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


def _read_xlsx(path: Path, raw: bytes, sheet: str | None, max_records: int) -> Table:
    _inspect_zip(path, raw)
    openpyxl = importlib.import_module("openpyxl")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            workbook = openpyxl.load_workbook(
                io.BytesIO(raw), read_only=True, data_only=True, keep_links=False
            )
    except Exception as exc:  # openpyxl raises an open-ended set of types on damaged input
        _refuse_defused(path, exc)
        raise InputError(
            f"could not be opened as an Excel workbook ({_exc_text(exc)}); open it in Excel "
            "and save it again as .xlsx",
            path=path,
        ) from None
    try:
        worksheet = _pick_sheet(path, workbook, sheet)
        title = str(worksheet.title)
        # Hidden sheets passed over to reach it: said in the summary.
        skipped = []
        for ws in workbook.worksheets:
            if ws is worksheet:
                break
            if getattr(ws, "sheet_state", "visible") != "visible":
                skipped.append(str(ws.title))
        worksheet.reset_dimensions()  # stale <dimension> tags would cut rows off
        try:
            issues: dict[tuple[int, int], str] = {}
            merged: list[tuple[int, int, int, int]] = []
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                table = _sheet_table(
                    path,
                    title,
                    _bounded_rows(path, title, worksheet, issues, merged),
                    max_records,
                )
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
        except InputError:
            raise
        except Exception as exc:  # same: malformed sheet XML, bad shared strings, ...
            _refuse_defused(path, exc)
            raise InputError(
                f"sheet {title!r} could not be read ({_exc_text(exc)}); open the workbook in "
                "Excel and save it again as .xlsx",
                path=path,
            ) from None
    finally:
        workbook.close()


def _bounded_rows(
    path: Path,
    title: str,
    worksheet: Any,
    issues: dict[tuple[int, int], str],
    merged: list[tuple[int, int, int, int]] | None = None,
) -> Iterator[tuple[object, ...]]:
    """The sheet's rows as value tuples, as ``iter_rows(values_only=True)`` gives them, built
    from the cells the sheet really holds, and refused with one line when the cells they
    imply outgrow the values (``limits.MAX_XLSX_CELLS``). ``issues`` gets the cells whose value the
    file does not hold, by (sheet row, column): a formula without a saved value, an Excel
    error (``#N/A``), a cell merged into another. Every such formula or error cell is noted,
    in every column (one note per cell the sheet holds, so they are bounded by the cells
    read): a cap would hide the cells after it, whose rows would then be sent blank.
    ``merged`` gets every merged range (low row, low column, high row, high column); the cells
    of the small ones are noted in ``issues`` too."""
    parser_module = importlib.import_module("openpyxl.worksheet._reader")
    book = worksheet.parent
    formula_tag = parser_module.FORMULA_TAG

    base: Any = parser_module.WorkSheetParser

    class Parser(base):  # type: ignore[misc]
        def parse_cell(self, element: Any) -> Any:
            cell = super().parse_cell(element)
            if cell["value"] is None and element.find(formula_tag) is not None:
                note((cell["row"], cell["column"]), "a formula without a saved value")
            elif cell["data_type"] == "e":
                note((cell["row"], cell["column"]), f"the Excel error {cell['value']}")
            return cell

    def note(where: tuple[int, int], what: str) -> None:
        issues[where] = what

    implied = values = 0
    counter = 1
    with worksheet._get_source() as source:
        parser = Parser(
            source,
            worksheet._shared_strings,
            data_only=book.data_only,
            epoch=book.epoch,
            date_formats=book._date_formats,
            timedelta_formats=book._timedelta_formats,
        )
        for index, cells in parser.parse():
            while counter < index:  # rows the sheet leaves out
                counter += 1
                yield ()
            counter += 1
            held = [(c["column"], c["value"]) for c in cells if c["value"] is not None]
            if not held:
                yield ()
                continue
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
            row: list[object] = [None] * width
            for column, value in held:
                row[column - 1] = value
            yield tuple(row)
        # Merged ranges come after the rows: every cell but the first of a range is blank.
        for merged_range in getattr(getattr(parser, "merged_cells", None), "mergeCell", []) or []:
            with contextlib.suppress(Exception):
                low_col, low_row, high_col, high_row = _range_bounds(str(merged_range.ref))
                if merged is not None:
                    merged.append((low_row, low_col, high_row, high_col))
                if (high_row - low_row + 1) * (high_col - low_col + 1) > limits.MAX_CELL_ISSUES:
                    continue  # listed by range only (``merged``)
                first = f"{_column_name(low_col)}{low_row}"
                for r in range(low_row, high_row + 1):
                    for c in range(low_col, high_col + 1):
                        if (r, c) != (low_row, low_col):
                            note((r, c), f"merged into {first}")


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


def _inspect_zip(path: Path, raw: bytes) -> None:
    """Refuse damaged zips and zip bombs from the central directory, inflating nothing."""
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


def _pick_sheet(path: Path, workbook: Any, sheet: str | None) -> Any:
    """``sheet`` by name (exact, else the one matching without case), or the first visible
    sheet: a hidden sheet before it is usually an old copy or a lookup table."""
    worksheets = list(workbook.worksheets)
    names = [str(ws.title) for ws in worksheets]
    if not worksheets:
        raise InputError("has no worksheets; save the table in a normal sheet", path=path)
    if sheet is None:
        visible = [ws for ws in worksheets if getattr(ws, "sheet_state", "visible") == "visible"]
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
    path: Path, title: str, rows: Iterable[Sequence[object]], max_records: int
) -> Table:
    iterator = iter(rows)
    top: list[tuple[list[str], int]] = []  # (cells as text, text-cell count)
    for values in iterator:
        top.append(_xlsx_row(values))
        if len(top) >= limits.HEADER_SCAN_ROWS:
            break
    header_index = _pick_header_row(top)
    if header_index is None:
        raise InputError(
            f"has no header row (sheet {title!r} is empty in its first {limits.HEADER_SCAN_ROWS} "
            "rows); put the column names in the first row",
            path=path,
        )
    header = [_clean_label(cell) for cell in top[header_index][0]]
    records: list[list[str]] = []
    lines: list[int] = []
    width = len(header)

    def add(number: int, cells: list[str]) -> None:
        nonlocal width
        used = _used_width(cells)
        if used == 0:
            return
        width = max(width, used)
        if width > limits.MAX_COLUMNS:
            _check_column_count(path, width)
        records.append(cells[:used])
        lines.append(number)
        if len(records) > max_records:
            _check_record_count(path, len(records), max_records)

    for offset, (cells, _) in enumerate(top[header_index + 1 :], start=header_index + 2):
        add(offset, cells)
    for number, values in enumerate(iterator, start=len(top) + 1):
        add(number, _xlsx_row(values)[0])

    header += [""] * (width - len(header))
    columns = [[row[i] if i < len(row) else "" for row in records] for i in range(width)]
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


def _xlsx_row(values: Sequence[object]) -> tuple[list[str], int]:
    cells = [_cell_text(value) for value in values]
    texts = sum(1 for value in values if isinstance(value, str) and value.strip())
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
