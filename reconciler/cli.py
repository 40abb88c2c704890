"""Command line: the only module that knows argv, exit codes, colours and progress display.

Exit codes: 0 nothing needs attention, 1 records need attention (outputs written), 2 could not run.
Every tool failure is printed as one line ``reconciler: <file>[:<line>]: <problem and fix>``;
``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import functools
import os
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ParamSpec, TypeVar

import typer
from typer.core import TyperGroup

from . import __version__
from .errors import (
    EXIT_ATTENTION,
    EXIT_BROKEN_PIPE,
    EXIT_CANNOT_RUN,
    EXIT_INTERRUPTED,
    EXIT_OK,
    INTERRUPTED,
    ReconcilerError,
    UsageError,
    printable,
)
from .model import LineBase

if TYPE_CHECKING:
    pass


class _OneLineUsageErrors(TyperGroup):
    """A usage error (an unknown option, a bad value, a missing argument) is one line on
    stderr and exit 2, like every other failure, instead of the usage text and a box."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("standalone_mode", True) is False:
            return super().main(*args, **kwargs)
        kwargs["standalone_mode"] = False
        try:
            done = super().main(*args, **kwargs)
        except typer.TyperException as exc:
            if type(exc).__name__ == "NoArgsIsHelpError":  # bare `reconciler`: the help
                getattr(exc, "show", lambda: None)()
                sys.exit(EXIT_CANNOT_RUN)
            typer.echo(f"reconciler: {usage_error_line(exc)}", err=True)
            sys.exit(int(getattr(exc, "exit_code", EXIT_CANNOT_RUN)))
        except typer.Abort:
            typer.echo(f"reconciler: {INTERRUPTED}", err=True)
            sys.exit(EXIT_INTERRUPTED)
        if done == EXIT_INTERRUPTED and not _said_interrupted:
            # Ctrl-C while typer was still reading the options: it exits 130 without a word.
            typer.echo(f"reconciler: {INTERRUPTED}", err=True)
        sys.exit(done if isinstance(done, int) else EXIT_OK)


_said_interrupted = False


def usage_error_line(exc: Exception) -> str:
    """One line for a command-line error, pointing at the help of the command concerned."""
    format_message = getattr(exc, "format_message", None)
    message = str(format_message() if callable(format_message) else exc)
    # typer's value checks add their validator's words ("Value error, ...").
    message = " ".join(message.replace("Value error, ", "").split())
    ctx = getattr(exc, "ctx", None)
    command = getattr(ctx, "command_path", "") or "reconciler"
    return printable(f"{message} (see {command} --help)")


app = typer.Typer(
    name="reconciler",
    cls=_OneLineUsageErrors,
    help="Reconcile impact.com batch file submissions with the results the platform reported.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

P = ParamSpec("P")
R = TypeVar("R")

DebugOpt = Annotated[bool, typer.Option("--debug", help="Show the traceback of a failure.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing on success.")]

LARGE_INPUT_BYTES = 20 * 1024 * 1024
RECONCILE_STAGES = 9  # the progress steps of reconcile (pipeline.reconcile's, then writing)


ReasonMapOpt = Annotated[
    Path | None,
    typer.Option(
        "--reason-map",
        metavar="FILE",
        help='CSV (from,to) or TOML (from = "to") mapping sent reasons to accepted codes.',
    ),
]
ReasonOpt = Annotated[
    str | None,
    typer.Option(
        "--reason",
        metavar="CODE",
        help="Use this reason for every reason that cannot be fixed otherwise (only when asked).",
    ),
]
TimezoneOpt = Annotated[
    str | None,
    typer.Option(
        "--timezone",
        metavar="TZ",
        help="Time zone of dates written without an offset (e.g. America/New_York).",
    ),
]
EncodingOpt = Annotated[
    str | None,
    typer.Option(
        "--encoding",
        metavar="NAME",
        help="How input files that are not valid UTF-8 are encoded (e.g. cp1252, gb18030); "
        "without it, worked out from their bytes.",
    ),
]
ActionsOpt = Annotated[
    Path | None,
    typer.Option(
        "--actions",
        metavar="FILE",
        help="An impact.com Actions export (CSV/XLSX) to recover IDs spoiled by spreadsheets.",
    ),
]


def _fail(message: str, code: int = EXIT_CANNOT_RUN) -> typer.Exit:
    typer.echo(f"reconciler: {printable(message)}", err=True)
    return typer.Exit(code)


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
            raise _fail(str(exc), exc.exit_code) from None
        except KeyboardInterrupt:
            global _said_interrupted
            _said_interrupted = True
            raise _fail(INTERRUPTED, EXIT_INTERRUPTED) from None
        except BrokenPipeError:
            # The reader of stdout went away (`... | head`): stop quietly, as Unix tools do.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            raise typer.Exit(EXIT_BROKEN_PIPE) from None
        except Exception as exc:
            if debug:
                traceback.print_exc()
            raise _fail(
                f"internal error: {type(exc).__name__}: {exc} "
                "(run again with --debug for the traceback, and please report it)"
            ) from None

    return wrapper


@contextmanager
def _progress(enabled: bool, stages: int) -> Iterator[Callable[[str], None]]:
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


def version_callback(value: bool) -> None:
    if value:
        typer.echo(f"reconciler {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=version_callback, is_eager=True, help="Show the version."
        ),
    ] = False,
) -> None:
    """Reconcile impact.com batch file submissions with the results the platform reported."""


