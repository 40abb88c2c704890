"""Property-based tests (hypothesis) over the whole engine, not one reader.

* Arbitrary tables (headers drawn from real aliases and junk, cells with unicode, formula
  characters, leading zeros...) through ``reconcile_tables``: a ``Reconciliation`` or a
  ``ReconcilerError``, never another exception.
* Header matching ignores case, spaces, underscores, hyphens and dots of known aliases.
* Codes read from a results cell through ``normalize.result_rows`` are the catalogue's split of
  that cell, and reading the written codes again gives the same codes.
* Tying is a function of the data alone: shuffling the result rows changes no record's verdict
  and no unmatched row's reason; a result row ties at most one record, never one whose
  identifiers contradict it, and by identifiers only when they name exactly one record.
* ``normalize.id_key_arrow`` gives the regex definition's key for any text.
* A record is accepted only on evidence: a final result of its own without an error, or
  results proved complete (or presumed so, when allowed); the outcome counts add up.
* ``writers.neutralise``: a value a spreadsheet would run never starts a cell unless it is a
  plain number.
* Readers: kinds of input the reader properties in ``test_readers.py`` do not generate (valid
  JSON of any shape, XML trees, zip containers, wide files with blank rows, .tsv/.txt).

Budgets are small (100 or 150 examples per test) so the file runs in about 25 s.
"""

from __future__ import annotations

import io
import json
import random
import re
import string
import zipfile
from collections import Counter
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from reconciler.catalogue import is_success_word, load_catalogue
from reconciler.detect import (
    ResultSchema,
    ResultShape,
    detect_results,
    detect_template,
    map_sent_columns,
)
from reconciler.errors import ReconcilerError
from reconciler.formulas import formula_mask, neutralise
from reconciler.match import match_results
from reconciler.model import LineBase, Outcome, Table, TiedBy
from reconciler.normalize import (
    ID_FIELDS,
    UNSPECIFIED_CODE,
    id_key,
    id_key_arrow,
    parse_lines,
    result_rows,
    sent_keys,
)
from reconciler.pipeline import ReconcileOptions, Reconciliation, reconcile_tables
from reconciler.readers import read_table
from reconciler.templates import RESULT_FIELDS, SENT_FIELDS, header_key

FAST = settings(max_examples=150, deadline=None)
HEAVY = settings(max_examples=100, deadline=None)  # full reconciliations per example
FILES = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
CATALOGUE = load_catalogue()

# --------------------------------------------------------------------------- building tables


def make_table(
    header: list[str],
    rows: list[list[str]],
    *,
    name: str,
    lines: list[int] | None = None,
    fmt: str = "csv",
    meta: dict[str, str] | None = None,
    container: str = "",
) -> Table:
    """A Table as the readers build it: unique labels, ``str`` columns, increasing lines."""
    frame = pd.DataFrame(
        {label: pd.Series([r[i] for r in rows], dtype="str") for i, label in enumerate(header)},
        columns=pd.Index(header),
        index=pd.RangeIndex(len(rows)),
    )
    return Table(
        path=Path(name),
        format=fmt,
        header=tuple(header),
        frame=frame,
        lines=np.asarray(lines if lines is not None else range(2, 2 + len(rows)), dtype=np.int64),
        header_line=1,
        meta=meta or {},
        container=container,
    )


SENT_ALIASES = sorted({a for spec in SENT_FIELDS for a in spec.aliases})
RESULT_ALIASES = sorted({a for aliases in RESULT_FIELDS.values() for a in aliases})
ITEM_LABELS = ["Sku", "Sku1", "Sku2", "Quantity1", "Amount1", "Category1", "ItemSku1"]
JUNK_LABELS = ["", "Note", "Column 9", "ÆØÅ", "=SUM(A1)", "  ", "Sku0", "Line2", "id", "名前"]

CELL = st.one_of(
    st.sampled_from(
        [
            "", " ", "0", "00123", "123", "123.0", "16027", "T555", "1000.1.1", "M1",
            "ALREADY_LOCKED", "NO_CHANGE", "bad disposition", "Error: MALFORMED", "RESET",
            "ITEM_RETURNED", "Success", "Error", "In Progress", "Complete", "Validation",
            "=1+1", "+1", "-2", "@SUM(A1)", "\t=1", "\r", "1.5", "$1,299.00", "2025-02-12",
            "ActionId=1000.1.1&Oid=T555", "null", "NaN", "None", "é", "🙂", "\u200b",
        ]
    ),
    st.text(max_size=6),
    st.from_regex(r"0{0,3}[1-9][0-9]{0,5}", fullmatch=True),
)  # fmt: skip


