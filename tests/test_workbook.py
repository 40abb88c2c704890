"""The analyst workbook ``reconciled.xlsx``, read back with openpyxl: sheet names and order, row
counts, row caps with their note, frozen and filterable headers, IDs stored as text, amounts as
numbers in their currency's format, and no cell holding a live formula."""

from __future__ import annotations

import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

from reconciler.pipeline import Reconciliation, reconcile
from reports import render_outputs, workbook

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "fixtures" / "modification_view_errors"
EPOCH = "1767225600"


@pytest.fixture(autouse=True)
def _fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)


def _workbook(rec: Reconciliation, folder: Path) -> Any:
    folder.mkdir(parents=True, exist_ok=True)
    assert render_outputs(rec, folder, html=False, xlsx=True) == ["reconciled.xlsx"]
    return load_workbook(folder / "reconciled.xlsx")


def _demo() -> Reconciliation:
    return reconcile(FIXTURE / "sent.csv", FIXTURE / "results.csv")


def _all_cells(wb: Any) -> list[Any]:
    return [cell for ws in wb.worksheets for row in ws.iter_rows() for cell in row]


def test_sheets_follow_the_resolutions(tmp_path: Path) -> None:
    rec = _demo()
    wb = _workbook(rec, tmp_path)
    # The report's words for each resolution, not the raw labels.
    assert wb.sheetnames == [
        "Summary", "Fix by hand", "Review by hand", "Fixed automatically", "Terminal", "Accepted",
    ]  # fmt: skip
    sheet_of = {
        "fix_manually": "Fix by hand", "review": "Review by hand",
        "auto_fixed": "Fixed automatically", "no_action": "Terminal", "none": "Accepted",
    }  # fmt: skip
    header = [
        *rec.sent.header,
        "SourceLine",
        "Outcome",
        "ErrorCodes",
        "Resolution",
        "TiedBy",
        "TieNote",
        "Attempt",
        "PreviousBatch",
        "PreviousOutcome",
        "Confirmed",
        "PlatformShows",
        "Advice",
    ]
    for name, n in rec.summary.by_resolution.items():
        ws = wb[sheet_of[name]]
        assert [c.value for c in ws[1]] == header
        assert ws.max_row == 1 + n, name
        assert ws.freeze_panes == "A2"
        assert ws.auto_filter.ref == f"A1:S{1 + n}"
        assert {str(r[10].value) for r in ws.iter_rows(min_row=2)} == {name}  # Resolution column
        lines = [r[7].value for r in ws.iter_rows(min_row=2)]
        assert lines == sorted(lines) and all(isinstance(v, int) for v in lines)
    widths = [wb["Fix by hand"].column_dimensions[c].width for c in "ABCDEFGHIJKLM"]
    assert all(6 <= w <= 80 for w in widths)


def test_summary_sheet_holds_the_headline_and_the_codes(tmp_path: Path) -> None:
    rec = _demo()
    ws = _workbook(rec, tmp_path)["Summary"]
    assert str(ws["A1"].value).startswith("reconciler ")  # the note: files, template, time
    assert [c.value for c in ws[2]] == ["Section", "Item", "Records", "Detail"]
    assert ws.freeze_panes == "A3"
    rows = [tuple(c.value for c in r[:3]) for r in ws.iter_rows(min_row=3)]
    assert rows[:8] == [
        ("Headline", "Records sent", 30),
        ("Headline", "Accepted", 20),
        ("Headline", "Rejected", 10),
        ("Headline", "Fixed automatically", 1),
        ("Headline", "Need a person", 4),
        ("Headline", "Terminal", 5),
        ("Headline", "Unmatched results", 1),
        ("Headline", "Ambiguous ties", 0),
    ]
    by_code = [(item, n) for section, item, n in rows if section == "By code"]
    assert by_code == list(rec.summary.by_code.items())
    by_res = {item: n for section, item, n in rows if section == "By resolution"}
    assert by_res == rec.summary.by_resolution


