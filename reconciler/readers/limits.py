"""The bounds every reader keeps. Readers look them up here at each use, so a test (or a
caller) may lower one for a run."""

from __future__ import annotations

from typing import Final

MAX_INPUT_BYTES: Final = 2 * 1024**3
"""Files larger than this are refused before a byte is read."""


MAX_RECORDS: Final = 5_000_000
"""More records than this are refused (split the file)."""


MAX_LINE_BYTES: Final = 64 * 1024**2
"""A physical line of delimited text longer than this is refused."""


MAX_COLUMNS: Final = 16_384
"""More columns than this (Excel's widest sheet) are refused: usually a wrong delimiter or
line ending, and a frame millions of columns wide would take minutes to build."""


MAX_XLSX_UNCOMPRESSED: Final = 1024**3
"""Refuse a workbook whose zip members add up to more than this when inflated."""


MAX_ZIP_RATIO: Final = 200
"""Refuse a zip member inflating more than this many times its compressed size ..."""


ZIP_RATIO_MIN_BYTES: Final = 50 * 1024**2
"""... when it also inflates to more than this (small, very compressible parts are normal)."""


MAX_PART_RATIO: Final = 100
"""Refuse a workbook part that reconciler reads (the sheet, its shared strings, the workbook,
styles and relationship parts) inflating more than this many times its compressed size ...
Sheet XML written by a spreadsheet compresses 5-20 times (its row and cell numbers keep it
from compressing further); the parts never read (a pivot cache) are held to
``MAX_ZIP_RATIO`` only."""


PART_RATIO_MIN_BYTES: Final = 1024**2
"""... when it also inflates to more than this."""


MAX_XLSX_MEMBERS: Final = 10_000
"""Refuse a workbook with more zip members than this."""


HEADER_SCAN_ROWS: Final = 20
"""XLSX: the header row is looked for among this many rows at the top of the sheet."""


XLSX_MAX_ROW: Final = 1_048_576
"""Excel's last row: a sheet row numbered past it is refused (no spreadsheet wrote it)."""


XLSX_MAX_COLUMN: Final = 16_384
"""Excel's last column (XFD): a cell past it is refused."""


MAX_XLSX_CELLS: Final = 2_000_000
"""Cells a sheet's records may spread their values over (rows x the table's width) before
``MAX_XLSX_SPREAD`` applies: one stray cell in column XFD on every row of a small workbook
would otherwise make a table of gigabytes."""


MAX_XLSX_SPREAD: Final = 20
"""Past ``MAX_XLSX_CELLS``, a sheet whose records fill less than one cell in this many of the
table they make is refused (values thinly spread out to a far column). Rows are stored by the
cells that hold values, so the refusal costs only the reading."""


SHARED_STRING_CELL_BYTES: Final = 20
"""The least sheet XML a cell that uses a shared string takes (``<c t="s"><v>0</v></c>``):
a shared-string table with more entries than the workbook's sheets have room to use, plus
``SHARED_STRINGS_SLACK``, is refused before it is read further."""


SHARED_STRINGS_SLACK: Final = 1_000


MAX_CELL_ISSUES: Final = 10_000  # cells noted as unreadable; more are counted, not listed


MAX_MERGED_CELL_NOTES: Final = 1_000_000
"""Cells of merged ranges noted one by one, in all; the ranges past it are still given whole
(every merged cell is found from its range), so many small ranges cost no more than this."""
