"""The vectorised paths of remediation give exactly the texts of the per-value ones.

A million records take Arrow kernels and integer codes instead of one Python call per value;
each test here compares such a path with the plain per-value code on values chosen to sit on
its edges (lengths, zeros, characters that must still take the slow path)."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.classify import TextColumn
from reconciler.fixes.rules import Cells, _no_export_hint, _no_export_hints
from reconciler.pipeline import reconcile_tables
from reconciler.remediate import _changed_cells, _Decision, _sentences
from tests.helpers import table

NEITHER = "the line has neither an ActionId nor an Oid"

# Runs of ASCII digits around the 15/16/17-digit edges, with leading and trailing zeros, and
# values that look alike but are no plain run of digits (they take the per-value path).
TRICKY_IDS = [
    "",
    " ",
    "0",
    "00",
    "0" * 15,
    "0" * 16,
    "0" * 17,
    "0" * 25,
    "1" * 15,
    "1" * 16,
    "1" * 17,
    "123456789012345",  # 15 digits
    "012345678901234",
    "1234567890123450",  # 16 digits ending in 0
    "1234567890123456",
    "0001234567890123450",  # 16 significant digits after leading zeros
    "0001234567890123456",
    "12345678901234500",  # 17 digits, two zeros after the 15th
    "12345678901234501",
    "12345678901234550",
    "12345678901234000",
    "1234567890123450000000",
    "0012345678901234500",
    "01234567890123450",
    "4051234567890000001",
    "4051234567890000000",
    "1000000000000000",
    "10000000000000000",
    "100000000000000000",
    "12345678901234567890123",
    "1234567890123450.0",  # a spreadsheet's .0
    "1234567890123450.00",
    "1234567890123450.000",
    "12345678901234500.0",
    " 12345678901234500",  # stray whitespace
    "12345678901234500 ",
    "12345678901234500\n",
    "1.23456789012345E+19",  # scientific notation
    "1.2345678901234e18",
    "12345678901234500E2",
    "１２３４５６７８９０１２３４５００",  # fullwidth digits
    "١٢٣٤٥٦٧٨٩٠١٢٣٤٥٠٠",  # Arabic-Indic digits
    "12345678901234500²",
    "1000.4636.158133",
    "ABC-123_x",
    "...",
    "-",
    "e",
    "E12",
    "é12",
    "12 34",
    "O'Brien",
    'say "1"',
    "back\\slash",
    "tab\t1",
    "12\x1f34",  # a control character a key's separator could be
]


@pytest.mark.parametrize("label", ["Oid", "ActionId", "", "Order Ö", "Order\x1fId"])
def test_identifier_hints_equal_the_per_value_text_on_tricky_values(label: str) -> None:
    """Long runs of digits are judged by Arrow kernels (length, leading and trailing zeros):
    each record's hint is what ``_no_export_hint`` says of its value."""
    labels = np.full(len(TRICKY_IDS), label, dtype=object)
    raw = np.array(TRICKY_IDS, dtype=object)
    got = _no_export_hints(labels, raw)
    for value, text in zip(TRICKY_IDS, got, strict=True):
        expected = _no_export_hint(label, value) if label and value.strip() else NEITHER
        assert text == expected, value


