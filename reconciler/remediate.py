"""Corrected resubmission: fix what can be fixed safely, hand the rest to a person.

Owns: applying each code's fix rule (named in ``catalogue.toml``) to the records that carry it,
deciding which records are ``auto_fixed``, the 1,000-modifications cap, and the list of changed
cells. A record is resubmitted only when EVERY code on it has a fix rule and every rule produced
an unambiguous correction; otherwise it stays ``fix_manually`` with advice naming the cell. Pure:
the sent frame is never mutated; corrected rows are a new frame.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
import pandas as pd

from .actions import ActionsIndex, is_locked, newest
from .catalogue import Catalogue
from .classify import RESOLUTION_CODE, RESOLUTION_NAMES, TextColumn, resolution_column
from .detect import SentSchema, unreadable_cells
from .fixes import (
    SPREADSHEET_DIGITS,
    Fix,
    fix_amount,
    fix_date,
    fix_integer,
    fix_reason,
    spoiled_id_problem,
)
from .model import IntArray, Outcome, Resolution, Table
from .normalize import arrow_strings, id_key_arrow
from .templates import MAX_MODIFICATIONS_PER_ACTION, MODIFICATION_TEMPLATES
from .threads import background
from .writers import formula_mask

CHANGE_COLUMNS: tuple[str, ...] = ("SourceLine", "Column", "Before", "After", "Rule")


@dataclass(frozen=True, slots=True)
class RemediateOptions:
    reason_map: Mapping[str, str] = field(default_factory=dict)
    reason: str | None = None
    timezone: ZoneInfo | None = None
    action_tracker_id: str | None = None
    actions: ActionsIndex | None = None
    today: date | None = None


@dataclass(frozen=True, slots=True, eq=False)
class Remediation:
    records: pd.DataFrame  # the classify frame with Resolution/Advice updated and FixColumns
    changes: pd.DataFrame  # one row per changed cell
    notes: tuple[str, ...]  # warnings known once the corrections are worked out
    capped: int  # records refused by the 1,000-modifications cap
    resubmit_records: int  # records in the resubmission
    # The resubmission's rows (auto_fixed sent rows, corrected, original labels, sent order)
    # and how many of its cells look like formulas, built on a thread of their own: only
    # resubmit.csv and the summary need them. Read them through the properties.
    resubmission: Future[tuple[pd.DataFrame, int]]

    @property
    def corrected(self) -> pd.DataFrame:
        return self.resubmission.result()[0]

    @property
    def formula_cells(self) -> int:
        """Formula-like values kept exact in the resubmission."""
        return self.resubmission.result()[1]

    @property
    def warnings(self) -> tuple[str, ...]:
        if not self.formula_cells:
            return self.notes
        return (
            *self.notes,
            f"{self.formula_cells} cells of the resubmission start with =, +, - or @ and are "
            "not numbers; they are kept exactly as sent (impact.com needs the data), but a "
            "spreadsheet would run them as formulas: do not open resubmit.csv in one",
        )


def _done(value: tuple[pd.DataFrame, int]) -> Future[tuple[pd.DataFrame, int]]:
    future: Future[tuple[pd.DataFrame, int]] = Future()
    future.set_result(value)
    return future


def _resubmission(
    sent: pd.DataFrame, auto_pos: IntArray, applied: pd.DataFrame
) -> tuple[pd.DataFrame, int]:
    """The corrected rows to resubmit, and how many of their cells look like formulas."""
    corrected = sent.iloc[auto_pos]  # a frame of its own (copy-on-write)
    if len(applied):
        where = np.searchsorted(auto_pos, applied["pos"].to_numpy(dtype=np.int64))
        for col_label, group in applied.groupby("Column", sort=False):
            column = corrected[str(col_label)].to_numpy(dtype=object).copy()
            column[where[group.index.to_numpy()]] = group["After"].to_numpy(dtype=object)
            corrected[str(col_label)] = column
    formula_cells = 0
    for lab in corrected.columns:
        formula_cells += int(formula_mask(corrected[lab]).sum()) if len(corrected) else 0
    return corrected, formula_cells


BoolArray = npt.NDArray[np.bool_]
ObjArray = npt.NDArray[np.object_]


@dataclass(slots=True, eq=False)
class _Cells:
    """New values one rule gives one column, for the record positions it changed."""

    label: str
    rows: IntArray
    before: ObjArray
    after: ObjArray
    rule: ObjArray


@dataclass(slots=True, eq=False)
class _RuleOutcome:
    """What a rule made of the records it ran on (arrays aligned with ``rows``)."""

    rows: IntArray
    ok: BoolArray
    problem: ObjArray  # "" when the rule had nothing to say
    cells: list[_Cells] = field(default_factory=list)
    flags: list[tuple[str, IntArray]] = field(default_factory=list)  # cells to look at


def _values(sent: pd.DataFrame, label: str, rows: IntArray) -> ObjArray:
    return np.asarray(sent[label].iloc[rows].to_numpy(dtype=object), dtype=object)


def _apply(
    values: ObjArray, fn: Callable[[str], Fix]
) -> tuple[BoolArray, ObjArray, ObjArray, ObjArray]:
    """``fn`` over each distinct value once: (ok, value, rule, problem) per row."""
    if len(values) == 0:
        empty = np.array([], dtype=object)
        return np.array([], dtype=bool), empty, empty, empty
    codes, uniques = pd.factorize(pd.Series(values, dtype=object))
    fixes = [fn(str(u)) for u in uniques]
    ok = np.array([f.ok for f in fixes], dtype=bool)[codes]
    value = np.array([f.value for f in fixes], dtype=object)[codes]
    rule = np.array([f.rule for f in fixes], dtype=object)[codes]
    problem = np.array([f.problem for f in fixes], dtype=object)[codes]
    return ok, value, rule, problem


def _join(left: ObjArray, right: ObjArray, sep: str = "; ") -> ObjArray:
    """Element-wise join of two text arrays, skipping empty sides."""
    both = (left != "") & (right != "")
    out = np.where(left == "", right, left)
    if both.any():
        out = out.copy()
        out[both] = left[both] + sep + right[both]
    return np.asarray(out, dtype=object)


def _missing_column(rows: IntArray, text: str) -> _RuleOutcome:
    return _RuleOutcome(
        rows=rows,
        ok=np.zeros(len(rows), dtype=bool),
        problem=np.full(len(rows), text, dtype=object),
    )


def _rule_reason(
    sent: pd.DataFrame, schema: SentSchema, rows: IntArray, opts: RemediateOptions
) -> _RuleOutcome:
    label = schema.column("reason")
    if label is None:
        return _missing_column(rows, "the file has no Reason column; add one")

    def one(raw: str) -> Fix:
        if raw in opts.reason_map:
            return Fix(True, opts.reason_map[raw], "reason-map")
        if raw.strip() in opts.reason_map:
            return Fix(True, opts.reason_map[raw.strip()], "reason-map")
        fix = fix_reason(raw)
        if not fix.ok and opts.reason:
            return Fix(True, opts.reason, "reason-option", fix.problem)
        return fix

    raw = _values(sent, label, rows)
    ok, value, rule, problem = _apply(raw, one)
    changed = ok & (value != raw)
    said = np.where(changed, "", problem).astype(object)
    silent = np.flatnonzero(~changed & (problem == ""))
    if len(silent):
        said[silent] = "Reason " + _reprs(raw[silent]) + " was refused; correct it"
    out = _RuleOutcome(rows, changed, said)
    out.cells.append(_Cells(label, rows[changed], raw[changed], value[changed], rule[changed]))
    out.flags.append((label, rows))
    return out


def _reprs(values: ObjArray) -> ObjArray:
    return np.array([repr(str(v)) for v in values], dtype=object)


def _rule_amount_date(
    sent: pd.DataFrame, schema: SentSchema, rows: IntArray, opts: RemediateOptions
) -> _RuleOutcome:
    checks: list[tuple[str, Callable[[str], Fix]]] = []
    # Amounts are judged with the record's currency: "value\x1fcurrency" keys the memo.
    currency_label = schema.column("currency")
    currency = (
        _values(sent, currency_label, rows)
        if currency_label
        else np.full(len(rows), "", dtype=object)
    )

    def amount(pair: str) -> Fix:
        value, _, cur = pair.partition("\x1f")
        return fix_amount(value, cur)

    amount_labels = set()
    if schema.column("amount"):
        amount_labels.add(str(schema.column("amount")))
    amount_labels.update(schema.item_columns("item_amount"))
    for lab in [str(schema.column("amount"))] if schema.column("amount") else []:
        checks.append((lab, amount))
    for lab in schema.item_columns("item_amount"):
        checks.append((lab, amount))
    if schema.column("event_date"):
        tz = opts.timezone
        checks.append((str(schema.column("event_date")), lambda v: fix_date(v, tz)))
    for name in ("action_tracker_id", "campaign_id"):
        if schema.column(name):
            checks.append((str(schema.column(name)), fix_integer))
    for lab in schema.item_columns("quantity"):
        checks.append((lab, fix_integer))

    out = _RuleOutcome(rows, np.zeros(len(rows), dtype=bool), np.full(len(rows), "", dtype=object))
    fixed_any = np.zeros(len(rows), dtype=bool)
    refused_any = np.zeros(len(rows), dtype=bool)
    for label, fn in checks:
        raw = _values(sent, label, rows)
        keyed = raw + "\x1f" + currency if label in amount_labels else raw

        def guarded(v: str, fn: Callable[[str], Fix] = fn) -> Fix:
            cell = v.partition("\x1f")[0]
            return Fix(True, cell, "") if not cell.strip() else fn(v)

        ok, value, rule, problem = _apply(keyed, guarded)
        if label in amount_labels:
            # A refused amount reports its own text; keep the cell's value as the "value".
            value = np.where(ok, value, raw).astype(object)
        changed = ok & (value != raw)
        refused = ~ok
        fixed_any |= changed
        refused_any |= refused
        if changed.any():
            out.cells.append(
                _Cells(label, rows[changed], raw[changed], value[changed], rule[changed])
            )
        if refused.any():
            text = np.full(len(rows), "", dtype=object)
            text[refused] = label + ": " + problem[refused]
            out.problem = _join(out.problem, text)
        flagged = changed | refused
        if flagged.any():
            out.flags.append((label, rows[flagged]))
    out.ok = fixed_any & ~refused_any
    nothing = ~fixed_any & ~refused_any
    out.problem[nothing] = (
        "no amount, date or ID of this line looks malformed to reconciler; compare the line "
        "with the template's types"
    )
    return out


def _rule_action_tracker_id(
    sent: pd.DataFrame, schema: SentSchema, rows: IntArray, opts: RemediateOptions
) -> _RuleOutcome:
    label = schema.column("action_tracker_id")
    if label is None:
        return _missing_column(rows, "the file has no ActionTrackerId column")
    raw = _values(sent, label, rows)
    if opts.action_tracker_id is not None:
        wanted = opts.action_tracker_id
        changed = raw != wanted
        value = np.full(len(rows), wanted, dtype=object)
        rule = np.full(len(rows), "action-tracker-id-option", dtype=object)
        problem = np.where(
            changed, "", f"ActionTrackerId is already {wanted!r}, the --action-tracker-id given"
        ).astype(object)
    else:
        ok, value, rule, fix_problem = _apply(raw, fix_integer)
        changed = ok & (value != raw)
        wrong = (
            "ActionTrackerId " + _reprs(raw) + " is a whole number, so it is the wrong event "
            "type, not a spoiled one; set the right one with --action-tracker-id"
        )
        problem = np.where(changed, "", np.where(fix_problem != "", fix_problem, wrong)).astype(
            object
        )
    out = _RuleOutcome(rows, np.asarray(changed, dtype=bool), problem)
    out.cells.append(_Cells(label, rows[changed], raw[changed], value[changed], rule[changed]))
    out.flags.append((label, rows))
    return out


def _rule_identifiers(
    sent: pd.DataFrame, schema: SentSchema, rows: IntArray, opts: RemediateOptions
) -> _RuleOutcome:
    aid = schema.column("action_id")
    oid = schema.column("oid")
    trk = schema.column("action_tracker_id")
    n = len(rows)
    a = _values(sent, aid, rows) if aid else np.full(n, "", dtype=object)
    o = _values(sent, oid, rows) if oid else np.full(n, "", dtype=object)
    t = _values(sent, trk, rows) if trk else np.full(n, "", dtype=object)
    use_a = ~_blank(a)
    raw = np.where(use_a, a, o).astype(object)
    labels = np.where(use_a, aid or "", oid or "").astype(object)
    out = _RuleOutcome(rows, np.zeros(n, dtype=bool), np.full(n, "", dtype=object))
    for label in {str(x) for x in labels if x}:
        out.flags.append((label, rows[labels == label]))
    if opts.actions is None:
        out.problem = _no_export_hints(labels, raw)
        return out
    today = opts.today or date.today()
    after = np.full(n, "", dtype=object)
    extra: list[tuple[int, str, str, str]] = []  # (row index, label, before, after)
    for i in range(n):
        label, value, tracker_raw = str(labels[i]), str(raw[i]), str(t[i])
        if not label or not value.strip():
            out.problem[i] = "the line has neither an ActionId nor an Oid"
            continue
        column = "action_id" if use_a[i] else "oid"
        spoiled = spoiled_id_problem(value)
        tracker = fix_integer(tracker_raw).value if column == "oid" else ""
        hits = opts.actions.recover(column, value, tracker)
        distinct = sorted(set(hits[column]))
        if len(distinct) != 1:
            if not distinct:
                out.problem[i] = (spoiled + "; " if spoiled else "") + (
                    f"no action in the export has {label} {value!r}; if the conversion was never "
                    "tracked, submit it as a new conversion instead"
                )
            else:
                out.problem[i] = (
                    f"{label} {value!r} could be any of {len(distinct)} actions in the export "
                    f"({', '.join(distinct[:3])}); correct it by hand"
                )
            continue
        action = newest(hits)
        assert action is not None
        if action["state"] == "REVERSED" or is_locked(action, today):
            out.problem[i] = (
                f"the action {action['action_id']} is {action['state'] or 'locked'}: "
                "resubmitting cannot change it"
            )
            continue
        if distinct[0] == value:
            out.problem[i] = f"{label} {value!r} is in the export as is; check the export's date"
            continue
        after[i] = distinct[0]
        out.ok[i] = True
        if column == "oid" and trk and tracker and tracker_raw != tracker:
            extra.append((i, trk, tracker_raw, tracker))
    for label in {str(x) for x in labels if x}:
        sel = out.ok & (labels == label)
        out.cells.append(
            _Cells(
                label,
                rows[sel],
                raw[sel],
                after[sel],
                np.full(int(sel.sum()), "id-recovered-from-actions", dtype=object),
            )
        )
    if extra and trk:
        idx = np.array([e[0] for e in extra], dtype=np.int64)
        out.cells.append(
            _Cells(
                trk,
                rows[idx],
                np.array([e[2] for e in extra], dtype=object),
                np.array([e[3] for e in extra], dtype=object),
                np.full(len(extra), "integer-restore", dtype=object),
            )
        )
    return out


def _blank(values: ObjArray) -> BoolArray:
    """Which values are empty or whitespace only (Arrow kernels: no per-value Python)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = pa.array(values, type=pa.large_string(), from_pandas=True)
    blank = pc.equal(pc.utf8_trim_whitespace(arr), "")
    return np.asarray(blank.to_numpy(zero_copy_only=False), dtype=bool)