def test_ids_are_text_and_nothing_is_a_formula(tmp_path: Path) -> None:
    wb = _workbook(_demo(), tmp_path)
    cells = _all_cells(wb)
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    values = {c.value: c.data_type for c in cells if c.value is not None}
    assert values["00012345"] == "s"  # leading zeros kept
    assert values["1000.4636.158133"] == "s"  # not a number
    assert values["4051234567890123457"] == "s"  # longer than a float's digits


def test_formula_like_input_is_stored_as_text(tmp_path: Path) -> None:
    sent = tmp_path / "sent.csv"
    sent.write_text(
        "ActionId,Oid,ActionTrackerId,Amount,CurrencyCode,CustomerStatus,Reason\n"
        '1000.1.1,,,"=HYPERLINK(""http://x"";""y"")",USD,,ORDER_UPDATE\n'
        "1000.1.2,,,+cmd|' /C calc'!A0,USD,,@SUM(A1)\n"
        "1000.1.3,00012345,16027,-5,USD,,ORDER_UPDATE\n",
        encoding="utf-8",
    )
    results = tmp_path / "results.csv"
    results.write_text(
        "Line,Order Id,Action Tracker Id,Error Type,Message\n"
        "2,,,Validation,MALFORMED\n3,,,Validation,BAD_DISPOSITION\n",
        encoding="utf-8",
    )
    wb = _workbook(reconcile(sent, results), tmp_path / "out")
    cells = _all_cells(wb)
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    by_value = {c.value: c for c in cells if isinstance(c.value, str)}
    for raw in ('=HYPERLINK("http://x";"y")', "+cmd|' /C calc'!A0", "@SUM(A1)"):
        assert by_value[raw].data_type == "s", raw  # exactly as typed, stored as a string
    assert by_value["00012345"].data_type == "s"


