"""The fix rules: each corrects one kind of value in the records that carry a code naming it.

A rule (``RULES``, named by ``fix_rule`` in ``catalogue.toml``) takes the sent frame, the
record positions it runs on and the options, and returns, per record, either the new values
of the cells it corrects or the problem that stops it (a value it cannot correct safely, a
column the file lacks). It never decides a record's fate: ``remediate`` does, from every
rule a record needs. Value-level fixes (one cell's text in, a ``Fix`` out) are in
``values``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from reconciler.actions import ActionsIndex, newest
from reconciler.detect import SentSchema
from reconciler.model import IntArray, RemediateOptions, text_column
from reconciler.normalize import id_key

from .columns import decimal_commas
from .values import (
    ROUNDED_ID,
    SPREADSHEET_DIGITS,
    Fix,
    fix_amount,
    fix_date,
    fix_integer,
    fix_reason,
    may_be_rounded,
    spoiled_id_problem,
)

BoolArray = npt.NDArray[np.bool_]
ObjArray = npt.NDArray[np.object_]


@dataclass(slots=True, eq=False)
class Cells:
    """New values one rule gives one column, for the record positions it changed."""

    label: str
    rows: IntArray
    before: ObjArray
    after: ObjArray
    rule: ObjArray


@dataclass(slots=True, eq=False)
class RuleOutcome:
    """What a rule made of the records it ran on (arrays aligned with ``rows``)."""

    rows: IntArray
    ok: BoolArray
    problem: ObjArray  # "" when the rule had nothing to say
    cells: list[Cells] = field(default_factory=list)
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


def _apply_amounts(
    raw: ObjArray, keyed: ObjArray, fn: Callable[[str], Fix]
) -> tuple[BoolArray, ObjArray, ObjArray, ObjArray]:
    """``_apply`` for an amount column: the amounts written with a decimal comma (what
    ``fix_amount`` makes of them does not depend on the currency) read whole columns at a
    time, the rest by ``fn`` once per distinct value and currency."""
    comma, fixed = decimal_commas(raw)
    if not comma.any():
        return _apply(keyed, fn)
    n = len(raw)
    ok = np.ones(n, dtype=bool)
    value = fixed.copy()
    rule = text_column(n, "amount-plain-decimal")
    problem = np.empty(n, dtype=object)
    at = np.flatnonzero(comma)
    problem[at] = [f"the amount {v!r} is not a plain decimal" for v in raw[at].tolist()]
    rest = np.flatnonzero(~comma)
    if len(rest):
        ok[rest], value[rest], rule[rest], problem[rest] = _apply(keyed[rest], fn)
    return ok, value, rule, problem


def join_text(left: ObjArray, right: ObjArray, sep: str = "; ") -> ObjArray:
    """Element-wise join of two text arrays, skipping empty sides."""
    both = (left != "") & (right != "")
    out = np.where(left == "", right, left)
    if both.any():
        out = out.copy()
        out[both] = left[both] + sep + right[both]
    return np.asarray(out, dtype=object)


def _missing_column(rows: IntArray, text: str) -> RuleOutcome:
    return RuleOutcome(
        rows=rows,
        ok=np.zeros(len(rows), dtype=bool),
        problem=text_column(len(rows), text),
    )


def _rule_reason(
    sent: pd.DataFrame, schema: SentSchema, rows: IntArray, opts: RemediateOptions
) -> RuleOutcome:
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
    out = RuleOutcome(rows, changed, said)
    out.cells.append(Cells(label, rows[changed], raw[changed], value[changed], rule[changed]))
    out.flags.append((label, rows))
    return out


def _reprs(values: ObjArray) -> ObjArray:
    return np.array([repr(str(v)) for v in values], dtype=object)


_SEP = "\x1f"  # between an amount and its currency in the memo's keys


def _rule_amount_date(
    sent: pd.DataFrame, schema: SentSchema, rows: IntArray, opts: RemediateOptions
) -> RuleOutcome:
    checks: list[tuple[str, Callable[[str], Fix]]] = []
    # Amounts are judged with the record's currency: "value\x1fcurrency" keys the memo. A
    # value may hold the separator itself (nothing stops a cell holding any character), so
    # the pair is split at its last one, and a currency never holds one (no currency code
    # does: one that did is unknown either way).
    currency_label = schema.column("currency")
    currency = _values(sent, currency_label, rows) if currency_label else text_column(len(rows), "")
    currency = np.array([c.replace(_SEP, "\ufffd") for c in currency], dtype=object)

    def amount(pair: str) -> Fix:
        value, _, cur = pair.rpartition(_SEP)
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

    out = RuleOutcome(rows, np.zeros(len(rows), dtype=bool), text_column(len(rows), ""))
    fixed_any = np.zeros(len(rows), dtype=bool)
    refused_any = np.zeros(len(rows), dtype=bool)
    for label, fn in checks:
        raw = _values(sent, label, rows)
        paired = label in amount_labels
        keyed = raw + _SEP + currency if paired else raw

        def guarded(v: str, fn: Callable[[str], Fix] = fn, paired: bool = paired) -> Fix:
            cell = v.rpartition(_SEP)[0] if paired else v
            return Fix(True, cell, "") if not cell.strip() else fn(v)

        if paired:
            ok, value, rule, problem = _apply_amounts(raw, keyed, guarded)
        else:
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
                Cells(label, rows[changed], raw[changed], value[changed], rule[changed])
            )
        if refused.any():
            text = text_column(len(rows), "")
            text[refused] = label + ": " + problem[refused]
            out.problem = join_text(out.problem, text)
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
) -> RuleOutcome:
    label = schema.column("action_tracker_id")
    if label is None:
        return _missing_column(rows, "the file has no ActionTrackerId column")
    raw = _values(sent, label, rows)
    if opts.action_tracker_id is not None:
        wanted = opts.action_tracker_id
        changed = raw != wanted
        value = text_column(len(rows), wanted)
        rule = text_column(len(rows), "action-tracker-id-option")
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
    out = RuleOutcome(rows, np.asarray(changed, dtype=bool), problem)
    out.cells.append(Cells(label, rows[changed], raw[changed], value[changed], rule[changed]))
    out.flags.append((label, rows))
    return out


def _rule_identifiers(
    sent: pd.DataFrame, schema: SentSchema, rows: IntArray, opts: RemediateOptions
) -> RuleOutcome:
    aid = schema.column("action_id")
    oid = schema.column("oid")
    trk = schema.column("action_tracker_id")
    n = len(rows)
    a = _values(sent, aid, rows) if aid else text_column(n, "")
    o = _values(sent, oid, rows) if oid else text_column(n, "")
    t = _values(sent, trk, rows) if trk else text_column(n, "")
    use_a = ~_blank(a)
    raw = np.where(use_a, a, o).astype(object)
    labels = np.where(use_a, aid or "", oid or "").astype(object)
    out = RuleOutcome(rows, np.zeros(n, dtype=bool), text_column(n, ""))
    # The labels in use, without a pass of Python over the records.
    present = [lab for lab, used in ((aid, use_a), (oid, ~use_a)) if lab and used.any()]
    for label in present:
        out.flags.append((label, rows[labels == label]))
    if opts.actions is None:
        out.problem = _no_export_hints(labels, raw)
        return out
    actions = opts.actions
    today = opts.today or date.today()
    after = text_column(n, "")
    # Each record's tracker as a whole number (``fix_integer``, once per distinct value) and
    # every record's keys at once: the export answers them together.
    fixed: dict[str, str] = {}
    trackers = np.empty(n, dtype=object)
    for i, (by_action, written) in enumerate(zip(use_a.tolist(), t.tolist(), strict=True)):
        text = str(written)
        if by_action:
            trackers[i] = ""
        elif (got := fixed.get(text)) is not None:
            trackers[i] = got
        else:
            trackers[i] = fixed[text] = fix_integer(text).value
    keys = id_key(pd.Series([str(v).strip() for v in raw], dtype=object))
    tracker_keys = id_key(pd.Series(trackers, dtype=object))
    named = np.array(
        [bool(lab) and bool(str(v).strip()) for lab, v in zip(labels, raw, strict=True)],
        dtype=bool,
    )
    out.problem[~named] = "the line has neither an ActionId nor an Oid"
    tracked = ~use_a & np.array([bool(str(x).strip()) for x in trackers], dtype=bool)
    rec, row = actions.direct_hits(
        use_a & named,
        ~use_a & named,
        pa.array(keys.to_numpy(dtype=object), type=pa.large_string()),
        pa.array(tracker_keys.to_numpy(dtype=object), type=pa.large_string()),
        tracked,
    )
    # A record whose key no action has: a spoiled ID's forms, looked for one by one.
    missed = np.flatnonzero(named & (np.bincount(rec, minlength=n) == 0))
    for i in missed.tolist():
        column = "action_id" if use_a[i] else "oid"
        hits = actions.recover(
            column,
            str(raw[i]),
            str(trackers[i]),
            key=str(keys.iat[i]),
            tracker_key=str(tracker_keys.iat[i]),
        )
        after[i], out.ok[i], out.problem[i] = _judged(
            str(labels[i]), str(raw[i]), sorted(set(hits[column])), newest(hits), actions, today
        )
    _judge_hits(rec, row, use_a, labels, raw, actions, today, after, out)
    extra = [
        (i, trk, str(t[i]), str(trackers[i]))
        for i in np.flatnonzero(out.ok & ~use_a).tolist()
        if trk and trackers[i] and str(t[i]) != trackers[i]
    ]
    for label in present:
        sel = out.ok & (labels == label)
        out.cells.append(
            Cells(
                label,
                rows[sel],
                raw[sel],
                after[sel],
                text_column(int(sel.sum()), "id-recovered-from-actions"),
            )
        )
    if extra and trk:
        idx = np.array([e[0] for e in extra], dtype=np.int64)
        out.cells.append(
            Cells(
                trk,
                rows[idx],
                np.array([e[2] for e in extra], dtype=object),
                np.array([e[3] for e in extra], dtype=object),
                text_column(len(extra), "integer-restore"),
            )
        )
    return out


def _judged(
    label: str,
    value: str,
    distinct: list[str],
    action: pd.Series | None,
    actions: ActionsIndex,
    today: date,
) -> tuple[str, bool, str]:
    """What the export says of one record's ID ``value`` (in ``label``): (the ID to
    resubmit, whether it can be, the problem) from the distinct IDs of its actions and the
    one it changes (``newest``)."""
    if len(distinct) != 1:
        if not distinct:
            spoiled = spoiled_id_problem(value)
            return (
                "",
                False,
                (spoiled + "; " if spoiled else "")
                + (
                    f"no action in the export has {label} {value!r}; if the conversion was never "
                    "tracked, submit it as a new conversion instead"
                ),
            )
        return (
            "",
            False,
            (
                f"{label} {value!r} could be any of {len(distinct)} actions in the export "
                f"({', '.join(distinct[:3])}); correct it by hand"
            ),
        )
    assert action is not None
    if action["state"] == "REVERSED" or actions.is_locked(action, today):
        return (
            "",
            False,
            (
                f"the action {action['action_id']} is {action['state'] or 'locked'}: "
                "resubmitting cannot change it"
            ),
        )
    if distinct[0] == value:
        return "", False, f"{label} {value!r} is in the export as is; check the export's date"
    return distinct[0], True, ""


def _judge_hits(
    rec: IntArray,
    row: IntArray,
    use_a: BoolArray,
    labels: ObjArray,
    raw: ObjArray,
    actions: ActionsIndex,
    today: date,
    after: ObjArray,
    out: RuleOutcome,
) -> None:
    """``_judged`` for every record with actions of its own key (pairs ``rec``, ``row`` by
    record, then row), a whole column at a time: the distinct IDs of each record's actions
    by number, the one it changes (``newest``: the latest EventDate, an undated one after
    every dated one, the last listed among equals) by one sort, and words only for the
    records that have a problem."""
    if not len(rec):
        return
    # The ID of each record's actions, as a number: a record's actions are all named by
    # their ActionId or all by their Oid, so one numbering serves both.
    frame = actions.frame
    by_action = use_a[rec]
    named = np.where(
        by_action,
        frame["action_id"].iloc[row].to_numpy(dtype=object),
        frame["oid"].iloc[row].to_numpy(dtype=object),
    )
    code, uniques = pd.factorize(named, use_na_sentinel=False)
    code = np.asarray(code, dtype=np.int64)
    ids = list(uniques)
    width = len(ids)
    pairs = np.unique(rec * width + code)  # each record's distinct IDs, by record
    p_rec = pairs // width
    count = np.bincount(p_rec, minlength=len(use_a))
    group = np.flatnonzero(np.diff(p_rec, prepend=-1))  # where each record's IDs start
    g_rec, g_count = p_rec[group], count[p_rec[group]]
    several = g_count > 1
    for i, first, size in zip(
        g_rec[several].tolist(), group[several].tolist(), g_count[several].tolist(), strict=True
    ):
        distinct = sorted(str(ids[c]) for c in (pairs[first : first + size] % width).tolist())
        after[i], out.ok[i], out.problem[i] = _judged(
            str(labels[i]), str(raw[i]), distinct, None, actions, today
        )
    # One ID: the action it changes is the last of its rows once sorted by (undated, date,
    # row), as ``newest`` sorts them.
    when = actions.frame["event_date"]
    instant = np.asarray(when.array.asi8, dtype=np.int64)[row]
    undated = np.asarray(when.isna().to_numpy(dtype=bool))[row]
    order = np.lexsort((row, instant, undated, rec))
    last = order[np.append(np.flatnonzero(np.diff(rec[order])), len(order) - 1)]
    one = count[rec[last]] == 1
    who, chosen = rec[last][one], row[last][one]
    value = np.asarray(ids, dtype=object)[code[last][one]]
    state = actions.frame["state"].iloc[chosen].to_numpy(dtype=object)
    locked = actions.locked_now(today)[chosen]
    stopped = (state == "REVERSED") | locked
    for i, r, st in zip(
        who[stopped].tolist(), chosen[stopped].tolist(), state[stopped].tolist(), strict=True
    ):
        out.problem[i] = (
            f"the action {actions.frame['action_id'].iat[r]} is {st or 'locked'}: "
            "resubmitting cannot change it"
        )
    written = np.array([str(v) for v in raw[who].tolist()], dtype=object)
    same = ~stopped & (value == written)
    for i in who[same].tolist():
        out.problem[i] = (
            f"{labels[i]!s} {str(raw[i])!r} is in the export as is; check the export's date"
        )
    good = ~stopped & ~same
    after[who[good]] = value[good]
    out.ok[who[good]] = True


def _blank(values: ObjArray) -> BoolArray:
    """Which values are empty or whitespace only (Arrow kernels: no per-value Python)."""
    arr = pa.array(values, type=pa.large_string(), from_pandas=True)
    blank = pc.equal(pc.utf8_trim_whitespace(arr), "")
    return np.asarray(blank.to_numpy(zero_copy_only=False), dtype=bool)


_LOST_ZEROS_HINT = (
    " may have lost leading zeros in a spreadsheet; pass an Actions export with --actions so "
    "reconciler can check"
)
_SIXTEEN_DIGITS_HINT = (
    " has 16 digits ending in 0: a spreadsheet keeps 15 significant digits, so it may have "
    "rounded the ID (the last digit would be lost); compare it with the original, or pass an "
    "Actions export with --actions so reconciler can check"
)
_INTACT_HINT = " does not look spoiled by a spreadsheet: check it is right"
_RECOVER_HINT = "; pass an Actions export with --actions to recover it"


def _no_export_hints(labels: ObjArray, raw: ObjArray) -> ObjArray:
    """``_no_export_hint`` per record. Plain IDs (digits, letters, dots, dashes), nearly every
    ID of a large file, get their text from Arrow kernels: ``repr`` of such a value is the
    value in single quotes, and a run of ASCII digits is judged by its length and its zeros
    as ``fixes.looks_rounded`` and ``fixes.may_be_rounded`` judge it. The rest take one call
    per distinct value."""

    def np_bool(values: pa.Array | pa.ChunkedArray) -> BoolArray:
        return np.asarray(values.to_numpy(zero_copy_only=False), dtype=bool)

    def np_int(values: pa.Array | pa.ChunkedArray) -> IntArray:
        return np.asarray(values.to_numpy(zero_copy_only=False), dtype=np.int64)

    def text(value: str) -> pa.Scalar:
        return pa.scalar(value, pa.large_string())

    arr = pa.array(raw, type=pa.large_string(), from_pandas=True)
    named = (labels != "") & ~np_bool(pc.equal(pc.utf8_trim_whitespace(arr), ""))
    kind = np.full(len(raw), _HINT_NONE, dtype=np.int8)
    kind[named] = _HINT_OTHER
    # ASCII digits (one byte each): up to 15 a spreadsheet keeps whole, though it may drop
    # leading zeros. Past the 15th significant digit, only zeros (at least two) is what its
    # rounding leaves; 16 significant digits ending in 0 may be it.
    digits = named & np_bool(pc.ascii_is_decimal(arr))
    size = np_int(pc.binary_length(arr))
    significant = pc.utf8_ltrim(arr, "0")
    wide = np_int(pc.binary_length(significant))
    zeros = wide - np_int(pc.binary_length(pc.utf8_rtrim(significant, "0")))
    kind[digits & (size <= SPREADSHEET_DIGITS)] = _HINT_LOST_ZEROS
    long = digits & (size > SPREADSHEET_DIGITS)
    kind[long] = _HINT_INTACT
    kind[long & (wide == SPREADSHEET_DIGITS + 1) & (zeros >= 1)] = _HINT_SIXTEEN
    kind[long & (wide >= SPREADSHEET_DIGITS + 2) & (zeros >= wide - SPREADSHEET_DIGITS)] = (
        _HINT_ROUNDED
    )
    # Letters, digits, dots, dashes and underscores, without an E (scientific notation) and
    # not a number with a spreadsheet's .0.
    plain = np_bool(pc.match_substring_regex(arr, r"^[0-9A-DF-Za-df-z._-]+$"))
    plain &= ~np_bool(pc.match_substring_regex(arr, r"^[0-9]+\.0{1,2}$"))
    kind[named & ~digits & plain] = _HINT_INTACT
    out = text_column(len(raw), "the line has neither an ActionId nor an Oid")
    said = (kind != _HINT_NONE) & (kind != _HINT_OTHER)
    if said.any():
        head = pc.if_else(
            pa.array(kind == _HINT_ROUNDED),
            text("'"),
            pc.binary_join_element_wise(
                pa.array(labels, type=pa.large_string(), from_pandas=True), text(" '"), text("")
            ),
        )
        tail = pc.take(pa.array(_HINT_TAILS, type=pa.large_string()), pa.array(kind))
        joined = pc.binary_join_element_wise(head, arr, tail, text(""))
        out[said] = joined.filter(pa.array(said)).to_numpy(zero_copy_only=False)
    other = np.flatnonzero(kind == _HINT_OTHER)
    if len(other):
        # Each distinct (label, value) pair worded once; the pairs numbered from each side's
        # numbers (a label or value may hold any character a separator could be).
        l_codes, l_uniques = pd.factorize(pd.Series(labels[other], dtype=object))
        r_codes, r_uniques = pd.factorize(pd.Series(raw[other], dtype=object))
        width = max(len(r_uniques), 1)
        codes, pairs = pd.factorize(l_codes.astype(np.int64) * width + r_codes)
        names, values = l_uniques.tolist(), r_uniques.tolist()
        hints = [
            _no_export_hint(str(names[int(p) // width]), str(values[int(p) % width])) for p in pairs
        ]
        out[other] = np.array(hints, dtype=object)[codes]
    return out


# What ``_no_export_hints`` knows to say of a value without a call per value: the kinds, and
# the text after the value's ``repr`` for each.
_HINT_NONE, _HINT_OTHER, _HINT_LOST_ZEROS, _HINT_ROUNDED, _HINT_SIXTEEN, _HINT_INTACT = range(6)
_HINT_TAILS = [
    "",
    "",
    "'" + _LOST_ZEROS_HINT,
    "'" + ROUNDED_ID + _RECOVER_HINT,
    "'" + _SIXTEEN_DIGITS_HINT,
    "'" + _INTACT_HINT,
]


def _no_export_hint(label: str, raw: str) -> str:
    spoiled = spoiled_id_problem(raw)
    if spoiled:
        return spoiled + _RECOVER_HINT
    if raw.strip().isascii() and raw.strip().isdigit() and len(raw.strip()) <= SPREADSHEET_DIGITS:
        return f"{label} {raw!r}{_LOST_ZEROS_HINT}"
    if may_be_rounded(raw):
        return f"{label} {raw!r}{_SIXTEEN_DIGITS_HINT}"
    return f"{label} {raw!r}{_INTACT_HINT}"


Rule = Callable[[pd.DataFrame, SentSchema, IntArray, RemediateOptions], RuleOutcome]
RULES: dict[str, Rule] = {
    "reason": _rule_reason,
    "amount_date": _rule_amount_date,
    "action_tracker_id": _rule_action_tracker_id,
    "identifiers": _rule_identifiers,
}
