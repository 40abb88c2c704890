"""Opening a ledger and recording a run in it.

Where: ``--ledger PATH`` (an SQLite file), ``--ledger URL`` or ``RECONCILER_LEDGER``
(``sqlite:///...``, ``postgresql://...`` for a team's shared database), else ``ledger.sqlite``
in the user's data folder (``platformdirs``). ``--no-ledger`` (or ``RECONCILER_LEDGER=off``)
turns it off.

A ledger is opened, its schema checked (and created or migrated) before a run reads its
inputs, so a corrupt or newer ledger stops the run with one line before anything is written.
Recording happens once the outputs are in place, in one transaction: a second process
recording at the same moment waits for it (SQLite: an immediate transaction and a busy
timeout; PostgreSQL: row locks), and a run recorded twice leaves one entry, updated.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Engine,
    create_engine,
    delete,
    event,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, SQLAlchemyError

from reconciler.errors import EXIT_CANNOT_RUN, ReconcilerError, UsageError

from . import schema

BUSY_SECONDS = 60  # how long SQLite waits for another process's transaction


class LedgerError(ReconcilerError):
    """The ledger cannot be used: one line, exit 2."""

    exit_code = EXIT_CANNOT_RUN


def describe(url: str) -> str:
    """The URL with any password hidden (for messages and the summary)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "the ledger"


@dataclass(frozen=True, slots=True)
class RunRecord:
    """What one reconcile run tells the ledger."""

    batch_key: str
    batch_id: str | None
    file_name: str
    sent_sha256: str
    template: str
    counts: Mapping[str, int]
    results_complete: bool
    completeness: str
    submitted_at: str | None
    reconciled_at: str
    tool_version: str
    out_dir: str | None
    codes: Mapping[str, int]
    records: int
    records_format: str  # how ``records_data`` is encoded (entries.RECORDS_FORMAT)
    records_data: bytes  # every record, in sent order (entries.encode_records)
    resubmissions: Sequence[tuple[str, str, int]]  # (file name, sha256, records)


def own_entry(
    entries: Sequence[tuple[int, str, str | None, str]], batch_id: str | None, sha256: str
) -> int | None:
    """Which of ``entries`` (id, batch key, BatchId, sent file's SHA-256) is the batch a run
    reconciles, so that reconciling it again updates that entry: the entry of the same
    BatchId; else, the same sent file recorded without a BatchId (results that name the batch
    now); for results that name no batch, the latest entry of the same sent file."""
    if batch_id is not None:
        for entry, key, _bid, _sha in entries:
            if key == f"batch:{batch_id}":
                return entry
    for entry, key, _bid, _sha in entries:
        if key == f"file:{sha256}":
            return entry
    if batch_id is None:
        same = [entry for entry, _key, _bid, sha in entries if sha == sha256]
        if same:
            return max(same)
    return None


