"""Checks of reason (disposition) codes, and of CustomerStatus on reversals."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from reconciler.preflight.base import (
    _MODIFICATION_ONLY,
    _MODS,
    _ORDER_LEVEL,
    _REVERSAL_ONLY,
    BoolArray,
    E,
    W,
)
from reconciler.preflight.context import Check, CheckFn, _cells, _Ctx, _mask


def _reason_rows(ctx: _Ctx, kinds: set[str]) -> tuple[BoolArray, pd.Series, dict[str, Any]]:
    raw, memo = ctx.reason_kinds()
    wanted = [v for v, (kind, _, _) in memo.items() if kind in kinds]
    mask = _mask(raw.isin(wanted)) if wanted else np.zeros(ctx.n, dtype=bool)
    return mask, raw, memo


def _ck_reason_missing(ctx: _Ctx) -> Iterable[pd.DataFrame | None]:
    label = ctx.label("reason")
    if label is not None:
        mask, _, _ = _reason_rows(ctx, {"empty"})
        yield _cells(
            ctx,
            mask,
            label,
            "Reason is required for every modification and reversal: give a standard code "
            "such as ORDER_UPDATE or ITEM_RETURNED (RESET in a reset file)",
        )


def _reason_check(kinds: set[str]) -> CheckFn:
    def run(ctx: _Ctx) -> Iterable[pd.DataFrame | None]:
        label = ctx.label("reason")
        if label is None:
            return
        mask, _, memo = _reason_rows(ctx, kinds)
        yield _cells(
            ctx,
            mask,
            label,
            lambda v: str(memo[v][1]),
            fix=lambda v: "BAD_DISPOSITION" if memo[v][2] else "",
        )

    return run


def _ck_reason_not_allowed(ctx: _Ctx) -> Iterable[pd.DataFrame | None]:
    label = ctx.label("reason")
    if label is None or ctx.label("amount") is None:
        return
    raw = ctx.raw(label)
    reversal = ctx.reversal()
    zero_or_amount = ctx.field_filled("amount")
    only_rev = _mask(raw.isin(list(_REVERSAL_ONLY))) & ~reversal & zero_or_amount
    only_mod = _mask(raw.isin(list(_MODIFICATION_ONLY))) & reversal
    yield _cells(
        ctx,
        only_rev,
        label,
        lambda v: (
            f"{v} is documented for reversals only, but this row changes the amount; use "
            "a modification code (e.g. ORDER_UPDATE) or set Amount to 0"
        ),
    )
    yield _cells(
        ctx,
        only_mod,
        label,
        lambda v: (
            f"{v} is documented for modifications, but Amount 0 reverses the action; use "
            "a reversal code such as ITEM_RETURNED or ORDER_ERROR"
        ),
    )


def _ck_customer_status_on_reversal(ctx: _Ctx) -> Iterable[pd.DataFrame | None]:
    label = ctx.label("customer_status")
    if label is not None:
        yield _cells(
            ctx,
            ctx.reversal() & ctx.filled(label),
            label,
            "CustomerStatus must not be sent on a reversal (Amount 0); leave it empty",
        )


CHECKS: tuple[Check, ...] = (
    Check(
        slug="reason-missing",
        severity=E,
        predicted_error="BAD_DISPOSITION",
        title="Reason missing",
        description="Every modification, reversal and reset needs a Reason.",
        fn=_ck_reason_missing,
        example="`1000.4636.158133,,,0,,,`",
        templates=_MODS,
    ),
    Check(
        slug="reason-not-standard",
        severity=E,
        predicted_error="BAD_DISPOSITION",
        title="Reason misspells a standard code",
        description=(
            "Another case or separators, up to two typing errors, or a fragment of a standard "
            "code (a reset file needs RESET exactly)."
        ),
        fn=_reason_check({"near"}),
        example="`item returned`, `Returned`, `ITEM_RETURN`",
        templates=_MODS,
    ),
    Check(
        slug="reason-custom",
        severity=W,
        predicted_error="BAD_DISPOSITION",
        title="Reason is not a standard code",
        description=(
            "Accepted only when configured exactly as a custom disposition code on the event type "
            "(or a --reason-map key, which --fix maps)."
        ),
        fn=_reason_check({"custom", "mapped"}),
        example="`REFUND`, `RETOURE`",
        templates=_MODS,
    ),
    Check(
        slug="reason-not-allowed",
        severity=W,
        predicted_error="BAD_DISPOSITION",
        title="Reason not documented for this change",
        description=(
            "REJECTED, CONS_INFO_INVALID and MP_RETURNED are reversal codes; ORDER_UPDATE and "
            "PARTNER_NOT_ACTIVE modification codes."
        ),
        fn=_ck_reason_not_allowed,
        example="Amount `0` with `ORDER_UPDATE`",
        templates=_ORDER_LEVEL,
    ),
    Check(
        slug="customer-status-on-reversal",
        severity=E,
        predicted_error="",
        title="CustomerStatus on a reversal",
        description="Do not include CustomerStatus for reversals (Amount 0).",
        fn=_ck_customer_status_on_reversal,
        example="Amount `0` with CustomerStatus `NEW`",
        templates=_ORDER_LEVEL,
    ),
)
