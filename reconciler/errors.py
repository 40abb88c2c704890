"""Tool failures: the run could not be done (unreadable file, unknown shape, bad option).

These are not the platform's result codes (those live in ``catalogue.toml``). Every failure carries
the exit code the CLI returns and renders as one line ``<file>[:<line>]: <what is wrong and the fix>``.
Only ``cli.py`` catches them.
"""

from __future__ import annotations

import re
from pathlib import Path

EXIT_OK = 0
EXIT_ATTENTION = 1
EXIT_CANNOT_RUN = 2
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # the reader of stdout went away (`... | head`), as Unix tools exit

INTERRUPTED = (
    "interrupted; the output folder holds either its previous contents or the complete new "
    "outputs, never a part"
)


class ReconcilerError(Exception):
    """A failure that stops a run; ``str()`` is the one line shown to the user."""

    exit_code: int = EXIT_CANNOT_RUN

    def __init__(
        self,
        message: str,
        *,
        path: Path | str | None = None,
        line: int | None = None,
        column: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.path = None if path is None else str(path)
        self.line = line
        self.column = column

    def __str__(self) -> str:
        return printable(self._text())

    def _text(self) -> str:
        where = ""
        if self.path is not None:
            where = self.path
            if self.line is not None:
                where += f":{self.line}"
            where += ": "
        if self.column is not None:
            return f"{where}column {self.column!r}: {self.message}"
        return f"{where}{self.message}"


_CONTROL = re.compile(r"[\x00-\x1f\x7f\x9b]")


def printable(text: str) -> str:
    """``text`` with control characters escaped, so a file name cannot break the one-line
    message, forge another line or send terminal escape sequences."""
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], text)


class InputError(ReconcilerError):
    """An input file is missing, unreadable, malformed, hostile or too large."""


class ShapeError(ReconcilerError):
    """A file was read but its template or results shape could not be recognised."""


class UsageError(ReconcilerError):
    """An option or argument is wrong (bad --map, --out pointing at an input...)."""


class OutputError(ReconcilerError):
    """Outputs could not be written (permissions, folder not made by reconciler...)."""
