"""Read one input file into a :class:`~reconciler.model.Table` of text.

This module is the only code that opens input files. It owns: refusing what should not be
read (missing, unreadable, binary, too large, hostile XML, zip bombs), recognising the format
(delimited text, XLSX, XML, JSON) from the content first and the extension second, decoding
text, sniffing the delimiter, finding the header, and recording the physical line (or sheet
row) where every record starts. Every value comes back exactly as written, as a ``str``.
``read_reason_map`` reads the ``--reason-map`` file (CSV/XLSX ``from,to`` or flat TOML).

It does not know impact.com templates, column meanings or result codes (``detect.py`` and
later stages do), never normalises values, and never writes anything.

Decisions worth knowing:

* Delimited text is parsed by pyarrow when it is installed (``ignore_empty_lines=False``: one
  row per physical line outside quotes, blank lines included), and by pandas' C parser with
  ``skip_blank_lines=False`` (same rows) whenever pyarrow refuses the file or could differ:
  rows with fewer or more fields than the header, invalid UTF-8, a quote left open at the end.
  Either way line numbers are computed vectorised: a record spans ``1 + line breaks inside its
  fields`` physical lines (``\\r\\n``, ``\\r`` and ``\\n`` each count once), and only files with
  a ``"`` can have such fields.
* Encodings: a BOM wins (UTF-8, UTF-16 LE/BE); UTF-16 without BOM is recognised by its NUL
  pattern; otherwise UTF-8, and when any byte sequence is not valid UTF-8 (even one bad byte
  mid-file) the whole file is decoded as cp1252, then latin-1 (which never fails). One bad byte
  is far more often a legacy export than a corrupted UTF-8 file; a wrong guess shows as
  mojibake in names, never as a changed ID, because IDs are ASCII.
* Blank lines, whitespace-only lines and rows whose fields are all empty (``,,,``) are not
  records but do consume line numbers. Leading such lines are skipped before the header.
* A physical line longer than ``MAX_LINE_BYTES`` (64 MiB) in delimited text is refused before
  parsing (the check is a few ``bytes.find`` calls, not a scan per line); shorter long lines,
  e.g. a 50 MB field, are read by the C parser in well under a second. JSON and XML are not
  line-limited because minified exports legitimately sit on one line.
* XLSX header row: among the first ``HEADER_SCAN_ROWS`` rows, the first row that has at least
  ``max(2, half of the widest row's)`` non-empty cells of which more than half are text;
  failing that, the first of the widest rows. Rows above the header are not records.
* XML and JSON have no header line: ``header_line`` is 0. XML ``lines`` are the physical line
  of each record's start tag (from expat); JSON ``lines`` are the 1-based record index.
"""

from __future__ import annotations

import codecs
import contextlib
import datetime as dt
import importlib
import io
import json
import math
import re
import stat
import tomllib
import warnings
import xml.etree.ElementTree as ET
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser

from reconciler import delimited, prefetch
from reconciler.errors import InputError
from reconciler.model import IntArray, Table

__all__ = [
    "HEADER_SCAN_ROWS",
    "MAX_COLUMNS",
    "MAX_INPUT_BYTES",
    "MAX_LINE_BYTES",
    "MAX_RECORDS",
    "MAX_XLSX_MEMBERS",
    "MAX_XLSX_UNCOMPRESSED",
    "MAX_ZIP_RATIO",
    "ZIP_RATIO_MIN_BYTES",
    "read_reason_map",
    "read_table",
]

MAX_INPUT_BYTES: Final = 2 * 1024**3
"""Files larger than this are refused before a byte is read."""
MAX_RECORDS: Final = 5_000_000
"""More records than this are refused (split the file)."""
MAX_LINE_BYTES: Final = 64 * 1024**2
"""A physical line of delimited text longer than this is refused."""
MAX_COLUMNS: Final = 16_384
"""More columns than this (Excel's widest sheet) are refused: usually a wrong delimiter or
line ending, and a frame millions of columns wide would take minutes to build."""
MAX_XLSX_UNCOMPRESSED: Final = 1024**3
"""Refuse a workbook whose zip members add up to more than this when inflated."""
MAX_ZIP_RATIO: Final = 200
"""Refuse a zip member inflating more than this many times its compressed size ..."""
ZIP_RATIO_MIN_BYTES: Final = 50 * 1024**2
"""... when it also inflates to more than this (small, very compressible parts are normal)."""
MAX_XLSX_MEMBERS: Final = 10_000
"""Refuse a workbook with more zip members than this."""
HEADER_SCAN_ROWS: Final = 20
"""XLSX: the header row is looked for among this many rows at the top of the sheet."""

_SNIFF_BYTES: Final = 8192
_FLAT_CELLS: Final = 1_000_000  # cells checked in one flat pass when few rows remain
_DELIMITER_NAMES: Final = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
_TEXT_SUFFIXES: Final = frozenset({".csv", ".tsv", ".txt", ".tab", ".psv"})
_XLSX_SUFFIXES: Final = frozenset({".xlsx", ".xlsm"})

_OLE2_MAGIC: Final = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ZIP_MAGICS: Final = (b"PK\x03\x04", b"PK\x05\x06")
_BINARY_MAGICS: Final = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"%PDF-", "a PDF document"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!\x1a\x07", "a RAR archive"),
    (b"\xfd7zXZ\x00", "an xz archive"),
    (b"\x28\xb5\x2f\xfd", "a zstd archive"),
    (b"\x7fELF", "a program"),
    (b"SQLite format 3\x00", "an SQLite database"),
    (b"PAR1", "a Parquet file"),
)

_BLANK_LINE: Final = re.compile(rb"[ \t,;|]*")
_LONE_CR: Final = re.compile(rb"\r(?!\n)")
_SURROGATES: Final = re.compile(r"[\ud800-\udfff]")
_C_TOO_MANY: Final = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")
_C_EOF_IN_QUOTE: Final = re.compile(r"EOF inside string starting at row (\d+)")

# Keys that hold the records in impact.com results exports, most specific first.
_JSON_RECORD_KEYS: Final = (
    "ErrorDetail",
    "ErrorDetails",
    "FTPFileSubmissionErrors",
    "APISubmission",
    "APISubmissions",
    "FTPFileSubmissions",
    "Errors",
    "Results",
    "Records",
    "Actions",
    "Submissions",
    "items",
    "data",
)
_RECORD_KEYS_FOLDED: Final = frozenset(k.casefold() for k in _JSON_RECORD_KEYS)
_JSON_PAGING_KEYS: Final = frozenset(
    {"page", "numpages", "pagesize", "total", "totalrecords", "nextpageuri", "start", "end"}
)

_FIX_EXPORT_CSV: Final = "export it as CSV (UTF-8) or XLSX and try again"


def read_table(
    path: Path,
    *,
    sheet: str | None = None,
    max_bytes: int | None = None,
    max_records: int | None = None,
    encoding: str | None = None,
) -> Table:
    """Read ``path`` (CSV/TSV/TXT, XLSX, XML or JSON) with every value as text.

    ``sheet`` picks a worksheet by name in an XLSX file (the first one otherwise) and is
    ignored for other formats. ``max_bytes`` and ``max_records`` default to
    ``MAX_INPUT_BYTES`` and ``MAX_RECORDS`` as they are when called. A read and parse made
    ahead by ``prefetch`` is used when it is of these very bytes and layout. Raises
    :class:`InputError` for anything that cannot be read, with a one-line message that says
    what is wrong and how to fix it.
    """
    path = Path(path)
    try:
        return _read_table(path, sheet, max_bytes, max_records, encoding)
    finally:
        prefetch.release(path)


def _read_table(
    path: Path,
    sheet: str | None,
    max_bytes: int | None,
    max_records: int | None,
    encoding: str | None = None,
) -> Table:
    max_bytes = MAX_INPUT_BYTES if max_bytes is None else max_bytes
    max_records = MAX_RECORDS if max_records is None else max_records
    raw = _read_bytes(path, max_bytes)
    kind = _sniff_kind(path, raw)
    try:
        if kind == "xlsx":
            return _read_xlsx(path, raw, sheet, max_records)
        if kind == "xml":
            return _read_xml(path, raw, max_records)
        if kind == "json":
            try:
                return _read_json(path, raw, max_records, encoding)
            except _NotJson:
                pass  # a delimited file whose first header cell starts with "{" or "["
        return _read_delimited(path, raw, max_records, encoding)
    except RecursionError:
        raise InputError(
            "is nested too deeply to read; flatten it or export it as CSV", path=path
        ) from None


