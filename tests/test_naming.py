"""A record is resubmitted only when it names what it is about, in values a file really holds.

End to end through the CLI: ``reconcile``'s resubmit.csv / needs-attention.csv and ``check``'s
findings and exit codes, for identifiers that are empty, invisible, a spreadsheet's error value
or a placeholder; cells a workbook holds no value for, in any column and past any count;
identifiers in digits of other scripts; reason codes that are not plain ASCII; and the
15-significant-digit rounding a spreadsheet does to 16-digit IDs.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from reconciler.cli import app
from reconciler.fixes import spoiled_form_of, spoiled_id_problem

runner = CliRunner()

MOD_HEADER = [
    "ActionId",
    "Oid",
    "ActionTrackerId",
    "Amount",
    "CurrencyCode",
    "CustomerStatus",
    "Reason",
]
CONV_HEADER = [
    "CampaignId",
    "ActionTrackerId",
    "EventDate",
    "OrderId",
    "ClickId",
    "CustomerId",
    "CurrencyCode",
    "Amount",
]


def _invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def _write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.write_bytes(buf.getvalue().encode("utf-8"))
    return path


def _results(path: Path, codes: list[str], first_line: int = 2) -> Path:
    """Results naming every line from ``first_line`` on by line only, with ``codes``."""
    rows = [[str(first_line + i), "Validation", code] for i, code in enumerate(codes)]
    return _write_csv(path, ["Line", "Error Type", "Message"], rows)


def _rows(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def _reconcile(tmp_path: Path, sent: Path, results: Path, *extra: str) -> tuple[int, Path, str]:
    out = tmp_path / "out"
    code, _stdout, stderr = _invoke(
        "reconcile", str(sent), str(results), "--out", str(out), "--no-report", "--no-xlsx", *extra
    )
    return code, out, stderr


def _check(tmp_path: Path, sent: Path, *extra: str) -> tuple[int, list[dict[str, str]]]:
    out = tmp_path / "chk"
    code, _stdout, _stderr = _invoke(
        "check", str(sent), "--out", str(out), "--today", "2025-02-20", *extra
    )
    return code, _rows(out / "check.csv")


def _findings(rows: list[dict[str, str]]) -> set[tuple[int, str, str]]:
    return {(int(r["SourceLine"]), r["Column"], r["Finding"]) for r in rows}


def _says(advice: str, text: str) -> bool:
    """``advice`` holds ``text`` (it may open a sentence, capitalised)."""
    return text.lower() in advice.lower()


def _attention(out: Path) -> dict[int, dict[str, str]]:
    return {int(r["SourceLine"]): r for r in _rows(out / "needs-attention.csv")}


# ------------------------------------------------------------------ identifiers holding no ID

PLACEHOLDER_ROWS = [
    # (row, what the advice must name, the check finding on the cell)
    (["1000.4636.1", "", "", "10.00", "USD", "", "item returned"], None, None),
    (
        ["nan", "", "", "64.00", "USD", "NEW", "item returned"],
        "'nan', a placeholder",
        ("ActionId", "id-placeholder"),
    ),
    (
        ["NULL", "", "", "64.00", "USD", "NEW", "item returned"],
        "'NULL', a placeholder",
        ("ActionId", "id-placeholder"),
    ),
    (
        ["-", "", "", "64.00", "USD", "NEW", "item returned"],
        "'-', a placeholder",
        ("ActionId", "id-placeholder"),
    ),
    (
        ["#N/A", "", "", "64.00", "USD", "NEW", "item returned"],
        "the spreadsheet error #N/A",
        ("ActionId", "id-cell-unreadable"),
    ),
    (
        ["", "NULL", "16027", "64.00", "USD", "NEW", "item returned"],
        "'NULL', a placeholder",
        ("Oid", "id-placeholder"),
    ),
    (
        ["", "#REF!", "16027", "64.00", "USD", "NEW", "item returned"],
        "the spreadsheet error #REF!",
        ("Oid", "id-cell-unreadable"),
    ),
    (
        ["", "T1", "-", "64.00", "USD", "NEW", "item returned"],
        "'-', a placeholder",
        ("ActionTrackerId", "id-placeholder"),
    ),
    (
        ["", "T2", "#VALUE!", "64.00", "USD", "NEW", "item returned"],
        "the spreadsheet error #VALUE!",
        ("ActionTrackerId", "id-cell-unreadable"),
    ),
    (
        ["", "T3", "N/A", "64.00", "USD", "NEW", "item returned"],
        "'N/A', a placeholder",
        ("ActionTrackerId", "id-placeholder"),
    ),
    (
        ["\u200b", "", "", "64.00", "USD", "NEW", "item returned"],
        "only invisible characters (U+200B",
        ("ActionId", "id-placeholder"),
    ),
    (
        ["\ufeff\u2060", "", "", "64.00", "USD", "NEW", "item returned"],
        "only invisible characters",
        ("ActionId", "id-placeholder"),
    ),
    (
        ["", "T4", "\u3164", "64.00", "USD", "NEW", "item returned"],
        "only invisible characters (U+3164",
        ("ActionTrackerId", "id-placeholder"),
    ),
    (
        ["#DIV/0!", "T5", "16027", "64.00", "USD", "NEW", "item returned"],
        "the spreadsheet error #DIV/0!",
        ("ActionId", "id-cell-unreadable"),
    ),
    (
        ["  null ", "", "", "64.00", "USD", "NEW", "item returned"],
        "'null', a placeholder",
        ("ActionId", "id-placeholder"),
    ),
]


def test_ids_holding_no_identifier_are_never_resubmitted(tmp_path: Path) -> None:
    """Empty after invisible characters, a spreadsheet's error value, a placeholder: the record
    goes to a person with the cell named, even when its other identifiers would name it."""
    sent = _write_csv(tmp_path / "sent.csv", MOD_HEADER, [r for r, _, _ in PLACEHOLDER_ROWS])
    results = _results(tmp_path / "results.csv", ["BAD_DISPOSITION"] * len(PLACEHOLDER_ROWS))
    code, out, stderr = _reconcile(tmp_path, sent, results)
    assert code == 1, stderr
    resubmitted = _rows(out / "resubmit.csv")
    assert [r["ActionId"] for r in resubmitted] == ["1000.4636.1"]
    attention = _attention(out)
    for line, (_row, said, finding) in enumerate(PLACEHOLDER_ROWS, start=2):
        if said is None:
            continue
        record = attention[line]
        assert record["Resolution"] == "fix_manually"
        assert said in record["Advice"], (line, record["Advice"])
        assert finding is not None and finding[0] in record["CellsToFix"].split(";")

    code, findings = _check(tmp_path, sent)
    assert code == 1
    got = _findings(findings)
    for line, (_row, _said, finding) in enumerate(PLACEHOLDER_ROWS, start=2):
        if finding is not None:
            assert (line, *finding) in got, (line, finding)


def test_real_ids_that_look_like_placeholders_are_resubmitted(tmp_path: Path) -> None:
    """Only whole values are placeholders: NA123, NULL-7, -5 or nano are identifiers."""
    oids = ["NA123", "NULL-7", "-5", "nano", "N/A1"]
    rows = [["", oid, "16027", "10.00", "USD", "", "item returned"] for oid in oids]
    sent = _write_csv(tmp_path / "sent.csv", MOD_HEADER, rows)
    results = _results(tmp_path / "results.csv", ["BAD_DISPOSITION"] * len(rows))
    code, out, stderr = _reconcile(tmp_path, sent, results)
    assert code == 1, stderr
    assert [r["Oid"] for r in _rows(out / "resubmit.csv")] == oids
    _code, findings = _check(tmp_path, sent)
    assert not {f["Finding"] for f in findings} & {
        "id-placeholder",
        "no-identifier",
        "id-cell-unreadable",
    }


def test_conversions_without_an_order_id_are_not_resubmitted(tmp_path: Path) -> None:
    """Empty, invisible or #N/A OrderId: the conversion names no order."""
    base = ["1000", "16027", "2025-02-03T10:15:07-05:00"]
    rows = [
        [*base, "ORD-1", "", "C1", "USD", "$10.00"],
        [*base, "", "", "C2", "USD", "$11.00"],
        [*base, "\u200b", "", "C3", "USD", "$12.00"],
        [*base, "#N/A", "", "C4", "USD", "$13.00"],
        [*base, "NULL", "", "C5", "USD", "$14.00"],
    ]
    sent = _write_csv(tmp_path / "conv.csv", CONV_HEADER, rows)
    results = _results(tmp_path / "results.csv", ["MALFORMED"] * len(rows))
    code, out, stderr = _reconcile(tmp_path, sent, results)
    assert code == 1, stderr
    assert [r["OrderId"] for r in _rows(out / "resubmit.csv")] == ["ORD-1"]
    attention = _attention(out)
    assert set(attention) == {3, 4, 5, 6}
    for line in (3, 4, 5, 6):
        assert "conversion names no order" in attention[line]["Advice"]
        assert "OrderId" in attention[line]["CellsToFix"].split(";")
    assert "U+200B ZERO WIDTH SPACE" in attention[4]["Advice"]

    _code, findings = _check(tmp_path, sent)
    got = _findings(findings)
    assert {(line, "OrderId", "order-id-missing") for line in (3, 4, 5, 6)} <= got
    assert (4, "OrderId", "id-placeholder") in got
    assert (5, "OrderId", "id-cell-unreadable") in got
    assert (6, "OrderId", "id-placeholder") in got


