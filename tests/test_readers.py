"""readers.read_table: every format as text, physical line numbers, clean refusals."""

from __future__ import annotations

import os
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.errors import InputError, ReconcilerError
from reconciler.readers import layout as delimited
from reconciler.readers import limits, read_reason_map, read_table
from tests.readers_cases import (
    ACTIONS_XML,
    ATTRIBUTE_XML,
    BILLION_LAUGHS,
    ERROR_DETAIL_JSON,
    EXTERNAL_ENTITY,
    FIELD_HOLDING_ELEMENTS_XML,
    NAMESPACED_XML,
    NESTED_XML,
    PLAIN_DOCTYPE,
    REPORT_SHEET,
    lines,
    plain_zip,
    read,
    refused,
    rows,
    workbook,
    write,
    zip_bomb,
)


@pytest.fixture(params=["pyarrow", "c"])
def engine(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Run a delimited-text test through the pyarrow fast path and the exact C path."""
    if request.param == "c":
        monkeypatch.setattr(delimited, "ARROW", False)
    yield str(request.param)


# --------------------------------------------------------------------------- delimiters


@pytest.mark.parametrize(
    ("name", "data", "delimiter"),
    [
        ("comma.csv", "Oid,Amount,Date\n007,1.5,2025-02-12\n", ","),
        ("semicolon.csv", "Oid;Amount;Date\n007;1,5;2025-02-12\n", ";"),
        ("tab.txt", "Oid\tAmount\tDate\n007\t1,5\t2025-02-12\n", "\t"),
        ("pipe.csv", "Oid|Amount|Date\n007|1,5|2025-02-12\n", "|"),
        ("quoted_commas_semicolon.csv", 'Oid;Note;Date\n007;"a, b, c";x\n', ";"),
    ],
)
def test_delimiter_is_sniffed(
    tmp_path: Path, engine: str, name: str, data: str, delimiter: str
) -> None:
    table = read(tmp_path, name, data)
    assert table.delimiter == delimiter
    assert table.format == "csv"
    assert table.header == ("Oid", "Note" if "Note" in data else "Amount", "Date")
    assert len(rows(table)) == 1 and rows(table)[0][0] == "007"
    assert lines(table) == [2]


def test_tsv_extension_prefers_tab(tmp_path: Path) -> None:
    table = read(tmp_path, "labels_with_commas.tsv", "Name, Inc\tAmount\nAcme, Inc\t5\n")
    assert table.delimiter == "\t"
    assert table.header == ("Name, Inc", "Amount")


def test_single_column_file(tmp_path: Path, engine: str) -> None:
    table = read(tmp_path, "one_column.csv", "Oid\n007\n\nM123\n")
    assert table.delimiter == ","
    assert rows(table) == [["007"], ["M123"]]
    assert lines(table) == [2, 4]


def test_first_cell_with_bracket_is_still_csv(tmp_path: Path) -> None:
    table = read(tmp_path, "bracket_header.csv", "[Oid],Amount\n007,5\n")
    assert table.format == "csv"
    assert table.header == ("[Oid]", "Amount")


# --------------------------------------------------------------------------- encodings


def test_utf8_bom(tmp_path: Path, engine: str) -> None:
    table = read(tmp_path, "bom_semicolon.csv", b"\xef\xbb\xbfOid;Name\r\n007;Caf\xc3\xa9\r\n")
    assert table.encoding == "utf-8-sig"
    assert table.header == ("Oid", "Name")
    assert list(table.frame.columns) == ["Oid", "Name"]
    assert rows(table) == [["007", "Café"]]


@pytest.mark.parametrize(("codec", "label"), [("utf-16", "utf-16-le"), ("utf-16-be", "utf-16-be")])
def test_utf16_unicode_text(tmp_path: Path, codec: str, label: str) -> None:
    text = "Oid\tName\r\n007\tCafé €\r\n\r\nM123\t日本\r\n"
    data = text.encode(codec)
    if codec == "utf-16-be":
        data = b"\xfe\xff" + data
    table = read(tmp_path, "excel_unicode_text.txt", data)
    assert table.encoding == label
    assert table.delimiter == "\t"
    assert rows(table) == [["007", "Café €"], ["M123", "日本"]]
    assert lines(table) == [2, 4]


def test_utf16_without_bom(tmp_path: Path) -> None:
    table = read(tmp_path, "utf16_no_bom.txt", "Oid\tName\n007\tx\n".encode("utf-16-le"))
    assert table.encoding == "utf-16-le"
    assert rows(table) == [["007", "x"]]


def test_cp1252(tmp_path: Path, engine: str) -> None:
    table = read(tmp_path, "cp1252.csv", "Oid,Name\n007,Café €\n".encode("cp1252"))
    assert table.encoding == "cp1252"
    assert rows(table) == [["007", "Café €"]]


def test_bytes_that_read_as_words_in_no_encoding_are_refused(tmp_path: Path) -> None:
    message = refused(tmp_path, "garbled.csv", b"Oid,Name\n007,a\x81b\xe9\n")
    assert "is not UTF-8, and its text reads as words in none of the encodings tried" in message
    assert "--encoding" in message
    table = read_table(tmp_path / "garbled.csv", encoding="latin-1")  # told: as told
    assert table.encoding == "latin-1"
    assert rows(table) == [["007", "a\x81bé"]]


@pytest.mark.parametrize("padding", [0, 100_000])
def test_invalid_utf8_mid_file_is_refused_not_re_decoded(
    tmp_path: Path, engine: str, padding: int
) -> None:
    good = "".join(f"{i},ok\n" for i in range(padding // 5))
    data = b"Oid,Name\n" + good.encode() + b"1,Caf\xc3\xa9\n2,bad \x80 byte\n"
    line = 2 + padding // 5 + 1
    message = refused(tmp_path, "invalid_utf8_mid_file.csv", data)
    assert (
        f"invalid_utf8_mid_file.csv:{line}: is UTF-8 except for 1 invalid byte on line {line}"
        in message
    )
    # Told how the file is encoded, reconciler reads it so, whole.
    table = read_table(tmp_path / "invalid_utf8_mid_file.csv", encoding="cp1252")
    assert table.encoding == "cp1252"
    assert rows(table)[-2:] == [["1", "CafÃ©"], ["2", "bad € byte"]]
    assert lines(table)[-1] == line


# --------------------------------------------------------------------------- lines


def test_quoted_newlines_move_the_next_record(tmp_path: Path, engine: str) -> None:
    data = 'Oid,Note,Amount\n1,"two\nlines",5\n2,"three\r\nline\rnote",6\n3,plain,7\n'
    table = read(tmp_path, "quoted_newlines.csv", data)
    assert rows(table) == [
        ["1", "two\nlines", "5"],
        ["2", "three\r\nline\rnote", "6"],
        ["3", "plain", "7"],
    ]
    assert lines(table) == [2, 4, 7]


def test_blank_lines_before_header_and_between_records(tmp_path: Path, engine: str) -> None:
    data = "\n  \r\nOid,Amount\n\n007,1\n   \n\nM123,2\n\n\n"
    table = read(tmp_path, "blank_lines.csv", data)
    assert table.header_line == 3
    assert rows(table) == [["007", "1"], ["M123", "2"]]
    assert lines(table) == [5, 8]


def test_rows_of_empty_fields_are_not_records(tmp_path: Path, engine: str) -> None:
    data = ",,,\nOid,Amount,Note\n007,1,\n,,\n , ,\nM123,2,x\n,,\n"
    table = read(tmp_path, "empty_field_rows.csv", data)
    assert table.header_line == 2
    assert rows(table) == [["007", "1", ""], ["M123", "2", "x"]]
    assert lines(table) == [3, 6]


def test_crlf_and_mixed_line_endings(tmp_path: Path, engine: str) -> None:
    data = b'Oid,Note\r\n1,a\r\n2,"b\r\nc"\n3,d\r4,e\r\n\r5,f'
    table = read(tmp_path, "mixed_line_endings.csv", data)
    assert rows(table) == [["1", "a"], ["2", "b\r\nc"], ["3", "d"], ["4", "e"], ["5", "f"]]
    assert lines(table) == [2, 3, 5, 6, 8]


def test_identifiers_stay_exactly_as_written(tmp_path: Path, engine: str) -> None:
    data = (
        "Oid,ActionId,Big,Sci,Code,Empty,Na\n"
        "007,1000.4636.158133,12345678901234567890,1E+05,M123,,NaN\n"
        "0001,1.0,00000000000000000001,1e5,TRUE,,NULL\n"
    )
    table = read(tmp_path, "leading_zero_ids.csv", data)
    assert rows(table) == [
        ["007", "1000.4636.158133", "12345678901234567890", "1E+05", "M123", "", "NaN"],
        ["0001", "1.0", "00000000000000000001", "1e5", "TRUE", "", "NULL"],
    ]
    assert not table.frame.isna().to_numpy().any()


def test_fewer_fields_are_padded(tmp_path: Path, engine: str) -> None:
    table = read(tmp_path, "short_rows.csv", "Oid,Amount,Note\n007\n008,5\n009,6,x\n")
    assert rows(table) == [["007", "", ""], ["008", "5", ""], ["009", "6", "x"]]
    assert lines(table) == [2, 3, 4]


def test_more_fields_name_the_physical_line(tmp_path: Path, engine: str) -> None:
    data = 'Oid,Amount,Note\n\n1,2,"a\nb"\n3,4,5\n6,7,8,9\n'
    message = refused(tmp_path, "extra_fields.csv", data)
    assert ":6: line 6 has 4 fields but the header has 3" in message
    assert "quote fields that contain the delimiter" in message


def test_quote_left_open_names_its_line(tmp_path: Path, engine: str) -> None:
    message = refused(tmp_path, "open_quote.csv", 'Oid,Note\n1,a\n2,"never closed\n3,x\n\n')
    assert ":3: a quoted field starting on line 3 is never closed" in message


# --------------------------------------------------------------------------- headers


def test_duplicate_and_empty_header_labels(tmp_path: Path, engine: str) -> None:
    data = " Oid ,Amount,,Amount,Amount,Column 3\n1,2,3,4,5,6\n"
    table = read(tmp_path, "duplicate_headers.csv", data)
    assert table.header == ("Oid", "Amount", "", "Amount", "Amount", "Column 3")
    assert list(table.frame.columns) == [
        "Oid",
        "Amount",
        "Column 3",
        "Amount (2)",
        "Amount (3)",
        "Column 3 (2)",
    ]


def test_trailing_empty_columns_are_dropped(tmp_path: Path, engine: str) -> None:
    table = read(tmp_path, "trailing_commas.csv", "Oid,Amount,,\n007,1,,\n008,2,,\n")
    assert table.header == ("Oid", "Amount")
    assert rows(table) == [["007", "1"], ["008", "2"]]


def test_unlabelled_column_with_data_is_kept(tmp_path: Path) -> None:
    table = read(tmp_path, "unlabelled_data.csv", "Oid,\n007,note\n")
    assert table.header == ("Oid", "")
    assert list(table.frame.columns) == ["Oid", "Column 2"]


def test_header_only_file(tmp_path: Path, engine: str) -> None:
    table = read(tmp_path, "header_only.csv", "Oid,Amount\r\n")
    assert table.header == ("Oid", "Amount")
    assert table.records == 0
    assert lines(table) == []
    assert list(table.frame.columns) == ["Oid", "Amount"]


@pytest.mark.parametrize(
    ("name", "data", "fragment"),
    [
        ("empty.csv", b"", "has no header row (the file is empty)"),
        ("bom_only.csv", b"\xef\xbb\xbf", "has no header row"),
        ("only_blank_lines.csv", b"\n\r\n   \n\t\n", "has no header row"),
        ("only_commas.csv", b",,,\n,,,\n", "has no header row"),
    ],
)
def test_no_header_row(tmp_path: Path, name: str, data: bytes, fragment: str) -> None:
    assert fragment in refused(tmp_path, name, data)


# --------------------------------------------------------------------------- refusals


def test_nul_bytes_are_binary(tmp_path: Path) -> None:
    message = refused(tmp_path, "nul_bytes.csv", b"Oid,Amount\n007,\x00\x001\n")
    assert "is not a text table (looks like binary data); export it as CSV" in message


def test_png_renamed_csv(tmp_path: Path) -> None:
    message = refused(tmp_path, "png_renamed.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    assert "is not a text table (looks like binary data: a PNG image)" in message


def test_missing_path(tmp_path: Path) -> None:
    message = refused(tmp_path, "does_not_exist.csv", None)
    assert "does not exist; check the path" in message


def test_directory(tmp_path: Path) -> None:
    (tmp_path / "folder.csv").mkdir()
    assert "is a folder, not a file" in refused(tmp_path, "folder.csv", None)


def test_unreadable_file(tmp_path: Path) -> None:
    path = write(tmp_path, "no_permission.csv", "Oid\n1\n")
    path.chmod(0)
    try:
        if os.access(path, os.R_OK):
            pytest.skip("running with privileges that ignore file permissions")
        assert "permission denied" in refused(tmp_path, "no_permission.csv", None)
    finally:
        path.chmod(0o600)


def test_file_over_max_bytes(tmp_path: Path) -> None:
    message = refused(tmp_path, "too_big.csv", "Oid\n" + "1\n" * 100, max_bytes=100)
    assert "over the 100 bytes limit; split it" in message


def test_more_records_than_max_records(tmp_path: Path, engine: str) -> None:
    message = refused(tmp_path, "too_many.csv", "Oid\n1\n2\n3\n\n\n", max_records=2)
    assert "has 3 records, more than the limit of 2" in message
    assert read(tmp_path, "just_enough.csv", "Oid\n1\n2\n\n\n", max_records=2).records == 2


def test_line_over_the_line_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "MAX_LINE_BYTES", 1000)
    data = "Oid,Note\n1,short\n2," + "x" * 3000 + "\n3,ok\n"
    message = refused(tmp_path, "long_line.csv", data)
    assert ":3: line 3 is 2.9 KiB long, over the 1000 bytes limit" in message
    assert read(tmp_path, "long_enough.csv", "Oid,Note\n2," + "x" * 900 + "\n").records == 1


def test_long_field_is_read(tmp_path: Path, engine: str) -> None:
    """A 3 MB line is longer than pyarrow's block: the exact path reads it."""
    table = read(tmp_path, "long_field.csv", "Oid,Note\n1," + "x" * 3_000_000 + "\n2,y\n")
    assert [len(v) for v in table.frame["Note"]] == [3_000_000, 1]
    assert lines(table) == [2, 3]


# --------------------------------------------------------------------------- XLSX


def test_xlsx_title_rows_numbers_and_dates(tmp_path: Path) -> None:
    table = read(tmp_path, "title_rows.xlsx", workbook({"Report": REPORT_SHEET}))
    assert table.format == "xlsx"
    assert table.sheet == "Report"
    assert table.header_line == 3
    assert table.header == ("CampaignId", "Oid", "Amount", "EventDate", "Day", "Flag", "Ratio")
    assert rows(table) == [
        ["12345", "007", "16027", "2025-02-12T10:00:00", "2025-02-12", "TRUE", "0.1"],
        ["1e+20", "M123", "1.5", "2025-01-01T08:30:15", "", "FALSE", "0.3333333333333333"],
    ]
    assert lines(table) == [4, 6]


def test_xlsx_second_sheet_by_name(tmp_path: Path) -> None:
    data = workbook({"Report": REPORT_SHEET, "Errors": [["Line", "Code"], [2, "E1"], [7, "E2"]]})
    path = write(tmp_path, "two_sheets.xlsx", data)
    table = read_table(path, sheet="Errors")
    assert (table.sheet, table.header, rows(table), lines(table)) == (
        "Errors",
        ("Line", "Code"),
        [["2", "E1"], ["7", "E2"]],
        [2, 3],
    )
    assert read_table(path, sheet="errors").sheet == "Errors"


def test_xlsx_unknown_sheet_lists_the_names(tmp_path: Path) -> None:
    data = workbook({"Report": REPORT_SHEET, "Errors": [["Line"]]})
    message = refused(tmp_path, "two_sheets.xlsx", data, sheet="Nope")
    assert "has no sheet named 'Nope'; choose one of: 'Report', 'Errors'" in message


def test_xlsx_cells_beyond_the_header_and_single_column(tmp_path: Path) -> None:
    data = workbook({"S": [["Oid", "Amount"], ["007", 5, None, "stray note"], ["008"]]})
    table = read(tmp_path, "stray_cells.xlsx", data)
    assert table.header == ("Oid", "Amount", "", "")
    assert list(table.frame.columns) == ["Oid", "Amount", "Column 3", "Column 4"]
    assert rows(table) == [["007", "5", "", "stray note"], ["008", "", "", ""]]
    single = read(tmp_path, "single_column.xlsx", workbook({"S": [["Oid"], ["007"], ["008"]]}))
    assert (single.header, rows(single), lines(single)) == (("Oid",), [["007"], ["008"]], [2, 3])


def test_xlsx_empty_sheet(tmp_path: Path) -> None:
    message = refused(tmp_path, "empty_sheet.xlsx", workbook({"Empty": []}))
    assert "has no header row (sheet 'Empty' is empty" in message


def test_xlsx_content_wins_over_extension(tmp_path: Path) -> None:
    table = read(tmp_path, "workbook_named.csv", workbook({"S": [["Oid"], ["007"]]}))
    assert table.format == "xlsx" and rows(table) == [["007"]]


def test_non_zip_xlsx(tmp_path: Path) -> None:
    message = refused(tmp_path, "text_named.xlsx", "Oid,Amount\n1,2\n")
    assert "is not an Excel workbook (no zip signature)" in message


def test_truncated_xlsx(tmp_path: Path) -> None:
    data = workbook({"S": [["Oid"], ["007"]]})
    message = refused(tmp_path, "truncated.xlsx", data[: len(data) // 2])
    assert "the zip container is damaged or truncated" in message


def test_encrypted_xlsx(tmp_path: Path) -> None:
    data = bytes.fromhex("D0CF11E0A1B11AE1") + b"\x00" * 504 + os.urandom(512)
    message = refused(tmp_path, "encrypted.xlsx", data)
    assert "is password-protected or encrypted" in message
    assert "save an unprotected copy" in message


def test_zip_that_is_not_a_workbook(tmp_path: Path) -> None:
    message = refused(tmp_path, "zipped_csv.xlsx", plain_zip())
    assert "is a zip archive but not an Excel workbook" in message


def test_zip_bomb_is_refused_without_inflating(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, "zip_bomb.xlsx", zip_bomb(120))
    assert path.stat().st_size < 1_000_000

    def no_inflating(*args: object, **kwargs: object) -> None:
        raise AssertionError("a member was opened")

    monkeypatch.setattr(zipfile.ZipFile, "open", no_inflating)
    message = refused(tmp_path, "zip_bomb.xlsx", None)
    assert "(possible zip bomb)" in message and "inflates" in message


def test_workbook_over_the_inflated_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "MAX_XLSX_UNCOMPRESSED", 1000)
    data = workbook({"S": [["Oid"], ["007"]]})
    message = refused(tmp_path, "big_inflated.xlsx", data)
    assert "over the 1000 bytes limit for a workbook (possible zip bomb)" in message


def test_xlsx_record_limit(tmp_path: Path) -> None:
    data = workbook({"S": [["Oid"], ["1"], ["2"], ["3"]]})
    assert "more than the limit of 2" in refused(tmp_path, "many.xlsx", data, max_records=2)


# --------------------------------------------------------------------------- XML


def test_xml_element_records(tmp_path: Path) -> None:
    table = read(tmp_path, "actions.xml", ACTIONS_XML)
    assert table.format == "xml"
    assert table.header_line == 0
    assert table.header == ("ActionId", "Oid", "Amount", "Note", "Extra")
    assert rows(table) == [
        ["1000.4636.158133", "007", "  12.50 ", "", ""],
        ["1000.4636.158134", "M123", "", "", "x"],
    ]
    assert lines(table) == [4, 10]
    assert dict(table.meta) == {"page": "1", "numpages": "1", "TotalRecords": "2"}


def test_xml_attribute_records(tmp_path: Path) -> None:
    table = read(tmp_path, "attribute_records.xml", ATTRIBUTE_XML)
    assert table.header == ("Line", "Code", "Oid", "Message")
    assert rows(table) == [["2", "E123", "007", ""], ["5", "E200", "", "Bad & worse"]]
    assert lines(table) == [2, 3]


def test_xml_records_inside_a_wrapper(tmp_path: Path) -> None:
    table = read(tmp_path, "wrapped_records.xml", NESTED_XML)
    assert table.header == ("Line", "Error")
    assert rows(table) == [["2", "E1; bad"], ["3", ""]]
    assert lines(table) == [4, 5]
    assert dict(table.meta) == {}


def test_xml_field_holding_elements_is_refused_never_joined(tmp_path: Path) -> None:
    message = refused(tmp_path, "nested_field.xml", FIELD_HOLDING_ELEMENTS_XML)
    assert "nested_field.xml:4: the field Root/Records/Record/Error holds the element <Code>" in (
        message
    )


def test_xml_namespaces_are_stripped(tmp_path: Path) -> None:
    table = read(tmp_path, "namespaced.xml", NAMESPACED_XML)
    assert (table.header, rows(table)) == (("Line", "Code"), [["2", "E1"]])


def test_xml_without_records(tmp_path: Path) -> None:
    table = read(tmp_path, "no_errors.xml", "<Errors><Total>0</Total></Errors>")
    assert (table.records, table.header, dict(table.meta)) == (0, (), {"Total": "0"})


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("billion_laughs.xml", BILLION_LAUGHS),
        ("external_entity.xml", EXTERNAL_ENTITY),
        ("plain_doctype.xml", PLAIN_DOCTYPE),
    ],
)
def test_xml_dtd_is_refused(tmp_path: Path, name: str, data: bytes) -> None:
    message = refused(tmp_path, name, data)
    assert "contains a DTD or entity declaration, which reconciler refuses for safety" in message
    assert "remove the <!DOCTYPE ...> block" in message