def read_reason_map(path: Path, *, max_bytes: int | None = None) -> dict[str, str]:
    """Read a ``--reason-map`` file: CSV/XLSX with ``from`` and ``to`` columns, or TOML.

    TOML is a flat table of ``"sent reason" = "CODE"``. Keys are kept exactly as written
    (custom codes are case-sensitive); target codes lose surrounding whitespace.
    """
    path = Path(path)
    max_bytes = MAX_INPUT_BYTES if max_bytes is None else max_bytes
    if path.suffix.lower() == ".toml":
        return _read_reason_toml(path, _read_bytes(path, max_bytes))
    table = read_table(path, max_bytes=max_bytes)
    folded = {label.strip().casefold(): i for i, label in enumerate(table.header)}
    if "from" not in folded or "to" not in folded:
        raise InputError(
            f"has no 'from' and 'to' columns (found: {_labels(table.header)}); "
            "write a header row 'from,to' above the reason pairs",
            path=path,
        )
    sources = table.frame.iloc[:, folded["from"]].tolist()
    targets = table.frame.iloc[:, folded["to"]].tolist()
    mapping: dict[str, str] = {}
    for line, source, target in zip(table.lines.tolist(), sources, targets, strict=True):
        _add_reason(mapping, str(source), str(target).strip(), path, int(line))
    return mapping


def _labels(header: Sequence[str], limit: int = 10) -> str:
    """Header labels for a message: quoted, escaped (one line, no terminal control), capped."""
    shown = ", ".join(repr(label[:60]) for label in header[:limit])
    more = f" and {len(header) - limit} more" if len(header) > limit else ""
    return (shown + more) or "none"


def _read_reason_toml(path: Path, raw: bytes) -> dict[str, str]:
    try:
        document = tomllib.loads(_decode_text(path, raw)[1])
    except tomllib.TOMLDecodeError as exc:
        raise InputError(
            f'is not valid TOML ({exc}); write one pair per line: "sent reason" = "CODE"',
            path=path,
        ) from None
    mapping: dict[str, str] = {}
    for source, target in document.items():
        if not isinstance(target, str):
            raise InputError(
                f"maps {source!r} to a {type(target).__name__}, not a code; write one pair "
                'per line: "sent reason" = "CODE" (no [sections])',
                path=path,
            )
        _add_reason(mapping, source, target.strip(), path, None)
    return mapping


def _add_reason(
    mapping: dict[str, str], source: str, target: str, path: Path, line: int | None
) -> None:
    if source == "" and target == "":
        return
    if source == "" or target == "":
        raise InputError(
            "has a reason pair with an empty side; fill in both 'from' and 'to' or delete it",
            path=path,
            line=line,
        )
    if mapping.get(source, target) != target:
        raise InputError(
            f"maps {source!r} twice ({mapping[source]!r} and {target!r}); keep one",
            path=path,
            line=line,
        )
    mapping[source] = target


# --------------------------------------------------------------------------- opening


def _read_bytes(path: Path, max_bytes: int) -> bytes:
    try:
        info = path.stat()
    except FileNotFoundError:
        raise InputError(
            "does not exist; check the path and the file name (and that the folder exists)",
            path=path,
        ) from None
    except PermissionError:
        raise InputError(
            "cannot be accessed (permission denied); fix the permissions of the folder or "
            "copy the file somewhere readable",
            path=path,
        ) from None
    except OSError as exc:
        raise InputError(
            f"cannot be accessed ({exc.strerror or exc}); check the path", path=path
        ) from None
    if stat.S_ISDIR(info.st_mode):
        raise InputError("is a folder, not a file; pass one of the files inside it", path=path)
    if not stat.S_ISREG(info.st_mode):
        raise InputError(
            "is not a regular file (a pipe or device?); save the data to a file first", path=path
        )
    if info.st_size > max_bytes:
        raise InputError(
            f"is {_size(info.st_size)}, over the {_size(max_bytes)} limit; "
            "split it into smaller files",
            path=path,
        )
    ahead = prefetch.raw(path, info)  # read while the tool was starting (prefetch.py)
    if ahead is not None:
        return ahead
    try:
        with path.open("rb") as handle:
            raw = handle.read(max_bytes + 1)
    except PermissionError:
        raise InputError(
            "cannot be read (permission denied); fix its permissions (e.g. chmod u+r) or "
            "copy it somewhere readable",
            path=path,
        ) from None
    except OSError as exc:
        raise InputError(
            f"cannot be read ({exc.strerror or exc}); copy it to a local disk and try again",
            path=path,
        ) from None
    if len(raw) > max_bytes:
        raise InputError(
            f"is over the {_size(max_bytes)} limit; split it into smaller files", path=path
        )
    return raw


def _size(n: int) -> str:
    value = float(n)
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{n} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def _sniff_kind(path: Path, raw: bytes) -> str:
    """``xlsx``, ``xml``, ``json`` or ``csv``, or raise for binary and encrypted files."""
    suffix = path.suffix.lower()
    if raw.startswith(_ZIP_MAGICS):
        return "xlsx"
    if raw.startswith(_OLE2_MAGIC):
        raise InputError(
            "is password-protected or encrypted (or a legacy .xls workbook); save an "
            "unprotected copy as .xlsx or CSV",
            path=path,
        )
    for magic, what in _BINARY_MAGICS:
        if raw.startswith(magic):
            raise InputError(
                f"is not a text table (looks like binary data: {what}); {_FIX_EXPORT_CSV}",
                path=path,
            )
    if suffix in _XLSX_SUFFIXES:
        raise InputError(
            f"has a {suffix} extension but is not an Excel workbook (no zip signature); "
            "re-save it from Excel as .xlsx, or rename it to .csv if it is text",
            path=path,
        )
    utf16 = _utf16_encoding(raw)
    if utf16 is None and b"\x00" in raw[:_SNIFF_BYTES]:
        raise InputError(
            f"is not a text table (looks like binary data); {_FIX_EXPORT_CSV}", path=path
        )
    if utf16 is not None:
        encoding, bom = utf16
        head = raw[bom:_SNIFF_BYTES].decode(encoding, "ignore")
    else:
        head = raw[:_SNIFF_BYTES].decode("latin-1").removeprefix("ï»¿")
    first = head.lstrip(" \t\r\n\ufeff")[:1]
    if first == "<":
        return "xml"
    if first in ("{", "["):
        return "json"
    if suffix == ".json":
        return "json"
    if suffix == ".xml":
        return "xml"
    return "csv"


def _utf16_encoding(raw: bytes) -> tuple[str, int] | None:
    """(codec, BOM length) when ``raw`` is UTF-16: by BOM, or by the NUL pattern of ASCII."""
    if raw.startswith(codecs.BOM_UTF16_LE):
        return "utf-16-le", 2
    if raw.startswith(codecs.BOM_UTF16_BE):
        return "utf-16-be", 2
    head = raw[: min(len(raw), _SNIFF_BYTES) & ~1]
    if len(head) < 4:
        return None
    even, odd = head[0::2], head[1::2]
    if odd.count(0) == len(odd) and 0 not in even:
        return "utf-16-le", 0
    if even.count(0) == len(even) and 0 not in odd:
        return "utf-16-be", 0
    return None


# Encodings a file that is not UTF-8 is tried in, most common first (Excel's "CSV" on Windows
# in the Americas and Western Europe, then Central Europe, Cyrillic, Greek, Turkish, Baltic,
# Chinese, Japanese, Korean, Traditional Chinese).
LEGACY_ENCODINGS: Final = (
    "cp1252", "cp1250", "cp1251", "cp1253", "cp1254", "cp1257",
    "cp932", "cp949", "gb18030", "big5",
)  # fmt: skip
_SAMPLE_BYTES: Final = 1 << 20
# A run of letters and non-ASCII characters holding at least one non-ASCII character.
_TOKEN: Final = re.compile(r"[A-Za-z\x80-\U0010ffff]*[\x80-\U0010ffff][A-Za-z\x80-\U0010ffff]*")
_MAX_TOKENS: Final = 5000  # words enough to judge an encoding by
# Scripts by the start of a character's Unicode name; kanji and kana read as one.
_SCRIPTS: Final = (
    ("LATIN", "LATIN"), ("CYRILLIC", "CYRILLIC"), ("GREEK", "GREEK"), ("HANGUL", "HANGUL"),
    ("CJK", "HAN"), ("HIRAGANA", "HAN"), ("KATAKANA", "HAN"),
)  # fmt: skip