class Ledger:
    """An open ledger (its schema checked)."""

    def __init__(self, engine: Engine, where: str) -> None:
        self.engine = engine
        self.where = where

    def close(self) -> None:
        self.engine.dispose()

    def record(self, run: RunRecord) -> int:
        """Record a run (replacing an earlier entry of the same batch); the entry's id."""
        try:
            with self.engine.begin() as conn:
                _serialise(conn)
                b = schema.batches.c
                same = conn.execute(
                    select(b.id, b.batch_key, b.batch_id, b.sent_sha256)
                    .where(
                        or_(
                            b.batch_key.in_([run.batch_key, f"file:{run.sent_sha256}"]),
                            b.sent_sha256 == run.sent_sha256,
                        )
                    )
                    .with_for_update()
                ).all()
                found = own_entry(
                    [(int(r[0]), str(r[1]), r[2], str(r[3])) for r in same],
                    run.batch_id,
                    run.sent_sha256,
                )
                batch_key, batch_id = run.batch_key, run.batch_id
                if found is not None and batch_id is None:
                    # Reconciled again from results that do not name the batch: the entry
                    # keeps the BatchId it was recorded under.
                    kept = next(r for r in same if int(r[0]) == found)
                    batch_key, batch_id = str(kept[1]), kept[2]
                values: dict[str, Any] = {
                    "batch_key": batch_key,
                    "batch_id": batch_id,
                    "file_name": run.file_name,
                    "sent_sha256": run.sent_sha256,
                    "template": run.template,
                    "results_complete": run.results_complete,
                    "completeness": run.completeness,
                    "submitted_at": run.submitted_at,
                    "reconciled_at": run.reconciled_at,
                    "tool_version": run.tool_version,
                    "out_dir": run.out_dir,
                    **{k: int(run.counts.get(k, 0)) for k in _COUNTS},
                }
                if found is None:
                    entry = int(
                        conn.execute(
                            insert(schema.batches).values(values).returning(schema.batches.c.id)
                        ).scalar_one()
                    )
                else:
                    entry = int(found)
                    for table in (
                        schema.batch_records,
                        schema.batch_codes,
                        schema.resubmissions,
                    ):
                        conn.execute(delete(table).where(table.c.batch == entry))
                    conn.execute(
                        update(schema.batches).where(schema.batches.c.id == entry).values(values)
                    )
                if run.codes:
                    conn.execute(
                        insert(schema.batch_codes),
                        [{"batch": entry, "code": c, "records": n} for c, n in run.codes.items()],
                    )
                if run.resubmissions:
                    conn.execute(
                        insert(schema.resubmissions),
                        [
                            {"batch": entry, "file_name": f, "sha256": h, "records": n}
                            for f, h, n in run.resubmissions
                        ],
                    )
                conn.execute(
                    insert(schema.batch_records).values(
                        batch=entry,
                        format=run.records_format,
                        rows=run.records,
                        data=run.records_data,
                    )
                )
            return entry
        except SQLAlchemyError as exc:
            raise LedgerError(
                f"cannot record the run in the ledger {self.where} ({_reason(exc)}); the "
                "outputs are written; run again with --no-ledger to skip it"
            ) from None

    def batches(self, since: str | None = None) -> list[dict[str, Any]]:
        """Every batch entry (newest reconciled last), with its codes."""
        b = schema.batches
        query = select(b).order_by(b.c.reconciled_at, b.c.id)
        if since:
            query = query.where(b.c.reconciled_at >= since)
        with self.engine.connect() as conn:
            rows = [dict(r._mapping) for r in conn.execute(query)]
            codes: dict[int, dict[str, int]] = {}
            c = schema.batch_codes.c
            for batch, code, n in conn.execute(select(c.batch, c.code, c.records)):
                codes.setdefault(int(batch), {})[str(code)] = int(n)
        for row in rows:
            row["codes"] = dict(sorted(codes.get(row["id"], {}).items(), key=lambda kv: -kv[1]))
        return rows

    def resubmissions(self) -> list[dict[str, Any]]:
        r = schema.resubmissions
        with self.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(select(r).order_by(r.c.id))]

    def records_of(self, entry: int) -> tuple[str, bytes] | None:
        """The encoded records of one batch entry (format, data)."""
        r = schema.batch_records.c
        with self.engine.connect() as conn:
            row = conn.execute(select(r.format, r.data).where(r.batch == entry)).one_or_none()
        return None if row is None else (str(row[0]), bytes(row[1]))


_COUNTS = (
    "records", "accepted", "rejected", "missing", "pending", "unknown", "ambiguous",
    "auto_fixed", "needs_attention_records",
)  # fmt: skip


def open_ledger(url: str) -> Ledger:
    """Open the ledger at ``url``, creating or migrating its schema; ``LedgerError`` (one line)
    when it cannot be used."""
    where = describe(url)
    try:
        engine = _engine(url)
        with engine.begin() as conn:
            _ensure_schema(conn, where)
    except LedgerError:
        raise
    except NoSuchModuleError:
        raise LedgerError(
            f"{where}: no driver for this database; for PostgreSQL, pip install "
            "'reconciler[postgres]'"
        ) from None
    except (SQLAlchemyError, OSError) as exc:
        raise LedgerError(
            f"cannot open the ledger {where} ({_reason(exc)}); check --ledger or "
            "RECONCILER_LEDGER, or run with --no-ledger"
        ) from None
    return Ledger(engine, where)


SUPPORTED = (
    "give an SQLite file (a path, or sqlite:///PATH) or a PostgreSQL database "
    "(postgresql://USER@HOST/DATABASE, through psycopg), or --no-ledger"
)
_DRIVERS = {"sqlite": "pysqlite", "postgresql": "psycopg"}


