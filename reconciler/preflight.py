"""Pre-submission checks (``reconciler check``): what impact.com would refuse, before sending.

Owns: the registry of checks (``CHECKS``: a stable kebab-case slug, a severity, the platform code
the record would get, a title, a description and a one-line example per check), running them over
a read table, the one findings frame with fixed columns, the documentation generated from the
registry (``describe_checks``), and preparing ``--fix`` by handing the predicted codes of the
fixable findings to the resubmission stage (``remediate.remediate``: the same fix rules, not a
copy). Does not read or write files (``readers``/``writers``), does not know argv or exit codes
(``cli``), and judges single values only through ``fixes.py``.

Every check is a small function over the whole table: pandas string operations per column, and
the cached value-level rules of ``fixes.py`` mapped over the *unique* values that a vectorised
pre-filter could not clear. Python loops run only over the few flagged rows.

Judgement calls (they are also listed in docs/checks.md):

* Severity ``error`` means the record would be rejected or applied other than intended;
  ``warning`` means it might be. The file's encoding and delimiter are warnings.
* ``Amount`` is required for order-level modifications in two of the three help pages and
  "optional" in the newest. An empty Amount is an error when the Reason is a standard code (a
  standard code carries no action change of its own, so the row says nothing to do); with a
  custom disposition code the row may be a disposition-only change and is not flagged.
* ``Reason``: impact.com accepts standard codes and custom codes configured per event type, which
  a file cannot reveal. An empty Reason, or a near miss of a standard code (other case or
  separators, at most two typing errors, or a fragment such as ``Returned``), is an error; any
  other non-standard value is a warning. Values of ``--reason-map`` are accepted; its keys are
  warnings whose advice names the mapped code (``--fix`` writes it).
* A reversal is an order-level row (order-level modification or mobile) whose Amount is zero.
* "The same action twice" is a warning on every line naming it (same ActionId, or the same Oid +
  ActionTrackerId, compared as the platform's keys: leading zeros and ``.0`` ignored). For
  order-level and chained conversions, a repeated OrderId + event type is a warning on the
  repeats only (``CONV_DUPLICATE``); item-level conversions share OrderIds by design.
* Leading zeros, long digit strings and dotted action IDs (``1000.4636.158133``) are valid IDs.
  Only scientific notation and a ``.0`` suffix count as spoiled.
* A file that is not ``.csv``/``.xml`` (a ``.txt`` "Unicode text" export, the analyst's
  ``.xlsx``) is an error: impact.com counts it as 0 records. ``--fix`` writes a ``.csv``. A name
  starting with ``receipt_``/``result_`` is an error too: such files are ignored.
* A decimal comma (``49,90``) is a warning in a semicolon, tab or pipe file (where it is the
  local convention and the platform read such files) and an error in a comma file, where the
  value had to be quoted and is refused as ``MALFORMED``.
* A mobile ActionId without the ``M`` prefix is a warning, and only in a file holding ``M`` IDs
  (three columns ``ActionId,Amount,Reason`` with plain IDs are an order-level file).
* With ``--actions``, one platform state is predicted per record, in the order the platform
  would meet them: no such action, reversed, locked (or approved), then ``NO_CHANGE``.
* EventDate: ISO 8601 with an offset is right; an ISO date or date-time without an offset is a
  warning (read in the account's time zone); anything else is an error. "In the future" means
  after the end of ``--today`` in every time zone; "too old" counts days from the date as written.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum
from functools import lru_cache
from typing import Any, Final
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .actions import ActionsIndex, newest
from .catalogue import Catalogue, load_catalogue
from .clock import clock
from .detect import SentSchema, detect_template, looks_like_results, unreadable_cells
from .errors import ShapeError
from .fixes import (
    ISO_DATETIME,
    MAX_AMOUNT,
    PLAIN_AMOUNT,
    fix_amount,
    fix_date,
    fix_integer,
    fix_reason,
    reason_key,
    spoiled_id_problem,
)
from .model import Outcome, Resolution, Table
from .normalize import arrow_strings, id_key, id_key_arrow
from .remediate import CHANGE_COLUMNS, RemediateOptions, remediate
from .templates import (
    ATTRIBUTION_FIELDS,
    CONVERSION_TEMPLATES,
    MAX_MODIFICATIONS_PER_ACTION,
    MODIFICATION_TEMPLATES,
    SENT_FIELDS,
    STANDARD_REASONS,
    TEMPLATE_TITLES,
    Template,
)

__all__ = [
    "CHECKS",
    "FINDING_COLUMNS",
    "Check",
    "CheckOptions",
    "CheckResult",
    "FixResult",
    "Scope",
    "Severity",
    "check",
    "check_table",
    "describe_checks",
    "fix_table",
]

FINDING_COLUMNS: Final = (
    "SourceLine",
    "Column",
    "Value",
    "Finding",
    "Severity",
    "PredictedError",
    "Advice",
)
CONVERSION_MAX_DAYS: Final = 88
"""FTP conversions with an older EventDate are not processed (impact-reference §4.1)."""
CONVERSION_MAX_DAYS_MEDIA: Final = 398
"""... unless attributed by MediaId."""
OID_MAX_LENGTH: Final = 64
SKU_MAX_LENGTH_MODIFICATION: Final = 40
SKU_MAX_LENGTH_CONVERSION: Final = 255

_ALL: Final = frozenset(Template) - {Template.UNKNOWN}
_MODS: Final = MODIFICATION_TEMPLATES
_CONV: Final = CONVERSION_TEMPLATES
_ORDER_LEVEL: Final = frozenset({Template.MODIFICATION, Template.MOBILE})
_ITEMS: Final = frozenset({Template.ITEM_MODIFICATION, Template.ITEM_CONVERSION})
# Which standard codes the reference allows on which kind of change (§2, "Allowed on").
_REVERSAL_ONLY: Final = frozenset({"REJECTED", "CONS_INFO_INVALID", "MP_RETURNED"})
_MODIFICATION_ONLY: Final = frozenset({"ORDER_UPDATE", "PARTNER_NOT_ACTIVE"})
_RESERVED_PREFIXES: Final = ("receipt_", "result_")

# Vectorised pre-filters (RE2-compatible, so pyarrow runs them); the verdict on a flagged value
# always comes from the fix rules in fixes.py.
_ZERO: Final = r"0+(?:[.,]0+)?"
# Scientific notation, a ".0", or 17+ digits ending in "00" (a spreadsheet's 15-digit rounding,
# judged by fixes.looks_rounded).
_SPOIL_CANDIDATE: Final = r"[eE]|[.,]0+$|^[0-9]{15,}00$"
_ISO_NO_OFFSET: Final = re.compile(
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}(?:T[0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?)?$"
)
_DECIMAL_COMMA: Final = re.compile(r"^[0-9]+,[0-9]{1,2}$")
_DATA_CELL: Final = re.compile(
    r"^(?:[$€£]?\s*-?[0-9.,]+|M?[0-9]+(?:\.[0-9]+)+|[0-9]{4}-[0-9]{2}-[0-9]{2}.*|[0-9]{1,2}/[0-9]{1,2}/[0-9]{2,4}.*"
    r"|[A-Z]{3}|[A-Za-z]+(?:_[A-Za-z]+)+|.*[0-9]{3,}.*)$"
)

BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


class Scope(StrEnum):
    FILE = "file"  # the file as a whole: format, name, encoding, header, columns
    RECORD = "record"  # each record, from the file alone
    ACTIONS = "actions"  # each record, against an impact.com Actions export (--actions)


@dataclass(frozen=True, slots=True)
class CheckOptions:
    """``reason_map``: sent reason -> accepted code (its values count as configured codes).
    ``today``: the date "in the future" and "older than 88 days" are measured from.
    ``timezone``: for dates written without an offset. ``fix``: prepare ``--fix`` codes."""

    reason_map: Mapping[str, str] = field(default_factory=dict)
    actions: ActionsIndex | None = None
    today: date | None = None
    timezone: ZoneInfo | None = None
    fix: bool = False


@dataclass(frozen=True, slots=True, eq=False)
class CheckResult:
    """``findings`` has ``FINDING_COLUMNS``, sorted by (SourceLine, Column, Finding).
    ``fix_codes`` has one row per (record position, platform code) that ``--fix`` hands to
    ``remediate`` (only codes whose fix rule can correct the flagged value)."""

    table: Table
    schema: SentSchema | None
    template: Template
    findings: pd.DataFrame
    fix_codes: pd.DataFrame
    today: date
    fix: bool = False  # the caller writes the --fix outputs (recorded in the summary)

    @property
    def records(self) -> int:
        return self.table.records

    @property
    def errors(self) -> int:
        return int((self.findings["Severity"] == Severity.ERROR).sum())

    @property
    def warnings(self) -> int:
        return int((self.findings["Severity"] == Severity.WARNING).sum())

    def counts(self) -> dict[str, int]:
        """Findings per slug, most frequent first (ties by slug)."""
        vc = self.findings["Finding"].value_counts()
        return {
            str(k): int(v) for k, v in sorted(vc.items(), key=lambda kv: (-int(kv[1]), str(kv[0])))
        }

    def records_with_errors(self) -> int:
        f = self.findings
        lines = f.loc[(f["Severity"] == Severity.ERROR) & (f["Column"] != ""), "SourceLine"]
        return int(lines.nunique())

    def summary(self) -> dict[str, Any]:
        t = self.table
        return {
            "file": str(t.path),
            "format": t.format,
            "encoding": t.encoding,
            "delimiter": t.delimiter,
            "sheet": t.sheet,
            "hidden_sheets_skipped": t.meta.get("@hidden_sheets", ""),
            "header_notes": list(self.schema.notes) if self.schema is not None else [],
            "template": str(self.template),
            "template_title": TEMPLATE_TITLES[self.template],
            "today": self.today.isoformat(),
            "fix": self.fix,
            "records": self.records,
            "records_with_errors": self.records_with_errors(),
            "errors": self.errors,
            "warnings": self.warnings,
            "by_finding": self.counts(),
        }

    def to_json(self) -> dict[str, Any]:
        """The summary plus every finding (a frame: ``writers.write_json`` writes it as one
        object per line)."""
        return {**self.summary(), "findings": self.findings}


@dataclass(frozen=True, slots=True, eq=False)
class FixResult:
    """Every record, the fixable ones corrected; ``header`` is the original spelling."""

    frame: pd.DataFrame
    header: tuple[str, ...]
    changes: pd.DataFrame  # remediate's CHANGE_COLUMNS
    warnings: tuple[str, ...]
    fixed_records: int


# ------------------------------------------------------------------------------- context


class _Ctx:
    """The table plus cached per-column views shared by the checks of one run."""

    def __init__(
        self, table: Table, schema: SentSchema | None, opts: CheckOptions, today: date
    ) -> None:
        self.table = table
        self.schema = schema
        self.opts = opts
        self.today = today
        self.frame = table.frame
        self.n = len(table.frame)
        self.lines: IntArray = np.asarray(table.lines, dtype=np.int64)
        self.template = schema.template if schema is not None else Template.UNKNOWN
        self._cache: dict[str, Any] = {}

    def label(self, name: str) -> str | None:
        return self.schema.column(name) if self.schema is not None else None

    def raw(self, label: str) -> pd.Series:
        key = "raw:" + label
        if key not in self._cache:
            s = self.frame[label]
            self._cache[key] = s if s.dtype == "str" else s.astype("str")
        out: pd.Series = self._cache[key]
        return out

    def val(self, label: str) -> pd.Series:
        """Stripped values (whitespace has its own check; the others judge what is left)."""
        key = "val:" + label
        if key not in self._cache:
            self._cache[key] = self.raw(label).str.strip()
        out: pd.Series = self._cache[key]
        return out

    def arr(self, label: str) -> pa.Array:
        """Stripped values as one pyarrow string array (for the compute kernels)."""
        key = "arr:" + label
        if key not in self._cache:
            got = arrow_strings(self.val(label))
            self._cache[key] = got.combine_chunks() if isinstance(got, pa.ChunkedArray) else got
        out: pa.Array = self._cache[key]
        return out

    def filled(self, label: str | None) -> BoolArray:
        if label is None:
            return np.zeros(self.n, dtype=bool)
        key = "filled:" + label
        if key not in self._cache:
            self._cache[key] = _mask(self.val(label) != "")
        out: BoolArray = self._cache[key]
        return out

    def field_filled(self, name: str) -> BoolArray:
        return self.filled(self.label(name))

    def items(self) -> dict[int, dict[str, str]]:
        """Item index -> {sku|quantity|item_amount|category: label}."""
        out: dict[int, dict[str, str]] = {}
        if self.schema is not None:
            for item in sorted(self.schema.items, key=lambda i: i.index):
                out.setdefault(item.index, {}).setdefault(item.field, item.column)
        return out

    def amount_labels(self) -> list[str]:
        labels = [lab for lab in (self.label("amount"),) if lab]
        return labels + [f["item_amount"] for f in self.items().values() if "item_amount" in f]

    def reversal(self) -> BoolArray:
        """Order-level rows whose Amount is zero (they reverse the action)."""
        if "reversal" not in self._cache:
            label = self.label("amount")
            if label is None or self.template not in _ORDER_LEVEL:
                self._cache["reversal"] = np.zeros(self.n, dtype=bool)
            else:
                arr = self.arr(label)
                zero = _np(pc.starts_with(arr, "0"))
                self._cache["reversal"] = _refine(arr, zero, f"^{_ZERO}$")
        out: BoolArray = self._cache["reversal"]
        return out

    def reason_kinds(self) -> tuple[pd.Series, dict[str, tuple[str, str, bool]]]:
        """Per row the raw Reason, and per unique value (kind, advice, fixable)."""
        if "reasons" not in self._cache:
            label = self.label("reason")
            assert label is not None
            raw = self.raw(label)
            memo = {str(v): self._reason_kind(str(v)) for v in pd.unique(raw)}
            self._cache["reasons"] = (raw, memo)
        out: tuple[pd.Series, dict[str, tuple[str, str, bool]]] = self._cache["reasons"]
        return out

    def _reason_kind(self, raw: str) -> tuple[str, str, bool]:
        """("ok" | "empty" | "near" | "custom" | "mapped", advice, fixable by --fix)."""
        rmap = self.opts.reason_map
        value = raw.strip()
        if raw in STANDARD_REASONS or raw in rmap.values():
            return "ok", "", False
        for key in (raw, value):
            if key in rmap:
                if rmap[key] == raw:
                    return "ok", "", False
                return (
                    "mapped",
                    f"{raw!r} is not a standard reason code; --reason-map maps it to "
                    f"{rmap[key]!r}, which --fix writes",
                    True,
                )
        if not value:
            return "empty", "", False
        if self.template is Template.RESET and reason_key(raw) == "RESET":
            return "near", "a reset file needs Reason RESET exactly; --fix writes RESET", True
        return _reason_verdict(raw)

    def action_codes(self) -> IntArray:
        """One integer per record naming the action it modifies (-1: none): an action as
        ``remediate._file_counts`` names it (ActionId, else Oid + ActionTrackerId, compared as
        ``normalize.id_key`` does), as integers, so grouping a million records stays cheap."""
        if "action_codes" not in self._cache:
            aid, oid, trk = (self.label(f) for f in ("action_id", "oid", "action_tracker_id"))
            by_aid = self.filled(aid)
            by_oid = ~by_aid & self.filled(oid) & self.filled(trk)
            codes = np.full(self.n, -1, dtype=np.int64)
            offset = 0
            if by_aid.any():
                a, offset = self._id_codes(str(aid), by_aid)
                codes[by_aid] = a
            if by_oid.any():
                o, _ = self._id_codes(str(oid), by_oid)
                t, nt = self._id_codes(str(trk), by_oid)
                codes[by_oid] = offset + o * nt + t
            self._cache["action_codes"] = codes
        out: IntArray = self._cache["action_codes"]
        return out

    def _id_codes(self, label: str, rows: BoolArray) -> tuple[IntArray, int]:
        """Integer codes of ``id_key`` over the rows of ``rows``, and how many there are."""
        values = pc.filter(arrow_strings(self.val(label)), pa.array(rows))
        encoded = pc.dictionary_encode(id_key_arrow(values))
        codes = np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
        return codes, len(encoded.dictionary)

    def repeated_actions(self) -> BoolArray:
        """Rows naming an action that another row of the file names too."""
        if "repeated" not in self._cache:
            codes = self.action_codes()
            named = codes >= 0
            repeated = named.copy()
            if named.any():
                # Renumbered by hashing first: Oid x ActionTrackerId codes can be astronomically
                # large when a file has many distinct event types.
                inverse, _u = pd.factorize(codes[named])
                repeated[named] = np.bincount(inverse)[inverse] > 1
            self._cache["repeated"] = repeated
        out: BoolArray = self._cache["repeated"]
        return out


def _mask(values: Any) -> BoolArray:
    """A pandas boolean result (possibly nullable) as a plain numpy bool array."""
    if isinstance(values, pd.Series):
        return np.asarray(values.to_numpy(dtype=bool, na_value=False), dtype=bool)
    return np.asarray(values, dtype=bool)


def _np(mask: Any) -> BoolArray:
    """A pyarrow boolean array (no nulls: values are never null) as numpy."""
    return np.asarray(mask.to_numpy(zero_copy_only=False), dtype=bool)


def _refine(arr: pa.Array, candidates: BoolArray, pattern: str) -> BoolArray:
    """``candidates`` narrowed to the values that match ``pattern`` (searched), running the
    regex only over the candidates."""
    out = candidates.copy()
    if candidates.any():
        subset = pc.filter(arr, pa.array(candidates))
        out[candidates] = _np(pc.match_substring_regex(subset, pattern))
    return out


def _where(mask: BoolArray) -> IntArray:
    return np.flatnonzero(mask).astype(np.int64)


def _by_unique(values: pd.Series, fn: Callable[[str], str]) -> npt.NDArray[np.object_]:
    """``fn`` over the unique values of a (small, flagged) series, broadcast back."""
    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    return np.asarray([fn(str(u)) for u in uniques], dtype=object)[codes]


# ------------------------------------------------------------------------------- hits


def _hits(
    ctx: _Ctx,
    pos: IntArray,
    column: str,
    value: Any,
    advice: Any,
    *,
    predicted: Any = None,
    fix: Any = "",
) -> pd.DataFrame:
    """Findings on records ``pos`` (positions in the frame) in ``column``."""
    k = len(pos)

    def arr(x: Any) -> Any:
        if isinstance(x, str) or x is None:
            return np.full(k, "" if x is None else x, dtype=object)
        return np.asarray(x, dtype=object)

    return pd.DataFrame(
        {
            "_pos": pos,
            "SourceLine": ctx.lines[pos] if k else np.zeros(0, dtype=np.int64),
            "Column": np.full(k, column, dtype=object),
            "Value": arr(value),
            "Advice": arr(advice),
            "PredictedError": np.full(k, None, dtype=object)
            if predicted is None
            else arr(predicted),
            "_fix": arr(fix),
        }
    )


def _cells(
    ctx: _Ctx,
    mask: BoolArray,
    label: str,
    advice: str | Callable[[str], str],
    *,
    predicted: str | None = None,
    fix: str | Callable[[str], str] = "",
) -> pd.DataFrame | None:
    """Findings on the rows of ``mask`` in column ``label``; ``advice``/``fix`` may be functions
    of the raw value (mapped over its unique values)."""
    if not mask.any():
        return None
    pos = _where(mask)
    values = ctx.raw(label).iloc[pos]
    adv = _by_unique(values, advice) if callable(advice) else advice
    fx = _by_unique(values, fix) if callable(fix) else fix
    return _hits(ctx, pos, label, values.to_numpy(dtype=object), adv, predicted=predicted, fix=fx)


def _file_hit(line: int, value: str, advice: str, *, predicted: str | None = None) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "_pos": [-1],
            "SourceLine": [line],
            "Column": [""],
            "Value": [value],
            "Advice": [advice],
            "PredictedError": [predicted],
            "_fix": [""],
        }
    )


CheckFn = Callable[[_Ctx], Iterable[pd.DataFrame | None]]


@dataclass(frozen=True, slots=True)
class Check:
    slug: str
    severity: Severity
    predicted_error: str  # the usual platform code ("" when none is known)
    title: str
    description: str
    fn: CheckFn
    example: str = ""  # one line for the docs: a value that triggers it
    scope: Scope = Scope.RECORD
    templates: frozenset[Template] = _ALL


# ------------------------------------------------------------------------------- file checks


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


# ------------------------------------------------------------------------------- identifiers


def _ck_no_identifier(ctx: _Ctx) -> Iterable[pd.DataFrame | None]:
    aid, oid = ctx.label("action_id"), ctx.label("oid")
    if aid is None and oid is None:
        return  # required-column-missing says it once
    mask = ~ctx.filled(aid) & ~ctx.filled(oid)
    yield _cells(
        ctx,
        mask,
        aid or oid or "",
        "the record names no action: give its ActionId, or its Oid and ActionTrackerId",
    )


def _ck_oid_without_tracker(ctx: _Ctx) -> Iterable[pd.DataFrame | None]:
    oid, trk = ctx.label("oid"), ctx.label("action_tracker_id")
    if oid is None or (trk is None and ctx.label("action_id") is None):
        return  # no Oid column, or the missing column is reported once for the file
    mask = ~ctx.field_filled("action_id") & ctx.filled(oid) & ~ctx.filled(trk)
    yield _cells(
        ctx,
        mask,
        trk or oid,
        "an Oid only names an action together with its ActionTrackerId (Oids are unique per "
        "event type): fill in ActionTrackerId, or give the ActionId",
    )


def _integer_advice(raw: str) -> str:
    fix = fix_integer(raw.strip())
    if fix.ok:
        return f"{fix.problem}: write it as the whole number {fix.value} (--fix does)"
    return fix.problem + "; write the whole number"


def _integer_fix(raw: str) -> str:
    return "MALFORMED" if fix_integer(raw.strip()).ok else ""


def _ck_not_integer(ctx: _Ctx) -> Iterable[pd.DataFrame | None]:
    labels = [ctx.label("action_tracker_id")]
    if ctx.template in _CONV:
        labels.append(ctx.label("campaign_id"))
    labels += [f["quantity"] for f in ctx.items().values() if "quantity" in f]
    for label in labels:
        if label is None:
            continue
        # ascii_is_decimal is PLAIN_INTEGER: non-empty and ASCII digits only.
        bad = ctx.filled(label) & ~_np(pc.ascii_is_decimal(ctx.arr(label)))
        yield _cells(ctx, bad, label, _integer_advice, fix=_integer_fix)


def _spoiled_mask(ctx: _Ctx, label: str) -> tuple[BoolArray, dict[str, str]]:
    val, arr = ctx.val(label), ctx.arr(label)
    cand = _np(pc.match_substring(arr, "e", ignore_case=True)) | _np(pc.ends_with(arr, "0"))
    cand = _refine(arr, cand, _SPOIL_CANDIDATE)
    if not cand.any():
        return cand, {}
    memo = {str(v): spoiled_id_problem(str(v)) for v in pd.unique(val[cand])}
    spoiled = cand.copy()
    spoiled[cand] = [bool(memo[str(v)]) for v in val[cand]]
    return spoiled, memo


def _ck_id_spoiled(ctx: _Ctx) -> Iterable[pd.DataFrame | None]:
    conversion = ctx.template in _CONV
    for name in ("action_id", "oid"):
        label = ctx.label(name)
        if label is None or (conversion and name == "action_id"):
            continue
        mask, memo = _spoiled_mask(ctx, label)
        if not mask.any():
            continue
        recover = ctx.opts.actions is not None and not conversion

        def advice(raw: str, memo: dict[str, str] = memo, recover: bool = recover) -> str:
            text = memo[raw.strip()]
            if conversion:
                return text + "; the order would be recorded under this wrong ID: use the real one"
            return text + (
                "; --fix recovers it from the Actions export when exactly one action fits"
                if recover
                else "; pass an Actions export with --actions to recover it, or type it again"
            )

        yield _cells(
            ctx,
            mask,
            label,
            advice,
            predicted="" if conversion else None,
            fix="ACTION_NOT_FOUND" if recover else "",
        )


def _ck_id_unreadable(ctx: _Ctx) -> Iterable[pd.DataFrame | None]:
    unreadable = unreadable_cells(ctx.table)
    if not unreadable:
        return
    for name in ("action_id", "oid", "action_tracker_id"):
        label = ctx.label(name)
        if label is None:
            continue
        found = sorted(p for (p, lab) in unreadable if lab == label)
        if not found:
            continue
        pos = np.asarray(found, dtype=np.int64)
        advice = [
            f"the cell is {unreadable[(p, label)]}: the workbook does not hold the identifier, "
            "so the row would name no action (or the wrong one); open it in Excel, let it "
            "calculate, unmerge the cells, fix the error and save it (or type the value)"
            for p in found
        ]
        yield _hits(ctx, pos, label, ctx.raw(label).iloc[pos].to_numpy(dtype=object), advice)


_WHITESPACE_FIX: Final = {
    "amount": "MALFORMED",
    "action_tracker_id": "MALFORMED",
    "campaign_id": "MALFORMED",
}


def _ck_whitespace(ctx: _Ctx) -> Iterable[pd.DataFrame | None]:
    names = ["action_id", "oid", "action_tracker_id", "amount", "campaign_id", "currency"]
    targets: list[tuple[str, str]] = [(n, lab) for n in names if (lab := ctx.label(n))]
    for fields in ctx.items().values():
        targets += [(f, fields[f]) for f in ("sku", "quantity", "item_amount") if f in fields]
    for name, label in targets:
        raw = ctx.raw(label)
        mask = _mask(raw != ctx.val(label)) & ctx.filled(label)
        fix = _WHITESPACE_FIX.get(name, "MALFORMED" if name in ("quantity", "item_amount") else "")
        if name in ("action_id", "oid") and ctx.opts.actions is not None:
            fix = "ACTION_NOT_FOUND"
        yield _cells(
            ctx,
            mask,
            label,
            "the value has spaces around it; impact.com may not trim them (an ID with a space "
            "is another ID): remove them" + (" (--fix does)" if fix else ""),
            fix=fix,
        )


def _ck_oid_too_long(ctx: _Ctx) -> Iterable[pd.DataFrame | None]:
    label = ctx.label("oid")
    if label is not None:
        mask = _mask(ctx.val(label).str.len() > OID_MAX_LENGTH)
        yield _cells(
            ctx,
            mask,
            label,
            lambda v: (
                f"the Oid has {len(v.strip())} characters; impact.com allows {OID_MAX_LENGTH}"
            ),
        )


def _ck_sku_too_long(ctx: _Ctx) -> Iterable[pd.DataFrame | None]:
    limit = SKU_MAX_LENGTH_CONVERSION if ctx.template in _CONV else SKU_MAX_LENGTH_MODIFICATION
    for fields in ctx.items().values():
        label = fields.get("sku")
        if label is not None:
            mask = _mask(ctx.val(label).str.len() > limit)
            yield _cells(
                ctx,
                mask,
                label,
                lambda v: (
                    f"the Sku has {len(v.strip())} characters; impact.com allows {limit} "
                    "and it must match the catalog exactly"
                ),
            )


# ------------------------------------------------------------------------------- amounts


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


# ------------------------------------------------------------------------------- reasons


def _osa_distance(a: str, b: str, limit: int) -> int:
    """Optimal-string-alignment distance of ``a`` and ``b``, capped at ``limit + 1``."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        if min(cur) > limit:
            return limit + 1
        prev2, prev = prev, cur
    return prev[-1]