def unique(labels: list[str]) -> list[str]:
    """Labels made unique the way the readers do it (``X (2)``)."""
    seen: set[str] = set()
    out: list[str] = []
    for i, label in enumerate(labels):
        base = label or f"Column {i + 1}"
        candidate, n = base, 2
        while candidate in seen:
            candidate, n = f"{base} ({n})", n + 1
        seen.add(candidate)
        out.append(candidate)
    return out


@st.composite
def tables(draw: st.DrawFn, aliases: list[str], name: str) -> Table:
    labels = draw(
        st.lists(st.sampled_from(aliases + ITEM_LABELS + JUNK_LABELS), min_size=1, max_size=7)
    )
    header = unique(labels)
    n = draw(st.integers(0, 8))
    rows = [draw(st.lists(CELL, min_size=len(header), max_size=len(header))) for _ in range(n)]
    gaps = draw(st.lists(st.integers(1, 3), min_size=n, max_size=n))
    return make_table(header, rows, name=name, lines=list(np.cumsum([1, *gaps])[1:]))


@HEAVY
@given(
    sent=tables(SENT_ALIASES, "sent.csv"),
    results=tables(RESULT_ALIASES, "results.csv"),
    base=st.sampled_from(list(LineBase)),
)
def test_any_tables_give_a_reconciliation_or_a_clean_error(
    sent: Table, results: Table, base: LineBase
) -> None:
    before = (sent.frame.copy(deep=True), results.frame.copy(deep=True))
    try:
        rec = reconcile_tables(sent, results, ReconcileOptions(line_base=base))
    except ReconcilerError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    finally:  # inputs are never mutated
        assert sent.frame.equals(before[0]) and results.frame.equals(before[1])
    assert isinstance(rec, Reconciliation)
    assert len(rec.records) == sent.records
    assert rec.records["SourceLine"].tolist() == sent.lines.tolist()
    assert set(rec.records["Outcome"]) <= {str(o) for o in Outcome}
    assert set(rec.records["TiedBy"]) <= {str(t) for t in TiedBy}


# --------------------------------------------------------------------------- header matching

SEPARATORS = st.sampled_from([" ", "_", "-", ".", "  ", "\t"])


@st.composite
def respelled(draw: st.DrawFn, label: str) -> str:
    """``label`` with random case and separators between, before and after its characters."""
    out = [draw(st.sampled_from(["", " "]))]
    for ch in label:
        if ch in " _-./":
            out.append(draw(SEPARATORS))
            continue
        out.append(ch.upper() if draw(st.booleans()) else ch.lower())
        if draw(st.integers(0, 5)) == 0:
            out.append(draw(SEPARATORS))
    out.append(draw(st.sampled_from(["", " ", "\t"])))
    return "".join(out)


@FAST
@given(data=st.data(), labels=st.lists(st.sampled_from(SENT_ALIASES + ITEM_LABELS), max_size=6))
def test_sent_header_matching_ignores_case_and_separators(
    data: st.DataObject, labels: list[str]
) -> None:
    variants = [data.draw(respelled(label)) for label in labels]
    assume(len({header_key(v) for v in variants}) == len(variants) == len(set(variants)))
    fields, items = map_sent_columns(labels)
    fields2, items2 = map_sent_columns(variants)
    back = dict(zip(variants, labels, strict=True))
    assert {name: back[label] for name, label in fields2.items()} == fields
    assert [(i.index, i.field, back[i.column]) for i in items2] == [
        (i.index, i.field, i.column) for i in items
    ]


@FAST
@given(data=st.data(), labels=st.lists(st.sampled_from(RESULT_ALIASES), min_size=1, max_size=6))
def test_results_header_matching_ignores_case_and_separators(
    data: st.DataObject, labels: list[str]
) -> None:
    labels = list(dict.fromkeys(labels))
    variants = [data.draw(respelled(label)) for label in labels]
    assume(len({header_key(v) for v in variants}) == len(variants))
    assume(len({header_key(v) for v in labels}) == len(labels))
    sent = make_table(["ActionId", "Oid", "Amount"], [["1", "2", "3"]], name="sent.csv")
    sent_schema = detect_template(sent)

    def fields(header: list[str]) -> dict[str, int] | str:
        try:
            schema = detect_results(make_table(header, [], name="r.csv"), sent_schema, sent)
        except ReconcilerError as exc:
            return exc.message
        return {name: header.index(label) for name, label in schema.fields.items()}

    assert fields(variants) == fields(labels)


# --------------------------------------------------------------------------- codes


