"""Command line: parses the options, calls one chain of ``pipeline``, prints what it returns.

Exit codes: 0 nothing needs attention, 1 records need attention (outputs written), 2 could not
run, 130 interrupted. The options are declared in ``options``; failures, the progress bar and
the printed summaries are ``console``'s.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from . import __version__, options
from .console import (
    OneLineUsageErrors,
    guarded,
    is_large,
    notes,
    print_attempts,
    print_audit,
    print_check,
    print_history,
    print_reconciliation,
    print_submissions,
    progress,
    waiting,
)
from .errors import EXIT_ATTENTION, EXIT_CANNOT_RUN, EXIT_OK, UsageError
from .model import FixFiles, LineBase

app = typer.Typer(
    name="reconciler",
    cls=OneLineUsageErrors,
    help="Reconcile impact.com batch file submissions with the results the platform reported.",
    no_args_is_help=False,  # bare `reconciler`: a short usage (_root), not the help box
    add_completion=False,
    pretty_exceptions_enable=False,
)

RECONCILE_STAGES = 9  # the progress steps of reconcile (pipeline.reconcile's, then writing)
LEDGER_STAGES = 1  # and with the ledger: looking up earlier batches
# and with --updates: reading each updates file, confirming


def version_callback(value: bool) -> None:
    if value:
        typer.echo(f"reconciler {__version__}")
        raise typer.Exit()


@app.callback(invoke_without_command=True)
def _root(
    ctx: typer.Context,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=version_callback, is_eager=True, help="Show the version."
        ),
    ] = False,
) -> None:
    """Reconcile impact.com batch file submissions with the results the platform reported."""
    if ctx.invoked_subcommand is None:  # bare `reconciler`: the commands, one line each
        group = ctx.command
        assert isinstance(group, typer.core.TyperGroup)
        names = group.list_commands(ctx)
        width = max(len(name) for name in names)
        path = ctx.command_path
        lines = [f"Usage: {path} [OPTIONS] COMMAND [ARGS]...", "Commands:"]
        for name in names:
            command = group.get_command(ctx, name)
            about = command.get_short_help_str(limit=80 - width) if command else ""
            lines.append(f"  {name:<{width}}  {about}")
        lines.append(f"Try '{path} COMMAND --help' for a command's arguments and options.")
        typer.echo("\n".join(lines), err=True)
        raise typer.Exit(EXIT_CANNOT_RUN)


@app.command()
@guarded
def reconcile(
    sent: Annotated[Path, typer.Argument(help="The file that was sent (CSV, TSV/TXT, XLSX, XML).")],
    results: Annotated[
        list[Path] | None,
        typer.Argument(
            metavar="RESULTS",
            help="The results impact.com reported (CSV/TSV, XLSX, JSON): one file, or the "
            "pages of one export and the batch's FtpSubmission status. Or --batch.",
            show_default=False,
        ),
    ] = None,
    batch: options.Batch = None,
    wait: options.Wait = False,
    timeout: options.WaitTimeout = 600.0,
    out: Annotated[Path | None, options.out_option("<sent stem>_reconciled/")] = None,
    map_: options.Map = None,
    sheet: options.Sheet = None,
    line_base: options.LineBaseOpt = LineBase.AUTO,
    reason_map: options.ReasonMap = None,
    reason: options.Reason = None,
    timezone: options.Timezone = None,
    action_tracker_id: options.TrackerId = None,
    actions: options.Actions = None,
    max_rows: options.MaxRows = None,
    no_report: options.NoReport = False,
    no_xlsx: options.NoXlsx = False,
    encoding: options.Encoding = None,
    require_complete: options.RequireComplete = False,
    force: options.Force = False,
    ledger: options.Ledger = None,
    no_ledger: options.NoLedger = False,
    again: options.Again = False,
    updates: options.UpdatesFiles = None,
    submitted: options.Submitted = None,
    updates_complete: options.UpdatesComplete = False,
    fetch_updates: options.FetchUpdates = False,
    quiet: options.Quiet = False,
    debug: options.Debug = False,
) -> None:
    """Tie every result to the exact record that was sent, classify every error, write outputs."""
    from .detect import parse_map_options
    from .pipeline import ReconcileOptions
    from .pipeline import reconcile as run
    from .writers import staging_notes

    options.sheet_inputs(sheet, [sent, *(results or [])])
    settings = ReconcileOptions(
        overrides=parse_map_options(map_ or []),
        sheet=sheet,
        line_base=line_base,
        fix_files=FixFiles(
            reason_map=reason_map,
            reason=reason,
            timezone=timezone,
            actions=actions,
            action_tracker_id=options.tracker_id(action_tracker_id),
        ),
        max_rows=max_rows,
        workbooks=not no_xlsx,
        report=not no_report,
        require_complete=require_complete,
        force=force,
        encoding=options.encoding_name(encoding),
        ledger=options.ledger(ledger, no_ledger),
        again=again,
        updates=tuple(updates or ()),
        submitted=submitted,
        updates_complete=updates_complete,
        fetch_updates=fetch_updates,
    )
    if updates_complete and not (updates or fetch_updates):
        raise UsageError("--updates-complete says something about --updates FILE: give the file")
    if fetch_updates and not batch:
        raise UsageError(
            "--fetch-updates fetches with --batch BATCH_ID (its SubmissionDate starts the "
            "window); with results files, give the updates with --updates FILE"
        )
    out_dir = out if out is not None else Path.cwd() / f"{sent.stem}_reconciled"
    if bool(results) == bool(batch):
        raise UsageError(
            "give the results files after the sent file, or --batch BATCH_ID to fetch them "
            "(one or the other)"
        )
    stages = (
        RECONCILE_STAGES
        + (LEDGER_STAGES if settings.ledger is not None else 0)
        + (1 if settings.updates or settings.fetch_updates else 0)
        + (1 if settings.fetch_updates else 0)
    )
    with progress(is_large([sent, *(results or [])]), stages) as step:
        if batch:
            from .remote import reconcile_batch

            rec = reconcile_batch(
                sent, batch, settings, out=out_dir, wait=wait, timeout=timeout, progress=step
            )
        else:
            rec = run(sent, results or [], settings, out=out_dir, progress=step)
    notes(staging_notes())
    notes(rec.remediation.warnings, "warning")
    if rec.line_base.warning:  # loud: verdicts follow an option the evidence contradicts
        notes([rec.line_base.warning], "warning")
    if not quiet:
        print_reconciliation(rec.summary, out_dir)
        if settings.ledger is not None:
            from .ledger.location import shown

            typer.echo(f"recorded in the ledger {shown(settings.ledger)}")
    raise typer.Exit(EXIT_ATTENTION if rec.needs_attention else EXIT_OK)


@app.command()
@guarded
def report(
    out_dir: Annotated[
        Path, typer.Argument(help="An output folder written by reconciler reconcile.")
    ],
    debug: options.Debug = False,
) -> None:
    """Re-render report.html from an existing output folder."""
    from reports import rerender

    from .writers import staging_notes

    written = rerender(out_dir)
    notes(staging_notes())  # a report.html kept aside
    typer.echo(f"wrote {', '.join(str(out_dir / name) for name in written)}")


@app.command()
@guarded
def codes(debug: options.Debug = False) -> None:
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
    debug: options.Debug = False,
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
        near = cat.nearest(code)
        if near:
            typer.echo(f"  did you mean: {', '.join(near)}?")
        raise typer.Exit(EXIT_ATTENTION)


@app.command()
@guarded
def check(
    file: Annotated[
        Path, typer.Argument(help="The file to check before sending it (CSV, TSV/TXT, XLSX, XML).")
    ],
    out: Annotated[Path | None, options.out_option("<file stem>_checked/")] = None,
    actions: options.Actions = None,
    reason_map: options.ReasonMap = None,
    timezone: options.Timezone = None,
    fix: options.Fix = False,
    today: options.Today = None,
    sheet: options.Sheet = None,
    encoding: options.Encoding = None,
    force: options.Force = False,
    quiet: options.Quiet = False,
    debug: options.Debug = False,
) -> None:
    """Check a file before sending it: predict what impact.com would refuse, and why."""
    from .pipeline import CheckRunOptions
    from .pipeline import check as run_check
    from .writers import staging_notes

    options.sheet_inputs(sheet, [file])
    settings = CheckRunOptions(
        sheet=sheet,
        encoding=options.encoding_name(encoding),
        today=options.today_date(today),
        fix=fix,
        reason_map=reason_map,
        actions=actions,
        timezone=timezone,
        force=force,
    )
    out_dir = out if out is not None else Path.cwd() / f"{file.stem}_checked"
    run = run_check(file, settings, out=out_dir)
    notes(staging_notes())
    if run.fixed is not None:
        notes(run.fixed.warnings, "warning")
    if not quiet:
        print_check(run, out_dir)
    raise typer.Exit(EXIT_ATTENTION if run.result.errors else EXIT_OK)


@app.command()
@guarded
def fetch(
    batch_id: Annotated[str, typer.Argument(help="The batch: F-... (a file) or A-... (API).")],
    out: Annotated[Path | None, options.out_option("<BATCH_ID>/")] = None,
    wait: options.Wait = False,
    timeout: options.WaitTimeout = 600.0,
    force: options.Force = False,
    quiet: options.Quiet = False,
    debug: options.Debug = False,
) -> None:
    """Fetch a batch's status and every page of its errors from the Brand API, as files
    reconcile reads (the raw JSON, byte for byte)."""
    from .api import check_batch_id
    from .remote import fetch as run_fetch

    name = check_batch_id(batch_id)
    out_dir = out if out is not None else Path.cwd() / name
    with waiting() as say:
        run = run_fetch(name, out_dir, wait=wait, timeout=timeout, force=force, progress=say)
    from .writers import staging_notes

    notes(staging_notes())  # files in the way, kept aside
    snap = run.snapshot
    if not quiet:
        state = snap.status or "of unknown status"
        counts = (
            f", {snap.total_records} records, {snap.total_errors} errors"
            if snap.total_records
            else ""
        )
        typer.echo(f"batch {snap.batch_id} is {state}{counts}")
        typer.echo(f"outputs in {out_dir}: {', '.join(run.outputs)}")
    raise typer.Exit(EXIT_OK if snap.complete else EXIT_ATTENTION)


@app.command()
@guarded
def submissions(
    since: options.Since = None,
    until: options.Until = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    debug: options.Debug = False,
) -> None:
    """List the account's FTP file submissions (BatchId, FileName, Type, Status, ...)."""
    from .remote import submissions as run_submissions

    rows = run_submissions(options.day(since, "--since"), options.day(until, "--until"))
    print_submissions(rows, as_json=as_json)


