"""Output folders: staged beside ``--out`` and moved into place whole, signals held back during
the swap, a manifest of what reconciler wrote (nothing else is ever replaced or removed), and
the recovery of what an interrupted run left."""

from __future__ import annotations

import contextlib
import functools
import itertools
import json
import os
import re
import shutil
import stat
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from reconciler import interrupts
from reconciler.errors import OutputError, UsageError

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
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="reconciler-write") as pool:
        with signals_deferred():
            futures = [pool.submit(job) for job in jobs]
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
# removed or replaced there, and an edit since is noticed. Each file: its size and a SHA-256
# of its bytes, or for a file larger than HASHED_BYTES of its first and last MiB (an edit
# that keeps the size and both ends is not seen). No time stamp: same inputs, same bytes.
# A file is reconciler's only when a manifest it wrote lists it with the size and digest it
# has now; a marker that is no such manifest proves nothing.
MANIFEST_VERSION = 1


HASHED_BYTES = 16 * 1024 * 1024


_ENDS = 1024 * 1024


_NAME_ROOM = 100  # characters of --out's name kept in the names of staging folders


_MARKER_MAX = 16 * 1024 * 1024  # a larger marker is no manifest reconciler wrote


# The first version's marker: it says the folder was reconciler's, not which files in it
# still are as it wrote them (it kept no fingerprints).
_LEGACY_MARKER = "made by reconciler; safe to delete"


@dataclass(frozen=True, slots=True)
class Written:
    """One file of an output folder as reconciler left it."""

    size: int
    digest: str  # "sha256:<hex>" of the whole file, or "sha256-ends:<hex>"


@dataclass(frozen=True, slots=True)
class _Marker:
    """What a folder's ``MARKER`` says: ``state`` is ``absent``, ``manifest`` (``files`` is
    what reconciler wrote there), ``legacy`` (the first version's plain text) or ``invalid``
    (``problem`` says why; ``staging`` holds the pid and host of a staging folder's marker)."""

    state: str
    files: dict[str, Written] | None = None
    problem: str = ""
    staging: tuple[int, str] | None = None


def _fingerprint(path: Path) -> Written:
    import hashlib

    size = path.stat().st_size
    h = hashlib.sha256()
    with path.open("rb") as fh:
        if size <= HASHED_BYTES:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
            return Written(size, "sha256:" + h.hexdigest())
        h.update(fh.read(_ENDS))
        fh.seek(size - _ENDS)
        h.update(fh.read(_ENDS))
    return Written(size, "sha256-ends:" + h.hexdigest())


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
        if not digest.startswith(("sha256:", "sha256-ends:")):
            return None
        listed[name] = Written(size, digest)
    return listed