def test_malformed_xml_names_the_line(tmp_path: Path) -> None:
    message = refused(tmp_path, "mismatched.xml", "<Actions>\n<Action>\n</Actons>\n")
    assert ":3: is not well-formed XML (mismatched tag at line 3" in message


# --------------------------------------------------------------------------- JSON


def test_json_error_detail_with_paging(tmp_path: Path) -> None:
    table = read(tmp_path, "error_detail.json", ERROR_DETAIL_JSON)
    assert table.format == "json"
    assert table.header_line == 0
    assert table.header == (
        "Line", "Oid", "Code", "Amount", "Ratio", "Big", "Sci", "Ok", "Note", "Detail", "Extra"
    )  # fmt: skip
    assert rows(table) == [
        [
            "2", "007", "12", "16027", "1.50", "12345678901234567890", "100000", "true", "",
            '{"a":[1,2.50,"x"],"b":false}', "",
        ],
        ["5", "M123", "", "", "", "", "", "", "", "", "only here"],
    ]  # fmt: skip
    assert lines(table) == [1, 2]
    assert dict(table.meta) == {
        "@page": "1",
        "@numpages": "2",
        "@nextpageuri": "/Mediapartners/X/Batches/Y/Errors?Page=2",
        "TotalRecords": "3",
    }


