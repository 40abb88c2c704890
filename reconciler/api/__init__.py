"""The impact.com Brand API: a client (``client``), the credentials (``credentials``) and
what to fetch for a batch or an account (``batches``). Reads nothing from disk but the
credentials file (through ``reconciler.readers``) and writes nothing: the chains in
``reconciler.pipeline`` keep what is fetched, through ``reconciler.writers``."""

from __future__ import annotations

from .batches import Snapshot, check_batch_id, fetch_batch, fetch_updates, list_submissions
from .client import ApiError, Client, NotFound, Page, Settings
from .credentials import Credentials, load_credentials

__all__ = [
    "ApiError",
    "Client",
    "Credentials",
    "NotFound",
    "Page",
    "Settings",
    "Snapshot",
    "check_batch_id",
    "fetch_batch",
    "fetch_updates",
    "list_submissions",
    "load_credentials",
]
