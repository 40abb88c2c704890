"""Tying results to sent records: line numbering, identifier ties, contradictions, ambiguity."""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.errors import ShapeError
from reconciler.model import LineBase
from reconciler.pipeline import ReconcileOptions, reconcile_tables
from tests.helpers import table, unmatched, verdicts

MOD_HEADER = ["ActionId", "Oid", "ActionTrackerId", "Amount", "Reason"]
MOD_ROWS = [
    ["1000.1.1", "", "", "10.00", "ITEM_RETURNED"],
    ["", "00123", "16027", "0", "CONS_FRAUD"],
    ["", "T555", "16027", "5", "item returned"],
    ["1000.1.4", "", "", "0", "ORDER_UPDATE"],
]


def sent_mod() -> object:
    return table(MOD_HEADER, MOD_ROWS, name="sent.csv")


def errors(rows: list[list[str]], header: list[str] | None = None) -> object:
    return table(header or ["Line", "OrderId", "ActionTrackerId", "Message"], rows, name="res.csv")


def run(sent: object, results: object, **kw: object):  # type: ignore[no-untyped-def]
    return reconcile_tables(sent, results, ReconcileOptions(**kw))  # type: ignore[arg-type]


def test_physical_lines_confirmed_by_order_ids() -> None:
    rec = run(
        sent_mod(),
        errors(
            [["3", "00123", "16027", "ALREADY_LOCKED"], ["4", "T555", "16027", "BAD_DISPOSITION"]]
        ),
    )
    assert verdicts(rec) == [
        (2, "accepted", "", "none"),
        (3, "rejected", "ALREADY_LOCKED", "line"),
        (4, "rejected", "BAD_DISPOSITION", "line"),
        (5, "accepted", "", "none"),
    ]
    assert rec.summary.line_base == "physical"
    assert rec.line_base.confirmed


def test_data1_numbering_is_recognised_from_identifiers() -> None:
    rec = run(
        sent_mod(),
        errors([["2", "00123", "16027", "ALREADY_LOCKED"], ["3", "T555", "16027", "NO_CHANGE"]]),
    )
    assert rec.summary.line_base == "data1"
    assert [v[:3] for v in verdicts(rec)][1:3] == [
        (3, "rejected", "ALREADY_LOCKED"),
        (4, "rejected", "NO_CHANGE"),
    ]


def test_leading_zeros_lost_in_results_still_agree() -> None:
    rec = run(sent_mod(), errors([["3", "123", "16027", "NO_CHANGE"]]))
    assert verdicts(rec)[1] == (3, "rejected", "NO_CHANGE", "line")


def test_line_contradicted_by_order_id_ties_by_identifiers() -> None:
    # Line 3 holds Oid 00123, but the result is about T555 (line 4): tie by identifiers.
    res = errors(
        [
            ["3", "T555", "16027", "BAD_DISPOSITION"],
            ["4", "T555", "16027", "NO_CHANGE"],
            ["2", "", "", "ALREADY_LOCKED"],
        ]
    )
    rec = run(sent_mod(), res, line_base=LineBase.PHYSICAL)
    assert verdicts(rec)[2] == (4, "rejected", "BAD_DISPOSITION;NO_CHANGE", "line")
    # The record at line 3 is not called accepted: a result at its line names another record.
    assert verdicts(rec)[1] == (3, "unknown", "", "none")
    assert unmatched(rec) == []


def test_contradiction_without_unique_identifier_is_never_tied() -> None:
    rec = run(
        sent_mod(),
        errors([["3", "ZZZ", "16027", "NO_CHANGE"], ["4", "T555", "16027", "ALREADY_LOCKED"]]),
        line_base=LineBase.PHYSICAL,
    )
    # The record at line 3 is not tied to the result, and not called accepted either: that
    # error may be its own, with a mistyped OrderId.
    assert [v[1] for v in verdicts(rec)] == ["accepted", "unknown", "rejected", "accepted"]
    assert unmatched(rec) == [(1, "contradicts_line")]
    assert "ZZZ" in rec.unmatched["Detail"].iat[0]


