"""Tie every result row to the exact sent record it speaks of, or say why it cannot be tied.

Owns: the line-numbering choice (``--line-base``), identifier ties, contradiction checks and the
reasons results stay unmatched. Never guesses: a result whose identifiers contradict the record
at its line is tied by identifiers only when they name exactly one record; a key shared by several
sent records is reported as ambiguous, never fanned out. Vectorised: merges and numpy, no
per-record Python.

Longer than most modules (about 750 lines) on purpose: keying, comparing, choosing the line
numbering and tying are one decision, each step judged by the evidence of the others (the
numbering is chosen by how many ties agree; a tie by line stands only when its identifiers do
not contradict). Split apart, each file would have to re-explain the others' rules.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .bytescan import _data_view
from .model import IntArray, LineBase, Table, TiedBy, text_column
from .normalize import EMPTY, ID_FIELDS, arrow_strings, encode

LINE_BASES: tuple[LineBase, ...] = (
    LineBase.PHYSICAL,
    LineBase.RECORD,
    LineBase.DATA1,
    LineBase.DATA0,
)

FIELD_LABELS: dict[str, str] = {
    "action_id": "ActionId",
    "oid": "OrderId",
    "action_tracker_id": "ActionTrackerId",
    "campaign_id": "CampaignId",
    "sku": "Sku",
}


class Unmatched:
    """Stable reason slugs for result rows tied to no record."""

    LINE_OUT_OF_RANGE = "line_out_of_range"
    NOT_A_RECORD_LINE = "not_a_record_line"
    CONTRADICTS_LINE = "contradicts_line"
    NO_SUCH_RECORD = "no_such_record"
    AMBIGUOUS_KEY = "ambiguous_key"
    NO_IDENTIFIERS = "no_identifiers"
    UNCONFIRMED_LINE = "unconfirmed_line"


@dataclass(frozen=True, slots=True)
class LineBaseChoice:
    base: LineBase
    requested: LineBase
    confirmed: bool  # the results' identifiers backed this choice
    evidence: Mapping[str, Mapping[str, int]]  # base -> agree / contradict / out_of_range
    # A --line-base the results' identifiers contradict: what they say instead ("" if none).
    warning: str = ""

    def describe(self) -> str:
        if self.requested is not LineBase.AUTO:
            if self.warning:
                return f"{self.base} (set with --line-base, against the evidence: see warnings)"
            return f"{self.base} (set with --line-base)"
        if self.confirmed:
            ev = self.evidence[self.base]
            return (
                f"{self.base} (auto: {ev['agree']} result lines agree with their identifiers, "
                f"{ev['contradict']} contradict; no other numbering fits as well)"
            )
        return (
            f"{self.base} (auto: assumed; the results' identifiers cannot tell the numberings "
            "apart)"
        )


@dataclass(frozen=True, slots=True, eq=False)
class Ties:
    """``results`` is the result-row frame with s_idx (-1 when untied), tied_by, reason, detail
    and candidates (space-separated sent record indexes for ambiguous keys)."""

    results: pd.DataFrame
    line_base: LineBaseChoice
    # Sent records a result points at by line alone, unconfirmed (``require_agreement``):
    # that result may be theirs, so no verdict of "accepted" can stand for them.
    doubtful: IntArray = field(default_factory=lambda: np.array([], dtype=np.int64))
    # Sent records a result's line points at while the result's identifiers contradict them
    # and name no other record: that error may be theirs, so they are not called accepted.
    contested: IntArray = field(default_factory=lambda: np.array([], dtype=np.int64))
    # Sent records an ambiguous result may speak of (``candidates`` lists at most
    # ``MAX_CANDIDATES`` of a result's, ``candidate_count`` says how many it has): none of
    # them is called accepted.
    ambiguous: IntArray = field(default_factory=lambda: np.array([], dtype=np.int64))


def record_numbers(table: Table, base: LineBase) -> IntArray:
    """The number the platform would give each sent record under a line base (increasing)."""
    n = table.records
    if base is LineBase.PHYSICAL:
        return np.asarray(table.lines, dtype=np.int64)
    if base is LineBase.RECORD:
        return np.arange(n, dtype=np.int64) + table.header_line + 1
    if base is LineBase.DATA1:
        return np.arange(1, n + 1, dtype=np.int64)
    if base is LineBase.DATA0:
        return np.arange(n, dtype=np.int64)
    raise ValueError(f"not a concrete line base: {base}")


@dataclass(frozen=True, slots=True, eq=False)
class _Comparison:
    agree: IntArray  # identifiers equal as written (surrounding whitespace aside)
    contradict: IntArray
    first_field: np.ndarray  # field name of the first contradiction, "" when none
    # Identifiers that are a spreadsheet's form of the record's (fixes.spoiled_form_of): they
    # contradict nothing and prove nothing. ``spoiled_field``: the first such field's
    # position in ID_FIELDS + 1 (0: none); ``spoiled_how``: what the spreadsheet did, where
    # it was worked out value by value ("" otherwise: leading zeros or a .0).
    compatible: IntArray
    spoiled_field: npt.NDArray[np.int8]
    spoiled_how: np.ndarray


@dataclass(frozen=True, slots=True, eq=False)
class Keys:
    """Identifier keys of both sides as integer codes (see ``normalize.encode``). ``sent`` holds
    only the ``carried`` fields: a field no result holds a value in ties and contradicts
    nothing, so a million sent keys need no encoding for it."""

    sent: dict[str, IntArray]
    results: dict[str, IntArray]
    sku_pairs: IntArray  # sorted s_idx * width + sku code, for SKUs some result carries
    sku_width: int
    has_sku: np.ndarray  # per sent record: it lists at least one SKU
    result_sku: IntArray
    carried: frozenset[str]  # identifier fields some result holds a value in
    # Per field, per side: whose key is not the value as written (absent: nobody's). Equal
    # keys are exact equality unless one side is rewritten.
    sent_rewritten: Mapping[str, npt.NDArray[np.bool_]]
    result_rewritten: Mapping[str, npt.NDArray[np.bool_]]
    # Per field: result rows whose value may be a spreadsheet's form of a longer ID
    # (scientific notation, digits rounded to zeros).
    result_spoilable: Mapping[str, npt.NDArray[np.bool_]]
    sent_raw: Mapping[str, pd.Series]  # the sent columns as written, by field
    result_raw: Mapping[str, pa.Array]  # the results' as written (trimmed), where compared

    def sent_at(self, name: str, s_idx: IntArray) -> pa.Array:
        """The sent values of ``name`` at ``s_idx``, as written (trimmed)."""
        taken = arrow_strings(self.sent_raw[name]).take(pa.array(s_idx))
        return pc.utf8_trim_whitespace(pc.fill_null(taken.combine_chunks(), ""))


_SPOILABLE = r"^\s*(?:[0-9](?:[.,][0-9]+)?[eE]\+?[0-9]{1,3}|[0-9]{15,}0(?:\.0+)?)\s*$"


def _spoilable(raw: pd.Series) -> npt.NDArray[np.bool_]:
    """Values a spreadsheet may have made of a longer ID: scientific notation, or 16 digits
    or more ending in a zero (15 significant digits kept; ``fixes.spoiled_form_of`` judges
    each against the record's ID). The regex meets only the values holding an E or ending
    in 0 (two cheap kernels find those)."""
    values = pc.fill_null(arrow_strings(raw).combine_chunks(), "")
    out = _np(pc.match_substring(values, "e", ignore_case=True)) | _np(
        pc.ends_with(pc.utf8_rtrim_whitespace(values), "0")
    )
    maybe = np.flatnonzero(out)
    if len(maybe):
        out[maybe] = _np(pc.match_substring_regex(values.take(pa.array(maybe)), _SPOILABLE))
    return out


def _np(mask: pa.Array) -> npt.NDArray[np.bool_]:
    return np.asarray(pc.fill_null(mask, False).to_numpy(zero_copy_only=False), dtype=bool)


def _trimmed(values: pd.Series) -> pa.Array:
    return pc.utf8_trim_whitespace(pc.fill_null(arrow_strings(values).combine_chunks(), ""))


def encode_keys(
    results: pd.DataFrame,
    sent: pd.DataFrame,
    skus: pd.DataFrame,
    rewritten: Mapping[str, npt.NDArray[np.bool_]] | None = None,
    sent_raw: Mapping[str, pd.Series] | None = None,
) -> Keys:
    s_codes: dict[str, IntArray] = {}
    r_codes: dict[str, IntArray] = {}
    r_rewritten: dict[str, npt.NDArray[np.bool_]] = {}
    spoilable: dict[str, npt.NDArray[np.bool_]] = {}
    r_raw: dict[str, pa.Array] = {}
    s_raw: dict[str, pd.Series] = {}
    for name in ID_FIELDS:
        r_empty = (results[name] == "").to_numpy(dtype=bool)
        if r_empty.all():
            r_codes[name] = np.full(len(results), EMPTY, dtype=np.int64)
        else:
            s_codes[name], r_codes[name] = encode(sent[name], results[name])
            rw = results.get(name + "_rw")
            if rw is not None and bool(np.any(rw.to_numpy(dtype=bool))):
                r_rewritten[name] = rw.to_numpy(dtype=bool)
            if sent_raw is not None and name in sent_raw:
                spoil = _spoilable(results[name + "_raw"])
                if spoil.any():
                    spoilable[name] = spoil
                if spoil.any() or name in r_rewritten or name in (rewritten or {}):
                    r_raw[name] = _trimmed(results[name + "_raw"])
                    s_raw[name] = sent_raw[name]
    r_sku_raw = results["sku"]
    r_empty = (r_sku_raw == "").to_numpy(dtype=bool)
    uniques = pd.Index(pd.unique(r_sku_raw[~r_empty]))
    r_sku = uniques.get_indexer(pd.Index(r_sku_raw)).astype(np.int64)
    r_sku[r_empty] = EMPTY
    width = len(uniques) + 1
    has_sku = np.zeros(len(sent), dtype=bool)
    pairs = np.array([], dtype=np.int64)
    if len(skus):
        s_idx = skus["s_idx"].to_numpy(dtype=np.int64)
        has_sku[s_idx] = True
        if len(uniques):
            code = uniques.get_indexer(pd.Index(skus["sku"])).astype(np.int64)
            keep = code >= 0
            pairs = np.unique(s_idx[keep] * width + code[keep])
    carried = frozenset(s_codes)
    return Keys(
        s_codes,
        r_codes,
        pairs,
        width,
        has_sku,
        r_sku,
        carried,
        {k: v for k, v in (rewritten or {}).items() if k in carried},
        r_rewritten,
        spoilable,
        s_raw,
        r_raw,
    )


def _spoiled_hows(said: Sequence[object], held: pa.Array) -> list[str]:
    """``fixes.spoiled_form_of(str(a), str(b))`` for each pair of ``said`` (a result's value
    as written) and ``held`` (the record's, trimmed, without nulls). A value in scientific
    notation said by many results is judged against all their records of one length at once
    (``_scientific_forms``: a spreadsheet's ``4.05123E+18`` stands for the same value in
    thousands of rows); any other pair, on its own."""
    from .fixes import spoiled_form_of

    n = len(said)
    out = [""] * n
    if not n:
        return out
    codes, uniques = pd.factorize(pd.Series(list(said), dtype=object), use_na_sentinel=False)
    lengths = np.asarray(pc.binary_length(held).to_numpy(zero_copy_only=False), dtype=np.int64)
    order = np.lexsort((lengths, codes))
    c, w = codes[order], lengths[order]
    starts = np.flatnonzero(np.concatenate(([True], (c[1:] != c[:-1]) | (w[1:] != w[:-1]))))
    held_v: list[Any] | None = None
    for start, stop in zip(starts.tolist(), [*starts[1:].tolist(), n], strict=True):
        at = order[start:stop]
        value = uniques[c[start]]
        hit = None
        if isinstance(value, str) and len(at) >= _JUDGED_TOGETHER:
            hit = _scientific_forms(value, held.take(pa.array(at)))
        if hit is not None:
            for k in at[hit].tolist():
                out[k] = _SCIENTIFIC
            continue
        if held_v is None:
            held_v = held.to_pylist()
        for k in at.tolist():
            out[k] = spoiled_form_of(str(value), str(held_v[k]))
    return out


_SCIENTIFIC = "is in scientific notation"  # what spoiled_form_of says of such a value
_JUDGED_TOGETHER = 8  # pairs of one value and length judged at once (fewer: one by one)


def compare(keys: Keys, r_pos: IntArray, s_idx: IntArray) -> _Comparison:
    """For each (result row position, sent record) pair: identifiers that agree / contradict /
    are only compatible.

    An identifier counts only when both sides hold a value; a result's Sku agrees when it is one
    of the record's item SKUs. Values equal as written agree. Values whose keys are equal only
    once leading zeros or a ``.0`` are dropped, and values a spreadsheet made of the record's
    ID (scientific notation, digits rounded to zeros), are *compatible*: they neither agree
    nor contradict (``fixes.spoiled_form_of``)."""

    k = len(r_pos)
    agree = np.zeros(k, dtype=np.int64)
    contradict = np.zeros(k, dtype=np.int64)
    compatible = np.zeros(k, dtype=np.int64)
    spoiled_field = np.zeros(k, dtype=np.int8)
    how = text_column(k, "")
    # The first contradicting field as its position in ``names`` (0: none).
    names = np.array(["", *ID_FIELDS, "sku"], dtype=object)
    first = np.zeros(k, dtype=np.int8)
    for i, name in enumerate(ID_FIELDS, start=1):
        if name not in keys.carried:
            continue  # no result holds this identifier: nothing agrees or contradicts
        rv = keys.results[name][r_pos]
        sv = keys.sent[name][s_idx]
        both = (rv >= 0) & (sv != EMPTY)
        same = rv == sv
        bad = both & ~same
        loose = both & same
        # Equal keys are equal values unless a side's key was rewritten: compare those as
        # written (Arrow, a pair at a time only for the values that differ).
        rewritten = np.zeros(k, dtype=bool)
        if name in keys.result_rewritten:
            rewritten |= keys.result_rewritten[name][r_pos]
        if name in keys.sent_rewritten:
            rewritten |= keys.sent_rewritten[name][s_idx]
        check = np.flatnonzero(loose & rewritten)
        if len(check) and name in keys.sent_raw:
            said = keys.result_raw[name].take(pa.array(r_pos[check]))
            held = keys.sent_at(name, s_idx[check])
            alike = np.asarray(pc.equal(said, held).to_numpy(zero_copy_only=False), dtype=bool)
            differ = check[~alike]
            loose[differ] = False
            compatible[differ] += 1
            spoiled_field[differ[spoiled_field[differ] == 0]] = i
        agree += loose
        # A spreadsheet's form of the record's long ID is not a contradiction.
        if name in keys.result_spoilable and name in keys.sent_raw:
            maybe = np.flatnonzero(bad & keys.result_spoilable[name][r_pos])
            if len(maybe):
                said_v = keys.result_raw[name].take(pa.array(r_pos[maybe])).to_pylist()
                held = keys.sent_at(name, s_idx[maybe])
                for j, found in zip(maybe.tolist(), _spoiled_hows(said_v, held), strict=True):
                    if found:
                        bad[j] = False
                        compatible[j] += 1
                        if spoiled_field[j] == 0:
                            spoiled_field[j] = i
                            how[j] = found
        contradict += bad
        if bad.any():
            first[(first == 0) & bad] = i
    rsku = keys.result_sku[r_pos]
    check_sku = (rsku >= 0) & keys.has_sku[s_idx]
    if check_sku.any():
        idx = np.flatnonzero(check_sku)
        found_sku = np.isin(s_idx[idx] * keys.sku_width + rsku[idx], keys.sku_pairs)
        agree[idx[found_sku]] += 1
        contradict[idx[~found_sku]] += 1
        miss = idx[~found_sku]
        first[miss[first[miss] == 0]] = len(names) - 1
    return _Comparison(agree, contradict, names[first], compatible, spoiled_field, how)


def spoiled_notes(
    keys: Keys, r_pos: IntArray, s_idx: IntArray, cmp: _Comparison, rows: IntArray
) -> npt.NDArray[np.object_]:
    """For the pairs at ``rows`` of a comparison: what spreadsheet spoiling made their tie a
    compatible one, e.g. "the result's OrderId '12346' lost its leading zeros: a
    spreadsheet's form of '00012346'" ("" for a pair without one). Built a field at a time."""
    out = text_column(len(rows), "")
    fields = cmp.spoiled_field[rows]
    for i, name in enumerate(ID_FIELDS, start=1):
        at = np.flatnonzero(fields == i)
        if not len(at) or name not in keys.sent_raw:
            continue
        pairs = rows[at]
        said = np.asarray(
            keys.result_raw[name].take(pa.array(r_pos[pairs])).to_pylist(), dtype=object
        )
        held = np.asarray(keys.sent_at(name, s_idx[pairs]).to_pylist(), dtype=object)
        how = cmp.spoiled_how[pairs].copy()
        blank = np.flatnonzero(how == "")
        if len(blank):
            # Told value by value (only the pairs tied this way): what the spreadsheet did.
            from .fixes import spoiled_form_of

            how[blank] = [
                spoiled_form_of(str(a), str(b)) or "differs only by leading zeros or a .0"
                for a, b in zip(said[blank], held[blank], strict=True)
            ]
        label = FIELD_LABELS.get(name, name)
        out[at] = (
            f"the result's {label} '"
            + said
            + "' "
            + how
            + ": a spreadsheet's form of '"
            + held
            + "'"
        )
    return out


def _locate(numbers: IntArray, lines: IntArray) -> tuple[IntArray, np.ndarray]:
    """Position of each line in the increasing ``numbers``; found mask."""
    if len(numbers) == 0:
        return np.zeros(len(lines), dtype=np.int64), np.zeros(len(lines), dtype=bool)
    first = int(numbers[0])
    if int(numbers[-1]) - first == len(numbers) - 1:
        # Consecutive numbers (every numbering but ``physical`` with multi-line records): the
        # position is arithmetic.
        pos = np.asarray(lines, dtype=np.int64) - first
        found = (pos >= 0) & (pos < len(numbers))
        return np.clip(pos, 0, len(numbers) - 1), found
    pos = np.searchsorted(numbers, lines)
    clipped = np.minimum(pos, len(numbers) - 1)
    found = (pos < len(numbers)) & (numbers[clipped] == lines)
    return clipped.astype(np.int64), found


_Located = tuple[IntArray, np.ndarray, _Comparison]  # position, found, comparison


def choose_line_base(
    table: Table,
    results: pd.DataFrame,
    keys: Keys,
    requested: LineBase,
) -> tuple[LineBaseChoice, _Located]:
    """The numbering under which the results' identifiers agree with the sent records.

    Only result lines whose verdict (agrees / contradicts / points at no record) differs
    between numberings are evidence: a constant ActionTrackerId, or an Oid repeated on the item
    rows of one order, agrees under every numbering and proves nothing. The choice is
    *confirmed* only when it strictly beats every other numbering on that evidence; otherwise
    ``physical`` is assumed and the summary says so.

    Also returns where the result lines fall under the chosen numbering and how they compare
    there (for the result rows that have a line), so the tie does not work them out again."""
    with_line = np.flatnonzero(results["line"].to_numpy() >= 0)
    lines = results["line"].to_numpy()[with_line]
    evidence: dict[str, dict[str, int]] = {}
    status: list[
        npt.NDArray[np.int8]
    ] = []  # per base: 0 no verdict, 1 agree, 2 contradict, 3 no record
    numberings = [record_numbers(table, base) for base in LINE_BASES]
    # Numberings that coincide for this file (physical = record without multi-line records)
    # are one candidate, named by the first; the others share its verdicts.
    same_as = [
        next(j for j in range(i + 1) if np.array_equal(numberings[i], numberings[j]))
        for i in range(len(LINE_BASES))
    ]
    distinct = [i for i in range(len(LINE_BASES)) if same_as[i] == i]
    located: dict[int, _Located] = {}
    for i, (base, numbers) in enumerate(zip(LINE_BASES, numberings, strict=True)):
        if same_as[i] != i:
            st = status[same_as[i]]
        else:
            pos, found = _locate(numbers, lines)
            cmp = compare(keys, with_line[found], pos[found])
            located[i] = (pos, found, cmp)
            st = np.full(len(lines), 3, dtype=np.int8)
            st[found] = np.where(cmp.contradict > 0, 2, np.where(cmp.agree > 0, 1, 0))
        status.append(st)
        evidence[str(base)] = {
            "agree": int((st == 1).sum()),
            "contradict": int((st == 2).sum()),
            "out_of_range": int((st == 3).sum()),
        }
    stacked = np.stack([status[i] for i in distinct]) if len(lines) else np.zeros((1, 0))
    telling = (stacked != stacked[0]).any(axis=0) if len(lines) else np.zeros(0, dtype=bool)
    scores: dict[int, tuple[int, int, int]] = {}
    against: dict[int, int] = {}  # telling lines that contradict a numbering or miss a record
    for i in distinct:
        st = status[i][telling]
        scores[i] = (int((st == 1).sum()) - int((st == 2).sum()), -int((st == 3).sum()), -i)
        evidence[str(LINE_BASES[i])]["telling_agree"] = int((st == 1).sum())
        against[i] = int((st >= 2).sum())
    if requested is not LineBase.AUTO:
        agrees = evidence[str(requested)]["agree"] > 0
        own = evidence[str(requested)]
        best = max(distinct, key=lambda i: scores[i])
        mine = same_as[LINE_BASES.index(requested)]
        warning = ""
        # Against the evidence: another numbering fits the lines that tell numberings apart
        # better, and some of those lines contradict the requested one or fall on no record.
        better = evidence[str(LINE_BASES[best])]["telling_agree"] > 0
        if better and scores[best][:2] > scores[mine][:2] and against[mine] > 0:
            other = evidence[str(LINE_BASES[best])]

            def said(ev: Mapping[str, int]) -> str:
                out = f"{ev['agree']} agree and {ev['contradict']} contradict"
                return out + (
                    f", {ev['out_of_range']} point at no record" if ev["out_of_range"] else ""
                )

            warning = (
                f"--line-base {requested} is contradicted by the results: under it "
                f"{own['agree']} result lines agree with the identifiers of the record at "
                f"their line and {own['contradict']} contradict them"
                + (f", {own['out_of_range']} point at no record" if own["out_of_range"] else "")
                + f"; under {LINE_BASES[best]} {said(other)}. Verdicts follow {requested} as "
                "asked; check that it is right"
            )
        chosen = LineBaseChoice(requested, requested, agrees, evidence, warning)
    else:
        best = max(distinct, key=lambda i: scores[i])
        others = [scores[i][:2] for i in distinct if i != best]
        strictly = all(scores[best][:2] > other for other in others)
        confirmed = strictly and evidence[str(LINE_BASES[best])]["telling_agree"] > 0
        base = LINE_BASES[best] if confirmed else LINE_BASES[0]
        chosen = LineBaseChoice(base, requested, confirmed, evidence)
    return chosen, located[same_as[LINE_BASES.index(chosen.base)]]


# The identifiers that name one action (a tracker or a SKU names many).
_NAMING = ("action_id", "oid")

_ID_LEVELS: tuple[tuple[TiedBy, tuple[str, ...]], ...] = (
    (TiedBy.ACTION_ID, ("action_id",)),
    (TiedBy.OID_TRACKER, ("oid", "action_tracker_id")),
    (TiedBy.OID, ("oid",)),
)


def _describe_contradictions(
    results: pd.DataFrame,
    sent: pd.DataFrame,
    r_pos: IntArray,
    s_idx: IntArray,
    fields: np.ndarray,
    where: Sequence[str],
    sent_raw: Mapping[str, pd.Series] | None = None,
) -> npt.NDArray[np.object_]:
    """For each (result row, sent record) pair and the identifier field they first contradict
    on: what the record holds against what the result says. The values are read a field at a
    time (a result row at a time took 30 µs a row)."""
    out = text_column(len(r_pos), "")
    r_pos = np.asarray(r_pos, dtype=np.int64)
    s_idx = np.asarray(s_idx, dtype=np.int64)
    fields = np.asarray(fields, dtype=object)
    for name in pd.unique(fields).tolist():
        at = np.flatnonzero(fields == name)
        field_name = str(name)
        label = FIELD_LABELS.get(field_name, field_name)
        said = _values(results[field_name + "_raw"], r_pos[at])
        places = [where[i] for i in at.tolist()]
        if field_name == "sku":
            out[at] = [
                f"{w} has no Sku {v!r} (the result's Sku)"
                for w, v in zip(places, said, strict=True)
            ]
            continue
        # The value as the sent file has it (its key drops leading zeros).
        column = (sent_raw or {}).get(field_name)
        held = _values(column if column is not None else sent[field_name], s_idx[at])
        out[at] = [
            f"{w} holds {label} {h!r} but the result says {v!r}"
            for w, h, v in zip(places, held, said, strict=True)
        ]
    return out


def _key_texts(
    results: pd.DataFrame, rows: IntArray, fields: Sequence[str], *, only_held: bool
) -> list[str]:
    """Per result row at ``rows``: its identifiers of ``fields`` as written (``OrderId
    '123'``), joined by commas; ``only_held``: only those it holds a value in."""
    rows = np.asarray(rows, dtype=np.int64)
    columns = []
    for c in fields:
        raw = _values(results[c + "_raw"], rows)
        held = _values(results[c], rows) if only_held else [True] * len(rows)
        columns.append(
            [(f"{FIELD_LABELS[c]} {v!r}" if h else "") for v, h in zip(raw, held, strict=True)]
        )
    return (
        [", ".join(t for t in texts if t) for texts in zip(*columns, strict=True)]
        if columns
        else []
    )


def _values(column: pd.Series, rows: IntArray) -> list[Any]:
    """The cells of ``column`` at positions ``rows``, as ``Series.iat`` gives each."""
    return column.iloc[np.asarray(rows, dtype=np.int64)].tolist()


def _candidates(
    keys: Keys, n_sent: int, rows: IntArray, cols: tuple[str, ...]
) -> tuple[IntArray, IntArray, _Comparison] | None:
    """The (result row, sent record) pairs whose ``cols`` keys are equal, for the result rows
    ``rows`` that hold every one of them, with how each pair compares on all identifiers
    (None when there is none)."""
    has_all = np.ones(len(rows), dtype=bool)
    for c in cols:
        has_all &= keys.results[c][rows] >= 0
    if not has_all.any():
        return None
    probe = pd.DataFrame({"_r": rows[has_all]})
    for c in cols:
        probe[c] = keys.results[c][rows[has_all]]
    usable = np.ones(n_sent, dtype=bool)
    for c in cols:
        usable &= keys.sent[c] >= 0
    s_frame = pd.DataFrame({c: keys.sent[c][usable] for c in cols})
    s_frame["_s"] = np.flatnonzero(usable).astype(np.int64)
    cand = probe.merge(s_frame, on=list(cols), how="inner")
    if cand.empty:
        return None
    cr = cand["_r"].to_numpy(dtype=np.int64)
    cs = cand["_s"].to_numpy(dtype=np.int64)
    return cr, cs, compare(keys, cr, cs)


def _other_records(
    keys: Keys, n_sent: int, rows: IntArray, s_of: IntArray
) -> dict[int, list[IntArray]]:
    """For result rows tied by line to ``s_of``: the other sent records their ActionId /
    OrderId names, exactly (by the identifier levels, nothing contradicting) or as a
    spreadsheet's form of the record's ID (scientific notation, digits rounded to zeros).

    Per row that names another record: sorted arrays of record positions whose union is what
    it names (with, perhaps, the record at its line). The records a spoiled value names are
    one array shared by every row holding that value: a spreadsheet's ``4.05123E+18`` may
    name thousands of records, and a sheet of such rows names them over and over."""
    found: dict[int, list[IntArray]] = {}
    if not len(rows):
        return found
    exact_r: list[IntArray] = []
    exact_s: list[IntArray] = []
    for _level, cols in _ID_LEVELS:
        hit = _candidates(keys, n_sent, rows, cols)
        if hit is None:
            continue
        cr, cs, ccmp = hit
        keep = (ccmp.contradict == 0) & (cs != s_of[cr])
        exact_r.append(cr[keep])
        exact_s.append(cs[keep])
    if exact_r:
        pair_r, pair_s = np.concatenate(exact_r), np.concatenate(exact_s)
        order = np.lexsort((pair_s, pair_r))
        pair_r, pair_s = pair_r[order], pair_s[order]
        starts = np.flatnonzero(np.concatenate(([True], pair_r[1:] != pair_r[:-1])))
        if len(pair_r):
            for r, named in zip(pair_r[starts].tolist(), np.split(pair_s, starts[1:]), strict=True):
                # Sorted; a pair two levels found is there twice, which matters only to
                # ``_linked``'s counting of a large part.
                found[r] = [named if len(named) <= _FEW else np.unique(named)]
    for name in _NAMING:
        spoil = keys.result_spoilable.get(name)
        if spoil is None or name not in keys.sent_raw:
            continue
        maybe = rows[spoil[rows]]
        if not len(maybe):
            continue
        sent_values = _trimmed(keys.sent_raw[name])
        lengths = np.asarray(pc.utf8_length(sent_values).to_numpy(zero_copy_only=False))
        said_all = keys.result_raw[name].take(pa.array(maybe)).to_pylist()
        # The records each spoiled value may stand for, looked for once per distinct value.
        named_by: dict[str, IntArray] = {}
        for r, value in zip(maybe.tolist(), said_all, strict=True):
            said = str(value)
            near = named_by.get(said)
            if near is None:
                near = _spoiled_forms_of(said, sent_values, lengths)
                named_by[said] = near
            own = int(s_of[r])
            if len(near) > 1 or (len(near) == 1 and int(near[0]) != own):
                found.setdefault(r, []).append(near)
    return found


# The candidate records an ambiguous result lists at most (``candidates``, CandidateLines):
# a spreadsheet's spoiled ID may name thousands, and a spreadsheet cell holds 32,767
# characters. Every one of them is still kept from being called accepted (``Ties.ambiguous``).
MAX_CANDIDATES = 1000


def _joined_heads(pair_r: IntArray, pair_s: IntArray) -> list[str]:
    """Per run of equal ``pair_r`` (sorted by it, then ``pair_s``): its first
    ``MAX_CANDIDATES`` records, joined by spaces."""
    return _joined_runs(pair_r, pair_s, " ", MAX_CANDIDATES)


def _joined_runs(keys: IntArray, values: IntArray, sep: str, limit: int) -> list[str]:
    """Per run of equal ``keys`` (sorted): its first ``limit`` ``values`` (integers) as text,
    joined by ``sep``; one text a run, in order."""
    if not len(keys):
        return []
    starts = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))
    place = np.arange(len(keys)) - np.repeat(starts, np.diff(np.append(starts, len(keys))))
    head = place < limit
    kept_k, kept_v = keys[head], values[head]
    offsets = np.append(
        np.flatnonzero(np.concatenate(([True], kept_k[1:] != kept_k[:-1]))), len(kept_k)
    )
    listed = pa.LargeListArray.from_arrays(
        pa.array(offsets, pa.int64()),
        pc.cast(pa.array(np.asarray(kept_v, dtype=np.int64)), pa.large_string()),
    )
    joined = pc.binary_join(listed, pa.scalar(sep, pa.large_string()))
    return [str(t) for t in joined.to_pylist()]


