"""Fix rules per code, from data: tests/cases/fixes/<CODE>.toml holds fail / pass / expected-fix
cases. Each case is one sent record and one result row (Line 2) carrying the code."""

from __future__ import annotations

import tomllib
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from reconciler.actions import index_actions
from reconciler.detect import detect_template
from reconciler.fixes import timezone
from reconciler.normalize import id_key
from reconciler.pipeline import ReconcileOptions, reconcile_tables
from reconciler.remediate import (
    RemediateOptions,
    _file_counts,
    _look_columns,
    _look_columns_long,
)
from tests.helpers import table

CASES_DIR = Path(__file__).parent / "cases" / "fixes"


def _cases() -> list[Any]:
    out = []
    for path in sorted(CASES_DIR.glob("*.toml")):
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        for case in data["case"]:
            out.append(pytest.param(data["code"], case, id=f"{path.stem}: {case['name']}"))
    return out


def _options(case: dict[str, Any]) -> RemediateOptions:
    opts = case.get("options", {})
    actions = None
    if "actions" in case:
        actions = index_actions(table(case["actions_header"], case["actions"], name="actions.csv"))
    return RemediateOptions(
        reason_map=opts.get("reason_map", {}),
        reason=opts.get("reason"),
        timezone=timezone(opts.get("timezone")),
        action_tracker_id=opts.get("action_tracker_id"),
        actions=actions,
        today=date(2026, 11, 27),
    )


@pytest.mark.parametrize(("code", "case"), _cases())
def test_fix_rule_case(code: str, case: dict[str, Any]) -> None:
    sent = table(case["header"], [case["row"]], name="sent.csv")
    results = table(["Line", "Message"], [["2", code]], name="results.csv")
    rec = reconcile_tables(
        sent,
        results,
        ReconcileOptions(fixes=_options(case), now=datetime(2026, 11, 27, tzinfo=UTC)),
    )
    row = rec.records.iloc[0]
    assert row["Resolution"] == case["resolution"], row["Advice"]
    fixes = case.get("fix", {})
    changes = {
        str(c): str(a)
        for c, a in zip(
            rec.remediation.changes["Column"], rec.remediation.changes["After"], strict=True
        )
    }
    assert changes == fixes
    corrected = rec.remediation.corrected
    if case["resolution"] == "auto_fixed":
        assert len(corrected) == 1
        for column, value in fixes.items():
            assert corrected[column].iat[0] == value
        # Untouched cells stay byte-identical.
        for column, value in zip(case["header"], case["row"], strict=True):
            if column not in fixes:
                assert corrected[column].iat[0] == value
    else:
        assert corrected.empty
    if "problem" in case:
        assert case["problem"] in row["Advice"]
    for cell in case.get("cells", []):
        assert cell in str(row["FixColumns"]).split(";")


def test_accepted_and_terminal_records_are_never_resubmitted() -> None:
    sent = table(
        ["ActionId", "Amount", "Reason"],
        [
            ["1000.1.1", "0", "item returned"],  # accepted (no result), though it looks fixable
            ["1000.1.2", "0", "item returned"],  # BAD_DISPOSITION -> auto_fixed
            ["1000.1.3", "0", "item returned"],  # BAD_DISPOSITION + ALREADY_LOCKED -> no_action
            ["1000.1.4", "0", "item returned"],  # unknown code -> review
        ],
    )
    results = table(
        ["Line", "Message"],
        [
            ["3", "BAD_DISPOSITION"],
            ["4", "BAD_DISPOSITION"],
            ["4", "ALREADY_LOCKED"],
            ["5", "WHAT_IS_THIS"],
        ],
    )
    rec = reconcile_tables(sent, results)
    assert list(rec.records["Resolution"]) == ["none", "auto_fixed", "no_action", "review"]
    assert list(rec.remediation.corrected["ActionId"]) == ["1000.1.2"]
    assert rec.summary.resubmit_records == 1
    assert rec.summary.auto_fixed == 1
    assert rec.summary.needs_attention_records == 1


