"""Checks of the identifiers: present, whole numbers, not spoiled by a spreadsheet, cells
a workbook does not hold, spaces, lengths."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from reconciler.fixes import (
    SPREADSHEET_DIGITS,
    fix_integer,
    spoiled_id_problem,
)
from reconciler.fixes.cells import IdCell, kind_text, odd_id_characters, odd_id_text
from reconciler.fixes.sendable import (
    NAMING_ID_FIELDS,
    identifier_columns,
    integer_columns,
    not_whole,
)
from reconciler.fixes.values import column_rounding_problem
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
    mask = ~ctx.holds_id(aid) & ~ctx.holds_id(oid)
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
    mask = ~ctx.field_holds_id("action_id") & ctx.holds_id(oid) & ~ctx.holds_id(trk)
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
    if ctx.schema is None:
        return
    for name, label in integer_columns(ctx.schema):
        # An ID cell holding no ID at all (#N/A, NULL, -) has findings of its own; a digit of
        # another script (١) is no ASCII digit (fixes.sendable.not_whole).
        bad = not_whole(ctx.raw(label), identifier=name != "quantity")
        yield _cells(ctx, bad, label, _integer_advice, fix=_integer_fix)


def _spoiled_mask(ctx: _Ctx, label: str) -> tuple[BoolArray, dict[str, str]]:
    val, arr = ctx.val(label), ctx.arr(label)
    cand = _np(pc.match_substring(arr, "e", ignore_case=True)) | _np(pc.ends_with(arr, "0"))
    cand = _refine(arr, cand, _SPOIL_CANDIDATE)
    memo = {str(v): spoiled_id_problem(str(v)) for v in pd.unique(val[cand])} if cand.any() else {}
    spoiled = cand.copy()
    if cand.any():
        spoiled[cand] = [bool(memo[str(v)]) for v in val[cand]]
    rounded, evidence = _rounded_column(ctx, label)
    rounded &= ~spoiled
    for v in pd.unique(val[rounded]):
        memo[str(v)] = column_rounding_problem(str(v), evidence)
    return spoiled | rounded, memo


def _rounded_column(ctx: _Ctx, label: str) -> tuple[BoolArray, int]:
    """The 16-digit values a spreadsheet has likely rounded, from the column's evidence, and
    how many distinct IDs of 16 digits or more the column has. A spreadsheet keeps 15
    significant digits, so a 16-digit ID it held ends in 0. One such value proves nothing (one
    ID in ten ends in 0); when every one of at least two distinct values of 16 digits or more
    ends in 0, they were rounded (17 digits and more are judged per value)."""
    arr = ctx.arr(label)
    long = ctx.holds_id(label) & _np(pc.greater_equal(pc.utf8_length(arr), 16))
    long = _refine(arr, long, _LONG_DIGITS)
    if not long.any():
        return long, 0
    digits = ctx.val(label)[long].str.replace(r"\.0{1,2}$", "", regex=True).str.lstrip("0")
    distinct = pd.unique(digits)
    if len(distinct) < 2 or not all(str(d).endswith("0") for d in distinct):
        return np.zeros(ctx.n, dtype=bool), len(distinct)
    out = long.copy()
    out[long] = (digits.str.len() == SPREADSHEET_DIGITS + 1).to_numpy(dtype=bool)
    return out, len(distinct)


_LONG_DIGITS: Final = r"^0*[1-9][0-9]{15,}(?:\.0{1,2})?$"


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


def _id_labels(ctx: _Ctx) -> dict[str, str]:
    """The IDs naming the record's action or order, by field."""
    return {name: label for name in NAMING_ID_FIELDS if (label := ctx.label(name))}


def _all_id_columns(ctx: _Ctx) -> list[tuple[str, str]]:
    """(field, label) of every identifier column: the naming IDs, CustomerId, ClickId, ...,
    each item's Sku (``fixes.sendable.identifier_columns``)."""
    return identifier_columns(ctx.schema) if ctx.schema is not None else []


def _id_predicted(ctx: _Ctx, name: str) -> str | None:
    """The code a broken ID cell predicts: the action is not found when a modification's
    action-naming ID is broken (None: the check's own code); no code is known otherwise."""
    naming = name in ("action_id", "oid", "action_tracker_id")
    return None if naming and ctx.template not in _CONV else ""


def _unheld(ctx: _Ctx, *, ids: bool) -> Iterable[pd.DataFrame | None]:
    """Findings on the cells the file gives no value for, in the ID columns (``ids``) or in
    the others."""
    cells = ctx.cells_without_value()
    if not len(cells):
        return
    id_labels = set(_id_labels(ctx).values())
    mine = cells["label"].isin(id_labels).to_numpy(dtype=bool)
    cells = cells[mine if ids else ~mine]
    workbook = ctx.table.format == "xlsx"
    tail = (
        "open it in Excel, let it calculate, unmerge the cells, fix the error and save it "
        "(or type the value)"
        if workbook
        else "a spreadsheet wrote its error in place of the value: fix the formula or type the "
        "value"
    )
    for label, group in cells.groupby("label", sort=False):
        pos = group["pos"].to_numpy(dtype=np.int64)
        lab = str(label)
        if ids:
            why = "the workbook does not hold the identifier" if workbook else "it is no identifier"
            lead = f"{why}, so the row would name no action (or the wrong one); "
        else:
            lead = "the file does not give its value, which would be sent blank or as error text; "
        advice = [f"the cell is {what}: {lead}{tail}" for what in group["what"]]
        conversion_oid = ctx.template in _CONV and lab == ctx.label("oid")
        yield _hits(
            ctx,
            pos,
            lab,
            ctx.raw(lab).iloc[pos].to_numpy(dtype=object),
            advice,
            predicted="" if (conversion_oid or not ids) else None,
        )