def _fragments() -> dict[str, list[str]]:
    """Runs of whole words inside standard codes (``RETURNED`` in ``ITEM_RETURNED``)."""
    out: dict[str, list[str]] = {}
    for code in STANDARD_REASONS:
        words = code.split("_")
        for i in range(len(words)):
            for j in range(i + 1, len(words) + 1):
                run = "_".join(words[i:j])
                if run != code and len(run) >= 4 and run not in STANDARD_REASONS:
                    out.setdefault(run, []).append(code)
    return out


_FRAGMENTS: Final = _fragments()


@lru_cache(maxsize=4096)
def _reason_verdict(raw: str) -> tuple[str, str, bool]:
    """("near" | "custom", advice, fixable) for a non-empty, non-standard reason."""
    fix = fix_reason(raw)
    if fix.ok:
        return "near", f"{fix.problem}; write {fix.value} (--fix does)", True
    key = reason_key(raw)
    limit = 2 if len(key) >= 6 else 1
    close = sorted(c for c in STANDARD_REASONS if _osa_distance(key, c, limit) <= limit)
    if not close and key in _FRAGMENTS:
        close = sorted(_FRAGMENTS[key])
    if not close and len(key) >= 5:  # RETURN, RETURNS for the word RETURNED
        close = sorted(
            {c for frag, codes in _FRAGMENTS.items() if len(frag) >= 7 for c in codes
             if _osa_distance(key, frag, 2) <= 2}
        )  # fmt: skip
    if close:
        options = " or ".join(close)
        return (
            "near",
            f"{raw!r} is not a reason code but looks like {options}: write the standard code "
            "exactly (custom codes must match their configured spelling, case included)",
            False,
        )
    return (
        "custom",
        f"{raw!r} is not a standard reason code; it is accepted only if it is configured "
        "exactly (case-sensitive) as a custom disposition code on the event type, otherwise "
        "use a standard code or map it with --reason-map",
        False,
    )


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


