"""CSV writing's fast paths give exactly the bytes of the plain rule: every field as text,
formula-like values prefixed with ``'`` in analyst files, quoted when it holds a comma, a
quote or a line break (quotes doubled), a lone empty field written ``""``.

The reference here is written value by value in Python; the writer works a column (or a run
of categorical columns) at a time with byte scans and Arrow kernels."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.bytescan import _first_bytes, _rows_holding
from reconciler.formulas import PLAIN_NUMBER, formula_like
from reconciler.writers import encode_rows, write_csv

# Texts that hit every rule: formula starts, plain numbers, quotes, commas, line breaks,
# non-ASCII (multi-byte UTF-8 around the ASCII specials), empty.
_PIECES = ["=", "+", "-", "@", "\t", "\r", "\n", ",", '"', "1", "2.5", "e3", "a", "é", "€", " "]
texts = st.lists(st.sampled_from(_PIECES), max_size=6).map("".join) | st.text(max_size=6)


def _reference_field(value: object, *, safe: bool) -> str:
    text = "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)
    if (
        safe
        and text[:1] in ("=", "+", "-", "@", "\t", "\r")
        and not re.fullmatch(PLAIN_NUMBER, text)
    ):
        text = "'" + text
    if any(ch in text for ch in ',"\r\n'):
        text = '"' + text.replace('"', '""') + '"'
    return text


def _reference_csv(frame: pd.DataFrame, header: list[str], *, safe: bool) -> bytes:
    lines = [",".join(_reference_field(h, safe=safe) for h in header)]
    for row in frame.itertuples(index=False):
        fields = [_reference_field(v, safe=safe) for v in row]
        if fields == [""]:
            fields = ['""']  # a lone empty field would read back as a blank line
        lines.append(",".join(fields))
    return ("\n".join(lines) + "\n").encode("utf-8")


@settings(max_examples=300, deadline=None)
@given(st.lists(texts, max_size=12), st.integers(0, 3), st.integers(0, 3))
def test_byte_scans_agree_with_the_rule_per_value(
    values: list[str | None], start: int, nulls: int
) -> None:
    """Which values hold a CSV special and which start like a formula, read from the bytes
    and offsets, on sliced arrays (non-zero offset), both offset widths and with nulls."""
    values = [None if i < nulls else v for i, v in enumerate(values)]
    for kind in (pa.large_string(), pa.string()):
        arr = pa.array(["pad,=x"] * start + values, type=kind).slice(start)
        holding = _rows_holding(arr, b',"\r\n')
        expected = [v is not None and bool(re.search(r'[,"\r\n]', v)) for v in values]
        assert holding.tolist() == expected
        first = _first_bytes(arr)
        assert first.tolist() == [v.encode()[0] if v else 0 for v in values]
        risky = formula_like(arr)
        assert risky.tolist() == [
            v is not None
            and v[:1] in ("=", "+", "-", "@", "\t", "\r")
            and not re.fullmatch(PLAIN_NUMBER, v)
            for v in values
        ]


@pytest.mark.parametrize(
    ("value", "risky"),
    [
        ("=1+1", True),
        ("-12.50", False),
        ("-12.50x", True),
        ("+1e5", False),
        ("@SUM(A1)", True),
        ("\t=x", True),
        ("\r=x", True),
        ("é=x", False),
        (" =x", False),
        ("", False),
        ("-", True),
        ("1-2", False),
    ],
)
def test_formula_rule_by_first_byte(value: str, risky: bool) -> None:
    assert formula_like(pa.array(["x", value], type=pa.large_string())).tolist() == [False, risky]


def _frame(rows: list[tuple[str | None, str | None, str | None, int]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["a", "b", "c", "n"])
    frame["a"] = frame["a"].astype(object)
    frame["b"] = pd.Categorical(frame["b"])
    frame["c"] = pd.Categorical(frame["c"])
    # Nearly one category per row, and a categorical of numbers (written by the column path).
    frame["d"] = pd.Categorical([f"{v}{i % 3}" if v else v for i, v in enumerate(frame["a"])])
    frame["k"] = pd.Categorical([i % 3 for i in range(len(frame))])
    return frame


rows_strategy = st.lists(
    st.tuples(
        texts | st.none(),
        st.none() | st.sampled_from(["x", "=y", 'q"', "a,b", "-1", ""]),
        texts,
        st.integers(0, 9),
    ),
    max_size=25,
)


@settings(max_examples=150, deadline=None)
@given(rows_strategy, st.booleans(), st.sampled_from([1, 2, 5, 100_000]), st.booleans())
def test_csv_equals_the_reference_whatever_the_columns_and_chunks(
    rows: list[tuple[str | None, str | None, str | None, int]],
    safe: bool,
    chunk: int,
    hashed: bool,
) -> None:
    """Object, categorical (with missing values) and integer columns, runs of categoricals
    side by side, alone and at the end of the line, any chunk size, with and without
    pre-encoded leading fields; combinations numbered by counting or (``hashed``) by hashing."""
    from reconciler.writers import csvfile

    frame = _frame(rows)
    header = ["A", "=B", "C,", "N", "D", "K"]
    expected = _reference_csv(frame, header, safe=safe)
    saved = csvfile.ROWS_PER_CHUNK, csvfile._DENSE
    csvfile.ROWS_PER_CHUNK = chunk
    csvfile._DENSE = 1 if hashed else saved[1]
    path = Path("/tmp") / f"reconciler-perf-csv-{abs(hash((tuple(rows), safe, chunk)))}.csv"
    try:
        orders = [
            ["a", "b", "c", "n", "d", "k"],
            ["b", "c", "d", "n", "a"],
            ["n", "c", "b", "d"],
            ["a", "k", "b"],
            ["c"],
            ["b"],
            ["d", "b"],
        ]
        for columns in orders:
            part = frame[columns]
            names = [header[frame.columns.get_loc(c)] for c in columns]
            write_csv(part, path, header=names, safe=safe)
            assert path.read_bytes() == _reference_csv(part, names, safe=safe), columns
        for cut in (1, 2, 3, 5):
            lead = encode_rows(frame.iloc[:, :cut], safe=safe)
            write_csv(frame.iloc[:, cut:], path, header=header, safe=safe, lead=lead)
            assert path.read_bytes() == expected, cut
    finally:
        csvfile.ROWS_PER_CHUNK, csvfile._DENSE = saved
        path.unlink(missing_ok=True)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=6) | st.sampled_from(["<b>", "&amp;", "'\"", "a\0b", "\0"])))
def test_report_texts_escaped_in_one_call_equal_one_by_one(values: list[str]) -> None:
    """The report's table texts are escaped together; a NUL in a text (the joiner) makes
    them go one at a time: either way each comes out as markupsafe escapes it alone."""
    from markupsafe import escape

    from reports.html import _escape_all

    assert _escape_all(values) == [str(escape(v)) for v in values]


def test_report_table_rows_escape_every_text_whether_cells_are_shared_or_not() -> None:
    """Shared cell objects are rendered once; equal cells built apart give the same markup,
    and every text (values, labels, codes, anchors, filters) is escaped."""
    from reports.html import table_rows
    from reports.viewmodel import Cell, Column, Row

    hostile = '<img src=x onerror="a&b">'
    codes = Cell("E<1>", "codes", items=(("E<1>", "code-1-e"), ("'E2'", "")))
    res = Cell("Fix & resend", "resolution", items=(("fix_manually", ""),))

    def rows(shared: bool) -> list[Row]:
        out = []
        for i in range(3):
            ids = Cell(
                hostile, "ids", items=(("Oid", hostile), ("A\0B", "x\0y")), marks=(True, False)
            )
            values = Cell("", "values", items=(("Amount", "1<2"),))
            out.append(
                Row(
                    (
                        Cell(str(i + 1), "num"),
                        ids,
                        codes if shared else Cell(codes.text, codes.kind, items=codes.items),
                        res if shared else Cell(res.text, res.kind, items=res.items),
                        values,
                        Cell(hostile),
                    ),
                    'E<1> "E2"',
                    "fix_manually",
                )
            )
        return out

    columns = [Column(n) for n in ("Line", "Ids", "Codes", "Res", "Values", "<Advice>")]
    shared, apart = table_rows(rows(True), columns), table_rows(rows(False), columns)
    assert shared == apart
    assert "<img" not in shared and "&lt;img src=x onerror=&#34;a&amp;b&#34;&gt;" in shared
    assert 'data-codes="E&lt;1&gt; &#34;E2&#34;"' in shared
    assert '<a href="#code-1-e"><code>E&lt;1&gt;</code></a> <code>&#39;E2&#39;</code>' in shared
    assert '<span class="k">A\0B</span> <span class="v">x\0y</span>' in shared
    assert 'data-label="&lt;Advice&gt;"' in shared
    assert shared.count("<tr ") == 3
