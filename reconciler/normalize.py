"""Turn a read table plus its detected schema into the frames the matcher works on.

Owns: identifier comparison keys, line-number parsing, code splitting over a whole column, the
per-record status words. Pure: frames in, new frames out; input frames are never mutated.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from urllib.parse import unquote_plus

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .bytescan import _bytes_match
from .catalogue import Catalogue, is_success_word
from .detect import ResultSchema, ResultShape, SentSchema
from .model import IntArray, Table
from .statuswords import StatusKind, status_kind

ID_FIELDS: tuple[str, ...] = ("action_id", "oid", "action_tracker_id", "campaign_id")
UNSPECIFIED_CODE = "UNSPECIFIED_ERROR"


def _text(frame: pd.DataFrame, label: str | None) -> pd.Series:
    """A column as pandas' ``str`` dtype ("" for a field the file does not have)."""
    if label is None:
        # Arrow's empty strings: pandas would make a million Python "" first.
        empty = pc.fill_null(pa.nulls(len(frame), pa.string()), "")
        return from_arrow(empty).set_axis(frame.index)
    col = frame[label]
    return col if col.dtype == "str" else col.astype("str")


_STR = pd.StringDtype("pyarrow", na_value=np.nan)


def arrow_strings(values: pd.Series) -> pa.ChunkedArray:
    """A column as a pyarrow string array (zero-copy for pandas' default string dtype)."""
    array = values.array
    if hasattr(array, "__arrow_array__"):
        got = array.__arrow_array__()
        return got if isinstance(got, pa.ChunkedArray) else pa.chunked_array([got])
    return pa.chunked_array([pa.array(values.to_numpy(dtype=object), type=pa.large_string())])


def from_arrow(values: pa.Array | pa.ChunkedArray) -> pd.Series:
    """A pyarrow string array as a pandas ``str`` Series (zero-copy)."""
    return pd.Series(
        values.to_pandas(types_mapper={pa.large_string(): _STR, pa.string(): _STR}.get)
    )


def key_part(values: pa.Array) -> pa.Array:
    """An identifier as it stands before a ``|`` in a composed key (``o:<Oid>|<tracker>``):
    each ``\\`` and ``|`` escaped with a ``\\``, so that no identifier can end where another
    one's key goes on (an Oid ``X|T`` alone and the Oid ``X`` with the tracker ``T`` have two
    keys). Identifiers holding neither, nearly all, come back as they are (one byte scan)."""
    if not len(values) or not _bytes_match(values, b"|\\"):
        return values
    return pc.replace_substring(pc.replace_substring(values, "\\", "\\\\"), "|", "\\|")


def id_key_arrow(values: pa.ChunkedArray | pa.Array) -> pa.Array:
    """``id_key`` on a pyarrow string array.

    A value is numeric when it matches ``^\\d+(?:\\.0+)?$`` (ASCII digits). Only numeric values
    that start with 0 or carry a ``.0`` suffix change, so only those are rewritten. Plain digits
    are found by ``ascii_is_decimal``; the suffix needs a regular expression, but only values
    ending in 0 that are not plain digits can carry it, so only those meet the regex."""
    return id_key_changes(values)[0]


def id_key_changes(
    values: pa.ChunkedArray | pa.Array,
) -> tuple[pa.Array, npt.NDArray[np.bool_] | None]:
    """``id_key_arrow`` and, per value, whether the key differs from the value as written
    (leading zeros or a ``.0`` dropped; surrounding whitespace does not count). None when no
    key differs: then every key equality is an exact equality of the values."""
    values = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    values = pc.utf8_trim_whitespace(pc.fill_null(values, ""))
    digits = _np_bool(pc.ascii_is_decimal(values))
    maybe = np.flatnonzero(_np_bool(pc.ends_with(values, "0")) & ~digits)
    suffixed = np.zeros(len(values), dtype=bool)
    if len(maybe):
        hit = _np_bool(pc.match_substring_regex(values.take(maybe), r"^\d+\.0+$"))
        suffixed[maybe[hit]] = True
    change = suffixed | (digits & _np_bool(pc.starts_with(values, "0")))
    if not change.any():
        return values, None
    mask = pa.array(change)
    subset = pc.filter(values, mask)
    if suffixed.any():
        subset = pc.replace_substring_regex(subset, r"\.0+$", "")
    norm = pc.utf8_ltrim(subset, characters="0")
    norm = pc.if_else(pc.equal(norm, ""), "0", norm)
    # "0" stays "0": only values whose key really differs count as rewritten.
    rewritten = change.copy()
    rewritten[change] = _np_bool(pc.not_equal(norm, subset))
    return pc.replace_with_mask(values, mask, norm), rewritten


