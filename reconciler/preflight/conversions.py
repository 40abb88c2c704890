"""Checks of conversion files: OrderId, required values, EventDate, attribution keys,
chained CustomerIds."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import timedelta

import numpy as np
import pandas as pd

from reconciler.fixes import (
    ISO_DATETIME,
    fix_date,
)
from reconciler.preflight.base import (
    _CONV,
    _ISO_NO_OFFSET,
    CONVERSION_MAX_DAYS,
    CONVERSION_MAX_DAYS_MEDIA,
    BoolArray,
    E,
    W,
)
from reconciler.preflight.context import Check, _cells, _Ctx, _hits, _mask, _where
from reconciler.templates import (
    ATTRIBUTION_FIELDS,
    Template,
)


def _ck_order_id_missing(ctx: _Ctx) -> Iterable[pd.DataFrame | None]:
    label = ctx.label("oid")
    if label is not None:
        yield _cells(ctx, ~ctx.holds_id(label), label, "OrderId is required for every conversion")


def _ck_required_value(ctx: _Ctx) -> Iterable[pd.DataFrame | None]:
    campaign = ctx.label("campaign_id")
    if campaign is not None:
        yield _cells(
            ctx,
            ~ctx.holds_id(campaign),
            campaign,
            "CampaignId (the program) is required for every conversion",
            predicted="CAMPAIGN_NOT_FOUND",
        )
    trk, code = ctx.label("action_tracker_id"), ctx.label("event_type_code")
    if trk is not None or code is not None:
        yield _cells(
            ctx,
            ~ctx.holds_id(trk) & ~ctx.filled(code),
            str(trk or code),
            "ActionTrackerId (or EventTypeCode) is required: it says which event type the "
            "conversion is",
            predicted="ACTIONTRACKER_NOT_FOUND",
        )
    date_label = ctx.label("event_date")
    if date_label is not None:
        yield _cells(
            ctx,
            ~ctx.filled(date_label),
            date_label,
            "EventDate is required: the date and time of the conversion in ISO 8601",
            predicted="MALFORMED",
        )


def _dates(ctx: _Ctx) -> tuple[pd.Series, pd.Series, BoolArray, BoolArray, BoolArray]:
    """EventDate: (instant UTC | NaT, date as written | NaT, iso, iso-without-offset, NOW)."""
    if "dates" in ctx._cache:
        out: tuple[pd.Series, pd.Series, BoolArray, BoolArray, BoolArray] = ctx._cache["dates"]
        return out
    label = ctx.label("event_date")
    assert label is not None
    val = ctx.val(label)
    filled = ctx.filled(label)
    iso = filled & _mask(val.str.fullmatch(ISO_DATETIME.pattern.strip("^$")))
    naive = filled & ~iso & _mask(val.str.fullmatch(_ISO_NO_OFFSET.pattern.strip("^$")))
    now = filled & _mask(val.str.upper() == "NOW")
    instant = pd.Series(pd.NaT, index=val.index, dtype="datetime64[ns, UTC]")
    written = pd.Series(pd.NaT, index=val.index, dtype="datetime64[ns]")
    if iso.any():
        instant[iso] = pd.to_datetime(val[iso], utc=True, format="ISO8601", errors="coerce")
    if (iso | naive).any():
        both = iso | naive
        written[both] = pd.to_datetime(
            val[both].str.slice(0, 10), format="%Y-%m-%d", errors="coerce"
        )
    # A date that matches the pattern but does not exist (2025-02-30) is not ISO 8601 either.
    iso &= _mask(instant.notna())
    naive &= _mask(written.notna())
    ctx._cache["dates"] = (instant, written, iso, naive, now)
    return ctx._cache["dates"]  # type: ignore[no-any-return]


def _date_advice(ctx: _Ctx) -> Callable[[str], str]:
    tz = ctx.opts.timezone

    def advice(raw: str) -> str:
        fix = fix_date(raw, tz)
        if fix.ok:
            return f"{fix.problem}; write {fix.value} (--fix does)"
        return fix.problem or f"the date {raw!r} is not ISO 8601 (e.g. 2025-02-03T10:15:07-05:00)"

    return advice


def _ck_event_date_not_iso(ctx: _Ctx) -> Iterable[pd.DataFrame | None]:
    label = ctx.label("event_date")
    if label is None:
        return
    _, _, iso, naive, now = _dates(ctx)
    bad = ctx.filled(label) & ~iso & ~naive & ~now
    tz = ctx.opts.timezone
    yield _cells(
        ctx,
        bad,
        label,
        _date_advice(ctx),
        fix=lambda v: "MALFORMED" if fix_date(v, tz).ok else "",
    )


def _ck_event_date_no_offset(ctx: _Ctx) -> Iterable[pd.DataFrame | None]:
    label = ctx.label("event_date")
    if label is None:
        return
    _, _, _, naive, _ = _dates(ctx)
    tz = ctx.opts.timezone
    yield _cells(
        ctx,
        naive,
        label,
        lambda v: (
            f"{v!r} has no time zone offset, so impact.com reads it in the account's time "
            "zone; add the offset (e.g. -05:00)"
            + (f" (--fix writes {fix_date(v, tz).value})" if tz else " or pass --timezone to --fix")
        ),
        fix="MALFORMED" if tz is not None else "",
    )


def _ck_event_date_future(ctx: _Ctx) -> Iterable[pd.DataFrame | None]:
    if ctx.label("event_date") is None:
        return
    instant, written, iso, naive, _ = _dates(ctx)
    # After the end of `today` everywhere on Earth (UTC-12), or a written date after today.
    latest = pd.Timestamp(ctx.today + timedelta(days=1), tz="UTC") + pd.Timedelta(hours=12)
    future = iso & _mask(instant > latest)
    future |= naive & _mask(written > pd.Timestamp(ctx.today))
    label = str(ctx.label("event_date"))
    yield _cells(
        ctx,
        future,
        label,
        lambda v: (
            f"EventDate {v.strip()} is after {ctx.today.isoformat()}; a conversion cannot "
            "happen in the future: check the year and the day/month order"
        ),
    )


def _ck_event_date_too_old(ctx: _Ctx) -> Iterable[pd.DataFrame | None]:
    label = ctx.label("event_date")
    if label is None:
        return
    _, written, iso, naive, _ = _dates(ctx)
    age = (pd.Timestamp(ctx.today) - written).dt.days
    media = ctx.field_filled("media_partner_id")
    limit = np.where(media, CONVERSION_MAX_DAYS_MEDIA, CONVERSION_MAX_DAYS)
    old = (iso | naive) & _mask(age > limit)
    if not old.any():
        return
    pos = _where(old)
    advice = [
        f"EventDate is {int(age.iat[p])} days before {ctx.today.isoformat()}; impact.com does not "
        f"process file conversions older than {int(limit[p])} days"
        + ("" if media[p] else f" ({CONVERSION_MAX_DAYS_MEDIA} when attributed by MediaId)")
        for p in pos
    ]
    yield _hits(ctx, pos, label, ctx.raw(label).iloc[pos].to_numpy(dtype=object), advice)


def _ck_attribution(ctx: _Ctx) -> Iterable[pd.DataFrame | None]:
    labels = [lab for name in ATTRIBUTION_FIELDS if (lab := ctx.label(name))]
    if not labels:
        return  # required-column-missing says it once
    none = np.ones(ctx.n, dtype=bool)
    for label in labels:
        none &= ~ctx.filled(label)
    yield _cells(
        ctx,
        none,
        labels[0],
        "the conversion has no attribution key (ClickId, CustomerId, PromoCode, MediaId...); "
        "impact.com cannot credit it to a partner",
    )


def _ck_chained_customer_case(ctx: _Ctx) -> Iterable[pd.DataFrame | None]:
    label = ctx.label("customer_id")
    if label is None:
        return
    val = ctx.val(label)
    filled = ctx.filled(label)
    folded = val.str.lower()
    sub = pd.DataFrame({"v": val[filled], "f": folded[filled]})
    first = sub.groupby("f", sort=False)["v"].transform("first")
    odd = np.zeros(ctx.n, dtype=bool)
    odd[_where(filled)] = _mask(sub["v"] != first)
    if not odd.any():
        return
    firsts = dict(zip(sub["f"], first, strict=True))
    yield _cells(
        ctx,
        odd,
        label,
        lambda v: (
            f"CustomerId {v.strip()!r} differs only in case from {firsts[v.strip().lower()]!r} "
            "earlier in the file; chained actions are linked by the identical CustomerId"
        ),
    )


CHECKS: tuple[Check, ...] = (
    Check(
        slug="order-id-missing",
        severity=E,
        predicted_error="OID_MISSING",
        title="OrderId missing",
        description="OrderId is required.",
        fn=_ck_order_id_missing,
        example="empty OrderId",
        templates=_CONV,
    ),
    Check(
        slug="required-value-missing",
        severity=E,
        predicted_error="",
        title="Required conversion value missing",
        description=(
            "CampaignId (CAMPAIGN_NOT_FOUND), ActionTrackerId and EventTypeCode "
            "(ACTIONTRACKER_NOT_FOUND) or EventDate (MALFORMED) empty."
        ),
        fn=_ck_required_value,
        example="empty CampaignId",
        templates=_CONV,
    ),
    Check(
        slug="event-date-not-iso",
        severity=E,
        predicted_error="MALFORMED",
        title="EventDate not ISO 8601",
        description="EventDate must be ISO 8601, e.g. 2025-02-03T10:15:07-05:00.",
        fn=_ck_event_date_not_iso,
        example="`02/02/2025 16:40`",
        templates=_CONV,
    ),
    Check(
        slug="event-date-no-offset",
        severity=W,
        predicted_error="",
        title="EventDate without a time zone",
        description="An ISO date or date-time without an offset is read in the account's time zone.",
        fn=_ck_event_date_no_offset,
        example="`2025-02-03T10:15:07`",
        templates=_CONV,
    ),
    Check(
        slug="event-date-in-future",
        severity=E,
        predicted_error="",
        title="EventDate in the future",
        description="After the end of --today in every time zone.",
        fn=_ck_event_date_future,
        example="`2030-01-01T00:00:00Z`",
        templates=_CONV,
    ),
    Check(
        slug="event-date-too-old",
        severity=E,
        predicted_error="",
        title="EventDate too old",
        description=(
            "File conversions older than 88 days are not processed (398 days when attributed by "
            "MediaId)."
        ),
        fn=_ck_event_date_too_old,
        example="EventDate 120 days ago",
        templates=_CONV,
    ),
    Check(
        slug="attribution-key-missing",
        severity=E,
        predicted_error="ACTION_REF_NOT_FOUND",
        title="No attribution key",
        description=(
            "A conversion needs at least one of ClickId, CustomerId, CustomProfileId, "
            "CustomClickId, PromoCode, MediaId, UniqueUrl, CallerId or a device ID."
        ),
        fn=_ck_attribution,
        example="ClickId, CustomerId and PromoCode empty",
        templates=_CONV,
    ),
    Check(
        slug="chained-customer-id-case",
        severity=E,
        predicted_error="ACTION_REF_NOT_FOUND",
        title="Chained CustomerId differs in case",
        description="Chained actions are linked only by an identical CustomerId.",
        fn=_ck_chained_customer_case,
        example="`R930QWER5` then `r930qwer5`",
        templates=frozenset({Template.CHAINED_CONVERSION}),
    ),
)
