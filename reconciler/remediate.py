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
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from .catalogue import Catalogue
from .classify import RESOLUTION_CODE, RESOLUTION_NAMES, TextColumn, resolution_column
from .detect import SentSchema
from .fixes.cells import (
    IdCell,
    cells_without_value,
    holds_id,
    id_cell_kinds,
    kind_text,
    odd_id_characters,
    odd_id_text,
)
from .fixes.rules import RULES, BoolArray, Cells, ObjArray, join_text
from .fixes.sendable import (
    NAMING_ID_FIELDS,
    amount_columns,
    decimal_comma_is_local,
    identifier_columns,
    integer_columns,
    item_gaps,
    not_plain_amount,
    not_whole,
)
from .fixes.values import fix_amount, fix_integer
from .formulas import formula_mask
from .model import IntArray, Outcome, RemediateOptions, Resolution, Table, text_column
from .normalize import action_codes
from .outputs import CHANGE_COLUMNS
from .rowhash import row_hashes
from .templates import (
    CONVERSION_TEMPLATES,
    MAX_MODIFICATIONS_PER_ACTION,
    MODIFICATION_TEMPLATES,
    Template,
)
from .threads import background


@dataclass(frozen=True, slots=True, eq=False)
class Remediation:
    records: pd.DataFrame  # the classify frame with Resolution/Advice updated and FixColumns
    changes: pd.DataFrame  # one row per changed cell
    notes: tuple[str, ...]  # warnings known once the corrections are worked out
    capped: int  # records refused by the 1,000-modifications cap
    resubmit_records: int  # records in the resubmission
    # The resubmission's rows: auto_fixed sent rows, corrected, original labels, sent order.
    corrected: pd.DataFrame
    formula_cells: int  # formula-like values kept exact in the resubmission
    # With a ledger that can tell (``Prior.already_sent``): the row hash of each resubmitted
    # row, and how many corrected records were held back because the same row was sent (or
    # written) before. None: the hashes are worked out when the run is recorded.
    correction_hashes: np.ndarray | None = None
    already_sent: int = 0

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


@dataclass(frozen=True, slots=True, eq=False)
class Prior:
    """What the ledger's other batches say, for remediation. ``modifications``: per record,
    the modifications of its action they may have applied (for the 1,000 cap).
    ``already_sent``: given the corrected records (positions) and the row hashes of their
    corrected rows, why each must not be resubmitted ("" where it may); None with --again."""

    modifications: np.ndarray | None = None
    already_sent: Callable[[IntArray, np.ndarray], np.ndarray] | None = None


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


NO_ACTION_NAMED = (
    "the record names no action (neither an ActionId nor an Oid with its ActionTrackerId), "
    "so it is not resubmitted: fill in its identifiers from the original file or an Actions "
    "export"
)
NO_ORDER_NAMED = (
    "the conversion names no order (its OrderId holds no identifier), so it is not "
    "resubmitted: fill in its OrderId from the original order"
)


def _holds(sent: pd.DataFrame, schema: SentSchema, rows: IntArray, field: str) -> BoolArray:
    """Per record of ``rows``: its ``field`` cell holds an identifier (not empty, invisible,
    a spreadsheet's error value or a placeholder: ``fixes.cells.id_cell_kinds``)."""
    label = schema.column(field)
    if label is None:
        return np.zeros(len(rows), dtype=bool)
    return holds_id(sent[label].iloc[rows])


def _names_an_action(sent: pd.DataFrame, schema: SentSchema, rows: IntArray) -> BoolArray:
    """Per record of ``rows``: it names what it is about. A modification names the action it
    modifies (its ActionId, or its Oid with its ActionTrackerId); a conversion names its order
    (its OrderId, which impact.com requires)."""
    if not len(rows):
        return np.ones(0, dtype=bool)
    if schema.template in MODIFICATION_TEMPLATES:
        return _holds(sent, schema, rows, "action_id") | (
            _holds(sent, schema, rows, "oid") & _holds(sent, schema, rows, "action_tracker_id")
        )
    if schema.template in CONVERSION_TEMPLATES:
        return _holds(sent, schema, rows, "oid")
    return np.ones(len(rows), dtype=bool)


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
    """For the records ``rows`` (the candidates): the action each modifies
    (``normalize.action_codes``) and how many rows of the whole file modify it."""
    labels = {f: schema.column(f) for f in ("action_id", "oid", "action_tracker_id")}
    n = len(sent)
    mine = np.zeros(n, dtype=bool)
    mine[rows] = True
    codes = action_codes(sent, labels, known, among=mine)
    action = np.full(n, -1, dtype=np.int64)
    in_file = np.zeros(n, dtype=np.int64)
    named = codes >= 0
    if named.any():
        counts = np.bincount(codes[named])
        mine = rows[codes[rows] >= 0]
        action[mine] = codes[mine]
        in_file[mine] = counts[codes[mine]]
    return action, in_file


