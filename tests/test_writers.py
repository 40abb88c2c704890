"""Writers: CSV bytes equal Python's csv module, formula neutralising, atomic folders, xlsx."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.errors import OutputError
from reconciler.writers import (
    MARKER,
    Sheet,
    formula_mask,
    neutralise,
    staged_output,
    write_csv,
    write_xlsx,
)

cells = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(cells, cells, st.integers(0, 10**6)), max_size=20))
def test_csv_bytes_equal_the_csv_module(rows: list[tuple[str, str, int]]) -> None:
    frame = (
        pd.DataFrame(rows, columns=["a", "b", "n"])
        if rows
        else pd.DataFrame({"a": [], "b": [], "n": []})
    )
    path = Path("/tmp") / f"reconciler-test-{abs(hash(tuple(rows)))}.csv"
    try:
        write_csv(frame, path, header=["A", "B,1", "N"])
        expected = io.StringIO()
        writer = csv.writer(expected, lineterminator="\n")
        writer.writerow(["A", "B,1", "N"])
        writer.writerows([list(r) for r in rows])
        if not any("\r" in a + b for a, b, _n in rows):
            # The csv module leaves a lone CR unquoted when lines end in LF; we quote it.
            assert path.read_bytes() == expected.getvalue().encode("utf-8")
        back = list(csv.reader(io.StringIO(path.read_bytes().decode("utf-8"), newline="")))
        assert back[1:] == [[a, b, str(n)] for a, b, n in rows]
    finally:
        path.unlink(missing_ok=True)


@pytest.mark.parametrize(
    ("value", "risky"),
    [
        ('=HYPERLINK("http://x")', True),
        ("+1+1", True),
        ("-2+3", True),
        ("@SUM(A1)", True),
        ("\t=1", True),
        ("\r=1", True),
        ("-5.00", False),
        ("+33", False),
        ("1E+05", False),
        ("00123", False),
        ("1000.4636.158133", False),
        ("", False),
    ],
)
def test_formula_mask(value: str, risky: bool) -> None:
    assert bool(formula_mask(pd.Series([value]))[0]) is risky


def test_neutralise_prefixes_only_formulas() -> None:
    frame = pd.DataFrame({"a": ["=1+1", "-5", "x"], "n": [1, 2, 3]})
    out = neutralise(frame)
    assert list(out["a"]) == ["'=1+1", "-5", "x"]
    assert list(frame["a"]) == ["=1+1", "-5", "x"]  # input untouched


def test_staged_output_leaves_previous_outputs_on_failure(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with staged_output(out) as stage:
        (stage / "a.txt").write_text("first", encoding="utf-8")
    with pytest.raises(RuntimeError), staged_output(out) as stage:
        (stage / "a.txt").write_text("second", encoding="utf-8")
        raise RuntimeError("boom")
    assert (out / "a.txt").read_text(encoding="utf-8") == "first"
    assert (out / MARKER).exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_staged_output_refuses_a_foreign_folder(tmp_path: Path) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("x", encoding="utf-8")
    with pytest.raises(OutputError, match="--force"), staged_output(out):
        pass


def test_xlsx_reads_back_with_text_ids_and_no_formulas(tmp_path: Path) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    frame = pd.DataFrame(
        {"id": ["00012345", "1000.4636.158133", '=HYPERLINK("x")', "<b>&"], "n": [1, 2, 3, 4]}
    )
    mask = np.zeros(frame.shape, dtype=bool)
    mask[2, 0] = True
    path = tmp_path / "w.xlsx"
    write_xlsx(
        [Sheet("Records", ["Id", "N"], frame, highlight=mask)],
        path,
        now=datetime(2026, 1, 1, tzinfo=UTC),
    )
    wb = openpyxl.load_workbook(path)
    ws = wb["Records"]
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == "A1:B5"
    values = [[c.value for c in row] for row in ws.iter_rows(min_row=2)]
    assert values == [["00012345", 1], ["1000.4636.158133", 2], ['=HYPERLINK("x")', 3], ["<b>&", 4]]
    assert all(c.data_type != "f" for row in ws.iter_rows() for c in row)
    assert ws["A4"].fill.fgColor.rgb == "FFFFF2CC"
    first = path.read_bytes()
    write_xlsx(
        [Sheet("Records", ["Id", "N"], frame, highlight=mask)],
        path,
        now=datetime(2026, 1, 1, tzinfo=UTC),
    )
    assert path.read_bytes() == first


def test_xlsx_formula_like_text_has_quote_prefix(tmp_path: Path) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    frame = pd.DataFrame({"v": ["=1+1", "-5", "@SUM(A1)", "plain"]})
    mask = np.zeros(frame.shape, dtype=bool)
    mask[2, 0] = True
    path = tmp_path / "q.xlsx"
    write_xlsx(
        [Sheet("S", ["V"], frame, highlight=mask)], path, now=datetime(2026, 1, 1, tzinfo=UTC)
    )
    ws = openpyxl.load_workbook(path)["S"]
    cells = [ws.cell(row=r, column=1) for r in range(2, 6)]
    assert [c.value for c in cells] == ["=1+1", "-5", "@SUM(A1)", "plain"]
    assert [bool(c.quotePrefix) for c in cells] == [True, False, True, False]
    assert cells[2].fill.fgColor.rgb == "FFFFF2CC"  # highlighted and quote-prefixed


def test_xlsx_repeated_texts_are_shared_and_read_back_exactly(tmp_path: Path) -> None:
    """Texts used more than once (in a slice of rows) go to the workbook's shared-string table,
    the rest stay inline; either way every cell reads back as the exact text, formula-like
    text keeps its quote prefix, highlights and blanks stay where they were."""
    openpyxl = pytest.importorskip("openpyxl")
    repeated = ["=1+1", " padded ", "<b>&\"'", "same", "ünï ✓"]
    texts = [repeated[i % 5] if i % 10 else f"unique {i}" for i in range(80)]
    texts[7] = ""
    frame = pd.DataFrame(
        {
            "t": pd.Series(texts, dtype=object),
            "c": pd.Categorical([repeated[i % 2] for i in range(80)]),
        }
    )
    mask = np.zeros(frame.shape, dtype=bool)
    mask[[1, 7], 0] = True
    path = tmp_path / "s.xlsx"
    sheets = [Sheet("A", ["T", "C"], frame, highlight=mask), Sheet("B", ["T", "C"], frame)]
    write_xlsx(sheets, path, now=datetime(2026, 1, 1, tzinfo=UTC))
    with zipfile.ZipFile(path) as zf:
        shared = zf.read("xl/sharedStrings.xml").decode()
        sheet = zf.read("xl/worksheets/sheet1.xml").decode()
    assert '<c r="A3" t="s"' in sheet and '<c r="A2" t="inlineStr"' in sheet
    assert shared.count("<si>") == len(set(shared.split("<si>")[1:]))  # each text once
    wb = openpyxl.load_workbook(path)
    for name in ("A", "B"):
        ws = wb[name]
        got = [[c.value for c in row] for row in ws.iter_rows(min_row=2)]
        want = [[t or None, c] for t, c in zip(texts, frame["c"], strict=True)]
        assert got == want, name
        assert all(c.data_type != "f" for row in ws.iter_rows() for c in row)
        quoted = [bool(ws.cell(row=r + 2, column=1).quotePrefix) for r in range(80)]
        assert quoted == [t == "=1+1" for t in texts]
    assert wb["A"]["A3"].fill.fgColor.rgb == "FFFFF2CC"
    assert wb["A"]["A9"].fill.fgColor.rgb == "FFFFF2CC"  # a highlighted blank keeps its fill


def test_safe_csv_neutralises_header_cells_too(tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    write_csv(pd.DataFrame({"a": ["=1"]}), path, header=['=HYPERLINK("x")'], safe=True)
    assert path.read_text(encoding="utf-8") == '"\'=HYPERLINK(""x"")"\n\'=1\n'


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(cells, cells, st.sampled_from(["", "ok", "=1+2", "a,b", 'say "x"'])), max_size=30
    ),
    st.booleans(),
)
def test_pre_encoded_rows_write_the_same_bytes(
    rows: list[tuple[str, str, str]], safe: bool
) -> None:
    """reconciled.csv's sent columns are encoded ahead on another thread (``lead``): the file
    must be byte for byte what encoding the whole frame at once gives, categoricals included."""
    from reconciler.writers import encode_rows

    frame = pd.DataFrame(rows, columns=["a", "b", "c"], dtype=object) if rows else None
    if frame is None:
        return
    frame["c"] = frame["c"].astype("category")
    whole = Path("/tmp") / f"reconciler-lead-{abs(hash((tuple(rows), safe)))}-whole.csv"
    split = whole.with_name(whole.name.replace("whole", "split"))
    try:
        write_csv(frame, whole, header=["A", "B", "C"], safe=safe)
        lead = encode_rows(frame[["a"]], safe=safe)
        write_csv(frame[["b", "c"]], split, header=["A", "B", "C"], safe=safe, lead=lead)
        assert split.read_bytes() == whole.read_bytes()
    finally:
        whole.unlink(missing_ok=True)
        split.unlink(missing_ok=True)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.text(max_size=8), max_size=12),
    st.integers(min_value=0, max_value=3),
    st.booleans(),
)
def test_byte_scans_agree_with_regular_expressions(
    values: list[str], skip: int, copied: bool
) -> None:
    """The memchr/lookup-table scans that let kernels be skipped never miss a character, and
    never see one outside the array (a slice of a longer one), whether they scan the buffer
    where it lies or a copy (where the C library's memchr cannot be loaded)."""
    import re

    import pyarrow as pa

    from reconciler import bytescan
    from reconciler.bytescan import _rows_holding
    from reconciler.writers import _bytes_match, _has_xml_illegal

    beside = [',"\r\n=+-@\t\x00'] * skip
    arr = pa.array([*beside, *values, *beside], type=pa.large_string()).slice(skip, len(values))
    joined = "".join(values)
    with pytest.MonkeyPatch.context() as mp:
        if copied:
            mp.setattr(bytescan, "_MEMCHR", None)
        assert _bytes_match(arr, b',"\r\n') == bool(re.search(r'[,"\r\n]', joined))
        assert _bytes_match(arr, b"=+-@\t\r") == bool(re.search(r"[=+\-@\t\r]", joined))
        assert _rows_holding(arr, b',"\r\n').tolist() == [
            bool(re.search(r'[,"\r\n]', v)) for v in values
        ]
        assert _has_xml_illegal(arr) == bool(
            re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]", joined)
        )


