"""The fast paths of confirming (``--updates``) give exactly what the plain code gives: an
update Id's change number read off its bytes against the regular expression, days written by
NumPy against ``strftime``, and changes worded once per distinct change."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.confirm import _days, _describe_changes
from reconciler.model import Table
from reconciler.updates import _CHANGE_ID, _change_numbers


def _by_expression(ids: pa.Array) -> list[int]:
    parts = pc.extract_regex(ids, _CHANGE_ID)
    tail = pc.fill_null(pc.struct_field(parts, "tail"), "-1")
    return [int(x) for x in pc.cast(tail, pa.int64()).to_pylist()]


CASES = [
    "1000.4636.158133.2", "1000.4636.158133.12", "a.1", "a.000000001", "a.123456789",
    "a.1234567890", "", ".", ".1", "a.", "a.b", "1.23a", "..5", "a..5", "a.5.", "a.-1",
    "a.\uff11", " a.5 ", "é.5", "a./", "a.:", "12.3.x.4", "x" * 40 + ".7",
]  # fmt: skip


@pytest.mark.parametrize("kind", [pa.string(), pa.large_string()])
def test_change_numbers_match_the_expression_on_tricky_ids(kind: pa.DataType) -> None:
    ids = pa.array([*CASES, None], kind)
    assert _change_numbers(ids).tolist() == _by_expression(ids)
    sliced = ids.slice(3, 12)
    assert _change_numbers(sliced).tolist() == _by_expression(sliced)


def test_an_id_with_a_line_break_is_judged_by_the_expression() -> None:
    # "." in the expression matches no line break: "a\n.5" is not numbered, "a.5\n" neither.
    ids = pa.array(["a\n.5", "a.5\n", "b.7", "\n.1"], pa.string())
    assert _change_numbers(ids).tolist() == _by_expression(ids) == [-1, -1, 7, -1]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet="a.0123456789 é/:\n", max_size=14), max_size=40))
def test_change_numbers_match_the_expression(texts: list[str]) -> None:
    ids = pa.array(texts, pa.string())
    assert _change_numbers(ids).tolist() == _by_expression(ids)


def _change_words(st: object, am: float, de: float, di: object) -> str:
    """A change in words, worded on its own (the reference): its state, its amount after with
    the DeltaAmount in brackets (or the DeltaAmount alone), its disposition."""
    parts = [f"State {st}"] if st else []
    if am == am:  # not NaN
        parts.append(f"Amount {am:,.2f}" + (f" ({de:+,.2f})" if de == de else ""))
    elif de == de:
        parts.append(f"DeltaAmount {de:+,.2f}")
    if di:
        parts.append(f"Disposition {di}")
    return ", ".join(parts) or "a change"


def _changes(dates: list[str | None], text: str = "object") -> pd.DataFrame:
    """Changes as the feed gives them; ``text``: the dtype of its text columns (``str``, as
    read, or plain objects)."""
    n = len(dates)
    return pd.DataFrame(
        {
            "date": pd.to_datetime(pd.Series(dates, dtype=object), utc=True, format="ISO8601"),
            "state": pd.Series(
                ["REVERSED", "", "APPROVED", "PENDING"][:n] + [""] * max(0, n - 4), dtype=text
            ),
            "disposition": pd.Series(
                ["ITEM_RETURNED", "", "", "X"][:n] + [""] * max(0, n - 4), dtype=text
            ),
            "amount_after": [0.0, np.nan, -0.0, 1234.5][:n] + [0.0] * max(0, n - 4),
            "delta": [-45.0, 12.0, np.nan, -0.0][:n] + [0.0] * max(0, n - 4),
        }
    )


def test_days_are_utc_days_as_strftime_writes_them() -> None:
    dates = ["2026-11-05T23:30:00-02:00", None, "1969-12-31T23:00:00Z", "2026-01-01T00:00:00Z"]
    u = _changes(dates)
    rows = np.array([0, 1, 2, 3, 0])
    expected = pd.to_datetime(u["date"].iloc[rows], utc=True).dt.strftime("%Y-%m-%d")
    assert _days(u, rows) == ["" if d != d else d for d in expected.tolist()]
    assert _days(u, rows) == ["2026-11-06", "", "1969-12-31", "2026-01-01", "2026-11-06"]
    assert _days(u, np.array([1])) == [""]


def test_changes_are_worded_each_as_its_own() -> None:
    # 0.00 and -0.00 are different words; NaN is no amount; a repeated change reads the same.
    u = _changes(["2026-11-05T09:00:00Z", None, "2026-11-06T09:00:00Z", "2026-11-07T09:00:00Z"])
    got = _describe_changes(u, np.array([0, 1, 2, 3, 0])).tolist()
    assert got == [
        "State REVERSED, Amount 0.00 (-45.00), Disposition ITEM_RETURNED on 2026-11-05",
        "DeltaAmount +12.00",
        "State APPROVED, Amount -0.00 on 2026-11-06",
        "State PENDING, Amount 1,234.50 (-0.00), Disposition X on 2026-11-07",
        "State REVERSED, Amount 0.00 (-45.00), Disposition ITEM_RETURNED on 2026-11-05",
    ]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(["2026-11-05T09:00:00Z", "2026-11-05T23:00:00-02:00", None]),
        min_size=4,
        max_size=4,
    ),
    st.lists(st.integers(min_value=0, max_value=3), min_size=1, max_size=30),
)
@pytest.mark.parametrize("text", ["object", "str"])
def test_changes_worded_once_read_as_each_worded_on_its_own(
    text: str, dates: list[str | None], rows: list[int]
) -> None:
    # Words and days are each written once per distinct value: every row still reads as
    # its own change on its own day (or without a day).
    u = _changes(dates, text)
    at = np.array(rows)
    got = _describe_changes(u, at).tolist()
    days = pd.to_datetime(u["date"].iloc[at], utc=True).dt.strftime("%Y-%m-%d").tolist()
    expected = []
    for r, d in zip(rows, days, strict=True):
        words = _change_words(
            u["state"][r], u["amount_after"][r], u["delta"][r], u["disposition"][r]
        )
        expected.append(words + " on " + d if isinstance(d, str) else words)
    assert got == expected


def test_a_change_with_nothing_to_say_reads_a_change_wherever_it_stands() -> None:
    # No state, amount, DeltaAmount or disposition: "a change", first, between and last
    # (joining parts that are all missing must not lose the row).
    from reconciler.confirm import _changes_worded

    nan = float("nan")
    u = pd.DataFrame(
        {
            "date": pd.to_datetime(pd.Series([None] * 3, dtype=object), utc=True),
            "state": pd.Series(["", "APPROVED", ""], dtype="str"),
            "disposition": pd.Series(["", "", ""], dtype="str"),
            "amount_after": [nan, 1.0, nan],
            "delta": [nan, nan, nan],
        }
    )
    ids, texts = _changes_worded(u, np.array([0, 1, 2, 0]))
    assert [texts[i] for i in ids] == [
        "a change",
        "State APPROVED, Amount 1.00",
        "a change",
        "a change",
    ]


_AMOUNTS = st.one_of(
    st.floats(allow_infinity=False, width=64),
    st.sampled_from([0.0, -0.0, float("nan"), 1e15, -0.005, 0.005, 1234.5]),
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["REVERSED", "", "APPROVED", "a, b"]),
            _AMOUNTS,
            _AMOUNTS,
            st.sampled_from(["ITEM_RETURNED", "", "X"]),
            st.sampled_from(["2026-11-05T09:00:00Z", None]),
        ),
        min_size=1,
        max_size=12,
    ),
    st.lists(st.integers(min_value=0, max_value=11), min_size=1, max_size=30),
    st.sampled_from(["", "applied, then changed: "]),
)
def test_every_change_reads_as_worded_on_its_own(
    changes: list[tuple[str, float, float, str, str | None]], picks: list[int], prefix: str
) -> None:
    # Any amounts (NaN, -0.00, huge, tiny), any parts missing, a prefix or none: each row
    # reads as the reference words it, whatever the other rows hold.
    from reconciler.confirm import _changes_worded

    u = pd.DataFrame(
        {
            "date": pd.to_datetime(
                pd.Series([c[4] for c in changes], dtype=object), utc=True, format="ISO8601"
            ),
            "state": pd.Series([c[0] for c in changes], dtype="str"),
            "disposition": pd.Series([c[3] for c in changes], dtype="str"),
            "amount_after": [c[1] for c in changes],
            "delta": [c[2] for c in changes],
        }
    )
    rows = np.array([p % len(changes) for p in picks])
    ids, texts = _changes_worded(u, rows, prefix)
    for i, r in enumerate(rows.tolist()):
        st_, am, de, di, day = changes[r]
        words = _change_words(st_, am, de, di)
        expected = prefix + (words + " on 2026-11-05" if day else words)
        assert texts[ids[i]] == expected


def _moved_one_record_at_a_time(
    starts: np.ndarray, first_at: np.ndarray, delta: np.ndarray, state: np.ndarray
) -> list[bool]:
    """What ``_settle`` worked out a record at a time before (the reference)."""
    ends = [*starts[1:].tolist(), len(delta)] if len(starts) else []
    moved = []
    for k, end in enumerate(ends):
        a, b = int(first_at[k]), end - 1
        if a >= len(delta) or b <= a:
            moved.append(False)
            continue
        later_delta = delta[a + 1 : b + 1]
        later_state = state[a + 1 : b + 1]
        moved.append(
            bool((np.nan_to_num(later_delta) != 0).any() or (later_state != state[a]).any())
        )
    return moved


@settings(max_examples=400, deadline=None)
@given(
    st.lists(
        st.lists(
            st.tuples(
                st.booleans(),  # the change asked for
                st.sampled_from([0.0, -0.0, np.nan, 5.0, -12.5]),
                st.integers(min_value=0, max_value=2),  # the state, as a number
            ),
            min_size=1,
            max_size=6,
        ),
        max_size=12,
    )
)
def test_a_later_change_is_found_as_record_by_record(
    records: list[list[tuple[bool, float, int]]],
) -> None:
    # Each record's changes after the submission, in order: whether one of them is the change
    # asked for, and whether a later one moved the amount or the state away from it.
    from reconciler.confirm import _group_starts, _moved_since

    rows = [(k, *change) for k, changes in enumerate(records) for change in changes]
    r = np.array([row[0] for row in rows], dtype=np.int64)
    match = np.array([row[1] for row in rows], dtype=bool)
    delta = np.array([row[2] for row in rows], dtype=np.float64)
    state = np.array([row[3] for row in rows], dtype=np.int64)
    starts = _group_starts(r)
    pos = np.arange(len(r))
    first_at = (
        np.minimum.reduceat(np.where(match, pos, len(r)), starts) if len(r) else starts.copy()
    )
    got = _moved_since(starts, first_at, delta, state).tolist()
    assert got == _moved_one_record_at_a_time(starts, first_at, delta, state)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["PENDING", "APPROVED", "", "REVERSED"]),
            st.sampled_from([0.0, -0.0, np.nan, 12.5, 1234.5]),
        ),
        max_size=30,
    )
)
def test_states_worded_once_read_as_each_worded_on_its_own(
    pairs: list[tuple[str, float]],
) -> None:
    from reconciler.confirm import _describe_state, _describe_states

    state = np.array([p[0] for p in pairs], dtype=object)
    amount = np.array([p[1] for p in pairs], dtype=np.float64)
    expected = [_describe_state(s, a) for s, a in pairs]
    assert _describe_states(state, amount).tolist() == expected


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.integers(min_value=0, max_value=5), max_size=25),
    st.lists(st.one_of(st.none(), st.integers(min_value=0, max_value=5)), max_size=25),
)
def test_records_meet_their_changes_as_a_join_would(
    changes: list[int], named: list[int | None]
) -> None:
    # The feed's rows sorted by action; each record naming an action listed (or none).
    from reconciler.confirm import _changes_of

    u_code = np.sort(np.array(changes, dtype=np.int64))
    listed = set(changes)
    action = np.array([a if a in listed else -1 for a in named], dtype=np.int64)
    records = np.flatnonzero(action >= 0)
    rec = pd.DataFrame({"r": records, "a": action[records]})
    rows = pd.DataFrame({"a": u_code, "u": np.arange(len(u_code))})
    joined = rec.merge(rows, on="a", how="inner", sort=False)
    joined = joined.sort_values(["r", "u"], kind="stable")
    r, u = _changes_of(records, action[records], u_code)
    assert r.tolist() == joined["r"].tolist()
    assert u.tolist() == joined["u"].tolist()


def test_a_year_before_1000_is_written_as_strftime_writes_it() -> None:
    u = _changes(["0999-06-01T00:00:00Z", "2026-11-05T09:00:00Z"])
    rows = np.array([0, 1])
    expected = pd.to_datetime(u["date"].iloc[rows], utc=True).dt.strftime("%Y-%m-%d")
    assert _days(u, rows) == expected.tolist()


@pytest.mark.parametrize(
    "texts",
    [["a", "b"], ["a ", "b"], [" a"], ["a\t"], ["a\u00a0"], ["\u3000a"], ["a\x1f"], ["", "x"],
     ["é"], ["x", "y\u2028"], [], ["", "\x01"], ["\x01a"], ["a\x7f"], ["a", "", ""],
     ["", "", " "], ["", "b", ""], ["~!"]],
)  # fmt: skip
def test_values_are_trimmed_whenever_trimming_changes_one(texts: list[str]) -> None:
    from reconciler.updates import _may_have_edge_space

    arr = pa.array(texts, pa.string())
    changes = pc.utf8_trim_whitespace(arr).to_pylist() != texts
    assert not changes or _may_have_edge_space(arr)
    if all(t.isascii() for t in texts):  # ASCII: exactly when trimming changes a value
        assert _may_have_edge_space(arr) == changes


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.text(alphabet=st.sampled_from("ab !~\x00\x01\t\n\x1f\x7fé\u00a0\u3000"), max_size=4),
        max_size=8,
    ),
    st.integers(0, 3),
)
def test_edge_space_is_read_off_every_value_at_any_offset(texts: list[str], skip: int) -> None:
    # ASCII values: exactly when one starts or ends with what Arrow trims; others: whenever
    # it may. Also on a slice of an array (offsets not from 0), as chunks of a read are.
    from reconciler.updates import _may_have_edge_space

    arr = pa.array(["x y", *texts[:skip], *texts], pa.string()).slice(1 + min(skip, len(texts)))
    changes = pc.utf8_trim_whitespace(arr).to_pylist() != arr.to_pylist()
    got = _may_have_edge_space(arr)
    assert got or not changes
    if all(t.isascii() for t in texts):
        assert got == changes


SPELLINGS = [
    "2026-11-05T09:00:00Z", "2026-11-05T09:00:00.5Z", "2026-11-05T09:00:00.123456+01:00",
    "2026-11-05T09:00:00-0500", "2026-11-05 09:00:00Z", "2026-11-05T09Z", "2026-11-05T09:00Z",
    "2026-11-05T09:00:00+01", "1969-12-31T23:59:59Z", "2026-11-05T09:00:00", "2026-11-05",
    "5 Nov 2026", "", "not a date", "2026-11-05T09:00:00.1234567Z", "2026-02-30T09:00:00Z",
    "2026-11-05T23:59:60Z",
]  # fmt: skip


def _by_pandas(texts: list[str]) -> list[pd.Timestamp]:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        when = pd.to_datetime(
            pd.Series(texts, dtype=object), errors="coerce", utc=True, format="mixed"
        )
    return when.dt.floor("us").tolist()


@pytest.mark.parametrize("at", range(len(SPELLINGS)))
def test_update_dates_are_the_instants_pandas_reads(at: int) -> None:
    # Alone (the whole column in Arrow's one pass when it can), beside an ISO date, and
    # among every other spelling: each cell reads the same instant (or none).
    from reconciler.updates import _dates

    for texts in ([SPELLINGS[at]], [SPELLINGS[at], "2026-11-05T09:00:00Z"], SPELLINGS):
        got = _dates(pa.array(texts, pa.string()))
        assert str(got.dtype) == "datetime64[us, UTC]"
        assert [None if pd.isna(t) else t for t in got.tolist()] == [
            None if pd.isna(t) else t for t in _by_pandas(texts)
        ]


@pytest.mark.parametrize("first", ["iso", "other"])
@pytest.mark.parametrize("chunk", [None, 700])
def test_a_long_column_of_mixed_dates_reads_every_cell(first: str, chunk: int | None) -> None:
    # More dates than the first ones tried on their own: a column whose first thousand dates
    # are ISO 8601 and whose later ones are not (and the reverse), each spelling many times
    # over, in one piece and in pieces as read: every cell the instant pandas gives it.
    from reconciler.updates import _PROBE, _dates

    iso = [t for t in SPELLINGS if t.endswith("Z") and "T" in t]
    other = [t for t in SPELLINGS if t not in iso]
    lead, rest = (iso, other) if first == "iso" else (other, iso)
    texts = [lead[i % len(lead)] for i in range(_PROBE + 5)]
    texts += [rest[i % len(rest)] for i in range(2 * _PROBE)] + lead
    arr = (
        pa.array(texts, pa.string())
        if chunk is None
        else pa.chunked_array(
            [pa.array(texts[i : i + chunk], pa.string()) for i in range(0, len(texts), chunk)]
        )
    )
    got = _dates(arr)
    assert str(got.dtype) == "datetime64[us, UTC]"
    assert [None if pd.isna(t) else t for t in got.tolist()] == [
        None if pd.isna(t) else t for t in _by_pandas(texts)
    ]


def _updates_table(columns: dict[str, list[str]], chunk: int) -> Table:
    """An updates file as the reader gives it: each column in chunks of ``chunk`` rows."""
    from reconciler.normalize import from_arrow

    n = len(next(iter(columns.values())))
    frame = pd.DataFrame(
        {
            label: from_arrow(
                pa.chunked_array(
                    [pa.array(v[i : i + chunk], pa.large_string()) for i in range(0, n, chunk)],
                    pa.large_string(),
                )
            )
            for label, v in columns.items()
        }
    )
    return Table(
        path=Path("updates.csv"), format="csv", header=tuple(columns), frame=frame,
        lines=np.arange(2, n + 2),
    )  # fmt: skip


def test_updates_read_in_chunks_key_as_read_whole() -> None:
    # A big file comes in chunks: a value to trim, an odd amount or an odd date in a later
    # chunk is found and read as it is in one array.
    from reconciler.updates import read_updates

    columns = {
        "Id": ["A.1", "A.2", "B.1", "C.1", "D.1", "E.3", "A.2"],
        "ActionId": ["A", "A", "B", "C", "D", " E ", "A"],
        "State": ["pending", "REVERSED", "", "APPROVED", "x", "y", "REVERSED"],
        "DeltaAmount": ["-5.00", "", "1,234.50", "abc", "+3", "$2", ""],
        "Amount": ["10", "0.00", "", "12 EUR", "7.5", " 8 ", "0.00"],
        "UpdateDate": [
            "2026-11-05T09:00:00Z", "", "2026-11-05", "5 Nov 2026", "2026-11-05T09:00:00+01:00",
            "2026-02-30T09:00:00Z", "",
        ],
    }  # fmt: skip
    whole = read_updates([_updates_table(columns, 7)]).frame
    for chunk in (1, 2, 3):
        chunked = read_updates([_updates_table(columns, chunk)]).frame
        pd.testing.assert_frame_equal(chunked, whole)
    assert whole["k_action"].tolist() == ["A", "A", "B", "C", "D", "E"]
    assert whole["amount"].tolist()[:2] == [10.0, 0.0]


_ID_PIECES = ["1000.4636.158133", "1000.4636.158134", "a", "é", "", ".", "1", "2", "x" * 9]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.lists(st.sampled_from(_ID_PIECES), max_size=3).map("".join), max_size=14),
    st.integers(min_value=1, max_value=5),
    st.integers(min_value=0, max_value=3),
)
def test_a_change_listed_again_is_the_one_pandas_calls_duplicated(
    ids: list[str], chunk: int, skip: int
) -> None:
    # Ids short and long, sharing their first or last bytes, read in chunks and from a slice
    # (an array that starts inside its buffers): a change is dropped exactly when an earlier
    # row has its Id, compared as written; empty Ids are never dropped.
    from reconciler import updates
    from reconciler.normalize import from_arrow
    from reconciler.updates import _listed_before

    column = pa.chunked_array(
        [pa.array(["lead"] * skip + ids, pa.large_string()).slice(skip)], pa.large_string()
    )
    chunks = [column.slice(i, chunk) for i in range(0, len(ids), chunk)]
    for arrow in (
        column,
        pa.chunked_array([c.combine_chunks() for c in chunks], pa.large_string()),
    ):
        plain = pd.Series(ids, dtype=object)
        expected = (plain.ne("") & plain.duplicated()).tolist()
        assert _listed_before(from_arrow(arrow)).tolist() == expected
        with pytest.MonkeyPatch.context() as mp:  # every fingerprint shared: all compared
            mp.setattr(updates, "_fingerprints", lambda a: np.zeros(len(a), np.uint64))
            assert _listed_before(from_arrow(arrow)).tolist() == expected


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([*_ID_PIECES, "abcdefgh", "abcdefghi", "zbcdefgh"]), max_size=12))
def test_equal_values_have_equal_fingerprints_whatever_stands_beside_them(
    values: list[str],
) -> None:
    from reconciler.bytescan import _fingerprints

    got = _fingerprints(pa.array(values, pa.string())).tolist()
    for i, a in enumerate(values):
        alone = _fingerprints(pa.array([a], pa.string())).tolist()[0]
        assert got[i] == alone  # its neighbours' bytes never count
    by_value = {}
    for v, f in zip(values, got, strict=True):
        assert by_value.setdefault(v, f) == f


def _fingerprints_of_a_padded_copy(arr: pa.Array) -> list[int]:
    """The fingerprints as first written: every word read from a copy of the bytes padded
    with eight zeros (the reference the code, which reads the bytes where they lie, must
    equal)."""
    from reconciler.bytescan import _data_view, _offsets

    offsets = _offsets(arr)
    starts, ends = offsets[:-1], offsets[1:]
    lengths = (ends - starts).astype(np.uint64)
    raw = np.frombuffer(_data_view(arr), dtype=np.uint8)
    padded = np.concatenate((raw, np.zeros(8, dtype=np.uint8)))
    words = np.ndarray((len(raw) + 1,), dtype="<u8", buffer=padded, strides=(1,))
    short = lengths < 8
    keep = np.where(
        short, (np.uint64(1) << (lengths.clip(max=7) * np.uint64(8))) - np.uint64(1), ~np.uint64(0)
    )
    first = words[starts] & keep
    last = np.where(short, first, words[np.maximum(ends - 8, 0)])
    with np.errstate(over="ignore"):
        mixed = first * np.uint64(0x9E3779B97F4A7C15) ^ last * np.uint64(0xC2B2AE3D27D4EB4F)
        return (mixed ^ lengths).tolist()


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.text(alphabet="ab\u00e9z09.", max_size=19), min_size=1, max_size=14),
    st.integers(min_value=0, max_value=3),
    st.booleans(),
)
def test_fingerprints_read_where_the_bytes_lie_equal_those_of_a_padded_copy(
    values: list[str], skip: int, large: bool
) -> None:
    # The last values start within the data's last seven bytes (read from its last word,
    # shifted): short and empty values at the end, arrays of fewer than eight bytes, slices.
    from reconciler.bytescan import _fingerprints

    kind = pa.large_string() if large else pa.string()
    arr = pa.array(["lead"] * skip + values, kind).slice(skip)
    assert _fingerprints(arr).tolist() == _fingerprints_of_a_padded_copy(arr)


_FEED_VALUES = {
    "Id": ["1000.4636.310001.1", "1000.4636.310001.2", "x.1", "1.", ".5", "", "a.1234567890"],
    "ActionId": ["1000.4636.310001", "01000.4636.310001", "", " 1000.4636.310002 ", "\u0661"],
    "Oid": ["", "T61000001", "00123", "1e5", "12346.0"],
    "State": ["REVERSED", "reversed", "", "PENDING", "\x00", "ß"],
    "Disposition": ["", "ORDER_UPDATE", "=cmd|x", "<b>"],
    "DeltaAmount": ["", "-5.00", "1e400", "9" * 400, "nan", "inf", "-0", "1,234.50", "+-3", ".5"],
    "Amount": ["", "0", "0.00", "-0", "abc", "1.234,50", "  12  ", "\u0663"],
    "Sku": ["", "79369127", "079369127", "=1+1"],
    "Quantity": ["", "1", "2", "1.0", "-1", "x"],
    "UpdateDate": [
        "", "2026-11-10T13:30:12Z", "2026-11-02", "2026-02-30T00:00:00Z", "0001-01-01T00:00:00Z",
        "10000-01-01T00:00:00Z", "2026-11-02T09:00:00.1234567Z", "2026-13-45", "yesterday",
        "2026-11-02T09:00:00+14:00", "1677-09-21T00:12:43Z", "2262-04-12T00:00:00Z",
    ],
}  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(
    st.sets(st.sampled_from(sorted(_FEED_VALUES)), min_size=1),
    st.lists(st.integers(min_value=0, max_value=10**6), max_size=12),
    st.booleans(),
    st.booleans(),
)
def test_any_feed_confirms_or_is_refused_in_one_line(
    fields: set[str], picks: list[int], dated: bool, complete: bool
) -> None:
    # Whatever a feed holds, reading and confirming it ends in verdicts (or a refusal of
    # the file): never an exception of the code's own.
    from reconciler.confirm import CONFIRMATIONS, confirm
    from reconciler.detect import detect_template
    from reconciler.errors import ShapeError
    from reconciler.readers import read_table
    from reconciler.updates import read_updates

    folder = Path(__file__).resolve().parent.parent / "fixtures" / "confirm_item_modification"
    sent = read_table(folder / "sent.csv")
    labels = sorted(fields)
    rows = [
        [_FEED_VALUES[f][(p >> i) % len(_FEED_VALUES[f])] for i, f in enumerate(labels)]
        for p in picks
    ]
    table = _updates_table({f: [r[i] for r in rows] for i, f in enumerate(labels)}, 3)
    try:
        updates = read_updates([table])
    except ShapeError:
        return
    when = pd.Timestamp("2026-11-01T00:00:00Z") if dated else None
    done = confirm(sent, detect_template(sent), updates, submitted=when, complete=complete)
    assert set(done.status.tolist()) <= {*CONFIRMATIONS, ""}
    assert len(done.status) == sent.records


def _statuses(tmp_path: Path, rows: str, feed: dict[str, list[str]]) -> list[str]:
    """Each record's confirmation: a modification file of ``rows`` against the feed."""
    from reconciler.confirm import confirm
    from reconciler.detect import detect_template
    from reconciler.readers import read_table
    from reconciler.updates import read_updates

    path = tmp_path / "sent.csv"
    header = "ActionId,Oid,ActionTrackerId,Amount,CurrencyCode,CustomerStatus,Reason\n"
    path.write_text(header + rows, encoding="utf-8")
    sent = read_table(path)
    updates = read_updates([_updates_table(feed, 1)])
    return [str(s) for s in confirm(sent, detect_template(sent), updates, submitted=None).status]


