"""Cells that hold no value to send, and identifiers with characters no impact.com ID has.

Owns two judgements, each made once for the checks (``preflight``) and the resubmission
(``remediate``), over whole columns with Arrow kernels:

- "this identifier cell holds no identifier" (``id_cell_kinds``): empty once whitespace and
  invisible characters are taken away, a spreadsheet's error value (``#N/A``), or a whole-value
  placeholder (``NULL``, ``N/A``, ``-``). Only whole values count: ``NA123`` is an identifier.
- "the file does not give this cell's value" (``cells_without_value``): a workbook's formula
  never calculated, its error value or a cell merged into another (the reader notes them), and
  a spreadsheet's error value written as text into any cell of any file.

It never changes a value: what it finds goes to a person.
"""

from __future__ import annotations

import json
from enum import IntEnum
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from reconciler.model import Table, text_column

BoolArray = npt.NDArray[np.bool_]
KindArray = npt.NDArray[np.int8]


class IdCell(IntEnum):
    """What an identifier cell holds."""

    HELD = 0  # an identifier (right or wrong: other checks judge it)
    EMPTY = 1  # nothing, or whitespace only
    INVISIBLE = 2  # only invisible characters (zero-width space, BOM, Hangul filler, ...)
    ERROR = 3  # a spreadsheet's error value (#N/A, #REF!, ...)
    PLACEHOLDER = 4  # a stand-in for "no value" (NULL, N/A, nan, -, ?)


# Invisible characters: format characters (zero-width space and joiners, BOM, bidi marks,
# word joiner, tags), separators, and the fillers and joiners that render as nothing.
_INVISIBLE: Final = (
    r"[\p{Cf}\p{Z}\s\x{034F}\x{115F}\x{1160}\x{17B4}\x{17B5}\x{180E}\x{2800}\x{3164}"
    r"\x{FE00}-\x{FE0F}\x{FFA0}]"
)
ERROR_VALUES: Final = frozenset(
    {
        "#N/A",
        "#REF!",
        "#VALUE!",
        "#DIV/0!",
        "#NAME?",
        "#NULL!",
        "#NUM!",
        "#SPILL!",
        "#CALC!",
        "#GETTING_DATA",
        "#FIELD!",
        "#BLOCKED!",
        "#CONNECT!",
        "#BUSY!",
        "#UNKNOWN!",
        "#EXTERNAL!",
        "#PYTHON!",
        "#ERROR!",
    }
)
"""Excel's, Google Sheets' and LibreOffice's error values, as a spreadsheet writes them into a
CSV it saves (compared without case); LibreOffice's ``Err:502`` form too (``_ERROR_FORM``)."""
_ERROR_FORM: Final = r"^Err:[0-9]{3}$"
PLACEHOLDERS: Final = frozenset(
    {"NULL", "(NULL)", "NONE", "NIL", "NAN", "NAT", "<NA>", "N/A", "NA", "UNDEFINED", "(BLANK)"}
)
"""Whole values that stand for "no value" (compared without case)."""
_PLACEHOLDER_FORM: Final = r"^[-\x{2010}-\x{2015}_?.*/\\]+$"
"""Dashes, question marks, dots or stars only: ``-``, ``--``, ``?``, ``...``."""


def _array(values: pd.Series) -> pa.Array:
    from reconciler.normalize import arrow_strings

    got = arrow_strings(values if values.dtype == "str" else values.astype("str"))
    if isinstance(got, pa.ChunkedArray):
        return got.chunk(0) if got.num_chunks == 1 else got.combine_chunks()
    return got


def _np(mask: pa.Array | pa.ChunkedArray) -> BoolArray:
    return np.asarray(mask.to_numpy(zero_copy_only=False), dtype=bool)


def _visible(arr: pa.Array) -> pa.Array:
    """The values without whitespace at their ends and without invisible characters: ASCII
    values are only trimmed (the regex runs over the others only)."""
    trimmed = pc.utf8_trim_whitespace(arr)
    other = ~_np(pc.string_is_ascii(arr))
    if not other.any():
        return trimmed
    out = np.asarray(trimmed.to_numpy(zero_copy_only=False), dtype=object)
    subset = pc.filter(arr, pa.array(other))
    out[other] = np.asarray(
        pc.replace_substring_regex(subset, _INVISIBLE, "").to_numpy(zero_copy_only=False),
        dtype=object,
    )
    return pa.array(out, type=pa.large_string())


