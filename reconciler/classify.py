"""Give every sent record its outcome, codes, resolution and advice.

Owns: folding the result rows tied to a record into one verdict, and the resolution precedence
when a record carries several codes. Knows nothing about files; meanings come from the catalogue.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from itertools import filterfalse

import numpy as np
import numpy.typing as npt
import pandas as pd

from .catalogue import Catalogue
from .match import Ties
from .model import RESOLUTION_PRECEDENCE, IntArray, Outcome, Resolution, TiedBy

_TIE_RANK: dict[str, int] = {
    str(TiedBy.LINE): 0,
    str(TiedBy.ACTION_ID): 1,
    str(TiedBy.OID_TRACKER): 2,
    str(TiedBy.OID): 3,
    str(TiedBy.NONE): 9,
}
_RANK_TIE = {v: k for k, v in _TIE_RANK.items()}
TIE_NAMES = [str(t) for t in TiedBy]


def rank_code(rank: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Position in ``TIE_NAMES`` of each tie rank."""
    lookup = np.array(
        [TIE_NAMES.index(_RANK_TIE.get(i, str(TiedBy.NONE))) for i in range(10)], dtype=np.int64
    )
    return lookup[rank]


class Completeness(StrEnum):
    """How much of the submission's results are in hand. Stable: summary.json uses these."""

    COMPLETE = "complete"  # counts prove every error is here, or every record is listed
    PRESUMED = "presumed"  # nothing says part is missing, nothing proves it whole
    PARTIAL = "partial"  # known to hold only part (a page or an Error Type filter missing)
    NOT_FINAL = "not_final"  # the platform has not finished the submission
    ZERO_RECORDS = "zero_records"  # the platform read no record of the file
    FOREIGN = "foreign"  # another file's results, reconciled anyway (--force)


COMPLETENESS_LABELS: dict[Completeness, str] = {
    Completeness.COMPLETE: "complete",
    Completeness.PRESUMED: "presumed complete",
    Completeness.PARTIAL: "partial",
    Completeness.NOT_FINAL: "not final",
    Completeness.ZERO_RECORDS: "read as 0 records",
    Completeness.FOREIGN: "another file's",
}


@dataclass(frozen=True, slots=True)
class SubmissionState:
    """What the results say about the submission as a whole, and so what a record no result
    speaks of is (``unlisted``)."""

    status: str = ""  # as reported: Complete / In Progress / Queued, "" when unknown
    complete: bool = True  # the platform finished (nothing Queued / In Progress / undated)
    total_records: int | None = None
    total_errors: int | None = None
    lists_every_record: bool = False
    batch_ids: tuple[str, ...] = ()
    completeness: Completeness = Completeness.PRESUMED
    completeness_detail: str = ""  # the evidence, in a sentence
    unlisted: Outcome = Outcome.ACCEPTED  # a record no result speaks of
    unknown_advice: str = ""  # what to do about a record the results say nothing of
    file_name: str = ""  # the FileName impact.com recorded for the batch
    notes: tuple[str, ...] = ()  # what the summary's warnings should say about the results
    records_differ: bool = False  # TotalRecords is not the sent file's record count


ZERO_RECORDS_CODE = "ZERO_RECORDS"
_OUTCOMES = np.array(
    [
        str(Outcome.ACCEPTED),
        str(Outcome.REJECTED),
        str(Outcome.AMBIGUOUS),
        str(Outcome.MISSING),
        str(Outcome.PENDING),
        str(Outcome.UNKNOWN),
    ],
    dtype=object,
)
_OUTCOME_KIND = {Outcome(str(name)): i for i, name in enumerate(_OUTCOMES)}

AMBIGUOUS_ADVICE = (
    "A result may belong to this record or to another one with the same identifiers (see "
    "unmatched_results.csv); check it by hand before resubmitting."
)
MISSING_ADVICE = (
    "The results list every record but not this one: check whether it was processed before "
    "resubmitting it."
)
UNKNOWN_ADVICE = (
    "The results do not say whether this record was applied: get the complete results of the "
    "submission and reconcile again. Do not resubmit it meanwhile."
)
UNSAID_ADVICE = (
    "Its result gives a status that says neither that it was applied nor why it failed "
    "(e.g. Skipped, or blank): check the record on the platform, or fetch the results again "
    "once the submission has settled."
)

