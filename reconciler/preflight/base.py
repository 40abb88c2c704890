"""What a check is and what it gives: severities, scopes, the options, the findings frame
with fixed columns, the result of a run, the limits and the template sets checks apply to."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any, Final
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
import pandas as pd

from reconciler import outputs
from reconciler.actions import ActionsIndex
from reconciler.detect import SentSchema
from reconciler.model import Table
from reconciler.templates import (
    CONVERSION_TEMPLATES,
    MODIFICATION_TEMPLATES,
    TEMPLATE_TITLES,
    Template,
)

FINDING_COLUMNS: Final = outputs.FINDING_COLUMNS


CONVERSION_MAX_DAYS: Final = 88
"""FTP conversions with an older EventDate are not processed (impact-reference §4.1)."""


CONVERSION_MAX_DAYS_MEDIA: Final = 398
"""... unless attributed by MediaId."""


OID_MAX_LENGTH: Final = 64


SKU_MAX_LENGTH_MODIFICATION: Final = 40


SKU_MAX_LENGTH_CONVERSION: Final = 255


_ALL: Final = frozenset(Template) - {Template.UNKNOWN}


_MODS: Final = MODIFICATION_TEMPLATES


_CONV: Final = CONVERSION_TEMPLATES


_ORDER_LEVEL: Final = frozenset({Template.MODIFICATION, Template.MOBILE})


_ITEMS: Final = frozenset({Template.ITEM_MODIFICATION, Template.ITEM_CONVERSION})


# Which standard codes the reference allows on which kind of change (§2, "Allowed on").
_REVERSAL_ONLY: Final = frozenset({"REJECTED", "CONS_INFO_INVALID", "MP_RETURNED"})


_MODIFICATION_ONLY: Final = frozenset({"ORDER_UPDATE", "PARTNER_NOT_ACTIVE"})


_RESERVED_PREFIXES: Final = ("receipt_", "result_")


# Vectorised pre-filters (RE2-compatible, so pyarrow runs them); the verdict on a flagged value
# always comes from the fix rules in fixes.py.
_ZERO: Final = r"0+(?:[.,]0+)?"


# Scientific notation, a ".0", or 17+ digits ending in "00" (a spreadsheet's 15-digit rounding,
# judged by fixes.looks_rounded).
_SPOIL_CANDIDATE: Final = r"[eE]|[.,]0+$|^[0-9]{15,}00$"


_ISO_NO_OFFSET: Final = re.compile(
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}(?:T[0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?)?$"
)


_DECIMAL_COMMA: Final = re.compile(r"^[0-9]+,[0-9]{1,2}$")


_DATA_CELL: Final = re.compile(
    r"^(?:[$€£]?\s*-?[0-9.,]+|M?[0-9]+(?:\.[0-9]+)+|[0-9]{4}-[0-9]{2}-[0-9]{2}.*|[0-9]{1,2}/[0-9]{1,2}/[0-9]{2,4}.*"
    r"|[A-Z]{3}|[A-Za-z]+(?:_[A-Za-z]+)+|.*[0-9]{3,}.*)$"
)


BoolArray = npt.NDArray[np.bool_]


IntArray = npt.NDArray[np.int64]


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


class Scope(StrEnum):
    FILE = "file"  # the file as a whole: format, name, encoding, header, columns
    RECORD = "record"  # each record, from the file alone
    ACTIONS = "actions"  # each record, against an impact.com Actions export (--actions)


@dataclass(frozen=True, slots=True)
class CheckOptions:
    """``reason_map``: sent reason -> accepted code (its values count as configured codes).
    ``today``: the date "in the future" and "older than 88 days" are measured from.
    ``timezone``: for dates written without an offset. ``fix``: prepare ``--fix`` codes."""

    reason_map: Mapping[str, str] = field(default_factory=dict)
    actions: ActionsIndex | None = None
    today: date | None = None
    timezone: ZoneInfo | None = None
    fix: bool = False


@dataclass(frozen=True, slots=True, eq=False)
class CheckResult:
    """``findings`` has ``FINDING_COLUMNS``, sorted by (SourceLine, Column, Finding).
    ``fix_codes`` has one row per (record position, platform code) that ``--fix`` hands to
    ``remediate`` (only codes whose fix rule can correct the flagged value)."""

    table: Table
    schema: SentSchema | None
    template: Template
    findings: pd.DataFrame
    fix_codes: pd.DataFrame
    today: date
    fix: bool = False  # the caller writes the --fix outputs (recorded in the summary)

    @property
    def records(self) -> int:
        return self.table.records

    @property
    def errors(self) -> int:
        return int((self.findings["Severity"] == Severity.ERROR).sum())

    @property
    def warnings(self) -> int:
        return int((self.findings["Severity"] == Severity.WARNING).sum())

    def counts(self) -> dict[str, int]:
        """Findings per slug, most frequent first (ties by slug)."""
        vc = self.findings["Finding"].value_counts()
        return {
            str(k): int(v) for k, v in sorted(vc.items(), key=lambda kv: (-int(kv[1]), str(kv[0])))
        }

    def records_with_errors(self) -> int:
        f = self.findings
        lines = f.loc[(f["Severity"] == Severity.ERROR) & (f["Column"] != ""), "SourceLine"]
        return int(lines.nunique())

    def summary(self) -> dict[str, Any]:
        t = self.table
        return {
            "file": str(t.path),
            "format": t.format,
            "encoding": t.encoding,
            "delimiter": t.delimiter,
            "sheet": t.sheet,
            "hidden_sheets_skipped": t.meta.get("@hidden_sheets", ""),
            "header_notes": [
                *(self.schema.notes if self.schema is not None else ()),
                *self._partial_actions_note(),
            ],
            "template": str(self.template),
            "template_title": TEMPLATE_TITLES[self.template],
            "today": self.today.isoformat(),
            "fix": self.fix,
            "records": self.records,
            "records_with_errors": self.records_with_errors(),
            "errors": self.errors,
            "warnings": self.warnings,
            "by_finding": self.counts(),
        }

    def _partial_actions_note(self) -> list[str]:
        """When most records name no action of the Actions export, the export is more likely
        partial than every ID wrong: say so beside the findings."""
        missing = self.counts().get("action-not-found", 0)
        if not missing or missing * 2 <= self.records:
            return []
        return [
            f"{missing:,} of {self.records:,} records name no action of the Actions export: "
            "the export may be partial (another campaign, or dates the file does not cover); "
            "export every action of the file's campaign and dates before trusting "
            "action-not-found"
        ]

    def to_json(self) -> dict[str, Any]:
        """The summary plus every finding (a frame: ``writers.write_json`` writes it as one
        object per line)."""
        return {**self.summary(), "findings": self.findings}


@dataclass(frozen=True, slots=True, eq=False)
class FixResult:
    """Every record, the fixable ones corrected; ``header`` is the original spelling."""

    frame: pd.DataFrame
    header: tuple[str, ...]
    changes: pd.DataFrame  # remediate's CHANGE_COLUMNS
    warnings: tuple[str, ...]
    fixed_records: int


E, W = Severity.ERROR, Severity.WARNING


_FILE = Scope.FILE


_ACT = Scope.ACTIONS


_CONV_ORDER = frozenset({Template.CONVERSION, Template.CHAINED_CONVERSION})