def id_key(values: pd.Series) -> pd.Series:
    """Comparison key of an identifier column.

    Surrounding whitespace is ignored, and a purely numeric ID is compared without leading zeros
    or a spreadsheet's ``.0`` suffix: ``00123``, ``123`` and ``123.0`` compare equal. The value
    shown to users is never this key; it only decides whether two cells name the same thing.
    """
    return from_arrow(id_key_arrow(arrow_strings(values))).set_axis(values.index)


def parse_lines(values: pd.Series) -> IntArray:
    """Line numbers as int64; -1 where the cell holds no whole number.

    A line number is 1 to 12 ASCII digits, perhaps with a spreadsheet's ``.0`` suffix. Plain
    digits, nearly every cell, are found without a regular expression."""
    text = pc.utf8_trim_whitespace(pc.fill_null(arrow_strings(values).combine_chunks(), ""))
    out = np.full(len(text), -1, dtype=np.int64)
    plain = _np_bool(pc.ascii_is_decimal(text)) & (
        np.asarray(pc.binary_length(text).to_numpy(zero_copy_only=False)) <= 12
    )
    if plain.any():
        out[plain] = _ints(pc.filter(text, pa.array(plain)))
    # Only values ending in 0 can carry a ".0" suffix.
    maybe = np.flatnonzero(~plain & _np_bool(pc.ends_with(text, "0")))
    if len(maybe):
        subset = text.take(pa.array(maybe))
        hit = _np_bool(pc.match_substring_regex(subset, r"^\d{1,12}\.0+$"))
        if hit.any():
            stripped = pc.replace_substring_regex(subset.filter(pa.array(hit)), r"\.0+$", "")
            out[maybe[hit]] = _ints(stripped)
    return out


def _ints(digits: pa.Array) -> IntArray:
    return np.asarray(pc.cast(digits, pa.int64()).to_numpy(zero_copy_only=False), dtype=np.int64)


EMPTY = -1  # the cell is empty
OTHER = -2  # the sent cell holds a value no result carries


def encode(sent: pd.Series, results: pd.Series) -> tuple[IntArray, IntArray]:
    """Integer codes of two key columns, equal where the keys are equal.

    Results get a code per distinct non-empty key; a sent key gets the same code when some
    result carries it, ``OTHER`` when none does, and ``EMPTY`` when the cell is empty. Every
    later comparison and merge works on these integers. (Arrow's hash kernels: no Python
    objects are made for a million keys.)
    """
    r = arrow_strings(results).combine_chunks()
    s = arrow_strings(sent).combine_chunks()
    r_empty = _np_bool(pc.equal(r, ""))
    s_empty = _np_bool(pc.equal(s, ""))
    uniques = pc.unique(pc.filter(r, pa.array(~r_empty)))
    if len(uniques) == 0:
        return (
            np.where(s_empty, EMPTY, OTHER).astype(np.int64),
            np.full(len(results), EMPTY, dtype=np.int64),
        )
    r_codes = _codes(pc.index_in(r, value_set=uniques), EMPTY)
    r_codes[r_empty] = EMPTY
    s_codes = _codes(pc.index_in(s, value_set=uniques), OTHER)
    s_codes[s_empty] = EMPTY
    return s_codes, r_codes


def _np_bool(mask: pa.Array) -> npt.NDArray[np.bool_]:
    return np.asarray(mask.to_numpy(zero_copy_only=False), dtype=bool)


def _codes(found: pa.Array, missing: int) -> IntArray:
    """``index_in`` results as int64, ``missing`` where the value was not found."""
    return np.asarray(
        pc.fill_null(found, missing).to_numpy(zero_copy_only=False), dtype=np.int64
    ).copy()


