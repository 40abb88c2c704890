"""A result ties to a record only on evidence, and results that do not fit the file say so.

Each test runs the real command on files an analyst could have: a results export whose line and
identifiers point at different records, results of another batch that share a few IDs with
this file, results that carry only an ActionTrackerId, a ``--line-base`` forced against the
evidence. They assert what the analyst sees: the exit code, the terminal, reconciled.csv and
unmatched_results.csv.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from reconciler.cli import app

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
CONTRADICTING = FIXTURES / "contradicting_lines"
ITEMS_DATA1 = FIXTURES / "item_conversion_data1"
runner = CliRunner()

HEADER = "Line,Order Id,Action Tracker Id,Error Type,Message\n"


def _invoke(*args: object) -> tuple[int, str, str]:
    result = runner.invoke(app, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def _by_line(out: Path) -> dict[str, tuple[str, str, str]]:
    return {
        r["SourceLine"]: (r["Outcome"], r["ErrorCodes"], r["TiedBy"])
        for r in _rows(out / "reconciled.csv")
    }


def _results(tmp_path: Path, *rows: str) -> Path:
    path = tmp_path / "results.csv"
    path.write_text(HEADER + "".join(r + "\n" for r in rows), encoding="utf-8")
    return path


def test_a_result_whose_oid_is_another_records_is_not_given_to_the_record_at_its_line(
    tmp_path: Path,
) -> None:
    # Line 4 sends an ActionId only; the result at line 4 names T52324150109 + 16027, which is
    # exactly the record at line 5. Either may be the one rejected: neither is called accepted
    # and neither takes the code.
    results = _results(
        tmp_path,
        "3,T52324150104,16027,Validation,ALREADY_LOCKED",
        "4,T52324150109,16027,Validation,ALREADY_REVERSED",
        "7,00061420,16027,Validation,NO_CHANGE",
    )
    out = tmp_path / "out"
    code, stdout, _ = _invoke(
        "reconcile", CONTRADICTING / "sent.csv", results, "--out", out, "--no-ledger"
    )
    assert code == 1
    assert "14 records sent: 10 accepted (71.4%), 2 rejected, 2 ambiguous" in stdout
    assert "2 of 3 results tied" in stdout
    verdicts = _by_line(out)
    assert verdicts["4"] == ("ambiguous", "", "none")
    assert verdicts["5"] == ("ambiguous", "", "none")
    assert verdicts["3"] == ("rejected", "ALREADY_LOCKED", "line")
    (unmatched,) = _rows(out / "unmatched_results.csv")
    assert unmatched["Reason"] == "ambiguous_key"
    assert unmatched["CandidateLines"] == "4 5"
    assert "names the record at line 5" in unmatched["Detail"]


def test_a_result_contradicting_its_line_leaves_that_record_unknown(tmp_path: Path) -> None:
    # The result at line 9 names an Oid no record has: that error may be line 9's, mistyped.
    out = tmp_path / "out"
    code, _stdout, _ = _invoke(
        "reconcile",
        CONTRADICTING / "sent.csv",
        CONTRADICTING / "results.csv",
        "--out",
        out,
        "--no-ledger",
    )
    assert code == 1
    row = next(r for r in _rows(out / "reconciled.csv") if r["SourceLine"] == "9")
    assert row["Outcome"] == "unknown"
    assert row["Resolution"] == "recheck"
    assert row["TieNote"] == "a result names this record's line but other identifiers than its own"
    assert "mistyped identifier" in row["Advice"]
    assert not (out / "resubmit.csv").exists() or "T52324150120" not in (
        out / "resubmit.csv"
    ).read_text(encoding="utf-8")


def test_another_batchs_results_sharing_a_few_ids_are_refused(tmp_path: Path) -> None:
    sent = tmp_path / "sent.csv"
    sent.write_text(
        "ActionId,Oid,ActionTrackerId,Amount,CurrencyCode,CustomerStatus,Reason\n"
        + "".join(
            f",T523242801{i:02d},16027,0,,,ITEM_RETURNED\n" if i not in (3, 6) else
            f"1000.4636.1800{i:02d},,,0,,,ITEM_RETURNED\n"
            for i in range(1, 11)
        ),
        encoding="utf-8",
    )  # fmt: skip
    # Two results carry this file's Oids (lines 2 and 5); the other 14 are another batch's:
    # 6 contradict their line, 2 fall on ActionId rows, 6 point past the end of the file.
    rows = []
    for line in range(2, 18):
        oid = f"T523242801{line - 1:02d}" if line in (2, 5) else f"T523242701{line:02d}"
        rows.append(f"{line},{oid},16027,Validation,ALREADY_LOCKED")
    results = _results(tmp_path, *rows)
    out = tmp_path / "out"
    code, stdout, stderr = _invoke("reconcile", sent, results, "--out", out, "--no-ledger")
    assert code == 2
    assert stdout == ""
    assert stderr.count("\n") == 1
    assert "2 of 16 results name an OrderId of this file" in stderr
    assert "they look like the results of another file" in stderr and "--force" in stderr
    assert not out.exists()
    code, stdout, _ = _invoke("reconcile", sent, results, "--out", out, "--no-ledger", "--force")
    assert code == 1
    assert "0 accepted" in stdout


def test_results_with_only_trackers_that_mostly_contradict_are_refused(tmp_path: Path) -> None:
    results = tmp_path / "results.csv"
    results.write_text(
        "Line,Action Tracker Id,Error Type,Message\n"
        "2,16031,Validation,ALREADY_LOCKED\n"
        "3,16031,Validation,ALREADY_LOCKED\n"
        "5,16031,Validation,NO_CHANGE\n"
        "6,16027,Validation,ALREADY_REVERSED\n"
        "9,16031,Validation,ALREADY_LOCKED\n"
        "12,16031,Validation,ALREADY_LOCKED\n",
        encoding="utf-8",
    )
    code, _stdout, stderr = _invoke(
        "reconcile", CONTRADICTING / "sent.csv", results, "--out", tmp_path / "o", "--no-ledger"
    )
    assert code == 2
    assert stderr.count("\n") == 1
    assert "5 of 6 results contradict the record at their line or point at no record" in stderr
    assert "holds ActionTrackerId '16027' but the result says '16031'" in stderr
    assert "and only 1 tie: they do not fit this file" in stderr


def test_a_forced_line_base_is_warned_not_refused_when_identifiers_tie_the_results(
    tmp_path: Path,
) -> None:
    # item_conversion_data1 numbers lines from the first data row; forced to physical, every
    # result contradicts its line but its Oid + ActionTrackerId names exactly one record.
    out = tmp_path / "out"
    code, stdout, stderr = _invoke(
        "reconcile",
        ITEMS_DATA1 / "sent.csv",
        ITEMS_DATA1 / "results.csv",
        "--out",
        out,
        "--line-base",
        "physical",
        "--no-ledger",
    )
    assert code == 1
    assert "reconciler: warning: --line-base physical is contradicted by the results" in stderr
    # Each result names its record by OrderId + tracker; the records at the lines physical
    # numbering gives them are not called accepted on them (verdicts follow physical as asked).
    assert "20 records sent: 9 accepted (45.0%), 7 rejected, 4 unknown" in stdout
    assert "7 of 7 results tied" in stdout
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["unknown"] == 4
    assert summary["line_base_warning"].startswith("--line-base physical is contradicted")


def test_rows_inserted_after_sending_tie_by_identifier_without_a_false_refusal(
    tmp_path: Path,
) -> None:
    # The analyst's working copy has three rows more than the file sent: the results' lines
    # are off, but each OrderId + tracker names one record.
    lines = (CONTRADICTING / "sent.csv").read_text(encoding="utf-8").splitlines()
    sent = tmp_path / "sent.csv"
    sent.write_text(
        "\n".join(
            [
                *lines[:3],
                ",T52324150201,16027,0,,,ITEM_RETURNED",
                ",T52324150202,16027,0,,,ITEM_RETURNED",
                ",T52324150203,16027,0,,,ITEM_RETURNED",
                *lines[3:7],
                *lines[8:9],
                *lines[11:12],
                ",T52324150142,16027,18.75,USD,NEW,ORDER_UPDATE",
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    results = _results(
        tmp_path,
        "3,T52324150104,16027,Validation,ALREADY_LOCKED",
        "5,T52324150109,16027,Validation,ALREADY_REVERSED",
        "7,00061420,16027,Validation,NO_CHANGE",
        "8,T52324150120,16027,Validation,ALREADY_LOCKED",
        "10,T52324150142,16027,Validation,ALREADY_APPROVED",
    )
    out = tmp_path / "out"
    code, _stdout, stderr = _invoke("reconcile", sent, results, "--out", out, "--no-ledger")
    assert code == 1, stderr
    verdicts = _by_line(out)
    assert verdicts["8"] == ("rejected", "ALREADY_REVERSED", "oid_tracker")
    assert verdicts["13"] == ("rejected", "ALREADY_APPROVED", "oid_tracker")
    # The NO_CHANGE result at line 7 (an ActionId row) names the Oid of line 10: either.
    assert verdicts["7"][0] == verdicts["10"][0] == "ambiguous"


def test_a_forced_line_base_against_telling_lines_is_loud_even_with_agreeing_repeats(
    tmp_path: Path,
) -> None:
    # An order's Oid repeats on its item rows, so many lines "agree" under any numbering;
    # the lines that tell numberings apart contradict physical and one points past the file.
    results = tmp_path / "results.csv"
    results.write_text(
        HEADER + "1,4051234567890300101,16027,Contract Error,ACTION_REF_NOT_FOUND\n"
        "2,4051234567890300101,16027,Contract Error,ACTION_REF_NOT_FOUND\n"
        "6,4051234567890300103,16027,Validation,MALFORMED\n"
        "8,4051234567890300105,16027,Contract Error,CONV_DUPLICATE\n"
        "9,4051234567890300105,16027,Contract Error,CONV_DUPLICATE\n"
        "13,4051234567890300108,16027,Validation,NO_ITEM\n"
        "17,4051234567890300111,16027,Contract Error,OUTSIDE_ASSOCIATION_WINDOW\n"
        "15,4051234567890300109,16027,Contract Error,CONV_DUPLICATE\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    code, _stdout, stderr = _invoke(
        "reconcile", ITEMS_DATA1 / "sent.csv", results, "--out", out,
        "--line-base", "physical", "--no-ledger",
    )  # fmt: skip
    assert code == 1
    assert "reconciler: warning: --line-base physical is contradicted by the results" in stderr
    assert "under data1 8 agree and 0 contradict" in stderr
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert "under data1" in summary["line_base_warning"]
    assert summary["line_base_warning"] in (out / "report.html").read_text(encoding="utf-8")


def test_a_result_without_a_line_naming_no_record_is_not_a_line_contradiction(
    tmp_path: Path,
) -> None:
    folder = FIXTURES / "item_errors_without_line"
    data = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    key = (
        next(k for k, v in data.items() if isinstance(v, list)) if isinstance(data, dict) else None
    )
    items = data[key] if key else data
    items[0]["Sku"] = "NO-SUCH-SKU"
    results = tmp_path / "results.json"
    results.write_text(json.dumps(data), encoding="utf-8")
    out = tmp_path / "out"
    code, _, stderr = _invoke(
        "reconcile", folder / "sent.csv", results, "--out", out, "--no-ledger"
    )
    assert code == 1, stderr
    reasons = {r["Reason"] for r in _rows(out / "unmatched_results.csv")}
    assert reasons == {"no_such_record"}


def test_results_excel_saved_with_16_digit_oids_tie_by_line_and_say_so(tmp_path: Path) -> None:
    # Excel keeps 15 significant digits: every 16-digit Oid of the export lost its last digit
    # to a zero. Each result's line holds the Oid it is a spreadsheet's form of.
    sent = tmp_path / "sent.csv"
    sent.write_text(
        "ActionId,Oid,ActionTrackerId,Amount,CurrencyCode,CustomerStatus,Reason\n"
        ",4051234567890617,16027,0,,,ITEM_RETURNED\n"
        ",4051234567890628,16027,79.90,USD,,ORDER_UPDATE\n"
        ",4051234567890639,16027,0,,,ITEM_RETURNED\n"
        ",4051234567890641,16027,0,,,CONS_FRAUD\n"
        ",4051234567890652,16027,45.00,USD,EXISTING,ORDER_UPDATE\n"
        ",00012391,16027,0,,,ITEM_RETURNED\n",
        encoding="utf-8",
    )
    results = _results(
        tmp_path,
        "3,4051234567890630,16027,Validation,NO_CHANGE",
        "4,4051234567890640,16027,Validation,ALREADY_LOCKED",
        "6,4051234567890650,16027,Validation,ALREADY_REVERSED",
        "7,12391.0,16027,Validation,ALREADY_LOCKED",
    )
    out = tmp_path / "out"
    code, stdout, stderr = _invoke("reconcile", sent, results, "--out", out, "--no-ledger")
    assert code == 1, stderr
    assert "4 of 4 results tied" in stdout
    rows = {r["SourceLine"]: r for r in _rows(out / "reconciled.csv")}
    assert (rows["3"]["Outcome"], rows["3"]["ErrorCodes"]) == ("rejected", "NO_CHANGE")
    assert rows["3"]["TieNote"] == (
        "the result's OrderId '4051234567890630' was rounded to 15 significant digits: a "
        "spreadsheet's form of '4051234567890628'"
    )
    assert rows["3"]["Oid"] == "4051234567890628"  # the ID as sent, never the spoiled form
    assert rows["7"]["TieNote"] == (
        "the result's OrderId '12391.0' lost its leading zeros and gained a .0: a "
        "spreadsheet's form of '00012391'"
    )
    assert rows["2"]["Outcome"] == "accepted"


def test_another_files_oids_on_actionid_rows_are_refused_even_under_a_forced_line_base(
    tmp_path: Path,
) -> None:
    # Lines 2, 4 and 7 of the file: an Oid row and two ActionId-only rows. None of the
    # results' Oids is in the file: they tie by line to nothing of this file.
    results = _results(
        tmp_path,
        "2,T99000000001,16027,Validation,ALREADY_LOCKED",
        "4,T99000000002,16027,Validation,ALREADY_LOCKED",
        "7,T99000000003,16027,Validation,ALREADY_REVERSED",
    )
    sent = FIXTURES / "modification_view_errors" / "sent.csv"
    for extra in ([], ["--line-base", "physical"], ["--line-base", "data1"]):
        code, stdout, stderr = _invoke(
            "reconcile", sent, results, "--out", tmp_path / "o", "--no-ledger", *extra
        )
        assert code == 2, (extra, stdout)
        assert "0 of 3 results name an OrderId of this file" in stderr
        assert not (tmp_path / "o").exists()


def test_a_spoiled_oid_on_an_actionid_row_is_not_given_to_that_row(tmp_path: Path) -> None:
    sent = tmp_path / "sent.csv"
    sent.write_text(
        "ActionId,Oid,ActionTrackerId,Amount,CurrencyCode,CustomerStatus,Reason\n"
        ",4051234567890620011,16027,0,,,ITEM_RETURNED\n"
        "1000.4636.158133,,,19.99,USD,EXISTING,ORDER_UPDATE\n"
        ",4051234567890620027,16027,79.90,USD,,ORDER_UPDATE\n"
        ",T52324240105,16027,45.00,USD,EXISTING,ORDER_UPDATE\n",
        encoding="utf-8",
    )
    for spoiled in ("4.05123E+18", "4051234567890620000"):
        results = _results(
            tmp_path,
            f"3,{spoiled},16027,Validation,ALREADY_LOCKED",
            "5,T52324240105,16027,Validation,ALREADY_REVERSED",
        )
        out = tmp_path / "out"
        code, _, stderr = _invoke("reconcile", sent, results, "--out", out, "--no-ledger")
        assert code == 1, stderr
        verdicts = _by_line(out)
        # Line 3 (an ActionId row) and both records the spoiled Oid fits: none takes the code.
        assert {verdicts[str(n)][0] for n in (2, 3, 4)} == {"ambiguous"}, verdicts
        (row,) = [r for r in _rows(out / "unmatched_results.csv") if r["OrderId"] == spoiled]
        assert row["Reason"] == "ambiguous_key" and row["CandidateLines"] == "2 3 4"


def test_a_spoiled_oid_naming_many_records_lists_some_and_keeps_all_in_doubt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A spreadsheet's 4.05123E+18 fits every Oid of 19 digits from 40512250... to 40512349...:
    # each of them may be the record the result speaks of. The list stops at MAX_CANDIDATES
    # and says how many more there are; no record it fits is called accepted.
    import reconciler.match as match

    monkeypatch.setattr(match, "MAX_CANDIDATES", 3)
    oids = [4051234567890620011 + 7 * i for i in range(6)]
    sent = tmp_path / "sent.csv"
    sent.write_text(
        "ActionId,Oid,ActionTrackerId,Amount,CurrencyCode,CustomerStatus,Reason\n"
        "1000.4636.158133,,,19.99,USD,EXISTING,ORDER_UPDATE\n"
        + "".join(f",{oid},16027,79.90,USD,,ORDER_UPDATE\n" for oid in oids)
        + ",T52324240105,16027,45.00,USD,EXISTING,ORDER_UPDATE\n",
        encoding="utf-8",
    )
    results = _results(
        tmp_path,
        "2,4.05123E+18,16027,Validation,ALREADY_LOCKED",
        "9,T52324240105,16027,Validation,ALREADY_REVERSED",
    )
    out = tmp_path / "out"
    code, _, stderr = _invoke("reconcile", sent, results, "--out", out, "--no-ledger")
    assert code == 1, stderr
    verdicts = _by_line(out)
    assert {verdicts[str(n)][0] for n in range(2, 9)} == {"ambiguous"}, verdicts
    (row,) = [r for r in _rows(out / "unmatched_results.csv") if r["OrderId"] == "4.05123E+18"]
    assert row["Reason"] == "ambiguous_key"
    assert row["CandidateLines"] == "2 3 4 (+4 more)"
    assert "at lines 3, 4, ... of the sent file" in row["Detail"]


def test_a_result_naming_another_record_leaves_the_record_at_its_line_unknown(
    tmp_path: Path,
) -> None:
    # Every line agrees but line 3's: its Oid is line 6's. The result goes to line 6 by its
    # identifiers; line 3's record is not called accepted on that.
    results = _results(
        tmp_path,
        "2,T52324150101,16027,Validation,ALREADY_LOCKED",
        "3,T52324150112,16027,Validation,ALREADY_REVERSED",
        "5,T52324150109,16027,Validation,NO_CHANGE",
        "9,T52324150120,16027,Validation,ALREADY_LOCKED",
        "15,T52324150150,16027,Validation,ALREADY_LOCKED",
    )
    out = tmp_path / "out"
    code, _, stderr = _invoke(
        "reconcile", CONTRADICTING / "sent.csv", results, "--out", out, "--no-ledger"
    )
    assert code == 1, stderr
    verdicts = _by_line(out)
    assert verdicts["6"] == ("rejected", "ALREADY_REVERSED", "oid_tracker")
    assert verdicts["3"] == ("unknown", "", "none")


def test_a_result_carrying_two_records_identifiers_gives_neither_a_verdict(
    tmp_path: Path,
) -> None:
    # Line 2's result carries line 4's ActionId beside line 2's own Oid and tracker.
    results = tmp_path / "results.csv"
    results.write_text(
        "Line,Action Id,Order Id,Action Tracker Id,Error Type,Message\n"
        "2,1000.4636.180011,T52324150101,16027,Validation,ALREADY_LOCKED\n"
        "5,,T52324150109,16027,Validation,NO_CHANGE\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    code, _, stderr = _invoke(
        "reconcile", CONTRADICTING / "sent.csv", results, "--out", out, "--no-ledger"
    )
    assert code == 1, stderr
    verdicts = _by_line(out)
    assert verdicts["2"][0] == verdicts["4"][0] == "ambiguous"


def test_a_rounded_oid_that_gained_a_dot_zero_ties_by_its_line(tmp_path: Path) -> None:
    sent = tmp_path / "sent.csv"
    sent.write_text(
        "ActionId,Oid,ActionTrackerId,Amount,CurrencyCode,CustomerStatus,Reason\n"
        ",4051234567890620011,16027,0,,,ITEM_RETURNED\n"
        ",T52324240105,16027,45.00,USD,EXISTING,ORDER_UPDATE\n",
        encoding="utf-8",
    )
    results = _results(
        tmp_path,
        "2,4051234567890620000.0,16027,Validation,ALREADY_LOCKED",
        "3,T52324240105,16027,Validation,ALREADY_REVERSED",
    )
    out = tmp_path / "out"
    code, _, stderr = _invoke("reconcile", sent, results, "--out", out, "--no-ledger")
    assert code == 1, stderr
    row = next(r for r in _rows(out / "reconciled.csv") if r["SourceLine"] == "2")
    assert (row["Outcome"], row["ErrorCodes"], row["TiedBy"]) == (
        "rejected",
        "ALREADY_LOCKED",
        "line",
    )
    assert "was rounded to 15 significant digits and gained a .0" in row["TieNote"]
