"""JSON outputs (summary.json, check.json): indented, long lists one compact item a line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd


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