# ------------------------------------------------------------------------------- items


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


# ------------------------------------------------------------------------------- duplicates


def _ck_duplicate_action(ctx: _Ctx) -> Iterable[pd.DataFrame | None]:
    dup = ctx.repeated_actions()
    if not dup.any():
        return
    pos = _where(dup)
    sub = pd.DataFrame({"k": ctx.action_codes()[pos], "line": ctx.lines[pos]})
    first = sub.groupby("k", sort=False)["line"].transform("min").to_numpy()
    count = sub.groupby("k", sort=False)["line"].transform("size").to_numpy()
    outcome = (
        "each line is another modification of it: put all its items on one line"
        if ctx.template is Template.ITEM_MODIFICATION
        else "each line is another modification and the last one wins: keep one line per action"
    )
    advice = [
        f"the same action is on {c} lines (first at line {f}); {outcome}"
        for c, f in zip(count, first, strict=True)
    ]
    yield from _on_identifier(ctx, pos, advice)


def _on_identifier(
    ctx: _Ctx, pos: IntArray, advice: Sequence[str] | str, **kw: Any
) -> Iterable[pd.DataFrame | None]:
    """Findings in the column that names the action: ActionId when given, else Oid."""
    aid, oid = ctx.label("action_id"), ctx.label("oid")
    by_aid = ctx.filled(aid)[pos]
    adv = (
        np.full(len(pos), advice, dtype=object)
        if isinstance(advice, str)
        else np.asarray(advice, dtype=object)
    )
    for label, sel in ((aid, by_aid), (oid, ~by_aid)):
        if label is not None and sel.any():
            values = ctx.raw(label).iloc[pos[sel]].to_numpy(dtype=object)
            yield _hits(ctx, pos[sel], label, values, adv[sel], **kw)