CODE_CELLS = st.one_of(
    st.text(max_size=12),
    st.lists(
        st.sampled_from(
            ["ALREADY_LOCKED", "already locked", "NO CHANGE", "Error:", "bad-disposition",
             "NEW_CODE", "OK", "Success", ";", ",", " ", "|", "\n", "x", "ß", "ﬁ", "-"]
        ),
        max_size=6,
    ).map("".join),
)  # fmt: skip


@HEAVY
@given(cells=st.lists(CODE_CELLS, min_size=1, max_size=8))
def test_result_rows_codes_are_the_catalogue_split_and_stable(cells: list[str]) -> None:
    schema = ResultSchema(ResultShape.ERROR_LIST, {"line": "Line", "code": "Message"})
    header = ["Line", "Message"]
    first = make_table(header, [[str(i + 2), c] for i, c in enumerate(cells)], name="r.csv")
    codes = result_rows(first, schema, CATALOGUE)["codes"].tolist()
    for cell, got in zip(cells, codes, strict=True):
        split = ";".join(CATALOGUE.split(cell))
        # Every row of an error list is an error: no code but no success word either.
        expected = split or ("" if is_success_word(cell) else UNSPECIFIED_CODE)
        assert got == expected, (cell, got)
    written = [c for c in codes if c]  # what reconciled.csv holds, read back as a results cell
    again = make_table(header, [[str(i + 2), c] for i, c in enumerate(written)], name="r2.csv")
    assert result_rows(again, schema, CATALOGUE)["codes"].tolist() == written


# --------------------------------------------------------------------------- tying

OIDS = ["00123", "123", "T555", "T556", "O9", ""]
TRACKERS = ["16027", "16031", ""]
ACTION_IDS = ["1000.1.1", "1000.1.2", "1000.1.3", ""]
CODES = ["ALREADY_LOCKED", "NO_CHANGE", "BAD_DISPOSITION", "MALFORMED", "NEW_CODE", ""]


@st.composite
def tie_cases(draw: st.DrawFn) -> tuple[Table, list[list[str]], list[str], int]:
    """A sent modification file (duplicated keys likely) and result rows about it."""
    n = draw(st.integers(1, 8))
    sent_rows = [
        [
            draw(st.sampled_from(ACTION_IDS)),
            draw(st.sampled_from(OIDS)),
            draw(st.sampled_from(TRACKERS)),
            "1.00",
            "ORDER_UPDATE",
        ]
        for _ in range(n)
    ]
    gaps = draw(st.lists(st.integers(1, 2), min_size=n, max_size=n))
    sent = make_table(
        ["ActionId", "Oid", "ActionTrackerId", "Amount", "Reason"],
        sent_rows,
        name="sent.csv",
        lines=[int(x) for x in np.cumsum([1, *gaps])[1:]],
    )
    with_line = draw(st.booleans())
    header = ["Line", "ActionId", "OrderId", "ActionTrackerId", "Message"]
    if not with_line:
        header = header[1:]
    results = []
    for _ in range(draw(st.integers(1, 10))):
        row = [
            str(draw(st.integers(0, n + 4)))
            if draw(st.integers(0, 4))
            else draw(st.sampled_from(["", "x", "1.0"])),
            draw(st.sampled_from(ACTION_IDS)),
            draw(st.sampled_from(OIDS)),
            draw(st.sampled_from(TRACKERS)),
            draw(st.sampled_from(CODES)),
        ]
        if not row[1] and not row[2] and not with_line:
            row[2] = "T555"
        results.append(row if with_line else row[1:])
    return sent, results, header, draw(st.integers(0, 2**32 - 1))


def _reconcile(sent: Table, header: list[str], rows: list[list[str]]) -> Reconciliation | str:
    try:
        return reconcile_tables(sent, make_table(header, rows, name="results.csv"))
    except ReconcilerError as exc:
        return exc.message


VERDICT = ["Outcome", "ErrorCodes", "Resolution", "TiedBy"]


@HEAVY
@given(case=tie_cases())
def test_shuffling_the_results_changes_no_outcome(
    case: tuple[Table, list[list[str]], list[str], int],
) -> None:
    sent, rows, header, seed = case
    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    first = _reconcile(sent, header, rows)
    second = _reconcile(sent, header, [rows[i] for i in order])
    if isinstance(first, str) or isinstance(second, str):
        assert first == second
        return
    assert first.records[VERDICT].equals(second.records[VERDICT])

    def unmatched(rec: Reconciliation, mapping: list[int]) -> Counter[tuple[object, ...]]:
        u = rec.unmatched
        return Counter(
            (mapping[int(r) - 1], reason, detail, candidates)
            for r, reason, detail, candidates in zip(
                u["ResultRow"], u["Reason"], u["Detail"], u["CandidateLines"], strict=True
            )
        )

    assert unmatched(first, list(range(len(rows)))) == unmatched(second, order)
    assert first.summary.line_base == second.summary.line_base


