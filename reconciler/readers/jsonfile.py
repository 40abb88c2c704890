"""JSON results: the list of records under any key (or a single object), the fields around it
(paging), numbers kept as written."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

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
    try:
        document = json.loads(
            text,
            parse_float=_JsonNumber,
            parse_int=_JsonNumber,
            parse_constant=_JsonNumber,
        )
    except json.JSONDecodeError as exc:
        if path.suffix.lower() in _TEXT_SUFFIXES:
            raise _NotJson from None
        raise InputError(
            f"is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}); fix the "
            "file or export the results again",
            path=path,
            line=exc.lineno,
        ) from None
    found = _find_json_records(document, 0)
    if found is None:
        found = _single_object(document, 0)
    if found is None:
        if path.suffix.lower() in _TEXT_SUFFIXES:
            raise _NotJson
        raise InputError(
            'is JSON but holds no list of records (expected e.g. {"ErrorDetail": [...]}); '
            "export the results list, not a summary",
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
    folded = {key.casefold(): key for key in document}
    for known in _JSON_RECORD_KEYS:
        key = folded.get(known.casefold())
        if key is not None and _is_records(document[key]):
            return document[key], meta, key
    lists = [(key, value) for key, value in document.items() if _is_records(value) and value]
    if lists:
        key, value = max(lists, key=lambda kv: len(kv[1]))
        return value, meta, key
    for value in document.values():
        if isinstance(value, dict):
            inner = _find_json_records(value, depth + 1)
            if inner is not None:
                return inner[0], {**meta, **inner[1]}, inner[2]
    return None


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
