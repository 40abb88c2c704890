"""Trusting the verdict: a record is accepted only with evidence, results that are partial, not
final or another file's say so, and the shapes that carry a batch's state are read.

Each test runs the real command (typer's runner) or the whole pipeline on fixture files an
analyst could have produced, and asserts what the user sees: the terminal lines, the exit code,
summary.json and the verdict columns.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from reconciler.cli import app
from reconciler.errors import ReconcilerError, ShapeError
from reconciler.fixes import spoiled_form_of, spoiled_id_problem
from reconciler.model import LineBase
from reconciler.pipeline import ReconcileOptions, reconcile
from reports.view import report_from_reconciliation
from tests.helpers import verdicts

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
DEMO = FIXTURES / "modification_view_errors"
PAGED = FIXTURES / "paged_error_details"
runner = CliRunner()


def _invoke(*args: object) -> tuple[int, str, str]:
    result = runner.invoke(app, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


def _summary(out: Path) -> dict[str, object]:
    data: dict[str, object] = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    return data


# --------------------------------------------------------------------------- another file


@pytest.mark.parametrize(
    ("results", "evidence"),
    [
        (
            FIXTURES / "mobile_api_submissions" / "results.json",
            "0 of 16 results name an ActionId of this file (the results have "
            "'1000.4636.2044', 'M1000.4636.2001', ...; the file has '1000.4636.158133', "
            "'1000.4636.158207', ...)",
        ),
        (
            FIXTURES / "contradicting_lines" / "results.csv",
            "0 of 6 results name an OrderId of this file (the results have '00061420', "
            "'T52324150104', ...; the file has 'T52324111211', '00012345', ...)",
        ),
    ],
)
def test_results_of_another_submission_are_refused(
    tmp_path: Path, results: Path, evidence: str
) -> None:
    out = tmp_path / "out"
    code, stdout, stderr = _invoke("reconcile", DEMO / "sent.csv", results, "--out", out)
    assert code == 2
    assert stdout == ""
    assert stderr.count("\n") == 1 and evidence in stderr and "--force" in stderr
    assert not out.exists()


def test_forced_results_of_another_file_accept_nothing(tmp_path: Path) -> None:
    results = FIXTURES / "mobile_api_submissions" / "results.json"
    out = tmp_path / "out"
    code, stdout, _ = _invoke("reconcile", DEMO / "sent.csv", results, "--out", out, "--force")
    assert code == 1
    assert "30 records sent: 0 accepted (0.0%), 0 rejected, 30 unknown" in stdout
    assert "0 of 16 results tied" in stdout
    summary = _summary(out)
    assert summary["accepted"] == 0 and summary["unknown"] == 30
    assert summary["completeness"]["state"] == "foreign"  # type: ignore[index]
    assert any("look like the results of another file" in w for w in summary["warnings"])  # type: ignore[attr-defined]


def test_every_run_says_how_many_results_tied(tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, stdout, _ = _invoke("reconcile", DEMO / "sent.csv", DEMO / "results.csv", "-o", out)
    assert code == 1
    assert "  11 of 12 results tied · results presumed complete: " in stdout
    summary = _summary(out)
    assert (summary["results_tied"], summary["result_rows"]) == (11, 12)
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "11 of 12" in html and "Results tied" in html


# --------------------------------------------------------------------------- completeness


def test_first_page_only_leaves_the_rest_unknown(tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, stdout, _ = _invoke(
        "reconcile", PAGED / "sent.csv", PAGED / "results-page1.json", "-o", out
    )
    assert code == 1
    assert "20 records sent: 0 accepted (0.0%), 4 rejected, 16 unknown" in stdout
    assert "results partial: the export has 2 pages but only page 1 was given" in stdout
    summary = _summary(out)
    assert summary["unknown"] == 16 and summary["accepted"] == 0
    assert summary["completeness"]["state"] == "partial"  # type: ignore[index]
    assert summary["by_resolution"]["recheck"] == 16  # type: ignore[index]
    rows = (out / "reconciled.csv").read_text(encoding="utf-8").splitlines()
    unknown = [r for r in rows if ",unknown," in r]
    assert len(unknown) == 16
    assert all("Give every page" in r for r in unknown)
    # Never resubmitted, never sent to a person row by row: only the known rejection that
    # could be corrected (line 8's reason) is in the resubmission.
    resubmit = (out / "resubmit.csv").read_text(encoding="utf-8").splitlines()
    assert resubmit[1:] == [",T52324210107,16027,0,,,ITEM_RETURNED"]
    assert not (out / "needs-attention.csv").exists()
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "Get the complete results (16 records unknown)" in html
    assert "16 are unknown: the results given do not say." in html


def test_every_page_and_the_batch_status_make_the_results_complete(tmp_path: Path) -> None:
    out = tmp_path / "out"
    pages = [PAGED / "results-page2.json", PAGED / "results-page1.json"]  # any order
    code, stdout, _ = _invoke(
        "reconcile", PAGED / "sent.csv", *pages, PAGED / "submission.json", "-o", out
    )
    assert code == 1
    assert "20 records sent: 13 accepted (65.0%), 7 rejected" in stdout
    assert "7 of 7 results tied · results complete: 7 error rows, as TotalErrors says" in stdout
    summary = _summary(out)
    assert summary["submission"]["batch_ids"] == ["F-7d3e52a1-4b0c-4e8f-9a61-2c5d8e0f9b13"]  # type: ignore[index]
    assert summary["completeness"]["pages_given"] == [1, 2]  # type: ignore[index]
    assert summary["results_files"] == [str(p) for p in (*pages, PAGED / "submission.json")]


def test_a_page_given_twice_counts_once(tmp_path: Path) -> None:
    out = tmp_path / "out"
    page1 = PAGED / "results-page1.json"
    copy = tmp_path / "page1-again.json"
    copy.write_bytes(page1.read_bytes())
    code, stdout, _ = _invoke(
        "reconcile", PAGED / "sent.csv", page1, copy, PAGED / "results-page2.json", "-o", out
    )
    assert code == 1
    assert "7 of 7 results tied · results complete" in stdout
    assert "is page 1 again" in stdout and "counted once" in stdout


def test_pages_of_different_exports_are_refused(tmp_path: Path) -> None:
    other = json.loads((PAGED / "results-page2.json").read_text(encoding="utf-8"))
    other["@uri"] = other["@uri"].replace("F-7d3e52a1", "F-00000000")
    page = tmp_path / "other-page2.json"
    page.write_text(json.dumps(other), encoding="utf-8")
    code, stdout, stderr = _invoke(
        "reconcile", PAGED / "sent.csv", PAGED / "results-page1.json", page, "-o", tmp_path / "o"
    )
    assert code == 2 and stdout == ""
    assert f"{page}: is not part of the same export as" in stderr
    assert "give the pages of one export" in stderr


def test_filtered_view_errors_are_partial(tmp_path: Path) -> None:
    folder = FIXTURES / "filtered_view_errors"
    out = tmp_path / "out"
    code, stdout, _ = _invoke("reconcile", folder / "sent.csv", folder / "results.csv", "-o", out)
    assert code == 1
    assert "14 records sent: 0 accepted (0.0%), 4 rejected, 10 unknown" in stdout
    assert "impact.com counts 6 errors (TotalErrors) but the results hold 4" in stdout
    rows = (out / "reconciled.csv").read_text(encoding="utf-8")
    assert "remove the Error Type filter" in rows


def test_require_complete_turns_a_presumption_into_unknown(tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, stdout, _ = _invoke(
        "reconcile", DEMO / "sent.csv", DEMO / "results.csv", "-o", out, "--require-complete"
    )
    assert code == 1
    assert "30 records sent: 0 accepted (0.0%), 10 rejected, 20 unknown" in stdout
    assert "records without a listed error are unknown (--require-complete)" in stdout


def test_a_listing_of_every_record_makes_an_absent_record_missing() -> None:
    folder = FIXTURES / "api_submissions_listing"
    rec = reconcile(folder / "sent.csv", folder / "results.json")
    assert verdicts(rec)[4] == (6, "missing", "", "none")
    assert rec.summary.completeness.state == "complete"
    assert rec.summary.missing == 1


def test_batch_in_progress_makes_records_pending_and_fixes_nothing(tmp_path: Path) -> None:
    folder = FIXTURES / "ftp_submission_in_progress"
    out = tmp_path / "out"
    code, stdout, _ = _invoke(
        "reconcile", folder / "sent.csv", folder / "results.json", folder / "submissions.json",
        "-o", out,
    )  # fmt: skip
    assert code == 1
    assert "12 records sent: 0 accepted (0.0%), 2 rejected, 10 pending" in stdout
    assert "results not final: the submission is In Progress, not Complete" in stdout
    summary = _summary(out)
    assert summary["submission"]["status"] == "In Progress"  # type: ignore[index]
    assert summary["resubmit_records"] == 0


def test_the_batch_is_picked_from_a_list_by_file_name_or_count(tmp_path: Path) -> None:
    folder = FIXTURES / "ftp_submission_in_progress"
    listing = json.loads((folder / "submissions.json").read_text(encoding="utf-8"))
    for batch in listing["FTPFileSubmissions"]:
        batch["FileName"] = "Batch_Mods.csv"  # names no longer tell; the count does
    batches = tmp_path / "submissions.json"
    batches.write_text(json.dumps(listing), encoding="utf-8")
    rec = reconcile(folder / "sent.csv", [batches])
    assert rec.gathered.batch is not None
    assert rec.gathered.batch.chosen_by == "its record count"
    assert rec.summary.pending == 12
    for batch in listing["FTPFileSubmissions"]:
        batch["TotalRecords"] = "12"  # neither names nor counts tell: say which to pass
    batches.write_text(json.dumps(listing), encoding="utf-8")
    with pytest.raises(ShapeError, match=r"lists 3 submissions and several fit sent.csv"):
        reconcile(folder / "sent.csv", [batches])


def test_a_batch_status_for_another_batch_is_refused() -> None:
    folder = FIXTURES / "ftp_submission_in_progress"
    with pytest.raises(ShapeError, match="but the results given are for F-7d3e52a1"):
        reconcile(folder / "sent.csv", [PAGED / "results-page1.json", folder / "submissions.json"])


def test_a_complete_batch_without_errors_accepts_on_its_counts(tmp_path: Path) -> None:
    status = json.loads((PAGED / "submission.json").read_text(encoding="utf-8"))
    status["TotalErrors"] = "0"
    path = tmp_path / "submission.json"
    path.write_text(json.dumps(status), encoding="utf-8")
    rec = reconcile(PAGED / "sent.csv", [path])
    assert rec.summary.accepted == 20
    assert rec.summary.completeness.detail == "0 error rows, as TotalErrors says"
    assert rec.summary.result_shape_title == "FTP submission status only (no error details)"
    status["TotalErrors"] = "7"  # errors exist, but none is given: nothing is known
    path.write_text(json.dumps(status), encoding="utf-8")
    rec = reconcile(PAGED / "sent.csv", [path])
    assert rec.summary.unknown == 20
    assert "no error details were given" in rec.summary.completeness.detail


def test_a_single_api_submission_object_is_read(tmp_path: Path) -> None:
    path = tmp_path / "A-submission.json"
    path.write_text(
        json.dumps(
            {
                "BatchId": "A-bf39297c-69bc-4824-9c73-2fce45a9fd44",
                "OrderId": "T52324250104",
                "ActionTrackerId": "16027",
                "Payload": "OrderId=T52324250104&ActionTrackerId=16027&Reason=ITEM_RETURNED",
                "Type": "Reversal",
                "Status": "Complete",
                "CompletionDate": "2025-03-07T11:03:41-05:00",
                "ErrorType": "Validation",
                "ErrorReason": "ALREADY_LOCKED",
            }
        ),
        encoding="utf-8",
    )
    rec = reconcile(FIXTURES / "api_submissions_listing" / "sent.csv", [path])
    assert verdicts(rec)[3] == (5, "rejected", "ALREADY_LOCKED", "oid_tracker")
    assert rec.summary.result_shape_title == "One API submission record (JSON)"


def test_total_records_unlike_the_file_ties_lines_only_on_agreement(tmp_path: Path) -> None:
    data = json.loads((PAGED / "results-page1.json").read_text(encoding="utf-8"))
    status = json.loads((PAGED / "submission.json").read_text(encoding="utf-8"))
    data["@numpages"], data["@total"] = "1", "4"
    status["TotalRecords"], status["TotalErrors"] = "22", "4"
    (tmp_path / "errors.json").write_text(json.dumps(data), encoding="utf-8")
    (tmp_path / "status.json").write_text(json.dumps(status), encoding="utf-8")
    rec = reconcile(PAGED / "sent.csv", [tmp_path / "errors.json", tmp_path / "status.json"])
    # Line 3's result carries no identifier: it may not be this record's.
    assert verdicts(rec)[1] == (3, "unknown", "", "none")
    assert rec.records["TieNote"].iat[1] == (
        "a result names this record's line but no identifier confirms it"
    )
    assert [v[1] for v in verdicts(rec)].count("rejected") == 3
    assert rec.unmatched["Reason"].tolist() == ["unconfirmed_line"]
    assert any("counted 22 records in the submission but the sent file holds 20" in w
               for w in rec.summary.warnings)  # fmt: skip


def test_zero_records_are_diagnosed_from_the_sent_file() -> None:
    folder = FIXTURES / "zero_records"
    rec = reconcile(folder / "sent.txt", [folder / "submission.json"])
    detail = rec.summary.completeness.detail
    assert detail.startswith("impact.com counted 0 records: nothing in the file was read")
    assert "its extension is .txt" in detail and "separated by semicolons" in detail


# --------------------------------------------------------------------------- spoiled IDs


def test_excel_spoiled_ids_tie_by_their_agreeing_line(tmp_path: Path) -> None:
    folder = FIXTURES / "excel_spoiled_results"
    out = tmp_path / "out"
    code, stdout, _ = _invoke("reconcile", folder / "sent.csv", folder / "results.csv", "-o", out)
    assert code == 1
    assert "12 records sent: 6 accepted (50.0%), 6 rejected" in stdout
    assert "5 results carry IDs spoiled by a spreadsheet" in stdout
    unmatched = (out / "unmatched_results.csv").read_text(encoding="utf-8").splitlines()
    assert len(unmatched) == 1  # the header: every result tied
    rows = (out / "reconciled.csv").read_text(encoding="utf-8")
    assert (
        "the result's OrderId '4.05123E+18' is in scientific notation: a spreadsheet's form "
        "of '4051234567890840017'" in rows
    )
    assert _summary(out)["spoiled_id_ties"] == 5


def test_spoiled_ids_are_no_evidence_for_a_line_numbering(tmp_path: Path) -> None:
    sent = tmp_path / "sent.csv"
    sent.write_text(
        "Oid,ActionTrackerId,Amount,Reason\n"
        "4051234567890620011,16027,0,ITEM_RETURNED\n"
        "4051234567890620027,16027,0,ITEM_RETURNED\n",
        encoding="utf-8",
    )
    results = tmp_path / "results.csv"
    results.write_text("Line,Order Id,Message\n2,4.05123E+18,ALREADY_LOCKED\n", encoding="utf-8")
    rec = reconcile(sent, results)
    assert not rec.line_base.confirmed  # compatible IDs fit every numbering alike
    assert rec.line_base.evidence["physical"]["agree"] == 0
    assert verdicts(rec)[0] == (2, "rejected", "ALREADY_LOCKED", "line")


@pytest.mark.parametrize(
    ("spoiled", "exact", "how"),
    [
        ("4.05123E+18", "4051234567890123457", "is in scientific notation"),
        ("4.05123E+18", "4051234567890620011", "is in scientific notation"),
        ("1.23457E+11", "123456789012", "is in scientific notation"),
        ("4051234567890120000", "4051234567890123457", "was rounded to 15 significant digits"),
        ("12346", "00012346", "lost its leading zeros"),
        ("12346.0", "00012346", "lost its leading zeros and gained a .0"),
        ("4.05124E+18", "4051234567890123457", ""),  # another number
        ("4.05123E+17", "4051234567890123457", ""),  # another magnitude
        ("T52324111211", "T52324111211", ""),  # not spoiled: equal
        ("4051234567890120001", "4051234567890123457", ""),  # not a rounding
    ],
)
def test_spoiled_form_of(spoiled: str, exact: str, how: str) -> None:
    assert spoiled_form_of(spoiled, exact) == how


def test_rounded_long_ids_are_spoiled_not_lost_zeros() -> None:
    assert "after its 15th digit" in spoiled_id_problem("4051234567890620000")
    assert spoiled_id_problem("4051234567890620011") == ""
    assert spoiled_id_problem("00012345") == ""


# --------------------------------------------------------------------------- arguments


@pytest.mark.parametrize(
    "results",
    [
        FIXTURES / "modification_ftp_json" / "results.json",
        FIXTURES / "mobile_api_submissions" / "results.json",
        FIXTURES / "reset_view_errors" / "results.csv",
        FIXTURES / "filtered_view_errors" / "results.csv",
    ],
)
def test_swapped_arguments_are_caught_whatever_the_format(tmp_path: Path, results: Path) -> None:
    sent = results.parent / next(p.name for p in results.parent.iterdir() if p.stem == "sent")
    code, stdout, stderr = _invoke("reconcile", results, sent, "-o", tmp_path / "o")
    assert code == 2 and stdout == ""
    assert stderr.startswith(f"reconciler: {results}: ")
    assert "give the sent file first, then its results" in stderr
    assert stderr.count("\n") == 1


def test_a_line_base_forced_against_the_evidence_is_loud(tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, _, stderr = _invoke(
        "reconcile", DEMO / "sent.csv", DEMO / "results.csv", "-o", out, "--line-base", "data1",
    )  # fmt: skip
    assert code == 1
    warning = (
        "--line-base data1 is contradicted by the results: under it 0 result lines agree with "
        "the identifiers of the record at their line and 2 contradict them, 1 point at no "
        "record; under physical 6 agree and 0 contradict, 1 point at no record"
    )
    assert f"reconciler: warning: {warning}" in stderr
    summary = _summary(out)
    assert str(summary["line_base_warning"]).startswith(warning)
    assert any(str(w).startswith(warning) for w in summary["warnings"])  # type: ignore[attr-defined]
    assert "against the evidence" in str(summary["line_base_detail"])
    assert warning in (out / "report.html").read_text(encoding="utf-8")


# --------------------------------------------------------------------------- smaller items


def test_nested_xml_items_are_one_record_per_request() -> None:
    folder = FIXTURES / "xml_item_conversion"
    rec = reconcile(folder / "sent.xml", folder / "results.csv")
    assert rec.sent.records == 3
    assert rec.sent.header[6:10] == ("Sku1", "Category1", "Quantity1", "ItemPrice1")
    assert str(rec.sent_schema.template) == "item_conversion"
    money = rec.summary.money
    # 899.00 x 1 + 159.00 x 2 + 29.00 x 1, in the file's currency
    assert (money.not_applied_total, money.currency) == ("1246.00", "HKD")


def test_item_error_details_without_line_tie_by_order_and_sku() -> None:
    folder = FIXTURES / "item_errors_without_line"
    rec = reconcile(folder / "sent.csv", folder / "results.json")
    assert rec.summary.result_shape == "ftp_error_details"
    assert rec.summary.result_shape_title == "Brand API FTP error details (JSON, no line numbers)"
    assert verdicts(rec)[1] == (3, "rejected", "MALFORMED", "oid_tracker")  # SO-310001 SKU-2002


def test_money_mixes_currencies_only_when_what_was_not_applied_does(tmp_path: Path) -> None:
    sent = tmp_path / "sent.csv"
    sent.write_text(
        "ActionId,Amount,CurrencyCode,Reason\n"
        "1000.1.1,10.00,USD,ORDER_UPDATE\n"
        "1000.1.2,20.00,EUR,ORDER_UPDATE\n"
        "1000.1.3,30.00,EUR,ORDER_UPDATE\n",
        encoding="utf-8",
    )
    results = tmp_path / "results.csv"
    results.write_text(
        "Line,ActionId,Message\n3,1000.1.2,ALREADY_LOCKED\n4,1000.1.3,NO_CHANGE\n",
        encoding="utf-8",
    )
    money = reconcile(sent, results).summary.money
    assert (money.not_applied_total, money.currency) == ("20.00", "EUR")
    results.write_text(
        "Line,ActionId,Message\n2,1000.1.1,ALREADY_LOCKED\n3,1000.1.2,ALREADY_LOCKED\n",
        encoding="utf-8",
    )
    money = reconcile(sent, results).summary.money
    assert money.currency == "mixed"
    assert money.not_applied_by_currency == {"EUR": "20.00", "USD": "10.00"}


def test_the_verdict_sentence_adds_up(tmp_path: Path) -> None:
    folder = FIXTURES / "reset_view_errors"
    rec = reconcile(folder / "sent.csv", folder / "results.csv")
    text = report_from_reconciliation(rec).verdict
    s = rec.summary
    assert s.ambiguous_records == 2
    assert f"{s.accepted} of {s.sent_records} records" in text
    assert "2 are ambiguous: a result fits several records." in text
    total = s.accepted + s.rejected + s.missing + s.pending + s.unknown
    assert total + s.ambiguous_records == s.sent_records


def test_forced_line_base_is_not_a_reconciler_error() -> None:
    # The option is obeyed; only the warning tells it is against the evidence.
    rec = reconcile(
        DEMO / "sent.csv",
        DEMO / "results.csv",
        ReconcileOptions(line_base=LineBase.DATA1),
    )
    assert rec.line_base.base is LineBase.DATA1
    assert rec.line_base.warning


def test_no_untied_result_set_is_silently_accepted(tmp_path: Path) -> None:
    sent = tmp_path / "sent.csv"
    sent.write_text("ActionId,Amount,Reason\n1000.1.1,0,ITEM_RETURNED\n", encoding="utf-8")
    results = tmp_path / "results.csv"
    results.write_text("Line,Message\n40,ALREADY_LOCKED\n", encoding="utf-8")
    with pytest.raises(ReconcilerError, match="0 of 1 results tie to a record of this file"):
        reconcile(sent, results)


def test_check_flags_an_id_rounded_by_a_spreadsheet(tmp_path: Path) -> None:
    sent = tmp_path / "sent.csv"
    sent.write_text(
        "Oid,ActionTrackerId,Amount,Reason\n"
        "4051234567890620000,16027,0,ITEM_RETURNED\n"
        "4051234567890620011,16027,0,ITEM_RETURNED\n",
        encoding="utf-8",
    )
    out = tmp_path / "checked"
    code, stdout, _ = _invoke("check", sent, "-o", out)
    assert code == 1
    assert "findings: id-spoiled 1" in stdout
    rows = (out / "check.csv").read_text(encoding="utf-8").splitlines()
    assert rows[1].startswith("2,Oid,4051234567890620000,id-spoiled,error,ACTION_NOT_FOUND,")
    assert "ends in zeros after its 15th digit" in rows[1]
