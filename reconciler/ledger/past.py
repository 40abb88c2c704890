"""What the ledger's other batches say about this run's records: how often each was sent
before and in which batch (``Attempt``, ``PreviousBatch``), how many modifications of its
action they may have applied (the 1,000-per-action cap), and whether a corrected row about to
be resubmitted was sent, or written for resubmission, already.

Loaded on a thread while the inputs are read (``load_past``); this run's own entry, when the
batch was reconciled before, is set apart once the results have named the batch
(``Past.without``), so that reconciling a batch again changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from reconciler.templates import MODIFICATION_TEMPLATES

from .entries import READABLE_FORMATS, decode_records
from .store import Ledger, LedgerError, own_entry

PAST_SCHEMA = pa.schema(
    [
        ("entry", pa.int32()),
        ("record_key", pa.string()),
        ("content_hash", pa.int64()),
        ("correction_hash", pa.int64()),
        ("outcome", pa.string()),
        ("codes", pa.string()),
        ("resubmit_file", pa.string()),
    ]
)
_MODIFICATIONS = frozenset(str(t) for t in MODIFICATION_TEMPLATES)


@dataclass(frozen=True, slots=True)
class Earlier:
    """One batch entry of the ledger (its figures, not its records)."""

    entry: int
    batch_key: str
    batch_id: str | None
    file_name: str
    sent_sha256: str
    template: str
    reconciled_at: str
    records: int
    accepted: int
    rejected: int

    @property
    def label(self) -> str:
        """What ``PreviousBatch`` says: the BatchId, else the sent file's name."""
        return self.batch_id or self.file_name

    @property
    def named(self) -> str:
        """The batch in a sentence: ``batch 4821 (sent.csv, reconciled 2026-11-02)``."""
        day = self.reconciled_at[:10]
        if self.batch_id:
            return f"batch {self.batch_id} ({self.file_name}, reconciled {day})"
        return f"{self.file_name} (reconciled {day})"


@dataclass(frozen=True, slots=True)
class Attempts:
    """Per record of this run: its attempt (1 the first time the ledger sees its key), the
    batch that last sent it before, and what became of it there."""

    attempt: np.ndarray  # int32
    previous: np.ndarray  # object: PreviousBatch, "" for a first attempt
    previous_outcome: np.ndarray  # object: "rejected: BAD_DISPOSITION", "accepted", or ""

    @property
    def seen_before(self) -> int:
        return int((self.attempt > 1).sum())