def _start_file_counts(
    table: Table,
    schema: SentSchema,
    records: pd.DataFrame,
    known_keys: Mapping[str, pd.Series] | None = None,
    earlier: np.ndarray | None = None,
) -> Future[_FileCounts] | None:
    """Start counting, on a thread of its own, the file's rows per action of each record
    remediation may correct (for the 1,000-modifications cap); None when the cap cannot bind.
    It runs while the corrections are worked out. ``earlier``: modifications per record in
    other batches (the ledger's)."""
    n = table.records
    # In a file of at most 500 rows, its rows plus their resubmission stay within 1,000
    # (with what earlier batches applied).
    most = int(earlier.max()) if earlier is not None and len(earlier) else 0
    if (
        schema.template not in MODIFICATION_TEMPLATES
        or 2 * n + most <= MAX_MODIFICATIONS_PER_ACTION
    ):
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
    prior: Prior | None = None,
) -> Remediation:
    """``known_keys``: identifier keys of the sent records already computed (``id_key``).
    ``skip``: correct nothing (the results are not final); records keep their verdicts.
    ``prior``: what the ledger's other batches say (the cap counts their modifications; a
    corrected row they sent or wrote already is held back for review).

    Two pieces run on a second thread, joined before this returns: counting the file's rows
    per action for the modifications cap, and building the resubmission's rows."""
    opts = opts or RemediateOptions()
    if skip:
        kept = records.copy()
        kept["FixColumns"] = pd.Series("", index=kept.index, dtype=object)
        empty = pd.DataFrame({c: pd.Series([], dtype=object) for c in CHANGE_COLUMNS})
        return Remediation(kept, empty, (), 0, 0, table.frame.iloc[0:0].copy(), 0)
    earlier = prior.modifications if prior is not None else None
    file_counts = _start_file_counts(table, schema, records, known_keys, earlier)
    return _remediate(table, schema, records, catalogue, opts, file_counts, prior)


@dataclass(slots=True, eq=False)
class _Decision:
    """What is known of each record while remediation decides (arrays over all records; only
    the candidates' entries ever change). ``ok``: every rule it needs can correct it;
    ``problem``: why not, in words; ``look``: (positions, column) a person should look at."""

    ok: BoolArray
    blocked: BoolArray  # a code without a fix rule
    problem: ObjArray
    look: list[tuple[IntArray, str]]

    def refuse(self, rows: IntArray, texts: ObjArray) -> None:
        """Nothing is resubmitted for ``rows``; ``texts`` come first in their problem."""
        self.ok[rows] = False
        self.problem[rows] = join_text(texts, self.problem[rows])


