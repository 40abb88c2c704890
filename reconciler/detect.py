"""Recognise what two tables are: the sent file's template and the results' shape.

Owns: mapping header cells to canonical fields (sent and results), choosing the template and the
results shape, and applying ``--map`` overrides. Does not read files and does not tie anything.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

from .catalogue import load_catalogue
from .errors import ShapeError, UsageError
from .fixes.values import reason_key
from .model import Table
from .statuswords import ERROR_TYPE_WORDS, StatusKind, status_kind, status_word
from .templates import (
    ITEM_INDEX_RE,
    ITEM_PREFIXES,
    RESULT_FIELDS,
    SENT_FIELDS,
    STANDARD_REASONS,
    Template,
    header_key,
    header_oddity,
    header_repr,
)


class ResultShape(StrEnum):
    ERROR_LIST = "error_list"  # File Submissions "View Errors" export (CSV/XLSX)
    FTP_ERROR_DETAILS = "ftp_error_details"  # Brand API ErrorDetail JSON
    API_SUBMISSIONS = "api_submissions"  # API submission records, no line
    SENT_WITH_STATUS = "sent_with_status"  # the sent file with status/error columns appended


SHAPE_TITLES: dict[ResultShape, str] = {
    ResultShape.ERROR_LIST: "Error list (File Submissions \u2192 View Errors)",
    ResultShape.FTP_ERROR_DETAILS: "Brand API FTP error details (JSON)",
    ResultShape.API_SUBMISSIONS: "API submission records (no line numbers)",
    ResultShape.SENT_WITH_STATUS: "Sent file with status columns appended",
}


@dataclass(frozen=True, slots=True)
class ItemColumn:
    index: int  # 1 for `Sku`/`Sku1`
    field: str  # sku | quantity | item_amount | category
    column: str  # frame label


@dataclass(frozen=True, slots=True)
class SentSchema:
    template: Template
    fields: Mapping[str, str]  # canonical field -> frame label
    items: tuple[ItemColumn, ...] = ()
    notes: tuple[str, ...] = ()  # how odd headers were read (said in the summary)

    def column(self, name: str) -> str | None:
        return self.fields.get(name)

    def item_columns(self, field_name: str) -> tuple[str, ...]:
        return tuple(
            i.column for i in sorted(self.items, key=lambda i: i.index) if i.field == field_name
        )

    def money_columns(self, labels: Sequence[str]) -> dict[int, int | None]:
        """The positions in ``labels`` (a frame's columns) of the columns holding money (the
        order Amount, each item's amount or price), each with its currency column's position
        (None: the file names no currency)."""
        where = {label: i for i, label in enumerate(labels)}
        currency = self.column("currency")
        cur = where.get(currency) if currency is not None else None
        money = [self.column("amount"), *self.item_columns("item_amount")]
        return {where[m]: cur for m in money if m is not None and m in where}


@dataclass(frozen=True, slots=True)
class ResultSchema:
    shape: ResultShape
    fields: Mapping[str, str]  # canonical result field -> frame label
    notes: tuple[str, ...] = field(default=())

    def column(self, name: str) -> str | None:
        return self.fields.get(name)


# How a field is named in messages: its first documented spelling.
_FIELD_NAMES: dict[str, str] = {spec.name: spec.aliases[0] for spec in SENT_FIELDS}
_ITEM_NAMES: dict[str, str] = {
    "sku": "Sku",
    "quantity": "Quantity",
    "item_amount": "Amount",
    "category": "Category",
}
_SENT_ALIASES: dict[str, str] = {
    header_key(alias): spec.name for spec in SENT_FIELDS for alias in spec.aliases
}


def _sent_field_of(label: str) -> str | None:
    return _SENT_ALIASES.get(header_key(label))


def _item_of(label: str) -> tuple[str, int] | None:
    key = header_key(label)
    if key in ("sku", "itemsku", "quantity", "itemquantity", "category", "itemcategory"):
        return ITEM_PREFIXES[key], 1
    m = ITEM_INDEX_RE.match(key)
    if m and m.group("prefix") in ITEM_PREFIXES:
        return ITEM_PREFIXES[m.group("prefix")], int(m.group("index"))
    return None


def map_sent_columns(columns: Sequence[str]) -> tuple[dict[str, str], tuple[ItemColumn, ...]]:
    """Canonical field -> column label (first occurrence wins), and the item columns."""
    fields: dict[str, str] = {}
    items: list[ItemColumn] = []
    for label in columns:
        name = _sent_field_of(label)
        if name is not None:
            fields.setdefault(name, label)
            continue
        item = _item_of(label)
        if item is not None:
            items.append(ItemColumn(item[1], item[0], label))
    return fields, tuple(items)


def _column_values(table: Table, label: str, limit: int = 50_000) -> set[str]:
    col = table.frame[label]
    if len(col) > limit:
        col = col.iloc[:limit]
    return {v.strip().lower() for v in col.unique() if isinstance(v, str) and v.strip()}


def _label_of(table: Table, label: str) -> str:
    """The header cell as written, for messages (frame labels may carry a `` (2)`` suffix)."""
    return _written(table).get(label, label)


def _written(table: Table) -> dict[str, str]:
    """Frame label -> header cell as written (made once per call site: a header may hold
    thousands of cells)."""
    columns = list(table.frame.columns)
    if len(table.header) != len(columns):
        return {}
    return dict(zip(columns, table.header, strict=True))


def header_notes(table: Table, used: Sequence[str]) -> list[str]:
    """A note for each used column whose header holds invisible or look-alike characters."""
    notes = []
    names = _written(table)
    for label in used:
        written = names.get(label, label)
        odd = header_oddity(written)
        if odd:
            notes.append(
                f"column {header_repr(written)} is read as {header_key(written)!r}: its header "
                f"holds {odd}"
            )
    return notes


def refuse_twins(
    table: Table, groups: Mapping[str, Sequence[str]], mapped: Mapping[str, str] | None = None
) -> list[str]:
    """Columns that name one field (``Reason`` twice, ``ActionId`` beside ``Action Id``): the
    same values in every row are one column said twice (the first is used, with a note);
    different values are an ambiguity no one can settle here (ShapeError naming both).
    ``mapped`` (group name -> ``--map`` field) adds the option that settles it to the message."""
    notes = []
    for name, labels in groups.items():
        if len(labels) < 2:
            continue
        first = labels[0]
        for other in labels[1:]:
            a = table.frame[first].astype("str").str.strip()
            b = table.frame[other].astype("str").str.strip()
            differ = np.flatnonzero((a != b).to_numpy(dtype=bool))
            shown = (_label_of(table, first), _label_of(table, other))
            both = (
                f"two columns {header_repr(shown[0])}"
                if shown[0] == shown[1]
                else f"columns {header_repr(shown[0])} and {header_repr(shown[1])}"
            )
            if len(differ):
                row = int(differ[0])
                choose = (mapped or {}).get(name)
                raise ShapeError(
                    f"{both} both hold {name}, with different values ({a.iat[row]!r} and "
                    f"{b.iat[row]!r}); remove or rename one"
                    + (f", or choose one with --map {choose}=COLUMN" if choose else ""),
                    path=table.path,
                    line=int(table.lines[row]) if len(table.lines) > row else None,
                )
            notes.append(f"{both} both hold {name}, with the same values: the first is read")
    return notes


def detect_template(table: Table) -> SentSchema:
    """Work out which impact.com template a sent file follows from its headers (and values)."""
    groups: dict[str, list[str]] = {}
    names = _written(table)
    for label in table.frame.columns:
        written = names.get(label, label)  # "Reason" twice is "Reason" and "Reason (2)"
        name = _sent_field_of(written)
        if name is not None:
            name = _FIELD_NAMES[name]
        else:
            item = _item_of(written)
            name = f"{_ITEM_NAMES[item[0]]}{item[1]}" if item is not None else None
        if name is not None:
            groups.setdefault(name, []).append(label)
    notes = refuse_twins(table, groups)
    notes += header_notes(table, [label for labels in groups.values() for label in labels])
    fields, all_items = map_sent_columns(list(table.frame.columns))
    firsts = {labels[0] for labels in groups.values()}
    items = tuple(i for i in all_items if i.column in firsts)
    has = fields.__contains__
    item_fields = {i.field for i in items}
    is_conversion = has("campaign_id") or has("event_date") or has("event_type_code")
    has_items = "sku" in item_fields or any(i.field == "quantity" for i in items)
    if not len(table.frame.columns):
        raise ShapeError(
            "holds no records (no element or row with fields); check that this is the file "
            "that was sent",
            path=table.path,
        )
    if not fields and not items:
        raise ShapeError(
            "none of the headers is an impact.com field (expected e.g. ActionId, Oid, "
            "ActionTrackerId, Amount, Reason or CampaignId, EventDate, OrderId); check that this "
            "is the file that was sent and that its first row is the header",
            path=table.path,
            line=table.header_line or None,
        )
    if is_conversion:
        if has_items:
            template = Template.ITEM_CONVERSION
        elif has("customer_id") and has("action_tracker_id") and _is_chained(table, fields):
            template = Template.CHAINED_CONVERSION
        else:
            template = Template.CONVERSION
    elif has_items:
        template = Template.ITEM_MODIFICATION
    elif has("reason") and _all_reset(table, fields["reason"]):
        template = Template.RESET
    elif set(fields) == {"action_id", "amount", "reason"} and len(table.frame.columns) == 3:
        template = Template.MOBILE
    elif has("action_id") or (has("oid") and has("action_tracker_id")) or has("reason"):
        template = Template.MODIFICATION
    else:
        template = Template.UNKNOWN
    return SentSchema(template=template, fields=fields, items=items, notes=tuple(notes))


def _all_reset(table: Table, label: str) -> bool:
    values = _column_values(table, label)
    return bool(values) and values == {"reset"}


def _is_chained(table: Table, fields: Mapping[str, str]) -> bool:
    """Chained actions: one CustomerId carried by rows of different event types."""
    frame = table.frame[[fields["customer_id"], fields["action_tracker_id"]]]
    frame = frame[frame.iloc[:, 0].str.strip() != ""]
    if frame.empty:
        return False
    trackers = frame.groupby(frame.columns[0], sort=False)[frame.columns[1]].nunique()
    return bool((trackers > 1).any())


def _status_kind(values: set[str]) -> str | None:
    """What a Status-like column holds, judged by its values.

    Words are compared without case, spaces, ``_`` or ``-`` (``In_Progress`` is ``In
    Progress``). One unfamiliar word does not make the column unread, or a record whose status
    is not final would be reported as if the column were not there: a column with any
    known status word is a status column, and each row's word is read on its own
    (``statuswords``; an unfamiliar word says nothing). Only other column contents (item
    categories, a Type of Modification/Reversal) leave it unused."""
    words = {status_word(v) for v in values} - {""}
    if not words:
        return None
    if words <= ERROR_TYPE_WORDS:
        return "error_type"
    kinds = {status_kind(w) for w in words}
    known = kinds - {StatusKind.UNREAD, StatusKind.BLANK}
    if not known:
        return None
    # Unfamiliar values must still look like status words, not like free text or codes.
    if any(status_kind(w) is StatusKind.UNREAD and not _STATUS_LIKE.fullmatch(w) for w in words):
        return None
    if known & {StatusKind.DONE, StatusKind.WAITING}:
        return "submission_status"
    return "record_status"


_STATUS_LIKE = re.compile(r"[a-z]{2,24}")


def parse_map_options(options: Sequence[str]) -> dict[str, str]:
    """``FIELD=COLUMN`` strings from ``--map`` into a dict, validated against known fields."""
    out: dict[str, str] = {}
    for opt in options:
        name, sep, column = opt.partition("=")
        name = name.strip().lower().replace("-", "_")
        if not sep or not name or not column.strip():
            raise UsageError(f'--map {opt!r}: write it as FIELD=COLUMN, e.g. --map line="Row #"')
        if name not in RESULT_FIELDS:
            raise UsageError(
                f"--map {opt!r}: unknown field {name!r}; known fields: {', '.join(sorted(RESULT_FIELDS))}"
            )
        if name in out and out[name] != column.strip():
            raise UsageError(
                f"--map names two columns for {name}: {out[name]!r} and {column.strip()!r}; "
                "give one --map per field"
            )
        out[name] = column.strip()
    return out


def _resolve_override(table: Table, name: str, column: str) -> str:
    labels = list(table.frame.columns)
    if column in labels:
        return column
    by_key = [lab for lab in labels if header_key(lab) == header_key(column)]
    if by_key:
        return by_key[0]
    raise UsageError(
        f"--map {name}={column!r}: the results file has no such column; its columns are: "
        + ", ".join(repr(c) for c in table.header),
        path=table.path,
    )


RESULT_NAMES: dict[str, str] = {name: aliases[0] for name, aliases in RESULT_FIELDS.items()}
_RESULT_KEYS: dict[str, frozenset[str]] = {
    name: frozenset(header_key(a) for a in aliases) for name, aliases in RESULT_FIELDS.items()
}
# Result fields whose column is chosen by its values, not its name (see detect_results).
_BY_VALUES = frozenset({"error_type", "record_status", "submission_status"})

# JSON keys that hold the Brand API's records: they fix the shape whatever the columns.
_ERROR_CONTAINERS = frozenset({"errordetail", "errordetails", "ftpfilesubmissionerrors"})
_SUBMISSION_CONTAINERS = frozenset({"apisubmission", "apisubmissions"})


def detect_results(
    table: Table, sent: SentSchema, sent_table: Table, overrides: Mapping[str, str] | None = None
) -> ResultSchema:
    """Recognise the results' shape and which column holds each result field. An Actions or
    ActionUpdates export given as either file, and a sent file given as the results (its
    Reason read as error codes), are refused (``ShapeError``) naming what to give instead."""
    overrides = overrides or {}
    _refuse_platform_export(sent_table, sent=True)
    _refuse_platform_export(table, sent=False)
    labels = list(table.frame.columns)
    # Keys of the headers as written (a second "Message" is labelled "Message (2)"), once: a
    # header may be huge or wide.
    written = table.header if len(table.header) == len(labels) else tuple(labels)
    key_of = {lab: header_key(w) for lab, w in zip(labels, written, strict=True)}
    by_key: dict[str, list[str]] = {}
    for lab in labels:
        by_key.setdefault(key_of[lab], []).append(lab)
    sent_keys = {header_key(c) for c in sent_table.frame.columns}
    result_keys = set(by_key)
    shared = sent_keys & result_keys
    extra = result_keys - sent_keys
    container = table.container.casefold() if table.format == "json" else ""
    looks_like_sent = (
        len(sent_keys) >= 2
        and len(shared) >= max(2, int(0.6 * len(sent_keys)))
        and bool(extra)
        and container not in _ERROR_CONTAINERS | _SUBMISSION_CONTAINERS
    )

    fields: dict[str, str] = {}
    notes: list[str] = []
    for name, column in overrides.items():
        fields[name] = _resolve_override(table, name, column)
    taken = set(fields.values())

    # Status-like columns are told apart by their values, not their names.
    for label in labels:
        if label in taken:
            continue
        kind = (
            _status_kind(_column_values(table, label))
            if key_of[label]
            in (
                "status",
                "category",
                "type",
                "errortype",
                "result",
                "outcome",
                "recordstatus",
                "submissionstatus",
                "processingstatus",
            )
            else None
        )
        if kind is not None and kind not in fields:
            fields[kind] = label
            taken.add(label)

    for name, aliases in RESULT_FIELDS.items():
        if name in fields or name in _BY_VALUES:
            continue
        for alias in aliases:
            key = header_key(alias)
            if looks_like_sent and name == "code" and key in sent_keys:
                continue  # in a sent-with-status file, Reason is the disposition that was sent
            hit = next((lab for lab in by_key.get(key, []) if lab not in taken), None)
            if hit is not None:
                fields[name] = hit
                taken.add(hit)
                break
    # An explicit ErrorType column by name, when its values were not recognised.
    if "error_type" not in fields:
        hit = next((lab for lab in by_key.get("errortype", []) if lab not in taken), None)
        if hit is not None:
            fields["error_type"] = hit

    if container in _ERROR_CONTAINERS:
        # The Brand API's error details, with or without Line: never the sent file itself.
        shape = ResultShape.FTP_ERROR_DETAILS
    elif container in _SUBMISSION_CONTAINERS:
        shape = ResultShape.API_SUBMISSIONS
    elif looks_like_sent and ("record_status" in fields or "code" in fields):
        shape = ResultShape.SENT_WITH_STATUS
    elif "line" in fields:
        shape = ResultShape.FTP_ERROR_DETAILS if table.format == "json" else ResultShape.ERROR_LIST
    else:
        shape = ResultShape.API_SUBMISSIONS

    if not labels and table.format != "json":
        # Only an empty JSON list (``{"ErrorDetail": []}``) means "no errors" without a header.
        raise ShapeError(
            "has no column and no record: export the results with their header row",
            path=table.path,
        )
    if len(labels) and not fields:
        raise ShapeError(
            "none of its columns is a result field (a line number, an error code or "
            "identifiers such as OrderId); name them with --map code=COLUMN --map line=COLUMN",
            path=table.path,
            line=table.header_line or None,
        )
    if sent_keys and result_keys == sent_keys:
        raise ShapeError(
            "has exactly the sent file's columns and no status or error column: it looks like "
            "the sent file itself; give the results impact.com reported for it",
            path=table.path,
        )
    if "code" not in overrides:
        _refuse_sent_as_results(table, fields, key_of)
    if table.records and "code" not in fields and "record_status" not in fields:
        raise ShapeError(
            "cannot find the column holding the error code (looked for Message, Reason, Error, "
            "Error Code, ErrorReason); name it with --map code=COLUMN",
            path=table.path,
            line=table.header_line or None,
        )
    identifiers = ("action_id", "oid", "action_tracker_id", "payload")
    if table.records and "line" not in fields and not any(f in fields for f in identifiers):
        raise ShapeError(
            "the results have neither a line column nor identifiers (ActionId, OrderId, "
            "ActionTrackerId) to tie them to the sent records; name one with --map line=COLUMN "
            "or --map oid=COLUMN",
            path=table.path,
            line=table.header_line or None,
        )
    if overrides:
        notes.append(
            "columns set with --map: " + ", ".join(f"{k}={v}" for k, v in overrides.items())
        )
    # A field read from a column while another column names it too (the same header, or any
    # other spelling of the field: `Line` and `Row #`, `Error Code` and `Message`): the same
    # values are one column said twice; different ones are refused (refuse_twins).
    twins: dict[str, list[str]] = {}
    mapped: dict[str, str] = {}
    for name, label in fields.items():
        if name in overrides:
            continue
        if name in _BY_VALUES:
            # Status-like fields are told apart by their values (``Status`` may name three).
            same = by_key.get(key_of[label], [])
        else:
            keys = _RESULT_KEYS[name]
            if looks_like_sent and name == "code":
                keys = keys - sent_keys  # the sent Reason is the disposition, not a code
            others = set(fields.values()) - {label}
            same = [lab for lab in labels if key_of[lab] in keys and lab not in others]
        if len(same) > 1:
            shown = RESULT_NAMES.get(name, name)
            twins[shown] = [label, *(lab for lab in same if lab != label)]
            mapped[shown] = name
    notes += refuse_twins(table, twins, mapped)
    used = [label for name, label in fields.items() if name not in overrides]
    notes += header_notes(table, used + [lab for labs in twins.values() for lab in labs[1:]])
    return ResultSchema(shape=shape, fields=fields, notes=tuple(notes))


# Header keys a sent file may carry: every template field and item column.
_SENT_VOCABULARY = frozenset(_SENT_ALIASES) | frozenset(ITEM_PREFIXES)
# Names for an error code that carry no other meaning in a file to submit: with line numbers,
# a record status or error codes as values beside them, they make a results export.
_PLAIN_CODE_KEYS = frozenset({"message", "code"})
# The results reader's own vocabulary, less what a sent template also uses and the plain names
# above: every spelling of an error code (`Errors`, `Result Code`, `Failure Reason`...), an
# error type, a record or submission status, a payload or a batch's error count. No file sent
# to impact.com has such a column.
_RESULT_ONLY_KEYS = (
    (
        frozenset(
            header_key(alias)
            for name in ("code", "error_type", "record_status", "submission_status", "payload")
            for alias in RESULT_FIELDS[name]
        )
        | {"totalerrors"}
    )
    - _SENT_VOCABULARY
    - _PLAIN_CODE_KEYS
    - {"status", "result", "outcome"}
)
_CODE_KEYS = _RESULT_KEYS["code"]
_LINE_KEYS = _RESULT_KEYS["line"]
# Columns whose values say whether a record was taken (Failed / Error / Success).
_RECORD_STATUS_KEYS = frozenset({"status", "result", "outcome"})


def looks_like_results(table: Table) -> bool:
    """True when a file given as SENT looks like a results export (arguments swapped), judged
    with the results reader's own vocabulary: a column only results have (any spelling of an
    error code but a sent file's Reason, an error type, a record or submission status, Payload,
    TotalErrors; a BatchId with its status), a line column beside an error column, a column of
    record statuses (Failed, Error, Success) or error types (Validation, Contract Error), or an
    error column (Reason included) whose values are platform error codes (ALREADY_LOCKED), not
    the reasons a sent file gives. No file sent to impact.com holds any of these."""
    keys = {header_key(c): c for c in reversed(list(table.frame.columns))}
    if keys.keys() & _RESULT_ONLY_KEYS:
        return True
    if "batchid" in keys and keys.keys() & {"totalrecords", "status", "submissiondate"}:
        return True
    has_line = bool(keys.keys() & _LINE_KEYS)
    has_code = bool(keys.keys() & (_CODE_KEYS - _SENT_VOCABULARY))
    has_sent = bool({"amount", "reason", "campaignid", "eventdate"} & keys.keys())
    if has_line and has_code and not has_sent:
        return True
    for key, label in keys.items():
        kind = None
        if key in _RECORD_STATUS_KEYS | {"type", "category"}:
            kind = _status_kind(_column_values(table, label, limit=1000))
        if kind == "error_type" or (kind == "record_status" and key in _RECORD_STATUS_KEYS):
            return True
        if key in _CODE_KEYS and _holds_error_codes(table, label):
            return True
    return False


def _holds_error_codes(table: Table, label: str) -> bool:
    """True when every value of a column (its first 1,000 rows) is a platform error code
    (``ALREADY_LOCKED``, ``Error: BAD_DISPOSITION``) and none is a reason a sent file gives."""
    values = _column_values(table, label, limit=1000)
    if not values:
        return False
    catalogue = load_catalogue()
    for value in values:
        codes = catalogue.split(value)
        if not codes or any(c not in catalogue or c in _REASONS for c in codes):
            return False
    return True


_REASONS = frozenset(STANDARD_REASONS)

# What the platform's own exports hold and no sent file or results export does: the state of
# an action (an Actions export: one row per action), the change of an update (an ActionUpdates
# export: one row per change). Each has an option of its own.
_ACTION_STATES = frozenset({"pending", "approved", "reversed", "locked", "cleared"})
_STATE_KEYS = frozenset({"state", "actionstate", "actionstatus", "status"})
_ACTION_ID_KEYS = frozenset({"actionid", "id"})
_LOCKING_KEYS = frozenset({"lockingdate", "lockdate", "lockeddate"})
_UPDATE_ONLY_KEYS = frozenset({"deltaamount", "updatedate", "statedetail", "amountchange"})
_REASON_KEYS = frozenset({"reason", "dispositionreason"})
_EXPORT_OPTIONS = {
    "an ActionUpdates export": "--updates FILE",
    "an Actions export": "--actions FILE (or --updates FILE, to confirm what the platform shows)",
}


def platform_export(table: Table) -> str:
    """What platform export ``table`` is ("an Actions export", "an ActionUpdates export"), or
    "" when it is none. An ActionUpdates export has an update's columns (DeltaAmount,
    UpdateDate, StateDetail) beside an ActionId, Id or Oid; an Actions export has an Action Id
    (or Id) and either a Locking Date or a State column of action states (PENDING, APPROVED,
    REVERSED), and no Reason (a working copy of a modification with a State column beside it
    stays a sent file) nor a column of results (BatchId, Payload, an error code). No template
    sends any of these columns."""
    keys = {header_key(c): c for c in reversed(list(table.frame.columns))}
    has = keys.keys()
    if has & _UPDATE_ONLY_KEYS and has & (_ACTION_ID_KEYS | {"oid", "orderid"}):
        return "an ActionUpdates export"
    if not has & _ACTION_ID_KEYS or has & _REASON_KEYS:
        return ""
    # The Brand API's submission records have an ActionId and a Status too: a batch, a
    # payload or an error column makes them results whatever their statuses say.
    if has & (_RESULT_ONLY_KEYS | _CODE_KEYS | {"batchid"}):
        return ""
    if table.format == "json" and table.container.casefold() in (
        _ERROR_CONTAINERS | _SUBMISSION_CONTAINERS
    ):
        return ""
    if has & _LOCKING_KEYS:
        return "an Actions export"
    for key in has & _STATE_KEYS:
        states = _column_values(table, keys[key], limit=1000)
        if states and states <= _ACTION_STATES:
            return "an Actions export"
    return ""


def _refuse_platform_export(table: Table, *, sent: bool) -> None:
    """An Actions or ActionUpdates export given as the sent file or as the results: refused,
    naming what it is and the option it is given with."""
    what = platform_export(table)
    if not what:
        return
    option = _EXPORT_OPTIONS[what]
    place = (
        "not the file that was sent: give the sent file first, then its results,"
        if sent
        else "not the results impact.com reported: give the sent file, then its results,"
    )
    raise ShapeError(f"is {what}, {place} and this export with {option}", path=table.path)


def _refuse_sent_as_results(
    table: Table, fields: Mapping[str, str], key_of: Mapping[str, str]
) -> None:
    """A sent file given as the results: its columns are a template's, its only error column
    is a Reason holding the reasons a sent file gives (ITEM_RETURNED, ORDER_UPDATE) and no
    error code of the catalogue, and nothing else says how a record fared (no status or error
    type, no error column of the results' own). Read as results, every record would be
    'rejected' with its own reason as the code (or no error column would be found)."""
    code = fields.get("code")
    if code is not None and key_of.get(code) not in _REASON_KEYS:
        return
    if any(f in fields for f in ("record_status", "error_type", "submission_status")):
        return
    reason = code or next((lab for lab, key in key_of.items() if key in _REASON_KEYS), None)
    if reason is None:
        return
    sent_fields, items = map_sent_columns(list(table.frame.columns))
    if len(sent_fields) + len(items) < 3:
        return
    values = _column_values(table, reason, limit=1000)
    if not values:
        return
    catalogue = load_catalogue()
    standard = 0
    for value in values:
        if reason_key(value) in _REASONS:
            standard += 1
            continue
        if any(c in catalogue and c not in _REASONS for c in catalogue.split(value)):
            return  # an error code: this is a results export
    if 2 * standard < len(values):
        return
    raise ShapeError(
        "looks like a sent file, not results: its Reason column holds the reasons a sent file "
        "gives (" + ", ".join(sorted({reason_key(v) for v in values} & _REASONS)[:3]) + "), "
        "no error code; give the sent file first, then its results: "
        "reconciler reconcile SENT RESULTS...",
        path=table.path,
    )


def unreadable_cells(table: Table) -> dict[tuple[int, str], str]:
    """Cells of the records whose value a workbook does not hold (the reader notes them):
    (record position, frame label) -> what is wrong ("a formula without a saved value", "the
    Excel error #N/A", "merged into A3")."""
    raw = table.meta.get("@cell_issues")
    if not raw:
        return {}
    import json

    columns = list(table.frame.columns)
    lines = np.asarray(table.lines, dtype=np.int64)
    out: dict[tuple[int, str], str] = {}
    for key, what in json.loads(raw).items():
        row, _, column = str(key).partition(":")
        position = int(np.searchsorted(lines, int(row)))
        col = int(column) - 1
        if position < len(lines) and lines[position] == int(row) and 0 <= col < len(columns):
            out[(position, columns[col])] = str(what)
    return out
