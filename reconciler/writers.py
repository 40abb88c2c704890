"""The only code that writes files. Every output folder is staged and moved into place whole.

Owns: atomic output folders, CSV/JSON encoding of outputs, and neutralising spreadsheet formulas
in analyst-facing files. Does not decide what goes in a file.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .errors import OutputError, UsageError

MARKER = ".reconciler-output"

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = r"[+-]?(?:\d+(?:[.,]\d*)?|[.,]\d+)(?:[eE][+-]?\d+)?"


def formula_mask(values: pd.Series) -> np.ndarray:
    """True where a spreadsheet would run the cell as a formula (OWASP CSV injection)."""
    s = values.astype(str)
    first = s.str[:1]
    risky = first.isin(_FORMULA_START).to_numpy(dtype=bool)
    if risky.any():
        plain = s[risky].str.fullmatch(_PLAIN_NUMBER).fillna(False).to_numpy(dtype=bool)
        idx = np.flatnonzero(risky)
        risky[idx[plain]] = False
    return risky


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


def count_formula_cells(frame: pd.DataFrame) -> int:
    return int(sum(formula_mask(frame[c]).sum() for c in frame.columns if frame[c].dtype.kind == "O" or str(frame[c].dtype) in ("str", "string")))


def write_csv(frame: pd.DataFrame, path: Path, *, header: Sequence[str] | None = None) -> None:
    """UTF-8 (no BOM), comma-separated, header first, ``\\n`` line ends, minimal quoting."""
    frame.to_csv(
        path,
        index=False,
        header=list(header) if header is not None else True,
        encoding="utf-8",
        lineterminator="\n",
    )


def write_json(data: Any, path: Path) -> None:
    text = json.dumps(data, indent=2, ensure_ascii=False, sort_keys=False, default=str)
    path.write_text(text + "\n", encoding="utf-8")


def check_out_dir(out: Path, inputs: Sequence[Path]) -> None:
    """Refuse an output folder that is, or holds, an input file."""
    target = out.resolve()
    for item in inputs:
        src = item.resolve()
        if src == target or target in src.parents:
            raise UsageError(
                f"--out {out} would hold or replace the input {item}; choose another folder",
                path=out,
            )


@contextlib.contextmanager
def staged_output(out: Path, *, force: bool = False) -> Iterator[Path]:
    """Yield a temporary folder beside ``out``; on success it replaces ``out`` in one rename.

    An existing ``out`` is replaced only when reconciler made it (it holds the marker file) or
    with ``force``. On any failure, including Ctrl-C, the temporary folder is removed and the
    previous outputs stay as they were.
    """
    out = out.absolute()
    if out.exists() and not out.is_dir():
        raise OutputError("exists and is not a folder; choose another --out", path=out)
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).exists() and not force:
        raise OutputError(
            "exists and was not made by reconciler; choose another --out or pass --force",
            path=out,
        )
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    except OSError as exc:
        raise OutputError(f"cannot create the output folder ({exc.strerror})", path=out) from exc
    try:
        yield stage
        (stage / MARKER).write_text("made by reconciler; safe to delete\n", encoding="utf-8")
        os.chmod(stage, 0o755)
        backup: Path | None = None
        if out.exists():
            backup = out.with_name(f".{out.name}.old-{os.getpid()}")
            os.replace(out, backup)
        try:
            os.replace(stage, out)
        except OSError:
            if backup is not None:
                os.replace(backup, out)
            raise
        if backup is not None:
            shutil.rmtree(backup, ignore_errors=True)
    except OSError as exc:
        raise OutputError(f"cannot write outputs ({exc.strerror or exc})", path=out) from exc
    finally:
        if stage.exists():
            shutil.rmtree(stage, ignore_errors=True)