def test_json_top_level_list(tmp_path: Path) -> None:
    table = read(tmp_path, "list.json", b'\xef\xbb\xbf[{"Oid": "007"}, {"Oid": "008", "x": 1}]')
    assert (table.header, rows(table), lines(table)) == (
        ("Oid", "x"),
        [["007", ""], ["008", "1"]],
        [1, 2],
    )
    assert table.encoding == "utf-8-sig"


def test_json_api_submission(tmp_path: Path) -> None:
    data = '{"Status": "COMPLETED", "APISubmission": [{"BatchId": "B1", "Line": 3}]}'
    table = read(tmp_path, "api_submission.json", data)
    assert rows(table) == [["B1", "3"]]
    assert dict(table.meta) == {"Status": "COMPLETED"}


def test_json_list_of_pages_is_concatenated(tmp_path: Path) -> None:
    data = (
        '[{"@page": "1", "ErrorDetail": [{"Line": "2"}]},'
        ' {"@page": "2", "ErrorDetail": [{"Line": "9"}, {"Line": "10"}]}]'
    )
    table = read(tmp_path, "pages.json", data)
    assert rows(table) == [["2"], ["9"], ["10"]]
    assert lines(table) == [1, 2, 3]
    # Every page's number is kept, so completeness can tell which pages are here.
    assert dict(table.meta) == {"@page": "1,2"}
    assert table.container == "ErrorDetail"