def _few_linked(
    parts: Sequence[Sequence[IntArray]], at: IntArray, lines_of: IntArray
) -> tuple[IntArray, IntArray, list[str], list[str], IntArray]:
    """``_linked`` for results that name at most ``_FEW`` records each (``parts``, per
    result; ``at``, the record at its line), all at once: every record named or at a line
    (for ``Ties.ambiguous``); per result, how many records its union holds, those records
    joined by spaces (CandidateLines; never past ``MAX_CANDIDATES``), the lines of the
    first five of those besides its own, joined by commas, and how many lines that is."""
    n = len(at)
    counts = np.array([sum(len(p) for p in ps) for ps in parts], dtype=np.int64)
    flat = [p for ps in parts for p in ps if len(p)]
    named = np.concatenate(flat).astype(np.int64) if flat else np.zeros(0, np.int64)
    which = np.concatenate([np.repeat(np.arange(n, dtype=np.int64), counts), np.arange(n)])
    record = np.concatenate([named, np.asarray(at, dtype=np.int64)])
    order = np.lexsort((record, which))
    which, record = which[order], record[order]
    fresh = np.concatenate(([True], (which[1:] != which[:-1]) | (record[1:] != record[:-1])))
    which, record = which[fresh], record[fresh]
    total = np.bincount(which, minlength=n).astype(np.int64)
    listed = _joined_runs(which, record, " ", MAX_CANDIDATES)
    # The lines shown are of the records listed, as ``_linked`` gives them.
    starts = np.flatnonzero(np.concatenate(([True], which[1:] != which[:-1])))
    place = np.arange(len(which)) - np.repeat(starts, np.diff(np.append(starts, len(which))))
    besides = (record != np.asarray(at, dtype=np.int64)[which]) & (place < MAX_CANDIDATES)
    shown = [""] * n
    count = np.minimum(np.bincount(which[besides], minlength=n), _SHOWN_LINES)
    if besides.any():
        with_others = np.unique(which[besides])
        lines = np.asarray(lines_of)[record[besides]]
        texts = _joined_runs(which[besides], lines, ", ", _SHOWN_LINES)
        for k, text in zip(with_others.tolist(), texts, strict=True):
            shown[k] = text
    return record, total, listed, shown, count.astype(np.int64)