def _remediate(
    table: Table,
    schema: SentSchema,
    records: pd.DataFrame,
    catalogue: Catalogue,
    opts: RemediateOptions,
    capped_keys: Future[_FileCounts] | None,
    prior: Prior | None,
) -> Remediation:
    """The decision, step by step: which rules each candidate needs, what they correct,
    which records cannot be resubmitted whatever the rules say, which corrections conflict,
    the modifications cap, then the records' new resolution and advice."""
    sent = table.frame
    n = len(records)
    cand = candidates(records)
    state = _Decision(
        ok=np.zeros(n, dtype=bool),
        blocked=np.zeros(n, dtype=bool),
        problem=text_column(n, ""),
        look=[],
    )
    rule_rows = _rules_needed(records, cand, catalogue, schema, state)
    cells = _apply_rules(sent, schema, rule_rows, opts, state)
    _refuse_unnamed(table, schema, cand, state, cells)
    order = {lab: i for i, lab in enumerate(sent.columns)}
    all_changes = _changed_cells(cells, order, state)
    changed = np.zeros(n, dtype=bool)
    changed[all_changes["pos"].to_numpy(dtype=np.int64)] = True
    auto = state.ok & changed
    resolution = np.asarray(
        _categorical(records["Resolution"], RESOLUTION_NAMES).codes, dtype=np.int8
    ).copy()
    earlier = prior.modifications if prior is not None else None
    capped = _apply_cap(capped_keys, auto, resolution, state, earlier)
    warnings = [f"{capped} records were held back by the 1,000-modifications cap"] if capped else []
    # With a ledger, the corrected rows are hashed, and those sent before held back, before
    # the advice is written; without one they are built on the second core meanwhile.
    hashes, held, built = None, 0, None
    if prior is not None and prior.already_sent is not None:
        hashes, held, built = _hold_already_sent(sent, all_changes, auto, resolution, state, prior)
    applied = _applied(all_changes, auto)
    auto_pos = np.flatnonzero(auto)
    resubmission: Future[tuple[pd.DataFrame, int]]
    if built is not None:  # nothing was held back: the rows hashed are the resubmission
        resubmission = Future()
        resubmission.set_result(built)
    else:
        resubmission = background("resubmit", _resubmission, sent, auto_pos, applied)
    resolution[auto_pos] = RESOLUTION_CODE[Resolution.AUTO_FIXED]
    advice = _advise(records, cand, auto, all_changes, state)

    out_records = records.copy(deep=False)
    index = out_records.index
    out_records["Resolution"] = pd.Series(resolution_column(resolution), index=index)
    out_records["Advice"] = pd.Series(advice.categorical(), index=index)
    out_records["FixColumns"] = pd.Series(
        _look_columns(n, state.look, order), index=index, dtype=object
    )
    lines = np.asarray(table.lines, dtype=np.int64)
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
    corrected, formula_cells = resubmission.result()
    return Remediation(
        records=out_records,
        changes=change_frame,
        notes=tuple(warnings),
        capped=capped,
        resubmit_records=len(auto_pos),
        corrected=corrected,
        formula_cells=formula_cells,
        correction_hashes=hashes,
        already_sent=held,
    )


def _applied(all_changes: pd.DataFrame, auto: BoolArray) -> pd.DataFrame:
    """The changed cells of the records resubmitted."""
    if not len(all_changes):
        return all_changes.reset_index(drop=True)
    keep = auto[all_changes["pos"].to_numpy(dtype=np.int64)]
    applied: pd.DataFrame = all_changes[keep].reset_index(drop=True)
    return applied


def _hold_already_sent(
    sent: pd.DataFrame,
    all_changes: pd.DataFrame,
    auto: BoolArray,
    resolution: npt.NDArray[np.int8],
    state: _Decision,
    prior: Prior,
) -> tuple[np.ndarray, int, tuple[pd.DataFrame, int] | None]:
    """Hash each corrected row; hold back (for review, with the reason) those the ledger
    says were sent or written for resubmission before. The hashes of the rows kept, how many
    were held, and the resubmission's rows when none was (else they are built again)."""
    auto_pos = np.flatnonzero(auto)
    if not len(auto_pos):
        return np.zeros(0, dtype=np.int64), 0, None
    built = _resubmission(sent, auto_pos, _applied(all_changes, auto))
    hashes = row_hashes(built[0])
    if prior.already_sent is None:
        return hashes, 0, built
    reasons = np.asarray(prior.already_sent(auto_pos, hashes), dtype=object)
    held = reasons != ""
    if not held.any():
        return hashes, 0, built
    rows = auto_pos[held]
    auto[rows] = False
    resolution[rows] = RESOLUTION_CODE[Resolution.REVIEW]
    state.problem[rows] = join_text(reasons[held], state.problem[rows])
    return hashes[~held], int(held.sum()), None


