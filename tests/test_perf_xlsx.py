"""The workbook writer's cells, read back from the XML and checked one by one against what
each value, mark and column should give: the text as sent (characters XML cannot hold as
U+FFFD), blank values not written unless marked, the style of a highlighted, formula-like or
wrapped cell, ``xml:space="preserve"`` exactly where a value starts or ends with whitespace,
plain decimals of a money column as numbers. The writer builds whole columns with Arrow and
works each value out once; these tests hold it to the cell-by-cell meaning, over several
chunk sizes (each chunk is built on its own).
"""

from __future__ import annotations

import itertools
import re
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler import writers
from reconciler.formulas import formula_mask
from reconciler.writers import Sheet, write_xlsx

NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
SPACE = "{http://www.w3.org/XML/1998/namespace}space"
NOW = datetime(2026, 1, 1, tzinfo=UTC)
XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
PLAIN_DECIMAL = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?")

TRICKY = [
    "",
    " ",
    "plain",
    " lead",
    "trail ",
    "\tTab",
    "line\n",
    "\x0cform feed",
    "\x0bvertical tab",
    "\u00a0nbsp\u00a0",
    "=SUM(A1:A9)",
    "+1 555",
    "-12.50",
    "-x",
    "@user",
    "\rcr",
    "two\r\nlines\rend",
    "_x000D_",
    "a_x0041_b_X00e9_",
    "_x005F_",
    "not_x12_an_escape",
    "a & b < c > d",
    '"quoted"',
    "ünïcödé 日本",
    "ctl\x01char",
    "non\ufffecharacter",
    "0012",
    "64.00",
    "1,299.00",
    "12345678901234567",
]


@dataclass(frozen=True)
class Cell:
    kind: str | None  # the t attribute
    style: int  # the s attribute (0 when absent)
    value: str | None  # the text (shared or inline) or the number as written
    preserve: bool  # xml:space="preserve" on its text


def read_cells(path: Path, sheet: int = 1) -> dict[tuple[int, int], Cell]:
    """Every written cell of a sheet by (row, column), 1-based, values resolved."""
    with zipfile.ZipFile(path) as zf:
        shared_root = ElementTree.fromstring(zf.read("xl/sharedStrings.xml"))
        sheet_root = ElementTree.fromstring(zf.read(f"xl/worksheets/sheet{sheet}.xml"))
    shared = [(si.find(f"{NS}t"), si) for si in shared_root.iter(f"{NS}si")]
    assert int(shared_root.get("uniqueCount", "-1")) == len(shared)
    cells: dict[tuple[int, int], Cell] = {}
    for row in sheet_root.iter(f"{NS}row"):
        r = int(row.get("r", "0"))
        for c in row.iter(f"{NS}c"):
            ref = c.get("r", "")
            letters = ref.rstrip("0123456789")
            assert int(ref[len(letters) :]) == r
            col = 0
            for ch in letters:
                col = col * 26 + ord(ch) - 64
            kind, style = c.get("t"), int(c.get("s", "0"))
            text: Any = None
            if kind == "s":
                v = c.find(f"{NS}v")
                assert v is not None and v.text is not None
                text = shared[int(v.text)][0]
            elif kind == "inlineStr":
                text = c.find(f"{NS}is/{NS}t")
            if text is not None:
                value, preserve = text.text or "", text.get(SPACE) == "preserve"
            else:
                v = c.find(f"{NS}v")
                value, preserve = (v.text if v is not None else None), False
            assert (r, col) not in cells
            cells[(r, col)] = Cell(kind, style, value, preserve)
    return cells