def _ck_duplicate_order(ctx: _Ctx) -> Iterable[pd.DataFrame | None]:
    oid = ctx.label("oid")
    if oid is None:
        return
    trk = ctx.label("action_tracker_id") or ctx.label("event_type_code")
    tracker = id_key(ctx.val(trk)) if trk else pd.Series([""] * ctx.n)
    keys = ctx.val(oid).to_numpy(dtype=object) + "\x1f" + tracker.to_numpy(dtype=object)
    series = pd.Series(keys)
    repeat = ctx.filled(oid) & _mask(series.duplicated(keep="first"))
    if not repeat.any():
        return
    pos = _where(repeat)
    first_line: dict[str, int] = {}
    for p in _where(ctx.filled(oid) & _mask(series.duplicated(keep=False))):
        first_line.setdefault(keys[p], int(ctx.lines[p]))
    advice = [
        f"line {first_line[keys[p]]} already has this OrderId for the same event type; impact.com "
        "keeps the first and refuses the repeat as a duplicate"
        for p in pos
    ]
    yield _hits(ctx, pos, oid, ctx.raw(oid).iloc[pos].to_numpy(dtype=object), advice)


def _ck_too_many_modifications(ctx: _Ctx) -> Iterable[pd.DataFrame | None]:
    repeated = ctx.repeated_actions()
    if int(repeated.sum()) <= MAX_MODIFICATIONS_PER_ACTION:
        return
    pos = _where(repeated)
    codes = pd.Series(ctx.action_codes()[pos])
    rank = codes.groupby(codes, sort=False).cumcount().to_numpy() + 1
    over = pos[rank > MAX_MODIFICATIONS_PER_ACTION]
    yield from _on_identifier(
        ctx,
        over,
        f"this is modification number {MAX_MODIFICATIONS_PER_ACTION + 1} or later of one action "
        f"in this file; impact.com allows {MAX_MODIFICATIONS_PER_ACTION} per action: contact "
        "support instead",
    )


# ------------------------------------------------------------------------------- mobile


def _ck_mobile_prefix(ctx: _Ctx) -> Iterable[pd.DataFrame | None]:
    label = ctx.label("action_id")
    if label is not None:
        mobile = _mask(ctx.val(label).str.startswith("M"))
        if not mobile.any():
            return  # ActionId,Amount,Reason with no mobile ID: an order-level file
        mask = ctx.filled(label) & ~mobile
        yield _cells(
            ctx,
            mask,
            label,
            "mobile action IDs start with M (e.g. M1000.4636.2001); check it was not cut off",
        )


# ------------------------------------------------------------------------------- conversions


def _ck_order_id_missing(ctx: _Ctx) -> Iterable[pd.DataFrame | None]:
    label = ctx.label("oid")
    if label is not None:
        yield _cells(ctx, ~ctx.filled(label), label, "OrderId is required for every conversion")


