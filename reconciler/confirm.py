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

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import numpy as np
import pandas as pd

from .detect import SentSchema
from .fixes import amount_numbers
from .model import Table
from .normalize import id_key
from .templates import MODIFICATION_TEMPLATES, Template
from .updates import Updates, UpdatesKind


class Confirmation(StrEnum):
    CONFIRMED = "confirmed"
    NOT_APPLIED = "not_applied"
    DIFFERS = "differs"
    CHANGED_SINCE = "changed_since"
    NOT_IN_UPDATES = "not_in_updates"


CONFIRMATIONS: tuple[str, ...] = tuple(str(c) for c in Confirmation)
REVERSED = "REVERSED"
_CENT = 0.005


@dataclass(frozen=True, slots=True, eq=False)
class Confirmed:
    """Per record: ``status`` (a ``Confirmation`` value, "" when not confirmed at all) and
    ``shows`` (what the platform shows, for the records whose change is not as asked); the
    run's ``notes`` (said among the warnings) and what the updates covered."""

    status: np.ndarray
    shows: np.ndarray
    notes: tuple[str, ...]
    submitted: str  # ISO 8601, "" when unknown
    first_update: str
    last_update: str
    kind: str
    files: tuple[str, ...] = ()


def confirm(
    sent: Table,
    schema: SentSchema,
    updates: Updates,
    *,
    submitted: pd.Timestamp | None,
    complete: bool = False,
) -> Confirmed:
    """Confirm every record of ``sent`` against ``updates`` (see the module's words)."""
    n = sent.records
    status = np.full(n, "", dtype=object)
    shows = np.full(n, "", dtype=object)
    notes: list[str] = []
    frame = updates.frame
    first = _iso(updates.first)
    last = _iso(updates.last)

    def done(extra: str = "") -> Confirmed:
        return Confirmed(
            status, shows, (*notes, *([extra] if extra else [])), _iso(submitted), first, last,
            str(updates.kind), tuple(Path(p).name for p in updates.paths),
        )  # fmt: skip

    if schema.template not in MODIFICATION_TEMPLATES or schema.template is Template.RESET:
        notes.append(
            f"--updates confirms modification and reversal files; this is a {schema.template} "
            "file, so no record is confirmed"
        )
        return done()
    action, ambiguous = _actions_of(sent, schema, frame)
    named = action >= 0
    status[:] = str(Confirmation.NOT_IN_UPDATES)
    shows[:] = "the updates do not list this action"
    shows[~_names_something(sent, schema)] = "the row names no action"
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
    if not complete:
        unlisted = int((~named & ~ambiguous & _names_something(sent, schema)).sum())
        if unlisted:
            notes.append(
                f"{unlisted:,} record{'s name' if unlisted > 1 else ' names'} an action the "
                "updates do not list: not_in_updates "
                "(with --updates-complete, when the updates hold every change of the window, "
                "they are not_applied)"
            )
    elif updates.kind is UpdatesKind.UPDATES:
        status[~named & ~ambiguous & _names_something(sent, schema)] = str(Confirmation.NOT_APPLIED)
        shows[~named & ~ambiguous & _names_something(sent, schema)] = "no change listed"
    if updates.kind is UpdatesKind.ACTIONS:
        _against_state(sent, schema, frame, action, status, shows)
    else:
        _against_changes(sent, schema, frame, action, submitted, status, shows)
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


def _keys(sent: Table, schema: SentSchema, field: str) -> np.ndarray:
    label = schema.column(field)
    if label is None:
        return np.full(sent.records, "", dtype=object)
    return id_key(sent.frame[label].astype(str)).to_numpy(dtype=object)