def test_a_signal_inside_a_deferred_block_is_handled_after_it() -> None:
    """The folder swap must not be cut short even when other threads are alive (the kernel
    may hand the signal to any of them; Python runs its handler in the main thread)."""
    import os
    import signal
    import threading
    import time

    from reconciler.writers import signals_deferred

    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    finished_block = False
    try:
        with pytest.raises(KeyboardInterrupt), signals_deferred():
            # Sent to the process, as Ctrl-C is: the kernel may hand it to either thread.
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)  # a handler that was not deferred would interrupt here
            finished_block = True
    finally:
        stop.set()
        other.join()
    assert finished_block
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


@pytest.mark.parametrize("chunk", [1, 3, 7, 1000])
def test_chunked_csv_is_the_same_file_whatever_the_chunk_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    """Big CSVs encode two chunks at a time on two threads and write them in order, the
    pre-encoded leading fields included: any chunk size gives the same bytes."""
    from reconciler import writers
    from reconciler.writers import encode_rows

    rows = [[f"id{i}", f"=cmd{i}" if i % 5 == 0 else f"v,{i}", str(i)] for i in range(40)]
    frame = pd.DataFrame(rows, columns=["a", "b", "c"], dtype=object)
    frame["d"] = pd.Categorical([("x", "y")[i % 2] for i in range(40)])
    whole = tmp_path / "whole.csv"
    write_csv(frame, whole, header=["A", "B", "C", "D"], safe=True)
    monkeypatch.setattr(writers.csvfile, "ROWS_PER_CHUNK", chunk)
    plain = tmp_path / "plain.csv"
    write_csv(frame, plain, header=["A", "B", "C", "D"], safe=True)
    led = tmp_path / "led.csv"
    lead = encode_rows(frame[["a", "b"]], safe=True)
    write_csv(frame[["c", "d"]], led, header=["A", "B", "C", "D"], safe=True, lead=lead)
    assert plain.read_bytes() == whole.read_bytes() == led.read_bytes()
    assert whole.read_bytes().count(b"\n") == 41


