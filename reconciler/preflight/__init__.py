"""Pre-submission checks (``reconciler check``): what impact.com would refuse, before sending.

Owns: the registry of checks (``CHECKS``: a stable kebab-case slug, a severity, the platform code
the record would get, a title, a description and a one-line example per check), running them over
a read table, the one findings frame with fixed columns, the documentation generated from the
registry (``describe_checks``), and preparing ``--fix`` by handing the predicted codes of the
fixable findings to the resubmission stage (``remediate.remediate``: the same fix rules, not a
copy). Does not read or write files (``readers``/``writers``), does not know argv or exit codes
(``cli``), and judges single values only through ``fixes.py``.

Every check is a small function over the whole table: pandas string operations per column, and
the cached value-level rules of ``fixes.py`` mapped over the *unique* values that a vectorised
pre-filter could not clear. Python loops run only over the few flagged rows.

Layout: ``base`` (severities, scopes, options, the findings frame, results), ``context`` (what a
check runs on, and the helpers that make findings), one module per family of checks
(``file_checks``, ``identifiers``, ``amounts``, ``reasons`` with ``reason_codes``, ``items``,
``duplicates``, ``conversions``, ``actions_export``), each with its own ``CHECKS``;
``registry`` (all of them, in order), ``run`` (running them, ``--fix``) and ``docs``
(docs/checks.md, with the judgement calls behind the checks).
"""

from __future__ import annotations

from reconciler.preflight.base import (
    FINDING_COLUMNS,
    CheckOptions,
    CheckResult,
    FixResult,
    Scope,
    Severity,
)
from reconciler.preflight.context import Check, _Ctx
from reconciler.preflight.docs import JUDGEMENT_CALLS, checks_table, describe_checks
from reconciler.preflight.reason_codes import _reason_verdict
from reconciler.preflight.registry import BY_SLUG, CHECKS
from reconciler.preflight.run import _run, check, check_table, fix_table

__all__ = [
    "BY_SLUG",
    "CHECKS",
    "FINDING_COLUMNS",
    "JUDGEMENT_CALLS",
    "Check",
    "CheckOptions",
    "CheckResult",
    "FixResult",
    "Scope",
    "Severity",
    "_Ctx",
    "_reason_verdict",
    "_run",
    "check",
    "check_table",
    "checks_table",
    "describe_checks",
    "fix_table",
]