def expected_cells(
    frame: pd.DataFrame,
    highlight: np.ndarray | None,
    wrap: frozenset[int],
    money: frozenset[int],
    first_row: int,
) -> dict[tuple[int, int], Cell | str]:
    """What each cell of the frame should be, worked out value by value. A number is the
    string "number:<value>", a money cell holding a plain decimal "money:<value>" (its style
    depends on the currency)."""
    out: dict[tuple[int, int], Cell | str] = {}
    for c in range(frame.shape[1]):
        series = frame.iloc[:, c]
        numeric = series.dtype.kind in "iuf"
        formula = None if numeric else formula_mask(series.astype(object).fillna(""))
        for i, raw in enumerate(series.tolist()):
            key = (first_row + i, c + 1)
            marked = bool(highlight[i, c]) if highlight is not None else False
            if numeric:
                if not pd.isna(raw):
                    out[key] = f"number:{raw}"
                continue
            value = "" if raw is None or (isinstance(raw, float) and np.isnan(raw)) else raw
            value = str(value)
            digits = len(value) - value.startswith("-") - ("." in value)
            if c in money and PLAIN_DECIMAL.fullmatch(value) and digits <= 15:
                out[key] = f"money:{value}"
                continue
            assert formula is not None
            code = (4 if formula[i] else 2) if marked else (3 if formula[i] else 0)
            if value == "":
                if code:
                    out[key] = Cell(None, 2, None, False)
                continue
            style = (5, 5, 6, 7, 8)[code] if c in wrap else code
            shown = XML_ILLEGAL.sub("\ufffd", value)[: writers.MAX_CELL_CHARS]
            # Excel's own escapes in the text are escaped in turn (read back by Excel as
            # written); a carriage return is a character reference, which survives parsing.
            shown = re.sub(r"_(?=x[0-9A-Fa-f]{4}_)", "_x005F_", shown)
            preserve = value[0] in "\t\n\x0c\r " or value[-1] in "\t\n\x0c\r "
            out[key] = Cell("inlineStr|s", style, shown, preserve)
    return out


def check_sheet(path: Path, frame: pd.DataFrame, highlight: np.ndarray | None, **kw: Any) -> None:
    sheet = Sheet("S", [f"H{i}" for i in range(frame.shape[1])], frame, highlight=highlight, **kw)
    write_xlsx([sheet], path, now=NOW)
    check_written(path, 1, frame, highlight, **kw)


def check_written(
    path: Path, number: int, frame: pd.DataFrame, highlight: np.ndarray | None, **kw: Any
) -> None:
    """Sheet ``number`` of the workbook at ``path`` holds ``frame``, each cell as meant."""
    note = bool(kw.get("note"))
    got = read_cells(path, number)
    head = 2 if note else 1
    body = {k: v for k, v in got.items() if k[0] > head}
    want = expected_cells(
        frame, highlight, kw.get("wrap", frozenset()), frozenset(kw.get("money", {})), head + 1
    )
    assert set(body) == set(want), sorted(set(body) ^ set(want))[:10]
    for key, cell in body.items():
        expected = want[key]
        if isinstance(expected, str) and expected.startswith("number:"):
            assert (cell.kind, cell.style, cell.preserve) == (None, 0, False), (key, cell)
            assert float(cell.value or "nan") == float(expected[7:]), (key, cell)
        elif isinstance(expected, str):
            assert cell.kind is None and f"money:{cell.value}" == expected, (key, cell)
            assert cell.style >= 9, (key, cell)
        elif expected.kind == "inlineStr|s":
            assert cell.kind in ("inlineStr", "s"), (key, cell)
            assert (cell.style, cell.value, cell.preserve) == (
                expected.style, expected.value, expected.preserve,
            ), (key, cell, expected)  # fmt: skip
        else:
            assert cell == expected, (key, cell, expected)