def test_error_text_in_any_column_is_never_sent(tmp_path: Path) -> None:
    """A CSV saved by a spreadsheet holds #N/A as text: in a Sku or a note it is not a value
    either. (A text that merely contains it is a value.)"""
    header = ["ActionId", "Amount", "CurrencyCode", "Reason", "Note"]
    rows = [
        ["1000.4636.1", "10.00", "USD", "item returned", "#NAME?"],
        ["1000.4636.2", "10.00", "USD", "item returned", "see #N/A below"],
    ]
    sent = _write_csv(tmp_path / "sent.csv", header, rows)
    results = _results(tmp_path / "results.csv", ["BAD_DISPOSITION", "BAD_DISPOSITION"])
    code, out, stderr = _reconcile(tmp_path, sent, results)
    assert code == 1, stderr
    assert [r["ActionId"] for r in _rows(out / "resubmit.csv")] == ["1000.4636.2"]
    record = _attention(out)[2]
    assert _says(record["Advice"], "its Note cell (line 2) is the spreadsheet error #NAME?")
    assert "Note" in record["CellsToFix"].split(";")
    _code, findings = _check(tmp_path, sent)
    assert (2, "Note", "cell-unreadable") in _findings(findings)
    assert not any(f["SourceLine"] == "3" and f["Finding"] == "cell-unreadable" for f in findings)


