"""The command line's options, declared once (``Annotated`` types the commands share) with
the checks of their values: a bad value is a usage error before anything is read. Also how
typer converts their values (``_plain_values_without_pydantic``)."""

from __future__ import annotations

import codecs
import re
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer

from .errors import UsageError
from .model import LineBase


def _plain_values_without_pydantic() -> None:
    """Option values are converted without pydantic where that is plain.

    typer (0.2x) converts every option through a pydantic ``TypeAdapter``, even one left at
    its default: importing pydantic and building the adapters costs about 0.1 s of every run,
    more than reading a small file. An option left unset (None) or at a default already of
    its type needs no conversion; a text or path option with no checks on it (most of ours)
    needs ``str(value)`` or ``Path(value)``, which is what the adapter returns; a plain
    number within its bounds, or a choice spelled exactly, is read as the adapter reads it.
    Any other value still goes through typer's own conversion, with its messages. Where
    typer's internals differ (another release) nothing is changed."""
    try:
        from dataclasses import dataclass
        from enum import Enum
        from types import UnionType
        from typing import Union, get_args, get_origin

        from typer._coercion import RuntimeParam, build_runtime_param
        from typer.core import _TyperParameter
    except ImportError:  # another typer release: its own conversion, unchanged
        return
    if not hasattr(_TyperParameter, "get_runtime_param") or not hasattr(RuntimeParam, "coerce"):
        return

    def base_type(annotation: Any) -> Any:
        """``X`` of ``X``, ``X | None`` and ``list[X]``; None for anything else."""
        if get_origin(annotation) in (Union, UnionType):
            args = [a for a in get_args(annotation) if a is not type(None)]
            annotation = args[0] if len(args) == 1 else None
        if get_origin(annotation) is list:
            (annotation,) = get_args(annotation) or (None,)
        return annotation if isinstance(annotation, type) else None

    def unchecked(info: Any) -> bool:
        return not (
            info.parser is not None
            or getattr(info, "click_type", None) is not None
            or info.exists
            or info.resolve_path
            or info.allow_dash
            or info.path_type is not None
            or not info.file_okay
            or not info.dir_okay
            or info.writable
        )

    def typed(kind: type, info: Any, value: str) -> Any:
        """A number or a choice typed in its plainest form, within its bounds; None for
        anything else (typer then converts it, or says why it cannot)."""
        if issubclass(kind, Enum):

            def fold(text: str) -> str:
                return text if info.case_sensitive else text.casefold()

            found = [m for m in kind if isinstance(m.value, str) and fold(m.value) == fold(value)]
            return found[0] if len(found) == 1 else None
        if kind is int and re.fullmatch(r"-?(0|[1-9][0-9]{0,17})", value):
            number: float = int(value)
        elif kind is float and re.fullmatch(r"-?(0|[1-9][0-9]{0,14})(\.[0-9]{1,15})?", value):
            number = float(value)
        else:
            return None
        if info.clamp or (info.min is not None and number < info.min):
            return None
        if info.max is not None and number > info.max:
            return None
        return number

    @dataclass(frozen=True)
    class Plain(RuntimeParam):
        descriptor: Any = None

        def coerce(self, value: Any, param: Any, ctx: Any) -> Any:
            kind = base_type(self.annotation)
            if value is None:
                return super().coerce(value, param, ctx)  # None, or () for a list
            if (
                kind is not None
                and type(value) not in (str, list, tuple)
                and isinstance(value, kind)
            ):
                return value  # a default already of its type
            plain = kind in (str, Path) and self.descriptor.file_annotation is None
            if plain and unchecked(self.parameter_info):
                return super().coerce(value, param, ctx)
            if type(value) is str and kind is not None:
                known = typed(kind, self.parameter_info, value)
                if known is not None:
                    return known
            return build_runtime_param(self.descriptor).coerce(value, param=param, ctx=ctx)

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            one = Path if base_type(self.annotation) is Path else str
            if isinstance(value, list | tuple):
                return [v if isinstance(v, one) else one(v) for v in value]
            return value if isinstance(value, one) else one(value)

    original = _TyperParameter.get_runtime_param

    def get_runtime_param(self: Any) -> Any:
        if self._runtime_param is None:
            d = self.type_descriptor
            kind = base_type(d.annotation)
            if kind is not None and (
                kind in (str, Path, int, float, bool) or issubclass(kind, Enum)
            ):
                self._runtime_param = Plain(
                    parameter_info=d.parameter_info, annotation=d.annotation, descriptor=d
                )
        return original(self)

    setattr(_TyperParameter, "get_runtime_param", get_runtime_param)  # noqa: B010


_plain_values_without_pydantic()


