"""Which columns of a sent file identify something or hold a number, and which of their cells
impact.com would refuse as they are: one judgement for ``check``'s findings (``preflight``)
and for the records ``reconcile`` may resubmit (``remediate``), so that ``check`` predicts
exactly what a resubmission refuses to send.

- Identifier columns (``identifier_columns``): the IDs naming the action or the order
  (ActionId, Oid/OrderId, ActionTrackerId, CampaignId), every other ID column a template sends
  (CustomerId, ClickId, MediaPartnerId, the device and profile IDs) and each item's Sku. A cell
  of them holds no identifier when it is a placeholder or invisible characters only
  (``cells.id_cell_kinds``), or holds characters impact.com's IDs never hold
  (``cells.odd_id_characters``).
- Items (``item_gaps``): an item with values but no Sku names no item; an item with a Sku but
  no Quantity (or, in a modification, no Amount) is incomplete; an item-level conversion row
  without any Sku has no item.
- Number columns: whole numbers (each item's Quantity, ActionTrackerId, a conversion's
  CampaignId) are ASCII digits only (``not_whole``); amounts (Amount, each item's Amount or
  ItemPrice) are plain decimals of at most two places, 0 or more, at most 999999.99
  (``not_plain_amount``). A digit of another script (``١``) or a fullwidth one is never read
  as an ASCII digit.

It never changes a value: what it finds goes to a person (or to a fix rule, for the codes
that have one).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from reconciler.detect import SentSchema
from reconciler.templates import (
    CONVERSION_TEMPLATES,
    SENT_FIELDS,
    FieldType,
    Template,
)

from .cells import BoolArray, IdCell, _array, _np, id_cell_kinds
from .values import MAX_AMOUNT, PLAIN_AMOUNT

NAMING_ID_FIELDS: Final = ("action_id", "oid", "action_tracker_id", "campaign_id")
"""The IDs that name what a record is about: the action it modifies, the order it converts."""
OTHER_ID_FIELDS: Final = tuple(
    spec.name
    for spec in SENT_FIELDS
    if spec.type is FieldType.ID and spec.name not in NAMING_ID_FIELDS
)
"""Every other identifier a template sends: CustomerId, ClickId, MediaPartnerId, ..."""

DECIMAL_COMMA: Final = re.compile(r"^[0-9]+,[0-9]{1,2}$")


def identifier_columns(schema: SentSchema) -> list[tuple[str, str]]:
    """(field, label) of every identifier column of the file: the naming IDs first, then the
    other ID fields, then each item's Sku (field ``sku``)."""
    out = [
        (name, label)
        for name in (*NAMING_ID_FIELDS, *OTHER_ID_FIELDS)
        if (label := schema.column(name))
    ]
    return out + [("sku", label) for label in schema.item_columns("sku")]


def integer_columns(schema: SentSchema) -> list[tuple[str, str]]:
    """(field, label) of the columns holding whole numbers: ActionTrackerId, a conversion's
    CampaignId, each item's Quantity."""
    names = ["action_tracker_id"]
    if schema.template in CONVERSION_TEMPLATES:
        names.append("campaign_id")
    out = [(name, label) for name in names if (label := schema.column(name))]
    return out + [("quantity", label) for label in schema.item_columns("quantity")]


def amount_columns(schema: SentSchema) -> list[str]:
    """The labels of the amount columns: the order's Amount, each item's Amount/ItemPrice."""
    order = [label for label in (schema.column("amount"),) if label]
    return order + list(schema.item_columns("item_amount"))


def _stripped(values: pd.Series) -> pa.Array:
    return pc.utf8_trim_whitespace(_array(values))


def not_whole(values: pd.Series, *, identifier: bool) -> BoolArray:
    """Which cells are not a whole number in ASCII digits (whitespace at their ends aside: it
    has a finding of its own). Empty cells are fine here; in an identifier column
    (``identifier``) so are the cells holding no identifier at all (judged by
    ``cells.id_cell_kinds``)."""
    arr = _stripped(values)
    held = id_cell_kinds(values) == IdCell.HELD if identifier else ~_np(pc.equal(arr, ""))
    return np.asarray(held & ~_np(pc.ascii_is_decimal(arr)), dtype=bool)


