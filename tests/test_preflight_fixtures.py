"""``reconciler check`` on the sent file of every reconcile fixture, against what the platform said.

(a) No false errors: every record-level ``error`` finding is on a record that expected.csv marks
    rejected, and its PredictedError (when set) is one of that record's codes.
(b) No misses: the errors a file alone can reveal, listed per scenario below after reading the
    fixtures, are predicted. Codes that need the platform's state (ALREADY_LOCKED, NO_CHANGE,
    contract errors...) are not expected from the file alone; with an Actions export that tells
    the story of ``modification_view_errors``, they are.
"""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import pytest

from reconciler.actions import index_actions
from reconciler.preflight import CheckOptions, CheckResult, check
from reconciler.readers import read_table
from tests.helpers import table

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
SCENARIOS = sorted(d.name for d in FIXTURES.iterdir() if (d / "expected.csv").exists())
TODAY = date(2025, 2, 20)  # a few days after the fixtures' events and submissions
# The sample Actions export's story (its events in October 2026, two actions locked on 1
# November, the others locking in 2030) told as of a day after them: not the machine's
# clock, nor a SOURCE_DATE_EPOCH the environment may set.
SAMPLE_TODAY = "2026-12-01"
SAMPLE_EPOCH = "1796083200"  # 2026-12-01T00:00:00Z

# (SourceLine, code) of the errors the sent file alone reveals.
PREDICTED_ERRORS: dict[str, set[tuple[int, str]]] = {
    "modification_view_errors": {
        (7, "BAD_DISPOSITION"),  # item returned
        (12, "BAD_DISPOSITION"),  # Returned
        (12, "MALFORMED"),  # "$1,299.00"
        (14, "ACTION_NOT_FOUND"),  # Oid 1.23457E+11
    },
    "modification_ftp_json": {(6, "MALFORMED")},  # 1.299,00
    "item_modification_xlsx": {
        (5, "BAD_DISPOSITION"),  # ITEM_RETURN
        (5, "MALFORMED"),  # Quantity2 "one"
        (10, "MALFORMED"),  # Amount1 "29,99" in a comma file
    },
    "mobile_api_submissions": {(11, "MALFORMED")},  # "2,99"
    "conversion_utf16_tab": {(7, "MALFORMED")},  # EventDate 02/02/2025 16:40
    "item_conversion_data1": {(7, "MALFORMED"), (14, "NO_ITEM")},  # Quantity 1.5, empty Sku
    "chained_conversion": {(11, "ACTION_REF_NOT_FOUND")},  # CustomerId r930qwer5
    "quoted_newlines_cp1252": {(17, "MALFORMED")},  # "12,00"
    "sent_with_status": {(6, "BAD_DISPOSITION")},  # item returned
    "xml_modification": {(31, "BAD_DISPOSITION")},  # Item Returned
    "contradicting_lines": {(14, "MALFORMED")},  # "18,75"
    "modification_sent_xlsx": {(6, "BAD_DISPOSITION")},  # Returned
    "reset_view_errors": set(),
    "in_progress_api": set(),
    "no_errors": set(),
    "paged_error_details": {(8, "BAD_DISPOSITION")},  # Item Returned
    "filtered_view_errors": {(7, "BAD_DISPOSITION")},  # Returned
    "ftp_submission_in_progress": set(),
    "excel_spoiled_results": set(),  # the results were spoiled, not the file sent
    "api_submissions_listing": set(),
    "item_errors_without_line": set(),  # MALFORMED and contract errors need the platform
    "xml_item_conversion": set(),
    "zero_records": set(),  # a file-level finding: not-csv-or-xml (ZERO_RECORDS)
    "confirm_modification": {(10, "BAD_DISPOSITION")},  # item returned
    "confirm_item_modification": {(8, "MALFORMED")},  # Quantity1 "one"
}
# Warnings that name the code the platform then gave: custom-looking reasons, a mobile ID
# without its M, a repeated chained OrderId.
PREDICTED_WARNINGS: dict[str, set[tuple[int, str]]] = {
    "modification_ftp_json": {(3, "BAD_DISPOSITION")},  # RETOURE
    "mobile_api_submissions": {
        (7, "BAD_DISPOSITION"),  # REFUND
        (11, "BAD_DISPOSITION"),  # refund
        (13, "ACTION_NOT_FOUND"),  # 1000.4636.2044
    },
    "chained_conversion": {(16, "CONV_DUPLICATE")},
}


