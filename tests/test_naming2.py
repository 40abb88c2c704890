"""Every identifier and every number a template sends is judged alike by ``check`` and by the
resubmission ``reconcile`` writes; and a file given in the wrong place is refused.

End to end through the CLI:

- An item that names no Sku, a Sku, CustomerId, ClickId or other ID that is a placeholder
  (``NULL``, ``-``), invisible characters or look-alike digits, and a Quantity or amount that
  is not plain ASCII digits (``١``, ``1,0``, ``$64.00``) are never resubmitted: the record goes
  to needs-attention.csv with the cell named. ``check`` finds exactly the records
  ``reconcile`` refuses.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from typer.testing import CliRunner

from reconciler.cli import app

runner = CliRunner()


def _invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def _write_csv(path: Path, header: list[str], rows: list[list[str]], delimiter: str = ",") -> Path:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n", delimiter=delimiter)
    writer.writerow(header)
    writer.writerows(rows)
    path.write_bytes(buf.getvalue().encode("utf-8"))
    return path


def _results(path: Path, codes: list[str]) -> Path:
    """Results naming every line from 2 on by line only, with ``codes``."""
    rows = [[str(2 + i), "Validation", code] for i, code in enumerate(codes)]
    return _write_csv(path, ["Line", "Error Type", "Message"], rows)


def _rows(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def _reconcile(tmp_path: Path, sent: Path, results: Path, *extra: str) -> tuple[int, Path]:
    out = tmp_path / "out"
    code, _stdout, stderr = _invoke(
        "reconcile",
        str(sent),
        str(results),
        "--out",
        str(out),
        "--no-report",
        "--no-xlsx",
        "--no-ledger",
        *extra,
    )
    assert code in (0, 1), stderr
    return code, out


def _check(tmp_path: Path, sent: Path, *extra: str) -> tuple[int, list[dict[str, str]]]:
    out = tmp_path / "chk"
    code, _stdout, stderr = _invoke(
        "check", str(sent), "--out", str(out), "--today", "2025-02-20", *extra
    )
    assert code in (0, 1), stderr
    return code, _rows(out / "check.csv")


def _attention(out: Path) -> dict[int, dict[str, str]]:
    return {int(r["SourceLine"]): r for r in _rows(out / "needs-attention.csv")}


def _resubmitted(out: Path, key: str) -> list[str]:
    return [r[key] for r in _rows(out / "resubmit.csv")]


# The findings on the cells this judgement covers (the others, such as the Reason's spelling,
# are what the fix rules correct).
CELL_FINDINGS = frozenset(
    {
        "id-placeholder",
        "id-odd-characters",
        "id-cell-unreadable",
        "cell-unreadable",
        "item-sku-missing",
        "item-incomplete",
        "not-an-integer",
        "amount-not-a-number",
        "amount-negative",
        "amount-too-many-decimals",
        "amount-too-large",
        "amount-decimal-comma",
    }
)


def _error_lines(findings: list[dict[str, str]]) -> set[int]:
    return {
        int(r["SourceLine"])
        for r in findings
        if r["Severity"] == "error" and r["Finding"] in CELL_FINDINGS
    }


def _findings(findings: list[dict[str, str]]) -> set[tuple[int, str, str]]:
    return {(int(r["SourceLine"]), r["Column"], r["Finding"]) for r in findings}


# ------------------------------------------------------------------ item-level modification

ITEM_HEADER = [
    "ActionId",
    "Oid",
    "ActionTrackerId",
    "Sku1",
    "Quantity1",
    "Amount1",
    "Category1",
    "Sku2",
    "Quantity2",
    "Amount2",
    "Reason",
]
ITEM_ROWS = [
    ["", "T1", "16027", "#N/A", "1", "499.99", "Metalworking", "", "", "", "item returned"],
    ["", "T2", "16027", "79369127", "0", "0", "Metalworking", "", "2", "59.98", "item returned"],
    [
        "",
        "T3",
        "16027",
        "79369127",
        "1",
        "1.0",
        "Metalworking",
        "80114455",
        "١",
        "59.98",
        "item returned",
    ],
    [
        "",
        "T4",
        "16027",
        "79369127",
        "1",
        "499.99",
        "Metalworking",
        "80114455",
        "2",
        "59.98",
        "item returned",
    ],
    [
        "",
        "T5",
        "16027",
        "79369127",
        "1",
        "499.99",
        "Metalworking",
        "NULL",
        "2",
        "59.98",
        "item returned",
    ],
    ["", "T6", "16027", "\u200b", "1", "499.99", "Metalworking", "", "", "", "item returned"],
    ["", "T7", "16027", "79369127", "1", "499.99", "Metalworking", "-", "", "", "item returned"],
    ["", "T8", "16027", "79369127", "1,0", "499.99", "Metalworking", "", "", "", "item returned"],
    [
        "",
        "T9",
        "16027",
        "79369127",
        "1",
        "499.99",
        "Metalworking",
        "８０１１",
        "1",
        "5.00",
        "item returned",
    ],
    [
        "",
        "T10",
        "16027",
        "79369127",
        "1",
        "499.99",
        "Metalworking",
        "80114455",
        "",
        "59.98",
        "item returned",
    ],
    ["", "T11", "16027", "79369127", "２", "499.99", "Metalworking", "", "", "", "item returned"],
    ["", "T12", "16027", "79369127", "1", "$499.99", "Metalworking", "", "", "", "item returned"],
]
# line -> (the cell needs-attention names, words its advice holds)
ITEM_REFUSED = {
    2: ("Sku1", "spreadsheet error #n/a"),
    3: ("Sku2", "item 2 has values but no sku2"),
    4: ("Quantity2", "quantity2 '١' is not a whole number in ascii digits"),
    6: ("Sku2", "'null', a placeholder"),
    7: ("Sku1", "only invisible characters (u+200b"),
    8: ("Sku2", "'-', a placeholder"),
    9: ("Quantity1", "quantity1 '1,0' is not a whole number"),
    10: ("Sku2", "holds characters impact.com's ids do not"),
    11: ("Quantity2", "item 2 has a sku but no quantity2"),
    12: ("Quantity1", "quantity1 '２' is not a whole number"),
    13: ("Amount1", "amount1 '$499.99' is not a plain amount"),
}


def test_item_modification_resubmits_only_items_that_name_their_sku_in_plain_values(
    tmp_path: Path,
) -> None:
    sent = _write_csv(tmp_path / "items.csv", ITEM_HEADER, ITEM_ROWS)
    results = _results(tmp_path / "results.csv", ["BAD_DISPOSITION"] * len(ITEM_ROWS))
    code, out = _reconcile(tmp_path, sent, results)
    assert code == 1
    assert _resubmitted(out, "Oid") == ["T4"]
    attention = _attention(out)
    assert set(attention) == set(ITEM_REFUSED)
    for line, (cell, words) in ITEM_REFUSED.items():
        row = attention[line]
        assert row["Resolution"] == "fix_manually", line
        assert cell in row["CellsToFix"].split(";"), (line, row["CellsToFix"])
        assert words in row["Advice"].lower(), (line, row["Advice"])
    # The Reason the rule would correct is still said, and never written for these records.
    assert "reconciler would also correct Reason" in attention[6]["Advice"]


def test_check_predicts_exactly_the_item_records_reconcile_refuses(tmp_path: Path) -> None:
    sent = _write_csv(tmp_path / "items.csv", ITEM_HEADER, ITEM_ROWS)
    code, findings = _check(tmp_path, sent)
    assert code == 1
    assert _error_lines(findings) == set(ITEM_REFUSED)
    found = _findings(findings)
    assert (6, "Sku2", "id-placeholder") in found
    assert (7, "Sku1", "id-placeholder") in found
    assert (8, "Sku2", "id-placeholder") in found
    assert (10, "Sku2", "id-odd-characters") in found
    assert (4, "Quantity2", "not-an-integer") in found
    # A placeholder Sku is one finding: not also an item without its Quantity.
    assert not {f for f in found if f[0] == 8 and f[2] == "item-incomplete"}


# ------------------------------------------------------------------ conversions

ICONV_HEADER = [
    "CampaignId",
    "ActionTrackerId",
    "EventDate",
    "OrderId",
    "ClickId",
    "CustomerId",
    "CurrencyCode",
    "Amount",
    "Category",
    "Sku",
    "Quantity",
]
_DATE = "2025-02-10T10:15:07"


def _iconv(order: str, *, sku: str = "80114455", qty: str = "2", **cells: str) -> list[str]:
    row = {
        "CampaignId": "1000",
        "ActionTrackerId": "16027",
        "EventDate": _DATE,
        "OrderId": order,
        "ClickId": "c" + order,
        "CustomerId": "C" + order,
        "CurrencyCode": "USD",
        "Amount": "59.98",
        "Category": "Tools",
        "Sku": sku,
        "Quantity": qty,
    }
    row.update(cells)
    return [row[h] for h in ICONV_HEADER]


ICONV_ROWS = [
    _iconv("O1", sku="NULL"),
    _iconv("O2", sku="\u200b"),
    _iconv("O3", qty="٢"),
    _iconv("O4", sku="-"),
    _iconv("O5"),
    _iconv("O6", sku=""),
    _iconv("O7", sku="801١4455"),
    _iconv("O8", CustomerId="NULL"),
    _iconv("O9", ClickId="\u2060"),
    _iconv("O10", Amount="59,98"),  # MALFORMED: the rule corrects it
    _iconv("O11", CampaignId="１０００"),
]
ICONV_REFUSED = {
    2: "Sku",
    3: "Sku",
    4: "Quantity",
    5: "Sku",
    7: "Sku",
    8: "Sku",
    9: "CustomerId",
    10: "ClickId",
    12: "CampaignId",
}


def test_item_conversion_never_resubmits_an_item_or_id_naming_nothing(tmp_path: Path) -> None:
    sent = _write_csv(tmp_path / "iconv.csv", ICONV_HEADER, ICONV_ROWS)
    # MALFORMED, with the EventDate's missing offset the rule can correct.
    results = _results(tmp_path / "results.csv", ["MALFORMED"] * len(ICONV_ROWS))
    code, out = _reconcile(tmp_path, sent, results, "--timezone", "America/New_York")
    assert code == 1
    resubmitted = _rows(out / "resubmit.csv")
    assert [(r["OrderId"], r["Amount"]) for r in resubmitted] == [("O5", "59.98"), ("O10", "59.98")]
    attention = _attention(out)
    assert set(attention) == set(ICONV_REFUSED)
    for line, cell in ICONV_REFUSED.items():
        assert cell in attention[line]["CellsToFix"].split(";"), (line, attention[line])
    assert "no item" in attention[7]["Advice"]
    # A value the rule itself refuses is said once, in the rule's words.
    assert attention[4]["Advice"].count("'٢'") == 1

    # check judges the file as sent: line 11's Amount is found too (the platform said
    # MALFORMED, and reconcile corrects it).
    code, findings = _check(tmp_path, sent, "--timezone", "America/New_York")
    assert _error_lines(findings) == set(ICONV_REFUSED) | {11}


CHAINED_HEADER = [
    "CampaignId",
    "ActionTrackerId",
    "CustomerId",
    "OrderId",
    "EventDate",
    "Amount",
    "CurrencyCode",
    "ClickId",
    "MediaPartnerId",
]
CHAINED_ROWS = [
    ["1000", "45678", "#N/A", "SU-1", _DATE, "0", "USD", "Ry4k", ""],
    ["1000", "12345", "NULL", "4051", _DATE, "74.50", "USD", "", ""],
    ["1000", "12345", "\u200b", "4052", _DATE, "74.50", "USD", "", ""],
    ["1000", "12345", "R523", "4053", _DATE, "74.50", "USD", "", ""],
    ["1000", "12345", "R524", "4054", _DATE, "74.50", "USD", "", "(null)"],
    ["1000", "12345", "R525", "4055", _DATE, "74.50", "USD", "", "٣٤٥"],
    ["1000", "12345", "R526", "4056", _DATE, "74.50", "USD", "N/A", ""],
    ["1000", "12345", "R527", "4057", _DATE, "74.50", "USD", "", "345"],
]
CHAINED_REFUSED = {
    2: "CustomerId",
    3: "CustomerId",
    4: "CustomerId",
    6: "MediaPartnerId",
    7: "MediaPartnerId",
    8: "ClickId",
}


def test_conversion_never_resubmits_a_customer_or_click_id_naming_nothing(
    tmp_path: Path,
) -> None:
    sent = _write_csv(tmp_path / "chained.csv", CHAINED_HEADER, CHAINED_ROWS)
    results = _results(tmp_path / "results.csv", ["MALFORMED"] * len(CHAINED_ROWS))
    code, out = _reconcile(tmp_path, sent, results, "--timezone", "America/New_York")
    assert code == 1
    assert _resubmitted(out, "OrderId") == ["4053", "4057"]
    attention = _attention(out)
    assert set(attention) == set(CHAINED_REFUSED)
    for line, cell in CHAINED_REFUSED.items():
        assert cell in attention[line]["CellsToFix"].split(";"), (line, attention[line])
    assert "'NULL', a placeholder" in attention[3]["Advice"]
    assert "U+200B ZERO WIDTH SPACE" in attention[4]["Advice"]

    code, findings = _check(tmp_path, sent, "--timezone", "America/New_York")
    assert _error_lines(findings) == set(CHAINED_REFUSED)


# ------------------------------------------------------------------ numbers after the rules

MOD_HEADER = ["ActionId", "Oid", "ActionTrackerId", "Amount", "CurrencyCode", "Reason"]


def test_numbers_are_judged_once_the_rules_have_corrected_them(tmp_path: Path) -> None:
    """A spoiled ActionTrackerId on a record whose code corrects it (MALFORMED) is resubmitted
    corrected; the same value on a record whose code corrects only the Reason is refused,
    naming the cell and what to write."""
    rows = [
        ["", "T1", "16027.0", "64.00", "USD", "ITEM_RETURNED"],
        ["", "T2", "16027.0", "64.00", "USD", "item returned"],
        ["", "T3", "16027", "$64.00", "USD", "item returned"],
        ["", "T4", "16027", "-5.00", "USD", "item returned"],
        ["", "T5", "16027", "64.00", "USD", "item returned"],
        ["", "T6", "16027", "1000000.00", "USD", "item returned"],
    ]
    sent = _write_csv(tmp_path / "mods.csv", MOD_HEADER, rows)
    codes = ["MALFORMED"] + ["BAD_DISPOSITION"] * 5
    results = _results(tmp_path / "results.csv", codes)
    code, out = _reconcile(tmp_path, sent, results)
    assert code == 1
    resubmitted = _rows(out / "resubmit.csv")
    assert [(r["Oid"], r["ActionTrackerId"], r["Reason"]) for r in resubmitted] == [
        ("T1", "16027", "ITEM_RETURNED"),
        ("T5", "16027", "ITEM_RETURNED"),
    ]
    attention = _attention(out)
    assert set(attention) == {3, 4, 5, 7}
    assert "ActionTrackerId" in attention[3]["CellsToFix"].split(";")
    assert "write 16027" in attention[3]["Advice"]
    assert "Amount" in attention[4]["CellsToFix"].split(";")
    assert "write 64.00" in attention[4]["Advice"]
    assert "'-5.00' is not a plain amount" in attention[5]["Advice"]
    assert "'1000000.00' is not a plain amount" in attention[7]["Advice"]

    _code, findings = _check(tmp_path, sent)
    # check judges the file as sent: line 2's ActionTrackerId is found too (MALFORMED is what
    # the platform said; reconcile corrects it).
    assert _error_lines(findings) == {2, 3, 4, 5, 7}


def test_a_decimal_comma_in_a_semicolon_file_is_a_warning_and_is_resubmitted(
    tmp_path: Path,
) -> None:
    rows = [["", "T1", "16027", "64,00", "USD", "item returned"]]
    sent = _write_csv(tmp_path / "mods.csv", MOD_HEADER, rows, delimiter=";")
    results = _results(tmp_path / "results.csv", ["BAD_DISPOSITION"])
    _code, out = _reconcile(tmp_path, sent, results)
    assert _resubmitted(out, "Oid") == ["T1"]
    _code, findings = _check(tmp_path, sent)
    assert _error_lines(findings) == set()
    assert (2, "Amount", "amount-decimal-comma") in _findings(findings)


def test_plain_items_and_ids_are_resubmitted(tmp_path: Path) -> None:
    """IDs that only look like placeholders (NA123, -5, NULL-7), letters of other scripts in
    a Sku or a CustomerId, and an item reversed with 0 are fine."""
    rows = [
        ["", "T1", "16027", "NA123", "1", "499.99", "M", "-5", "0", "0", "item returned"],
        ["", "T2", "16027", "NULL-7", "1", "499.99", "M", "ÜBER-1", "2", "59.98", "item returned"],
    ]
    sent = _write_csv(tmp_path / "items.csv", ITEM_HEADER, rows)
    results = _results(tmp_path / "results.csv", ["BAD_DISPOSITION"] * 2)
    _code, out = _reconcile(tmp_path, sent, results)
    assert _resubmitted(out, "Oid") == ["T1", "T2"]
    assert _attention(out) == {}
    _code, findings = _check(tmp_path, sent)
    assert _error_lines(findings) == set()


# ------------------------------------------------------------------ files in the wrong place

SENT_HEADER = [
    "ActionId",
    "Oid",
    "ActionTrackerId",
    "Amount",
    "CurrencyCode",
    "CustomerStatus",
    "Reason",
]
SENT_ROWS = [
    ["", "T52324150101", "16027", "0", "", "", "ITEM_RETURNED"],
    ["", "T52324150104", "16027", "45.00", "USD", "", "ORDER_UPDATE"],
    ["1000.4636.180011", "", "", "0", "", "", "CONS_FRAUD"],
    ["", "T52324150109", "16027", "0", "", "", "ITEM_RETURNED"],
    ["", "00061420", "16027", "0", "", "", "ORDER_ERROR"],
    ["", "T52324150131", "16031", "0", "", "", "TEST_ACTION"],
    ["1000.4636.180062", "", "", "0", "", "", "CONS_ERROR"],
    ["", "T52324150142", "16027", "18.75", "USD", "NEW", "order update"],
    ["", "T52324150150", "16027", "0", "", "", "MY_CUSTOM_CODE"],
]
ACTIONS_HEADER = [
    "Action Id",
    "Oid",
    "Action Tracker Id",
    "Campaign Id",
    "State",
    "Amount",
    "Currency",
    "Event Date",
    "Locking Date",
]
ACTIONS_ROWS = [
    [
        "1000.4636.300001",
        "T60000001",
        "16027",
        "1000",
        "PENDING",
        "45.00",
        "USD",
        "2026-10-20T09:00:00-04:00",
        "2026-12-27T00:00:00-05:00",
    ],
    [
        "1000.4636.300002",
        "T60000002",
        "16027",
        "1000",
        "REVERSED",
        "0.00",
        "USD",
        "2026-10-19T14:10:00-04:00",
        "2026-12-27T00:00:00-05:00",
    ],
]
UPDATES_HEADER = [
    "Id",
    "ActionId",
    "Oid",
    "CampaignId",
    "State",
    "Disposition",
    "DeltaAmount",
    "Sku",
    "Quantity",
    "UpdateDate",
]
UPDATES_ROWS = [
    [
        "1000.4636.310001.1",
        "1000.4636.310001",
        "T61000001",
        "1000",
        "PENDING",
        "",
        "999.98",
        "79369127",
        "2",
        "2026-10-25T10:00:00-04:00",
    ],
    [
        "1000.4636.310001.2",
        "1000.4636.310001",
        "T61000001",
        "1000",
        "PENDING",
        "ORDER_UPDATE",
        "-499.99",
        "79369127",
        "1",
        "2026-11-10T08:30:12-05:00",
    ],
]
CM_ROWS = [
    ["1000.4636.300001", "", "", "45.00", "USD", "", "ORDER_UPDATE"],
    ["1000.4636.300002", "", "", "0", "", "", "ITEM_RETURNED"],
]
CIM_HEADER = ["ActionId", "Oid", "ActionTrackerId", "Sku1", "Quantity1", "Amount1", "Reason"]
CIM_ROWS = [
    ["1000.4636.310001", "", "", "79369127", "1", "499.99", "ORDER_UPDATE"],
    ["1000.4636.310002", "", "", "80114455", "0", "0", "ITEM_RETURNED"],
]


def _refused(tmp_path: Path, *args: str) -> str:
    """Run reconcile; it must refuse with one line (exit 2, no traceback, no outputs)."""
    out = tmp_path / "out"
    code, _stdout, stderr = _invoke("reconcile", *args, "--out", str(out), "--no-ledger")
    assert code == 2, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    assert not (out / "reconciled.csv").exists()
    return lines[0].replace(str(tmp_path) + "/", "")


def test_the_sent_file_given_as_results_is_refused_not_read_as_error_codes(
    tmp_path: Path,
) -> None:
    """The sent file plus a Note column as SENT, the original as RESULTS: its Reason column
    (ITEM_RETURNED, ORDER_UPDATE, a custom code) is no error column."""
    sent = _write_csv(tmp_path / "sent.csv", SENT_HEADER, SENT_ROWS)
    working = _write_csv(
        tmp_path / "working_copy.csv", [*SENT_HEADER, "Note"], [[*r, "x"] for r in SENT_ROWS]
    )
    line = _refused(tmp_path, str(working), str(sent))
    assert line.startswith("reconciler: sent.csv: looks like a sent file, not results")
    assert "give the sent file first, then its results" in line
    # The other way round (the working copy given as results) and another template's sent
    # file given as results: the same refusal, not "cannot find the column".
    line = _refused(tmp_path, str(sent), str(working))
    assert line.startswith("reconciler: working_copy.csv: looks like a sent file, not results")
    cim = _write_csv(tmp_path / "cim_sent.csv", CIM_HEADER, CIM_ROWS)
    line = _refused(tmp_path, str(sent), str(cim))
    assert line.startswith("reconciler: cim_sent.csv: looks like a sent file")


def test_a_sent_file_as_results_may_still_be_read_with_map(tmp_path: Path) -> None:
    """--map code=Reason says the Reason column is the error column: the user's call."""
    sent = _write_csv(tmp_path / "sent.csv", SENT_HEADER, SENT_ROWS)
    results = _write_csv(
        tmp_path / "results.csv", [*SENT_HEADER, "Note"], [[*r, "x"] for r in SENT_ROWS]
    )
    out = tmp_path / "out"
    code, _stdout, stderr = _invoke(
        "reconcile",
        str(sent),
        str(results),
        "--map",
        "code=Reason",
        "--out",
        str(out),
        "--no-ledger",
        "--no-report",
        "--no-xlsx",
    )
    assert code in (0, 1), stderr