# The bytes a value that is no identifier can start with: whitespace, an error's "#" or
# "Err:", a placeholder's first letter or sign, or (invisible characters) a non-ASCII byte.
_FIRST_BYTES: Final = np.zeros(256, dtype=bool)
_FIRST_BYTES[[ord(c) for c in " \t\r\n\x0b\x0c#ENnUu(<-_?.*/\\"]] = True
_FIRST_BYTES[0x80:] = True


def _maybe_no_id(arr: pa.Array) -> tuple[BoolArray, BoolArray]:
    """Which values are empty, and which others may hold no identifier: those whose first
    byte is in ``_FIRST_BYTES`` (one pass over the offsets; most IDs are ruled out at once)."""
    n = len(arr)
    if arr.null_count or not n:
        return np.zeros(n, dtype=bool), np.ones(n, dtype=bool)
    _validity, offsets_buf, data_buf = arr.buffers()[:3]
    wide = pa.types.is_large_string(arr.type)
    offsets = np.frombuffer(offsets_buf, dtype=np.int64 if wide else np.int32)
    offsets = offsets[arr.offset : arr.offset + n + 1]
    empty = offsets[1:] == offsets[:-1]
    if data_buf is None or empty.all():
        return empty, np.zeros(n, dtype=bool)
    data = np.frombuffer(data_buf, dtype=np.uint8)
    first = data[np.minimum(offsets[:-1], len(data) - 1)]
    return empty, np.asarray(~empty & _FIRST_BYTES[first], dtype=bool)


def id_cell_kinds(values: pd.Series) -> KindArray:
    """Per cell of an identifier column, what it holds (``IdCell``), vectorised: the values
    that may hold no identifier (``_maybe_no_id``) are looked at, the others are IDs."""
    n = len(values)
    kinds = np.zeros(n, dtype=np.int8)
    if not n:
        return kinds
    whole = _array(values)
    if whole.null_count:
        whole = whole.fill_null("")
    empty, others = _maybe_no_id(whole)
    kinds[empty] = IdCell.EMPTY
    maybe = np.flatnonzero(others)
    if not len(maybe):
        return kinds
    sub_kinds = _kinds(pc.take(whole, pa.array(maybe)) if len(maybe) < n else whole)
    kinds[maybe] = sub_kinds
    return kinds


def _kinds(arr: pa.Array) -> KindArray:
    """``id_cell_kinds`` of the values of ``arr``."""
    kinds = np.zeros(len(arr), dtype=np.int8)
    visible = _visible(arr)
    gone = _np(pc.equal(visible, ""))
    empty = _np(pc.equal(pc.utf8_trim_whitespace(arr), ""))
    kinds[gone & empty] = IdCell.EMPTY
    kinds[gone & ~empty] = IdCell.INVISIBLE
    # Error values and placeholders are short and are not plain digits: only those values
    # are looked at (a column of plain IDs costs two cheap passes).
    short = ~gone & _np(pc.less_equal(pc.utf8_length(visible), 14))
    short &= ~_np(pc.ascii_is_decimal(visible))
    if short.any():
        where = np.flatnonzero(short)
        sub = pc.take(visible, pa.array(where))
        upper = pc.utf8_upper(sub)
        error = _np(pc.is_in(upper, value_set=pa.array(sorted(ERROR_VALUES)))) | _np(
            pc.match_substring_regex(sub, _ERROR_FORM)
        )
        placeholder = ~error & (
            _np(pc.is_in(upper, value_set=pa.array(sorted(PLACEHOLDERS))))
            | _np(pc.match_substring_regex(sub, _PLACEHOLDER_FORM))
        )
        kinds[where[error]] = IdCell.ERROR
        kinds[where[placeholder]] = IdCell.PLACEHOLDER
    return kinds


