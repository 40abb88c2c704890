"""Corrected resubmission: fix what can be fixed safely, hand the rest to a person.

Owns: applying each code's fix rule (named in ``catalogue.toml``) to the records that carry it,
deciding which records are ``auto_fixed``, the 1,000-modifications cap, and the list of changed
cells. A record is resubmitted only when EVERY code on it has a fix rule and every rule produced
an unambiguous correction; otherwise it stays ``fix_manually`` with advice naming the cell. Pure:
the sent frame is never mutated; corrected rows are a new frame.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from .actions import ActionsIndex, is_locked, newest
from .catalogue import Catalogue
from .detect import SentSchema
from .fixes import Fix, fix_amount, fix_date, fix_integer, fix_reason, spoiled_id_problem
from .model import Outcome, Resolution, Table
from .normalize import id_key
from .templates import MAX_MODIFICATIONS_PER_ACTION, MODIFICATION_TEMPLATES, STANDARD_REASONS
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
    corrected: pd.DataFrame  # auto_fixed sent rows, corrected, original labels, sent order
    changes: pd.DataFrame  # one row per changed cell
    warnings: tuple[str, ...]
    capped: int  # records refused by the 1,000-modifications cap
    formula_cells: int  # formula-like values kept exact in the resubmission


@dataclass(slots=True)
class _RuleOutcome:
    """Per record position: whether the rule fixed it, the new cells, the problem, the cells to
    look at."""

    ok: dict[int, bool] = field(default_factory=dict)
    cells: dict[int, dict[str, tuple[str, str]]] = field(default_factory=dict)  # label -> (after, rule)
    problems: dict[int, list[str]] = field(default_factory=dict)
    look_at: dict[int, list[str]] = field(default_factory=dict)

    def fixed(self, pos: int, label: str, fix: Fix) -> None:
        self.cells.setdefault(pos, {})[label] = (fix.value, fix.rule)
        self.look_at.setdefault(pos, []).append(label)

    def problem(self, pos: int, label: str | None, text: str) -> None:
        self.problems.setdefault(pos, []).append(text)
        if label is not None:
            self.look_at.setdefault(pos, []).append(label)


def _map_unique(values: pd.Series, fn: Callable[[str], Fix]) -> list[Fix]:
    memo = {v: fn(str(v)) for v in pd.unique(values)}
    return [memo[v] for v in values]


def _rule_reason(
    sent: pd.DataFrame, schema: SentSchema, rows: np.ndarray, opts: RemediateOptions
) -> _RuleOutcome:
    out = _RuleOutcome()
    label = schema.column("reason")
    if label is None:
        for pos in rows:
            out.problem(int(pos), None, "the file has no Reason column; add one")
            out.ok[int(pos)] = False
        return out

    def one(raw: str) -> Fix:
        if raw in opts.reason_map:
            return Fix(True, opts.reason_map[raw], "reason-map")
        if raw.strip() in opts.reason_map:
            return Fix(True, opts.reason_map[raw.strip()], "reason-map")
        fix = fix_reason(raw)
        if not fix.ok and opts.reason:
            return Fix(True, opts.reason, "reason-option", fix.problem)
        return fix

    values = sent[label].iloc[rows]
    for pos, raw, fix in zip(rows, values, _map_unique(values, one), strict=True):
        p = int(pos)
        if fix.ok and fix.value != raw:
            out.fixed(p, label, fix)
            out.ok[p] = True
        else:
            out.problem(p, label, fix.problem or f"Reason {raw!r} was refused; correct it")
            out.ok[p] = False
    return out


def _rule_amount_date(
    sent: pd.DataFrame, schema: SentSchema, rows: np.ndarray, opts: RemediateOptions
) -> _RuleOutcome:
    out = _RuleOutcome()
    checks: list[tuple[str, Callable[[str], Fix]]] = []
    for name in ("amount",):
        if schema.column(name):
            checks.append((str(schema.column(name)), fix_amount))
    for lab in schema.item_columns("item_amount"):
        checks.append((lab, fix_amount))
    if schema.column("event_date"):
        tz = opts.timezone
        checks.append((str(schema.column("event_date")), lambda v: fix_date(v, tz)))
    for name in ("action_tracker_id", "campaign_id"):
        if schema.column(name):
            checks.append((str(schema.column(name)), fix_integer))
    for lab in schema.item_columns("quantity"):
        checks.append((lab, fix_integer))

    fixed_any = np.zeros(len(rows), dtype=bool)
    refused = np.zeros(len(rows), dtype=bool)
    for label, fn in checks:
        values = sent[label].iloc[rows]

        def guarded(v: str, fn: Callable[[str], Fix] = fn) -> Fix:
            return Fix(True, v, "") if not v.strip() else fn(v)

        for i, (raw, fix) in enumerate(zip(values, _map_unique(values, guarded), strict=True)):
            p = int(rows[i])
            if fix.ok and fix.value != raw:
                out.fixed(p, label, fix)
                fixed_any[i] = True
            elif not fix.ok:
                out.problem(p, label, f"{label}: {fix.problem}")
                refused[i] = True
    for i, pos in enumerate(rows):
        p = int(pos)
        out.ok[p] = bool(fixed_any[i] and not refused[i])
        if not fixed_any[i] and not refused[i]:
            out.problem(
                p,
                None,
                "no amount, date or ID of this line looks malformed to reconciler; compare the "
                "line with the template's types",
            )
    return out


def _rule_action_tracker_id(
    sent: pd.DataFrame, schema: SentSchema, rows: np.ndarray, opts: RemediateOptions
) -> _RuleOutcome:
    out = _RuleOutcome()
    label = schema.column("action_tracker_id")
    if label is None:
        for pos in rows:
            out.problem(int(pos), None, "the file has no ActionTrackerId column")
            out.ok[int(pos)] = False
        return out
    values = sent[label].iloc[rows]
    for pos, raw in zip(rows, values, strict=True):
        p = int(pos)
        if opts.action_tracker_id is not None:
            if raw != opts.action_tracker_id:
                out.fixed(p, label, Fix(True, opts.action_tracker_id, "action-tracker-id-option"))
                out.ok[p] = True
            else:
                out.problem(p, label, f"ActionTrackerId is already {raw!r}, the --action-tracker-id given")
                out.ok[p] = False
            continue
        fix = fix_integer(raw)
        if fix.ok and fix.value != raw:
            out.fixed(p, label, fix)
            out.ok[p] = True
        else:
            why = fix.problem or (
                f"ActionTrackerId {raw!r} is a whole number, so it is the wrong event type, not "
                "a spoiled one; set the right one with --action-tracker-id"
            )
            out.problem(p, label, why)
            out.ok[p] = False
    return out


def _rule_identifiers(
    sent: pd.DataFrame, schema: SentSchema, rows: np.ndarray, opts: RemediateOptions
) -> _RuleOutcome:
    out = _RuleOutcome()
    aid = schema.column("action_id")
    oid = schema.column("oid")
    trk = schema.column("action_tracker_id")
    today = opts.today or date.today()
    for pos in rows:
        p = int(pos)
        out.ok[p] = False
        a_raw = str(sent[aid].iat[p]) if aid else ""
        o_raw = str(sent[oid].iat[p]) if oid else ""
        t_raw = str(sent[trk].iat[p]) if trk else ""
        column, label, raw = ("action_id", aid, a_raw) if a_raw.strip() else ("oid", oid, o_raw)
        if label is None or not raw.strip():
            out.problem(p, None, "the line has neither an ActionId nor an Oid")
            continue
        spoiled = spoiled_id_problem(raw)
        if opts.actions is None:
            if spoiled:
                hint = spoiled + "; pass an Actions export with --actions to recover it"
            elif raw.strip().isdigit():
                hint = (
                    f"{label} {raw!r} may have lost leading zeros in a spreadsheet; pass an "
                    "Actions export with --actions so reconciler can check"
                )
            else:
                hint = f"{label} {raw!r} does not look spoiled by a spreadsheet: check it is right"
            out.problem(p, label, hint)
            continue
        tracker = fix_integer(t_raw).value if column == "oid" else ""
        hits = opts.actions.recover(column, raw, tracker)
        distinct = sorted(set(hits[column]))
        if len(distinct) != 1:
            if not distinct:
                out.problem(
                    p,
                    label,
                    (spoiled + "; " if spoiled else "")
                    + f"no action in the export has {label} {raw!r}; if the conversion was "
                    "never tracked, submit it as a new conversion instead",
                )
            else:
                out.problem(
                    p,
                    label,
                    f"{label} {raw!r} could be any of {len(distinct)} actions in the export "
                    f"({', '.join(distinct[:3])}); correct it by hand",
                )
            continue
        action = newest(hits)
        assert action is not None
        if action["state"] == "REVERSED" or is_locked(action, today):
            out.problem(
                p,
                label,
                f"the action {action['action_id']} is {action['state'] or 'locked'}: "
                "resubmitting cannot change it",
            )
            continue
        value = distinct[0]
        if value == raw:
            out.problem(p, label, f"{label} {raw!r} is in the export as is; check the export's date")
            continue
        out.fixed(p, label, Fix(True, value, "id-recovered-from-actions", spoiled))
        if column == "oid" and trk and t_raw != tracker and tracker:
            out.fixed(p, trk, Fix(True, tracker, "integer-restore"))
        out.ok[p] = True
    return out


RULES: dict[str, Callable[[pd.DataFrame, SentSchema, np.ndarray, RemediateOptions], _RuleOutcome]] = {
    "reason": _rule_reason,
    "amount_date": _rule_amount_date,
    "action_tracker_id": _rule_action_tracker_id,
    "identifiers": _rule_identifiers,
}


def _action_keys(sent: pd.DataFrame, schema: SentSchema) -> pd.Series:
    """One key per record naming the action it modifies ("" when it names none)."""
    n = len(sent)
    aid = schema.column("action_id")
    oid = schema.column("oid")
    trk = schema.column("action_tracker_id")
    a = id_key(sent[aid]) if aid else pd.Series([""] * n, dtype=object)
    o = id_key(sent[oid]) if oid else pd.Series([""] * n, dtype=object)
    t = id_key(sent[trk]) if trk else pd.Series([""] * n, dtype=object)
    by_oid = np.where((o.to_numpy() != "") & (t.to_numpy() != ""), "o:" + o + "\x1f" + t, "")
    return pd.Series(np.where(a.to_numpy() != "", "a:" + a, by_oid), dtype=object)


def remediate(
    table: Table,
    schema: SentSchema,
    records: pd.DataFrame,
    catalogue: Catalogue,
    opts: RemediateOptions | None = None,
) -> Remediation:
    opts = opts or RemediateOptions()
    sent = table.frame
    records = records.copy()
    n = len(records)
    candidates = np.flatnonzero(
        (records["Outcome"].to_numpy() == str(Outcome.REJECTED))
        & (records["Resolution"].to_numpy() == str(Resolution.FIX_MANUALLY))
    )
    fix_columns = np.full(n, "", dtype=object)
    codes_of = records["ErrorCodes"].to_numpy()

    # Which rules each candidate needs; a code without a rule blocks the record.
    needs: dict[str, list[int]] = {}
    blocked: dict[int, list[str]] = {}
    for pos in candidates:
        for code in str(codes_of[pos]).split(";"):
            info = catalogue.get(code)
            if info.fix_rule and info.fix_rule in RULES:
                needs.setdefault(info.fix_rule, []).append(int(pos))
            else:
                blocked.setdefault(int(pos), []).append(code)

    outcomes = {
        rule: RULES[rule](sent, schema, np.asarray(rows, dtype=np.int64), opts)
        for rule, rows in sorted(needs.items())
    }
    fixed_cells: dict[int, dict[str, tuple[str, str]]] = {}
    problems: dict[int, list[str]] = {}
    look_at: dict[int, list[str]] = {}
    ok = dict.fromkeys((int(p) for p in candidates), True)
    for pos in blocked:
        ok[pos] = False
    for outcome in outcomes.values():
        for pos, good in outcome.ok.items():
            ok[pos] = ok[pos] and good
        for pos, cells in outcome.cells.items():
            fixed_cells.setdefault(pos, {}).update(cells)
        for pos, texts in outcome.problems.items():
            problems.setdefault(pos, []).extend(texts)
        for pos, labels in outcome.look_at.items():
            look_at.setdefault(pos, []).extend(labels)

    # impact.com's cap: at most 1,000 modifications per action, counting this resubmission.
    capped = 0
    warnings: list[str] = []
    if schema.template in MODIFICATION_TEMPLATES:
        keys = _action_keys(sent, schema)
        per_action = keys[keys != ""].value_counts()
        for pos in [p for p, good in ok.items() if good]:
            key = keys.iat[pos]
            if key and int(per_action.get(key, 0)) + 1 > MAX_MODIFICATIONS_PER_ACTION:
                ok[pos] = False
                capped += 1
                records.iat[pos, records.columns.get_loc("Resolution")] = str(
                    Resolution.CONTACT_SUPPORT
                )
                problems.setdefault(pos, []).insert(
                    0,
                    f"this action already has {per_action[key]} modifications in the file; "
                    f"impact.com allows {MAX_MODIFICATIONS_PER_ACTION} per action: contact "
                    "support instead of resubmitting",
                )
    if capped:
        warnings.append(f"{capped} records were held back by the 1,000-modifications cap")

    resolution = records["Resolution"].to_numpy().copy()
    advice = records["Advice"].to_numpy().copy()
    changes: list[tuple[int, str, str, str, str]] = []
    corrected_rows: list[int] = []
    lines = np.asarray(table.lines)
    for pos in sorted(ok):
        cols = list(dict.fromkeys(look_at.get(pos, [])))
        for code in blocked.get(pos, []):
            info = catalogue.get(code)
            cols.extend(str(schema.column(f)) for f in info.fields if schema.column(f))
        fix_columns[pos] = ";".join(dict.fromkeys(cols))
        if ok[pos] and pos in fixed_cells:
            resolution[pos] = str(Resolution.AUTO_FIXED)
            descr = "; ".join(
                f"{lab} {sent[lab].iat[pos]!r} → {after!r}" for lab, (after, _r) in fixed_cells[pos].items()
            )
            advice[pos] = f"Corrected automatically ({descr}); resubmit with resubmit.csv."
            corrected_rows.append(pos)
            for lab, (after, rule) in fixed_cells[pos].items():
                changes.append((int(lines[pos]), lab, str(sent[lab].iat[pos]), after, rule))
        elif problems.get(pos):
            text = "; ".join(dict.fromkeys(problems[pos]))
            if pos in fixed_cells:
                text += "; reconciler would also correct " + ", ".join(
                    f"{lab} {sent[lab].iat[pos]!r} → {after!r}"
                    for lab, (after, _r) in fixed_cells[pos].items()
                )
            advice[pos] = text[0].upper() + text[1:] + ". " + str(records["Advice"].iat[pos])
    records["Resolution"] = resolution
    records["Advice"] = advice
    records["FixColumns"] = fix_columns

    corrected = sent.iloc[corrected_rows].copy()
    for pos in corrected_rows:
        for lab, (after, _rule) in fixed_cells[pos].items():
            corrected.at[corrected.index[corrected_rows.index(pos)], lab] = after
    formula_cells = 0
    if len(corrected):
        for lab in corrected.columns:
            formula_cells += int(formula_mask(corrected[lab]).sum())
    if formula_cells:
        warnings.append(
            f"{formula_cells} cells of the resubmission start with =, +, - or @ and are not "
            "numbers; they are kept exactly as sent (impact.com needs the data), but a "
            "spreadsheet would run them as formulas: do not open resubmit.csv in one"
        )
    change_frame = pd.DataFrame(changes, columns=list(CHANGE_COLUMNS))
    return Remediation(
        records=records,
        corrected=corrected,
        changes=change_frame,
        warnings=tuple(warnings),
        capped=capped,
        formula_cells=formula_cells,
    )


def reason_is_standard(value: str) -> bool:
    return value in STANDARD_REASONS
