"""What ``reconciler history`` asks the ledger: batches, one batch, one record's attempts, the
trend of each code across batches, and every table as frames for ``--export``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from reconciler.normalize import key_part

from .past import records_table
from .store import Ledger

BATCH_COLUMNS: tuple[str, ...] = (
    "id", "batch_id", "file_name", "template", "records", "accepted", "rejected", "missing",
    "pending", "unknown", "ambiguous", "auto_fixed", "needs_attention_records",
    "completeness", "reconciled_at", "tool_version", "sent_sha256", "out_dir",
)  # fmt: skip


def select_batches(rows: Sequence[Mapping[str, Any]], batch: str | None) -> list[Mapping[str, Any]]:
    """The entries of one batch (by BatchId, or by file name), or all."""
    if batch is None:
        return list(rows)
    return [r for r in rows if batch in (r.get("batch_id"), r.get("file_name"))]


def trend(rows: Sequence[Mapping[str, Any]], top: int = 8) -> dict[str, list[int]]:
    """For the most frequent codes overall: records with the code in each batch, in order."""
    totals: dict[str, int] = {}
    for r in rows:
        for code, n in (r.get("codes") or {}).items():
            totals[code] = totals.get(code, 0) + int(n)
    codes = sorted(totals, key=lambda c: (-totals[c], c))[:top]
    return {c: [int((r.get("codes") or {}).get(c, 0)) for r in rows] for c in codes}


def attempts(ledger: Ledger, rows: Sequence[Mapping[str, Any]], key: str) -> list[dict[str, Any]]:
    """Every time the ledger saw the record ``key`` (``a:<ActionId>``, ``o:<Oid>|<tracker>``
    as ``entries.compose_keys`` writes them; a bare ActionId or Oid is tried both ways),
    oldest first."""
    oid = key_part(pa.array([key], pa.string()))[0].as_py()  # a bare Oid, as keys hold it
    wanted = [key] if key[:2] in ("a:", "o:") else [f"a:{key}", f"o:{oid}"]
    found: list[dict[str, Any]] = []
    for r in rows:
        table = records_table(ledger, int(r["id"]))
        if table is None:
            continue
        keys = table.column("record_key")
        mask = pc.is_in(keys, value_set=pa.array(wanted, pa.string()))
        if not key.startswith(("a:", "o:")):  # an Oid alone: any ActionTrackerId
            mask = pc.or_(mask, pc.starts_with(keys, f"o:{oid}|"))
        hits = table.filter(mask)
        for hit in hits.to_pylist():
            found.append(
                {
                    "batch_id": r.get("batch_id"),
                    "file_name": r.get("file_name"),
                    "reconciled_at": r.get("reconciled_at"),
                    "line": hit["line"],
                    "record_key": hit["record_key"],
                    "outcome": hit["outcome"],
                    "codes": hit["codes"],
                    "resolution": hit["resolution"],
                    "resubmit_file": hit["resubmit_file"],
                }
            )
    return found


def export_frames(ledger: Ledger, rows: Sequence[Mapping[str, Any]]) -> dict[str, pd.DataFrame]:
    """Every table of the ledger as a frame (``history --export`` writes them as CSV)."""
    batches = pd.DataFrame(
        [{c: r.get(c) for c in BATCH_COLUMNS} for r in rows], columns=list(BATCH_COLUMNS)
    )
    codes = pd.DataFrame(
        [
            {"batch": r["id"], "code": code, "records": n}
            for r in rows
            for code, n in (r.get("codes") or {}).items()
        ],
        columns=["batch", "code", "records"],
    )
    resubmissions = pd.DataFrame(
        ledger.resubmissions(), columns=["id", "batch", "file_name", "sha256", "records"]
    )
    parts = []
    for r in rows:
        table = records_table(ledger, int(r["id"]))
        if table is not None:
            frame = table.to_pandas()
            frame.insert(0, "batch", r["id"])
            parts.append(frame)
    records = (
        pd.concat(parts, ignore_index=True)
        if parts
        else pd.DataFrame(columns=["batch", *decode_columns()])
    )
    return {
        "batches.csv": batches.astype(object).where(batches.notna(), ""),
        "batch_codes.csv": codes,
        "resubmissions.csv": resubmissions,
        "records.csv": records.astype(object),
    }


def decode_columns() -> list[str]:
    from .entries import RECORD_SCHEMA

    return list(RECORD_SCHEMA.names)