def sent_keys(
    table: Table,
    schema: SentSchema,
    fields: Collection[str] = ID_FIELDS,
    *,
    with_skus: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, npt.NDArray[np.bool_]]]:
    """Per sent record: identifier keys (``str``; "" for fields not asked for). Plus a long
    (s_idx, sku) frame of its SKUs (empty unless ``with_skus``), and per field the records
    whose key is not their value as written (``id_key_changes``; absent: none)."""
    frame = table.frame
    keys = pd.DataFrame(index=pd.RangeIndex(len(frame)))
    rewritten: dict[str, npt.NDArray[np.bool_]] = {}
    for name in ID_FIELDS:
        label = schema.column(name) if name in fields else None
        if label:
            key, changed = id_key_changes(arrow_strings(frame[label]))
            keys[name] = from_arrow(key).set_axis(keys.index)
            if changed is not None:
                rewritten[name] = changed
        else:
            keys[name] = pd.Series("", index=keys.index, dtype="str")
    sku_cols = list(schema.item_columns("sku")) if with_skus else []
    if sku_cols:
        parts = [
            pd.DataFrame(
                {"s_idx": np.arange(len(frame)), "sku": _text(frame, c).str.strip().to_numpy()}
            )
            for c in sku_cols
        ]
        skus = pd.concat(parts, ignore_index=True)
        skus = skus[skus["sku"] != ""].drop_duplicates()
    else:
        skus = pd.DataFrame(
            {"s_idx": np.array([], dtype=np.int64), "sku": pd.Series([], dtype="str")}
        )
    return keys, skus, rewritten


_PAYLOAD_KEYS: dict[str, tuple[str, ...]] = {
    "action_id": ("ActionId", "actionid"),
    "oid": ("OrderId", "Oid", "orderid", "oid"),
    "action_tracker_id": ("ActionTrackerId", "actiontrackerid", "EventTypeId"),
}


PAYLOAD_FIELDS = frozenset(_PAYLOAD_KEYS)


def _from_payload(payload: pd.Series, names: tuple[str, ...]) -> pd.Series:
    """The value of the first ``name=value`` of ``names`` (any case) in each payload, decoded
    as a query string does. ASCII payloads (nearly all) in Arrow's one pass, decoding only
    the values holding ``%`` or ``+``; others through Python's ``re``, whose case folding of
    letters beyond ASCII is its own."""
    pattern = r"(?:^|[&?])(?:" + "|".join(re.escape(n) for n in names) + r")=([^&]*)"
    text = payload.astype(str)
    arr = pc.fill_null(arrow_strings(text).combine_chunks(), "")
    plain = len(arr) and pc.all(pc.string_is_ascii(arr)).as_py() and not _bytes_match(arr, b"\n\r")
    if not plain:  # (and a line break, which the two engines may read apart)
        found = text.str.extract(pattern, flags=re.IGNORECASE, expand=False)
        return found.fillna("").map(unquote_plus).astype("str")
    parts = pc.extract_regex(arr, "(?i)" + _named(pattern))
    value = pc.fill_null(pc.struct_field(parts, "v"), "")
    out = np.asarray(value.to_numpy(zero_copy_only=False), dtype=object)
    coded = np.flatnonzero(_np_bool(pc.match_substring_regex(value, r"[%+]")))
    if len(coded):
        out[coded] = [unquote_plus(v) for v in out[coded].tolist()]
    return pd.Series(out, index=payload.index, dtype=object).astype("str")


def _named(pattern: str) -> str:
    """``pattern`` with its one capturing group named ``v`` (Arrow's extraction needs names)."""
    at = pattern.rindex("=([^&]*)")
    return pattern[:at] + "=(?P<v>[^&]*)"


# A status word's kind as a small integer: a million rows are compared as int8, not as
# Python objects.
_KIND: dict[StatusKind, int] = {kind: code for code, kind in enumerate(StatusKind)}


def _kinds(table: Table, label: str | None) -> npt.NDArray[np.int8]:
    """Per row: the ``StatusKind`` of its cell in column ``label`` (BLANK when no column), as
    its ``_KIND`` code. Each distinct cell is read once."""
    n = table.records
    if label is None or not n:
        return np.full(n, _KIND[StatusKind.BLANK], dtype=np.int8)
    ids, uniques = pd.factorize(table.frame[label].astype("str"))
    kinds = [_KIND[status_kind(u)] for u in uniques] + [_KIND[StatusKind.BLANK]]
    return np.asarray(kinds, dtype=np.int8)[ids]


def row_final(table: Table, schema: ResultSchema) -> npt.NDArray[np.bool_]:
    """Per result row: whether what it reports is final. A row whose own status (submission or
    record) is Queued, In Progress, Pending, Processing (any spelling), or whose CompletionDate
    column is empty, is not (an API submission record carries both for itself; an export
    repeats the batch's on every row)."""
    n = table.records
    final = np.ones(n, dtype=bool)
    for name in ("submission_status", "record_status"):
        final &= _kinds(table, schema.column(name)) != _KIND[StatusKind.WAITING]
    date_label = schema.column("completion_date")
    if date_label is not None and n:
        final &= (table.frame[date_label].astype("str").str.strip() != "").to_numpy(dtype=bool)
    return final


