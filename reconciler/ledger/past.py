"""What the ledger's other batches say about this run's records: how often each was sent
before and in which batch (``Attempt``, ``PreviousBatch``), how many modifications of its
action they may have applied (the 1,000-per-action cap), and whether a corrected row about to
be resubmitted was sent, or written for resubmission, already.

Loaded on a thread while the inputs are read (``load_past``); this run's own entry, when the
batch was reconciled before, is set apart once the results have named the batch
(``Past.without``), so that reconciling a batch again changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from reconciler.model import text_column
from reconciler.templates import MODIFICATION_TEMPLATES

from .entries import READABLE_FORMATS, KeyParts, compose_keys, decode_records
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


@dataclass(frozen=True, slots=True, eq=False)
class Attempts:
    """Per record of this run: its attempt (1 the first time the ledger sees its key), the
    batch that last sent it before, and what became of it there."""

    attempt: np.ndarray  # int32
    previous: pd.Categorical  # PreviousBatch, "" for a first attempt
    previous_outcome: pd.Categorical  # "rejected: BAD_DISPOSITION", "accepted", or ""

    @property
    def seen_before(self) -> int:
        return int((self.attempt > 1).sum())


@dataclass(frozen=True, slots=True, eq=False)
class Past:
    """The ledger's other batches and their records (``PAST_SCHEMA``), oldest entry first."""

    batches: tuple[Earlier, ...]
    records: pa.Table
    own: Earlier | None = None  # this run's entry, when the batch was recorded before
    unread: frozenset[int] = frozenset()  # entries whose records are not in ``records``
    read: Callable[[Sequence[int]], pa.Table] | None = None  # reads entries' records

    def complete(self) -> Past:
        """Every entry's records read (``unread`` read now, in entry order)."""
        if not self.unread or self.read is None:
            return self
        both = pa.concat_tables([self.records, self.read(sorted(self.unread))])
        order = pc.sort_indices(both, sort_keys=[("entry", "ascending")])  # stable
        return replace(self, records=both.take(order), unread=frozenset(), read=None)

    @property
    def earlier(self) -> tuple[Earlier, ...]:
        """The batches recorded before this one (all of them for a batch seen first)."""
        if self.own is None:
            return self.batches
        return tuple(b for b in self.batches if b.entry < self.own.entry)

    def without(self, batch_id: str | None, sha256: str) -> Past:
        """This run's own entry set apart (``store.own_entry``: the same BatchId, else the
        same sent file). Its records stay in ``records``; ``Linked.without`` masks them."""
        own_id = own_entry(
            [(b.entry, b.batch_key, b.batch_id, b.sent_sha256) for b in self.batches],
            batch_id,
            sha256,
        )
        if own_id is None:
            return self
        return replace(
            self,
            batches=tuple(b for b in self.batches if b.entry != own_id),
            own=next(b for b in self.batches if b.entry == own_id),
        )

    def link(self, parts: KeyParts) -> Linked:
        """Tie this run's records (their identifiers: ``entries.key_parts``) to the ledger's
        rows of the same key: both sides numbered in one pass (this run's first, so that its
        keys take the lowest numbers), the rest is integer work. With no other records
        nothing is worked out, not even this run's keys."""
        n = len(parts[0])
        past_keys = self.records["record_key"]
        row_code = np.full(len(past_keys), -1, dtype=np.int64)
        if not n or not len(past_keys):
            return Linked(self, parts, np.full(n, -1, np.int64), row_code, 0)
        keys = compose_keys(*parts)
        # One array, one dictionary: encoding the chunks as they are would number each chunk
        # on its own and unify the dictionaries after (the larger part of the work).
        # Large strings: a big ledger's keys may pass the 2 GB a string array can hold.
        text = pa.large_string()
        both = pa.concat_arrays([pc.cast(keys, text), *past_keys.cast(text).chunks])
        encoded = pc.dictionary_encode(both)
        codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
        record_code, row_code = codes[:n], codes[n:]
        distinct = int(record_code.max()) + 1
        row_code[row_code >= distinct] = -1  # keys this run does not have
        # A record that names nothing ties nothing: "" has the number of its first record.
        named = np.asarray(pc.not_equal(keys, "").to_numpy(zero_copy_only=False), dtype=bool)
        if not named.all():
            blank = record_code[int(np.argmin(named))]
            record_code[record_code == blank] = -1
            row_code[row_code == blank] = -1
        return Linked(self, parts, record_code, row_code, distinct)


