"""The only code that writes files. Every output folder is staged and moved into place whole.

Owns: atomic output folders, CSV/JSON encoding of outputs, and neutralising spreadsheet formulas
in analyst-facing files. Does not decide what goes in a file.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .errors import OutputError, UsageError

MARKER = ".reconciler-output"
_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")  # characters XML (xlsx) cannot hold

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = r"[+-]?(?:\d+(?:[.,]\d*)?|[.,]\d+)(?:[eE][+-]?\d+)?"


def formula_mask(values: pd.Series) -> np.ndarray:
    """True where a spreadsheet would run the cell as a formula (OWASP CSV injection)."""
    s = values.astype(str)
    first = s.str[:1]
    risky = np.array(first.isin(_FORMULA_START).to_numpy(dtype=bool), copy=True)
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


_HIGHLIGHT = "FFF2CC"
_HEADER_FILL = "DDEBF7"


def write_xlsx(sheets: Sequence[Sheet], path: Path, *, now: datetime) -> None:
    """A workbook written in openpyxl's streaming (write-only) mode.

    Every value from an input is stored as a text cell (IDs keep their digits, a value a
    spreadsheet would run as a formula stays inert text); integer/float columns are numbers.
    The header row is frozen and filterable; highlighted cells get a yellow fill.
    """
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font, PatternFill
    from openpyxl.utils import get_column_letter

    wb = Workbook(write_only=True)
    wb.properties.creator = "reconciler"
    stamp = now.replace(tzinfo=None)
    wb.properties.created = stamp
    wb.properties.modified = stamp
    fill = PatternFill("solid", fgColor=_HIGHLIGHT)
    head_fill = PatternFill("solid", fgColor=_HEADER_FILL)
    bold = Font(bold=True)
    for spec in sheets:
        ws = wb.create_sheet(title=_sheet_title(spec.name))
        ncols = len(spec.header)
        offset = 1
        if spec.note:
            ws.append([_text_cell(ws, spec.note, WriteOnlyCell)])
            offset = 2
        ws.freeze_panes = f"A{offset + 1}"
        widths = _column_widths(spec)
        for i in range(ncols):
            ws.column_dimensions[get_column_letter(i + 1)].width = spec.widths.get(i, widths[i])
        head = []
        for h in spec.header:
            cell = _text_cell(ws, str(h), WriteOnlyCell)
            cell.font = bold
            cell.fill = head_fill
            head.append(cell)
        ws.append(head)
        if ncols:
            last = get_column_letter(ncols)
            ws.auto_filter.ref = f"A{offset}:{last}{offset + max(len(spec.frame), 1)}"
        numeric = [spec.frame.iloc[:, i].dtype.kind in "iuf" for i in range(spec.frame.shape[1])]
        columns = [spec.frame.iloc[:, i].to_numpy() for i in range(spec.frame.shape[1])]
        mask = spec.highlight
        for r in range(len(spec.frame)):
            row: list[Any] = []
            for c in range(ncols):
                value = columns[c][r]
                if numeric[c]:
                    row.append(value.item() if hasattr(value, "item") else value)
                    continue
                cell = _text_cell(ws, "" if value is None else str(value), WriteOnlyCell)
                if mask is not None and mask[r, c]:
                    cell.fill = fill
                row.append(cell)
            ws.append(row)
    tmp = path.with_name(path.name + ".part")
    wb.save(tmp)
    os.replace(tmp, path)


def _sheet_title(name: str) -> str:
    bad = set('[]:*?/\\')
    return "".join("_" if ch in bad else ch for ch in name)[:31] or "Sheet"


def _text_cell(ws: Any, value: str, cell_type: Any) -> Any:
    cell = cell_type(ws, value=None)
    # Assign through _value with data_type "s": openpyxl would otherwise read a leading "=" as a
    # formula. A string cell is never evaluated by a spreadsheet.
    cell._value = _ILLEGAL.sub("\ufffd", value)[:32767]
    cell.data_type = "s"
    return cell


def _column_widths(spec: Sheet) -> list[float]:
    sample = spec.frame.head(200)
    out: list[float] = []
    for i, h in enumerate(spec.header):
        longest = len(str(h))
        if i < sample.shape[1] and len(sample):
            longest = max(longest, int(sample.iloc[:, i].astype(str).str.len().max()))
        out.append(float(min(max(longest + 2, 8), 60)))
    return out
