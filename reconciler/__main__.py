"""``python -m reconciler`` and the ``reconciler`` command.

Its first lines catch SIGINT, SIGTERM and SIGHUP, before anything else is imported: Ctrl-C
or ``kill`` while the tool is still starting (importing pandas takes a moment) must give one
line and exit 130, like an interrupt at any later point. So this module imports only
``signal`` (``os`` and ``sys`` are loaded with the interpreter) until the handlers are in
place, and has no ``from __future__ import annotations`` (its annotations need no import).
What runs before its first line (Python's own start-up, ``site``, the package's
``__init__``) no program can guard: a signal there ends the process the way Python does.

A signal the parent set to be ignored (``nohup``, a background job of a shell) stays ignored.
"""

import os
import signal
import sys

# errors.INTERRUPTED, which cannot be imported yet when the first interrupt may land (a test
# keeps the two equal).
_INTERRUPTED_LINE = (
    "reconciler: interrupted; the output folder holds either its previous contents or the "
    "complete new outputs, never a part\n"
)
_EXIT_INTERRUPTED = 130  # errors.EXIT_INTERRUPTED
_SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP")  # interrupts.SIGNALS
_noted: list[int] = []  # handed to ``interrupts`` once it is loaded


def _early(signum: int, frame: object) -> None:
    _noted.append(signum)
    raise KeyboardInterrupt


def _early_unraisable(unraisable: object) -> None:
    # An interrupt raised where Python can only print it (a weakref callback of the import
    # system) is noted already: no traceback (interrupts._unraisable, once it is loaded).
    if isinstance(getattr(unraisable, "exc_value", None), KeyboardInterrupt) and _noted:
        return
    sys.__unraisablehook__(unraisable)  # type: ignore[arg-type]


def _catch_early() -> None:
    for name in _SIGNALS:
        sig = getattr(signal, name, None)
        if sig is not None and signal.getsignal(sig) is not signal.SIG_IGN:
            signal.signal(sig, _early)
    sys.unraisablehook = _early_unraisable


_catch_early()


def main() -> None:
    try:
        _main()
    except KeyboardInterrupt:  # before the command's own handling was in place
        _leave(_EXIT_INTERRUPTED, _INTERRUPTED_LINE)


def _main() -> None:
    from . import interrupts

    # SIGTERM (kill) and SIGHUP (the terminal closed) run the same clean-up as Ctrl-C
    # (staging folders removed, outputs whole), and no interrupt is lost (interrupts.py).
    interrupts.install(noted=_noted)
    _process_defaults()
    import gc

    # Start-up makes hundreds of thousands of objects that live as long as the process
    # (modules, classes, functions); collecting cyclic garbage meanwhile walks them over and
    # over. No collection until start-up is over (``_after_start_up``).
    gc.disable()
    try:
        # Read and parse the input files while pandas and the command line load (readers/prefetch.py).
        from .readers import prefetch

        prefetch.start(sys.argv[1:])
        from .cli import app

        _load_for_threads(sys.argv[1:])
        _after_start_up()
        interrupts.check()  # one that arrived mid-import and was swallowed there
        app()
    except KeyboardInterrupt:
        _leave(_EXIT_INTERRUPTED, _INTERRUPTED_LINE)
    except SystemExit as done:
        if done.code is None or isinstance(done.code, int):
            _leave(done.code or 0)
        raise
    except Exception:
        if interrupts.noted():  # the interrupt, disguised by the code it landed in
            _leave(_EXIT_INTERRUPTED, _INTERRUPTED_LINE)
        raise


def _process_defaults() -> None:
    """Settings the libraries read when they load, so set before pandas and pyarrow are
    imported; a user's own choice (the variable set already) wins.

    - Arrow's default allocator (mimalloc) returns and re-faults pages as the big columns come
      and go: about 1 s of system time in a 1,000,000-record run. The C library's allocator
      does not (README, Performance).
    - NumPy's OpenBLAS starts a thread per core that spins for a while (about 0.1 s of CPU)
      before it sleeps; reconciler does no linear algebra, so one thread (none started)."""
    os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    _malloc_settings()


# glibc's mallopt parameters
_M_ARENA_MAX = -8
_M_MMAP_THRESHOLD = -3
_M_TRIM_THRESHOLD = -1
_HEAP_BLOCKS = 1 << 30  # served from the heap below this size: every column a run makes
_CAPPED = 32 << 20  # the most some glibc versions accept
_KEPT = (1 << 31) - 1  # freed heap kept for reuse, up to this much at its top


