"""The submission ledger: every batch reconciled, remembered (SQLite by default, PostgreSQL for
a team), through SQLAlchemy Core so both run the same code.

``location`` says where the ledger is (no database code: the command line asks it first);
``store`` opens a ledger (creating or migrating its schema, refusing a newer one) and records
runs; ``entries`` turns a finished reconcile into what is recorded; ``schema`` holds the
tables and their versions. Import ``store`` and ``entries`` by name: SQLAlchemy loads only
when a ledger is opened.
"""

from __future__ import annotations

from .location import default_location, ledger_url

__all__ = ["default_location", "ledger_url"]
