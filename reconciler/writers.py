"""The only code that writes files. Every output folder is staged and moved into place whole.

Owns: atomic output folders, CSV/JSON encoding of outputs, and neutralising spreadsheet formulas
in analyst-facing files. Does not decide what goes in a file.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import shutil
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .errors import OutputError, UsageError

MARKER = ".reconciler-output"

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = r"[+-]?(?:[0-9]+(?:[.,][0-9]*)?|[.,][0-9]+)(?:[eE][+-]?[0-9]+)?"


def formula_mask(values: pd.Series) -> np.ndarray:
    """True where a spreadsheet would run the cell as a formula (OWASP CSV injection)."""
    if values.dtype == object or isinstance(values.dtype, pd.CategoricalDtype):
        # Judge each distinct value once (verdict columns repeat a handful of texts).
        codes, uniques = pd.factorize(values)
        if len(uniques) < len(values) // 4:
            judged = _formula_mask(pd.Series(np.asarray(uniques, dtype=object)).astype("str"))
            out = np.zeros(len(values), dtype=bool)
            valid = codes >= 0
            out[valid] = judged[codes[valid]]
            return out
    return _formula_mask(values)


def _formula_mask(values: pd.Series) -> np.ndarray:
    return _formula_like(_arrow_text(values))


def neutralise(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy where every formula-like cell is prefixed with ``'`` so it stays text."""
    out: dict[str, Any] = {}
    for col in frame.columns:
        series = frame[col]
        if series.dtype.kind in "iufb":
            out[col] = series
            continue
        mask = formula_mask(series)
        if mask.any():
            series = series.astype(object).copy()
            series[mask] = "'" + series[mask].astype(str)
        out[col] = series
    return pd.DataFrame(out, index=frame.index)


