"""Checks of item-level rows: items naming no Sku, items without their Quantity or Amount
(``fixes.sendable.item_gaps``)."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from reconciler.fixes.sendable import ItemGap, item_gaps
from reconciler.preflight.base import _ITEMS, E
from reconciler.preflight.context import Check, _cells, _Ctx
from reconciler.templates import Template


def _gaps(ctx: _Ctx, kind: str) -> list[ItemGap]:
    """The item gaps of ``kind`` (``fixes.sendable.item_gaps``: the same judgement decides
    what ``reconcile`` refuses to resubmit)."""
    if "item_gaps" not in ctx._cache:
        ctx._cache["item_gaps"] = item_gaps(ctx.frame, ctx.schema) if ctx.schema else []
    found: list[ItemGap] = ctx._cache["item_gaps"]
    return [g for g in found if g.kind == kind]


def _ck_item_incomplete(ctx: _Ctx) -> Iterable[pd.DataFrame | None]:
    for gap in _gaps(ctx, "incomplete"):
        yield _cells(
            ctx,
            gap.mask,
            gap.label,
            f"item {gap.index} has a Sku but no {gap.word}: an item needs Sku, Quantity and "
            "Amount (Quantity 0 reverses it)",
        )


def _ck_item_sku_missing(ctx: _Ctx) -> Iterable[pd.DataFrame | None]:
    conversion = ctx.template is Template.ITEM_CONVERSION
    for gap in _gaps(ctx, "no-sku"):
        if conversion:
            yield _cells(
                ctx,
                gap.mask,
                gap.label,
                "an item-level conversion row needs the Sku of its item (the sale would have "
                "no items)",
            )
        else:
            yield _cells(
                ctx,
                gap.mask,
                gap.label,
                f"item {gap.index} has values but no {gap.word}: say which item changes (the "
                "Sku as tracked on the action)",
                predicted="",
            )


CHECKS: tuple[Check, ...] = (
    Check(
        slug="item-incomplete",
        severity=E,
        predicted_error="MALFORMED",
        title="Item without Quantity or Amount",
        description=(
            "A Sku{i} holding an identifier without Quantity{i} (or Amount{i} in modification "
            "files); a Sku{i} that is a placeholder is id-placeholder."
        ),
        fn=_ck_item_incomplete,
        example="`Sku2` `80114455`, `Quantity2` empty",
        templates=_ITEMS,
    ),
    Check(
        slug="item-sku-missing",
        severity=E,
        predicted_error="NO_ITEM",
        title="Item without Sku",
        description=(
            "Item values without their Sku{i}; an item-level conversion row without any Sku "
            "(NO_ITEM; no code is predicted for modifications)."
        ),
        fn=_ck_item_sku_missing,
        example="`Quantity1` `1`, `Sku1` empty",
        templates=_ITEMS,
    ),
)
