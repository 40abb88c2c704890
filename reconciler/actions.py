"""An impact.com Actions export (``--actions FILE``) indexed for look-ups.

Owns: recognising the export's columns and answering "which actions could this spoiled ID be?"
and "what state is this action in?". Reading the file is the ``readers`` package's job.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .errors import ShapeError
from .model import Table
from .normalize import id_key
from .templates import ACTIONS_FIELDS, header_key


@dataclass(frozen=True, slots=True, eq=False)
class ActionsIndex:
    """One row per action: raw ``action_id``/``oid``/``action_tracker_id``, soft keys
    ``k_action_id``/``k_oid``/``k_tracker``, ``state`` (upper case), ``amount``,
    ``locking_date`` and ``event_date`` (datetime64, NaT when unknown)."""

    frame: pd.DataFrame
    path: str
    notes: tuple[str, ...] = ()  # two columns for one field with the same values, read once
    # Look-ups made once and kept (the index answers one question per record of a file):
    # per key column, each key's rows; per tracker key, its actions; the spoiled values' hits.
    _rows: dict[str, _Rows] = field(default_factory=dict, repr=False)
    _tracked: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)
    _spoiled: dict[tuple[str, str, str], pd.Index] = field(default_factory=dict, repr=False)
    _locked: dict[date, npt.NDArray[np.bool_]] = field(default_factory=dict, repr=False)
    _plain: list[pd.DataFrame] = field(default_factory=list, repr=False)
    # The key columns as the export was keyed (Arrow-backed text): indexed without a
    # Python string a row.
    _keyed: dict[str, pd.Series] = field(default_factory=dict, repr=False)

    def by_action_id(self, raw: str) -> pd.DataFrame:
        return self.frame[self.frame["k_action_id"] == _key(raw)]

    def by_oid(self, raw: str, tracker: str = "") -> pd.DataFrame:
        hits = self.frame[self.frame["k_oid"] == _key(raw)]
        if tracker.strip():
            hits = hits[hits["k_tracker"] == _key(tracker)]
        return hits

    def recover(
        self,
        column: str,
        raw: str,
        tracker: str = "",
        *,
        key: str | None = None,
        tracker_key: str | None = None,
    ) -> pd.DataFrame:
        """Actions whose ``column`` (action_id | oid) a spoiled ``raw`` value could stand for:
        the same after whitespace, a ``.0`` suffix or dropped leading zeros, or the same number
        rounded to the digits that scientific notation kept.

        ``key`` and ``tracker_key``: ``id_key`` of ``raw.strip()`` and of ``tracker``, when
        the caller has them (keyed for a whole file at once)."""
        key_col = "k_action_id" if column == "action_id" else "k_oid"
        value = raw.strip()
        rows = self._index(key_col).rows(_key(value) if key is None else key)
        tracked = column == "oid" and bool(tracker.strip())
        t_key = ""
        if tracked:
            t_key = _key(tracker) if tracker_key is None else tracker_key
            trackers = self._index("k_tracker")
            rows = rows[trackers.codes[rows] == trackers.number(t_key)]
        if len(rows):
            return self._rows_at(rows)
        memo = (column, value, t_key if tracked else "\x00")
        found = self._spoiled.get(memo)
        if found is None:
            frame = self._with_tracker(t_key) if tracked else self.frame
            found = self._recover_spoiled(frame, column, value).index
            self._spoiled[memo] = found
        return self._rows_at(self.frame.index.get_indexer(found))

    def direct_hits(
        self,
        by_action: npt.NDArray[np.bool_],
        by_oid: npt.NDArray[np.bool_],
        keys: pa.Array,
        tracker_keys: pa.Array,
        tracked: npt.NDArray[np.bool_],
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """``recover``'s first look-up for many records at once: the actions whose key is the
        record's own (``keys``, ``id_key`` of each record's ID: its ActionId where
        ``by_action``, its Oid where ``by_oid``, and with ``tracked`` the tracker's key
        too). Pairs (record, row of ``frame``), by record, then row: each key is looked up
        in one hash pass over the records, not a look-up a record."""
        recs: list[npt.NDArray[np.int64]] = []
        found: list[npt.NDArray[np.int64]] = []
        for which, key_col in ((by_action, "k_action_id"), (by_oid, "k_oid")):
            sel = np.flatnonzero(which)
            if not len(sel):
                continue
            index = self._index(key_col)
            number = index.numbers(keys.take(pa.array(sel)))
            sel, number = sel[number >= 0], number[number >= 0]
            start = index.starts[number]
            count = index.starts[number + 1] - start
            at = np.repeat(start - (np.cumsum(count) - count), count)
            at += np.arange(len(at))
            recs.append(np.repeat(sel, count))
            found.append(index.order[at])
        if not recs:
            none = np.zeros(0, dtype=np.int64)
            return none, none
        rec, row = np.concatenate(recs), np.concatenate(found)
        if tracked.any():
            trackers = self._index("k_tracker")
            wanted = np.full(len(tracked), -2, dtype=np.int64)  # -2: matches no row
            at = np.flatnonzero(tracked)
            number = trackers.numbers(tracker_keys.take(pa.array(at)))
            wanted[at] = np.where(number >= 0, number, -2)
            keep = ~tracked[rec] | (trackers.codes[row] == wanted[rec])
            rec, row = rec[keep], row[keep]
        order = np.argsort(rec, kind="stable")  # rows ascend within a key already
        return rec[order], row[order]

    def is_locked(self, action: pd.Series, today: date) -> bool:
        """``is_locked`` for an action of ``frame`` (the whole export's states worked out
        once)."""
        return bool(self.locked_now(today)[self.frame.index.get_loc(action.name)])

    def locked_now(self, today: date) -> npt.NDArray[np.bool_]:
        """Per action (row of ``frame``): locked as of ``today`` (``lock_states``)."""
        got = self._locked.get(today)
        if got is None:
            # ``lock_states`` over the export's own columns (no Timestamp object a row).
            state = self.frame["state"]
            when = self.frame["locking_date"]
            if isinstance(when.dtype, pd.DatetimeTZDtype) and not isinstance(
                state.dtype, pd.CategoricalDtype
            ):
                passed = (when < pd.Timestamp(today, tz="UTC")).to_numpy(dtype=bool)
                approved = state.isin(LOCKED_STATES).to_numpy(dtype=bool)
                got = passed | approved
                self._locked[today] = got
                return got
            got = lock_states(
                self.frame["state"].to_numpy(), self.frame["locking_date"].to_numpy(), today
            )[0]
            self._locked[today] = got
        return got

    def _rows_at(self, rows: npt.NDArray[np.intp]) -> pd.DataFrame:
        """``frame.iloc[rows]``, its text as Python strings: taking a few rows of Arrow
        columns costs a tenth of a millisecond a column, and this is asked once a record."""
        if not self._plain:
            columns = {
                c: (
                    pd.Series(col.to_numpy(dtype=object), index=col.index, dtype=object)
                    if isinstance(col.dtype, pd.StringDtype)
                    else col
                )
                for c, col in self.frame.items()
            }
            self._plain.append(pd.DataFrame(columns, index=self.frame.index))
        return self._plain[0].iloc[rows]

    def _index(self, key_col: str) -> _Rows:
        """``key_col`` indexed (once)."""
        rows = self._rows.get(key_col)
        if rows is None:
            rows = _Rows.of(self._keyed.get(key_col, self.frame[key_col]))
            self._rows[key_col] = rows
        return rows

    def _with_tracker(self, tracker_key: str) -> pd.DataFrame:
        got = self._tracked.get(tracker_key)
        if got is None:
            got = self.frame[self.frame["k_tracker"] == tracker_key]
            self._tracked[tracker_key] = got
        return got

    def _recover_spoiled(self, frame: pd.DataFrame, column: str, value: str) -> pd.DataFrame:
        """``recover`` once no action has the value's key: the spreadsheet's forms."""
        hits = frame.iloc[0:0]
        sci = re.fullmatch(r"([0-9])(?:[.,]([0-9]+))?[eE]\+?([0-9]{1,2})", value)
        if not sci:
            return self._rounded(frame, column, value) if len(value) > 15 else hits
        digits = sci.group(1) + (sci.group(2) or "")
        exp = int(sci.group(3))
        raw_col = frame[column].astype(str).str.strip()
        numeric = raw_col.str.fullmatch(r"[0-9]+").fillna(False).to_numpy(dtype=bool)
        cand = raw_col[numeric]
        # Same magnitude, and the leading digits round to the mantissa that was kept.
        cand = cand[cand.str.lstrip("0").str.len() == exp + 1]
        if cand.empty:
            return frame.iloc[0:0]
        sig = len(digits)
        stripped = cand.str.lstrip("0")
        if sig > _INT64_DIGITS:  # wider than any spreadsheet keeps: Python's integers
            want = int(digits)
            match = np.array(
                [int(v[:sig]) + (v[sig : sig + 1] >= "5") == want for v in stripped.tolist()],
                dtype=bool,
            )
            return pd.DataFrame(frame.loc[cand.index[match]])
        head = stripped.str[:sig].astype(np.int64)
        nxt = stripped.str[sig : sig + 1].replace("", "0").astype(np.int64)
        rounded = head + (nxt >= 5).astype(np.int64)
        match = rounded.to_numpy() == int(digits)
        return pd.DataFrame(frame.loc[cand.index[match]])

    @staticmethod
    def _rounded(frame: pd.DataFrame, column: str, value: str) -> pd.DataFrame:
        """Actions whose ``column`` a spreadsheet rounded to ``value`` (15 significant digits,
        zeros after: ``4051234567890630`` for ``4051234567890627``)."""
        from .fixes import spoiled_form_of

        plain = value.removesuffix(".0")
        if not (plain.isascii() and plain.isdigit() and plain.endswith("0")):
            return frame.iloc[0:0]
        raw_col = frame[column].astype(str).str.strip()
        # Same length and the same leading 14 digits: the only IDs it can be the rounding of.
        cand = raw_col[(raw_col.str.len() == len(plain)) & raw_col.str.startswith(plain[:14])]
        keep = [i for i, v in cand.items() if spoiled_form_of(value, str(v))]
        return pd.DataFrame(frame.loc[keep])


_INT64_DIGITS = 18  # every number of up to 18 digits (and its rounding up) fits an int64


@dataclass(slots=True, eq=False)
class _Rows:
    """A column of keys indexed once: each key's rows found by its number and a slice, not
    by comparing the whole column again."""

    codes: npt.NDArray[np.int64]  # per row: its key's number (-1: missing)
    uniques: pa.Array  # the keys, by number
    order: npt.NDArray[np.int64]  # rows by key, ascending within a key
    starts: npt.NDArray[np.int64]  # key k's rows: order[starts[k]:starts[k + 1]]
    _number: dict[str, int] | None = None  # built when a key is first looked up alone

    @staticmethod
    def of(column: pd.Series) -> _Rows:
        # Numbered in one hash pass over the column as it is kept (Arrow): no Python string
        # a row, nor a dictionary entry a key until one key is looked up alone.
        codes, uniques = pd.factorize(column)
        codes = np.asarray(codes, dtype=np.int64)
        order = np.argsort(codes, kind="stable").astype(np.int64)
        counts = np.bincount(codes[codes >= 0], minlength=len(uniques))
        starts = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
        skipped = int((codes < 0).sum())  # missing keys sort first; none is looked up
        keys = pa.array(uniques, type=pa.large_string())  # Arrow's own when kept as read
        return _Rows(codes, keys, order[skipped:], starts)

    def number(self, key: str) -> int:
        """``key``'s number, -1 when no row has it."""
        if self._number is None:
            self._number = {str(u): i for i, u in enumerate(self.uniques.to_pylist())}
        return self._number.get(key, -1)

    def numbers(self, keys: pa.Array) -> npt.NDArray[np.int64]:
        """Each of ``keys``' number, -1 where no row has it (one hash pass)."""
        found = pc.index_in(pc.cast(keys, pa.large_string()), value_set=self.uniques)
        return np.asarray(pc.fill_null(found, -1).to_numpy(zero_copy_only=False), np.int64)

    def rows(self, key: str) -> npt.NDArray[np.int64]:
        k = self.number(key)
        if k < 0:
            return np.zeros(0, dtype=np.int64)
        return self.order[self.starts[k] : self.starts[k + 1]]