def result_rows(table: Table, schema: ResultSchema, catalogue: Catalogue) -> pd.DataFrame:
    """One row per result row: line, identifier keys, codes (``;``-joined), what the row says
    of its record (``said``: 1 success, 2 failure, 0 neither), whether it is ``final``, and
    whether it is ``unread``: a row without an error that says nothing readable of its record
    (a blank or unfamiliar status word; never taken as success)."""
    frame = table.frame
    n = len(frame)
    out = pd.DataFrame(index=pd.RangeIndex(n))
    out["r_idx"] = np.arange(n, dtype=np.int64)
    out["result_line"] = np.asarray(table.lines, dtype=np.int64)
    line_label = schema.column("line")
    out["line_raw"] = _text(frame, line_label).set_axis(out.index)
    out["line"] = parse_lines(out["line_raw"]) if line_label else np.full(n, -1, dtype=np.int64)
    payload_label = schema.column("payload")
    for name in (*ID_FIELDS, "sku"):
        raw = _text(frame, schema.column(name))
        from_payload = bool(payload_label) and name in _PAYLOAD_KEYS
        if payload_label and name in _PAYLOAD_KEYS:
            extracted = _from_payload(frame[payload_label], _PAYLOAD_KEYS[name])
            raw = raw.where(raw.str.strip() != "", extracted)
        out[name + "_raw"] = raw.set_axis(out.index)
        if schema.column(name) is None and not from_payload:
            # No column: every cell is "", its own key, stripped or not.
            out[name] = raw.set_axis(out.index)
            if name != "sku":
                out[name + "_rw"] = np.zeros(n, dtype=bool)
            continue
        if name == "sku":
            out[name] = raw.str.strip().set_axis(out.index)
            continue
        key, changed = id_key_changes(arrow_strings(raw))
        out[name] = from_arrow(key).set_axis(out.index)
        # The key is not the value as written: equal keys are then only compatible values.
        out[name + "_rw"] = np.zeros(n, dtype=bool) if changed is None else changed

    code_raw = _text(frame, schema.column("code"))
    out["code_raw"] = code_raw.set_axis(out.index)
    # A code cell's meaning depends on its text alone: each distinct text is read once.
    code_ids, uniques = pd.factorize(code_raw)
    split = np.array([";".join(catalogue.split(str(u))) for u in uniques] + [""], dtype=object)
    codes = split[code_ids]  # a missing cell (-1) takes the trailing ""
    success_words = np.array([is_success_word(str(u)) for u in uniques] + [False])[code_ids]

    # What the row's own words say: its record status, else its submission's status (an API
    # submission record's Status is its own: Complete, Failed, In Progress).
    record = _kinds(table, schema.column("record_status"))
    submission = _kinds(table, schema.column("submission_status"))
    has_record_col = schema.column("record_status") is not None
    # Per row: 1 the row says it succeeded, 2 it says it failed, 0 it says neither.
    status = np.zeros(n, dtype=np.int8)
    success = _KIND[StatusKind.SUCCESS]
    status[(record == success) | (submission == success)] = 1
    status[(status == 0) & success_words] = 1
    failed = (record == _KIND[StatusKind.FAILURE]) | (submission == _KIND[StatusKind.FAILURE])
    status[failed] = 2
    error_type = _text(frame, schema.column("error_type")).set_axis(out.index)
    typed = (error_type.str.strip() != "").to_numpy(dtype=bool)
    no_code = codes == ""
    final = row_final(table, schema)
    if schema.shape in (ResultShape.ERROR_LIST, ResultShape.FTP_ERROR_DETAILS):
        # Every row of an error list is an error, even when its code cell is empty.
        missing_code = no_code & (status != 1)
        unread = np.zeros(n, dtype=bool)
    else:
        # Other shapes list successes too, but only an explicit word is one: a success word,
        # or a submission record that finished (Complete) without an error. A failure word
        # or an error type (``ErrorType`` Validation with no ``ErrorReason``) is a failure.
        missing_code = no_code & ((status == 2) | typed)
        status[typed & (status == 1)] = 2  # an error type outweighs a success word
        own = record if has_record_col else submission
        finished = own == _KIND[StatusKind.DONE]
        said_ok = (status == 1) | finished
        status[no_code & ~missing_code & finished & (status == 0)] = 1
        # Neither: a blank or unfamiliar word. Not final either, so never accepted.
        unread = no_code & ~missing_code & ~said_ok & final
        final = final & ~unread
    codes[missing_code] = UNSPECIFIED_CODE
    out["codes"] = pd.Series(codes, index=out.index, dtype=object)
    out["said"] = status
    out["final"] = final
    out["unread"] = unread
    out["error_type"] = error_type
    return out