def write_csv(
    frame: pd.DataFrame,
    path: Path,
    *,
    header: Sequence[str] | None = None,
    safe: bool = False,
    lead: Sequence[Any] | None = None,
) -> None:
    """UTF-8 (no BOM), comma-separated, header first, ``\\n`` line ends, minimal quoting.

    A field is quoted only when it holds a comma, a quote or a line break (quotes doubled),
    exactly as Python's csv module does. Rows are built a whole column at a time with Arrow's
    string kernels and written as one buffer: pandas' ``to_csv`` spends seconds per million
    rows in Python.

    ``safe`` neutralises formula-like values on the way (see ``neutralise``), for files
    analysts open in a spreadsheet.

    ``lead``: the leading fields of every row, already encoded by ``encode_rows`` (with the
    same ``safe``); ``frame`` then holds only the columns that follow them, and ``header``
    names all of them.
    """
    names = [str(h) for h in (header if header is not None else frame.columns)]
    if safe:
        risky = formula_mask(pd.Series(names, dtype=object))
        names = ["'" + n if r else n for n, r in zip(names, risky, strict=True)]
    with path.open("wb") as fh:
        fh.write((",".join(_quote_one(h) for h in names) + "\n").encode("utf-8"))
        if len(frame) == 0:
            return
        # Categorical columns' texts, encoded once for all chunks (by the first one).
        memo: dict[tuple[int, bool], Any] = {}

        def body(i: int) -> memoryview:
            part = frame.iloc[i * ROWS_PER_CHUNK : (i + 1) * ROWS_PER_CHUNK]
            return _csv_body(part, safe=safe, lead=None if lead is None else lead[i], memo=memo)

        chunks = -(-len(frame) // ROWS_PER_CHUNK)
        fh.write(body(0))
        if chunks > 2:
            # Two chunks in flight at a time, written in order: the second core helps when
            # it is free, and memory stays bounded.
            with ThreadPoolExecutor(max_workers=2, thread_name_prefix="reconciler-csv") as pool:
                pending = [pool.submit(body, i) for i in range(1, min(3, chunks))]
                for i in range(1, chunks):
                    done = pending.pop(0).result()
                    if i + 2 < chunks:
                        pending.append(pool.submit(body, i + 2))
                    fh.write(done)
        else:
            for i in range(1, chunks):
                fh.write(body(i))


ROWS_PER_CHUNK = 100_000


def encode_rows(frame: pd.DataFrame, *, safe: bool = False) -> list[Any]:
    """Every row of ``frame`` as its CSV fields joined by commas, without the line end: one
    Arrow string array per ``ROWS_PER_CHUNK`` rows, for ``write_csv(lead=...)``.

    Encoding the sent file's own columns does not depend on the verdicts, so the pipeline
    does it on the second core while the records are being tied and classified."""
    return [
        _csv_rows(frame.iloc[start : start + ROWS_PER_CHUNK], safe=safe, alone=False, memo={})
        for start in range(0, len(frame), ROWS_PER_CHUNK)
    ]


def _quote_one(value: str) -> str:
    if any(ch in value for ch in ',"\r\n'):
        return '"' + value.replace('"', '""') + '"'
    return value


def _column_via_uniques(
    series: pd.Series,
    transform: Callable[[Any], Any],
    memo: dict[tuple[int, bool], Any] | None = None,
    variant: bool = False,
) -> Any:
    """``transform`` (Arrow string array -> Arrow string array) over a column.

    Verdict columns repeat a few texts (Outcome, Resolution, codes, advice): they are
    factorised and transformed once per distinct value, then expanded with ``take``."""
    import pyarrow as pa

    if isinstance(series.dtype, pd.CategoricalDtype):
        cat_codes = np.asarray(series.array.codes, dtype=np.int64)
        if len(cat_codes) and cat_codes.min() >= 0:
            # The slices of one column share their dtype; ``variant`` tells two transforms
            # of one column apart.
            key = (id(series.dtype), variant)
            done = memo.get(key) if memo is not None else None
            if done is None:
                texts = pd.Series(np.asarray(series.array.categories, dtype=object), dtype=object)
                done = transform(_arrow_text(texts))
                if memo is not None:
                    memo[key] = done
            return done.take(pa.array(cat_codes))
    if series.dtype == object or isinstance(series.dtype, pd.CategoricalDtype):
        codes, uniques = pd.factorize(series, use_na_sentinel=False)
        if len(uniques) * 4 < len(series):
            values = pd.Series(np.asarray(uniques, dtype=object), dtype=object)
            done = transform(_arrow_text(values))
            return done.take(pa.array(codes.astype(np.int64)))
    return transform(_arrow_text(series))


_NEEDS_QUOTES = b',"\r\n'
_FORMULA_BYTES = b"=+-@\t\r"
_XML_SPECIAL_BYTES = b"&<>"
_XML_NONCHARACTERS = (b"\xef\xbf\xbe", b"\xef\xbf\xbf")  # U+FFFE, U+FFFF
_XML_CONTROL = np.ones(256, dtype=bool)
_XML_CONTROL[0x20:] = False
_XML_CONTROL[[0x09, 0x0A, 0x0D]] = False


def _bytes_match(arr: Any, chars: bytes) -> bool:
    """Whether any of the bytes ``chars`` occurs in a string array's data: a memchr scan of
    its buffer per byte, which lets the per-value kernels be skipped for the many columns
    that need none."""
    data = bytes(_data_view(arr))
    return any(data.find(c) >= 0 for c in (chars[i : i + 1] for i in range(len(chars))))


def _has_xml_illegal(arr: Any) -> bool:
    """Whether a string array holds a character XML 1.0 cannot (C0 controls, U+FFFE/F):
    numpy scans of its bytes, exact checks only when a suspect byte shows up."""
    view = _data_view(arr)
    if not len(view):
        return False
    raw = np.frombuffer(view, dtype=np.uint8)
    low = raw < 0x20
    if low.any() and _XML_CONTROL[raw[low]].any():
        return True
    if (raw == 0xEF).any():
        data = bytes(view)
        return any(seq in data for seq in _XML_NONCHARACTERS)
    return False


def _csv_quote(arr: Any) -> Any:
    """Quote the values of an Arrow string array that need it (as the csv module does)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    text = pa.large_string()
    if not _bytes_match(arr, _NEEDS_QUOTES):
        return arr
    needs = pc.match_substring_regex(arr, '[,"\r\n]')
    quote = pa.scalar('"', text)
    doubled = pc.replace_substring(arr, '"', '""')
    quoted = pc.binary_join_element_wise(quote, doubled, quote, pa.scalar("", text))
    return pc.if_else(needs, quoted, arr)


def _neutralise_arrow(arr: Any) -> Any:
    """Prefix ``'`` to values a spreadsheet would run as a formula (Arrow array in and out)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    risky = _formula_like(arr)
    if not risky.any():
        return arr
    prefixed = pc.binary_join_element_wise(
        pa.scalar("'", pa.large_string()), arr, pa.scalar("", pa.large_string())
    )
    return pc.if_else(pa.array(risky), prefixed, arr)


def _csv_body(
    frame: pd.DataFrame,
    *,
    safe: bool = False,
    lead: Any = None,
    memo: dict[tuple[int, bool], Any] | None = None,
) -> memoryview:
    """The CSV lines of a slice, as one buffer. The line end rides on the last field and
    ``lead`` joins in the same pass: the row text is built once."""
    import pyarrow as pa
    import pyarrow.compute as pc

    columns = _csv_fields(frame, safe=safe, alone=lead is None, line_end=True, memo=memo)
    if lead is not None:
        columns = [lead, *columns]
    comma = pa.scalar(",", pa.large_string())
    rows = pc.binary_join_element_wise(*columns, comma) if len(columns) > 1 else columns[0]
    return _data_view(rows)


def _csv_rows(
    frame: pd.DataFrame,
    *,
    safe: bool,
    alone: bool,
    memo: dict[tuple[int, bool], Any] | None = None,
) -> Any:
    """The fields of each row joined by commas (``alone``: these are all of the row's fields)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    columns = _csv_fields(frame, safe=safe, alone=alone, line_end=False, memo=memo)
    comma = pa.scalar(",", pa.large_string())
    return pc.binary_join_element_wise(*columns, comma) if len(columns) > 1 else columns[0]


def _csv_fields(
    frame: pd.DataFrame,
    *,
    safe: bool,
    alone: bool,
    line_end: bool,
    memo: dict[tuple[int, bool], Any] | None,
) -> list[Any]:
    """Each column's encoded fields; with ``line_end`` the last one ends with ``\\n``."""
    import pyarrow as pa
    import pyarrow.compute as pc

    text = pa.large_string()
    empty = pa.scalar("", text)
    newline = pa.scalar("\n", text)
    last = frame.shape[1] - 1

    def encoder(i: int) -> Callable[[Any], Any]:
        def cell(arr: Any) -> Any:
            out = _csv_quote(_neutralise_arrow(arr) if safe else arr)
            if alone and last == 0:
                # A lone empty field would read back as a blank line.
                out = pc.if_else(pc.equal(out, empty), pa.scalar('""', text), out)
            if line_end and i == last:
                out = pc.binary_join_element_wise(out, newline, empty)
            return out

        return cell

    columns = []
    for i in range(frame.shape[1]):
        series = frame.iloc[:, i]
        if series.dtype.kind in "iuf":
            columns.append(encoder(i)(_arrow_text(series)))
        else:
            columns.append(_column_via_uniques(series, encoder(i), memo, i == last and line_end))
    return columns


def _data_view(arr: Any) -> memoryview:
    """The UTF-8 bytes of a (non-chunked) string array's values, concatenated, without copying."""
    import pyarrow as pa

    offsets = memoryview(arr.buffers()[1]).cast("B")
    data = arr.buffers()[2]
    first, last = arr.offset, arr.offset + len(arr)
    if pa.types.is_large_string(arr.type):
        start = offsets[first * 8 : (first + 1) * 8].cast("q")[0]
        end = offsets[last * 8 : (last + 1) * 8].cast("q")[0]
    else:
        start = offsets[first * 4 : (first + 1) * 4].cast("i")[0]
        end = offsets[last * 4 : (last + 1) * 4].cast("i")[0]
    return memoryview(data)[start:end] if data is not None else memoryview(b"")


def write_json(data: Any, path: Path) -> None:
    """Indented JSON, except that a long list is written one compact item per line.

    ``json.dumps(indent=...)`` falls back to the pure-Python encoder, which costs about a
    second per 100,000 findings; compact items go through the C encoder."""
    with path.open("w", encoding="utf-8") as fh:
        fh.write(_json_text(data, 0))
        fh.write("\n")


_LONG_LIST = 50


def _json_text(data: Any, depth: int) -> str:
    pad = "  " * (depth + 1)
    end = "  " * depth
    if isinstance(data, pd.DataFrame):
        if data.empty:
            return "[]"
        # One object per row, encoded by pandas' C writer.
        lines = data.to_json(orient="records", lines=True, force_ascii=False).rstrip("\n")
        return "[\n" + pad + lines.replace("\n", ",\n" + pad) + "\n" + end + "]"
    if isinstance(data, dict) and data:
        items = [
            f"{pad}{json.dumps(str(k), ensure_ascii=False)}: {_json_text(v, depth + 1)}"
            for k, v in data.items()
        ]
        return "{\n" + ",\n".join(items) + "\n" + end + "}"
    if isinstance(data, list | tuple) and data:
        if len(data) > _LONG_LIST:
            dump = json.JSONEncoder(ensure_ascii=False, default=str).encode
            return "[\n" + ",\n".join(pad + dump(item) for item in data) + "\n" + end + "]"
        return "[\n" + ",\n".join(pad + _json_text(v, depth + 1) for v in data) + "\n" + end + "]"
    return json.dumps(data, ensure_ascii=False, default=str)


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


HELD_SIGNALS: tuple[str, ...] = ("SIGINT", "SIGTERM", "SIGHUP")


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


@dataclass(frozen=True, slots=True, eq=False)
class Sheet:
    """One worksheet: a header and a frame of values (all written as text unless numeric
    dtype), optional per-cell highlight mask, frozen header and autofilter."""

    name: str
    header: Sequence[str]
    frame: pd.DataFrame
    highlight: np.ndarray | None = None
    note: str = ""  # a line above the header (e.g. "rows capped: see reconciled.csv")
    widths: Mapping[int, float] = field(default_factory=dict)


_HIGHLIGHT = "FFFFF2CC"
_HEADER_FILL = "FFDDEBF7"
_XML_ILLEGAL = r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]"
MAX_CELL_CHARS = 32767  # Excel's limit for one cell


