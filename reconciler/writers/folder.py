"""Output folders: staged beside ``--out`` and moved into place whole (or, where ``--out`` cannot
be renamed, a mount point, staged inside it and moved in file by file), signals held back
during the swap, a manifest of what reconciler wrote (nothing else is ever replaced or
removed), and the recovery of what an interrupted run left: its staging folders removed, or
finished when they hold complete outputs."""

from __future__ import annotations

import contextlib
import contextvars
import errno
import functools
import hashlib
import itertools
import json
import os
import re
import shutil
import stat
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from reconciler import interrupts
from reconciler.errors import OutputError, UsageError

_blake3_new: Callable[[], Any] | None
try:  # BLAKE3 where its wheel is installed (pyproject.toml): the manifest's digests
    from blake3 import blake3 as _blake3_new
except ImportError:  # elsewhere SHA-256, as before
    _blake3_new = None

MARKER = ".reconciler-output"


def check_out_dir(out: Path, inputs: Sequence[Path]) -> None:
    """Refuse an output folder that is, or holds, an input file."""
    try:
        target = out.resolve()
    except (OSError, RuntimeError):
        return  # unresolvable (a symlink loop): creating it will fail with a clear message
    for item in inputs:
        try:
            src = item.resolve()
        except (OSError, RuntimeError):
            continue  # the reader reports an unreadable input
        if src == target or target in src.parents:
            raise UsageError(
                f"--out {out} would hold or replace the input {item}; choose another folder",
                path=out,
            )


def run_jobs(jobs: Sequence[Callable[[], Any]]) -> list[Any]:
    """Run independent writing jobs on two threads; their results in order.

    Every job is registered before an interrupt may land, so leaving waits for all of them
    (the staging folder is removed only once nothing writes into it)."""
    hashing = _HASHING.get()
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="reconciler-write") as pool:
        with signals_deferred():
            futures = [pool.submit(job) for job in jobs]
        if hashing is not None:
            # A job that names the files it wrote: they are hashed for the manifest while the
            # other jobs still write.
            for future in as_completed(futures):
                if not future.cancelled() and future.exception() is None:
                    hashing.start(future.result())
        return [future.result() for future in futures]


