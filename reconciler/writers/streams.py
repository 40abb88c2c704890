"""The standard streams, where the tool writes to them other than through ``print``."""

from __future__ import annotations

import os
import sys


def silence_stdout() -> None:
    """Point stdout at the null device: its reader went away (``reconciler ... | head``), and
    what is still buffered must not fail again when Python flushes it at exit."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