def test_results_of_another_file_are_refused_with_the_evidence() -> None:
    res = errors([["3", "ZZZ", "16027", "NO_CHANGE"], ["4", "YYY", "16027", "ALREADY_LOCKED"]])
    with pytest.raises(ShapeError) as caught:
        run(sent_mod(), res)
    message = str(caught.value)
    assert message.startswith("res.csv: 0 of 2 results name an OrderId of this file")
    assert "'YYY', 'ZZZ'" in message and "'00123', 'T555'" in message and "--force" in message
    # Forced, nothing the results do not speak of is called accepted.
    rec = run(sent_mod(), res, force=True)
    assert [v[1] for v in verdicts(rec)] == ["unknown"] * 4
    assert rec.summary.unknown == 4 and rec.summary.accepted == 0
    assert rec.summary.foreign_results.startswith("0 of 2 results name an OrderId")
    assert set(rec.records["Resolution"]) == {"recheck"}


def test_line_past_the_end_is_reported() -> None:
    rec = run(
        sent_mod(), errors([["99", "", "", "NO_CHANGE"], ["3", "00123", "16027", "NO_CHANGE"]])
    )
    assert unmatched(rec) == [(1, "line_out_of_range")]
    assert rec.summary.unmatched_results == 1
    assert rec.needs_attention


def test_line_past_the_end_but_identifiers_unique_is_tied_by_them() -> None:
    rec = run(
        sent_mod(), errors([["99", "T555", "16027", "NO_CHANGE"]]), line_base=LineBase.PHYSICAL
    )
    assert verdicts(rec)[2] == (4, "rejected", "NO_CHANGE", "oid_tracker")


def test_no_line_ties_by_action_id_then_oid_tracker_then_oid() -> None:
    res = table(
        ["ActionId", "OrderId", "ActionTrackerId", "ErrorReason"],
        [
            ["1000.1.4", "", "", "ALREADY_LOCKED"],
            ["", "00123", "16027", "ALREADY_REVERSED"],
            ["", "T555", "", "CONTRACT_NOT_FOUND RESTRICTED_PROMOCODE"],
        ],
    )
    rec = run(sent_mod(), res)
    assert verdicts(rec) == [
        (2, "accepted", "", "none"),
        (3, "rejected", "ALREADY_REVERSED", "oid_tracker"),
        (4, "rejected", "CONTRACT_NOT_FOUND;RESTRICTED_PROMOCODE", "oid"),
        (5, "rejected", "ALREADY_LOCKED", "action_id"),
    ]


def test_duplicate_key_is_ambiguous_never_fanned_out() -> None:
    sent = table(
        ["Oid", "ActionTrackerId", "Reason"],
        [["A1", "1", "RESET"], ["A1", "1", "RESET"], ["B2", "1", "RESET"]],
    )
    res = table(["OrderId", "ActionTrackerId", "ErrorReason"], [["A1", "1", "ALREADY_LOCKED"]])
    rec = run(sent, res)
    assert verdicts(rec) == [
        (2, "ambiguous", "", "none"),
        (3, "ambiguous", "", "none"),
        (4, "accepted", "", "none"),
    ]
    assert unmatched(rec) == [(1, "ambiguous_key")]
    assert rec.unmatched["CandidateLines"].iat[0] == "2 3"
    assert set(rec.records["Resolution"][:2]) == {"review"}


def test_oid_alone_ties_only_when_unique() -> None:
    sent = table(["Oid", "ActionTrackerId", "Reason"], [["A1", "1", "RESET"], ["A1", "2", "RESET"]])
    res = table(["OrderId", "ErrorReason"], [["A1", "ALREADY_LOCKED"]])
    rec = run(sent, res)
    assert unmatched(rec) == [(1, "ambiguous_key")]


def test_sku_disambiguates_item_rows_of_one_order() -> None:
    header = [
        "CampaignId",
        "ActionTrackerId",
        "EventDate",
        "OrderId",
        "ClickId",
        "Amount",
        "Sku",
        "Quantity",
    ]
    rows = [
        ["1000", "16027", "2026-11-01T10:00:00Z", "O1", "c1", "10", "SKU-A", "1"],
        ["1000", "16027", "2026-11-01T10:00:00Z", "O1", "c1", "20", "SKU-B", "2"],
    ]
    res = table(
        ["OrderId", "ActionTrackerId", "Sku", "ErrorReason"],
        [["O1", "16027", "SKU-B", "MALFORMED"]],
    )
    rec = run(table(header, rows), res)
    assert verdicts(rec) == [
        (2, "accepted", "", "none"),
        (3, "rejected", "MALFORMED", "oid_tracker"),
    ]