CONTESTED_ADVICE = (
    "A result points at this record's line, but its identifiers are not this record's and "
    "name no other record of the file (see unmatched_results.csv): that error may be this "
    "record's, with a mistyped identifier, or a line number off. Check the record on the "
    "platform before counting it as applied."
)

DOUBTFUL_ADVICE = (
    "A result points at this record's line, but impact.com counted another number of records "
    "than the file holds and no identifier confirms the result is this record's (see "
    "unmatched_results.csv): check the file that was really sent."
)


def pending_advice(status: str) -> str:
    return (
        f"The submission is not complete yet (status {status or 'unknown'}): results are not "
        "final. Export them again once its status is Complete."
    )


RESOLUTION_NAMES: tuple[str, ...] = tuple(str(r) for r in Resolution)
RESOLUTION_CODE: dict[str, int] = {name: i for i, name in enumerate(RESOLUTION_NAMES)}


def resolution_column(codes: npt.NDArray[np.int8]) -> pd.Categorical:
    """Resolution codes (positions in ``RESOLUTION_NAMES``) as the categorical column."""
    return pd.Categorical.from_codes(
        np.asarray(codes, dtype=np.int64), categories=pd.Index(RESOLUTION_NAMES, dtype=object)
    )


class TextColumn:
    """A text column built as integer codes into a list of distinct texts ("" is code 0).

    Verdict texts repeat: a million records carry a few hundred distinct advice texts. Each
    text is stored once and the column becomes a ``pd.Categorical`` without hashing a million
    Python strings."""

    def __init__(self, n: int, column: pd.Categorical | None = None) -> None:
        if column is None:
            self.texts: list[str] = [""]
            self.codes = np.zeros(n, dtype=np.int64)
        else:
            self.texts = [str(t) for t in column.categories]
            self.codes = np.asarray(column.codes, dtype=np.int64).copy()
        self._index = {t: i for i, t in enumerate(self.texts)}

    def code(self, text: str) -> int:
        found = self._index.get(text)
        if found is None:
            found = self._index[text] = len(self.texts)
            self.texts.append(text)
        return found

    def codes_of(self, texts: list[str]) -> IntArray:
        """The code of each of ``texts``, new ones coded in the order they come. The loops
        are C iterators over the dictionary's methods: advice may hold tens of thousands of
        distinct texts (a problem naming each record's ID)."""
        index = self._index
        new = list(dict.fromkeys(filterfalse(index.__contains__, texts)))
        if new:
            start = len(self.texts)
            self.texts.extend(new)
            index.update(zip(new, range(start, start + len(new)), strict=True))
        return np.fromiter(map(index.__getitem__, texts), dtype=np.int64, count=len(texts))

    def set(self, where: IntArray, ids: npt.NDArray[np.intp], texts: list[str]) -> None:
        """Row ``where[k]`` gets ``texts[ids[k]]``."""
        lookup = self.codes_of(texts)
        self.codes[where] = lookup[ids] if len(lookup) else 0

    def put(self, where: IntArray, texts: npt.NDArray[np.object_]) -> None:
        """Row ``where[k]`` gets ``texts[k]`` (distinct texts are coded once)."""
        if len(where):
            self.codes[where] = self.codes_of(list(texts))

    def fill(self, mask: npt.NDArray[np.bool_], text: str) -> None:
        self.codes[mask] = self.code(text)

    def map(self, mask: npt.NDArray[np.bool_], fn: Callable[[str], str]) -> None:
        """Rows under ``mask`` get ``fn`` of their text, worked out once per distinct text."""
        where = np.flatnonzero(mask)
        if len(where):
            ids, uniques = pd.factorize(self.codes[where])
            self.set(where, ids, [fn(self.texts[int(u)]) for u in uniques])

    def at(self, where: IntArray) -> npt.NDArray[np.object_]:
        return np.asarray(self.texts, dtype=object)[self.codes[where]]

    def categorical(self) -> pd.Categorical:
        return pd.Categorical.from_codes(self.codes, categories=pd.Index(self.texts, dtype=object))