_SHOWN_LINES = 5  # lines of the other records an ambiguous result's Detail names


def _ambiguous_detail(
    line: int, base: object, key_text: str, total: int, shown: str, count: int
) -> str:
    """Why a result tied by ``line`` is ambiguous: its ``key_text`` names other records (of
    ``total`` with the one at its line), the first ``count`` of them at the lines ``shown``
    (joined by commas)."""
    many = total - 1 > 1
    return (
        f"line {line} ({base} numbering) holds a record without the "
        f"result's {key_text}, which names the record{'s' if many else ''} at "
        f"line{'s' if many else ''} "
        + shown
        + (", ..." if total - 1 > count else "")
        + " of the sent file: the result may speak of "
        + ("any of them" if many else "either")
        + "; tie it by hand"
    )


_FEW = 64  # records a result names that are joined as a Python set


def _linked(parts: Sequence[IntArray], at: int) -> tuple[IntArray, int]:
    """The first ``MAX_CANDIDATES`` records (ascending) of the union of ``parts`` (sorted
    arrays; one of more than ``_FEW`` without repeats) and the record ``at``, and how many
    that union holds; without joining large parts whole."""
    if sum(len(part) for part in parts) <= _FEW:
        union = sorted({at}.union(*(part.tolist() for part in parts)))
        return np.asarray(union[:MAX_CANDIDATES], dtype=np.int64), len(union)
    parts = sorted(parts, key=len, reverse=True)
    big = parts[0]
    small = [np.asarray([at], dtype=np.int64)]
    for part in parts[1:]:
        if len(part) > MAX_CANDIDATES:
            big = np.union1d(big, part)
        else:
            small.append(part)
    rest = np.unique(np.concatenate(small))
    inside = np.zeros(len(rest), dtype=bool)
    if len(big):
        where = np.searchsorted(big, rest)
        inside = (where < len(big)) & (big[np.minimum(where, len(big) - 1)] == rest)
    total = len(big) + int((~inside).sum())
    head = np.union1d(big[:MAX_CANDIDATES], rest)[:MAX_CANDIDATES]
    return head.astype(np.int64), total


