"""The cheaper paths of reading and summarising give exactly what the exact paths give.

A first look at each cell's first byte leaves most cells out of the repeated-header search
(an ID starts with a digit): a header hiding behind separators, a quote, a BOM or an invisible
character in a file of digit IDs is still refused. The summary's figures, worked out per
distinct value, equal the per-record ones.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from reconciler.cli import app
from reconciler.errors import InputError
from reconciler.readers import read_table
from reconciler.readers.common import (
    _NAME_STARTS,
    _header_like,
    _known_cells,
    _known_cells_exact,
    _may_start,
    _own_starts,
)

runner = CliRunner()

SENT_HEADER = "ActionId,Oid,ActionTrackerId,Amount,CurrencyCode,CustomerStatus,Reason"
RESULTS_HEADER = "Line,Order Id,Action Tracker Id,Error Type,Message"


def _invoke(*args: object) -> tuple[int, str, str]:
    result = runner.invoke(app, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


def _write(path: Path, text: str) -> Path:
    path.write_bytes(text.encode("utf-8"))
    return path


def _digit_rows(count: int) -> str:
    """Sent rows whose first two cells are digit IDs or empty, as in a real export."""
    return "".join(
        f"1000.4636.{158133 + i},,,10.00,USD,,ORDER_UPDATE\n"
        if i % 2
        else f",40512345678900{i:05d},16027,0,,,TEST_ACTION\n"
        for i in range(count)
    )


# ------------------------------------------------------------- a header among digit IDs


@pytest.mark.parametrize(
    "repeat",
    [
        "  ActionId,Oid,ActionTrackerId,Amount,CurrencyCode,CustomerStatus,Reason",
        "\tActionId,Oid,ActionTrackerId,Amount,CurrencyCode,CustomerStatus,Reason",
        '"ActionId","Oid","ActionTrackerId","Amount","CurrencyCode","CustomerStatus","Reason"',
        '" ActionId",Oid,ActionTrackerId,Amount,CurrencyCode,CustomerStatus,Reason',
        "_ActionId,Oid,ActionTrackerId,Amount,CurrencyCode,CustomerStatus,Reason",
        ".ActionId,Oid,ActionTrackerId,Amount,CurrencyCode,CustomerStatus,Reason",
        "-actionid,oid,actiontrackerid,amount,currencycode,customerstatus,reason",
        "\ufeff" + SENT_HEADER,  # a BOM
        "\ufeff\ufeff" + SENT_HEADER,
        "\u200b" + SENT_HEADER,  # a zero-width space
        "\u2060 " + SENT_HEADER,  # a word joiner, then a space
        "\u00a0" + SENT_HEADER,  # a no-break space
        "\u3000" + SENT_HEADER,  # an ideographic space
        "ＡｃｔｉｏｎＩｄ,Ｏｉｄ,ActionTrackerId,Amount,CurrencyCode,CustomerStatus,Reason",
        "\u0410ctionId,Oid,ActionTrackerId,Amount,CurrencyCode,CustomerStatus,Reason",
        "REASON,CUSTOMERSTATUS,CURRENCYCODE,AMOUNT,ACTIONTRACKERID,OID,ACTIONID",
        # The first cell empty: the second one is a name.
        ",Oid,ActionTrackerId,Amount,CurrencyCode,CustomerStatus,Reason",
    ],
)
def test_a_repeated_header_behind_a_disguise_among_digit_ids_is_refused(
    tmp_path: Path, repeat: str
) -> None:
    body = _digit_rows(40)
    sent = _write(tmp_path / "sent.csv", f"{SENT_HEADER}\n{body}{repeat}\n{_digit_rows(3)}")
    results = _write(tmp_path / "results.csv", RESULTS_HEADER + "\n")
    code, stdout, stderr = _invoke("reconcile", sent, results, "-o", tmp_path / "out")
    assert code == 2, stdout
    assert stderr.startswith("reconciler: ")
    assert "sent.csv:42: " in stderr
    assert "repeats the header row here" in stderr or "the header row of another" in stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("repeat", "what"),
    [
        (" Line,Order Id,Action Tracker Id,Error Type,Message", "another export"),
        ('"\u200bLine",Order Id,Action Tracker Id,Error Type,Message', "another export"),
        ("\ufeffOrderId,ActionTrackerId,ErrorType,ErrorReason,", "another export"),
        ('"ActionId;Amount;Reason",,,,,,', "written with ';'"),
        ('" ActionId|Amount|Reason",,,,,,', "written with '|'"),
        ('"\ufeffOid;ActionTrackerId;Amount;Reason",,,,,,', "written with ';'"),
    ],
)
def test_another_exports_header_among_digit_ids_is_refused(
    tmp_path: Path, repeat: str, what: str
) -> None:
    sent = _write(tmp_path / "sent.csv", f"{SENT_HEADER}\n{_digit_rows(40)}{repeat}\n")
    results = _write(tmp_path / "results.csv", RESULTS_HEADER + "\n")
    code, stdout, stderr = _invoke("reconcile", sent, results, "-o", tmp_path / "out")
    assert code == 2, stdout
    assert "sent.csv:42: " in stderr
    assert what in stderr


def test_a_results_header_repeated_among_line_numbers_is_refused(tmp_path: Path) -> None:
    sent = _write(tmp_path / "sent.csv", f"{SENT_HEADER}\n{_digit_rows(40)}")
    rows = "".join(f"{i + 2},,,Validation,NO_CHANGE\n" for i in range(30))
    results = _write(
        tmp_path / "results.csv",
        f"{RESULTS_HEADER}\n{rows}  line , order id,Action Tracker Id,Error Type,Message\n",
    )
    code, stdout, stderr = _invoke("reconcile", sent, results, "-o", tmp_path / "out")
    assert code == 2, stdout
    assert "results.csv:32: repeats the header row here" in stderr


def test_a_header_whose_own_names_start_with_a_digit_is_still_found(tmp_path: Path) -> None:
    """A column name of the file's own that starts with a digit (``2nd Line``): its repeat
    starts with a digit too, and is found."""
    path = _write(
        tmp_path / "t.csv",
        "2nd Line,3rd Line,Amount\n"
        + "".join(f"{i},{i},1.00\n" for i in range(20))
        + "2ND LINE,3rd line,AMOUNT\n1,2,3\n",
    )
    with pytest.raises(InputError) as raised:
        read_table(path)
    assert raised.value.line == 22
    assert "repeats the header row here" in str(raised.value)


def test_digit_ids_and_header_words_as_data_are_read(tmp_path: Path) -> None:
    """Nothing is refused in a file of digit IDs whose other cells are header words."""
    path = _write(
        tmp_path / "t.csv",
        f"{SENT_HEADER}\n{_digit_rows(30)}1,2,3,Amount,Currency,Status,Reason\n",
    )
    table = read_table(path)
    assert table.records == 31


# ------------------------------------------------- the first-byte look agrees with the regexes

_PIECES = [
    "",
    " ",
    "\t",
    "_",
    ".",
    "-",
    "/",
    '"',
    "\x1c",
    "\ufeff",
    "\u200b",
    "\u00a0",
    "é",
    "0",
    "7",
    "1000.4636.158133",
    "4051234567890000001",
    "ActionId",
    "actionid",
    "Oid",
    "Order Id",
    "Amount",
    "Reason",
    "Line",
    "Sku3",
    "ItemSku",
    "2nd Line",
    ";",
    ",",
    "|",
    "$",
    "#",
    "Ｏｉｄ",
    "\u0410ction",
]

_cells = st.lists(st.sampled_from(_PIECES), max_size=4).map("".join)


def _arrow_series(values: list[str], *, large: bool, chunks: int, skip: int) -> pd.Series:
    """Values as an Arrow-held series: string or large_string, in chunks, the first ``skip``
    of each chunk sliced off (as a header row is)."""
    kind = pa.large_string() if large else pa.string()
    size = max(1, -(-len(values) // chunks))
    parts = [
        pa.array(["HEADER"] * skip + values[i : i + size], type=kind).slice(skip)
        for i in range(0, len(values), size)
    ]
    if not parts:
        parts = [pa.array([], type=kind)]
    return pd.Series(pd.arrays.ArrowExtensionArray(pa.chunked_array(parts, type=kind)))


@settings(max_examples=300, deadline=None)
@given(
    values=st.lists(_cells, max_size=30),
    large=st.booleans(),
    chunks=st.integers(1, 4),
    skip=st.integers(0, 2),
    tail=st.booleans(),
)
def test_known_cells_agree_with_the_exact_test(
    values: list[str], large: bool, chunks: int, skip: int, tail: bool
) -> None:
    plain = pd.Series(values, dtype="str")
    exact = _known_cells_exact(plain, tail=tail)
    assert _known_cells(plain, tail=tail).tolist() == exact.tolist()
    held = _arrow_series(values, large=large, chunks=chunks, skip=skip)
    may = _may_start(held, _NAME_STARTS)
    assert not (exact & ~may).any()  # a cell left out is never one the exact test passes


@settings(max_examples=300, deadline=None)
@given(values=st.lists(_cells, max_size=30), large=st.booleans(), chunks=st.integers(1, 4))
def test_the_own_header_look_keeps_every_cell_the_regex_passes(
    values: list[str], large: bool, chunks: int
) -> None:
    for keys in ({"actionid", "oid", "amount"}, {"2ndline", "amount"}, {"line", "sku3"}):
        like = _header_like(keys)(pd.Series(values, dtype="str"))
        may = _may_start(
            _arrow_series(values, large=large, chunks=chunks, skip=1), _own_starts(keys)
        )
        assert not (like & ~may).any()


def test_the_first_byte_look_leaves_out_only_plain_cells() -> None:
    values = ["", "1000.4636.1", "7é", "0\u200b", " 12", "Oid", "\ufeff1", "$5"]
    may = _may_start(pd.Series(values, dtype="str"), _NAME_STARTS)
    assert may.tolist() == [False, False, True, True, True, True, True, False]
    missing = pd.Series(["1", None, "2"], dtype="str")
    assert _may_start(missing, _NAME_STARTS).tolist() == [False, True, False]
    assert _may_start(pd.Series(values, dtype=object), _NAME_STARTS).all()
    assert np.asarray(_may_start(pd.Series([], dtype="str"), _NAME_STARTS)).size == 0


# ------------------------------------------ summary figures per distinct value, as per record

_WORDS = st.sampled_from(["accepted", "rejected", "none", "", "A;B", "B", "NO_CHANGE;A"])


def _reference_counts(values: pd.Series) -> dict[str, int]:
    """The summary's per-record count: pandas' value_counts over the whole column."""
    vc = values.value_counts()
    vc = vc[vc > 0]
    return {str(k): int(v) for k, v in sorted(vc.items(), key=lambda kv: (-kv[1], str(kv[0])))}


def _reference_by_code(codes: pd.Series) -> dict[str, int]:
    counter: dict[str, int] = {}
    for cell, n in codes[codes != ""].value_counts().items():
        for code in str(cell).split(";"):
            if n:
                counter[code] = counter.get(code, 0) + int(n)
    return dict(sorted(counter.items(), key=lambda kv: (-kv[1], kv[0])))


@settings(max_examples=200, deadline=None)
@given(
    values=st.lists(st.one_of(_WORDS, st.none()), max_size=40),
    kind=st.sampled_from(["category", "str", "object"]),
    extra=st.lists(_WORDS, max_size=3),
)
def test_counts_per_distinct_value_equal_the_per_record_ones(
    values: list[str | None], kind: str, extra: list[str]
) -> None:
    from reconciler.summary import _by_code, _counts, _is_in

    series = pd.Series(values, dtype=object)
    if kind == "category":  # with unused categories, as the records' columns have
        used = {v for v in values if v is not None}
        series = series.astype(pd.CategoricalDtype(sorted(used | set(extra))))
    elif kind == "str":
        series = series.astype("str")
    assert _counts(series) == _reference_counts(series)
    assert _by_code(series) == _reference_by_code(series)
    wanted = ("rejected", "")
    assert _is_in(series, wanted).tolist() == series.isin(wanted).to_numpy(dtype=bool).tolist()


def _reference_currencies(
    cells: pd.Series, amt: np.ndarray, rejected: np.ndarray
) -> tuple[list[str], bool, dict[str, str]]:
    """The per-record currency figures of money_at_stake as first written."""
    where = np.flatnonzero(rejected)
    cur = np.full(len(cells), "", dtype=object)
    cur[where] = cells.astype("str").iloc[where].str.strip().str.upper().to_numpy(dtype=object)
    currencies = sorted({str(c) for c in cur[where] if c})
    counted = np.nan_to_num(amt[where]) != 0
    blank = bool(currencies) and bool(np.any((cur[where] == "") & counted))
    by_currency: dict[str, str] = {}
    if len(currencies) > 1 or blank:
        for name in sorted({str(c) for c in cur[where][counted]}):
            mask = rejected & (cur == name)
            by_currency[name or "(none)"] = f"{np.nansum(amt[mask]):.2f}"
    return currencies, blank, by_currency


@settings(max_examples=200, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from(["rejected", "accepted", "missing"]),
            st.sampled_from(["", "0", "10.00", "2.5", "abc", "1.234,50"]),
            st.one_of(
                st.sampled_from(["USD", " usd", "usd ", "EUR", "", " ", "eur", "ǆ", "ß"]),
                st.none(),
            ),
        ),
        max_size=25,
    )
)
def test_money_by_currency_equals_the_per_record_sums(
    rows: list[tuple[str, str, str | None]],
) -> None:
    from reconciler.detect import detect_template
    from reconciler.fixes import amount_numbers
    from reconciler.model import Table
    from reconciler.summary import money_at_stake

    header = ["ActionId", "Amount", "CurrencyCode", "Reason"]
    frame = pd.DataFrame(
        {
            "ActionId": [f"1000.1.{i}" for i in range(len(rows))],
            "Amount": [amount for _o, amount, _c in rows],
            "CurrencyCode": pd.Series([c for _o, _a, c in rows], dtype="str"),
            "Reason": ["ORDER_UPDATE"] * len(rows),
        }
    ).astype("str")
    sent = Table(
        path=Path("sent.csv"),
        format="csv",
        header=tuple(header),
        frame=frame,
        lines=np.arange(2, 2 + len(rows), dtype=np.int64),
        header_line=1,
    )
    schema = detect_template(sent)
    outcome = [o for o, _a, _c in rows]
    records = pd.DataFrame(
        {
            "Outcome": pd.Series(outcome, dtype="category"),
            "ErrorCodes": pd.Series(["X" if o != "accepted" else "" for o in outcome]),
            "Resolution": pd.Series(
                ["fix_manually" if o != "accepted" else "none" for o in outcome]
            ),
        }
    )
    money = money_at_stake(sent, schema, records)
    rejected = np.isin(outcome, ["rejected", "missing"])
    amt = np.zeros(len(rows))
    where = np.flatnonzero(rejected)
    amt[where] = amount_numbers(frame["Amount"].iloc[where])
    currencies, blank, by_currency = _reference_currencies(frame["CurrencyCode"], amt, rejected)
    assert list(money.currencies) == currencies
    assert money.not_applied_by_currency == by_currency
    expected = (
        currencies[0] if len(currencies) == 1 and not blank else ("mixed" if currencies else None)
    )
    assert money.currency == expected


# ------------------------------------------------------------- result rows: cheaper, the same


def test_status_kinds_are_read_per_cell_as_status_kind_reads_them() -> None:
    from reconciler.normalize import _KIND, _kinds
    from reconciler.statuswords import StatusKind, status_kind
    from tests.helpers import table

    words = ["Success", "FAILED", "", "In Progress", "Complete", "Skipped", " ok ", "Error"]
    got = _kinds(table(["Status"], [[w] for w in words]), "Status")
    assert got.tolist() == [_KIND[status_kind(w)] for w in words]
    assert _kinds(table(["Status"], [[w] for w in words]), None).tolist() == [
        _KIND[StatusKind.BLANK]
    ] * len(words)


def test_result_rows_without_an_id_column_key_it_as_empty() -> None:
    from reconciler.catalogue import load_catalogue
    from reconciler.detect import detect_results, detect_template
    from reconciler.normalize import result_rows
    from tests.helpers import table

    sent = table(["Oid", "ActionTrackerId", "Amount", "Reason"], [["0012", "16027", "1", "X"]])
    results = table(
        ["Line", "Order Id", "Action Tracker Id", "Error Type", "Message", "Status"],
        [["2", "0012", "16027", "Validation", "NO_CHANGE", "Failed"], ["3", "", "", "", "", "OK"]],
    )
    schema = detect_results(results, detect_template(sent), sent)
    rows = result_rows(results, schema, load_catalogue())
    for name in ("action_id", "campaign_id"):
        assert rows[name].tolist() == ["", ""]
        assert rows[name + "_raw"].tolist() == ["", ""]
        assert rows[name + "_rw"].tolist() == [False, False]
        assert rows[name].dtype == "str"
    assert rows["sku"].tolist() == ["", ""]
    assert rows["oid"].tolist() == ["12", ""]
    assert rows["oid_rw"].tolist() == [True, False]
    assert rows["said"].tolist() == [2, 1]


# ------------------------------------------------------------ reading: blank rows, line breaks

_BLANKISH = st.lists(
    st.sampled_from(
        [
            "",
            " ",
            "\t",
            "\x1c",
            "\x1f",
            "\x0b",
            "\x00",
            "\x7f",
            "\u00a0",
            "\u3000",
            "\u2028",
            "\u200b",
            "\ufeff",
            "\x85",
            "a",
            "0",
            ",",
            '"',
            "é",
        ]
    ),
    max_size=3,
).map("".join)


@settings(max_examples=300, deadline=None)
@given(
    values=st.lists(st.one_of(_BLANKISH, st.none()), max_size=30),
    large=st.booleans(),
    chunks=st.integers(1, 3),
    skip=st.integers(0, 2),
)
def test_blank_cells_by_their_first_byte_equal_stripping_them(
    values: list[str | None], large: bool, chunks: int, skip: int
) -> None:
    from reconciler.readers.delimited import _blank_cells, _blank_cells_exact

    plain = pd.Series(values, dtype="str")
    assert _blank_cells(plain).tolist() == _blank_cells_exact(plain).tolist()
    text = [v if v is not None else "" for v in values]
    held = _arrow_series(text, large=large, chunks=chunks, skip=skip)
    assert _blank_cells(held).tolist() == _blank_cells_exact(held).tolist()


def test_blank_and_whitespace_rows_among_records_are_still_dropped(tmp_path: Path) -> None:
    rows = ["1,2,3", " , ,", "\t,\u00a0,", ",,", "\u3000,,", "4,5,6", "\x1c,,", " x,,"]
    path = _write(tmp_path / "t.csv", "A,B,C\n" + "\n".join(rows) + "\n")
    table = read_table(path)
    assert table.lines.tolist() == [2, 7, 9]
    assert table.frame["A"].tolist() == ["1", "4", " x"]


@pytest.mark.parametrize("size", [0, 1, 1000, (1 << 22) - 1, 1 << 22, (1 << 22) + 5, 3 << 22])
def test_newlines_are_counted_as_bytes_count_counts_them(size: int) -> None:
    from reconciler.readers.delimited import _count_newlines

    rng = np.random.default_rng(size)
    data = bytes(rng.choice(np.frombuffer(b"ab\n\r,", dtype=np.uint8), size=size))
    for lo, hi in ((0, size), (3, size - 2), (size // 2, size), (5, 3)):
        assert _count_newlines(data, lo, hi) == data.count(b"\n", lo, hi)


def test_a_large_file_is_read_into_whole_columns_with_every_value(tmp_path: Path) -> None:
    # Arrow reads a file a block (1 MB) at a time; the reader joins the blocks once, so no
    # later step joins a column's pieces again. Every value, and its line, stays as sent.
    count = 60_000  # about 2.4 MB: three blocks and more
    path = _write(tmp_path / "sent.csv", f"{SENT_HEADER}\n{_digit_rows(count)}")
    table = read_table(path)
    assert len(table.frame) == count
    assert table.lines.tolist() == list(range(2, count + 2))
    for label in table.frame.columns:
        held = table.frame[label].array._pa_array  # type: ignore[attr-defined]
        assert held.num_chunks == 1, label
    expected = pd.read_csv(path, dtype=str, keep_default_na=False)
    for label in expected.columns:
        assert table.frame[label].tolist() == expected[label].tolist(), label
