"""The report's view model: small, display-ready, frozen objects (what ``html`` renders).

Built by ``view`` from a finished run; every string is final text, every number already
formatted. Knows no HTML and computes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Fact:
    label: str
    value: str


@dataclass(frozen=True, slots=True)
class Figure:
    """One headline number: ``tone`` is ok | bad | warn | info | neutral."""

    label: str
    value: str
    note: str
    tone: str


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value: str
    width: str  # percent of the chart width, formatted ("62.5")
    y: int
    tone: str


@dataclass(frozen=True, slots=True)
class Chart:
    id: str
    title: str
    description: str
    bars: tuple[Bar, ...]
    height: int
    note: str


@dataclass(frozen=True, slots=True)
class Column:
    label: str
    numeric: bool = False


@dataclass(frozen=True, slots=True)
class Cell:
    """One table cell. ``kind``: text | muted | num | id | ids | codes | values | resolution.

    ``items`` holds (code, anchor) pairs for ``codes``, (column, value) pairs for ``ids`` and
    ``values``, and (slug, "") for ``resolution``; ``text`` is what the cell sorts by."""

    text: str = ""
    kind: str = "text"
    items: tuple[tuple[str, str], ...] = ()
    marks: tuple[bool, ...] = ()  # per item of ``ids``: a value the codes say to check


@dataclass(frozen=True, slots=True)
class Row:
    cells: tuple[Cell, ...]
    codes: str  # space-separated, for the code filter
    resolution: str  # slug, for the resolution filter


@dataclass(frozen=True, slots=True)
class TableView:
    id: str
    caption: str
    columns: tuple[Column, ...]
    rows: tuple[Row, ...]
    total: int
    note: str  # how many rows are shown, and where the others are
    filterable: bool
    empty: str


@dataclass(frozen=True, slots=True)
class CodeSection:
    code: str
    anchor: str
    title: str
    known: bool
    meaning: str
    advice: str
    resolution: str
    resolution_label: str
    count: str
    table: TableView


@dataclass(frozen=True, slots=True)
class MoneyLine:
    resolution: str
    label: str
    amount: str
    hint: str


@dataclass(frozen=True, slots=True)
class Money:
    available: bool
    column: str
    currency: str
    total: str
    lines: tuple[MoneyLine, ...]
    notes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Step:
    id: str
    title: str
    detail: str
    files: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ReasonNote:
    reason: str
    count: str
    text: str


@dataclass(frozen=True, slots=True)
class Report:
    title: str
    sent_name: str
    verdict: str
    tone: str
    facts: tuple[Fact, ...]
    figures: tuple[Figure, ...]
    warnings: tuple[str, ...]
    money: Money
    steps: tuple[Step, ...]
    charts: tuple[Chart, ...]
    codes_table: TableView
    records_table: TableView
    code_sections: tuple[CodeSection, ...]
    codes_without_section: str
    unmatched_reasons: tuple[ReasonNote, ...]
    unmatched_table: TableView
    ambiguous_table: TableView
    ambiguous_records: int
    generated_at: str
    version: str