def _actions_of(
    sent: Table, schema: SentSchema, frame: pd.DataFrame
) -> tuple[np.ndarray, np.ndarray]:
    """Per record: the number of the action it names among the updates' actions (-1: none),
    and whether its Oid names several. The updates' action of a row is its ActionId, else
    its Oid (with its ActionTrackerId when given)."""
    uk = frame["k_action"].where(
        frame["k_action"] != "", "o:" + frame["k_oid"] + "|" + frame["k_tracker"]
    )
    codes, uniques = pd.factorize(uk)
    frame_code = pd.Series(codes, index=frame.index)
    aid = _keys(sent, schema, "action_id")
    oid = _keys(sent, schema, "oid")
    trk = _keys(sent, schema, "action_tracker_id")
    n = sent.records
    action = np.full(n, -1, dtype=np.int64)
    ambiguous = np.zeros(n, dtype=bool)
    by_id = pd.Index(uniques).get_indexer(pd.Index(aid, dtype=object))
    has_aid = aid != ""
    action[has_aid] = by_id[has_aid]
    # Oid (+ ActionTrackerId): the actions the updates list for that order.
    rest = np.flatnonzero(~has_aid & (oid != ""))
    listed = frame["k_oid"] != ""
    if len(rest) and listed.any():
        with_tracker = (frame["k_tracker"] != "").any()
        keys = ["k_oid", "k_tracker"] if with_tracker else ["k_oid"]
        grouped = (
            pd.DataFrame(
                {"k_oid": frame["k_oid"], "k_tracker": frame["k_tracker"], "a": frame_code}
            )[listed.to_numpy()]
            .groupby(keys, sort=False)["a"]
            .agg(["nunique", "first"])
        )
        asked = pd.DataFrame({"k_oid": oid[rest], "k_tracker": trk[rest]})
        where = grouped.index.get_indexer(
            pd.MultiIndex.from_frame(asked[keys]) if with_tracker else pd.Index(asked["k_oid"])
        )
        hit = where >= 0
        count = np.zeros(len(rest), dtype=np.int64)
        first = np.full(len(rest), -1, dtype=np.int64)
        count[hit] = grouped["nunique"].to_numpy()[where[hit]]
        first[hit] = grouped["first"].to_numpy()[where[hit]]
        one = count == 1
        action[rest[one]] = first[one]
        ambiguous[rest[count > 1]] = True
    return action, ambiguous


def _amounts(sent: Table, schema: SentSchema) -> tuple[np.ndarray, np.ndarray]:
    """Per record: the total asked for (NaN when none) and the Reason sent (upper case)."""
    label = schema.column("amount")
    amount = (
        amount_numbers(sent.frame[label].astype(str).str.strip())
        if label is not None
        else np.full(sent.records, np.nan)
    )
    reason_label = schema.column("reason")
    reason = (
        sent.frame[reason_label].astype(str).str.strip().str.upper().to_numpy(dtype=object)
        if reason_label is not None
        else np.full(sent.records, "", dtype=object)
    )
    return amount, reason


def _against_state(
    sent: Table,
    schema: SentSchema,
    frame: pd.DataFrame,
    action: np.ndarray,
    status: np.ndarray,
    shows: np.ndarray,
) -> None:
    """An Actions export: the action as it is now against the change asked for (when it was
    made cannot be known, so neither not_applied nor changed_since)."""
    if schema.template is Template.ITEM_MODIFICATION:
        shows[action >= 0] = "an Actions export lists no items: give the ActionUpdates"
        return
    uk = frame["k_action"].where(
        frame["k_action"] != "", "o:" + frame["k_oid"] + "|" + frame["k_tracker"]
    )
    codes, _ = pd.factorize(uk)
    last = pd.Series(np.arange(len(frame)), index=codes).groupby(level=0).last()
    row = np.full(len(action), -1, dtype=np.int64)
    at = np.flatnonzero(action >= 0)
    row[at] = last.reindex(action[at]).to_numpy()
    named = at
    amount, _reason = _amounts(sent, schema)
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
        str(Confirmation.NOT_IN_UPDATES),
        np.where(ok, str(Confirmation.CONFIRMED), str(Confirmation.DIFFERS)),
    )
    bad = named[~ok & ~unknown]
    shows[bad] = [_describe_state(state[i], now[i]) for i in row[bad]]
    shows[named[unknown]] = "the export shows no amount for it"


def _describe_state(state: object, amount: float) -> str:
    parts = [f"State {state}" if state else ""]
    if not np.isnan(amount):
        parts.append(f"Amount {amount:,.2f}")
    return ", ".join(p for p in parts if p) or "no state"