def test_json_single_object_is_one_record(tmp_path: Path) -> None:
    # An FtpSubmission (or an APISubmission) fetched by its BatchId is one object.
    table = read(
        tmp_path,
        "batch.json",
        '{"BatchId": "F-1", "Status": "Complete", "TotalRecords": 3, "TotalErrors": 0}',
    )
    assert rows(table) == [["F-1", "Complete", "3", "0"]]
    assert table.container == "@object"
    wrapped = read(
        tmp_path, "wrapped.json", '{"FtpSubmission": {"BatchId": "F-2", "Status": "Queued"}}'
    )
    assert rows(wrapped) == [["F-2", "Queued"]]


def test_json_unknown_key_and_nested_wrapper(tmp_path: Path) -> None:
    table = read(tmp_path, "odd_key.json", '{"Batch": "x", "Rows": [{"a": 1}, {"a": 2}]}')
    assert rows(table) == [["1"], ["2"]]
    nested = read(tmp_path, "nested.json", '{"result": {"count": 1, "items": [{"a": "b"}]}}')
    assert rows(nested) == [["b"]] and dict(nested.meta) == {"count": "1"}


def test_json_empty_record_list(tmp_path: Path) -> None:
    table = read(tmp_path, "no_errors.json", '{"@total": "0", "ErrorDetail": []}')
    assert (table.records, table.header, dict(table.meta)) == (0, (), {"@total": "0"})