@app.command()
@guarded
def reconcile(
    sent: Annotated[Path, typer.Argument(help="The file that was sent (CSV, TSV/TXT, XLSX, XML).")],
    results: Annotated[
        list[Path],
        typer.Argument(
            metavar="RESULTS",
            help="The results impact.com reported (CSV/TSV, XLSX, JSON): one file, or the "
            "pages of one export and the batch's FtpSubmission status.",
            show_default=False,
        ),
    ],
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Output folder [default: <sent stem>_reconciled/]."),
    ] = None,
    map_: Annotated[
        list[str] | None,
        typer.Option(
            "--map",
            metavar="FIELD=COLUMN",
            help='Name the results column of a field, e.g. --map line="Row #" --map code=Error.',
        ),
    ] = None,
    sheet: Annotated[
        str | None, typer.Option("--sheet", help="Worksheet to read from XLSX inputs.")
    ] = None,
    line_base: Annotated[
        LineBase,
        typer.Option("--line-base", help="How the results number lines (auto: from identifiers)."),
    ] = LineBase.AUTO,
    reason_map: ReasonMapOpt = None,
    reason: ReasonOpt = None,
    timezone: TimezoneOpt = None,
    action_tracker_id: Annotated[
        str | None,
        typer.Option(
            "--action-tracker-id",
            metavar="ID",
            help="Put this event type ID in ActionTrackerId of records refused for it.",
        ),
    ] = None,
    actions: ActionsOpt = None,
    max_rows: Annotated[
        int | None,
        typer.Option(
            "--max-rows",
            min=1,
            metavar="N",
            help="Split the resubmission into resubmit-001.csv, ... of at most N records.",
        ),
    ] = None,
    no_report: Annotated[
        bool, typer.Option("--no-report", help="Do not write report.html.")
    ] = False,
    no_xlsx: Annotated[
        bool,
        typer.Option(
            "--no-xlsx",
            help="Write no workbooks (reconciled.xlsx, needs-attention.xlsx); the CSVs hold "
            "the same rows.",
        ),
    ] = False,
    encoding: EncodingOpt = None,
    require_complete: Annotated[
        bool,
        typer.Option(
            "--require-complete",
            help="Call a record without a listed error accepted only when counts (TotalErrors, "
            "@total) prove the results complete; otherwise it is unknown.",
        ),
    ] = False,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Replace an --out folder not made by reconciler; reconcile results that look "
            "like another file's (records without a result are then unknown).",
        ),
    ] = False,
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Tie every result to the exact record that was sent, classify every error, write outputs."""
    from .detect import parse_map_options
    from .pipeline import ReconcileOptions, fix_options, write_outputs
    from .pipeline import reconcile as run

    overrides = parse_map_options(map_ or [])
    tracker = (action_tracker_id or "").strip()
    if action_tracker_id is not None and not (tracker.isascii() and tracker.isdigit()):
        raise UsageError(
            f"--action-tracker-id {action_tracker_id!r}: give the event type's whole-number ID, in digits 0-9"
        )
    out_dir = out if out is not None else Path.cwd() / f"{sent.stem}_reconciled"
    from .writers import check_out_dir, staging_notes

    check_out_dir(out_dir, [p for p in (sent, *results, reason_map, actions) if p is not None])
    fixes = fix_options(reason_map, reason, timezone, actions, action_tracker_id)
    large = any(p.is_file() and p.stat().st_size > LARGE_INPUT_BYTES for p in (sent, *results))
    with _progress(large, RECONCILE_STAGES) as step:
        rec = run(
            sent,
            results,
            ReconcileOptions(
                overrides=overrides,
                sheet=sheet,
                line_base=line_base,
                fixes=fixes,
                max_rows=max_rows,
                workbooks=not no_xlsx,
                require_complete=require_complete,
                force=force,
                encoding=encoding_name(encoding),
            ),
            progress=step,
        )
        step("writing outputs")
        workbook, report = [], []
        if not no_report or not no_xlsx:
            from reports import render_outputs

            # Two jobs, so the report and the workbook are written in parallel.
            if not no_xlsx:
                workbook.append(functools.partial(render_outputs, html=False, xlsx=True))
            if not no_report:
                report.append(functools.partial(render_outputs, html=True, xlsx=False))
        written = write_outputs(rec, out_dir, force=force, extras=workbook, light_extras=report)
    for note in staging_notes():
        typer.echo(f"reconciler: note: {note}", err=True)
    for warning in rec.remediation.warnings:
        typer.echo(f"reconciler: warning: {warning}", err=True)
    if rec.line_base.warning:
        # Loud: verdicts follow an option the evidence contradicts.
        typer.echo(f"reconciler: warning: {rec.line_base.warning}", err=True)
    if not quiet:
        _print_summary(rec.summary, out_dir, written)
    raise typer.Exit(EXIT_ATTENTION if rec.needs_attention else EXIT_OK)


def encoding_name(encoding: str | None) -> str | None:
    """``--encoding``'s codec, checked: an unknown name is a usage error now, not later."""
    if encoding is None:
        return None
    import codecs

    try:
        return codecs.lookup(encoding.strip()).name
    except LookupError:
        raise UsageError(
            f"--encoding {encoding!r} is not an encoding Python knows; use e.g. cp1252, "
            "latin-1, gb18030, shift_jis"
        ) from None


