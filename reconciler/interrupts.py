"""Ctrl-C, ``kill`` and a closed terminal: one handler, and an interrupt that is never lost.

Python turns a signal into an exception raised wherever the main thread happens to be. When
that is inside a library's C code (numpy's import runs optional look-ups whose failures it
clears, or a weakref callback of the import system, where Python only prints it), the
exception can be lost: the run would go on and replace the previous outputs although the user
asked it to stop. So the handler also notes the signal, and ``check`` raises
``KeyboardInterrupt`` again at the points that matter: when start-up is done and before new
outputs take the place of the previous ones. Such a lost interrupt prints nothing.

Only ``python -m reconciler`` (the ``reconciler`` command) installs the handler; code run in
process (tests, a notebook) keeps its own. A signal ignored when the tool starts (``nohup``
ignores SIGHUP, a shell's background job SIGINT) stays ignored, as Python leaves SIGINT.

Imports nothing but ``signal`` and ``sys``: it is loaded while the tool starts, where an
interrupt may land in any import.
"""

from __future__ import annotations

import signal
import sys

TYPE_CHECKING = False  # typing itself is an import
if TYPE_CHECKING:
    from collections.abc import Iterable
    from types import FrameType
    from typing import Any

SIGNALS: tuple[str, ...] = ("SIGINT", "SIGTERM", "SIGHUP")

_noted: list[int] = []


def _handler(signum: int, frame: FrameType | None) -> None:
    _noted.append(signum)
    raise KeyboardInterrupt


def _unraisable(unraisable: Any) -> None:
    """Python prints an exception raised where it cannot propagate (a weakref callback of the
    import system, say) as "Exception ignored in ...". An interrupt raised there is noted
    already and raised again by ``check``: it must not print a traceback on the way."""
    if isinstance(unraisable.exc_value, KeyboardInterrupt) and _noted:
        return
    sys.__unraisablehook__(unraisable)


def install(noted: Iterable[int] = ()) -> None:
    """Handle SIGINT, SIGTERM and SIGHUP alike (the clean-up of Ctrl-C runs for each), except
    one that is ignored (``nohup``). ``noted``: signals an earlier handler of the same kind
    caught (``__main__``'s, in place until this module loads)."""
    _noted.extend(noted)
    for name in SIGNALS:
        sig = getattr(signal, name, None)
        if sig is not None and signal.getsignal(sig) is not signal.SIG_IGN:
            signal.signal(sig, _handler)
    sys.unraisablehook = _unraisable


def noted() -> bool:
    """Whether an interrupt arrived (an exception raised since may be its disguise: Python
    wraps one raised in ``__set_name__`` in a RuntimeError, for instance)."""
    return bool(_noted)


def check() -> None:
    """Raise ``KeyboardInterrupt`` if an interrupt arrived, even one that was swallowed."""
    if _noted:
        raise KeyboardInterrupt