def test_json_records_without_fields_keep_their_count(tmp_path: Path) -> None:
    table = read(tmp_path, "empty_objects.json", "[{}, {}]")
    assert table.records == 2 and lines(table) == [1, 2]


def test_json_lone_surrogate_does_not_crash(tmp_path: Path) -> None:
    table = read(tmp_path, "surrogate.json", '[{"a\\ud800": "x\\udc00y"}]')
    assert rows(table) == [["x\ufffdy"]]


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("number.json", "3"),
        ("string.json", '"ErrorDetail"'),
        ("list_of_numbers.json", "[1, 2, 3]"),
        ("mixed_list.json", '{"ErrorDetail": [{"a": 1}, 2]}'),
    ],
)
def test_json_without_records(tmp_path: Path, name: str, data: str) -> None:
    message = refused(tmp_path, name, data)
    assert 'is JSON but holds no list of records (expected e.g. {"ErrorDetail": [...]})' in message


def test_invalid_json_names_line_and_column(tmp_path: Path) -> None:
    message = refused(tmp_path, "invalid.json", '{\n  "ErrorDetail": [\n    {"a": 1,}\n  ]\n}')
    assert ":3: is not valid JSON (Expecting property name" in message
    assert "at line 3 column 13" in message


def test_deeply_nested_json(tmp_path: Path) -> None:
    message = refused(tmp_path, "deep.json", "[" * 100_000 + "]" * 100_000)
    assert "is nested too deeply to read" in message