def write_xlsx(sheets: Sequence[Sheet], path: Path, *, now: datetime) -> None:
    """A workbook written directly as SpreadsheetML, a whole column at a time.

    openpyxl spends tens of microseconds per cell; a million-row report needs columns turned
    into XML with vectorised string operations instead. Every non-numeric value is a *string*
    cell (shared when its text repeats, inline otherwise), which a spreadsheet never evaluates
    (a value starting with ``=`` stays text); IDs keep their digits. The header row is frozen and filterable; highlighted cells get a
    yellow fill. The zip entries carry the fixed timestamp ``now`` so output is reproducible.
    """
    stamp = now.astimezone(UTC).replace(tzinfo=None) if now.tzinfo else now
    iso = stamp.strftime("%Y-%m-%dT%H:%M:%SZ")
    date_time = (
        max(stamp.year, 1980),
        stamp.month,
        stamp.day,
        stamp.hour,
        stamp.minute,
        stamp.second,
    )
    names = _unique_titles([spec.name for spec in sheets])
    parts: list[tuple[str, str]] = [
        ("[Content_Types].xml", _content_types(len(sheets))),
        ("_rels/.rels", _ROOT_RELS),
        ("docProps/core.xml", _core(iso)),
        ("docProps/app.xml", _APP),
        ("xl/workbook.xml", _workbook(names, sheets)),
        ("xl/_rels/workbook.xml.rels", _workbook_rels(len(sheets))),
        ("xl/styles.xml", _STYLES),
    ]
    tmp = path.with_name(path.name + ".part")
    # Level 1: the XML is repetitive, so it still shrinks ~10x, at a third of level 6's cost.
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for name, text in parts:
            zf.writestr(
                zipfile.ZipInfo(name, date_time), text.encode("utf-8"), zipfile.ZIP_DEFLATED
            )
        strings = _SharedStrings()
        members: list[tuple[str, Callable[[], Iterator[str | memoryview]]]] = [
            (f"xl/worksheets/sheet{i}.xml", functools.partial(_sheet_xml, spec, strings))
            for i, spec in enumerate(sheets, start=1)
        ]
        # The shared strings are known once every sheet is written: their part comes last.
        for name, xml in [*members, ("xl/sharedStrings.xml", strings.xml)]:
            info = zipfile.ZipInfo(name, date_time)
            info.compress_type = zipfile.ZIP_DEFLATED
            # ZipFile.open() ignores the archive's compresslevel for a ZipInfo it is given.
            info._compresslevel = 1  # type: ignore[attr-defined]  # public as compress_level in 3.13
            with zf.open(info, "w") as fh:
                for chunk in xml():
                    fh.write(chunk.encode("utf-8") if isinstance(chunk, str) else chunk)
    os.replace(tmp, path)


