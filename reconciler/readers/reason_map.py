"""The ``--reason-map`` file: CSV/XLSX with ``from``/``to`` columns, or flat TOML."""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from pathlib import Path

from reconciler.errors import InputError
from reconciler.fixes.cells import ascii_code_problem
from reconciler.readers import limits
from reconciler.readers.api import read_table
from reconciler.readers.common import _read_bytes
from reconciler.readers.encodings import _decode_text


def read_reason_map(path: Path, *, max_bytes: int | None = None) -> dict[str, str]:
    """Read a ``--reason-map`` file: CSV/XLSX with ``from`` and ``to`` columns, or TOML.

    TOML is a flat table of ``"sent reason" = "CODE"``. Keys are kept exactly as written
    (custom codes are case-sensitive); target codes lose surrounding whitespace.
    """
    path = Path(path)
    max_bytes = limits.MAX_INPUT_BYTES if max_bytes is None else max_bytes
    if path.suffix.lower() == ".toml":
        return _read_reason_toml(path, _read_bytes(path, max_bytes))
    table = read_table(path, max_bytes=max_bytes)
    folded = {label.strip().casefold(): i for i, label in enumerate(table.header)}
    if "from" not in folded or "to" not in folded:
        raise InputError(
            f"has no 'from' and 'to' columns (found: {_labels(table.header)}); "
            "write a header row 'from,to' above the reason pairs",
            path=path,
        )
    sources = table.frame.iloc[:, folded["from"]].tolist()
    targets = table.frame.iloc[:, folded["to"]].tolist()
    mapping: dict[str, str] = {}
    for line, source, target in zip(table.lines.tolist(), sources, targets, strict=True):
        _add_reason(mapping, str(source), str(target).strip(), path, int(line))
    return mapping


def _labels(header: Sequence[str], limit: int = 10) -> str:
    """Header labels for a message: quoted, escaped (one line, no terminal control), capped."""
    shown = ", ".join(repr(label[:60]) for label in header[:limit])
    more = f" and {len(header) - limit} more" if len(header) > limit else ""
    return (shown + more) or "none"


def _read_reason_toml(path: Path, raw: bytes) -> dict[str, str]:
    try:
        document = tomllib.loads(_decode_text(path, raw)[1])
    except tomllib.TOMLDecodeError as exc:
        raise InputError(
            f'is not valid TOML ({exc}); write one pair per line: "sent reason" = "CODE"',
            path=path,
        ) from None
    mapping: dict[str, str] = {}
    for source, target in document.items():
        if not isinstance(target, str):
            raise InputError(
                f"maps {source!r} to a {type(target).__name__}, not a code; write one pair "
                'per line: "sent reason" = "CODE" (no [sections])',
                path=path,
            )
        _add_reason(mapping, source, target.strip(), path, None)
    return mapping


def _add_reason(
    mapping: dict[str, str], source: str, target: str, path: Path, line: int | None
) -> None:
    if source == "" and target == "":
        return
    if source == "" or target == "":
        raise InputError(
            "has a reason pair with an empty side; fill in both 'from' and 'to' or delete it",
            path=path,
            line=line,
        )
    problem = ascii_code_problem(target)
    if problem:
        raise InputError(
            f"maps {source!r} to {target!r}, which {problem}",
            path=path,
            line=line,
        )
    if mapping.get(source, target) != target:
        raise InputError(
            f"maps {source!r} twice ({mapping[source]!r} and {target!r}); keep one",
            path=path,
            line=line,
        )
    mapping[source] = target