def _print_summary(summary: dict[str, Any], out_dir: Path, written: list[str]) -> None:
    s = summary
    counts = [f"{s[k]} {k}" for k in ("missing", "pending", "unknown") if s.get(k)]
    if s["ambiguous_records"]:
        counts.append(f"{s['ambiguous_records']} ambiguous")
    typer.echo(
        f"{s['sent_records']} records sent: {s['accepted']} accepted ({s['accepted_pct']}%), "
        f"{s['rejected']} rejected" + "".join(f", {c}" for c in counts)
    )
    done = s["completeness"]
    typer.echo(
        f"  {s['results_tied']} of {s['result_rows']} results tied · results "
        f"{done['label']}: {done['detail']}"
    )
    typer.echo(
        f"  template {s['template']} · results {s['result_shape']} · lines {s['line_base_detail']}"
    )
    if s["by_code"]:
        codes = ", ".join(f"{k} {v}" for k, v in list(s["by_code"].items())[:8])
        more = len(s["by_code"]) - 8
        typer.echo(f"  by code: {codes}" + (f" (+{more} more)" if more > 0 else ""))
    attention = {k: v for k, v in s["by_resolution"].items() if k != "none"}
    if attention:
        typer.echo("  by resolution: " + ", ".join(f"{k} {v}" for k, v in attention.items()))
    money = s.get("money") or {}
    if money.get("amount_column") and money.get("not_applied_total") not in (None, "0.00"):
        currency = money.get("currency") or ""
        typer.echo(
            f"  not applied: {float(money['not_applied_total']):,.2f}"
            + (f" {currency}" if currency and currency != "mixed" else "")
            + (
                f" (mixed currencies: {', '.join(money['currencies'])})"
                if currency == "mixed"
                else ""
            )
            + f" of {money['amount_column']}"
        )
    if s["unmatched_results"]:
        typer.echo(
            f"  {s['unmatched_results']} result row{'' if s['unmatched_results'] == 1 else 's'} "
            "tied to no record: see unmatched_results.csv"
        )
    for warning in s["warnings"]:
        typer.echo(f"  warning: {warning}")
    typer.echo(f"outputs in {out_dir}: {', '.join(written)}")


@app.command()
@guarded
def report(
    out_dir: Annotated[
        Path, typer.Argument(help="An output folder written by reconciler reconcile.")
    ],
    debug: DebugOpt = False,
) -> None:
    """Re-render report.html from an existing output folder."""
    from reports import rerender

    written = rerender(out_dir)
    typer.echo(f"wrote {', '.join(str(out_dir / name) for name in written)}")


@app.command()
@guarded
def codes(debug: DebugOpt = False) -> None:
    """List every platform result code reconciler knows, with its resolution."""
    from .catalogue import load_catalogue

    cat = load_catalogue()
    width = max(len(info.code) for info in cat)
    for info in cat:
        typer.echo(f"{info.code:<{width}}  {info.resolution:<15}  {info.title}")


