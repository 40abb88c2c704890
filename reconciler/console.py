"""What the terminal shows: one-line failures, the progress bar, and each command's summary.

Owns: turning every failure into one line ``reconciler: <file>[:<line>]: <problem and fix>``
on stderr with its exit code (usage errors included; ``--debug`` adds the traceback), the
progress bar of a large run, and the lines a finished ``reconcile`` or ``check`` prints.
"""

from __future__ import annotations

import functools
import os
import sys
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import typer
from typer.core import TyperGroup

from .errors import (
    EXIT_BROKEN_PIPE,
    EXIT_CANNOT_RUN,
    EXIT_INTERRUPTED,
    EXIT_OK,
    INTERRUPTED,
    ReconcilerError,
    printable,
)

if TYPE_CHECKING:
    from .model import Summary
    from .pipeline import CheckRun
    from .remote import AuditRun

P = ParamSpec("P")
R = TypeVar("R")

LARGE_INPUT_BYTES = 20 * 1024 * 1024  # the progress bar shows for inputs larger than this

_said_interrupted = False


class OneLineUsageErrors(TyperGroup):
    """A usage error (an unknown option, a bad value, a missing argument) is one line on
    stderr and exit 2, like every other failure, instead of the usage text and a box.

    Help reads as the README writes the commands: arguments in capitals (``SENT
    [RESULTS]...``, not typer's ``{sent}``), a flag without a ``<bool>`` beside it, an option
    with a metavar (``FILE``) without its type again (see ``readable_help``)."""

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            readable_help(command)
        return command

    def main(self, *args: Any, **kwargs: Any) -> Any:
        readable_help(self)
        if kwargs.get("standalone_mode", True) is False:
            return super().main(*args, **kwargs)
        kwargs["standalone_mode"] = False
        try:
            done = super().main(*args, **kwargs)
        except typer.TyperException as exc:
            typer.echo(f"reconciler: {usage_error_line(exc)}", err=True)
            sys.exit(int(getattr(exc, "exit_code", EXIT_CANNOT_RUN)))
        except typer.Abort:
            typer.echo(f"reconciler: {INTERRUPTED}", err=True)
            sys.exit(EXIT_INTERRUPTED)
        if done == EXIT_INTERRUPTED and not _said_interrupted:
            # Ctrl-C while typer was still reading the options: it exits 130 without a word.
            typer.echo(f"reconciler: {INTERRUPTED}", err=True)
        sys.exit(done if isinstance(done, int) else EXIT_OK)


def readable_help(command: Any) -> None:
    """Adapt a command's parameters' help to the conventions of the README and of typer's
    earlier releases (typer 0.2x writes ``{sent}`` in the usage line and a ``<bool>`` type
    for every flag). Only what a release has is adapted: another release's help is left as
    it writes it."""
    for param in getattr(command, "params", []):
        kind = type(param).__name__
        if kind == "TyperArgument" and hasattr(param, "_usage_display_name"):
            name = (param.metavar or param.name or "").upper()
            shown = name if param.required else f"[{name}]"
            many = getattr(param, "nargs", 1) != 1
            param.metavar = name
            param._usage_display_name = lambda shown=shown, many=many: (
                shown + ("..." if many else "")
            )
        _no_type(param)
    original = getattr(command, "get_help_option", None)
    if callable(original) and not getattr(command, "_readable", False):
        command._readable = True

        def help_option(ctx: Any) -> Any:
            option = original(ctx)
            _no_type(option)
            return option

        command.get_help_option = help_option


def _no_type(param: Any) -> None:
    """A flag, or a parameter with a metavar, shows no type: ``--wait``, ``--actions FILE``."""
    if hasattr(param, "display_type") and (
        getattr(param, "is_flag", False) or getattr(param, "metavar", None)
    ):
        param.display_type = lambda ctx: None


def usage_error_line(exc: Exception) -> str:
    """One line for a command-line error, pointing at the help of the command concerned."""
    format_message = getattr(exc, "format_message", None)
    message = str(format_message() if callable(format_message) else exc)
    # typer's value checks add their validator's words ("Value error, ...").
    message = " ".join(message.replace("Value error, ", "").split())
    ctx = getattr(exc, "ctx", None)
    command = getattr(ctx, "command_path", "") or "reconciler"
    return printable(f"{message} (see {command} --help)")


def fail(message: str, code: int = EXIT_CANNOT_RUN) -> typer.Exit:
    typer.echo(f"reconciler: {printable(message)}", err=True)
    return typer.Exit(code)