def _expected(scenario: str) -> dict[int, tuple[str, set[str]]]:
    with (FIXTURES / scenario / "expected.csv").open(encoding="utf-8-sig", newline="") as fh:
        return {
            int(r["SourceLine"]): (r["Outcome"], set(filter(None, r["ErrorCodes"].split(";"))))
            for r in csv.DictReader(fh)
        }


def _run(scenario: str, opts: CheckOptions | None = None) -> CheckResult:
    sent = next((FIXTURES / scenario).glob("sent.*"))
    return check(read_table(sent), opts or CheckOptions(today=TODAY))


def _record_findings(result: CheckResult, severity: str) -> list[tuple[int, str, str, str]]:
    f = result.findings
    f = f[(f["Severity"] == severity) & (f["Column"] != "")]
    return list(
        zip(
            f["SourceLine"].astype(int), f["Column"], f["Finding"], f["PredictedError"], strict=True
        )
    )


def test_every_scenario_is_listed() -> None:
    assert set(SCENARIOS) == set(PREDICTED_ERRORS)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_no_false_errors(scenario: str) -> None:
    expected = _expected(scenario)
    for line, column, slug, code in _record_findings(_run(scenario), "error"):
        outcome, codes = expected[line]
        assert outcome == "rejected", f"{scenario}: {slug} on {column} at clean line {line}"
        if code:
            assert code in codes, f"{scenario}: line {line} predicted {code}, platform said {codes}"


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_file_detectable_errors_are_predicted(scenario: str) -> None:
    got = {(line, code) for line, _, _, code in _record_findings(_run(scenario), "error") if code}
    assert got == PREDICTED_ERRORS[scenario]


@pytest.mark.parametrize("scenario", sorted(PREDICTED_WARNINGS))
def test_warnings_name_the_code_the_platform_gave(scenario: str) -> None:
    expected = _expected(scenario)
    got = {(line, code) for line, _, _, code in _record_findings(_run(scenario), "warning") if code}
    assert PREDICTED_WARNINGS[scenario] <= got
    for line, code in PREDICTED_WARNINGS[scenario]:
        assert code in expected[line][1]


def test_file_level_findings_of_the_encoded_fixtures() -> None:
    def file_level(scenario: str) -> set[str]:
        f = _run(scenario).findings
        return set(f.loc[f["Column"] == "", "Finding"])

    assert file_level("conversion_utf16_tab") == {
        "not-csv-or-xml",
        "not-utf8",
        "delimiter-not-comma",
    }
    assert file_level("modification_ftp_json") == {"utf8-bom", "delimiter-not-comma"}
    assert file_level("quoted_newlines_cp1252") == {"not-utf8"}
    assert file_level("modification_sent_xlsx") == {"not-csv-or-xml"}
    assert file_level("xml_modification") == set()
    assert file_level("no_errors") == set()


def _story_export(scenario: str) -> list[list[str]]:
    """An Actions export consistent with a modification fixture's results: one action per
    record, in the state that explains the code the platform gave it."""
    expected = _expected(scenario)
    sent = read_table(FIXTURES / scenario / "sent.csv")
    rows = []
    for i, line in enumerate(sent.lines):
        rec = sent.frame.iloc[i]
        _, codes = expected[int(line)]
        aid = rec["ActionId"] or f"1000.9999.{i}"
        oid, trk, amount = rec["Oid"], rec["ActionTrackerId"] or "16027", "1.00"
        state, lock = "PENDING", "2025-03-31"
        if "ACTION_NOT_FOUND" in codes:
            oid = {"12346": "00012346", "1.23457E+11": "123456789012"}.get(oid, oid)
        if "ALREADY_LOCKED" in codes:
            lock = "2025-01-31"
        if "ALREADY_APPROVED" in codes:
            state = "APPROVED"
        if "ALREADY_REVERSED" in codes:
            state, amount = "REVERSED", "0"
        if "NO_CHANGE" in codes:
            amount = rec["Amount"]
        rows.append([aid, oid, trk, state, amount, lock])
    return rows


def test_actions_export_predicts_the_platform_state_codes() -> None:
    scenario = "modification_view_errors"
    header = ["Action Id", "Oid", "Action Tracker Id", "State", "Amount", "Locking Date"]
    actions = index_actions(table(header, _story_export(scenario), name="actions.csv"))
    result = _run(scenario, CheckOptions(actions=actions, today=TODAY))
    expected = _expected(scenario)
    got = set()
    for line, column, slug, code in _record_findings(result, "error"):
        outcome, codes = expected[line]
        assert outcome == "rejected", f"{slug} on {column} at clean line {line}"
        if code:
            assert code in codes, f"line {line}: predicted {code}, platform said {codes}"
            got.add((line, code))
    assert got == {
        (4, "ALREADY_LOCKED"),
        (6, "ACTION_NOT_FOUND"),
        (7, "BAD_DISPOSITION"),
        (9, "NO_CHANGE"),
        (10, "ALREADY_REVERSED"),
        (12, "BAD_DISPOSITION"),
        (12, "MALFORMED"),
        (14, "ACTION_NOT_FOUND"),
        (18, "ALREADY_LOCKED"),
        (22, "ALREADY_APPROVED"),
    }