def _against_changes(
    sent: Table,
    schema: SentSchema,
    frame: pd.DataFrame,
    action: np.ndarray,
    submitted: pd.Timestamp | None,
    status: np.ndarray,
    shows: np.ndarray,
) -> None:
    """The ActionUpdates feed: the changes of each record's action after the submission."""
    uk = frame["k_action"].where(
        frame["k_action"] != "", "o:" + frame["k_oid"] + "|" + frame["k_tracker"]
    )
    codes, _ = pd.factorize(uk)
    order = np.lexsort(
        (
            np.arange(len(frame)),
            frame["seq"].to_numpy(),
            _instants(frame["date"]),
            codes,
        )
    )
    u = frame.iloc[order].reset_index(drop=True)
    u_code = codes[order]
    u["amount_after"] = _amount_after(u, u_code)
    after = np.ones(len(u), dtype=bool)
    if submitted is not None:
        dates = u["date"]
        after = (dates.isna() | (dates >= submitted)).to_numpy(dtype=bool)
    named = np.flatnonzero(action >= 0)
    # Every record with each change of its action (records naming the same action share them).
    rec = pd.DataFrame({"r": named, "a": action[named]})
    changes = pd.DataFrame({"a": u_code, "u": np.arange(len(u)), "after": after})
    joined = rec.merge(changes, on="a", how="inner", sort=False)
    joined = joined.sort_values(["r", "u"], kind="stable").reset_index(drop=True)
    some_after = joined.groupby("r")["after"].any()
    before_only = some_after.index[~some_after.to_numpy()].to_numpy()
    status[before_only] = str(Confirmation.NOT_APPLIED)
    last_before = joined[~joined["after"]].groupby("r")["u"].last()
    shows[before_only] = [
        "no change after the submission" + _since(u, last_before.get(r)) for r in before_only
    ]
    j = joined[joined["after"]].reset_index(drop=True)
    if not len(j):
        return
    if schema.template is Template.ITEM_MODIFICATION:
        _items(sent, schema, u, j, status, shows)
    else:
        _totals(sent, schema, u, j, status, shows)


def _instants(dates: pd.Series) -> np.ndarray:
    """Dates (UTC) as integers that sort as they do; a missing date first."""
    naive = pd.Series(dates).dt.tz_convert(None) if len(dates) else dates
    return np.asarray(naive.to_numpy(), dtype="datetime64[ns]").view(np.int64)


def _since(u: pd.DataFrame, row: object) -> str:
    if row is None or not isinstance(row, int | np.integer):
        return ""
    when = _when(u, int(row))
    return f" (its last change: {when[:10]})" if when else ""


def _when(u: pd.DataFrame, row: int) -> str:
    value = u["date"].iloc[row]
    return _iso(value) if isinstance(value, pd.Timestamp) else ""


def _amount_after(u: pd.DataFrame, code: np.ndarray) -> np.ndarray:
    """The action's amount after each change: ``Amount`` where the feed gives it, else the
    changes added up from the action's first one (``<ActionId>.1``) when the feed holds it;
    NaN where it cannot be known."""
    amount = u["amount"].to_numpy(dtype=np.float64).copy()
    delta = u["delta"].to_numpy(dtype=np.float64)
    if np.isnan(delta).all():
        return amount
    start = pd.Series(u["seq"].to_numpy() == 1).groupby(code).transform("any").to_numpy(bool)
    running = pd.Series(np.nan_to_num(delta)).groupby(code).cumsum().to_numpy()
    fill = np.isnan(amount) & start
    amount[fill] = running[fill]
    return amount


def _totals(
    sent: Table,
    schema: SentSchema,
    u: pd.DataFrame,
    j: pd.DataFrame,
    status: np.ndarray,
    shows: np.ndarray,
) -> None:
    """Order-level rows: Amount 0 is a reversal, another Amount a new total."""
    amount, reason = _amounts(sent, schema)
    r = j["r"].to_numpy()
    rows = j["u"].to_numpy()
    state = u["state"].to_numpy(dtype=object)[rows]
    after_amount = u["amount_after"].to_numpy(dtype=np.float64)[rows]
    disposition = u["disposition"].astype(str).str.upper().to_numpy(dtype=object)[rows]
    asked = amount[r]
    reversal = asked == 0
    known = ~np.isnan(after_amount) & ~np.isnan(asked)
    by_amount = known & (np.abs(after_amount - asked) < _CENT)
    by_reason = ~known & (reason[r] != "") & (disposition == reason[r]) & (state != REVERSED)
    match = np.where(reversal, state == REVERSED, by_amount | by_reason)
    _settle(j, match, u, status, shows)


