"""Workbooks whose reading cost the coordinates, not the cells holding values, would set: one
huge row number, shared strings nothing uses, empty styled cells and rows, values spread thin
out to column XFD. Each is read at the cost of what it holds, or refused with one line, as the
sent file, as results, under ``check`` and as ``--actions``.

The workbooks are written as raw XML (as a hostile generator would), small enough to build in
a moment. No timed assertions: a run that does not finish within ``TIMEOUT`` seconds fails.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

from reconciler.readers import read_table

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "fixtures" / "modification_view_errors"
TIMEOUT = 30  # seconds: far above the few seconds any of these takes

NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
CT = (
    '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/'
    'package/2006/content-types"><Default Extension="rels" ContentType="application/'
    'vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType='
    '"application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/'
    'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName='
    '"/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.'
    'spreadsheetml.worksheet+xml"/><Override PartName="/xl/worksheets/sheet2.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.spreadsheetml.sharedStrings+xml"/><Override PartName="/xl/styles.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
    "</Types>"
)
RELS = (
    '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats'
    '.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.'
    'openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
    'Target="xl/workbook.xml"/></Relationships>'
)
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
WBRELS = (
    '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.'
    'openxmlformats.org/package/2006/relationships">'
    f'<Relationship Id="rId1" Type="{REL}/worksheet" Target="worksheets/sheet1.xml"/>'
    f'<Relationship Id="rId4" Type="{REL}/worksheet" Target="worksheets/sheet2.xml"/>'
    f'<Relationship Id="rId2" Type="{REL}/sharedStrings" Target="sharedStrings.xml"/>'
    f'<Relationship Id="rId3" Type="{REL}/styles" Target="styles.xml"/></Relationships>'
)
STYLES = (
    f'<?xml version="1.0" encoding="UTF-8"?><styleSheet {NS}><fonts count="1"><font><sz '
    'val="11"/><name val="Calibri"/></font></fonts><fills count="1"><fill><patternFill '
    'patternType="none"/></fill></fills><borders count="1"><border/></borders><cellStyleXfs '
    'count="1"><xf/></cellStyleXfs><cellXfs count="2"><xf/><xf fillId="0"/></cellXfs>'
    "</styleSheet>"
)
HEADER = ["Line", "Order Id", "Action Tracker Id", "Error Type", "Message"]
ROWS = [["4", "", "", "Validation", "ALREADY_LOCKED"], ["6", "12346", "16027", "", "NO_CHANGE"]]


def _column(number: int) -> str:
    name = ""
    while number:
        number, rest = divmod(number - 1, 26)
        name = chr(65 + rest) + name
    return name


def _text(ref: str, value: str) -> str:
    return f'<c r="{ref}" t="inlineStr"><is><t>{value}</t></is></c>'


def _row(number: int, values: list[str]) -> str:
    cells = "".join(_text(f"{_column(i + 1)}{number}", v) for i, v in enumerate(values) if v)
    return f'<row r="{number}">{cells}</row>'


def _table() -> Iterator[str]:
    """The header and two results rows, at sheet rows 1 to 3."""
    yield _row(1, HEADER)
    for offset, values in enumerate(ROWS):
        yield _row(offset + 2, values)


def _workbook(
    path: Path,
    rows: Iterable[str],
    strings: Iterable[str] = (),
    hidden: Iterable[str] | None = None,
) -> Path:
    """A workbook of raw XML: ``rows`` in its visible sheet, ``strings`` its shared strings,
    ``hidden`` the rows of a hidden sheet before it (none when None)."""
    sheets = '<sheet name="Data" sheetId="1" r:id="rId1"/>'
    if hidden is not None:
        sheets = '<sheet name="Old" sheetId="2" state="hidden" r:id="rId4"/>' + sheets
    book = (
        f'<?xml version="1.0" encoding="UTF-8"?><workbook {NS} xmlns:r="{REL}"><sheets>'
        f"{sheets}</sheets></workbook>"
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        archive.writestr("[Content_Types].xml", CT)
        archive.writestr("_rels/.rels", RELS)
        archive.writestr("xl/workbook.xml", book)
        archive.writestr("xl/_rels/workbook.xml.rels", WBRELS)
        archive.writestr("xl/styles.xml", STYLES)
        for name, body in (("sheet1", rows), ("sheet2", hidden)):
            if body is None:
                continue
            with archive.open(f"xl/worksheets/{name}.xml", "w", force_zip64=True) as member:
                member.write(f'<?xml version="1.0"?><worksheet {NS}><sheetData>'.encode())
                for part in body:
                    member.write(part.encode())
                member.write(b"</sheetData></worksheet>")
        with archive.open("xl/sharedStrings.xml", "w", force_zip64=True) as member:
            member.write(f'<?xml version="1.0"?><sst {NS}>'.encode())
            for text in strings:
                member.write(f"<si><t>{text}</t></si>".encode())
            member.write(b"</sst>")
    return path


def _run(mode: str, workbook: Path, out: Path) -> subprocess.CompletedProcess[str]:
    """``reconciler`` with the workbook as results, as the sent file (``check``) or as
    ``--actions``, in a subprocess that must finish within ``TIMEOUT`` seconds."""
    given = {
        "results": ["reconcile", str(FIXTURE / "sent.csv"), str(workbook), "--no-ledger"],
        "check": ["check", str(workbook)],
        "actions": [
            "reconcile",
            str(FIXTURE / "sent.csv"),
            str(FIXTURE / "results.csv"),
            "--actions",
            str(workbook),
            "--no-ledger",
        ],
    }[mode]
    env = dict(os.environ, PYTHONPATH=str(ROOT), HOME=str(out.parent / "home"))
    try:
        return subprocess.run(
            [sys.executable, "-m", "reconciler", *given, "--out", str(out), "--quiet"],
            env=env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"{mode} {workbook.name}: still running after {TIMEOUT} s")


def _refused(done: subprocess.CompletedProcess[str], workbook: Path, *fragments: str) -> None:
    lines = done.stderr.splitlines()
    assert done.returncode == 2, done.stderr
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"reconciler: {workbook}: "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    assert "Traceback" not in done.stderr


def _huge_row() -> Iterator[str]:
    yield from _table()
    yield _row(1_000_000_000, ["7", "", "", "", "NO_CHANGE"])


def _unused_strings() -> Iterator[str]:
    """60,000 distinct shared strings (about 1.3 MB, compressing as text does) for a sheet of
    three rows: more than any sheet of the workbook has room to use."""
    return (f"unused value {i:06d}" for i in range(60_000))


def _styled_empty() -> Iterator[str]:
    """4,000 rows of 200 empty styled cells (the same five columns again and again): the
    sheet XML inflates over 100 times."""
    yield from _table()
    cells = "".join(f'<c r="{c}@" s="1"/>' for c in ("F", "G", "H", "I", "J") * 40)
    for number in range(4, 4_004):
        yield f'<row r="{number}">' + cells.replace("@", str(number)) + "</row>"


def _spread_thin() -> Iterator[str]:
    """300 rows holding a value every 99 columns out to column XFD: 1% of their cells."""
    yield from _table()
    for number in range(4, 304):
        cells = "".join(f'<c r="{_column(c)}{number}"><v>1</v></c>' for c in range(1, 16_385, 99))
        yield f'<row r="{number}">{cells}</row>'


def _stray_xfd() -> Iterator[str]:
    """The issue's case: one stray cell in column XFD on each of 20,000 rows."""
    yield from _table()
    for number in range(4, 20_004):
        yield f'<row r="{number}">{_text(f"XFD{number}", "x")}</row>'