def test_modification_cap_holds_back_an_action_at_the_limit() -> None:
    rows = [["1000.1.1", "1.00", "order update"]] * 1000 + [["1000.1.2", "0", "item returned"]]
    sent = table(["ActionId", "Amount", "Reason"], rows)
    results = table(["Line", "Message"], [["2", "BAD_DISPOSITION"], ["1002", "BAD_DISPOSITION"]])
    rec = reconcile_tables(sent, results)
    assert rec.records["Resolution"].iat[0] == "contact_support"
    assert "1000" in rec.records["Advice"].iat[0]
    assert rec.records["Resolution"].iat[1000] == "auto_fixed"
    assert rec.remediation.capped == 1


def test_formula_like_values_are_kept_exact_and_warned() -> None:
    sent = table(["ActionId", "Amount", "Reason"], [['=HYPERLINK("x")', "0", "item returned"]])
    results = table(["Line", "Message"], [["2", "BAD_DISPOSITION"]])
    rec = reconcile_tables(sent, results)
    assert rec.remediation.corrected["ActionId"].iat[0] == '=HYPERLINK("x")'
    assert rec.remediation.formula_cells == 1
    assert any("formula" in w for w in rec.summary.warnings)


def test_sent_frame_is_not_mutated() -> None:
    sent = table(["ActionId", "Amount", "Reason"], [["1000.1.1", "0", "item returned"]])
    before = sent.frame.copy()
    reconcile_tables(sent, table(["Line", "Message"], [["2", "BAD_DISPOSITION"]]))
    assert sent.frame.equals(before)


def test_a_record_an_ambiguous_result_may_name_is_not_resubmitted() -> None:
    sent = table(
        ["ActionId", "Oid", "ActionTrackerId", "Amount", "Reason"],
        [["", "O1", "16027", "0", "item returned"], ["", "O1", "16027", "0", "ITEM_RETURNED"]],
    )
    results = table(
        ["Line", "OrderId", "ActionTrackerId", "Message"],
        [["2", "O1", "16027", "BAD_DISPOSITION"], ["", "O1", "16027", "ALREADY_LOCKED"]],
    )
    rec = reconcile_tables(sent, results)
    assert list(rec.records["Resolution"]) == ["review", "review"]
    assert rec.remediation.corrected.empty


def test_two_fixes_for_one_cell_go_to_a_person() -> None:
    sent = table(
        ["Oid", "ActionTrackerId", "Amount", "Reason"], [["O1", "16027.0", "12.50", "ORDER_UPDATE"]]
    )
    results = table(["Line", "Message"], [["2", "ACTIONTRACKER_NOT_FOUND"], ["2", "MALFORMED"]])
    opts = ReconcileOptions(fixes=RemediateOptions(action_tracker_id="555"))
    rec = reconcile_tables(sent, results, opts)
    assert rec.records["Resolution"].iat[0] == "fix_manually"
    assert "disagree on ActionTrackerId" in rec.records["Advice"].iat[0]
    assert rec.remediation.corrected.empty


def test_the_cap_counts_the_resubmitted_rows_too() -> None:
    rows = [["1000.4636.1", "1.00", "item returned"]] * 999 + [["1000.4636.2", "1.00", "x"]]
    sent = table(["ActionId", "Amount", "Reason"], rows)
    results = table(["Line", "Message"], [["2", "BAD_DISPOSITION"], ["3", "BAD_DISPOSITION"]])
    rec = reconcile_tables(sent, results)
    # 999 rows in the file + 2 resent = 1,001 > 1,000.
    assert list(rec.records["Resolution"][:2]) == ["contact_support", "contact_support"]
    assert rec.remediation.capped == 2


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["", "Oid", "ActionId"]),
            st.one_of(
                st.from_regex(r"\A[0-9]{1,6}(\.0{1,3})?\Z"),
                st.from_regex(r"\A[0-9A-Za-z._-]{0,8}\Z"),
                st.text(max_size=8),
            ),
        ),
        max_size=25,
    )
)
def test_vectorised_hints_equal_the_per_value_text(pairs: list[tuple[str, str]]) -> None:
    """Hints for a million IDs are built by vectorised concatenation; every text must equal
    what the per-value function says (repr quoting, spoiled-ID wording)."""
    from reconciler.fixes.rules import _no_export_hint, _no_export_hints

    labels = np.array([p[0] for p in pairs], dtype=object)
    raw = np.array([p[1] for p in pairs], dtype=object)
    got = _no_export_hints(labels, raw)
    for label, value, text in zip(labels, raw, got, strict=True):
        if label and value.strip():
            assert text == _no_export_hint(label, value)
        else:
            assert text == "the line has neither an ActionId nor an Oid"