def _key(raw: str) -> str:
    return str(id_key(pd.Series([raw])).iat[0])


def _dates(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values.where(values.str.strip() != ""), errors="coerce", utc=True)


# Fields whose aliases name different columns of an export, read in order of preference
# (``Amount`` before ``IntendedAmount``, ``EventDate`` before ``CreationDate``): only one name
# given twice is a twin. Every alias of the other fields is one name spelled another way.
_PREFERRED: Final = frozenset({"amount", "event_date"})
_SHOWN: Final = {
    "action_id": "Action Id",
    "oid": "Oid",
    "action_tracker_id": "Action Tracker Id",
    "state": "State",
    "amount": "Amount",
    "locking_date": "Locking Date",
    "event_date": "Event Date",
}


def index_actions(table: Table) -> ActionsIndex:
    """Index an Actions export. Two columns for one field (``State`` beside ``Status``, ``Oid``
    beside ``Order Id``, ``Action Id`` beside ``ActionId``) are refused when their values
    differ (ShapeError naming both) and read once, with a note, when they are the same."""
    from .detect import refuse_twins

    labels = list(table.frame.columns)
    written = (
        dict(zip(labels, table.header, strict=True)) if len(table.header) == len(labels) else {}
    )
    key_of = {lab: header_key(written.get(lab, lab)) for lab in labels}
    fields: dict[str, str] = {}
    twins: dict[str, list[str]] = {}
    for name, aliases in ACTIONS_FIELDS.items():
        keys = [header_key(a) for a in aliases]
        hit = next((lab for k in keys for lab in labels if key_of[lab] == k), None)
        if hit is None or hit in fields.values():
            continue
        fields[name] = hit
        same = {key_of[hit]} if name in _PREFERRED else set(keys)
        group = [hit, *(lab for lab in labels if lab != hit and key_of[lab] in same)]
        if len(group) > 1:
            twins[_SHOWN.get(name, name)] = group
    notes = tuple(refuse_twins(table, twins))
    if "action_id" not in fields and "oid" not in fields:
        raise ShapeError(
            "is not an Actions export: it has no Action Id or Oid column (export the Actions "
            "report from impact.com as CSV or XLSX)",
            path=table.path,
        )
    f = table.frame

    def col(name: str) -> pd.Series:
        label = fields.get(name)
        if label is None:
            return pd.Series([""] * len(f), index=f.index, dtype=object)
        return f[label].astype(str)

    # Text kept as read (Arrow's strings, pandas' ``str``): a million-row export's columns
    # are stripped and keyed by Arrow's kernels, and no Python string is made a value until
    # a value is asked for.
    ids = {name: col(name).str.strip() for name in ("action_id", "oid", "action_tracker_id")}
    keyed = {
        "k_action_id": id_key(ids["action_id"]),
        "k_oid": id_key(ids["oid"]),
        "k_tracker": id_key(ids["action_tracker_id"]),
    }
    frame = pd.DataFrame(
        {
            **{name: values.array for name, values in ids.items()},
            "state": col("state").str.strip().str.upper().array,
            "amount": col("amount").str.strip().array,
            # As they are (a million dates made Timestamps one by one and back took seconds).
            "locking_date": _dates(col("locking_date")).array,
            "event_date": _dates(col("event_date")).array,
            "line": np.asarray(table.lines),
            **{name: keys.array for name, keys in keyed.items()},
        }
    )
    return ActionsIndex(frame=frame, path=str(table.path), notes=notes, _keyed=keyed)