def _ck_id_unreadable(ctx: _Ctx) -> Iterable[pd.DataFrame | None]:
    yield from _unheld(ctx, ids=True)


def _ck_cell_unreadable(ctx: _Ctx) -> Iterable[pd.DataFrame | None]:
    yield from _unheld(ctx, ids=False)


def _ck_id_placeholder(ctx: _Ctx) -> Iterable[pd.DataFrame | None]:
    for name, label in _all_id_columns(ctx):
        kinds = ctx.id_kinds(label)
        mask = (kinds == IdCell.INVISIBLE) | (kinds == IdCell.PLACEHOLDER)
        if not mask.any():
            continue
        pos = np.flatnonzero(mask).astype(np.int64)
        raw = ctx.raw(label).iloc[pos].to_numpy(dtype=object)
        advice = [
            f"the cell {kind_text(int(k), str(v))}: impact.com would take it as the ID itself; "
            "fill in the real value from the original, or leave the cell empty"
            for k, v in zip(kinds[pos], raw, strict=True)
        ]
        yield _hits(ctx, pos, label, raw, advice, predicted=_id_predicted(ctx, name))


def _ck_id_characters(ctx: _Ctx) -> Iterable[pd.DataFrame | None]:
    for name, label in _all_id_columns(ctx):
        if name in ("action_tracker_id", "campaign_id"):
            continue  # not-an-integer says it for these: they are digits 0-9 only

        def advice(raw: str, label: str = label) -> str:
            return odd_id_text(raw, label)

        yield _cells(
            ctx,
            odd_id_characters(ctx.raw(label), name),
            label,
            advice,
            predicted=_id_predicted(ctx, name),
        )


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
        description=(
            "ActionTrackerId, CampaignId (conversions) or Quantity{i} is not a whole number in "
            "ASCII digits (a digit of another script such as ١, or a fullwidth one, is not)."
        ),
        fn=_ck_not_integer,
        example="`16027.0`, `1.6E+04`, `one`",
    ),
    Check(
        slug="id-cell-unreadable",
        severity=E,
        predicted_error="ACTION_NOT_FOUND",
        title="ID cell without a value",
        description=(
            "An ActionId, Oid/OrderId, ActionTrackerId or CampaignId cell holds no value the "
            "file gives: a workbook's formula whose result was never saved, an error value such "
            "as #N/A (in a workbook, or written as text by a spreadsheet into a CSV), or a cell "
            "merged into another."
        ),
        fn=_ck_id_unreadable,
        example="`=VLOOKUP(...)` never calculated, `#N/A`, merged cells",
    ),
    Check(
        slug="cell-unreadable",
        severity=E,
        predicted_error="",
        title="Cell without a value",
        description=(
            "A cell outside the ID columns holds no value the file gives: a workbook's formula "
            "whose result was never saved, an error value such as #N/A (in a workbook, or "
            "written as text by a spreadsheet into a CSV), or a cell merged into another. It "
            "would be sent blank or as the error's text."
        ),
        fn=_ck_cell_unreadable,
        example="an Amount `=B6*2` never calculated, a Sku `#N/A`",
    ),
    Check(
        slug="id-placeholder",
        severity=E,
        predicted_error="ACTION_NOT_FOUND",
        title="ID cell holding a placeholder",
        description=(
            "An identifier cell (ActionId, Oid/OrderId, ActionTrackerId, CampaignId, "
            "CustomerId, ClickId, MediaPartnerId, the other ID columns, each item's Sku{i}) "
            "holds a stand-in for no value (NULL, None, nan, N/A, NA, -, --, ?) or only "
            "invisible characters (a zero-width space, a BOM). Whole values only: NA123 is an "
            "ID. ACTION_NOT_FOUND is predicted for a modification's ActionId, Oid or "
            "ActionTrackerId; no code otherwise."
        ),
        fn=_ck_id_placeholder,
        example="`NULL`, `N/A`, `-`, a zero-width space",
    ),
    Check(
        slug="id-odd-characters",
        severity=E,
        predicted_error="ACTION_NOT_FOUND",
        title="ID with characters IDs do not have",
        description=(
            "An ActionId with any character but ASCII ones, or another identifier (Oid/OrderId, "
            "CustomerId, ClickId, MediaPartnerId, a Sku{i}, ...) with digits of another script, "
            "fullwidth forms, superscripts or invisible characters. impact.com IDs are ASCII "
            "(ActionTrackerId and CampaignId: not-an-integer); reconciler never converts them. "
            "ACTION_NOT_FOUND is predicted for a modification's ActionId or Oid; no code "
            "otherwise."
        ),
        fn=_ck_id_characters,
        example="`１０００.４６３６.１０`, `٣٤٥.٦٧`, `T١١`",
    ),
    Check(
        slug="id-spoiled",
        severity=E,
        predicted_error="ACTION_NOT_FOUND",
        title="ID spoiled by a spreadsheet",
        description=(
            "ActionId or Oid in scientific notation, with a .0 suffix, or 17 digits or more "
            "ending in zeros past the 15th (a spreadsheet's rounding); 16-digit values ending "
            "in 0 only when every ID of 16 digits or more in the column does (at least two: one "
            "ID in ten ends in 0). For conversions the order would be recorded under the wrong "
            "OrderId (no code is predicted)."
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