def _given(what: str) -> Any:
    """A callback refusing an empty (or blank) value: ``--timezone ""`` would otherwise read
    as the option left out, silently. ``what``: what to give instead."""

    def check(value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise typer.BadParameter(f"{value!r} is empty; give {what}, or leave the option out")
        return value

    return check


Debug = Annotated[bool, typer.Option("--debug", help="Show the traceback of a failure.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing on success.")]
Sheet = Annotated[
    str | None,
    typer.Option(
        "--sheet",
        metavar="NAME",
        help="Worksheet to read from XLSX inputs.",
        callback=_given("the name of a worksheet"),
    ),
]
Force = Annotated[
    bool,
    typer.Option(
        "--force",
        help="Replace an --out folder not made by reconciler (reconcile: and go on with "
        "results that look like another file's; records without a result are then unknown).",
    ),
]
ReasonMap = Annotated[
    Path | None,
    typer.Option(
        "--reason-map",
        metavar="FILE",
        help='CSV (from,to) or TOML (from = "to") mapping sent reasons to accepted codes.',
    ),
]
Reason = Annotated[
    str | None,
    typer.Option(
        "--reason",
        metavar="CODE",
        help="Use this reason for every reason that cannot be fixed otherwise (only when asked).",
    ),
]
Timezone = Annotated[
    str | None,
    typer.Option(
        "--timezone",
        metavar="TZ",
        help="Time zone of dates written without an offset (e.g. America/New_York).",
        callback=_given("a time zone such as America/New_York"),
    ),
]
Encoding = Annotated[
    str | None,
    typer.Option(
        "--encoding",
        metavar="NAME",
        help="How input files that are not valid UTF-8 are encoded (e.g. cp1252, gb18030); "
        "without it, worked out from their bytes.",
    ),
]
Actions = Annotated[
    Path | None,
    typer.Option(
        "--actions",
        metavar="FILE",
        help="An impact.com Actions export (CSV/XLSX) to recover IDs spoiled by spreadsheets.",
    ),
]

Map = Annotated[
    list[str] | None,
    typer.Option(
        "--map",
        metavar="FIELD=COLUMN",
        help='Name the results column of a field, e.g. --map line="Row #" --map code=Error.',
    ),
]

LineBaseOpt = Annotated[
    LineBase,
    typer.Option("--line-base", help="How the results number lines (auto: from identifiers)."),
]

TrackerId = Annotated[
    str | None,
    typer.Option(
        "--action-tracker-id",
        metavar="ID",
        help="Put this event type ID in ActionTrackerId of records refused for it.",
    ),
]

# Every number has an upper bound: a value past it means nothing here, and one past 2**63
# would reach the ledger's database as an integer it cannot store.
MAX_ROWS_LIMIT = 5_000_000  # the most records an input may hold (readers.limits.MAX_RECORDS)
MAX_TIMEOUT_S = 7 * 24 * 3600.0  # a week

MaxRows = Annotated[
    int | None,
    typer.Option(
        "--max-rows",
        min=1,
        max=MAX_ROWS_LIMIT,
        metavar="N",
        help="Split the resubmission into resubmit-001.csv, ... of at most N records.",
    ),
]

NoReport = Annotated[bool, typer.Option("--no-report", help="Do not write report.html.")]

NoXlsx = Annotated[
    bool,
    typer.Option(
        "--no-xlsx",
        help="Write no workbooks (reconciled.xlsx, needs-attention.xlsx); the CSVs hold "
        "the same rows.",
    ),
]

RequireComplete = Annotated[
    bool,
    typer.Option(
        "--require-complete",
        help="Call a record without a listed error accepted only when counts (TotalErrors, "
        "@total) prove the results complete; otherwise it is unknown.",
    ),
]

Fix = Annotated[
    bool,
    typer.Option(
        "--fix",
        help="Also write <stem>.fixed.csv (UTF-8, commas, safe fixes only) and changes.csv.",
    ),
]

Today = Annotated[
    str | None,
    typer.Option(
        "--today",
        metavar="YYYY-MM-DD",
        help="Date that locking dates and EventDate ages are measured from (default: "
        "today, or SOURCE_DATE_EPOCH).",
    ),
]

Batch = Annotated[
    str | None,
    typer.Option(
        "--batch",
        metavar="BATCH_ID",
        help="Fetch the results of this batch from the Brand API instead of giving RESULTS "
        "(kept in the output folder).",
        callback=_given("the batch's ID (F-... or A-...)"),
    ),
]
Wait = Annotated[
    bool,
    typer.Option("--wait", help="Poll a Queued or In Progress batch until it is Complete."),
]
WaitTimeout = Annotated[
    float,
    typer.Option(
        "--timeout",
        min=0,
        max=MAX_TIMEOUT_S,
        metavar="S",
        help="Give up --wait after S seconds (at most a week).",
    ),
]
Since = Annotated[
    str | None,
    typer.Option("--since", metavar="YYYY-MM-DD", help="First day of submissions."),
]
Until = Annotated[
    str | None,
    typer.Option("--until", metavar="YYYY-MM-DD", help="Last day of submissions."),
]

Ledger = Annotated[
    str | None,
    typer.Option(
        "--ledger",
        metavar="PATH|URL",
        help="The ledger: an SQLite file, or a database URL (postgresql://...) shared by a "
        "team (default: RECONCILER_LEDGER, else ledger.sqlite in your data folder).",
    ),
]
NoLedger = Annotated[
    bool, typer.Option("--no-ledger", help="Do not record this run in the ledger.")
]
Again = Annotated[
    bool,
    typer.Option(
        "--again",
        help="Resubmit corrected rows even when the ledger shows the same row sent, or "
        "written to be sent, before.",
    ),
]


def ledger(given: str | None, off: bool) -> str | None:
    """The ledger's URL for this run (None: off), checked (``ledger.prepare``): a URL the
    ledger cannot use is a usage error now, not later."""
    import os

    from .ledger import ledger_url, prepare

    if off:
        return None
    if given is not None and not given.strip():
        raise UsageError(
            f"--ledger {given!r}: give an SQLite file or a database URL, or --no-ledger"
        )
    url = ledger_url(given)
    if url is None:
        return None
    env = os.environ.get("RECONCILER_LEDGER", "").strip()
    source = "--ledger" if given is not None else "RECONCILER_LEDGER"
    prepare(url, source, given=given if given is not None else env, default=not (given or env))
    return url


_ZIP = b"PK\x03\x04"  # how every workbook (a zip) starts, whatever its name


def sheet_inputs(sheet: str | None, inputs: list[Path | None]) -> None:
    """Refuse ``--sheet`` when no input is a workbook: it would be ignored, silently. An
    input that cannot be read is not held against it (its reader says what is wrong)."""
    if sheet is None:
        return
    named = [path for path in inputs if path is not None]
    for path in named:
        if path.suffix.lower() in (".xlsx", ".xlsm"):
            return
        try:
            with path.open("rb") as handle:
                if handle.read(len(_ZIP)) == _ZIP:
                    return
        except OSError:
            return
    files = ", ".join(path.name for path in named)
    raise UsageError(
        f"--sheet {sheet!r}: no input is a workbook ({files}); --sheet names the worksheet "
        "to read from an XLSX input: leave it out"
    )


def day(value: str | None, option: str) -> date | None:
    """A ``YYYY-MM-DD`` option, checked."""
    if value is None:
        return None
    text = value.strip()
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
    except ValueError:
        pass
    raise UsageError(f"{option} {value!r}: give a date as YYYY-MM-DD, e.g. 2026-11-30")


def out_option(default: str) -> object:
    """``--out``/``-o``, its default named in the help."""
    return typer.Option("--out", "-o", metavar="DIR", help=f"Output folder (default: {default}).")


def encoding_name(encoding: str | None) -> str | None:
    """``--encoding``'s codec, checked: an unknown name is a usage error now, not later."""
    if encoding is None:
        return None
    try:
        return codecs.lookup(encoding.strip()).name
    except LookupError:
        raise UsageError(
            f"--encoding {encoding!r} is not an encoding Python knows; use e.g. cp1252, "
            "latin-1, gb18030, shift_jis"
        ) from None


def today_date(today: str | None) -> date | None:
    """``--today YYYY-MM-DD``, checked."""
    if today is None:
        return None
    day: date | None = None
    try:
        day = date.fromisoformat(today.strip()) if len(today.strip()) == 10 else None
    except ValueError:
        day = None
    if day is None:
        raise UsageError(f"--today {today!r}: give a date as YYYY-MM-DD, e.g. 2025-02-20")
    return day


def tracker_id(value: str | None) -> str | None:
    """``--action-tracker-id``, checked: an event type's whole-number ID."""
    tracker = (value or "").strip()
    if value is not None and not (tracker.isascii() and tracker.isdigit()):
        raise UsageError(
            f"--action-tracker-id {value!r}: give the event type's whole-number ID, in digits 0-9"
        )
    return value


UpdatesFiles = Annotated[
    list[Path] | None,
    typer.Option(
        "--updates",
        metavar="FILE",
        help="The platform's ActionUpdates (JSON pages, CSV or XLSX) or an Actions export, to "
        "confirm what was applied; repeat for several files.",
    ),
]
Submitted = Annotated[
    str | None,
    typer.Option(
        "--submitted",
        metavar="DATE",
        help="When the batch was submitted (default: the results' SubmissionDate); changes "
        "from then on count.",
        callback=_given("a date such as 2026-11-05"),
    ),
]
UpdatesComplete = Annotated[
    bool,
    typer.Option(
        "--updates-complete",
        help="The updates list every change of the file's actions in their window: an action "
        "they do not list was not changed (not_applied, not not_in_updates).",
    ),
]
FetchUpdates = Annotated[
    bool,
    typer.Option(
        "--fetch-updates",
        help="With --batch: fetch the platform's ActionUpdates from the batch's submission on "
        "(kept in the output folder) and confirm against them.",
    ),
]