_LEVEL_COLUMNS = {
    str(TiedBy.ACTION_ID): ("action_id",),
    str(TiedBy.OID_TRACKER): ("oid", "action_tracker_id"),
    str(TiedBy.OID): ("oid",),
}


def _contradicts(frame: pd.DataFrame, keys: pd.DataFrame, r: int, s: int) -> bool:
    """The documented rule: an identifier both sides hold, with different values."""
    return any(
        frame[name].iat[r] != ""
        and keys[name].iat[s] != ""
        and frame[name].iat[r] != keys[name].iat[s]
        for name in ID_FIELDS
    )


@HEAVY
@given(case=tie_cases(), base=st.sampled_from(list(LineBase)))
def test_ties_never_fan_out_nor_contradict(
    case: tuple[Table, list[list[str]], list[str], int], base: LineBase
) -> None:
    sent, rows, header, _ = case
    results = make_table(header, rows, name="results.csv")
    sent_schema = detect_template(sent)
    try:
        schema = detect_results(results, sent_schema, sent)
    except ReconcilerError:
        return
    keys, skus, _rewritten = sent_keys(sent, sent_schema)
    frame = result_rows(results, schema, CATALOGUE)
    ties = match_results(sent, frame, keys, skus, base).results
    s_idx = ties["s_idx"].to_numpy()
    assert len(ties) == len(rows)  # one verdict per result row: never fanned out
    assert ((s_idx >= -1) & (s_idx < sent.records)).all()
    for r in np.flatnonzero(s_idx >= 0):
        assert not _contradicts(frame, keys, r, s_idx[r])  # never a contradicted record
        level = str(ties["tied_by"].iat[r])
        if level == str(TiedBy.LINE):
            continue
        named = [
            s
            for s in range(sent.records)
            if all(
                frame[c].iat[r] != "" and keys[c].iat[s] == frame[c].iat[r]
                for c in _LEVEL_COLUMNS[level]
            )
            and not _contradicts(frame, keys, r, s)
        ]
        assert named == [s_idx[r]]  # tied by identifiers only when they name one record
    for r in np.flatnonzero(ties["reason"].to_numpy() == "ambiguous_key"):
        assert s_idx[r] == -1
        assert len(str(ties["candidates"].iat[r]).split()) >= 2


# --------------------------------------------------------------------------- formulas

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_ASCII_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:[.,][0-9]*)?|[.,][0-9]+)(?:[eE][+-]?[0-9]+)?")
FORMULA_TEXT = st.one_of(
    st.text(max_size=8),
    st.tuples(st.sampled_from([*_FORMULA_START, " ", "'", "\n"]), st.text(max_size=6)).map("".join),
    st.from_regex(r"[+-]?[0-9]{1,4}([.,][0-9]{0,3})?([eE][+-]?[0-9]{1,2})?", fullmatch=True),
)


@FAST
@given(values=st.lists(FORMULA_TEXT, min_size=1, max_size=10))
def test_neutralised_values_never_start_a_formula(values: list[str]) -> None:
    frame = pd.DataFrame(
        {"a": pd.Series(values, dtype="str"), "b": pd.Series(values, dtype=object)}
    )
    out = neutralise(frame)
    mask = formula_mask(frame["a"])
    for column in ("a", "b"):
        for before, after, masked in zip(values, out[column].tolist(), mask, strict=True):
            assert after == ("'" + before if masked else before)
            if after[:1] in _FORMULA_START:
                assert _ASCII_NUMBER.fullmatch(after), repr(after)
    assert frame["a"].tolist() == values  # the input frame is not modified


# --------------------------------------------------------------------------- identifier keys

ID_TEXT = st.one_of(
    st.text(alphabet="0123456789.  \t0a\u00a0\u0663\uff11", max_size=10),
    st.from_regex(r"\s*0*[0-9]{0,6}(\.0*)?\s*", fullmatch=True),
    st.text(max_size=6),
)


def _regex_id_key(values: pa.Array) -> pa.Array:
    """``id_key_arrow`` as first written: one regular expression over every value."""
    values = pc.utf8_trim_whitespace(pc.fill_null(values, ""))
    numeric = pc.match_substring_regex(values, r"^\d+(?:\.0+)?$")
    if not pc.any(numeric).as_py():
        return values
    subset = pc.filter(values, numeric)
    norm = pc.utf8_ltrim(pc.replace_substring_regex(subset, r"\.0+$", ""), characters="0")
    norm = pc.if_else(pc.equal(norm, ""), "0", norm)
    return pc.replace_with_mask(values, numeric, norm)