def test_identifier_hints_say_each_kind_of_long_id() -> None:
    """The three things said of a long run of digits, as a user reads them."""
    labels = np.full(4, "Oid", dtype=object)
    raw = np.array(
        ["0012345678901234500", "001234567890123450", "4051234567890000001", "0" * 18],
        dtype=object,
    )
    got = _no_export_hints(labels, raw).tolist()
    assert got[0] == (
        "'0012345678901234500' ends in zeros after its 15th digit (a spreadsheet turned the ID "
        "into a number and rounded it: the last digits are lost); pass an Actions export with "
        "--actions to recover it"
    )
    assert got[1].startswith("Oid '001234567890123450' has 16 digits ending in 0:")
    assert got[2] == (
        "Oid '4051234567890000001' does not look spoiled by a spreadsheet: check it is right"
    )
    assert got[3] == f"Oid '{'0' * 18}' does not look spoiled by a spreadsheet: check it is right"


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["", "Oid", "ActionId"]),
            st.one_of(
                st.from_regex(r"\A0{0,3}[0-9]{13,20}0{0,6}\Z"),
                st.from_regex(r"\A[0-9]{14,22}(\.0{1,3}|[eE][0-9]| )?\Z"),
                st.text(alphabet="0123456789０١ .eE", max_size=22),
            ),
        ),
        max_size=25,
    )
)
def test_long_identifier_hints_equal_the_per_value_text(pairs: list[tuple[str, str]]) -> None:
    labels = np.array([p[0] for p in pairs], dtype=object)
    raw = np.array([p[1] for p in pairs], dtype=object)
    got = _no_export_hints(labels, raw)
    for label, value, text in zip(labels, raw, got, strict=True):
        expected = _no_export_hint(label, value) if label and value.strip() else NEITHER
        assert text == expected


def test_advice_texts_are_written_once_per_distinct_problem_and_change() -> None:
    """Advice is built per distinct (problem, advice) pair and per distinct change, then
    broadcast: each record still reads its own problem, what reconciler would also correct
    (several changes joined in file order) and its code's advice."""
    sent = table(
        ["ActionId", "Oid", "ActionTrackerId", "Amount", "Reason"],
        [
            ["1000.1.1", "", "", " 12.50 ", "item returned"],  # two fixes
            ["1000.1.2", "", "", "12.50", "item returned"],
            ["", "4051234567890000001", "16027", "1,234", "item returned"],  # refused + fix
            ["", "00123", "16027", "0", "ßonderbar"],
            ["", "", "", "0", "item returned"],  # names no action
            ["1000.1.6", "", "", "0", "item returned"],
            ["", "12345678901234500", "16027", "0", "x"],
        ],
    )
    results = table(
        ["Line", "Message"],
        [
            ["2", "BAD_DISPOSITION"],
            ["2", "MALFORMED"],
            ["3", "BAD_DISPOSITION"],
            ["4", "BAD_DISPOSITION"],
            ["4", "MALFORMED"],
            ["5", "BAD_DISPOSITION"],
            ["5", "ACTION_NOT_FOUND"],
            ["6", "BAD_DISPOSITION"],
            ["7", "BAD_DISPOSITION"],
            ["8", "ACTION_NOT_FOUND"],
        ],
    )
    rec = reconcile_tables(sent, results)
    reason = "Reason 'item returned' → 'ITEM_RETURNED'"
    bad_disposition = (
        "Use a standard reason code spelled exactly (e.g. ORDER_UPDATE, ITEM_RETURNED, "
        "ORDER_ERROR, CONS_FRAUD), or add the code under Settings → Event Types → Disposition "
        "Codes (custom codes are case-sensitive); then resubmit the row."
    )
    malformed = (
        "Check the typed columns of this line (Amount as a plain decimal like 1299.00, dates "
        "in ISO 8601, IDs as whole numbers) and correct the value, then resubmit only the "
        "corrected lines."
    )
    not_found = (
        "Correct ActionId, or Oid plus ActionTrackerId (spreadsheets spoil IDs: lost leading "
        "zeros, scientific notation like 1.23457E+11; edit cells as text). If the conversion "
        "was never tracked, submit it as a new conversion instead."
    )
    assert [str(a) for a in rec.records["Advice"]] == [
        f"Corrected automatically (Amount ' 12.50 ' → '12.50'; {reason}); resubmit with "
        "resubmit.csv.",
        f"Corrected automatically ({reason}); resubmit with resubmit.csv.",
        "Amount: the amount '1,234' can be read two ways (thousands separator or decimal "
        "point); write it as a plain decimal such as 1234.00; reconciler would also correct "
        f"{reason}. BAD_DISPOSITION: {bad_disposition} | MALFORMED: {malformed}",
        "Oid '00123' may have lost leading zeros in a spreadsheet; pass an Actions export with "
        "--actions so reconciler can check; 'ßonderbar' is not a standard reason code; map it "
        "with --reason-map (custom codes are case-sensitive and set per event type) or set one "
        f"with --reason. ACTION_NOT_FOUND: {not_found} | BAD_DISPOSITION: {bad_disposition}",
        "The record names no action (neither an ActionId nor an Oid with its "
        "ActionTrackerId), so it is not resubmitted: fill in its identifiers from the original "
        f"file or an Actions export; reconciler would also correct {reason}. {bad_disposition}",
        f"Corrected automatically ({reason}); resubmit with resubmit.csv.",
        "'12345678901234500' ends in zeros after its 15th digit (a spreadsheet turned the ID "
        "into a number and rounded it: the last digits are lost); pass an Actions export with "
        f"--actions to recover it. {not_found}",
    ]