def _staging_token(doc: object) -> tuple[int, str] | None:
    if not isinstance(doc, dict) or doc.get("tool") != "reconciler":
        return None
    staging = doc.get("staging")
    if not isinstance(staging, dict):
        return None
    pid, host = staging.get("pid"), staging.get("host")
    if type(pid) is not int or not isinstance(host, str):
        return None
    return pid, host


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
    try:
        return path.stat().st_size == was.size and _fingerprint(path).digest == was.digest
    except OSError:
        return False


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
    is gone (this machine, that pid) is ever removed as its leftover."""
    import socket

    token = {"tool": "reconciler", "staging": {"pid": os.getpid(), "host": socket.gethostname()}}
    _write_marker(stage, json.dumps(token) + "\n")


def _stem(name: str) -> str:
    """--out's name as it goes into the names of staging folders: short enough that a legal
    long folder name still leaves room for the rest."""
    if len(name) <= _NAME_ROOM:
        return name
    import hashlib

    return name[:60] + "~" + hashlib.sha256(name.encode("utf-8", "surrogateescape")).hexdigest()[:8]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


# Beside --out: a staging folder (tempfile.mkdtemp's name: pid, dash, 8 characters) and the
# previous outputs set aside during a swap.
_STAGING_NAME = re.compile(r"([0-9]+)-[a-z0-9_]{8}\.tmp")
_OLD_NAME = re.compile(r"old-([0-9]+)")


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
    import socket

    try:
        entries = list(folder.iterdir())
    except OSError:
        return False
    marker = _read_marker(folder)
    if marker.state == "manifest":
        return all(e.name == MARKER or _proven(e, marker.files) for e in entries)
    if marker.state == "absent":
        return all(_regular(e) and _staged_name().fullmatch(e.name) for e in entries)
    return marker.staging == (pid, socket.gethostname())


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
    """Finish what an earlier run cut short beside ``out`` (killed, or the machine stopped):
    a staging folder of a process that is gone is removed when it is proven reconciler's;
    previous outputs set aside for a swap that never finished are put back when ``out`` is
    missing, or removed when the new outputs are in place (any file there that is not
    reconciler's goes back into ``out``). A folder of the same name pattern that is not
    proven reconciler's is left alone. Returns what was done, to be said."""
    said: list[str] = []
    stem = _stem(out.name)
    try:
        entries = sorted(out.parent.iterdir(), key=lambda p: p.name)
    except OSError:
        return said
    for entry in entries:
        name = entry.name
        if not name.startswith(f".{stem}.") or entry.is_symlink() or not entry.is_dir():
            continue
        rest = name[len(stem) + 2 :]
        old = _OLD_NAME.fullmatch(rest)
        staging = _STAGING_NAME.fullmatch(rest)
        found = old or staging
        if found is not None and _empty(entry) and not _alive(int(found.group(1))):
            # Killed before its marker was written, or after the last file went: nothing is
            # in it to lose, and rmdir removes nothing else.
            with contextlib.suppress(OSError):
                entry.rmdir()
                said.append(f"removed {name}, an empty folder an interrupted run left")
            continue
        if old is not None:
            if _alive(int(old.group(1))) or _read_marker(entry).state not in ("manifest", "legacy"):
                continue  # not a folder reconciler set aside: leave it
            if not os.path.lexists(out):
                os.replace(entry, out)
                said.append(f"restored the previous outputs of {out} from an interrupted run")
            elif _read_marker(out).state == "manifest":  # the new outputs are in place
                said.extend(_clear_old(entry, out))
                if not os.path.lexists(entry):
                    said.append(f"removed the previous outputs an interrupted run left in {name}")
        elif staging is not None:
            pid = int(staging.group(1))
            if _alive(pid) or not _staged_by_reconciler(entry, pid):
                continue
            shutil.rmtree(entry, ignore_errors=True)
            if not os.path.lexists(entry):
                said.append(f"removed {name}, the unfinished outputs of an interrupted run")
    return said


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
    if edited:
        what.append("edited since reconciler wrote them: " + ", ".join(edited[:5]))
    if others:
        what.append("added since: " + ", ".join(others[:5]))
    raise OutputError(
        "holds files " + "; ".join(what) + "; move them out of the folder, choose another "
        f"--out, or pass --force ({kept})",
        path=out,
    )


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
    renamed or removed, even empty (``--out .``). ``staging_notes`` says what was recovered
    or kept aside.
    """
    out = _real_out(out)
    if out.exists() and not out.is_dir():
        raise OutputError("exists and is not a folder; choose another --out", path=out)
    recovered = recover_interrupted(out)
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
    stage: Path | None = None
    stem = _stem(out.name)
    try:
        try:
            # An interrupt between creating the folder and noting its name would strand it;
            # its marker, written first, is what makes it removable once its run is gone.
            with signals_deferred():
                out.parent.mkdir(parents=True, exist_ok=True)
                stage = Path(
                    tempfile.mkdtemp(
                        prefix=f".{stem}.{os.getpid()}-", suffix=".tmp", dir=out.parent
                    )
                )
                _write_staging_marker(stage)
        except OSError as exc:
            raise OutputError(
                f"cannot create the output folder ({exc.strerror})", path=out
            ) from exc
        yield stage
        # An interrupt that some library swallowed still keeps the previous outputs.
        interrupts.check()
        names = sorted(p.name for p in stage.iterdir() if p.name != MARKER)
        _write_manifest(stage, {name: _fingerprint(stage / name) for name in names})
        os.chmod(stage, 0o755)
        if out.exists() and not whole:
            _merge(stage, out, names)
        else:
            _swap(stage, out, stem)
    except OSError as exc:
        raise OutputError(f"cannot write outputs ({exc.strerror or exc})", path=out) from exc
    finally:
        # A writer thread still finishing a file could make one pass miss it: retry briefly.
        for _attempt in range(50):
            if stage is None or not stage.exists():
                break
            shutil.rmtree(stage, ignore_errors=True)
            if stage.exists():
                time.sleep(0.1)


_NOTES: list[str] = []


def record_in_manifest(folder: Path, name: str) -> None:
    """Note a file reconciler (re)wrote in one of its output folders (``reconciler report``).
    The other files keep the fingerprints they had: an edit made since stays an edit."""
    files = read_manifest(folder)
    if files is None:
        return
    _write_manifest(folder, {**files, name: _fingerprint(folder / name)})


def make_room(folder: Path, name: str) -> None:
    """Before ``name`` is rewritten in place in ``folder`` (``reconciler report``): keep the
    file there aside under a dated name unless reconciler wrote it as it is now."""
    _NOTES.clear()
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
    """What the last ``staged_output`` (or ``make_room``) did that the user should hear of (a
    recovered swap, a file kept aside)."""
    return list(_NOTES)


def _swap(stage: Path, out: Path, stem: str) -> None:
    backup: Path | None = None
    with signals_deferred():
        if out.exists():
            backup = out.with_name(f".{stem}.old-{os.getpid()}")
            os.replace(out, backup)
        try:
            os.replace(stage, out)
        except BaseException:
            # Whatever stopped the second rename, put the previous outputs back.
            if backup is not None and not out.exists():
                os.replace(backup, out)
            raise
        if backup is not None:
            # The new outputs are in place: the run succeeded. Removing the old ones is
            # housekeeping, finished even if an interrupt arrives meanwhile; what is not
            # proven reconciler's (saved there during the run, say) goes back into ``out``.
            try:
                _NOTES.extend(_clear_old(backup, out))
            except KeyboardInterrupt:
                _NOTES.extend(_clear_old(backup, out))


def _merge(stage: Path, out: Path, names: Sequence[str]) -> None:
    """Move the new outputs into a folder that holds other files too, one rename a file.
    A file in the way that reconciler did not write as it is now is kept aside under a dated
    name (unless it holds the same bytes); only files the previous manifest proves
    reconciler's are removed or replaced."""
    marker = _read_marker(out)  # again: the run took a while
    files = marker.files
    with signals_deferred():
        for name in names:
            target = out / name
            if (
                os.path.lexists(target)
                and not _proven(target, files)
                and not _same_bytes(stage / name, target)
            ):
                _NOTES.append(_keep_aside(target, marker))
            os.replace(stage / name, target)
        for name in files or {}:
            if name not in names and _proven(out / name, files):
                with contextlib.suppress(FileNotFoundError):
                    (out / name).unlink()
        if marker.state == "invalid" and os.path.lexists(out / MARKER):
            _NOTES.append(_keep_aside(out / MARKER, marker))
        # The manifest lists only what this run wrote: the analyst's files stay theirs.
        os.replace(stage / MARKER, out / MARKER)