def holds_id(values: pd.Series) -> BoolArray:
    """Which cells of an identifier column hold an identifier (``IdCell.HELD``)."""
    return np.asarray(id_cell_kinds(values) == IdCell.HELD, dtype=bool)


def kind_text(kind: int, raw: str) -> str:
    """What a cell of ``kind`` holds, in words (for advice)."""
    if kind == IdCell.INVISIBLE:
        names = ", ".join(sorted({_char_name(c) for c in raw if not c.isspace()})) or "spaces"
        return f"holds only invisible characters ({names})"
    if kind == IdCell.ERROR:
        return f"holds {raw.strip()!r}, a spreadsheet's error value, not a value"
    if kind == IdCell.PLACEHOLDER:
        return f"holds {raw.strip()!r}, a placeholder for no value, not an identifier"
    if kind == IdCell.EMPTY:
        return "is empty"
    return ""


def _char_name(char: str) -> str:
    import unicodedata

    name = unicodedata.name(char, "")
    if not name:
        name = "a control character" if unicodedata.category(char) == "Cc" else "unnamed"
    return f"U+{ord(char):04X} {name}"


# ---------------------------------------------------------------- characters IDs never hold

_DIGIT_ID_FIELDS: Final = frozenset({"action_id", "action_tracker_id", "campaign_id"})
# In an Oid (free text: ``ORD-Ü1`` is fine) only characters that stand for ASCII ones or show
# nothing: digits of other scripts, fullwidth forms, superscripts, invisible characters.
_LOOK_ALIKE: Final = (
    r"[\p{N}\x{FF01}-\x{FF5E}\p{Cf}\x{034F}\x{115F}\x{1160}\x{3164}\x{FFA0}\x{FE00}-\x{FE0F}]"
)


def odd_id_characters(values: pd.Series, field: str) -> BoolArray:
    """Which identifiers hold characters impact.com's IDs of ``field`` never hold. ActionId,
    ActionTrackerId and CampaignId are ASCII (digits, dots, a mobile ``M``): any other character
    is wrong. An Oid may hold any text, but not digits of another script (``١٢``), fullwidth
    forms (``１２``), superscripts or invisible characters: they look like, or hide beside, the
    ID's own characters. Empty and placeholder cells are judged by ``id_cell_kinds``."""
    n = len(values)
    out = np.zeros(n, dtype=bool)
    if not n:
        return out
    # Whitespace at the ends (a no-break space too) is said by the whitespace checks and
    # trimmed by the fix rules: what is judged here is the ID itself.
    arr = pc.utf8_trim_whitespace(_array(values))
    other = ~_np(pc.string_is_ascii(arr))
    if not other.any():
        return out
    other &= id_cell_kinds(values) == IdCell.HELD
    if field in _DIGIT_ID_FIELDS or not other.any():
        return other
    subset = pc.replace_substring_regex(pc.filter(arr, pa.array(other)), "[0-9]", "")
    out[other] = _np(pc.match_substring_regex(subset, _LOOK_ALIKE))
    return out


def odd_id_text(raw: str, label: str) -> str:
    """Why the identifier ``raw`` of column ``label`` cannot be sent (``odd_id_characters``)."""
    import unicodedata

    def odd_char(c: str) -> bool:  # letters of other scripts (Ü) are an Oid's own
        return not c.isascii() and (
            unicodedata.normalize("NFKC", c) != c or not unicodedata.category(c).startswith("L")
        )

    chars = dict.fromkeys(raw.strip())
    odd = [c for c in chars if odd_char(c)] or [c for c in chars if not c.isascii()]
    shown = ", ".join(_char_name(c) for c in odd[:3]) + (" ..." if len(odd) > 3 else "")
    return (
        f"{label} {raw!r} holds characters impact.com's IDs do not ({shown}): IDs are sent in "
        "ASCII digits and letters, and reconciler does not convert them (a look-alike may name "
        "another record): type the ID again from the original"
    )


# ---------------------------------------------------------------- cells without a value

_CELL_COLUMNS: Final = ("pos", "label", "what")


def _empty_cells() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "pos": np.zeros(0, dtype=np.int64),
            "label": np.zeros(0, dtype=object),
            "what": np.zeros(0, dtype=object),
        }
    )


