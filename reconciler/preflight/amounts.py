"""Checks of amounts and currencies."""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import Decimal

import pandas as pd
import pyarrow.compute as pc

from reconciler.fixes import (
    MAX_AMOUNT,
    PLAIN_AMOUNT,
    fix_amount,
)
from reconciler.preflight.base import _DECIMAL_COMMA, _ORDER_LEVEL, E, W
from reconciler.preflight.context import Check, CheckFn, _cells, _Ctx, _hits, _mask, _np, _where


def _amount_verdict(raw: str, delimiter: str | None) -> tuple[str, str, bool]:
    """(slug, advice, fixable) for a non-plain amount; slug "" when it is fine."""
    value = raw.strip()
    if value.startswith(("-", "(")) or value.endswith(")"):
        return (
            "amount-negative",
            (
                f"the amount {raw!r} is negative; Amount is the new total (0 or more), not a "
                "delta: 0 reverses the action"
            ),
            False,
        )
    if re.fullmatch(r"[0-9]*\.[0-9]{3,}", value):
        return (
            "amount-too-many-decimals",
            (
                f"the amount {raw!r} has more than two decimals (decimal(8,2)); round it to cents "
                "yourself, reconciler will not guess"
            ),
            False,
        )
    fix = fix_amount(raw)
    if fix.ok:
        if delimiter not in (None, ",") and _DECIMAL_COMMA.match(value):
            return (
                "amount-decimal-comma",
                (
                    f"the amount {raw!r} has a decimal comma; impact.com expects a decimal point "
                    f"({fix.value}) and the comma splits the column once the file is comma-"
                    "separated: --fix writes it"
                ),
                True,
            )
        return (
            "amount-not-a-number",
            (
                f"{fix.problem}; write it as {fix.value} (no currency signs or thousands "
                "separators): --fix does"
            ),
            True,
        )
    if "too large" in fix.problem:
        return (
            "amount-too-large",
            (f"the amount {raw!r} is more than {MAX_AMOUNT}, the largest decimal(8,2) value"),
            False,
        )
    if "more than two decimals" in fix.problem:
        return "amount-too-many-decimals", fix.problem + "; round it to cents yourself", False
    return "amount-not-a-number", fix.problem + "; write a plain decimal such as 1299.00", False


def _amount_findings(ctx: _Ctx) -> pd.DataFrame | None:
    """One pass over every amount column; the amount-* checks read their slug from it."""
    if "amounts" in ctx._cache:
        out: pd.DataFrame | None = ctx._cache["amounts"]
        return out
    frames: list[pd.DataFrame] = []
    for label in ctx.amount_labels():
        arr = ctx.arr(label)
        filled = ctx.filled(label)
        plain = _np(pc.match_substring_regex(arr, PLAIN_AMOUNT.pattern))
        odd = filled & ~plain
        # Plain amounts can still be too large: more than six digits before the point (the
        # few candidates are judged exactly below).
        point = pc.find_substring(arr, ".")
        whole = pc.if_else(pc.less(point, 0), pc.utf8_length(arr), point)
        big = plain & _np(pc.greater(whole, 6))
        pos = _where(odd | big)
        if not len(pos):
            continue
        values = ctx.raw(label).iloc[pos]
        delimiter = ctx.table.delimiter if ctx.table.format == "csv" else None
        memo: dict[str, tuple[str, str, bool]] = {}
        for v in pd.unique(values):
            s = str(v)
            if PLAIN_AMOUNT.match(s.strip()):
                memo[s] = (
                    ("amount-too-large", f"the amount {s!r} is more than {MAX_AMOUNT}, the "
                     "largest decimal(8,2) value", False)
                    if Decimal(s.strip()) > MAX_AMOUNT
                    else ("", "", False)
                )  # fmt: skip
            else:
                memo[s] = _amount_verdict(s, delimiter)
        verdicts = [memo[str(v)] for v in values]
        frame = _hits(
            ctx,
            pos,
            label,
            values.to_numpy(dtype=object),
            [v[1] for v in verdicts],
            fix=["MALFORMED" if v[2] else "" for v in verdicts],
        )
        frame["_slug"] = [v[0] for v in verdicts]
        frames.append(frame[frame["_slug"] != ""])
    result = pd.concat(frames, ignore_index=True) if frames else None
    ctx._cache["amounts"] = result
    return result


