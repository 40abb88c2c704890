"""JSON results: the list of records under any key (or a single object), the fields around it
(paging), numbers kept as written."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Final, NoReturn

import numpy as np

from reconciler.errors import InputError
from reconciler.model import Table
from reconciler.readers import limits
from reconciler.readers.common import (
    _TEXT_SUFFIXES,
    _check_column_count,
    _check_record_count,
    _text_frame,
    _unique_labels,
)
from reconciler.readers.encodings import _decode_text

# Keys that hold the records in impact.com results exports, most specific first.
_JSON_RECORD_KEYS: Final = (
    "ErrorDetail",
    "ErrorDetails",
    "FTPFileSubmissionErrors",
    "APISubmission",
    "APISubmissions",
    "FTPFileSubmissions",
    "Errors",
    "Results",
    "Records",
    "ActionUpdates",
    "Actions",
    "Submissions",
    "items",
    "data",
)


_RECORD_KEYS_FOLDED: Final = frozenset(k.casefold() for k in _JSON_RECORD_KEYS)


_JSON_PAGING_KEYS: Final = frozenset(
    {"page", "numpages", "pagesize", "total", "totalrecords", "nextpageuri", "start", "end"}
)


class _NotJson(Exception):
    """Content looked like JSON but is not; the caller may try another format."""


class _JsonNumber(str):
    """A JSON number kept as its literal text (no float rounding, no int digit limit)."""

    __slots__ = ()


def _read_json(path: Path, raw: bytes, max_records: int, forced: str | None = None) -> Table:
    encoding, text = _decode_text(path, raw, forced)
    decoder = json.JSONDecoder(
        object_pairs_hook=_unique_pairs,
        parse_float=_JsonNumber,
        parse_int=_JsonNumber,
        parse_constant=_JsonNumber,
    )
    try:
        document = decoder.decode(text)
    except json.JSONDecodeError as exc:
        if path.suffix.lower() in _TEXT_SUFFIXES:
            raise _NotJson from None
        raise InputError(
            f"is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}); fix the "
            "file or export it again",
            path=path,
            line=exc.lineno,
        ) from None
    except _KeyTwice as twice:
        _refuse_key_twice(path, text, decoder, twice.key)
    try:
        found = _find_json_records(document, 0)
    except _ManyLists as many:
        names = " and ".join(repr(where) for where in many.where)
        raise InputError(
            f"holds several lists of records ({names}): reading one would drop the others' "
            "records; give each list as a file of its own, or export the file again",
            path=path,
        ) from None
    if found is None:
        found = _single_object(document, 0)
    if found is None:
        if path.suffix.lower() in _TEXT_SUFFIXES:
            raise _NotJson
        raise InputError(
            'is JSON but holds no list of records (expected e.g. {"ErrorDetail": [...]}); '
            "export the list of records itself, not a summary",
            path=path,
        )
    records, meta, container = found
    _check_record_count(path, len(records), max_records)
    fields: dict[str, None] = {}
    for record in records:
        fields.update(dict.fromkeys(record))
        if len(fields) > limits.MAX_COLUMNS:
            _check_column_count(path, len(fields))
    header = list(fields)
    columns = [[_json_text(record.get(key)) for record in records] for key in header]
    return Table(
        path=path,
        format="json",
        header=tuple(header),
        frame=_text_frame(_unique_labels(header), columns, len(records)),
        lines=np.arange(1, len(records) + 1, dtype=np.int64),
        header_line=0,
        encoding=encoding,
        meta=meta,
        container=container,
    )


class _KeyTwice(Exception):
    """An object gives one key twice: JSON readers keep the last silently."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object's pairs as a dict, refusing a key given twice (``json`` keeps the last one:
    a second ``Reason`` would overwrite the first, a second ``ErrorDetail`` would drop a page
    of records)."""
    found = dict(pairs)
    if len(found) != len(pairs):
        seen: set[str] = set()
        for key, _value in pairs:
            if key in seen:
                raise _KeyTwice(key)
            seen.add(key)
    return found


def _refuse_key_twice(path: Path, text: str, decoder: json.JSONDecoder, key: str) -> NoReturn:
    at = _second_key(text, decoder)
    line = text.count("\n", 0, at) + 1 if at is not None else None
    where = f" (the second at column {at - text.rfind(chr(10), 0, at)})" if at is not None else ""
    raise InputError(
        f"gives the key {key!r} twice in one object{where}: a JSON reader keeps only the "
        "last, which would alter a record or drop a list of records; remove one or export "
        "the file again",
        path=path,
        line=line,
    ) from None


_WS = re.compile(r"[ \t\n\r]*")
# The json module's own string scanner (C), which its stubs do not declare.
_scanstring: Callable[[str, int, bool], tuple[str, int]]
_scanstring = json.decoder.scanstring  # type: ignore[attr-defined]


def _skip(text: str, pos: int) -> int:
    """``pos`` past any JSON whitespace."""
    return _WS.match(text, pos).end()  # type: ignore[union-attr]  # "*" always matches


def _second_key(text: str, decoder: json.JSONDecoder) -> int | None:
    """The offset of the first key given a second time in its object. Values that hold no
    duplicate are skipped by the C scanner (``scan_once`` raises ``_KeyTwice`` for the others),
    so only the path down to the duplicate is walked in Python."""
    scan: Callable[[str, int], tuple[Any, int]] = decoder.scan_once  # type: ignore[attr-defined]
    pos = _skip(text, 0)
    while pos < len(text) and text[pos] in "{[":
        closing = "}" if text[pos] == "{" else "]"
        seen: set[str] = set()
        pos = _skip(text, pos + 1)
        inner: int | None = None
        while pos < len(text) and text[pos] != closing:
            if closing == "}":
                name, after = _scanstring(text, pos + 1, decoder.strict)
                if name in seen:
                    return pos
                seen.add(name)
                pos = _skip(text, after)
                pos = _skip(text, pos + 1)  # past the ":"
            try:
                _value, pos = scan(text, pos)
            except _KeyTwice:
                inner = pos  # the duplicate is inside this value
                break
            pos = _skip(text, pos)
            if pos < len(text) and text[pos] == ",":
                pos = _skip(text, pos + 1)
        if inner is None:
            return None
        pos = inner
    return None


def _is_records(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(item, dict) for item in value)


def _is_page(value: object) -> bool:
    return isinstance(value, dict) and any(
        key.startswith("@") or key.casefold() in _JSON_PAGING_KEYS for key in value
    )


_Found = tuple[list[dict[str, Any]], dict[str, str], str]


def _find_json_records(document: object, depth: int) -> _Found | None:
    """Records (a list of objects), the scalar fields around them and the key that held them
    ("" for a bare list), or None."""
    if isinstance(document, list):
        if not _is_records(document):
            return None
        if depth == 0 and document and all(_is_page(page) for page in document):
            pages = [_find_json_records(page, depth + 1) for page in document]
            found = [page for page in pages if page is not None]
            if len(found) == len(pages):  # a list of pages: concatenate their records
                meta = dict(found[0][1])
                # Every page's number, so that completeness can tell which pages are here.
                numbers = [page[1].get("@page", "") for page in found]
                if all(numbers):
                    meta["@page"] = ",".join(numbers)
                return [record for page in found for record in page[0]], meta, found[0][2]
        return document, {}, ""
    if not isinstance(document, dict) or depth > 3:
        return None
    meta = {
        key: _json_text(value)
        for key, value in document.items()
        if not isinstance(value, dict | list)
    }
    # Every list here that holds objects, and every record list of a nested object: records
    # are read from one of them only when no other holds any (an empty ErrorDetail beside an
    # empty Errors loses nothing); two that could be records are refused, never one dropped.
    lists: list[tuple[str, _Found]] = []
    for key, value in document.items():
        if isinstance(value, list) and (
            any(isinstance(item, dict) for item in value)
            or (key.casefold() in _RECORD_KEYS_FOLDED and _is_records(value))
        ):
            lists.append((key, (value, meta, key)))
        elif isinstance(value, dict):
            inner = _find_json_records(value, depth + 1)
            if inner is not None:
                lists.append((f"{key}/{inner[2]}" if inner[2] else key, inner))
    held = [(where, one) for where, one in lists if one[0]]
    if len(held) > 1 or (held and len(lists) > 1 and _known_first(lists) != held[0][0]):
        raise _ManyLists([where for where, _one in lists])
    chosen: _Found | None
    if held:
        chosen = held[0][1]
    else:
        known = _known_first(lists)
        chosen = next((one for where, one in lists if where == known), None)
    if chosen is None or not _is_records(chosen[0]):
        return None
    if chosen[1] is meta:
        return chosen
    return chosen[0], {**meta, **chosen[1]}, chosen[2]


def _known_first(lists: list[tuple[str, _Found]]) -> str | None:
    """Of the lists found, the one under the most specific known key (``ErrorDetail`` first),
    else the first."""
    order = {key.casefold(): rank for rank, key in enumerate(_JSON_RECORD_KEYS)}
    if not lists:
        return None
    return min(lists, key=lambda f: order.get(f[1][2].casefold(), len(order)))[0]


class _ManyLists(Exception):
    """One object holds several lists that could be the records."""

    def __init__(self, where: list[str]) -> None:
        super().__init__(", ".join(where))
        self.where = where


def _is_record(value: object) -> bool:
    return isinstance(value, dict) and any(not isinstance(v, dict | list) for v in value.values())


def _single_object(document: object, depth: int) -> _Found | None:
    """A JSON object that is one record itself (an ``FtpSubmission`` or an ``APISubmission``
    fetched by its BatchId), perhaps inside a one-key wrapper; None when it holds no field."""
    if not isinstance(document, dict) or depth > 3:
        return None
    folded = {key.casefold(): key for key in document}
    held = [folded[k] for k in folded.keys() & _RECORD_KEYS_FOLDED]
    if held:
        # {"APISubmission": {...}}: the one record of a list key (an APISubmission fetched by
        # its BatchId), with the fields around it. {"ErrorDetail": "x"}: a list of records was
        # meant, and is not there.
        value = document[held[0]]
        if len(held) == 1 and _is_record(value):
            meta = {
                key: _json_text(item)
                for key, item in document.items()
                if not isinstance(item, dict | list)
            }
            return [value], meta, held[0]
        return None
    if any(not isinstance(value, dict | list) for value in document.values()):
        return [document], {}, "@object"
    if len(document) == 1:
        return _single_object(next(iter(document.values())), depth + 1)
    return None


def _json_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, _JsonNumber):
        return _json_number(value)
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return "".join(_json_compact(value))
    return str(value)  # pragma: no cover - json.loads produces nothing else


def _json_number(literal: str) -> str:
    """Integral numbers lose a ``.0``/exponent (``16027.0`` -> ``16027``); others stay."""
    if not any(c in literal for c in ".eE"):
        return literal
    try:
        number = float(literal)
    except ValueError:  # pragma: no cover - json only hands over valid literals
        return literal
    if number.is_integer() and abs(number) < 1e15:
        return str(int(number))
    return literal


def _json_compact(value: object) -> Iterator[str]:
    """Compact JSON like ``json.dumps(separators=(",", ":"))`` with numbers as written."""
    if isinstance(value, _JsonNumber):
        yield str.__str__(value)
    elif isinstance(value, dict):
        yield "{"
        for index, (key, item) in enumerate(value.items()):
            yield ("," if index else "") + json.dumps(key, ensure_ascii=False) + ":"
            yield from _json_compact(item)
        yield "}"
    elif isinstance(value, list):
        yield "["
        for index, item in enumerate(value):
            if index:
                yield ","
            yield from _json_compact(item)
        yield "]"
    else:
        yield json.dumps(value, ensure_ascii=False)