@pytest.mark.parametrize("chunk", [1, 3, 7, 25_000])
def test_tricky_values_each_cell_as_meant(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    monkeypatch.setattr(writers.xlsx, "XLSX_ROWS_PER_CHUNK", chunk)
    n = len(TRICKY) * 2
    rng = np.random.default_rng(7)
    unique = [*TRICKY, *(f"{v}#{i}" for i, v in enumerate(TRICKY))]
    repeated = [TRICKY[i % 5] for i in range(n)]  # few values: shared strings
    frame = pd.DataFrame(
        {
            "unique_obj": pd.Series(unique, dtype=object),
            "unique_str": pd.Series(unique, dtype="str"),
            "repeated": pd.Series(repeated, dtype=object),
            "category": pd.Categorical([TRICKY[i % 7] for i in range(n)]),
            "category_missing": pd.Categorical(
                [None if i % 5 == 0 else unique[i] for i in range(n)]
            ),
            "amount": pd.Series([TRICKY[(i * 3) % len(TRICKY)] for i in range(n)], dtype=object),
            "currency": pd.Series(
                ["USD", "JPY", " kwd", "", "EURO"] * (n // 5) + ["USD"] * (n % 5)
            ),
            "line": pd.Series(np.arange(n), dtype=np.int64),
            "ratio": pd.Series([np.nan if i % 4 == 0 else i / 2 for i in range(n)]),
        }
    )
    marks = rng.random(frame.shape) < 0.4
    marks[:3, :] = True  # blank values marked among them
    for highlight in (marks, None):
        check_sheet(tmp_path / "book.xlsx", frame, highlight, wrap=frozenset({2, 3}), money={5: 6})
    check_sheet(tmp_path / "noted.xlsx", frame, marks, note="capped & <noted>")


def test_a_categorical_column_with_missing_values_keeps_each_rows_value_across_chunks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A column of mostly distinct texts held as categories with a missing value, longer
    than one chunk, a value missing in each chunk: each row shows its own text, not the text
    of the first chunk's row at the same place."""
    monkeypatch.setattr(writers.xlsx, "XLSX_ROWS_PER_CHUNK", 4)
    advice = [None if i % 4 == 2 else f"Advice for record {i}" for i in range(12)]
    frame = pd.DataFrame({"advice": pd.Categorical(advice)})
    check_sheet(tmp_path / "book.xlsx", frame, None)
    cells = read_cells(tmp_path / "book.xlsx")
    assert cells[(10, 1)].value == "Advice for record 8"


def test_the_workbook_parts_name_every_shared_string_once(tmp_path: Path) -> None:
    frame = pd.DataFrame({"a": ["x", "x", "y", "y", "", ""], "b": ["z"] * 6})
    write_xlsx([Sheet("S", ["A", "B"], frame)], tmp_path / "b.xlsx", now=NOW)
    with zipfile.ZipFile(tmp_path / "b.xlsx") as zf:
        root = ElementTree.fromstring(zf.read("xl/sharedStrings.xml"))
    texts = [si.findtext(f"{NS}t") or "" for si in root.iter(f"{NS}si")]
    assert len(texts) == len(set(texts))


_TEXT = st.sampled_from(TRICKY) | st.text(
    alphabet=st.sampled_from(list("ab =+-@.0123456789\t\n\r&<>\x01\ufffe é")), max_size=6
)


@st.composite
def _frames(draw: st.DrawFn) -> tuple[pd.DataFrame, np.ndarray | None, frozenset[int]]:
    n = draw(st.integers(0, 12))
    columns: dict[str, pd.Series] = {}
    for j in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["object", "str", "category", "int"]))
        if kind == "int":
            columns[f"c{j}"] = pd.Series(
                draw(st.lists(st.integers(-99, 99), min_size=n, max_size=n)), dtype=np.int64
            )
            continue
        pool = draw(st.lists(_TEXT, min_size=1, max_size=6))
        values = [
            pool[k] for k in draw(st.lists(st.integers(0, len(pool) - 1), min_size=n, max_size=n))
        ]
        if kind == "category":
            missing = draw(st.lists(st.booleans(), min_size=n, max_size=n))
            columns[f"c{j}"] = pd.Series(
                pd.Categorical([None if m else v for v, m in zip(values, missing, strict=True)])
            )
        else:
            columns[f"c{j}"] = pd.Series(values, dtype=object if kind == "object" else "str")
    frame = pd.DataFrame(columns, index=range(n))
    marks = None
    if draw(st.booleans()):
        flat = draw(st.lists(st.booleans(), min_size=frame.size, max_size=frame.size))
        marks = np.array(flat, dtype=bool).reshape(frame.shape)
    wrap = frozenset(draw(st.sets(st.integers(0, frame.shape[1] - 1), max_size=1)))
    return frame, marks, wrap


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(case=_frames(), chunk=st.sampled_from([1, 2, 5, 25_000]))
def test_any_frame_each_cell_as_meant(
    tmp_path: Path, case: tuple[pd.DataFrame, np.ndarray | None, frozenset[int]], chunk: int
) -> None:
    frame, marks, wrap = case
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(writers.xlsx, "XLSX_ROWS_PER_CHUNK", chunk)
        check_sheet(tmp_path / "any.xlsx", frame, marks, wrap=wrap)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    case=_frames(),
    cuts=st.lists(st.integers(0, 12), max_size=3),
    notes=st.lists(st.booleans(), min_size=4, max_size=4),
    apart=st.integers(0, 4),
    chunk=st.sampled_from([1, 2, 5, 25_000]),
)
def test_any_frame_cut_into_sheets_each_cell_as_meant(
    tmp_path: Path,
    case: tuple[pd.DataFrame, np.ndarray | None, frozenset[int]],
    cuts: list[int],
    notes: list[bool],
    apart: int,
    chunk: int,
) -> None:
    """A frame cut into consecutive sheets (same columns, same categories: built in one
    pass), with or without notes, a sheet of other columns among them or not: each sheet
    holds its own piece, each cell as meant."""
    frame, marks, wrap = case
    bounds = sorted({0, len(frame), *(min(c, len(frame)) for c in cuts)})
    pieces = list(itertools.pairwise(bounds)) or [(0, 0)]
    header = [f"H{i}" for i in range(frame.shape[1])]
    sheets, expected = [], []
    for i, (a, b) in enumerate(pieces):
        if i == apart:
            other = pd.DataFrame({"x": ["other", "=1"]})
            sheets.append(Sheet("Other", ["X"], other))
            expected.append((other, None, {}))
        piece = frame.iloc[a:b].reset_index(drop=True)
        mask = None if marks is None else marks[a:b]
        kw: dict[str, Any] = {"wrap": wrap, "note": "noted" if notes[i] else ""}
        sheets.append(Sheet(f"S{i}", header, piece, highlight=mask, **kw))
        expected.append((piece, mask, kw))
    path = tmp_path / "cut.xlsx"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(writers.xlsx, "XLSX_ROWS_PER_CHUNK", chunk)
        write_xlsx(sheets, path, now=NOW)
    for number, (piece, mask, kw) in enumerate(expected, start=1):
        check_written(path, number, piece, mask, **kw)


