"""Builders for reader fixtures: files written under tmp_path, named for their problem."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from collections.abc import Sequence
from pathlib import Path

import openpyxl
import pytest

from reconciler.errors import InputError
from reconciler.model import Table
from reconciler.readers import read_table


def write(folder: Path, name: str, data: bytes | str) -> Path:
    path = folder / name
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def read(folder: Path, name: str, data: bytes | str, **options: object) -> Table:
    return read_table(write(folder, name, data), **options)  # type: ignore[arg-type]


def refused(folder: Path, name: str, data: bytes | str | None, **options: object) -> str:
    """The one-line message of the InputError for this file; checks it names the file."""
    path = folder / name if data is None else write(folder, name, data)
    with pytest.raises(InputError) as caught:
        read_table(path, **options)  # type: ignore[arg-type]
    message = str(caught.value)
    assert message.startswith(str(path)), message
    assert "\n" not in message
    return message


def rows(table: Table) -> list[list[str]]:
    """Frame values, checked to be plain ``str`` (never NaN, never numbers)."""
    values = table.frame.to_numpy(dtype=object).tolist()
    for row in values:
        for value in row:
            assert isinstance(value, str), (value, type(value))
    return values


def lines(table: Table) -> list[int]:
    assert table.lines.dtype.name == "int64"
    assert len(table.lines) == len(table.frame)
    return [int(x) for x in table.lines]


def workbook(
    sheets: dict[str, Sequence[Sequence[object]]],
) -> bytes:
    """An .xlsx built with openpyxl; ``None`` rows are left empty."""
    book = openpyxl.Workbook()
    default = book.active
    assert default is not None
    book.remove(default)
    for title, sheet_rows in sheets.items():
        sheet = book.create_sheet(title)
        for number, row in enumerate(sheet_rows, start=1):
            for column, value in enumerate(row, start=1):
                if value is not None:
                    sheet.cell(row=number, column=column, value=value)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


REPORT_SHEET: list[list[object]] = [
    ["Batch submission report"],
    [],
    ["CampaignId", "Oid", "Amount", "EventDate", "Day", "Flag", "Ratio"],
    [12345, "007", 16027.0, dt.datetime(2025, 2, 12, 10, 0, 0), dt.date(2025, 2, 12), True, 0.1],
    [],
    [1e20, "M123", 1.5, dt.datetime(2025, 1, 1, 8, 30, 15), None, False, 1 / 3],
]


def zip_bomb(inflated_mib: int) -> bytes:
    """A workbook-looking zip whose sheet is ``inflated_mib`` MiB of zeros (~1000:1)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as member:
            chunk = bytes(1 << 20)
            for _ in range(inflated_mib):
                member.write(chunk)
    return buffer.getvalue()


def plain_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("results.csv", "Line,Code\n2,E1\n")
    return buffer.getvalue()


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
  <!ENTITY lol "lol">
  <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<Actions><Action><Id>&lol3;</Id></Action></Actions>
"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE Actions [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<Actions><Action><Id>&secret;</Id></Action></Actions>
"""

PLAIN_DOCTYPE = b"""<?xml version="1.0"?>
<!DOCTYPE Actions SYSTEM "actions.dtd">
<Actions><Action><Id>1</Id></Action></Actions>
"""

ACTIONS_XML = b"""<?xml version="1.0" encoding="UTF-8"?>
<Actions page="1" numpages="1">
  <TotalRecords>2</TotalRecords>
  <Action>
    <ActionId>1000.4636.158133</ActionId>
    <Oid>007</Oid>
    <Amount>  12.50 </Amount>
    <Note>   </Note>
  </Action>
  <Action>
    <ActionId>1000.4636.158134</ActionId>
    <Oid>M123</Oid>
    <Extra>x</Extra>
  </Action>
</Actions>
"""

ATTRIBUTE_XML = b"""<Results>
<Result Line="2" Code="E123" Oid="007"/>
<Result Line="5" Code="E200" Message="Bad &amp; worse"/>
</Results>
"""

NESTED_XML = b"""<Root>
  <Meta><Page>1</Page></Meta>
  <Records>
    <Record><Line>2</Line><Error>E1; bad</Error></Record>
    <Record><Line>3</Line></Record>
  </Records>
</Root>
"""

FIELD_HOLDING_ELEMENTS_XML = b"""<Root>
  <Records>
    <Record><Line>2</Line></Record>
    <Record><Line>3</Line><Error><Code>E1</Code><Text>bad</Text></Error></Record>
  </Records>
</Root>
"""

NAMESPACED_XML = b"""<ns:Errors xmlns:ns="urn:impact">
<ns:ErrorDetail><ns:Line>2</ns:Line><ns:Code>E1</ns:Code></ns:ErrorDetail>
</ns:Errors>
"""

ERROR_DETAIL_JSON = b"""{
  "@page": "1",
  "@numpages": 2,
  "@nextpageuri": "/Mediapartners/X/Batches/Y/Errors?Page=2",
  "TotalRecords": "3",
  "ErrorDetail": [
    {"Line": "2", "Oid": "007", "Code": 12, "Amount": 16027.0, "Ratio": 1.50,
     "Big": 12345678901234567890, "Sci": 1E+05, "Ok": true, "Note": null,
     "Detail": {"a": [1, 2.50, "x"], "b": false}},
    {"Line": 5, "Oid": "M123", "Extra": "only here"}
  ]
}
"""
