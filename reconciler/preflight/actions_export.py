"""Checks against an impact.com Actions export (``--actions``): the action exists, is not
reversed or locked, the change is a change, and which action an Oid picks."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from reconciler.actions import lock_states, newest
from reconciler.fixes import (
    PLAIN_AMOUNT,
    amount_numbers,
    fix_integer,
)
from reconciler.model import text_column
from reconciler.normalize import arrow_strings, id_key
from reconciler.preflight.base import _ACT, _MODS, _ORDER_LEVEL, BoolArray, E, W
from reconciler.preflight.context import Check, _Ctx, _hits, _mask, _where, order_keys_arrow
from reconciler.templates import (
    Template,
)


def _actions_match(ctx: _Ctx) -> pd.DataFrame | None:
    """Per record naming an action: pos, path (a | o), idx into the export (-1: not found),
    candidates (actions sharing the Oid + ActionTrackerId)."""
    if "actions" in ctx._cache:
        out: pd.DataFrame | None = ctx._cache["actions"]
        return out
    actions = ctx.opts.actions
    if actions is None or ctx.template not in _MODS:
        ctx._cache["actions"] = None
        return None
    act = actions.frame.reset_index(drop=True)
    aid, oid, trk = ctx.label("action_id"), ctx.label("oid"), ctx.label("action_tracker_id")
    by_aid = ctx.filled(aid)
    by_oid = ~by_aid & ctx.filled(oid) & ctx.filled(trk)
    parts: list[pd.DataFrame] = []
    if by_aid.any():
        assert aid is not None
        pos = _where(by_aid)
        # The export's ActionIds numbered (one hash pass over its text as read); each the
        # last row holding it; the records' ActionIds looked up in one pass.
        code, listed = _numbered(act["action_id"])
        last = np.full(len(listed) + 1, -1, dtype=np.int64)  # [-1] is "not found"
        distinct, first_of_reversed = np.unique(code[::-1], return_index=True)
        keep = distinct >= 0
        last[distinct[keep]] = len(code) - 1 - first_of_reversed[keep]
        idx = last[_lookup(listed, ctx.val(aid).iloc[pos])]
        parts.append(pd.DataFrame({"pos": pos, "path": "a", "idx": idx, "candidates": 1}))
    if by_oid.any():
        assert oid is not None and trk is not None
        pos = _where(by_oid)
        sent_key = order_keys_arrow(ctx.val(oid).iloc[pos], id_key(ctx.val(trk).iloc[pos]))
        # Each order's actions counted by number, not by mapping a million keys.
        code, listed = _numbered(order_keys_arrow(act["oid"], act["k_tracker"]))
        counts = np.append(np.bincount(code[code >= 0], minlength=len(listed)), 0)
        at = _lookup(listed, sent_key)  # -1 (not listed) counts the appended 0
        cand = counts[at]
        by_key = np.argsort(code, kind="stable")  # each order's rows, ascending
        starts = np.append(np.searchsorted(code[by_key], np.arange(len(listed))), len(code))
        idx = np.where(cand == 1, by_key[starts[np.maximum(at, 0)]], -1)
        several = np.flatnonzero(cand > 1)
        if len(several):  # several actions: the newest one is changed
            # Each order's newest chosen once for every record naming it.
            chosen_of: dict[int, int] = {}
            for i in several.tolist():
                k = int(at[i])
                if k not in chosen_of:
                    group: pd.DataFrame = act.iloc[by_key[starts[k] : starts[k + 1]]]
                    chosen = newest(group)
                    chosen_of[k] = int(str(chosen.name)) if chosen is not None else -1
                idx[i] = chosen_of[k]
        parts.append(pd.DataFrame({"pos": pos, "path": "o", "idx": idx, "candidates": cand}))
    match = pd.concat(parts, ignore_index=True) if parts else None
    ctx._cache["actions"] = match
    return match


def _numbered(values: pd.Series | pa.Array) -> tuple[np.ndarray, pa.Array]:
    """Per value its number (-1: missing) and the distinct values, by number (one hash pass
    over the text as kept)."""
    text = _text(values)
    encoded = pc.dictionary_encode(text)
    code = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False)
    return np.asarray(code, dtype=np.int64), encoded.dictionary


def _text(values: pd.Series | pa.Array) -> pa.Array:
    """Text as one Arrow array of large strings."""
    if isinstance(values, pd.Series):
        values = arrow_strings(values).combine_chunks()
    return pc.cast(values, pa.large_string())


def _lookup(listed: pa.Array, values: pd.Series | pa.Array) -> np.ndarray:
    """Each of ``values``' number among ``listed`` (-1: not there), in one hash pass."""
    found = pc.fill_null(pc.index_in(_text(values), value_set=listed), -1)
    return np.asarray(found.to_numpy(zero_copy_only=False), dtype=np.int64)