def _rules_needed(
    records: pd.DataFrame,
    cand: IntArray,
    catalogue: Catalogue,
    schema: SentSchema,
    state: _Decision,
) -> dict[str, list[IntArray]]:
    """Which rules each candidate needs; a code without a rule blocks the record (and points
    at the columns its code names)."""
    codesets = np.asarray(records["ErrorCodes"].iloc[cand], dtype=object)
    set_codes, set_uniques = pd.factorize(pd.Series(codesets, dtype=object))
    rule_rows: dict[str, list[IntArray]] = {}
    for k, codeset in enumerate(set_uniques):
        members = cand[set_codes == k]
        for code in str(codeset).split(";"):
            info = catalogue.get(code)
            if info.fix_rule in RULES:
                rule_rows.setdefault(info.fix_rule, []).append(members)
            else:
                state.blocked[members] = True
                for f in info.fields:
                    label = schema.column(f)
                    if label:
                        state.look.append((members, label))
    state.ok[cand] = True
    state.ok &= ~state.blocked
    return rule_rows


def _apply_rules(
    sent: pd.DataFrame,
    schema: SentSchema,
    rule_rows: Mapping[str, list[IntArray]],
    opts: RemediateOptions,
    state: _Decision,
) -> list[Cells]:
    """Run each rule on the records that need it: the cells it would change, and why it
    cannot correct the others."""
    cells: list[Cells] = []
    for rule in sorted(rule_rows):
        rows = np.unique(np.concatenate(rule_rows[rule]))
        result = RULES[rule](sent, schema, rows, opts)
        state.ok[rows] &= result.ok
        state.problem[rows] = join_text(state.problem[rows], result.problem)
        cells.extend(result.cells)
        for label, where in result.flags:
            state.look.append((where, label))
    return cells


def _refuse_unnamed(
    table: Table, schema: SentSchema, cand: IntArray, state: _Decision, cells: list[Cells]
) -> None:
    """Records that cannot be resubmitted whatever a rule corrects, each with the cells named:
    a modification that names no action (no ActionId, nor an Oid with its ActionTrackerId), or
    a conversion without its OrderId, would reach impact.com as a row about nothing; a cell the
    file does not give a value for (a workbook's formula without its value, an error value
    such as #N/A, a merged cell), in any column, would be sent blank or as error text; an
    identifier (any ID column the template sends, each item's Sku) that is a placeholder (NULL,
    N/A, -) or invisible characters, or that holds characters impact.com's IDs never hold
    (fullwidth or Arabic-Indic digits), is not one; an item without its Sku, or with a Sku and
    no Quantity (or Amount), names no item or is incomplete; a whole number or an amount that
    is not one in ASCII digits (``١``, ``1,0``, ``$12``), once the rules have corrected what
    they correct, would be refused. ``check`` reports each of these (``fixes.sendable``)."""
    if not len(cand):
        return
    sent = table.frame
    id_labels = {f: label for f in NAMING_ID_FIELDS if (label := schema.column(f))}
    texts: list[tuple[IntArray, ObjArray, str]] = []  # (rows, why, label), in order of saying
    missing, rows, why = _cells_refused(table, cand)
    if len(rows):
        texts.append((rows, why, ""))
        for unheld, group in missing.groupby("label", sort=False):
            state.look.append((group["pos"].to_numpy(dtype=np.int64), str(unheld)))
    for field, label in identifier_columns(schema):
        values = sent[label].iloc[cand]
        kinds = id_cell_kinds(values)
        odd = kinds != IdCell.HELD
        odd &= kinds != IdCell.EMPTY
        odd &= kinds != IdCell.ERROR  # an error value is a cell without a value (above)
        if odd.any():
            raw = values.to_numpy(dtype=object)[odd]
            why = np.array(
                [
                    f"its {label} cell {kind_text(int(k), str(v))}"
                    for k, v in zip(kinds[odd], raw, strict=True)
                ],
                dtype=object,
            )
            texts.append((cand[odd], why, label))
        foreign = odd_id_characters(values, field)
        if foreign.any():
            raw = values.to_numpy(dtype=object)[foreign]
            why = np.array([odd_id_text(str(v), label) for v in raw], dtype=object)
            texts.append((cand[foreign], why, label))
    texts += _item_gaps(sent, schema, cand)
    texts += _unsendable_numbers(table, schema, cand, cells, state.look)
    anonymous = cand[~_names_an_action(sent, schema, cand)]
    if len(anonymous):
        conversion = schema.template in CONVERSION_TEMPLATES
        text = NO_ORDER_NAMED if conversion else NO_ACTION_NAMED
        fields = ("oid",) if conversion else ("action_id", "oid", "action_tracker_id")
        texts.append((anonymous, text_column(len(anonymous), text), ""))
        for field in fields:
            if field in id_labels:
                state.look.append((anonymous, id_labels[field]))
    # Said in this order, before what the rules say: joined per record once.
    for rows, why, label in reversed(texts):
        if label:
            state.look.append((rows, label))
        state.refuse(*_joined(rows, why))