class _SharedStrings:
    """The workbook's shared-string table: each repeated text is stored once and cells refer
    to it by number (what Excel itself writes). Texts that hardly repeat stay inline."""

    def __init__(self) -> None:
        self._index: dict[str, int] = {}

    def numbers(self, texts: Any) -> Any:
        """The table number of each text of an Arrow string array (added when new), as an
        Arrow string array of decimal numbers."""
        import pyarrow as pa

        index = self._index
        found = [index.setdefault(t, len(index)) for t in texts.to_pylist()]
        return pa.array([str(i) for i in found], type=pa.large_string())

    def xml(self) -> Iterator[str | memoryview]:
        import pyarrow as pa
        import pyarrow.compute as pc

        text = pa.large_string()
        yield (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
            f'uniqueCount="{len(self._index)}">'
        )
        if self._index:
            texts = pa.array(list(self._index), type=text)
            spaced = pc.match_substring_regex(texts, r"^\s|\s$")
            opening = pc.if_else(
                spaced, pa.scalar('<si><t xml:space="preserve">', text), pa.scalar("<si><t>", text)
            )
            items = pc.binary_join_element_wise(
                opening, _xml_text(texts), pa.scalar("</t></si>", text), pa.scalar("", text)
            )
            yield _data_view(items)
        yield "</sst>"