def _merge_codes(codes: pd.Series) -> str:
    parts = sorted({c for cell in codes for c in str(cell).split(";") if c})
    return ";".join(parts)


def merged_codes(s: IntArray, codes: np.ndarray) -> tuple[IntArray, npt.NDArray[np.object_]]:
    """Per record with several result rows (``s``, the records of the rows; ``codes``, their
    ``;``-joined codes): the records (ascending) and ``_merge_codes`` of each one's rows.
    Each distinct cell is split once and each record's codes kept as bits of a number, so
    the sets are joined once each, not once a record (an error listing gives each error of
    a line on a row of its own)."""
    cell_of, cells = pd.factorize(pd.Series(codes, dtype=object), use_na_sentinel=False)
    split = [[c for c in str(cell).split(";") if c] for cell in cells.tolist()]
    vocabulary = sorted({c for parts in split for c in parts})
    order = np.argsort(s, kind="stable")
    s_sorted = s[order]
    starts = np.flatnonzero(np.concatenate(([True], s_sorted[1:] != s_sorted[:-1])))
    records = s_sorted[starts]
    if len(vocabulary) > 62:  # more codes than bits: a record at a time
        merged = (
            pd.DataFrame({"s_idx": s, "codes": codes}).groupby("s_idx")["codes"].agg(_merge_codes)
        )
        return merged.index.to_numpy(dtype=np.int64), merged.to_numpy(dtype=object)
    bit = {c: 1 << i for i, c in enumerate(vocabulary)}
    cell_bits = np.array([sum(bit[c] for c in set(parts)) for parts in split], dtype=np.int64)
    bits = np.bitwise_or.reduceat(cell_bits[cell_of][order], starts)
    sets, distinct = pd.factorize(bits)
    words = [
        ";".join(c for i, c in enumerate(vocabulary) if int(b) >> i & 1) for b in distinct.tolist()
    ]
    return records.astype(np.int64), np.asarray(words, dtype=object)[sets]


def _verdict(catalogue: Catalogue, codeset: str) -> tuple[str, str]:
    """Resolution and advice for a ``;``-joined, sorted set of codes."""
    infos = [catalogue.get(c) for c in codeset.split(";") if c]
    present = {info.resolution for info in infos}
    resolution = next(r for r in RESOLUTION_PRECEDENCE if r in present or r is Resolution.NONE)
    if len(infos) == 1:
        advice = infos[0].advice
    else:
        # A record may carry a flood of codes: the advice of the first few, and how many more.
        shown = infos[:MAX_ADVICE_CODES]
        advice = " | ".join(f"{info.code}: {info.advice}" for info in shown)
        if len(infos) > len(shown):
            advice += (
                f" | and {len(infos) - len(shown):,} more codes (ErrorCodes lists them all; "
                "reconciler explain CODE says what each means)"
            )
    return str(resolution), advice


MAX_ADVICE_CODES = 10