def _interrupted() -> typer.Exit:
    """The interrupt's one line, said once: the command's group (``OneLineUsageErrors``) says
    it for an exit 130 that nothing said, so it must know this one was."""
    global _said_interrupted
    _said_interrupted = True
    return fail(INTERRUPTED, EXIT_INTERRUPTED)


def guarded(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn tool failures into one line on stderr and exit 2 (traceback only with --debug)."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        debug = bool(kwargs.get("debug"))
        try:
            return fn(*args, **kwargs)
        except typer.Exit:
            raise
        except ReconcilerError as exc:
            if debug:
                traceback.print_exc()
            raise fail(str(exc), exc.exit_code) from None
        except KeyboardInterrupt:
            raise _interrupted() from None
        except BrokenPipeError:
            # The reader of stdout went away (`... | head`): stop quietly, as Unix tools do.
            from .writers.streams import silence_stdout

            silence_stdout()
            raise typer.Exit(EXIT_BROKEN_PIPE) from None
        except Exception as exc:
            from . import interrupts

            if interrupts.noted():  # the interrupt, disguised by the code it landed in
                raise _interrupted() from None
            if debug:
                traceback.print_exc()
            raise fail(
                f"internal error: {type(exc).__name__}: {exc} "
                "(run again with --debug for the traceback, and please report it)"
            ) from None

    return wrapper


def is_large(paths: Sequence[Path]) -> bool:
    """Inputs big enough for a progress bar."""
    return any(p.is_file() and p.stat().st_size > LARGE_INPUT_BYTES for p in paths)


@contextmanager
def progress(enabled: bool, stages: int) -> Iterator[Callable[[str], None]]:
    """A progress bar on stderr for large inputs when stderr is a terminal; silent otherwise.

    Each call of the returned function starts the next of ``stages`` stages and names it.
    ``RECONCILER_PROGRESS=1`` shows the bar for any input, ``=0`` never."""
    forced = os.environ.get("RECONCILER_PROGRESS", "").strip().lower()
    if forced in ("0", "no", "never") or (
        forced not in ("1", "yes", "always") and (not enabled or not sys.stderr.isatty())
    ):
        yield lambda _msg: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    bar = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    started = 0
    with bar:
        task = bar.add_task("starting", total=stages)

        def step(msg: str) -> None:
            nonlocal started
            bar.update(task, description=msg, completed=min(started, stages))
            started += 1

        yield step
        bar.update(task, completed=stages)


def notes(lines: Sequence[str], kind: str = "note") -> None:
    """``reconciler: note: ...`` (or warning) lines on stderr."""
    for line in lines:
        typer.echo(f"reconciler: {kind}: {line}", err=True)


def print_reconciliation(s: Summary, out_dir: Path) -> None:
    """What a finished ``reconcile`` says on stdout."""
    others = (("missing", s.missing), ("pending", s.pending), ("unknown", s.unknown))
    counts = [f"{n:,} {k}" for k, n in others if n]
    if s.ambiguous_records:
        counts.append(f"{s.ambiguous_records:,} ambiguous")
    typer.echo(
        f"{plural(s.sent_records, 'record')} sent: {s.accepted:,} accepted ({s.accepted_pct}%), "
        f"{s.rejected:,} rejected" + "".join(f", {c}" for c in counts)
    )
    done = s.completeness
    tied = f"{s.results_tied:,}" if s.results_tied is not None else "none"
    typer.echo(
        f"  {tied} of {plural(s.result_rows, 'result')} tied · results "
        f"{done.label if done else ''}: {done.detail if done else ''}"
    )
    typer.echo(f"  template {s.template} · results {s.result_shape} · lines {s.line_base_detail}")
    if s.by_code:
        codes = ", ".join(f"{k} {v:,}" for k, v in list(s.by_code.items())[:8])
        more = len(s.by_code) - 8
        typer.echo(f"  by code: {codes}" + (f" (+{more} more)" if more > 0 else ""))
    attention = {k: v for k, v in s.by_resolution.items() if k != "none"}
    if attention:
        typer.echo("  by resolution: " + ", ".join(f"{k} {v:,}" for k, v in attention.items()))
    money = s.money
    if money.amount_column and money.not_applied_total != "0.00":
        currency = money.currency or ""
        typer.echo(
            f"  not applied: {float(money.not_applied_total):,.2f}"
            + (f" {currency}" if currency and currency != "mixed" else "")
            + (f" (mixed currencies: {money.currencies_text()})" if currency == "mixed" else "")
            + f" of {money.amount_column}"
        )
    if s.unmatched_results:
        typer.echo(
            f"  {s.unmatched_results} result row{'' if s.unmatched_results == 1 else 's'} "
            "tied to no record: see unmatched_results.csv"
        )
    confirmation = s.confirmation
    if confirmation is not None:
        rest = ", ".join(
            f"{k} {v:,}" for k, v in confirmation.by_status.items() if k != "confirmed"
        )
        typer.echo(
            f"  confirmed on the platform: {confirmation.accepted_confirmed:,} of "
            f"{plural(confirmation.accepted, 'accepted record')}"
            + (f" (all records: {rest})" if rest else "")
        )
    history = s.history
    if history is not None and (history.batches_before or history.recorded_before):
        seen = history.records_seen_before
        typer.echo(
            f"  ledger: {plural(history.batches_before, 'other batch', 'other batches')}"
            + (f"; {plural(seen, 'record')} sent before (Attempt, PreviousBatch)" if seen else "")
            + (
                "; this batch was reconciled before: its entry is updated"
                if history.recorded_before
                else ""
            )
        )
    for warning in s.warnings:
        typer.echo(f"  warning: {warning}")
    typer.echo(f"outputs in {out_dir}: {', '.join(s.outputs or ())}")


FIRST_FINDINGS = 10  # findings ``check`` lists in the terminal; check.csv has them all
_FINDING_COLUMNS = (
    ("SourceLine", "line"), ("Column", "column"), ("Value", "value"), ("Finding", "finding"),
    ("PredictedError", "predicted error"),
)  # fmt: skip


def _print_findings(findings: Any) -> None:
    """The first findings as a table (line, column, value, finding, the code impact.com
    would give), then how many more check.csv holds."""
    n = len(findings)
    if not n:
        return
    shown = findings.head(FIRST_FINDINGS)
    rows = [[title for _, title in _FINDING_COLUMNS]]
    for record in shown.itertuples(index=False):
        values = record._asdict()
        rows.append([_cell(values.get(column, "")) for column, _ in _FINDING_COLUMNS])
    widths = [max(len(r[i]) for r in rows) for i in range(len(_FINDING_COLUMNS))]
    for row in rows:
        typer.echo("  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    if n > len(shown):
        typer.echo(f"  and {n - len(shown):,} more in check.csv")


def _cell(value: object, limit: int = 30) -> str:
    text = printable(" ".join(str(value if value is not None else "").split()))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def print_check(run: CheckRun, out_dir: Path) -> None:
    """What a finished ``check`` says on stdout."""
    s = run.result.summary()
    typer.echo(
        f"{plural(int(s['records']), 'record')} checked ({s['template_title'].lower()}): "
        f"{plural(int(s['errors']), 'error')} on {plural(int(s['records_with_errors']), 'record')}, "
        f"{plural(int(s['warnings']), 'warning')}"
    )
    if s["by_finding"]:
        top = list(s["by_finding"].items())
        text = ", ".join(f"{k} {int(v):,}" for k, v in top[:8])
        typer.echo(f"  findings: {text}" + (f" (+{len(top) - 8} more)" if len(top) > 8 else ""))
    _print_findings(run.result.findings)
    for note in s["header_notes"]:
        typer.echo(f"  note: {note}")
    if s["hidden_sheets_skipped"]:
        typer.echo(
            f"  read sheet {s['sheet']!r}, the first visible one; hidden sheets skipped: "
            f"{s['hidden_sheets_skipped']} (name another with --sheet)"
        )
    if run.fixed is not None:
        typer.echo(
            f"  --fix corrected {plural(len(run.fixed.changes), 'cell')} on "
            f"{plural(int(run.fixed.fixed_records), 'record')}"
        )
    typer.echo(f"outputs in {out_dir}: {', '.join(run.outputs)}")


@contextmanager
def waiting() -> Iterator[Callable[[str], None]]:
    """A line on stderr that says what a fetch is waiting for, rewritten in place on a
    terminal (one line per message elsewhere only with ``RECONCILER_PROGRESS=1``)."""
    forced = os.environ.get("RECONCILER_PROGRESS", "").strip().lower()
    tty = sys.stderr.isatty()
    if forced in ("0", "no", "never") or (not tty and forced not in ("1", "yes", "always")):
        yield lambda _msg: None
        return
    shown = [False]

    def say(msg: str) -> None:
        if tty:
            sys.stderr.write("\r\x1b[2K" + printable(msg)[:200])
        else:
            sys.stderr.write(printable(msg) + "\n")
        sys.stderr.flush()
        shown[0] = True

    try:
        yield say
    finally:
        if shown[0] and tty:
            sys.stderr.write("\r\x1b[2K")
            sys.stderr.flush()


def print_submissions(rows: Sequence[Mapping[str, Any]], *, as_json: bool) -> None:
    """The account's file submissions, as a table or as JSON."""
    import json

    from .api.batches import SUBMISSION_COLUMNS

    picked = [{c: row.get(c) for c in SUBMISSION_COLUMNS} for row in rows]
    if as_json:
        typer.echo(json.dumps(picked, indent=2, ensure_ascii=False))
        return
    if not picked:
        typer.echo("no file submissions in that window")
        return
    cells = [
        [printable("" if r[c] is None else str(r[c])) for c in SUBMISSION_COLUMNS] for r in picked
    ]
    widths = [
        max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(SUBMISSION_COLUMNS)
    ]
    typer.echo(
        "  ".join(c.ljust(w) for c, w in zip(SUBMISSION_COLUMNS, widths, strict=True)).rstrip()
    )
    for row in cells:
        typer.echo("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


def print_audit(run: AuditRun) -> None:
    """What a finished ``audit`` says on stdout."""
    done = [e for e in run.entries if e.summary is not None]
    attention = [e for e in done if e.summary is not None and e.summary.needs_attention]
    typer.echo(
        f"{len(run.entries)} submissions: {len(done)} reconciled, {len(attention)} need attention"
    )
    for e in run.entries:
        s = e.summary
        if s is not None:
            typer.echo(
                f"  {e.batch_id}  {printable(e.file_name)}: {s.accepted} of {s.sent_records} "
                f"accepted, {s.rejected} rejected" + (f", {s.unknown} unknown" if s.unknown else "")
            )
        else:
            typer.echo(
                f"  {e.batch_id}  {printable(e.file_name)}: {e.outcome.replace('_', ' ')}"
                + (f" ({printable(e.detail)})" if e.detail else "")
            )
    typer.echo(f"outputs in {run.out}: {', '.join(run.outputs)} and a folder per batch")


def print_history(
    rows: Sequence[Mapping[str, Any]],
    trend: Mapping[str, Sequence[int]],
    where: str,
    *,
    as_json: bool,
) -> None:
    """The ledger's batches and the trend of their codes, as lines or as JSON."""
    import json

    if as_json:
        data = {"batches": [dict(r) for r in rows], "trend": dict(trend)}
        typer.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))
        return
    if not rows:
        typer.echo(f"the ledger {where} knows no batch yet")
        return
    for r in rows:
        n, accepted = int(r["records"]), int(r["accepted"])
        pct = round(100.0 * accepted / n, 1) if n else 0.0
        codes: Mapping[str, int] = r.get("codes") or {}
        top = ", ".join(f"{k} {v}" for k, v in list(codes.items())[:3])
        name = r.get("batch_id") or r.get("file_name")
        typer.echo(
            f"{r['reconciled_at']}  {printable(str(name))}: {accepted} of {n} accepted "
            f"({pct}%), {r['rejected']} rejected" + (f" · {printable(top)}" if top else "")
        )
    if len(rows) > 1 and trend:
        typer.echo("by code, batch after batch:")
        for code, counts in trend.items():
            typer.echo(f"  {printable(code)}: {' → '.join(str(c) for c in counts)}")


def print_attempts(key: str, found: Sequence[Mapping[str, Any]], *, as_json: bool) -> None:
    """One record's attempts, oldest first."""
    import json

    if as_json:
        typer.echo(json.dumps([dict(f) for f in found], indent=2, ensure_ascii=False))
        return
    if not found:
        typer.echo(f"the ledger has no record {printable(key)}")
        return
    for n, f in enumerate(found, 1):
        name = f.get("batch_id") or f.get("file_name")
        codes = f" ({f['codes']})" if f.get("codes") else ""
        resent = f"; resent in {f['resubmit_file']}" if f.get("resubmit_file") else ""
        typer.echo(
            f"attempt {n}: {f['reconciled_at']}  {printable(str(name))} line {f['line']}: "
            f"{f['outcome']}{printable(codes)}, {f['resolution']}{printable(resent)}"
        )


def plural(n: int, one: str, many: str | None = None) -> str:
    """``1 record``, ``1,204 records``."""
    return f"{n:,} {one if n == 1 else (many or one + 's')}"
