"""The analyst workbook ``reconciled.xlsx``, read back with openpyxl: sheet names and order, row
counts, row caps with their note, frozen and filterable headers, IDs stored as text and no cell
holding a live formula."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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