def _spoiled_forms_of(said: str, sent_values: pa.Array, lengths: np.ndarray) -> IntArray:
    """The sent records whose value ``said`` is a spreadsheet's form of."""
    from .fixes import spoiled_form_of

    shape = _spoiled_shape(said)
    if shape is None:
        return np.zeros(0, dtype=np.int64)
    length, prefix = shape
    near = np.flatnonzero((lengths == length) & _np(pc.starts_with(sent_values, prefix)))
    if not len(near):
        return near.astype(np.int64)
    taken = sent_values.take(pa.array(near))
    spoiled = _scientific_forms(said, taken)
    if spoiled is None:  # not a shape read whole: value by value
        held = taken.to_pylist()
        spoiled = np.array([bool(spoiled_form_of(said, str(h))) for h in held], dtype=bool)
    return near[spoiled]


def _scientific_forms(said: str, held: pa.Array) -> npt.NDArray[np.bool_] | None:
    """``spoiled_form_of(said, h)`` for each of ``held`` at once, when ``said`` is scientific
    notation (``4.05123E+18``) and every held value is as many ASCII digits as it stands
    for, the first not a zero (what ``_spoiled_forms_of`` looks among): whether the value
    rounded half up to the mantissa's digits (or first to 17, as a double holds it) is the
    mantissa, worked out on the leading digits as integers. None for any other case (the
    caller asks value by value)."""
    from .fixes.values import _ANY_SCI

    text = said.strip()
    m = _ANY_SCI.match(text)
    if m is None or not text.isascii() or len(m.group("int")) != 1 or m.group("int") == "0":
        return None
    frac = m.group("frac") or ""
    keep = 1 + len(frac)
    mantissa = (m.group("int") + frac).rstrip("0")
    width = int(m.group("exp")) + 1  # the digits a value it stands for has
    if keep > 17:
        return None
    data = np.frombuffer(_data_view(held), dtype=np.uint8)
    if len(held) == 0 or held.null_count or len(data) != width * len(held):
        return None
    digits = data.reshape(len(held), width) - np.uint8(ord("0"))  # wraps below "0": > 9
    if (digits > 9).any() or (digits[:, 0] == 0).any():
        return None

    def number(stop: int) -> np.ndarray:  # the first ``stop`` digits as an integer
        out = np.zeros(len(held), dtype=np.int64)
        for j in range(min(stop, width)):
            out = out * 10 + digits[:, j].astype(np.int64)
        return out

    def up(j: int) -> np.ndarray:  # whether the digit at ``j`` rounds up (none past the end)
        return digits[:, j] >= 5 if j < width else np.zeros(len(held), dtype=bool)

    target = int(mantissa.ljust(keep, "0"))
    if width <= keep:  # nothing to round: the value is the mantissa (and zeros)
        exact = number(width) == int(mantissa.ljust(width, "0")) if len(mantissa) <= width else None
        return exact if exact is not None else np.zeros(len(held), dtype=bool)
    found = number(keep) + up(keep) == target
    if width > 17:  # as a double holds it: 17 digits first, then the mantissa's
        first = number(17) + up(17)
        whole = first < 10**17  # a carry makes it a digit longer: no match
        scale = 10 ** (17 - keep)
        head = first // scale + ((first // (scale // 10)) % 10 >= 5 if scale > 1 else 0)
        found |= whole & (head == target)
    return np.asarray(found, dtype=bool)