@pytest.mark.parametrize("aid", ["o:X|T", "|X|T", "X|T"])
def test_an_action_id_is_never_taken_for_an_order_of_the_updates(tmp_path: Path, aid: str) -> None:
    # The feed lists one action, by its order (Oid X, tracker T, no ActionId). A record
    # whose ActionId merely reads like that order's key (as keys were once written, or are
    # now) is not that action: it is not in the updates.
    feed = {"Id": ["9.1"], "ActionId": [""], "Oid": ["X"], "ActionTrackerId": ["T"],
            "State": ["REVERSED"], "Amount": ["0"]}  # fmt: skip
    rows = f"{aid},,,0,,,ITEM_RETURNED\n,X,T,0,,,ITEM_RETURNED\n"
    first, second = _statuses(tmp_path, rows, feed)
    assert first == "not_in_updates" and second != "not_in_updates"


def test_an_oid_holding_a_bar_is_not_a_shorter_oid_with_another_tracker(tmp_path: Path) -> None:
    # Records by order (Oid and tracker) against the feed's orders: ("Q|R", "U") and
    # ("Q", "R|U") once made one key.
    feed = {"Id": ["9.1", "9.2"], "ActionId": ["9", "8"], "Oid": ["Q", "P"],
            "ActionTrackerId": ["R|U", "V"], "State": ["REVERSED", "REVERSED"],
            "Amount": ["0", "0"]}  # fmt: skip
    rows = ",Q|R,U,0,,,ITEM_RETURNED\n,P,V,0,,,ITEM_RETURNED\n"
    first, second = _statuses(tmp_path, rows, feed)
    assert first == "not_in_updates" and second != "not_in_updates"