def _no_export_hints(labels: ObjArray, raw: ObjArray) -> ObjArray:
    """``_no_export_hint`` per record. Plain IDs (digits, letters, dots, dashes), nearly every
    ID of a large file, get their text from vectorised concatenation: ``repr`` of such a value
    is the value in single quotes. The rest take one call per distinct value."""
    import pyarrow as pa
    import pyarrow.compute as pc

    def matches(pattern: str) -> BoolArray:
        hit = pc.match_substring_regex(arr, pattern).to_numpy(zero_copy_only=False)
        return np.asarray(hit, dtype=bool)

    arr = pa.array(raw, type=pa.large_string(), from_pandas=True)
    out = np.full(len(raw), "the line has neither an ActionId nor an Oid", dtype=object)
    named = (labels != "") & ~_blank(raw)
    plain = named & matches(r"^[0-9A-Za-z._-]+$") & ~matches(r"[eE]|^[0-9]+\.0{1,2}$")
    # Up to 15 digits a spreadsheet keeps whole (it may drop leading zeros); longer runs of
    # digits go to the per-value hint, which knows a spreadsheet's rounding (fixes.looks_rounded).
    digits = plain & matches(r"^[0-9]{1,15}$")
    quoted = labels + " '" + raw + "'"
    out[digits] = quoted[digits] + (
        " may have lost leading zeros in a spreadsheet; pass an Actions export with --actions "
        "so reconciler can check"
    )
    intact = plain & ~digits & ~matches(r"^[0-9]{16,}$")
    out[intact] = quoted[intact] + " does not look spoiled by a spreadsheet: check it is right"
    other = np.flatnonzero(named & ~(digits | intact))
    if len(other):
        codes, uniques = pd.factorize(pd.Series(labels[other] + "\x1f" + raw[other], dtype=object))
        hints = [_no_export_hint(*str(u).split("\x1f", 1)) for u in uniques]
        out[other] = np.array(hints, dtype=object)[codes]
    return out


