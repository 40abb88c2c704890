"""JSON outputs (summary.json, check.json): indented, long lists one compact item a line; one
text file written atomically (``write_document``: report.html, the audit's index); and API
responses kept byte for byte (``write_raw``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TextIO

import pandas as pd


def write_json(data: Any, path: Path) -> None:
    """Indented JSON, except that a long list is written one compact item per line.

    ``json.dumps(indent=...)`` falls back to the pure-Python encoder, which costs about a
    second per 100,000 findings; compact items go through the C encoder. A frame's rows are
    written a chunk at a time, as ``_json_text`` writes them whole: ``check.json`` of a
    million findings is a few hundred MB, which one string would copy several times over."""
    with path.open("w", encoding="utf-8") as fh:
        _write_json(fh, data, 0)
        fh.write("\n")


_LONG_LIST = 50
_FRAME_ROWS = 100_000  # a frame's rows encoded this many at a time


def _write_json(fh: TextIO, data: Any, depth: int) -> None:
    """``fh.write(_json_text(data, depth))``, with each frame (and the dict holding it) written
    in pieces rather than made one string first."""
    pad = "  " * (depth + 1)
    end = "  " * depth
    if isinstance(data, pd.DataFrame) and not data.empty:
        fh.write("[\n" + pad)
        for start in range(0, len(data), _FRAME_ROWS):
            part = data.iloc[start : start + _FRAME_ROWS]
            lines = part.to_json(orient="records", lines=True, force_ascii=False).rstrip("\n")
            if start:
                fh.write(",\n" + pad)
            fh.write(lines.replace("\n", ",\n" + pad))
        fh.write("\n" + end + "]")
        return
    if isinstance(data, dict) and data:
        fh.write("{\n")
        for i, (k, v) in enumerate(data.items()):
            fh.write(("" if not i else ",\n") + f"{pad}{json.dumps(str(k), ensure_ascii=False)}: ")
            _write_json(fh, v, depth + 1)
        fh.write("\n" + end + "}")
        return
    fh.write(_json_text(data, depth))


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


def write_document(path: Path, text: str) -> None:
    """``text`` as UTF-8 in ``path``, atomically: a temporary file in the same folder, then
    ``os.replace`` (a re-rendered report replaces the old one whole, or not at all)."""
    import contextlib
    import os
    import tempfile

    from reconciler.errors import OutputError

    data = text.encode("utf-8", errors="replace")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise OutputError(
            f"cannot write {path.name} ({exc.strerror or exc})", path=path.parent
        ) from exc
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise OutputError(
            f"cannot write {path.name} ({exc.strerror or exc})", path=path.parent
        ) from exc
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_raw(path: Path, data: bytes) -> None:
    """``data`` exactly as given (an API response kept byte for byte), in a staging folder."""
    with path.open("wb") as handle:
        handle.write(data)