@FAST
@given(values=st.lists(ID_TEXT, min_size=1, max_size=12))
def test_id_keys_equal_the_regex_definition(values: list[str]) -> None:
    """The fast key (digits found without a regex, only changing values rewritten) is the
    regex definition's key for any text: spaces, unicode digits, dots, zeros."""
    arr = pa.array(values, type=pa.large_string())
    assert id_key_arrow(arr).to_pylist() == _regex_id_key(arr).to_pylist()
    assert id_key(pd.Series(values, dtype="str")).tolist() == _regex_id_key(arr).to_pylist()


LINE_TEXT = st.one_of(
    st.text(alphabet="0123456789. \t-+e\u0663", max_size=16),
    st.integers(10**10, 10**14).map(str),  # around the 12-digit limit
    st.integers(10**10, 10**14).map(lambda n: f"{n}.0"),
    st.from_regex(r"\s*[0-9]{0,14}(\.0*)?\s*", fullmatch=True),
)


def _regex_lines(values: list[str]) -> list[int]:
    """``parse_lines`` as first written: one regular expression over every cell."""
    text = pc.utf8_trim_whitespace(pa.array(values, type=pa.large_string()))
    ok = pc.match_substring_regex(text, r"^\d{1,12}(?:\.0+)?$")
    digits = pc.replace_substring_regex(pc.if_else(ok, text, "-1"), r"\.0+$", "")
    return [int(v) for v in pc.cast(digits, pa.int64()).to_pylist()]


@FAST
@given(values=st.lists(LINE_TEXT, min_size=1, max_size=12))
def test_line_numbers_equal_the_regex_definition(values: list[str]) -> None:
    assert parse_lines(pd.Series(values, dtype="str")).tolist() == _regex_lines(values)


# --------------------------------------------------------------------------- readers


def _read(tmp_path: Path, name: str, data: bytes) -> Table | None:
    path = tmp_path / name
    path.write_bytes(data)
    try:
        table = read_table(path)
    except ReconcilerError as exc:
        message = str(exc)
        assert message.startswith(str(path)) and "\n" not in message
        return None
    assert len(table.lines) == len(table.frame)
    lines = table.lines.tolist()
    assert lines == sorted(lines) and all(line >= 1 for line in lines)
    if table.format == "csv":  # one record per line at most (XML records can share a line)
        assert len(set(lines)) == len(lines) and (not lines or lines[0] > table.header_line)
    for column in table.frame.columns:
        assert all(isinstance(v, str) for v in table.frame[column].tolist())
    return table


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=20,
)


@FILES
@given(document=JSON, key=st.sampled_from(["ErrorDetail", "data", "x", None]))
def test_any_json_document_gives_a_table_or_a_clean_error(
    tmp_path: Path, document: object, key: str | None
) -> None:
    payload = document if key is None else {key: document}
    _read(tmp_path, "results.json", json.dumps(payload).encode())


_TAGS = st.sampled_from(["Actions", "Action", "Id", "Oid", "Line", "Errors", "x"])


@st.composite
def xml_elements(draw: st.DrawFn, depth: int = 0) -> str:
    tag = draw(_TAGS)
    attrs = "".join(
        f' {k}="{v}"'
        for k, v in draw(
            st.dictionaries(_TAGS, st.sampled_from(["1", "a&amp;b", ""]), max_size=2)
        ).items()
    )
    if depth >= 3 or draw(st.integers(0, 2)) == 0:
        text = draw(st.sampled_from(["", "007", "  ", "é", "&lt;x&gt;", "<![CDATA[=1+1]]>"]))
        return f"<{tag}{attrs}>{text}</{tag}>"
    children = draw(st.lists(xml_elements(depth + 1), max_size=4))
    return f"<{tag}{attrs}>{''.join(children)}</{tag}>"


@FILES
@given(body=xml_elements(), declaration=st.booleans())
def test_any_xml_tree_gives_a_table_or_a_clean_error(
    tmp_path: Path, body: str, declaration: bool
) -> None:
    head = '<?xml version="1.0" encoding="UTF-8"?>\n' if declaration else ""
    _read(tmp_path, "sent.xml", (head + body).encode())


@FILES
@given(
    members=st.lists(
        st.tuples(
            st.sampled_from(
                ["[Content_Types].xml", "xl/workbook.xml", "xl/worksheets/sheet1.xml",
                 "xl/_rels/workbook.xml.rels", "_rels/.rels", "xl/sharedStrings.xml", "x.bin"]
            ),
            st.one_of(st.binary(max_size=60), st.sampled_from([b"<workbook/>", b"<a>", b""])),
        ),
        max_size=6,
        unique_by=lambda m: m[0],
    )
)  # fmt: skip
def test_any_zip_container_gives_a_table_or_a_clean_error(
    tmp_path: Path, members: list[tuple[str, bytes]]
) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, body in members:
            archive.writestr(name, body)
    _read(tmp_path, "results.xlsx", buffer.getvalue())


