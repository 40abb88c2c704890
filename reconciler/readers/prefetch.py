"""Read and parse the input files while the tool is still starting up.

Owns: guessing, from the command line alone, which delimited files a ``reconcile`` or ``check``
run reads, then reading each file's bytes and running Arrow's parse of them on a thread of its
own while Python imports pandas and typer parses the options. Arrow parses outside the GIL,
so the parse and the start-up overlap (about a tenth of a second of a million-record run).
The guess needs no pandas: ``layout``, pyarrow and hashlib are imported on the main thread
before the thread starts, so the thread imports nothing (a thread importing while Ctrl-C
interrupts the main thread mid-import can wait forever on an import lock left held), and
Ctrl-C and SIGTERM are blocked on it, so they always reach the main thread.

For ``reconcile`` with the ledger on, the thread also takes the SHA-256 of the files it read
(``digest``): the ledger needs the sent file's, and the thread has its bytes while a core is
otherwise idle.

A read made here is only a head start. ``readers`` takes the bytes only for the same path, a
regular file under its size limit, unchanged since (device, inode, size and modification time,
the same before and after the read and when taken). It takes the parse only for those very
bytes and the very layout it worked out itself. Anything else (a failed read, a changed file,
another layout, a path the command does not read) is read again the usual way, so what the
tool reads, and every error it reports, is the same without it. ``RECONCILER_PREFETCH=0``
turns it off.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

COMMANDS = ("reconcile", "check")
SUFFIXES = (".csv", ".tsv", ".txt")
MAX_FILES = 2  # SENT and RESULTS
MAX_BYTES = 1024**3  # larger files are left to the usual read

Identity = tuple[int, int, int, int]
Layout = tuple[int, int, str, int, bool]  # start, end, delimiter, fields, has quotes


class _Job:
    """One file read ahead. ``read`` is set once its bytes are in (or it failed), ``parsed``
    once Arrow's parse is done (or skipped)."""

    def __init__(self) -> None:
        self.read = threading.Event()
        self.parsed = threading.Event()
        self.identity: Identity | None = None
        self.data: bytes | None = None
        self.layout: Layout | None = None
        self.table: Any = None


_jobs: dict[str, _Job] = {}
_digests: dict[str, tuple[Identity, str]] = {}  # path -> (identity when read, SHA-256)
_hashed = threading.Event()
_lock = threading.Lock()


def start(argv: Sequence[str]) -> None:
    """Start reading the files a ``reconcile``/``check`` command line names, if any."""
    if os.environ.get("RECONCILER_PREFETCH", "1") == "0":
        return
    if not argv or argv[0] not in COMMANDS:
        return
    paths: list[str] = []
    for arg in argv[1:]:
        if arg.startswith("-") or not arg.lower().endswith(SUFFIXES):
            continue
        key = str(Path(arg))
        if key not in paths and os.path.isfile(key):
            paths.append(key)
        if len(paths) == MAX_FILES:
            break
    if not paths:
        return
    # Everything the thread runs is imported here, on the main thread, before it starts:
    # pyarrow (and numpy under it) and hashlib. A thread that imports while the main thread
    # imports pandas can hang the run: Ctrl-C landing inside the import system's own code on
    # the main thread leaves an import lock held, and the thread then waits on it forever
    # (and the main thread on the module the thread was importing). pandas needs all of them
    # anyway, so nothing is lost: the parse still overlaps pandas' and typer's own imports.
    import hashlib  # noqa: F401

    from . import layout  # noqa: F401

    jobs = [_Job() for _ in paths]
    hash_them = (
        argv[0] == "reconcile"
        and "--no-ledger" not in argv
        and os.environ.get("RECONCILER_LEDGER", "").strip().lower()
        not in ("off", "no", "none", "0", "false")
    )
    thread = threading.Thread(
        target=_read_all,
        args=(paths, jobs, hash_them),
        name="reconciler-prefetch",
        daemon=True,
    )
    try:
        thread.start()
    except RuntimeError:  # no thread to be had: the usual read does it all
        return
    with _lock:
        _jobs.update(zip(paths, jobs, strict=True))
    _started.append(True)