HELD_SIGNALS: tuple[str, ...] = interrupts.SIGNALS


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold SIGINT, SIGTERM and SIGHUP back while the output folders are swapped (main thread
    only).

    A signal that arrives meanwhile is noted and handled, by the handler that was in place,
    when the block ends. (Blocking it at the OS level is not enough: with other threads alive
    the kernel hands it to one of them, and Python still runs its handler in the main thread.)
    """
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held = [sig for name in HELD_SIGNALS if (sig := getattr(signal, name, None)) is not None]
    noted: list[int] = []

    def note(signum: int, _frame: object) -> None:
        noted.append(signum)

    previous = {sig: signal.signal(sig, note) for sig in held}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if noted:
            handler = previous[noted[0]]
            if callable(handler):
                handler(noted[0], None)
            elif handler == signal.SIG_DFL:
                signal.raise_signal(noted[0])


# The manifest: what reconciler wrote in an output folder, so that nothing else is ever
# removed or replaced there, and an edit since is noticed. Each file: its size and a
# cryptographic digest of all its bytes, however large: an analyst's edit anywhere in it is
# seen. The digest is BLAKE3 ("blake3:<hex>") where the blake3 package is installed, else
# SHA-256 ("sha256:<hex>"); either proves a file, each checked with its own algorithm. (A
# rerun hashes the previous outputs and the new ones: at a million records about 380 MB, 0.22
# s of CPU with SHA-256 and 0.09 s with BLAKE3.)
# No time stamp: same inputs, same bytes. A file is reconciler's only when a manifest it wrote
# lists it with the size and digest it has now; a marker that is no such manifest proves
# nothing. A manifest of an earlier version listed a file over 16 MiB by a digest of its first
# and last MiB only ("sha256-ends:<hex>"): an edit in between keeps that digest, so such an
# entry proves nothing either, and the file counts as possibly edited (kept, never replaced).
MANIFEST_VERSION = 1


_SHA256 = "sha256:"  # digests of every byte: the only kinds that prove a file
_BLAKE3 = "blake3:"
_WHOLE = (_SHA256, _BLAKE3)
_NEW = _BLAKE3 if _blake3_new is not None else _SHA256  # the kind this run writes
_HASHERS: dict[str, Callable[[], Any]] = {_SHA256: hashlib.sha256}
if _blake3_new is not None:
    _HASHERS[_BLAKE3] = _blake3_new


_ENDS_ONLY = "sha256-ends:"  # an earlier version's digest of a large file's two ends


_CHUNK = 4 * 1024 * 1024  # read and hashed at a time (SHA-256 runs outside the GIL)


_NAME_ROOM = 100  # characters of --out's name kept in the names of staging folders


_MARKER_MAX = 16 * 1024 * 1024  # a larger marker is no manifest reconciler wrote


# The first version's marker: it says the folder was reconciler's, not which files in it
# still are as it wrote them (it kept no fingerprints).
_LEGACY_MARKER = "made by reconciler; safe to delete"


@dataclass(frozen=True, slots=True)
class Written:
    """One file of an output folder as reconciler left it."""

    size: int
    # "blake3:<hex>" or "sha256:<hex>" of the whole file ("sha256-ends:<hex>": an earlier
    # version's, of its two ends)
    digest: str


@dataclass(frozen=True, slots=True)
class _Marker:
    """What a folder's ``MARKER`` says: ``state`` is ``absent``, ``manifest`` (``files`` is
    what reconciler wrote there), ``legacy`` (the first version's plain text) or ``invalid``
    (``problem`` says why; ``staging`` holds the pid, host and boot id of a staging folder's
    marker)."""

    state: str
    files: dict[str, Written] | None = None
    problem: str = ""
    staging: tuple[int, str, str | None] | None = None


def _fingerprint(path: Path, kind: str = _NEW) -> Written:
    """``path``'s size and the digest (``kind``: ``_BLAKE3`` or ``_SHA256``, one this
    installation can compute) of all its bytes (of a regular file: a pipe would block). A
    file this run hashed already and that has not changed since is not read again
    (``_KNOWN``)."""
    before = _identity(path)
    known = _KNOWN.get((before, kind)) if before is not None else None
    if known is not None:
        return known
    written = _hash_file(path, kind)
    if before is not None and written.size == before[2] and _settled(path, before):
        with _KNOWN_LOCK:
            _KNOWN[(before, kind)] = written
    return written


def _hash_file(path: Path, kind: str) -> Written:
    """Every byte of ``path`` through the ``kind`` of digest (its constructor was imported
    with this module, so a worker thread imports nothing; both release the GIL). Counts the
    bytes read: the size is that of what was hashed."""
    digest = _HASHERS[kind]()
    block = bytearray(_CHUNK)
    view = memoryview(block)
    size = 0
    with path.open("rb") as fh:
        while n := fh.readinto(block):
            digest.update(view[:n])
            size += n
    return Written(size, kind + digest.hexdigest())


# What this process hashed, by the identity of the file it read: (device, inode, size,
# modification and change times). Proving the previous outputs reads every byte of them; the
# swap proves them again before removing them, and an unchanged file need not be read twice.
# Any write changes the change time, which no program can set back; a file is remembered only
# when both times were _SETTLED_NS in the past once it was read (a write in the same clock tick
# as the one before it could leave them alike) and it was the same file before and after.
# Not on Windows, where st_ctime is the creation time.
_Identity = tuple[int, int, int, int, int]
_KNOWN: dict[tuple[_Identity, str], Written] = {}
_KNOWN_LOCK = threading.Lock()
_SETTLED_NS = 2_000_000_000


def _identity(path: Path) -> _Identity | None:
    return None if os.name == "nt" else _stat_identity(path)


def _settled(path: Path, before: _Identity) -> bool:
    """``path`` is still the file ``before`` named, and both its times are well past."""
    return _identity(path) == before and time.time_ns() - max(before[3:]) > _SETTLED_NS


def _stat_identity(path: Path) -> _Identity | None:
    try:
        info = path.stat()
    except OSError:
        return None
    return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)


def _hash_staged(path: Path, kind: str) -> tuple[_Identity | None, Written]:
    """``_hash_file`` on a worker thread (imports nothing), with the identity of the file it
    read (None when the file changed meanwhile)."""
    before = _stat_identity(path)
    written = _hash_file(path, kind)
    same = before is not None and written.size == before[2] and _stat_identity(path) == before
    return (before if same else None), written


class _Hashing:
    """The fingerprints of a staging folder's files, worked out on a thread of their own as
    each writing job of ``run_jobs`` finishes (a large output takes a tenth of a second to
    hash), while the other jobs still write. One is used only if the file is still the one
    that was read (writers replace a file whole, never in place)."""

    def __init__(self, stage: Path) -> None:
        self.stage = stage
        self.pool: ThreadPoolExecutor | None = None
        self.pending: dict[str, Future[tuple[_Identity | None, Written]]] = {}

    def start(self, names: object) -> None:
        """Hash the files a finished job says it wrote (``names``, when a list of them)."""
        if not isinstance(names, (list, tuple)):
            return
        for name in names:
            if not _plain_name(name) or name in self.pending:
                continue
            path = self.stage / name
            if not _regular(path):
                continue
            if self.pool is None:  # started here, on the main thread
                self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="reconciler-hash")
            self.pending[name] = self.pool.submit(_hash_staged, path, _NEW)

    def fingerprint(self, name: str) -> Written:
        path = self.stage / name
        future = self.pending.pop(name, None)
        if future is not None:
            try:
                read, written = future.result()
            except OSError:
                read = None
            if read is not None and _stat_identity(path) == read:
                return written
        return _fingerprint(path)

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)


_HASHING: contextvars.ContextVar[_Hashing | None] = contextvars.ContextVar(
    "reconciler_hashing", default=None
)


def _regular(path: Path) -> bool:
    """A file of its own: not a link, a folder or a device."""
    try:
        return stat.S_ISREG(path.lstat().st_mode)
    except OSError:
        return False


def _plain_name(name: object) -> bool:
    return (
        isinstance(name, str)
        and name not in ("", ".", "..", MARKER)
        and "/" not in name
        and "\x00" not in name
        and not (os.altsep and os.altsep in name)
        and not (os.sep != "/" and os.sep in name)
    )


def _manifest_files(doc: object) -> dict[str, Written] | None:
    """The files a manifest lists, or None when ``doc`` is not one reconciler wrote."""
    if not isinstance(doc, dict) or doc.get("tool") != "reconciler":
        return None
    version, files = doc.get("manifest"), doc.get("files")
    if type(version) is not int or version != MANIFEST_VERSION or not isinstance(files, dict):
        return None
    listed: dict[str, Written] = {}
    for name, entry in files.items():
        if not _plain_name(name) or not isinstance(entry, dict):
            return None
        size, digest = entry.get("size"), entry.get("digest")
        if type(size) is not int or size < 0 or not isinstance(digest, str):
            return None
        if not digest.startswith((*_WHOLE, _ENDS_ONLY)):
            return None
        listed[name] = Written(size, digest)
    return listed


def _staging_token(doc: object) -> tuple[int, str, str | None] | None:
    if not isinstance(doc, dict) or doc.get("tool") != "reconciler":
        return None
    staging = doc.get("staging")
    if not isinstance(staging, dict):
        return None
    pid, host, boot = staging.get("pid"), staging.get("host"), staging.get("boot")
    if type(pid) is not int or not isinstance(host, str):
        return None
    return pid, host, boot if isinstance(boot, str) and boot else None


def _read_marker(folder: Path) -> _Marker:
    marker = folder / MARKER
    try:
        info = marker.lstat()
    except FileNotFoundError:
        return _Marker("absent")
    except OSError as exc:
        return _Marker("invalid", problem=f"cannot be read ({exc.strerror or exc})")
    if stat.S_ISLNK(info.st_mode):
        return _Marker("invalid", problem="is a link")
    if stat.S_ISDIR(info.st_mode):
        return _Marker("invalid", problem="is a folder")
    if not stat.S_ISREG(info.st_mode):
        return _Marker("invalid", problem="is not a file")
    if info.st_size == 0:
        return _Marker("invalid", problem="is empty")
    if info.st_size > _MARKER_MAX:
        return _Marker("invalid", problem="is far too large")
    try:
        text = marker.read_bytes().decode("utf-8")
    except OSError as exc:
        return _Marker("invalid", problem=f"cannot be read ({exc.strerror or exc})")
    except UnicodeDecodeError:
        return _Marker("invalid", problem="is not text")
    if text.strip() == _LEGACY_MARKER:
        return _Marker("legacy")
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError):
        return _Marker("invalid", problem="is plain text or damaged JSON")
    files = _manifest_files(doc)
    if files is not None:
        return _Marker("manifest", files)
    token = _staging_token(doc)
    if token is not None:
        return _Marker("invalid", problem="is a staging folder's", staging=token)
    return _Marker("invalid", problem="is JSON of another shape")


def read_manifest(folder: Path) -> dict[str, Written] | None:
    """What reconciler wrote in ``folder``, by its manifest; None when ``folder`` holds no
    manifest reconciler wrote (no marker, or one that is plain text, damaged, empty, a link or
    a folder): then no file there counts as reconciler's."""
    return _read_marker(folder).files