def test_sheets_are_capped_with_a_note(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(workbook, "MAX_SHEET_ROWS", 3)
    monkeypatch.setattr(workbook, "MAX_WORKBOOK_ROWS", 7)
    rec = _demo()
    wb = _workbook(rec, tmp_path)
    counts = {ws.title: ws.max_row for ws in wb.worksheets[1:]}
    # fix_manually 3 (of 3), review 1, auto_fixed 1, no_action 2 (of 5: the budget of 7 is used
    # up), none 0 (of 20); a capped sheet has a note row above its header
    assert counts == {
        "Fix by hand": 4, "Review by hand": 2, "Fixed automatically": 2, "Terminal": 4,
        "Accepted": 2,
    }  # fmt: skip
    capped = wb["Terminal"]
    assert "showing the first 2 of 5 records" in str(capped["A1"].value)
    assert "reconciled.csv" in str(capped["A1"].value)
    assert capped["A2"].value == rec.sent.header[0]
    assert capped.freeze_panes == "A3"
    assert [r[7].value for r in capped.iter_rows(min_row=3)] == [4, 9]  # the first by line
    # A sheet the workbook had no room for says so in words, not "the first 0 of 20".
    assert str(wb["Accepted"]["A1"].value).startswith(
        "Accepted: 20 records, none shown here (the workbook keeps at most 3 records a sheet "
        "and 7 in all, given to the records needing a person first). reconciled.csv holds "
        "every record"
    )


def test_workbook_is_deterministic(tmp_path: Path) -> None:
    rec = _demo()
    render_outputs(rec, tmp_path, html=False)
    first = (tmp_path / "reconciled.xlsx").read_bytes()
    render_outputs(rec, tmp_path, html=False)
    assert (tmp_path / "reconciled.xlsx").read_bytes() == first


def test_sheet_names_are_what_excel_allows() -> None:
    assert workbook.sheet_name("recheck", set()) == "Unknown - get all results"
    assert workbook.sheet_name("none", {"Accepted"}) == "Accepted (2)"
    assert len(workbook.sheet_name("x" * 40, set())) <= 31


def test_advice_wraps_in_both_workbooks(tmp_path: Path) -> None:
    rec = _demo()
    wb = _workbook(rec, tmp_path)
    sheet = wb["Fix by hand"]
    header = [c.value for c in sheet[1]]
    col = header.index("Advice") + 1
    advice = sheet.cell(row=2, column=col)
    assert advice.alignment.wrap_text is True and advice.alignment.vertical == "top"
    assert sheet.cell(row=2, column=1).alignment.wrap_text in (None, False)  # IDs do not wrap
    from reconciler.pipeline import write_outputs

    out = tmp_path / "full"
    write_outputs(rec, out, workbook=True)
    book = load_workbook(out / "needs-attention.xlsx")
    ws = book.active
    assert ws is not None
    names = [c.value for c in ws[1]]
    cell = ws.cell(row=2, column=names.index("Advice") + 1)
    assert cell.alignment.wrap_text is True


def test_amounts_are_numbers_in_their_currency_format(tmp_path: Path) -> None:
    """Amount can be summed: a plain decimal is a number cell formatted in its currency, the
    number exactly as sent; anything else stays text, as sent; IDs stay text."""
    sent = tmp_path / "sent.csv"
    sent.write_text(
        "ActionId,Oid,ActionTrackerId,Amount,CurrencyCode,CustomerStatus,Reason\n"
        "1000.1.1,,,64.00,USD,,item returned\n"  # auto-fixed
        "1000.1.2,,,$1,299.00,USD,,Returned\n"  # a value to check, kept as text
        "1000.1.3,,,1500,jpy,,ORDER_UPDATE\n"  # zero-decimal currency, code as typed
        "1000.1.4,,,12.345,EUR,,ORDER_UPDATE\n"  # more decimals than the currency's
        "1000.1.5,,,12345678901234567.5,USD,,ORDER_UPDATE\n"  # more digits than Excel holds
        "1000.1.6,,,0012.50,USD,,ORDER_UPDATE\n"  # leading zeros: not a plain decimal
        "1000.1.7,,,-5,=cmd,,ORDER_UPDATE\n",  # a hostile currency never enters a format
        encoding="utf-8",
    )
    sent.write_text(sent.read_text().replace("$1,299.00", '"$1,299.00"'), encoding="utf-8")
    results = tmp_path / "results.csv"
    results.write_text(
        "Line,Order Id,Action Tracker Id,Error Type,Message\n"
        "2,,,Validation,BAD_DISPOSITION\n3,,,Validation,BAD_DISPOSITION\n3,,,Validation,MALFORMED\n"
        "4,,,Validation,ALREADY_LOCKED\n5,,,Validation,ALREADY_LOCKED\n"
        "6,,,Validation,ALREADY_LOCKED\n7,,,Validation,ALREADY_LOCKED\n"
        "8,,,Validation,ALREADY_LOCKED\n",
        encoding="utf-8",
    )
    rec = reconcile(sent, results)
    wb = _workbook(rec, tmp_path / "out")
    amounts = {}
    for ws in wb.worksheets[1:]:
        header = [c.value for c in ws[1]]
        col, ids = header.index("Amount"), header.index("ActionId")
        for row in ws.iter_rows(min_row=2):
            assert row[ids].data_type == "s"
            amounts[row[ids].value] = (row[col].value, row[col].data_type, row[col].number_format)
    assert amounts == {
        "1000.1.1": (64, "n", '#,##0.00 "USD"'),
        "1000.1.2": ("$1,299.00", "s", "General"),
        "1000.1.3": (1500, "n", '#,##0 "JPY"'),
        "1000.1.4": (12.345, "n", '#,##0.000 "EUR"'),
        "1000.1.5": ("12345678901234567.5", "s", "General"),
        "1000.1.6": ("0012.50", "s", "General"),
        "1000.1.7": (-5, "n", "#,##0.00"),
    }
    # The number is the text as sent, not a float's rendering.
    with zipfile.ZipFile(tmp_path / "out" / "reconciled.xlsx") as z:
        xml = b"".join(z.read(n) for n in z.namelist() if n.startswith("xl/worksheets/"))
    assert b"><v>64.00</v></c>" in xml and b"><v>12.345</v></c>" in xml

    from reconciler.pipeline import write_outputs

    out = tmp_path / "full"
    write_outputs(rec, out, workbook=True)
    ws = load_workbook(out / "needs-attention.xlsx").active
    assert ws is not None
    header = [c.value for c in ws[1]]
    col = header.index("Amount")
    cells = {row[0].value: row[col] for row in ws.iter_rows(min_row=2)}
    assert cells["1000.1.2"].value == "$1,299.00"
    assert cells["1000.1.2"].fill.fgColor.rgb == "FFFFF2CC"  # the value to fix, highlighted
    # what goes to impact.com is untouched: the resubmission holds the amount as sent
    assert "1000.1.1,,,64.00,USD,,ITEM_RETURNED" in (out / "resubmit.csv").read_text()


def test_a_highlighted_amount_keeps_its_fill_as_a_number(tmp_path: Path) -> None:
    from reconciler.writers import Sheet, write_xlsx

    frame = pd.DataFrame({0: ["1.5", "2"], 1: ["GBP", "KWD"]})
    marks = np.array([[True, False], [False, False]])
    path = tmp_path / "book.xlsx"
    sheet = Sheet("S", ["Amount", "Currency"], frame, highlight=marks, money={0: 1})
    write_xlsx([sheet], path, now=datetime(2026, 1, 1, tzinfo=UTC))
    ws = load_workbook(path).active
    assert ws is not None
    first, second = ws["A2"], ws["A3"]
    assert (first.value, first.number_format, first.fill.fgColor.rgb) == (
        1.5, '#,##0.00 "GBP"', "FFFFF2CC",
    )  # fmt: skip
    assert (second.value, second.number_format) == (2, '#,##0.000 "KWD"')
    assert second.fill.fgColor.rgb != "FFFFF2CC"


def test_needs_attention_xlsx_is_capped_and_says_where_the_rest_are(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from reconciler import pipeline
    from reconciler.pipeline import write_outputs

    monkeypatch.setattr(pipeline, "MAX_ATTENTION_ROWS", 2)
    rec = _demo()
    write_outputs(rec, tmp_path, workbook=True)
    ws = load_workbook(tmp_path / "needs-attention.xlsx").active
    assert ws is not None
    assert ws["A1"].value == (
        "Showing the first 2 of 4 records needing a person, by line (this workbook keeps at "
        "most 2). needs-attention.csv holds every one."
    )
    assert ws["A2"].value == "ActionId" and ws.freeze_panes == "A3"
    lines = [r[7].value for r in ws.iter_rows(min_row=3)]
    assert lines == [6, 12]  # the first by line
    with (tmp_path / "needs-attention.csv").open(encoding="utf-8-sig") as fh:
        assert len(fh.read().splitlines()) == 1 + 4  # the CSV keeps every one


def test_a_capped_sheet_needing_a_person_points_to_the_work_list(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(workbook, "MAX_SHEET_ROWS", 1)
    wb = _workbook(_demo(), tmp_path)
    note = str(wb["Fix by hand"]["A1"].value)
    assert note.startswith("Fix by hand: showing the first 1 of 3 records by line")
    assert "needs-attention.xlsx (up to 100,000 rows) and needs-attention.csv hold every" in note


def test_cells_to_fix_are_read_as_whole_labels_even_holding_a_semicolon() -> None:
    """needs-attention.xlsx highlights the cells CellsToFix names, a ``;``-joined list of the
    sent file's labels; a label may hold a ``;`` itself and is then not cut in two."""
    from reconciler.pipeline import named_labels

    labels = {"Amount", "Reason", "Note;internal", "Oid"}
    assert named_labels("Amount;Reason", labels) == {"Amount", "Reason"}
    assert named_labels("Note;internal", labels) == {"Note;internal"}
    assert named_labels("Oid;Note;internal;Amount", labels) == {"Oid", "Note;internal", "Amount"}
    # Labels that the text names either way are all highlighted.
    assert named_labels("A;B", {"A;B", "A", "B"}) == {"A;B", "A", "B"}
    # A name no label of the file has: the others are still read.
    assert named_labels("Amount;Gone", labels) == {"Amount"}
    assert named_labels("", labels) == set()