def _script(char: str) -> str:
    """The script of a letter ("" for anything else, halfwidth katakana included: a Chinese
    or Korean file read as Shift-JIS turns into those)."""
    import unicodedata

    if char.isascii():
        return "LATIN" if char.isalpha() else ""
    if not char.isalpha():
        return ""
    name = unicodedata.name(char, "")
    return next((script for prefix, script in _SCRIPTS if name.startswith(prefix)), "")


def _plausibility(text: str) -> tuple[float, int]:
    """How much the words of ``text`` that hold non-ASCII characters read as words: letters
    of one script, no symbol glued between them (Polish ``Łódź`` read as cp1252 is
    ``£ódŸ``), and, in Latin script, not all accented (Russian read as cp1252 is
    ``Ïðèâåò``). A right decoding scores near 1, a wrong one lower."""
    total = 0.0
    words = 0
    seen: set[str] = set()
    for number, match in enumerate(_TOKEN.finditer(text)):
        if number == _MAX_TOKENS:
            break
        token = match.group()
        letters = [c for c in token if c.isalpha()]
        if len(letters) < 2:
            continue  # a lone sign (€ read as the letter Ђ, a dash): no evidence either way
        words += 1
        scripts = {_script(c) for c in token if c.isalpha() or not c.isascii()}
        if len(scripts) != 1 or "" in scripts:
            continue  # mixed scripts, or a symbol glued into the word: implausible
        seen |= scripts
        if "LATIN" in scripts and len(letters) >= 3 and all(not c.isascii() for c in letters):
            total += 0.5
            continue
        total += 1.0
    score = total / words if words else 0.0
    # Hangul words beside Chinese ones: Chinese read as Korean (Korean data rarely holds hanja).
    return (score / 2 if {"HANGUL", "HAN"} <= seen else score), words


def _guess_legacy(raw: bytes) -> str:
    """The encoding of bytes that are not UTF-8, from evidence: among the encodings that
    decode them, the one whose words read most plausibly (``_plausibility``); among equals,
    charset-normalizer's language coherence when it tells them apart clearly, else the most
    common (the order of ``LEGACY_ENCODINGS``). Bytes without words (only signs such as €):
    the most common that decodes them. "" when they read as words in none."""
    sample = raw if len(raw) <= _SAMPLE_BYTES else raw[: raw.rfind(b"\n", 0, _SAMPLE_BYTES) + 1]
    sample = sample or raw[:_SAMPLE_BYTES]
    scored: list[tuple[float, int, str]] = []
    any_words = False
    for rank, name in enumerate(LEGACY_ENCODINGS):
        try:
            text = sample.decode(name)
        except UnicodeDecodeError:
            continue
        score, words = _plausibility(text)
        any_words |= words > 0
        scored.append((score, -rank, name))
    best = max(scored)[0] if scored else 0.0
    if not scored or (any_words and best < 0.5):
        return ""  # the bytes read as words in no common encoding
    tied = []
    readings: set[str] = set()
    for score, _rank, name in sorted(scored, reverse=True):
        if score < best - 0.02:
            continue
        reading = sample.decode(name)
        if reading not in readings:  # encodings that read the bytes alike: the first says it
            readings.add(reading)
            tied.append(name)
    if len(tied) > 1 and best > 0:  # no word at all: no evidence, the most common it is
        with contextlib.suppress(Exception):  # an optional judge: its failure changes nothing
            from charset_normalizer import from_bytes

            def key(name: str) -> str:
                return codecs.lookup(name).name.replace("-", "_")

            coherence = {m.encoding: m.coherence for m in from_bytes(sample, cp_isolation=tied)}
            first = coherence.get(key(tied[0]), 0.0)
            clear = [n for n in tied if coherence.get(key(n), 0.0) > first + 0.1]
            if clear:
                return max(clear, key=lambda n: coherence.get(key(n), 0.0))
    return tied[0]


def _stray_bytes(path: Path, raw: bytes) -> None:
    """A file that is UTF-8 but for a few invalid bytes (one bad byte in an export, a field
    pasted from elsewhere) is not re-read in another encoding: that would change every
    non-ASCII value of the rest. Refused, naming the lines, unless ``--encoding`` says how."""
    text = raw.decode("utf-8", errors="surrogateescape")
    bad = [m.start() for m in _SURROGATES.finditer(text)]
    non_ascii = len(text) - len(text.encode("ascii", errors="ignore"))
    valid = non_ascii - len(bad)
    if not bad or valid < len(bad):
        return  # no valid UTF-8 beside them: a legacy encoding
    lines = sorted({text.count("\n", 0, at) + 1 for at in bad[:1000]})
    shown = ", ".join(str(n) for n in lines[:5]) + (" ..." if len(lines) > 5 else "")
    raise InputError(
        f"is UTF-8 except for {len(bad)} invalid byte{'s' if len(bad) > 1 else ''} on "
        f"line{'s' if len(lines) > 1 else ''} {shown}; re-reading the whole file in another "
        "encoding would change its other values: fix those bytes (save it again as CSV UTF-8), "
        "or say how it is encoded with --encoding (e.g. --encoding cp1252)",
        path=path,
        line=lines[0],
    )


def _decode_legacy(path: Path, raw: bytes, forced: str | None) -> tuple[str, str]:
    """(encoding, text) of bytes that are not valid UTF-8: ``forced`` (``--encoding``) when
    given, else the evidence (``_stray_bytes`` refuses a UTF-8 file with a few bad bytes)."""
    if forced:
        try:
            return forced, raw.decode(forced)
        except UnicodeDecodeError as exc:
            line = raw.count(b"\n", 0, exc.start) + 1
            raise InputError(
                f"is not {forced} either ({exc.reason} at byte {exc.start}); name its real "
                "encoding with --encoding, or save it again as CSV UTF-8",
                path=path,
                line=line,
            ) from None
    _stray_bytes(path, raw)
    name = _guess_legacy(raw)
    if not name:
        raise InputError(
            "is not UTF-8, and its text reads as words in none of the encodings tried ("
            + ", ".join(LEGACY_ENCODINGS)
            + "); name its encoding with --encoding, or save it again as CSV UTF-8",
            path=path,
        )
    return name, raw.decode(name)


def _decode_text(path: Path, raw: bytes, forced: str | None = None) -> tuple[str, str]:
    """(encoding, text) for JSON: BOM first, then UTF-8, then ``_decode_legacy``."""
    if raw.startswith(codecs.BOM_UTF8):
        try:
            return "utf-8-sig", raw[3:].decode("utf-8")
        except UnicodeDecodeError:
            return _decode_legacy(path, raw[3:], forced)
    utf16 = _utf16_encoding(raw)
    if utf16 is not None:
        return utf16[0], _decode_utf16(path, raw, *utf16)
    try:
        return "utf-8", raw.decode("utf-8")
    except UnicodeDecodeError:
        return _decode_legacy(path, raw, forced)


def _decode_utf16(path: Path, raw: bytes, encoding: str, bom: int) -> str:
    try:
        return raw[bom:].decode(encoding)
    except UnicodeDecodeError as exc:
        raise InputError(
            f"looks like UTF-16 text but is not valid UTF-16 ({exc.reason} at byte "
            f"{exc.start + bom}); save it again as CSV UTF-8",
            path=path,
        ) from None


# --------------------------------------------------------------------------- delimited text


class _NotUtf8(Exception):
    """The tentative UTF-8 reading met invalid bytes: decode as cp1252/latin-1 and retry."""


def _read_delimited(path: Path, raw: bytes, max_records: int, forced: str | None = None) -> Table:
    utf16 = _utf16_encoding(raw)
    if utf16 is not None:
        data = _decode_utf16(path, raw, *utf16).encode("utf-8")
        return _parse_delimited(path, data, 0, utf16[0], max_records, validated=True)
    bom = len(codecs.BOM_UTF8) if raw.startswith(codecs.BOM_UTF8) else 0
    try:
        # Only the head is checked here; pyarrow or the C parser validate the rest as they go.
        codecs.getincrementaldecoder("utf-8")().decode(
            raw[bom : bom + delimited.HEAD_BYTES], final=False
        )
    except UnicodeDecodeError:
        pass
    else:
        encoding = "utf-8-sig" if bom else "utf-8"
        try:
            return _parse_delimited(path, raw, bom, encoding, max_records, validated=False)
        except _NotUtf8:
            pass
    encoding, text = _decode_legacy(path, raw[bom:], forced)
    return _parse_delimited(path, text.encode("utf-8"), 0, encoding, max_records, validated=True)