def _item_gaps(
    sent: pd.DataFrame, schema: SentSchema, cand: IntArray
) -> list[tuple[IntArray, ObjArray, str]]:
    """The candidates with an item naming no Sku, or a Sku without its Quantity (or Amount):
    (rows, why, label) per gap (``fixes.sendable.item_gaps``, as ``check`` finds them)."""
    out: list[tuple[IntArray, ObjArray, str]] = []
    if schema.template not in (Template.ITEM_MODIFICATION, Template.ITEM_CONVERSION):
        return out
    for gap in item_gaps(sent.iloc[cand], schema):
        rows = cand[gap.mask]
        if not len(rows):
            continue
        if gap.kind == "incomplete":
            text = (
                f"item {gap.index} has a Sku but no {gap.word}: an item needs its Sku, Quantity "
                "and Amount (Quantity 0 reverses it); fill it in from the original"
            )
        elif schema.template is Template.ITEM_CONVERSION:
            text = (
                f"the row names no item (its {gap.word} is empty): an item-level conversion "
                "needs the Sku of its item; fill it in from the original"
            )
        else:
            text = (
                f"item {gap.index} has values but no {gap.word}, so it names no item: fill in "
                "the Sku as tracked on the action"
            )
        out.append((rows, text_column(len(rows), text), gap.label))
    return out


def _corrected_values(
    values: pd.Series, cand: IntArray, label: str, cells: list[Cells]
) -> pd.Series:
    """``values`` (the candidates' cells of ``label``) with what the rules correct in them."""
    changes = [c for c in cells if c.label == label and len(c.rows)]
    if not changes:
        return values
    out = values.to_numpy(dtype=object).copy()
    for c in changes:
        out[np.searchsorted(cand, c.rows)] = c.after
    return pd.Series(out, index=values.index, dtype=object)


def _unsendable_numbers(
    table: Table,
    schema: SentSchema,
    cand: IntArray,
    cells: list[Cells],
    looked: list[tuple[IntArray, str]],
) -> list[tuple[IntArray, ObjArray, str]]:
    """The candidates with a whole number or an amount impact.com would refuse, as it stands
    once the rules have corrected what they correct (``fixes.sendable``): (rows, why, label)
    per column. A cell already named (a rule refused it, or the file gives no value for it)
    has its words already."""
    sent = table.frame
    out: list[tuple[IntArray, ObjArray, str]] = []
    comma_ok = decimal_comma_is_local(table.format, table.delimiter)
    columns = [(label, name != "quantity", True) for name, label in integer_columns(schema)]
    columns += [(label, False, False) for label in amount_columns(schema)]
    for label, identifier, whole in columns:
        values = _corrected_values(sent[label].iloc[cand], cand, label, cells)
        bad = (
            not_whole(values, identifier=identifier)
            if whole
            else not_plain_amount(values, decimal_comma_ok=comma_ok)
        )
        named = [rows for rows, seen in looked if seen == label]
        if named and bad.any():
            # Records are positions in the file: one mask over it, read at the candidates.
            seen_here = np.zeros(len(sent), dtype=bool)
            for rows in named:
                seen_here[rows] = True
            bad &= ~seen_here[cand]
        if not bad.any():
            continue
        raw = values.to_numpy(dtype=object)[bad]
        codes, uniques = pd.factorize(pd.Series(raw, dtype=object))
        said = [_number_text(label, str(u), whole) for u in uniques]
        out.append((cand[bad], np.asarray(said, dtype=object)[codes], label))
    return out


