"""The ledger's tables (SQLAlchemy Core: the same code on SQLite and PostgreSQL) and their
versions. ``SCHEMA_VERSION`` is written in ``ledger_meta``; ``MIGRATIONS[n]`` brings a ledger
from version ``n - 1`` to ``n`` inside the transaction that opens it. A ledger written by a
newer reconciler is refused, never changed."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

SCHEMA_VERSION = 2

metadata = MetaData()

meta = Table(
    "ledger_meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

batches = Table(
    "batches",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    # What makes two runs the same batch: its BatchId when the results name one, else the
    # SHA-256 of the sent file. Reconciling a batch again updates its entry.
    Column("batch_key", String(200), nullable=False, unique=True),
    Column("batch_id", String(120)),
    Column("file_name", Text, nullable=False),
    Column("sent_sha256", String(64), nullable=False),
    Column("template", String(40), nullable=False),
    Column("records", Integer, nullable=False),
    Column("accepted", Integer, nullable=False),
    Column("rejected", Integer, nullable=False),
    Column("missing", Integer, nullable=False),
    Column("pending", Integer, nullable=False),
    Column("unknown", Integer, nullable=False),
    Column("ambiguous", Integer, nullable=False),
    Column("auto_fixed", Integer, nullable=False),
    Column("needs_attention_records", Integer, nullable=False),
    Column("results_complete", Boolean, nullable=False),
    Column("completeness", String(40), nullable=False),
    Column("submitted_at", String(40)),  # as impact.com reported it, when it did
    Column("reconciled_at", String(40), nullable=False),  # ISO 8601, UTC
    Column("tool_version", String(40), nullable=False),
    Column("out_dir", Text),
)
# Version 2: a run finds its own batch's entry by the sent file as well as by BatchId.
sent_sha256_index = Index("ix_batches_sent_sha256", batches.c.sent_sha256)

batch_codes = Table(
    "batch_codes",
    metadata,
    Column("batch", Integer, ForeignKey("batches.id", ondelete="CASCADE"), primary_key=True),
    Column("code", String(120), primary_key=True),
    Column("records", Integer, nullable=False),
)

# Every record of a batch, as one compressed Arrow IPC stream (``entries.RECORD_SCHEMA``:
# position, line, record_key, content_hash, outcome, codes, resolution, resubmit_file). A row
# per record would cost a million-record run more than the run itself (measured: 2.6x); one
# stream costs a fraction of a second and is read back whole, joined in memory, and written
# out as CSV by ``history --export``.
batch_records = Table(
    "batch_records",
    metadata,
    Column("batch", Integer, ForeignKey("batches.id", ondelete="CASCADE"), primary_key=True),
    Column("format", String(40), nullable=False),
    Column("rows", Integer, nullable=False),
    Column("data", LargeBinary, nullable=False),
)

resubmissions = Table(
    "resubmissions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("batch", Integer, ForeignKey("batches.id", ondelete="CASCADE"), nullable=False),
    Column("file_name", String(200), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("records", Integer, nullable=False),
)

Migration = Callable[[Connection], None]


def _index_sent_sha256(conn: Connection) -> None:
    sent_sha256_index.create(conn, checkfirst=True)


MIGRATIONS: dict[int, Migration] = {2: _index_sent_sha256}
"""Version n -> the change from n - 1 (version 1 is the first)."""