HOSTILE = {
    "row-1e9": (_huge_row, (), ("row numbered 1,000,000,000", "past Excel's last row", "save")),
    "unused-shared-strings": (_table, _unused_strings, ("shared strings", "room to use", "save")),
    "empty-styled-cells": (_styled_empty, (), ("inflates", "possible zip bomb", "save")),
    "values-spread-thin": (_spread_thin, (), ("spreads", "out to column X", "save")),
    "stray-cell-in-xfd": (_stray_xfd, (), ("spreads", "column XFD", "copy the table alone")),
}


@pytest.mark.parametrize("mode", ["results", "check", "actions"])
@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_workbook_is_refused_in_one_line(tmp_path: Path, case: str, mode: str) -> None:
    rows, strings, fragments = HOSTILE[case]
    workbook = _workbook(
        tmp_path / f"{case}.xlsx", rows(), strings() if callable(strings) else strings
    )
    done = _run(mode, workbook, tmp_path / "out")
    _refused(done, workbook, *fragments)
    assert not (tmp_path / "out").exists()


def test_excels_last_row_is_read_and_keeps_its_line(tmp_path: Path) -> None:
    """Row 1,048,576 is Excel's last: read, its record's line is its sheet row, and the
    row numbers skipped before it cost nothing."""
    rows = [*_table(), _row(1_048_576, ["7", "", "", "", "NO_CHANGE"])]
    workbook = _workbook(tmp_path / "last.xlsx", rows)
    table = read_table(workbook)
    assert table.lines.tolist() == [2, 3, 1_048_576]
    assert table.frame["Message"].tolist() == ["ALREADY_LOCKED", "NO_CHANGE", "NO_CHANGE"]
    done = _run("results", workbook, tmp_path / "out")
    assert done.returncode in (0, 1), done.stderr