def _number_text(label: str, raw: str, whole: bool) -> str:
    """Why the number ``raw`` of ``label`` cannot be sent, and what to write."""
    if whole:
        fix = fix_integer(raw)
        what = f"its {label} {raw!r} is not a whole number in ASCII digits"
        hint = f"write {fix.value}" if fix.ok else "type the whole number in ASCII digits 0-9"
    else:
        fix = fix_amount(raw)
        what = f"its {label} {raw!r} is not a plain amount (ASCII digits, a point, two decimals)"
        hint = (
            f"write {fix.value}"
            if fix.ok
            else "write a plain decimal, 0 or more and at most 999999.99, such as 1299.00"
        )
    return f"{what}, which impact.com would refuse (MALFORMED): {hint}"


def _joined(rows: IntArray, why: ObjArray) -> tuple[IntArray, ObjArray]:
    """One text per record: a record named several times has its texts joined with "; "."""
    if not len(rows) or len(np.unique(rows)) == len(rows):
        return rows, why
    joined = pd.Series(why, index=rows, dtype=object).groupby(level=0, sort=True).agg("; ".join)
    return joined.index.to_numpy(dtype=np.int64), joined.to_numpy(dtype=object)


def _cells_refused(table: Table, cand: IntArray) -> tuple[pd.DataFrame, IntArray, ObjArray]:
    """The cells of the candidates the file gives no value for (``cells_without_value``), and
    per record concerned its text ("its Amount cell (sheet row 6) is a formula without a saved
    value; ...")."""
    cells = cells_without_value(table, cand)
    if not len(cells):
        return cells, np.zeros(0, dtype=np.int64), np.zeros(0, dtype=object)
    lines = np.asarray(table.lines, dtype=np.int64)
    where = "sheet row" if table.format == "xlsx" else "line"
    pos = cells["pos"].to_numpy(dtype=np.int64)
    each = [
        f"its {lab} cell ({where} {int(line)}) is {what}"
        for lab, line, what in zip(cells["label"], lines[pos], cells["what"], strict=True)
    ]
    per_record = pd.Series(each, index=pos, dtype=object).groupby(level=0, sort=True).agg("; ".join)
    fix = (
        "; the workbook does not give these values, and they would be sent blank or as error "
        "text: open it in Excel, let it calculate, unmerge the cells, fix the errors, save "
        "it, and reconcile again"
        if table.format == "xlsx"
        else "; a spreadsheet wrote its error in place of the value, which would be sent as "
        "it is: fix the formula or type the value, and reconcile again"
    )
    return (
        cells,
        per_record.index.to_numpy(dtype=np.int64),
        np.asarray(per_record.to_numpy(dtype=object) + fix, dtype=object),
    )


def _changed_cells(cells: list[Cells], order: Mapping[str, int], state: _Decision) -> pd.DataFrame:
    """Every changed cell, in file order. Two rules proposing different values for one cell
    (say --action-tracker-id and a restored "16027.0") is a conflict for a person, never a
    pick: the record is refused and the cell's changes dropped."""
    cells = [c for c in cells if len(c.rows)]
    if not cells:
        return pd.DataFrame(
            {"pos": [], "col": [], "Column": [], "Before": [], "After": [], "Rule": []}
        )
    pos = np.concatenate([c.rows for c in cells]).astype(np.int64)
    col = np.concatenate([np.full(len(c.rows), order[c.label], dtype=np.int64) for c in cells])
    sort = np.lexsort((col, pos))  # stable: by record, then column, then rule
    key = pos[sort] * len(order) + col[sort]
    if not (key[1:] == key[:-1]).any():
        # No cell has two changes (the usual case): nothing to drop or weigh.
        def joined(values: list[ObjArray]) -> ObjArray:
            return np.asarray(np.concatenate(values).astype(object)[sort], dtype=object)

        return pd.DataFrame(
            {
                "pos": pos[sort],
                "col": col[sort],
                "Column": joined([text_column(len(c.rows), c.label) for c in cells]),
                "Before": pd.Series(joined([c.before for c in cells]), dtype=object),
                "After": pd.Series(joined([c.after for c in cells]), dtype=object),
                "Rule": pd.Series(joined([c.rule for c in cells]), dtype=object),
            }
        )
    # Object columns: pandas would otherwise turn each into Arrow strings and back.
    parts = [
        pd.DataFrame(
            {
                "pos": c.rows,
                "col": np.full(len(c.rows), order[c.label], dtype=np.int64),
                "Column": text_column(len(c.rows), c.label),
                "Before": pd.Series(c.before, dtype=object),
                "After": pd.Series(c.after, dtype=object),
                "Rule": pd.Series(c.rule, dtype=object),
            }
        )
        for c in cells
    ]
    changes = pd.concat(parts, ignore_index=True).sort_values(["pos", "col"], kind="stable")
    changes = changes.drop_duplicates(["pos", "col", "After"])
    clash = changes.duplicated(["pos", "col"], keep=False).to_numpy(dtype=bool)
    if clash.any():
        for key, group in changes[clash].groupby(["pos", "Column"], sort=True):
            cell: tuple[Any, Any] = key  # type: ignore[assignment]
            p = int(cell[0])
            options = " or ".join(repr(str(v)) for v in group["After"])
            state.refuse(
                np.array([p], dtype=np.int64),
                np.array([f"two fixes disagree on {cell[1]}: {options}"], dtype=object),
            )
        changes = changes[~clash]
    return changes


