"""The Actions export answers every record at once (``fixes.rules._rule_identifiers``)
exactly as it answered them one record at a time."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.actions import index_actions, newest
from reconciler.detect import detect_template
from reconciler.fixes.rules import RuleOutcome, _rule_identifiers
from reconciler.fixes.values import fix_integer, spoiled_id_problem
from reconciler.model import RemediateOptions, text_column
from reconciler.normalize import id_key
from tests.helpers import table

TODAY = date(2026, 11, 27)
SENT_HEADER = ["ActionId", "Oid", "ActionTrackerId", "Amount", "Reason"]
EXPORT_HEADER = ["Action Id", "Oid", "Action Tracker Id", "State", "Locking Date", "Event Date"]


def _one_at_a_time(sent: pd.DataFrame, rows: np.ndarray, opts: RemediateOptions) -> RuleOutcome:
    """The rule's export look-ups as they were made before: a record at a time."""
    a = sent["ActionId"].iloc[rows].to_numpy(dtype=object)
    o = sent["Oid"].iloc[rows].to_numpy(dtype=object)
    t = sent["ActionTrackerId"].iloc[rows].to_numpy(dtype=object)
    n = len(rows)
    use_a = np.array([bool(str(v).strip()) for v in a], dtype=bool)
    raw = np.where(use_a, a, o).astype(object)
    labels = np.where(use_a, "ActionId", "Oid").astype(object)
    out = RuleOutcome(rows, np.zeros(n, dtype=bool), text_column(n, ""))
    after = text_column(n, "")
    assert opts.actions is not None
    trackers = ["" if use_a[i] else fix_integer(str(t[i])).value for i in range(n)]
    keys = id_key(pd.Series([str(v).strip() for v in raw], dtype=object)).tolist()
    tracker_keys = id_key(pd.Series(trackers, dtype=object)).tolist()
    for i in range(n):
        label, value = str(labels[i]), str(raw[i])
        if not label or not value.strip():
            out.problem[i] = "the line has neither an ActionId nor an Oid"
            continue
        column = "action_id" if use_a[i] else "oid"
        spoiled = spoiled_id_problem(value)
        hits = opts.actions.recover(
            column, value, trackers[i], key=str(keys[i]), tracker_key=str(tracker_keys[i])
        )
        distinct = sorted(set(hits[column]))
        if len(distinct) != 1:
            if not distinct:
                out.problem[i] = (spoiled + "; " if spoiled else "") + (
                    f"no action in the export has {label} {value!r}; if the conversion was "
                    "never tracked, submit it as a new conversion instead"
                )
            else:
                out.problem[i] = (
                    f"{label} {value!r} could be any of {len(distinct)} actions in the export "
                    f"({', '.join(distinct[:3])}); correct it by hand"
                )
            continue
        action = newest(hits)
        assert action is not None
        if action["state"] == "REVERSED" or opts.actions.is_locked(action, TODAY):
            out.problem[i] = (
                f"the action {action['action_id']} is {action['state'] or 'locked'}: "
                "resubmitting cannot change it"
            )
            continue
        if distinct[0] == value:
            out.problem[i] = f"{label} {value!r} is in the export as is; check the export's date"
            continue
        after[i] = distinct[0]
        out.ok[i] = True
    out.cells = [after]  # type: ignore[list-item]
    return out


_AIDS = ["1000.1.1", "1000.1.2", "0012", "12", "12.0", "4051234567890000001", "4.05123E+18"]
_OIDS = ["0077", "77", "88", "4051234567890000001", "4.05123E+18", "1.2E+2", "120"]
_TRACKERS = ["", "16027", "016027", "99", " 16027 "]
_DATES = ["", "2026-10-01T00:00:00Z", "2026-10-02T00:00:00Z", "2026-10-01T00:00:00Z"]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(_AIDS),
            st.sampled_from(_OIDS),
            st.sampled_from(_TRACKERS),
            st.sampled_from(["PENDING", "REVERSED", "APPROVED", ""]),
            st.sampled_from(["", "2026-01-01", "2027-01-01"]),
            st.sampled_from(_DATES),
        ),
        min_size=1,
        max_size=14,
    ),
    st.lists(
        st.tuples(
            st.sampled_from(["", " ", *_AIDS]),
            st.sampled_from(["", *_OIDS]),
            st.sampled_from(_TRACKERS),
        ),
        min_size=1,
        max_size=12,
    ),
)
def test_every_record_is_answered_as_one_at_a_time(
    export: list[tuple[str, ...]], records: list[tuple[str, str, str]]
) -> None:
    actions = index_actions(table(EXPORT_HEADER, [list(r) for r in export], name="actions.csv"))
    sent = table(SENT_HEADER, [[a, o, t, "1.00", "ITEM_RETURNED"] for a, o, t in records])
    opts = RemediateOptions(actions=actions, today=TODAY)
    rows = np.arange(len(records), dtype=np.int64)
    got = _rule_identifiers(sent.frame, detect_template(sent), rows, opts)
    fresh = index_actions(table(EXPORT_HEADER, [list(r) for r in export], name="actions.csv"))
    expected = _one_at_a_time(sent.frame, rows, RemediateOptions(actions=fresh, today=TODAY))
    assert got.problem.tolist() == expected.problem.tolist()
    assert got.ok.tolist() == expected.ok.tolist()
    recovered = {i: "" for i in range(len(records))}
    for cells in got.cells:
        if cells.rule.tolist() and cells.rule[0] == "id-recovered-from-actions":
            recovered.update(dict(zip(cells.rows.tolist(), cells.after.tolist(), strict=True)))
    assert [recovered[i] for i in range(len(records))] == expected.cells[0].tolist()  # type: ignore[attr-defined]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.text(alphabet="a1\x1f\\u ", max_size=5), st.text(alphabet="b2\x1f\\", max_size=4)
        ),
        max_size=12,
    )
)
def test_order_keys_joined_by_arrow_read_as_joined_by_python(
    pairs: list[tuple[str, str]],
) -> None:
    from reconciler.preflight.context import order_keys, order_keys_arrow

    oid = pd.Series([o for o, _ in pairs], dtype="str")
    tracker = pd.Series([t for _, t in pairs], dtype="str")
    assert order_keys_arrow(oid, tracker).to_pylist() == order_keys(oid, tracker).tolist()
