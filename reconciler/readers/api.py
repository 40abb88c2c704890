"""``read_table``: read a file's bytes within the limits, tell its format, hand it to the format's reader."""

from __future__ import annotations

from pathlib import Path

from reconciler.errors import InputError
from reconciler.model import Table
from reconciler.readers import limits, prefetch
from reconciler.readers.common import _read_bytes, _sniff_kind
from reconciler.readers.delimited import _read_delimited
from reconciler.readers.jsonfile import _NotJson, _read_json
from reconciler.readers.xlsx import _read_xlsx
from reconciler.readers.xmlfile import _read_xml


def read_table(
    path: Path,
    *,
    sheet: str | None = None,
    max_bytes: int | None = None,
    max_records: int | None = None,
    encoding: str | None = None,
) -> Table:
    """Read ``path`` (CSV/TSV/TXT, XLSX, XML or JSON) with every value as text.

    ``sheet`` picks a worksheet by name in an XLSX file (the first one otherwise) and is
    ignored for other formats. ``max_bytes`` and ``max_records`` default to
    ``limits.MAX_INPUT_BYTES`` and ``limits.MAX_RECORDS`` as they are when called. A read and parse made
    ahead by ``prefetch`` is used when it is of these very bytes and layout. Raises
    :class:`InputError` for anything that cannot be read, with a one-line message that says
    what is wrong and how to fix it.
    """
    path = Path(path)
    try:
        return _read_table(path, sheet, max_bytes, max_records, encoding)
    finally:
        prefetch.release(path)


def _read_table(
    path: Path,
    sheet: str | None,
    max_bytes: int | None,
    max_records: int | None,
    encoding: str | None = None,
) -> Table:
    max_bytes = limits.MAX_INPUT_BYTES if max_bytes is None else max_bytes
    max_records = limits.MAX_RECORDS if max_records is None else max_records
    raw = _read_bytes(path, max_bytes)
    kind = _sniff_kind(path, raw)
    try:
        if kind == "xlsx":
            return _read_xlsx(path, raw, sheet, max_records)
        if kind == "xml":
            return _read_xml(path, raw, max_records)
        if kind == "json":
            try:
                return _read_json(path, raw, max_records, encoding)
            except _NotJson:
                pass  # a delimited file whose first header cell starts with "{" or "["
        return _read_delimited(path, raw, max_records, encoding)
    except RecursionError:
        raise InputError(
            "is nested too deeply to read; flatten it or export it as CSV", path=path
        ) from None
