"""The submission ledger: every batch reconciled, remembered (SQLite by default, PostgreSQL for
a team), the same SQL on both: the standard library's ``sqlite3``, and ``psycopg`` for PostgreSQL.

``location`` says where the ledger is (no database code: the command line asks it first);
``store`` opens a ledger (creating or migrating its schema, refusing a newer one) and records
runs; ``entries`` turns a finished reconcile into what is recorded; ``schema`` holds the
tables and their versions. Import ``store`` and ``entries`` by name: the database's driver
loads only when a ledger is checked (``prepare``) or opened.
"""

from __future__ import annotations

from .location import default_location, ledger_url

__all__ = ["default_location", "ledger_url", "prepare"]


def prepare(url: str, source: str, *, given: str | None = None, default: bool = False) -> None:
    """Refuse a ledger URL that cannot be used (``store.check_url``: one usage line naming
    ``source``), and load the ledger's code and the database's driver on
    the calling thread. A run then opens the ledger and reads its batches on threads of their
    own, which must import nothing: a thread importing while Ctrl-C interrupts the main
    thread mid-import can wait forever on an import lock left held."""
    from . import entries, past, store  # noqa: F401

    store.check_url(url, source, given=given, default=default)