@dataclass(frozen=True, slots=True, eq=False)
class Past:
    """The ledger's other batches and their records (``PAST_SCHEMA``), oldest entry first."""

    batches: tuple[Earlier, ...]
    records: pa.Table
    own: Earlier | None = None  # this run's entry, when the batch was recorded before

    @property
    def earlier(self) -> tuple[Earlier, ...]:
        """The batches recorded before this one (all of them for a batch seen first)."""
        if self.own is None:
            return self.batches
        return tuple(b for b in self.batches if b.entry < self.own.entry)

    def without(self, batch_id: str | None, sha256: str) -> Past:
        """This run's own entry set apart (``store.own_entry``: the same BatchId, else the
        same sent file)."""
        own_id = own_entry(
            [(b.entry, b.batch_key, b.batch_id, b.sent_sha256) for b in self.batches],
            batch_id,
            sha256,
        )
        if own_id is None:
            return self
        own = next(b for b in self.batches if b.entry == own_id)
        keep = pc.not_equal(self.records["entry"], own_id)
        return replace(
            self,
            batches=tuple(b for b in self.batches if b.entry != own_id),
            records=self.records.filter(keep),
            own=own,
        )

    def attempts(self, keys: pa.Array) -> Attempts:
        """``Attempt`` and ``PreviousBatch`` of each record (``keys``: ``record_keys``), from
        the batches recorded before this one."""
        n = len(keys)
        attempt = np.ones(n, dtype=np.int32)
        previous = np.full(n, "", dtype=object)
        history = np.full(n, "", dtype=object)  # PreviousOutcome
        table = self.records
        if self.own is not None:
            table = table.filter(pc.less(table["entry"], self.own.entry))
        table = table.filter(pc.not_equal(table["record_key"], ""))
        if not table.num_rows or not n:
            return Attempts(attempt, previous, history)
        grouped = table.group_by("record_key", use_threads=False).aggregate(
            [
                ("entry", "count_distinct"),
                ("entry", "last"),
                ("outcome", "last"),
                ("codes", "last"),
            ]
        )
        where = pc.index_in(keys, value_set=grouped["record_key"])
        hit = np.flatnonzero(where.is_valid().to_numpy(zero_copy_only=False))
        if not len(hit):
            return Attempts(attempt, previous, history)
        at = where.to_numpy(zero_copy_only=False)[hit].astype(np.int64)
        counts = grouped["entry_count_distinct"].to_numpy()
        attempt[hit] = 1 + counts[at]
        by_entry = {b.entry: b for b in self.batches}
        last = grouped["entry_last"].to_numpy()[at]
        outcome = np.asarray(grouped["outcome_last"].to_pylist(), dtype=object)[at]
        codes = np.asarray(grouped["codes_last"].to_pylist(), dtype=object)[at]
        # Few distinct (batch, outcome, codes): the texts are made once each.
        texts: dict[tuple[int, str, str], tuple[str, str]] = {}
        for i, (e, o, c) in enumerate(zip(last.tolist(), outcome, codes, strict=True)):
            key = (int(e), str(o or ""), str(c or ""))
            got = texts.get(key)
            if got is None:
                verdict = f"{key[1]}: {key[2]}" if key[2] else key[1]
                got = texts[key] = (by_entry[key[0]].label, verdict)
            previous[hit[i]], history[hit[i]] = got
        return Attempts(attempt, previous, history)

    def modifications(self, keys: pa.Array) -> np.ndarray | None:
        """Per record: the rows of other modification batches naming the same action that
        were not rejected (they may count toward impact.com's 1,000 per action); None when
        there are none."""
        mods = [b.entry for b in self.batches if b.template in _MODIFICATIONS]
        if not mods or not len(keys):
            return None
        t = self.records
        t = t.filter(
            pc.and_(
                pc.and_(
                    pc.is_in(t["entry"], value_set=pa.array(mods, pa.int32())),
                    pc.not_equal(t["record_key"], ""),
                ),
                pc.not_equal(t["outcome"], "rejected"),
            )
        )
        if not t.num_rows:
            return None
        grouped = t.group_by("record_key").aggregate([("record_key", "count")])
        where = pc.index_in(keys, value_set=grouped["record_key"])
        counts = np.append(grouped["record_key_count"].to_numpy(), 0)
        at = where.fill_null(len(counts) - 1).to_numpy(zero_copy_only=False).astype(np.int64)
        got = counts[at]
        return got if got.any() else None

    def already_sent(self, keys: Sequence[str], hashes: np.ndarray) -> np.ndarray:
        """Per corrected row about to be resubmitted (its record's key, its row hash): why it
        must not go out again, or "". The same row (same record, same values) sent in another
        batch, or written into another batch's resubmission file, counts; a row sent says
        what became of it."""
        reasons = np.full(len(hashes), "", dtype=object)
        table = self.records
        if not len(hashes) or not table.num_rows:
            return reasons
        wanted = pa.array(np.asarray(hashes, dtype=np.int64), pa.int64())
        by_entry = {b.entry: b for b in self.batches}
        sent = _latest(table.filter(pc.is_in(table["content_hash"], value_set=wanted)), "content")
        written = _latest(
            table.filter(pc.is_in(table["correction_hash"], value_set=wanted)), "correction"
        )
        for i, (key, h) in enumerate(zip(keys, np.asarray(hashes).tolist(), strict=True)):
            row = sent.get((key, h))
            if row is not None:
                reasons[i] = _sent_reason(by_entry[row["entry"]], row)
                continue
            row = written.get((key, h))
            if row is not None:
                reasons[i] = _written_reason(by_entry[row["entry"]], row)
        return reasons


