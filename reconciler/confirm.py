"""Confirm what was applied: each record of a modification file against what the platform
shows changed (``updates.Updates``), a third source beside the file and the results.

impact.com lists only errors; a record without one is presumed applied. The ActionUpdates
feed (or an Actions export) says what actually happened to the action a record names:

- ``confirmed``: the change asked for is there: Amount 0 → the action is REVERSED; a new total
  → the action's amount equals it (the ``Amount`` shown, or its changes added up from its first
  one), or, when no amount can be worked out, the Reason appears as the Disposition; an item
  → a change of that SKU to that quantity;
- ``not_applied``: no change of the action after the submission;
- ``differs``: a change, but not the one asked for (``PlatformShows`` says what there is);
- ``changed_since``: applied, then changed again;
- ``not_in_updates``: the updates do not cover the record (the action is not listed, its Oid
  names several actions, or the file is of a kind the updates cannot confirm).

Inputs that do not fit (updates that name none of the file's actions, or that end before the
submission) are said in a note and every record is ``not_in_updates``, never ``not_applied``.
An action the updates do not list is ``not_in_updates`` unless ``complete`` (the updates list
every change of the file's actions in their window), when it is ``not_applied``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .classify import TextColumn
from .detect import SentSchema
from .fixes import amount_numbers
from .model import Table, text_column
from .normalize import arrow_strings, id_key, id_key_arrow, key_part
from .templates import MODIFICATION_TEMPLATES, Template
from .updates import Updates, UpdatesKind


class Confirmation(StrEnum):
    CONFIRMED = "confirmed"
    NOT_APPLIED = "not_applied"
    DIFFERS = "differs"
    CHANGED_SINCE = "changed_since"
    NOT_IN_UPDATES = "not_in_updates"


CONFIRMATIONS: tuple[str, ...] = tuple(str(c) for c in Confirmation)
# A record's status as a number: its place here ("" is 0: not confirmed at all).
STATUSES: tuple[str, ...] = ("", *CONFIRMATIONS)
STATUS_CODE: dict[str, int] = {c: i for i, c in enumerate(STATUSES)}
_STATUS_CATEGORIES = pd.Index(STATUSES, dtype=object)
REVERSED = "REVERSED"
_CENT = 0.005


@dataclass(frozen=True, slots=True, eq=False)
class Confirmed:
    """Per record: ``status`` (a ``Confirmation`` value, "" when not confirmed at all; its
    codes are places in ``STATUSES``) and ``shows`` (what the platform shows, for the records
    whose change is not as asked); the run's ``notes`` (said among the warnings) and what the
    updates covered."""

    status: pd.Categorical
    shows: pd.Categorical
    notes: tuple[str, ...]
    submitted: str  # ISO 8601, "" when unknown
    first_update: str
    last_update: str
    kind: str
    files: tuple[str, ...] = ()


class _Shows(TextColumn):
    """What the platform shows, per record, set as an object array's elements are (a text,
    or a text each for rows by number) and kept as codes into its distinct texts: a few
    dozen texts repeat over a million records."""

    def __setitem__(self, where: Any, value: str | Sequence[str] | np.ndarray) -> None:
        if isinstance(value, str):
            self.codes[where] = self.code(value)
        else:
            at = np.asarray(where)
            rows = np.flatnonzero(at) if at.dtype == bool else at.astype(np.int64)
            self.put(rows, np.asarray(value, dtype=object))


def confirm(
    sent: Table,
    schema: SentSchema,
    updates: Updates,
    *,
    submitted: pd.Timestamp | None,
    complete: bool = False,
    known: Mapping[str, pd.Series] | None = None,
) -> Confirmed:
    """Confirm every record of ``sent`` against ``updates`` (see the module's words).
    ``known``: the records' identifier keys (``normalize.id_key``) worked out already, by
    field."""
    known = known or {}
    n = sent.records
    # Statuses as numbers while they are worked out (``STATUSES``): a million records are
    # compared and counted without a string a record.
    status = np.zeros(n, dtype=np.int8)
    shows = _Shows(n)
    notes: list[str] = []
    frame = updates.frame
    first = _iso(updates.first)
    last = _iso(updates.last)

    def done(extra: str = "") -> Confirmed:
        return Confirmed(
            pd.Categorical.from_codes(status, categories=_STATUS_CATEGORIES),
            shows.categorical(), (*notes, *([extra] if extra else [])), _iso(submitted), first, last,
            str(updates.kind), tuple(Path(p).name for p in updates.paths),
        )  # fmt: skip

    if schema.template not in MODIFICATION_TEMPLATES or schema.template is Template.RESET:
        notes.append(
            f"--updates confirms modification and reversal files; this is a {schema.template} "
            "file, so no record is confirmed"
        )
        return done()
    aid = _keys(sent, schema, "action_id", known)
    codes, by_id = _update_actions(frame, aid)
    action, ambiguous = _actions_of(sent, schema, frame, codes, aid, by_id, known)
    named = action >= 0
    status[:] = STATUS_CODE[Confirmation.NOT_IN_UPDATES]
    shows[:] = "the updates do not list this action"
    names = _names_something(sent, schema)
    shows[~names] = "the row names no action"
    shows[ambiguous] = "its Oid names several actions in the updates"
    shows[named] = ""
    if not named.any():
        campaigns = sorted({c for c in frame["campaign"].tolist() if c})[:3]
        which = f" (their campaigns: {', '.join(campaigns)})" if campaigns else ""
        return done(
            f"the updates ({len(frame):,} rows) name none of this file's actions{which}: they "
            "look like another campaign's or another period's, so nothing is confirmed; "
            "give the updates of this file's campaign after its submission"
        )
    ended = updates.last
    if submitted is not None and ended is not None and ended < submitted:
        return done(
            f"the updates end on {last[:10]}, before the submission on {_iso(submitted)[:10]}: "
            "they cannot show whether it applied; get the updates from the submission on"
        )
    if submitted is None and updates.kind is UpdatesKind.UPDATES:
        notes.append(
            "the submission's date is unknown (the results do not give it): every change the "
            "updates list counts as made after it; give --submitted DATE to be exact"
        )
    if updates.undated and updates.kind is UpdatesKind.UPDATES:
        many = updates.undated > 1
        shown = updates.undated_example
        shown = shown if len(shown) <= 40 else shown[:40] + "..."
        notes.append(
            f"{updates.undated:,} row{'s' if many else ''} of the updates "
            f"{'have an UpdateDate that is' if many else 'has an UpdateDate that is'} not a "
            f"date (such as {shown!r}): "
            f"{'they count' if many else 'it counts'} as made after the submission; "
            "check the export if a verdict rests on one"
        )
    if not complete:
        unlisted = int((~named & ~ambiguous & names).sum())
        if unlisted:
            notes.append(
                f"{unlisted:,} record{'s name' if unlisted > 1 else ' names'} an action the "
                "updates do not list: not_in_updates "
                "(with --updates-complete, when the updates hold every change of the window, "
                "they are not_applied)"
            )
    elif updates.kind is UpdatesKind.UPDATES:
        unlisted_rows = ~named & ~ambiguous & names
        status[unlisted_rows] = STATUS_CODE[Confirmation.NOT_APPLIED]
        shows[unlisted_rows] = "no change listed"
    if updates.kind is UpdatesKind.ACTIONS:
        _against_state(sent, schema, frame, codes, action, status, shows)
    else:
        _against_changes(sent, schema, frame, codes, action, submitted, status, shows)
    return done()


def _iso(when: pd.Timestamp | None) -> str:
    if when is None or pd.isna(when):
        return ""
    return str(when.isoformat()).replace("+00:00", "Z")


def _names_something(sent: Table, schema: SentSchema) -> np.ndarray:
    out = np.zeros(sent.records, dtype=bool)
    for field in ("action_id", "oid"):
        label = schema.column(field)
        if label is not None:
            out |= (sent.frame[label].astype(str).str.strip() != "").to_numpy(dtype=bool)
    return out


def _keys(sent: Table, schema: SentSchema, field: str, known: Mapping[str, pd.Series]) -> pa.Array:
    """A sent identifier column as ``id_key`` compares it ("" where the file has none); from
    ``known`` when it holds it."""
    label = schema.column(field)
    if label is None:
        return pa.repeat(pa.scalar("", pa.string()), sent.records)
    if field in known:
        return _text(known[field])
    arr = pc.cast(arrow_strings(sent.frame[label]).combine_chunks(), pa.string())
    return pc.cast(id_key_arrow(pc.fill_null(arr, "")), pa.string())


def _flags(values: pa.Array) -> np.ndarray:
    return np.asarray(values.fill_null(False).to_numpy(zero_copy_only=False), dtype=bool)


def _text(values: pd.Series) -> pa.Array:
    return pc.cast(arrow_strings(values).combine_chunks(), pa.string())


def _update_actions(frame: pd.DataFrame, aid: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Per updates row: the number of its action (its ActionId, else its Oid with its
    ActionTrackerId), numbered by first appearance; and per record, the number of the
    action its ActionId (``aid``, as ``_keys`` gives it) names, -1 when the updates do not
    list it. One hash pass over both: an ActionId first seen among the records is numbered
    after every action of the updates.

    An ActionId is keyed as ``normalize.key_part`` writes it (``\\`` and ``|`` escaped), an
    order as ``|<Oid>|<ActionTrackerId>`` (the Oid escaped alike): no ActionId starts with a
    bare ``|``, and no Oid runs into its tracker, so two rows share a number only when they
    name the same identifiers."""
    k_action = key_part(_text(frame["k_action"]))
    # The rows without an ActionId are keyed by their order: only they are joined.
    by_order = pc.equal(k_action, "")
    keys = k_action
    if pc.any(by_order).as_py():
        rows = pa.array(np.flatnonzero(_flags(by_order)))
        oid = key_part(_text(frame["k_oid"]).take(rows))
        orders = pc.binary_join_element_wise(
            "|", oid, "|", _text(frame["k_tracker"]).take(rows), ""
        )
        keys = pc.replace_with_mask(k_action, by_order, pc.cast(orders, k_action.type))
    keys = pc.cast(keys, pa.string())
    # Only the records that have an ActionId are looked up (the others name none).
    named = np.flatnonzero(_flags(pc.not_equal(aid, "")))
    asked = key_part(aid.take(pa.array(named)))
    # Large strings: one array of both sides may pass the 2 GB a string array can hold.
    both_keys = [pc.cast(keys, pa.large_string()), pc.cast(asked, pa.large_string())]
    encoded = pc.dictionary_encode(pa.concat_arrays(both_keys))
    both = np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
    codes, found = both[: len(keys)], both[len(keys) :]
    listed = int(codes.max()) + 1 if len(codes) else 0
    by_id = np.full(len(aid), -1, dtype=np.int64)
    by_id[named] = np.where(found < listed, found, -1)
    return codes, by_id


def _actions_of(
    sent: Table,
    schema: SentSchema,
    frame: pd.DataFrame,
    codes: np.ndarray,
    aid: pa.Array,
    by_id: np.ndarray,
    known: Mapping[str, pd.Series],
) -> tuple[np.ndarray, np.ndarray]:
    """Per record: the number of the action it names among the updates' actions (-1: none),
    and whether its Oid names several. The updates' action of a row is its ActionId, else
    its Oid (with its ActionTrackerId when given)."""
    oid = _keys(sent, schema, "oid", known)
    trk = _keys(sent, schema, "action_tracker_id", known)
    n = sent.records
    action = np.full(n, -1, dtype=np.int64)
    ambiguous = np.zeros(n, dtype=bool)
    has_aid = np.asarray(pc.not_equal(aid, "").to_numpy(zero_copy_only=False), dtype=bool)
    action[has_aid] = by_id[has_aid]
    # Oid (+ ActionTrackerId): the actions the updates list for that order.
    has_oid = np.asarray(pc.not_equal(oid, "").to_numpy(zero_copy_only=False), dtype=bool)
    rest = np.flatnonzero(~has_aid & has_oid)
    u_oid = _text(frame["k_oid"])
    u_trk = _text(frame["k_tracker"])
    listed = np.asarray(pc.not_equal(u_oid, "").to_numpy(zero_copy_only=False), dtype=bool)
    if len(rest) and listed.any():
        with_tracker = bool(pc.any(pc.not_equal(u_trk, "")).as_py())
        # With trackers, the Oid escaped (``normalize.key_part``): no Oid runs into its tracker.
        u_key = pc.binary_join_element_wise(key_part(u_oid), u_trk, "|") if with_tracker else u_oid
        r_oid, r_trk = oid.take(pa.array(rest)), trk.take(pa.array(rest))
        r_key = pc.binary_join_element_wise(key_part(r_oid), r_trk, "|") if with_tracker else r_oid
        rows = np.flatnonzero(listed)
        # The orders the updates list and the records' orders numbered in one hash pass (an
        # order first seen among the records is numbered after every listed one).
        listed_keys = pc.cast(u_key.take(pa.array(rows)), pa.string())
        both_keys = [pc.cast(listed_keys, pa.large_string()), pc.cast(r_key, pa.large_string())]
        encoded = pc.dictionary_encode(pa.concat_arrays(both_keys))
        both = np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
        order_codes, at = both[: len(rows)], both[len(rows) :]
        orders = int(order_codes.max()) + 1
        at = np.where(at < orders, at, -1)
        count, first = _order_actions(order_codes, codes[rows], orders)
        hit = at >= 0
        n_actions = np.zeros(len(rest), dtype=np.int64)
        n_actions[hit] = count[at[hit]]
        one = n_actions == 1
        action[rest[one]] = first[at[one]]
        ambiguous[rest[n_actions > 1]] = True
    return action, ambiguous


def _order_actions(
    order: np.ndarray, action: np.ndarray, orders: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per order (``0`` to ``orders - 1``): how many distinct actions the rows list for it
    (row ``k`` lists ``action[k]`` for ``order[k]``), and the first one listed (-1: none).
    Each (order, action) pair is one number, found once, as pairs first come."""
    count = np.zeros(orders, dtype=np.int64)
    first = np.full(orders, -1, dtype=np.int64)
    if not len(order):
        return count, first
    width = int(action.max()) + 1
    pair = pd.unique(np.asarray(order, dtype=np.int64) * width + action)
    pair_order, pair_action = pair // width, pair % width
    count += np.bincount(pair_order, minlength=orders)
    listed, at = np.unique(pair_order, return_index=True)  # each order's first pair
    first[listed] = pair_action[at]
    return count, first


def _amounts(sent: Table, schema: SentSchema) -> np.ndarray:
    """Per record: the total asked for (NaN when none)."""
    label = schema.column("amount")
    if label is None:
        return np.full(sent.records, np.nan)
    return amount_numbers(sent.frame[label].astype(str).str.strip())


def _reasons(sent: Table, schema: SentSchema, records: np.ndarray) -> np.ndarray:
    """The Reason sent (upper case) of each record at ``records``."""
    label = schema.column("reason")
    if label is None:
        return text_column(len(records), "")
    taken = sent.frame[label].iloc[records]
    return taken.astype(str).str.strip().str.upper().to_numpy(dtype=object)


def _against_state(
    sent: Table,
    schema: SentSchema,
    frame: pd.DataFrame,
    codes: np.ndarray,
    action: np.ndarray,
    status: np.ndarray,
    shows: _Shows,
) -> None:
    """An Actions export: the action as it is now against the change asked for (when it was
    made cannot be known, so neither not_applied nor changed_since)."""
    if schema.template is Template.ITEM_MODIFICATION:
        shows[action >= 0] = "an Actions export lists no items: give the ActionUpdates"
        return
    last = pd.Series(np.arange(len(frame)), index=codes).groupby(level=0).last()
    row = np.full(len(action), -1, dtype=np.int64)
    at = np.flatnonzero(action >= 0)
    row[at] = last.reindex(action[at]).to_numpy()
    named = at
    amount = _amounts(sent, schema)
    state = frame["state"].to_numpy(dtype=object)
    now = frame["amount"].to_numpy(dtype=np.float64)
    reversal = amount == 0
    r = row[named]
    got_state = state[r]
    got_amount = now[r]
    ok = np.where(
        reversal[named],
        got_state == REVERSED,
        np.abs(got_amount - amount[named]) < _CENT,
    )
    unknown = ~reversal[named] & (np.isnan(got_amount) | np.isnan(amount[named]))
    status[named] = np.where(
        unknown,
        STATUS_CODE[Confirmation.NOT_IN_UPDATES],
        np.where(ok, STATUS_CODE[Confirmation.CONFIRMED], STATUS_CODE[Confirmation.DIFFERS]),
    )
    bad = named[~ok & ~unknown]
    shows[bad] = _describe_states(state[row[bad]], now[row[bad]])
    shows[named[unknown]] = "the export shows no amount for it"


def _describe_states(state: np.ndarray, amount: np.ndarray) -> np.ndarray:
    """``_describe_state`` of each (state, amount), each distinct pair worded once (an
    export that predates the batch differs on most records, in a few states and amounts)."""
    if not len(state):
        return np.array([], dtype=object)
    # A NaN's bits stand for it (NaN equals nothing), and -0.00 is not 0.00.
    bits = np.asarray(amount, dtype=np.float64).view(np.int64)
    group = _distinct_rows([pd.factorize(state, use_na_sentinel=False)[0], pd.factorize(bits)[0]])
    firsts = np.flatnonzero(np.diff(np.maximum.accumulate(group), prepend=-1) > 0)
    words = [_describe_state(state[i], float(amount[i])) for i in firsts.tolist()]
    described: np.ndarray = np.array(words, dtype=object)[group]
    return described


def _describe_state(state: object, amount: float) -> str:
    parts = [f"State {state}" if state else ""]
    if not np.isnan(amount):
        parts.append(f"Amount {amount:,.2f}")
    return ", ".join(p for p in parts if p) or "no state"


def _against_changes(
    sent: Table,
    schema: SentSchema,
    frame: pd.DataFrame,
    codes: np.ndarray,
    action: np.ndarray,
    submitted: pd.Timestamp | None,
    status: np.ndarray,
    shows: _Shows,
) -> None:
    """The ActionUpdates feed: the changes of each record's action after the submission."""
    order = np.lexsort(
        (
            np.arange(len(frame)),
            frame["seq"].to_numpy(),
            _instants(frame["date"]),
            codes,
        )
    )
    # The columns the verdicts read, in that order (the keys and Ids are done with).
    u = frame[list(_CHANGE_COLUMNS)].iloc[order].reset_index(drop=True)
    u_code = codes[order]
    u["amount_after"] = _amount_after(u, u_code)
    after = np.ones(len(u), dtype=bool)
    if submitted is not None:
        dates = u["date"]
        after = (dates.isna() | (dates >= submitted)).to_numpy(dtype=bool)
    named = np.flatnonzero(action >= 0)
    # Every record with each change of its action (records naming the same action share them).
    r_all, u_all = _changes_of(named, action[named], u_code)
    after_all = after[u_all]
    # Per record (the rows are sorted by record): whether any of its changes came after.
    starts = _group_starts(r_all)
    some_after = np.logical_or.reduceat(after_all, starts)
    before_only = r_all[starts][~some_after]
    status[before_only] = STATUS_CODE[Confirmation.NOT_APPLIED]
    if len(before_only):
        # Every change of such a record came before: its last change ends its rows.
        ends = np.append(starts[1:], len(r_all)) - 1
        day, days = _day_codes(u, u_all[ends[~some_after]])
        words = [
            "no change after the submission" + (f" (its last change: {d})" if d else "")
            for d in days
        ]
        shows[before_only] = np.array(words, dtype=object)[day]
    j = pd.DataFrame({"r": r_all[after_all], "u": u_all[after_all]})
    if not len(j):
        return
    if schema.template is Template.ITEM_MODIFICATION:
        _items(sent, schema, u, j, status, shows)
    else:
        _totals(sent, schema, u, j, status, shows)


def _changes_of(
    records: np.ndarray, actions: np.ndarray, u_code: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Each record (``records``, ascending) with each change of its action (``actions``):
    the record and the change's row, by record, then row. The changes (``u_code``, one
    action number a row) are sorted by action, so an action's changes are one run of rows:
    the pairs are counted out, not joined and sorted (a third of a second a million)."""
    listed = int(u_code.max()) + 1 if len(u_code) else 0
    per_action = np.bincount(u_code, minlength=listed)
    first_row = np.cumsum(per_action) - per_action
    count = per_action[actions]
    # Within each record's run: its action's first row, then the next ones (the pair's
    # place, less where the record's run starts, plus where its action's rows start).
    shift = first_row[actions] - (np.cumsum(count) - count)
    u = np.repeat(shift, count)
    u += np.arange(len(u))
    return np.repeat(records, count), u


_CHANGE_COLUMNS = ("state", "disposition", "delta", "amount", "sku", "quantity", "date", "seq")


def _instants(dates: pd.Series) -> np.ndarray:
    """Dates (UTC) as integers that sort as they do; a missing date first."""
    naive = pd.Series(dates).dt.tz_convert(None) if len(dates) else dates
    return np.asarray(naive.to_numpy(), dtype="datetime64[ns]").view(np.int64)


def _days(u: pd.DataFrame, rows: np.ndarray) -> list[str]:
    """The day (``2026-11-05``) of each change at ``rows`` (UTC); "" where unknown."""
    day, days = _day_codes(u, rows)
    return [days[d] for d in day.tolist()]


def _day_codes(u: pd.DataFrame, rows: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """``_days`` as a number per change into a list of distinct days: changes come on few
    days, so each is written once."""
    taken = pd.to_datetime(u["date"].iloc[rows.astype(np.int64)], utc=True)
    instants = taken.dt.tz_convert(None).to_numpy(dtype="datetime64[us]")
    known = ~np.isnat(instants)
    days = instants.astype("datetime64[D]")
    if known.any() and days[known].min() >= _FIRST_DAY and days[known].max() <= _LAST_DAY:
        # NumPy's days, as strftime("%Y-%m-%d") writes them for four-digit years.
        distinct, day = np.unique(days, return_inverse=True)
        written = np.datetime_as_string(distinct, unit="D").tolist()
        unknown = np.isnat(distinct).tolist()
        return day.reshape(-1), ["" if no else w for no, w in zip(unknown, written, strict=True)]
    days_of = taken.dt.strftime("%Y-%m-%d")
    day, distinct_of = pd.factorize(pd.Series(days_of.to_numpy(dtype=object), dtype=object))
    out = ["" if d is None or d != d else str(d) for d in distinct_of.tolist()]
    if (day < 0).any():  # a missing day (NaN): its own code
        day = np.where(day < 0, len(out), day)
        out.append("")
    return day, out


_FIRST_DAY = np.datetime64("1000-01-01", "D")
_LAST_DAY = np.datetime64("9999-12-31", "D")


def _amount_after(u: pd.DataFrame, code: np.ndarray) -> np.ndarray:
    """The action's amount after each change: ``Amount`` where the feed gives it, else the
    changes added up from the action's first one (``<ActionId>.1``) when the feed holds it;
    NaN where it cannot be known."""
    amount = u["amount"].to_numpy(dtype=np.float64).copy()
    delta = u["delta"].to_numpy(dtype=np.float64)
    missing = np.isnan(amount)
    if not missing.any() or np.isnan(delta).all():
        return amount  # the feed gives every Amount (as the API does), or no change to add
    # Whether the feed holds the action's first change, for each of its rows.
    holds_first = np.zeros(int(code.max()) + 1 if len(code) else 0, dtype=bool)
    holds_first[code[u["seq"].to_numpy() == 1]] = True
    fill = missing & holds_first[code]
    if not fill.any():
        return amount
    # The changes added up only over the actions that have an Amount to fill.
    wanted = np.zeros(len(holds_first), dtype=bool)
    wanted[code[fill]] = True
    rows = np.flatnonzero(wanted[code])
    running = pd.Series(np.nan_to_num(delta[rows])).groupby(code[rows]).cumsum().to_numpy()
    amount[rows] = np.where(fill[rows], running, amount[rows])
    return amount


def _totals(
    sent: Table,
    schema: SentSchema,
    u: pd.DataFrame,
    j: pd.DataFrame,
    status: np.ndarray,
    shows: _Shows,
) -> None:
    """Order-level rows: Amount 0 is a reversal, another Amount a new total."""
    amount = _amounts(sent, schema)
    r = j["r"].to_numpy()
    rows = j["u"].to_numpy()
    # The states as numbers (equal numbers, equal states), once for the whole feed: no
    # text taken a row.
    encoded = pc.dictionary_encode(_text(u["state"]))
    states = np.asarray(encoded.indices, dtype=np.int64)[rows]
    reversed_ = states == encoded.dictionary.index(REVERSED).as_py()
    after_amount = u["amount_after"].to_numpy(dtype=np.float64)[rows]
    asked = amount[r]
    reversal = asked == 0
    known = ~np.isnan(after_amount) & ~np.isnan(asked)
    by_amount = known & (np.abs(after_amount - asked) < _CENT)
    by_reason = np.zeros(len(r), dtype=bool)
    maybe = np.flatnonzero(~known & ~reversed_)
    if len(maybe):  # no amount to compare: the Reason shown as the Disposition
        disposition = pc.utf8_upper(_text(u["disposition"]).take(pa.array(rows[maybe])))
        wanted = pa.array(_reasons(sent, schema, r[maybe]), pa.string())
        by_reason[maybe] = _flags(pc.and_(pc.not_equal(wanted, ""), pc.equal(disposition, wanted)))
    match = np.where(reversal, reversed_, by_amount | by_reason)
    _settle(j, match, u, states, status, shows)


def _items(
    sent: Table,
    schema: SentSchema,
    u: pd.DataFrame,
    j: pd.DataFrame,
    status: np.ndarray,
    shows: _Shows,
) -> None:
    """Item-level rows: every SKU of the record must show a change to the quantity asked."""
    skus = schema.item_columns("sku")
    qtys = schema.item_columns("quantity")
    r = j["r"].to_numpy()
    rows = j["u"].to_numpy()
    u_sku = id_key(u["sku"].astype(str)).to_numpy(dtype=object)[rows]
    u_qty = id_key(u["quantity"].astype(str)).to_numpy(dtype=object)[rows]
    records = np.unique(r)
    all_ok = np.ones(sent.records, dtype=bool)
    any_item = np.zeros(sent.records, dtype=bool)
    changed = np.zeros(sent.records, dtype=bool)
    missing: dict[int, list[str]] = {}
    for sku_label, qty_label in zip(skus, qtys, strict=False):
        want_sku = id_key(sent.frame[sku_label].astype(str)).to_numpy(dtype=object)
        want_qty = id_key(sent.frame[qty_label].astype(str)).to_numpy(dtype=object)
        present = want_sku != ""
        any_item |= present
        same_sku = u_sku == want_sku[r]
        match = same_sku & (u_qty == want_qty[r])
        hit = pd.Series(match).groupby(r).any().reindex(records, fill_value=False)
        ok = hit.to_numpy(dtype=bool) | ~present[records]
        all_ok[records] &= ok
        # Changed since: a later change of the same SKU to another quantity.
        first = pd.Series(np.where(match, np.arange(len(r)), len(r))).groupby(r).min()
        later = same_sku & ~match & (np.arange(len(r)) > first.reindex(r).to_numpy())
        changed[np.unique(r[later])] = True
        for rec in records[~ok]:
            missing.setdefault(int(rec), []).append(f"{want_sku[rec]} x {want_qty[rec]}")
    settled = records[any_item[records]]
    good = settled[all_ok[settled]]
    status[good] = STATUS_CODE[Confirmation.CONFIRMED]
    status[good[changed[good]]] = STATUS_CODE[Confirmation.CHANGED_SINCE]
    shows[good[changed[good]]] = "a SKU changed again after the change asked for"
    bad = settled[~all_ok[settled]]
    status[bad] = STATUS_CODE[Confirmation.DIFFERS]
    seen: dict[int, list[str]] = {}
    in_bad = np.isin(r, bad)
    for rec, sku, qty in zip(r[in_bad].tolist(), u_sku[in_bad], u_qty[in_bad], strict=True):
        items = seen.setdefault(int(rec), [])
        if len(items) < 4:
            items.append(f"{sku or 'no SKU'} x {qty or '?'}")
    for rec in bad:
        shown = ", ".join(seen.get(int(rec), [])) or "no item"
        shows[rec] = (
            f"no change to {', '.join(missing.get(int(rec), []))}; the updates show {shown}"
        )


def _settle(
    j: pd.DataFrame,
    match: np.ndarray,
    u: pd.DataFrame,
    state: np.ndarray,
    status: np.ndarray,
    shows: _Shows,
) -> None:
    """Per record from its changes after the submission (in order) and which of them made
    the change asked for: confirmed, changed_since (a later change undid or altered it), or
    differs (none did). ``state``: each change's state as a number (equal numbers, equal
    states)."""
    r = j["r"].to_numpy()
    rows = j["u"].to_numpy()
    pos = np.arange(len(r))
    # Per record (the rows are sorted by record, then change): its first matching row
    # (len(r): none) and its last row.
    starts = _group_starts(r)
    records = r[starts]
    first_at = np.minimum.reduceat(np.where(match, pos, len(r)), starts)
    last_at = np.append(starts[1:], len(r)) - 1
    matched = first_at < len(r)
    delta = u["delta"].to_numpy(dtype=np.float64)[rows]
    moved = _moved_since(starts, first_at, delta, state)
    ok = records[matched & ~moved]
    again = records[matched & moved]
    differs = records[~matched]
    status[ok] = STATUS_CODE[Confirmation.CONFIRMED]
    status[again] = STATUS_CODE[Confirmation.CHANGED_SINCE]
    status[differs] = STATUS_CODE[Confirmation.DIFFERS]
    shows.set(
        again,
        *_changes_worded(
            u, rows[last_at[np.flatnonzero(matched & moved)]], "applied, then changed: "
        ),
    )
    shows.set(differs, *_changes_worded(u, rows[last_at[np.flatnonzero(~matched)]]))


def _moved_since(
    starts: np.ndarray, first_at: np.ndarray, delta: np.ndarray, state: np.ndarray
) -> np.ndarray:
    """Per record (its rows from ``starts``, its matching row at ``first_at``, ``len(delta)``
    for none): whether a later change of its action moves the amount, or the state away from
    the matched one. Whole columns at a time: a feed lists several changes of most actions
    (the change asked for, then its approval, its locking...), and a step a record took
    about a second a hundred thousand records."""
    n = len(delta)
    if not n:
        return np.zeros(len(starts), dtype=bool)
    sizes = np.diff(np.append(starts, n))
    anchor = np.repeat(first_at, sizes)  # per row: its record's matching row (n: none)
    later = np.arange(n) > anchor
    anchor_state = state[np.minimum(anchor, n - 1)]
    moves = later & ((np.nan_to_num(delta) != 0) | (state != anchor_state))
    return np.asarray(np.logical_or.reduceat(moves, starts), dtype=bool)


def _group_starts(keys: np.ndarray) -> np.ndarray:
    """Where each run of equal values of a sorted array starts."""
    if not len(keys):
        return np.zeros(0, dtype=np.intp)
    return np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))


def _describe_changes(u: pd.DataFrame, rows: np.ndarray) -> np.ndarray:
    """Each change at ``rows`` in words: ``State REVERSED, Amount 0.00 (-45.00), Disposition
    ITEM_RETURNED on 2026-11-05``."""
    ids, texts = _changes_worded(u, rows)
    return np.array(texts, dtype=object)[ids] if len(ids) else np.array([], dtype=object)


def _changes_worded(
    u: pd.DataFrame, rows: np.ndarray, prefix: str = ""
) -> tuple[np.ndarray, list[str]]:
    """``_describe_changes`` as each row's number into a list of distinct texts (each
    preceded by ``prefix``): a change recurs on many records, so each is worded once and no
    text is made a record."""
    rows = np.asarray(rows, dtype=np.int64)
    if not len(rows):
        return np.zeros(0, dtype=np.intp), []
    after = u["amount_after"].to_numpy(dtype=np.float64)[rows]
    delta = u["delta"].to_numpy(dtype=np.float64)[rows]
    # Each distinct change (its day aside) worded once, told apart by numbers, not by text
    # objects a row: its state and disposition by their codes, its amounts by their bits (a
    # NaN's bits stand for it, as NaN equals nothing; -0.00 is not 0.00).
    state, states = pd.factorize(u["state"].iloc[rows], use_na_sentinel=False)
    disposition, dispositions = pd.factorize(u["disposition"].iloc[rows], use_na_sentinel=False)
    amount, amounts = pd.factorize(after.view(np.int64))
    change, changes = pd.factorize(delta.view(np.int64))
    group = _distinct_rows([state, disposition, amount, change])
    # The groups are numbered as they first come: their first rows, in that order.
    at = np.flatnonzero(np.diff(np.maximum.accumulate(group), prepend=-1) > 0)
    words = _words(
        (np.asarray(states, dtype=object), state[at]),
        (np.asarray(amounts, dtype=np.int64).view(np.float64), amount[at]),
        (np.asarray(changes, dtype=np.int64).view(np.float64), change[at]),
        (np.asarray(dispositions, dtype=object), disposition[at]),
    )
    # Each change with its day worded once (the same change recurs on the same day).
    day, days = _day_codes(u, rows)
    pair, pairs = pd.factorize(group * len(days) + day)
    worded = words.take(pa.array(pairs // len(days)))
    on = pa.array(days, pa.string()).take(pa.array(pairs % len(days)))
    texts = pc.if_else(pc.equal(on, ""), worded, pc.binary_join_element_wise(worded, on, " on "))
    if prefix:
        texts = pc.binary_join_element_wise(pa.scalar(prefix), texts, "")
    return pair, texts.to_pylist()


_Distinct = tuple[np.ndarray, np.ndarray]  # distinct values, and each change's position among them


def _words(
    state: _Distinct, after: _Distinct, delta: _Distinct, disposition: _Distinct
) -> pa.Array:
    """Each change in words, from its state, amount after, DeltaAmount and disposition, each
    given as distinct values and positions into them: ``State REVERSED, Amount 0.00
    (-45.00), Disposition ITEM_RETURNED``, the parts it has in that order, or "a change".
    Each distinct value is written once, in Python; the parts are joined by Arrow (a feed's
    changes are told apart by their amounts: 73,000 texts a million records, a Python call
    each took 0.1 s). A part a change does not have is null, so no separator stands for it."""

    def part(distinct: _Distinct, word: Callable[[Any], str | None]) -> pa.Array:
        values, at = distinct
        return pa.array([word(v) for v in values.tolist()], pa.string()).take(pa.array(at))

    def joined(left: pa.Array, right: pa.Array, separator: str) -> pa.Array:
        # Both parts, or the one given, or null: Arrow's own skipping of nulls drops a row
        # whose parts are all null (pyarrow 26), so the parts are joined two at a time.
        return pc.coalesce(pc.binary_join_element_wise(left, right, separator), left, right)

    said = part(state, lambda st: f"State {st}" if st else None)
    amount = part(after, lambda am: f"Amount {am:,.2f}" if am == am else None)
    # After an amount, the DeltaAmount in brackets; without one, on its own.
    bracketed = part(delta, lambda de: f" ({de:+,.2f})" if de == de else "")
    alone = part(delta, lambda de: f"DeltaAmount {de:+,.2f}" if de == de else None)
    money = pc.coalesce(pc.binary_join_element_wise(amount, bracketed, ""), alone)
    told = part(disposition, lambda di: f"Disposition {di}" if di else None)
    words = joined(joined(said, money, ", "), told, ", ")
    return pc.fill_null(words, "a change")


def _distinct_rows(codes: Sequence[np.ndarray]) -> np.ndarray:
    """Per row, the number of its combination of ``codes`` (one array of non-negative
    numbers per column), numbered as the combinations first come: two columns combined at a
    time and renumbered, so no product outgrows the rows."""
    group = np.asarray(codes[0], dtype=np.int64)
    for code in codes[1:]:
        code = np.asarray(code, dtype=np.int64)
        width = int(code.max()) + 1 if len(code) else 1
        group = np.asarray(pd.factorize(group * width + code)[0], dtype=np.int64)
    return group


_ADVICE = {
    Confirmation.NOT_APPLIED: (
        "No error was reported, but the platform shows no change to this action after the "
        "submission ({shows}): open the action in impact.com, and if the change is missing, "
        "correct the row and resubmit it."
    ),
    Confirmation.DIFFERS: (
        "No error was reported, but the platform shows another change: {shows}. Check the "
        "action in impact.com and correct it by hand if it is not what was meant."
    ),
}
ALREADY_APPLIED = (
    "The platform already shows the change this row asked for (the updates confirm it): "
    "nothing to resubmit."
)


def apply_confirmation(verdict: pd.DataFrame, confirmed: Confirmed) -> pd.DataFrame:
    """The verdicts once the platform has spoken: an accepted record whose change the
    platform does not show (``not_applied``, ``differs``) is for a person to review, with
    advice saying what the platform shows; a rejected record whose change the platform shows
    anyway is never resubmitted (``no_action``)."""
    from .classify import RESOLUTION_CODE, resolution_column
    from .model import Outcome, Resolution

    status = np.asarray(confirmed.status.codes)
    outcome = verdict["Outcome"]
    accepted = (outcome == str(Outcome.ACCEPTED)).to_numpy(dtype=bool)
    rejected = (outcome == str(Outcome.REJECTED)).to_numpy(dtype=bool)
    resolution = np.asarray(verdict["Resolution"].array.codes, dtype=np.int8).copy()
    advice = TextColumn(len(verdict), verdict["Advice"].array)
    for state, text in _ADVICE.items():
        rows = np.flatnonzero(accepted & (status == STATUS_CODE[state]))
        if len(rows):
            resolution[rows] = RESOLUTION_CODE[Resolution.REVIEW]
            # Each distinct thing the platform shows worded once.
            which, shown = pd.factorize(np.asarray(confirmed.shows.codes)[rows])
            texts = confirmed.shows.categories
            words = np.array([text.format(shows=texts[w]) for w in shown.tolist()], dtype=object)
            advice.put(rows, words[which])
    settled = (
        rejected
        & (status == STATUS_CODE[Confirmation.CONFIRMED])
        & (resolution == RESOLUTION_CODE[Resolution.FIX_MANUALLY])
    )
    resolution[settled] = RESOLUTION_CODE[Resolution.NO_ACTION]
    advice.fill(settled, ALREADY_APPLIED)
    out = verdict.copy(deep=False)
    out["Resolution"] = pd.Series(resolution_column(resolution), index=verdict.index)
    out["Advice"] = pd.Series(advice.categorical(), index=verdict.index)
    return out


def confirmation_columns(confirmed: Confirmed | None, n: int) -> dict[str, pd.Categorical]:
    """reconciled.csv's ``Confirmed`` and ``PlatformShows`` (blank without --updates)."""
    if confirmed is None:
        blank = pd.Categorical.from_codes(
            np.zeros(n, dtype=np.int8), categories=pd.Index([""], dtype=object)
        )
        return {"Confirmed": blank, "PlatformShows": blank}
    return {"Confirmed": _present(confirmed.status), "PlatformShows": _present(confirmed.shows)}


def _present(column: pd.Categorical) -> pd.Categorical:
    """``column`` with only the texts that occur, in the order they first do."""
    codes, present = pd.factorize(np.asarray(column.codes))
    texts = column.categories
    return pd.Categorical.from_codes(
        codes, categories=pd.Index([texts[c] for c in present.tolist()], dtype=object)
    )
