"""Where the ledger is: ``--ledger PATH`` (an SQLite file), ``--ledger URL`` or
``RECONCILER_LEDGER`` (``sqlite:///...``, ``postgresql://...`` for a team's shared database),
else ``ledger.sqlite`` in the user's data folder (``platformdirs``). ``--no-ledger`` or
``RECONCILER_LEDGER=off`` turns it off. Imports no database code (the command line uses it
before anything is read)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

OFF = frozenset({"off", "no", "none", "0", "false"})


def default_location() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir("reconciler", appauthor=False)) / "ledger.sqlite"


def ledger_url(given: str | None, env: Mapping[str, str] | None = None) -> str | None:
    """The database URL to use (None: the ledger is off)."""
    env = os.environ if env is None else env
    target = (given or env.get("RECONCILER_LEDGER", "")).strip()
    if target.lower() in OFF:
        return None
    if not target:
        return f"sqlite:///{default_location()}"
    if "://" in target:
        if target.startswith(("postgresql://", "postgres://")):
            return "postgresql+psycopg://" + target.split("://", 1)[1]
        return target
    return f"sqlite:///{Path(target).expanduser().resolve()}"


def shown(url: str) -> str:
    """The ledger as the terminal names it: a file's path, or the URL without its password."""
    from urllib.parse import urlsplit, urlunsplit

    if url.startswith("sqlite:///"):
        return url.removeprefix("sqlite:///")
    parts = urlsplit(url)
    if parts.password:
        host = parts.hostname or ""
        user = f"{parts.username}:***@" if parts.username else ""
        port = f":{parts.port}" if parts.port else ""
        parts = parts._replace(netloc=f"{user}{host}{port}")
    return urlunsplit(parts)
