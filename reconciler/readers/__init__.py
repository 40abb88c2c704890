"""Read one input file into a :class:`~reconciler.model.Table` of text.

This package is the only code that opens input files. Its modules: ``api`` (``read_table``:
read, sniff, dispatch), ``limits`` (the bounds), ``common`` (opening and sniffing, helpers
shared by the formats), ``encodings`` (decoding text from evidence), ``delimited`` (CSV/TSV),
``layout`` (a delimited file's layout and Arrow's parse, free of pandas), ``xlsx``,
``xmlfile``, ``jsonfile``, ``reason_map`` (the ``--reason-map`` file) and ``prefetch``
(reading the inputs while the tool starts). This ``__init__`` imports none of them until a
name is asked for, so that ``prefetch`` loads before pandas does. It owns: refusing what should not be
read (missing, unreadable, binary, too large, hostile XML, zip bombs), recognising the format
(delimited text, XLSX, XML, JSON) from the content first and the extension second, decoding
text, sniffing the delimiter, finding the header, and recording the physical line (or sheet
row) where every record starts. Every value comes back exactly as written, as a ``str``.
``read_reason_map`` reads the ``--reason-map`` file (CSV/XLSX ``from,to`` or flat TOML).

It does not know impact.com templates, column meanings or result codes (``detect.py`` and
later stages do), never normalises values, and never writes anything.

Decisions worth knowing:

* Delimited text is parsed by pyarrow when it is installed (``ignore_empty_lines=False``: one
  row per physical line outside quotes, blank lines included), and by pandas' C parser with
  ``skip_blank_lines=False`` (same rows) whenever pyarrow refuses the file or could differ:
  rows with fewer or more fields than the header, invalid UTF-8, a quote left open at the end.
  Either way line numbers are computed vectorised: a record spans ``1 + line breaks inside its
  fields`` physical lines (``\\r\\n``, ``\\r`` and ``\\n`` each count once), and only files with
  a ``"`` can have such fields.
* Encodings (``encodings``): a BOM wins (UTF-8, UTF-16 LE/BE); UTF-16 without BOM is
  recognised by its NUL pattern; valid UTF-8 stays UTF-8. A file holding valid UTF-8 beyond
  ASCII and any invalid bytes, however few, is refused, naming the lines (``--encoding`` says
  how to read it); any other file is decoded with the legacy code page under which its words
  read as words of one language by a clear margin over every other reading, and the summary
  says so; when readings stay close the file is refused, naming the candidates. Nothing is
  re-decoded silently and nothing is guessed.
* Blank lines, whitespace-only lines and rows whose fields are all empty (``,,,``) are not
  records but do consume line numbers. Leading such lines are skipped before the header.
* A physical line longer than ``MAX_LINE_BYTES`` (64 MiB) in delimited text is refused before
  parsing (the check is a few ``bytes.find`` calls, not a scan per line); shorter long lines,
  e.g. a 50 MB field, are read by the C parser in well under a second. JSON and XML are not
  line-limited because minified exports legitimately sit on one line.
* XLSX header row: among the first ``HEADER_SCAN_ROWS`` rows, the first row that has at least
  ``max(2, half of the widest row's)`` non-empty cells of which more than half are text;
  failing that, the first of the widest rows. Rows above the header are not records.
* XML and JSON have no header line: ``header_line`` is 0. XML ``lines`` are the physical line
  of each record's start tag (from expat); JSON ``lines`` are the 1-based record index.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from reconciler.readers.api import read_table
    from reconciler.readers.encodings import LEGACY_ENCODINGS
    from reconciler.readers.limits import (
        HEADER_SCAN_ROWS,
        MAX_COLUMNS,
        MAX_INPUT_BYTES,
        MAX_LINE_BYTES,
        MAX_RECORDS,
        MAX_XLSX_MEMBERS,
        MAX_XLSX_UNCOMPRESSED,
        MAX_ZIP_RATIO,
        ZIP_RATIO_MIN_BYTES,
    )
    from reconciler.readers.reason_map import read_reason_map

__all__ = [
    "HEADER_SCAN_ROWS",
    "LEGACY_ENCODINGS",
    "MAX_COLUMNS",
    "MAX_INPUT_BYTES",
    "MAX_LINE_BYTES",
    "MAX_RECORDS",
    "MAX_XLSX_MEMBERS",
    "MAX_XLSX_UNCOMPRESSED",
    "MAX_ZIP_RATIO",
    "ZIP_RATIO_MIN_BYTES",
    "read_reason_map",
    "read_table",
]

_HOMES = {
    "read_table": "api",
    "read_reason_map": "reason_map",
    "LEGACY_ENCODINGS": "encodings",
    **{name: "limits" for name in __all__ if name.isupper() and name != "LEGACY_ENCODINGS"},
}


def __getattr__(name: str) -> Any:
    """The public names, imported on first use (PEP 562). The bounds are read from
    ``reconciler.readers.limits`` at each use: change them there."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'reconciler.readers' has no attribute {name!r}")
    return getattr(importlib.import_module(f"reconciler.readers.{home}"), name)