def _parse_delimited(
    path: Path, data: bytes, base: int, encoding: str, max_records: int, *, validated: bool
) -> Table:
    """Parse the UTF-8 text ``data[base:]`` (not yet validated unless ``validated``)."""
    _check_line_lengths(path, data)
    nul = data.find(b"\x00", base)
    if nul >= 0:  # the sniff only looks at the head; one memchr finds a NUL anywhere after it
        line = 1 + _count_breaks(data, base, nul)
        raise InputError(
            f"is not a text table (looks like binary data: a NUL byte on line {line}); "
            f"{_FIX_EXPORT_CSV}",
            path=path,
            line=line,
        )
    start, end = delimited.content_span(data, base)
    if _BLANK_LINE.fullmatch(data, start, end):
        what = "is empty" if len(data) == base else "holds only blank lines"
        raise InputError(
            f"has no header row (the file {what}); export the table again with its header",
            path=path,
        )
    header_line = 1 + _count_breaks(data, base, start)
    delimiter, ncols, has_quote = delimited.header_layout(data, start, end, path.suffix.lower())
    _check_header_width(path, data, start, end, delimiter, header_line)

    parsed = None
    if delimited.ARROW and ncols is not None:
        parsed = _parse_with_pyarrow(data, start, end, delimiter, ncols, has_quote)
    if parsed is None:
        rows = _parse_with_c(path, data[start:end], delimiter, header_line, validated)
        spans = _row_spans(rows, has_quote, _count_breaks(data, start, end) if has_quote else 0)
    else:
        rows, spans = parsed
    return _assemble(
        path,
        rows,
        spans,
        header_line=header_line,
        encoding=encoding,
        delimiter=delimiter,
        max_records=max_records,
    )


def _check_line_lengths(path: Path, data: bytes) -> None:
    """Refuse a physical line longer than MAX_LINE_BYTES without scanning line by line.

    A line of length >= L fully covers at least one aligned window of L/2 bytes, so it is
    enough to probe each aligned window for a line break (``bytes.find`` stops at the first).
    """
    limit = MAX_LINE_BYTES
    if len(data) <= limit:
        return
    half = limit // 2
    for lo in range(0, len(data), half):
        hi = min(len(data), lo + half)
        if hi - lo < half or data.find(b"\n", lo, hi) >= 0 or data.find(b"\r", lo, hi) >= 0:
            continue
        line_start = max(data.rfind(b"\n", 0, lo), data.rfind(b"\r", 0, lo)) + 1
        nl, cr = data.find(b"\n", hi), data.find(b"\r", hi)
        line_end = min((x for x in (nl, cr) if x >= 0), default=len(data))
        if line_end - line_start > limit:
            line = 1 + _count_breaks(data, 0, line_start)
            raise InputError(
                f"line {line} is {_size(line_end - line_start)} long, over the "
                f"{_size(limit)} limit for one line; check the delimiter and the line endings "
                f"or {_FIX_EXPORT_CSV}",
                path=path,
                line=line,
            )


def _check_header_width(
    path: Path, data: bytes, start: int, end: int, delimiter: str, header_line: int
) -> None:
    """Refuse a header wider than MAX_COLUMNS before the parser builds one array per field.

    Delimiters on the header's first physical line bound its width from above; only when that
    bound is over the limit are quoted delimiters discounted (the exact count).
    """
    breaks = [x for x in (data.find(b"\n", start, end), data.find(b"\r", start, end)) if x >= 0]
    line_end = min(breaks, default=end)
    sep = delimiter.encode("ascii")
    if data.count(sep, start, line_end) < MAX_COLUMNS:
        return
    line = data[start:line_end].decode("utf-8", "replace")
    fields = delimited.QUOTED.sub('""', line).count(delimiter) + 1
    if fields > MAX_COLUMNS:
        raise InputError(
            f"has {fields:,} columns in its header, more than the limit of {MAX_COLUMNS:,}; "
            f"check the delimiter and the line endings or {_FIX_EXPORT_CSV}",
            path=path,
            line=header_line,
        )


def _check_column_count(path: Path, count: int) -> None:
    if count > MAX_COLUMNS:
        raise InputError(
            f"has {count:,} distinct fields, more than the limit of {MAX_COLUMNS:,} columns; "
            f"{_FIX_EXPORT_CSV}",
            path=path,
        )


def _count_breaks(data: bytes, lo: int, hi: int) -> int:
    """Line breaks in ``data[lo:hi]``: ``\\r\\n``, lone ``\\r`` and lone ``\\n`` count once."""
    count = data.count(b"\n", lo, hi)
    if data.find(b"\r", lo, hi) >= 0 and _LONE_CR.search(data, lo, hi):
        count += data.count(b"\r", lo, hi) - data.count(b"\r\n", lo, hi)
    return count


def _parse_with_pyarrow(
    data: bytes, start: int, end: int, delimiter: str, ncols: int, has_quote: bool
) -> tuple[pd.DataFrame, IntArray] | None:
    """Fast path: one row per physical line outside quotes, like the C path.

    Returns None whenever the result could differ from the exact path: a row with fewer or
    more fields (pyarrow refuses both; the C path pads or reports the line), invalid UTF-8,
    a row longer than pyarrow's block.
    """
    table = prefetch.parsed(data, (start, end, delimiter, ncols, has_quote))
    if table is None:
        table = delimited.arrow_read(data, start, end, delimiter, ncols, has_quote)
    if table is None:
        return None
    rows: pd.DataFrame = table.to_pandas()
    rows.columns = pd.RangeIndex(ncols)
    spans = _row_spans(rows, has_quote, _count_breaks(data, start, end) if has_quote else 0)
    if has_quote and not _last_record_closed(data, start, end, delimiter, spans):
        return None  # pyarrow accepts a quote left open at the end of the file; C does not
    return rows, spans


def _last_record_closed(data: bytes, start: int, end: int, delimiter: str, spans: IntArray) -> bool:
    """Whether the last record parses on its own with the C parser (no quote left open).

    A record always starts outside quotes, so the last one can be checked alone: walk back
    over the physical lines it spans. Very long last records are left to the exact path.
    """
    lines = int(spans[-1])
    if lines > 1000:
        return False
    pos = record_start = end
    for _ in range(lines):
        brk = max(data.rfind(b"\n", start, pos), data.rfind(b"\r", start, pos))
        if brk < 0:
            record_start = start
            break
        record_start = brk + 1
        pos = brk - 1 if data[brk] == 0x0A and data[brk - 1] == 0x0D and brk > start else brk
    try:
        _c_read(data[record_start:end], delimiter, None)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError):
        return False
    return True


def _parse_with_c(
    path: Path, chunk: bytes, delimiter: str, header_line: int, validated: bool
) -> pd.DataFrame:
    """Exact path: pandas' C parser keeps one row per blank line (skip_blank_lines=False)."""
    try:
        return _c_read(chunk, delimiter, None)
    except UnicodeDecodeError:
        if validated:  # pragma: no cover - the bytes were produced by str.encode("utf-8")
            raise InputError(f"could not be decoded; {_FIX_EXPORT_CSV}", path=path) from None
        raise _NotUtf8 from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        message = str(exc).strip()
        name = _DELIMITER_NAMES[delimiter]
        too_many = _C_TOO_MANY.search(message)
        if too_many:
            expected, row, saw = (int(g) for g in too_many.groups())
            line = _line_of_row(chunk, delimiter, row - 1, header_line)
            raise InputError(
                f"line {line} has {saw} fields but the header has {expected}; quote fields "
                f"that contain the delimiter ({name}) or remove the extra fields",
                path=path,
                line=line,
            ) from None
        eof = _C_EOF_IN_QUOTE.search(message)
        if eof:
            line = _line_of_row(chunk, delimiter, int(eof.group(1)), header_line)
            raise InputError(
                f'a quoted field starting on line {line} is never closed; add the closing " '
                'or double the stray quote ("")',
                path=path,
                line=line,
            ) from None
        first = message.splitlines()[0] if message else type(exc).__name__
        raise InputError(
            f"could not be parsed as {name}-delimited text ({first}); check the quoting "
            f"or {_FIX_EXPORT_CSV}",
            path=path,
        ) from None