def test_xlsx_in_many_chunks_reads_back_like_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sheet rows are built in chunks, a categorical column's cell texts once for all of
    them: values, formula prefixes and highlights must come out as with a single chunk."""
    openpyxl = pytest.importorskip("openpyxl")
    from reconciler import writers

    n = 23
    frame = pd.DataFrame(
        {
            "id": [f"{i:06d}" for i in range(n)],
            "advice": pd.Categorical(
                [("Fix <it> & resend", "=cmd()", "", " padded ")[i % 4] for i in range(n)]
            ),
            "n": list(range(n)),
        }
    )
    mask = np.zeros(frame.shape, dtype=bool)
    mask[::3, 1] = True
    sheet = Sheet("Records", ["Id", "Advice", "N"], frame, highlight=mask)

    def cells(path: Path) -> list[list[tuple[object, object, bool]]]:
        ws = openpyxl.load_workbook(path)["Records"]
        return [
            [(c.value, c.fill.fgColor.rgb, bool(c.quotePrefix)) for c in row]
            for row in ws.iter_rows(min_row=1)
        ]

    one = tmp_path / "one.xlsx"
    write_xlsx([sheet], one, now=datetime(2026, 1, 1, tzinfo=UTC))
    monkeypatch.setattr(writers.xlsx, "XLSX_ROWS_PER_CHUNK", 4)
    many = tmp_path / "many.xlsx"
    write_xlsx([sheet], many, now=datetime(2026, 1, 1, tzinfo=UTC))
    assert cells(many) == cells(one)
    assert cells(one)[2][1][0] == "=cmd()" and cells(one)[2][1][2]  # text, quote-prefixed


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.tuples(st.text(max_size=6), st.integers(min_value=-5, max_value=5)), max_size=12),
    st.integers(min_value=1, max_value=5),
)
def test_json_written_in_pieces_reads_as_written_whole(
    rows: list[tuple[str, int]], chunk: int
) -> None:
    # A frame's rows are written a chunk at a time: the file is the one string
    # _json_text makes of the whole, byte for byte, whatever the chunk.
    import io

    import pandas as pd

    from reconciler.writers import jsonfile

    frame = pd.DataFrame({"Value": [r[0] for r in rows], "Line": [r[1] for r in rows]})
    data = {"summary": {"records": len(rows), "notes": ["a", "b/c"]}, "findings": frame}
    whole = jsonfile._json_text(data, 0)
    saved = jsonfile._FRAME_ROWS
    jsonfile._FRAME_ROWS = chunk
    try:
        out = io.StringIO()
        jsonfile._write_json(out, data, 0)
    finally:
        jsonfile._FRAME_ROWS = saved
    assert out.getvalue() == whole


def test_the_byte_scans_do_without_ctypes(monkeypatch: pytest.MonkeyPatch) -> None:
    # A Python built without ctypes: memchr is not loaded, and the scans search a copy.
    import sys

    import pyarrow as pa

    from reconciler import bytescan

    monkeypatch.setitem(sys.modules, "ctypes", None)
    assert bytescan._load_memchr() is None
    monkeypatch.setattr(bytescan, "_MEMCHR", None)
    arr = pa.array(["ab", "c,d", ""], pa.large_string())
    assert bytescan._bytes_match(arr, b",") and not bytescan._bytes_match(arr, b'"')
    assert bytescan._rows_holding(arr, b",").tolist() == [False, True, False]