@app.command()
@guarded
def audit(
    since: Annotated[
        str, typer.Option("--since", metavar="YYYY-MM-DD", help="First day of submissions.")
    ],
    sent_dir: Annotated[
        Path,
        typer.Option("--sent-dir", metavar="DIR", help="The folder of the files that were sent."),
    ],
    until: options.Until = None,
    out: Annotated[Path | None, options.out_option("audit_<since>/")] = None,
    no_xlsx: options.NoXlsx = False,
    ledger: options.Ledger = None,
    no_ledger: options.NoLedger = False,
    quiet: options.Quiet = False,
    debug: options.Debug = False,
) -> None:
    """Reconcile every completed submission of a window whose file is in --sent-dir, with one
    index page (index.html, index.csv) of them all; each batch is recorded in the ledger."""
    from .pipeline import ReconcileOptions
    from .remote import audit as run_audit

    first = options.day(since, "--since")
    assert first is not None
    out_dir = out if out is not None else Path.cwd() / f"audit_{first.isoformat()}"
    with waiting() as say:
        run = run_audit(
            first,
            options.day(until, "--until"),
            sent_dir,
            out_dir,
            ReconcileOptions(workbooks=not no_xlsx, ledger=options.ledger(ledger, no_ledger)),
            progress=say,
        )
    from reports.audit import AUDIT_NOTES

    notes(AUDIT_NOTES)  # an index the analyst edited, kept aside
    if not quiet:
        print_audit(run)
    raise typer.Exit(EXIT_ATTENTION if run.needs_attention else EXIT_OK)