# ------------------------------------------------------------------ workbooks' cells without values


def _workbook(
    path: Path, header: list[str], rows: list[list[object]], patch: dict[str, str]
) -> Path:
    """An .xlsx of ``rows``; ``patch`` replaces cells by reference with raw sheet XML (an error
    value, a formula without its saved value), as spreadsheets write them."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in [header, *rows]:
        sheet.append(row)
    plain = path.with_suffix(".plain.xlsx")
    book.save(plain)
    with zipfile.ZipFile(plain) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                text = data.decode()
                for ref, xml in patch.items():
                    text, count = re.subn(rf'<c r="{ref}"[^>]*>.*?</c>', xml, text, count=1)
                    assert count == 1, ref
                data = text.encode()
            out.writestr(item, data)
    plain.unlink()
    return path


def test_workbook_cells_without_a_value_outside_the_ids(tmp_path: Path) -> None:
    """A formula Amount without its saved value is not sent blank; the ID cells are covered as
    before."""
    rows: list[list[object]] = [
        ["1000.4636.1", "", "", "10.00", "USD", "", "item returned"],
        ["", "T6", "16027", "X", "USD", "", "item returned"],
        ["1000.4636.3", "", "", "12.00", "USD", "", "ERRCELL"],
        ["X", "", "", "13.00", "USD", "", "item returned"],
    ]
    sent = _workbook(
        tmp_path / "sent.xlsx",
        MOD_HEADER,
        rows,
        {
            "D3": '<c r="D3"><f>B3*2</f></c>',
            "G4": '<c r="G4" t="e"><f>VLOOKUP(A4,X!A:B,2,0)</f><v>#N/A</v></c>',
            "A5": '<c r="A5"><f>VLOOKUP(B5,X!A:B,2,0)</f></c>',
        },
    )
    results = _results(tmp_path / "results.csv", ["BAD_DISPOSITION"] * 4)
    code, out, stderr = _reconcile(tmp_path, sent, results)
    assert code == 1, stderr
    assert [r["ActionId"] for r in _rows(out / "resubmit.csv")] == ["1000.4636.1"]
    attention = _attention(out)
    assert _says(attention[3]["Advice"], "its Amount cell (sheet row 3) is a formula without a")
    assert "Amount" in attention[3]["CellsToFix"].split(";")
    assert _says(attention[4]["Advice"], "its Reason cell (sheet row 4) is the Excel error #N/A")
    assert _says(attention[5]["Advice"], "its ActionId cell (sheet row 5) is a formula without")

    _code, findings = _check(tmp_path, sent)
    got = _findings(findings)
    assert {(3, "Amount", "cell-unreadable"), (4, "Reason", "cell-unreadable")} <= got
    assert (5, "ActionId", "id-cell-unreadable") in got


def test_a_row_of_formulas_without_values_is_a_record_not_a_gap(tmp_path: Path) -> None:
    """Every cell of sheet row 3 is a formula Excel never calculated: the row is still a
    record (the results name its line), and it is never sent."""
    rows: list[list[object]] = [
        ["1000.4636.1", "", "", "10.00", "USD", "", "item returned"],
        ["X", "X", "X", "X", "X", "X", "X"],
        ["1000.4636.3", "", "", "12.00", "USD", "", "item returned"],
    ]
    sent = _workbook(
        tmp_path / "sent.xlsx",
        MOD_HEADER,
        rows,
        {f"{c}3": f'<c r="{c}3"><f>{c}2</f></c>' for c in "ABCDEFG"},
    )
    results = _results(tmp_path / "results.csv", ["BAD_DISPOSITION"] * 3)
    code, out, stderr = _reconcile(tmp_path, sent, results)
    assert code == 1, stderr
    lines = [r["SourceLine"] for r in _rows(out / "reconciled.csv")]
    assert lines == ["2", "3", "4"]
    assert [r["ActionId"] for r in _rows(out / "resubmit.csv")] == ["1000.4636.1", "1000.4636.3"]
    assert _says(_attention(out)[3]["Advice"], "its ActionId cell (sheet row 3) is a formula")
    _code, findings = _check(tmp_path, sent)
    assert (3, "ActionId", "id-cell-unreadable") in _findings(findings)


def test_item_conversion_sku_formula_is_not_sent_blank(tmp_path: Path) -> None:
    header = [
        *CONV_HEADER[:4],
        "CustomerId",
        "CurrencyCode",
        "Amount",
        "Category",
        "Sku",
        "Quantity",
    ]
    base = ["1000", "16027", "2025-02-03T10:15:07-05:00", "SO-1", "C1", "USD"]
    rows: list[list[object]] = [
        [*base, "$59.98", "Tools", "80114455", "2"],
        [*base, "$14.99", "Tools", "X", "1"],
    ]
    sent = _workbook(
        tmp_path / "sent.xlsx", header, rows, {"I3": '<c r="I3"><f>VLOOKUP(D3,S!A:B,2,0)</f></c>'}
    )
    results = _write_csv(
        tmp_path / "results.csv",
        ["Line", "Order Id", "Action Tracker Id", "Sku", "Error Type", "Message"],
        [
            ["2", "SO-1", "16027", "80114455", "Validation", "MALFORMED"],
            ["3", "SO-1", "16027", "", "Validation", "MALFORMED"],
        ],
    )
    code, out, stderr = _reconcile(tmp_path, sent, results)
    assert code == 1, stderr
    assert [r["Sku"] for r in _rows(out / "resubmit.csv")] == ["80114455"]
    assert _says(_attention(out)[3]["Advice"], "its Sku cell (sheet row 3) is a formula without")
    _code, findings = _check(tmp_path, sent)
    assert (3, "Sku", "cell-unreadable") in _findings(findings)


def test_many_formula_cells_do_not_hide_later_ones(tmp_path: Path) -> None:
    """More than 10,000 uncalculated formulas in a Note column: an #N/A ActionId after them is
    still seen, by reconcile and by check, and so is every Note cell."""
    n = 10_001
    rows: list[list[object]] = [
        [f"1000.4636.{i}", "", "", "1.00", "USD", "", "ORDER_UPDATE", f"=LEN(A{i + 2})"]
        for i in range(n)
    ]
    rows.append(["X", "", "", "5.00", "USD", "", "item returned", "x"])
    last = n + 2
    sent = _workbook(
        tmp_path / "cap.xlsx",
        [*MOD_HEADER, "Note"],
        rows,
        {f"A{last}": f'<c r="A{last}" t="e"><f>VLOOKUP(B{last},X!A:B,2,0)</f><v>#N/A</v></c>'},
    )
    results = _results(tmp_path / "results.csv", ["BAD_DISPOSITION"], first_line=last)
    code, out, stderr = _reconcile(tmp_path, sent, results)
    assert code == 1, stderr
    assert _rows(out / "resubmit.csv") == []
    said = f"its ActionId cell (sheet row {last}) is the Excel error #N/A"
    assert _says(_attention(out)[last]["Advice"], said)
    _code, findings = _check(tmp_path, sent)
    got = _findings(findings)
    assert (last, "ActionId", "id-cell-unreadable") in got
    assert sum(1 for f in got if f[1:] == ("Note", "cell-unreadable")) == n


def test_cells_of_a_large_merged_range_are_not_sent_blank(tmp_path: Path) -> None:
    """A merged range of more than 10,000 cells: every cell after its first is blank in the
    file, and a record holding one is not resubmitted."""
    from openpyxl import Workbook

    n = 5_002
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append([*MOD_HEADER, "Note", "Extra"])
    for i in range(n):
        sheet.append([f"1000.4636.{i}", "", "", "1.00", "USD", "", "item returned", "note", "x"])
    sheet.merge_cells(f"H2:I{n + 1}")  # 2 x 5,002 cells
    sent = tmp_path / "merged.xlsx"
    book.save(sent)
    results = _results(
        tmp_path / "results.csv", ["BAD_DISPOSITION", "BAD_DISPOSITION"], first_line=2
    )
    code, out, stderr = _reconcile(tmp_path, sent, results)
    assert code == 1, stderr
    assert _rows(out / "resubmit.csv") == []
    attention = _attention(out)
    assert _says(attention[2]["Advice"], "its Extra cell (sheet row 2) is merged into H2")
    assert _says(attention[3]["Advice"], "its Note cell (sheet row 3) is merged into H2")


# ------------------------------------------------------------------ characters IDs never hold


def test_ids_in_other_scripts_digits_are_not_resubmitted(tmp_path: Path) -> None:
    rows = [
        ["１０００.４６３６.１０", "", "", "10.00", "USD", "", "order update"],
        ["٣٤٥.٦٧", "", "", "5.00", "USD", "", "order update"],
        ["1000.4636.3\u200b", "", "", "5.00", "USD", "", "order update"],
        ["", "T١١", "16027", "5.00", "USD", "", "order update"],
        ["", "T12", "１６０２７", "5.00", "USD", "", "order update"],
        ["", "ORD-Ü1", "16027", "5.00", "USD", "", "order update"],
        ["1000.4636.7", "", "", "5.00", "USD", "", "order update"],
    ]
    sent = _write_csv(tmp_path / "sent.csv", MOD_HEADER, rows)
    results = _results(tmp_path / "results.csv", ["BAD_DISPOSITION"] * len(rows))
    code, out, stderr = _reconcile(tmp_path, sent, results)
    assert code == 1, stderr
    resubmitted = _rows(out / "resubmit.csv")
    assert [(r["ActionId"], r["Oid"]) for r in resubmitted] == [("", "ORD-Ü1"), ("1000.4636.7", "")]
    attention = _attention(out)
    assert "U+FF11 FULLWIDTH DIGIT ONE" in attention[2]["Advice"]
    assert "U+0663 ARABIC-INDIC DIGIT THREE" in attention[3]["Advice"]
    assert "U+200B ZERO WIDTH SPACE" in attention[4]["Advice"]
    assert "U+0661 ARABIC-INDIC DIGIT ONE" in attention[5]["Advice"]
    assert "U+FF11 FULLWIDTH DIGIT ONE" in attention[6]["Advice"]
    for line in range(2, 7):
        assert "reconciler does not convert them" in attention[line]["Advice"]

    _code, findings = _check(tmp_path, sent)
    got = _findings(findings)
    assert {
        (2, "ActionId", "id-odd-characters"),
        (3, "ActionId", "id-odd-characters"),
        (4, "ActionId", "id-odd-characters"),
        (5, "Oid", "id-odd-characters"),
        (6, "ActionTrackerId", "not-an-integer"),
    } <= got
    assert not any(f[0] in (7, 8) and f[2] == "id-odd-characters" for f in got)


# ------------------------------------------------------------------ reason codes


@pytest.mark.parametrize(
    ("reason", "said"),
    [
        ("ITEM_RETURNED²", "U+00B2 SUPERSCRIPT TWO"),
        ("ITEM_RETURNED\u200b", "U+200B ZERO WIDTH SPACE"),
        ("\u0406TEM_RETURNED", "CYRILLIC CAPITAL LETTER"),
        ("ＩＴＥＭ_RETURNED", "FULLWIDTH LATIN CAPITAL LETTER I"),
        ("item returned", "write ITEM_RETURNED"),
        ("Item-Returned", "write ITEM_RETURNED"),
        ("ITEM\tRETURNED", "U+0009"),
        ("X" * 65, "impact.com allows 64"),
    ],
)
def test_reason_option_must_be_printable_ascii(tmp_path: Path, reason: str, said: str) -> None:
    sent = _write_csv(
        tmp_path / "sent.csv", MOD_HEADER, [["1000.4636.1", "", "", "10.00", "USD", "", "Returned"]]
    )
    results = _results(tmp_path / "results.csv", ["BAD_DISPOSITION"])
    code, out, stderr = _reconcile(tmp_path, sent, results, "--reason", reason)
    assert code == 2
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("reconciler: --reason "), stderr
    assert said in lines[0]
    assert not (out / "resubmit.csv").exists()


@pytest.mark.parametrize("reason", ["ITEM_RETURNED", "MY_CUSTOM-CODE.2", "ORDER RETURNED"])
def test_reason_option_accepts_custom_ascii_codes(tmp_path: Path, reason: str) -> None:
    """Custom codes are any string a brand set up (the platform's own example has a space)."""
    sent = _write_csv(
        tmp_path / "sent.csv", MOD_HEADER, [["1000.4636.1", "", "", "10.00", "USD", "", "Returned"]]
    )
    results = _results(tmp_path / "results.csv", ["BAD_DISPOSITION"])
    code, out, stderr = _reconcile(tmp_path, sent, results, "--reason", reason)
    assert code == 1, stderr
    assert [r["Reason"] for r in _rows(out / "resubmit.csv")] == [reason]


@pytest.mark.parametrize(
    ("name", "text", "where"),
    [
        ("map.csv", "from,to\nLost,ITEM_RETURNED\nReturned,\u0406TEM_RETURNED\n", "map.csv:3: "),
        ("map.toml", 'Returned = "ITEM_RETURNED\u200b"\n', "map.toml: "),
        ("map.csv", "from,to\nReturned,item returned\n", "map.csv:2: "),
    ],
)
def test_reason_map_targets_must_be_printable_ascii(
    tmp_path: Path, name: str, text: str, where: str
) -> None:
    mapping = tmp_path / name
    mapping.write_text(text, encoding="utf-8")
    sent = _write_csv(
        tmp_path / "sent.csv", MOD_HEADER, [["1000.4636.1", "", "", "10.00", "USD", "", "Returned"]]
    )
    results = _results(tmp_path / "results.csv", ["BAD_DISPOSITION"])
    code, out, stderr = _reconcile(tmp_path, sent, results, "--reason-map", str(mapping))
    assert code == 2
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and where in lines[0] and "maps 'Returned' to" in lines[0], stderr
    assert not (out / "resubmit.csv").exists()
    code, _o, stderr = _invoke(
        "check", str(sent), "--reason-map", str(mapping), "--out", str(tmp_path / "c")
    )
    assert code == 2 and where in stderr


# ------------------------------------------------------------------ 15-digit rounding


@pytest.mark.parametrize(
    ("said", "held", "how"),
    [
        ("4051234567890630", "4051234567890627", "was rounded to 15 significant digits"),
        (
            "4051234567890630.0",
            "4051234567890627",
            "was rounded to 15 significant digits and gained a .0",
        ),
        ("4051234567890620", "4051234567890615", "was rounded to 15 significant digits"),
        ("9999999999999990", "9999999999999994", "was rounded to 15 significant digits"),
        ("4.05123456789063E+15", "4051234567890627", "is in scientific notation"),
        ("4.05123E+15", "4051234567890627", "is in scientific notation"),
        ("4051234567890620000", "4051234567890620011", "was rounded to 15 significant digits"),
        ("12391.0", "00012391", "lost its leading zeros and gained a .0"),
        ("12391.0", "12391", "gained a .0"),
        ("12391", "00012391", "lost its leading zeros"),
        # Not a spreadsheet's form of the held ID.
        ("4051234567890620", "4051234567890627", ""),
        ("4051234567890630", "4051234567890630", ""),
        ("10000000000000000", "9999999999999995", ""),  # the rounding carried: another length
        ("405123456789063", "4051234567890627", ""),
        ("4051234567890700", "4051234567890627", ""),
    ],
)
def test_spoiled_form_of_knows_the_rounding_of_16_digit_ids(said: str, held: str, how: str) -> None:
    assert spoiled_form_of(said, held) == how


def test_spoiled_id_problem_says_every_sign() -> None:
    spaced = spoiled_id_problem(" 4051234567890620000")
    assert "stray whitespace" in spaced and "ends in zeros after its 15th digit" in spaced
    dotted = spoiled_id_problem("4051234567890620000.0")
    assert "a .0 suffix" in dotted and "ends in zeros after its 15th digit" in dotted


def test_check_calls_16_digit_ids_rounded_only_on_the_column_evidence(tmp_path: Path) -> None:
    alone = _write_csv(
        tmp_path / "alone.csv",
        MOD_HEADER,
        [
            ["", "4051234567890630", "16027", "0", "", "", "ITEM_RETURNED"],
            ["", "T1", "16027", "0", "", "", "ITEM_RETURNED"],
        ],
    )
    code, findings = _check(tmp_path, alone)
    assert code == 0, findings
    column = _write_csv(
        tmp_path / "column.csv",
        MOD_HEADER,
        [
            ["", "4051234567890630", "16027", "0", "", "", "ITEM_RETURNED"],
            ["", "4051234567890620", "16027", "0", "", "", "ITEM_RETURNED"],
            ["", "40512345678906200", "16027", "0", "", "", "ITEM_RETURNED"],
        ],
    )
    code, findings = _check(tmp_path, column, "--force")
    assert code == 1
    assert {
        (2, "Oid", "id-spoiled"),
        (3, "Oid", "id-spoiled"),
        (4, "Oid", "id-spoiled"),
    } <= _findings(findings)
    advice = next(f["Advice"] for f in findings if f["SourceLine"] == "2")
    assert "as do all 3 IDs of 16 digits or more in its column" in advice


def test_check_reports_rounding_behind_a_space_or_a_dot_zero(tmp_path: Path) -> None:
    sent = _write_csv(
        tmp_path / "sent.csv",
        MOD_HEADER,
        [
            ["", " 4051234567890620000", "16027", "0", "", "", "ITEM_RETURNED"],
            ["", "4051234567890630000.0", "16027", "0", "", "", "ITEM_RETURNED"],
        ],
    )
    _code, findings = _check(tmp_path, sent)
    by_line = {(f["SourceLine"], f["Finding"]): f["Advice"] for f in findings}
    assert "ends in zeros after its 15th digit" in by_line[("2", "id-spoiled")]
    assert ("2", "value-whitespace") in by_line
    assert "a .0 suffix" in by_line[("3", "id-spoiled")]
    assert "ends in zeros after its 15th digit" in by_line[("3", "id-spoiled")]


def test_advice_does_not_call_a_possibly_rounded_id_intact(tmp_path: Path) -> None:
    sent = _write_csv(
        tmp_path / "sent.csv",
        MOD_HEADER,
        [
            ["", "4051234567890630", "16027", "0", "", "", "ITEM_RETURNED"],
            ["", "4051234567890627", "16027", "0", "", "", "ITEM_RETURNED"],
            ["", " 4051234567890620000", "16027", "0", "", "", "ITEM_RETURNED"],
        ],
    )
    results = _results(tmp_path / "results.csv", ["ACTION_NOT_FOUND"] * 3)
    code, out, stderr = _reconcile(tmp_path, sent, results)
    assert code == 1, stderr
    attention = _attention(out)
    assert "may have rounded the ID" in attention[2]["Advice"]
    assert "does not look spoiled" not in attention[2]["Advice"]
    assert "does not look spoiled" in attention[3]["Advice"]  # 16 digits not ending in 0
    assert "ends in zeros after its 15th digit" in attention[4]["Advice"]