def _apply_cap(
    capped_keys: Future[_FileCounts] | None,
    auto: BoolArray,
    resolution: npt.NDArray[np.int8],
    state: _Decision,
    earlier: np.ndarray | None = None,
) -> int:
    """impact.com's cap: at most 1,000 modifications per action, counting this resubmission
    and (``earlier``, per record) what other batches the ledger knows may have applied.
    Records over it are taken out of ``auto`` and left to support; how many."""
    if capped_keys is None or not auto.any():
        return 0
    action, in_file = capped_keys.result()
    before = earlier if earlier is not None else np.zeros(len(auto), dtype=np.int64)
    # Per action: its rows in the file plus its rows in this resubmission.
    resent = np.zeros(len(auto), dtype=np.int64)
    auto_pos = np.flatnonzero(auto)
    named = auto_pos[action[auto_pos] >= 0]
    if len(named):
        again, _ = pd.factorize(action[named])
        resent[named] = np.bincount(again)[again]
    over = named[in_file[named] + before[named] + resent[named] > MAX_MODIFICATIONS_PER_ACTION]
    if not len(over):
        return 0
    auto[over] = False
    resolution[over] = RESOLUTION_CODE[Resolution.CONTACT_SUPPORT]
    held = np.array(
        [
            f"this action has {in_file[p]} modifications in the file"
            + (f", {before[p]} in earlier batches (the ledger's)," if before[p] else "")
            + f" and {resent[p]} would be resent; impact.com allows "
            f"{MAX_MODIFICATIONS_PER_ACTION} per action: contact support instead of "
            "resubmitting"
            for p in over
        ],
        dtype=object,
    )
    state.problem[over] = join_text(held, state.problem[over])
    return len(over)


