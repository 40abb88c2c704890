"""Decoding text from evidence: BOMs, UTF-16 by its NUL pattern, UTF-8 kept as UTF-8, a UTF-8
file with a few bad bytes refused naming them, and the legacy encoding under which a file's
words read as words of one script (``--encoding`` overrides)."""

from __future__ import annotations

import codecs
import contextlib
import re
from pathlib import Path
from typing import Final

from reconciler.errors import InputError

_SNIFF_BYTES: Final = 8192

_SURROGATES: Final = re.compile(r"[\ud800-\udfff]")


def _utf16_encoding(raw: bytes) -> tuple[str, int] | None:
    """(codec, BOM length) when ``raw`` is UTF-16: by BOM, or by the NUL pattern of ASCII."""
    if raw.startswith(codecs.BOM_UTF16_LE):
        return "utf-16-le", 2
    if raw.startswith(codecs.BOM_UTF16_BE):
        return "utf-16-be", 2
    head = raw[: min(len(raw), _SNIFF_BYTES) & ~1]
    if len(head) < 4:
        return None
    even, odd = head[0::2], head[1::2]
    if odd.count(0) == len(odd) and 0 not in even:
        return "utf-16-le", 0
    if even.count(0) == len(even) and 0 not in odd:
        return "utf-16-be", 0
    return None


# Encodings a file that is not UTF-8 is tried in, most common first (Excel's "CSV" on Windows
# in the Americas and Western Europe, then Central Europe, Cyrillic, Greek, Turkish, Baltic,
# Chinese, Japanese, Korean, Traditional Chinese).
LEGACY_ENCODINGS: Final = (
    "cp1252", "cp1250", "cp1251", "cp1253", "cp1254", "cp1257",
    "cp932", "cp949", "gb18030", "big5",
)  # fmt: skip


_SAMPLE_BYTES: Final = 1 << 20


# A run of letters and non-ASCII characters holding at least one non-ASCII character.
_TOKEN: Final = re.compile(r"[A-Za-z\x80-\U0010ffff]*[\x80-\U0010ffff][A-Za-z\x80-\U0010ffff]*")


_MAX_TOKENS: Final = 5000  # words enough to judge an encoding by


# Scripts by the start of a character's Unicode name; kanji and kana read as one.
_SCRIPTS: Final = (
    ("LATIN", "LATIN"), ("CYRILLIC", "CYRILLIC"), ("GREEK", "GREEK"), ("HANGUL", "HANGUL"),
    ("CJK", "HAN"), ("HIRAGANA", "HAN"), ("KATAKANA", "HAN"),
)  # fmt: skip


def _script(char: str) -> str:
    """The script of a letter ("" for anything else, halfwidth katakana included: a Chinese
    or Korean file read as Shift-JIS turns into those)."""
    import unicodedata

    if char.isascii():
        return "LATIN" if char.isalpha() else ""
    if not char.isalpha():
        return ""
    name = unicodedata.name(char, "")
    return next((script for prefix, script in _SCRIPTS if name.startswith(prefix)), "")


def _plausibility(text: str) -> tuple[float, int]:
    """How much the words of ``text`` that hold non-ASCII characters read as words: letters
    of one script, no symbol glued between them (Polish ``Łódź`` read as cp1252 is
    ``£ódŸ``), and, in Latin script, not all accented (Russian read as cp1252 is
    ``Ïðèâåò``). A right decoding scores near 1, a wrong one lower."""
    total = 0.0
    words = 0
    seen: set[str] = set()
    for number, match in enumerate(_TOKEN.finditer(text)):
        if number == _MAX_TOKENS:
            break
        token = match.group()
        letters = [c for c in token if c.isalpha()]
        if len(letters) < 2:
            continue  # a lone sign (€ read as the letter Ђ, a dash): no evidence either way
        words += 1
        scripts = {_script(c) for c in token if c.isalpha() or not c.isascii()}
        if len(scripts) != 1 or "" in scripts:
            continue  # mixed scripts, or a symbol glued into the word: implausible
        seen |= scripts
        if "LATIN" in scripts and len(letters) >= 3 and all(not c.isascii() for c in letters):
            total += 0.5
            continue
        total += 1.0
    score = total / words if words else 0.0
    # Hangul words beside Chinese ones: Chinese read as Korean (Korean data rarely holds hanja).
    return (score / 2 if {"HANGUL", "HAN"} <= seen else score), words