@st.composite
def wide_documents(draw: st.DrawFn) -> tuple[str, list[int], list[list[str]]]:
    """Files 8-14 columns wide with blank lines and rows of empty fields between records."""
    width = draw(st.integers(9, 14))
    sep = draw(st.sampled_from([",", ";", "\t"]))
    lines = [sep.join(f"h{i}" for i in range(width))]
    expected_lines: list[int] = []
    expected_rows: list[list[str]] = []
    for kind in draw(st.lists(st.sampled_from(["row", "blank", "empty", "late"]), max_size=12)):
        if kind == "blank":
            lines.append(draw(st.sampled_from(["", " ", "\t" if sep != "\t" else ""])))
            continue
        values = [""] * width
        if kind == "row":
            values = draw(
                st.lists(st.sampled_from(["", "a", " ", "0"]), min_size=width, max_size=width)
            )
        elif kind == "late":  # only the last columns hold a value
            values[draw(st.integers(8, width - 1))] = draw(st.sampled_from(["x", "7"]))
        lines.append(sep.join(values))
        if any(v.strip() for v in values):
            expected_lines.append(len(lines))
            expected_rows.append(values)
    return "\n".join(lines) + "\n", expected_lines, expected_rows


@FILES
@given(document=wide_documents(), suffix=st.sampled_from([".csv", ".tsv", ".txt"]))
def test_wide_files_keep_records_and_skip_blank_rows(
    tmp_path: Path, document: tuple[str, list[int], list[list[str]]], suffix: str
) -> None:
    text, expected_lines, expected_rows = document
    table = _read(tmp_path, "wide" + suffix, text.encode())
    assert table is not None
    assert table.lines.tolist() == expected_lines
    width = len(table.header)
    assert [row[:width] for row in table.frame.to_numpy(dtype=object).tolist()] == [
        row[:width] for row in expected_rows
    ]


@FILES
@given(
    data=st.binary(max_size=200) | st.text(string.printable, max_size=200).map(str.encode),
    suffix=st.sampled_from([".tsv", ".txt", ".tab", ".psv", ""]),
)
def test_any_bytes_with_other_text_suffixes(tmp_path: Path, data: bytes, suffix: str) -> None:
    _read(tmp_path, "fuzz" + suffix, data)


@pytest.mark.parametrize("count", [1, 3, 4000])
def test_many_equal_labels_stay_unique_and_linear(tmp_path: Path, count: int) -> None:
    table = _read(
        tmp_path, "same.csv", (",".join(["Oid"] * count) + "\n" + ",".join(["1"] * count)).encode()
    )
    assert table is not None
    assert len(set(table.frame.columns)) == count
    assert list(table.frame.columns[:3]) == ["Oid", "Oid (2)", "Oid (3)"][:count]


# --------------------------------------------------------------------------- evidence


# Status words as an analyst meets them, with what they mean: the oracle's own table, kept
# apart from the tool's vocabulary on purpose.
STATUS_WORDS: tuple[tuple[str, str], ...] = (
    ("Complete", "done"), ("COMPLETE", "done"), ("completed", "done"),
    ("In Progress", "wait"), ("In_Progress", "wait"), ("in-progress", "wait"),
    ("Pending", "wait"), ("Processing", "wait"), ("Queued", "wait"),
    ("Failed", "fail"), ("Error", "fail"), ("REJECTED", "fail"),
    ("Success", "ok"), ("ok", "ok"),
    ("Skipped", "none"), ("", "none"), ("Borked", "none"),
)  # fmt: skip
SENT_HEADER = ["ActionId", "Amount", "Reason"]