@pytest.mark.parametrize(
    "spelled",
    ["{m}/{d}/{y} {H}:{M}:{S}", "{m:02d}/{d:02d}/{y} {H:02d}:{M:02d}", "{y}-{m:02d}-{d:02d} {H:02d}:{M:02d}:{S:02d}",
     "{d}/{m}/{y}", "{y}/{m}/{d}"],
)  # fmt: skip
def test_a_column_of_local_dates_is_read_as_pandas_reads_each(spelled: str) -> None:
    # Hundreds of distinct dates in one spelling (a spreadsheet's or a local export's), with
    # the odd one out among them: every cell reads the instant pandas' "mixed" gives it.
    from reconciler.updates import _dates

    rng = random.Random(spelled)
    texts = []
    for i in range(900):
        y, m, d = rng.choice([2025, 2026]), rng.randint(1, 12), rng.randint(1, 31)
        H, M, S = rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59)
        texts.append(spelled.format(y=y, m=m, d=d, H=H, M=M, S=S))
        if i % 97 == 0:  # the odd ones: another spelling, a time of day, no date at all
            texts.append(rng.choice(["11/2/2026 7:37:34 PM", "2026-11-05T09:00:00Z", "13/02/2026",
                                     "soon", "", "02/30/2026", "5 Nov 2026", "2026-11-05 09:00"]))  # fmt: skip
    got = _dates(pa.array(texts, pa.string()))
    assert [None if pd.isna(t) else t for t in got.tolist()] == [
        None if pd.isna(t) else t for t in _by_pandas(texts)
    ]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(min_value=0, max_value=4), st.integers(min_value=0, max_value=6)),
        max_size=30,
    )
)
def test_each_order_counts_the_distinct_actions_listed_for_it(pairs: list[tuple[int, int]]) -> None:
    # Rows listing (order, action): per order, how many distinct actions, and the first.
    from reconciler.confirm import _order_actions

    orders = 5
    order = np.array([o for o, _ in pairs], dtype=np.int64)
    action = np.array([a for _, a in pairs], dtype=np.int64)
    count, first = _order_actions(order, action, orders)
    listed: dict[int, list[int]] = {}
    for o, a in pairs:
        if a not in listed.setdefault(o, []):
            listed[o].append(a)
    assert count.tolist() == [len(listed.get(o, [])) for o in range(orders)]
    assert first.tolist() == [listed[o][0] if listed.get(o) else -1 for o in range(orders)]