def test_sheets_alike_but_for_their_column_names_each_hold_their_values(tmp_path: Path) -> None:
    # Two sheets of one text column each, named differently: written in one pass, by place.
    # (Joined by name, the second sheet's cells were blank.)
    first = pd.DataFrame({"x": pd.Series(["other", "=1"], dtype="str")})
    second = pd.DataFrame({"c0": pd.Series(["a", "b"], dtype="str")})
    path = tmp_path / "two.xlsx"
    write_xlsx([Sheet("Other", ["X"], first), Sheet("S0", ["H0"], second)], path, now=NOW)
    check_written(path, 1, first, None)
    check_written(path, 2, second, None)
    assert read_cells(path, 2)[(3, 1)].value == "b"


@pytest.mark.parametrize("chunk", [1, 2, 3, 5, 25_000])
def test_sheets_with_the_same_columns_each_hold_their_own_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    """Consecutive sheets with the same columns (the overview's sheet per resolution) are
    built in one pass, in chunks that may span two sheets: each sheet holds its own rows,
    numbered from its own header (below its note when it has one), each cell as meant; a
    sheet with other columns, or none, between them changes nothing."""
    monkeypatch.setattr(writers.xlsx, "XLSX_ROWS_PER_CHUNK", chunk)
    categories = pd.CategoricalDtype(TRICKY[:9])

    def frame(start: int, n: int) -> pd.DataFrame:
        picks = [TRICKY[(start + i) % len(TRICKY)] for i in range(n)]
        return pd.DataFrame(
            {
                "text": pd.Series(picks, dtype="str"),
                "kind": pd.Series([TRICKY[(start + i) % 9] for i in range(n)], dtype=categories),
                "amount": pd.Series([f"{start + i}.50" for i in range(n)], dtype=object),
                "currency": pd.Series(["USD", "JPY", "eur"][(start + i) % 3] for i in range(n)),
                "line": pd.Series(np.arange(start, start + n), dtype=np.int64),
            }
        )

    header = ["Text", "Kind", "Amount", "Currency", "Line"]
    kw: dict[str, Any] = {"wrap": frozenset({0}), "money": {2: 3}}
    plan = [(frame(0, 7), "first, noted"), (frame(7, 0), ""), (frame(3, 4), ""),
            (frame(11, 9), "a note & <more>")]  # fmt: skip
    other = pd.DataFrame({"a": ["x", "y"]})
    sheets = [Sheet("Other", ["A"], other)]
    sheets += [Sheet(f"S{i}", header, f, note=note, **kw) for i, (f, note) in enumerate(plan)]
    sheets.append(Sheet("Last", ["A"], other))
    path = tmp_path / "book.xlsx"
    write_xlsx(sheets, path, now=NOW)
    check_written(path, 1, other, None)
    for i, (f, note) in enumerate(plan, start=2):
        check_written(path, i, f, None, note=note, **kw)
    check_written(path, len(sheets), other, None)


