"""Small whole documents: JSON reconciler wrote itself (an output folder's ``summary.json``) and
a catalogue of result codes given with a path, read whole: bounded in size, one clean line for
anything unreadable."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from reconciler.errors import InputError
from reconciler.readers import limits
from reconciler.readers.common import _read_bytes


def read_json_document(path: Path, what: str) -> Any:
    """The JSON value in ``path``; InputError naming ``what`` it should have been."""
    try:
        text = _read_bytes(path, limits.MAX_INPUT_BYTES).decode("utf-8")
        return json.loads(text)
    except InputError:
        raise
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"cannot be read as JSON ({exc}); {what}", path=path) from None
    except RecursionError:
        raise InputError(f"is nested too deeply to be {what.split(';')[0]}", path=path) from None


MAX_DOCUMENT_BYTES = 16 * 1024 * 1024


def read_document_bytes(path: Path) -> bytes:
    """The bytes of a small document (at most ``MAX_DOCUMENT_BYTES``); InputError otherwise."""
    return _read_bytes(path, MAX_DOCUMENT_BYTES)


def file_sha256(path: Path) -> str:
    """SHA-256 of a regular file's bytes, read in blocks (hashlib works outside the GIL).
    Anything else (a pipe would block forever) is refused before it is opened."""
    import hashlib
    import stat

    if not stat.S_ISREG(path.stat().st_mode):
        raise InputError("is not a regular file; it cannot be hashed", path=path)
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()
