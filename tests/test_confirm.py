"""Confirming what was applied (``reconcile --updates``): each record against the platform's
ActionUpdates or an Actions export, end to end through the command line, with hand-written
oracles (``fixtures/confirm_*/expected_confirmed.csv``)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from reconciler.cli import app

ROOT = Path(__file__).resolve().parent.parent
ORDER = ROOT / "fixtures" / "confirm_modification"
ITEMS = ROOT / "fixtures" / "confirm_item_modification"
runner = CliRunner()


def _run(tmp_path: Path, folder: Path, *extra: str, results: tuple[str, ...] = ()) -> str:
    given = results or ("results.csv", "submission.json")
    result = runner.invoke(
        app,
        [
            "reconcile",
            str(folder / "sent.csv"),
            *(str(folder / r) for r in given),
            "--out",
            str(tmp_path / "out"),
            "--no-ledger",
            *extra,
        ],
    )
    assert result.exit_code in (0, 1), result.stderr
    return result.stdout


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def _verdicts(tmp_path: Path) -> list[tuple[str, str, str]]:
    return [
        (r["SourceLine"], r["Confirmed"], r["Resolution"])
        for r in _rows(tmp_path / "out" / "reconciled.csv")
    ]


def _oracle(folder: Path) -> list[tuple[str, str, str]]:
    return [
        (r["SourceLine"], r["Confirmed"], r["Resolution"])
        for r in _rows(folder / "expected_confirmed.csv")
    ]


UPDATES = (
    "--updates",
    str(ORDER / "updates-page1.json"),
    "--updates",
    str(ORDER / "updates-page2.json"),
)


def test_order_level_modifications_and_reversals_are_confirmed(tmp_path: Path) -> None:
    stdout = _run(tmp_path, ORDER, *UPDATES)
    assert _verdicts(tmp_path) == _oracle(ORDER)
    assert "confirmed on the platform: 4 of 8 accepted records" in stdout
    by_line = {r["SourceLine"]: r for r in _rows(tmp_path / "out" / "reconciled.csv")}
    assert (
        by_line["4"]["PlatformShows"]
        == "no change after the submission (its last change: 2026-10-21)"
    )
    assert by_line["5"]["PlatformShows"] == (
        "State PENDING, Amount 25.00 (-10.00), Disposition ORDER_UPDATE on 2026-11-04"
    )
    assert by_line["6"]["PlatformShows"].startswith("applied, then changed: State PENDING")
    assert by_line["8"]["PlatformShows"] == "the updates do not list this action"
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    figures = summary["confirmation"]
    assert figures["accepted"] == 8 and figures["accepted_confirmed"] == 4
    assert figures["submitted"] == "2026-11-04T15:00:00Z"
    assert figures["by_status"] == {
        "confirmed": 5, "not_applied": 2, "differs": 1, "changed_since": 1, "not_in_updates": 1,
    }  # fmt: skip
    assert figures["updates_files"] == ["updates-page1.json", "updates-page2.json"]


def test_records_the_platform_does_not_show_go_to_a_person(tmp_path: Path) -> None:
    _run(tmp_path, ORDER, *UPDATES)
    attention = {r["SourceLine"]: r for r in _rows(tmp_path / "out" / "needs-attention.csv")}
    assert set(attention) == {"4", "5"}
    assert attention["4"]["Advice"].startswith(
        "No error was reported, but the platform shows no change to this action after the "
        "submission (no change after the submission (its last change: 2026-10-21))"
    )
    assert attention["5"]["Advice"].startswith(
        "No error was reported, but the platform shows another change: State PENDING, Amount 25.00"
    )


def test_a_confirmed_record_is_never_resubmitted(tmp_path: Path) -> None:
    # Without the updates, line 10's BAD_DISPOSITION is corrected and resubmitted ...
    _run(tmp_path, ORDER)
    assert (tmp_path / "out" / "resubmit.csv").exists()
    # ... with them, the platform shows it reversed already: nothing to resubmit.
    _run(tmp_path, ORDER, *UPDATES, "--force")
    assert not (tmp_path / "out" / "resubmit.csv").exists()
    line = next(r for r in _rows(tmp_path / "out" / "reconciled.csv") if r["SourceLine"] == "10")
    assert line["Resolution"] == "no_action"
    assert line["Advice"].startswith("The platform already shows the change this row asked for")


def test_item_level_modifications_are_confirmed_per_sku_and_quantity(tmp_path: Path) -> None:
    stdout = _run(tmp_path, ITEMS, "--updates", str(ITEMS / "updates.csv"))
    assert _verdicts(tmp_path) == _oracle(ITEMS)
    assert "confirmed on the platform: 2 of 6 accepted records" in stdout
    line = next(r for r in _rows(tmp_path / "out" / "reconciled.csv") if r["SourceLine"] == "4")
    assert line["PlatformShows"] == "no change to 66120035 x 1; the updates show 66120035 x 2"


def test_an_actions_export_confirms_the_state_now(tmp_path: Path) -> None:
    _run(tmp_path, ORDER, "--updates", str(ORDER / "actions.csv"))
    got = {
        r["SourceLine"]: (r["Confirmed"], r["PlatformShows"])
        for r in _rows(tmp_path / "out" / "reconciled.csv")
    }
    assert got["2"] == ("confirmed", "")
    assert got["3"] == ("confirmed", "")  # REVERSED
    # An export has no dates: what differs from the ask is said, never "not applied".
    assert got["4"] == ("differs", "State PENDING, Amount 40.00")
    assert got["8"][0] == "not_in_updates"
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["confirmation"]["kind"] == "actions"


@pytest.mark.parametrize(
    ("updates", "extra", "said"),
    [
        pytest.param(
            ITEMS / "updates.csv",
            (),
            "the updates (8 rows) name none of this file's actions (their campaigns: 1000)",
            id="another-campaign",
        ),
        pytest.param(
            ORDER / "updates-page1.json",
            ("--submitted", "2026-12-01"),
            "the updates end on 2026-11-09, before the submission on 2026-12-01",
            id="window-before-the-submission",
        ),
    ],
)
def test_updates_that_do_not_fit_are_said_plainly(
    tmp_path: Path, updates: Path, extra: tuple[str, ...], said: str
) -> None:
    stdout = _run(tmp_path, ORDER, "--updates", str(updates), *extra)
    assert said in stdout
    states = {r["Confirmed"] for r in _rows(tmp_path / "out" / "reconciled.csv")}
    assert states == {"not_in_updates"}  # never turned into not_applied
    # Nobody is sent to check a record on such updates' word.
    assert not (tmp_path / "out" / "needs-attention.csv").exists()


def test_with_updates_complete_an_unlisted_action_was_not_changed(tmp_path: Path) -> None:
    _run(tmp_path, ORDER, *UPDATES, "--updates-complete")
    line = next(r for r in _rows(tmp_path / "out" / "reconciled.csv") if r["SourceLine"] == "8")
    assert (line["Confirmed"], line["Resolution"]) == ("not_applied", "review")


def test_without_updates_the_columns_are_blank(tmp_path: Path) -> None:
    _run(tmp_path, ORDER)
    assert {
        (r["Confirmed"], r["PlatformShows"]) for r in _rows(tmp_path / "out" / "reconciled.csv")
    } == {("", "")}
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["confirmation"] is None


def test_a_file_that_is_not_updates_is_one_line(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            "reconcile", str(ORDER / "sent.csv"), str(ORDER / "results.csv"),
            "--updates", str(ORDER / "results.csv"), "--out", str(tmp_path / "out"), "--no-ledger",
        ],
    )  # fmt: skip
    assert result.exit_code == 2
    assert result.stderr.startswith("reconciler: ")
    assert "results.csv: has neither UpdateDate nor DeltaAmount" in result.stderr
    assert "it cannot say what the platform changed" in result.stderr
    assert not (tmp_path / "out").exists()


def test_a_bad_submission_date_is_one_line(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            "reconcile", str(ORDER / "sent.csv"), str(ORDER / "results.csv"),
            *UPDATES, "--submitted", "last tuesday", "--out", str(tmp_path / "out"), "--no-ledger",
        ],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "--submitted 'last tuesday' is not a date" in result.stderr


def test_the_report_says_how_many_accepted_records_were_confirmed(tmp_path: Path) -> None:
    _run(tmp_path, ORDER, *UPDATES)
    report = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert (
        "4 of 8 accepted records confirmed on the platform; the platform shows 2 others not as "
        "asked: they need a person. 2 were rejected: 2 can no longer be changed."
    ) in report
    assert "Confirmed on the platform" in report


def test_updates_exported_as_a_workbook_read_the_same(tmp_path: Path) -> None:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for row in csv.reader((ITEMS / "updates.csv").open(encoding="utf-8-sig", newline="")):
        sheet.append(row)
    book.save(tmp_path / "updates.xlsx")
    _run(tmp_path, ITEMS, "--updates", str(tmp_path / "updates.xlsx"))
    assert _verdicts(tmp_path) == _oracle(ITEMS)


def test_money_at_stake_follows_what_the_platform_shows(tmp_path: Path) -> None:
    """Lines 4 (30.00, not applied) and 5 (20.00, applied otherwise) were accepted by the
    results but the platform does not show them as sent: their money is at stake. Line 10, a
    reversal the results rejected, the platform shows applied: nothing is at stake there."""
    without = _run(tmp_path / "plain", ORDER)
    assert "not applied: 99.00 USD of Amount" in without
    money = json.loads((tmp_path / "plain" / "out" / "summary.json").read_text())["money"]
    assert money["reversals_not_applied"] == 1  # line 10, on the results' word alone
    stdout = _run(tmp_path, ORDER, *UPDATES)
    assert "not applied: 149.00 USD of Amount" in stdout
    money = json.loads((tmp_path / "out" / "summary.json").read_text())["money"]
    assert money["not_applied_by_resolution"] == {"no_action": "99.00", "review": "50.00"}
    assert (money["accepted_not_applied"], money["rejected_applied"]) == (2, 1)
    assert money["reversals_not_applied"] == 0
    report = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert (
        "As the platform&#39;s updates show: 2 records the results accepted but the platform "
        "does not show applied as sent are counted here."
    ) in report
    assert "1 record the results rejected but the platform shows applied is not counted." in report
    from openpyxl import load_workbook

    summary = load_workbook(tmp_path / "out" / "reconciled.xlsx")["Summary"]
    details = [str(row[3].value) for row in summary.iter_rows() if row[3].value]
    assert (
        "amount not applied 149.00 USD (as the platform's updates show: 2 accepted but not "
        "shown applied counted; 1 rejected but shown applied not counted)"
    ) in details


def test_a_page_given_twice_counts_each_change_once(tmp_path: Path) -> None:
    # The same ActionUpdates page twice (overlapping downloads): the verdicts and the words of
    # "applied, then changed" are those of the pages given once, not of doubled changes.
    _run(tmp_path / "once", ORDER, *UPDATES)
    twice = (*UPDATES, "--updates", str(ORDER / "updates-page1.json"))
    _run(tmp_path / "twice", ORDER, *twice)

    def shown(root: Path) -> list[tuple[str, str, str]]:
        return [
            (r["SourceLine"], r["Confirmed"], r["PlatformShows"])
            for r in _rows(root / "out" / "reconciled.csv")
        ]

    assert shown(tmp_path / "twice") == shown(tmp_path / "once")
    assert _verdicts(tmp_path / "twice") == _oracle(ORDER)


def test_dates_arrow_cannot_read_do_not_stop_the_run(tmp_path: Path) -> None:
    # Seven decimals (as .NET writes them), a 30 February and a leap second look like ISO
    # 8601 but are not instants Arrow reads: the first is read to the microsecond, the
    # others are no date, and the run goes on to its verdicts.
    rows = list(csv.reader((ITEMS / "updates.csv").open(encoding="utf-8-sig", newline="")))
    at = rows[0].index("UpdateDate")
    odd = ["2026-11-10T13:30:12.1234567Z", "2026-02-30T09:00:00Z", "2026-11-10T23:59:60Z"]
    for row, when in zip(rows[1:], odd * len(rows), strict=False):
        if row[at].startswith("2026-11-10"):
            row[at] = when
    with (tmp_path / "updates.csv").open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(rows)
    _run(tmp_path, ITEMS, "--updates", str(tmp_path / "updates.csv"))
    confirmed = {r["Confirmed"] for r in _rows(tmp_path / "out" / "reconciled.csv")}
    assert confirmed and confirmed <= {
        "confirmed", "not_applied", "differs", "changed_since", "not_in_updates", "",
    }  # fmt: skip
    # The dates that are no date are said, with one of them, and how they were taken.
    said = (
        "3 rows of the updates have an UpdateDate that is not a date (such as "
        "'2026-02-30T09:00:00Z'): they count as made after the submission"
    )
    summary = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
    assert any(w.startswith(said) for w in summary["warnings"]), summary["warnings"]
    assert "2026-02-30" in (tmp_path / "out" / "report.html").read_text(encoding="utf-8")


def test_a_long_date_that_is_no_date_is_shown_cut_short(tmp_path: Path) -> None:
    rows = list(csv.reader((ITEMS / "updates.csv").open(encoding="utf-8-sig", newline="")))
    at = rows[0].index("UpdateDate")
    rows[1][at] = "not a date " + "x" * 5000
    with (tmp_path / "updates.csv").open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(rows)
    _run(tmp_path, ITEMS, "--updates", str(tmp_path / "updates.csv"))
    summary = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
    said = [w for w in summary["warnings"] if "UpdateDate" in w]
    assert said == [
        "1 row of the updates has an UpdateDate that is not a date (such as 'not a date "
        + "x" * 29
        + "...'): it counts as made after the submission; check the export if a verdict "
        "rests on one"
    ]
