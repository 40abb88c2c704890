"""Headers that hide what they are: a header row repeated mid-file in another spelling, XML
fields holding elements, columns for one field under disguised or different names (sent and
results), and a results export given as the sent file under any spelling the results reader
takes.

Each test runs the real command (typer's runner) and asserts what the user sees: the one-line
refusal with its file and line, the exit code, the notes, and the files written.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from typer.testing import CliRunner

from reconciler.cli import app

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
runner = CliRunner()

SENT_HEADER = "ActionId,Oid,ActionTrackerId,Amount,CurrencyCode,CustomerStatus,Reason"
SWAPPED = "give the sent file first, then its results"


def _invoke(*args: object) -> tuple[int, str, str]:
    result = runner.invoke(app, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


def _write(path: Path, text: str) -> Path:
    path.write_bytes(text.encode("utf-8"))
    return path


def _csv(path: Path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))


# --------------------------------------------------------------------------- a repeated header

EMPTY_RESULTS = "Line,Order Id,Action Tracker Id,Error Type,Message\n"


@pytest.mark.parametrize(
    "repeat",
    [
        "actionid,oid,actiontrackerid,amount,currencycode,customerstatus,reason",  # lowercased
        "Action Id,Oid,Action Tracker Id,Amount,Currency Code,Customer Status,Reason",  # spaced
        " ActionId, Oid, ActionTrackerId, Amount, CurrencyCode, CustomerStatus, Reason",
        "\u200b" + SENT_HEADER,  # a zero-width space in front
        "\u00a0" + SENT_HEADER,  # a no-break space in front
        "\ufeffactionid,oid,actiontrackerid,amount,currencycode,customerstatus,reason",  # BOM
        "Oid,ActionId,ActionTrackerId,Amount,CurrencyCode,CustomerStatus,Reason",  # reordered
        "ActionID,OID,ActionTrackerID,Amount,CurrencyCode,CustomerStatus,Reason",
        "Action Id,Order Id,Event Type Id,Amount,Currency,CustomerStatus,DispositionReason",
        "ＡｃｔｉｏｎＩｄ,Ｏｉｄ,ActionTrackerId,Amount,CurrencyCode,CustomerStatus,Reason",
        "\u0410ctionId,Oid,ActionTrackerId,Amount,CurrencyCode,CustomerStatus,Reason",  # Cyrillic
        "REASON,CUSTOMERSTATUS,CURRENCYCODE,AMOUNT,ACTIONTRACKERID,OID,ACTIONID",
    ],
)
def test_a_header_repeated_in_another_spelling_is_refused_with_its_line(
    tmp_path: Path, repeat: str
) -> None:
    sent = _write(
        tmp_path / "sent.csv",
        f"{SENT_HEADER}\n1000.4636.1,,,10.00,USD,,ORDER_UPDATE\n{repeat}\n"
        ",T2,16027,0,,,ITEM_RETURNED\n",
    )
    results = _write(tmp_path / "results.csv", EMPTY_RESULTS)
    out = tmp_path / "out"
    code, stdout, stderr = _invoke("reconcile", sent, results, "-o", out)
    assert code == 2, stdout
    assert stderr.startswith("reconciler: ")
    assert "sent.csv:3: repeats the header row here" in stderr
    assert not out.exists()
    code, _, stderr = _invoke("check", sent, "-o", tmp_path / "chk")
    assert code == 2
    assert "sent.csv:3: repeats the header row here" in stderr


@pytest.mark.parametrize(
    ("header", "repeat"),
    [
        (EMPTY_RESULTS.strip(), EMPTY_RESULTS.strip().lower()),
        (
            "OrderId,ActionTrackerId,ErrorType,ErrorReason",
            "ORDERID,ACTIONTRACKERID,ERRORTYPE,ERRORREASON",
        ),
        (EMPTY_RESULTS.strip(), "Row #,OrderId,ActionTrackerId,Error Type,Error Code"),
        (EMPTY_RESULTS.strip(), "\ufeffMessage,Error Type,Action Tracker Id,Order Id,Line"),
    ],
)
def test_a_results_header_repeated_in_another_spelling_is_refused(
    tmp_path: Path, header: str, repeat: str
) -> None:
    sent = _write(
        tmp_path / "sent.csv",
        f"{SENT_HEADER}\n,T1,16027,0,,,ITEM_RETURNED\n,T2,16027,0,,,ITEM_RETURNED\n",
    )
    first = (
        "2,T1,16027,Validation,BAD_DISPOSITION"
        if header.startswith("Line")
        else ("T1,16027,Validation,BAD_DISPOSITION")
    )
    second = (
        "3,T2,16027,Validation,NO_CHANGE"
        if header.startswith("Line")
        else ("T2,16027,Validation,NO_CHANGE")
    )
    results = _write(tmp_path / "results.csv", f"{header}\n{first}\n{repeat}\n{second}\n")
    out = tmp_path / "out"
    code, _, stderr = _invoke("reconcile", sent, results, "-o", out)
    assert code == 2
    assert "results.csv:3: repeats the header row here" in stderr
    assert not out.exists()


def test_a_workbook_repeating_its_header_in_lowercase_is_refused(tmp_path: Path) -> None:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(SENT_HEADER.split(","))
    sheet.append(["1000.4636.1", "", "", "10.00", "USD", "", "ORDER_UPDATE"])
    sheet.append(SENT_HEADER.lower().split(","))
    sheet.append(["", "T2", "16027", "0", "", "", "ITEM_RETURNED"])
    book.save(tmp_path / "sent.xlsx")
    results = _write(tmp_path / "results.csv", EMPTY_RESULTS)
    code, _, stderr = _invoke("reconcile", tmp_path / "sent.xlsx", results, "-o", tmp_path / "o")
    assert code == 2
    assert "sent.xlsx:3: repeats the header row here" in stderr


def test_values_that_are_header_words_are_not_a_repeated_header(tmp_path: Path) -> None:
    # One cell spelling a header name (an Oid "Oid", a status "Reason") is data, not a header.
    sent = _write(
        tmp_path / "sent.csv",
        "ActionId,Oid,ActionTrackerId,Amount,CurrencyCode,CustomerStatus,Reason\n"
        ",Oid,16027,0,,Reason,ITEM_RETURNED\n"
        ",T2,16027,0,,,ITEM_RETURNED\n",
    )
    results = _write(tmp_path / "results.csv", EMPTY_RESULTS)
    code, stdout, stderr = _invoke("reconcile", sent, results, "-o", tmp_path / "out")
    assert code == 0, stderr
    assert "2 records sent" in stdout


# --------------------------------------------------------------------------- XML fields


@pytest.mark.parametrize(
    ("field", "line", "path", "inner"),
    [
        (
            "<Oid><Part>T52324</Part><Part>140102</Part></Oid>",
            4,
            "Actions/Action/Oid",
            "Part",
        ),
        ("<Oid>T5232<x/>4140103</Oid>", 4, "Actions/Action/Oid", "x"),
        ("<Oid>\n  T5232\n  <b>4</b>140103</Oid>", 6, "Actions/Action/Oid", "b"),
    ],
)
def test_an_xml_field_holding_elements_is_refused_with_its_line_and_path(
    tmp_path: Path, field: str, line: int, path: str, inner: str
) -> None:
    sent = _write(
        tmp_path / "sent.xml",
        '<?xml version="1.0" encoding="UTF-8"?>\n<Actions>\n  <Action>\n'
        f"    {field}\n"
        "    <ActionTrackerId>16027</ActionTrackerId><Amount>11.00</Amount>"
        "<Reason>ITEM_RETURNED</Reason>\n"
        "  </Action>\n"
        "  <Action><Oid>T9</Oid><ActionTrackerId>16027</ActionTrackerId><Amount>0</Amount>"
        "<Reason>ITEM_RETURNED</Reason></Action>\n"
        "</Actions>\n",
    )
    results = _write(tmp_path / "results.csv", "OrderId,ActionTrackerId,ErrorType,ErrorReason\n")
    out = tmp_path / "out"
    code, _, stderr = _invoke("reconcile", sent, results, "-o", out)
    assert code == 2
    assert (
        f"sent.xml:{line}: the field {path} holds the element <{inner}> instead of a plain "
        "value" in stderr
    )
    assert "write the value as text in <Oid>" in stderr
    assert not out.exists()
    code, _, stderr = _invoke("check", sent, "-o", tmp_path / "chk")
    assert code == 2
    assert f"sent.xml:{line}: the field {path} holds" in stderr


def test_an_xml_item_field_holding_elements_is_refused(tmp_path: Path) -> None:
    sent = _write(
        tmp_path / "sent.xml",
        "<Request>\n"
        " <Conversion><CampaignId>1000</CampaignId><ActionTrackerId>16027</ActionTrackerId>"
        "<EventDate>2025-01-01T00:00:00Z</EventDate><OrderId>O1</OrderId><ClickId>c</ClickId>\n"
        "  <Items><Item><Sku><b>A</b>1</Sku><Quantity>1</Quantity></Item></Items>\n"
        " </Conversion>\n"
        " <Conversion><CampaignId>1000</CampaignId><ActionTrackerId>16027</ActionTrackerId>"
        "<EventDate>2025-01-01T00:00:00Z</EventDate><OrderId>O2</OrderId><ClickId>c</ClickId>\n"
        "  <Items><Item><Sku>B</Sku><Quantity>1</Quantity></Item></Items>\n"
        " </Conversion>\n"
        "</Request>\n",
    )
    code, _, stderr = _invoke("check", sent, "-o", tmp_path / "chk")
    assert code == 2
    assert "sent.xml:3: the field Request/Conversion/Items/Item/Sku holds the element <b>" in (
        stderr
    )


# --------------------------------------------------------------------------- disguised columns

DISGUISES = {
    "fullwidth": ("\uff32\uff45\uff41\uff53\uff4f\uff4e", "'Ｒｅａｓｏｎ'"),
    "left-to-right isolate": ("Reason\u2066", "'Reason\\u2066'"),
    "Arabic letter mark": ("\u061cReason", "'\\u061cReason'"),
    "combining grapheme joiner": ("Rea\u034fson", "'Rea\\u034fson'"),
    "variation selector": ("Reason\ufe0f", "'Reason\\ufe0f'"),
    "Hangul filler": ("Reason\u3164", "'Reason\\u3164'"),
    "halfwidth Hangul filler": ("Reason\uffa0", "'Reason\\uffa0'"),
    "Armenian o": ("Reas\u0585n", "'Reasօn'"),
    "small capital s": ("Rea\ua731on", "'Reaꜱon'"),
    "tag space": ("Reason\U000e0020", "'Reason\\U000e0020'"),
    "tag letters": ("Reason\U000e0078\U000e0079", "'Reason\\U000e0078\\U000e0079'"),
    "mathematical bold R": ("\U0001d411eason", "'𝐑eason'"),
    "Cherokee": ("\u13a1eason", "'Ꭱeason'"),
    "soft hyphen": ("Rea\u00adson", "'Rea\\xadson'"),
    "zero-width joiner": ("Rea\u200dson", "'Rea\\u200dson'"),
    "Greek omicron": ("Reas\u03bfn", "'Reasοn'"),
    "trailing colon": ("Reason:", "'Reason:'"),
    "required-field asterisk": ("Reason*", "'Reason*'"),
}


@pytest.mark.parametrize("disguise", list(DISGUISES), ids=list(DISGUISES))
def test_a_disguised_second_reason_column_with_other_values_is_refused(
    tmp_path: Path, disguise: str
) -> None:
    header, shown = DISGUISES[disguise]
    sent = _write(
        tmp_path / "sent.csv",
        f"{SENT_HEADER},{header}\n"
        "1000.4636.1,,,10.00,USD,,item returned,CONS_FRAUD\n"
        "1000.4636.2,,,0,,,ITEM_RETURNED,ITEM_RETURNED\n",
    )
    results = _write(tmp_path / "results.csv", "Line,ActionId,Message\n3,1000.4636.2,NO_CHANGE\n")
    out = tmp_path / "out"
    code, _, stderr = _invoke("reconcile", sent, results, "-o", out)
    assert code == 2
    assert (
        f"sent.csv:2: columns 'Reason' and {shown} both hold Reason, with different values "
        "('item returned' and 'CONS_FRAUD'); remove or rename one"
    ) in stderr
    assert not out.exists()


def test_a_disguised_twin_with_the_same_values_is_read_and_said(tmp_path: Path) -> None:
    sent = _write(
        tmp_path / "sent.csv",
        f"{SENT_HEADER},Reason\u3164,\uff32\uff45\uff41\uff53\uff4f\uff4e\n"
        "1000.4636.1,,,10.00,USD,,ITEM_RETURNED,ITEM_RETURNED,ITEM_RETURNED\n",
    )
    results = _write(tmp_path / "results.csv", "Line,ActionId,Message\n2,1000.4636.1,NO_CHANGE\n")
    out = tmp_path / "out"
    code, stdout, _ = _invoke("reconcile", sent, results, "-o", out)
    assert code == 1
    flat = " ".join(stdout.split())
    assert "columns 'Reason' and 'Reason\\u3164' both hold Reason, with the same values" in flat
    assert "columns 'Reason' and 'Ｒｅａｓｏｎ' both hold Reason, with the same values" in flat
    assert (
        "column 'Reason\\u3164' is read as 'reason': its header holds invisible characters "
        "(U+3164)" in flat
    )
    assert (
        "column 'Ｒｅａｓｏｎ' is read as 'reason': its header holds letters in another form"
        in (flat)
    )
    # The header row goes back as written.
    assert (
        (out / "reconciled.csv")
        .read_bytes()
        .startswith(f"{SENT_HEADER},Reason\u3164,\uff32\uff45\uff41\uff53\uff4f\uff4e".encode())
    )


MODIFICATION = FIXTURES / "modification_view_errors"


@pytest.mark.parametrize(
    ("results", "message"),
    [
        (
            "Line,Row #,Order Id,Action Tracker Id,Error Type,Message\n"
            "5,4,T52324150109,16027,Validation,ALREADY_LOCKED\n",
            "results.csv:2: columns 'Line' and 'Row #' both hold Line, with different values "
            "('5' and '4'); remove or rename one, or choose one with --map line=COLUMN",
        ),
        (
            "Line,OrderId,Oid,Action Tracker Id,Error Type,Message\n"
            "5,T52324150109,T52324150104,16027,Validation,ALREADY_LOCKED\n",
            "results.csv:2: columns 'OrderId' and 'Oid' both hold OrderId, with different values "
            "('T52324150109' and 'T52324150104'); remove or rename one, or choose one with "
            "--map oid=COLUMN",
        ),
        (
            "Line,Order Id,Action Tracker Id,Error Type,Error Code,Message\n"
            "5,T52324150109,16027,Validation,BAD_DISPOSITION,ALREADY_LOCKED\n",
            "results.csv:2: columns 'Error Code' and 'Message' both hold Error Code, with "
            "different values ('BAD_DISPOSITION' and 'ALREADY_LOCKED'); remove or rename one, or "
            "choose one with --map code=COLUMN",
        ),
        (
            "Line,Order Id,Action Tracker Id,Error Type,\uff2d\uff45\uff53\uff53\uff41\uff47\uff45,"
            "Message\n5,T52324150109,16027,Validation,ALREADY_LOCKED,BAD_DISPOSITION\n",
            "results.csv:2: columns 'Ｍｅｓｓａｇｅ' and 'Message' both hold Error Code, with "
            "different values ('ALREADY_LOCKED' and 'BAD_DISPOSITION')",
        ),
        (
            "Line,Order Id,Action Tracker Id,Error Type,ErrorReason,Error\n"
            "5,T52324150109,16027,Validation,BAD_DISPOSITION,ALREADY_LOCKED\n",
            "results.csv:2: columns 'ErrorReason' and 'Error' both hold Error Code, with "
            "different values ('BAD_DISPOSITION' and 'ALREADY_LOCKED')",
        ),
    ],
)
def test_two_results_columns_for_one_field_with_different_values_are_refused(
    tmp_path: Path, results: str, message: str
) -> None:
    path = _write(tmp_path / "results.csv", results)
    out = tmp_path / "out"
    code, _, stderr = _invoke("reconcile", MODIFICATION / "sent.csv", path, "-o", out)
    assert code == 2
    assert message in stderr
    assert not out.exists()


def test_map_settles_two_code_columns(tmp_path: Path) -> None:
    results = _write(
        tmp_path / "results.csv",
        "Line,Order Id,Action Tracker Id,Error Type,Error Code,Message\n"
        "6,12346,16027,Validation,BAD_DISPOSITION,ALREADY_LOCKED\n",
    )
    out = tmp_path / "out"
    code, _, stderr = _invoke(
        "reconcile", MODIFICATION / "sent.csv", results, "-o", out, "--map", "code=Message"
    )
    assert code == 1, stderr
    table = _csv(out / "reconciled.csv")
    at = {name: i for i, name in enumerate(table[0])}
    codes = {r[at["SourceLine"]]: r[at["ErrorCodes"]] for r in table[1:]}
    assert codes["6"] == "ALREADY_LOCKED"
    resubmit = out / "resubmit.csv"
    assert not resubmit.exists() or "12346" not in resubmit.read_text(encoding="utf-8")


def test_two_results_spellings_with_the_same_values_are_one_column_said(tmp_path: Path) -> None:
    results = _write(
        tmp_path / "results.csv",
        "Line,Row #,Order Id,Action Tracker Id,Error Type,Error Code,Message\n"
        "6,6,12346,16027,Validation,ALREADY_LOCKED,ALREADY_LOCKED\n",
    )
    out = tmp_path / "out"
    code, stdout, stderr = _invoke("reconcile", MODIFICATION / "sent.csv", results, "-o", out)
    assert code == 1, stderr
    flat = " ".join(stdout.split())
    assert "columns 'Line' and 'Row #' both hold Line, with the same values" in flat
    assert "columns 'Error Code' and 'Message' both hold Error Code, with the same values" in flat


# --------------------------------------------------------------------------- swapped arguments

REAL_SENT = (
    f"{SENT_HEADER}\n"
    ",T52324150101,16027,0,,,ITEM_RETURNED\n"
    ",T52324150104,16027,45.00,USD,,ORDER_UPDATE\n"
    "1000.4636.180011,,,0,,,CONS_FRAUD\n"
    ",T52324150109,16027,0,,,ITEM_RETURNED\n"
    ",T52324150112,16027,99.00,USD,,ORDER_UPDATE\n"
    ",00061420,16027,0,,,ORDER_ERROR\n"
)

RESPELLED_RESULTS = {
    "Failure Reason": "Line,Order Id,Action Tracker Id,Failure Reason\n"
    "3,T52324150104,16027,ALREADY_LOCKED\n7,00061420,16027,NO_CHANGE\n",
    "Errors": "Row #,OrderId,ActionTrackerId,Errors\n"
    "3,T52324150104,16027,ALREADY_LOCKED\n7,00061420,16027,NO_CHANGE\n",
    "Result Code": "Line Number,ActionId,Result Code\n4,1000.4636.180011,ALREADY_LOCKED\n",
    "Code": "Line,Oid,ActionTrackerId,Code\n3,T52324150104,16027,ALREADY_LOCKED\n",
    "Status Failed": "OrderId,ActionTrackerId,Status,Message\n"
    "T52324150104,16027,Failed,ALREADY_LOCKED\n00061420,16027,Failed,NO_CHANGE\n",
    "no line": "Oid,ActionTrackerId,Failure Reason\n"
    "T52324150104,16027,ALREADY_LOCKED\n00061420,16027,NO_CHANGE\n",
    "Reason holding codes": "Line,Oid,ActionTrackerId,Reason\n"
    "3,T52324150104,16027,ALREADY_LOCKED\n7,00061420,16027,NO_CHANGE\n",
    "Message holding codes": "Oid,ActionTrackerId,Message\n"
    "T52324150104,16027,Error: ALREADY_LOCKED\n00061420,16027,no change\n",
    "Result Error": "Oid,ActionTrackerId,Result,Message\n"
    "T52324150104,16027,Error,The action is locked\n00061420,16027,Success,\n",
}


@pytest.mark.parametrize("spelling", list(RESPELLED_RESULTS), ids=list(RESPELLED_RESULTS))
def test_results_given_as_sent_are_caught_in_any_spelling_the_reader_takes(
    tmp_path: Path, spelling: str
) -> None:
    sent = _write(tmp_path / "sent.csv", REAL_SENT)
    results = _write(tmp_path / "results.csv", RESPELLED_RESULTS[spelling])
    out = tmp_path / "out"
    code, _, stderr = _invoke("reconcile", results, sent, "-o", out)
    assert code == 2
    assert "results.csv: looks like a results export, not the file that was sent; " in stderr
    assert SWAPPED in stderr
    assert "--force" not in stderr
    assert not out.exists()
    # Given the right way round, the same files reconcile.
    code, _, stderr = _invoke("reconcile", sent, results, "-o", out)
    assert code == 1, stderr


def test_a_respelled_sent_with_status_export_given_as_sent_is_caught(tmp_path: Path) -> None:
    text = (FIXTURES / "sent_with_status" / "results.csv").read_text(encoding="utf-8")
    head, _, body = text.partition("\n")
    assert head.rstrip("\r").endswith(",Status,Error Message")
    respelled = head.replace(",Status,Error Message", ",Result,Failure Reason")
    results = _write(tmp_path / "results.csv", respelled + "\n" + body)
    sent = FIXTURES / "sent_with_status" / "sent.csv"
    out = tmp_path / "out"
    code, _, stderr = _invoke("reconcile", results, sent, "-o", out)
    assert code == 2
    assert SWAPPED in stderr
    code, stdout, stderr = _invoke("reconcile", sent, results, "-o", out)
    assert code == 1, stderr
    assert "15 records sent: 9 accepted" in " ".join(stdout.split())


def test_a_reset_results_export_given_as_sent_is_caught(tmp_path: Path) -> None:
    sent = _write(
        tmp_path / "sent.csv",
        "Oid,ActionTrackerId,Reason\nO9999935,16027,RESET\nO9999941,16027,RESET\n",
    )
    results = _write(
        tmp_path / "results.csv",
        "Order Id,Action Tracker Id,Failure Reason\nO9999935,16027,ALREADY_LOCKED\n",
    )
    code, _, stderr = _invoke("reconcile", results, sent, "-o", tmp_path / "out")
    assert code == 2
    assert SWAPPED in stderr


def test_the_sent_file_given_as_results_is_still_caught(tmp_path: Path) -> None:
    sent = _write(tmp_path / "sent.csv", REAL_SENT)
    copy = _write(tmp_path / "copy.csv", REAL_SENT)
    code, _, stderr = _invoke("reconcile", sent, copy, "-o", tmp_path / "out")
    assert code == 2
    assert "copy.csv: has exactly the sent file's columns" in stderr


@pytest.mark.parametrize(
    "sent",
    [
        # A free-text Message or Code column, and reasons with one error code typed among
        # them, are a sent file's own business.
        "ActionId,Amount,Reason,Message\n1000.4636.1,0,ITEM_RETURNED,customer called\n"
        "1000.4636.2,0,ITEM_RETURNED,\n",
        "ActionId,Amount,Reason,Code\n1000.4636.1,0,ITEM_RETURNED,A7\n1000.4636.2,0,CONS_FRAUD,\n",
        "ActionId,Amount,Reason\n1000.4636.1,0,ITEM_RETURNED\n1000.4636.2,0,ALREADY_LOCKED\n",
        "ActionId,Amount,Reason\n1000.4636.1,0,PARTNER_NOT_ACTIVE\n",
        "Line,ActionId,Amount,Reason\n1,1000.4636.1,0,ITEM_RETURNED\n",
    ],
)
def test_a_sent_file_is_never_taken_for_results(tmp_path: Path, sent: str) -> None:
    path = _write(tmp_path / "sent.csv", sent)
    results = _write(tmp_path / "results.csv", "Line,ActionId,Message\n")
    code, _, stderr = _invoke("reconcile", path, results, "-o", tmp_path / "out")
    assert code in (0, 1), stderr
    assert SWAPPED not in stderr