def _c_read(chunk: bytes, delimiter: str, nrows: int | None) -> pd.DataFrame:
    return pd.read_csv(
        io.BytesIO(chunk),
        sep=delimiter,
        header=None,
        dtype=str,
        na_filter=False,
        keep_default_na=False,
        skip_blank_lines=False,
        quotechar='"',
        doublequote=True,
        escapechar=None,
        skipinitialspace=False,
        index_col=False,
        encoding="utf-8",
        encoding_errors="strict",
        engine="c",
        nrows=nrows,
    )


def _line_of_row(chunk: bytes, delimiter: str, row: int, header_line: int) -> int:
    """Physical line where 0-based parser row ``row`` starts (error path only)."""
    if row <= 0:
        return header_line
    try:
        before = _c_read(chunk, delimiter, row)
    except (pd.errors.ParserError, ValueError):  # pragma: no cover - rows before parsed fine
        return header_line + row
    return header_line + int(_row_spans(before, True, None).sum())


def _row_spans(rows: pd.DataFrame, has_quote: bool, breaks: int | None) -> IntArray:
    """Physical lines each row covers: 1 + line breaks inside its fields.

    ``breaks`` (line breaks in the parsed text, when ``rows`` is all of it) saves the search
    column by column: one row per physical line means no field holds a break.
    """
    spans = np.ones(len(rows), dtype=np.int64)
    if not has_quote or (breaks is not None and breaks + 1 == len(rows)):
        return spans  # only a quoted field can hold a line break
    for column in rows.columns:
        values = rows[column]
        if values.str.contains(r"[\r\n]", regex=True).any():
            spans += values.str.count(delimited.LINE_BREAK).to_numpy(dtype=np.int64)
    return spans


def _blank_rows(rows: pd.DataFrame) -> npt.NDArray[np.bool_]:
    """Rows whose fields are all empty or whitespace (blank lines, ``,,,``).

    Column by column, each pass keeping only the rows still blank, while that is cheap; the
    few rows left across many columns (a wide file) are then checked in one flat pass.
    """
    if rows.shape[1] == 0:
        return np.ones(len(rows), dtype=bool)
    width = rows.shape[1]
    candidates = np.flatnonzero(_blank_cells(rows.iloc[:, 0]))
    position = 1
    # While many rows are still candidates, a whole-column pass is cheaper than taking them
    # out of the (chunked) column.
    while position < width and candidates.size * 8 > len(rows):
        blank_here = _blank_cells(rows.iloc[:, position])
        candidates = candidates[blank_here[candidates]]
        position += 1
    while candidates.size and position < width:
        if position >= 8 and candidates.size * (width - position) <= _FLAT_CELLS:
            rest = rows.iloc[candidates, position:].to_numpy(dtype=object).ravel()
            flat = pd.Series(rest, dtype=rows.dtypes.iloc[position])
            keep = _blank_cells(flat).reshape(candidates.size, width - position).all(axis=1)
            candidates = candidates[keep]
            break
        candidates = candidates[_blank_cells(rows.iloc[candidates, position])]
        position += 1
    blank = np.zeros(len(rows), dtype=bool)
    blank[candidates] = True
    return blank


def _blank_cells(values: pd.Series) -> npt.NDArray[np.bool_]:
    return values.str.strip().eq("").to_numpy(dtype=bool)


def _assemble(
    path: Path,
    rows: pd.DataFrame,
    spans: IntArray,
    *,
    header_line: int,
    encoding: str,
    delimiter: str,
    max_records: int,
) -> Table:
    """Header row + records with their start lines; blank rows and dead columns removed."""
    starts = header_line + np.concatenate(([0], np.cumsum(spans)[:-1])).astype(np.int64)
    header = [_clean_label(str(v)) for v in rows.iloc[0].tolist()]
    records = rows.iloc[1:]
    keep = ~_blank_rows(records)
    lines: IntArray = starts[1:]
    if not keep.all():
        records, lines = records.iloc[np.flatnonzero(keep)], lines[keep]
    _check_record_count(path, len(records), max_records)
    width = _trimmed_width(header, lambda i: bool(records.iloc[:, i].eq("").all()))
    records = records.iloc[:, :width].reset_index(drop=True)
    records.columns = pd.Index(_unique_labels(header[:width]))
    _refuse_repeated_header(path, header[:width], records, lines)
    return Table(
        path=path,
        format="csv",
        header=tuple(header[:width]),
        frame=records,
        lines=np.ascontiguousarray(lines, dtype=np.int64),
        header_line=header_line,
        encoding=encoding,
        delimiter=delimiter,
    )


# --------------------------------------------------------------------------- shared helpers


def _refuse_repeated_header(
    path: Path, header: Sequence[str], records: pd.DataFrame, lines: IntArray
) -> None:
    """A record that repeats the header row (a BOM before it or not): two exports joined into
    one file. Reading it as a record would report a header as an accepted record."""
    named = [i for i, label in enumerate(header) if label]
    if len(named) < 2 or not len(records):
        return
    first = named[0]
    column = records.iloc[:, first]
    hits = np.flatnonzero(
        column.isin([header[first], "\ufeff" + header[first]]).to_numpy(dtype=bool)
    )
    for row in hits[:100]:
        cells = [_clean_label(str(records.iat[int(row), i])) for i in named]
        same = sum(1 for i, cell in zip(named, cells, strict=True) if cell == header[i])
        if same * 2 > len(named):
            raise InputError(
                "repeats the header row here: two exports joined into one file? Remove the "
                "second header (and its byte-order mark) or split the file",
                path=path,
                line=int(lines[int(row)]),
            )


def _clean_label(label: str) -> str:
    return label.strip().strip("\ufeff").strip()


def _unique_labels(header: Sequence[str]) -> list[str]:
    """Frame labels: ``Column N`` for an empty header cell, ``X (2)`` for a second ``X``."""
    used: set[str] = set()
    labels: list[str] = []
    # Suffixes below next_suffix[base] are all taken already, so the search resumes there:
    # a header of thousands of equal labels stays linear.
    next_suffix: dict[str, int] = {}
    for index, label in enumerate(header):
        base = label or f"Column {index + 1}"
        candidate, n = base, next_suffix.get(base, 2)
        if candidate in used:
            candidate = f"{base} ({n})"
            while candidate in used:
                n += 1
                candidate = f"{base} ({n})"
            next_suffix[base] = n + 1
        used.add(candidate)
        labels.append(candidate)
    return labels


def _trimmed_width(header: Sequence[str], column_empty: Callable[[int], bool]) -> int:
    """Header width without trailing columns whose label and data are all empty."""
    width = len(header)
    while width > 1 and header[width - 1] == "" and column_empty(width - 1):
        width -= 1
    return width


def _check_record_count(path: Path, count: int, max_records: int) -> None:
    if count > max_records:
        raise InputError(
            f"has {count:,} records, more than the limit of {max_records:,}; "
            "split it into smaller files",
            path=path,
        )


def _text_frame(labels: Sequence[str], columns: Sequence[list[str]], rows: int) -> pd.DataFrame:
    """A frame of ``str`` columns; ``rows`` keeps the length right when there are no columns."""
    try:
        data = {
            label: pd.Series(values, dtype="str", index=pd.RangeIndex(rows))
            for label, values in zip(labels, columns, strict=True)
        }
        return pd.DataFrame(data, columns=pd.Index(labels), index=pd.RangeIndex(rows))
    except UnicodeEncodeError:
        # Lone surrogates (JSON "\ud800") cannot be stored as UTF-8 strings: show U+FFFD.
        clean = [_SURROGATES.sub("\ufffd", label) for label in labels]
        fixed = [[_SURROGATES.sub("\ufffd", value) for value in column] for column in columns]
        return _text_frame(_unique_labels(clean), fixed, rows)


# --------------------------------------------------------------------------- XLSX