@st.composite
def evidence_cases(draw: st.DrawFn) -> tuple[Table, list[Table], bool, npt.NDArray[np.bool_]]:
    """A sent file, results of one of three shapes with status words of every spelling, and
    per record whether the evidence allows it to be accepted (the oracle), worked out from
    what was generated, never from the tool's own judgement.

    * An error list (View Errors CSV): the true errors of some records (a record may have
      two), perhaps filtered (rows left out), perhaps with a TotalErrors column counting the
      rows or the records (or wrong), perhaps given twice (a copy sorted otherwise), perhaps
      beside an export of another batch, perhaps beside the batch's FtpSubmission whose
      TotalRecords / TotalErrors / Status / CompletionDate may or may not fit.
    * An API submissions listing: one row per record for some records, any status word,
      ErrorType / ErrorReason / CompletionDate present or not.
    * The sent file with a Status column (any word) and an error message.
    """
    n = draw(st.integers(2, 8))
    ids = [f"1000.4636.{100 + i}" for i in range(n)]
    sent = make_table(
        SENT_HEADER, [[a, "0", "ITEM_RETURNED"] for a in ids], name="sent.csv"
    )  # records on lines 2..n+1
    shape = draw(st.sampled_from(["errors", "listing", "with_status"]))
    require = draw(st.booleans())
    allowed = np.zeros(n, dtype=bool)
    results: list[Table] = []

    if shape == "errors":
        errors_of = [draw(st.integers(0, 2)) for _ in range(n)]
        true_rows = [
            [str(i + 2), ids[i], code]
            for i in range(n)
            for code in ["ALREADY_LOCKED", "MALFORMED"][: errors_of[i]]
        ]
        erred = sum(1 for e in errors_of if e)
        kept_rows = [r for r in true_rows if draw(st.integers(0, 5)) > 0]  # a filter
        count = draw(st.sampled_from(["none", "records", "rows", "wrong"]))
        te = {"records": erred, "rows": len(true_rows), "wrong": erred + 1}.get(count)
        header = ["Line", "ActionId", "Message"]
        rows = [list(r) for r in kept_rows]
        if te is not None:
            header = ["BatchId", "TotalErrors", *header]
            rows = [["F-1", str(te), *r] for r in rows]
        results.append(make_table(header, rows, name="results.csv"))
        if draw(st.booleans()):  # the same export again, sorted otherwise
            results.append(make_table(header, rows[::-1], name="results (1).csv"))
        other_batch = te is not None and draw(st.integers(0, 4)) == 0
        if other_batch:
            results.append(
                make_table(header, [["F-2", "1", "3", ids[0], "NO_CHANGE"]], name="other.csv")
            )
        batch_final = True
        records_fit = True
        batch_te: int | None = None
        batch_te_given = False
        if draw(st.booleans()):
            word, meaning = draw(st.sampled_from(STATUS_WORDS))
            total_records = draw(st.sampled_from([n, n, 0, n + 1, n - 1]))
            raw_te = draw(st.sampled_from(["true", "true", "rows", "null", "n/a", "wrong"]))
            batch_te = {"true": erred, "rows": len(true_rows), "wrong": erred + 2}.get(raw_te)
            batch_te_given = raw_te not in ("null",)
            dated = draw(st.booleans())
            batch_final = meaning == "done" and dated
            records_fit = total_records == n
            te_cell = "" if raw_te == "null" else raw_te if batch_te is None else str(batch_te)
            results.append(
                make_table(
                    ["BatchId", "Status", "TotalRecords", "TotalErrors", "CompletionDate"],
                    [["F-1", word, str(total_records), te_cell, "2025-03-01" if dated else ""]],
                    name="submission.json",
                    fmt="json",
                    container="@object",
                )
            )
        # Which count the tool must go by: the batch's when it gives one, else the column's.
        count_value = batch_te if batch_te_given else te
        count_given = batch_te_given or te is not None
        # The count proves the list whole when it counts the records with errors and every
        # one of them is listed (a filter may still have dropped a second error of a listed
        # record: that record is rejected anyway).
        listed_records = {int(r[0]) - 2 for r in kept_rows}
        proven = (
            count_value is not None
            and count_value == erred
            and listed_records == {i for i in range(n) if errors_of[i]}
            and (te is None or te == count_value)
        )
        presumed = not count_given and not require
        if batch_final and records_fit and not other_batch and (proven or presumed):
            # Proven: every error is listed. Presumed (the documented default): the records
            # without a listed error, which is all a count-less list can say.
            listed = {int(r[0]) - 2 for r in kept_rows}
            allowed = np.array([i not in listed for i in range(n)], dtype=bool)
    else:
        listed = [i for i in range(n) if draw(st.integers(0, 4)) > 0]
        for i in listed:
            word, meaning = draw(st.sampled_from(STATUS_WORDS))
            error = draw(st.sampled_from(["", "", "NO_CHANGE"]))
            typed = draw(st.sampled_from(["", "", "Validation"]))
            dated = draw(st.booleans()) if shape == "listing" else True
            row = {"word": word, "error": error, "typed": typed, "dated": dated}
            if shape == "listing":
                ok = meaning in ("done", "ok") and dated and not error and not typed
            else:
                ok = meaning in ("done", "ok") and not error
            allowed[i] = ok
            results.append(_listing_row(shape, ids[i], row))
        if not results:
            results.append(_listing_row(shape, "", None))
        results = [_combined(results, shape)]
    return sent, results, require, allowed


