"""The Account SID and Auth Token: from the environment, else from a file only its owner reads.

``IMPACT_ACCOUNT_SID`` and ``IMPACT_AUTH_TOKEN`` win. Otherwise ``credentials.toml`` in the
user's configuration folder (``platformdirs``: ``~/.config/reconciler/`` on Linux,
``~/Library/Application Support/reconciler/`` on macOS, ``%LOCALAPPDATA%\\reconciler\\`` on
Windows), or the file ``RECONCILER_CREDENTIALS`` names, holding::

    account_sid = "IRxB7kR2mQ9d..."
    auth_token = "..."

On POSIX systems the file must be readable by its owner only (``chmod 600``); one that others
can read is refused, never used. Nothing here prints or stores the token.
"""

from __future__ import annotations

import os
import stat
import sys
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from reconciler.errors import UsageError

FILE_NAME = "credentials.toml"


@dataclass(frozen=True, slots=True)
class Credentials:
    sid: str
    token: str = field(repr=False)  # never in a repr, a log or a traceback's message
    source: str  # where they came from, for messages ("the environment", a file path)


def credentials_file(env: Mapping[str, str] | None = None) -> Path:
    """Where the credentials file is looked for."""
    env = os.environ if env is None else env
    named = env.get("RECONCILER_CREDENTIALS", "").strip()
    if named:
        return Path(named).expanduser()
    from platformdirs import user_config_dir

    return Path(user_config_dir("reconciler", appauthor=False)) / FILE_NAME


def load_credentials(env: Mapping[str, str] | None = None) -> Credentials:
    """The credentials to use; ``UsageError`` (one line, exit 2) when there are none."""
    env = os.environ if env is None else env
    sid = env.get("IMPACT_ACCOUNT_SID", "").strip()
    token = env.get("IMPACT_AUTH_TOKEN", "").strip()
    if sid and token:
        return Credentials(sid, token, "the environment")
    if sid or token:
        missing = "IMPACT_AUTH_TOKEN" if sid else "IMPACT_ACCOUNT_SID"
        raise UsageError(f"{missing} is not set; set both IMPACT_ACCOUNT_SID and IMPACT_AUTH_TOKEN")
    path = credentials_file(env)
    if not path.exists():
        raise UsageError(
            "no API credentials: set IMPACT_ACCOUNT_SID and IMPACT_AUTH_TOKEN, or write them "
            f'to {path} (account_sid = "...", auth_token = "..."; chmod 600)'
        )
    return _from_file(path)


def _from_file(path: Path) -> Credentials:
    from reconciler.errors import InputError
    from reconciler.readers.document import read_document_bytes

    if sys.platform != "win32":
        try:
            mode = path.stat().st_mode
        except OSError as exc:
            raise UsageError(f"cannot read it ({exc.strerror})", path=path) from None
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise UsageError(
                "holds API credentials but others can read it; run chmod 600 on it, then try again",
                path=path,
            )
    try:
        data = tomllib.loads(read_document_bytes(path).decode("utf-8"))
    except InputError:
        raise
    except (UnicodeDecodeError, tomllib.TOMLDecodeError):
        # The parser's message may quote the file, token included: say only where.
        raise UsageError(
            'is not TOML of the form account_sid = "...", auth_token = "..."', path=path
        ) from None
    sid, token = data.get("account_sid"), data.get("auth_token")
    if (
        not isinstance(sid, str)
        or not isinstance(token, str)
        or not sid.strip()
        or not token.strip()
    ):
        raise UsageError('needs both account_sid = "..." and auth_token = "..." as text', path=path)
    return Credentials(sid.strip(), token.strip(), str(path))