def test_the_sample_actions_export_tells_the_same_story(tmp_path: Path) -> None:
    """fixtures/modification_view_errors/actions.csv, the export the README tries: from the
    command line, check predicts every error the platform gave that the export can explain,
    and reconcile recovers the two Oids a spreadsheet spoiled."""
    from typer.testing import CliRunner

    from reconciler.cli import app

    folder = FIXTURES / "modification_view_errors"
    runner = CliRunner()
    out = tmp_path / "check"
    done = runner.invoke(
        app,
        ["check", str(folder / "sent.csv"), "--actions", str(folder / "actions.csv"),
         "--out", str(out), "--today", SAMPLE_TODAY],
    )  # fmt: skip
    assert done.exit_code == 1, done.output
    assert "10 errors on 9 records" in done.output
    with (out / "check.csv").open(encoding="utf-8-sig", newline="") as fh:
        predicted = {
            (int(r["SourceLine"]), r["PredictedError"])
            for r in csv.DictReader(fh)
            if r["Severity"] == "error" and r["PredictedError"]
        }
    expected = _expected("modification_view_errors")
    assert all(code in expected[line][1] for line, code in predicted)
    assert predicted == {
        (4, "ALREADY_LOCKED"), (6, "ACTION_NOT_FOUND"), (7, "BAD_DISPOSITION"), (9, "NO_CHANGE"),
        (10, "ALREADY_REVERSED"), (12, "BAD_DISPOSITION"), (12, "MALFORMED"),
        (14, "ACTION_NOT_FOUND"), (18, "ALREADY_LOCKED"), (22, "ALREADY_APPROVED"),
    }  # fmt: skip
    fixed = tmp_path / "reconciled"
    done = runner.invoke(
        app,
        ["reconcile", str(folder / "sent.csv"), str(folder / "results.csv"), "--actions",
         str(folder / "actions.csv"), "--out", str(fixed), "--no-ledger"],
        env={"SOURCE_DATE_EPOCH": SAMPLE_EPOCH},  # reconcile's clock: the same day
    )  # fmt: skip
    assert done.exit_code == 1, done.output
    assert (fixed / "resubmit.csv").read_text(encoding="utf-8").splitlines() == [
        "ActionId,Oid,ActionTrackerId,Amount,CurrencyCode,CustomerStatus,Reason",
        ",00012346,16027,0,,,ITEM_RETURNED",
        "1000.4636.158311,,,64.00,USD,NEW,ITEM_RETURNED",
        ",123456789012,16027,0,,,ORDER_ERROR",
    ]


def test_one_finding_per_problem_of_a_cell() -> None:
    """Line 14's Oid 1.23457E+11: the export's "no such action" (naming the action it stands
    for) says all that "spoiled by a spreadsheet" does; the cell gets one finding, not two."""
    scenario = "modification_view_errors"
    header = ["Action Id", "Oid", "Action Tracker Id", "State", "Amount", "Locking Date"]
    actions = index_actions(table(header, _story_export(scenario), name="actions.csv"))
    result = _run(scenario, CheckOptions(actions=actions, today=TODAY))
    f = result.findings
    cell = f[(f["SourceLine"] == 14) & (f["Column"] == "Oid")]
    assert cell["Finding"].tolist() == ["action-not-found"]
    without = _run(scenario, CheckOptions(today=TODAY)).findings
    alone = without[(without["SourceLine"] == 14) & (without["Column"] == "Oid")]
    assert alone["Finding"].tolist() == ["id-spoiled"]  # without an export, the only evidence


def test_an_actions_export_that_covers_few_records_is_said_partial() -> None:
    result = _run(
        "modification_view_errors",
        CheckOptions(
            actions=index_actions(
                table(
                    ["Action Id", "Oid", "Action Tracker Id", "State", "Amount"],
                    [["1000.4636.999999", "", "", "PENDING", "10.00"]],
                    name="actions.csv",
                )
            ),
            today=TODAY,
        ),
    )
    notes = result.summary()["header_notes"]
    assert any(
        n.startswith(
            "30 of 30 records name no action of the Actions export: the export may be partial"
        )
        for n in notes
    )
