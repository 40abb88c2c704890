"""``python -m reconciler`` and the ``reconciler`` command.

Kept free of heavy imports: Ctrl-C or ``kill`` while the tool is still starting (importing pandas
takes a moment) must give one line and exit 130, like an interrupt at any later point.
"""

from __future__ import annotations

import os
import signal
import sys
from types import FrameType

from .errors import EXIT_INTERRUPTED, INTERRUPTED


def _terminate(signum: int, frame: FrameType | None) -> None:
    # SIGTERM runs the same clean-up as Ctrl-C: staging folders are removed, outputs stay whole.
    raise KeyboardInterrupt


def main() -> None:
    signal.signal(signal.SIGTERM, _terminate)
    # Arrow's default allocator (mimalloc) returns and re-faults pages as the big columns come
    # and go: about 1 s of system time in a 1,000,000-record run. The C library's allocator
    # does not (benchmarks/README). Set before pyarrow loads; a user's own choice wins.
    os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
    try:
        from .cli import app

        app()
    except KeyboardInterrupt:
        sys.stderr.write(f"reconciler: {INTERRUPTED}\n")
        sys.exit(EXIT_INTERRUPTED)


if __name__ == "__main__":
    main()