@pytest.mark.parametrize(
    ("rows", "fragment"),
    [
        ([*_table(), f'<row r="5">{_text("XFE5", "x")}</row>'], "past Excel's last column"),
        ([*_table(), '<row r="9">' + "<c><v>1</v></c>" * 16_385 + "</row>"], "last column"),
        ([*_table(), _row(3, ["9", "", "", "", "NO_CHANGE"])], "rows out of order or repeated"),
        ([*_table(), _row(2_000_000, ["9", "", "", "", "NO_CHANGE"])], "row numbered 2,000,000"),
    ],
    ids=["cell-past-xfd", "too-many-cells-without-reference", "row-repeated", "row-2e6"],
)
def test_coordinates_no_spreadsheet_writes_are_refused(
    tmp_path: Path, rows: list[str], fragment: str
) -> None:
    workbook = _workbook(tmp_path / "odd.xlsx", rows)
    _refused(_run("check", workbook, tmp_path / "out"), workbook, fragment)


def test_empty_rows_cost_only_their_parsing_and_keep_the_lines(tmp_path: Path) -> None:
    """200,000 empty formatted rows between the records: the records keep their sheet rows."""

    def rows() -> Iterator[str]:
        yield from _table()
        for number in range(4, 200_004):
            yield f'<row r="{number}" s="1" customFormat="1"/>'
        yield _row(200_004, ["9", "", "", "Validation", "NO_CHANGE"])

    workbook = _workbook(tmp_path / "empty-rows.xlsx", rows())
    table = read_table(workbook)
    assert table.lines.tolist() == [2, 3, 200_004]
    assert table.frame["Line"].tolist() == ["4", "6", "9"]
    done = _run("actions", workbook, tmp_path / "out")
    assert done.returncode in (0, 1, 2), done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.splitlines()) <= 1


def test_empty_styled_cells_below_the_ratio_are_read(tmp_path: Path) -> None:
    """Empty styled cells with their own references (as Excel writes them, compressing about
    ten times): read, and the records are the cells that hold values."""

    def rows() -> Iterator[str]:
        yield from _table()
        for number in range(4, 3_004):
            yield (
                f'<row r="{number}">'
                + "".join(f'<c r="{_column(c)}{number}" s="1"/>' for c in range(1, 101))
                + "</row>"
            )

    workbook = _workbook(tmp_path / "styled.xlsx", rows())
    table = read_table(workbook)
    assert list(table.header) == HEADER
    assert table.lines.tolist() == [2, 3]
    done = _run("results", workbook, tmp_path / "out")
    assert done.returncode in (0, 1), done.stderr


def test_shared_strings_of_a_large_hidden_sheet_are_read(tmp_path: Path) -> None:
    """Shared strings used by another (hidden) sheet count as used: the visible sheet is read."""
    strings = [*HEADER, "ALREADY_LOCKED", *(f"old {i}" for i in range(30_000))]
    visible = [
        '<row r="1">'
        + "".join(f'<c r="{_column(i + 1)}1" t="s"><v>{i}</v></c>' for i in range(5))
        + "</row>",
        '<row r="2"><c r="A2"><v>4</v></c><c r="E2" t="s"><v>5</v></c></row>',
    ]
    old = (f'<row r="{n}"><c r="A{n}" t="s"><v>{n + 5}</v></c></row>' for n in range(1, 30_001))
    workbook = _workbook(tmp_path / "hidden.xlsx", visible, strings, hidden=old)
    table = read_table(workbook)
    assert table.sheet == "Data"
    assert table.meta["@hidden_sheets"] == "Old"
    assert table.frame["Message"].tolist() == ["ALREADY_LOCKED"]
    assert table.frame["Line"].tolist() == ["4"]


def test_an_empty_visible_sheet_names_the_hidden_one_to_read(tmp_path: Path) -> None:
    import openpyxl

    from reconciler.errors import InputError

    book = openpyxl.Workbook()
    first = book.active
    assert first is not None
    first.title = "Blank"
    data = book.create_sheet("Data")
    data.append(["ActionId", "Oid", "ActionTrackerId", "Amount", "CurrencyCode", "Reason"])
    data.append(["1000.1.1", "", "", "1.00", "USD", "ITEM_RETURNED"])
    data.sheet_state = "hidden"
    path = tmp_path / "sent.xlsx"
    book.save(path)
    with pytest.raises(InputError) as caught:
        read_table(path)
    assert "its hidden sheets were not read ('Data'): name the one to read with --sheet" in str(
        caught.value
    )
    assert read_table(path, sheet="Data").records == 1