def _items(
    sent: Table,
    schema: SentSchema,
    u: pd.DataFrame,
    j: pd.DataFrame,
    status: np.ndarray,
    shows: np.ndarray,
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
    status[good] = str(Confirmation.CONFIRMED)
    status[good[changed[good]]] = str(Confirmation.CHANGED_SINCE)
    shows[good[changed[good]]] = "a SKU changed again after the change asked for"
    bad = settled[~all_ok[settled]]
    status[bad] = str(Confirmation.DIFFERS)
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
    j: pd.DataFrame, match: np.ndarray, u: pd.DataFrame, status: np.ndarray, shows: np.ndarray
) -> None:
    """Per record from its changes after the submission (in order) and which of them made
    the change asked for: confirmed, changed_since (a later change undid or altered it), or
    differs (none did)."""
    r = j["r"].to_numpy()
    rows = j["u"].to_numpy()
    pos = np.arange(len(r))
    first = pd.Series(np.where(match, pos, len(r))).groupby(r).min()
    last = pd.Series(pos).groupby(r).max()
    records = first.index.to_numpy()
    first_at = first.to_numpy()
    last_at = last.reindex(records).to_numpy()
    matched = first_at < len(r)
    delta = u["delta"].to_numpy(dtype=np.float64)[rows]
    state = u["state"].to_numpy(dtype=object)[rows]
    # A later change that moves the amount, or the state away from the matched one.
    moved = np.zeros(len(records), dtype=bool)
    if matched.any():
        at = np.flatnonzero(matched)
        later_rows = last_at[at] > first_at[at]
        for k in at[later_rows]:
            a, b = first_at[k], last_at[k]
            seg_delta = delta[a + 1 : b + 1]
            seg_state = state[a + 1 : b + 1]
            moved[k] = bool((np.nan_to_num(seg_delta) != 0).any() or (seg_state != state[a]).any())
    ok = records[matched & ~moved]
    again = records[matched & moved]
    differs = records[~matched]
    status[ok] = str(Confirmation.CONFIRMED)
    status[again] = str(Confirmation.CHANGED_SINCE)
    status[differs] = str(Confirmation.DIFFERS)
    for rec, k in zip(again, np.flatnonzero(matched & moved), strict=True):
        shows[rec] = "applied, then changed: " + _describe_change(u, int(rows[last_at[k]]))
    for rec, k in zip(differs, np.flatnonzero(~matched), strict=True):
        shows[rec] = _describe_change(u, int(rows[last_at[k]]))


def _describe_change(u: pd.DataFrame, row: int) -> str:
    """One change in words: ``State REVERSED, Amount 0.00 (-45.00), Disposition
    ITEM_RETURNED on 2026-11-05``."""
    parts = []
    state = str(u["state"].to_numpy(dtype=object)[row])
    if state:
        parts.append(f"State {state}")
    after = float(u["amount_after"].to_numpy(dtype=np.float64)[row])
    delta = float(u["delta"].to_numpy(dtype=np.float64)[row])
    if not np.isnan(after):
        parts.append(f"Amount {after:,.2f}" + (f" ({delta:+,.2f})" if not np.isnan(delta) else ""))
    elif not np.isnan(delta):
        parts.append(f"DeltaAmount {delta:+,.2f}")
    disposition = str(u["disposition"].to_numpy(dtype=object)[row])
    if disposition:
        parts.append(f"Disposition {disposition}")
    when = _when(u, row)
    return (", ".join(parts) or "a change") + (f" on {when[:10]}" if when else "")


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
    from .classify import RESOLUTION_CODE, TextColumn, resolution_column
    from .model import Outcome, Resolution

    status = confirmed.status
    outcome = verdict["Outcome"]
    accepted = (outcome == str(Outcome.ACCEPTED)).to_numpy(dtype=bool)
    rejected = (outcome == str(Outcome.REJECTED)).to_numpy(dtype=bool)
    resolution = np.asarray(verdict["Resolution"].array.codes, dtype=np.int8).copy()
    advice = TextColumn(len(verdict), verdict["Advice"].array)
    for state, text in _ADVICE.items():
        rows = np.flatnonzero(accepted & (status == str(state)))
        if len(rows):
            resolution[rows] = RESOLUTION_CODE[Resolution.REVIEW]
            advice.put(
                rows,
                np.array(
                    [text.format(shows=shows) for shows in confirmed.shows[rows]], dtype=object
                ),
            )
    settled = (
        rejected
        & (status == str(Confirmation.CONFIRMED))
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
    return {
        "Confirmed": _categorical(confirmed.status),
        "PlatformShows": _categorical(confirmed.shows),
    }


def _categorical(values: np.ndarray) -> pd.Categorical:
    codes, uniques = pd.factorize(pd.Series(values, dtype=object))
    return pd.Categorical.from_codes(codes, categories=pd.Index(uniques, dtype=object))