def _proven(path: Path, files: Mapping[str, Written] | None) -> bool:
    """``path`` is a file reconciler wrote, as it wrote it (its manifest says so)."""
    if files is None or path.name not in files or not _regular(path):
        return False
    was = files[path.name]
    kind = _whole_kind(was.digest)
    if kind is None:
        # A digest of part of the file (an earlier version's) proves nothing; nor does a
        # BLAKE3 digest where blake3 is not installed (the folder came from another machine):
        # the file is kept, never replaced.
        return False
    try:
        return path.stat().st_size == was.size and _fingerprint(path, kind).digest == was.digest
    except OSError:
        return False


def _whole_kind(digest: str) -> str | None:
    """The kind of a digest of every byte that this installation can check, else None."""
    for kind in _WHOLE:
        if digest.startswith(kind):
            return kind if kind in _HASHERS else None
    return None


_IN_PART = (
    "was fingerprinted only in part by an older reconciler (its first and last MiB), so an "
    "edit cannot be ruled out"
)


def _in_part(files: Mapping[str, Written] | None, name: str) -> bool:
    """The manifest lists ``name`` by a digest of part of it (an earlier version's)."""
    return files is not None and name in files and files[name].digest.startswith(_ENDS_ONLY)


_UNCHECKABLE = (
    "was fingerprinted with BLAKE3, which this installation lacks (pip install blake3), so "
    "an edit cannot be ruled out"
)


def _uncheckable(files: Mapping[str, Written] | None, name: str) -> bool:
    """The manifest lists ``name`` by a digest of every byte that this installation cannot
    compute (BLAKE3 without the blake3 package: a folder from another machine)."""
    if files is None or name not in files:
        return False
    digest = files[name].digest
    return digest.startswith(_WHOLE) and _whole_kind(digest) is None


def _same_bytes(a: Path, b: Path) -> bool:
    """Two plain files holding the same bytes: replacing one with the other loses nothing."""
    import filecmp

    if not (_regular(a) and _regular(b)):
        return False
    try:
        return filecmp.cmp(a, b, shallow=False)
    except OSError:
        return False