def newest(actions: pd.DataFrame) -> pd.Series | None:
    """The action the Oid + ActionTrackerId path changes: the newest one (impact-reference §1.1)."""
    if actions.empty:
        return None
    if len(actions) == 1:
        return actions.iloc[0]
    if actions["event_date"].notna().any():
        return actions.sort_values("event_date", kind="stable").iloc[-1]
    # Without dates, the dotted IDs' last number grows with time; fall back to the last listed.
    return actions.iloc[-1]


LOCKED_STATES: tuple[str, ...] = ("APPROVED", "LOCKED")


def lock_states(
    states: Sequence[str] | np.ndarray,
    locking: Sequence[object] | np.ndarray | pd.Series,
    today: date,
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """Per action: (locked, past its locking date, APPROVED or LOCKED). An action is locked
    once its locking date has passed (before ``today``, UTC) or once it is approved or locked;
    an unknown locking date leaves only the state to say. Dates already UTC instants (an
    export's column) are compared as they are; others are read first."""
    state = pd.Series(np.asarray(states, dtype=object), dtype=object)
    given = locking if isinstance(locking, pd.Series) else pd.Series(list(locking))
    if isinstance(given.dtype, pd.DatetimeTZDtype):
        when = given.dt.tz_convert("UTC")
    else:
        when = pd.to_datetime(pd.Series(np.asarray(locking)), utc=True)
    passed = (when < pd.Timestamp(today, tz="UTC")).to_numpy(dtype=bool)  # NaT: False
    # A state that is not text is no state ("nan", "None" are not APPROVED or LOCKED).
    approved = state.isin(LOCKED_STATES).to_numpy(dtype=bool)
    return passed | approved, passed, approved


def is_locked(action: pd.Series, today: date) -> bool:
    """One action of an ``ActionsIndex`` frame is locked (see ``lock_states``)."""
    locked, _passed, _approved = lock_states([action["state"]], [action["locking_date"]], today)
    return bool(locked[0])