@dataclass(frozen=True, slots=True, eq=False)
class Linked:
    """The run's records and the ledger's other records, tied by key: ``record_code`` (per
    record) and ``row_code`` (per ledger row) number the run's distinct keys, -1 for none."""

    past: Past
    parts: KeyParts
    record_code: np.ndarray
    row_code: np.ndarray
    keys: int

    def without(self, batch_id: str | None, sha256: str) -> Linked:
        """This run's own entry (``Past.without``) set apart: its rows tie to nothing. An
        entry left unread that is not this run's own (the same file sent again as another
        batch) is read and tied after all."""
        past = self.past.without(batch_id, sha256)
        own = past.own
        linked = self
        if not past.unread <= ({own.entry} if own is not None else set()):
            past = past.complete()
            linked = past.link(self.parts)
        if own is None:
            return replace(linked, past=past)
        row_code = linked.row_code.copy()
        row_code[past.records["entry"].to_numpy() == own.entry] = -1
        return replace(linked, past=past, row_code=row_code)

    def answering(self) -> np.ndarray:
        """Positions of this run's records whose key had a correction written in another
        batch: the ledger keeps the hash of these rows as sent, so that a correction sent
        (by reconciler's file or by hand) is known by its fate."""
        t = self.past.records
        if not t.num_rows:
            return np.zeros(0, dtype=np.int64)
        written = t["correction_hash"].is_valid().to_numpy(zero_copy_only=False)
        codes = self.row_code[written & (self.row_code >= 0)]
        if not len(codes):
            return np.zeros(0, dtype=np.int64)
        wanted = np.zeros(self.keys + 1, dtype=bool)
        wanted[codes] = True
        return np.flatnonzero(wanted[self.record_code])  # -1 takes the last: False

    def attempts(self) -> Attempts:
        """``Attempt``, ``PreviousBatch`` and ``PreviousOutcome`` of each record, from the
        batches recorded before this one."""
        past, n = self.past, len(self.record_code)
        attempt = np.ones(n, dtype=np.int32)
        entry = past.records["entry"].to_numpy()
        usable = self.row_code >= 0
        if past.own is not None:
            usable &= entry < past.own.entry
        rows = np.flatnonzero(usable)
        if not len(rows):
            blank = _blank(n)
            return Attempts(attempt, blank, blank)
        codes = self.row_code[rows]
        # Batches per key: distinct (key, entry) pairs; the last row of each key is its latest
        # batch (rows are oldest entry first).
        entries = np.asarray(sorted(b.entry for b in past.batches), dtype=np.int64)
        rank = np.searchsorted(entries, entry[rows])
        batches = _batches_per_key(codes, rank, self.keys, len(entries))
        last = np.full(self.keys, -1, dtype=np.int64)
        np.maximum.at(last, codes, rows)
        seen = np.flatnonzero(self.record_code >= 0)
        seen = seen[batches[self.record_code[seen]] > 0]
        attempt[seen] = 1 + batches[self.record_code[seen]]
        latest = last[self.record_code[seen]]
        by_entry = {b.entry: b for b in past.batches}
        kinds, which = _combinations(past.records, latest, ("entry", "outcome", "codes"))
        labels, outcomes = [""], [""]
        for e, outcome, codes_text in kinds:
            labels.append(by_entry[int(e)].label)
            outcomes.append(f"{outcome}: {codes_text}" if codes_text else str(outcome or ""))
        index = np.zeros(n, dtype=np.int64)
        index[seen] = which + 1
        return Attempts(attempt, _categorical(index, labels), _categorical(index, outcomes))

    def modifications(self) -> np.ndarray | None:
        """Per record: the rows of other modification batches naming the same action that
        were not rejected (they may count toward impact.com's 1,000 per action); None when
        there are none."""
        past = self.past
        mods = [b.entry for b in past.batches if b.template in _MODIFICATIONS]
        if not mods or not len(self.record_code):
            return None
        t = past.records
        eligible = (
            (self.row_code >= 0)
            & np.isin(t["entry"].to_numpy(), np.asarray(mods))
            & pc.not_equal(t["outcome"], "rejected").to_numpy(zero_copy_only=False)
        )
        if not eligible.any():
            return None
        counts = np.append(np.bincount(self.row_code[eligible], minlength=self.keys), 0)
        got = counts[self.record_code]  # -1 (names nothing) takes the appended 0
        return got if got.any() else None

    def already_sent(self, positions: np.ndarray, hashes: np.ndarray) -> np.ndarray:
        """Per corrected record about to be resubmitted (its position, the row hash of its
        corrected row): why it must not go out again, or "". The same row (same record,
        same values) sent in another batch, or written into another batch's resubmission
        file, counts; a row sent says what became of it."""
        reasons = text_column(len(positions), "")
        t = self.past.records
        if not len(positions) or not t.num_rows:
            return reasons
        codes = self.record_code[np.asarray(positions, dtype=np.int64)]
        hashes = np.asarray(hashes, dtype=np.int64)
        by_entry = {b.entry: b for b in self.past.batches}
        for column, columns, reason in (
            ("correction_hash", ("entry", "resubmit_file"), _written_reason),
            ("content_hash", ("entry", "outcome", "codes"), _sent_reason),
        ):  # a row sent says more than a row written: it is looked up last, and wins
            row = _same_rows(t, self.row_code, column, codes, hashes)
            hit = np.flatnonzero(row >= 0)
            if not len(hit):
                continue
            kinds, which = _combinations(t, row[hit], columns)
            texts = np.array([reason(by_entry[int(k[0])], *k[1:]) for k in kinds], dtype=object)
            reasons[hit] = texts[which]
        return reasons


