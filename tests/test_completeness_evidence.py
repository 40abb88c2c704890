"""A record is accepted only on evidence: the cases where the results looked complete, or a
row looked like a success, without proving it.

Each test runs the real command on files an analyst could have produced (variants of the
fixtures, written to a temporary folder) and asserts what the user sees: the exit code, the
terminal, summary.json and the Outcome column of reconciled.csv.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from reconciler.cli import app

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
FILTERED = FIXTURES / "filtered_view_errors"
PAGED = FIXTURES / "paged_error_details"
LISTING = FIXTURES / "api_submissions_listing"
WITH_STATUS = FIXTURES / "sent_with_status"
runner = CliRunner()


class Run:
    def __init__(self, out: Path, code: int, stdout: str, stderr: str) -> None:
        self.out, self.code, self.stdout, self.stderr = out, code, stdout, stderr

    @property
    def summary(self) -> dict[str, object]:
        data: dict[str, object] = json.loads((self.out / "summary.json").read_text("utf-8"))
        return data

    @property
    def completeness(self) -> dict[str, str]:
        done = self.summary["completeness"]
        assert isinstance(done, dict)
        return done

    @property
    def rows(self) -> list[dict[str, str]]:
        text = (self.out / "reconciled.csv").read_text("utf-8-sig")
        return list(csv.DictReader(io.StringIO(text)))

    @property
    def outcomes(self) -> Counter[str]:
        return Counter(r["Outcome"] for r in self.rows)

    def outcome_of(self, column: str, value: str) -> str:
        return next(r["Outcome"] for r in self.rows if r[column] == value)


def reconcile(tmp_path: Path, sent: Path, *results: Path) -> Run:
    out = tmp_path / "out"
    result = runner.invoke(
        app,
        ["reconcile", str(sent), *map(str, results), "--out", str(out), "--no-ledger"],
    )
    return Run(out, result.exit_code, result.stdout, result.stderr)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def page(n: int) -> dict[str, object]:
    data: dict[str, object] = json.loads((PAGED / f"results-page{n}.json").read_text("utf-8"))
    return data


def submission(**changes: object) -> dict[str, object]:
    data: dict[str, object] = json.loads((PAGED / "submission.json").read_text("utf-8"))
    data.update(changes)
    return {k: v for k, v in data.items() if v is not ...}


def never_accepted_without_result(run: Run) -> None:
    """No record without a result row of its own is accepted."""
    for row in run.rows:
        if row["TiedBy"] == "none":
            assert row["Outcome"] != "accepted", row


# --------------------------------------------------------------------------- 1. other batches


def test_results_of_two_batches_are_refused_naming_both_files_and_the_value(
    tmp_path: Path,
) -> None:
    """A View Errors export of another batch given beside this one's is refused: before, its
    rows were merged, the two TotalErrors made the count unreadable and 8 records were
    'presumed' accepted."""
    text = (FILTERED / "results.csv").read_text("utf-8")
    lines = text.splitlines()
    other = [lines[0]] + [
        line.replace("F-2e6c1d84-9a3b-4f57-8c02-7b4d1e9a6f30", "F-5b2f8e10-3c47")
        .replace("sent.csv", "mods_week09.csv")
        .replace(",14,6,", ",9,2,")
        for line in lines[1:3]
    ]
    contract = write(tmp_path / "results-contract.csv", "\n".join(other) + "\n")
    run = reconcile(tmp_path, FILTERED / "sent.csv", FILTERED / "results.csv", contract)
    assert run.code == 2
    line = run.stderr.strip()
    assert len(line.splitlines()) == 1
    assert "results-contract.csv" in line and "results.csv" in line
    assert "BatchId 'F-5b2f8e10-3c47' here" in line


@pytest.mark.parametrize(
    ("old", "new", "named"),
    [(",sent.csv,", ",other.csv,", "FileName"), (",14,6,", ",14,7,", "TotalErrors")],
)
def test_exports_that_differ_in_file_name_or_counts_are_refused(
    tmp_path: Path, old: str, new: str, named: str
) -> None:
    text = (FILTERED / "results.csv").read_text("utf-8")
    lines = text.splitlines()
    second = write(
        tmp_path / "second.csv", "\n".join([lines[0], lines[1].replace(old, new)]) + "\n"
    )
    run = reconcile(tmp_path, FILTERED / "sent.csv", FILTERED / "results.csv", second)
    assert run.code == 2
    assert named in run.stderr and "second.csv" in run.stderr


# --------------------------------------------------------------------------- 2. given twice


def test_a_row_sorted_copy_of_the_export_counts_once(tmp_path: Path) -> None:
    """The same View Errors export saved again sorted otherwise: its rows count once, so 4
    of 6 errors stay partial (before: "8 error rows for TotalErrors 6", 10 accepted)."""
    text = (FILTERED / "results.csv").read_text("utf-8").splitlines()
    copy = write(tmp_path / "results (sorted).csv", "\n".join([text[0], *text[:0:-1]]) + "\n")
    run = reconcile(tmp_path, FILTERED / "sent.csv", FILTERED / "results.csv", copy)
    assert run.code == 1
    assert run.outcomes == Counter({"unknown": 10, "rejected": 4})
    assert run.completeness["state"] == "partial"
    assert "counted once" in " ".join(run.summary["warnings"])  # type: ignore[arg-type]
    never_accepted_without_result(run)


def test_a_page_repeating_another_pages_errors_counts_them_once(tmp_path: Path) -> None:
    """Page 2 whose rows are page 1's (same error Uri): the rows count once, and @total is
    not met (before: complete, 16 accepted)."""
    first = page(1)
    second = page(2)
    second["ErrorDetail"] = first["ErrorDetail"]
    p2 = write(tmp_path / "results-page2.json", json.dumps(second))
    run = reconcile(tmp_path, PAGED / "sent.csv", PAGED / "results-page1.json", p2)
    assert run.code == 1
    assert run.completeness["state"] == "partial"
    assert run.outcomes["accepted"] == 0
    assert "(@total)" in run.completeness["detail"]


def test_more_error_rows_than_total_errors_prove_nothing(tmp_path: Path) -> None:
    """8 error rows on 8 lines for TotalErrors 6: inconsistent, so not complete."""
    text = (FILTERED / "results.csv").read_text("utf-8").splitlines()
    more = [text[0]]
    for n, line in enumerate(text[1:] * 2):
        cells = line.split(",")
        cells[8] = str(2 + n)  # Line: eight different records
        more.append(",".join(cells))
    results = write(tmp_path / "results.csv", "\n".join(more) + "\n")
    run = reconcile(tmp_path, FILTERED / "sent.csv", results)
    assert run.completeness["state"] == "partial"
    assert "more errors than the submission counts" in run.completeness["detail"]
    never_accepted_without_result(run)


# --------------------------------------------------------------------------- 3-5. status words


def _listing_csv(statuses: list[str]) -> str:
    data = json.loads((LISTING / "results.json").read_text("utf-8"))
    rows = data["APISubmissions"]
    header = ["BatchId", "ActionId", "OrderId", "ActionTrackerId", "Status", "ErrorType"]
    header.append("ErrorReason")
    lines = [",".join(header)]
    for row, status in zip(rows, statuses, strict=False):
        cells = [str(row[h] or "") for h in header]
        cells[4] = status
        lines.append(",".join(cells))
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("word", ["In_Progress", "In-Progress", "Pending", "PROCESSING", "queued"])
def test_a_not_final_status_word_in_any_spelling_is_pending(tmp_path: Path, word: str) -> None:
    """An API submissions listing (CSV) whose rows 5 and 6 are not final: they are pending,
    never accepted, and the listing is not final (before: In-Progress and Pending made the
    whole Status column ignored: accepted, 'complete')."""
    statuses = ["Complete"] * 4 + [word, word] + ["Complete"]
    results = write(tmp_path / "api-submissions.csv", _listing_csv(statuses))
    run = reconcile(tmp_path, LISTING / "sent.csv", results)
    assert run.code == 1
    assert run.completeness["state"] == "not_final"
    assert run.outcomes["accepted"] == 3
    assert run.outcome_of("Oid", "T52324250106") == "pending"
    assert run.outcome_of("ActionId", "1000.4636.250107") == "pending"


def test_a_failed_api_submission_is_rejected(tmp_path: Path) -> None:
    statuses = ["Failed", "Complete", "Error", "Complete", "Complete", "Rejected", "Complete"]
    results = write(tmp_path / "api-submissions.csv", _listing_csv(statuses))
    run = reconcile(tmp_path, LISTING / "sent.csv", results)
    assert run.outcome_of("ActionId", "1000.4636.250101") == "rejected"
    assert run.outcome_of("ActionId", "1000.4636.250103") == "rejected"
    assert run.outcome_of("ActionId", "1000.4636.250107") == "rejected"


def test_an_unfamiliar_status_word_is_never_accepted(tmp_path: Path) -> None:
    statuses = ["Complete", "Complete", "Borked", "Complete", "Complete", "Complete", "Complete"]
    results = write(tmp_path / "api-submissions.csv", _listing_csv(statuses))
    run = reconcile(tmp_path, LISTING / "sent.csv", results)
    assert run.outcome_of("ActionId", "1000.4636.250103") != "accepted"
    assert run.outcome_of("ActionId", "1000.4636.250101") == "accepted"


@pytest.mark.parametrize("word", ["Pending", "Processing", "Skipped", "", "Borked"])
def test_sent_file_status_other_than_success_is_never_accepted(tmp_path: Path, word: str) -> None:
    """The sent file with a Status column: only a success word accepts a record (before:
    anything but a failure word did)."""
    text = (WITH_STATUS / "results.csv").read_text("utf-8").splitlines()
    at = next(i for i, line in enumerate(text) if ",Success," in line)
    oid_or_action = text[at].split(",")[:2]
    text[at] = text[at].replace(",Success,", f",{word},")
    results = write(tmp_path / "results.csv", "\n".join(text) + "\n")
    run = reconcile(tmp_path, WITH_STATUS / "sent.csv", results)
    column, value = (
        ("ActionId", oid_or_action[0]) if oid_or_action[0] else ("Oid", oid_or_action[1])
    )
    assert run.outcome_of(column, value) != "accepted"
    assert run.outcomes["accepted"] == 8


def test_an_error_type_without_a_reason_is_a_rejection(tmp_path: Path) -> None:
    data = json.loads((LISTING / "results.json").read_text("utf-8"))
    data["APISubmissions"][0]["ErrorType"] = "Validation"
    data["APISubmissions"][0]["ErrorReason"] = None
    results = write(tmp_path / "results.json", json.dumps(data))
    run = reconcile(tmp_path, LISTING / "sent.csv", results)
    row = next(r for r in run.rows if r["ActionId"] == "1000.4636.250101")
    assert row["Outcome"] == "rejected"
    assert row["ErrorCodes"] == "UNSPECIFIED_ERROR"
    assert row["Resolution"] == "fix_manually"
    assert "Look the record up on the platform" in row["Advice"]
    resubmit = run.out / "resubmit.csv"
    assert not resubmit.exists() or "1000.4636.250101" not in resubmit.read_text("utf-8")


# --------------------------------------------------------------------------- 6. APISubmission


@pytest.mark.parametrize("wrapped", [False, True])
@pytest.mark.parametrize("error", [None, "NO_CHANGE"])
def test_a_single_api_submission_lists_only_its_own_record(
    tmp_path: Path, wrapped: bool, error: str | None
) -> None:
    """One APISubmission object (bare or under its key): the other records are missing,
    whatever its own result (before: accepted when it reported an error; the wrapped form
    was refused)."""
    data = json.loads((LISTING / "results.json").read_text("utf-8"))["APISubmissions"][1]
    data["ErrorReason"] = error
    data["ErrorType"] = "Validation" if error else None
    doc = {"APISubmission": data} if wrapped else data
    results = write(tmp_path / "api.json", json.dumps(doc))
    run = reconcile(tmp_path, LISTING / "sent.csv", results)
    assert run.code == 1
    assert run.outcomes["missing"] == 7
    assert run.outcome_of("Oid", "T52324250102") == ("rejected" if error else "accepted")


# --------------------------------------------------------------------------- 7-9. batch status


@pytest.mark.parametrize("status", ["Queued", "In Progress"])
def test_a_batch_not_finished_with_zero_records_is_pending_not_zero_records(
    tmp_path: Path, status: str
) -> None:
    batch = submission(Status=status, TotalRecords="0", TotalErrors="0", CompletionDate=None)
    results = write(tmp_path / "submission.json", json.dumps(batch))
    run = reconcile(tmp_path, PAGED / "sent.csv", results)
    assert run.outcomes == Counter({"pending": 20})
    assert "ZERO_RECORDS" not in (run.out / "reconciled.csv").read_text("utf-8")
    assert not (run.out / "resubmit.csv").exists()
    assert run.completeness["state"] == "not_final"


@pytest.mark.parametrize("total_errors", [None, ..., "", "n/a", "-1"])
def test_a_batch_status_alone_without_a_usable_count_proves_nothing(
    tmp_path: Path, total_errors: object
) -> None:
    results = write(tmp_path / "submission.json", json.dumps(submission(TotalErrors=total_errors)))
    run = reconcile(tmp_path, PAGED / "sent.csv", results)
    assert run.code == 1
    assert run.outcomes == Counter({"unknown": 20})
    assert "no usable TotalErrors" in run.completeness["detail"]


def test_a_count_with_a_thousands_separator_is_read(tmp_path: Path) -> None:
    batch = submission(TotalErrors="1,000")
    results = write(tmp_path / "submission.json", json.dumps(batch))
    run = reconcile(tmp_path, PAGED / "sent.csv", results)
    assert run.summary["submission"]["total_errors"] == 1000  # type: ignore[index]
    assert run.outcomes == Counter({"unknown": 20})


@pytest.mark.parametrize("total_records", ["15", "25"])
def test_total_records_unlike_the_sent_count_leaves_records_unknown(
    tmp_path: Path, total_records: str
) -> None:
    batch = submission(TotalRecords=total_records, TotalErrors="0")
    results = write(tmp_path / "submission.json", json.dumps(batch))
    run = reconcile(tmp_path, PAGED / "sent.csv", results)
    assert run.code == 1
    assert run.outcomes == Counter({"unknown": 20})
    assert (
        f"counted {total_records} records but the sent file holds 20"
        in (run.completeness["detail"])
    )


# --------------------------------------------------------------------------- 10. untied error


def test_an_error_tied_to_no_record_leaves_the_counts_unproven(tmp_path: Path) -> None:
    first = page(1)
    details = first["ErrorDetail"]
    assert isinstance(details, list)
    details[3]["OrderId"] = "T52324210170"  # line 8's OrderId mistyped
    p1 = write(tmp_path / "results-page1.json", json.dumps(first))
    run = reconcile(
        tmp_path, PAGED / "sent.csv", p1, PAGED / "results-page2.json", PAGED / "submission.json"
    )
    assert run.completeness["state"] != "complete"
    never_accepted_without_result(run)


def test_settle_makes_counts_unproven_when_a_counted_error_is_untied() -> None:
    import pandas as pd

    from reconciler.classify import Completeness, SubmissionState
    from reconciler.gather import settle
    from reconciler.model import Outcome

    state = SubmissionState(
        completeness=Completeness.COMPLETE,
        completeness_detail="7 error rows, as TotalErrors says",
        unlisted=Outcome.ACCEPTED,
    )
    ties = pd.DataFrame(
        {"s_idx": [0, -1], "codes": ["NO_CHANGE", "BAD_DISPOSITION"], "reason": ["", "x"]}
    )
    settled = settle(state, ties)
    assert settled.completeness is Completeness.PARTIAL
    assert settled.unlisted is Outcome.UNKNOWN
    assert "1 error is tied to no record" in settled.completeness_detail
    ambiguous = ties.assign(reason=["", "ambiguous_key"])
    assert settle(state, ambiguous) is state


# --------------------------------------------------------------------------- 11. two readings


def test_total_errors_proves_completeness_only_when_both_readings_agree(tmp_path: Path) -> None:
    """6 error rows on 4 records for TotalErrors 6: counted as records with errors, two are
    missing; not proven (before: complete, 10 accepted)."""
    text = (FILTERED / "results.csv").read_text("utf-8").splitlines()
    doubled = [text[0], *text[1:], text[1].replace("NO_CHANGE", "MALFORMED")]
    doubled.append(text[2].replace("BAD_DISPOSITION", "MALFORMED"))
    results = write(tmp_path / "results.csv", "\n".join(doubled) + "\n")
    run = reconcile(tmp_path, FILTERED / "sent.csv", results)
    assert run.outcomes == Counter({"unknown": 10, "rejected": 4})
    detail = run.completeness["detail"]
    assert "6 error rows on 4 records for TotalErrors 6" in detail
    assert "the two readings disagree" in detail


def test_the_paged_fixture_stays_complete(tmp_path: Path) -> None:
    run = reconcile(
        tmp_path,
        PAGED / "sent.csv",
        PAGED / "results-page1.json",
        PAGED / "results-page2.json",
        PAGED / "submission.json",
    )
    assert run.completeness["state"] == "complete"
    assert run.outcomes == Counter({"accepted": 13, "rejected": 7})


# --------------------------------------------------------------------------- 12. next page


def test_a_page_naming_a_next_page_not_given_is_partial(tmp_path: Path) -> None:
    first = page(1)
    del first["@numpages"], first["@total"]
    p1 = write(tmp_path / "results-page1.json", json.dumps(first))
    run = reconcile(tmp_path, PAGED / "sent.csv", p1)
    assert run.completeness["state"] == "partial"
    assert "@nextpageuri" in run.completeness["detail"]
    assert run.outcomes["accepted"] == 0


# --------------------------------------------------------------------------- 13. 0 records


def test_zero_records_names_header_causes_and_advises_by_cause(tmp_path: Path) -> None:
    sent = write(
        tmp_path / "sent.csv",
        "Action Id,Order ID,Action Tracker ID,Amount,Reason\n"
        "1000.4636.1,,,0,ITEM_RETURNED\n1000.4636.2,,,5.00,ORDER_UPDATE\n",
    )
    batch = submission(TotalRecords="0", TotalErrors="0")
    results = write(tmp_path / "submission.json", json.dumps(batch))
    run = reconcile(tmp_path, sent, results)
    detail = run.completeness["detail"]
    assert "'Action Id'" in detail and "column names" in detail
    assert ".csv (or .xml) extension" not in detail


# --------------------------------------------------------------------------- 14. verdict


@pytest.mark.parametrize(
    "folder",
    sorted(
        p.name
        for p in FIXTURES.iterdir()
        if p.is_dir() and p.name not in ("results_of_another_file",)
    ),
)
def test_the_report_verdict_sentence_adds_up(tmp_path: Path, folder: str) -> None:
    from tests.helpers import scenario_inputs

    sent, results = scenario_inputs(FIXTURES / folder)
    run = reconcile(tmp_path, sent, *results)
    page_html = (run.out / "report.html").read_text("utf-8")
    s = run.summary
    m = re.search(r"(\d[\d,]*) were rejected: ([^.]*)\.", page_html)
    if not s["rejected"]:
        assert m is None
        return
    assert m is not None, page_html
    parts = [int(p.split()[0].replace(",", "")) for p in m.group(2).split(", ")]
    assert sum(parts) == s["rejected"] == int(m.group(1).replace(",", ""))


# --------------------------------------------------------------------------- 15. money


@pytest.mark.parametrize(("column", "total"), [("ItemPrice", "40.00"), ("ItemSubtotal", "15.00")])
def test_money_at_stake_for_a_bare_item_price_or_subtotal(
    tmp_path: Path, column: str, total: str
) -> None:
    sent = write(
        tmp_path / "sent.csv",
        f"CampaignId,ActionTrackerId,EventDate,OrderId,ClickId,CurrencyCode,{column},"
        "Category,Sku,Quantity\n"
        "1000,16027,2025-02-03T10:15:07-05:00,SO-1,abc,USD,10.00,Tools,S1,3\n"
        "1000,16027,2025-02-03T10:15:07-05:00,SO-1,abc,USD,5.00,Tools,S2,2\n"
        "1000,16027,2025-02-03T10:15:07-05:00,SO-2,abd,USD,7.00,Tools,S3,4\n",
    )
    results = write(
        tmp_path / "results.csv",
        "Line,OrderId,ActionTrackerId,Sku,ErrorType,Message\n"
        "2,SO-1,16027,S1,Contract Error,ACTION_REF_NOT_FOUND\n"
        "3,SO-1,16027,S2,Contract Error,ACTION_REF_NOT_FOUND\n",
    )
    run = reconcile(tmp_path, sent, results)
    money = run.summary["money"]
    assert isinstance(money, dict)
    assert money["not_applied_total"] == total
    assert money["currency"] == "USD"
    assert f"not applied: {total} USD" in run.stdout


def test_a_status_that_says_neither_success_nor_failure_is_unknown(tmp_path: Path) -> None:
    sent = FIXTURES / "sent_with_status"
    text = (sent / "results.csv").read_text("utf-8").splitlines()
    header = text[0].split(",")
    status = next(i for i, h in enumerate(header) if h.strip().lower() in {"status", "result"})
    at = next(i for i, line in enumerate(text) if line.split(",")[status] == "Success")
    row = text[at].split(",")
    row[status] = "Skipped"
    text[at] = ",".join(row)
    results = write(tmp_path / "results.csv", "\n".join(text) + "\n")
    run = reconcile(tmp_path, sent / "sent.csv", results)
    skipped = [r for r in run.rows if r["TieNote"].startswith("its result gives a status")]
    assert len(skipped) == 1
    assert skipped[0]["Outcome"] == "unknown"
    assert "neither that it was applied nor why it failed" in skipped[0]["Advice"]


def test_records_of_a_file_read_as_zero_records_get_the_advice_of_its_cause(
    tmp_path: Path,
) -> None:
    folder = FIXTURES / "zero_records"
    run = reconcile(tmp_path, folder / "sent.txt", folder / "submission.json")
    advice = {r["Advice"] for r in run.rows}
    assert advice == {
        "impact.com read none of the file's records: save it with a .csv (or .xml) extension; "
        "save it with commas between the columns (CSV UTF-8 (Comma delimited)); then submit it "
        "again."
    }


def test_an_amount_without_its_currency_is_not_added_into_another_currency(
    tmp_path: Path,
) -> None:
    sent = write(
        tmp_path / "sent.csv",
        "ActionId,Oid,ActionTrackerId,Amount,CurrencyCode,CustomerStatus,Reason\n"
        ",T1001,16027,10.00,USD,,ORDER_UPDATE\n"
        ",T1002,16027,20.00,USD,,ORDER_UPDATE\n"
        ",T1005,16027,50.00,,,ORDER_UPDATE\n"
        ",T1006,16027,0,,,ITEM_RETURNED\n",
    )
    results = write(
        tmp_path / "results.csv",
        "Line,Order Id,Action Tracker Id,Error Type,Message\n"
        "2,T1001,16027,Validation,ALREADY_LOCKED\n"
        "4,T1005,16027,Validation,ALREADY_LOCKED\n"
        "5,T1006,16027,Validation,ALREADY_LOCKED\n",
    )
    run = reconcile(tmp_path, sent, results)
    assert "not applied: 60.00 (mixed currencies: 50.00 without a currency + 10.00 USD)" in (
        run.stdout
    )
    money = run.summary["money"]
    assert isinstance(money, dict)
    assert money["currency"] == "mixed"
    assert money["not_applied_by_currency"] == {"(none)": "50.00", "USD": "10.00"}


def test_an_error_naming_nothing_ends_the_presumption(tmp_path: Path) -> None:
    # A plain error list (no count) whose last row names neither a line nor an identifier:
    # some record of the file has that error, so none is presumed accepted.
    sent = FIXTURES / "modification_view_errors" / "sent.csv"
    results = write(
        tmp_path / "results.csv",
        "Line,Order Id,Action Tracker Id,Error Type,Message\n"
        "4,,,Validation,ALREADY_LOCKED\n"
        ",,,Validation,ACTION_NOT_FOUND\n",
    )
    run = reconcile(tmp_path, sent, results)
    assert run.outcomes["accepted"] == 0
    assert run.outcomes["unknown"] == 29
    assert "names neither a line nor an identifier" in run.completeness["detail"]


def test_an_export_holding_rows_of_another_batch_is_refused(tmp_path: Path) -> None:
    # This file's Contract errors of page 1, plus three rows of another batch: counted
    # against this batch's TotalErrors they made the results look complete.
    first = page(1)
    details = first["ErrorDetail"]
    assert isinstance(details, list)
    foreign = [dict(d, BatchId="F-99999999-0000-4000-8000-000000000001") for d in details[:3]]
    for d in details:
        d["BatchId"] = "F-7d3e52a1-4b0c-4e8f-9a61-2c5d8e0f9b13"
    first["ErrorDetail"] = details + foreign
    p1 = write(tmp_path / "results-page1.json", json.dumps(first))
    run = reconcile(tmp_path, PAGED / "sent.csv", p1, PAGED / "submission.json")
    assert run.code == 2
    assert "the results hold rows of 2 batches (F-7d3e52a1" in run.stderr
    assert "give the errors of this file's batch only" in run.stderr


def test_error_rows_without_a_line_count_records_by_their_identifiers_whole() -> None:
    """Errors that give no line are counted as records by their identifiers, and the count
    proves the results complete when TotalErrors agrees: two records must never count as
    one because one's ActionId ends in what the other's Oid starts with."""
    import numpy as np
    import pandas as pd

    from reconciler.gather import _error_records

    rows = pd.DataFrame(
        {
            "line": [-1, -1, -1],
            "action_id": ["a\x1fb", "a", "a"],
            "oid": ["c", "b\x1fc", "b\x1fc"],
            "action_tracker_id": ["", "", ""],
            "sku": ["", "", ""],
        }
    )
    assert _error_records(rows, np.array([True, True, True])) == 2
