"""The summary stage: the figures of a run, from what the stages before it returned.

Owns ``summarise`` (every figure of summary.json, the terminal and the report, as a typed
``model.Summary``), the money at stake, and the words for the results' shape. Pure: reads
and writes nothing, and runs once every other stage is done.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime

import numpy as np
import numpy.typing as npt
import pandas as pd

from . import __version__
from .classify import COMPLETENESS_LABELS, Completeness, SubmissionState
from .confirm import STATUS_CODE, STATUSES, Confirmed
from .detect import SHAPE_TITLES, ItemColumn, ResultSchema, ResultShape, SentSchema
from .fixes import amount_numbers
from .gather import Gathered
from .match import Ties
from .model import (
    CompletenessFigures,
    ConfirmationFigures,
    HistoryFigures,
    IntArray,
    LineBase,
    MoneyFigures,
    Outcome,
    ReconcileOptions,
    Resolution,
    SubmissionFigures,
    Summary,
    Table,
    TrendPoint,
)
from .outputs import FOLLOW_UP, NEEDS_ATTENTION, attention_names, resubmit_names
from .readers import LEGACY_ENCODINGS
from .remediate import Remediation
from .templates import TEMPLATE_TITLES, header_key


def _categories(values: pd.Series) -> tuple[IntArray, list[object]]:
    """Per row the position of its value among the column's distinct values (-1: missing),
    and those values: a column of a million records is worked out per distinct value."""
    cat = values.astype("category").array
    return np.asarray(cat.codes, dtype=np.int64), list(cat.categories)


def _is_in(values: pd.Series, wanted: Iterable[str]) -> npt.NDArray[np.bool_]:
    """``values.isin(wanted)`` as a NumPy mask, worked out per distinct value."""
    codes, names = _categories(values)
    words = {str(w) for w in wanted}
    hit = np.array([str(name) in words for name in names] + [False], dtype=bool)
    return hit[codes]


def _tally(values: pd.Series) -> dict[str, int]:
    """How many rows hold each distinct value (missing values left out), unordered."""
    codes, names = _categories(values)
    counts = np.bincount(codes + 1, minlength=len(names) + 1)[1:]  # missing (-1) left out
    return {str(name): int(n) for name, n in zip(names, counts.tolist(), strict=True) if n}


def _ordered(tally: dict[str, int]) -> dict[str, int]:
    """Most frequent first, then alphabetical."""
    return dict(sorted(tally.items(), key=lambda kv: (-kv[1], kv[0])))


def _counts(values: pd.Series) -> dict[str, int]:
    return _ordered(_tally(values))


def _by_code(codes: pd.Series) -> dict[str, int]:
    counter: Counter[str] = Counter()
    for cell, n in _tally(codes).items():
        if cell == "":
            continue
        for code in cell.split(";"):
            counter[code] += n
    return dict(sorted(counter.items(), key=lambda kv: (-kv[1], kv[0])))


def summarise(
    sent: Table,
    gathered: Gathered,
    sent_schema: SentSchema,
    result_schema: ResultSchema,
    ties: Ties,
    submission: SubmissionState,
    records: pd.DataFrame,
    unmatched: pd.DataFrame,
    remediation: Remediation,
    options: ReconcileOptions,
    foreign: str = "",
    *,
    now: datetime,
    history: HistoryFigures | None = None,
    confirmed: Confirmed | None = None,
    updates_complete: bool = False,
) -> Summary:
    """The figures of a reconcile run, from what its stages returned. ``history``: what the
    ledger knew (this run's point of the trend is added here)."""
    results = gathered.table
    outcome = records["Outcome"]
    resolution = records["Resolution"]
    n = len(records)
    # Counted once per distinct word: the columns are categorical, a million records long.
    by_outcome = _tally(outcome)
    by_resolution = _tally(resolution)
    accepted = by_outcome.get(Outcome.ACCEPTED, 0)
    follow_up = sum(by_resolution.get(r, 0) for r in FOLLOW_UP)
    res = ties.results
    tied = res["s_idx"].to_numpy() >= 0
    spoiled = int((res["note"].to_numpy(dtype=object)[tied] != "").sum()) if len(res) else 0
    warnings: list[str] = []
    if foreign:
        warnings.append(
            f"{foreign}; reconciled anyway (--force): records without a result of their own "
            "are unknown"
        )
    if submission.completeness not in (
        Completeness.COMPLETE,
        Completeness.PRESUMED,
        Completeness.FOREIGN,
    ) or (submission.completeness is Completeness.PRESUMED and options.require_complete):
        label = COMPLETENESS_LABELS[submission.completeness]
        warnings.append(f"results {label}: {submission.completeness_detail}")
    warnings.extend(f"{sent.path.name}: {note}" for note in sent_schema.notes)
    warnings.extend(
        f"{results.path.name}: {note}"
        for note in result_schema.notes
        if not note.startswith("columns set with --map")
    )
    warnings.extend(submission.notes)
    actions = options.fixes.actions
    if actions is not None:
        warnings.extend(f"--actions: {note}" for note in actions.notes)
    for table in (sent, results):
        if table.encoding in LEGACY_ENCODINGS and not options.encoding:
            warnings.append(
                f"{table.path.name} is not UTF-8: read as {table.encoding}, the encoding its "
                "bytes fit best; if its text looks wrong, name the right one with --encoding"
            )
        hidden = table.meta.get("@hidden_sheets")
        if hidden:
            warnings.append(
                f"{table.path.name}: read sheet {table.sheet!r}, the first visible one; hidden "
                f"sheets skipped: {hidden} (name another with --sheet)"
            )
    if ties.line_base.warning:
        warnings.append(ties.line_base.warning)
    if (
        ties.line_base.requested is LineBase.AUTO
        and not ties.line_base.confirmed
        and result_schema.column("line") is not None
        and results.records
    ):
        warnings.append(
            "the results' identifiers cannot tell how lines are numbered; "
            f"assumed {ties.line_base.base} (header = line 1); use --line-base if that is wrong"
        )
    if spoiled:
        example = next(t for t in res["note"].to_numpy(dtype=object)[tied] if t)
        warnings.append(
            f"{spoiled:,} result{'s carry IDs' if spoiled > 1 else ' carries an ID'} spoiled by "
            f"a spreadsheet, tied where the line or the rest of the key agrees (e.g. {example})"
        )
    warnings.extend(remediation.warnings)
    if remediation.already_sent:
        warnings.append(
            f"{remediation.already_sent:,} corrected record"
            f"{'s were' if remediation.already_sent > 1 else ' was'} left out of the "
            "resubmission: the ledger shows the same row sent (or written to be sent) before; "
            "they are in needs-attention with the batch (--again sends them anyway)"
        )
    rejected = by_outcome.get(Outcome.REJECTED, 0)
    confirmation = None
    if confirmed is not None:
        confirmation = _confirmation(confirmed, records, updates_complete)
        warnings.extend(confirmed.notes)
    if history is not None:
        point = TrendPoint(
            batch=(submission.batch_ids[0] if len(submission.batch_ids) == 1 else sent.path.name),
            reconciled_at=now.isoformat().replace("+00:00", "Z"),
            records=n,
            accepted=accepted,
            rejected=rejected,
            this_run=True,
        )
        history = replace(
            history, already_sent=remediation.already_sent, trend=(*history.trend, point)
        )
    ambiguous_results = int((unmatched["Reason"] == "ambiguous_key").sum())
    resubmit_n = remediation.resubmit_records
    attention_n = sum(by_resolution.get(r, 0) for r in NEEDS_ATTENTION)
    return Summary(
        tool="reconciler",
        version=__version__,
        generated_at=now.isoformat().replace("+00:00", "Z"),
        sent_file=str(sent.path),
        results_file=str(gathered.files[0])
        if len(gathered.files) == 1
        else ", ".join(str(p) for p in gathered.files),
        results_files=tuple(gathered.file_names),
        sent_format=sent.format,
        sent_sheet=sent.sheet,
        results_sheet=results.sheet,
        sent_encoding=sent.encoding,
        sent_delimiter=sent.delimiter,
        results_format=results.format,
        template=str(sent_schema.template),
        template_title=TEMPLATE_TITLES[sent_schema.template],
        result_shape=str(result_schema.shape),
        result_shape_title=shape_title(result_schema, results),
        result_columns={k: v for k, v in sorted(result_schema.fields.items())},
        line_base=str(ties.line_base.base),
        line_base_detail=ties.line_base.describe()
        if result_schema.column("line") is not None
        else "not used: the results carry no line numbers, so they are tied by identifiers",
        line_base_evidence={k: dict(v) for k, v in ties.line_base.evidence.items()},
        line_base_warning=ties.line_base.warning,
        submission=SubmissionFigures(
            status=submission.status,
            complete=submission.complete,
            total_records=submission.total_records,
            total_errors=submission.total_errors,
            batch_ids=submission.batch_ids,
            file_name=submission.file_name,
        ),
        completeness=CompletenessFigures(
            state=str(submission.completeness),
            label=COMPLETENESS_LABELS[submission.completeness],
            detail=submission.completeness_detail,
            records_without_result=str(submission.unlisted),
            pages_given=gathered.pages,
            pages=gathered.numpages,
            rows_counted=gathered.total,
            require_complete=options.require_complete,
        ),
        sent_records=n,
        result_rows=results.records,
        results_tied=int(tied.sum()),
        spoiled_id_ties=spoiled,
        foreign_results=foreign,
        accepted=accepted,
        accepted_pct=round(100.0 * accepted / n, 1) if n else 0.0,
        rejected=rejected,
        missing=by_outcome.get(Outcome.MISSING, 0),
        pending=by_outcome.get(Outcome.PENDING, 0),
        unknown=by_outcome.get(Outcome.UNKNOWN, 0),
        ambiguous=ambiguous_results,
        ambiguous_records=by_outcome.get(Outcome.AMBIGUOUS, 0),
        unmatched_results=len(unmatched),
        # Exit 1 unless every record was accepted and every result tied.
        needs_attention=bool(
            accepted < n or follow_up or len(unmatched) or not submission.complete
        ),
        records_to_follow_up=follow_up,  # all but accepted and terminal
        by_outcome=_ordered(by_outcome),
        by_code=_by_code(records["ErrorCodes"]),
        by_resolution=_ordered(by_resolution),
        tied_by=_counts(records["TiedBy"]),
        unmatched_by_reason=_counts(unmatched["Reason"]) if len(unmatched) else {},
        auto_fixed=by_resolution.get(Resolution.AUTO_FIXED, 0),
        resubmit_records=resubmit_n,
        changed_cells=len(remediation.changes),
        resubmit_files=tuple(resubmit_names(resubmit_n, options.max_rows)),
        needs_attention_records=attention_n,
        needs_attention_files=attention_names(attention_n, workbook=options.workbooks),
        held_by_modification_cap=remediation.capped,
        formula_like_cells_in_resubmission=remediation.formula_cells,
        history=history,
        confirmation=confirmation,
        money=money_at_stake(sent, sent_schema, records),
        sent_fields=dict(sorted(sent_schema.fields.items())),
        sent_item_fields={
            name: tuple(sent_schema.item_columns(name))
            for name in ("sku", "quantity", "item_amount", "category")
            if sent_schema.item_columns(name)
        },
        max_rows=options.max_rows,
        warnings=tuple(warnings),
    )


def _confirmation(
    confirmed: Confirmed, records: pd.DataFrame, complete: bool
) -> ConfirmationFigures:
    status = np.asarray(confirmed.status.codes)
    accepted = (records["Outcome"] == Outcome.ACCEPTED).to_numpy(dtype=bool)
    counts = np.bincount(status, minlength=len(STATUSES))
    review = np.isin(status, [STATUS_CODE["not_applied"], STATUS_CODE["differs"]])
    return ConfirmationFigures(
        updates_files=confirmed.files,
        kind=confirmed.kind,
        submitted=confirmed.submitted,
        first_update=confirmed.first_update,
        last_update=confirmed.last_update,
        complete=complete,
        by_status={s: int(counts[i]) for i, s in enumerate(STATUSES) if s and counts[i]},
        accepted=int(accepted.sum()),
        accepted_confirmed=int((accepted & (status == STATUS_CODE["confirmed"])).sum()),
        accepted_for_review=int((accepted & review).sum()),
        notes=confirmed.notes,
    )


_FTP_CONTAINERS = frozenset({"errordetail", "errordetails", "ftpfilesubmissionerrors"})


def shape_title(schema: ResultSchema, results: Table) -> str:
    """The results' shape in words; an FTP error list without Line is still FTP errors."""
    if not results.records and not results.header and results.container == "ErrorDetail":
        return "FTP submission status only (no error details)"
    ftp_container = results.container.casefold() in _FTP_CONTAINERS
    if (
        schema.shape is ResultShape.FTP_ERROR_DETAILS
        or (ftp_container and schema.shape is ResultShape.API_SUBMISSIONS)
    ) and schema.column("line") is None:
        # What the file is, whatever its columns made it look like: an ErrorDetail list.
        return "Brand API FTP error details (JSON, no line numbers)"
    if ftp_container and schema.shape is ResultShape.API_SUBMISSIONS:
        return "Brand API FTP error details (JSON)"
    if schema.shape is ResultShape.API_SUBMISSIONS and results.container == "@object":
        return "One API submission record (JSON)"
    return SHAPE_TITLES[schema.shape]


def has_code(codes: pd.Series, code: str) -> npt.NDArray[np.bool_]:
    """Per record: its ``;``-joined ErrorCodes include ``code`` (worked out per category)."""
    cat = codes.astype("category").array
    hit = np.array([code in str(c).split(";") for c in cat.categories] + [False], dtype=bool)
    return hit[np.asarray(cat.codes, dtype=np.int64)]


def _named(codes: IntArray, names: npt.NDArray[np.object_], name: str) -> npt.NDArray[np.bool_]:
    """Which ``codes`` stand for a name equal to ``name`` (a missing value equals none)."""
    hit = np.array([isinstance(n, str) and n == name for n in names], dtype=bool)
    return hit[codes]


def money_at_stake(sent: Table, schema: SentSchema, records: pd.DataFrame) -> MoneyFigures:
    """Sum of Amount over records that were not applied, by resolution, in their currency.

    Not applied: rejected, or missing from results that list every record; a NO_CHANGE left
    the action as it was, so nothing is at stake there (ambiguous, pending and unknown
    records are not known either way). Where the platform's updates were given, they decide:
    an accepted record they show not applied, or applied otherwise than sent, is at stake; a
    rejected one they show applied is not. Item-level files add up their items, a unit
    ``ItemPrice`` times its quantity."""
    frame = sent.frame
    amount_col = schema.column("amount")
    item_cols = list(schema.item_columns("item_amount"))
    items = list(schema.items)
    if amount_col is None and not item_cols:
        # One item per row, its money in a bare ItemPrice (unit price, times the row's
        # Quantity) or ItemSubtotal (the line's total) column.
        bare = {header_key(str(c)): str(c) for c in reversed(list(frame.columns))}
        money = bare.get("itemprice") or bare.get("itemsubtotal")
        if money is None:
            return MoneyFigures()
        item_cols = [money]
        quantity = schema.item_columns("quantity")
        qty_col = quantity[0] if quantity else bare.get("quantity") or bare.get("itemquantity")
        items = [ItemColumn(1, "item_amount", money)]
        if qty_col is not None:
            items.append(ItemColumn(1, "quantity", qty_col))
    rejected = _is_in(records["Outcome"], (Outcome.REJECTED, Outcome.MISSING))
    rejected = rejected & ~has_code(records["ErrorCodes"], "NO_CHANGE")
    shown_not_applied = shown_applied = np.zeros(len(records), dtype=bool)
    if "Confirmed" in records:
        accepted = _is_in(records["Outcome"], (Outcome.ACCEPTED,))
        shown_applied = rejected & _is_in(records["Confirmed"], ("confirmed",))
        shown_not_applied = accepted & _is_in(records["Confirmed"], ("not_applied", "differs"))
        rejected = (rejected & ~shown_applied) | shown_not_applied
    where = np.flatnonzero(rejected)
    amt = np.zeros(len(frame), dtype=np.float64)
    unreadable = np.zeros(len(frame), dtype=bool)
    if amount_col is not None:
        amt[where] = amount_numbers(frame[amount_col].astype("str").iloc[where])
        unreadable[where] = np.isnan(amt[where]) & (frame[amount_col].iloc[where] != "").to_numpy()
        label = amount_col
    else:
        quantities = {i.index: i.column for i in items if i.field == "quantity"}
        parts: list[str] = []
        for item in sorted(items, key=lambda i: i.index):
            if item.field != "item_amount":
                continue
            values = amount_numbers(frame[item.column].astype("str").iloc[where])
            unreadable[where] |= (
                np.isnan(values) & (frame[item.column].iloc[where] != "").to_numpy()
            )
            qty_col = quantities.get(item.index)
            if header_key(item.column).startswith("itemprice") and qty_col is not None:
                qty = amount_numbers(frame[qty_col].astype("str").iloc[where])
                values = values * np.where(np.isnan(qty), 1.0, qty)
                parts.append(f"{item.column} \u00d7 {qty_col}")
            else:
                parts.append(item.column)
            amt[where] += np.nan_to_num(values)
        label = " + ".join(parts)
    currency_col = schema.column("currency")
    # Per record not applied: its currency cell stripped and in upper case, as a position in
    # ``spelled`` (each distinct cell is cleaned once: a million records hold a few currencies).
    spelled: npt.NDArray[np.object_] = np.array([""], dtype=object)
    cur = np.zeros(len(where), dtype=np.int64)
    if currency_col is not None and len(where):
        cells = frame[currency_col].astype("str").iloc[where]
        ids, uniques = pd.factorize(cells, use_na_sentinel=False)
        spelled = pd.Series(uniques, dtype="str").str.strip().str.upper().to_numpy(dtype=object)
        cur = np.asarray(ids, dtype=np.int64)
    currencies = sorted({str(c) for c in spelled if c})
    # An amount without its currency beside amounts with one: they cannot be added up as one.
    # (A reversal's 0 carries no currency, rightly: it adds nothing.)
    counted = np.nan_to_num(amt[where]) != 0
    blank_currency = bool(currencies) and bool(np.any(_named(cur, spelled, "") & counted))
    by_res: dict[str, str] = {}
    resolution = records["Resolution"].astype("category").array
    res = np.asarray(resolution.codes, dtype=np.int64)
    names = [str(c) for c in resolution.categories]
    for code in sorted(set(np.unique(res[where]).tolist()), key=lambda c: names[c]):
        mask = res[where] == code
        by_res[names[code]] = f"{np.nansum(amt[where][mask]):.2f}"
    reversals = rejected & (amt == 0) & ~unreadable
    by_currency: dict[str, str] = {}
    if len(currencies) > 1 or blank_currency:
        for name in sorted({str(spelled[c]) for c in np.unique(cur[counted]).tolist()}):
            mask = _named(cur, spelled, name)
            by_currency[name or "(none)"] = f"{np.nansum(amt[where][mask]):.2f}"
    return MoneyFigures(
        amount_column=label,
        # The currency of the amounts not applied: "mixed" only when they really mix.
        currency=(
            currencies[0]
            if len(currencies) == 1 and not blank_currency
            else ("mixed" if currencies else None)
        ),
        currencies=tuple(currencies),
        not_applied_total=f"{np.nansum(amt[rejected]):.2f}",
        not_applied_by_resolution=by_res,
        not_applied_by_currency=by_currency,
        reversals_not_applied=int(reversals.sum()) if amount_col is not None else 0,
        accepted_not_applied=int(shown_not_applied.sum()),
        rejected_applied=int(shown_applied.sum()),
        unreadable_amounts=int(unreadable.sum()),
    )