def _no_export_hint(label: str, raw: str) -> str:
    spoiled = spoiled_id_problem(raw)
    if spoiled:
        return spoiled + "; pass an Actions export with --actions to recover it"
    if raw.strip().isascii() and raw.strip().isdigit() and len(raw.strip()) <= SPREADSHEET_DIGITS:
        return (
            f"{label} {raw!r} may have lost leading zeros in a spreadsheet; pass an Actions "
            "export with --actions so reconciler can check"
        )
    return f"{label} {raw!r} does not look spoiled by a spreadsheet: check it is right"


Rule = Callable[[pd.DataFrame, SentSchema, IntArray, RemediateOptions], _RuleOutcome]
RULES: dict[str, Rule] = {
    "reason": _rule_reason,
    "amount_date": _rule_amount_date,
    "action_tracker_id": _rule_action_tracker_id,
    "identifiers": _rule_identifiers,
}


NO_ACTION_NAMED = (
    "the record names no action (neither an ActionId nor an Oid with its ActionTrackerId), "
    "so it is not resubmitted: fill in its identifiers from the original file or an Actions "
    "export"
)


def _names_an_action(sent: pd.DataFrame, schema: SentSchema, rows: IntArray) -> BoolArray:
    """Per record of ``rows``: it names the action it modifies (always true for a conversion,
    which creates its action; an empty OrderId there has codes of its own)."""
    if schema.template not in MODIFICATION_TEMPLATES or not len(rows):
        return np.ones(len(rows), dtype=bool)

    def filled(field: str) -> BoolArray:
        label = schema.column(field)
        if label is None:
            return np.zeros(len(rows), dtype=bool)
        values = sent[label].iloc[rows].astype("str").str.strip()
        return (values != "").to_numpy(dtype=bool)

    return filled("action_id") | (filled("oid") & filled("action_tracker_id"))


