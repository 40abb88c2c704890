"""Checks of the file as a whole: extension, reserved name, encoding, delimiter, header,
template, required columns."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Final

import pandas as pd

from reconciler.detect import looks_like_results
from reconciler.preflight.base import _CONV, _DATA_CELL, _FILE, _MODS, _RESERVED_PREFIXES, E, W
from reconciler.preflight.context import Check, _Ctx, _file_hit
from reconciler.templates import (
    ATTRIBUTION_FIELDS,
    SENT_FIELDS,
    TEMPLATE_TITLES,
    Template,
)


def _ck_not_csv_or_xml(ctx: _Ctx) -> Iterable[pd.DataFrame | None]:
    t = ctx.table
    suffix = t.path.suffix.lower()
    if (t.format, suffix) in (("csv", ".csv"), ("xml", ".xml")):
        return
    if t.format in ("csv", "xml"):
        value = suffix or "(no extension)"
        advice = (
            f"impact.com reads only .csv and .xml files; a {value} file is counted as 0 "
            f"records: rename it to .{t.format} (or use --fix, which writes a .csv)"
        )
    else:
        value = f"{t.format} ({suffix})" if suffix else t.format
        advice = (
            f"impact.com reads only .csv and .xml files, not {t.format.upper()}; save it as "
            "CSV UTF-8 (or use --fix, which writes <file>.fixed.csv)"
        )
    yield _file_hit(0, value, advice)


def _ck_reserved_name(ctx: _Ctx) -> Iterable[pd.DataFrame | None]:
    name = ctx.table.path.name
    if name.lower().startswith(_RESERVED_PREFIXES):
        yield _file_hit(
            0,
            name,
            "file names starting with receipt_ or result_ are reserved for impact.com's own "
            "receipt and result files and are ignored; rename the file",
        )


def _ck_utf8_bom(ctx: _Ctx) -> Iterable[pd.DataFrame | None]:
    t = ctx.table
    if t.format == "csv" and t.encoding == "utf-8-sig":
        yield _file_hit(
            0,
            "UTF-8 with BOM",
            "the file starts with a byte-order mark, which can become an invisible part of "
            "the first column name; save it as UTF-8 without BOM, or use --fix",
        )


def _ck_not_utf8(ctx: _Ctx) -> Iterable[pd.DataFrame | None]:
    t = ctx.table
    if t.format == "csv" and t.encoding and t.encoding not in ("utf-8", "utf-8-sig"):
        yield _file_hit(
            0,
            t.encoding,
            f"the file is {t.encoding}, not UTF-8; impact.com may misread it (UTF-16 files "
            "often read as 0 records, accents turn to garbage); save it as CSV UTF-8, or use "
            "--fix",
        )


def _ck_delimiter(ctx: _Ctx) -> Iterable[pd.DataFrame | None]:
    t = ctx.table
    if t.format == "csv" and t.delimiter not in (None, ","):
        names = {";": "semicolon", "\t": "tab", "|": "pipe"}
        name = names.get(t.delimiter or "", repr(t.delimiter))
        yield _file_hit(
            t.header_line,
            name,
            f"the columns are separated by a {name}; impact.com expects commas (a semicolon "
            "file from European Excel may be read as one column); save it as CSV with commas, "
            "or use --fix",
        )


def _looks_like_data(header: Sequence[str]) -> bool:
    cells = [c.strip() for c in header if c.strip()]
    data = sum(1 for c in cells if _DATA_CELL.match(c))
    return bool(cells) and data * 2 >= len(cells)


def _ck_no_header(ctx: _Ctx) -> Iterable[pd.DataFrame | None]:
    if ctx.schema is None and ctx._cache.get("shape_error") and _looks_like_data(ctx.table.header):
        yield _file_hit(
            ctx.table.header_line,
            ",".join(ctx.table.header)[:200],
            "the first row holds data, not column names; add the header row (e.g. "
            "ActionId,Oid,ActionTrackerId,Amount,CurrencyCode,CustomerStatus,Reason)",
        )


_RESULTS_ADVICE: Final = (
    "this looks like a results export, not a file to submit; check the file you meant to send"
)


def _ck_unknown_template(ctx: _Ctx) -> Iterable[pd.DataFrame | None]:
    t = ctx.table
    header = ",".join(t.header)[:200]
    if ctx.schema is None:
        if ctx._cache.get("shape_error") and not _looks_like_data(t.header):
            advice = str(ctx._cache["shape_error"])
            if looks_like_results(t):
                advice = _RESULTS_ADVICE
            yield _file_hit(t.header_line, header, advice)
    elif ctx.template is Template.UNKNOWN:
        yield _file_hit(
            t.header_line,
            header,
            _RESULTS_ADVICE
            if looks_like_results(t)
            else "the columns match no impact.com template: a modification needs ActionId (or "
            "Oid + ActionTrackerId) and Reason; a conversion needs CampaignId, ActionTrackerId, "
            "EventDate, OrderId and an attribution key such as ClickId",
        )


_LABELS: Final = {spec.name: spec.aliases[0] for spec in SENT_FIELDS}


def _ck_required_columns(ctx: _Ctx) -> Iterable[pd.DataFrame | None]:
    if ctx.schema is None:
        return
    has = ctx.schema.fields.__contains__
    missing: list[tuple[str, str]] = []  # (column, predicted code)
    tpl = ctx.template
    if tpl in _MODS:
        if not has("action_id") and not has("oid"):
            missing.append(("ActionId (or Oid + ActionTrackerId)", "ACTION_NOT_FOUND"))
        elif not has("action_id") and not has("action_tracker_id"):
            missing.append(("ActionTrackerId", "ACTION_NOT_FOUND"))
        if not has("reason"):
            missing.append(("Reason", "BAD_DISPOSITION"))
        if tpl is Template.ITEM_MODIFICATION:
            for index, fields in ctx.items().items():
                if "sku" in fields and "quantity" not in fields:
                    missing.append((f"Quantity{index}", "MALFORMED"))
    elif tpl in _CONV:
        if not has("campaign_id"):
            missing.append(("CampaignId", "CAMPAIGN_NOT_FOUND"))
        if not has("action_tracker_id") and not has("event_type_code"):
            missing.append(("ActionTrackerId (or EventTypeCode)", "ACTIONTRACKER_NOT_FOUND"))
        if not has("event_date"):
            missing.append(("EventDate", "MALFORMED"))
        if not has("oid"):
            missing.append(("OrderId", "OID_MISSING"))
        if not any(has(name) for name in ATTRIBUTION_FIELDS):
            missing.append(("an attribution key (ClickId, CustomerId, PromoCode, MediaId...)",
                            "ACTION_REF_NOT_FOUND"))  # fmt: skip
        if tpl is Template.ITEM_CONVERSION and not ctx.schema.item_columns("sku"):
            missing.append(("Sku", "NO_ITEM"))
    for column, code in missing:
        yield _file_hit(
            ctx.table.header_line,
            column,
            f"the {TEMPLATE_TITLES[tpl].lower()} template needs the column {column}; add it "
            "(every record will be refused without it)",
            predicted=code,
        )


CHECKS: tuple[Check, ...] = (
    Check(
        slug="not-csv-or-xml",
        severity=E,
        predicted_error="ZERO_RECORDS",
        title="File is not .csv or .xml",
        description=(
            "impact.com reads batch files only with a .csv or .xml extension; anything else is "
            "counted as 0 records."
        ),
        fn=_ck_not_csv_or_xml,
        example="`sent.xlsx`, `sent.txt`",
        scope=_FILE,
    ),
    Check(
        slug="reserved-file-name",
        severity=E,
        predicted_error="",
        title="File name is reserved",
        description=(
            "File names starting with receipt_ or result_ are reserved for impact.com's own files "
            "and ignored."
        ),
        fn=_ck_reserved_name,
        example="`result_mods.csv`",
        scope=_FILE,
    ),
    Check(
        slug="utf8-bom",
        severity=W,
        predicted_error="",
        title="UTF-8 with a byte-order mark",
        description="A BOM can become part of the first header cell.",
        fn=_ck_utf8_bom,
        example="bytes `EF BB BF` before `ActionId`",
        scope=_FILE,
    ),
    Check(
        slug="not-utf8",
        severity=W,
        predicted_error="",
        title="Not UTF-8",
        description="UTF-16 (Excel 'Unicode text') or a legacy code page such as cp1252.",
        fn=_ck_not_utf8,
        example="`utf-16-le`, `cp1252`",
        scope=_FILE,
    ),
    Check(
        slug="delimiter-not-comma",
        severity=W,
        predicted_error="",
        title="Columns not separated by commas",
        description="Semicolon (European Excel), tab or pipe separated files.",
        fn=_ck_delimiter,
        example="`ActionId;Oid;Amount`",
        scope=_FILE,
    ),
    Check(
        slug="no-header",
        severity=E,
        predicted_error="",
        title="No header row",
        description="The first row holds data rather than column names.",
        fn=_ck_no_header,
        example="`1000.4636.158133,,,19.99,USD,,ORDER_UPDATE` as line 1",
        scope=_FILE,
    ),
    Check(
        slug="unknown-template",
        severity=E,
        predicted_error="",
        title="No impact.com template",
        description="The columns match no modification, reversal, reset, mobile or conversion template.",
        fn=_ck_unknown_template,
        example="`Order,Total,Status`",
        scope=_FILE,
    ),
    Check(
        slug="required-column-missing",
        severity=E,
        predicted_error="",
        title="Required column missing",
        description=(
            "A column the template needs is absent (Reason, ActionTrackerId beside Oid, "
            "Quantity{i} beside Sku{i}; CampaignId, ActionTrackerId or EventTypeCode, EventDate, "
            "OrderId and an attribution key for conversions). The predicted code depends on the "
            "column (BAD_DISPOSITION, ACTION_NOT_FOUND, OID_MISSING, ...)."
        ),
        fn=_ck_required_columns,
        example="`Oid,Amount,Reason` (no ActionTrackerId)",
        scope=_FILE,
    ),
)
