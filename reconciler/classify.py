"""Give every sent record its outcome, codes, resolution and advice.

Owns: folding the result rows tied to a record into one verdict, and the resolution precedence
when a record carries several codes. Knows nothing about files; meanings come from the catalogue.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from .catalogue import Catalogue
from .match import Ties, Unmatched
from .model import RESOLUTION_PRECEDENCE, Outcome, Resolution, TiedBy

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


@dataclass(frozen=True, slots=True)
class SubmissionState:
    """What the results say about the submission as a whole."""

    status: str = ""  # as reported: Complete / In Progress / Queued, "" when unknown
    complete: bool = True
    total_records: int | None = None
    total_errors: int | None = None
    lists_every_record: bool = False
    batch_ids: tuple[str, ...] = ()


ZERO_RECORDS_CODE = "ZERO_RECORDS"
_OUTCOMES = np.array(
    [
        str(Outcome.ACCEPTED),
        str(Outcome.REJECTED),
        str(Outcome.AMBIGUOUS),
        str(Outcome.MISSING),
        str(Outcome.PENDING),
    ],
    dtype=object,
)

AMBIGUOUS_ADVICE = (
    "A result may belong to this record or to another one with the same identifiers (see "
    "unmatched_results.csv); check it by hand before resubmitting."
)
MISSING_ADVICE = (
    "The results list every record but not this one: check whether it was processed before "
    "resubmitting it."
)


def _merge_codes(codes: pd.Series) -> str:
    parts = sorted({c for cell in codes for c in str(cell).split(";") if c})
    return ";".join(parts)


def _verdict(catalogue: Catalogue, codeset: str) -> tuple[str, str]:
    """Resolution and advice for a ``;``-joined, sorted set of codes."""
    infos = [catalogue.get(c) for c in codeset.split(";") if c]
    present = {info.resolution for info in infos}
    resolution = next(r for r in RESOLUTION_PRECEDENCE if r in present or r is Resolution.NONE)
    if len(infos) == 1:
        advice = infos[0].advice
    else:
        advice = " | ".join(f"{info.code}: {info.advice}" for info in infos)
    return str(resolution), advice


def classify_records(
    n_records: int,
    ties: Ties,
    catalogue: Catalogue,
    submission: SubmissionState,
) -> pd.DataFrame:
    """One row per sent record (index = record position): Outcome, ErrorCodes, Resolution,
    TiedBy, Advice, ResultRows."""
    res = ties.results
    tied = res[res["s_idx"].to_numpy() >= 0]
    s = tied["s_idx"].to_numpy(dtype=np.int64)

    codes = np.full(n_records, "", dtype=object)
    rank = np.full(n_records, _TIE_RANK[str(TiedBy.NONE)], dtype=np.int64)
    n_rows = (
        np.bincount(s, minlength=n_records).astype(np.int64)
        if len(s)
        else np.zeros(n_records, dtype=np.int64)
    )
    if len(tied):
        single = n_rows[s] == 1
        codes[s[single]] = tied["codes"].to_numpy()[single]
        multi = tied[~single]
        if len(multi):
            merged = multi.groupby("s_idx")["codes"].agg(_merge_codes)
            codes[merged.index.to_numpy(dtype=np.int64)] = merged.to_numpy()
        names = tied["tied_by"].to_numpy(dtype=object)
        ranks = np.full(len(names), _TIE_RANK[str(TiedBy.NONE)], dtype=np.int64)
        for name, value in _TIE_RANK.items():
            ranks[names == name] = value
        if single.all():
            rank[s] = ranks
        else:
            np.minimum.at(rank, s, ranks)

    ambiguous = np.zeros(n_records, dtype=bool)
    amb = res[res["reason"].to_numpy() == Unmatched.AMBIGUOUS_KEY]
    for cands in amb["candidates"]:
        for c in str(cands).split():
            ambiguous[int(c)] = True

    has_result = n_rows > 0
    has_codes = codes != ""
    if submission.total_records == 0 and n_records:
        codes = np.where(has_codes, codes, ZERO_RECORDS_CODE).astype(object)
        has_codes = np.ones(n_records, dtype=bool)

    # Nothing is accepted before the submission is complete: a record without an error so far
    # (listed or not) is pending.
    if submission.complete:
        kind = np.where(
            has_codes,
            1,
            np.where(
                has_result, 0, np.where(ambiguous, 2, 3 if submission.lists_every_record else 0)
            ),
        )
    else:
        kind = np.where(has_codes, 1, np.where(ambiguous & ~has_result, 2, 4))
    outcome = _OUTCOMES[kind]

    resolution = np.full(n_records, str(Resolution.NONE), dtype=object)
    advice = np.full(n_records, "", dtype=object)
    if has_codes.any():
        # One verdict per distinct set of codes, broadcast back by integer code.
        set_ids, sets = pd.factorize(pd.Series(codes[has_codes], dtype=object))
        verdicts = [_verdict(catalogue, str(u)) for u in sets]
        resolution[has_codes] = np.array([v[0] for v in verdicts], dtype=object)[set_ids]
        advice[has_codes] = np.array([v[1] for v in verdicts], dtype=object)[set_ids]
    is_amb = outcome == str(Outcome.AMBIGUOUS)
    resolution[is_amb] = str(Resolution.REVIEW)
    advice[is_amb] = AMBIGUOUS_ADVICE
    is_missing = outcome == str(Outcome.MISSING)
    resolution[is_missing] = str(Resolution.REVIEW)
    advice[is_missing] = MISSING_ADVICE
    if not submission.complete:
        pending = ~has_codes
        resolution[pending] = str(Resolution.WAIT)
        advice[pending] = (
            f"The submission is not complete yet (status {submission.status or 'unknown'}): "
            "results are not final. Export them again once its status is Complete."
        )
    # An ambiguous result may also concern a record that is otherwise tied: a person must look
    # before anything is resubmitted (only a more final verdict stands).
    also = ambiguous & ~is_amb
    if also.any():
        advice[also] = [(a + " | " if a else "") + AMBIGUOUS_ADVICE for a in advice[also]]
        softer = also & np.isin(
            resolution, [str(Resolution.NONE), str(Resolution.FIX_MANUALLY), str(Resolution.WAIT)]
        )
        resolution[softer] = str(Resolution.REVIEW)

    # Object columns on purpose: these are small vocabularies or repeated texts, and pandas'
    # Arrow-backed strings would cost a conversion each way in the stages that follow.
    frame = pd.DataFrame(
        {"ErrorCodes": codes, "Resolution": resolution, "Advice": advice}, dtype=object
    )
    # Outcome and TiedBy are closed vocabularies: categoricals compare and count as integers.
    outcomes = pd.Index([str(o) for o in _OUTCOMES])
    kinds = np.asarray(kind, dtype=np.int64)
    index = frame.index
    frame.insert(
        0, "Outcome", pd.Series(pd.Categorical.from_codes(kinds, categories=outcomes), index=index)
    )
    ties_cat = pd.Categorical.from_codes(rank_code(rank), categories=pd.Index(TIE_NAMES))
    frame.insert(3, "TiedBy", pd.Series(ties_cat, index=index))
    frame["ResultRows"] = n_rows
    return frame