def candidates(records: pd.DataFrame) -> IntArray:
    """Positions of the records remediation may correct: rejected, to be fixed by hand."""
    resolution = np.asarray(
        _categorical(records["Resolution"], RESOLUTION_NAMES).codes, dtype=np.int8
    )
    return np.flatnonzero(
        (records["Outcome"] == str(Outcome.REJECTED)).to_numpy(dtype=bool)
        & (resolution == RESOLUTION_CODE[Resolution.FIX_MANUALLY])
    )


# Per record: a number naming the action it modifies (-1: none, or not a candidate), and how
# many rows of the file modify that action.
_FileCounts = tuple[IntArray, IntArray]


def _file_counts(
    sent: pd.DataFrame,
    schema: SentSchema,
    known: Mapping[str, pd.Series] | None,
    rows: IntArray,
) -> _FileCounts:
    """For the records ``rows`` (the candidates): the action each modifies, by ActionId, else
    by the pair Oid + ActionTrackerId (compared as ``normalize.id_key``), and how many rows of
    the whole file modify it. Only the candidates' actions are looked up, so a million keys
    are probed against a small set instead of all hashed (``known``: keys the matcher
    already computed)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(sent)
    action = np.full(n, -1, dtype=np.int64)
    in_file = np.zeros(n, dtype=np.int64)
    mine = np.zeros(n, dtype=bool)
    mine[rows] = True

    def keys(field: str) -> pa.Array | None:
        label = schema.column(field)
        if label is None:
            return None
        if known and field in known:
            return arrow_strings(known[field]).combine_chunks()
        return id_key_arrow(arrow_strings(sent[label]))

    def filled(values: pa.Array | None) -> BoolArray:
        if values is None:
            return np.zeros(n, dtype=bool)
        return np.asarray(pc.not_equal(values, "").to_numpy(zero_copy_only=False), dtype=bool)

    def lookup(values: pa.Array, where: BoolArray, wanted: pa.Array) -> IntArray:
        """Position in ``wanted`` of each value of ``values`` under ``where`` (-1: absent)."""
        found = pc.index_in(values.filter(pa.array(where)), value_set=wanted)
        return np.asarray(pc.fill_null(found, -1).to_numpy(zero_copy_only=False), np.int64)

    a = keys("action_id")
    by_action = filled(a)
    offset = 0
    if a is not None and (mine & by_action).any():
        wanted = pc.unique(a.filter(pa.array(mine & by_action)))
        at = lookup(a, by_action, wanted)
        counts = np.bincount(at[at >= 0], minlength=len(wanted))
        rows_a = np.flatnonzero(by_action)
        picked = mine[rows_a]
        action[rows_a[picked]] = at[picked]
        in_file[rows_a[picked]] = counts[at[picked]]
        offset = len(wanted)
    o, t = keys("oid"), keys("action_tracker_id")
    by_pair = ~by_action & filled(o) & filled(t)
    if o is not None and t is not None and (mine & by_pair).any():
        # Rows whose Oid is a candidate's, then their pairs with the ActionTrackerId.
        oid_at = lookup(o, by_pair, pc.unique(o.filter(pa.array(mine & by_pair))))
        rows_o = np.flatnonzero(by_pair)[oid_at >= 0]
        tracker = pc.dictionary_encode(t.take(pa.array(rows_o)))
        t_at = np.asarray(tracker.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
        pair, _ = pd.factorize(oid_at[oid_at >= 0] * len(tracker.dictionary) + t_at)
        pair = np.asarray(pair, dtype=np.int64)
        counts = np.bincount(pair)
        picked = mine[rows_o]
        action[rows_o[picked]] = offset + pair[picked]  # pairs after the ActionIds
        in_file[rows_o[picked]] = counts[pair[picked]]
    return action, in_file


def start_file_counts(
    table: Table,
    schema: SentSchema,
    records: pd.DataFrame,
    known_keys: Mapping[str, pd.Series] | None = None,
) -> Future[_FileCounts] | None:
    """Start counting, on a thread of its own, the file's rows per action of each record
    remediation may correct (for the 1,000-modifications cap); None when the cap cannot bind.
    ``records`` are the classified records; the pipeline starts this as soon as they exist,
    and it runs while the corrections are worked out."""
    n = table.records
    # In a file of at most 500 rows, its rows plus their resubmission stay within 1,000.
    if schema.template not in MODIFICATION_TEMPLATES or 2 * n <= MAX_MODIFICATIONS_PER_ACTION:
        return None
    return background("cap", _file_counts, table.frame, schema, known_keys, candidates(records))


def remediate(
    table: Table,
    schema: SentSchema,
    records: pd.DataFrame,
    catalogue: Catalogue,
    opts: RemediateOptions | None = None,
    known_keys: Mapping[str, pd.Series] | None = None,
    *,
    skip: bool = False,
    file_counts: Future[_FileCounts] | None = None,
) -> Remediation:
    """``known_keys``: identifier keys of the sent records already computed (``id_key``).
    ``skip``: correct nothing (the results are not final); records keep their verdicts.
    ``file_counts``: from ``start_file_counts`` on these records, when the caller started
    them early."""
    opts = opts or RemediateOptions()
    if skip:
        kept = records.copy()
        kept["FixColumns"] = pd.Series("", index=kept.index, dtype=object)
        empty = pd.DataFrame({c: pd.Series([], dtype=object) for c in CHANGE_COLUMNS})
        return Remediation(kept, empty, (), 0, 0, _done((table.frame.iloc[0:0].copy(), 0)))
    if file_counts is None:
        file_counts = start_file_counts(table, schema, records, known_keys)
    return _remediate(table, schema, records, catalogue, opts, file_counts)


def _remediate(
    table: Table,
    schema: SentSchema,
    records: pd.DataFrame,
    catalogue: Catalogue,
    opts: RemediateOptions,
    capped_keys: Future[_FileCounts] | None,
) -> Remediation:
    sent = table.frame
    n = len(records)
    resolution = np.asarray(
        _categorical(records["Resolution"], RESOLUTION_NAMES).codes, dtype=np.int8
    ).copy()
    advice = TextColumn(n, _categorical(records["Advice"]))
    cand = candidates(records)
    codesets = np.asarray(records["ErrorCodes"].iloc[cand], dtype=object)

    # Which rules each candidate needs; a code without a rule blocks the record.
    set_codes, set_uniques = pd.factorize(pd.Series(codesets, dtype=object))
    rule_rows: dict[str, list[IntArray]] = {}
    blocked = np.zeros(n, dtype=bool)
    look_parts: list[tuple[IntArray, str]] = []
    for k, codeset in enumerate(set_uniques):
        members = cand[set_codes == k]
        for code in str(codeset).split(";"):
            info = catalogue.get(code)
            if info.fix_rule in RULES:
                rule_rows.setdefault(info.fix_rule, []).append(members)
            else:
                blocked[members] = True
                for f in info.fields:
                    label = schema.column(f)
                    if label:
                        look_parts.append((members, label))

    ok = np.zeros(n, dtype=bool)
    ok[cand] = True
    ok &= ~blocked
    problem = np.full(n, "", dtype=object)
    cells: list[_Cells] = []
    for rule in sorted(rule_rows):
        rows = np.unique(np.concatenate(rule_rows[rule]))
        result = RULES[rule](sent, schema, rows, opts)
        ok[rows] &= result.ok
        problem[rows] = _join(problem[rows], result.problem)
        cells.extend(result.cells)
        for label, where in result.flags:
            look_parts.append((where, label))

    # A modification that names no action (no ActionId, nor an Oid with its ActionTrackerId)
    # is never resubmitted, whatever else a rule could correct on it: it would reach
    # impact.com as a row about nothing.
    anonymous = cand[~_names_an_action(sent, schema, cand)]
    # An identifier a workbook does not hold (a formula without its value, #N/A, a merged
    # cell): the record cannot be resubmitted as it is either.
    unreadable = unreadable_cells(table)
    if unreadable:
        id_labels = {
            label: field
            for field in ("action_id", "oid", "action_tracker_id")
            if (label := schema.column(field))
        }
        for p in cand:
            said = [
                f"its {label} cell (sheet row {int(table.lines[int(p)])}) is "
                f"{unreadable[(int(p), label)]}"
                for label in id_labels
                if (int(p), label) in unreadable
            ]
            if said:
                ok[p] = False
                problem[p] = "; ".join(
                    [
                        *said,
                        "the workbook does not give its identifier: open it in Excel, let it "
                        "calculate, unmerge the cells, save it, and reconcile again",
                        *([problem[p]] if problem[p] else []),
                    ]
                )
                for label in id_labels:
                    if (int(p), label) in unreadable:
                        look_parts.append((np.array([p], dtype=np.int64), label))
    if len(anonymous):
        ok[anonymous] = False
        problem[anonymous] = _join(
            np.full(len(anonymous), NO_ACTION_NAMED, dtype=object), problem[anonymous]
        )
        for field in ("action_id", "oid", "action_tracker_id"):
            label = schema.column(field)
            if label:
                look_parts.append((anonymous, label))

    # Changed cells, in file order. Two rules proposing different values for one cell (say
    # --action-tracker-id and a restored "16027.0") is a conflict for a person, never a pick.
    order = {lab: i for i, lab in enumerate(sent.columns)}
    lines = np.asarray(table.lines, dtype=np.int64)
    # Object columns: pandas would otherwise turn each into Arrow strings and back.
    parts = [
        pd.DataFrame(
            {
                "pos": c.rows,
                "col": np.full(len(c.rows), order[c.label], dtype=np.int64),
                "Column": np.full(len(c.rows), c.label, dtype=object),
                "Before": pd.Series(c.before, dtype=object),
                "After": pd.Series(c.after, dtype=object),
                "Rule": pd.Series(c.rule, dtype=object),
            }
        )
        for c in cells
        if len(c.rows)
    ]
    all_changes = (
        pd.concat(parts, ignore_index=True).sort_values(["pos", "col"], kind="stable")
        if parts
        else pd.DataFrame(
            {"pos": [], "col": [], "Column": [], "Before": [], "After": [], "Rule": []}
        )
    )
    if len(all_changes):
        all_changes = all_changes.drop_duplicates(["pos", "col", "After"])
        clash = all_changes.duplicated(["pos", "col"], keep=False).to_numpy(dtype=bool)
        if clash.any():
            clashing = all_changes[clash]
            for key, group in clashing.groupby(["pos", "Column"], sort=True):
                cell: tuple[Any, Any] = key  # type: ignore[assignment]
                p = int(cell[0])
                ok[p] = False
                options = " or ".join(repr(str(v)) for v in group["After"])
                problem[p] = _join(
                    np.array([f"two fixes disagree on {cell[1]}: {options}"], dtype=object),
                    problem[p : p + 1],
                )[0]
            all_changes = all_changes[~clash]
    changed = np.zeros(n, dtype=bool)
    changed[all_changes["pos"].to_numpy(dtype=np.int64)] = True
    auto = ok & changed

    # impact.com's cap: at most 1,000 modifications per action, counting this resubmission.
    capped = 0
    warnings: list[str] = []
    if capped_keys is not None and auto.any():
        action, in_file = capped_keys.result()
        # Per action: its rows in the file plus its rows in this resubmission.
        resent = np.zeros(n, dtype=np.int64)
        auto_pos = np.flatnonzero(auto)
        named = auto_pos[action[auto_pos] >= 0]
        if len(named):
            again, _ = pd.factorize(action[named])
            resent[named] = np.bincount(again)[again]
        over = named[in_file[named] + resent[named] > MAX_MODIFICATIONS_PER_ACTION]
        per_record = in_file
        if len(over):
            capped = len(over)
            auto[over] = False
            resolution[over] = RESOLUTION_CODE[Resolution.CONTACT_SUPPORT]
            held = np.array(
                [
                    f"this action has {per_record[p]} modifications in the file and "
                    f"{resent[p]} would be resent; impact.com allows "
                    f"{MAX_MODIFICATIONS_PER_ACTION} per action: contact support instead of "
                    "resubmitting"
                    for p in over
                ],
                dtype=object,
            )
            problem[over] = _join(held, problem[over])
            warnings.append(f"{capped} records were held back by the 1,000-modifications cap")

    descr = _describe_changes(all_changes)
    is_auto = (
        auto[all_changes["pos"].to_numpy(dtype=np.int64)]
        if len(all_changes)
        else np.array([], bool)
    )
    applied = all_changes[is_auto].reset_index(drop=True)

    fix_text = np.full(n, "", dtype=object)
    if len(descr):
        fix_text[descr.index.to_numpy(dtype=np.int64)] = descr.to_numpy(dtype=object)
    auto_pos = np.flatnonzero(auto)
    resolution[auto_pos] = RESOLUTION_CODE[Resolution.AUTO_FIXED]
    # Every flag above concerns candidates only: work among them, not a million records.
    said = problem[cand] != ""
    manual = cand[(ok[cand] | blocked[cand] | said) & ~auto[cand]]
    with_problem = manual[problem[manual] != ""]
    if len(with_problem):
        text = problem[with_problem]
        extra = fix_text[with_problem]
        also = np.flatnonzero(extra != "")
        if len(also):
            text = text.copy()
            text[also] = text[also] + "; reconciler would also correct " + extra[also]
        advice.put(
            with_problem,
            np.array(
                [
                    t[0].upper() + t[1:] + ". " + str(b)
                    for t, b in zip(text, advice.at(with_problem), strict=True)
                ],
                dtype=object,
            ),
        )
    advice.put(
        auto_pos,
        np.asarray(
            "Corrected automatically (" + fix_text[auto_pos] + "); resubmit with resubmit.csv.",
            dtype=object,
        ),
    )

    fix_columns = _look_columns(n, look_parts, order)
    out_records = records.copy(deep=False)
    index = out_records.index
    out_records["Resolution"] = pd.Series(resolution_column(resolution), index=index)
    out_records["Advice"] = pd.Series(advice.categorical(), index=index)
    out_records["FixColumns"] = pd.Series(fix_columns, index=index, dtype=object)

    # The resubmission's rows are needed only by resubmit.csv and the summary: built on the
    # second core while the outputs start.
    resubmission = background("resubmit", _resubmission, sent, auto_pos, applied)
    change_frame = pd.DataFrame(
        {
            "SourceLine": lines[applied["pos"].to_numpy(dtype=np.int64)] if len(applied) else [],
            "Column": applied["Column"].to_numpy(dtype=object),
            "Before": applied["Before"].to_numpy(dtype=object),
            "After": applied["After"].to_numpy(dtype=object),
            "Rule": applied["Rule"].to_numpy(dtype=object),
        },
        columns=list(CHANGE_COLUMNS),
    )
    return Remediation(
        records=out_records,
        changes=change_frame,
        notes=tuple(warnings),
        capped=capped,
        resubmit_records=len(auto_pos),
        resubmission=resubmission,
    )


def _categorical(values: pd.Series, categories: Sequence[str] | None = None) -> Any:
    """A verdict column as a ``pd.Categorical`` (classify makes them so; other callers may
    not)."""
    if isinstance(values.dtype, pd.CategoricalDtype) and (
        categories is None or list(values.cat.categories) == list(categories)
    ):
        return values.array
    wanted = None if categories is None else pd.Index(list(categories), dtype=object)
    return pd.Categorical(np.asarray(values, dtype=object), categories=wanted)


def _describe_changes(changes: pd.DataFrame) -> pd.Series:
    """Per record position: "Reason 'item returned' → 'ITEM_RETURNED'; …"."""
    if changes.empty:
        return pd.Series([], dtype=object)
    columns = [changes[k].to_numpy(dtype=object) for k in ("Column", "Before", "After")]
    text = pd.Series(
        [f"{c} {b!r} → {a!r}" for c, b, a in zip(*columns, strict=True)],
        index=changes["pos"].to_numpy(dtype=np.int64),
        dtype=object,
    )
    if text.index.is_unique:
        return text
    return text.groupby(level=0, sort=True).agg("; ".join)


def _look_columns(n: int, parts: list[tuple[IntArray, str]], order: Mapping[str, int]) -> ObjArray:
    """``;``-joined column labels a person should look at, in file order, per record."""
    out = np.full(n, "", dtype=object)
    if not parts:
        return out
    # Labels in file order (labels the file lacks last, in the order they came), one bit each;
    # a record's bits say which it names, and each distinct set of bits is joined once.
    seen = dict.fromkeys(label for _, label in parts)
    labels = sorted(seen, key=lambda lab: order.get(lab, 10**6))
    if len(labels) > 62:
        return _look_columns_long(out, parts, order)
    bit = {lab: np.int64(1) << np.int64(i) for i, lab in enumerate(labels)}
    mask = np.zeros(n, dtype=np.int64)
    for rows, label in parts:
        mask[rows] |= bit[label]
    where = np.flatnonzero(mask)
    codes, uniques = pd.factorize(mask[where])
    texts = [";".join(lab for i, lab in enumerate(labels) if int(u) >> i & 1) for u in uniques]
    out[where] = np.array(texts, dtype=object)[codes]
    return out


def _look_columns_long(
    out: ObjArray, parts: list[tuple[IntArray, str]], order: Mapping[str, int]
) -> ObjArray:
    """``_look_columns`` for files with more labels to flag than an integer has bits."""
    long = pd.DataFrame(
        {
            "pos": np.concatenate([p for p, _ in parts]),
            "col": np.concatenate([np.full(len(p), order.get(lab, 10**6)) for p, lab in parts]),
            "label": np.concatenate([np.full(len(p), lab, dtype=object) for p, lab in parts]),
        }
    ).drop_duplicates(["pos", "label"])
    long = long.sort_values(["pos", "col"], kind="stable")
    single = ~long["pos"].duplicated(keep=False)
    out[long.loc[single, "pos"].to_numpy(dtype=np.int64)] = long.loc[single, "label"].to_numpy(
        dtype=object
    )
    multi = long[~single]
    if len(multi):
        joined = multi.groupby("pos", sort=True)["label"].agg(";".join)
        out[joined.index.to_numpy(dtype=np.int64)] = joined.to_numpy(dtype=object)
    return out