def _column_letter(i: int) -> str:
    out = ""
    i += 1
    while i:
        i, rem = divmod(i - 1, 26)
        out = chr(65 + rem) + out
    return out


_ARROW_XML_ILLEGAL = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x{FFFE}\x{FFFF}]"


def _arrow_text(series: pd.Series) -> Any:
    """A column as an Arrow ``large_string`` array with nulls as ""."""
    import pyarrow as pa
    import pyarrow.compute as pc

    values = series.to_numpy(dtype=object) if series.dtype == object else series
    arr = pa.array(values, from_pandas=True)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    if arr.type != pa.large_string():
        arr = pc.cast(arr, pa.large_string())
    return pc.fill_null(arr, pa.scalar("", pa.large_string()))


def _xml_text(arr: Any) -> Any:
    """Escape an Arrow string array for XML text; characters XML cannot hold become U+FFFD."""
    import pyarrow.compute as pc

    # Each kernel runs only when one C scan of the bytes says it has something to do.
    if _has_xml_illegal(arr):
        arr = pc.replace_substring_regex(arr, _ARROW_XML_ILLEGAL, "\ufffd")
    if (
        _longest(arr) > MAX_CELL_CHARS
        and pc.any(pc.greater(pc.utf8_length(arr), MAX_CELL_CHARS)).as_py()
    ):
        arr = pc.utf8_slice_codeunits(arr, 0, MAX_CELL_CHARS)
    if _bytes_match(arr, _XML_SPECIAL_BYTES):
        for char, entity in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;")):
            arr = pc.replace_substring(arr, char, entity)
    return arr


def _longest(arr: Any) -> int:
    """The most UTF-8 bytes any value of a (non-chunked) string array holds."""
    import pyarrow as pa

    if len(arr) == 0:
        return 0
    kind = np.int64 if pa.types.is_large_string(arr.type) else np.int32
    offsets = np.frombuffer(arr.buffers()[1], dtype=kind)[arr.offset : arr.offset + len(arr) + 1]
    return int(np.diff(offsets).max())


def _formula_like(arr: Any) -> np.ndarray:
    """Values a spreadsheet would run as a formula (see ``formula_mask``), on an Arrow array."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not _bytes_match(arr, _FORMULA_BYTES):
        return np.zeros(len(arr), dtype=bool)
    risky = np.asarray(
        pc.match_substring_regex(arr, r"^[=+\-@\t\r]").to_numpy(zero_copy_only=False), dtype=bool
    ).copy()
    if risky.any():
        idx = np.flatnonzero(risky)
        plain = pc.match_substring_regex(pc.take(arr, pa.array(idx)), "^" + _PLAIN_NUMBER + "$")
        risky[idx[np.asarray(plain.to_numpy(zero_copy_only=False), dtype=bool)]] = False
    return risky


def _distinct(series: pd.Series) -> tuple[Any, Any]:
    """A text column as (Arrow strings, codes): the distinct values and each row's position
    among them, or (every value, None) when the values hardly repeat."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(series.dtype, pd.CategoricalDtype):
        cat_codes = np.asarray(series.array.codes, dtype=np.int64)
        if len(cat_codes) and cat_codes.min() >= 0:
            texts = pd.Series(np.asarray(series.array.categories, dtype=object), dtype=object)
            return _arrow_text(texts), pa.array(cat_codes)
    arr = _arrow_text(series)
    encoded = pc.dictionary_encode(arr)
    if len(encoded.dictionary) * 4 < len(arr):
        return encoded.dictionary, encoded.indices
    return arr, None