def _listing_row(shape: str, action_id: str, row: dict[str, object] | None) -> Table:
    if shape == "listing":
        header = ["BatchId", "ActionId", "Status", "CompletionDate", "ErrorType", "ErrorReason"]
        cells = (
            []
            if row is None
            else [
                [
                    f"A-{action_id}",
                    action_id,
                    str(row["word"]),
                    "2025-03-01" if row["dated"] else "",
                    str(row["typed"]),
                    str(row["error"]),
                ]
            ]
        )
        return make_table(
            header, cells, name="results.json", fmt="json", container="APISubmissions"
        )
    header = [*SENT_HEADER, "Status", "Error Message"]
    cells = (
        []
        if row is None
        else [[action_id, "0", "ITEM_RETURNED", str(row["word"]), str(row["error"])]]
    )
    return make_table(header, cells, name="results.csv")


def _combined(tables: list[Table], shape: str) -> Table:
    header = list(tables[0].header)
    rows = [list(r) for t in tables for r in t.frame.itertuples(index=False)]
    if shape == "listing":
        return make_table(header, rows, name="results.json", fmt="json", container="APISubmissions")
    return make_table(header, rows, name="results.csv")


@HEAVY
@given(case=evidence_cases())
def test_a_record_is_accepted_only_on_evidence(
    case: tuple[Table, list[Table], bool, npt.NDArray[np.bool_]],
) -> None:
    """Accepted means: a final result of its own says so in an explicit word, or the results
    are proven complete (all errors present, counted in agreement, of this batch and this
    file, finished), or presumed so by the documented default (a plain error list without
    any count, unless --require-complete). The oracle is worked out from what was generated:
    duplicated files, exports of another batch, status words in any spelling, counts that
    count rows or records or are wrong, batch counts that do not fit the sent file."""
    sent, results, require, allowed = case
    try:
        rec = reconcile_tables(sent, results, ReconcileOptions(require_complete=require))
    except ReconcilerError:
        return
    accepted = (rec.records["Outcome"] == "accepted").to_numpy(dtype=bool)
    assert not (accepted & ~allowed).any(), (
        rec.summary.completeness.state,
        rec.summary.completeness.detail,
        np.flatnonzero(accepted & ~allowed).tolist(),
    )
    # Whatever the results, the counts add up to the records sent.
    s = rec.summary
    assert (
        s.accepted + s.rejected + s.missing + s.pending + s.unknown + s.ambiguous_records
        == s.sent_records
    )


_ID_CELL = st.sampled_from(["", " ", "1000.1.1", "1000.1.2", " 1000.1.1 ", "7", "007", "7.0"])


@given(
    rows=st.lists(st.tuples(_ID_CELL, _ID_CELL, _ID_CELL), min_size=1, max_size=30),
    among_bits=st.lists(st.booleans(), min_size=30, max_size=30),
)
@settings(max_examples=200, deadline=None)
def test_action_codes_name_the_same_action_the_same_way(
    rows: list[tuple[str, str, str]], among_bits: list[bool]
) -> None:
    """check (every row) and the modifications cap (among the records it may resubmit) must
    agree on which rows modify the same action: ActionId, else Oid + ActionTrackerId, as
    id_key compares them."""
    from reconciler.normalize import action_codes, id_key

    frame = pd.DataFrame(rows, columns=["ActionId", "Oid", "ActionTrackerId"], dtype=object)
    labels = {"action_id": "ActionId", "oid": "Oid", "action_tracker_id": "ActionTrackerId"}
    every = action_codes(frame, labels)

    def action(i: int) -> tuple[str, ...] | None:
        a, o, t = (str(id_key(pd.Series([v], dtype=object)).iat[0]) for v in rows[i])
        if a:
            return ("a", a)
        return ("o", o, t) if o and t else None

    names = [action(i) for i in range(len(rows))]
    for i in range(len(rows)):
        assert (every[i] >= 0) == (names[i] is not None)
        for j in range(len(rows)):
            if names[i] is not None and names[j] is not None:
                assert (every[i] == every[j]) == (names[i] == names[j])
    among = np.asarray(among_bits[: len(rows)], dtype=bool)
    some = action_codes(frame, labels, among=among)
    wanted = {names[i] for i in range(len(rows)) if among[i] and names[i] is not None}
    for i in range(len(rows)):
        if names[i] in wanted:  # coded; a few other rows may be too (same Oid, other tracker)
            assert some[i] >= 0
        if names[i] is None:
            assert some[i] == -1
        for j in range(len(rows)):
            if some[i] >= 0 and some[j] >= 0:
                assert (some[i] == some[j]) == (names[i] == names[j])
