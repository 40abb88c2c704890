"""The ledger's tables and their versions, as the SQL both databases run (SQLite and
PostgreSQL differ only in the type of an id that numbers itself and of a byte string).
These are the statements SQLAlchemy Core wrote for the tables when the ledger was built on
it, so a ledger made before and one made now are the same database.

``SCHEMA_VERSION`` is written in ``ledger_meta``; ``MIGRATIONS[n]`` brings a ledger from
version ``n - 1`` to ``n`` inside the transaction that opens it. A ledger written by a newer
reconciler is refused, never changed."""

from __future__ import annotations

SCHEMA_VERSION = 2

# What makes two runs the same batch: its BatchId when the results name one, else the
# SHA-256 of the sent file. Reconciling a batch again updates its entry.
BATCH_COLUMNS: tuple[str, ...] = (
    "id", "batch_key", "batch_id", "file_name", "sent_sha256", "template", "records",
    "accepted", "rejected", "missing", "pending", "unknown", "ambiguous", "auto_fixed",
    "needs_attention_records", "results_complete", "completeness", "submitted_at",
    "reconciled_at", "tool_version", "out_dir",
)  # fmt: skip
BOOLEAN_COLUMNS = frozenset({"results_complete"})  # SQLite hands them back as 0 and 1
RESUBMISSION_COLUMNS: tuple[str, ...] = ("id", "batch", "file_name", "sha256", "records")

# ``{id}``: an id the database numbers; ``{bytes}``: a byte string.
_TYPES = {
    "sqlite": {"id": "INTEGER", "bytes": "BLOB"},
    "postgresql": {"id": "SERIAL", "bytes": "BYTEA"},
}

_META = """CREATE TABLE IF NOT EXISTS ledger_meta (
	"key" VARCHAR(64) NOT NULL,
	value TEXT NOT NULL,
	PRIMARY KEY ("key")
)"""

_TABLES = (
    """CREATE TABLE IF NOT EXISTS batches (
	id {id} NOT NULL,
	batch_key VARCHAR(200) NOT NULL,
	batch_id VARCHAR(120),
	file_name TEXT NOT NULL,
	sent_sha256 VARCHAR(64) NOT NULL,
	template VARCHAR(40) NOT NULL,
	records INTEGER NOT NULL,
	accepted INTEGER NOT NULL,
	rejected INTEGER NOT NULL,
	missing INTEGER NOT NULL,
	pending INTEGER NOT NULL,
	unknown INTEGER NOT NULL,
	ambiguous INTEGER NOT NULL,
	auto_fixed INTEGER NOT NULL,
	needs_attention_records INTEGER NOT NULL,
	results_complete BOOLEAN NOT NULL,
	completeness VARCHAR(40) NOT NULL,
	submitted_at VARCHAR(40),
	reconciled_at VARCHAR(40) NOT NULL,
	tool_version VARCHAR(40) NOT NULL,
	out_dir TEXT,
	PRIMARY KEY (id),
	UNIQUE (batch_key)
)""",
    """CREATE TABLE IF NOT EXISTS batch_codes (
	batch INTEGER NOT NULL,
	code VARCHAR(120) NOT NULL,
	records INTEGER NOT NULL,
	PRIMARY KEY (batch, code),
	FOREIGN KEY(batch) REFERENCES batches (id) ON DELETE CASCADE
)""",
    # Every record of a batch, as one compressed Arrow IPC stream (``entries.RECORD_SCHEMA``:
    # position, line, record_key, content_hash, outcome, codes, resolution, resubmit_file). A
    # row per record would cost a million-record run more than the run itself (measured:
    # 2.6x); one stream costs a fraction of a second and is read back whole, joined in
    # memory, and written out as CSV by ``history --export``.
    """CREATE TABLE IF NOT EXISTS batch_records (
	batch INTEGER NOT NULL,
	format VARCHAR(40) NOT NULL,
	rows INTEGER NOT NULL,
	data {bytes} NOT NULL,
	PRIMARY KEY (batch),
	FOREIGN KEY(batch) REFERENCES batches (id) ON DELETE CASCADE
)""",
    """CREATE TABLE IF NOT EXISTS resubmissions (
	id {id} NOT NULL,
	batch INTEGER NOT NULL,
	file_name VARCHAR(200) NOT NULL,
	sha256 VARCHAR(64) NOT NULL,
	records INTEGER NOT NULL,
	PRIMARY KEY (id),
	FOREIGN KEY(batch) REFERENCES batches (id) ON DELETE CASCADE
)""",
)

# Version 2: a run finds its own batch's entry by the sent file as well as by BatchId.
_SENT_SHA256_INDEX = "CREATE INDEX IF NOT EXISTS ix_batches_sent_sha256 ON batches (sent_sha256)"

MIGRATIONS: dict[int, tuple[str, ...]] = {2: (_SENT_SHA256_INDEX,)}
"""Version n -> the statements that change a ledger from n - 1 (version 1 is the first)."""


def meta_table() -> str:
    """The statement creating ``ledger_meta`` (where the version is) if it is missing."""
    return _META


def create_tables(dialect: str) -> list[str]:
    """The statements creating every table and index of the current version that is
    missing, for ``dialect`` (``sqlite`` or ``postgresql``)."""
    types = _TYPES[dialect]
    return [*(t.format(**types) for t in _TABLES), _SENT_SHA256_INDEX]
