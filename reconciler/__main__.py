"""``python -m reconciler`` and the ``reconciler`` command.

Kept free of heavy imports: Ctrl-C or ``kill`` while the tool is still starting (importing pandas
takes a moment) must give one line and exit 130, like an interrupt at any later point.
"""

from __future__ import annotations

import contextlib
import os
import sys

from . import interrupts
from .errors import EXIT_INTERRUPTED, INTERRUPTED


def main() -> None:
    # SIGTERM (kill) and SIGHUP (the terminal closed) run the same clean-up as Ctrl-C
    # (staging folders removed, outputs whole), and no interrupt is lost (interrupts.py).
    interrupts.install()
    # Arrow's default allocator (mimalloc) returns and re-faults pages as the big columns come
    # and go: about 1 s of system time in a 1,000,000-record run. The C library's allocator
    # does not (README, Performance). Set before pyarrow loads; a user's own choice wins.
    os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
    try:
        # Read and parse the input files while pandas and the command line load (readers/prefetch.py).
        from .readers import prefetch

        prefetch.start(sys.argv[1:])
        from .cli import app

        interrupts.check()  # one that arrived mid-import and was swallowed there
        app()
    except KeyboardInterrupt:
        sys.stderr.write(f"reconciler: {INTERRUPTED}\n")
        _leave(EXIT_INTERRUPTED)
    except SystemExit as done:
        if done.code is None or isinstance(done.code, int):
            _leave(done.code or 0)
        raise
    except Exception:
        if interrupts.noted():  # the interrupt, disguised by the code it landed in
            sys.stderr.write(f"reconciler: {INTERRUPTED}\n")
            _leave(EXIT_INTERRUPTED)
        raise


def _leave(code: int) -> None:
    """Exit without tearing the interpreter down object by object: after a large run that
    takes a tenth of a second and achieves nothing. Every output is closed and in place by now
    (written in a staging folder and moved whole); the standard streams are flushed here."""
    import threading

    if threading.active_count() > 1 and code != EXIT_INTERRUPTED:
        sys.exit(code)  # a thread still running (never expected): let Python wait for it
    # Interrupted, the clean-up has run while the stack unwound (staging folders removed, the
    # previous outputs kept). A thread cut short (the start-up read, mid-import) must not hold
    # the exit: Python's own shutdown can wait forever on the import lock such a thread holds.
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe: nothing more to say
            stream.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