# --------------------------------------------------------------------------- reason map


def test_reason_map_csv_and_toml(tmp_path: Path) -> None:
    csv_path = write(tmp_path, "map.csv", "From,To\nReturned, ITEM_RETURNED \nfraud,CONS_FRAUD\n")
    assert read_reason_map(csv_path) == {"Returned": "ITEM_RETURNED", "fraud": "CONS_FRAUD"}
    toml_path = write(tmp_path, "map.toml", '"Returned" = "ITEM_RETURNED"\n')
    assert read_reason_map(toml_path) == {"Returned": "ITEM_RETURNED"}


@pytest.mark.parametrize(
    ("name", "data", "fragment"),
    [
        ("no_columns.csv", "a,b\n1,2\n", "has no 'from' and 'to' columns"),
        ("twice.csv", "from,to\nx,A\nx,B\n", ":3: maps 'x' twice ('A' and 'B')"),
        ("half.csv", "from,to\nx,\n", ":2: has a reason pair with an empty side"),
        ("bad.toml", "x = \n", "is not valid TOML"),
        ("section.toml", "[x]\ny = 'A'\n", "maps 'x' to a dict, not a code"),
    ],
)
def test_reason_map_refusals(tmp_path: Path, name: str, data: str, fragment: str) -> None:
    path = write(tmp_path, name, data)
    with pytest.raises(InputError) as caught:
        read_reason_map(path)
    assert str(caught.value).startswith(str(path))
    assert fragment in str(caught.value)