@app.command()
@guarded
def history(
    since: options.Since = None,
    batch: Annotated[
        str | None,
        typer.Option("--batch", metavar="ID", help="One batch (its BatchId or file name)."),
    ] = None,
    record: Annotated[
        str | None,
        typer.Option(
            "--record",
            metavar="KEY",
            help="One record's attempts: an ActionId, an Oid, or a key a:<ActionId>, "
            "o:<Oid>|<ActionTrackerId>.",
        ),
    ] = None,
    export: Annotated[
        Path | None,
        typer.Option("--export", metavar="DIR", help="Write every table as CSV into DIR."),
    ] = None,
    ledger: options.Ledger = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of lines.")] = False,
    force: options.Force = False,
    debug: options.Debug = False,
) -> None:
    """The batches the ledger remembers (records, acceptance, codes and their trend), one
    record's attempts, or every table as CSV."""
    from .ledger import queries
    from .ledger.store import open_ledger

    url = options.ledger(ledger, False)
    if url is None:
        raise UsageError("the ledger is off (RECONCILER_LEDGER); name one with --ledger")
    first = options.day(since, "--since")
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        # Asking must not create a ledger.
        typer.echo(f"the ledger {url} does not exist yet: reconcile records the first batch")
        return
    opened = open_ledger(url)
    try:
        rows = queries.select_batches(
            opened.batches(since=first.isoformat() if first else None), batch
        )
        if batch is not None and not rows:
            raise UsageError(f"the ledger {opened.where} knows no batch {batch!r}")
        if export is not None:
            from .writers import staged_output, write_csv

            frames = queries.export_frames(opened, rows)
            with staged_output(export, force=force) as stage:
                for name, frame in frames.items():
                    write_csv(frame, stage / name, safe=True)
            from .writers import staging_notes

            notes(staging_notes())  # files in the way, kept aside
            typer.echo(f"outputs in {export}: {', '.join(sorted(frames))}")
            return
        if record is not None:
            print_attempts(record, queries.attempts(opened, rows, record.strip()), as_json=as_json)
            return
    finally:
        opened.close()
    print_history(rows, queries.trend(rows), opened.where, as_json=as_json)
