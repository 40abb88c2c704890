"""Opening a ledger and recording a run in it.

Where: ``--ledger PATH`` (an SQLite file), ``--ledger URL`` or ``RECONCILER_LEDGER``
(``sqlite:///...``, ``postgresql://...`` for a team's shared database), else ``ledger.sqlite``
in the user's data folder (``platformdirs``). ``--no-ledger`` (or ``RECONCILER_LEDGER=off``)
turns it off.

A ledger is opened, its schema checked (and created or migrated) before a run reads its
inputs, so a corrupt or newer ledger stops the run with one line before anything is written.
Recording happens once the outputs are in place, in one transaction: a second process
recording at the same moment waits for it (SQLite: an immediate transaction and a busy
timeout; PostgreSQL: an advisory lock), and a run recorded twice leaves one entry, updated.

The SQL is plain: the standard library's ``sqlite3`` for SQLite, ``psycopg`` for PostgreSQL,
the same statements on both (``schema`` holds the tables). Loading a database toolkit cost a
run 0.2-0.25 s of CPU, more than recording a million records does.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, unquote

from reconciler.errors import EXIT_CANNOT_RUN, ReconcilerError, UsageError

from . import schema

BUSY_SECONDS = 60  # how long SQLite waits for another process's transaction


class LedgerError(ReconcilerError):
    """The ledger cannot be used: one line, exit 2."""

    exit_code = EXIT_CANNOT_RUN


# A database URL as SQLAlchemy reads one (``dialect+driver://user:password@host:port/database
# ?query``), which is how ledgers have always been named.
_URL = re.compile(
    r"""
    (?P<name>[\w+]+)://
    (?:(?P<username>[^:/]*)(?::(?P<password>[^@]*))?@)?
    (?:(?:\[(?P<ipv6host>[^/?]+)\]|(?P<ipv4host>[^/:?]+))?(?::(?P<port>[^/?]*))?)?
    (?:/(?P<database>[^?]*))?
    (?:\?(?P<query>.*))?
    """,
    re.X,
)


class _NotAURL(ValueError):
    """Not a database URL at all (``_BadPart``: one whose port cannot be read)."""


class _BadPart(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class DatabaseURL:
    """The parts of a ledger's URL."""

    backend: str  # sqlite, postgresql, ... (what comes before ``+``)
    driver: str  # what comes after ``+``; "" when not given
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    host: str | None = None
    port: int | None = None
    database: str | None = None
    query: Mapping[str, str] = field(default_factory=dict)
    text: str = field(default="", repr=False)  # as written, password and all

    def shown(self) -> str:
        """The URL with its password hidden (as SQLAlchemy rendered it)."""
        s = self.backend + (f"+{self.driver}" if self.driver else "") + "://"
        if self.username is not None:
            s += quote(self.username, safe=" +")
            if self.password is not None:
                s += ":***"
            s += "@"
        if self.host is not None:
            s += f"[{self.host}]" if ":" in self.host else self.host
        if self.port is not None:
            s += f":{self.port}"
        if self.database is not None:
            s += "/" + self.database
        if self.query:
            s += "?" + "&".join(
                f"{quote_plus(k)}={quote_plus(self.query[k])}" for k in sorted(self.query)
            )
        return s


def parse_url(url: str) -> DatabaseURL:
    """``url``'s parts; ``_NotAURL`` when it is not a database URL, ``_BadPart`` when its
    port is not a number."""
    m = _URL.match(url)
    if m is None:
        raise _NotAURL(url)
    name = m.group("name")
    backend, _, driver = name.partition("+")
    port = m.group("port")
    try:
        number = int(port) if port else None
    except ValueError:
        raise _BadPart(url) from None
    username, password = m.group("username"), m.group("password")
    return DatabaseURL(
        backend=backend,
        driver=driver,
        username=unquote(username) if username is not None else None,
        password=unquote(password) if password is not None else None,
        host=m.group("ipv6host") or m.group("ipv4host"),
        port=number,
        database=m.group("database"),
        query=dict(parse_qsl(m.group("query") or "", keep_blank_values=True)),
        text=url,
    )