def _read_xlsx(path: Path, raw: bytes, sheet: str | None, max_records: int) -> Table:
    _inspect_zip(path, raw)
    openpyxl = importlib.import_module("openpyxl")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            workbook = openpyxl.load_workbook(
                io.BytesIO(raw), read_only=True, data_only=True, keep_links=False
            )
    except Exception as exc:  # openpyxl raises an open-ended set of types on damaged input
        _refuse_defused(path, exc)
        raise InputError(
            f"could not be opened as an Excel workbook ({_exc_text(exc)}); open it in Excel "
            "and save it again as .xlsx",
            path=path,
        ) from None
    try:
        worksheet = _pick_sheet(path, workbook, sheet)
        title = str(worksheet.title)
        # Hidden sheets passed over to reach it: said in the summary.
        skipped = []
        for ws in workbook.worksheets:
            if ws is worksheet:
                break
            if getattr(ws, "sheet_state", "visible") != "visible":
                skipped.append(str(ws.title))
        worksheet.reset_dimensions()  # stale <dimension> tags would cut rows off
        try:
            issues: dict[tuple[int, int], str] = {}
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                table = _sheet_table(
                    path, title, _bounded_rows(path, title, worksheet, issues), max_records
                )
            if issues:
                # Cells of the records whose value the file does not hold: "row:column" ->
                # what is wrong (json: Table.meta holds text).
                found = {
                    f"{row}:{column}": what
                    for (row, column), what in sorted(issues.items())
                    if row > table.header_line
                }
                if found:
                    table = replace(table, meta={**table.meta, "@cell_issues": json.dumps(found)})
            if skipped:
                table = replace(table, meta={**table.meta, "@hidden_sheets": ", ".join(skipped)})
            return table
        except InputError:
            raise
        except Exception as exc:  # same: malformed sheet XML, bad shared strings, ...
            _refuse_defused(path, exc)
            raise InputError(
                f"sheet {title!r} could not be read ({_exc_text(exc)}); open the workbook in "
                "Excel and save it again as .xlsx",
                path=path,
            ) from None
    finally:
        workbook.close()


MAX_XLSX_CELLS: Final = 2_000_000
"""Cells a sheet may spread its values over (rows x the width up to each row's last value)
when they hold less than 1% of them: one stray cell in column XFD on every row of a small
workbook would otherwise cost gigabytes (openpyxl pads every row to its last cell)."""


MAX_CELL_ISSUES: Final = 10_000  # cells noted as unreadable; more are counted, not listed


def _bounded_rows(
    path: Path, title: str, worksheet: Any, issues: dict[tuple[int, int], str]
) -> Iterator[tuple[object, ...]]:
    """The sheet's rows as value tuples, as ``iter_rows(values_only=True)`` gives them, built
    from the cells the sheet really holds, and refused with one line when the cells they
    imply outgrow the values (``MAX_XLSX_CELLS``). ``issues`` gets the cells whose value the
    file does not hold, by (sheet row, column): a formula without a saved value, an Excel
    error (``#N/A``), a cell merged into another."""
    parser_module = importlib.import_module("openpyxl.worksheet._reader")
    book = worksheet.parent
    formula_tag = parser_module.FORMULA_TAG

    base: Any = parser_module.WorkSheetParser

    class Parser(base):  # type: ignore[misc]
        def parse_cell(self, element: Any) -> Any:
            cell = super().parse_cell(element)
            if cell["value"] is None and element.find(formula_tag) is not None:
                note((cell["row"], cell["column"]), "a formula without a saved value")
            elif cell["data_type"] == "e":
                note((cell["row"], cell["column"]), f"the Excel error {cell['value']}")
            return cell

    def note(where: tuple[int, int], what: str) -> None:
        if len(issues) < MAX_CELL_ISSUES:
            issues[where] = what

    implied = values = 0
    counter = 1
    with worksheet._get_source() as source:
        parser = Parser(
            source,
            worksheet._shared_strings,
            data_only=book.data_only,
            epoch=book.epoch,
            date_formats=book._date_formats,
            timedelta_formats=book._timedelta_formats,
        )
        for index, cells in parser.parse():
            while counter < index:  # rows the sheet leaves out
                counter += 1
                yield ()
            counter += 1
            held = [(c["column"], c["value"]) for c in cells if c["value"] is not None]
            if not held:
                yield ()
                continue
            width = max(column for column, _ in held)
            implied += width
            values += len(held)
            if implied > MAX_XLSX_CELLS and implied > 100 * values:
                raise InputError(
                    f"sheet {title!r} spreads {values:,} values over {implied:,} cells (up to "
                    f"column {_column_name(width)}): delete the stray cells beyond the table, "
                    "or copy the table alone into a new workbook",
                    path=path,
                )
            row: list[object] = [None] * width
            for column, value in held:
                row[column - 1] = value
            yield tuple(row)
        # Merged ranges come after the rows: every cell but the first of a range is blank.
        for merged in getattr(getattr(parser, "merged_cells", None), "mergeCell", []) or []:
            with contextlib.suppress(Exception):
                low_col, low_row, high_col, high_row = _range_bounds(str(merged.ref))
                if (high_row - low_row + 1) * (high_col - low_col + 1) > MAX_CELL_ISSUES:
                    continue
                first = f"{_column_name(low_col)}{low_row}"
                for r in range(low_row, high_row + 1):
                    for c in range(low_col, high_col + 1):
                        if (r, c) != (low_row, low_col):
                            note((r, c), f"merged into {first}")


def _range_bounds(ref: str) -> tuple[int, int, int, int]:
    utils = importlib.import_module("openpyxl.utils")
    low_col, low_row, high_col, high_row = utils.range_boundaries(ref)
    return int(low_col), int(low_row), int(high_col), int(high_row)


def _column_name(number: int) -> str:
    name = ""
    while number:
        number, rest = divmod(number - 1, 26)
        name = chr(65 + rest) + name
    return name


def _refuse_defused(path: Path, exc: BaseException) -> None:
    """openpyxl parses with defusedxml and wraps its refusal: say what it really was."""
    seen: BaseException | None = exc
    for _ in range(20):  # a bounded walk: exception chains can be cyclic
        if seen is None:
            return
        if isinstance(seen, DefusedXmlException):
            raise InputError(
                "holds XML with a DTD or entity declaration, which reconciler refuses for "
                "safety; open the workbook in Excel and save it again as .xlsx",
                path=path,
            ) from None
        seen = seen.__cause__ or seen.__context__


def _exc_text(exc: BaseException) -> str:
    text = str(exc).splitlines()[0].strip() if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}"[:200] if text else type(exc).__name__


def _inspect_zip(path: Path, raw: bytes) -> None:
    """Refuse damaged zips and zip bombs from the central directory, inflating nothing."""
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            members = archive.infolist()
    except Exception as exc:  # BadZipFile, but also struct/Value/EOF errors on hostile bytes
        raise InputError(
            f"is not a readable workbook: the zip container is damaged or truncated "
            f"({_exc_text(exc)}); download or export it again",
            path=path,
        ) from None
    if len(members) > MAX_XLSX_MEMBERS:
        raise InputError(
            f"holds {len(members):,} zip members, more than the {MAX_XLSX_MEMBERS:,} a "
            "workbook needs; it is not a normal .xlsx, export the sheet as CSV",
            path=path,
        )
    total = sum(member.file_size for member in members)
    if total > MAX_XLSX_UNCOMPRESSED:
        raise InputError(
            f"would inflate to {_size(total)}, over the {_size(MAX_XLSX_UNCOMPRESSED)} limit "
            "for a workbook (possible zip bomb); export the sheet as CSV instead",
            path=path,
        )
    for member in members:
        ratio = member.file_size / max(member.compress_size, 1)
        if member.file_size > ZIP_RATIO_MIN_BYTES and ratio > MAX_ZIP_RATIO:
            raise InputError(
                f"has a part ({member.filename}) that inflates {ratio:,.0f} times to "
                f"{_size(member.file_size)} (possible zip bomb); refusing to open it, "
                "export the sheet as CSV instead",
                path=path,
            )
    names = {member.filename for member in members}
    if "xl/workbook.xml" not in names and "xl/workbook.bin" not in names:
        raise InputError(
            "is a zip archive but not an Excel workbook (no xl/workbook.xml); unzip it and "
            "pass the table inside, or save the sheet as .xlsx",
            path=path,
        )


def _pick_sheet(path: Path, workbook: Any, sheet: str | None) -> Any:
    """``sheet`` by name (exact, else the one matching without case), or the first visible
    sheet: a hidden sheet before it is usually an old copy or a lookup table."""
    worksheets = list(workbook.worksheets)
    names = [str(ws.title) for ws in worksheets]
    if not worksheets:
        raise InputError("has no worksheets; save the table in a normal sheet", path=path)
    if sheet is None:
        visible = [ws for ws in worksheets if getattr(ws, "sheet_state", "visible") == "visible"]
        if not visible:
            raise InputError(
                f"has only hidden sheets ({', '.join(repr(n) for n in names)}); unhide the "
                "table's sheet or name it with --sheet",
                path=path,
            )
        return visible[0]
    if sheet in names:
        return worksheets[names.index(sheet)]
    folded = [i for i, name in enumerate(names) if name.casefold() == sheet.casefold()]
    if len(folded) == 1:
        return worksheets[folded[0]]
    listed = ", ".join(repr(name) for name in names)
    raise InputError(f"has no sheet named {sheet!r}; choose one of: {listed}", path=path)