_LABELS = ["ActionId", "Oid", "ActionTrackerId", "Amount", "Reason", "EventDate"]


@settings(max_examples=150, deadline=None)
@given(
    parts=st.lists(
        st.tuples(st.lists(st.integers(0, 19), max_size=8), st.sampled_from(_LABELS)),
        min_size=1,
        max_size=8,
    ),
    columns=st.permutations(_LABELS),
)
def test_columns_to_look_at_are_joined_in_file_order(
    parts: list[tuple[list[int], str]], columns: list[str]
) -> None:
    """FixColumns (one bit per column) gives what the long form (sort and join) gives: each
    record's flagged columns, once each, in the file's column order."""
    order = {label: i for i, label in enumerate(columns)}
    arrays = [(np.array(rows, dtype=np.int64), label) for rows, label in parts]
    got = _look_columns(20, arrays, order)
    expected = _look_columns_long(np.full(20, "", dtype=object), arrays, order)
    assert got.tolist() == expected.tolist()
    for pos in range(20):
        wanted = sorted({lab for rows, lab in parts if pos in rows}, key=order.__getitem__)
        assert got[pos] == ";".join(wanted)


_AIDS = ["", " ", "1000.1.1", "1000.1.2", "0012", "12", "12.0"]
_OIDS = ["", "O1", "00123", "123", "123.0", "O1\x1f2"]
_TRACKERS = ["", "16027", "016027", "16031"]


@settings(max_examples=150, deadline=None)
@given(
    rows=st.lists(
        st.tuples(st.sampled_from(_AIDS), st.sampled_from(_OIDS), st.sampled_from(_TRACKERS)),
        min_size=1,
        max_size=30,
    ),
    chosen=st.sets(st.integers(0, 29)),
    known=st.booleans(),
)
@example(  # pairs whose Oid and ActionTrackerId numbers add up alike
    rows=[("", "O1", "16027"), ("", "123", "16031"), ("", "123", "16027"), ("", "O1", "16031")],
    chosen={0, 1, 2, 3},
    known=False,
)
def test_cap_counts_name_each_action_and_count_its_rows(
    rows: list[tuple[str, str, str]], chosen: set[int], known: bool
) -> None:
    """The cap's counts, for the candidate records: two share an action number exactly when
    they modify the same action (ActionId as ``id_key`` compares it, else the pair Oid +
    ActionTrackerId), and each gets the number of rows of the whole file that modify it;
    other records and records naming no action get -1; with or without the matcher's keys."""
    sent = table(["ActionId", "Oid", "ActionTrackerId", "Reason"], [[*r, "X"] for r in rows])
    schema = detect_template(sent)
    frame = sent.frame
    given_keys = (
        {f: id_key(frame[schema.column(f)]) for f in ("oid", "action_tracker_id")}
        if known
        else None
    )
    cands = np.array(sorted(i for i in chosen if i < len(rows)), dtype=np.int64)
    action, in_file = _file_counts(frame, schema, given_keys, cands)

    def expected(aid: str, oid: str, trk: str) -> tuple[str, ...] | None:
        a, o, t = (id_key(pd.Series([v], dtype="str")).iloc[0] for v in (aid, oid, trk))
        if a:
            return ("a", a)
        return ("o", o, t) if o and t else None

    names = [expected(*r) for r in rows]
    for i, name in enumerate(names):
        if i not in set(cands.tolist()) or name is None:
            assert action[i] == -1
            continue
        assert action[i] >= 0
        assert in_file[i] == names.count(name)
        for j in cands.tolist():
            if j < i and names[j] is not None:
                assert (action[i] == action[j]) == (name == names[j])