def test_a_problem_opening_beyond_ascii_gets_python_s_capital() -> None:
    assert _sentences(["ßa", "éb", "'c'", "d"], ["X", "Y", "Z", "W"]) == [
        "SSa. X",
        "Éb. Y",
        "'c'. Z",
        "D. W",
    ]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.sampled_from(["", "a", "b", "ç", "a b", "A"]), max_size=6),
    st.lists(st.lists(st.sampled_from(["", "a", "b", "c", "é", "dd", "A"]), max_size=12)),
)
def test_text_codes_in_bulk_equal_one_at_a_time(start: list[str], batches: list[list[str]]) -> None:
    """``TextColumn.codes_of`` codes new texts in the order they come, as ``code`` one at a
    time does (the categories' order is part of the output)."""
    bulk, single = TextColumn(3), TextColumn(3)
    for text in start:
        bulk.code(text)
        single.code(text)
    for batch in batches:
        assert bulk.codes_of(batch).tolist() == [single.code(t) for t in batch]
        assert bulk.texts == single.texts
    where = np.arange(3)
    texts = np.array(["b", "z", "b"], dtype=object)
    bulk.put(where, texts)
    assert bulk.at(where).tolist() == ["b", "z", "b"]


def _changed_cells_by_pandas(cells: list[Cells], order: dict[str, int]) -> pd.DataFrame:
    """The changed cells as the general path builds them (concatenate, then a stable sort)."""
    parts = [
        pd.DataFrame(
            {
                "pos": c.rows,
                "col": np.full(len(c.rows), order[c.label], dtype=np.int64),
                "Column": np.full(len(c.rows), c.label, dtype=object),
                "Before": pd.Series(c.before, dtype=object),
                "After": pd.Series(c.after, dtype=object),
                "Rule": pd.Series(c.rule, dtype=object),
            }
        )
        for c in cells
        if len(c.rows)
    ]
    return pd.concat(parts, ignore_index=True).sort_values(["pos", "col"], kind="stable")


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["Amount", "Reason", "Oid"]), st.sets(st.integers(0, 30))),
        max_size=4,
    )
)
def test_changed_cells_without_a_clash_come_in_file_order(
    parts: list[tuple[str, set[int]]],
) -> None:
    """With no cell changed twice, the changed cells are put in file order without pandas'
    concatenation and sort: the same rows, columns and values, in the same order."""
    order = {"Oid": 0, "Amount": 1, "Reason": 2}
    taken: set[tuple[int, str]] = set()
    cells = []
    for k, (label, rows) in enumerate(parts):
        mine = sorted(r for r in rows if (r, label) not in taken)
        taken.update((r, label) for r in mine)
        pos = np.array(mine[::-1], dtype=np.int64)  # a rule may list its rows in any order
        cells.append(
            Cells(
                label,
                pos,
                np.array([f"b{p}" for p in pos], dtype=object),
                np.array([f"a{p}{k}" for p in pos], dtype=object),
                np.full(len(pos), f"rule{k}", dtype=object),
            )
        )
    n = 31
    state = _Decision(
        ok=np.ones(n, dtype=bool),
        blocked=np.zeros(n, dtype=bool),
        problem=np.full(n, "", dtype=object),
        look=[],
    )
    got = _changed_cells(cells, order, state)
    columns = ["pos", "col", "Column", "Before", "After", "Rule"]
    if not any(len(c.rows) for c in cells):
        assert got.empty
        return
    expected = _changed_cells_by_pandas(cells, order)
    for column in columns:
        assert got[column].tolist() == expected[column].tolist()
        assert got[column].dtype == expected[column].dtype
    assert state.ok.all()


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=8),
            st.sampled_from(["Reason", "Amount", "Oid"]),
            st.sampled_from(["item returned", "12,50", "", "x; y"]),
            st.sampled_from(["ITEM_RETURNED", "12.50", "x"]),
        ),
        min_size=1,
        max_size=25,
    )
)
def test_a_records_changes_read_as_joined_one_record_at_a_time(
    rows: list[tuple[int, str, str, str]],
) -> None:
    # A record with several changed cells: its changes in the order they were made, joined
    # by "; ", exactly as joining each record's on its own did.
    from reconciler.remediate import _describe_changes

    changes = pd.DataFrame(rows, columns=["pos", "Column", "Before", "After"])
    got = _describe_changes(changes)
    texts = [f"{c} {b!r} → {a!r}" for _, c, b, a in rows]
    expected = (
        pd.Series(texts, index=[r[0] for r in rows], dtype=object)
        .groupby(level=0, sort=True)
        .agg("; ".join)
    )
    assert got.pos.tolist() == expected.index.tolist()
    assert [str(t) for t in got.texts[got.code]] == expected.tolist()


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=6),
            st.sampled_from(
                [
                    "ALREADY_LOCKED",
                    "MALFORMED;BAD_DISPOSITION",
                    "",
                    "NO_CHANGE;",
                    "BAD_DISPOSITION",
                    "Z;A;Z",
                ]
            ),
        ),
        min_size=1,
        max_size=25,
    )
)
def test_a_records_codes_from_several_rows_merge_as_one_record_at_a_time(
    rows: list[tuple[int, str]],
) -> None:
    from reconciler.classify import _merge_codes, merged_codes

    s = np.array([r[0] for r in rows], dtype=np.int64)
    codes = np.array([r[1] for r in rows], dtype=object)
    records, merged = merged_codes(s, codes)
    expected = (
        pd.DataFrame({"s_idx": s, "codes": codes}).groupby("s_idx")["codes"].agg(_merge_codes)
    )
    assert records.tolist() == expected.index.tolist()
    assert merged.tolist() == expected.tolist()


