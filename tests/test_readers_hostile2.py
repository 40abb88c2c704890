"""Inputs whose records a reader could silently lose or alter: a JSON key given twice, a JSON
object holding two lists of records, XML with records in two places or of two kinds, a
delimited file joined with another export's header (another template, another delimiter),
and an Actions export with two columns for one field.

Each test runs the real command (typer's runner) and asserts what the user sees: the one-line
refusal naming the file and the line, exit code 2 and no outputs; or, where the file is read
whole, every record in the outputs.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from reconciler.cli import app

runner = CliRunner()

SENT_HEADER = "ActionId,Oid,ActionTrackerId,Amount,CurrencyCode,CustomerStatus,Reason"
# T1's reason is not a platform code: a result BAD_DISPOSITION for it is fixed and resubmitted.
SENT = (
    f"{SENT_HEADER}\n"
    ",T1,16027,10.00,USD,,item returned\n"
    ",T2,16027,10.00,USD,,ITEM_RETURNED\n"
    ",T3,16027,10.00,USD,,ITEM_RETURNED\n"
    ",T4,16027,10.00,USD,,ITEM_RETURNED\n"
)
EMPTY_RESULTS = "Line,Order Id,Action Tracker Id,Error Type,Message\n"


def _invoke(*args: object) -> tuple[int, str, str]:
    result = runner.invoke(app, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


def _write(path: Path, text: str) -> Path:
    path.write_bytes(text.encode("utf-8"))
    return path


def _csv(path: Path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))


def _refused(code: int, stderr: str, out: Path) -> str:
    assert code == 2, stderr
    assert stderr.startswith("reconciler: ") and stderr.count("\n") <= 1, stderr
    assert "Traceback" not in stderr
    assert not out.exists()
    return stderr


# --------------------------------------------------------------------------- JSON: a key twice


@pytest.mark.parametrize(
    ("results", "key", "line"),
    [
        # A record's field twice: the last (BAD_DISPOSITION) would hide ALREADY_LOCKED, and the
        # locked action would be resubmitted.
        (
            '{"ErrorDetail":[{"Line":"2","OrderId":"T1","Reason":"ALREADY_LOCKED",'
            '"Reason":"BAD_DISPOSITION"}]}',
            "Reason",
            1,
        ),
        # The list of records twice under one object: the first page would be dropped.
        (
            '{"@page":"1","@numpages":"1",\n'
            ' "ErrorDetail":[{"Line":"2","OrderId":"T1","Reason":"ALREADY_LOCKED"}],\n'
            ' "ErrorDetail":[{"Line":"4","OrderId":"T3","Reason":"BAD_DISPOSITION"}]}',
            "ErrorDetail",
            3,
        ),
        # Pretty-printed: the line is that of the second occurrence.
        (
            '{\n  "ErrorDetail": [\n    {"Line": "2", "OrderId": "T1", "Reason": "ALREADY_LOCKED"},'
            '\n    {"Line": "4",\n     "OrderId": "T3",\n     "Reason": "ALREADY_REVERSED",\n'
            '     "OrderId": "T4"}\n  ]\n}\n',
            "OrderId",
            7,
        ),
        # Deeper: a key twice in a nested object of a record, and the same value twice.
        (
            '{"ErrorDetail":[{"Line":"2","OrderId":"T1","Reason":"ALREADY_LOCKED",'
            '"Detail":{"a":"1","a":"1"}}]}',
            "a",
            1,
        ),
        # In one page of a list of pages.
        (
            '[{"@page":"1","@numpages":"2","ErrorDetail":[{"Line":"2","OrderId":"T1",'
            '"Reason":"ALREADY_LOCKED"}]},\n'
            ' {"@page":"2","@numpages":"2","@page":"3","ErrorDetail":[{"Line":"4",'
            '"OrderId":"T3","Reason":"ALREADY_REVERSED"}]}]',
            "@page",
            2,
        ),
    ],
)
def test_a_json_key_given_twice_is_refused_with_its_line(
    tmp_path: Path, results: str, key: str, line: int
) -> None:
    sent = _write(tmp_path / "sent.csv", SENT)
    given = _write(tmp_path / "results.json", results)
    out = tmp_path / "out"
    stderr = _refused(*_invoke("reconcile", sent, given, "-o", out, "--no-ledger")[::2], out)
    assert f"results.json:{line}: gives the key {key!r} twice in one object" in stderr
    assert "remove one or export the file again" in stderr


def test_a_json_key_given_twice_in_a_sent_file_is_refused_by_check(tmp_path: Path) -> None:
    sent = _write(
        tmp_path / "sent.json",
        '[{"Oid":"T1","ActionTrackerId":"16027","Amount":"0","Reason":"ITEM_RETURNED"},\n'
        ' {"Oid":"T2","Oid":"T9","ActionTrackerId":"16027","Amount":"0",'
        '"Reason":"ITEM_RETURNED"}]\n',
    )
    out = tmp_path / "chk"
    stderr = _refused(*_invoke("check", sent, "-o", out)[::2], out)
    assert "sent.json:2: gives the key 'Oid' twice in one object (the second at column 14)" in (
        stderr
    )


def test_json_without_a_key_twice_reads_as_before(tmp_path: Path) -> None:
    sent = _write(tmp_path / "sent.csv", SENT)
    results = _write(
        tmp_path / "results.json",
        json.dumps(
            {
                "@page": "1",
                "ErrorDetail": [
                    {"Line": "2", "OrderId": "T1", "Reason": "BAD_DISPOSITION"},
                    {"Line": "3", "OrderId": "T2", "Reason": "ALREADY_LOCKED"},
                ],
            }
        ),
    )
    code, _, stderr = _invoke("reconcile", sent, results, "-o", tmp_path / "o", "--no-ledger")
    assert code == 1, stderr
    rows = {r[1]: r for r in _csv(tmp_path / "o" / "resubmit.csv")[1:]}
    assert list(rows) == ["T1"] and rows["T1"][-1] == "ITEM_RETURNED"


# --------------------------------------------------------------------------- JSON: two lists


@pytest.mark.parametrize(
    ("results", "named"),
    [
        (
            '{"ErrorDetail":[{"Line":"2","OrderId":"T1","Reason":"ALREADY_LOCKED"}],\n'
            ' "Errors":[{"Line":"4","OrderId":"T3","Reason":"ALREADY_REVERSED"},'
            '{"Line":"5","OrderId":"T4","Reason":"ALREADY_REVERSED"}]}',
            "('ErrorDetail' and 'Errors')",
        ),
        (  # two keys no export uses: the longest used to win
            '{"Rows":[{"Line":"2","OrderId":"T1","Reason":"ALREADY_LOCKED"}],'
            '"More":[{"Line":"4","OrderId":"T3","Reason":"A"},{"Line":"5","OrderId":"T4",'
            '"Reason":"B"}]}',
            "('Rows' and 'More')",
        ),
        (  # an empty list under the known key beside records under another
            '{"ErrorDetail":[],"Other":[{"Line":"4","OrderId":"T3","Reason":"ALREADY_REVERSED"}]}',
            "('ErrorDetail' and 'Other')",
        ),
        (  # a list beside a nested object holding another
            '{"ErrorDetail":[{"Line":"2","OrderId":"T1","Reason":"ALREADY_LOCKED"}],'
            '"Page2":{"ErrorDetail":[{"Line":"4","OrderId":"T3","Reason":"ALREADY_REVERSED"}]}}',
            "('ErrorDetail' and 'Page2/ErrorDetail')",
        ),
        (  # two nested objects, each holding a list
            '{"a":{"Errors":[{"Line":"2","OrderId":"T1","Reason":"ALREADY_LOCKED"}]},'
            '"b":{"Errors":[{"Line":"4","OrderId":"T3","Reason":"ALREADY_REVERSED"}]}}',
            "('a/Errors' and 'b/Errors')",
        ),
        (  # a second list holding objects among other values
            '{"ErrorDetail":[{"Line":"2","OrderId":"T1","Reason":"ALREADY_LOCKED"}],'
            '"Errors":[{"Line":"4","OrderId":"T3","Reason":"ALREADY_REVERSED"},"x"]}',
            "('ErrorDetail' and 'Errors')",
        ),
    ],
)
def test_json_holding_two_lists_of_records_is_refused(
    tmp_path: Path, results: str, named: str
) -> None:
    sent = _write(tmp_path / "sent.csv", SENT)
    given = _write(tmp_path / "results.json", results)
    out = tmp_path / "out"
    stderr = _refused(*_invoke("reconcile", sent, given, "-o", out, "--no-ledger")[::2], out)
    assert f"results.json: holds several lists of records {named}" in stderr
    assert "give each list as a file of its own" in stderr


@pytest.mark.parametrize(
    "results",
    [
        # A list of strings beside the records is not records.
        '{"ErrorDetail":[{"Line":"3","OrderId":"T2","Reason":"ALREADY_LOCKED"}],'
        '"Warnings":["slow","late"]}',
        # An empty list beside the known key's records loses nothing.
        '{"ErrorDetail":[{"Line":"3","OrderId":"T2","Reason":"ALREADY_LOCKED"}],"Errors":[]}',
    ],
)
def test_json_with_one_list_of_records_is_read(tmp_path: Path, results: str) -> None:
    sent = _write(tmp_path / "sent.csv", SENT)
    given = _write(tmp_path / "results.json", results)
    code, _, stderr = _invoke("reconcile", sent, given, "-o", tmp_path / "o", "--no-ledger")
    assert code == 1, stderr
    outcome = {r[1]: r for r in _csv(tmp_path / "o" / "reconciled.csv")[1:]}
    assert "ALREADY_LOCKED" in ",".join(outcome["T2"])


def test_json_with_two_empty_lists_reads_no_record(tmp_path: Path) -> None:
    sent = _write(tmp_path / "sent.csv", SENT)
    given = _write(tmp_path / "results.json", '{"@total":"0","ErrorDetail":[],"Errors":[]}')
    code, stdout, stderr = _invoke("reconcile", sent, given, "-o", tmp_path / "o", "--no-ledger")
    assert code in (0, 1), stderr
    assert "4 records sent" in stdout


# --------------------------------------------------------------------------- XML records

XML_HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n'
ACTION_1 = (
    "<Action><ActionId>1000.4636.1</ActionId><Amount>10.00</Amount>"
    "<Reason>ITEM_RETURNED</Reason></Action>"
)
ACTION_2 = (
    "<Action><ActionId>1000.4636.2</ActionId><Amount>11.00</Amount>"
    "<Reason>ITEM_RETURNED</Reason></Action>"
)


def test_xml_records_split_in_two_lists_are_all_read(tmp_path: Path) -> None:
    sent = _write(
        tmp_path / "sent.xml",
        f"{XML_HEAD}<Root>\n  <Actions>\n    {ACTION_1}\n  </Actions>\n"
        f"  <Actions>\n    {ACTION_2}\n  </Actions>\n</Root>\n",
    )
    results = _write(
        tmp_path / "results.csv",
        "Line,Action Id,Error Type,Message\n7,1000.4636.2,Validation,ALREADY_LOCKED\n",
    )
    out = tmp_path / "out"
    code, stdout, stderr = _invoke("reconcile", sent, results, "-o", out, "--no-ledger")
    assert code == 1, stderr
    assert "2 records sent: 1 accepted" in stdout
    rows = _csv(out / "reconciled.csv")
    header = rows[0]
    got = {r[header.index("ActionId")]: r for r in rows[1:]}
    assert set(got) == {"1000.4636.1", "1000.4636.2"}
    assert got["1000.4636.2"][header.index("SourceLine")] == "7"
    assert "ALREADY_LOCKED" in ",".join(got["1000.4636.2"])
    code, stdout, _ = _invoke("check", sent, "-o", tmp_path / "chk")
    assert "2 records checked" in stdout


@pytest.mark.parametrize(
    ("body", "fragment", "line"),
    [
        (  # a record of another tag among the records
            f"<Actions>\n  {ACTION_1}\n  {ACTION_2}\n"
            "  <Reversal><Oid>T9</Oid><ActionTrackerId>16027</ActionTrackerId><Amount>0</Amount>"
            "<Reason>ITEM_RETURNED</Reason></Reversal>\n</Actions>\n",
            "holds <Reversal> records (Actions/Reversal at line 5) among the <Action> records "
            "(Actions/Action at line 3)",
            5,
        ),
        (  # two kinds of record in two lists
            f"<Root>\n  <Actions>\n    {ACTION_1}\n    {ACTION_2}\n  </Actions>\n"
            "  <Conversions>\n"
            + "".join(
                f"    <Conversion><CampaignId>1000</CampaignId><ActionTrackerId>16027"
                f"</ActionTrackerId><OrderId>O{i}</OrderId><Amount>5.00</Amount></Conversion>\n"
                for i in range(3)
            )
            + "  </Conversions>\n</Root>\n",
            "holds <Action> records (Root/Actions/Action at line 4) beside the <Conversion> "
            "records (Root/Conversions/Conversion at line 8)",
            4,
        ),
        (  # a lone record outside the list
            f"<Root>\n  <Actions>\n    {ACTION_1}\n    {ACTION_2}\n  </Actions>\n"
            "  <Reversal><Oid>T9</Oid><ActionTrackerId>16027</ActionTrackerId>"
            "<Amount>0</Amount></Reversal>\n</Root>\n",
            "holds <Reversal> records (Root/Reversal at line 7) beside the <Action> records",
            7,
        ),
        (  # the same tag in two lists that differ (two batches, two pages)
            f'<Root>\n  <Actions page="1">\n    {ACTION_1}\n  </Actions>\n'
            f'  <Actions page="2">\n    {ACTION_2}\n  </Actions>\n</Root>\n',
            "holds <Action> records in two places that differ (Root/Actions at line 4 and "
            "Root/Actions at line 7)",
            7,
        ),
        (  # the same tag at another place
            f"<Root>\n  <Actions>\n    {ACTION_1}\n    {ACTION_2}\n  </Actions>\n"
            f"  <Archive><Actions>{ACTION_1}</Actions></Archive>\n</Root>\n",
            "holds <Action> records in two places that differ (Root/Actions at line 4 and "
            "Root/Archive/Actions at line 7)",
            7,
        ),
    ],
)
def test_xml_records_of_two_kinds_or_places_are_refused(
    tmp_path: Path, body: str, fragment: str, line: int
) -> None:
    sent = _write(tmp_path / "sent.xml", XML_HEAD + body)
    results = _write(tmp_path / "results.csv", EMPTY_RESULTS)
    out = tmp_path / "out"
    stderr = _refused(*_invoke("reconcile", sent, results, "-o", out, "--no-ledger")[::2], out)
    assert f"sent.xml:{line}: {fragment}" in stderr
    assert "reading one" in stderr and "as a file of its own" in stderr
    chk = tmp_path / "chk"
    stderr = _refused(*_invoke("check", sent, "-o", chk)[::2], chk)
    assert f"sent.xml:{line}: {fragment}" in stderr


def test_xml_metadata_beside_the_records_is_not_a_record(tmp_path: Path) -> None:
    # A block of paging fields, and a wrapper naming its batch, hold no action: not records.
    sent = _write(
        tmp_path / "sent.xml",
        f"{XML_HEAD}<Root>\n  <Meta><Page>1</Page><Total>2</Total></Meta>\n"
        f"  <Batch><BatchId>B1</BatchId>\n    <Actions>{ACTION_1}{ACTION_2}</Actions>\n"
        "  </Batch>\n</Root>\n",
    )
    results = _write(tmp_path / "results.csv", EMPTY_RESULTS)
    code, stdout, stderr = _invoke("reconcile", sent, results, "-o", tmp_path / "o", "--no-ledger")
    assert code == 0, stderr
    assert "2 records sent: 2 accepted" in stdout


@pytest.mark.parametrize(
    ("name", "data", "fragment"),
    [
        (
            "sent.xml",
            f"{XML_HEAD}<Actions>\n{ACTION_1}\n</Actions>\n{XML_HEAD}<Actions>\n{ACTION_2}\n"
            "</Actions>\n",
            "is not well-formed XML",
        ),
        ("sent.json", '[{"ActionId":"1000.4636.1","Amount":"1",}]', "is not valid JSON"),
    ],
)
def test_a_malformed_sent_file_is_not_called_results(
    tmp_path: Path, name: str, data: str, fragment: str
) -> None:
    sent = _write(tmp_path / name, data)
    results = _write(tmp_path / "results.csv", EMPTY_RESULTS)
    out = tmp_path / "out"
    stderr = _refused(*_invoke("reconcile", sent, results, "-o", out, "--no-ledger")[::2], out)
    assert fragment in stderr and "fix the file or export it again" in stderr
    assert "results" not in stderr.replace(str(results), "")


# --------------------------------------------------------------------------- joined exports

ONE_TEMPLATE = "ActionId,Amount,CurrencyCode,Reason\n1000.4636.1,10.00,USD,ITEM_RETURNED\n"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (  # another template's header
            ONE_TEMPLATE + "Oid,ActionTrackerId,Amount,Reason\nT2,16027,10.00,ITEM_RETURNED\n",
            "holds the header row of another export here ('Oid', 'ActionTrackerId', 'Amount', "
            "'Reason')",
        ),
        (  # a results export's header, spelled another way
            ONE_TEMPLATE + "line,order_id,ACTION TRACKER ID,Error Code\n2,T2,16027,x\n",
            "holds the header row of another export here",
        ),
        (  # an Actions export's header
            ONE_TEMPLATE + "Action Id,Oid,State,Locking Date\n1000.4636.2,T2,PENDING,\n",
            "holds the header row of another export here",
        ),
        (  # a look-alike letter in the other header
            ONE_TEMPLATE + "\u041eid,ActionTrackerId,Amount,Reason\nT2,16027,10.00,X\n",
            "holds the header row of another export here",
        ),
        (  # a shorter header: blank cells do not hide it
            ONE_TEMPLATE + "Oid,ActionTrackerId,,\nT2,16027,10.00,ITEM_RETURNED\n",
            "holds the header row of another export here ('Oid', 'ActionTrackerId')",
        ),
    ],
)
def test_a_header_of_another_export_mid_file_is_refused(
    tmp_path: Path, text: str, fragment: str
) -> None:
    sent = _write(tmp_path / "sent.csv", text)
    results = _write(tmp_path / "results.csv", EMPTY_RESULTS)
    out = tmp_path / "out"
    stderr = _refused(*_invoke("reconcile", sent, results, "-o", out, "--no-ledger")[::2], out)
    assert f"sent.csv:3: {fragment}" in stderr
    chk = tmp_path / "chk"
    stderr = _refused(*_invoke("check", sent, "-o", chk)[::2], chk)
    assert f"sent.csv:3: {fragment}" in stderr


@pytest.mark.parametrize(
    ("text", "delimiter"),
    [
        (
            "ActionId;Amount;CurrencyCode;Reason\n1000.4636.1;10.00;USD;ITEM_RETURNED\n"
            "ActionId,Amount,CurrencyCode,Reason\n1000.4636.2;10.00;USD;ITEM_RETURNED\n",
            ",",
        ),
        (
            "ActionId,Amount,CurrencyCode,Reason\n1000.4636.1,10.00,USD,ITEM_RETURNED\n"
            "Oid;ActionTrackerId;Amount;Reason\n1000.4636.2,10.00,USD,ITEM_RETURNED\n",
            ";",
        ),
        (
            "ActionId,Amount,CurrencyCode,Reason\n1000.4636.1,10.00,USD,ITEM_RETURNED\n"
            "ActionId\tAmount\tCurrencyCode\tReason\n1000.4636.2,10.00,USD,ITEM_RETURNED\n",
            "\t",
        ),
        (
            "ActionId|Amount|CurrencyCode|Reason\n1000.4636.1|10.00|USD|ITEM_RETURNED\n"
            "\ufeffOid,ActionTrackerId,Amount,Reason\n1000.4636.2|10.00|USD|ITEM_RETURNED\n",
            ",",
        ),
    ],
)
def test_a_header_with_another_delimiter_mid_file_is_refused(
    tmp_path: Path, text: str, delimiter: str
) -> None:
    sent = _write(tmp_path / "sent.csv", text)
    results = _write(tmp_path / "results.csv", EMPTY_RESULTS)
    out = tmp_path / "out"
    stderr = _refused(*_invoke("reconcile", sent, results, "-o", out, "--no-ledger")[::2], out)
    assert f"sent.csv:3: holds a header row written with {delimiter!r} here" in stderr
    assert "two exports with different delimiters joined into one file?" in stderr


def test_a_workbook_holding_another_exports_header_is_refused(tmp_path: Path) -> None:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["ActionId", "Amount", "CurrencyCode", "Reason"])
    sheet.append(["1000.4636.1", "10.00", "USD", "ITEM_RETURNED"])
    sheet.append(["Oid", "ActionTrackerId", "Amount", "Reason"])
    sheet.append(["T2", "16027", "10.00", "ITEM_RETURNED"])
    book.save(tmp_path / "sent.xlsx")
    results = _write(tmp_path / "results.csv", EMPTY_RESULTS)
    out = tmp_path / "out"
    stderr = _refused(
        *_invoke("reconcile", tmp_path / "sent.xlsx", results, "-o", out, "--no-ledger")[::2],
        out,
    )
    assert "sent.xlsx:3: holds the header row of another export here" in stderr


def test_a_results_file_joined_with_another_results_header_is_refused(tmp_path: Path) -> None:
    sent = _write(tmp_path / "sent.csv", SENT)
    results = _write(
        tmp_path / "results.csv",
        EMPTY_RESULTS + "2,T1,16027,Validation,ALREADY_LOCKED\n"
        "BatchId;TotalRecords;TotalErrors\n3,T2,16027,Validation,ALREADY_LOCKED\n",
    )
    out = tmp_path / "out"
    stderr = _refused(*_invoke("reconcile", sent, results, "-o", out, "--no-ledger")[::2], out)
    assert "results.csv:3: holds a header row written with ';' here" in stderr


@pytest.mark.parametrize(
    "row",
    [
        ",Oid,16027,0,,Reason,ITEM_RETURNED",  # two header words among data
        ",Error,,,,Amount,",  # everyday words only
        ',"Order Id, Amount",16027,0,,,ITEM_RETURNED',  # a quoted value with a comma
        ",SKU1,16027,0,,,SKU2",  # item-like values
    ],
)
def test_data_that_holds_header_words_is_read(tmp_path: Path, row: str) -> None:
    sent = _write(tmp_path / "sent.csv", f"{SENT_HEADER}\n{row}\n,T2,16027,0,,,ITEM_RETURNED\n")
    results = _write(tmp_path / "results.csv", EMPTY_RESULTS)
    code, stdout, stderr = _invoke("reconcile", sent, results, "-o", tmp_path / "o", "--no-ledger")
    assert code in (0, 1), stderr
    assert "2 records sent" in stdout


# --------------------------------------------------------------------------- Actions twins

ACTIONS_SENT = (
    f"{SENT_HEADER}\n,12346,16027,10.00,USD,,ITEM_RETURNED\n"
    ",1.23457E+11,16027,10.00,USD,,ITEM_RETURNED\n"
)
ACTIONS_RESULTS = (
    "Line,Order Id,Action Tracker Id,Error Type,Message\n"
    "2,12346,16027,Validation,ACTION_NOT_FOUND\n"
    "3,1.23457E+11,16027,Validation,ACTION_NOT_FOUND\n"
)
DATES = "2026-10-03T10:02:00-04:00,2030-01-15T00:00:00-05:00"


@pytest.mark.parametrize(
    ("header", "rows", "fragment"),
    [
        (
            "Action Id,Oid,Action Tracker Id,Campaign Id,State,Status,Amount,Currency,"
            "Event Date,Locking Date",
            (
                f"1000.4636.1,00012346,16027,1000,PENDING,LOCKED,29.99,USD,{DATES}",
                f"1000.4636.2,123456789012,16027,1000,PENDING,REVERSED,29.99,USD,{DATES}",
            ),
            "actions.csv:2: columns 'State' and 'Status' both hold State, with different "
            "values ('PENDING' and 'LOCKED')",
        ),
        (
            "Action Id,Oid,Order Id,Action Tracker Id,Campaign Id,State,Amount,Currency,"
            "Event Date,Locking Date",
            (
                f"1000.4636.1,00012346,99912346,16027,1000,PENDING,29.99,USD,{DATES}",
                f"1000.4636.2,123456789012,999456789012,16027,1000,PENDING,29.99,USD,{DATES}",
            ),
            "actions.csv:2: columns 'Oid' and 'Order Id' both hold Oid, with different "
            "values ('00012346' and '99912346')",
        ),
        (
            "Action Id,ActionId,Oid,Action Tracker Id,Campaign Id,State,Amount,Currency,"
            "Event Date,Locking Date",
            (
                f"1000.4636.1,1000.4636.9,00012346,16027,1000,PENDING,29.99,USD,{DATES}",
                f"1000.4636.2,1000.4636.2,123456789012,16027,1000,PENDING,29.99,USD,{DATES}",
            ),
            "actions.csv:2: columns 'Action Id' and 'ActionId' both hold Action Id",
        ),
        (  # the same name twice, differing only on the second row
            "Action Id,Oid,Action Tracker Id,State,Locking Date,Locking Date",
            (
                "1000.4636.1,00012346,16027,PENDING,2030-01-15,2030-01-15",
                "1000.4636.2,123456789012,16027,PENDING,2030-01-15,2020-01-15",
            ),
            "actions.csv:3: two columns 'Locking Date' both hold Locking Date",
        ),
    ],
)
def test_actions_export_with_two_columns_for_one_field_is_refused(
    tmp_path: Path, header: str, rows: tuple[str, ...], fragment: str
) -> None:
    sent = _write(tmp_path / "sent.csv", ACTIONS_SENT)
    results = _write(tmp_path / "results.csv", ACTIONS_RESULTS)
    actions = _write(tmp_path / "actions.csv", header + "\n" + "\n".join(rows) + "\n")
    out = tmp_path / "out"
    stderr = _refused(
        *_invoke("reconcile", sent, results, "--actions", actions, "-o", out, "--no-ledger")[::2],
        out,
    )
    assert fragment in stderr and "remove or rename one" in stderr
    chk = tmp_path / "chk"
    stderr = _refused(*_invoke("check", sent, "--actions", actions, "-o", chk)[::2], chk)
    assert fragment in stderr


@pytest.mark.parametrize(
    "header",
    [
        # The same values under two names: one column said twice.
        "Action Id,Oid,Order Id,Action Tracker Id,State,Status,Locking Date",
        # EventDate and CreationDate are two fields of an action, not one said twice.
        "Action Id,Oid,Order Id,Action Tracker Id,State,Status,Locking Date,Event Date,"
        "Creation Date",
    ],
)
def test_actions_export_with_the_same_values_twice_is_read(tmp_path: Path, header: str) -> None:
    sent = _write(tmp_path / "sent.csv", ACTIONS_SENT)
    results = _write(tmp_path / "results.csv", ACTIONS_RESULTS)
    dates = ",2026-10-03T10:02:00-04:00,2026-09-01T00:00:00-04:00" if "Creation" in header else ""
    actions = _write(
        tmp_path / "actions.csv",
        f"{header}\n"
        f"1000.4636.1,00012346,00012346,16027,PENDING,PENDING,2030-01-15{dates}\n"
        f"1000.4636.2,123456789012,123456789012,16027,PENDING,PENDING,2030-01-15{dates}\n",
    )
    out = tmp_path / "out"
    code, _, stderr = _invoke(
        "reconcile", sent, results, "--actions", actions, "-o", out, "--no-ledger"
    )
    assert code == 1, stderr
    oids = [r[1] for r in _csv(out / "resubmit.csv")[1:]]
    assert oids == ["00012346", "123456789012"]
    warnings = json.loads((out / "summary.json").read_text(encoding="utf-8"))["warnings"]
    said = [w for w in warnings if w.startswith("--actions: ")]
    assert any("'Oid' and 'Order Id'" in w for w in said), warnings
