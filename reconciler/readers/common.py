"""Opening and sniffing an input file, and the helpers the formats share (labels, frames,
record and column counts, a header repeated mid-file)."""

from __future__ import annotations

import functools
import re
import stat
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from reconciler.errors import InputError
from reconciler.model import IntArray
from reconciler.readers import limits, prefetch
from reconciler.readers.encodings import _SNIFF_BYTES, _SURROGATES, _utf16_encoding
from reconciler.templates import (
    ACTIONS_FIELDS,
    ITEM_INDEX_RE,
    ITEM_PREFIXES,
    RESULT_FIELDS,
    SENT_FIELDS,
    field_keys,
    header_key,
    key_field,
)

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


_FIX_EXPORT_CSV: Final = "export it as CSV (UTF-8) or XLSX and try again"


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


def _refuse_repeated_header(
    path: Path, header: Sequence[str], records: pd.DataFrame, lines: IntArray
) -> None:
    """A record that repeats the header row: two exports joined into one file. Reading it as a
    record would report a header as an accepted record (or a result with the code
    ``MESSAGE``). The repeat is found as headers are matched (``header_key``, ``key_field``):
    in any case or spacing, reordered, any spelling of a field (``ActionID``, ``OID``,
    ``Order Id`` for ``Oid``), with a BOM, a zero-width or no-break space in front, fullwidth
    or look-alike letters."""
    _refuse_own_header(path, header, records, lines)
    _refuse_other_header(path, records, lines)


def _refuse_own_header(
    path: Path, header: Sequence[str], records: pd.DataFrame, lines: IntArray
) -> None:
    """A record that repeats this file's header (more than half of its cells, any spelling)."""
    named = [i for i, label in enumerate(header) if label]
    fields = {key_field(header_key(header[i])) for i in named} - {""}
    if len(named) < 2 or len(fields) < 2 or not len(records):
        return
    keys = field_keys(fields)
    like = _header_like(keys)
    # Vectorised: the rows whose first named cell could be a header cell (few in any real
    # file), then how many of their named cells could be; cells are keyed one by one only on
    # the rows where most could. A first look at each cell's first byte leaves out the ones
    # that cannot be (most IDs start with a digit), before any regular expression.
    first = records.iloc[:, named[0]]
    maybe = np.flatnonzero(_may_start(first, _own_starts(keys)))
    rows = maybe[like(first.iloc[maybe])] if len(maybe) else maybe
    if not len(rows):
        return
    hits = np.zeros(len(rows), dtype=np.int64)
    for i in named:
        hits += like(records.iloc[rows, i])
    need = len(named) // 2 + 1
    for row in rows[hits >= need]:
        cells = [key_field(header_key(str(records.iat[int(row), i]))) for i in named]
        found = [cell for cell in cells if cell in fields]
        if len(found) >= need and len(set(found)) >= 2:
            raise InputError(
                "repeats the header row here: two exports joined into one file? Remove the "
                "second header (and its byte-order mark) or split the file",
                path=path,
                line=int(lines[int(row)]),
            )


# Header names that are also everyday words a cell may hold as data (a status "Error", a
# message "Amount"): a row of them alone is not taken for a header.
_WORDS: Final = frozenset(
    {
        "amount",
        "category",
        "code",
        "currency",
        "error",
        "errors",
        "id",
        "line",
        "message",
        "outcome",
        "payload",
        "reason",
        "records",
        "result",
        "revenue",
        "row",
        "state",
        "status",
    }
)
_DELIMITERS: Final = ",;\t|"


@functools.cache
def _vocabulary() -> dict[str, str]:
    """Every header key of every impact.com template, results shape and Actions export, with
    the field it names (an item column's field without its index)."""
    names = [alias for spec in SENT_FIELDS for alias in spec.aliases]
    names += [alias for aliases in RESULT_FIELDS.values() for alias in aliases]
    names += [alias for aliases in ACTIONS_FIELDS.values() for alias in aliases]
    keys = {header_key(name) for name in names} | set(ITEM_PREFIXES)
    return {key: _base_field(key) for key in keys}


