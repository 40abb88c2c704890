"""Checks of the identifiers: present, whole numbers, not spoiled by a spreadsheet, cells
a workbook does not hold, spaces, lengths."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from reconciler.detect import unreadable_cells
from reconciler.fixes import (
    fix_integer,
    spoiled_id_problem,
)
from reconciler.preflight.base import (
    _CONV,
    _ITEMS,
    _MODS,
    _SPOIL_CANDIDATE,
    OID_MAX_LENGTH,
    SKU_MAX_LENGTH_CONVERSION,
    SKU_MAX_LENGTH_MODIFICATION,
    BoolArray,
    E,
    W,
)
from reconciler.preflight.context import Check, _cells, _Ctx, _hits, _mask, _np, _refine


def _ck_no_identifier(ctx: _Ctx) -> Iterable[pd.DataFrame | None]:
    aid, oid = ctx.label("action_id"), ctx.label("oid")
    if aid is None and oid is None:
        return  # required-column-missing says it once
    mask = ~ctx.filled(aid) & ~ctx.filled(oid)
    yield _cells(
        ctx,
        mask,
        aid or oid or "",
        "the record names no action: give its ActionId, or its Oid and ActionTrackerId",
    )


def _ck_oid_without_tracker(ctx: _Ctx) -> Iterable[pd.DataFrame | None]:
    oid, trk = ctx.label("oid"), ctx.label("action_tracker_id")
    if oid is None or (trk is None and ctx.label("action_id") is None):
        return  # no Oid column, or the missing column is reported once for the file
    mask = ~ctx.field_filled("action_id") & ctx.filled(oid) & ~ctx.filled(trk)
    yield _cells(
        ctx,
        mask,
        trk or oid,
        "an Oid only names an action together with its ActionTrackerId (Oids are unique per "
        "event type): fill in ActionTrackerId, or give the ActionId",
    )


def _integer_advice(raw: str) -> str:
    fix = fix_integer(raw.strip())
    if fix.ok:
        return f"{fix.problem}: write it as the whole number {fix.value} (--fix does)"
    return fix.problem + "; write the whole number"


def _integer_fix(raw: str) -> str:
    return "MALFORMED" if fix_integer(raw.strip()).ok else ""


def _ck_not_integer(ctx: _Ctx) -> Iterable[pd.DataFrame | None]:
    labels = [ctx.label("action_tracker_id")]
    if ctx.template in _CONV:
        labels.append(ctx.label("campaign_id"))
    labels += [f["quantity"] for f in ctx.items().values() if "quantity" in f]
    for label in labels:
        if label is None:
            continue
        # ascii_is_decimal is PLAIN_INTEGER: non-empty and ASCII digits only.
        bad = ctx.filled(label) & ~_np(pc.ascii_is_decimal(ctx.arr(label)))
        yield _cells(ctx, bad, label, _integer_advice, fix=_integer_fix)


def _spoiled_mask(ctx: _Ctx, label: str) -> tuple[BoolArray, dict[str, str]]:
    val, arr = ctx.val(label), ctx.arr(label)
    cand = _np(pc.match_substring(arr, "e", ignore_case=True)) | _np(pc.ends_with(arr, "0"))
    cand = _refine(arr, cand, _SPOIL_CANDIDATE)
    if not cand.any():
        return cand, {}
    memo = {str(v): spoiled_id_problem(str(v)) for v in pd.unique(val[cand])}
    spoiled = cand.copy()
    spoiled[cand] = [bool(memo[str(v)]) for v in val[cand]]
    return spoiled, memo


def _ck_id_spoiled(ctx: _Ctx) -> Iterable[pd.DataFrame | None]:
    conversion = ctx.template in _CONV
    for name in ("action_id", "oid"):
        label = ctx.label(name)
        if label is None or (conversion and name == "action_id"):
            continue
        mask, memo = _spoiled_mask(ctx, label)
        if not mask.any():
            continue
        recover = ctx.opts.actions is not None and not conversion

        def advice(raw: str, memo: dict[str, str] = memo, recover: bool = recover) -> str:
            text = memo[raw.strip()]
            if conversion:
                return text + "; the order would be recorded under this wrong ID: use the real one"
            return text + (
                "; --fix recovers it from the Actions export when exactly one action fits"
                if recover
                else "; pass an Actions export with --actions to recover it, or type it again"
            )

        yield _cells(
            ctx,
            mask,
            label,
            advice,
            predicted="" if conversion else None,
            fix="ACTION_NOT_FOUND" if recover else "",
        )


def _ck_id_unreadable(ctx: _Ctx) -> Iterable[pd.DataFrame | None]:
    unreadable = unreadable_cells(ctx.table)
    if not unreadable:
        return
    for name in ("action_id", "oid", "action_tracker_id"):
        label = ctx.label(name)
        if label is None:
            continue
        found = sorted(p for (p, lab) in unreadable if lab == label)
        if not found:
            continue
        pos = np.asarray(found, dtype=np.int64)
        advice = [
            f"the cell is {unreadable[(p, label)]}: the workbook does not hold the identifier, "
            "so the row would name no action (or the wrong one); open it in Excel, let it "
            "calculate, unmerge the cells, fix the error and save it (or type the value)"
            for p in found
        ]
        yield _hits(ctx, pos, label, ctx.raw(label).iloc[pos].to_numpy(dtype=object), advice)


_WHITESPACE_FIX: Final = {
    "amount": "MALFORMED",
    "action_tracker_id": "MALFORMED",
    "campaign_id": "MALFORMED",
}


def _ck_whitespace(ctx: _Ctx) -> Iterable[pd.DataFrame | None]:
    names = ["action_id", "oid", "action_tracker_id", "amount", "campaign_id", "currency"]
    targets: list[tuple[str, str]] = [(n, lab) for n in names if (lab := ctx.label(n))]
    for fields in ctx.items().values():
        targets += [(f, fields[f]) for f in ("sku", "quantity", "item_amount") if f in fields]
    for name, label in targets:
        raw = ctx.raw(label)
        mask = _mask(raw != ctx.val(label)) & ctx.filled(label)
        fix = _WHITESPACE_FIX.get(name, "MALFORMED" if name in ("quantity", "item_amount") else "")
        if name in ("action_id", "oid") and ctx.opts.actions is not None:
            fix = "ACTION_NOT_FOUND"
        yield _cells(
            ctx,
            mask,
            label,
            "the value has spaces around it; impact.com may not trim them (an ID with a space "
            "is another ID): remove them" + (" (--fix does)" if fix else ""),
            fix=fix,
        )


def _ck_oid_too_long(ctx: _Ctx) -> Iterable[pd.DataFrame | None]:
    label = ctx.label("oid")
    if label is not None:
        mask = _mask(ctx.val(label).str.len() > OID_MAX_LENGTH)
        yield _cells(
            ctx,
            mask,
            label,
            lambda v: (
                f"the Oid has {len(v.strip())} characters; impact.com allows {OID_MAX_LENGTH}"
            ),
        )


def _ck_sku_too_long(ctx: _Ctx) -> Iterable[pd.DataFrame | None]:
    limit = SKU_MAX_LENGTH_CONVERSION if ctx.template in _CONV else SKU_MAX_LENGTH_MODIFICATION
    for fields in ctx.items().values():
        label = fields.get("sku")
        if label is not None:
            mask = _mask(ctx.val(label).str.len() > limit)
            yield _cells(
                ctx,
                mask,
                label,
                lambda v: (
                    f"the Sku has {len(v.strip())} characters; impact.com allows {limit} "
                    "and it must match the catalog exactly"
                ),
            )


CHECKS: tuple[Check, ...] = (
    Check(
        slug="no-identifier",
        severity=E,
        predicted_error="ACTION_NOT_FOUND",
        title="No identifier",
        description="Neither ActionId nor Oid: the record names no action.",
        fn=_ck_no_identifier,
        example="`,,16027,0,,,ITEM_RETURNED`",
        templates=_MODS,
    ),
    Check(
        slug="oid-without-tracker",
        severity=E,
        predicted_error="ACTION_NOT_FOUND",
        title="Oid without ActionTrackerId",
        description="Oids are unique per event type only, so the Oid path needs the ActionTrackerId.",
        fn=_ck_oid_without_tracker,
        example="`,T52324111211,,0,,,ITEM_RETURNED`",
        templates=_MODS,
    ),
    Check(
        slug="not-an-integer",
        severity=E,
        predicted_error="MALFORMED",
        title="Whole number expected",
        description="ActionTrackerId, CampaignId (conversions) or Quantity{i} is not a whole number.",
        fn=_ck_not_integer,
        example="`16027.0`, `1.6E+04`, `one`",
    ),
    Check(
        slug="id-cell-unreadable",
        severity=E,
        predicted_error="ACTION_NOT_FOUND",
        title="ID cell without a value",
        description=(
            "An ActionId, Oid or ActionTrackerId cell of a workbook holds no value the file "
            "gives: a formula whose result was never saved, an Excel error such as #N/A, or a "
            "cell merged into another."
        ),
        fn=_ck_id_unreadable,
        example="`=VLOOKUP(...)` never calculated, `#N/A`, merged cells",
    ),
    Check(
        slug="id-spoiled",
        severity=E,
        predicted_error="ACTION_NOT_FOUND",
        title="ID spoiled by a spreadsheet",
        description=(
            "ActionId or Oid in scientific notation, with a .0 suffix, or 17 digits or more "
            "ending in zeros past the 15th (a spreadsheet's rounding). For conversions the order "
            "would be recorded under the wrong OrderId (no code is predicted)."
        ),
        fn=_ck_id_spoiled,
        example="`1.23457E+11`, `12345.0`, `4051234567890620000`",
    ),
    Check(
        slug="value-whitespace",
        severity=W,
        predicted_error="",
        title="Spaces around a value",
        description="An ID, amount or code with leading or trailing spaces.",
        fn=_ck_whitespace,
        example="`' 16027'`",
    ),
    Check(
        slug="oid-too-long",
        severity=E,
        predicted_error="MALFORMED",
        title="Oid longer than 64 characters",
        description="Oid / OrderId is STRING(64).",
        fn=_ck_oid_too_long,
        example="a 65-character Oid",
    ),
    Check(
        slug="sku-too-long",
        severity=E,
        predicted_error="MALFORMED",
        title="Sku too long",
        description="Sku{i} is limited to 40 characters in modification files (255 in conversions).",
        fn=_ck_sku_too_long,
        example="a 41-character Sku1",
        templates=_ITEMS,
    ),
)