def _amount_check(slug: str) -> CheckFn:
    def run(ctx: _Ctx) -> Iterable[pd.DataFrame | None]:
        found = _amount_findings(ctx)
        if found is not None:
            yield found[found["_slug"] == slug].drop(columns="_slug")

    run.__name__ = "_ck_" + slug.replace("-", "_")
    return run


def _ck_amount_missing(ctx: _Ctx) -> Iterable[pd.DataFrame | None]:
    label, reason = ctx.label("amount"), ctx.label("reason")
    if label is None:
        return
    mask = ~ctx.filled(label)
    if reason is not None:
        raw, memo = ctx.reason_kinds()
        custom = {v for v, (kind, _, _) in memo.items() if kind in ("custom", "mapped")}
        if custom:
            mask &= ~_mask(raw.isin(custom))
    yield _cells(
        ctx,
        mask,
        label,
        "Amount is empty: a modification needs the new total order amount (0 reverses the "
        "action); only a custom disposition code may change an action without one",
    )


def _ck_currency(ctx: _Ctx) -> Iterable[pd.DataFrame | None]:
    label = ctx.label("currency")
    if label is not None:
        arr = ctx.arr(label)
        iso = pc.and_(pc.and_(pc.ascii_is_alpha(arr), pc.ascii_is_upper(arr)),
                      pc.equal(pc.utf8_length(arr), 3))  # fmt: skip
        bad = ctx.filled(label) & ~_np(iso)
        yield _cells(
            ctx,
            bad,
            label,
            lambda v: f"{v!r} is not a 3-letter ISO currency code in capitals (e.g. USD, EUR)",
        )


CHECKS: tuple[Check, ...] = (
    Check(
        slug="amount-missing",
        severity=E,
        predicted_error="",
        title="Amount missing",
        description=(
            "An order-level modification with a standard Reason and no Amount says nothing to do. "
            "Rows with a custom disposition code are not flagged (the code may carry the change)."
        ),
        fn=_ck_amount_missing,
        example="`1000.4636.158133,,,,USD,,ORDER_UPDATE`",
        templates=_ORDER_LEVEL,
    ),
    Check(
        slug="amount-not-a-number",
        severity=E,
        predicted_error="MALFORMED",
        title="Amount is not a plain number",
        description="Currency signs, thousands separators, decimal commas in a comma file, text.",
        fn=_amount_check("amount-not-a-number"),
        example="`$1,299.00`, `29,99`, `n/a`",
    ),
    Check(
        slug="amount-negative",
        severity=E,
        predicted_error="MALFORMED",
        title="Negative amount",
        description="Amount is the new total (0 or more), never a delta.",
        fn=_amount_check("amount-negative"),
        example="`-5.00`",
    ),
    Check(
        slug="amount-too-many-decimals",
        severity=E,
        predicted_error="MALFORMED",
        title="More than two decimals",
        description="Amounts are decimal(8,2).",
        fn=_amount_check("amount-too-many-decimals"),
        example="`19.999`",
    ),
    Check(
        slug="amount-too-large",
        severity=E,
        predicted_error="MALFORMED",
        title="Amount too large",
        description="Amounts are decimal(8,2): at most 999999.99.",
        fn=_amount_check("amount-too-large"),
        example="`1000000.00`",
    ),
    Check(
        slug="amount-decimal-comma",
        severity=W,
        predicted_error="MALFORMED",
        title="Decimal comma",
        description=(
            "A decimal comma in a semicolon, tab or pipe separated file; it breaks the column "
            "once the file is comma-separated."
        ),
        fn=_amount_check("amount-decimal-comma"),
        example="`49,90`",
    ),
    Check(
        slug="currency-not-iso",
        severity=W,
        predicted_error="MALFORMED",
        title="Currency not a 3-letter code",
        description="CurrencyCode must be an ISO 4217 code in capitals.",
        fn=_ck_currency,
        example="`usd`, `$`, `US`",
    ),
)