def test_physical_lines_with_multiline_records() -> None:
    # Record 2 spans lines 3-5 (a quoted newline), a blank line 6, record 3 on line 7.
    sent = table(
        ["Oid", "ActionTrackerId", "Reason"],
        [["A", "1", "x"], ["B", "1", "y"], ["C", "1", "z"]],
        lines=[2, 3, 7],
    )
    res = errors([["7", "C", "1", "NO_CHANGE"], ["3", "B", "1", "NO_CHANGE"]])
    rec = run(sent, res)
    assert rec.summary.line_base == "physical"
    assert [v[1] for v in verdicts(rec)] == ["accepted", "rejected", "rejected"]


def test_unknown_code_is_review_and_never_crashes() -> None:
    rec = run(sent_mod(), errors([["2", "", "", "SOMETHING_NEW_123"]]))
    row = rec.records.iloc[0]
    assert (row["Outcome"], row["ErrorCodes"], row["Resolution"]) == (
        "rejected",
        "SOMETHING_NEW_123",
        "review",
    )


def test_most_final_resolution_wins() -> None:
    res = errors([["3", "", "", "BAD_DISPOSITION"], ["3", "", "", "ALREADY_LOCKED"]])
    rec = run(sent_mod(), res)
    assert rec.records["Resolution"].iat[1] == "no_action"


def test_empty_error_list_means_everything_accepted() -> None:
    rec = run(sent_mod(), errors([]))
    assert {v[1] for v in verdicts(rec)} == {"accepted"}
    assert not rec.needs_attention


def test_sent_with_status_marks_absent_records_missing() -> None:
    res = table(
        [*MOD_HEADER, "Status", "Error Message"],
        [
            [*MOD_ROWS[3], "Success", ""],
            [*MOD_ROWS[0], "Error", "NO_CHANGE"],
        ],
    )
    rec = run(sent_mod(), res)
    assert rec.summary.result_shape == "sent_with_status"
    assert [v[1] for v in verdicts(rec)] == ["rejected", "missing", "missing", "accepted"]
    assert verdicts(rec)[0][3] == "action_id"


def test_submission_in_progress_means_wait() -> None:
    res = table(
        ["BatchId", "OrderId", "ActionTrackerId", "Status", "ErrorType", "ErrorReason"],
        [["A-1", "T555", "16027", "In Progress", "", ""]],
    )
    rec = run(sent_mod(), res)
    assert set(rec.records["Resolution"]) == {"wait"}
    assert set(rec.records["Outcome"]) == {"pending"}
    assert rec.summary.submission.complete is False
    assert rec.summary.accepted == 0 and rec.summary.pending == 4


def test_errors_of_an_unfinished_submission_are_not_corrected() -> None:
    res = table(
        ["BatchId", "OrderId", "ActionTrackerId", "Status", "ErrorType", "ErrorReason"],
        [["A-1", "T555", "16027", "In Progress", "Validation", "BAD_DISPOSITION"]],
    )
    rec = run(sent_mod(), res)
    row = rec.records.iloc[2]
    assert (row["Outcome"], row["Resolution"]) == ("rejected", "fix_manually")
    assert rec.remediation.corrected.empty


@pytest.mark.parametrize("seed", range(5))
def test_shuffling_results_changes_no_verdict(seed: int) -> None:
    rows = [
        ["3", "00123", "16027", "ALREADY_LOCKED"],
        ["4", "T555", "16027", "BAD_DISPOSITION"],
        ["4", "T555", "16027", "NO_CHANGE"],
        ["9", "", "", "MALFORMED"],
        ["2", "X", "1", "MALFORMED"],
    ]
    base = verdicts(run(sent_mod(), errors(rows)))
    shuffled = rows[:]
    random.Random(seed).shuffle(shuffled)
    assert verdicts(run(sent_mod(), errors(shuffled))) == base