def _rows_xml(
    part: pd.DataFrame,
    first_row: int,
    ncols: int,
    highlight: np.ndarray | None,
    memo: dict[int, tuple[Any, Any, np.ndarray]] | None = None,
    strings: _SharedStrings | None = None,
) -> memoryview:
    """``<row>`` elements for a slice of the frame, built a column at a time with Arrow.

    A text column whose values repeat refers to ``strings`` (the workbook's shared-string
    table); one whose values hardly repeat holds them inline."""
    import pyarrow as pa
    import pyarrow.compute as pc

    text = pa.large_string()

    def lit(value: str) -> Any:
        return pa.scalar(value, text)

    nums = pc.cast(pa.array(np.arange(first_row, first_row + len(part), dtype=np.int64)), text)
    empty = lit("")
    cells = []
    for c in range(min(ncols, part.shape[1])):
        series = part.iloc[:, c]
        ref = lit('<c r="' + _column_letter(c))
        if series.dtype.kind in "iuf":
            arr = pa.array(series, from_pandas=True)
            values = pc.fill_null(pc.cast(arr, text), empty)
            cell = pc.binary_join_element_wise(
                ref, nums, lit('"><v>'), values, lit("</v></c>"), empty
            )
            cells.append(pc.if_else(arr.is_null(), empty, cell))
            continue
        # Everything that depends on a value alone is worked out once per distinct value (and
        # once for all the chunks of a categorical column, whose slices share their dtype).
        distinct, codes_of = _distinct(series)
        kind: Any = lit('" t="inlineStr"')
        if strings is not None and codes_of is not None:
            # Values used more than once in this slice go to the shared-string table, the
            # rest stay inline; the XML of each value is made once.
            used, local = np.unique(np.asarray(codes_of), return_inverse=True)
            values = distinct.take(pa.array(used))
            repeated = np.bincount(local, minlength=len(used)) > 1
            bodies, blanks, formulas = _inline_bodies(series, values, None, None)
            kinds = pa.array(np.where(repeated, '" t="s"', '" t="inlineStr"'), type=text)
            if repeated.any():
                numbers = strings.numbers(values.filter(pa.array(repeated)))
                shared = pc.binary_join_element_wise(lit("><v>"), numbers, lit("</v></c>"), empty)
                bodies = pc.replace_with_mask(bodies, pa.array(repeated), shared)
            where = pa.array(local)
            body, blank, kind = bodies.take(where), blanks.take(where), kinds.take(where)
            formula = formulas[local]
        else:
            body, blank, formula = _inline_bodies(series, distinct, codes_of, memo)
        style: Any = lit("")
        flag = None
        lit_flag = highlight[:, c] if highlight is not None else None
        if (lit_flag is not None and lit_flag.any()) or formula.any():
            # Styles: 2 highlighted, 3 quotePrefix (a formula-like text stays text even when
            # edited in Excel), 4 both.
            marked = lit_flag if lit_flag is not None else np.zeros(len(part), dtype=bool)
            codes = np.where(marked, 2, 0) + np.where(formula, np.where(marked, 2, 3), 0)
            flag = pa.array(codes > 0)
            names = np.array(["", "", ' s="2"', ' s="3"', ' s="4"'], dtype=object)
            style = pa.array(names[codes], type=text)
        cell = pc.binary_join_element_wise(ref, nums, kind, style, body, empty)
        if flag is None:
            cell = pc.if_else(blank, empty, cell)
        else:
            styled_blank = pc.binary_join_element_wise(ref, nums, lit('" s="2"/>'), empty)
            cell = pc.if_else(blank, pc.if_else(flag, styled_blank, empty), cell)
        cells.append(cell)
    rows = pc.binary_join_element_wise(
        lit('<row r="'), nums, lit('">'), *cells, lit("</row>"), empty
    )
    return _data_view(rows)  # written without a copy