def candidate_records(texts: Sequence[object]) -> tuple[np.ndarray, IntArray]:
    """The ``candidates`` of result rows (sent record positions joined by spaces, "" for
    none) read back whole: each row's start in the positions (``len(texts) + 1`` offsets)
    and the positions, in order. A spoiled ID may name thousands of records a row."""
    given = pa.array([str(t) or None for t in texts], pa.large_string())
    parts = pc.split_pattern(given, " ")
    offsets = np.asarray(parts.offsets, dtype=np.int64)
    positions = pc.cast(parts.flatten(), pa.int64()).to_numpy(zero_copy_only=False)
    return offsets, np.asarray(positions, dtype=np.int64)


def _spoiled_shape(said: str) -> tuple[int, str] | None:
    """The length and a leading-digits prefix every ID a spreadsheet could have made ``said``
    of shares (None when ``said`` is no such form)."""
    import re

    text = said.strip().replace(",", ".")
    sci = re.fullmatch(r"([0-9])(?:\.([0-9]+))?[eE]\+?([0-9]{1,3})", text)
    if sci:
        digits = sci.group(1) + (sci.group(2) or "")
        # The last kept digit may have been rounded up.
        return int(sci.group(3)) + 1, digits[: max(1, len(digits) - 1)]
    plain = text.removesuffix(".0")
    if plain.isascii() and plain.isdigit() and len(plain) > 15:
        return len(plain), plain[:14]
    return None


