"""impact.com file templates, header aliases and field types, as data.

Owns: the canonical field names used everywhere in the engine, every header spelling accepted for
them (sent files and results exports), and the template definitions. Holds no logic beyond
normalising a header cell to its lookup key; detection lives in ``detect.py``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum

_KEY_RE = re.compile(r"[\s_\-./:*]+")
# Characters that show as nothing (Unicode's default-ignorable code points): zero-width spaces
# and joiners, a BOM left inside a header (two exports joined), soft hyphens, direction marks
# and isolates, the combining grapheme joiner, variation selectors, Hangul fillers, tag
# characters; plus the blank Braille pattern. Every other format character (category Cf) is
# dropped too (``_visible``).
_INVISIBLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e"
    "\u2060-\u206f\u2800\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufff8"
    "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0000-\U000e0fff]"
)


def _look_alikes(pairs: str) -> dict[int, str]:
    """``"АA ВB"`` (a letter and the Latin letter it looks like) as a ``str.translate`` table."""
    return {ord(pair[0]): pair[1] for pair in pairs.split()}


# Letters of other scripts that look like Latin ones (a header typed on a Cyrillic keyboard, or
# made to look like another): after NFKC has turned fullwidth and mathematical letters into
# plain ones, these are folded as Unicode's confusables do. Case does not matter (keys are
# lowercased), so small capitals fold to their letter.
_LOOK_ALIKES = _look_alikes(
    # Cyrillic
    "АA ВB СC ЕE НH ІI ЈJ КK МM ОO РP ЅS ТT ХX УY ҮY ԚQ ԜW ӀL ԀD "
    "аa вb сc еe һh іi јj кk мm нh оo рp ѕs тt хx уy үy ԁd ԛq ԝw ӏl "
    # Greek
    "ΑA ΒB ΕE ΖZ ΗH ΙI ΚK ΜM ΝN ΟO ΡP ΤT ΥY ΧX ϹC ͿJ "
    "αa γy ιi κk νv οo ρp τt υu χx ϲc ϳj "
    # Armenian
    "ՕO ՍU ՏS ԼL օo սu հh ոn զq ցg "
    # Cherokee
    "ᎪA ᏴB ᏟC ᎬE ᏀG ᎻH ᎥI ᎫJ ᏦK ᏞL ᎷM ᏢP ᎡR ᏚS ᎢT ᏙV ᎳW ᏃZ "
    # Latin small capitals and other Latin look-alikes
    "ᴀa ʙb ᴄc ᴅd ᴇe ꜰf ɢg ʜh ɪi ᴊj ᴋk ʟl ᴍm ɴn ᴏo ᴘp ꞯq ʀr ꜱs ᴛt ᴜu ᴠv ᴡw ʏy ᴢz "
    "ıi ȷj ɑa ɡg ɩi"
)


def _visible(text: str) -> str:
    """``text`` without the characters that show as nothing."""
    text = _INVISIBLE.sub("", text)
    if text.isascii():
        return text
    return "".join(c for c in text if unicodedata.category(c) != "Cf")


def header_repr(header: str) -> str:
    """``repr(header)`` with every character that shows as nothing escaped (``repr`` leaves
    a Hangul filler, a variation selector or the combining grapheme joiner raw): a message
    must show what the header holds."""
    return "".join(
        c
        if c.isascii() or _visible(c)
        else (f"\\u{ord(c):04x}" if ord(c) < 0x10000 else f"\\U{ord(c):08x}")
        for c in repr(header)
    )


def header_key(header: str) -> str:
    """Case-, space-, underscore-, hyphen-, dot-, colon- and asterisk-insensitive lookup key of a
    header cell (``Reason:`` and ``Reason*`` are Reason).

    The whole class of disguises is undone: NFKC (fullwidth ``Ｒｅａｓｏｎ``, mathematical
    ``𝐑eason``), characters that show as nothing dropped (zero-width, direction marks, the
    combining grapheme joiner, variation selectors, Hangul fillers, tag characters), and
    look-alike letters of other scripts read as the Latin ones (``header_oddity`` says when any
    of it happened)."""
    if header.isascii():
        return _KEY_RE.sub("", header).lower()
    text = _visible(unicodedata.normalize("NFKC", _visible(header))).translate(_LOOK_ALIKES)
    return _KEY_RE.sub("", text).lower()


def header_oddity(header: str) -> str:
    """What in a header cell does not show as it reads ("" when nothing): invisible
    characters, letters in another form (fullwidth, mathematical) or of another script that
    look Latin. A BOM or whitespace at either end is not odd."""
    text = header.strip().strip("\ufeff").strip()
    if text.isascii():
        return ""
    odd: list[str] = []
    hidden = [c for c in text if not _visible(c)]
    if hidden:
        odd.append("invisible characters (" + ", ".join(f"U+{ord(c):04X}" for c in hidden) + ")")
    shown = _visible(text)
    styled = [c for c in shown if not c.isspace() and unicodedata.normalize("NFKC", c) != c]
    if styled:
        odd.append(
            "letters in another form, such as fullwidth or mathematical ("
            + ", ".join(f"{c!r} U+{ord(c):04X}" for c in styled)
            + ")"
        )
    plain = unicodedata.normalize("NFKC", shown)
    alike = [c for c in plain if c != c.translate(_LOOK_ALIKES)]
    latin = [c for c in alike if unicodedata.name(c, "").startswith("LATIN")]
    for what, chars in (
        ("letters of another script that look Latin", [c for c in alike if c not in latin]),
        ("Latin small capitals or variants that look like plain letters", latin),
    ):
        if chars:
            odd.append(what + " (" + ", ".join(f"{c!r} U+{ord(c):04X}" for c in chars) + ")")
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


def _fields_by_key() -> dict[str, str]:
    found: dict[str, str] = {}
    for spec in SENT_FIELDS:
        for alias in spec.aliases:
            found.setdefault(header_key(alias), spec.name)
    for name, aliases in RESULT_FIELDS.items():
        for alias in aliases:
            found.setdefault(header_key(alias), name)
    return found


_FIELD_OF_KEY: dict[str, str] = _fields_by_key()


def key_field(key: str) -> str:
    """The field a header key names, whatever its spelling: ``oid`` for ``oid``, ``orderid``
    and ``ordernumber``; ``sku2`` for ``sku2`` and ``itemsku2``; the key itself for a name no
    template knows. Sent and results fields share their names (``oid``, ``action_id``...)."""
    found = _FIELD_OF_KEY.get(key)
    if found is not None:
        return found
    item = ITEM_INDEX_RE.match(key)
    if item and item.group("prefix") in ITEM_PREFIXES:
        return ITEM_PREFIXES[item.group("prefix")] + item.group("index")
    return key


def field_keys(fields: set[str]) -> set[str]:
    """Every header key naming one of ``fields`` (``key_field``'s names), as far as the
    templates list them: all aliases of a known field, both spellings of an indexed item
    column, and an unknown field's own key."""
    keys = {key for key, name in _FIELD_OF_KEY.items() if name in fields} | set(fields)
    for name in fields:
        item = re.fullmatch(r"(?P<field>[a-z_]+?)(?P<index>[0-9]+)", name)
        if item:
            keys.update(
                prefix + item.group("index")
                for prefix, field_name in ITEM_PREFIXES.items()
                if field_name == item.group("field")
            )
    return keys