@app.command()
@guarded
def explain(
    code: Annotated[str, typer.Argument(help="A result code, in any spelling.")],
    debug: DebugOpt = False,
) -> None:
    """Explain one result code: what it means, whether resubmitting helps, what to do."""
    from .catalogue import load_catalogue

    cat = load_catalogue()
    name = cat.normalize(code)
    if not name:
        raise UsageError(f"{code!r} holds no code; try e.g. reconciler explain BAD_DISPOSITION")
    info = cat.get(name)
    typer.echo(f"{info.code}: {info.title}" + ("" if info.known else " (not in the catalogue)"))
    typer.echo(f"  meaning:    {info.meaning}")
    typer.echo(f"  resolution: {info.resolution}")
    if info.error_type:
        typer.echo(f"  error type: {info.error_type}")
    typer.echo(f"  what to do: {info.advice}")
    if info.fields:
        typer.echo(f"  look at:    {', '.join(info.fields)}")
    if info.aliases:
        typer.echo(f"  also seen as: {', '.join(info.aliases)}")
    if not info.known:
        raise typer.Exit(EXIT_ATTENTION)


@app.command()
@guarded
def check(
    file: Annotated[
        Path, typer.Argument(help="The file to check before sending it (CSV, TSV/TXT, XLSX, XML).")
    ],
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Output folder (default: <file stem>_checked/)."),
    ] = None,
    actions: ActionsOpt = None,
    reason_map: ReasonMapOpt = None,
    timezone: TimezoneOpt = None,
    fix: Annotated[
        bool,
        typer.Option(
            "--fix",
            help="Also write <stem>.fixed.csv (UTF-8, commas, safe fixes only) and changes.csv.",
        ),
    ] = False,
    today: Annotated[
        str | None,
        typer.Option(
            "--today",
            metavar="YYYY-MM-DD",
            help="Date that locking dates and EventDate ages are measured from (default: "
            "today, or SOURCE_DATE_EPOCH).",
        ),
    ] = None,
    sheet: Annotated[
        str | None, typer.Option("--sheet", help="Worksheet to read from an XLSX file.")
    ] = None,
    encoding: EncodingOpt = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace an --out folder not made by reconciler.")
    ] = False,
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Check a file before sending it: predict what impact.com would refuse, and why."""
    from datetime import date

    from .pipeline import CheckRunOptions, write_check_outputs
    from .pipeline import check as run_check
    from .writers import check_out_dir, staging_notes

    day: date | None = None
    if today is not None:
        try:
            day = date.fromisoformat(today.strip()) if len(today.strip()) == 10 else None
        except ValueError:
            day = None
        if day is None:
            raise UsageError(f"--today {today!r}: give a date as YYYY-MM-DD, e.g. 2025-02-20")
    out_dir = out if out is not None else Path.cwd() / f"{file.stem}_checked"
    check_out_dir(out_dir, [p for p in (file, actions, reason_map) if p is not None])
    run = run_check(
        file,
        CheckRunOptions(
            sheet=sheet,
            encoding=encoding_name(encoding),
            today=day,
            fix=fix,
            reason_map=reason_map,
            actions=actions,
            timezone=timezone,
        ),
    )
    result, fixed = run.result, run.fixed
    written = write_check_outputs(run, out_dir, force=force)
    for note in staging_notes():
        typer.echo(f"reconciler: note: {note}", err=True)
    if fixed is not None:
        for warning in fixed.warnings:
            typer.echo(f"reconciler: warning: {warning}", err=True)
    if not quiet:
        s = result.summary()
        typer.echo(
            f"{s['records']} records checked ({s['template_title'].lower()}): "
            f"{s['errors']} errors on {s['records_with_errors']} records, {s['warnings']} warnings"
        )
        if s["by_finding"]:
            top = list(s["by_finding"].items())
            text = ", ".join(f"{k} {v}" for k, v in top[:8])
            typer.echo(f"  findings: {text}" + (f" (+{len(top) - 8} more)" if len(top) > 8 else ""))
        for note in s["header_notes"]:
            typer.echo(f"  note: {note}")
        if s["hidden_sheets_skipped"]:
            typer.echo(
                f"  read sheet {s['sheet']!r}, the first visible one; hidden sheets skipped: "
                f"{s['hidden_sheets_skipped']} (name another with --sheet)"
            )
        if fixed is not None:
            typer.echo(
                f"  --fix corrected {len(fixed.changes)} cells on {fixed.fixed_records} records"
            )
        typer.echo(f"outputs in {out_dir}: {', '.join(written)}")
    raise typer.Exit(EXIT_ATTENTION if result.errors else EXIT_OK)