def _sheet_table(
    path: Path, title: str, rows: Iterable[Sequence[object]], max_records: int
) -> Table:
    iterator = iter(rows)
    top: list[tuple[list[str], int]] = []  # (cells as text, text-cell count)
    for values in iterator:
        top.append(_xlsx_row(values))
        if len(top) >= HEADER_SCAN_ROWS:
            break
    header_index = _pick_header_row(top)
    if header_index is None:
        raise InputError(
            f"has no header row (sheet {title!r} is empty in its first {HEADER_SCAN_ROWS} "
            "rows); put the column names in the first row",
            path=path,
        )
    header = [_clean_label(cell) for cell in top[header_index][0]]
    records: list[list[str]] = []
    lines: list[int] = []
    width = len(header)

    def add(number: int, cells: list[str]) -> None:
        nonlocal width
        used = _used_width(cells)
        if used == 0:
            return
        width = max(width, used)
        if width > MAX_COLUMNS:
            _check_column_count(path, width)
        records.append(cells[:used])
        lines.append(number)
        if len(records) > max_records:
            _check_record_count(path, len(records), max_records)

    for offset, (cells, _) in enumerate(top[header_index + 1 :], start=header_index + 2):
        add(offset, cells)
    for number, values in enumerate(iterator, start=len(top) + 1):
        add(number, _xlsx_row(values)[0])

    header += [""] * (width - len(header))
    columns = [[row[i] if i < len(row) else "" for row in records] for i in range(width)]
    width = _trimmed_width(header, lambda i: all(value == "" for value in columns[i]))
    header = header[:width]
    frame = _text_frame(_unique_labels(header), columns[:width], len(records))
    row_lines = np.asarray(lines, dtype=np.int64)
    _refuse_repeated_header(path, header, frame, row_lines)
    return Table(
        path=path,
        format="xlsx",
        header=tuple(header),
        frame=frame,
        lines=row_lines,
        header_line=header_index + 1,
        sheet=title,
    )


def _xlsx_row(values: Sequence[object]) -> tuple[list[str], int]:
    cells = [_cell_text(value) for value in values]
    texts = sum(1 for value in values if isinstance(value, str) and value.strip())
    return cells, texts


def _used_width(cells: Sequence[str]) -> int:
    for index in range(len(cells) - 1, -1, -1):
        if cells[index].strip():
            return index + 1
    return 0


def _pick_header_row(top: Sequence[tuple[list[str], int]]) -> int | None:
    counts = [sum(1 for cell in cells if cell.strip()) for cells, _ in top]
    widest = max(counts, default=0)
    if widest == 0:
        return None
    needed = max(2, math.ceil(widest / 2))
    for index, ((_, texts), count) in enumerate(zip(top, counts, strict=True)):
        if count >= needed and texts * 2 > count:
            return index
    return counts.index(widest)


def _cell_text(value: object) -> str:
    """An XLSX cell value as the text a user sees (IDs keep their digits, no ``.0``)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is None and value.time() == dt.time(0):
            return value.date().isoformat()  # openpyxl gives datetimes for date-only cells
        return value.isoformat(timespec="seconds" if value.microsecond == 0 else "auto")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)


# --------------------------------------------------------------------------- XML


class _LineTreeBuilder(ET.TreeBuilder):
    """TreeBuilder that remembers the physical line of every start tag."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: dict[int, int] = {}
        self.expat: Any = None

    def start(self, tag: Any, attrs: dict[Any, Any], /) -> ET.Element:
        element = super().start(tag, attrs)
        if self.expat is not None:
            self.lines[id(element)] = int(self.expat.CurrentLineNumber)
        return element


def _read_xml(path: Path, raw: bytes, max_records: int) -> Table:
    builder = _LineTreeBuilder()
    parser = DefusedXMLParser(
        target=builder, forbid_dtd=True, forbid_entities=True, forbid_external=True
    )
    builder.expat = getattr(parser, "parser", None)
    try:
        parser.feed(raw)
        root: ET.Element = parser.close()
    except DefusedXmlException:
        raise InputError(
            "contains a DTD or entity declaration, which reconciler refuses for safety; "
            "remove the <!DOCTYPE ...> block",
            path=path,
        ) from None
    except ET.ParseError as exc:
        line, column = getattr(exc, "position", (None, None))
        reason = str(exc).split(":")[0]
        raise InputError(
            f"is not well-formed XML ({reason} at line {line}, column {column}); fix the "
            "file or export the results again",
            path=path,
            line=line,
        ) from None
    except (ValueError, LookupError) as exc:  # e.g. an unknown encoding= declaration
        raise InputError(
            f"could not be parsed as XML ({_exc_text(exc)}); save it as UTF-8 XML or "
            f"{_FIX_EXPORT_CSV}",
            path=path,
        ) from None

    container, tag = _find_record_container(root)
    records = [child for child in container if child.tag == tag] if tag is not None else []
    _check_record_count(path, len(records), max_records)
    fields: dict[str, None] = {}
    rows: list[dict[str, str]] = []
    for index, record in enumerate(records):
        try:
            row = _xml_row(record)
        except _TwiceInRecord as twice:
            raise InputError(
                f"the record here gives {twice.name} twice (as an attribute and an element, "
                "or as two elements): joined, they would make a value that never existed; "
                "keep one",
                path=path,
                line=builder.lines.get(id(record), index + 1),
            ) from None
        fields.update(dict.fromkeys(row))
        if len(fields) > MAX_COLUMNS:
            _check_column_count(path, len(fields))
        rows.append(row)
    header = list(fields)
    lines = [builder.lines.get(id(record), index + 1) for index, record in enumerate(records)]
    return Table(
        path=path,
        format="xml",
        header=tuple(header),
        frame=_text_frame(
            _unique_labels(header),
            [[row.get(name, "") for row in rows] for name in header],
            len(rows),
        ),
        lines=np.asarray(lines, dtype=np.int64),
        header_line=0,
        encoding=_xml_encoding(raw),
        meta=_xml_meta(root, container, tag),
        container=_local(tag) if tag is not None else "",
    )


def _xml_row(record: ET.Element) -> dict[str, str]:
    """One record's fields: attributes, leaf children, and nested lists of items flattened
    to indexed fields (``<Items><Item><Sku>A</Sku></Item>...`` gives ``Sku1``, ``Sku2``...),
    as the CSV templates index them."""
    row: dict[str, str] = {}
    for name, value in record.attrib.items():
        _put(row, _local(name), value)
    repeated = Counter(child.tag for child in record if len(child))
    index = 0
    for child in record:
        items = _item_list(child, repeated[child.tag] > 1)
        if items is None:
            _put(row, _local(child.tag), _xml_value(child))
            continue
        for item in items:
            index += 1
            for name, value in item.attrib.items():
                _put(row, f"{_local(name)}{index}", value)
            for leaf in item:
                _put(row, f"{_local(leaf.tag)}{index}", _xml_value(leaf))
    return row


def _is_item_tag(tag: str) -> bool:
    return _local(tag).lower().replace("_", "").startswith(("item", "lineitem", "orderitem"))


def _item_list(element: ET.Element, repeated: bool) -> list[ET.Element] | None:
    """The items of a record's child: a wrapper (``<Items>``) whose children all hold fields
    of their own, or an item itself (``<Item><Sku>..``, or any such element repeated in the
    record); None for a plain field."""
    if len(element) == 0:
        return None
    if all(len(child) > 0 for child in element):
        return list(element)
    if (repeated or _is_item_tag(element.tag)) and all(len(child) == 0 for child in element):
        return [element]
    return None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1] if tag.startswith("{") else tag


