"""Data that flows between stages: frozen dataclasses and closed vocabularies.

Owns no logic beyond tiny derived properties, and the run's contracts: ``Summary`` (what
summary.json says, typed; ``to_json`` writes it, ``Summary.from_json`` reads it back, refusing
what no reconciler wrote), ``Reconciliation`` (a finished reconcile), ``CheckResult`` (a
finished check). Frames inside these objects are never mutated after construction; stages
build new frames. Nothing here holds a thread's future: a stage that works in parallel joins
its threads before it returns.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields, is_dataclass
from enum import StrEnum
from pathlib import Path
from types import UnionType
from typing import TYPE_CHECKING, TypeVar, Union, get_args, get_origin, get_type_hints

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from datetime import date, datetime
    from zoneinfo import ZoneInfo

    import pandas as pd

    from .actions import ActionsIndex
    from .classify import SubmissionState
    from .detect import ResultSchema, SentSchema
    from .gather import Gathered
    from .match import LineBaseChoice
    from .remediate import Remediation


class Resolution(StrEnum):
    """What has to happen to a record next. Stable: every output uses these words."""

    NONE = "none"
    AUTO_FIXED = "auto_fixed"
    FIX_MANUALLY = "fix_manually"
    CONTACT_SUPPORT = "contact_support"
    NO_ACTION = "no_action"
    WAIT = "wait"
    REVIEW = "review"
    RECHECK = "recheck"  # the results do not say: get the complete results and reconcile again


# Most final first: with several codes on one record, the first one present wins.
RESOLUTION_PRECEDENCE: tuple[Resolution, ...] = (
    Resolution.WAIT,
    Resolution.RECHECK,
    Resolution.NO_ACTION,
    Resolution.CONTACT_SUPPORT,
    Resolution.REVIEW,
    Resolution.FIX_MANUALLY,
    Resolution.AUTO_FIXED,
    Resolution.NONE,
)


class Outcome(StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    MISSING = "missing"
    AMBIGUOUS = "ambiguous"
    PENDING = "pending"  # the submission is not complete and no result speaks of the record
    UNKNOWN = "unknown"  # the results are partial (or not this file's): they do not say


class TiedBy(StrEnum):
    LINE = "line"
    ACTION_ID = "action_id"
    OID_TRACKER = "oid_tracker"
    OID = "oid"
    NONE = "none"


class LineBase(StrEnum):
    """How the platform numbers lines. ``physical``: physical file lines, header = 1.
    ``record``: records counted from the header = 1 (equals physical unless fields hold
    newlines or blank lines exist). ``data1``/``data0``: data records counted from 1 or 0."""

    AUTO = "auto"
    PHYSICAL = "physical"
    RECORD = "record"
    DATA1 = "data1"
    DATA0 = "data0"


IntArray = npt.NDArray[np.int64]
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True, eq=False)
class Table:
    """One input file read as text.

    ``frame`` has one column per header cell (labels made unique, see ``header`` for the
    spelling as written) and one row per data record; every value is a ``str`` ("" when empty).
    ``lines[i]`` is the physical line (or sheet row) where record ``i`` starts, header = its own
    line (1 for a CSV whose first line is the header).
    """

    path: Path
    format: str  # csv | xlsx | xml | json
    header: tuple[str, ...]
    frame: pd.DataFrame
    lines: IntArray
    header_line: int = 1
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    meta: Mapping[str, str] = field(default_factory=dict)
    # JSON: the key that held the records ("ErrorDetail", "APISubmissions"...), "" for a
    # top-level list, "@object" for a single object read as one record; XML: the record tag.
    container: str = ""

    @property
    def records(self) -> int:
        return len(self.frame)


# --------------------------------------------------------------------------- the run's summary
#
# What summary.json says, field for field in the file's order. ``to_json`` gives the object
# written (byte-identical to what the figures always were); ``from_json`` reads one back for
# ``reconciler report``, refusing what no reconciler wrote: a field the report needs missing, or
# a value of the wrong kind. Fields with a default may be absent (older versions lacked them).


class SummaryError(ValueError):
    """summary.json is not what reconciler writes: the message names the field."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SubmissionFigures:
    """The batch's state as the results report it."""

    status: str | None = ""
    complete: bool = True
    total_records: int | None = None
    total_errors: int | None = None
    batch_ids: tuple[str, ...] = ()
    file_name: str | None = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class CompletenessFigures:
    """Whether the results cover the whole submission, and the evidence."""

    state: str = ""
    label: str = ""
    detail: str = ""
    records_without_result: str = ""
    pages_given: tuple[int, ...] = ()
    pages: int | None = None
    rows_counted: int | None = None
    require_complete: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class MoneyFigures:
    """Amounts of the records not applied. ``amount_column`` None: the file has none (and
    summary.json then says only that)."""

    amount_column: str | None = None
    currency: str | None = None
    currencies: tuple[str, ...] = ()
    not_applied_total: str = "0.00"
    not_applied_by_resolution: Mapping[str, str] = field(default_factory=dict)
    not_applied_by_currency: Mapping[str, str] = field(default_factory=dict)
    reversals_not_applied: int = 0
    unreadable_amounts: int = 0
    # With the platform's updates: accepted records they show not applied as sent (counted),
    # rejected records they show applied (not counted).
    accepted_not_applied: int = 0
    rejected_applied: int = 0

    def to_json(self) -> dict[str, object]:
        if self.amount_column is None:
            return {"amount_column": None}
        return _json_fields(self)

    def currencies_text(self) -> str:
        """What a mixed total adds up, e.g. "10.00 USD + 50.00 without a currency" (the
        currencies alone when the split is not known)."""
        if not self.not_applied_by_currency:
            return ", ".join(self.currencies)
        return " + ".join(
            f"{float(v):,.2f} " + ("without a currency" if k == "(none)" else k)
            for k, v in self.not_applied_by_currency.items()
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class TrendPoint:
    """One batch the ledger remembers, for the report's trend chart."""

    batch: str  # its BatchId, else the sent file's name
    reconciled_at: str
    records: int
    accepted: int
    rejected: int
    this_run: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class HistoryFigures:
    """What the ledger knew when the run was reconciled."""

    ledger: str  # where (a file, or a URL without its password)
    batches_before: int  # other batches it held
    recorded_before: bool  # this batch was reconciled before: its entry is updated
    records_seen_before: int  # records with Attempt > 1
    already_sent: int = 0  # corrected records held back: the same row was sent before
    again: bool = False  # --again: nothing was held back
    trend: tuple[TrendPoint, ...] = ()  # the latest batches, oldest first, this one last


@dataclass(frozen=True, slots=True, kw_only=True)
class ConfirmationFigures:
    """What the platform's updates (``--updates``) confirmed."""

    updates_files: tuple[str, ...]
    kind: str  # action_updates | actions
    submitted: str  # when the batch was submitted (ISO 8601), "" when unknown
    first_update: str  # the updates' window (ISO 8601), "" without dates
    last_update: str
    complete: bool  # --updates-complete: an action not listed was not changed
    by_status: Mapping[str, int] = field(default_factory=dict)  # every record
    accepted: int = 0  # accepted records
    accepted_confirmed: int = 0  # of them, confirmed
    accepted_for_review: int = 0  # of them, not_applied or differs: for a person to review
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Summary:
    """The figures of one reconcile run (summary.json, the terminal, the report, the
    workbook's Summary sheet)."""

    tool: str = "reconciler"
    version: str
    generated_at: str  # ISO 8601, UTC, "Z"
    sent_file: str
    results_file: str  # the results file, or several joined by ", "
    results_files: tuple[str, ...] = ()
    sent_format: str = ""
    sent_sheet: str | None = None
    results_sheet: str | None = None
    sent_encoding: str | None = None
    sent_delimiter: str | None = None
    results_format: str = ""
    template: str
    template_title: str
    result_shape: str
    result_shape_title: str
    result_columns: Mapping[str, str] = field(default_factory=dict)
    line_base: str
    line_base_detail: str
    line_base_evidence: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    line_base_warning: str = ""
    submission: SubmissionFigures
    completeness: CompletenessFigures | None = None
    sent_records: int
    result_rows: int = 0
    results_tied: int | None = None
    spoiled_id_ties: int = 0
    foreign_results: str = ""
    accepted: int
    accepted_pct: float
    rejected: int
    missing: int
    pending: int = 0
    unknown: int = 0
    ambiguous: int  # results whose key fits several records
    ambiguous_records: int
    unmatched_results: int
    needs_attention: bool = True  # exit 1: not every record accepted and every result tied
    records_to_follow_up: int = 0
    by_outcome: Mapping[str, int] = field(default_factory=dict)
    by_code: Mapping[str, int]
    by_resolution: Mapping[str, int]
    tied_by: Mapping[str, int] = field(default_factory=dict)
    unmatched_by_reason: Mapping[str, int]
    auto_fixed: int
    resubmit_records: int
    changed_cells: int
    resubmit_files: tuple[str, ...]
    needs_attention_records: int
    needs_attention_files: tuple[str, ...]
    held_by_modification_cap: int = 0
    formula_like_cells_in_resubmission: int = 0
    history: HistoryFigures | None = None  # None: no ledger
    confirmation: ConfirmationFigures | None = None  # None: no --updates
    money: MoneyFigures
    sent_fields: Mapping[str, str]
    sent_item_fields: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    max_rows: int | None = None
    warnings: tuple[str, ...]
    outputs: tuple[str, ...] | None = None  # the files written (set once they are)

    def to_json(self) -> dict[str, object]:
        """summary.json's object, keys in this order (``outputs`` only once set)."""
        data = _json_fields(self)
        if self.outputs is None:
            del data["outputs"]
        return data

    @classmethod
    def from_json(cls, data: object) -> Summary:
        """Read a summary back; ``SummaryError`` names the first field that is not right."""
        return _from_json(cls, data, "")


def required_summary_fields() -> tuple[str, ...]:
    """The fields summary.json must have for the report to be built from it."""
    return tuple(
        f.name for f in fields(Summary) if f.default is MISSING and f.default_factory is MISSING
    )


def _jsonable(value: object) -> object:
    if isinstance(value, MoneyFigures):
        return value.to_json()
    if is_dataclass(value) and not isinstance(value, type):
        return _json_fields(value)
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value


def _json_fields(obj: object) -> dict[str, object]:
    return {f.name: _jsonable(getattr(obj, f.name)) for f in fields(obj)}  # type: ignore[arg-type]


_KINDS: Mapping[type, str] = {
    str: "text",
    int: "a whole number",
    float: "a number",
    bool: "true or false",
    type(None): "null",
}


def _from_json(cls: type[_T], data: object, where: str) -> _T:
    if not isinstance(data, dict):
        raise SummaryError(f"{where!r} is not an object" if where else "is not an object")
    hints = get_type_hints(cls)
    values: dict[str, object] = {}
    for f in fields(cls):  # type: ignore[arg-type]
        name = f"{where}.{f.name}" if where else f.name
        if f.name not in data:
            if f.default is MISSING and f.default_factory is MISSING:
                raise SummaryError(f"lacks {name!r}")
            continue
        values[f.name] = _value(hints[f.name], data[f.name], name)
    return cls(**values)


def _value(hint: object, value: object, name: str) -> object:
    origin = get_origin(hint)
    if origin in (Union, UnionType):
        options = get_args(hint)
        for option in options:
            try:
                return _value(option, value, name)
            except SummaryError:
                continue
        kinds = " or ".join(_kind(o) for o in options)
        raise SummaryError(f"{name!r} is not {kinds}")
    if origin is tuple:
        if not isinstance(value, list):
            raise SummaryError(f"{name!r} is not a list")
        item = get_args(hint)[0]
        return tuple(_value(item, v, f"{name}[{i}]") for i, v in enumerate(value))
    if origin in (Mapping, dict):
        if not isinstance(value, dict):
            raise SummaryError(f"{name!r} is not an object")
        item = get_args(hint)[1]
        return {str(k): _value(item, v, f"{name}.{k}") for k, v in value.items()}
    if isinstance(hint, type) and is_dataclass(hint):
        return _from_json(hint, value, name)
    if hint is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if hint is type(None) and value is None:
        return None
    if hint in (str, int, bool) and type(value) is hint:
        return value
    raise SummaryError(f"{name!r} is not {_kind(hint)}")


def _kind(hint: object) -> str:
    if get_origin(hint) is tuple:
        return "a list"
    if get_origin(hint) in (Mapping, dict) or (isinstance(hint, type) and is_dataclass(hint)):
        return "an object"
    return _KINDS.get(hint, str(hint)) if isinstance(hint, type) else str(hint)


# --------------------------------------------------------------------------- a run's options


@dataclass(frozen=True, slots=True)
class RemediateOptions:
    """How records are corrected: ``reason_map`` (sent reason -> accepted code), ``reason``
    (the code for records refused for theirs), ``timezone`` (of dates without an offset),
    ``action_tracker_id`` (for records refused for theirs), ``actions`` (an Actions export),
    ``today`` (locking dates and ages are measured from it)."""

    reason_map: Mapping[str, str] = field(default_factory=dict)
    reason: str | None = None
    timezone: ZoneInfo | None = None
    action_tracker_id: str | None = None
    actions: ActionsIndex | None = None
    today: date | None = None


@dataclass(frozen=True, slots=True)
class FixFiles:
    """The fix options as the command line gives them, files not yet read: the chain reads
    and checks them (``pipeline.fix_options``) once the output folder is known to be usable."""

    reason_map: Path | None = None
    reason: str | None = None
    timezone: str | None = None
    actions: Path | None = None
    action_tracker_id: str | None = None

    @property
    def paths(self) -> tuple[Path, ...]:
        return tuple(p for p in (self.reason_map, self.actions) if p is not None)


@dataclass(frozen=True, slots=True)
class ReconcileOptions:
    """What ``reconcile`` is asked besides its files. ``fix_files``, when given, replaces
    ``fixes`` with the options read from them."""

    overrides: Mapping[str, str] = field(default_factory=dict)  # --map FIELD=COLUMN
    sheet: str | None = None
    line_base: LineBase = LineBase.AUTO
    now: datetime | None = None
    fixes: RemediateOptions = field(default_factory=RemediateOptions)
    fix_files: FixFiles | None = None
    max_rows: int | None = None  # split resubmit.csv into files of at most this many records
    workbooks: bool = True  # needs-attention.xlsx and reconciled.xlsx
    report: bool = True  # report.html
    # Records no result speaks of are accepted only when counts prove the results complete.
    require_complete: bool = False
    # Replace an --out folder not made by reconciler; go on with results whose identifiers
    # say they are another file's (no untied record is then accepted).
    force: bool = False
    # How input files that are not valid UTF-8 are decoded (None: worked out from their bytes).
    encoding: str | None = None
    # The ledger's database URL (``ledger.ledger_url``); None: no ledger. Used only when the
    # run writes its outputs.
    ledger: str | None = None
    # Resubmit corrected rows even when the ledger says the same row went out before.
    again: bool = False
    # The platform's updates to confirm the records against (ActionUpdates or an Actions
    # export), when the batch was submitted (else the results' SubmissionDate), and whether
    # the updates list every change of the window (an action not listed was not changed).
    updates: tuple[Path, ...] = ()
    submitted: str | None = None
    updates_complete: bool = False
    # Fetch the ActionUpdates from the submission on with the Brand API (reconcile_batch).
    fetch_updates: bool = False


# --------------------------------------------------------------------------- a finished run


@dataclass(frozen=True, slots=True, eq=False)
class Reconciliation:
    """A finished ``reconcile``: every stage's result, the summary, and the files written
    (``outputs``, empty until they are)."""

    sent: Table
    results: Table  # the result records of every results file, combined
    gathered: Gathered  # the results files and what came with them (pages, batch status)
    sent_schema: SentSchema
    result_schema: ResultSchema
    line_base: LineBaseChoice
    submission: SubmissionState
    records: pd.DataFrame  # per sent record, in sent order
    unmatched: pd.DataFrame
    remediation: Remediation
    summary: Summary
    outputs: tuple[str, ...] = ()

    @property
    def needs_attention(self) -> bool:
        return self.summary.needs_attention


def text_column(n: int, text: object) -> npt.NDArray[np.object_]:
    """An object array of ``n`` references to ``text``: what ``np.full(n, text,
    dtype=object)`` gives, without its detour through a NumPy string scalar, which makes a
    new Python string per element (about 0.1 s a million for a non-empty text). A ``str``
    subclass (a ``StrEnum`` member) becomes a plain ``str``, as there."""
    if isinstance(text, str) and type(text) is not str:
        text = "" + text
    out = np.empty(n, dtype=object)
    out.fill(text)
    return out