_PAIR_FLAGS = 1 << 24  # (key, batch) pairs flagged one by one up to this many; else sorted


def _batches_per_key(codes: np.ndarray, rank: np.ndarray, keys: int, batches: int) -> np.ndarray:
    """Per key (``0 <= codes < keys``): in how many distinct batches its rows are (``rank``:
    each row's batch, ``0 <= rank < batches``). A flag per (key, batch) pair when there are
    few enough (a ledger of a few batches: no sort of a million rows), else the pairs sorted
    (numpy's hashed unique is slower)."""
    pairs = codes * batches + rank
    if keys * batches <= _PAIR_FLAGS:
        flags = np.zeros(keys * batches, dtype=bool)
        flags[pairs] = True
        return np.asarray(flags.reshape(keys, batches).sum(axis=1), dtype=np.int64)
    pairs = np.sort(pairs)
    pairs = pairs[np.concatenate(([True], pairs[1:] != pairs[:-1]))] if len(pairs) else pairs
    return np.bincount(pairs // batches, minlength=keys)


def _same_rows(
    table: pa.Table, row_code: np.ndarray, column: str, codes: np.ndarray, hashes: np.ndarray
) -> np.ndarray:
    """Per (key, hash) asked: the latest ledger row with that key and that hash in
    ``column``, or -1."""
    values = table[column]
    near = pc.is_in(values, value_set=pa.array(np.unique(hashes), pa.int64())).fill_null(False)
    rows = np.flatnonzero(near.to_numpy(zero_copy_only=False) & (row_code >= 0))
    if not len(rows):
        return np.full(len(codes), -1, dtype=np.int64)
    found = pd.MultiIndex.from_arrays(
        [row_code[rows], values.take(pa.array(rows)).to_numpy().astype(np.int64)]
    )
    latest = ~found.duplicated(keep="last")
    index = found[latest]
    at = index.get_indexer(pd.MultiIndex.from_arrays([codes, hashes]))
    out = np.full(len(codes), -1, dtype=np.int64)
    out[at >= 0] = rows[latest][at[at >= 0]]
    return out


def _combinations(
    table: pa.Table, rows: np.ndarray, columns: Sequence[str]
) -> tuple[list[tuple[Any, ...]], np.ndarray]:
    """The distinct value combinations of ``columns`` at ``rows`` (few: a text is made for
    each), and which one each row has."""
    parts = [_numbered(table[name], rows) for name in columns]
    combined = parts[0]
    for part in parts[1:]:
        combined = combined * (int(part.max()) + 1) + part
    top = int(combined.max()) + 1 if len(combined) else 1
    if top <= 4 * len(combined) + 1024:  # a small range: counted, not sorted
        kinds_at = np.flatnonzero(np.bincount(combined, minlength=top))
        number = np.zeros(top, dtype=np.int64)
        number[kinds_at] = np.arange(len(kinds_at))
        which = number[combined]
    else:
        kinds_at, which = np.unique(combined, return_inverse=True)
    first = np.zeros(len(kinds_at), dtype=np.int64)
    first[which[::-1]] = np.arange(len(which) - 1, -1, -1)  # a row of each kind
    kinds = [tuple(table[name][int(rows[i])].as_py() for name in columns) for i in first.tolist()]
    return kinds, which


def _numbered(column: pa.ChunkedArray, rows: np.ndarray) -> np.ndarray:
    """Per row asked (``rows``), the number of its value in ``column``: equal values, equal
    numbers, and a null a number of its own. When the rows are most of the column, the
    column is numbered whole and the numbers taken, not its values (a million texts copied,
    in a second batch); otherwise the values asked are taken and numbered."""
    whole = 2 * len(rows) >= len(column)
    encoded = pc.dictionary_encode(column if whole else column.take(pa.array(rows)))
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks()  # every chunk has the same dictionary
    indices = encoded.indices.fill_null(len(encoded.dictionary))
    numbers = np.asarray(indices.to_numpy(zero_copy_only=False), np.int64)
    return numbers[rows] if whole else numbers


def _categorical(index: np.ndarray, words: Sequence[str]) -> pd.Categorical:
    """``words[index]`` as a categorical (the same word may stand at several places)."""
    codes, uniques = pd.factorize(pd.Series(words, dtype=object))
    return pd.Categorical.from_codes(codes[index], categories=pd.Index(uniques))


def _blank(n: int) -> pd.Categorical:
    return pd.Categorical.from_codes(
        np.zeros(n, dtype=np.int8), categories=pd.Index([""], dtype=object)
    )


AGAIN = "reconcile with --again to send it anyway"


def _sent_reason(batch: Earlier, outcome: str | None, codes: str | None) -> str:
    outcome, codes = str(outcome or ""), str(codes or "")
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


def _written_reason(batch: Earlier, name: str | None) -> str:
    return (
        f"this same correction is already in {name or 'resubmit.csv'} written for "
        f"{batch.named}, and no batch reconciled since has sent it: upload that file or "
        f"reconcile its results rather than sending the row twice ({AGAIN})"
    )


def load_past(ledger: Ledger, sha256: str | None = None) -> Past:
    """Every batch entry of the ledger and its records, oldest entry first. The records of
    entries of the same sent file (``sha256``: most likely this run's own, reconciled again)
    are left unread until ``Past.complete`` asks for them."""
    rows = sorted(ledger.batches(), key=lambda r: int(r["id"]))
    batches = tuple(_earlier(r) for r in rows)
    unread = frozenset(b.entry for b in batches if sha256 and b.sent_sha256 == sha256)

    def read(entries: Sequence[int]) -> pa.Table:
        tables = [t for e in entries if (t := _decoded(ledger, e)) is not None]
        return pa.concat_tables(tables) if tables else PAST_SCHEMA.empty_table()

    records = read([b.entry for b in batches if b.entry not in unread])
    return Past(batches, records, unread=unread, read=read if unread else None)


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