@settings(max_examples=400, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.from_regex(r"[0-9]{1,8},[0-9]{1,3}", fullmatch=True),
            st.text(alphabet="0123456789,. -$€EUR", max_size=10),
        ),
        max_size=30,
    ),
    st.sampled_from(["", "USD", "EUR"]),
)
def test_decimal_commas_read_whole_as_fix_amount_reads_each(
    values: list[str], currency: str
) -> None:
    # What the amount rule and every amount figure make of an amount: the same, whether read
    # a value at a time or (decimal commas) whole columns at a time.
    from reconciler.fixes import fix_amount
    from reconciler.fixes.columns import amount_numbers
    from reconciler.fixes.rules import _apply, _apply_amounts

    raw = np.array(values, dtype=object)
    keyed = np.array([v + "\x1f" + currency for v in values], dtype=object)

    def fn(pair: str) -> object:
        value, _, cur = pair.rpartition("\x1f")
        return fix_amount(value, cur)

    fast = _apply_amounts(raw, keyed, fn)  # type: ignore[arg-type]
    slow = _apply(keyed, fn)  # type: ignore[arg-type]
    for got, want in zip(fast, slow, strict=True):
        assert list(got) == list(want)
    numbers = amount_numbers(pd.Series(values, dtype="str"))
    expected = []
    for v in values:  # plain decimals (any number of places) are read as they stand
        fix = fix_amount(v)
        if re.fullmatch(r"[0-9]+(?:\.[0-9]+)?", v):
            expected.append(float(v))
        else:
            expected.append(float(fix.value) if v != "" and fix.ok else np.nan)
    assert np.array_equal(numbers, np.array(expected, dtype=np.float64), equal_nan=True)