def test_an_order_listed_with_two_actions_names_neither(tmp_path: Path) -> None:
    # The feed lists two actions of order X (tracker T) and one of order Y: a record by
    # order X cannot say which it changed; a record by order Y is confirmed.
    from reconciler.confirm import confirm
    from reconciler.detect import detect_template
    from reconciler.readers import read_table
    from reconciler.updates import read_updates

    feed = {"Id": ["1.2", "2.2", "3.2"], "ActionId": ["1", "2", "3"], "Oid": ["X", "X", "Y"],
            "ActionTrackerId": ["T", "T", "T"], "State": ["REVERSED"] * 3,
            "Amount": ["0", "0", "0"]}  # fmt: skip
    path = tmp_path / "sent.csv"
    path.write_text(
        "ActionId,Oid,ActionTrackerId,Amount,CurrencyCode,CustomerStatus,Reason\n"
        ",X,T,0,,,ITEM_RETURNED\n,Y,T,0,,,ITEM_RETURNED\n",
        encoding="utf-8",
    )
    sent = read_table(path)
    done = confirm(
        sent, detect_template(sent), read_updates([_updates_table(feed, 2)]), submitted=None
    )
    assert [str(s) for s in done.status] == ["not_in_updates", "confirmed"]
    assert str(done.shows[0]) == "its Oid names several actions in the updates"