class _TwiceInRecord(Exception):
    """A record gives one field twice (an attribute and an element, or two elements)."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def _put(row: dict[str, str], name: str, value: str) -> None:
    # Joining two values would make an ID that never existed: the record is refused.
    if name in row:
        raise _TwiceInRecord(name)
    row[name] = value


def _blank_xml(text: str | None) -> str:
    return "" if text is None or not text.strip(" \t\r\n") else text


def _xml_value(element: ET.Element) -> str:
    if len(element) == 0:
        return _blank_xml(element.text)
    leaves = (_blank_xml(e.text) for e in element.iter() if len(e) == 0)
    return "; ".join(text for text in leaves if text)


def _record_like(element: ET.Element) -> bool:
    if len(element) == 0:
        return bool(element.attrib)
    return any(len(child) == 0 for child in element)


def _find_record_container(root: ET.Element) -> tuple[ET.Element, str | None]:
    """The element whose record-like children of one tag are most numerous.

    Record-like: has a leaf child (``<Action><Id>..``) or only attributes
    (``<Action Id=".."/>``). Ties go to the parent holding only that tag (``<Errors>`` over a
    ``<Response>`` that also holds ``<Meta>``), then to the first in document order.
    """
    best: tuple[int, float] | None = None
    found: tuple[ET.Element, str | None] = (root, None)
    candidates: list[tuple[ET.Element, str, int]] = []
    for element in root.iter():
        if len(element) == 0:
            continue
        counts = Counter(child.tag for child in element if _record_like(child))
        candidates.extend((element, tag, count) for tag, count in counts.items())
    # A container inside another candidate's record holds that record's items (an
    # ``<ItemConversionRequest>``'s ``<Items>``): the outer records are the records.
    inside: set[int] = set()
    for element, tag, count in candidates:
        if count < 2 and not any(_is_item_tag(e.tag) for e in element.iter() if e is not element):
            continue  # one wrapper record (a batch holding its actions) is not a record list
        for child in element:
            if child.tag == tag and _record_like(child):
                inside.update(id(e) for e in child.iter() if e is not child)
    for element, tag, count in candidates:
        if id(element) in inside:
            continue
        score = (count, count / len(element))
        if best is None or score > best:
            best, found = score, (element, tag)
    return found


def _xml_meta(root: ET.Element, container: ET.Element, tag: str | None) -> dict[str, str]:
    """Attributes and leaf children around the records (paging fields and the like)."""
    path = _path_to(root, container)
    meta: dict[str, str] = {}
    for element in path:
        for name, value in element.attrib.items():
            meta.setdefault(_local(name), value)
        for child in element:
            if len(child) == 0 and child.tag != tag and child not in path:
                meta.setdefault(_local(child.tag), _blank_xml(child.text))
    return meta


def _path_to(root: ET.Element, target: ET.Element) -> list[ET.Element]:
    if target is root:
        return [root]
    parents = {id(child): parent for parent in root.iter() for child in parent}
    path = [target]
    while path[-1] is not root:
        path.append(parents[id(path[-1])])
    return path[::-1]


def _xml_encoding(raw: bytes) -> str:
    if raw.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    utf16 = _utf16_encoding(raw)
    if utf16 is not None:
        return utf16[0]
    declared = re.match(rb"""\s*<\?xml[^>]*encoding\s*=\s*["']([A-Za-z0-9._-]+)""", raw[:200])
    return declared.group(1).decode("ascii").lower() if declared else "utf-8"


# --------------------------------------------------------------------------- JSON


class _NotJson(Exception):
    """Content looked like JSON but is not; the caller may try another format."""


class _JsonNumber(str):
    """A JSON number kept as its literal text (no float rounding, no int digit limit)."""

    __slots__ = ()


def _read_json(path: Path, raw: bytes, max_records: int, forced: str | None = None) -> Table:
    encoding, text = _decode_text(path, raw, forced)
    try:
        document = json.loads(
            text,
            parse_float=_JsonNumber,
            parse_int=_JsonNumber,
            parse_constant=_JsonNumber,
        )
    except json.JSONDecodeError as exc:
        if path.suffix.lower() in _TEXT_SUFFIXES:
            raise _NotJson from None
        raise InputError(
            f"is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}); fix the "
            "file or export the results again",
            path=path,
            line=exc.lineno,
        ) from None
    found = _find_json_records(document, 0)
    if found is None:
        found = _single_object(document, 0)
    if found is None:
        if path.suffix.lower() in _TEXT_SUFFIXES:
            raise _NotJson
        raise InputError(
            'is JSON but holds no list of records (expected e.g. {"ErrorDetail": [...]}); '
            "export the results list, not a summary",
            path=path,
        )
    records, meta, container = found
    _check_record_count(path, len(records), max_records)
    fields: dict[str, None] = {}
    for record in records:
        fields.update(dict.fromkeys(record))
        if len(fields) > MAX_COLUMNS:
            _check_column_count(path, len(fields))
    header = list(fields)
    columns = [[_json_text(record.get(key)) for record in records] for key in header]
    return Table(
        path=path,
        format="json",
        header=tuple(header),
        frame=_text_frame(_unique_labels(header), columns, len(records)),
        lines=np.arange(1, len(records) + 1, dtype=np.int64),
        header_line=0,
        encoding=encoding,
        meta=meta,
        container=container,
    )


def _is_records(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(item, dict) for item in value)


def _is_page(value: object) -> bool:
    return isinstance(value, dict) and any(
        key.startswith("@") or key.casefold() in _JSON_PAGING_KEYS for key in value
    )


_Found = tuple[list[dict[str, Any]], dict[str, str], str]


def _find_json_records(document: object, depth: int) -> _Found | None:
    """Records (a list of objects), the scalar fields around them and the key that held them
    ("" for a bare list), or None."""
    if isinstance(document, list):
        if not _is_records(document):
            return None
        if depth == 0 and document and all(_is_page(page) for page in document):
            pages = [_find_json_records(page, depth + 1) for page in document]
            found = [page for page in pages if page is not None]
            if len(found) == len(pages):  # a list of pages: concatenate their records
                meta = dict(found[0][1])
                # Every page's number, so that completeness can tell which pages are here.
                numbers = [page[1].get("@page", "") for page in found]
                if all(numbers):
                    meta["@page"] = ",".join(numbers)
                return [record for page in found for record in page[0]], meta, found[0][2]
        return document, {}, ""
    if not isinstance(document, dict) or depth > 3:
        return None
    meta = {
        key: _json_text(value)
        for key, value in document.items()
        if not isinstance(value, dict | list)
    }
    folded = {key.casefold(): key for key in document}
    for known in _JSON_RECORD_KEYS:
        key = folded.get(known.casefold())
        if key is not None and _is_records(document[key]):
            return document[key], meta, key
    lists = [(key, value) for key, value in document.items() if _is_records(value) and value]
    if lists:
        key, value = max(lists, key=lambda kv: len(kv[1]))
        return value, meta, key
    for value in document.values():
        if isinstance(value, dict):
            inner = _find_json_records(value, depth + 1)
            if inner is not None:
                return inner[0], {**meta, **inner[1]}, inner[2]
    return None


def _single_object(document: object, depth: int) -> _Found | None:
    """A JSON object that is one record itself (an ``FtpSubmission`` or an ``APISubmission``
    fetched by its BatchId), perhaps inside a one-key wrapper; None when it holds no field."""
    if not isinstance(document, dict) or depth > 3:
        return None
    if {key.casefold() for key in document} & _RECORD_KEYS_FOLDED:
        return None  # {"ErrorDetail": "x"}: a list of records was meant, and is not there
    if any(not isinstance(value, dict | list) for value in document.values()):
        return [document], {}, "@object"
    if len(document) == 1:
        return _single_object(next(iter(document.values())), depth + 1)
    return None


def _json_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, _JsonNumber):
        return _json_number(value)
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return "".join(_json_compact(value))
    return str(value)  # pragma: no cover - json.loads produces nothing else


def _json_number(literal: str) -> str:
    """Integral numbers lose a ``.0``/exponent (``16027.0`` -> ``16027``); others stay."""
    if not any(c in literal for c in ".eE"):
        return literal
    try:
        number = float(literal)
    except ValueError:  # pragma: no cover - json only hands over valid literals
        return literal
    if number.is_integer() and abs(number) < 1e15:
        return str(int(number))
    return literal


def _json_compact(value: object) -> Iterator[str]:
    """Compact JSON like ``json.dumps(separators=(",", ":"))`` with numbers as written."""
    if isinstance(value, _JsonNumber):
        yield str.__str__(value)
    elif isinstance(value, dict):
        yield "{"
        for index, (key, item) in enumerate(value.items()):
            yield ("," if index else "") + json.dumps(key, ensure_ascii=False) + ":"
            yield from _json_compact(item)
        yield "}"
    elif isinstance(value, list):
        yield "["
        for index, item in enumerate(value):
            if index:
                yield ","
            yield from _json_compact(item)
        yield "]"
    else:
        yield json.dumps(value, ensure_ascii=False)
