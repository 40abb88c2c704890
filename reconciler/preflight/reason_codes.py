"""How a Reason cell reads: a standard code, a near miss of one (case, separators, typing
errors, a fragment), or something else (a custom code, perhaps)."""

from __future__ import annotations

from functools import lru_cache
from typing import Final

from reconciler.fixes import (
    fix_reason,
    reason_key,
)
from reconciler.templates import (
    STANDARD_REASONS,
)


def _osa_distance(a: str, b: str, limit: int) -> int:
    """Optimal-string-alignment distance of ``a`` and ``b``, capped at ``limit + 1``."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        if min(cur) > limit:
            return limit + 1
        prev2, prev = prev, cur
    return prev[-1]


def _fragments() -> dict[str, list[str]]:
    """Runs of whole words inside standard codes (``RETURNED`` in ``ITEM_RETURNED``)."""
    out: dict[str, list[str]] = {}
    for code in STANDARD_REASONS:
        words = code.split("_")
        for i in range(len(words)):
            for j in range(i + 1, len(words) + 1):
                run = "_".join(words[i:j])
                if run != code and len(run) >= 4 and run not in STANDARD_REASONS:
                    out.setdefault(run, []).append(code)
    return out


_FRAGMENTS: Final = _fragments()


@lru_cache(maxsize=4096)
def _reason_verdict(raw: str) -> tuple[str, str, bool]:
    """("near" | "custom", advice, fixable) for a non-empty, non-standard reason."""
    fix = fix_reason(raw)
    if fix.ok:
        return "near", f"{fix.problem}; write {fix.value} (--fix does)", True
    key = reason_key(raw)
    limit = 2 if len(key) >= 6 else 1
    close = sorted(c for c in STANDARD_REASONS if _osa_distance(key, c, limit) <= limit)
    if not close and key in _FRAGMENTS:
        close = sorted(_FRAGMENTS[key])
    if not close and len(key) >= 5:  # RETURN, RETURNS for the word RETURNED
        close = sorted(
            {c for frag, codes in _FRAGMENTS.items() if len(frag) >= 7 for c in codes
             if _osa_distance(key, frag, 2) <= 2}
        )  # fmt: skip
    if close:
        options = " or ".join(close)
        return (
            "near",
            f"{raw!r} is not a reason code but looks like {options}: write the standard code "
            "exactly (custom codes must match their configured spelling, case included)",
            False,
        )
    return (
        "custom",
        f"{raw!r} is not a standard reason code; it is accepted only if it is configured "
        "exactly (case-sensitive) as a custom disposition code on the event type, otherwise "
        "use a standard code or map it with --reason-map",
        False,
    )
