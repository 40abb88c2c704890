"""Status words: what a Status-like cell says of a submission or of one record.

Owns the reading of a status word, whatever its spelling (``In Progress``, ``in_progress``,
``In-Progress`` and ``INPROGRESS`` are one word), into one of a few kinds. Only explicit words
count: a word not read here says nothing, and a record is never called accepted on it.
Used by ``detect`` (which column holds status words), ``normalize`` (what each result row
says) and ``gather`` (whether the submission has finished). Data only, no frames.
"""

from __future__ import annotations

import re
from enum import StrEnum

from .templates import (
    ERROR_TYPE_VALUES,
    RECORD_FAILURE_VALUES,
    RECORD_SUCCESS_VALUES,
    SUBMISSION_DONE_VALUES,
    SUBMISSION_STATUS_VALUES,
)

_SEPARATORS = re.compile(r"[\s_\-]+")


def status_word(raw: object) -> str:
    """A status cell compared without case, spaces, ``_`` or ``-`` (``"In_Progress"`` and
    ``"in progress"`` are both ``"inprogress"``); "" for an empty cell."""
    return _SEPARATORS.sub("", str(raw or "").casefold())


class StatusKind(StrEnum):
    DONE = "done"  # the submission finished (Complete): its results are final
    WAITING = "waiting"  # not finished yet (Queued, In Progress, Pending, Processing, ...)
    SUCCESS = "success"  # this record was applied (Success, OK, Accepted, ...)
    FAILURE = "failure"  # this record was not applied (Failed, Error, Rejected, ...)
    UNREAD = "unread"  # a word this tool cannot read: it says nothing either way
    BLANK = "blank"  # no word at all


def _words(*groups: frozenset[str] | set[str]) -> frozenset[str]:
    return frozenset(status_word(w) for group in groups for w in group)


DONE_WORDS = _words(SUBMISSION_DONE_VALUES, {"done", "finished"})
WAITING_WORDS = _words(
    SUBMISSION_STATUS_VALUES - SUBMISSION_DONE_VALUES,
    {
        "pending",
        "queued",
        "in queue",
        "in progress",
        "processing",
        "running",
        "started",
        "not started",
        "submitted",
        "received",
        "waiting",
        "scheduled",
        "awaiting processing",
        "not complete",
        "incomplete",
    },
)
SUCCESS_WORDS = _words(RECORD_SUCCESS_VALUES)
FAILURE_WORDS = _words(
    RECORD_FAILURE_VALUES,
    {"errored", "not applied", "not processed", "declined", "refused", "unsuccessful"},
)
ERROR_TYPE_WORDS = _words(ERROR_TYPE_VALUES)

_KINDS: dict[str, StatusKind] = {
    **dict.fromkeys(DONE_WORDS, StatusKind.DONE),
    **dict.fromkeys(WAITING_WORDS, StatusKind.WAITING),
    **dict.fromkeys(SUCCESS_WORDS, StatusKind.SUCCESS),
    **dict.fromkeys(FAILURE_WORDS, StatusKind.FAILURE),
}


def status_kind(raw: object) -> StatusKind:
    """What a status cell says (``"In-Progress"`` -> WAITING, ``"Failed"`` -> FAILURE)."""
    word = status_word(raw)
    if not word:
        return StatusKind.BLANK
    return _KINDS.get(word, StatusKind.UNREAD)


def is_final_word(raw: object) -> bool:
    """A submission status that says the results are final (Complete)."""
    return status_kind(raw) is StatusKind.DONE
