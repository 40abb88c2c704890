"""What the platform shows changed (``reconcile --updates FILE``): the ActionUpdates feed (JSON
pages, CSV or XLSX; one row per change of an action) or an Actions export (one row per action,
its current state), read into one frame keyed the way the sent file's identifiers are compared.

impact.com documents the feed's fields (``Id`` = ``<ActionId>.<n>``, ``ActionId``, ``State``,
``Disposition``, ``DeltaAmount``, ``Sku``, ``Quantity``, ``UpdateDate``, ``Oid``, ...) but not
an export's column spelling, so columns are recognised by their names in several spellings,
and what a file holds decides what it can prove: without ``UpdateDate`` nothing can be said
about *when* a change was made, without ``Amount`` (or the change history from an action's
first update) nothing about the total it reached.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .bytescan import _bytes_match, _data_view, _fingerprints, _offsets
from .errors import ShapeError
from .fixes import amount_numbers
from .model import Table
from .normalize import _np_bool, arrow_strings, from_arrow, id_key_arrow
from .templates import header_key
from .threads import background

UPDATE_FIELDS: dict[str, tuple[str, ...]] = {
    "action_id": ("ActionId", "Action Id", "Action ID"),
    "id": ("Id", "Update Id", "UpdateId", "Action Update Id"),
    "oid": ("Oid", "Order Id", "OrderId", "Order ID"),
    "action_tracker_id": (
        "ActionTrackerId", "Action Tracker Id", "Event Type Id", "EventTypeId",
    ),
    "campaign_id": ("CampaignId", "Campaign Id", "Campaign ID", "Program Id", "ProgramId"),
    "state": ("State", "Status", "Action State", "Action Status"),
    "state_detail": ("StateDetail", "State Detail"),
    "disposition": ("Disposition", "Disposition Code", "Reason"),
    "delta_amount": ("DeltaAmount", "Delta Amount", "Amount Change"),
    "amount": ("Amount", "Sale Amount", "SaleAmount", "IntendedAmount"),
    "sku": ("Sku", "SKU"),
    "quantity": ("Quantity", "Qty"),
    "update_date": ("UpdateDate", "Update Date", "Updated", "Last Update Date"),
}  # fmt: skip


class UpdatesKind(StrEnum):
    UPDATES = "action_updates"  # one row per change, dated
    ACTIONS = "actions"  # one row per action, as it is now


@dataclass(frozen=True, slots=True, eq=False)
class Updates:
    """Every row of the updates files, in order. ``frame`` columns: ``k_action``, ``k_oid``,
    ``k_tracker`` (``id_key``; "" when absent), ``campaign``, ``state`` (upper case),
    ``disposition``, ``delta`` and ``amount`` (floats, NaN when absent), ``sku``,
    ``quantity`` (text as written), ``date`` (UTC, NaT when absent), ``seq`` (the ``n`` of
    ``<ActionId>.<n>``, -1 when unknown), ``file`` (position in ``paths``)."""

    kind: UpdatesKind
    frame: pd.DataFrame
    paths: tuple[str, ...]
    has: frozenset[str]  # the fields some file had a column for
    # Rows whose UpdateDate is written but is no date (a 30 February): their date is NaT,
    # as an empty one's. One of them as written, for the run to show.
    undated: int = 0
    undated_example: str = ""

    @property
    def dated(self) -> bool:
        return "update_date" in self.has and bool(self.frame["date"].notna().any())

    @property
    def first(self) -> pd.Timestamp | None:
        return self.frame["date"].min() if self.dated else None

    @property
    def last(self) -> pd.Timestamp | None:
        return self.frame["date"].max() if self.dated else None


def read_updates(tables: Sequence[Table]) -> Updates:
    """Recognise and key every updates file; ``ShapeError`` (one line) for a file that is
    not one, or files of both kinds."""
    frames: list[pd.DataFrame] = []
    examples: list[str] = []
    kinds: set[UpdatesKind] = set()
    has: set[str] = set()
    for i, table in enumerate(tables):
        fields = _fields(table)
        if not {"action_id", "id", "oid"} & fields.keys():
            raise ShapeError(
                "is not an ActionUpdates list nor an Actions export: it has no ActionId, Id "
                "or Oid column (give the Brand API's ActionUpdates, or the Actions export, as "
                "JSON, CSV or XLSX)",
                path=table.path,
            )
        kind = (
            UpdatesKind.UPDATES
            if {"update_date", "delta_amount"} & fields.keys()
            else (UpdatesKind.ACTIONS)
        )
        if kind is UpdatesKind.ACTIONS and not {"state", "amount"} & fields.keys():
            raise ShapeError(
                "has neither UpdateDate nor DeltaAmount (an ActionUpdates list) nor State or "
                "Amount (an Actions export): it cannot say what the platform changed",
                path=table.path,
            )
        kinds.add(kind)
        has.update(fields)
        frame, example = _frame(table, fields, kind, i)
        frames.append(frame)
        examples.append(example)
    if len(kinds) > 1:
        raise ShapeError(
            "--updates mixes an ActionUpdates list and an Actions export; give one kind "
            "(the ActionUpdates pages, or one Actions export)",
            path=tables[-1].path,
        )
    if len(frames) > 1:
        frame = pd.concat(frames, ignore_index=True)
    else:  # one file: its frame as it is (numbered from 0), not a copy
        frame = frames[0] if frames else _frame_of({}, 0, -1)
    if "id" in has and kinds == {UpdatesKind.UPDATES}:
        # A page given twice (or overlapping exports) lists a change twice: count it once.
        again = _listed_before(frame["update_id"])
        if again.any():  # most feeds list each change once: no copy of the frame
            frame = frame[~again].reset_index(drop=True)
    undated = frame["undated"].to_numpy(dtype=bool)
    return Updates(
        kind=kinds.pop() if kinds else UpdatesKind.UPDATES,
        frame=frame.drop(columns="undated"),
        paths=tuple(str(t.path) for t in tables),
        has=frozenset(has),
        undated=int(undated.sum()),
        undated_example=next((e for e in examples if e), ""),
    )


def _listed_before(ids: pd.Series) -> npt.NDArray[np.bool_]:
    """The rows whose update Id (not empty) an earlier row has. Only the Ids whose
    fingerprint (``bytescan._fingerprints``) another Id shares are compared as text: equal
    Ids have equal fingerprints, and most feeds have none to compare (a pandas
    ``duplicated`` over a million Ids takes 0.15 s, the fingerprints 0.06 s)."""
    arr = arrow_strings(ids)
    arr = arr.chunk(0) if arr.num_chunks == 1 else arr.combine_chunks()
    if arr.null_count:
        return (ids.ne("") & ids.duplicated()).to_numpy(dtype=bool)
    maybe = pd.Series(_fingerprints(arr).view(np.int64)).duplicated(keep=False).to_numpy()
    again = np.zeros(len(ids), dtype=bool)
    if maybe.any():
        at = np.flatnonzero(maybe)
        some = ids.iloc[at]
        again[at] = (some.ne("") & some.duplicated()).to_numpy(dtype=bool)
    return again


_EDGE = np.zeros(256, dtype=bool)
_EDGE[list(b"\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f ")] = True
_EDGE[0x80:] = True


def _may_have_edge_space(arr: pa.Array) -> bool:
    """Whether any value of a (null-free) string array may start or end with what
    ``utf8_trim_whitespace`` trims, read off its first and last bytes.

    Each value's first byte is read at its start offset and its last at its end offset less
    one, clipped to the data: an empty value reads a neighbour's byte there, one that the
    neighbour itself starts or ends with, so an empty value adds nothing the others do not
    say. Only bytes outside ``!`` to ``~`` (a subtraction that wraps round, one pass) are
    then weighed against ``_EDGE``: three times faster than taking ``_EDGE`` of every byte
    of the values not empty (0.11 against 0.04 s over nine columns of a 1.2M-row feed)."""
    offsets = _offsets(arr)
    raw = np.frombuffer(_data_view(arr), dtype=np.uint8)
    if not len(raw):
        return False
    for at in (offsets[:-1], offsets[1:] - 1):
        byte = raw.take(at, mode="clip")
        odd = byte[np.subtract(byte, _PRINTABLE, dtype=np.uint8) >= _PRINTABLES]
        if len(odd) and _EDGE[odd].any():
            return True
    return False


_PRINTABLE, _PRINTABLES = 0x21, 0x7F - 0x21  # "!" and how many bytes from it to "~"


def _fields(table: Table) -> dict[str, str]:
    labels = list(table.frame.columns)
    found: dict[str, str] = {}
    for name, aliases in UPDATE_FIELDS.items():
        keys = [header_key(a) for a in aliases]
        hit = next((lab for k in keys for lab in labels if header_key(str(lab)) == k), None)
        if hit is not None and hit not in found.values():
            found[name] = hit
    return found


def _frame(
    table: Table, fields: dict[str, str], kind: UpdatesKind, file: int
) -> tuple[pd.DataFrame, str]:
    """One file's rows, keyed; whole columns at a time with Arrow's string kernels (a
    million-row feed is read in about a second). With them, the first UpdateDate that is
    written but is no date ("" when none)."""
    f = table.frame
    n = len(f)
    blank = pa.repeat(pa.scalar("", pa.string()), n)

    def col(name: str, whole: bool = True) -> pa.Array | pa.ChunkedArray:
        """A column as text ("" for null), in one array (``whole``) or in the chunks it was
        read in, for a column that becomes numbers or dates (no copy of its bytes)."""
        label = fields.get(name)
        if label is None:
            return blank
        # Cast before the chunks are joined: the cast shares the bytes, the join copies them.
        arr = pc.fill_null(pc.cast(arrow_strings(f[label]), pa.string()), "")
        # Trimmed only when a value may start or end with whitespace (an ASCII space or a
        # byte of a wider character): most feeds have none.
        if any(_may_have_edge_space(chunk) for chunk in arr.chunks):
            arr = pc.utf8_trim_whitespace(arr)
        return arr.combine_chunks() if whole else arr

    raw_id = col("id")
    action = col("action_id")
    seq = np.full(n, -1, dtype=np.int64)
    if "id" in fields:
        if kind is UpdatesKind.UPDATES:
            # ``<ActionId>.<n>``: the action, and which of its changes this is.
            seq = _change_numbers(raw_id)
            if "action_id" not in fields:
                head = pc.replace_substring_regex(raw_id, _CHANGE_NUMBER, "", max_replacements=1)
                action = pc.if_else(pa.array(seq >= 0), head, "")
        elif "action_id" not in fields:
            action = raw_id  # an Actions export: Id is the action's

    def text(arr: pa.Array) -> pd.Series:
        return from_arrow(arr)

    written = col("update_date", whole=False)
    # The dates and amounts are read on a thread of their own while the identifiers are
    # keyed here: the run's other threads wait for the feed by now, so a core is free.
    reading = background(
        "dates", _dates_and_amounts, written, col("delta_amount", False), col("amount", False)
    )
    columns: dict[str, object] = {
        "update_id": text(raw_id) if kind is UpdatesKind.UPDATES else "",
        "k_action": text(id_key_arrow(action)),
        "k_oid": text(id_key_arrow(col("oid"))),
        "k_tracker": text(id_key_arrow(col("action_tracker_id"))),
        "campaign": text(col("campaign_id")),
        "state": text(pc.utf8_upper(col("state"))),
        "disposition": text(col("disposition")),
        "sku": text(col("sku")),
        "quantity": text(col("quantity")),
        "seq": seq,
        "file": np.full(n, file, dtype=np.int64),
    }
    when, delta, amount = reading.result()
    undated = when.isna().to_numpy(dtype=bool) & _np_bool(pc.not_equal(written, ""))
    example = str(written[int(np.argmax(undated))].as_py()) if undated.any() else ""
    order = ("update_id", "k_action", "k_oid", "k_tracker", "campaign", "state", "disposition")
    columns = {
        **{c: columns[c] for c in order},
        "delta": delta,
        "amount": amount,
        "sku": columns["sku"],
        "quantity": columns["quantity"],
        "date": when,
        "undated": undated,
        "seq": seq,
        "file": columns["file"],
    }
    return _frame_of(columns, n, file), example


def _dates_and_amounts(
    written: pa.Array | pa.ChunkedArray,
    delta: pa.Array | pa.ChunkedArray,
    amount: pa.Array | pa.ChunkedArray,
) -> tuple[pd.Series, np.ndarray, np.ndarray]:
    return _dates(written), _numbers(delta), _numbers(amount)


_CHANGE_ID = r"^(?P<head>.+)\.(?P<tail>[0-9]{1,9})$"  # <ActionId>.<n>
_CHANGE_NUMBER = r"\.[0-9]{1,9}$"  # its ".<n>": after the last dot, so one place at most
_DOT, _ZERO = ord("."), ord("0")


def _change_numbers(ids: pa.Array) -> np.ndarray:
    """Which change of its action each update Id ``<ActionId>.<n>`` is: ``n``, or -1 where
    the Id is not so numbered (what ``_CHANGE_ID`` matches: 1 to 9 ASCII digits after a
    dot that has at least one character before it). Read off each Id's last bytes: a
    regular expression with groups takes a third of a second a million Ids. The expression
    itself where a line break (which its ``.`` does not match) is in the column."""
    n = len(ids)
    seq = np.full(n, -1, dtype=np.int64)
    if not n:
        return seq
    if _bytes_match(ids, b"\n"):
        parts = pc.extract_regex(ids, _CHANGE_ID)
        tail = pc.fill_null(pc.struct_field(parts, "tail"), "-1")
        return np.asarray(pc.cast(tail, pa.int64()).to_numpy(zero_copy_only=False), np.int64)
    raw = np.frombuffer(_data_view(ids), dtype=np.uint8)
    offsets = _offsets(ids)
    starts, ends = offsets[:-1], offsets[1:]
    # From each Id's end back over its digits, a place at a time, over the Ids still in
    # their digits: the byte ending the run must be a dot with a character before it.
    live = np.flatnonzero(ends - starts >= 3)
    value = np.zeros(len(live), dtype=np.int64)
    scale = 1
    for j in range(1, 11):
        at = ends[live] - j
        byte = raw[at]
        inside = at > starts[live]
        if j > 1:
            dot = (byte == _DOT) & inside
            seq[live[dot]] = value[dot]
        if j == 10:
            break
        digit = (byte >= _ZERO) & (byte <= _ZERO + 9) & inside
        live = live[digit]
        value = value[digit] + (byte[digit].astype(np.int64) - _ZERO) * scale
        scale *= 10
        if not len(live):
            break
    if ids.null_count:
        seq[~np.asarray(ids.is_valid(), dtype=bool)] = -1
    return seq


_ISO = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:?[0-9]{2})$"
)


def _dates(values: pa.Array | pa.ChunkedArray) -> pd.Series:
    """Dates as UTC instants: ISO 8601 with a zone (as the API writes them) in one Arrow
    pass; other spellings once per distinct value (a date without a zone is taken as UTC);
    NaT where a cell is empty or not a date (a 30 February, a leap second)."""
    utc = pa.timestamp("us", tz="UTC")
    nothing = pa.scalar(None, pa.string())
    filled = pc.not_equal(values, "")
    # Every date ISO 8601 with a zone: the whole column at once. Arrow's cast stops at the
    # first piece of a column holding a value it cannot read, so the first values are tried
    # on their own first: a column of other spellings, read as one piece, would otherwise
    # be parsed whole before the cast gives up (1.3 s a million dates).
    head = slice(0, _PROBE)
    if _casts(pc.if_else(filled[head], values[head], nothing), utc):
        try:
            parsed = pc.cast(pc.if_else(filled, values, nothing), utc)
            return pd.Series(parsed.to_pandas(), dtype="datetime64[us, UTC]")
        except pa.ArrowInvalid:
            pass
    iso = pc.match_substring_regex(values, _ISO)
    try:
        parsed = pc.cast(pc.if_else(iso, values, nothing), utc)
    except pa.ArrowInvalid:  # ISO-shaped but not a date Arrow reads: each value on its own
        iso = pa.repeat(pa.scalar(False), len(values))
        parsed = pa.nulls(len(values), utc)
    out = pd.Series(parsed.to_pandas(), dtype="datetime64[us, UTC]")
    odd = np.flatnonzero(
        ~np.asarray(iso.to_numpy(zero_copy_only=False), dtype=bool)
        & np.asarray(filled.to_numpy(zero_copy_only=False), dtype=bool)
    )
    if len(odd):
        # Each distinct text parsed once (numbered in order of first appearance, as
        # ``_mixed_dates`` samples them), its instant then given to every row holding it.
        taken = values.take(pa.array(odd))
        coded = pc.dictionary_encode(
            taken.combine_chunks() if isinstance(taken, pa.ChunkedArray) else taken
        )
        uniques = pd.Series(coded.dictionary.to_pylist(), dtype=object)
        # Finer than a microsecond (seven decimals and more): down to the microsecond.
        when = pd.to_datetime(_mixed_dates(uniques), utc=True).dt.floor("us")
        instants = _naive_us(when)
        every = _naive_us(out)
        every[odd] = instants[np.asarray(coded.indices.to_numpy(zero_copy_only=False))]
        out = pd.Series(every).dt.tz_localize("UTC")
    return out


_PROBE = 1_000  # leading values a whole-column cast is tried on first


def _casts(values: pa.Array | pa.ChunkedArray, to: pa.DataType) -> bool:
    """Whether Arrow casts every one of ``values`` to ``to``."""
    try:
        pc.cast(values, to)
    except pa.ArrowInvalid:
        return False
    return True


def _naive_us(when: pd.Series) -> npt.NDArray[np.datetime64]:
    """UTC instants as a NumPy array of microseconds without a zone (a copy; NaT kept)."""
    return np.asarray(when.dt.tz_convert(None).to_numpy(), dtype="datetime64[us]").copy()


# The spellings a spreadsheet or a local export gives a whole column of (month first, as
# pandas reads an ambiguous date): each read as pandas' "mixed" reads such a value.
_SPELLED = (
    "%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M", "%m/%d/%Y", "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M", "%Y-%m-%d", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d",
)  # fmt: skip
_SAMPLE = 200  # values read both ways before a spelling is trusted for the rest


def _mixed_dates(texts: pd.Series) -> pd.Series:
    """``pd.to_datetime(texts, errors="coerce", utc=True, format="mixed")``: each distinct
    value parsed on its own, about 25 µs a value. When a sample's values that one of
    ``_SPELLED`` reads (most of them) read the same both ways, the column is read in that
    spelling at once and only the values it does not read are parsed on their own."""

    def mixed(values: pd.Series) -> pd.Series:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return pd.to_datetime(values, errors="coerce", utc=True, format="mixed")

    if len(texts) <= 2 * _SAMPLE:
        return mixed(texts)
    sample = texts.iloc[:_SAMPLE]
    want = mixed(sample)
    for spelled in _SPELLED:
        got = pd.to_datetime(sample, errors="coerce", utc=True, format=spelled)
        read = got.notna().to_numpy()
        if read.sum() * 2 < len(sample):
            continue
        if not (got[read] == want[read]).all():
            continue
        whole = pd.to_datetime(texts, errors="coerce", utc=True, format=spelled)
        rest = whole.isna().to_numpy()
        if rest.any():
            others = mixed(texts[rest])
            whole = whole.astype(others.dtype) if whole.dtype != others.dtype else whole
            whole[rest] = others
        return whole
    return mixed(texts)


def _frame_of(columns: dict[str, object], n: int, file: int) -> pd.DataFrame:
    if not columns:
        return pd.DataFrame(
            {
                "update_id": pd.Series([], dtype=object),
                **{c: pd.Series([], dtype=object) for c in _TEXT},
                "delta": pd.Series([], dtype=float),
                "amount": pd.Series([], dtype=float),
                "date": pd.Series([], dtype="datetime64[ns, UTC]"),
                "undated": pd.Series([], dtype=bool),
                "seq": pd.Series([], dtype=np.int64),
                "file": pd.Series([], dtype=np.int64),
            }
        )
    # Not copied: every column was made for this frame alone. pandas would otherwise join the
    # columns of one NumPy type into one block, a copy of each (0.09 s a 1.2M-row feed, most
    # of it the fresh memory's page faults).
    return pd.DataFrame(columns, index=pd.RangeIndex(n), copy=False)


_TEXT = (
    "k_action", "k_oid", "k_tracker", "campaign", "state", "disposition", "sku", "quantity",
)  # fmt: skip


def _numbers(arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Signed decimals as the API writes them (``-20.00``); NaN where a cell is empty or not
    a number. Plain spellings are parsed by Arrow in one pass, others once per value."""
    filled = pc.not_equal(arr, "")
    if not len(arr) or not pc.any(filled).as_py():
        return np.full(len(arr), np.nan)
    plain = pc.match_substring_regex(arr, r"^[-+]?[0-9]+(?:\.[0-9]+)?$")
    parsed = pc.cast(pc.if_else(plain, arr, pa.scalar(None, pa.string())), pa.float64())
    out = np.array(parsed.to_numpy(zero_copy_only=False), dtype=np.float64, copy=True)
    given = np.asarray(filled.to_numpy(zero_copy_only=False), dtype=bool)
    odd = np.flatnonzero(np.isnan(out) & given)
    if len(odd):
        values = pd.Series(arr.take(pa.array(odd)).to_pylist(), dtype=object)
        out[odd] = amount_numbers(values)
    return out