def _base_field(key: str) -> str:
    found = key_field(key)
    item = ITEM_INDEX_RE.match(found) if found == key else None
    if item and item.group("prefix") in ITEM_PREFIXES:
        return ITEM_PREFIXES[item.group("prefix")]
    return found.rstrip("0123456789") if found != key else found


def _known_name(cell: str) -> tuple[str, str] | None:
    """(key, field) when ``cell`` is a column name of some template, results shape or
    Actions export (an item column with any index), else None."""
    key = header_key(cell.strip().strip('"').strip())
    vocabulary = _vocabulary()
    if key in vocabulary:
        return key, vocabulary[key]
    item = ITEM_INDEX_RE.match(key)
    if item and item.group("prefix") in ITEM_PREFIXES:
        return key, ITEM_PREFIXES[item.group("prefix")]
    return None


def _header_cells(cells: Sequence[str]) -> bool:
    """Cells that make a header row: more than half of the non-empty ones are column names,
    of at least two fields, one of them more than an everyday word."""
    filled = [cell for cell in cells if cell.strip()]
    known = [found for found in map(_known_name, filled) if found is not None]
    return (
        len(known) >= 2
        and 2 * len(known) > len(filled)
        and len({field for _key, field in known}) >= 2
        and any(key not in _WORDS for key, _field in known)
    )


def _refuse_other_header(path: Path, records: pd.DataFrame, lines: IntArray) -> None:
    """A row that is the header of another export (another template, a results shape, an
    Actions export), or a header written with another delimiter, which arrives as one cell
    (``ActionId,Amount,Reason`` in a ``;`` file): two exports joined into one file. Read as a
    record, it would be reported as an accepted record.

    Vectorised: only the rows whose first or second cell could be a column name (or whose
    first cell starts with one and a delimiter) are looked at further, few in any real file;
    their cells are classified column by column, and only rows that still look like a
    header are taken one by one."""
    if not len(records) or not records.shape[1]:
        return
    first = records.iloc[:, 0].astype("str")
    candidates = _known_cells(first, tail=True)
    if records.shape[1] > 1:
        candidates |= _known_cells(records.iloc[:, 1], tail=False)
    rows = np.flatnonzero(candidates)
    if not len(rows):
        return
    subset = records.iloc[rows]
    filled = np.zeros(len(rows), dtype=np.int64)
    known = np.zeros(len(rows), dtype=np.int64)
    for j in range(subset.shape[1]):
        cells = subset.iloc[:, j].astype("str")
        full = cells.str.strip().str.len().fillna(0).to_numpy(dtype=np.int64) > 0
        filled += full
        known += full & _known_cells(cells)
    one_cell = (filled == 1) & first.iloc[rows].str.contains(f"[{_DELIMITERS}]", regex=True).fillna(
        False
    ).to_numpy(dtype=bool)
    header_like = (known >= 2) & (2 * known > filled)
    for k in np.flatnonzero(header_like | one_cell):
        row = int(rows[k])
        values = [str(value) for value in records.iloc[row].tolist()]
        split = ""
        if one_cell[k]:
            text = next(value for value in values if value.strip())
            split = max(_DELIMITERS, key=text.count)
            values = text.split(split)
        if not _header_cells(values):
            continue
        shown = ", ".join(repr(value.strip()) for value in values if value.strip())
        if split:
            what = (
                f"holds a header row written with {split!r} here ({shown}): two exports "
                "with different delimiters joined into one file? Remove that header or split "
                "the file"
            )
        else:
            what = (
                f"holds the header row of another export here ({shown}): two exports joined "
                "into one file? Remove that header or split the file"
            )
        raise InputError(what, path=path, line=int(lines[row]))


def _known_cells(cells: pd.Series, *, tail: bool = False) -> npt.NDArray[np.bool_]:
    """Which cells are a column name (``_known_name``; ``tail``: or start with one and a
    delimiter). Only cells whose first byte a name may start with are looked at further
    (``_may_start``: an ID or an amount starts with a digit)."""
    maybe = np.flatnonzero(_may_start(cells, _NAME_STARTS))
    if len(maybe) == len(cells):
        return _known_cells_exact(cells, tail=tail)
    out = np.zeros(len(cells), dtype=bool)
    if len(maybe):
        out[maybe] = _known_cells_exact(cells.iloc[maybe], tail=tail)
    return out


