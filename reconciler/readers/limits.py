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


MAX_XLSX_MEMBERS: Final = 10_000
"""Refuse a workbook with more zip members than this."""


HEADER_SCAN_ROWS: Final = 20
"""XLSX: the header row is looked for among this many rows at the top of the sheet."""


MAX_XLSX_CELLS: Final = 2_000_000
"""Cells a sheet may spread its values over (rows x the width up to each row's last value)
when they hold less than 1% of them: one stray cell in column XFD on every row of a small
workbook would otherwise cost gigabytes (openpyxl pads every row to its last cell)."""


MAX_CELL_ISSUES: Final = 10_000  # cells noted as unreadable; more are counted, not listed