def check_url(url: str, source: str, *, given: str | None = None, default: bool = False) -> None:
    """Refuse a ledger URL the ledger cannot use, as one usage line naming ``source`` (the
    option or variable it came from): not a URL, another database or driver, a database in
    memory (it keeps nothing), an SQLite file in a folder that does not exist (only the
    ``default`` location, reconciler's own, is created). Loads the database's dialect and
    driver on the calling thread, where the ledger is then opened on a thread of its own
    (a thread that imports while the main thread may be interrupted mid-import can hang).
    ``given``: the value as the user wrote it, shown in the message (its password hidden)."""
    shown = _masked(url if given is None else given)

    def refuse(what: str) -> UsageError:
        return UsageError(f"{source} {shown!r}: {what}; {SUPPORTED}")

    try:
        parsed = make_url(url)
    except ArgumentError:
        raise refuse("is not a database URL") from None
    except ValueError:  # make_url reading the port or an IPv6 address
        raise refuse("is not a database URL (its host or port cannot be read)") from None
    backend = parsed.get_backend_name()
    if backend not in _DRIVERS:
        raise refuse(f"reconciler's ledger does not run on {backend or 'this database'}")
    driver = parsed.drivername.partition("+")[2] or _DRIVERS[backend]
    if driver != _DRIVERS[backend]:
        raise refuse(f"reconciler's ledger does not use the driver {driver}")
    try:
        parsed.get_dialect().import_dbapi()
    except ImportError:
        raise UsageError(
            f"{source} {shown!r}: no driver for PostgreSQL here; pip install "
            "'reconciler[postgres]' (psycopg), or --no-ledger"
        ) from None
    except SQLAlchemyError as exc:
        raise refuse(f"cannot be used ({_reason(exc)})") from None
    if backend == "sqlite":
        database = parsed.database or ""
        memory = parsed.query.get("mode") == "memory"
        if database in ("", ":memory:") or memory:
            raise refuse("a database in memory keeps nothing")
        folder = Path(database).expanduser().absolute().parent
        if not default and not folder.is_dir():
            raise UsageError(
                f"{source} {shown!r}: the folder {folder} does not exist; create it, or give "
                "a ledger file in an existing folder"
            )


def _masked(url: str) -> str:
    """``url`` with the password of ``scheme://user:password@host`` hidden."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    credentials, at, host = rest.rpartition("@")
    user, colon, _password = credentials.partition(":")
    return f"{scheme}://{user}:***@{host}" if at and colon else url


def _engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:":
            from .location import default_location

            where = Path(database).expanduser().absolute()
            if not where.parent.is_dir() and where == default_location().absolute():
                where.parent.mkdir(parents=True, exist_ok=True)  # reconciler's own folder
        engine = create_engine(url, connect_args={"timeout": BUSY_SECONDS}, poolclass=None)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # transactions are begun below, explicitly
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _immediate(conn: Any) -> None:
            # Take the write lock at the start: two processes recording at once then wait
            # for each other instead of failing halfway.
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True)


LOCK_ID = 0x7265636F  # PostgreSQL advisory lock of the ledger's writers ("reco")


def _serialise(conn: Any) -> None:
    """One writer at a time: SQLite's immediate transaction does it; PostgreSQL takes an
    advisory lock held until the transaction ends (a row lock cannot guard a row that does
    not exist yet, nor a table being created)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": LOCK_ID})


def _ensure_schema(conn: Any, where: str) -> None:
    _serialise(conn)
    schema.meta.create(conn, checkfirst=True)
    version_row = conn.execute(
        select(schema.meta.c.value).where(schema.meta.c.key == "schema_version")
    ).scalar_one_or_none()
    if version_row is None:
        schema.metadata.create_all(conn, checkfirst=True)
        conn.execute(
            insert(schema.meta).values(key="schema_version", value=str(schema.SCHEMA_VERSION))
        )
        return
    try:
        version = int(version_row)
    except ValueError:
        raise LedgerError(f"{where}: its schema version {version_row!r} is not a number") from None
    if version > schema.SCHEMA_VERSION:
        raise LedgerError(
            f"{where} was written by a newer reconciler (schema {version}, this one knows "
            f"{schema.SCHEMA_VERSION}); upgrade reconciler, or use another --ledger"
        )
    for step in range(version + 1, schema.SCHEMA_VERSION + 1):
        schema.MIGRATIONS[step](conn)
    if version < schema.SCHEMA_VERSION:
        conn.execute(
            update(schema.meta)
            .where(schema.meta.c.key == "schema_version")
            .values(value=str(schema.SCHEMA_VERSION))
        )


def _reason(exc: BaseException) -> str:
    """A short reason, never the SQL nor its parameters."""
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        text = str(exc.orig).splitlines()[0] if str(exc.orig) else type(exc.orig).__name__
    else:
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:200]
