"""Session-wide settings: every reconcile a test runs (in process or as a subprocess) records in
a ledger of its own, never in the user's, and never in another test's (a record seen by an
earlier test would otherwise change this one's Attempt); the report's compiled templates are
cached in a folder of the session's, never in the user's cache folder."""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

_LEDGER_DIR = Path(tempfile.mkdtemp(prefix="reconciler-test-ledger-"))
_NUMBERS = itertools.count(1)


def pytest_configure(config: pytest.Config) -> None:
    os.environ["RECONCILER_LEDGER"] = str(_LEDGER_DIR / "ledger.sqlite")
    os.environ["XDG_CACHE_HOME"] = str(_LEDGER_DIR / "cache")  # platformdirs, on Linux


def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(_LEDGER_DIR, ignore_errors=True)


@pytest.fixture(autouse=True)
def _own_ledger(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("RECONCILER_LEDGER", str(_LEDGER_DIR / f"ledger-{next(_NUMBERS)}.sqlite"))
    yield


def _postgres() -> str:
    """A clean PostgreSQL database for one test (``.ci/run`` starts a server and sets
    RECONCILER_TEST_POSTGRES; elsewhere the PostgreSQL cases skip, saying so)."""
    url = os.environ.get("RECONCILER_TEST_POSTGRES", "")
    if not url:
        if os.environ.get("CI") == "true":
            pytest.fail("CI must run the PostgreSQL cases: .ci/run sets RECONCILER_TEST_POSTGRES")
        pytest.skip("no PostgreSQL server: .ci/run starts one (or set RECONCILER_TEST_POSTGRES)")
    import psycopg

    # A clean database for each test (libpq reads the URL without the driver's name).
    with psycopg.connect("postgresql://" + url.partition("://")[2]) as conn:
        for table in ("batch_records", "batch_codes", "resubmissions", "batches", "ledger_meta"):
            conn.execute(f"DROP TABLE IF EXISTS {table} CASCADE")  # type: ignore[arg-type]
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A ledger for the test: an SQLite file, then a PostgreSQL database."""
    if request.param == "sqlite":
        yield str(tmp_path / "ledger.sqlite")
    else:
        yield _postgres()