def _ck_required_value(ctx: _Ctx) -> Iterable[pd.DataFrame | None]:
    campaign = ctx.label("campaign_id")
    if campaign is not None:
        yield _cells(
            ctx,
            ~ctx.filled(campaign),
            campaign,
            "CampaignId (the program) is required for every conversion",
            predicted="CAMPAIGN_NOT_FOUND",
        )
    trk, code = ctx.label("action_tracker_id"), ctx.label("event_type_code")
    if trk is not None or code is not None:
        yield _cells(
            ctx,
            ~ctx.filled(trk) & ~ctx.filled(code),
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


# ------------------------------------------------------------------------------- actions export


def _amount_numbers(values: pd.Series) -> npt.NDArray[np.float64]:
    """Amounts as floats (NaN where not an amount), judged by ``fix_amount``."""
    memo: dict[str, float] = {}
    for v in pd.unique(values):
        fix = fix_amount(str(v))
        memo[str(v)] = float(fix.value) if fix.ok else np.nan
    return np.asarray([memo[str(v)] for v in values], dtype=np.float64)


def _actions_match(ctx: _Ctx) -> pd.DataFrame | None:
    """Per record naming an action: pos, path (a | o), idx into the export (-1: not found),
    candidates (actions sharing the Oid + ActionTrackerId)."""
    if "actions" in ctx._cache:
        out: pd.DataFrame | None = ctx._cache["actions"]
        return out
    actions = ctx.opts.actions
    if actions is None or ctx.template not in _MODS:
        ctx._cache["actions"] = None
        return None
    act = actions.frame.reset_index(drop=True)
    aid, oid, trk = ctx.label("action_id"), ctx.label("oid"), ctx.label("action_tracker_id")
    by_aid = ctx.filled(aid)
    by_oid = ~by_aid & ctx.filled(oid) & ctx.filled(trk)
    parts: list[pd.DataFrame] = []
    if by_aid.any():
        assert aid is not None
        pos = _where(by_aid)
        last = act.drop_duplicates("action_id", keep="last")
        rows = np.append(last.index.to_numpy(dtype=np.int64), -1)  # [-1] is "not found"
        hit = pd.Index(last["action_id"]).get_indexer(ctx.val(aid).iloc[pos].to_numpy())
        idx = rows[hit]
        parts.append(pd.DataFrame({"pos": pos, "path": "a", "idx": idx, "candidates": 1}))
    if by_oid.any():
        assert oid is not None and trk is not None
        pos = _where(by_oid)
        sent_key = pd.Series(
            ctx.val(oid).iloc[pos].to_numpy(dtype=object)
            + "\x1f"
            + id_key(ctx.val(trk).iloc[pos]).to_numpy(dtype=object)
        )
        act_key = act["oid"].astype(object) + "\x1f" + act["k_tracker"].astype(object)
        counts = act_key.value_counts()
        single = act_key[act_key.map(counts) == 1]
        rows = np.append(single.index.to_numpy(dtype=np.int64), -1)  # [-1] is "not found"
        idx = rows[pd.Index(single.to_numpy()).get_indexer(sent_key.to_numpy())]
        cand = sent_key.map(counts).fillna(0).astype(np.int64).to_numpy()
        sent_keys = sent_key.to_numpy(dtype=object)
        for i in np.flatnonzero(cand > 1):  # several actions: the newest one is changed
            group: pd.DataFrame = act.loc[_mask(act_key == sent_keys[i])]
            chosen = newest(group)
            idx[i] = int(str(chosen.name)) if chosen is not None else -1
        parts.append(pd.DataFrame({"pos": pos, "path": "o", "idx": idx, "candidates": cand}))
    match = pd.concat(parts, ignore_index=True) if parts else None
    ctx._cache["actions"] = match
    return match


def _matched(ctx: _Ctx) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """(matched rows with the export's state/amount/locking joined, the export)."""
    match = _actions_match(ctx)
    if match is None or ctx.opts.actions is None:
        return None
    act = ctx.opts.actions.frame.reset_index(drop=True)
    found = match[match["idx"] >= 0]
    joined = found.assign(
        state=act["state"].to_numpy()[found["idx"].to_numpy()],
        locking=act["locking_date"].to_numpy()[found["idx"].to_numpy()],
        action=act["action_id"].to_numpy()[found["idx"].to_numpy()],
    )
    return joined, act


def _state_masks(ctx: _Ctx, joined: pd.DataFrame) -> tuple[BoolArray, BoolArray, BoolArray]:
    """(reversed, locked, approved-before-lock) for matched rows; mirrors actions.is_locked."""
    state = joined["state"].astype(str).to_numpy()
    reversed_ = state == "REVERSED"
    if ctx.template is Template.RESET:
        reversed_ = np.zeros(len(joined), dtype=bool)  # a reset undoes a reversal
    locking = pd.to_datetime(pd.Series(joined["locking"].to_numpy()), utc=True)
    passed = _mask(locking < pd.Timestamp(ctx.today, tz="UTC"))
    approved = np.isin(state, ["APPROVED", "LOCKED"])
    locked = ~reversed_ & (passed | approved)
    return reversed_, locked, locked & approved & ~passed


def _ck_action_not_found(ctx: _Ctx) -> Iterable[pd.DataFrame | None]:
    match = _actions_match(ctx)
    actions = ctx.opts.actions
    if match is None or actions is None:
        return
    missing = match[match["idx"] < 0]
    if missing.empty:
        return
    aid, oid, trk = ctx.label("action_id"), ctx.label("oid"), ctx.label("action_tracker_id")
    advice: list[str] = []
    fixes: list[str] = []
    columns: list[str] = []
    values: list[str] = []
    for pos, path in zip(missing["pos"], missing["path"], strict=True):
        label = aid if path == "a" else oid
        assert label is not None
        raw = str(ctx.raw(label).iat[pos])
        tracker = fix_integer(str(ctx.raw(trk).iat[pos])).value if path == "o" and trk else ""
        hits = actions.recover("action_id" if path == "a" else "oid", raw, tracker)
        column = "action_id" if path == "a" else "oid"
        distinct = sorted(set(hits[column]))
        columns.append(label)
        values.append(raw)
        if len(distinct) == 1:
            advice.append(
                f"no action has {label} {raw!r} as written; it looks spoiled by a spreadsheet and "
                f"is probably {distinct[0]} (--fix writes it)"
            )
            fixes.append("ACTION_NOT_FOUND")
        elif distinct:
            advice.append(
                f"no action has {label} {raw!r} as written; it could be any of {len(distinct)} "
                f"actions ({', '.join(distinct[:3])}): correct it by hand"
            )
            fixes.append("")
        else:
            where = "ActionId" if path == "a" else "Oid + ActionTrackerId"
            advice.append(
                f"the Actions export has no action with this {where}; correct the ID, or submit "
                "the order as a new conversion if it was never tracked"
            )
            fixes.append("")
    frame = _hits(ctx, missing["pos"].to_numpy(dtype=np.int64), "", values, advice, fix=fixes)
    frame["Column"] = columns
    yield frame


def _actions_rows(
    ctx: _Ctx, joined: pd.DataFrame, mask: BoolArray, advice: Callable[[pd.Series], str],
    predicted: Sequence[str] | None = None,
) -> pd.DataFrame | None:  # fmt: skip
    if not mask.any():
        return None
    rows = joined[mask]
    aid, oid = ctx.label("action_id"), ctx.label("oid")
    labels = [aid if p == "a" else oid for p in rows["path"]]
    values = [str(ctx.raw(str(lab)).iat[p]) for lab, p in zip(labels, rows["pos"], strict=True)]
    frame = _hits(
        ctx,
        rows["pos"].to_numpy(dtype=np.int64),
        "",
        values,
        [advice(r) for _, r in rows.iterrows()],
        predicted=None if predicted is None else list(np.asarray(predicted)[mask]),
    )
    frame["Column"] = [str(lab) for lab in labels]
    return frame


def _ck_already_reversed(ctx: _Ctx) -> Iterable[pd.DataFrame | None]:
    m = _matched(ctx)
    if m is not None:
        joined, _ = m
        reversed_, _, _ = _state_masks(ctx, joined)
        yield _actions_rows(
            ctx,
            joined,
            reversed_,
            lambda r: (
                f"action {r['action']} is already REVERSED; a file cannot change it (a "
                "RESET before its locking date undoes a mistaken reversal)"
            ),
        )


def _ck_already_locked(ctx: _Ctx) -> Iterable[pd.DataFrame | None]:
    m = _matched(ctx)
    if m is not None:
        joined, _ = m
        _, locked, approved = _state_masks(ctx, joined)

        def advice(r: pd.Series) -> str:
            when = (
                f"its locking date {pd.Timestamp(r['locking']).date().isoformat()} has passed"
                if not pd.isna(r["locking"]) and pd.Timestamp(r["locking"]).date() < ctx.today
                else f"it is {r['state']}"
            )
            return (
                f"action {r['action']} can no longer be modified: {when}; settle it with the "
                "partner off-platform"
            )

        codes = np.where(approved, "ALREADY_APPROVED", "ALREADY_LOCKED")
        yield _actions_rows(ctx, joined, locked, advice, list(codes))


def _amount_vs_current(ctx: _Ctx) -> tuple[pd.DataFrame, BoolArray, BoolArray] | None:
    m = _matched(ctx)
    label = ctx.label("amount")
    if m is None or label is None or ctx.template not in _ORDER_LEVEL:
        return None
    joined, act = m
    reversed_, locked, _ = _state_masks(ctx, joined)
    open_ = ~reversed_ & ~locked
    pos = joined["pos"].to_numpy(dtype=np.int64)
    sent = ctx.val(label).iloc[pos]
    plain = _mask(sent.str.fullmatch(PLAIN_AMOUNT.pattern))
    sent_n = np.full(len(pos), np.nan)
    if plain.any():
        sent_n[plain] = sent[plain].astype(float).to_numpy()
    current = _amount_numbers(act["amount"].iloc[joined["idx"].to_numpy()].astype(str))
    same = open_ & plain & (np.round(sent_n * 100) == np.round(current * 100))
    zero = same & (np.round(sent_n * 100) == 0)
    return joined.assign(current=act["amount"].to_numpy()[joined["idx"].to_numpy()]), same, zero


def _ck_no_change(ctx: _Ctx) -> Iterable[pd.DataFrame | None]:
    got = _amount_vs_current(ctx)
    if got is not None:
        joined, same, zero = got
        yield _actions_rows(
            ctx,
            joined,
            same & ~zero,
            lambda r: (
                f"action {r['action']} already has Amount {r['current']}; Amount is the new "
                "total, not a delta: send the final amount (nothing would change)"
            ),
        )


def _ck_zero_amount_reversal(ctx: _Ctx) -> Iterable[pd.DataFrame | None]:
    got = _amount_vs_current(ctx)
    if got is not None:
        joined, _, zero = got
        yield _actions_rows(
            ctx,
            joined,
            zero,
            lambda r: (
                f"action {r['action']} already has Amount 0, so Amount 0 counts as a "
                "modification and does not reverse it; reverse it another way (API DELETE or a "
                "reversal disposition code)"
            ),
        )


def _ck_newest_action(ctx: _Ctx) -> Iterable[pd.DataFrame | None]:
    m = _matched(ctx)
    if m is not None:
        joined, _ = m
        several = _mask(joined["candidates"] > 1)
        yield _actions_rows(
            ctx,
            joined,
            several,
            lambda r: (
                f"{int(r['candidates'])} actions share this Oid + ActionTrackerId; the "
                f"change goes to the newest, {r['action']}: give the ActionId to change another"
            ),
        )


# ------------------------------------------------------------------------------- registry

E, W = Severity.ERROR, Severity.WARNING
_FILE = Scope.FILE
_ACT = Scope.ACTIONS
_CONV_ORDER = frozenset({Template.CONVERSION, Template.CHAINED_CONVERSION})

CHECKS: tuple[Check, ...] = (
    # -- the file
    Check("not-csv-or-xml", E, "ZERO_RECORDS", "File is not .csv or .xml",
          "impact.com reads batch files only with a .csv or .xml extension; anything else is "
          "counted as 0 records.", _ck_not_csv_or_xml, "`sent.xlsx`, `sent.txt`", _FILE),
    Check("reserved-file-name", E, "", "File name is reserved",
          "File names starting with receipt_ or result_ are reserved for impact.com's own files "
          "and ignored.", _ck_reserved_name, "`result_mods.csv`", _FILE),
    Check("utf8-bom", W, "", "UTF-8 with a byte-order mark",
          "A BOM can become part of the first header cell.", _ck_utf8_bom,
          "bytes `EF BB BF` before `ActionId`", _FILE),
    Check("not-utf8", W, "", "Not UTF-8",
          "UTF-16 (Excel 'Unicode text') or a legacy code page such as cp1252.", _ck_not_utf8,
          "`utf-16-le`, `cp1252`", _FILE),
    Check("delimiter-not-comma", W, "", "Columns not separated by commas",
          "Semicolon (European Excel), tab or pipe separated files.", _ck_delimiter,
          "`ActionId;Oid;Amount`", _FILE),
    Check("no-header", E, "", "No header row",
          "The first row holds data rather than column names.", _ck_no_header,
          "`1000.4636.158133,,,19.99,USD,,ORDER_UPDATE` as line 1", _FILE),
    Check("unknown-template", E, "", "No impact.com template",
          "The columns match no modification, reversal, reset, mobile or conversion template.",
          _ck_unknown_template, "`Order,Total,Status`", _FILE),
    Check("required-column-missing", E, "", "Required column missing",
          "A column the template needs is absent (Reason, ActionTrackerId beside Oid, "
          "Quantity{i} beside Sku{i}; CampaignId, ActionTrackerId or EventTypeCode, EventDate, "
          "OrderId and an attribution key for conversions). The predicted code depends on the "
          "column (BAD_DISPOSITION, ACTION_NOT_FOUND, OID_MISSING, ...).",
          _ck_required_columns, "`Oid,Amount,Reason` (no ActionTrackerId)", _FILE),
    # -- identifiers
    Check("no-identifier", E, "ACTION_NOT_FOUND", "No identifier",
          "Neither ActionId nor Oid: the record names no action.", _ck_no_identifier,
          "`,,16027,0,,,ITEM_RETURNED`", templates=_MODS),
    Check("oid-without-tracker", E, "ACTION_NOT_FOUND", "Oid without ActionTrackerId",
          "Oids are unique per event type only, so the Oid path needs the ActionTrackerId.",
          _ck_oid_without_tracker, "`,T52324111211,,0,,,ITEM_RETURNED`", templates=_MODS),
    Check("not-an-integer", E, "MALFORMED", "Whole number expected",
          "ActionTrackerId, CampaignId (conversions) or Quantity{i} is not a whole number.",
          _ck_not_integer, "`16027.0`, `1.6E+04`, `one`"),
    Check("id-cell-unreadable", E, "ACTION_NOT_FOUND", "ID cell without a value",
          "An ActionId, Oid or ActionTrackerId cell of a workbook holds no value the file "
          "gives: a formula whose result was never saved, an Excel error such as #N/A, or a "
          "cell merged into another.", _ck_id_unreadable,
          "`=VLOOKUP(...)` never calculated, `#N/A`, merged cells"),
    Check("id-spoiled", E, "ACTION_NOT_FOUND", "ID spoiled by a spreadsheet",
          "ActionId or Oid in scientific notation, with a .0 suffix, or 17 digits or more "
          "ending in zeros past the 15th (a spreadsheet's rounding). For conversions the order "
          "would be recorded under the wrong OrderId (no code is predicted).", _ck_id_spoiled,
          "`1.23457E+11`, `12345.0`, `4051234567890620000`"),
    Check("value-whitespace", W, "", "Spaces around a value",
          "An ID, amount or code with leading or trailing spaces.", _ck_whitespace, "`' 16027'`"),
    Check("oid-too-long", E, "MALFORMED", "Oid longer than 64 characters",
          "Oid / OrderId is STRING(64).", _ck_oid_too_long, "a 65-character Oid"),
    Check("sku-too-long", E, "MALFORMED", "Sku too long",
          "Sku{i} is limited to 40 characters in modification files (255 in conversions).",
          _ck_sku_too_long, "a 41-character Sku1", templates=_ITEMS),
    # -- amounts
    Check("amount-missing", E, "", "Amount missing",
          "An order-level modification with a standard Reason and no Amount says nothing to do. "
          "Rows with a custom disposition code are not flagged (the code may carry the change).",
          _ck_amount_missing, "`1000.4636.158133,,,,USD,,ORDER_UPDATE`", templates=_ORDER_LEVEL),
    Check("amount-not-a-number", E, "MALFORMED", "Amount is not a plain number",
          "Currency signs, thousands separators, decimal commas in a comma file, text.",
          _amount_check("amount-not-a-number"), "`$1,299.00`, `29,99`, `n/a`"),
    Check("amount-negative", E, "MALFORMED", "Negative amount",
          "Amount is the new total (0 or more), never a delta.", _amount_check("amount-negative"),
          "`-5.00`"),
    Check("amount-too-many-decimals", E, "MALFORMED", "More than two decimals",
          "Amounts are decimal(8,2).", _amount_check("amount-too-many-decimals"), "`19.999`"),
    Check("amount-too-large", E, "MALFORMED", "Amount too large",
          "Amounts are decimal(8,2): at most 999999.99.", _amount_check("amount-too-large"),
          "`1000000.00`"),
    Check("amount-decimal-comma", W, "MALFORMED", "Decimal comma",
          "A decimal comma in a semicolon, tab or pipe separated file; it breaks the column once "
          "the file is comma-separated.", _amount_check("amount-decimal-comma"), "`49,90`"),
    Check("currency-not-iso", W, "MALFORMED", "Currency not a 3-letter code",
          "CurrencyCode must be an ISO 4217 code in capitals.", _ck_currency, "`usd`, `$`, `US`"),
    # -- reasons
    Check("reason-missing", E, "BAD_DISPOSITION", "Reason missing",
          "Every modification, reversal and reset needs a Reason.", _ck_reason_missing,
          "`1000.4636.158133,,,0,,,`", templates=_MODS),
    Check("reason-not-standard", E, "BAD_DISPOSITION", "Reason misspells a standard code",
          "Another case or separators, up to two typing errors, or a fragment of a standard code "
          "(a reset file needs RESET exactly).", _reason_check({"near"}),
          "`item returned`, `Returned`, `ITEM_RETURN`", templates=_MODS),
    Check("reason-custom", W, "BAD_DISPOSITION", "Reason is not a standard code",
          "Accepted only when configured exactly as a custom disposition code on the event type "
          "(or a --reason-map key, which --fix maps).", _reason_check({"custom", "mapped"}),
          "`REFUND`, `RETOURE`", templates=_MODS),
    Check("reason-not-allowed", W, "BAD_DISPOSITION", "Reason not documented for this change",
          "REJECTED, CONS_INFO_INVALID and MP_RETURNED are reversal codes; ORDER_UPDATE and "
          "PARTNER_NOT_ACTIVE modification codes.", _ck_reason_not_allowed,
          "Amount `0` with `ORDER_UPDATE`", templates=_ORDER_LEVEL),
    Check("customer-status-on-reversal", E, "", "CustomerStatus on a reversal",
          "Do not include CustomerStatus for reversals (Amount 0).",
          _ck_customer_status_on_reversal, "Amount `0` with CustomerStatus `NEW`",
          templates=_ORDER_LEVEL),
    # -- items
    Check("item-incomplete", E, "MALFORMED", "Item without Quantity or Amount",
          "A Sku{i} without Quantity{i} (or Amount{i} in modification files).",
          _ck_item_incomplete, "`Sku2` `80114455`, `Quantity2` empty", templates=_ITEMS),
    Check("item-sku-missing", E, "NO_ITEM", "Item without Sku",
          "Item values without their Sku{i}; an item-level conversion row without any Sku "
          "(NO_ITEM; no code is predicted for modifications).", _ck_item_sku_missing,
          "`Quantity1` `1`, `Sku1` empty", templates=_ITEMS),
    # -- repeated actions
    Check("duplicate-action", W, "", "Same action twice in the file",
          "The same ActionId, or the same Oid + ActionTrackerId, on several lines: each is a "
          "separate modification and the last one wins.", _ck_duplicate_action,
          "`O9999941,16027` on lines 4 and 8", templates=_MODS),
    Check("duplicate-order", W, "CONV_DUPLICATE", "Same order twice in the file",
          "A repeated OrderId for the same event type in an order-level or chained conversion "
          "file (flagged on the repeats).", _ck_duplicate_order,
          "`SU-20250204-0005` for event type `45678` twice", templates=_CONV_ORDER),
    Check("too-many-modifications", E, "MAX_MODIFICATIONS_REACHED",
          "More than 1,000 modifications of one action",
          "impact.com allows 1,000 modifications per action; lines past the 1,000th are flagged.",
          _ck_too_many_modifications, "1,001 lines for one ActionId", templates=_MODS),
    Check("mobile-action-id-prefix", W, "ACTION_NOT_FOUND", "Mobile ActionId without M",
          "Mobile action IDs start with M (checked when the file holds mobile IDs).",
          _ck_mobile_prefix, "`1000.4636.2044` among `M…` IDs",
          templates=frozenset({Template.MOBILE})),
    # -- conversions
    Check("order-id-missing", E, "OID_MISSING", "OrderId missing", "OrderId is required.",
          _ck_order_id_missing, "empty OrderId", templates=_CONV),
    Check("required-value-missing", E, "", "Required conversion value missing",
          "CampaignId (CAMPAIGN_NOT_FOUND), ActionTrackerId and EventTypeCode "
          "(ACTIONTRACKER_NOT_FOUND) or EventDate (MALFORMED) empty.", _ck_required_value,
          "empty CampaignId", templates=_CONV),
    Check("event-date-not-iso", E, "MALFORMED", "EventDate not ISO 8601",
          "EventDate must be ISO 8601, e.g. 2025-02-03T10:15:07-05:00.", _ck_event_date_not_iso,
          "`02/02/2025 16:40`", templates=_CONV),
    Check("event-date-no-offset", W, "", "EventDate without a time zone",
          "An ISO date or date-time without an offset is read in the account's time zone.",
          _ck_event_date_no_offset, "`2025-02-03T10:15:07`", templates=_CONV),
    Check("event-date-in-future", E, "", "EventDate in the future",
          "After the end of --today in every time zone.", _ck_event_date_future,
          "`2030-01-01T00:00:00Z`", templates=_CONV),
    Check("event-date-too-old", E, "", "EventDate too old",
          "File conversions older than 88 days are not processed (398 days when attributed by "
          "MediaId).", _ck_event_date_too_old, "EventDate 120 days ago", templates=_CONV),
    Check("attribution-key-missing", E, "ACTION_REF_NOT_FOUND", "No attribution key",
          "A conversion needs at least one of ClickId, CustomerId, CustomProfileId, "
          "CustomClickId, PromoCode, MediaId, UniqueUrl, CallerId or a device ID.",
          _ck_attribution, "ClickId, CustomerId and PromoCode empty", templates=_CONV),
    Check("chained-customer-id-case", E, "ACTION_REF_NOT_FOUND",
          "Chained CustomerId differs in case",
          "Chained actions are linked only by an identical CustomerId.",
          _ck_chained_customer_case, "`R930QWER5` then `r930qwer5`",
          templates=frozenset({Template.CHAINED_CONVERSION})),
    # -- against an Actions export (--actions)
    Check("action-not-found", E, "ACTION_NOT_FOUND", "No such action",
          "The Actions export has no action with this ActionId or Oid + ActionTrackerId as "
          "written (the advice names the action a spoiled ID stands for, which --fix writes).",
          _ck_action_not_found, "Oid `12346` where the action has `00012346`", _ACT, _MODS),
    Check("already-reversed", E, "ALREADY_REVERSED", "Action already reversed",
          "The action's state is REVERSED (not checked for reset files).", _ck_already_reversed,
          "state `REVERSED`", _ACT, _MODS),
    Check("already-locked", E, "ALREADY_LOCKED", "Action locked",
          "The locking date has passed as of --today, or the action is APPROVED/LOCKED "
          "(ALREADY_APPROVED when it was approved before its locking date).",
          _ck_already_locked, "locking date 2025-01-31, --today 2025-02-20", _ACT, _MODS),
    Check("no-change", E, "NO_CHANGE", "Amount equals the current one",
          "The new total equals the action's current amount: nothing would change.",
          _ck_no_change, "`129.95` for an action of `129.95`", _ACT, _ORDER_LEVEL),
    Check("zero-amount-reversal", E, "NO_CHANGE", "Amount 0 on a zero-amount action",
          "Sending 0 to an action whose amount is already 0 counts as a modification, not a "
          "reversal.", _ck_zero_amount_reversal, "`0` for an action of `0.00`", _ACT, _ORDER_LEVEL),
    Check("newest-action", W, "", "Several actions share the Oid",
          "The Oid + ActionTrackerId path changes the newest of them; give the ActionId for an "
          "older one.", _ck_newest_action, "two actions with Oid `T1` and tracker `16027`",
          _ACT, _MODS),
)  # fmt: skip

BY_SLUG: Final = {c.slug: c for c in CHECKS}
assert len(BY_SLUG) == len(CHECKS), "duplicate check slug"


# ------------------------------------------------------------------------------- running


def _empty_findings() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "SourceLine": pd.Series([], dtype=np.int64),
            **{c: pd.Series([], dtype=object) for c in FINDING_COLUMNS[1:]},
        }
    )