def cells_without_value(table: Table, rows: npt.NDArray[np.int64] | None = None) -> pd.DataFrame:
    """The cells of the records (those at positions ``rows``, default all) whose value the
    file does not give: one row per cell, ``pos`` (record position), ``label`` and ``what`` is
    wrong, sorted by position then column. A workbook's cells come from its reader's notes
    (formulas without a saved value, error values, cells merged into another); a
    spreadsheet's error value written as text counts in every column of every format."""
    frame = table.frame
    order = {lab: i for i, lab in enumerate(frame.columns)}
    parts = [_noted_cells(table), _merged_cells(table), *_error_text_cells(frame, rows)]
    cells = pd.concat([p for p in parts if len(p)] or [_empty_cells()], ignore_index=True)
    if rows is not None and len(cells):
        mine = np.zeros(len(frame), dtype=bool)
        mine[rows] = True
        cells = cells[mine[cells["pos"].to_numpy(dtype=np.int64)]]
    if not len(cells):
        return _empty_cells()
    cells = cells.assign(_col=cells["label"].map(order))
    cells = cells.sort_values(["pos", "_col"], kind="stable").drop_duplicates(["pos", "label"])
    return cells.drop(columns="_col").reset_index(drop=True)


def _positions(table: Table, rows: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Record positions of sheet rows ``rows`` (-1: no record there)."""
    lines = np.asarray(table.lines, dtype=np.int64)
    pos = np.searchsorted(lines, rows)
    inside = pos < len(lines)
    found = np.full(len(rows), -1, dtype=np.int64)
    found[inside] = np.where(lines[pos[inside]] == rows[inside], pos[inside], -1)
    return found


def _noted_cells(table: Table) -> pd.DataFrame:
    raw = table.meta.get("@cell_issues")
    if not raw:
        return _empty_cells()
    noted: dict[str, str] = json.loads(raw)
    keys = pd.Series(list(noted.keys()), dtype=object).str.partition(":")
    rows = np.asarray(keys[0].astype(np.int64).to_numpy(), dtype=np.int64)
    cols = np.asarray(keys[2].astype(np.int64).to_numpy(), dtype=np.int64) - 1
    columns = np.asarray(list(table.frame.columns), dtype=object)
    pos = _positions(table, rows)
    keep = (pos >= 0) & (cols >= 0) & (cols < len(columns))
    return pd.DataFrame(
        {
            "pos": pos[keep],
            "label": columns[cols[keep]] if keep.any() else np.zeros(0, dtype=object),
            "what": np.asarray(list(noted.values()), dtype=object)[keep],
        }
    )


def _merged_cells(table: Table) -> pd.DataFrame:
    """Cells merged into another, from the ranges the reader gives (every range, whatever its
    size, clipped to the records and columns of the table)."""
    raw = table.meta.get("@merged_ranges")
    if not raw:
        return _empty_cells()
    columns = list(table.frame.columns)
    lines = np.asarray(table.lines, dtype=np.int64)
    parts: list[pd.DataFrame] = []
    for low_row, low_col, high_row, high_col in json.loads(raw):
        first = f"{_column_name(int(low_col))}{int(low_row)}"
        lo, hi = np.searchsorted(lines, [int(low_row), int(high_row) + 1])
        pos = np.arange(lo, hi, dtype=np.int64)
        cols = range(int(low_col) - 1, min(int(high_col), len(columns)))
        for c in cols:
            here = pos[lines[pos] != int(low_row)] if c == int(low_col) - 1 else pos
            if len(here):
                parts.append(
                    pd.DataFrame(
                        {
                            "pos": here,
                            "label": text_column(len(here), columns[c]),
                            "what": text_column(len(here), f"merged into {first}"),
                        }
                    )
                )
    return pd.concat(parts, ignore_index=True) if parts else _empty_cells()


def _column_name(number: int) -> str:
    name = ""
    while number:
        number, rest = divmod(number - 1, 26)
        name = chr(65 + rest) + name
    return name


def _rows_with_bytes(arr: pa.Array, wanted: bytes) -> npt.NDArray[np.int64]:
    """Positions of the values of a string array holding any of the bytes ``wanted``: one
    vectorised pass over the array's bytes, whatever the number of values."""
    if len(arr) == 0 or arr.null_count:
        found = [pc.match_substring(arr, chr(b)) for b in wanted]
        mask = np.zeros(len(arr), dtype=bool)
        for m in found:
            mask |= np.asarray(m.fill_null(False).to_numpy(zero_copy_only=False), dtype=bool)
        return np.flatnonzero(mask).astype(np.int64)
    _validity, offsets_buf, data_buf = arr.buffers()[:3]
    wide = pa.types.is_large_string(arr.type)
    offsets = np.frombuffer(offsets_buf, dtype=np.int64 if wide else np.int32)
    offsets = offsets[arr.offset : arr.offset + len(arr) + 1].astype(np.int64)
    if data_buf is None or offsets[-1] == offsets[0]:
        return np.zeros(0, dtype=np.int64)
    data = np.frombuffer(data_buf, dtype=np.uint8)[offsets[0] : offsets[-1]]
    hit = np.zeros(len(data), dtype=bool)
    for b in wanted:
        hit |= data == b
    at = np.flatnonzero(hit) + offsets[0]
    return np.unique(np.searchsorted(offsets, at, side="right") - 1).astype(np.int64)


def _error_text_cells(
    frame: pd.DataFrame, rows: npt.NDArray[np.int64] | None
) -> list[pd.DataFrame]:
    """Cells (of the records at ``rows``, default all) whose text is a spreadsheet's error
    value (``#N/A``, ``Err:502``)."""
    parts: list[pd.DataFrame] = []
    for label in frame.columns:
        column = frame[label] if rows is None else frame[label].iloc[rows]
        arr = _array(column)
        # Only values holding "#" or ":" can be an error value: found in the bytes at once;
        # the candidates only are trimmed and compared.
        where = _rows_with_bytes(arr, b"#:")
        if not len(where):
            continue
        sub = pc.utf8_trim_whitespace(pc.take(arr, pa.array(where)))
        error = _np(pc.is_in(pc.utf8_upper(sub), value_set=pa.array(sorted(ERROR_VALUES)))) | _np(
            pc.match_substring_regex(sub, _ERROR_FORM)
        )
        if error.any():
            texts = np.asarray(sub.filter(pa.array(error)).to_pylist(), dtype=object)
            at = where[error].astype(np.int64)
            parts.append(
                pd.DataFrame(
                    {
                        "pos": at if rows is None else rows[at],
                        "label": text_column(int(error.sum()), label),
                        "what": np.asarray(
                            [f"the spreadsheet error {t}" for t in texts], dtype=object
                        ),
                    }
                )
            )
    return parts


def ascii_code_problem(code: str) -> str:
    """Why ``code`` cannot be sent as a disposition (reason) code, or "" when it can: printable
    ASCII (custom codes are any string the brand set up, case-sensitive, ``STRING(64)``), no
    control, invisible or look-alike characters, no spaces at its ends, and not a misspelling of
    a standard code (``item returned``: impact.com would not read it as ``ITEM_RETURNED``)."""
    from reconciler.templates import STANDARD_REASONS

    from .values import reason_key

    if not code.strip():
        return "is empty; give a code, e.g. ITEM_RETURNED"
    odd = [c for c in dict.fromkeys(code) if not (" " <= c <= "~")]
    if odd:
        shown = ", ".join(_char_name(c) for c in odd[:3])
        return (
            f"holds characters that are not printable ASCII ({shown}); reason codes are sent "
            "exactly as written: type the code in plain ASCII letters, digits and _"
        )
    if code != code.strip():
        return "has spaces at its ends; remove them"
    if len(code) > 64:
        return f"has {len(code)} characters; impact.com allows 64"
    key = reason_key(code)
    if code not in STANDARD_REASONS and key in STANDARD_REASONS:
        return (
            f"is not the standard code as written (impact.com reads codes exactly, "
            f"case-sensitive): write {key}"
        )
    if "  " in code:
        return "holds two spaces in a row; write the code exactly as it is set up"
    return ""