def describe(url: str) -> str:
    """The URL with any password hidden (for messages and the summary)."""
    try:
        return parse_url(url).shown()
    except ValueError:
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


class _Session:
    """One connection in one transaction, statements written with ``?`` placeholders."""

    def __init__(self, conn: Any, dialect: str) -> None:
        self.conn = conn
        self.dialect = dialect

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        if self.dialect == "postgresql":
            sql = sql.replace("?", "%s")
        cur = self.conn.cursor()
        cur.execute(sql, tuple(params))
        return cur

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if self.dialect == "postgresql":
            sql = sql.replace("?", "%s")
        self.conn.cursor().executemany(sql, [tuple(r) for r in rows])

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in self.execute(sql, params).fetchall()]

    def insert(self, table: str, values: Mapping[str, Any], *, returning: str = "") -> int | None:
        names = list(values)
        sql = f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' for _ in names)})"
        if returning and self.dialect == "postgresql":
            return int(
                self.execute(f"{sql} RETURNING {returning}", list(values.values())).fetchone()[0]
            )
        cur = self.execute(sql, list(values.values()))
        return int(cur.lastrowid) if returning else None


class Ledger:
    """An open ledger (its schema checked)."""

    def __init__(self, url: DatabaseURL, where: str) -> None:
        self.url = url
        self.where = where

    def close(self) -> None:
        """Nothing stays open between calls: each opens its connection and closes it."""

    def record(self, run: RunRecord) -> int:
        """Record a run (replacing an earlier entry of the same batch); the entry's id."""
        try:
            with _transaction(self.url, write=True) as db:
                locked = " FOR UPDATE" if db.dialect == "postgresql" else ""
                same = db.rows(
                    "SELECT id, batch_key, batch_id, sent_sha256 FROM batches "
                    f"WHERE batch_key IN (?, ?) OR sent_sha256 = ?{locked}",
                    (run.batch_key, f"file:{run.sent_sha256}", run.sent_sha256),
                )
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
                    entry = db.insert("batches", values, returning="id")
                    assert entry is not None
                else:
                    entry = int(found)
                    for table in ("batch_records", "batch_codes", "resubmissions"):
                        db.execute(f"DELETE FROM {table} WHERE batch = ?", (entry,))
                    db.execute(
                        f"UPDATE batches SET {', '.join(f'{k} = ?' for k in values)} WHERE id = ?",
                        (*values.values(), entry),
                    )
                if run.codes:
                    db.executemany(
                        "INSERT INTO batch_codes (batch, code, records) VALUES (?, ?, ?)",
                        [(entry, c, n) for c, n in run.codes.items()],
                    )
                if run.resubmissions:
                    db.executemany(
                        "INSERT INTO resubmissions (batch, file_name, sha256, records) "
                        "VALUES (?, ?, ?, ?)",
                        [(entry, f, h, n) for f, h, n in run.resubmissions],
                    )
                db.insert(
                    "batch_records",
                    {
                        "batch": entry,
                        "format": run.records_format,
                        "rows": run.records,
                        "data": run.records_data,
                    },
                )
            return entry
        except _errors(self.url) as exc:
            raise LedgerError(
                f"cannot record the run in the ledger {self.where} ({_reason(exc)}); the "
                "outputs are written; run again with --no-ledger to skip it"
            ) from None

    def batches(self, since: str | None = None) -> list[dict[str, Any]]:
        """Every batch entry (newest reconciled last), with its codes."""
        query = f"SELECT {', '.join(schema.BATCH_COLUMNS)} FROM batches"
        params: tuple[str, ...] = ()
        if since:
            query += " WHERE reconciled_at >= ?"
            params = (since,)
        with _transaction(self.url) as db:
            rows = [
                dict(zip(schema.BATCH_COLUMNS, r, strict=True))
                for r in db.rows(query + " ORDER BY reconciled_at, id", params)
            ]
            codes: dict[int, dict[str, int]] = {}
            for batch, code, n in db.rows("SELECT batch, code, records FROM batch_codes"):
                codes.setdefault(int(batch), {})[str(code)] = int(n)
        for row in rows:
            for name in schema.BOOLEAN_COLUMNS:
                row[name] = bool(row[name])
            row["codes"] = dict(sorted(codes.get(row["id"], {}).items(), key=lambda kv: -kv[1]))
        return rows

    def resubmissions(self) -> list[dict[str, Any]]:
        columns = schema.RESUBMISSION_COLUMNS
        with _transaction(self.url) as db:
            found = db.rows(f"SELECT {', '.join(columns)} FROM resubmissions ORDER BY id")
        return [dict(zip(columns, r, strict=True)) for r in found]

    def records_of(self, entry: int) -> tuple[str, bytes] | None:
        """The encoded records of one batch entry (format, data)."""
        with _transaction(self.url) as db:
            found = db.rows("SELECT format, data FROM batch_records WHERE batch = ?", (entry,))
        return None if not found else (str(found[0][0]), bytes(found[0][1]))


