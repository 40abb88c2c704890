"""The platform's result codes: loading ``catalogue.toml`` and normalising raw code cells.

Owns: the ``CodeInfo`` record of one code, the validated ``Catalogue`` (looked up by code, never
raising for unknown ones), and the rules that turn a raw results cell (``"Error: bad disposition"``,
``"CONTRACT_NOT_FOUND RESTRICTED_PROMOCODE"``, ``"NO_CHANGE; BAD_DISPOSITION"``) into codes.
Does not own: what a code means for a record's outcome (``classify.py``), the fixes named by
``fix_rule`` (``remediate.py``), or reading results files (``readers``). The codes themselves
are data: adding one is an edit to ``catalogue.toml``, not to this module.

Normalising one value (``normalize_text``): strip whitespace, surrounding quotes and brackets and
prefixes such as ``Error:``, ``ERROR -``, ``Reason:``, ``Code:``; uppercase; every run of
characters other than ``A-Z``/``0-9`` becomes one ``_``; no ``_`` at the ends; at most
``MAX_CODE_LENGTH`` (64) characters, so a long free-text message yields a bounded code. The result
is a fixed point: normalising it again changes nothing.

Reading a cell (``Catalogue.split``): the cell is cut on ``;`` ``,`` ``|`` and newlines (aliases
never contain those, so trying the whole cell first would find nothing more). Each piece is, in
order: a known code or alias as a whole (``already locked``); free text holding codes written as
codes (``Record rejected: ALREADY_LOCKED (locking date passed)``), giving those codes plus any
other UPPER_SNAKE tokens; several whitespace-separated UPPER_SNAKE tokens (the API's
``ErrorReason`` list); otherwise one normalised piece, an unknown code. Empty pieces, null
words (``nan``, ``None``, ``null``, ``-``) and success words (``OK``, ``Accepted``...) give no
code. When a cell holds at least one known code, its plain-prose pieces are commentary and are
dropped. Both ``normalize`` and ``split`` are idempotent over their own output.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from functools import cache, lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from reconciler.errors import ReconcilerError
from reconciler.model import Resolution

MAX_CODE_LENGTH = 64
"""Longest normalised code; longer free text is cut (and stays stable when normalised again)."""

CATEGORIES = frozenset(
    {"general", "conversion", "contract", "attribution", "call", "modification", "submission"}
)
ERROR_TYPES = frozenset({"Validation", "Contract Error", ""})
SOURCES = frozenset({"read", "seed", "inferred"})
FIX_RULES = frozenset({"", "reason", "amount_date", "action_tracker_id", "identifiers"})
FIELDS = frozenset(
    {
        "action_id", "oid", "action_tracker_id", "amount", "currency", "customer_status",
        "reason", "campaign_id", "event_date", "sku", "quantity", "item_amount", "category",
        "media_partner_id", "click_id", "event_type_code", "event_code", "customer_id",
        "promo_code",
    }
)  # fmt: skip
RESOLUTIONS = frozenset(Resolution) - {Resolution.NONE, Resolution.AUTO_FIXED, Resolution.RECHECK}
CLASS_RESOLUTION: Mapping[str, Resolution] = {
    "F": Resolution.FIX_MANUALLY,
    "C": Resolution.CONTACT_SUPPORT,
    "T": Resolution.NO_ACTION,
    "W": Resolution.WAIT,
}

# Normalised forms of cell values that carry no code at all.
NULL_WORDS = frozenset({"NAN", "NONE", "NULL", "NIL", "NA", "N_A"})
SUCCESS_WORDS = frozenset(
    {
        "OK", "SUCCESS", "SUCCESSFUL", "SUCCEEDED", "ACCEPTED", "PROCESSED",
        "PROCESSED_SUCCESSFULLY", "SUCCESSFULLY_PROCESSED", "NO_ERROR", "NO_ERRORS",
    }
)  # fmt: skip

_KEYS = (
    "title", "meaning", "category", "error_type", "platform_class", "resolution", "advice",
    "fix_rule", "fields", "aliases", "source",
)  # fmt: skip
_LIST_KEYS = frozenset({"fields", "aliases"})
_MAX_TITLE = 40
_CACHE_SIZE = 1 << 17

_CODE_NAME = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*")
_CODE_LIKE = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+")  # UPPER_SNAKE with at least one "_"
_CLASS = re.compile(r"[FCTW](?:/[FCTW])*")
_SEPARATORS = re.compile(r"[;,|\r\n]")
_NOT_ALNUM = re.compile(r"[^A-Z0-9]+")
_TOKEN = re.compile(r"[A-Za-z0-9_]+")
_WRAPPING = " \t\r\n\v\f\"'`[](){}<>“”‘’«»„‚"
_PREFIX = re.compile(
    r"(?:(?:error|err|reason|disposition|result|status)(?:[\s_]+(?:code|message|msg|reason|type))?"
    r"|code|message|msg)"
    r"(?:\s*[:=]|\s*[-–—](?=\s)|\s+[-–—])\s*",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class CodeInfo:
    """One platform result code as the catalogue describes it (``known=False``: the default)."""

    code: str
    title: str
    meaning: str
    category: str
    error_type: str
    platform_class: str
    resolution: Resolution
    advice: str
    fix_rule: str
    fields: tuple[str, ...]
    aliases: tuple[str, ...]
    source: str
    known: bool


def normalize_text(raw: str) -> str:
    """The normalised form of one value (module docstring); ``""`` when nothing is left."""
    text = _unwrap(raw).upper()
    text = _NOT_ALNUM.sub("_", text).strip("_")
    if len(text) > MAX_CODE_LENGTH:
        text = text[:MAX_CODE_LENGTH].rstrip("_")
    return text


def is_success_word(raw: str) -> bool:
    """True for values that report success rather than a code: ``OK``, ``Success``, ``Accepted``,
    ``Processed`` and a few spellings of them (prefixes and case do not matter)."""
    return normalize_text(_as_text(raw)) in SUCCESS_WORDS


class Catalogue:
    """All known result codes, their aliases, and the cell normalisation that uses them.

    Build it with ``load_catalogue``. Iteration and ``len`` cover the known codes only; ``in``
    asks whether a string is a known code name exactly (aliases are not codes: ``normalize``
    them first).
    """

    __slots__ = ("_by_alias", "_entries", "_get", "_parse", "_unknown")

    def __init__(
        self, entries: Mapping[str, CodeInfo], unknown: CodeInfo, by_alias: Mapping[str, str]
    ) -> None:
        self._entries = dict(sorted(entries.items()))
        self._unknown = unknown
        self._by_alias = dict(by_alias)
        # Per instance, so two catalogues never share results; bounded, so a stream of distinct
        # free-text cells cannot grow memory without limit.
        self._parse: Callable[[str], tuple[tuple[str, ...], tuple[str, ...]]] = lru_cache(
            maxsize=_CACHE_SIZE
        )(self._parse_uncached)
        self._get: Callable[[str], CodeInfo] = lru_cache(maxsize=_CACHE_SIZE)(self._get_uncached)

    def __contains__(self, code: object) -> bool:
        return isinstance(code, str) and code in self._entries

    def __iter__(self) -> Iterator[CodeInfo]:
        return iter(self._entries.values())

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Catalogue({len(self)} codes)"

    def get(self, code: str) -> CodeInfo:
        """The entry for ``code`` (a code, an alias or a raw cell value, normalised first).

        Never raises: a code the catalogue does not know gets the ``[unknown]`` default with
        ``code`` set to its normalised form and ``known=False``.
        """
        return self._get(_as_text(code))

    def nearest(self, raw: str, n: int = 3) -> list[str]:
        """The known codes (by name or alias) closest in spelling to ``raw``, best first:
        ``lockd`` → ``ALREADY_LOCKED``."""
        import difflib

        text = normalize_text(_as_text(raw))
        if not text:
            return []
        names = {code: code for code in self._entries}
        names.update(self._by_alias)
        scored = sorted(
            ((difflib.SequenceMatcher(None, text, name).ratio(), name) for name in names),
            key=lambda pair: (-pair[0], pair[1]),
        )
        best = scored[0][0] if scored else 0.0
        found: list[str] = []
        for ratio, name in scored:
            # The close ones only: as close as 0.6, and near the closest.
            if ratio < max(0.6, best - 0.1):
                break
            if names[name] not in found:
                found.append(names[name])
        # Or a word of a longer code, spelled close: "lockd" → ALREADY_LOCKED.
        if not found and len(text) >= 4 and "_" not in text:
            for code in self._entries:
                words = code.split("_")
                if any(difflib.SequenceMatcher(None, text, w).ratio() >= 0.8 for w in words):
                    found.append(code)
        return found[:n]

    def normalize(self, raw: str) -> str:
        """ONE code from a raw value: the first code in text order of ``split``'s codes, or
        ``""`` when the value holds none (empty, a null word or a success word)."""
        ordered, _ = self._parse(_as_text(raw))
        return ordered[0] if ordered else ""

    def split(self, raw: str) -> tuple[str, ...]:
        """All codes in a cell, normalised, unique and sorted; ``()`` when it holds none."""
        return self._parse(_as_text(raw))[1]

    def _get_uncached(self, code: str) -> CodeInfo:
        found = self._entries.get(code)
        if found is not None:
            return found
        name = self.normalize(code)
        found = self._entries.get(name)
        if found is not None:
            return found
        return replace(self._unknown, code=name or code.strip())

    def _parse_uncached(self, raw: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        found: list[tuple[str, bool]] = []  # (code, made from plain prose), in text order
        for piece in _SEPARATORS.split(raw):
            text = _unwrap(piece)
            whole = normalize_text(text)
            if _is_noise(whole):
                continue
            known = self._by_alias.get(whole)
            if known is not None:
                found.append((known, False))
                continue
            in_text = self._codes_in_text(text)
            if in_text:
                found.extend((code, False) for code in in_text)
                continue
            words = text.split()
            if all(_CODE_LIKE.fullmatch(w) and len(w) <= MAX_CODE_LENGTH for w in words):
                found.extend((w, False) for w in words if not _is_noise(w))
            else:
                found.append((whole, True))
        if any(code in self._entries for code, _ in found):
            # Prose beside a known code is commentary ("..., cannot modify"), not another code.
            found = [(code, is_prose) for code, is_prose in found if not is_prose]
        codes = [code for code, _ in found]
        ordered = tuple(dict.fromkeys(codes))
        return ordered, tuple(sorted(ordered))

    def _codes_in_text(self, text: str) -> list[str]:
        """Known codes written as codes in free text, plus the other UPPER_SNAKE tokens beside
        them; ``[]`` when no known code is there."""
        found: list[str] = []
        any_known = False
        for token in _TOKEN.findall(text):
            if not ("_" in token or token.isupper()):
                continue  # plain words ("the file is malformed") are prose, not codes
            name = normalize_text(token)
            known = self._by_alias.get(name)
            if known is not None:
                found.append(known)
                any_known = True
            elif (
                _CODE_LIKE.fullmatch(token)
                and len(token) <= MAX_CODE_LENGTH
                and not _is_noise(token)
            ):
                found.append(token)
        return found if any_known else []


def load_catalogue(path: Path | None = None) -> Catalogue:
    """Load and validate a catalogue; the packaged ``catalogue.toml`` (loaded once) by default.

    Raises ``ReconcilerError`` naming the code and key when the file is broken.
    """
    if path is None:
        return _packaged_catalogue()
    from .errors import InputError
    from .readers.document import read_document_bytes

    try:
        data = read_document_bytes(path)
    except InputError as exc:
        raise ReconcilerError(f"cannot read the catalogue: {exc.message}", path=path) from None
    return _build(data, str(path))


@cache
def _packaged_catalogue() -> Catalogue:
    where = resources.files("reconciler").joinpath("catalogue.toml")
    return _build(where.read_bytes(), "reconciler/catalogue.toml")


def _build(data: bytes, origin: str) -> Catalogue:
    def fail(message: str) -> ReconcilerError:
        return ReconcilerError(message, path=origin)

    try:
        doc = tomllib.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise fail(f"not valid TOML: {exc}") from exc
    extra = sorted(set(doc) - {"codes", "unknown"})
    if extra:
        raise fail(f"{extra[0]}: unknown top-level table (expected [codes.<CODE>] and [unknown])")
    codes = doc.get("codes")
    if not isinstance(codes, dict) or not codes:
        raise fail("codes: no [codes.<CODE>] tables")
    unknown_table = doc.get("unknown")
    if not isinstance(unknown_table, dict):
        raise fail("unknown: the [unknown] table (the default for unlisted codes) is missing")

    entries: dict[str, CodeInfo] = {}
    by_alias: dict[str, str] = {}
    for name, table in codes.items():
        where = f"codes.{name}"
        if not _CODE_NAME.fullmatch(name) or len(name) > MAX_CODE_LENGTH or _is_noise(name):
            raise fail(f"{where}: code names are UPPER_SNAKE (A-Z, 0-9 and single '_'), at most "
                       f"{MAX_CODE_LENGTH} characters, and not a null or success word")  # fmt: skip
        if not isinstance(table, dict):
            raise fail(f"{where}: must be a table")
        entries[name] = _entry(name, table, where, fail, known=True)
        by_alias[name] = name

    for name, info in entries.items():
        for alias in info.aliases:
            key = normalize_text(alias)
            where = f"codes.{name}.aliases"
            if _SEPARATORS.search(alias):
                raise fail(f"{where}: {alias!r} contains a list separator (; , | or a newline)")
            if _is_noise(key):
                raise fail(f"{where}: {alias!r} normalises to {key!r}, which is not a code")
            claimed = by_alias.get(key)
            if claimed is not None and claimed != name:
                raise fail(f"{where}: {alias!r} ({key}) is already claimed by codes.{claimed}")
            by_alias[key] = name

    unknown = _entry("", unknown_table, "unknown", fail, known=False)
    if unknown.aliases or unknown.fix_rule:
        raise fail("unknown: the default entry has no aliases and no fix_rule")
    return Catalogue(entries, unknown, by_alias)


def _entry(
    name: str,
    table: dict[str, Any],
    where: str,
    fail: Callable[[str], ReconcilerError],
    *,
    known: bool,
) -> CodeInfo:
    allowed = set(_KEYS) | ({"known"} if not known else set())
    for key in table:
        if key not in allowed:
            raise fail(f"{where}.{key}: unknown key (expected: {', '.join(_KEYS)})")
    values: dict[str, Any] = {}
    for key in _KEYS:
        if key not in table:
            raise fail(f"{where}.{key}: missing")
        value = table[key]
        if key in _LIST_KEYS:
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise fail(f"{where}.{key}: must be a list of strings")
            values[key] = tuple(value)
        elif not isinstance(value, str):
            raise fail(f"{where}.{key}: must be a string")
        else:
            values[key] = value.strip()
    if not known and table.get("known", False) is not False:
        raise fail(f"{where}.known: the default entry must say known = false")

    for key in ("title", "meaning", "advice"):
        if not values[key]:
            raise fail(f"{where}.{key}: must not be empty")
    if len(values["title"]) > _MAX_TITLE:
        raise fail(f"{where}.title: longer than {_MAX_TITLE} characters")
    categories = CATEGORIES if known else CATEGORIES | {"unknown"}
    _check_in(values, "category", categories, where, fail)
    _check_in(values, "error_type", ERROR_TYPES, where, fail)
    _check_in(values, "source", SOURCES, where, fail)
    _check_in(values, "fix_rule", FIX_RULES, where, fail)
    _check_in(values, "resolution", {str(r) for r in RESOLUTIONS}, where, fail)
    resolution = Resolution(values["resolution"])
    for field_name in values["fields"]:
        if field_name not in FIELDS:
            raise fail(f"{where}.fields: {field_name!r} is not a canonical field name "
                       f"(one of: {', '.join(sorted(FIELDS))})")  # fmt: skip

    platform_class = values["platform_class"]
    if known:
        if not _CLASS.fullmatch(platform_class):
            raise fail(f"{where}.platform_class: {platform_class!r} is not F, C, T, W or a "
                       "mix like 'T/F'")  # fmt: skip
        default = CLASS_RESOLUTION[platform_class[0]]
        if resolution not in (default, Resolution.REVIEW):
            raise fail(f"{where}.resolution: {resolution} does not follow platform_class "
                       f"{platform_class!r} (its first class means {default})")  # fmt: skip
    elif platform_class:
        raise fail(f"{where}.platform_class: the default entry has no platform class")

    return CodeInfo(
        code=name,
        title=values["title"],
        meaning=values["meaning"],
        category=values["category"],
        error_type=values["error_type"],
        platform_class=platform_class,
        resolution=resolution,
        advice=values["advice"],
        fix_rule=values["fix_rule"],
        fields=values["fields"],
        aliases=values["aliases"],
        source=values["source"],
        known=known,
    )


def _check_in(
    values: Mapping[str, Any],
    key: str,
    allowed: frozenset[str] | set[str],
    where: str,
    fail: Callable[[str], ReconcilerError],
) -> None:
    if values[key] not in allowed:
        choices = ", ".join(repr(a) for a in sorted(allowed))
        raise fail(f"{where}.{key}: {values[key]!r} is not one of {choices}")


def _as_text(raw: object) -> str:
    # Cells from pandas can still be NaN or None; both read as a null word.
    return raw if isinstance(raw, str) else str(raw)


def _unwrap(raw: str) -> str:
    """Strip whitespace, quotes, brackets and ``Error:``-like prefixes from both ends."""
    text = raw.strip(_WRAPPING)
    while True:
        match = _PREFIX.match(text)
        if match is None:
            return text
        rest = text[match.end() :].strip(_WRAPPING)
        if not any(ch.isalnum() for ch in rest):
            return text  # "Error:" alone is the word ERROR, not an empty value
        text = rest


def _is_noise(name: str) -> bool:
    return not name or name in NULL_WORDS or name in SUCCESS_WORDS
