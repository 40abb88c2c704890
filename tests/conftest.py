"""Session-wide settings: every reconcile a test runs (in process or as a subprocess) records in
a ledger of its own, never in the user's."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

_LEDGER_DIR = Path(tempfile.mkdtemp(prefix="reconciler-test-ledger-"))


def pytest_configure(config: pytest.Config) -> None:
    os.environ["RECONCILER_LEDGER"] = str(_LEDGER_DIR / "ledger.sqlite")


def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(_LEDGER_DIR, ignore_errors=True)