def _matched(ctx: _Ctx) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """(matched rows with the export's state/amount/locking joined, the export); worked out
    once for the five checks that read it."""
    if "matched" in ctx._cache:
        got: tuple[pd.DataFrame, pd.DataFrame] | None = ctx._cache["matched"]
        return got
    ctx._cache["matched"] = None
    match = _actions_match(ctx)
    if match is None or ctx.opts.actions is None:
        return None
    act = ctx.opts.actions.frame.reset_index(drop=True)
    found = match[match["idx"] >= 0]
    idx = found["idx"].to_numpy()
    # The matched actions' values taken, not every action's made Python objects first (a
    # locking date stays a date: no Timestamp object a row).
    joined = found.assign(
        state=act["state"].iloc[idx].to_numpy(dtype=object),
        locking=act["locking_date"].array.take(idx),
        action=act["action_id"].iloc[idx].to_numpy(dtype=object),
    )
    ctx._cache["matched"] = (joined, act)
    return joined, act


def _state_masks(ctx: _Ctx, joined: pd.DataFrame) -> tuple[BoolArray, BoolArray, BoolArray]:
    """(reversed, locked, approved-before-lock) for matched rows (``actions.lock_states``);
    worked out once for the checks that read them."""
    got = ctx._cache.get("state_masks")
    if got is not None and got[0] is joined:
        masks: tuple[BoolArray, BoolArray, BoolArray] = got[1]
        return masks
    state = joined["state"].to_numpy(dtype=object)
    reversed_ = np.asarray(state == "REVERSED", dtype=bool)
    if ctx.template is Template.RESET:
        reversed_ = np.zeros(len(joined), dtype=bool)  # a reset undoes a reversal
    locked, passed, approved = lock_states(state, joined["locking"], ctx.today)
    locked = ~reversed_ & locked
    masks = (reversed_, locked, locked & approved & ~passed)
    ctx._cache["state_masks"] = (joined, masks)
    return masks


def _ck_action_not_found(ctx: _Ctx) -> Iterable[pd.DataFrame | None]:
    match = _actions_match(ctx)
    actions = ctx.opts.actions
    if match is None or actions is None:
        return
    missing = match[match["idx"] < 0]
    if missing.empty:
        return
    aid, oid, trk = ctx.label("action_id"), ctx.label("oid"), ctx.label("action_tracker_id")
    advice: list[str] = []
    fixes: list[str] = []
    columns: list[str] = []
    values: list[str] = []
    positions = missing["pos"].to_numpy(dtype=np.int64)
    paths = missing["path"].tolist()
    # Every record's values and keys read at once: the export answers each by look-up.
    by_a = ctx.raw(aid).iloc[positions].tolist() if aid else [""] * len(paths)
    by_o = ctx.raw(oid).iloc[positions].tolist() if oid else [""] * len(paths)
    trk_raw = ctx.raw(trk).iloc[positions].tolist() if trk else [""] * len(paths)
    raws = [str(a if path == "a" else o) for path, a, o in zip(paths, by_a, by_o, strict=True)]
    trackers = [
        fix_integer(str(x)).value if path == "o" and trk else ""
        for path, x in zip(paths, trk_raw, strict=True)
    ]
    keys = id_key(pd.Series([r.strip() for r in raws], dtype=object)).tolist()
    tracker_keys = id_key(pd.Series(trackers, dtype=object)).tolist()
    for i, path in enumerate(paths):
        label = aid if path == "a" else oid
        assert label is not None
        raw, tracker = raws[i], trackers[i]
        hits = actions.recover(
            "action_id" if path == "a" else "oid",
            raw,
            tracker,
            key=str(keys[i]),
            tracker_key=str(tracker_keys[i]),
        )
        column = "action_id" if path == "a" else "oid"
        distinct = sorted(set(hits[column]))
        columns.append(label)
        values.append(raw)
        if len(distinct) == 1:
            advice.append(
                f"no action has {label} {raw!r} as written; it looks spoiled by a spreadsheet and "
                f"is probably {distinct[0]} (--fix writes it)"
            )
            fixes.append("ACTION_NOT_FOUND")
        elif distinct:
            advice.append(
                f"no action has {label} {raw!r} as written; it could be any of {len(distinct)} "
                f"actions ({', '.join(distinct[:3])}): correct it by hand"
            )
            fixes.append("")
        else:
            where = "ActionId" if path == "a" else "Oid + ActionTrackerId"
            advice.append(
                f"the Actions export has no action with this {where}; correct the ID, or submit "
                "the order as a new conversion if it was never tracked"
            )
            fixes.append("")
    frame = _hits(ctx, missing["pos"].to_numpy(dtype=np.int64), "", values, advice, fix=fixes)
    frame["Column"] = columns
    yield frame