def _inline_bodies(
    series: pd.Series,
    distinct: Any,
    codes_of: Any,
    memo: dict[int, tuple[Any, Any, np.ndarray]] | None,
) -> tuple[Any, Any, np.ndarray]:
    """Inline-string cell bodies (after the cell's attributes), blank and formula-like masks,
    per row. Worked out once per distinct value, and once for all the chunks of a categorical
    column (its slices share their dtype)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    text = pa.large_string()
    key = id(series.dtype) if isinstance(series.dtype, pd.CategoricalDtype) else None
    known = memo.get(key) if memo is not None and key is not None else None
    if known is None:
        # xml:space="preserve" only where surrounding whitespace must survive.
        spaced = pc.match_substring_regex(distinct, r"^\s|\s$")
        opening = pc.if_else(
            spaced, pa.scalar('><is><t xml:space="preserve">', text), pa.scalar("><is><t>", text)
        )
        known = (
            pc.binary_join_element_wise(
                opening, _xml_text(distinct), pa.scalar("</t></is></c>", text), pa.scalar("", text)
            ),
            pc.equal(distinct, pa.scalar("", text)),
            _formula_like(distinct),
        )
        if memo is not None and key is not None:
            memo[key] = known
    body, blank, formula = known
    if codes_of is not None:
        body, blank = body.take(codes_of), blank.take(codes_of)
        formula = formula[np.asarray(codes_of)]
    return body, blank, formula


XLSX_ROWS_PER_CHUNK = 25_000  # bounds memory: each chunk's XML is built whole


def _sheet_xml(spec: Sheet, strings: _SharedStrings) -> Iterator[str | memoryview]:
    ncols = len(spec.header)
    head_row = 2 if spec.note else 1
    widths = _column_widths(spec)
    last = _column_letter(max(ncols - 1, 0))
    yield (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        f'<dimension ref="A1:{last}{head_row + len(spec.frame)}"/>'
        '<sheetViews><sheetView workbookViewId="0">'
        f'<pane ySplit="{head_row}" topLeftCell="A{head_row + 1}" activePane="bottomLeft" state="frozen"/>'
        '<selection pane="bottomLeft"/></sheetView></sheetViews>'
        '<sheetFormatPr defaultRowHeight="15"/><cols>'
    )
    yield (
        "".join(
            f'<col min="{i + 1}" max="{i + 1}" width="{spec.widths.get(i, widths[i]):.1f}" customWidth="1"/>'
            for i in range(ncols)
        )
        or '<col min="1" max="1" width="10" customWidth="1"/>'
    )
    yield "</cols><sheetData>"
    if spec.note:
        yield f'<row r="1"><c r="A1" t="inlineStr"><is><t xml:space="preserve">{_esc1(spec.note)}</t></is></c></row>'
    yield (
        f'<row r="{head_row}">'
        + "".join(
            f'<c r="{_column_letter(i)}{head_row}" t="inlineStr" s="1"><is><t xml:space="preserve">'
            f"{_esc1(str(h))}</t></is></c>"
            for i, h in enumerate(spec.header)
        )
        + "</row>"
    )
    frame = spec.frame
    memo: dict[int, tuple[Any, Any, np.ndarray]] = {}
    chunk = XLSX_ROWS_PER_CHUNK
    for start in range(0, len(frame), chunk):
        part = frame.iloc[start : start + chunk]
        mask = None if spec.highlight is None else spec.highlight[start : start + len(part)]
        yield _rows_xml(part, start + head_row + 1, ncols, mask, memo, strings)
    yield "</sheetData>"
    if ncols:
        yield f'<autoFilter ref="A{head_row}:{last}{head_row + max(len(frame), 1)}"/>'
    yield '<pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" footer="0.3"/></worksheet>'


def _esc1(text: str) -> str:
    cleaned = re.sub(_XML_ILLEGAL, "\ufffd", text)[:MAX_CELL_CHARS]
    return (
        cleaned.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
    )


def _unique_titles(names: Sequence[str]) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    for name in names:
        base = _sheet_title(name)
        title, n = base, 2
        while title.lower() in seen:
            suffix = f" ({n})"
            title = base[: 31 - len(suffix)] + suffix
            n += 1
        seen.add(title.lower())
        out.append(title)
    return out


def _sheet_title(name: str) -> str:
    bad = set("[]:*?/\\")
    return "".join("_" if ch in bad else ch for ch in name)[:31] or "Sheet"


def _content_types(n: int) -> str:
    sheets = "".join(
        f'<Override PartName="/xl/worksheets/sheet{i}.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        for i in range(1, n + 1)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/styles.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
        '<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
        '<Override PartName="/docProps/core.xml" '
        'ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>'
        '<Override PartName="/docProps/app.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.extended-properties+xml"/>'
        f"{sheets}</Types>"
    )


_ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/officeDocument" Target="xl/workbook.xml"/>'
    '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/'
    'metadata/core-properties" Target="docProps/core.xml"/>'
    '<Relationship Id="rId3" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/extended-properties" Target="docProps/app.xml"/>'
    "</Relationships>"
)
_APP = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties">'
    "<Application>reconciler</Application></Properties>"
)


def _core(iso: str) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/'
        'core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:dcterms="http://purl.org/dc/terms/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        "<dc:creator>reconciler</dc:creator>"
        f'<dcterms:created xsi:type="dcterms:W3CDTF">{iso}</dcterms:created>'
        f'<dcterms:modified xsi:type="dcterms:W3CDTF">{iso}</dcterms:modified>'
        "</cp:coreProperties>"
    )


def _workbook(names: Sequence[str], sheets: Sequence[Sheet]) -> str:
    entries = "".join(
        f'<sheet name="{_esc1(name)}" sheetId="{i}" r:id="rId{i}"/>'
        for i, name in enumerate(names, start=1)
    )
    filters = ""
    for i, (name, spec) in enumerate(zip(names, sheets, strict=True)):
        if spec.header:
            head = 2 if spec.note else 1
            last = _column_letter(len(spec.header) - 1)
            quoted = _esc1("'" + name.replace("'", "''") + "'")
            filters += (
                f'<definedName name="_xlnm._FilterDatabase" localSheetId="{i}" hidden="1">'
                f"{quoted}!$A${head}:${last}${head + max(len(spec.frame), 1)}</definedName>"
            )
    defined = f"<definedNames>{filters}</definedNames>" if filters else ""
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
        f"<bookViews><workbookView/></bookViews><sheets>{entries}</sheets>{defined}</workbook>"
    )


def _workbook_rels(n: int) -> str:
    rels = "".join(
        f'<Relationship Id="rId{i}" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        f'relationships/worksheet" Target="worksheets/sheet{i}.xml"/>'
        for i in range(1, n + 1)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        f'{rels}<Relationship Id="rId{n + 1}" Type="http://schemas.openxmlformats.org/'
        'officeDocument/2006/relationships/styles" Target="styles.xml"/>'
        f'<Relationship Id="rId{n + 2}" Type="http://schemas.openxmlformats.org/'
        'officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/>'
        "</Relationships>"
    )


_STYLES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/><family val="2"/></font></fonts>'
    '<fills count="4"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill>'
    f'<fill><patternFill patternType="solid"><fgColor rgb="{_HEADER_FILL}"/><bgColor indexed="64"/></patternFill></fill>'
    f'<fill><patternFill patternType="solid"><fgColor rgb="{_HIGHLIGHT}"/><bgColor indexed="64"/></patternFill></fill>'
    "</fills>"
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="5"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="2" borderId="0" xfId="0" applyFont="1" applyFill="1"/>'
    '<xf numFmtId="0" fontId="0" fillId="3" borderId="0" xfId="0" applyFill="1"/>'
    '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0" quotePrefix="1"/>'
    '<xf numFmtId="0" fontId="0" fillId="3" borderId="0" xfId="0" applyFill="1" quotePrefix="1"/>'
    "</cellXfs>"
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)


def _column_widths(spec: Sheet) -> list[float]:
    sample = spec.frame.head(200)
    out: list[float] = []
    for i, h in enumerate(spec.header):
        longest = len(str(h))
        if i < sample.shape[1] and len(sample):
            longest = max(longest, int(sample.iloc[:, i].astype(str).str.len().max()))
        out.append(float(min(max(longest + 2, 8), 60)))
    return out