def _advise(
    records: pd.DataFrame,
    cand: IntArray,
    auto: BoolArray,
    all_changes: pd.DataFrame,
    state: _Decision,
) -> TextColumn:
    """The records' advice: what was corrected for the resubmitted ones; for the others, why
    not, and what reconciler would also correct. Each distinct text is written once: records
    share a few advice texts and, very often, their problem."""
    n = len(records)
    advice = TextColumn(n, _categorical(records["Advice"]))
    changed = _describe_changes(all_changes)
    problem = state.problem
    # Every flag concerns candidates only: work among them, not a million records.
    said = problem[cand] != ""
    manual = cand[(state.ok[cand] | state.blocked[cand] | said) & ~auto[cand]]
    with_problem = manual[problem[manual] != ""]
    if len(with_problem):
        text = problem[with_problem]
        extra = changed.of(with_problem)
        also = np.flatnonzero(extra >= 0)
        if len(also):
            text = text.copy()
            text[also] = (
                text[also] + "; reconciler would also correct " + changed.texts[extra[also]]
            )
        # Per distinct (problem, advice) pair: "Problem. Advice".
        said_ids, said_texts = pd.factorize(np.asarray(text, dtype=object))
        width = len(advice.texts)
        pair = said_ids * width + advice.codes[with_problem]
        pair_ids, pairs = pd.factorize(pair)
        advice.set(
            with_problem,
            pair_ids,
            _sentences(
                np.asarray(said_texts, dtype=object)[pairs // width].tolist(),
                np.asarray(advice.texts, dtype=object)[pairs % width].tolist(),
            ),
        )
    auto_pos = np.flatnonzero(auto)
    if len(auto_pos):
        ids, described = pd.factorize(changed.of(auto_pos))
        advice.set(
            auto_pos,
            ids,
            [
                "Corrected automatically ("
                + (str(changed.texts[int(d)]) if d >= 0 else "")
                + "); resubmit with resubmit.csv."
                for d in described
            ],
        )
    return advice


def _sentences(texts: list[str], after: list[str]) -> list[str]:
    """``text`` as a sentence (its first letter a capital), then ``after``, per pair."""
    return [f"{t[0].upper()}{t[1:]}. {a}" for t, a in zip(texts, after, strict=True)]


@dataclass(frozen=True, slots=True, eq=False)
class _Described:
    """Per record with changed cells (``pos``, sorted): its description, ``texts[code]``."""

    pos: IntArray
    code: IntArray
    texts: ObjArray

    def of(self, rows: IntArray) -> IntArray:
        """Per record of ``rows``: the code of its description, -1 when nothing changed."""
        if not len(self.pos):
            return np.full(len(rows), -1, dtype=np.int64)
        at = np.minimum(np.searchsorted(self.pos, rows), len(self.pos) - 1)
        return np.where(self.pos[at] == rows, self.code[at], -1)


def _describe_changes(changes: pd.DataFrame) -> _Described:
    """Per record position: "Reason 'item returned' → 'ITEM_RETURNED'; …". Each distinct
    change (column, before, after) is described once."""
    if changes.empty:
        empty = np.zeros(0, dtype=np.int64)
        return _Described(empty, empty, np.zeros(0, dtype=object))
    pos = changes["pos"].to_numpy(dtype=np.int64)
    keys = [changes[k].to_numpy(dtype=object) for k in ("Column", "Before", "After")]
    ids = np.zeros(len(changes), dtype=np.int64)
    for values in keys:
        codes, uniques = pd.factorize(values, use_na_sentinel=False)
        ids = np.asarray(pd.factorize(ids * len(uniques) + codes)[0], dtype=np.int64)
    first = np.unique(ids, return_index=True)[1]
    columns = [values[first] for values in keys]
    texts = np.array([f"{c} {b!r} → {a!r}" for c, b, a in zip(*columns, strict=True)], dtype=object)
    if np.all(pos[1:] > pos[:-1]):
        return _Described(pos, ids, texts)
    # A record with several changes: its changes' texts joined in order, once per distinct
    # run of changes (most records have one change, and the runs repeat).
    order = np.argsort(pos, kind="stable")
    pos, ids = pos[order], ids[order]
    starts = np.flatnonzero(np.concatenate(([True], pos[1:] != pos[:-1])))
    ends = np.append(starts[1:], len(pos))
    records = pos[starts]
    per_record = texts[ids[starts]]
    several = np.flatnonzero(ends - starts > 1)
    if len(several):
        by_run: dict[tuple[int, ...], str] = {}
        id_list = ids.tolist()
        joined = []
        for a, b in zip(starts[several].tolist(), ends[several].tolist(), strict=True):
            run = tuple(id_list[a:b])
            text = by_run.get(run)
            if text is None:
                text = "; ".join(str(texts[i]) for i in run)
                by_run[run] = text
            joined.append(text)
        per_record[several] = joined
    codes, uniques = pd.factorize(per_record)
    return _Described(
        records.astype(np.int64),
        np.asarray(codes, dtype=np.int64),
        np.asarray(uniques, dtype=object),
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


def _look_columns(n: int, parts: list[tuple[IntArray, str]], order: Mapping[str, int]) -> ObjArray:
    """``;``-joined column labels a person should look at, in file order, per record."""
    out = text_column(n, "")
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
            "label": np.concatenate([text_column(len(p), lab) for p, lab in parts]),
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