def action_codes(
    frame: pd.DataFrame,
    labels: Mapping[str, str | None],
    known: Mapping[str, pd.Series] | None = None,
    among: npt.NDArray[np.bool_] | None = None,
    filled: Mapping[str, npt.NDArray[np.bool_]] | None = None,
) -> IntArray:
    """One integer per row naming the action it modifies, -1 where it names none.

    An action is named by its ActionId, else by the pair Oid + ActionTrackerId (impact-reference
    §1.1), each compared as ``id_key`` does (``0123`` and ``123`` are one ID). ``labels`` maps
    ``action_id``, ``oid`` and ``action_tracker_id`` to the file's columns (None: absent);
    ``known`` holds keys already computed for some of them, ``filled`` which rows hold a value
    (surrounding whitespace aside). Equal codes mean the same action (the ActionIds' codes
    come first, then the pairs'). With ``among``, the rows naming an action a row of ``among``
    names get a code, and so may a few others (an Oid of theirs with another ActionTrackerId);
    the rest get -1, so a million keys are probed against a small set instead of all hashed. Used by the modifications cap (``remediate``, among the records it may
    resubmit) and by ``check``'s duplicate and cap findings (every row)."""
    n = len(frame)
    codes = np.full(n, -1, dtype=np.int64)

    def present(name: str) -> npt.NDArray[np.bool_]:
        label = labels.get(name)
        if label is None:
            return np.zeros(n, dtype=bool)
        if filled is not None and name in filled:
            return filled[name]
        if known and name in known:
            return _np_bool(pc.not_equal(arrow_strings(known[name]).combine_chunks(), ""))
        trimmed = pc.utf8_trim_whitespace(arrow_strings(frame[label]).combine_chunks())
        return _np_bool(pc.not_equal(pc.fill_null(trimmed, ""), ""))

    def keys(name: str, rows: npt.NDArray[np.bool_]) -> pa.Array:
        """The keys of the rows of ``rows``, in order."""
        mask = pa.array(rows)
        if known and name in known:
            return arrow_strings(known[name]).combine_chunks().filter(mask)
        label = labels[name]
        assert label is not None
        return id_key_arrow(arrow_strings(frame[label]).combine_chunks().filter(mask))

    def positions(values: pa.Array, wanted_rows: npt.NDArray[np.bool_]) -> tuple[IntArray, int]:
        """Per value: its position among the values of ``wanted_rows`` (-1: not one of them),
        and how many such values there are."""
        if among is None:
            got = pc.dictionary_encode(values)
            return np.asarray(got.indices.to_numpy(zero_copy_only=False), np.int64), len(
                got.dictionary
            )
        wanted = pc.unique(values.filter(pa.array(wanted_rows)))
        found = pc.fill_null(pc.index_in(values, value_set=wanted), -1)
        return np.asarray(found.to_numpy(zero_copy_only=False), np.int64), len(wanted)

    want = np.ones(n, dtype=bool) if among is None else among
    by_action = present("action_id")
    offset = 0
    if (by_action & want).any():
        codes[by_action], offset = positions(keys("action_id", by_action), want[by_action])
    by_pair = ~by_action & present("oid") & present("action_tracker_id")
    if (by_pair & want).any():
        oid, _ = positions(keys("oid", by_pair), want[by_pair])
        rows = np.flatnonzero(by_pair)[oid >= 0]
        picked = np.zeros(n, dtype=bool)
        picked[rows] = True
        tracker = pc.dictionary_encode(keys("action_tracker_id", picked))
        t_at = np.asarray(tracker.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
        # Renumbered: Oid x ActionTrackerId products can be astronomically large.
        pair, _u = pd.factorize(oid[oid >= 0] * len(tracker.dictionary) + t_at)
        codes[rows] = offset + np.asarray(pair, dtype=np.int64)
    return codes