# --------------------------------------------------------------------------- properties

FIELD = st.one_of(
    st.text(alphabet="ab1 ", max_size=3),
    st.lists(st.sampled_from(["a", ",", "\n", "\r\n", "\r", '""', " "]), max_size=4).map(
        lambda parts: '"' + "".join(parts) + '"'
    ),
)


@st.composite
def csv_documents(draw: st.DrawFn) -> tuple[str, int, list[int], list[list[str]]]:
    """A CSV text with quoted breaks, blank and empty rows, and its expected lines/values."""
    width = draw(st.integers(1, 4))
    ending = draw(st.sampled_from(["\n", "\r\n", "\r", "mixed"]))
    endings = st.sampled_from(["\n", "\r\n"]) if ending == "mixed" else st.just(ending)
    parts = [draw(endings) for _ in range(draw(st.integers(0, 2)))]
    header_line = len(parts) + 1
    parts.append(",".join(f"h{i}" for i in range(width)) + draw(endings))
    line, expected_lines, expected_rows = header_line + 1, [], []
    for kind in draw(st.lists(st.sampled_from(["row", "row", "blank", "empty"]), max_size=8)):
        fields = (
            [""] * width
            if kind == "empty"
            else draw(st.lists(FIELD, min_size=width, max_size=width))
        )
        text = "" if kind == "blank" else ",".join(fields)
        values = [f[1:-1].replace('""', '"') if f.startswith('"') else f for f in fields]
        if kind != "blank" and any(v.strip() for v in values):
            expected_lines.append(line)
            expected_rows.append(values)
        line += 1 + text.replace("\r\n", "\n").replace("\r", "\n").count("\n")
        parts.append(text + draw(endings))
    return "".join(parts), header_line, expected_lines, expected_rows


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(document=csv_documents())
def test_lines_match_a_reference_model(
    tmp_path: Path, engine: str, document: tuple[str, int, list[int], list[list[str]]]
) -> None:
    text, header_line, expected_lines, expected_rows = document
    table = read(tmp_path, "generated.csv", text)
    assert table.header_line == header_line
    assert lines(table) == expected_lines
    assert rows(table) == expected_rows


CSVISH = st.lists(
    st.sampled_from(["a", "1", ",", ";", '"', '""', "\n", "\r", "\r\n", " ", "\t", "é", "|"]),
    max_size=40,
).map(lambda parts: "".join(parts).encode())


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=CSVISH)
def test_fast_and_exact_paths_agree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data: bytes
) -> None:
    def outcome() -> object:
        try:
            table = read(tmp_path, "agree.csv", data)
        except ReconcilerError as exc:
            return str(exc)
        return (table.header, rows(table), lines(table), table.header_line, table.delimiter)

    fast = outcome()
    with monkeypatch.context() as patch:
        patch.setattr(delimited, "ARROW", False)
        exact = outcome()
    assert fast == exact


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    data=st.one_of(st.binary(max_size=300), CSVISH),
    suffix=st.sampled_from([".csv", ".json", ".xml", ".xlsx"]),
)
def test_any_bytes_give_a_table_or_a_clean_error(tmp_path: Path, data: bytes, suffix: str) -> None:
    path = write(tmp_path, "fuzz" + suffix, data)
    try:
        table = read_table(path)
    except ReconcilerError as exc:
        assert str(exc).startswith(str(path))
        return
    rows(table)
    lines(table)