def _run(ctx: _Ctx, checks: Iterable[Check]) -> tuple[pd.DataFrame, pd.DataFrame]:
    return _finish(_collect(ctx, checks))


def _collect(ctx: _Ctx, checks: Iterable[Check]) -> list[pd.DataFrame]:
    frames: list[pd.DataFrame] = []
    for chk in checks:
        if chk.scope is not Scope.FILE and chk.templates and ctx.template not in chk.templates:
            continue
        if chk.scope is Scope.ACTIONS and ctx.opts.actions is None:
            continue
        for frame in chk.fn(ctx):
            if frame is None or frame.empty:
                continue
            frame = frame.assign(Finding=chk.slug, Severity=str(chk.severity))
            predicted = frame["PredictedError"]
            frame["PredictedError"] = predicted.where(predicted.notna(), chk.predicted_error)
            frames.append(frame)
    return frames


def _finish(frames: list[pd.DataFrame]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """All findings, sorted by line, column and finding (so the order in which checks ran
    does not matter), and the fixable codes per record."""
    if not frames:
        empty = _empty_findings()
        return empty, pd.DataFrame({"pos": pd.Series([], dtype=np.int64), "code": []})
    allf = pd.concat(frames, ignore_index=True)
    allf["SourceLine"] = allf["SourceLine"].astype(np.int64)
    allf = allf.sort_values(["SourceLine", "Column", "Finding"], kind="stable").reset_index(
        drop=True
    )
    fixable = allf[(allf["_pos"] >= 0) & (allf["_fix"] != "")]
    fix_codes = pd.DataFrame(
        {"pos": fixable["_pos"].to_numpy(dtype=np.int64), "code": fixable["_fix"].to_numpy()}
    ).drop_duplicates()
    findings = allf[list(FINDING_COLUMNS)].copy()
    for col in FINDING_COLUMNS[1:]:
        # Each distinct value becomes text once; a missing one, one by one (None: "").
        values = findings[col].to_numpy(dtype=object)
        na = np.asarray(pd.isna(values), dtype=bool)
        codes, uniques = pd.factorize(values)
        out = np.array([str(u) for u in uniques] + [""], dtype=object)[codes]
        out[na] = ["" if v is None else str(v) for v in values[na]]
        findings[col] = pd.Series(out, index=findings.index, dtype=object)
    return findings, fix_codes


def _resolve_today(opts: CheckOptions) -> date:
    if opts.today is not None:
        return opts.today
    return clock().date()


def check_table(table: Table, schema: SentSchema, opts: CheckOptions) -> CheckResult:
    """Every check over a table whose template is known."""
    today = _resolve_today(opts)
    ctx = _Ctx(table, schema, opts, today)
    if len(table.frame) < 10_000:
        findings, fix_codes = _run(ctx, CHECKS)
        return CheckResult(table, schema, schema.template, findings, fix_codes, today, opts.fix)
    # The checks on action keys (same action twice, the 1,000 cap) are the costliest and need
    # nothing from the others: they run on the second core with a context of their own, while
    # this thread runs the rest. Arrow's kernels run outside the GIL.
    keyed = [c for c in CHECKS if c.slug in _ACTION_KEY_CHECKS]
    rest = [c for c in CHECKS if c.slug not in _ACTION_KEY_CHECKS]
    worker = _Ctx(table, schema, opts, today)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="reconciler-check") as pool:
        theirs = pool.submit(_collect, worker, keyed)
        frames = _collect(ctx, rest)
        frames.extend(theirs.result())
    findings, fix_codes = _finish(frames)
    return CheckResult(table, schema, schema.template, findings, fix_codes, today, opts.fix)