def _write_marker(folder: Path, text: str) -> None:
    """``text`` as the folder's ``MARKER``, whole or not at all (a temporary file, then
    ``os.replace``): a marker cut short would no longer prove anything."""
    fd, tmp = tempfile.mkstemp(prefix=f"{MARKER}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, folder / MARKER)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _write_manifest(folder: Path, files: Mapping[str, Written]) -> None:
    listed = {
        name: {"size": files[name].size, "digest": files[name].digest} for name in sorted(files)
    }
    text = json.dumps(
        {"tool": "reconciler", "manifest": MANIFEST_VERSION, "files": listed}, indent=1
    )
    _write_marker(folder, text + "\n")


def _write_staging_marker(stage: Path) -> None:
    """The first thing in a staging folder: whose it is, so that only a folder of a run that
    is gone (this machine, that pid) is ever removed as its leftover. The boot id names the
    machine where the host name does not (each container has its own)."""
    import socket

    who: dict[str, object] = {"pid": os.getpid(), "host": socket.gethostname()}
    if _boot_id():
        who["boot"] = _boot_id()
    _write_marker(stage, json.dumps({"tool": "reconciler", "staging": who}) + "\n")


def _stem(name: str) -> str:
    """--out's name as it goes into the names of staging folders: short enough that a legal
    long folder name still leaves room for the rest."""
    if len(name) <= _NAME_ROOM:
        return name
    import hashlib

    return name[:60] + "~" + hashlib.sha256(name.encode("utf-8", "surrogateescape")).hexdigest()[:8]


# Who made a folder beside (or inside) --out, and whether that run is gone. A bare pid is no
# proof: in a fresh PID namespace (every container) each run is pid 1, and pids are reused.
# So a run (1) holds a lock on each folder it works in (flock: released by the kernel when the
# process dies, even by kill -9, and seen from other PID namespaces and containers), and
# (2) puts a tag of its start in the folders' names (its start time, /proc/PID/stat field 22,
# with the boot id), which tells a reused pid apart. Where neither is available (no /proc, no
# flock) a folder is a dead run's only when its pid is gone (the conservative rule).
_BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


@functools.cache
def _boot_id() -> str | None:
    try:
        return _BOOT_ID.read_text(encoding="ascii").strip() or None
    except (OSError, ValueError):
        return None


def _start_tag(pid: int) -> str | None:
    """Eight hex characters naming one run of ``pid`` on this boot; None without /proc."""
    import hashlib

    boot = _boot_id()
    try:
        raw = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    fields = raw[raw.rfind(b")") + 2 :].split()  # the name, in parentheses, may hold spaces
    if boot is None or len(fields) < 20:
        return None
    started = fields[19].decode("ascii", "replace")  # field 22: start time, in ticks since boot
    return hashlib.sha256(f"{boot}:{started}".encode()).hexdigest()[:8]


_GUARD = threading.RLock()
_LIVE: dict[str, int | None] = {}  # this process's folders in use: their path, the lock's fd


def _lock(folder: Path) -> int | None:
    """Take ``folder``'s lock for this process (None where locks are not available)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        return None
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def _held(folder: Path) -> bool:
    """Another run holds ``folder``'s lock: it is alive, whatever its pid says."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        return False
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        os.close(fd)  # and with it the lock, if it was taken
    return False


def _in_use(folder: Path, fd: int | None) -> None:
    with _GUARD:
        _LIVE[str(folder)] = fd


def _done_with(folder: Path) -> None:
    with _GUARD:
        fd = _LIVE.pop(str(folder), None)
    if fd is not None:
        with contextlib.suppress(OSError):
            os.close(fd)


def _gone(folder: Path, pid: int, tag: str | None) -> bool:
    """The run that made ``folder`` (process ``pid``, started as ``tag`` says) is gone."""
    with _GUARD:
        if str(folder) in _LIVE:
            return False
    if _held(folder):
        return False
    if pid == os.getpid():
        return True  # this process, which does not use it: a dead run's whose pid came back
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        pass  # it exists (another user's)
    if tag is not None:
        now = _start_tag(pid)
        if now is not None:
            return now != tag  # another process took that pid since
    return False


def _this_machine(host: str, boot: str | None) -> bool:
    import socket

    return host == socket.gethostname() or (boot is not None and boot == _boot_id())


# Beside --out: a staging folder (pid, dash, tempfile's 8 characters, and the start tag where
# known) and the previous outputs set aside during a swap. Inside --out (when it cannot be
# renamed): a staging folder of a fixed hidden name.
_STAGING_NAME = re.compile(r"([0-9]+)-[a-z0-9_]{8}(?:-([0-9a-f]{8}))?\.tmp")
_OLD_NAME = re.compile(r"old-([0-9]+)(?:-([0-9a-f]{8}))?")
_INSIDE = ".reconciler-staging."
_INSIDE_NAME = re.compile(re.escape(_INSIDE) + _STAGING_NAME.pattern)


@functools.cache
def _staged_name() -> re.Pattern[str]:
    """The names reconciler writes into a staging folder, with its temporary files: what a
    staging folder of an earlier version (which wrote no marker there) can hold."""
    from reconciler import outputs

    fixed = (
        outputs.RECONCILED,
        outputs.NEEDS_ATTENTION_CSV,
        outputs.NEEDS_ATTENTION_XLSX,
        outputs.UNMATCHED,
        outputs.RESUBMIT,
        outputs.CHANGES,
        outputs.SUMMARY,
        outputs.REPORT,
        outputs.WORKBOOK,
        outputs.CHECK_CSV,
        outputs.CHECK_JSON,
    )
    name = "|".join(map(re.escape, fixed)) + r"|resubmit-[0-9]{3,}\.csv|[^/]+\.fixed\.csv"
    temp = rf"\.(?:{name})\.[a-z0-9_]{{8}}\.tmp|{re.escape(MARKER)}\.[a-z0-9_]{{8}}\.tmp"
    return re.compile(rf"(?:{name})(?:\.part)?|{temp}")


def _staged_by_reconciler(folder: Path, pid: int) -> bool:
    """``folder`` is a staging folder reconciler made (run ``pid``, on this machine): its
    marker says so, or it holds its complete outputs as its manifest lists them, or (an
    earlier version's, which wrote no marker) nothing but files of the names reconciler
    writes."""
    try:
        entries = list(folder.iterdir())
    except OSError:
        return False
    marker = _read_marker(folder)
    if marker.state == "manifest":
        return all(e.name == MARKER or _proven(e, marker.files) for e in entries)
    if marker.state == "absent":
        return all(_regular(e) and _staged_name().fullmatch(e.name) for e in entries)
    if marker.staging is None:
        return False
    by, host, boot = marker.staging
    return by == pid and _this_machine(host, boot)


def _complete(stage: Path, out: Path) -> dict[str, Written] | None:
    """The files of a staging folder that holds complete outputs, as its manifest proves
    (written only once every output was): each listed file is there as written, or already
    moved into ``out`` by a commit cut short, and it holds nothing else. None otherwise."""
    marker = _read_marker(stage)
    files = marker.files
    if marker.state != "manifest" or files is None:
        return None
    try:
        entries = list(stage.iterdir())
    except OSError:
        return None
    if not all(e.name == MARKER or _proven(e, files) for e in entries):
        return None
    for name in files:
        if not os.path.lexists(stage / name) and not _proven(out / name, files):
            return None
    return files


def _wholly_ours(out: Path) -> bool:
    """``out`` holds nothing but the files its manifest proves reconciler's."""
    marker = _read_marker(out)
    try:
        entries = list(out.iterdir())
    except OSError:
        return False
    return marker.state == "manifest" and all(
        e.name == MARKER or _proven(e, marker.files) for e in entries
    )


def _empty(folder: Path) -> bool:
    try:
        return next(iter(folder.iterdir()), None) is None
    except OSError:
        return False


def _aside_name(path: Path, tag: str) -> Path:
    """A free name beside ``path`` for keeping it: ``NAME.<tag>-YYYYMMDD-HHMMSS.ext``."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    name = Path(path.name)
    stem, suffix = name.stem[:150], name.suffix
    for n in itertools.count(1):
        extra = "" if n == 1 else f"-{n}"
        candidate = path.with_name(f"{stem}.{tag}-{stamp}{extra}{suffix}")
        if not os.path.lexists(candidate):
            return candidate
    raise AssertionError("unreachable")


def _why(path: Path, marker: _Marker) -> tuple[str, str]:
    """How a file that is not reconciler's is kept aside: its tag and what is said of it."""
    if path.name == MARKER:
        return "kept", f"{marker.problem}, not a manifest reconciler wrote"
    if marker.files is not None and path.name in marker.files and _regular(path):
        if _in_part(marker.files, path.name):
            return "kept", _IN_PART
        if _uncheckable(marker.files, path.name):
            return "kept", _UNCHECKABLE
        return "edited", "had been edited since reconciler wrote it"
    if marker.state == "legacy":
        return "kept", (
            "was written by an older reconciler that kept no fingerprints, so an edit cannot be "
            "ruled out"
        )
    if marker.state == "invalid":
        return (
            "kept",
            f"cannot be told from a file of yours (the folder's {MARKER} {marker.problem})",
        )
    return "kept", "was not written by reconciler"


def _keep_aside(path: Path, marker: _Marker) -> str:
    """Rename ``path`` to a free dated name beside it; what to say about it."""
    tag, why = _why(path, marker)
    kept = _aside_name(path, tag)
    os.replace(path, kept)
    return f"{path.name} {why}: kept as {kept.name}"


def _clear_old(old: Path, out: Path) -> list[str]:
    """Remove the previous outputs a swap set aside in ``old``: only the files its manifest
    proves reconciler's go; anything else goes back into ``out``, under its own name or, when
    a new output took that name, kept aside under a dated one (unless the two hold the same
    bytes). Returns what to say; ``old`` stays if something could not be moved."""
    marker = _read_marker(old)
    said: list[str] = []
    try:
        # The marker last: until then, a run killed meanwhile leaves a folder the next run
        # still knows as reconciler's.
        entries = sorted(old.iterdir(), key=lambda p: (p.name == MARKER, p.name))
    except OSError:
        return said
    for entry in entries:
        target = out / entry.name
        try:
            ours = entry.name == MARKER and marker.state in ("manifest", "legacy")
            if ours or _proven(entry, marker.files):
                entry.unlink()
            elif not os.path.lexists(target):
                os.replace(entry, target)
            elif _same_bytes(entry, target):
                entry.unlink()
            else:
                tag, why = _why(entry, marker)
                kept = _aside_name(target, tag)
                os.replace(entry, kept)
                said.append(f"{entry.name} {why}: kept as {kept.name}")
        except OSError:
            continue  # left in ``old``, said below
    with contextlib.suppress(OSError):
        old.rmdir()
    if os.path.lexists(old):
        said.append(
            f"kept {old.name} beside {out.name}: it holds files that could not be moved back"
        )
    return said


def recover_interrupted(out: Path) -> list[str]:
    """Finish what an earlier run cut short (killed, or the machine stopped), beside ``out``
    or inside it. Only folders of runs that are gone count (``_gone``: a reused pid, this
    process's own included, is told apart):

    - a staging folder holding complete outputs, as its manifest proves, is finished: those
      are the newer complete outputs, moved into ``out`` as the run would have (its swap, or
      the rest of its file-by-file move, done);
    - an unfinished staging folder is removed when it is proven reconciler's;
    - previous outputs set aside for a swap are put back when ``out`` is missing, or removed
      when new outputs are in place (any file there that is not reconciler's goes back into
      ``out``).

    A folder of the same name pattern that is not proven reconciler's is left alone. Returns
    what was done, to be said."""
    with _GUARD:
        return _recover(out)


def _listing(folder: Path) -> list[Path]:
    try:
        return sorted(folder.iterdir(), key=lambda p: p.name)
    except OSError:
        return []


def _recover(out: Path) -> list[str]:
    said: list[str] = []
    found: list[tuple[Path, int, str | None, str]] = []
    if out.is_dir() and not out.is_symlink():
        for entry in _listing(out):
            if inside := _INSIDE_NAME.fullmatch(entry.name):
                found.append((entry, int(inside.group(1)), inside.group(2), "stage"))
    stem = _stem(out.name)
    for entry in _listing(out.parent):
        if not entry.name.startswith(f".{stem}."):
            continue
        rest = entry.name[len(stem) + 2 :]
        if set_aside := _OLD_NAME.fullmatch(rest):
            found.append((entry, int(set_aside.group(1)), set_aside.group(2), "old"))
        elif staging := _STAGING_NAME.fullmatch(rest):
            found.append((entry, int(staging.group(1)), staging.group(2), "stage"))
    olds: list[Path] = []
    complete: list[tuple[Path, dict[str, Written]]] = []
    for entry, pid, tag, kind in found:
        if entry.is_symlink() or not entry.is_dir() or not _gone(entry, pid, tag):
            continue
        shown = entry.name if entry.parent != out else f"{entry.name} in {out}"
        if _empty(entry):
            # Killed before its marker was written, or after the last file went: nothing is
            # in it to lose, and rmdir removes nothing else.
            with contextlib.suppress(OSError):
                entry.rmdir()
                said.append(f"removed {shown}, an empty folder an interrupted run left")
            continue
        if kind == "old":
            if _read_marker(entry).state in ("manifest", "legacy"):
                olds.append(entry)  # else not a folder reconciler set aside: leave it
            continue
        files = _complete(entry, out)
        if files is not None:
            complete.append((entry, files))
        elif _staged_by_reconciler(entry, pid):
            shutil.rmtree(entry, ignore_errors=True)
            if not os.path.lexists(entry):
                said.append(f"removed {shown}, the unfinished outputs of an interrupted run")
    if complete:
        # Several killed runs: the latest complete outputs win, the others go.
        complete.sort(key=lambda item: _written_at(item[0]))
        for entry, _files in complete[:-1]:
            shutil.rmtree(entry, ignore_errors=True)
            if not os.path.lexists(entry):
                said.append(f"removed {entry.name}, older complete outputs of an interrupted run")
        stage, files = complete[-1]
        run = _Run()
        try:
            done = _finish(stage, out, files, whole=_wholly_ours(out), run=run)
        finally:
            for made in run.stages:
                _done_with(made)
        said.extend(done)
    cleared: list[str] = []
    for old in olds:
        if not os.path.lexists(out):
            os.replace(old, out)
            said.append(f"restored the previous outputs of {out} from an interrupted run")
        elif _read_marker(out).state == "manifest":  # the new outputs are in place
            said.extend(_clear_old(old, out))
            if not os.path.lexists(old):
                cleared.append(old.name)
    if complete:
        said.insert(
            0,
            f"finished what an interrupted run left: its complete new outputs "
            f"({complete[-1][0].name}) are now in {out}"
            + (
                f", and the previous ones it had set aside ({_listed(cleared)}) removed"
                if cleared
                else ""
            ),
        )
    else:
        said.extend(f"removed the previous outputs an interrupted run left in {n}" for n in cleared)
    return said


def _written_at(stage: Path) -> float:
    try:
        return (stage / MARKER).stat().st_mtime
    except OSError:
        return 0.0


@dataclass(slots=True)
class Staging:
    """The folder outputs are written into, and what the swap did (said by the caller)."""

    path: Path
    notes: list[str] = field(default_factory=list)


def _real_out(out: Path) -> Path:
    out = out.absolute()
    if out.is_symlink():
        # Write through the link, into the folder it names: the link stays a link.
        try:
            target = out.resolve(strict=True)
        except (OSError, RuntimeError) as exc:
            raise OutputError(
                "is a link that leads nowhere; choose another --out", path=out
            ) from exc
        return target
    return out


def _listed(names: Sequence[str]) -> str:
    more = f" and {len(names) - 5} more" if len(names) > 5 else ""
    return ", ".join(names[:5]) + more


def _refuse(marker: _Marker, others: Sequence[str], edited: Sequence[str], out: Path) -> None:
    kept = "your files are kept, an edited output is kept aside under a dated name"
    if marker.state == "absent":
        raise OutputError(
            "exists and was not made by reconciler; choose another --out or pass --force "
            "(reconciler then adds its files, never removes one it did not write, and keeps "
            "aside under a dated name any named like one of its outputs)",
            path=out,
        )
    if marker.state == "invalid":
        files = f", so reconciler cannot tell its files from yours ({_listed(others)})"
        raise OutputError(
            f"holds a {MARKER} that {marker.problem}, not a manifest reconciler wrote"
            + (files if others else "")
            + "; choose another --out, move your files out of the folder, or pass --force "
            "(nothing there is then removed, and a file named like an output is kept aside "
            "under a dated name)",
            path=out,
        )
    if marker.state == "legacy":
        raise OutputError(
            f"was made by an older reconciler whose {MARKER} lists no files, and holds files "
            f"it does not write: {_listed(others)}; move them out of the folder, choose "
            f"another --out, or pass --force ({kept})",
            path=out,
        )
    what = []
    in_part = [name for name in edited if _in_part(marker.files, name)]
    uncheckable = [name for name in edited if _uncheckable(marker.files, name)]
    edited = [name for name in edited if name not in in_part and name not in uncheckable]
    if edited:
        what.append("edited since reconciler wrote them: " + ", ".join(edited[:5]))
    if in_part:
        what.append(
            "that an older reconciler fingerprinted only in part, so an edit cannot be ruled "
            "out: " + ", ".join(in_part[:5])
        )
    if uncheckable:
        what.append(
            "fingerprinted with BLAKE3, which this installation lacks (pip install blake3), "
            "so an edit cannot be ruled out: " + ", ".join(uncheckable[:5])
        )
    if others:
        what.append("added since: " + ", ".join(others[:5]))
    raise OutputError(
        "holds files " + "; ".join(what) + "; move them out of the folder, choose another "
        f"--out, or pass --force ({kept})",
        path=out,
    )


def prove_ahead(out: Path) -> None:
    """Start hashing the previous outputs in ``out`` (those its manifest lists) on a thread,
    so that proving them before they are replaced costs the run no time of its own: the run
    computes meanwhile, and ``staged_output`` waits for it first. Nothing is decided here
    (the digests land in ``_KNOWN``, used only while a file is unchanged since)."""
    try:
        real = _real_out(out)
        if not real.is_dir():
            return
        marker = _read_marker(real)
    except OSError:
        return
    if marker.files is None:
        return
    paths = [
        (real / name, kind)
        for name, was in marker.files.items()
        if (kind := _whole_kind(was.digest)) is not None
    ]
    from reconciler.threads import background

    _AHEAD[real] = background("prove", _prove_all, paths)


def _prove_all(paths: Sequence[tuple[Path, str]]) -> None:
    for path, kind in paths:
        with contextlib.suppress(OSError):
            if path.is_file() and not path.is_symlink():
                _fingerprint(path, kind)


_AHEAD: dict[Path, Future[None]] = {}


@contextlib.contextmanager
def staged_output(out: Path, *, force: bool = False) -> Iterator[Path]:
    """Yield a temporary folder beside ``out``; on success its files land in ``out``.

    Only files reconciler wrote (listed in its manifest, ``MARKER``, with the size and digest
    they have now) are ever replaced or removed. When ``out`` holds nothing else, the new
    folder replaces it in one rename: an interrupt at any moment leaves the previous outputs
    or the complete new ones, and a run killed mid-swap is recovered by the next. An ``out``
    holding other files (not made by reconciler, with files added or edited since, or with a
    marker that is no manifest) is refused unless ``force``; with it, the new files are moved
    in one by one, files of the analyst's stay, and one that has an output's name (or an
    edited output) is kept aside under a dated name. A folder reconciler did not make is never
    renamed or removed, even empty (``--out .``).

    An ``out`` that cannot be renamed (a mount point: a container's volume, a mounted share;
    or on another filesystem than its parent) is staged inside itself, in a hidden folder,
    and its files moved in one by one the same way; so is one whose swap fails for that
    reason. The manifest goes last and names only complete files, and a move cut short is
    finished by the next run. ``staging_notes`` says what was recovered or kept aside.
    """
    out = _real_out(out)
    if out.exists() and not out.is_dir():
        raise OutputError("exists and is not a folder; choose another --out", path=out)
    ahead = _AHEAD.pop(out, None)
    if ahead is not None:
        ahead.result()  # the previous outputs' digests, worked out while the run computed
    try:
        recovered = recover_interrupted(out)
    except OSError as exc:
        raise OutputError(
            f"cannot recover what an interrupted run left ({exc.strerror or exc})", path=out
        ) from exc
    marker = _read_marker(out) if out.is_dir() else _Marker("absent")
    others: list[str] = []
    edited: list[str] = []
    if out.is_dir():
        for entry in sorted(out.iterdir(), key=lambda p: p.name):
            if entry.name == MARKER:
                continue
            if marker.files is not None and entry.name in marker.files and _regular(entry):
                if not _proven(entry, marker.files):
                    edited.append(entry.name)
            elif not (
                marker.state == "legacy"
                and _regular(entry)
                and _staged_name().fullmatch(entry.name)
            ):
                others.append(entry.name)
    if (others or edited or marker.state == "invalid") and not force:
        _refuse(marker, others, edited, out)
    # The folder is reconciler's and holds nothing else: it is replaced whole.
    whole = marker.state in ("manifest", "legacy") and not others and not edited
    _NOTES.clear()
    _NOTES.extend(recovered)
    run = _Run()
    hashing: _Hashing | None = None
    token: contextvars.Token[_Hashing | None] | None = None
    try:
        try:
            # An interrupt between creating the folder and noting its name would strand it;
            # its marker, written first, is what makes it removable once its run is gone.
            with signals_deferred():
                stage = _open_stage(out, run)
        except OSError as exc:
            raise OutputError(
                f"cannot create the output folder ({exc.strerror})", path=out
            ) from exc
        hashing = _Hashing(stage)
        token = _HASHING.set(hashing)
        yield stage
        # An interrupt that some library swallowed still keeps the previous outputs.
        interrupts.check()
        names = sorted(p.name for p in stage.iterdir() if p.name != MARKER)
        files = {name: hashing.fingerprint(name) for name in names}
        _write_manifest(stage, files)
        os.chmod(stage, 0o755)
        _NOTES.extend(_finish(stage, out, files, whole=whole, run=run))
    except OSError as exc:
        later = "; the next run finishes moving them" if run.keep else ""
        raise OutputError(f"cannot write outputs ({exc.strerror or exc}){later}", path=out) from exc
    finally:
        if hashing is not None:
            hashing.close()
        if token is not None:
            with contextlib.suppress(ValueError):
                _HASHING.reset(token)
        for made in run.stages:
            _done_with(made)
            # A writer thread still finishing a file could make one pass miss it: retry
            # briefly. A file-by-file move that failed midway is left for the next run.
            for _attempt in range(50):
                if run.keep or not made.exists():
                    break
                shutil.rmtree(made, ignore_errors=True)
                if made.exists():
                    time.sleep(0.1)


@dataclass(slots=True)
class _Run:
    """The staging folders one run made (removed at its end, unless ``keep``: a move into
    ``out`` that began and failed is left for the next run to finish)."""

    stages: list[Path] = field(default_factory=list)
    keep: bool = False


class _Unrenamable(Exception):
    """A swap that cannot rename the folder (another filesystem, a mount point)."""


_UNRENAMABLE = frozenset({errno.EXDEV, errno.EBUSY, errno.EPERM, errno.EACCES})


def _in_place(out: Path) -> bool:
    """``out`` cannot be replaced by a rename: a mount point, or on another filesystem than
    the folder holding it (where a staging folder beside it would be)."""
    try:
        return out.is_dir() and (
            os.path.ismount(out) or out.stat().st_dev != out.parent.stat().st_dev
        )
    except OSError:
        return False


def _new_stage(parent: Path, prefix: str, run: _Run) -> Path:
    """A staging folder in ``parent``, locked and noted as this run's, its marker first."""
    pid = os.getpid()
    tag = _start_tag(pid)
    suffix = f"-{tag}.tmp" if tag else ".tmp"
    with _GUARD:
        stage = Path(tempfile.mkdtemp(prefix=f"{prefix}{pid}-", suffix=suffix, dir=parent))
        _in_use(stage, None)
    run.stages.append(stage)
    _in_use(stage, _lock(stage))
    _write_staging_marker(stage)
    return stage


def _open_stage(out: Path, run: _Run) -> Path:
    if _in_place(out):
        return _new_stage(out, _INSIDE, run)
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        return _new_stage(out.parent, f".{_stem(out.name)}.", run)
    except OSError as exc:
        # A folder we may write in but not beside (its parent read-only, say): inside it.
        if not out.is_dir() or exc.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise
        return _new_stage(out, _INSIDE, run)


_NOTES: list[str] = []


def record_in_manifest(folder: Path, name: str) -> None:
    """Note a file reconciler (re)wrote in one of its output folders (``reconciler report``).
    The other files keep the fingerprints they had: an edit made since stays an edit."""
    files = read_manifest(folder)
    if files is None:
        return
    _write_manifest(folder, {**files, name: _fingerprint(folder / name)})


def recover_before_rewrite(folder: Path) -> None:
    """Before a command reads and rewrites files in an existing output folder (``reconciler
    report``): finish or undo what an interrupted run left there, as ``staged_output`` does
    (a swap cut short is finished with the complete new outputs, or the previous ones put
    back). ``staging_notes`` says what was done."""
    _NOTES.clear()
    try:
        real = _real_out(folder)
    except OutputError:
        return  # a link that leads nowhere: reading the folder says so
    if real.exists() and not real.is_dir():
        return
    try:
        _NOTES.extend(recover_interrupted(real))
    except OSError as exc:
        raise OutputError(
            f"cannot recover what an interrupted run left ({exc.strerror or exc})", path=folder
        ) from exc


def make_room(folder: Path, name: str) -> None:
    """Before ``name`` is rewritten in place in ``folder`` (``reconciler report``, after
    ``recover_before_rewrite``): keep the file there aside under a dated name unless
    reconciler wrote it as it is now."""
    target = folder / name
    if not os.path.lexists(target):
        return
    marker = _read_marker(folder)
    if _proven(target, marker.files):
        return
    try:
        _NOTES.append(_keep_aside(target, marker))
    except OSError as exc:
        raise OutputError(
            f"cannot keep {name} aside before writing it ({exc.strerror or exc})", path=folder
        ) from exc


def staging_notes() -> list[str]:
    """What the last ``staged_output`` (or ``recover_before_rewrite`` and ``make_room``) did that the user should hear of (a
    recovered swap, a file kept aside)."""
    return list(_NOTES)


def _finish(
    stage: Path, out: Path, files: Mapping[str, Written], *, whole: bool, run: _Run
) -> list[str]:
    """Move complete staged outputs (``files``, in ``stage``'s manifest) into ``out``: one
    rename of the folder when it is beside ``out`` and ``out`` is missing or wholly
    reconciler's, else file by file (``_commit``), first moving the files into a staging folder
    inside ``out`` when a folder beside it cannot be renamed there. Returns what to say."""
    if stage.parent != out:
        if whole or not os.path.lexists(out):
            try:
                return _swap(stage, out)
            except _Unrenamable:
                out.mkdir(exist_ok=True)
                stage = _relocate(stage, out, files, run)
        elif _in_place(out):
            stage = _relocate(stage, out, files, run)
    run.keep = True
    said = _commit(stage, out, files)
    run.keep = False
    with contextlib.suppress(OSError):
        stage.rmdir()
    return said


def _relocate(stage: Path, out: Path, files: Mapping[str, Written], run: _Run) -> Path:
    """The staged files, moved (or copied, across filesystems) into a staging folder inside
    ``out``; its manifest is written once they are all there."""
    inside = _new_stage(out, _INSIDE, run)
    # From here the folder beside is unfinished: removed, not finished, if this is cut short.
    with contextlib.suppress(FileNotFoundError):
        (stage / MARKER).unlink()
    for name in sorted(files):
        try:
            os.replace(stage / name, inside / name)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            shutil.copy2(stage / name, inside / name)
            (stage / name).unlink()
    _write_manifest(inside, files)
    with contextlib.suppress(OSError):
        stage.rmdir()
    return inside


def _swap(stage: Path, out: Path) -> list[str]:
    """``stage`` becomes ``out`` in one rename, the previous ``out`` set aside first (its
    files not proven reconciler's go back). Raises ``_Unrenamable`` when a folder cannot be
    renamed there, having changed nothing."""
    said: list[str] = []
    backup: Path | None = None
    with signals_deferred():
        if os.path.lexists(out):
            tag = _start_tag(os.getpid())
            backup = out.with_name(
                f".{_stem(out.name)}.old-{os.getpid()}" + (f"-{tag}" if tag else "")
            )
            _in_use(backup, _lock(out))  # the lock goes with the folder
            try:
                os.replace(out, backup)
            except OSError as exc:
                _done_with(backup)
                if exc.errno in _UNRENAMABLE:
                    raise _Unrenamable from exc
                raise
        try:
            os.replace(stage, out)
        except BaseException as exc:
            # Whatever stopped the second rename, put the previous outputs back.
            if backup is not None and not os.path.lexists(out):
                os.replace(backup, out)
                _done_with(backup)
            if isinstance(exc, OSError) and exc.errno in _UNRENAMABLE:
                raise _Unrenamable from exc
            raise
        if backup is not None:
            # The new outputs are in place: the run succeeded. Removing the old ones is
            # housekeeping, finished even if an interrupt arrives meanwhile; what is not
            # proven reconciler's (saved there during the run, say) goes back into ``out``.
            try:
                said.extend(_clear_old(backup, out))
            except KeyboardInterrupt:
                said.extend(_clear_old(backup, out))
            finally:
                _done_with(backup)
    return said


def _commit(stage: Path, out: Path, files: Mapping[str, Written]) -> list[str]:
    """Move the staged outputs into ``out`` one file at a time (each ``os.replace`` whole or
    not at all), the manifest last: into a folder that holds other files too, or that cannot
    be renamed. A file in the way that reconciler did not write as it is now is kept aside
    under a dated name (unless it holds the same bytes); only files the previous manifest
    proves reconciler's are removed or replaced. A commit cut short is finished by the next
    run: a file already moved is proven by the staged manifest. The manifest names only the
    files that are in ``out`` as written. Returns what to say."""
    said: list[str] = []
    marker = _read_marker(out)  # again: the run took a while
    previous = marker.files
    moved: set[str] = set()
    with signals_deferred():
        for name in sorted(files):
            source, target = stage / name, out / name
            if not os.path.lexists(source):
                continue  # moved by a run cut short
            if (
                os.path.lexists(target)
                and not _proven(target, previous)
                and not _same_bytes(source, target)
            ):
                said.append(_keep_aside(target, marker))
            os.replace(source, target)
            moved.add(name)
        for name in previous or {}:
            if name not in files and _proven(out / name, previous):
                with contextlib.suppress(FileNotFoundError):
                    (out / name).unlink()
        if marker.state == "invalid" and os.path.lexists(out / MARKER):
            said.append(_keep_aside(out / MARKER, marker))
        # The manifest lists only what this run wrote: the analyst's files stay theirs.
        there = {n: w for n, w in files.items() if n in moved or _proven(out / n, files)}
        if len(there) == len(files):
            os.replace(stage / MARKER, out / MARKER)
        else:
            _write_manifest(out, there)
            with contextlib.suppress(FileNotFoundError):
                (stage / MARKER).unlink()
    return said