def _read_all(paths: list[str], jobs: list[_Job], hash_them: bool = False) -> None:
    # Ctrl-C and SIGTERM go to the main thread, never to this one: the kernel may hand a
    # process signal to any thread, and a main thread blocked on an import lock this thread
    # holds would then not wake to raise KeyboardInterrupt (a hang at start-up).
    with contextlib.suppress(AttributeError, OSError, ValueError):
        held = {
            signal.SIGINT,
            signal.SIGTERM,
            *([signal.SIGHUP] if hasattr(signal, "SIGHUP") else []),
        }
        signal.pthread_sigmask(signal.SIG_BLOCK, held)
    # Every job's events end up set, whatever happens here: a reader waiting on one goes on.
    # Nothing is imported on this thread: ``start`` imported all of it (found in sys.modules).
    try:
        from . import layout  # pyarrow, no pandas

        for key, job in zip(paths, jobs, strict=True):
            _read_one(Path(key), job)
        for key, job in zip(paths, jobs, strict=True):
            if job.data is not None:
                job.layout = layout.layout(job.data, Path(key).suffix.lower())
                if job.layout is not None:
                    # One thread: the other core stays with the imports it overlaps.
                    job.table = layout.arrow_read(job.data, *job.layout, threads=False)
            job.parsed.set()
        if hash_them:
            import hashlib  # imported by ``start``, on the main thread

            for key, job in zip(paths, jobs, strict=True):
                if job.data is not None and job.identity is not None:
                    digest = hashlib.sha256(job.data).hexdigest()  # outside the GIL
                    with _lock:
                        _digests[key] = (job.identity, digest)
    except BaseException:  # the usual read reports whatever went wrong
        pass
    finally:
        for job in jobs:
            job.read.set()
            job.parsed.set()
        _hashed.set()


def _read_one(path: Path, job: _Job) -> None:
    try:
        before = identity(path)
        if before[2] <= MAX_BYTES:
            with path.open("rb") as handle:
                data = handle.read(MAX_BYTES + 1)
            if identity(path) == before and len(data) == before[2]:
                job.identity, job.data = before, data
    except OSError:
        pass
    finally:
        job.read.set()


def raw(path: Path, info: os.stat_result) -> bytes | None:
    """The bytes read ahead for ``path`` when the file is the one ``info`` describes."""
    with _lock:
        job = _jobs.get(str(path))
    if job is None:
        return None
    job.read.wait()
    if job.data is None or job.identity != _identity_of(info):
        return None
    return job.data


def parsed(data: bytes, layout: Layout) -> Any:
    """Arrow's parse of ``data`` made ahead, when these very bytes (from ``raw``) were parsed
    with this layout; None otherwise. Each parse is handed out once."""
    with _lock:
        found = [(key, job) for key, job in _jobs.items() if job.data is data]
    for key, job in found:
        job.parsed.wait()
        if job.layout != layout or job.table is None:
            return None
        with _lock:
            _jobs.pop(key, None)
        return job.table
    return None


_started: list[bool] = []


def digest(path: Path) -> str | None:
    """The SHA-256 of ``path`` taken from the bytes read ahead, when the file is still the one
    read (device, inode, size, modification time); None otherwise."""
    if not _started:
        return None
    _hashed.wait()
    with _lock:
        found = _digests.get(str(path))
    if found is None:
        return None
    try:
        now = identity(path)
    except OSError:
        return None
    return found[1] if now == found[0] else None


def release(path: Path) -> None:
    """Forget what was read ahead for ``path`` (the reader is done with it)."""
    with _lock:
        _jobs.pop(str(path), None)


def identity(path: Path) -> Identity:
    return _identity_of(os.stat(path))


def _identity_of(info: os.stat_result) -> Identity:
    return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)


def pending() -> list[str]:
    """Paths read ahead and not yet released (for tests)."""
    with _lock:
        return sorted(_jobs)