def test_an_actions_export_given_as_either_file_names_its_option(tmp_path: Path) -> None:
    actions = _write_csv(tmp_path / "actions.csv", ACTIONS_HEADER, ACTIONS_ROWS)
    cm = _write_csv(tmp_path / "cm_sent.csv", SENT_HEADER, CM_ROWS)
    line = _refused(tmp_path, str(actions), str(cm))
    assert line.startswith("reconciler: actions.csv: is an Actions export, not the file that was")
    assert "give the sent file first, then its results" in line
    assert "--actions FILE" in line
    line = _refused(tmp_path, str(cm), str(actions))
    assert line.startswith("reconciler: actions.csv: is an Actions export, not the results")
    assert "--actions FILE" in line
    # Spelled otherwise: a Status column of action states, no Locking Date.
    other = _write_csv(
        tmp_path / "actions_status.csv",
        ["Id", "Status", "Amount", "Event Date"],
        [
            ["1000.4636.300001", "Pending", "45.00", "2026-10-20"],
            ["1000.4636.300002", "Approved", "0", ""],
        ],
    )
    line = _refused(tmp_path, str(cm), str(other))
    assert "actions_status.csv: is an Actions export" in line


def test_an_action_updates_export_given_as_either_file_names_its_option(tmp_path: Path) -> None:
    updates = _write_csv(tmp_path / "updates.csv", UPDATES_HEADER, UPDATES_ROWS)
    cim = _write_csv(tmp_path / "cim_sent.csv", CIM_HEADER, CIM_ROWS)
    line = _refused(tmp_path, str(updates), str(cim))
    assert line.startswith("reconciler: updates.csv: is an ActionUpdates export, not the file")
    assert "give the sent file first, then its results" in line
    assert "--updates FILE" in line
    line = _refused(tmp_path, str(cim), str(updates))
    assert line.startswith("reconciler: updates.csv: is an ActionUpdates export, not the results")
    assert "--updates FILE" in line