def _amount_after_by_groups(u: pd.DataFrame, code: np.ndarray) -> np.ndarray:
    """The amount after each change as first written: the running sum over every action."""
    amount = u["amount"].to_numpy(dtype=np.float64).copy()
    delta = u["delta"].to_numpy(dtype=np.float64)
    if np.isnan(delta).all():
        return amount
    holds_first = np.zeros(int(code.max()) + 1 if len(code) else 0, dtype=bool)
    holds_first[code[u["seq"].to_numpy() == 1]] = True
    running = pd.Series(np.nan_to_num(delta)).groupby(code).cumsum().to_numpy()
    fill = np.isnan(amount) & holds_first[code]
    amount[fill] = running[fill]
    return amount


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=4),
            st.integers(min_value=1, max_value=3),
            st.one_of(st.none(), st.sampled_from([0.0, -0.0, 12.5, 1e16])),
            st.one_of(st.none(), st.sampled_from([-5.0, 0.1, 0.2, -0.0, 3e-7])),
        ),
        max_size=25,
    )
)
def test_amounts_after_each_change_add_up_as_over_every_action(
    rows: list[tuple[int, int, float | None, float | None]],
) -> None:
    # Only the actions with an Amount to fill are added up: the same sums, to the bit.
    from reconciler.confirm import _amount_after

    rows = sorted(rows, key=lambda r: r[0])  # the feed as sorted: by action
    code = np.array([r[0] for r in rows], dtype=np.int64)
    u = pd.DataFrame(
        {
            "seq": np.array([r[1] for r in rows], dtype=np.int64),
            "amount": np.array([np.nan if r[2] is None else r[2] for r in rows], dtype=float),
            "delta": np.array([np.nan if r[3] is None else r[3] for r in rows], dtype=float),
        }
    )
    got = _amount_after(u, code)
    expected = _amount_after_by_groups(u, code)
    assert got.view(np.int64).tolist() == expected.view(np.int64).tolist()
