"""impact.com file templates, header aliases and field types, as data.

Owns: the canonical field names used everywhere in the engine, every header spelling accepted for
them (sent files and results exports), and the template definitions. Holds no logic beyond
normalising a header cell to its lookup key; detection lives in ``detect.py``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

_KEY_RE = re.compile(r"[\s_\-./]+")
# Characters that show as nothing: zero-width spaces and joiners, a BOM left inside a header
# (two exports joined), soft hyphens, direction marks.
_INVISIBLE = re.compile("[\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")
# Letters of other scripts that look like Latin ones (a header typed on a Cyrillic keyboard).
_LOOK_ALIKES = str.maketrans(
    "АВЕКМНОРСТХаеорсухіјѕІЈЅΑΒΕΖΗΙΚΜΝΟΡΤΥΧοι",
    "ABEKMHOPCTXaeopcyxijsIJSABEZHIKMNOPTYXoi",
)


def header_key(header: str) -> str:
    """Case-, space-, underscore-, hyphen- and dot-insensitive lookup key of a header cell.
    Invisible characters are dropped and look-alike letters of other scripts read as the
    Latin ones (``header_oddity`` says when either happened)."""
    text = _INVISIBLE.sub("", header).translate(_LOOK_ALIKES)
    return _KEY_RE.sub("", text.strip()).lower()


def header_oddity(header: str) -> str:
    """What in a header cell does not show as it reads ("" when nothing): invisible
    characters, or letters of another script that look Latin."""
    odd: list[str] = []
    hidden = _INVISIBLE.findall(header.strip().lstrip("\ufeff"))
    if hidden:
        odd.append("invisible characters (" + ", ".join(f"U+{ord(c):04X}" for c in hidden) + ")")
    alike = [c for c in header if c != c.translate(_LOOK_ALIKES)]
    if alike:
        odd.append(
            "letters of another script that look Latin ("
            + ", ".join(f"{c!r} U+{ord(c):04X}" for c in alike)
            + ")"
        )
    return " and ".join(odd)


class Template(StrEnum):
    MODIFICATION = "modification"  # order-level modification / reversal
    ITEM_MODIFICATION = "item_modification"
    MOBILE = "mobile"
    RESET = "reset"
    CONVERSION = "conversion"  # order-level conversion
    ITEM_CONVERSION = "item_conversion"
    CHAINED_CONVERSION = "chained_conversion"
    UNKNOWN = "unknown"


MODIFICATION_TEMPLATES = frozenset(
    {Template.MODIFICATION, Template.ITEM_MODIFICATION, Template.MOBILE, Template.RESET}
)
CONVERSION_TEMPLATES = frozenset(
    {Template.CONVERSION, Template.ITEM_CONVERSION, Template.CHAINED_CONVERSION}
)

TEMPLATE_TITLES: dict[Template, str] = {
    Template.MODIFICATION: "Order-level modification / reversal",
    Template.ITEM_MODIFICATION: "Item-level modification",
    Template.MOBILE: "Mobile action modification",
    Template.RESET: "Reset of modifications / reversals",
    Template.CONVERSION: "Order-level conversion",
    Template.ITEM_CONVERSION: "Item-level conversion",
    Template.CHAINED_CONVERSION: "Chained-action conversion",
    Template.UNKNOWN: "Unrecognised template",
}


class FieldType(StrEnum):
    ID = "id"  # text identifier, kept exactly as written
    INTEGER = "integer"
    DECIMAL = "decimal"
    DATETIME = "datetime"
    TEXT = "text"
    CODE = "code"


@dataclass(frozen=True, slots=True)
class FieldSpec:
    name: str
    type: FieldType
    max_length: int | None
    aliases: tuple[str, ...]


def _spec(name: str, type_: FieldType, max_length: int | None, *aliases: str) -> FieldSpec:
    return FieldSpec(name, type_, max_length, aliases)


# Canonical sent-file fields. Item fields are matched separately (they carry an index).
SENT_FIELDS: tuple[FieldSpec, ...] = (
    _spec("action_id", FieldType.ID, None, "ActionId", "ActionID", "Action Id", "Action_Id"),
    _spec("oid", FieldType.ID, 64, "Oid", "OrderId", "Order Id", "Order_Id", "Order ID"),
    _spec(
        "action_tracker_id",
        FieldType.INTEGER,
        10,
        "ActionTrackerId",
        "ActionTrackerID",
        "Action Tracker Id",
        "EventTypeId",
        "Event Type Id",
    ),
    _spec("amount", FieldType.DECIMAL, None, "Amount"),
    _spec("currency", FieldType.CODE, 3, "CurrencyCode", "Currency"),
    _spec("customer_status", FieldType.TEXT, 40, "CustomerStatus"),
    _spec("reason", FieldType.CODE, None, "Reason", "DispositionReason"),
    _spec("disposition_code", FieldType.CODE, 64, "DispositionCode"),
    _spec("campaign_id", FieldType.INTEGER, None, "CampaignId", "ProgramId", "Campaign Id"),
    _spec("event_date", FieldType.DATETIME, None, "EventDate", "Event Date", "ActionDate"),
    _spec("event_type_code", FieldType.TEXT, 128, "EventTypeCode"),
    _spec("event_code", FieldType.TEXT, 128, "EventCode"),
    _spec("customer_id", FieldType.ID, 255, "CustomerId"),
    _spec("click_id", FieldType.ID, None, "ClickId", "irclickid", "im_ref"),
    _spec("media_partner_id", FieldType.ID, None, "MediaPartnerId", "MediaId"),
    _spec("promo_code", FieldType.TEXT, None, "PromoCode", "OrderPromoCode"),
    _spec("custom_profile_id", FieldType.ID, None, "CustomProfileId"),
    _spec("custom_click_id", FieldType.ID, None, "CustomClickId"),
    _spec("unique_url", FieldType.TEXT, None, "UniqueUrl"),
    _spec("caller_id", FieldType.TEXT, None, "CallerId"),
    _spec("goog_aid", FieldType.ID, None, "GoogAId"),
    _spec("android_id", FieldType.ID, None, "AndroidId"),
    _spec("apple_ifa", FieldType.ID, None, "AppleIfa"),
    _spec("apple_ifv", FieldType.ID, None, "AppleIfv"),
)

# Attribution keys: a conversion needs at least one of them (impact-reference §4.2).
ATTRIBUTION_FIELDS: tuple[str, ...] = (
    "click_id",
    "customer_id",
    "custom_profile_id",
    "custom_click_id",
    "promo_code",
    "media_partner_id",
    "unique_url",
    "caller_id",
    "goog_aid",
    "android_id",
    "apple_ifa",
    "apple_ifv",
)

# Item columns: prefix spellings (matched on the header key) -> canonical item field.
# `Sku1`/`Sku`, `Quantity1`/`Quantity`, `Amount1`, `Category1`/`Category` (modifications) and
# `ItemSku1`, `ItemQuantity1`... (indexed conversion form). A bare `Amount` is the order amount.
ITEM_PREFIXES: dict[str, str] = {
    "sku": "sku",
    "itemsku": "sku",
    "quantity": "quantity",
    "itemquantity": "quantity",
    "amount": "item_amount",
    "itemamount": "item_amount",
    "itemprice": "item_amount",
    "itemsubtotal": "item_amount",
    "category": "category",
    "itemcategory": "category",
}
ITEM_INDEX_RE = re.compile(r"^(?P<prefix>[a-z]+?)(?P<index>[0-9]+)$")

# Results exports: canonical result field -> header spellings (matched with header_key).
RESULT_FIELDS: dict[str, tuple[str, ...]] = {
    "line": (
        "Line",
        "Line Number",
        "LineNumber",
        "Line No",
        "Line #",
        "Row",
        "Row #",
        "Row Number",
        "RowNumber",
        "Record Number",
        "Record #",
        "File Line",
    ),
    "code": (
        "Error Code",
        "ErrorCode",
        "ErrorReason",
        "Error Reason",
        "Error",
        "Errors",
        "Error Message",
        "ErrorMessage",
        "Message",
        "Reason",
        "Result Code",
        "Code",
        "Failure Reason",
    ),
    "error_type": ("Error Type", "ErrorType", "Type of Error", "Category", "Status"),
    "record_status": ("Record Status", "Status", "Result", "Outcome", "Processing Status"),
    "action_id": ("ActionId", "Action Id", "Action ID"),
    "oid": ("OrderId", "Oid", "Order Id", "Order ID", "Order Number"),
    "action_tracker_id": ("ActionTrackerId", "Action Tracker Id", "EventTypeId", "Event Type Id"),
    "sku": ("Sku", "SKU", "Item Sku", "ItemSku"),
    "campaign_id": ("CampaignId", "Campaign Id", "Program Id", "ProgramId"),
    "media_partner_id": ("MediaPartnerId", "Media Partner Id", "MediaId", "Partner Id"),
    "batch_id": ("BatchId", "Batch Id"),
    "submission_status": ("SubmissionStatus", "Submission Status", "Status"),
    "total_records": ("TotalRecords", "Total Records", "Records"),
    "total_errors": ("TotalErrors", "Total Errors"),
    "completion_date": ("CompletionDate", "Completion Date", "CompletedDate"),
    "payload": ("Payload",),
}

# Values that identify what a `Status`-like column holds.
ERROR_TYPE_VALUES = frozenset({"validation", "contract error", "contracterror", "contract"})
SUBMISSION_STATUS_VALUES = frozenset(
    {"queued", "in progress", "inprogress", "complete", "completed", "processing"}
)
SUBMISSION_DONE_VALUES = frozenset({"complete", "completed"})
RECORD_SUCCESS_VALUES = frozenset(
    {"success", "succeeded", "successful", "ok", "accepted", "processed", "applied", "valid"}
)
RECORD_FAILURE_VALUES = frozenset(
    {"error", "errors", "failed", "failure", "rejected", "invalid", "fail"}
)

# Standard reason (disposition) codes, impact-reference §2.
STANDARD_REASONS: tuple[str, ...] = (
    "CONS_FRAUD",
    "CONS_ERROR",
    "ITEM_RETURNED",
    "ORDER_ERROR",
    "ORDER_UPDATE",
    "PUB_ACT_DISPUTE",
    "ADV_ACT_DISPUTE",
    "NOT_COMPLIANCE_TERMS",
    "ITEM_OUT_OF_STOCK",
    "TEST_ACTION",
    "PARTNER_NOT_ACTIVE",
    "CREDITED_DIFFERENT_MP",
    "OTHER",
    "REJECTED",
    "CONS_INFO_INVALID",
    "MP_RETURNED",
    "RESET",
)

# impact.com's cap on modifications per action (impact-reference §1.1).
MAX_MODIFICATIONS_PER_ACTION = 1000

# An impact.com Actions report (``--actions``): canonical field -> header spellings.
ACTIONS_FIELDS: dict[str, tuple[str, ...]] = {
    "action_id": ("Action Id", "ActionId", "Id", "Action ID"),
    "oid": ("Oid", "Order Id", "OrderId", "Order ID"),
    "action_tracker_id": (
        "Action Tracker Id",
        "ActionTrackerId",
        "Event Type Id",
        "EventTypeId",
        "Action Tracker ID",
    ),
    "state": ("State", "Status", "Action Status", "Action State"),
    "amount": ("Amount", "Sale Amount", "SaleAmount", "Revenue", "IntendedAmount"),
    "locking_date": ("Locking Date", "LockingDate", "Lock Date", "Locked Date"),
    "event_date": ("Event Date", "EventDate", "Action Date", "Creation Date", "CreationDate"),
}