def _actions_rows(
    ctx: _Ctx, joined: pd.DataFrame, mask: BoolArray,
    advice: Callable[[pd.DataFrame], Sequence[str]],
    predicted: Sequence[str] | np.ndarray | None = None,
) -> pd.DataFrame | None:  # fmt: skip
    """Findings on the matched records of ``mask``: the ID each was matched by, and the
    advice ``advice`` words for them from their rows (whole columns, not a dict a row: a
    real export flags hundreds of thousands of records locked)."""
    if not mask.any():
        return None
    rows = joined[mask]
    aid, oid = ctx.label("action_id"), ctx.label("oid")
    pos = rows["pos"].to_numpy(dtype=np.int64)
    by_aid = (rows["path"] == "a").to_numpy(dtype=bool)
    labels = text_column(len(pos), str(oid or ""))
    labels[by_aid] = str(aid or "")
    values = np.empty(len(pos), dtype=object)
    for label, which in ((aid, by_aid), (oid, ~by_aid)):
        if label is not None and which.any():
            values[which] = ctx.raw(label).iloc[pos[which]].to_numpy(dtype=object)
    # Each as text: the IDs are text already, a missing one (none, as matched) its str().
    missing = np.flatnonzero(pd.isna(values))
    values[missing] = [str(v) for v in values[missing].tolist()]
    frame = _hits(
        ctx,
        pos,
        "",
        values,
        list(advice(rows)),
        predicted=None if predicted is None else np.asarray(predicted, dtype=object)[mask],
    )
    frame["Column"] = pd.Series(labels, index=frame.index, dtype=object)
    return frame


def _ids(rows: pd.DataFrame) -> list[str]:
    """The matched actions' ActionIds, as text."""
    return [str(a) for a in rows["action"].tolist()]


def _ck_already_reversed(ctx: _Ctx) -> Iterable[pd.DataFrame | None]:
    m = _matched(ctx)
    if m is not None:
        joined, _ = m
        reversed_, _, _ = _state_masks(ctx, joined)
        yield _actions_rows(
            ctx,
            joined,
            reversed_,
            lambda rows: [
                f"action {a} is already REVERSED; a file cannot change it (a RESET before its "
                "locking date undoes a mistaken reversal)"
                for a in _ids(rows)
            ],
        )


def _ck_already_locked(ctx: _Ctx) -> Iterable[pd.DataFrame | None]:
    m = _matched(ctx)
    if m is not None:
        joined, _ = m
        _, locked, approved = _state_masks(ctx, joined)

        def advice(rows: pd.DataFrame) -> list[str]:
            # The locking day (UTC) of each, and whether it is before today: a column at a
            # time, each day written as ``date.isoformat`` writes it.
            locking = pd.Series(rows["locking"].array)
            instants = locking.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy()
            days = instants.astype("datetime64[D]")
            passed = ~np.isnat(days) & (days < np.datetime64(ctx.today, "D"))
            written = np.datetime_as_string(days, unit="D").tolist()
            return [
                f"action {a} can no longer be modified: "
                + (f"its locking date {d} has passed" if p else f"it is {st}")
                + "; settle it with the partner off-platform"
                for a, p, d, st in zip(
                    _ids(rows), passed.tolist(), written, rows["state"].tolist(), strict=True
                )
            ]

        codes = np.where(approved, "ALREADY_APPROVED", "ALREADY_LOCKED").astype(object)
        yield _actions_rows(ctx, joined, locked, advice, codes)


def _amount_vs_current(ctx: _Ctx) -> tuple[pd.DataFrame, BoolArray, BoolArray] | None:
    """(matched rows with the export's amount, same amount as now, and that amount 0); once
    for the two checks that read it."""
    if "amount_vs_current" not in ctx._cache:
        ctx._cache["amount_vs_current"] = _amounts_now(ctx)
    got: tuple[pd.DataFrame, BoolArray, BoolArray] | None = ctx._cache["amount_vs_current"]
    return got