_COUNTS = (
    "records", "accepted", "rejected", "missing", "pending", "unknown", "ambiguous",
    "auto_fixed", "needs_attention_records",
)  # fmt: skip


def open_ledger(url: str) -> Ledger:
    """Open the ledger at ``url``, creating or migrating its schema; ``LedgerError`` (one line)
    when it cannot be used."""
    where = describe(url)
    try:
        parsed = parse_url(url)
    except ValueError:
        raise LedgerError(f"{where}: is not a database URL; {SUPPORTED}") from None
    if parsed.backend not in _DRIVERS:
        raise LedgerError(f"{where}: reconciler's ledger does not run on {parsed.backend}")
    try:
        _driver(parsed.backend)
    except ImportError:
        raise LedgerError(
            f"{where}: no driver for this database; for PostgreSQL, pip install "
            "'reconciler[postgres]'"
        ) from None
    failures: tuple[type[BaseException], ...] = (*_errors(parsed), OSError)
    try:
        if parsed.backend == "sqlite":
            database = parsed.database or ""
            if database and database != ":memory:":
                from .location import default_location

                place = Path(database).expanduser().absolute()
                if not place.parent.is_dir() and place == default_location().absolute():
                    place.parent.mkdir(parents=True, exist_ok=True)  # reconciler's own folder
        with _transaction(parsed, write=True) as db:
            _ensure_schema(db, where)
    except LedgerError:
        raise
    except failures as exc:
        raise LedgerError(
            f"cannot open the ledger {where} ({_reason(exc)}); check --ledger or "
            "RECONCILER_LEDGER, or run with --no-ledger"
        ) from None
    return Ledger(parsed, where)


SUPPORTED = (
    "give an SQLite file (a path, or sqlite:///PATH) or a PostgreSQL database "
    "(postgresql://USER@HOST/DATABASE, through psycopg), or --no-ledger"
)
_DRIVERS = {"sqlite": "pysqlite", "postgresql": "psycopg"}


def _driver(backend: str) -> ModuleType:
    """The DB-API module of ``backend`` (``ImportError`` when it is not installed)."""
    if backend == "postgresql":
        import psycopg

        return psycopg
    return sqlite3


def _errors(url: DatabaseURL) -> tuple[type[BaseException], ...]:
    """The exceptions the database's driver raises."""
    errors: tuple[type[BaseException], ...] = (sqlite3.Error,)
    if url.backend == "postgresql":
        errors += (_driver("postgresql").Error,)
    return errors


