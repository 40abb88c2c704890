"""Data that flows between stages: frozen dataclasses and closed vocabularies.

Owns no logic beyond tiny derived properties. Frames inside these objects are never mutated
after construction; stages build new frames.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    import pandas as pd


class Resolution(StrEnum):
    """What has to happen to a record next. Stable: every output uses these words."""

    NONE = "none"
    AUTO_FIXED = "auto_fixed"
    FIX_MANUALLY = "fix_manually"
    CONTACT_SUPPORT = "contact_support"
    NO_ACTION = "no_action"
    WAIT = "wait"
    REVIEW = "review"
    RECHECK = "recheck"  # the results do not say: get the complete results and reconcile again


# Most final first: with several codes on one record, the first one present wins.
RESOLUTION_PRECEDENCE: tuple[Resolution, ...] = (
    Resolution.WAIT,
    Resolution.RECHECK,
    Resolution.NO_ACTION,
    Resolution.CONTACT_SUPPORT,
    Resolution.REVIEW,
    Resolution.FIX_MANUALLY,
    Resolution.AUTO_FIXED,
    Resolution.NONE,
)


class Outcome(StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    MISSING = "missing"
    AMBIGUOUS = "ambiguous"
    PENDING = "pending"  # the submission is not complete and no result speaks of the record
    UNKNOWN = "unknown"  # the results are partial (or not this file's): they do not say


class TiedBy(StrEnum):
    LINE = "line"
    ACTION_ID = "action_id"
    OID_TRACKER = "oid_tracker"
    OID = "oid"
    NONE = "none"


class LineBase(StrEnum):
    """How the platform numbers lines. ``physical``: physical file lines, header = 1.
    ``record``: records counted from the header = 1 (equals physical unless fields hold
    newlines or blank lines exist). ``data1``/``data0``: data records counted from 1 or 0."""

    AUTO = "auto"
    PHYSICAL = "physical"
    RECORD = "record"
    DATA1 = "data1"
    DATA0 = "data0"


IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True, eq=False)
class Table:
    """One input file read as text.

    ``frame`` has one column per header cell (labels made unique, see ``header`` for the
    spelling as written) and one row per data record; every value is a ``str`` ("" when empty).
    ``lines[i]`` is the physical line (or sheet row) where record ``i`` starts, header = its own
    line (1 for a CSV whose first line is the header).
    """

    path: Path
    format: str  # csv | xlsx | xml | json
    header: tuple[str, ...]
    frame: pd.DataFrame
    lines: IntArray
    header_line: int = 1
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    meta: Mapping[str, str] = field(default_factory=dict)
    # JSON: the key that held the records ("ErrorDetail", "APISubmissions"...), "" for a
    # top-level list, "@object" for a single object read as one record; XML: the record tag.
    container: str = ""

    @property
    def records(self) -> int:
        return len(self.frame)
