"""Checks across rows: one action twice, an order twice, the 1,000-modifications cap, a
mobile ActionId without its M."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from reconciler.model import text_column
from reconciler.normalize import id_key
from reconciler.preflight.base import _CONV_ORDER, _MODS, E, IntArray, W
from reconciler.preflight.context import (
    Check,
    _cells,
    _Ctx,
    _hits,
    _mask,
    _where,
    order_keys,
)
from reconciler.templates import (
    MAX_MODIFICATIONS_PER_ACTION,
    Template,
)


def _ck_duplicate_action(ctx: _Ctx) -> Iterable[pd.DataFrame | None]:
    dup = ctx.repeated_actions()
    if not dup.any():
        return
    pos = _where(dup)
    sub = pd.DataFrame({"k": ctx.action_codes()[pos], "line": ctx.lines[pos]})
    first = sub.groupby("k", sort=False)["line"].transform("min").to_numpy()
    count = sub.groupby("k", sort=False)["line"].transform("size").to_numpy()
    outcome = (
        "each line is another modification of it: put all its items on one line"
        if ctx.template is Template.ITEM_MODIFICATION
        else "each line is another modification and the last one wins: keep one line per action"
    )
    advice = [
        f"the same action is on {c} lines (first at line {f}); {outcome}"
        for c, f in zip(count, first, strict=True)
    ]
    yield from _on_identifier(ctx, pos, advice)


def _on_identifier(
    ctx: _Ctx, pos: IntArray, advice: Sequence[str] | str, **kw: Any
) -> Iterable[pd.DataFrame | None]:
    """Findings in the column that names the action: ActionId when given, else Oid."""
    aid, oid = ctx.label("action_id"), ctx.label("oid")
    by_aid = ctx.filled(aid)[pos]
    adv = (
        text_column(len(pos), advice)
        if isinstance(advice, str)
        else np.asarray(advice, dtype=object)
    )
    for label, sel in ((aid, by_aid), (oid, ~by_aid)):
        if label is not None and sel.any():
            values = ctx.raw(label).iloc[pos[sel]].to_numpy(dtype=object)
            yield _hits(ctx, pos[sel], label, values, adv[sel], **kw)


def _ck_duplicate_order(ctx: _Ctx) -> Iterable[pd.DataFrame | None]:
    oid = ctx.label("oid")
    if oid is None:
        return
    trk = ctx.label("action_tracker_id") or ctx.label("event_type_code")
    tracker = id_key(ctx.val(trk)) if trk else pd.Series([""] * ctx.n)
    keys = order_keys(ctx.val(oid), tracker)
    series = pd.Series(keys)
    repeat = ctx.filled(oid) & _mask(series.duplicated(keep="first"))
    if not repeat.any():
        return
    pos = _where(repeat)
    first_line: dict[str, int] = {}
    for p in _where(ctx.filled(oid) & _mask(series.duplicated(keep=False))):
        first_line.setdefault(keys[p], int(ctx.lines[p]))
    advice = [
        f"line {first_line[keys[p]]} already has this OrderId for the same event type; impact.com "
        "keeps the first and refuses the repeat as a duplicate"
        for p in pos
    ]
    yield _hits(ctx, pos, oid, ctx.raw(oid).iloc[pos].to_numpy(dtype=object), advice)


def _ck_too_many_modifications(ctx: _Ctx) -> Iterable[pd.DataFrame | None]:
    repeated = ctx.repeated_actions()
    if int(repeated.sum()) <= MAX_MODIFICATIONS_PER_ACTION:
        return
    pos = _where(repeated)
    codes = pd.Series(ctx.action_codes()[pos])
    rank = codes.groupby(codes, sort=False).cumcount().to_numpy() + 1
    over = pos[rank > MAX_MODIFICATIONS_PER_ACTION]
    yield from _on_identifier(
        ctx,
        over,
        f"this is modification number {MAX_MODIFICATIONS_PER_ACTION + 1} or later of one action "
        f"in this file; impact.com allows {MAX_MODIFICATIONS_PER_ACTION} per action: contact "
        "support instead",
    )


def _ck_mobile_prefix(ctx: _Ctx) -> Iterable[pd.DataFrame | None]:
    label = ctx.label("action_id")
    if label is not None:
        mobile = _mask(ctx.val(label).str.startswith("M"))
        if not mobile.any():
            return  # ActionId,Amount,Reason with no mobile ID: an order-level file
        mask = ctx.filled(label) & ~mobile
        yield _cells(
            ctx,
            mask,
            label,
            "mobile action IDs start with M (e.g. M1000.4636.2001); check it was not cut off",
        )


CHECKS: tuple[Check, ...] = (
    Check(
        slug="duplicate-action",
        severity=W,
        predicted_error="",
        title="Same action twice in the file",
        description=(
            "The same ActionId, or the same Oid + ActionTrackerId, on several lines: each is a "
            "separate modification and the last one wins."
        ),
        fn=_ck_duplicate_action,
        example="`O9999941,16027` on lines 4 and 8",
        templates=_MODS,
    ),
    Check(
        slug="duplicate-order",
        severity=W,
        predicted_error="CONV_DUPLICATE",
        title="Same order twice in the file",
        description=(
            "A repeated OrderId for the same event type in an order-level or chained conversion "
            "file (flagged on the repeats)."
        ),
        fn=_ck_duplicate_order,
        example="`SU-20250204-0005` for event type `45678` twice",
        templates=_CONV_ORDER,
    ),
    Check(
        slug="too-many-modifications",
        severity=E,
        predicted_error="MAX_MODIFICATIONS_REACHED",
        title="More than 1,000 modifications of one action",
        description=(
            "impact.com allows 1,000 modifications per action; lines past the 1,000th are flagged."
        ),
        fn=_ck_too_many_modifications,
        example="1,001 lines for one ActionId",
        templates=_MODS,
    ),
    Check(
        slug="mobile-action-id-prefix",
        severity=W,
        predicted_error="ACTION_NOT_FOUND",
        title="Mobile ActionId without M",
        description="Mobile action IDs start with M (checked when the file holds mobile IDs).",
        fn=_ck_mobile_prefix,
        example="`1000.4636.2044` among `M…` IDs",
        templates=frozenset({Template.MOBILE}),
    ),
)
