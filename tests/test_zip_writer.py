"""The workbooks' zip container (``reconciler.writers.zipout``): ISA-L's deflate where it is
installed, the standard zlib otherwise, with the layout ``zipfile`` writes.

- With zlib, a workbook is byte for byte what ``zipfile`` wrote (the writer before this one):
  headers, versions, flags, attributes, timestamps, entry order, ZIP64 records.
- With ISA-L, a workbook holds the same entries with the same uncompressed bytes, its CRCs
  check, and openpyxl reads every cell as from the zlib one.
- Without the ``isal`` package (a platform without its wheel), the workbooks are written with
  zlib, byte-identical to ``zipfile``'s, end to end through the command.
- An entry over ZIP64's limit gets ZIP64 sizes in its local header (``zipfile`` refused it);
  a workbook cut short leaves nothing behind.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
import zipfile
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from reconciler.cli import app
from reconciler.writers import Sheet, write_xlsx, xlsx, zipout

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
NOW = datetime(2026, 3, 7, 14, 25, 59, tzinfo=UTC)  # an odd second: DOS time keeps halves

_FIXED_PARTS = {
    "[Content_Types].xml",
    "_rels/.rels",
    "docProps/core.xml",
    "docProps/app.xml",
    "xl/workbook.xml",
    "xl/_rels/workbook.xml.rels",
}


def zipfile_workbook(sheets: Sequence[Sheet], path: Path, *, now: datetime) -> None:
    """The workbook as ``write_xlsx`` wrote it with ``zipfile`` before ``zipout``: the small
    parts with ``writestr`` (zlib's default level), the rest streamed through
    ``ZipFile.open(info, "w")`` at level 1."""
    iso, date_time = xlsx.zip_stamp(now)
    parts = xlsx.workbook_parts(sheets, iso, zipout.ZLIB)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for name, chunks, _level in parts:
            if name in _FIXED_PARTS:
                text = "".join(str(c) for c in chunks())
                zf.writestr(
                    zipfile.ZipInfo(name, date_time), text.encode("utf-8"), zipfile.ZIP_DEFLATED
                )
                continue
            info = zipfile.ZipInfo(name, date_time)
            info.compress_type = zipfile.ZIP_DEFLATED
            info._compresslevel = 1  # type: ignore[attr-defined]
            with zf.open(info, "w") as fh:
                for chunk in chunks():
                    fh.write(chunk.encode("utf-8") if isinstance(chunk, str) else chunk)


def _sheets(rows: int = 9) -> list[Sheet]:
    """Several sheets: a note, highlights, wrapped text, money in two currencies, numbers,
    blanks, formula-like and non-ASCII text, repeated values (shared strings) and unique ones
    (inline), a sheet name that must be cleaned and one that repeats."""
    rng = np.random.default_rng(7)
    ids = [f"{i:08d}" for i in range(rows)]
    texts = ["Café ü", "日本語のテキスト", "=1+1", "", " edge ", "a\r\nb", "<&>", "_x000D_", "😀"]
    frame = pd.DataFrame(
        {
            "id": ids,
            "text": [texts[i % len(texts)] for i in range(rows)],
            "n": np.arange(rows, dtype=np.int64),
            "advice": ["Résoudre: vérifier la ligne " + str(i % 3) for i in range(rows)],
        }
    )
    marks = rng.random(frame.shape) < 0.3
    money = pd.DataFrame(
        {
            "amount": [["12.50", "1000", "abc", "", "0.125"][i % 5] for i in range(rows)],
            "currency": [["EUR", "JPY", "KWD", "", "USD"][i % 5] for i in range(rows)],
            "name": [f"Zoë {i}" for i in range(rows)],
        }
    )
    return [
        Sheet(
            "Records / ü",
            ["Id", "Texte", "N", "Conseil"],
            frame,
            highlight=marks,
            note="Résumé: the first rows — see reconciled.csv",
            wrap=frozenset({3}),
            widths={3: 40.0},
        ),
        Sheet(
            "Money",
            ["Amount", "Currency", "Name"],
            money,
            highlight=np.eye(rows, 3, dtype=bool),
            money={0: 1},
        ),
        Sheet("Records / ü", ["Id"], frame[["id"]]),
    ]


def _members(path: Path) -> list[tuple[str, tuple[int, ...], int, int, bytes]]:
    with zipfile.ZipFile(path) as zf:
        assert zf.testzip() is None  # every CRC checks
        return [
            (i.filename, i.date_time, i.compress_type, i.external_attr, zf.read(i))
            for i in zf.infolist()
        ]


def _cells(path: Path) -> dict[str, list[list[object]]]:
    book = load_workbook(path)
    out = {}
    for ws in book.worksheets:
        out[ws.title] = [
            [(c.value, c.number_format, c.fill.fgColor.rgb, c.quotePrefix) for c in row]
            for row in ws.iter_rows()
        ]
    return out


@pytest.mark.parametrize("now", [NOW, NOW.astimezone(timezone(timedelta(hours=-5)))])
def test_with_zlib_a_workbook_is_byte_identical_to_zipfiles(tmp_path: Path, now: datetime) -> None:
    sheets = _sheets()
    zipfile_workbook(sheets, tmp_path / "zipfile.xlsx", now=now)
    write_xlsx(sheets, tmp_path / "zlib.xlsx", now=now, deflate=zipout.ZLIB)
    assert (tmp_path / "zlib.xlsx").read_bytes() == (tmp_path / "zipfile.xlsx").read_bytes()
    assert not list(tmp_path.glob("*.part"))


def test_a_member_larger_than_one_chunk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A sheet of 100 rows written 7 rows at a time: 15 chunks through one compressor.
    monkeypatch.setattr(xlsx, "XLSX_ROWS_PER_CHUNK", 7)
    sheets = _sheets(rows=100)
    zipfile_workbook(sheets, tmp_path / "zipfile.xlsx", now=NOW)
    write_xlsx(sheets, tmp_path / "zlib.xlsx", now=NOW, deflate=zipout.ZLIB)
    assert (tmp_path / "zlib.xlsx").read_bytes() == (tmp_path / "zipfile.xlsx").read_bytes()
    if zipout.ISAL is not None:
        write_xlsx(sheets, tmp_path / "isal.xlsx", now=NOW, deflate=zipout.ISAL)
        assert _members(tmp_path / "isal.xlsx") == _members(tmp_path / "zlib.xlsx")
        assert _cells(tmp_path / "isal.xlsx") == _cells(tmp_path / "zlib.xlsx")


def test_with_isal_a_workbook_holds_the_same_entries_and_cells(tmp_path: Path) -> None:
    pytest.importorskip("isal")
    assert zipout.DEFLATE is zipout.ISAL  # installed: the workbooks use it
    sheets = _sheets(rows=60)
    write_xlsx(sheets, tmp_path / "isal.xlsx", now=NOW)
    write_xlsx(sheets, tmp_path / "zlib.xlsx", now=NOW, deflate=zipout.ZLIB)
    isal_bytes = (tmp_path / "isal.xlsx").read_bytes()
    assert isal_bytes != (tmp_path / "zlib.xlsx").read_bytes()  # another compressor
    assert _members(tmp_path / "isal.xlsx") == _members(tmp_path / "zlib.xlsx")
    cells = _cells(tmp_path / "isal.xlsx")
    assert cells == _cells(tmp_path / "zlib.xlsx")
    assert list(cells) == ["Records _ ü", "Money", "Records _ ü (2)"]
    assert cells["Records _ ü"][0][0][0] == "Résumé: the first rows — see reconciled.csv"
    assert [row[1][0] for row in cells["Records _ ü"][2:11]] == [
        "Café ü", "日本語のテキスト", "=1+1", None, " edge ", "a\r\nb", "<&>", "_x000D_", "😀",
    ]  # fmt: skip
    # Written twice, the same bytes.
    write_xlsx(sheets, tmp_path / "again.xlsx", now=NOW)
    assert (tmp_path / "again.xlsx").read_bytes() == isal_bytes


@pytest.mark.parametrize(
    "sheets",
    [
        [Sheet("Empty", ["A", "B"], pd.DataFrame({"a": [], "b": []}, dtype=object))],
        [Sheet("No columns", [], pd.DataFrame())],
        [],
    ],
    ids=["no-rows", "no-columns", "no-sheets"],
)
def test_an_empty_sheet(tmp_path: Path, sheets: list[Sheet]) -> None:
    zipfile_workbook(sheets, tmp_path / "zipfile.xlsx", now=NOW)
    write_xlsx(sheets, tmp_path / "zlib.xlsx", now=NOW, deflate=zipout.ZLIB)
    assert (tmp_path / "zlib.xlsx").read_bytes() == (tmp_path / "zipfile.xlsx").read_bytes()
    write_xlsx(sheets, tmp_path / "default.xlsx", now=NOW)
    assert _members(tmp_path / "default.xlsx") == _members(tmp_path / "zlib.xlsx")
    if sheets:
        assert _cells(tmp_path / "default.xlsx") == _cells(tmp_path / "zlib.xlsx")


# ---------------------------------------------------------------- ZIP64


def _random_sheets() -> list[Sheet]:
    """Six sheets of random hex, which deflate shrinks only by half: the archive is much
    longer than its largest entry."""
    rng = np.random.default_rng(1)
    return [
        Sheet(f"S{k}", ["Hex"], pd.DataFrame({"h": [rng.bytes(24).hex() for _ in range(150)]}))
        for k in range(6)
    ]


def test_offsets_past_the_zip64_limit_are_written_as_zipfile_writes_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The limit lowered (2 GiB in earnest) under the archive's length but over every entry's
    # size: the later entries' offsets and the central directory's need ZIP64 records.
    sheets = _random_sheets()
    write_xlsx(sheets, tmp_path / "plain.xlsx", now=NOW, deflate=zipout.ZLIB)
    with zipfile.ZipFile(tmp_path / "plain.xlsx") as zf:
        largest = max(max(i.file_size, i.compress_size) for i in zf.infolist())
        past = [i.filename for i in zf.infolist() if i.header_offset > largest]
    assert len(past) >= 2
    monkeypatch.setattr(zipfile, "ZIP64_LIMIT", largest)
    monkeypatch.setattr(zipout, "ZIP64_LIMIT", largest)
    zipfile_workbook(sheets, tmp_path / "zipfile.xlsx", now=NOW)
    write_xlsx(sheets, tmp_path / "zlib.xlsx", now=NOW, deflate=zipout.ZLIB)
    data = (tmp_path / "zlib.xlsx").read_bytes()
    assert data == (tmp_path / "zipfile.xlsx").read_bytes()
    assert b"PK\x06\x06" in data  # the ZIP64 end record
    monkeypatch.undo()
    assert _members(tmp_path / "zlib.xlsx") == _members(tmp_path / "plain.xlsx")


@pytest.mark.parametrize("kind", ["zlib", "isal"])
def test_an_entry_past_the_zip64_limit_gets_zip64_sizes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    # zipfile refuses such an entry ("File size too large, try using force_zip64") once it
    # is written; it is written whole, its local header with ZIP64 sizes.
    deflate = zipout.ZLIB if kind == "zlib" else zipout.ISAL
    if deflate is None:
        pytest.skip("isal is not installed")
    sheets = _random_sheets()
    write_xlsx(sheets, tmp_path / "plain.xlsx", now=NOW, deflate=deflate)
    with zipfile.ZipFile(tmp_path / "plain.xlsx") as zf:
        sizes = {i.filename: i.file_size for i in zf.infolist()}
    limit = sizes["xl/worksheets/sheet1.xml"] - 1
    monkeypatch.setattr(zipfile, "ZIP64_LIMIT", limit)
    with pytest.raises(RuntimeError, match="force_zip64"):
        zipfile_workbook(sheets, tmp_path / "zipfile.xlsx", now=NOW)
    monkeypatch.setattr(zipout, "ZIP64_LIMIT", limit)
    path = tmp_path / "big.xlsx"
    write_xlsx(sheets, path, now=NOW, deflate=deflate)
    monkeypatch.undo()
    assert _members(path) == _members(tmp_path / "plain.xlsx")
    data = path.read_bytes()
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            local = data[info.header_offset : info.header_offset + 30]
            version, _, _, _, _, _, crc, csize, size, nlen, xlen = struct.unpack(
                "<2B4HL2L2H", local[4:]
            )
            assert local[:4] == b"PK\x03\x04" and crc == info.CRC
            if info.file_size > limit:
                assert (version, csize, size, xlen) == (45, 0xFFFFFFFF, 0xFFFFFFFF, 20)
                start = info.header_offset + 30 + nlen
                assert struct.unpack("<HHQQ", data[start : start + 20]) == (
                    1, 16, info.file_size, info.compress_size,
                )  # fmt: skip
            else:
                assert (version, csize, size, xlen) == (20, info.compress_size, info.file_size, 0)
    unzip = shutil.which("unzip")
    if unzip is not None:  # Info-ZIP's unzip on this machine: it checks the archive too
        done = subprocess.run([unzip, "-tq", str(path)], capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr


# ---------------------------------------------------------------- cut short


def test_a_workbook_cut_short_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = 0
    real = xlsx._rows_xml

    def failing(*args: object, **kwargs: object) -> memoryview:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise OSError(28, "No space left on device")
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(xlsx, "XLSX_ROWS_PER_CHUNK", 4)
    monkeypatch.setattr(xlsx, "_rows_xml", failing)
    path = tmp_path / "book.xlsx"
    with pytest.raises(OSError, match="No space"):
        write_xlsx(_sheets(), path, now=NOW)
    assert list(tmp_path.iterdir()) == []
    # A workbook there before stays as it was.
    path.write_bytes(b"earlier")
    calls = 0
    with pytest.raises(OSError, match="No space"):
        write_xlsx(_sheets(), path, now=NOW)
    assert list(tmp_path.iterdir()) == [path] and path.read_bytes() == b"earlier"


# ---------------------------------------------------------------- without isal

# Runs reconcile with the isal package unimportable (a platform without its wheel): once as
# is, once with the workbooks written by zipfile as before; prints what zipout chose.
WITHOUT_ISAL = """
import json, sys
sys.modules["isal"] = None  # import isal raises ImportError
from reconciler import pipeline
from reconciler.cli import app
from reconciler.writers import zipout
import reports.workbook
from tests.test_zip_writer import zipfile_workbook
print(json.dumps([zipout.DEFLATE.name, zipout.ISAL is None]))
args = json.loads(sys.argv[1])
for out, by_zipfile in ((sys.argv[2], False), (sys.argv[3], True)):
    if by_zipfile:
        pipeline.write_xlsx = reports.workbook.write_xlsx = zipfile_workbook
    try:
        app([*args, "--out", out], standalone_mode=False)
    except SystemExit as exc:
        assert exc.code in (0, 1), exc.code
"""


def _xlsx_files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.xlsx"))}


def test_without_isal_the_workbooks_are_written_with_zlib_as_zipfile_wrote_them(
    tmp_path: Path,
) -> None:
    scenario = FIXTURES / "modification_view_errors"
    args = ["reconcile", str(scenario / "sent.csv"), str(scenario / "results.csv")]
    args += ["--no-ledger", "--quiet"]
    env = dict(os.environ)
    env.update(
        PYTHONPATH=str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""),
        SOURCE_DATE_EPOCH="1700000000",
    )
    outs = [str(tmp_path / "zlib"), str(tmp_path / "zipfile")]
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_ISAL, json.dumps(args), *outs],
        env=env,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[0]) == ["zlib", True]
    by_zlib, by_zipfile = _xlsx_files(tmp_path / "zlib"), _xlsx_files(tmp_path / "zipfile")
    assert list(by_zlib) == ["needs-attention.xlsx", "reconciled.xlsx"]
    assert by_zlib == by_zipfile
    # This process, isal installed or not, writes workbooks holding the same entries.
    result = CliRunner().invoke(
        app, [*args, "--out", str(tmp_path / "here")], env={"SOURCE_DATE_EPOCH": "1700000000"}
    )
    assert result.exit_code in (0, 1), result.output
    for name in by_zlib:
        assert _members(tmp_path / "here" / name) == _members(tmp_path / "zlib" / name)


def _chunks(items: Sequence[bytes]) -> Iterator[bytes]:
    yield from items


def test_the_writer_alone_matches_zipfile_for_any_chunking(tmp_path: Path) -> None:
    # Entries of any size split anywhere, a non-ASCII name (UTF-8 flag), an empty entry.
    rng = np.random.default_rng(3)
    entries = [
        ("a.xml", [b"<a/>" * 1000]),
        ("empty.xml", []),
        ("dir/ünï.txt", [rng.bytes(5000), b"", b"x" * 70000, rng.bytes(3)]),
    ]
    date_time = (2030, 12, 31, 23, 59, 58)
    with (tmp_path / "ours.zip").open("w+b") as fp:
        writer = zipout.ZipWriter(fp, zipout.ZLIB)
        for name, chunks in entries:
            writer.write(name, _chunks(chunks), date_time=date_time, level=1)
        writer.close()
    with zipfile.ZipFile(tmp_path / "theirs.zip", "w") as zf:
        for name, chunks in entries:
            info = zipfile.ZipInfo(name, date_time)
            info.compress_type = zipfile.ZIP_DEFLATED
            info._compresslevel = 1  # type: ignore[attr-defined]
            with zf.open(info, "w") as fh:
                for chunk in chunks:
                    fh.write(chunk)
    assert (tmp_path / "ours.zip").read_bytes() == (tmp_path / "theirs.zip").read_bytes()