def test_currencies_sent_differently_share_their_format(tmp_path: Path) -> None:
    """Each currency as sent is read once; " usd", "USD" and "usd " are one currency, and a
    code that is not three letters gives a plain amount format."""
    from openpyxl import load_workbook

    currencies = [" usd", "USD", "usd ", "KWD", "EURO", "", "JPY", "USD"]
    frame = pd.DataFrame({0: ["1.50", "2.00", "3.25", "4", "5", "6", "7", "8.123"], 1: currencies})
    path = tmp_path / "book.xlsx"
    write_xlsx([Sheet("S", ["Amount", "Currency"], frame, money={0: 1})], path, now=NOW)
    ws = load_workbook(path).active
    assert ws is not None
    formats = [ws.cell(row=r, column=1).number_format for r in range(2, 10)]
    assert formats == [
        '#,##0.00 "USD"',
        '#,##0.00 "USD"',
        '#,##0.00 "USD"',
        '#,##0.000 "KWD"',
        "#,##0.00",
        "#,##0.00",
        '#,##0 "JPY"',
        '#,##0.000 "USD"',
    ]
    styles = read_cells(path)
    assert styles[(2, 1)].style == styles[(3, 1)].style == styles[(4, 1)].style


def test_carriage_returns_and_excel_escapes_read_back_as_sent(tmp_path: Path) -> None:
    """A carriage return in a cell reads back as one (openpyxl); text that Excel reads as an
    escape (``_x000D_``) is escaped in turn, so Excel's reading of the cell (every
    ``_xHHHH_`` the character it names, left to right) gives the text as sent."""
    import openpyxl

    values = [
        "a\rb",
        "two\r\nlines",
        "_x000D_",
        "a_x0041_b",
        "_x005F_x0041_",
        "_x0041_x0042_x0043_",
        "plain_x_",
    ]
    frame = pd.DataFrame({"Advice": values})
    path = tmp_path / "out.xlsx"
    write_xlsx([Sheet("Records", ["Advice"], frame)], path, now=NOW)
    book = openpyxl.load_workbook(path, read_only=True)
    got = [row[0] for row in book.worksheets[0].iter_rows(min_row=2, values_only=True)]
    book.close()
    assert got[:2] == values[:2]
    cells = read_cells(path)
    excel = [
        re.sub(r"_x([0-9A-Fa-f]{4})_", lambda m: chr(int(m.group(1), 16)), str(cells[(r, 1)].value))
        for r in range(2, 2 + len(values))
    ]
    assert excel == values
