"""The context a check runs in (the table, its schema, the options, cached columns and
actions), and the helpers that turn masks into findings."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from reconciler.detect import SentSchema
from reconciler.fixes import (
    reason_key,
)
from reconciler.fixes.cells import IdCell, cells_without_value, id_cell_kinds
from reconciler.model import Table, text_column
from reconciler.normalize import action_codes, arrow_strings
from reconciler.preflight.base import (
    _ALL,
    _ORDER_LEVEL,
    _ZERO,
    BoolArray,
    CheckOptions,
    IntArray,
    Scope,
    Severity,
)
from reconciler.preflight.reason_codes import _reason_verdict
from reconciler.templates import (
    STANDARD_REASONS,
    Template,
)


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

    def id_kinds(self, label: str) -> npt.NDArray[np.int8]:
        """Per record, what the identifier cell ``label`` holds (``fixes.cells.IdCell``)."""
        key = "idkinds:" + label
        if key not in self._cache:
            self._cache[key] = id_cell_kinds(self.raw(label))
        out: npt.NDArray[np.int8] = self._cache[key]
        return out

    def holds_id(self, label: str | None) -> BoolArray:
        """Per record, the identifier cell ``label`` holds an identifier: not empty, invisible
        characters only, a spreadsheet's error value or a placeholder such as NULL."""
        if label is None:
            return np.zeros(self.n, dtype=bool)
        return np.asarray(self.id_kinds(label) == IdCell.HELD, dtype=bool)

    def field_holds_id(self, name: str) -> BoolArray:
        return self.holds_id(self.label(name))

    def cells_without_value(self) -> pd.DataFrame:
        """The cells the file gives no value for (``fixes.cells.cells_without_value``)."""
        if "unheld" not in self._cache:
            self._cache["unheld"] = cells_without_value(self.table)
        out: pd.DataFrame = self._cache["unheld"]
        return out

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
        """One integer per record naming the action it modifies (-1: none), as the
        modifications cap names it (``normalize.action_codes``)."""
        if "action_codes" not in self._cache:
            fields = ("action_id", "oid", "action_tracker_id")
            labels = {f: self.label(f) for f in fields}
            filled = {f: self.holds_id(label) for f, label in labels.items() if label is not None}
            self._cache["action_codes"] = action_codes(self.frame, labels, filled=filled)
        out: IntArray = self._cache["action_codes"]
        return out

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

    def arr(x: Any) -> pd.Series:
        # Kept as Python text (object): a DataFrame would make each column Arrow text, and the
        # findings are read back as Python text when they are gathered and written.
        if isinstance(x, str) or x is None:
            return pd.Series(text_column(k, "" if x is None else x), dtype=object, copy=False)
        return pd.Series(np.asarray(x, dtype=object), dtype=object, copy=False)

    return pd.DataFrame(
        {
            "_pos": pos,
            "SourceLine": ctx.lines[pos] if k else np.zeros(0, dtype=np.int64),
            "Column": arr(column),
            "Value": arr(value),
            "Advice": arr(advice),
            "PredictedError": text_column(k, None) if predicted is None else arr(predicted),
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


def order_keys(oid: pd.Series, tracker: pd.Series) -> npt.NDArray[np.object_]:
    """Each (Oid, tracker) pair as one text, distinct for distinct pairs: the Oid, U+001F,
    the tracker. An Oid holding U+001F itself (any cell may) would let the Oid ``A\\x1fB`` with
    the tracker ``C`` meet the Oid ``A`` with ``B\\x1fC``: then every Oid's ``\\`` and U+001F
    are escaped first, so the first U+001F of a key always ends its Oid."""
    first = oid.to_numpy(dtype=object)
    if len(first) and pc.any(pc.match_substring(arrow_strings(oid), "\x1f")).as_py():
        first = np.array(
            [v.replace("\\", "\\\\").replace("\x1f", "\\u001f") for v in first], dtype=object
        )
    return np.asarray(first + "\x1f" + tracker.to_numpy(dtype=object), dtype=object)


def order_keys_arrow(oid: pd.Series, tracker: pd.Series) -> pa.Array:
    """``order_keys`` as one Arrow string array, joined by Arrow's kernels (no Python string
    a pair)."""
    first = arrow_strings(oid).combine_chunks()
    second = arrow_strings(tracker).combine_chunks()
    if first.null_count or second.null_count:  # as the object arrays join them
        return pa.array(order_keys(oid, tracker), type=pa.large_string())
    first = pc.cast(first, pa.large_string())
    if len(first) and pc.any(pc.match_substring(first, "\x1f")).as_py():
        first = pc.replace_substring(pc.replace_substring(first, "\\", "\\\\"), "\x1f", "\\u001f")
    separator = pa.scalar("\x1f", pa.large_string())
    return pc.binary_join_element_wise(first, pc.cast(second, pa.large_string()), separator)