def test_identifiers_that_fit_every_numbering_confirm_nothing() -> None:
    # One Oid on three item rows: the result's Oid agrees under every numbering.
    header = ["Oid", "ActionTrackerId", "Sku1", "Quantity1", "Amount1", "Reason"]
    rows = [
        ["O1", "16027", "SKU-A", "1", "1", "ORDER_UPDATE"],
        ["O1", "16027", "SKU-B", "1", "1", "ORDER_UPDATE"],
        ["O1", "16027", "SKU-C", "1", "1", "ORDER_UPDATE"],
        ["O2", "16027", "SKU-D", "1", "1", "ORDER_UPDATE"],
    ]
    res = errors([["2", "O1", "16027", "ALREADY_LOCKED"], ["3", "O1", "16027", "BAD_DISPOSITION"]])
    rec = run(table(header, rows), res)
    assert not rec.line_base.confirmed
    assert rec.summary.line_base == "physical"
    assert "assumed" in rec.summary.line_base_detail
    assert any("cannot tell" in w or "assumed" in w for w in rec.summary.warnings)


def test_a_constant_tracker_confirms_nothing() -> None:
    res = table(["Line", "ActionTrackerId", "Message"], [["3", "16027", "NO_CHANGE"]])
    rec = run(sent_mod(), res)
    assert not rec.line_base.confirmed


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.lists(st.integers(min_value=0, max_value=40), max_size=30), min_size=1, max_size=4),
    st.integers(min_value=0, max_value=40),
    st.integers(min_value=1, max_value=12),
    st.sampled_from([0, 64]),
)
def test_an_ambiguous_results_records_are_listed_as_their_union(
    parts: list[list[int]], at: int, cap: int, few: int
) -> None:
    # What a result may speak of: the union of what its identifiers name and the record at
    # its line; the first ``MAX_CANDIDATES`` listed, all of them counted.
    import reconciler.match as match

    arrays = [np.unique(np.asarray(p, dtype=np.int64)) for p in parts]
    union = sorted({at, *(v for p in parts for v in p)})
    saved = match.MAX_CANDIDATES, match._FEW
    match.MAX_CANDIDATES, match._FEW = cap, few  # few=0: the path for large parts
    try:
        head, total = match._linked(arrays, at)
    finally:
        match.MAX_CANDIDATES, match._FEW = saved
    assert head.tolist() == union[:cap]
    assert total == len(union)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.lists(
                st.lists(st.integers(min_value=0, max_value=30), max_size=8), min_size=1, max_size=3
            ),
            st.integers(min_value=0, max_value=30),
        ),
        min_size=1,
        max_size=6,
    ),
    st.integers(min_value=1, max_value=12),
)
def test_results_naming_few_records_are_listed_as_one_at_a_time(
    rows: list[tuple[list[list[int]], int]], cap: int
) -> None:
    # Results naming a few records each, worked out together: for each, the records listed,
    # how many, the lines of the first five besides its own and how many lines that is, as
    # ``_linked`` gives them one result at a time (parts may repeat a record, as a pair two
    # identifier levels found does); every record named or at a line is marked.
    import reconciler.match as match

    parts = [[np.asarray(sorted(p), dtype=np.int64) for p in ps] for ps, _ in rows]
    at = np.asarray([a for _, a in rows], dtype=np.int64)
    lines_of = np.arange(31, dtype=np.int64) * 3 + 2
    saved = match.MAX_CANDIDATES
    match.MAX_CANDIDATES = cap
    try:
        named, total, listed, shown, count = match._few_linked(parts, at, lines_of)
        expected = [match._linked(ps, int(a)) for ps, a in zip(parts, at.tolist(), strict=True)]
    finally:
        match.MAX_CANDIDATES = saved
    for k, (head, size) in enumerate(expected):
        assert listed[k] == " ".join(str(v) for v in head.tolist())
        assert total[k] == size
        others = lines_of[head[head != at[k]][:5]].tolist()
        assert shown[k] == ", ".join(str(v) for v in others)
        assert count[k] == len(others)
    assert set(named.tolist()) == {*at.tolist(), *(v for ps, _ in rows for p in ps for v in p)}