def _latest(table: pa.Table, which: str) -> dict[tuple[str, int], dict[str, Any]]:
    """(record key, hash) -> the latest record of ``table`` (entries are oldest first)."""
    column = "content_hash" if which == "content" else "correction_hash"
    return {(r["record_key"], r[column]): r for r in table.to_pylist() if r["record_key"]}


AGAIN = "reconcile with --again to send it anyway"


def _sent_reason(batch: Earlier, row: Mapping[str, Any]) -> str:
    outcome = str(row.get("outcome") or "")
    codes = str(row.get("codes") or "")
    where = f"this corrected row was already sent, exactly, in {batch.named}"
    if outcome == "accepted":
        return (
            f"{where} and accepted: it is applied, and sending it again would change nothing "
            f"or apply it twice; left out of the resubmission ({AGAIN})"
        )
    if outcome == "rejected":
        return (
            f"{where} and rejected ({codes or 'no code'}): the same row would fail the same "
            f"way; correct it by hand ({AGAIN})"
        )
    return (
        f"{where}, and its results do not say yet whether it applied ({outcome or 'no result'}); "
        f"reconcile that batch's complete results before sending it again ({AGAIN})"
    )


def _written_reason(batch: Earlier, row: Mapping[str, Any]) -> str:
    name = str(row.get("resubmit_file") or "resubmit.csv")
    return (
        f"this same correction is already in {name} written for {batch.named}, and no "
        f"batch reconciled since has sent it: upload that file or reconcile its results "
        f"rather than sending the row twice ({AGAIN})"
    )


def load_past(ledger: Ledger) -> Past:
    """Every batch entry of the ledger and its records, oldest entry first."""
    rows = sorted(ledger.batches(), key=lambda r: int(r["id"]))
    batches = tuple(_earlier(r) for r in rows)
    parts = [_decoded(ledger, b.entry) for b in batches]
    tables = [t for t in parts if t is not None]
    records = pa.concat_tables(tables) if tables else PAST_SCHEMA.empty_table()
    return Past(batches, records)


def _earlier(row: Mapping[str, Any]) -> Earlier:
    return Earlier(
        entry=int(row["id"]),
        batch_key=str(row["batch_key"]),
        batch_id=str(row["batch_id"]) if row.get("batch_id") else None,
        file_name=str(row["file_name"]),
        sent_sha256=str(row["sent_sha256"]),
        template=str(row["template"]),
        reconciled_at=str(row["reconciled_at"]),
        records=int(row["records"]),
        accepted=int(row["accepted"]),
        rejected=int(row["rejected"]),
    )


def records_table(ledger: Ledger, entry: int) -> pa.Table | None:
    """The records of one batch entry as ``entries.RECORD_SCHEMA`` (None: it has none)."""
    got = ledger.records_of(entry)
    if got is None:
        return None
    fmt, data = got
    if fmt not in READABLE_FORMATS:
        raise LedgerError(
            f"{ledger.where}: batch entry {entry} holds records as {fmt!r}, which this "
            "reconciler cannot read; upgrade reconciler"
        )
    return decode_records(data)


def _decoded(ledger: Ledger, entry: int) -> pa.Table | None:
    table = records_table(ledger, entry)
    if table is None:
        return None
    columns = []
    for field in PAST_SCHEMA:
        if field.name == "entry":
            columns.append(pa.array(np.full(table.num_rows, entry, dtype=np.int32)))
        else:
            columns.append(pc.cast(table[field.name], field.type))
    return pa.Table.from_arrays(columns, schema=PAST_SCHEMA)