def _amounts_now(ctx: _Ctx) -> tuple[pd.DataFrame, BoolArray, BoolArray] | None:
    m = _matched(ctx)
    label = ctx.label("amount")
    if m is None or label is None or ctx.template not in _ORDER_LEVEL:
        return None
    joined, act = m
    reversed_, locked, _ = _state_masks(ctx, joined)
    open_ = ~reversed_ & ~locked
    pos = joined["pos"].to_numpy(dtype=np.int64)
    sent = ctx.val(label).iloc[pos]
    plain = _mask(sent.str.fullmatch(PLAIN_AMOUNT.pattern))
    sent_n = np.full(len(pos), np.nan)
    if plain.any():
        sent_n[plain] = sent[plain].astype(float).to_numpy()
    current = amount_numbers(act["amount"].iloc[joined["idx"].to_numpy()].astype(str))
    same = open_ & plain & (np.round(sent_n * 100) == np.round(current * 100))
    zero = same & (np.round(sent_n * 100) == 0)
    return joined.assign(current=act["amount"].to_numpy()[joined["idx"].to_numpy()]), same, zero


def _ck_no_change(ctx: _Ctx) -> Iterable[pd.DataFrame | None]:
    got = _amount_vs_current(ctx)
    if got is not None:
        joined, same, zero = got
        yield _actions_rows(
            ctx,
            joined,
            same & ~zero,
            lambda rows: [
                f"action {a} already has Amount {c}; Amount is the new total, not a delta: "
                "send the final amount (nothing would change)"
                for a, c in zip(_ids(rows), rows["current"].tolist(), strict=True)
            ],
        )


def _ck_zero_amount_reversal(ctx: _Ctx) -> Iterable[pd.DataFrame | None]:
    got = _amount_vs_current(ctx)
    if got is not None:
        joined, _, zero = got
        yield _actions_rows(
            ctx,
            joined,
            zero,
            lambda rows: [
                f"action {a} already has Amount 0, so Amount 0 counts as a modification and "
                "does not reverse it; reverse it another way (API DELETE or a reversal "
                "disposition code)"
                for a in _ids(rows)
            ],
        )


def _ck_newest_action(ctx: _Ctx) -> Iterable[pd.DataFrame | None]:
    m = _matched(ctx)
    if m is not None:
        joined, _ = m
        several = _mask(joined["candidates"] > 1)
        yield _actions_rows(
            ctx,
            joined,
            several,
            lambda rows: [
                f"{int(n)} actions share this Oid + ActionTrackerId; the change goes to the "
                f"newest, {a}: give the ActionId to change another"
                for n, a in zip(rows["candidates"].tolist(), _ids(rows), strict=True)
            ],
        )


CHECKS: tuple[Check, ...] = (
    Check(
        slug="action-not-found",
        severity=E,
        predicted_error="ACTION_NOT_FOUND",
        title="No such action",
        description=(
            "The Actions export has no action with this ActionId or Oid + ActionTrackerId as "
            "written (the advice names the action a spoiled ID stands for, which --fix writes)."
        ),
        fn=_ck_action_not_found,
        example="Oid `12346` where the action has `00012346`",
        scope=_ACT,
        templates=_MODS,
    ),
    Check(
        slug="already-reversed",
        severity=E,
        predicted_error="ALREADY_REVERSED",
        title="Action already reversed",
        description="The action's state is REVERSED (not checked for reset files).",
        fn=_ck_already_reversed,
        example="state `REVERSED`",
        scope=_ACT,
        templates=_MODS,
    ),
    Check(
        slug="already-locked",
        severity=E,
        predicted_error="ALREADY_LOCKED",
        title="Action locked",
        description=(
            "The locking date has passed as of --today, or the action is APPROVED/LOCKED "
            "(ALREADY_APPROVED when it was approved before its locking date)."
        ),
        fn=_ck_already_locked,
        example="locking date 2025-01-31, --today 2025-02-20",
        scope=_ACT,
        templates=_MODS,
    ),
    Check(
        slug="no-change",
        severity=E,
        predicted_error="NO_CHANGE",
        title="Amount equals the current one",
        description="The new total equals the action's current amount: nothing would change.",
        fn=_ck_no_change,
        example="`129.95` for an action of `129.95`",
        scope=_ACT,
        templates=_ORDER_LEVEL,
    ),
    Check(
        slug="zero-amount-reversal",
        severity=E,
        predicted_error="NO_CHANGE",
        title="Amount 0 on a zero-amount action",
        description=(
            "Sending 0 to an action whose amount is already 0 counts as a modification, not a "
            "reversal."
        ),
        fn=_ck_zero_amount_reversal,
        example="`0` for an action of `0.00`",
        scope=_ACT,
        templates=_ORDER_LEVEL,
    ),
    Check(
        slug="newest-action",
        severity=W,
        predicted_error="",
        title="Several actions share the Oid",
        description=(
            "The Oid + ActionTrackerId path changes the newest of them; give the ActionId for an "
            "older one."
        ),
        fn=_ck_newest_action,
        example="two actions with Oid `T1` and tracker `16027`",
        scope=_ACT,
        templates=_MODS,
    ),
)