def _payload_by_python(payload: list[str], names: tuple[str, ...]) -> list[str]:
    import re
    from urllib.parse import unquote_plus

    pattern = r"(?:^|[&?])(?:" + "|".join(re.escape(n) for n in names) + r")=([^&]*)"
    out = []
    for text in payload:
        m = re.search(pattern, text, flags=re.IGNORECASE)
        out.append(unquote_plus(m.group(1)) if m else "")
    return out


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.lists(
            st.tuples(
                st.sampled_from(["OrderId", "orderid", "ORDERID", "Oid", "oId", "Order", "x"]),
                st.one_of(
                    st.text(alphabet="ab1%2B+=?", max_size=8),  # ASCII: Arrow reads them
                    st.text(alphabet="ab1%2B+=é?\n", max_size=8),
                ),
            ),
            max_size=4,
        ).map(lambda pairs: "&".join(f"{k}={v}" for k, v in pairs)),
        max_size=12,
    )
)
def test_a_payloads_ids_are_read_as_pythons_re_reads_them(payload: list[str]) -> None:
    # Arrow reads ASCII payloads; a payload beyond ASCII, or with a line break, goes the
    # way of Python's re: every value the same either way.
    import pandas as pd

    from reconciler.normalize import _from_payload

    names = ("OrderId", "Oid", "orderid", "oid")
    got = _from_payload(pd.Series(payload, dtype="str"), names).tolist()
    assert got == _payload_by_python(payload, names)


@settings(max_examples=600, deadline=None)
@given(
    st.integers(min_value=1, max_value=9),
    st.text(alphabet="0123456789", max_size=6),
    st.integers(min_value=0, max_value=21),
    st.lists(
        st.tuples(
            st.text(alphabet="0123456789", max_size=22),
            st.sampled_from([0, 0, 1, -1, 5, -5, 49, 50, 51]),
        ),
        min_size=1,
        max_size=20,
    ),
    st.sampled_from(["E+", "e", "E", "E+0"]),
    st.sampled_from([".", ","]),
)
def test_scientific_forms_read_whole_as_each_value_is_read(
    lead: int,
    frac: str,
    exp: int,
    tails: list[tuple[str, int]],
    marker: str,
    point: str,
) -> None:
    # A spreadsheet's 4.05123E+18 against IDs of as many digits: read as one array, each
    # value gets what spoiled_form_of says of it alone. The IDs start with the mantissa's
    # digits (then any), nudged across the roundings.
    import pyarrow as pa

    from reconciler.fixes import spoiled_form_of
    from reconciler.match import _scientific_forms

    said = f"{lead}{point + frac if frac else ''}{marker}{exp}"
    width = exp + 1
    mantissa = str(lead) + frac
    held = []
    for tail, nudge in tails:
        digits = (mantissa + tail).ljust(width, "0")[:width]
        shift = 10 ** max(width - len(mantissa) - 1, 0)
        value = str(max(int(digits) + nudge * shift // 10 + nudge, 1))
        if len(value) == width:
            held.append(value)
    got = _scientific_forms(said, pa.array(held, pa.large_string()))
    if not held:
        return
    assert got is not None
    assert got.tolist() == [bool(spoiled_form_of(said, h)) for h in held]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(
                [
                    "4.05123E+18",
                    "4.05123E+18",
                    "4,05123E+18",
                    "4.05123e18",
                    "04.05E+18",
                    " 4.05123E+18 ",
                    "9.9E+3",
                    "1E+5",
                    "405123456789000000",
                    "not an id",
                    "",
                ]
            ),
            st.sampled_from(
                [
                    "4051234567890000001",
                    "4051225000000000000",
                    "4051235000000000000",
                    "405123456789000000",
                    "0405123456789000000",
                    "9900",
                    "9949",
                    "9950",
                    "100000",
                    "100001",
                    "12",
                    "",
                    "4.05123E+18",
                    "40512345678900000001",
                ]
            ),
        ),
        max_size=60,
    ),
    st.booleans(),
)
def test_spoiled_forms_of_many_pairs_are_each_pairs(
    pairs: list[tuple[str, str]], with_none: bool
) -> None:
    # What a result said against the record it is compared with, many pairs sharing a value
    # (as a spreadsheet's 4.05123E+18 is shared): each pair gets what spoiled_form_of says of
    # it alone, whether its value is judged with others or on its own.
    import pyarrow as pa

    import reconciler.match as match
    from reconciler.fixes import spoiled_form_of

    said: list[object] = [a for a, _ in pairs]
    held = [b for _, b in pairs]
    if with_none and said:
        said[0] = None
    saved = match._JUDGED_TOGETHER
    match._JUDGED_TOGETHER = 2
    try:
        got = match._spoiled_hows(said, pa.array(held, pa.large_string()))
    finally:
        match._JUDGED_TOGETHER = saved
    assert got == [spoiled_form_of(str(a), str(b)) for a, b in zip(said, held, strict=True)]