_ACTION_KEY_CHECKS = frozenset({"duplicate-action", "too-many-modifications"})


def check(table: Table, opts: CheckOptions | None = None) -> CheckResult:
    """Recognise the template and run every check; a file whose template cannot be recognised
    gets file-level findings (no header, unknown template) instead of an exception."""
    opts = opts or CheckOptions()
    try:
        schema: SentSchema | None = detect_template(table)
    except ShapeError as exc:
        schema = None
        shape_error: ShapeError | None = exc
    else:
        shape_error = None
    if schema is not None:
        return check_table(table, schema, opts)
    today = _resolve_today(opts)
    ctx = _Ctx(table, None, opts, today)
    ctx._cache["shape_error"] = shape_error.message if shape_error else ""
    findings, fix_codes = _run(ctx, (c for c in CHECKS if c.scope is Scope.FILE))
    return CheckResult(table, None, Template.UNKNOWN, findings, fix_codes, today, opts.fix)


def fix_table(
    result: CheckResult,
    options: RemediateOptions | None = None,
    catalogue: Catalogue | None = None,
) -> FixResult:
    """All records, with the fixable findings corrected by ``remediate.remediate``.

    The predicted codes of the fixable findings become a records frame as the classify stage
    would make it (Outcome rejected, Resolution fix_manually, ErrorCodes ``A;B``), so exactly
    the resubmission feature's fix rules apply. Records the rules cannot fix safely stay as
    they were; the values of every other record are kept exactly.
    """
    table = result.table
    n = table.records
    options = options or RemediateOptions()
    if options.today is None:
        options = RemediateOptions(
            reason_map=options.reason_map,
            reason=options.reason,
            timezone=options.timezone,
            action_tracker_id=options.action_tracker_id,
            actions=options.actions,
            today=result.today,
        )
    codes = np.full(n, "", dtype=object)
    if len(result.fix_codes) and result.schema is not None:
        grouped = result.fix_codes.groupby("pos")["code"].agg(lambda c: ";".join(sorted(set(c))))
        codes[grouped.index.to_numpy(dtype=np.int64)] = grouped.to_numpy()
    fed = codes != ""
    records = pd.DataFrame(
        {
            "Outcome": np.where(fed, str(Outcome.REJECTED), str(Outcome.ACCEPTED)),
            "Resolution": np.where(fed, str(Resolution.FIX_MANUALLY), str(Resolution.NONE)),
            "ErrorCodes": codes,
            "Advice": np.full(n, "", dtype=object),
        }
    )
    frame = table.frame.copy()
    if not fed.any() or result.schema is None:
        changes = pd.DataFrame({c: [] for c in CHANGE_COLUMNS})
        return FixResult(frame, table.header, changes, (), 0)
    rem = remediate(table, result.schema, records, catalogue or load_catalogue(), options)
    if len(rem.corrected):
        frame.loc[rem.corrected.index, :] = rem.corrected
    return FixResult(frame, table.header, rem.changes, rem.warnings, len(rem.corrected))