def _malloc_settings() -> None:
    """How glibc's malloc serves a run (README, Performance). Only with glibc, before any
    thread starts, and each only when the user did not set it (its ``MALLOC_*`` variable, or
    its tunable in ``GLIBC_TUNABLES``).

    - One arena: glibc gives each new thread a heap of its own, and memory one thread frees
      is not reused by another, so a run's threads keep touching fresh pages (a page fault
      each). Shared, at 1,000,000 records about 15% fewer page faults and 70-90 MB less peak
      memory; the threads allocate rarely (Arrow's kernels allocate whole columns), so
      sharing costs nothing seen.
    - Large blocks from the heap, and freed heap kept: glibc maps a block of more than 128
      KB to 32 MB on its own and unmaps it when freed, so every column of a large run
      (megabytes each, made and dropped stage after stage) lands on fresh pages. Kept in the
      heap they are reused: at 1,000,000 records 18% fewer page faults, 0.1 s less system
      time, 50 MB more peak memory (the process ends, which gives it all back)."""
    tunables = os.environ.get("GLIBC_TUNABLES", "")
    try:
        os.confstr("CS_GNU_LIBC_VERSION")  # glibc only: ValueError or OSError elsewhere
        import ctypes

        mallopt = ctypes.CDLL(None).mallopt
    except (AttributeError, OSError, TypeError, ValueError):
        return
    if "MALLOC_ARENA_MAX" not in os.environ and "arena_max" not in tunables:
        mallopt(_M_ARENA_MAX, 1)
    thresholds = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")
    mine = ("mmap_threshold", "trim_threshold")
    if any(v in os.environ for v in thresholds) or any(t in tunables for t in mine):
        return
    # Setting either turns glibc's own adjustment of both off: both, or neither (a trim
    # threshold alone would leave every block over 128 KB mapped on its own). A glibc that
    # refuses a threshold over 32 MB gets 32 MB.
    if mallopt(_M_MMAP_THRESHOLD, _HEAP_BLOCKS) or mallopt(_M_MMAP_THRESHOLD, _CAPPED):
        mallopt(_M_TRIM_THRESHOLD, _KEPT)


def _after_start_up() -> None:
    """Collect cyclic garbage again, leaving out what start-up made: it is set aside
    (``gc.freeze``), so a collection walks only what the command makes. Collecting during
    start-up took 80-90 ms of a run's CPU (README, Performance); now it takes under 10."""
    import gc

    gc.freeze()
    gc.enable()


def _load_for_threads(argv: list[str]) -> None:
    """Import on the main thread what the command's threads would otherwise import first.

    A thread must not import while the main thread may: Ctrl-C landing inside the import
    system's own code on the main thread can leave an import lock held, and a thread waiting
    on it never returns (the run hangs). Each thread's own modules are loaded before it
    starts (``readers.prefetch``, ``ledger.prepare``); here, for ``reconcile`` and ``audit``,
    what their two writing threads render: the report and the workbooks, and the codec
    Jinja's template parser looks up. tests/test_startup_signals.py runs commands with an
    import hook that fails on any module first imported on another thread."""
    if not argv or argv[0] not in ("reconcile", "audit"):
        return
    if "--no-report" in argv and "--no-xlsx" in argv:
        return
    import codecs

    import reports.html
    import reports.view
    import reports.workbook  # noqa: F401

    codecs.lookup("unicode-escape")


def _leave(code: int, line: str = "") -> None:
    """Exit without tearing the interpreter down object by object: after a large run that
    takes a tenth of a second and achieves nothing. Every output is closed and in place by now
    (written in a staging folder and moved whole); the standard streams are flushed here.
    Imports nothing: an interrupt may have cut an import short."""
    threading = sys.modules.get("threading")
    if threading is not None and threading.active_count() > 1 and code != _EXIT_INTERRUPTED:
        sys.exit(code)  # a thread still running (never expected): let Python wait for it
    # Interrupted, the clean-up has run while the stack unwound (staging folders removed, the
    # previous outputs kept). A thread cut short (the start-up read, mid-import) must not hold
    # the exit: Python's own shutdown can wait forever on the import lock such a thread holds.
    # A second signal meanwhile changes nothing: the exit is under way.
    for name in _SIGNALS:
        sig = getattr(signal, name, None)
        if sig is not None and signal.getsignal(sig) is not signal.SIG_IGN:
            signal.signal(sig, signal.SIG_IGN)
    for stream in (sys.stdout, sys.stderr):
        try:
            if line and stream is sys.stderr:
                stream.write(line)
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: nothing more to say
            pass
    os._exit(code)


if __name__ == "__main__":
    main()