def not_plain_amount(values: pd.Series, *, decimal_comma_ok: bool = False) -> BoolArray:
    """Which amount cells impact.com would refuse as they are: not a plain decimal of at most
    two places in ASCII digits (a sign, a currency, separators, text, a digit of another
    script), or more than 999999.99. ``decimal_comma_ok``: a decimal comma (``49,90``) is the
    local convention of a semicolon, tab or pipe file, a warning rather than an error."""
    arr = _stripped(values)
    filled = ~_np(pc.equal(arr, ""))
    plain = _np(pc.match_substring_regex(arr, PLAIN_AMOUNT.pattern))
    bad = filled & ~plain
    if decimal_comma_ok and bad.any():
        bad &= ~_np(pc.match_substring_regex(arr, DECIMAL_COMMA.pattern))
    # More than six digits before the point: the few candidates are judged exactly.
    point = pc.find_substring(arr, ".")
    whole = pc.if_else(pc.less(point, 0), pc.utf8_length(arr), point)
    big = np.flatnonzero(plain & _np(pc.greater(whole, 6)))
    if len(big):
        texts = np.asarray(pc.take(arr, pa.array(big)).to_pylist(), dtype=object)
        bad[big] = [Decimal(str(t)) > MAX_AMOUNT for t in texts]
    return bad


def decimal_comma_is_local(file_format: str, delimiter: str | None) -> bool:
    """A decimal comma is the local convention (a warning, not an error) in a CSV separated by
    something else than a comma."""
    return file_format == "csv" and delimiter not in (None, ",")


@dataclass(frozen=True, slots=True)
class ItemGap:
    """Records whose item ``index`` names no item or lacks a value: the cell ``label`` to look
    at, and why (``kind``: ``no-sku`` or ``incomplete``)."""

    kind: str
    index: int
    label: str
    mask: BoolArray
    word: str  # the missing value's name: "Sku2", "Quantity2", "Amount2"


def item_gaps(frame: pd.DataFrame, schema: SentSchema) -> list[ItemGap]:
    """The item-level rows that cannot be sent as they are. A modification's item with a
    Quantity, Amount or Category and no Sku names no item; an item whose Sku holds an
    identifier and has no Quantity (or, in a modification, no Amount) is incomplete. In an
    item-level conversion a row whose every Sku is empty has no item (reported on the first
    Sku). A Sku that is a placeholder or invisible is judged by ``identifier_columns``."""
    if schema.template not in (Template.ITEM_MODIFICATION, Template.ITEM_CONVERSION):
        return []
    n = len(frame)
    items: dict[int, dict[str, str]] = {}
    for item in sorted(schema.items, key=lambda i: i.index):
        items.setdefault(item.index, {}).setdefault(item.field, item.column)

    def filled(label: str) -> BoolArray:
        return ~_np(pc.equal(_stripped(frame[label]), ""))

    gaps: list[ItemGap] = []
    modification = schema.template is Template.ITEM_MODIFICATION
    if not modification:
        skus = [f["sku"] for f in items.values() if "sku" in f]
        if skus:
            none = np.ones(n, dtype=bool)
            for label in skus:
                none &= ~filled(label)
            first = min(i for i, f in items.items() if "sku" in f)
            gaps.append(ItemGap("no-sku", first, skus[0], none, f"Sku{first}"))
    for index, fields in items.items():
        sku = fields.get("sku")
        if sku is None:
            continue
        if modification:
            others = [fields[f] for f in ("quantity", "item_amount", "category") if f in fields]
            if others:
                any_other = np.zeros(n, dtype=bool)
                for label in others:
                    any_other |= filled(label)
                gaps.append(ItemGap("no-sku", index, sku, any_other & ~filled(sku), f"Sku{index}"))
        held = id_cell_kinds(frame[sku]) == IdCell.HELD
        need = ("quantity", "item_amount") if modification else ("quantity",)
        for name in need:
            needed = fields.get(name)
            if needed is not None:
                word = ("Quantity" if name == "quantity" else "Amount") + str(index)
                gaps.append(ItemGap("incomplete", index, needed, held & ~filled(needed), word))
    return gaps