def _guess_legacy(raw: bytes) -> str:
    """The encoding of bytes that are not UTF-8, from evidence: among the encodings that
    decode them, the one whose words read most plausibly (``_plausibility``); among equals,
    charset-normalizer's language coherence when it tells them apart clearly, else the most
    common (the order of ``LEGACY_ENCODINGS``). Bytes without words (only signs such as €):
    the most common that decodes them. "" when they read as words in none."""
    sample = raw if len(raw) <= _SAMPLE_BYTES else raw[: raw.rfind(b"\n", 0, _SAMPLE_BYTES) + 1]
    sample = sample or raw[:_SAMPLE_BYTES]
    scored: list[tuple[float, int, str]] = []
    any_words = False
    for rank, name in enumerate(LEGACY_ENCODINGS):
        try:
            text = sample.decode(name)
        except UnicodeDecodeError:
            continue
        score, words = _plausibility(text)
        any_words |= words > 0
        scored.append((score, -rank, name))
    best = max(scored)[0] if scored else 0.0
    if not scored or (any_words and best < 0.5):
        return ""  # the bytes read as words in no common encoding
    tied = []
    readings: set[str] = set()
    for score, _rank, name in sorted(scored, reverse=True):
        if score < best - 0.02:
            continue
        reading = sample.decode(name)
        if reading not in readings:  # encodings that read the bytes alike: the first says it
            readings.add(reading)
            tied.append(name)
    if len(tied) > 1 and best > 0:  # no word at all: no evidence, the most common it is
        with contextlib.suppress(Exception):  # an optional judge: its failure changes nothing
            from charset_normalizer import from_bytes

            def key(name: str) -> str:
                return codecs.lookup(name).name.replace("-", "_")

            coherence = {m.encoding: m.coherence for m in from_bytes(sample, cp_isolation=tied)}
            first = coherence.get(key(tied[0]), 0.0)
            clear = [n for n in tied if coherence.get(key(n), 0.0) > first + 0.1]
            if clear:
                return max(clear, key=lambda n: coherence.get(key(n), 0.0))
    return tied[0]


def _stray_bytes(path: Path, raw: bytes) -> None:
    """A file that is UTF-8 but for a few invalid bytes (one bad byte in an export, a field
    pasted from elsewhere) is not re-read in another encoding: that would change every
    non-ASCII value of the rest. Refused, naming the lines, unless ``--encoding`` says how."""
    text = raw.decode("utf-8", errors="surrogateescape")
    bad = [m.start() for m in _SURROGATES.finditer(text)]
    non_ascii = len(text) - len(text.encode("ascii", errors="ignore"))
    valid = non_ascii - len(bad)
    if not bad or valid < len(bad):
        return  # no valid UTF-8 beside them: a legacy encoding
    lines = sorted({text.count("\n", 0, at) + 1 for at in bad[:1000]})
    shown = ", ".join(str(n) for n in lines[:5]) + (" ..." if len(lines) > 5 else "")
    raise InputError(
        f"is UTF-8 except for {len(bad)} invalid byte{'s' if len(bad) > 1 else ''} on "
        f"line{'s' if len(lines) > 1 else ''} {shown}; re-reading the whole file in another "
        "encoding would change its other values: fix those bytes (save it again as CSV UTF-8), "
        "or say how it is encoded with --encoding (e.g. --encoding cp1252)",
        path=path,
        line=lines[0],
    )


def _decode_legacy(path: Path, raw: bytes, forced: str | None) -> tuple[str, str]:
    """(encoding, text) of bytes that are not valid UTF-8: ``forced`` (``--encoding``) when
    given, else the evidence (``_stray_bytes`` refuses a UTF-8 file with a few bad bytes)."""
    if forced:
        try:
            return forced, raw.decode(forced)
        except UnicodeDecodeError as exc:
            line = raw.count(b"\n", 0, exc.start) + 1
            raise InputError(
                f"is not {forced} either ({exc.reason} at byte {exc.start}); name its real "
                "encoding with --encoding, or save it again as CSV UTF-8",
                path=path,
                line=line,
            ) from None
    _stray_bytes(path, raw)
    name = _guess_legacy(raw)
    if not name:
        raise InputError(
            "is not UTF-8, and its text reads as words in none of the encodings tried ("
            + ", ".join(LEGACY_ENCODINGS)
            + "); name its encoding with --encoding, or save it again as CSV UTF-8",
            path=path,
        )
    return name, raw.decode(name)


def _decode_text(path: Path, raw: bytes, forced: str | None = None) -> tuple[str, str]:
    """(encoding, text) for JSON: BOM first, then UTF-8, then ``_decode_legacy``."""
    if raw.startswith(codecs.BOM_UTF8):
        try:
            return "utf-8-sig", raw[3:].decode("utf-8")
        except UnicodeDecodeError:
            return _decode_legacy(path, raw[3:], forced)
    utf16 = _utf16_encoding(raw)
    if utf16 is not None:
        return utf16[0], _decode_utf16(path, raw, *utf16)
    try:
        return "utf-8", raw.decode("utf-8")
    except UnicodeDecodeError:
        return _decode_legacy(path, raw, forced)


def _decode_utf16(path: Path, raw: bytes, encoding: str, bom: int) -> str:
    try:
        return raw[bom:].decode(encoding)
    except UnicodeDecodeError as exc:
        raise InputError(
            f"looks like UTF-16 text but is not valid UTF-16 ({exc.reason} at byte "
            f"{exc.start + bom}); save it again as CSV UTF-8",
            path=path,
        ) from None
