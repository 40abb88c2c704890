"""Running the checks over a table (the action-key checks on a second core for large files),
one findings frame, and ``--fix`` through the resubmission's own rules."""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import date

import numpy as np
import pandas as pd

from reconciler.catalogue import Catalogue, load_catalogue
from reconciler.classify import merged_codes
from reconciler.clock import clock
from reconciler.detect import SentSchema, detect_template
from reconciler.errors import ShapeError
from reconciler.model import Outcome, RemediateOptions, Resolution, Table, text_column
from reconciler.outputs import CHANGE_COLUMNS
from reconciler.preflight.base import (
    FINDING_COLUMNS,
    CheckOptions,
    CheckResult,
    FixResult,
    Scope,
)
from reconciler.preflight.context import Check, _Ctx
from reconciler.preflight.registry import CHECKS
from reconciler.remediate import remediate
from reconciler.templates import (
    Template,
)


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
    allf = _one_finding_a_problem(allf)
    fix_codes = pd.DataFrame(
        {"pos": fixable["_pos"].to_numpy(dtype=np.int64), "code": fixable["_fix"].to_numpy()}
    ).drop_duplicates()
    findings = allf[list(FINDING_COLUMNS)].copy()
    for col in FINDING_COLUMNS[1:]:
        # Each distinct value becomes text once; a missing one, one by one (None: "").
        values = findings[col].to_numpy(dtype=object)
        if set(map(type, values)) <= {str}:  # text already, none missing (most columns)
            findings[col] = pd.Series(values, index=findings.index, dtype=object)
            continue
        na = np.asarray(pd.isna(values), dtype=bool)
        codes, uniques = pd.factorize(values)
        out = np.array([str(u) for u in uniques] + [""], dtype=object)[codes]
        out[na] = ["" if v is None else str(v) for v in values[na]]
        findings[col] = pd.Series(out, index=findings.index, dtype=object)
    return findings, fix_codes


# A finding that says the same about a cell as another, with less evidence, gives way to it:
# the Actions export's "no such action" (naming the action a spoiled ID stands for) says all
# that "this ID looks spoiled by a spreadsheet" says.
SUPERSEDED: dict[str, frozenset[str]] = {"action-not-found": frozenset({"id-spoiled"})}


def _one_finding_a_problem(allf: pd.DataFrame) -> pd.DataFrame:
    """One finding per problem of a cell: drop those another finding of the same cell and
    the same predicted code supersedes (``SUPERSEDED``)."""
    if allf.empty:
        return allf
    drop = np.zeros(len(allf), dtype=bool)
    finding = np.array([str(f) for f in allf["Finding"].tolist()], dtype=object)
    cells = [allf[c].to_numpy(dtype=object) for c in ("SourceLine", "Column", "PredictedError")]
    # Only the findings that can give way, and those that supersede them, are looked at (a
    # file may have a finding on most of its records).
    for winner, losers in SUPERSEDED.items():
        wins = np.flatnonzero(finding == winner)
        loses = np.flatnonzero(np.isin(finding, sorted(losers)))
        if not len(wins) or not len(loses):
            continue
        won = set(zip(*(c[wins] for c in cells), strict=True))
        for i, cell in zip(
            loses.tolist(), zip(*(c[loses] for c in cells), strict=True), strict=True
        ):
            if cell in won:
                drop[i] = True
    return allf[~drop].reset_index(drop=True)


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
        options = replace(options, today=result.today)
    codes = text_column(n, "")
    if len(result.fix_codes) and result.schema is not None:
        pos = result.fix_codes["pos"].to_numpy(dtype=np.int64)
        each = result.fix_codes["code"].to_numpy(dtype=object)
        if all(isinstance(c, str) and c and ";" not in c for c in pd.unique(each)):
            # Each record's codes as classify merges a record's result rows: once per kind.
            merged_at, merged = merged_codes(pos, each)
            codes[merged_at] = merged
        else:
            grouped = result.fix_codes.groupby("pos")["code"].agg(
                lambda c: ";".join(sorted(set(c)))
            )
            codes[grouped.index.to_numpy(dtype=np.int64)] = grouped.to_numpy()
    fed = codes != ""
    records = pd.DataFrame(
        {
            "Outcome": np.where(fed, str(Outcome.REJECTED), str(Outcome.ACCEPTED)),
            "Resolution": np.where(fed, str(Resolution.FIX_MANUALLY), str(Resolution.NONE)),
            "ErrorCodes": codes,
            "Advice": text_column(n, ""),
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