def check_url(url: str, source: str, *, given: str | None = None, default: bool = False) -> None:
    """Refuse a ledger URL the ledger cannot use, as one usage line naming ``source`` (the
    option or variable it came from): not a URL, another database or driver, a database in
    memory (it keeps nothing), an SQLite file in a folder that does not exist (only the
    ``default`` location, reconciler's own, is created). Loads the database's driver on the
    calling thread, where the ledger is then opened on a thread of its own (a thread that
    imports while the main thread may be interrupted mid-import can hang).
    ``given``: the value as the user wrote it, shown in the message (its password hidden)."""
    shown = _masked(url if given is None else given)

    def refuse(what: str) -> UsageError:
        return UsageError(f"{source} {shown!r}: {what}; {SUPPORTED}")

    try:
        parsed = parse_url(url)
    except _BadPart:
        raise refuse("is not a database URL (its host or port cannot be read)") from None
    except _NotAURL:
        raise refuse("is not a database URL") from None
    backend = parsed.backend
    if backend not in _DRIVERS:
        raise refuse(f"reconciler's ledger does not run on {backend or 'this database'}")
    driver = parsed.driver or _DRIVERS[backend]
    if driver != _DRIVERS[backend]:
        raise refuse(f"reconciler's ledger does not use the driver {driver}")
    try:
        _driver(backend)
    except ImportError:
        raise UsageError(
            f"{source} {shown!r}: no driver for PostgreSQL here; pip install "
            "'reconciler[postgres]' (psycopg), or --no-ledger"
        ) from None
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


def _connect(url: DatabaseURL) -> Any:
    if url.backend == "postgresql":
        # libpq reads the URL as written (user, password, host, port, database and the
        # query's parameters, such as ``host=/run/postgresql`` for a socket).
        return _driver("postgresql").connect("postgresql://" + url.text.partition("://")[2])
    query = dict(url.query)
    database = url.database or ""
    uri = query.pop("uri", "").lower() in ("true", "1")
    if uri and query:
        database += "?" + "&".join(f"{quote_plus(k)}={quote_plus(v)}" for k, v in query.items())
    # Autocommit: transactions are begun explicitly (``_transaction``).
    conn = sqlite3.connect(database, timeout=BUSY_SECONDS, isolation_level=None, uri=uri)
    try:
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
    except BaseException:
        conn.close()
        raise
    return conn


@contextmanager
def _transaction(url: DatabaseURL, *, write: bool = False) -> Iterator[_Session]:
    """A connection in one transaction, committed when the block ends, rolled back when it
    raises. ``write``: one writer at a time. SQLite takes its write lock at the start (an
    immediate transaction: two processes recording at once wait for each other instead of
    failing halfway); PostgreSQL takes an advisory lock held until the transaction ends (a
    row lock cannot guard a row that does not exist yet, nor a table being created)."""
    conn = _connect(url)
    db = _Session(conn, url.backend)
    try:
        if url.backend == "sqlite":
            conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        elif write:
            db.execute("SELECT pg_advisory_xact_lock(?)", (LOCK_ID,))
        yield db
        if url.backend == "sqlite":
            conn.execute("COMMIT")
        else:
            conn.commit()
    except BaseException:
        with suppress(Exception):
            if url.backend == "sqlite":
                conn.execute("ROLLBACK")
            else:
                conn.rollback()
        raise
    finally:
        conn.close()


LOCK_ID = 0x7265636F  # PostgreSQL advisory lock of the ledger's writers ("reco")


def _ensure_schema(db: _Session, where: str) -> None:
    db.execute(schema.meta_table())
    found = db.rows("SELECT value FROM ledger_meta WHERE \"key\" = 'schema_version'")
    if not found:
        for statement in schema.create_tables(db.dialect):
            db.execute(statement)
        db.execute(
            "INSERT INTO ledger_meta (\"key\", value) VALUES ('schema_version', ?)",
            (str(schema.SCHEMA_VERSION),),
        )
        return
    version_row = found[0][0]
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
        for statement in schema.MIGRATIONS[step]:
            db.execute(statement)
    if version < schema.SCHEMA_VERSION:
        db.execute(
            "UPDATE ledger_meta SET value = ? WHERE \"key\" = 'schema_version'",
            (str(schema.SCHEMA_VERSION),),
        )


def _reason(exc: BaseException) -> str:
    """A short reason (the driver's message: never the SQL nor its parameters)."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:200]
