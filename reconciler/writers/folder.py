"""Output folders: staged beside ``--out`` and moved into place whole, signals held back during
the swap, a manifest of what reconciler wrote (nothing else is ever replaced or removed), and
the recovery of what an interrupted run left."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
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
MANIFEST_VERSION = 1


HASHED_BYTES = 16 * 1024 * 1024


_ENDS = 1024 * 1024


_NAME_ROOM = 100  # characters of --out's name kept in the names of staging folders


@dataclass(frozen=True, slots=True)
class Written:
    """One file of an output folder as reconciler left it."""

    size: int
    digest: str  # "sha256:<hex>" of the whole file, or "sha256-ends:<hex>"


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


def read_manifest(folder: Path) -> dict[str, Written] | None:
    """What reconciler wrote in ``folder`` (None: it did not make it). A marker of an earlier
    version (plain text) counts every file there as reconciler's, as that version did."""
    marker = folder / MARKER
    try:
        text = marker.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    try:
        data = json.loads(text)
        files = data["files"]
        return {str(name): Written(int(f["size"]), str(f["digest"])) for name, f in files.items()}
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
        with contextlib.suppress(OSError):
            return {
                p.name: _fingerprint(p)
                for p in folder.iterdir()
                if p.is_file() and p.name != MARKER
            }
        return {}


def _write_manifest(folder: Path, names: Sequence[str]) -> None:
    files = {}
    for name in sorted(names):
        w = _fingerprint(folder / name)
        files[name] = {"size": w.size, "digest": w.digest}
    text = json.dumps(
        {"tool": "reconciler", "manifest": MANIFEST_VERSION, "files": files}, indent=1
    )
    (folder / MARKER).write_text(text + "\n", encoding="utf-8")


def _edited(path: Path, was: Written) -> bool:
    try:
        size = path.stat().st_size
    except OSError:
        return False  # gone: nothing of the analyst's to keep
    return size != was.size or _fingerprint(path).digest != was.digest


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


def recover_interrupted(out: Path) -> list[str]:
    """Finish what an earlier run cut short beside ``out`` (killed, or the machine stopped):
    a staging folder of a process that is gone is removed; previous outputs set aside for a
    swap that never finished are put back when ``out`` is missing, or removed when the new
    outputs are in place. Returns what was done, to be said."""
    said: list[str] = []
    stem = _stem(out.name)
    try:
        entries = list(out.parent.iterdir())
    except OSError:
        return said
    for entry in entries:
        name = entry.name
        if not name.startswith(f".{stem}.") or not entry.is_dir() or entry.is_symlink():
            continue
        rest = name[len(stem) + 2 :]
        m = re.fullmatch(r"(?:old-)?([0-9]+)(?:-[^/]*\.tmp)?", rest)
        if m is None or _alive(int(m.group(1))):
            continue
        if rest.startswith("old-"):
            if read_manifest(entry) is None:
                continue  # not a folder reconciler set aside: leave it
            if not out.exists():
                os.replace(entry, out)
                said.append(f"restored the previous outputs of {out} from an interrupted run")
            else:
                shutil.rmtree(entry, ignore_errors=True)
                said.append(f"removed the previous outputs an interrupted run left in {name}")
        elif rest.endswith(".tmp"):
            shutil.rmtree(entry, ignore_errors=True)
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