def _known_cells_exact(cells: pd.Series, *, tail: bool = False) -> npt.NDArray[np.bool_]:
    """``_known_cells`` on every cell: Arrow's regular expressions, first a small one that
    only a name's shape passes (most data fails it), then the whole vocabulary on the cells
    that passed; non-ASCII cells are keyed once per distinct value."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not len(cells):
        return np.zeros(0, dtype=bool)
    text = pa.array(cells.astype("str").array)
    if isinstance(text, pa.ChunkedArray):
        text = text.combine_chunks()
    text = pc.fill_null(text, "")
    plain = pc.string_is_ascii(text).to_numpy(zero_copy_only=False)
    shaped = pc.match_substring_regex(text, _name_pattern(tail, _SHAPE))
    out = np.zeros(len(cells), dtype=bool)
    some = pc.indices_nonzero(shaped)
    if len(some):
        exact = pc.match_substring_regex(
            text.take(some), _name_pattern(tail, _vocabulary_regex()), ignore_case=True
        )
        out[some.to_numpy()] = exact.to_numpy(zero_copy_only=False)
    others = np.flatnonzero(~plain)
    if len(others):
        values = cells.iloc[others].astype("str")
        heads = values.str.split(f"[{_DELIMITERS}]", n=1, regex=True).str[0] if tail else values
        names = {value: _known_name(value) is not None for value in heads.unique()}
        out[others] = heads.map(names).to_numpy(dtype=bool)
    return out


_SEP: Final = r"[ \t\r\n\x0b\x0c\x1c-\x1f_./-]*"
_SEP_BYTES: Final = b" \t\r\n\x0b\x0c\x1c\x1d\x1e\x1f_./-"
_LETTERS: Final = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _starts(allowed: bytes) -> npt.NDArray[np.bool_]:
    """A table of the 256 first bytes: ``allowed`` and every non-ASCII byte."""
    table = np.zeros(256, dtype=bool)
    table[np.frombuffer(allowed, dtype=np.uint8)] = True
    table[0x80:] = True
    return table


# The first bytes of an ASCII cell that may match ``_name_pattern``: separators, a quote, a
# letter (``_SHAPE`` starts with one).
_NAME_STARTS: Final = _starts(_SEP_BYTES + b'"' + _LETTERS)


def _own_starts(keys: set[str]) -> npt.NDArray[np.bool_] | None:
    """The first bytes of an ASCII cell ``_header_like(keys)`` may pass: its separators and
    the first letters of the keys in either case (None: any byte, for an empty key)."""
    ascii_keys = [k for k in keys if k.isascii()]
    if any(not k for k in ascii_keys):
        return None
    heads = "".join(k[0].lower() + k[0].upper() for k in ascii_keys)
    return _starts(b" \t\r\n\x0b\x0c_./-" + heads.encode("ascii"))


def _first_bytes(cells: pd.Series) -> tuple[npt.NDArray[np.int16], Any] | None:
    """Per cell of an Arrow-held text column: its first byte, -1 when it is empty, 256 when it
    is missing; and the column as Arrow holds it. NumPy over Arrow's offsets and data buffers,
    no Python per cell. None for a column not held by Arrow as strings."""
    import pyarrow as pa

    array = cells.array
    if not hasattr(array, "__arrow_array__"):
        return None
    got = array.__arrow_array__()
    chunks = got.chunks if isinstance(got, pa.ChunkedArray) else [got]
    parts: list[npt.NDArray[np.int16]] = []
    for chunk in chunks:
        if pa.types.is_string(chunk.type):
            width: type[np.signedinteger[Any]] = np.int32
        elif pa.types.is_large_string(chunk.type):
            width = np.int64
        else:
            return None
        size = len(chunk)
        _validity, offsets_buf, data_buf = chunk.buffers()
        offsets = np.frombuffer(offsets_buf, dtype=width)[chunk.offset : chunk.offset + size + 1]
        first = np.full(size, -1, dtype=np.int16)
        filled = offsets[1:] > offsets[:-1]
        data = np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else None
        if data is not None and len(data) and filled.any():
            # An empty cell's offset may be the end of the data: read a byte that exists.
            head = data[np.minimum(offsets[:-1], len(data) - 1)]
            first = np.where(filled, head.astype(np.int16), first)
        if chunk.null_count:
            first[~np.asarray(chunk.is_valid().to_numpy(zero_copy_only=False), dtype=bool)] = 256
        parts.append(first)
    if len(parts) != 1 or len(parts[0]) != len(cells):
        parts = [np.concatenate(parts) if parts else np.zeros(0, dtype=np.int16)]
    return parts[0], got


def _may_start(cells: pd.Series, starts: npt.NDArray[np.bool_] | None) -> npt.NDArray[np.bool_]:
    """Which cells may match a pattern that an ASCII cell only matches when its first byte is
    one of ``starts`` (and never when it is empty): False for an ASCII cell that is empty or
    starts otherwise, True for every other cell. Exact, and cheap (``_first_bytes``; True
    throughout when the column is not held by Arrow)."""
    import pyarrow.compute as pc

    n = len(cells)
    found = _first_bytes(cells) if starts is not None and n else None
    if found is None or starts is None:
        return np.ones(n, dtype=bool)
    first, column = found
    # Indexed by first byte + 1: an empty cell never matches, a missing one is left to the
    # exact test.
    table = np.concatenate(([False], starts, [True]))
    may = table[first + 1]
    if not may.all():
        # A cell starting with a plain byte may hold a non-ASCII character further on.
        plain = pc.fill_null(pc.string_is_ascii(column), False)
        may |= ~np.asarray(plain.to_numpy(zero_copy_only=False), dtype=bool)
    return may


# The shape of any column name: letters (with separators and "#"), perhaps an item index.
_SHAPE: Final = r"[A-Za-z][A-Za-z#\t\r\n\x0b\x0c\x1c-\x1f _./-]*[A-Za-z#]" + _SEP + "[0-9]*"


def _name_pattern(tail: bool, name: str) -> str:
    quoted = f'{_SEP}"?{_SEP}(?:{name}){_SEP}"?{_SEP}'
    return f"(?s)^{quoted}(?:[{_DELIMITERS}].*)?$" if tail else f"^{quoted}$"


@functools.cache
def _vocabulary_regex() -> str:
    keys = sorted(k for k in _vocabulary() if k.isascii())
    spelled = "|".join(_SEP.join(re.escape(c) for c in k) for k in keys)
    items = "|".join(_SEP.join(re.escape(c) for c in k) for k in ITEM_PREFIXES)
    return f"{spelled}|(?:{items}){_SEP}[0-9]+"


def _header_like(keys: set[str]) -> Callable[[pd.Series], npt.NDArray[np.bool_]]:
    """A vectorised test of which cells could be one of the header cells keyed ``keys``: an
    ASCII cell whose key is one of them (``header_key`` of ASCII text is case, whitespace,
    ``_-./`` folding, which a regular expression does at C speed), or any non-ASCII cell (the
    caller keys those one by one)."""
    sep = r"[ \t\r\n\x0b\x0c_./-]*"
    ascii_keys = sorted(k for k in keys if k.isascii())
    pattern = (
        sep + "(?:" + "|".join(sep.join(re.escape(c) for c in k) for k in ascii_keys) + ")" + sep
        if ascii_keys
        else None
    )

    def like(cells: pd.Series) -> npt.NDArray[np.bool_]:
        text = cells.astype("str")
        out = ~text.str.isascii().fillna(True).to_numpy(dtype=bool)
        if pattern is not None:
            out |= text.str.fullmatch(pattern, case=False).fillna(False).to_numpy(dtype=bool)
        return out

    return like


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


def _check_column_count(path: Path, count: int) -> None:
    if count > limits.MAX_COLUMNS:
        raise InputError(
            f"has {count:,} distinct fields, more than the limit of {limits.MAX_COLUMNS:,} columns; "
            f"{_FIX_EXPORT_CSV}",
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


def _exc_text(exc: BaseException) -> str:
    text = str(exc).splitlines()[0].strip() if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}"[:200] if text else type(exc).__name__
