"""Checks of item-level rows."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from reconciler.preflight.base import _ITEMS, E
from reconciler.preflight.context import Check, _cells, _Ctx
from reconciler.templates import (
    Template,
)


def _ck_item_incomplete(ctx: _Ctx) -> Iterable[pd.DataFrame | None]:
    need = (
        ("quantity", "item_amount") if ctx.template is Template.ITEM_MODIFICATION else ("quantity",)
    )
    for index, fields in ctx.items().items():
        sku = fields.get("sku")
        if sku is None:
            continue
        for name in need:
            label = fields.get(name)
            if label is None:
                continue
            word = "Quantity" if name == "quantity" else "Amount"
            yield _cells(
                ctx,
                ctx.filled(sku) & ~ctx.filled(label),
                label,
                f"item {index} has a Sku but no {word}{index}: an item needs Sku, Quantity and "
                "Amount (Quantity 0 reverses it)",
            )


def _ck_item_sku_missing(ctx: _Ctx) -> Iterable[pd.DataFrame | None]:
    items = ctx.items()
    conversion = ctx.template is Template.ITEM_CONVERSION
    predicted = None if conversion else ""
    if conversion:
        skus = [f["sku"] for f in items.values() if "sku" in f]
        if skus:
            none = np.ones(ctx.n, dtype=bool)
            for label in skus:
                none &= ~ctx.filled(label)
            yield _cells(
                ctx,
                none,
                skus[0],
                "an item-level conversion row needs the Sku of its item (the sale would have "
                "no items)",
                predicted=predicted,
            )
        return
    for index, fields in items.items():
        sku = fields.get("sku")
        others = [fields[f] for f in ("quantity", "item_amount", "category") if f in fields]
        if sku is None or not others:
            continue
        any_other = np.zeros(ctx.n, dtype=bool)
        for label in others:
            any_other |= ctx.filled(label)
        yield _cells(
            ctx,
            any_other & ~ctx.filled(sku),
            sku,
            f"item {index} has values but no Sku{index}: say which item changes (the Sku as "
            "tracked on the action)",
            predicted=predicted,
        )


CHECKS: tuple[Check, ...] = (
    Check(
        slug="item-incomplete",
        severity=E,
        predicted_error="MALFORMED",
        title="Item without Quantity or Amount",
        description="A Sku{i} without Quantity{i} (or Amount{i} in modification files).",
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