def match_results(
    table: Table,
    results: pd.DataFrame,
    sent: pd.DataFrame,
    skus: pd.DataFrame,
    requested: LineBase = LineBase.AUTO,
    *,
    rewritten: Mapping[str, npt.NDArray[np.bool_]] | None = None,
    sent_raw: Mapping[str, pd.Series] | None = None,
    require_agreement: bool = False,
) -> Ties:
    """Tie result rows to sent records. ``sent``/``skus``/``rewritten`` come from
    ``normalize.sent_keys``; ``sent_raw`` holds the sent identifier columns as written, so
    that a spreadsheet's form of an ID is told from another ID. ``require_agreement``: the
    results counted another number of records than the file holds, so a line ties only
    where an identifier agrees with the record there (the others are ``unconfirmed_line``)."""
    m = len(results)
    keys = encode_keys(results, sent, skus, rewritten, sent_raw)
    choice, (pos, found, cmp) = choose_line_base(table, results, keys, requested)
    numbers = record_numbers(table, choice.base)
    s_of = np.full(m, -1, dtype=np.int64)
    tied_by = text_column(m, str(TiedBy.NONE))
    reason = text_column(m, "")
    detail = text_column(m, "")
    candidates = text_column(m, "")
    candidate_count = np.zeros(m, dtype=np.int64)
    note = text_column(m, "")
    agreed = np.zeros(m, dtype=bool)  # tied with an identifier that agrees or is compatible

    line = results["line"].to_numpy()
    with_line = np.flatnonzero(line >= 0)
    ok = cmp.contradict == 0
    backed = (cmp.agree + cmp.compatible) > 0
    blind_r = blind_s = np.array([], dtype=np.int64)
    if require_agreement:
        blind = ok & ~backed
        blind_r = with_line[found][blind]
        blind_s = pos[found][blind]
        reason[blind_r] = Unmatched.UNCONFIRMED_LINE
        for r, s_pos in zip(blind_r, pos[found][blind], strict=True):
            detail[r] = (
                f"line {line[r]} ({choice.base} numbering) holds a record, but the results "
                "counted another number of records than the file holds and no identifier of "
                f"the result confirms that record (line {int(table.lines[int(s_pos)])} of the "
                "sent file)"
            )
        ok = ok & backed
    good = with_line[found][ok]
    s_of[good] = pos[found][ok]
    tied_by[good] = str(TiedBy.LINE)
    if cmp.compatible.any():
        note[good] = spoiled_notes(keys, with_line[found], pos[found], cmp, np.flatnonzero(ok))
    agreed[good] = backed[ok]

    # Lines that contradict the record they point at.
    contra = cmp.contradict > 0
    bad_r = with_line[found][contra]
    bad_s = pos[found][contra]
    reason[bad_r] = Unmatched.CONTRADICTS_LINE
    detail[bad_r] = _describe_contradictions(
        results,
        sent,
        bad_r,
        bad_s,
        cmp.first_field[contra],
        [f"line {n} ({choice.base} numbering)" for n in line[bad_r].tolist()],
        sent_raw,
    )
    # Lines that point at no record.
    missing_r = with_line[~found]
    last = int(numbers[-1]) if len(numbers) else 0
    first_no = int(numbers[0]) if len(numbers) else 0
    past = line[missing_r] > last
    reason[missing_r[past]] = Unmatched.LINE_OUT_OF_RANGE
    reason[missing_r[~past]] = Unmatched.NOT_A_RECORD_LINE
    for r in missing_r:
        if line[r] > last:
            detail[r] = (
                f"line {line[r]} is past the last record of the sent file "
                f"(line {last} in {choice.base} numbering)"
            )
        elif line[r] < first_no:
            detail[r] = f"line {line[r]} is before the first record (line {first_no})"
        else:
            detail[r] = (
                f"line {line[r]} is not where a record starts (a blank line or a continuation)"
            )

    # A line tie by a result carrying an ActionId or OrderId the record at its line does not
    # hold: when that identifier (as written, or as a spreadsheet's form of it) names other
    # records of the file, the result may speak of any of them (the platform may name the
    # action a line's ActionId found, or the line may be wrong). None gets a verdict from it.
    amb_mask = np.zeros(m, dtype=bool)
    lacking = np.zeros(len(good), dtype=bool)
    for c in _NAMING:
        if c in keys.carried:
            lacking |= (keys.results[c][good] >= 0) & (keys.sent[c][s_of[good]] == EMPTY)
    others = _other_records(keys, len(sent), good[lacking], s_of)
    amb_rows = np.asarray(sorted(others), dtype=np.int64)
    amb_keys = _key_texts(results, amb_rows, _NAMING, only_held=True)
    lines_of = np.asarray(table.lines)
    # Every record an ambiguous result may speak of (each shared part marked once).
    marked: dict[int, IntArray] = {}
    at_lines = s_of[amb_rows].copy()
    marked[id(at_lines)] = at_lines
    # Most such results name a few records each (a line one off names its neighbour): those
    # are worked out a whole column at a time; one naming many (a spoiled ID) on its own.
    few = np.asarray([sum(len(p) for p in others[ri]) <= _FEW for ri in amb_rows.tolist()], bool)
    if few.any():
        rows_f = amb_rows[few]
        named, sizes, joined, shown, count = _few_linked(
            [others[ri] for ri in rows_f.tolist()], s_of[rows_f], lines_of
        )
        marked[id(named)] = named
        amb_mask[rows_f] = True
        candidates[rows_f] = joined
        candidate_count[rows_f] = sizes
        reason[rows_f] = Unmatched.AMBIGUOUS_KEY
        detail[rows_f] = [
            _ambiguous_detail(n, choice.base, key_text, t, head, c)
            for n, key_text, t, head, c in zip(
                line[rows_f].tolist(),
                [k for k, f in zip(amb_keys, few.tolist(), strict=True) if f],
                sizes.tolist(),
                shown,
                count.tolist(),
                strict=True,
            )
        ]
        s_of[rows_f] = -1
        tied_by[rows_f] = str(TiedBy.NONE)
        note[rows_f] = ""
        agreed[rows_f] = False
    for ri, key_text in zip(
        amb_rows[~few].tolist(),
        [k for k, f in zip(amb_keys, few.tolist(), strict=True) if not f],
        strict=True,
    ):
        at_line = int(s_of[ri])
        linked, total = _linked(others[ri], at_line)
        for part in others[ri]:
            marked.setdefault(id(part), part)
        amb_mask[ri] = True
        candidates[ri] = " ".join(map(str, linked.tolist()))
        candidate_count[ri] = total
        elsewhere = lines_of[linked[linked != at_line][:_SHOWN_LINES]].tolist()
        reason[ri] = Unmatched.AMBIGUOUS_KEY
        detail[ri] = _ambiguous_detail(
            int(line[ri]),
            choice.base,
            key_text,
            total,
            ", ".join(str(v) for v in elsewhere),
            len(elsewhere),
        )
        s_of[ri] = -1
        tied_by[ri] = str(TiedBy.NONE)
        note[ri] = ""
        agreed[ri] = False

    pending = np.flatnonzero((s_of < 0) & ~amb_mask)
    for level, cols in _ID_LEVELS:
        if len(pending) == 0:
            break
        found_at = _candidates(keys, len(sent), pending, cols)
        if found_at is None:
            continue
        cr, cs, ccmp = found_at
        keep = ccmp.contradict == 0
        kept = pd.DataFrame({"_r": cr[keep], "_s": cs[keep]})
        counts = kept.groupby("_r")["_s"].agg(["count", "first"])
        single = counts[counts["count"] == 1]
        r_single = single.index.to_numpy(dtype=np.int64)
        s_of[r_single] = single["first"].to_numpy(dtype=np.int64)
        tied_by[r_single] = str(level)
        agreed[r_single] = True
        if ccmp.compatible.any():
            # The pair each result tied alone by, among its candidates.
            picked = np.flatnonzero(keep & np.isin(cr, r_single))
            note[cr[picked]] = spoiled_notes(keys, cr, cs, ccmp, picked)
        # Tied by its identifiers: whatever its line said is no longer why it is untied.
        reason[r_single] = ""
        detail[r_single] = ""
        multi = counts[counts["count"] > 1]
        if len(multi):
            listed_r = multi.index.to_numpy(dtype=np.int64)
            rows_r = listed_r[~amb_mask[listed_r]]
        if len(multi) and len(rows_r):
            pair_r = kept["_r"].to_numpy(dtype=np.int64)
            pair_s = kept["_s"].to_numpy(dtype=np.int64)
            wanted = np.isin(pair_r, rows_r)
            pair_r, pair_s = pair_r[wanted], pair_s[wanted]
            order = np.lexsort((pair_s, pair_r))
            pair_r, pair_s = pair_r[order], pair_s[order]
            marked[id(pair_s)] = pair_s
            amb_mask[rows_r] = True
            candidates[rows_r] = _joined_heads(pair_r, pair_s)
            reason[rows_r] = Unmatched.AMBIGUOUS_KEY
            n_of = counts["count"].reindex(rows_r).to_numpy(dtype=np.int64)
            candidate_count[rows_r] = n_of
            detail[rows_r] = [
                f"{key_text} names {n_c} records of the sent file; tie it by hand"
                for key_text, n_c in zip(
                    _key_texts(results, rows_r, cols, only_held=False), n_of.tolist(), strict=True
                )
            ]
        # Every candidate contradicted: say so when nothing better is known.
        contradicted = np.setdiff1d(np.unique(cr), np.unique(kept["_r"].to_numpy()))
        fresh = contradicted[reason[contradicted] == ""]
        if len(fresh):
            # Each one's first candidate pair says what contradicts.
            listed, first_pair = np.unique(cr, return_index=True)
            j = first_pair[np.searchsorted(listed, fresh)]
            # Without a line, no line is contradicted: no record has all its identifiers.
            has_line = line[fresh] >= 0
            reason[fresh[has_line]] = Unmatched.CONTRADICTS_LINE
            reason[fresh[~has_line]] = Unmatched.NO_SUCH_RECORD
            detail[fresh] = _describe_contradictions(
                results,
                sent,
                fresh,
                cs[j],
                ccmp.first_field[j],
                [f"the record with that {level} key"] * len(fresh),
                sent_raw,
            )
        resolved = (s_of[pending] >= 0) | amb_mask[pending]
        pending = pending[~resolved]

    # Whatever is left: say why (the identifiers of every row left read at once).
    ids_of = _key_texts(results, pending, (*ID_FIELDS, "sku"), only_held=True)
    for r, ids in zip(pending.tolist(), ids_of, strict=True):
        if reason[r]:
            if line[r] >= 0 and ids:
                detail[r] += "; no single sent record has the result's identifiers either"
            continue
        if ids:
            reason[r] = Unmatched.NO_SUCH_RECORD
            detail[r] = "no sent record has " + ids
        else:
            reason[r] = Unmatched.NO_IDENTIFIERS
            detail[r] = "the result has neither a line number nor identifiers"

    # Object columns: pandas would otherwise turn each text column into Arrow strings.
    out = results.assign(
        s_idx=s_of,
        tied_by=pd.Series(tied_by, index=results.index, dtype=object),
        reason=pd.Series(reason, index=results.index, dtype=object),
        detail=pd.Series(detail, index=results.index, dtype=object),
        candidates=pd.Series(candidates, index=results.index, dtype=object),
        candidate_count=candidate_count,
        note=pd.Series(note, index=results.index, dtype=object),
        agreed=agreed,
    )
    # A record an unconfirmed line points at stays in doubt unless its result tied elsewhere;
    # so does one a result's line points at when the result's identifiers contradict it and
    # name no other record: that error may be this record's, with a mistyped identifier.
    doubtful = np.unique(blind_s[s_of[blind_r] < 0])
    contested = np.unique(bad_s[~amb_mask[bad_r]]).astype(np.int64)
    ambiguous = (
        np.unique(np.concatenate(list(marked.values()))) if marked else np.zeros(0, np.int64)
    )
    return Ties(
        results=out,
        line_base=choice,
        doubtful=doubtful,
        contested=contested,
        ambiguous=ambiguous.astype(np.int64),
    )


