"""Every check, in the order the docs list them: the families' own registries, one after
the other."""

from __future__ import annotations

from typing import Final

from reconciler.preflight import (
    actions_export,
    amounts,
    conversions,
    duplicates,
    file_checks,
    identifiers,
    items,
    reasons,
)
from reconciler.preflight.context import Check

CHECKS: tuple[Check, ...] = (
    *file_checks.CHECKS,
    *identifiers.CHECKS,
    *amounts.CHECKS,
    *reasons.CHECKS,
    *items.CHECKS,
    *duplicates.CHECKS,
    *conversions.CHECKS,
    *actions_export.CHECKS,
)
BY_SLUG: Final = {c.slug: c for c in CHECKS}
assert len(BY_SLUG) == len(CHECKS), "duplicate check slug"
assert len(BY_SLUG) == len(CHECKS), "duplicate check slug"