@contextlib.contextmanager
def staged_output(out: Path, *, force: bool = False) -> Iterator[Path]:
    """Yield a temporary folder beside ``out``; on success its files land in ``out``.

    Only files reconciler wrote (its manifest, ``MARKER``) are ever replaced or removed. When
    ``out`` holds nothing else, the new folder replaces it in one rename: an interrupt at any
    moment leaves the previous outputs or the complete new ones, and a run killed mid-swap is
    recovered by the next. An ``out`` holding other files (not made by reconciler, or with
    files added or edited since) is refused unless ``force``; with it, the new files are
    moved in one by one, files of the analyst's stay, and an edited output is kept aside
    under a dated name. A folder reconciler did not make is never renamed or removed, even
    empty (``--out .``). ``staging_notes`` says what was recovered or kept aside.
    """
    out = _real_out(out)
    if out.exists() and not out.is_dir():
        raise OutputError("exists and is not a folder; choose another --out", path=out)
    recovered = recover_interrupted(out)
    previous = read_manifest(out) if out.is_dir() else None
    others: list[str] = []
    edited: list[str] = []
    if out.is_dir():
        for entry in sorted(out.iterdir(), key=lambda p: p.name):
            if entry.name == MARKER:
                continue
            if previous is None or entry.name not in previous or not entry.is_file():
                others.append(entry.name)
            elif _edited(entry, previous[entry.name]):
                edited.append(entry.name)
    if (others or edited) and not force:
        if previous is None:
            raise OutputError(
                "exists and was not made by reconciler; choose another --out or pass --force "
                "(reconciler then adds its files and never removes one it did not write)",
                path=out,
            )
        what = []
        if edited:
            what.append("edited since reconciler wrote them: " + ", ".join(edited[:5]))
        if others:
            what.append("added since: " + ", ".join(others[:5]))
        raise OutputError(
            "holds files " + "; ".join(what) + "; move them out of the folder, choose another "
            "--out, or pass --force (your files are kept, an edited output is kept aside under "
            "a dated name)",
            path=out,
        )
    _NOTES.clear()
    _NOTES.extend(recovered)
    stage: Path | None = None
    stem = _stem(out.name)
    try:
        try:
            # An interrupt between creating the folder and noting its name would strand it.
            with signals_deferred():
                out.parent.mkdir(parents=True, exist_ok=True)
                stage = Path(
                    tempfile.mkdtemp(
                        prefix=f".{stem}.{os.getpid()}-", suffix=".tmp", dir=out.parent
                    )
                )
        except OSError as exc:
            raise OutputError(
                f"cannot create the output folder ({exc.strerror})", path=out
            ) from exc
        yield stage
        # An interrupt that some library swallowed still keeps the previous outputs.
        interrupts.check()
        names = [p.name for p in stage.iterdir() if p.name != MARKER]
        _write_manifest(stage, names)
        os.chmod(stage, 0o755)
        if out.exists() and (previous is None or others or edited):
            _merge(stage, out, names, previous or {}, edited)
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
    """Note a file reconciler (re)wrote in one of its output folders (``reconciler report``)."""
    manifest = read_manifest(folder)
    if manifest is None:
        return
    _write_manifest(folder, sorted({*manifest, name}))


def staging_notes() -> list[str]:
    """What the last ``staged_output`` did that the user should hear of (a recovered swap,
    an edited output kept aside)."""
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
            # housekeeping, finished even if an interrupt arrives meanwhile.
            try:
                shutil.rmtree(backup, ignore_errors=True)
            except KeyboardInterrupt:
                shutil.rmtree(backup, ignore_errors=True)


def _merge(
    stage: Path,
    out: Path,
    names: Sequence[str],
    previous: Mapping[str, Written],
    edited: Sequence[str],
) -> None:
    """Move the new outputs into a folder that holds other files too, one rename a file;
    remove only files of the previous manifest that the new run did not write."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    with signals_deferred():
        for name in edited:
            source = out / name
            kept = out / f"{Path(name).stem}.edited-{stamp}{Path(name).suffix}"
            os.replace(source, kept)
            _NOTES.append(f"{name} had been edited since reconciler wrote it: kept as {kept.name}")
        for name in names:
            os.replace(stage / name, out / name)
        for name in previous:
            if name not in names and name not in edited:
                with contextlib.suppress(FileNotFoundError):
                    (out / name).unlink()
        # The manifest lists only what this run wrote: the analyst's files stay theirs.
        os.replace(stage / MARKER, out / MARKER)