def _blind_foreign(
    res: pd.DataFrame, tied: npt.NDArray[np.bool_], sent_raw: Mapping[str, pd.Series]
) -> npt.NDArray[np.bool_]:
    """Result rows tied by their line alone (no identifier agreeing) whose ActionId or OrderId
    no record of the file holds."""
    from .normalize import id_key_arrow

    out = np.zeros(len(res), dtype=bool)
    blind = tied & ~res["agreed"].to_numpy(dtype=bool)
    if not blind.any():
        return out
    for name in _NAMING:
        values = res[name].to_numpy(dtype=object)
        rows = np.flatnonzero(blind & (values != ""))
        if not len(rows):
            continue
        if name not in sent_raw:
            out[rows] = True
            continue
        s_keys = pc.unique(id_key_arrow(arrow_strings(sent_raw[name])))
        said = pa.array([str(v) for v in values[rows]], type=pa.large_string())
        present = _np(pc.is_in(said, value_set=pc.cast(s_keys, pa.large_string())))
        out[rows[~present]] = True
    return out


def foreign_evidence(ties: Ties, sent: Table, sent_raw: Mapping[str, pd.Series]) -> str:
    """Why the results look like another file's ("" when they do not): none ties to a record,
    or most of those that carry an identifier are left untied because they contradict the
    record at their line, point at no record, or name no record of the file. The text shows
    the evidence, e.g. "0 of 16 results name an ActionId of this file (the results have
    'M1000.4636.2001', ...; the file has ...)".

    Results tied by their identifiers count as tied whatever their lines say (a forced
    ``--line-base`` against the evidence is warned about, not taken for foreign results)."""
    res = ties.results
    m = len(res)
    if m == 0:
        return ""
    reason = res["reason"].to_numpy(dtype=object)
    untied = res["s_idx"].to_numpy() < 0
    # A result whose key names several records names this file's records all the same.
    tied = ~untied | (reason == Unmatched.AMBIGUOUS_KEY)
    carrying = np.zeros(m, dtype=bool)
    for name in (*ID_FIELDS, "sku"):
        carrying |= (res[name] != "").to_numpy(dtype=bool)
    contradicted = (
        untied
        & (reason != Unmatched.AMBIGUOUS_KEY)
        & np.isin(
            reason,
            [
                Unmatched.CONTRADICTS_LINE,
                Unmatched.NO_SUCH_RECORD,
                Unmatched.LINE_OUT_OF_RANGE,
                Unmatched.NOT_A_RECORD_LINE,
            ],
        )
    )
    # Tied by their line alone, by an ActionId or OrderId that no record of the file holds
    # (their line's record has none): such a result names nothing of this file either.
    blind = _blind_foreign(res, ~untied, sent_raw)
    tied &= ~blind
    contradicted |= blind
    n_carry = int(carrying.sum())
    n_contra = int((carrying & contradicted).sum())
    if tied.any() and not (n_carry and 2 * n_contra > n_carry):
        return ""
    # The evidence, in the field the results carry most.
    counts = {name: int((res[name] != "").sum()) for name in _NAMING}
    name = max(_NAMING, key=lambda f: counts[f])
    if (counts[name] == 0 or name not in sent_raw) and tied.any():
        # Results that name no action (an ActionTrackerId, a Sku): what their lines say.
        example = min(
            (str(d) for d, bad in zip(res["detail"], carrying & contradicted, strict=True) if bad),
            default="",
        )
        return (
            f"{n_contra:,} of {n_carry:,} results contradict the record at their line or point "
            f"at no record ({example}), and only {int(tied.sum()):,} tie"
            ": they do not fit this file"
        )
    if counts[name] == 0 or name not in sent_raw:
        lines = res["line"].to_numpy()
        with_line = lines[lines >= 0]
        if len(with_line) and sent.records:
            where = (
                f" (their lines run {int(with_line.min())}-{int(with_line.max())}; the file's "
                f"records are at lines {int(sent.lines[0])}-{int(sent.lines[-1])})"
            )
        elif not len(with_line) and not carrying.any():
            cells = sorted({str(v) for v in res["line_raw"] if str(v).strip()})[:2]
            where = ": none carries a line number or an identifier" + (
                f" (the line column holds {', '.join(repr(c) for c in cells)})" if cells else ""
            )
        else:
            where = ""
        return f"0 of {m:,} results tie to a record of this file{where}"
    import pyarrow as pa
    import pyarrow.compute as pc

    from .normalize import arrow_strings, id_key_arrow

    label = FIELD_LABELS[name]
    r_keys = res[name].to_numpy(dtype=object)
    carried = r_keys[r_keys != ""]
    uniques = pa.array(pd.unique(carried).tolist(), type=pa.large_string())
    s_keys = id_key_arrow(arrow_strings(sent_raw[name]))
    present = pc.is_in(uniques, value_set=pc.unique(s_keys))
    present_set = {v for v, ok in zip(uniques.to_pylist(), present.to_pylist(), strict=True) if ok}
    naming = int(sum(1 for v in carried if v in present_set))
    if 2 * naming >= len(carried):
        # Their IDs are this file's, but in combinations no record holds.
        example = min(
            (str(d) for d, bad in zip(res["detail"], carrying & contradicted, strict=True) if bad),
            default="",
        )  # the same whatever the order of the results
        return (
            f"{n_contra:,} of {n_carry:,} results contradict the record at their line and name "
            f"no single other record ({example}): they do not fit this file"
        )
    theirs = sorted(str(v) for v in res.loc[res[name] != "", name + "_raw"].unique())[:2]
    ours = [str(v) for v in pd.unique(sent_raw[name][sent_raw[name].str.strip() != ""])[:2]]

    def shown(values: list[str]) -> str:
        return ", ".join(repr(v) for v in values) + (", ..." if values else "")

    return (
        f"{naming:,} of {len(carried):,} results name an {label} of this file (the results "
        f"have {shown(theirs)}; the file has {shown(ours) or 'none'}): they look like the "
        "results of another file"
    )