# ------------------------------------------------------------------------------- docs


def checks_table() -> list[str]:
    """The Markdown table of every finding (docs/checks.md and the README carry it)."""
    lines = [
        "| Finding | Severity | Predicted code | Scope | Templates | Example |",
        "|---|---|---|---|---|---|",
    ]
    for c in CHECKS:
        templates = (
            "all"
            if c.templates == _ALL or c.scope is Scope.FILE
            else ", ".join(sorted(str(t) for t in c.templates))
        )
        code = f"`{c.predicted_error}`" if c.predicted_error else "—"
        example = c.example.replace("|", "\\|")
        lines.append(
            f"| `{c.slug}` | {c.severity} | {code} | {c.scope} | {templates} | {example} |"
        )
    return lines


def describe_checks() -> str:
    """docs/checks.md, generated from the registry (a test keeps the file in sync)."""
    lines = [
        "# `reconciler check`: findings",
        "",
        "<!-- Generated by reconciler.preflight.describe_checks(); do not edit by hand. -->",
        "",
        "`reconciler check FILE` reports one row per finding in `check.csv` / `check.json`:",
        "`SourceLine` (the physical line of the record; the header line or 0 for the file),",
        "`Column`, `Value`, `Finding` (the slug below), `Severity`, `PredictedError` (the code",
        "impact.com would give, when one is known) and `Advice`. `error` means the record would",
        "be rejected or applied other than intended; `warning` that it might be. The exit code",
        "is 1 when there is an error finding.",
        "",
        *checks_table(),
        "",
        "## Findings",
        "",
    ]
    for c in CHECKS:
        lines += [f"### `{c.slug}`: {c.title}", "", c.description, ""]
    lines += ["## Judgement calls", ""]
    doc = __doc__ or ""
    notes = doc.split("Judgement calls (they are also listed in docs/checks.md):", 1)[-1]
    for para in notes.strip().split("\n* "):
        text = " ".join(part.strip() for part in para.lstrip("* ").splitlines())
        lines.append(f"- {text}")
    return "\n".join(lines) + "\n"