def test_legitimate_pairs_with_reason_state_or_status_columns_are_read(tmp_path: Path) -> None:
    """Never refused: results whose Reason column holds error codes (with or without a line
    column), a sent file with its status columns appended, a working copy of a modification
    with a State column beside its Reason, and the exports given with their options."""
    sent = _write_csv(tmp_path / "cm_sent.csv", SENT_HEADER, CM_ROWS)
    by_line = _write_csv(
        tmp_path / "by_line.csv", ["Line", "Reason"], [["2", "BAD_DISPOSITION"], ["3", ""]]
    )
    by_id = _write_csv(
        tmp_path / "by_id.csv",
        ["ActionId", "Amount", "Reason"],
        [
            ["1000.4636.300001", "45.00", "ALREADY_LOCKED"],
            ["1000.4636.300002", "0", "ORDER_UPDATE"],
        ],
    )
    with_status = _write_csv(
        tmp_path / "with_status.csv",
        [*SENT_HEADER, "Status", "Error Message"],
        [[*CM_ROWS[0], "Error", "ALREADY_LOCKED"], [*CM_ROWS[1], "Success", ""]],
    )
    for results in (by_line, by_id, with_status):
        out = tmp_path / ("out_" + results.stem)
        code, _stdout, stderr = _invoke(
            "reconcile",
            str(sent),
            str(results),
            "--out",
            str(out),
            "--no-ledger",
            "--no-report",
            "--no-xlsx",
        )
        assert code in (0, 1), (results.name, stderr)
        assert (out / "reconciled.csv").exists()
    working = _write_csv(
        tmp_path / "working.csv",
        [*SENT_HEADER, "State"],
        [[*CM_ROWS[0], "PENDING"], [*CM_ROWS[1], "REVERSED"]],
    )
    actions = _write_csv(tmp_path / "actions.csv", ACTIONS_HEADER, ACTIONS_ROWS)
    out = tmp_path / "out_working"
    code, _stdout, stderr = _invoke(
        "reconcile",
        str(working),
        str(by_line),
        "--actions",
        str(actions),
        "--updates",
        str(actions),
        "--out",
        str(out),
        "--no-ledger",
        "--no-report",
        "--no-xlsx",
    )
    assert code in (0, 1), stderr
    assert (out / "reconciled.csv").exists()