def classify_records(
    n_records: int,
    ties: Ties,
    catalogue: Catalogue,
    submission: SubmissionState,
) -> pd.DataFrame:
    """One row per sent record (index = record position): Outcome, ErrorCodes, Resolution,
    TiedBy, TieNote, Advice, ResultRows."""
    res = ties.results
    s_all = res["s_idx"].to_numpy(dtype=np.int64)
    tied_at = np.flatnonzero(s_all >= 0)
    s = s_all[tied_at]
    tied_codes = res["codes"].to_numpy(dtype=object)[tied_at]

    # Per record: its set of codes as an index into ``texts`` (-1: no tied result), later into
    # ``code_sets_list``. The sets are few, so nothing below touches a million strings.
    set_of = np.full(n_records, -1, dtype=np.int64)
    rank = np.full(n_records, _TIE_RANK[str(TiedBy.NONE)], dtype=np.int64)
    n_rows = (
        np.bincount(s, minlength=n_records).astype(np.int64)
        if len(s)
        else np.zeros(n_records, dtype=np.int64)
    )
    texts: list[str] = []
    if len(s):
        single = n_rows[s] == 1
        ids, uniques = pd.factorize(pd.Series(tied_codes[single], dtype=object))
        set_of[s[single]] = ids
        texts = [str(u) for u in uniques]
        if not single.all():
            records, merged = merged_codes(s[~single], tied_codes[~single])
            m_ids, m_uniques = pd.factorize(pd.Series(merged, dtype=object))
            set_of[records] = m_ids + len(texts)
            texts += [str(u) for u in m_uniques]
        names = res["tied_by"].to_numpy(dtype=object)[tied_at]
        ranks = np.full(len(names), _TIE_RANK[str(TiedBy.NONE)], dtype=np.int64)
        for name, value in _TIE_RANK.items():
            ranks[names == name] = value
        if single.all():
            rank[s] = ranks
        else:
            np.minimum.at(rank, s, ranks)
    # One id per distinct text ("" when no result carries a code): equal sets, equal ids.
    set_ids, sets = pd.factorize(pd.Series([*texts, ""], dtype=object))
    set_of = np.where(set_of >= 0, set_ids[np.maximum(set_of, 0)], set_ids[-1])
    code_sets_list = [str(u) for u in sets]

    ambiguous = np.zeros(n_records, dtype=bool)
    ambiguous[ties.ambiguous] = True

    nonempty = np.array([t != "" for t in code_sets_list], dtype=bool)
    has_codes = nonempty[set_of]
    if submission.total_records == 0 and n_records:
        code_sets_list.append(ZERO_RECORDS_CODE)
        set_of = np.where(has_codes, set_of, len(code_sets_list) - 1)
        has_codes = np.ones(n_records, dtype=bool)

    # A record is accepted only on evidence: a final result of its own that reports no error,
    # or results that leave nothing unsaid (``submission.unlisted``). A result without an
    # error that is not final yet makes it pending.
    said_ok = np.zeros(n_records, dtype=bool)
    waiting = np.zeros(n_records, dtype=bool)
    unsaid = np.zeros(n_records, dtype=bool)
    if len(s):
        no_code = np.asarray(tied_codes == "", dtype=bool)
        final = (
            res["final"].to_numpy(dtype=bool)[tied_at]
            if "final" in res.columns
            else np.ones(len(s), dtype=bool)
        )
        unread = (
            res["unread"].to_numpy(dtype=bool)[tied_at]
            if "unread" in res.columns
            else np.zeros(len(s), dtype=bool)
        )
        said_ok[s[no_code & final]] = True
        waiting[s[no_code & ~final & ~unread]] = True
        # A result of its own that says neither success nor an error (a status word such as
        # Skipped, or blank): no verdict from it.
        unsaid[s[no_code & unread]] = True
    doubtful = np.zeros(n_records, dtype=bool)
    doubtful[np.asarray(ties.doubtful, dtype=np.int64)] = True
    contested = np.zeros(n_records, dtype=bool)
    contested[np.asarray(ties.contested, dtype=np.int64)] = True
    doubtful |= contested
    unsaid &= ~said_ok & ~waiting
    doubtful |= unsaid
    unlisted = _OUTCOME_KIND[submission.unlisted]
    kind = np.select(
        [has_codes, said_ok, waiting, ambiguous, doubtful],
        [1, 0, 4, 2, 5],
        default=unlisted,
    )

    # Every verdict column is categorical: a record's texts are one of a few (one per distinct
    # set of codes), so they are computed once each and compared, counted and written as
    # integer codes.
    resolution = np.full(n_records, RESOLUTION_CODE[Resolution.NONE], dtype=np.int8)
    advice = TextColumn(n_records)
    code_sets = TextColumn(n_records)
    if has_codes.any():
        # One verdict per distinct set of codes, broadcast back by integer code.
        where = np.flatnonzero(has_codes)
        local, present = pd.factorize(set_of[where])
        chosen = [code_sets_list[int(i)] for i in present]
        verdicts = [_verdict(catalogue, u) for u in chosen]
        if submission.total_records == 0 and submission.unknown_advice:
            # 0 records read: the advice follows what in the sent file explains it.
            verdicts = [
                (v[0], submission.unknown_advice) if u == ZERO_RECORDS_CODE else v
                for u, v in zip(chosen, verdicts, strict=True)
            ]
        resolution[where] = np.array([RESOLUTION_CODE[v[0]] for v in verdicts], np.int8)[local]
        advice.set(where, local, [v[1] for v in verdicts])
        code_sets.set(where, local, chosen)
    is_amb = kind == _OUTCOME_KIND[Outcome.AMBIGUOUS]
    resolution[is_amb] = RESOLUTION_CODE[Resolution.REVIEW]
    advice.fill(is_amb, AMBIGUOUS_ADVICE)
    is_missing = kind == _OUTCOME_KIND[Outcome.MISSING]
    resolution[is_missing] = RESOLUTION_CODE[Resolution.REVIEW]
    advice.fill(is_missing, MISSING_ADVICE)
    pending = kind == _OUTCOME_KIND[Outcome.PENDING]
    resolution[pending] = RESOLUTION_CODE[Resolution.WAIT]
    advice.fill(pending, pending_advice(submission.status))
    unknown = kind == _OUTCOME_KIND[Outcome.UNKNOWN]
    resolution[unknown] = RESOLUTION_CODE[Resolution.RECHECK]
    advice.fill(unknown & ~doubtful, submission.unknown_advice or UNKNOWN_ADVICE)
    advice.fill(unknown & doubtful & ~contested & ~unsaid, DOUBTFUL_ADVICE)
    advice.fill(unknown & contested, CONTESTED_ADVICE)
    advice.fill(unknown & unsaid & ~contested, UNSAID_ADVICE)
    # An ambiguous result may also concern a record that is otherwise tied: a person must look
    # before anything is resubmitted (only a more final verdict stands).
    also = ambiguous & ~is_amb
    if also.any():
        advice.map(also, lambda a: (a + " | " if a else "") + AMBIGUOUS_ADVICE)
        softer = also & np.isin(
            resolution,
            [
                RESOLUTION_CODE[r]
                for r in (Resolution.NONE, Resolution.FIX_MANUALLY, Resolution.WAIT)
            ],
        )
        resolution[softer] = RESOLUTION_CODE[Resolution.REVIEW]

    # How a tie was made when that needs saying: an ID a spreadsheet spoiled, a line left
    # unconfirmed.
    tie_note = TextColumn(n_records)
    if "note" in res.columns and len(s):
        notes = res["note"].to_numpy(dtype=object)[tied_at]
        noted = np.flatnonzero(notes != "")
        if len(noted):
            tie_note.put(s[noted], notes[noted])
    tie_note.fill(
        unsaid & ~contested & (kind == _OUTCOME_KIND[Outcome.UNKNOWN]),
        "its result gives a status that is neither success nor an error",
    )
    tie_note.fill(
        doubtful & ~contested & ~unsaid & (kind == _OUTCOME_KIND[Outcome.UNKNOWN]),
        "a result names this record's line but no identifier confirms it",
    )
    tie_note.fill(
        contested & (kind == _OUTCOME_KIND[Outcome.UNKNOWN]),
        "a result names this record's line but other identifiers than its own",
    )
    frame = pd.DataFrame(
        {
            "Outcome": pd.Categorical.from_codes(
                np.asarray(kind, dtype=np.int64), categories=pd.Index(list(_OUTCOMES), dtype=object)
            ),
            "ErrorCodes": code_sets.categorical(),
            "Resolution": resolution_column(resolution),
            "TiedBy": pd.Categorical.from_codes(
                rank_code(rank), categories=pd.Index(TIE_NAMES, dtype=object)
            ),
            "TieNote": tie_note.categorical(),
            "Advice": advice.categorical(),
        }
    )
    frame["ResultRows"] = n_rows
    return frame
