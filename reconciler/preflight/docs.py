"""docs/checks.md and the README's table of findings, generated from the registry."""

from __future__ import annotations

from reconciler.preflight.base import _ALL, Scope
from reconciler.preflight.registry import CHECKS

JUDGEMENT_CALLS: tuple[str, ...] = (
    "Severity ``error`` means the record would be rejected or applied other than intended; ``warning`` means it might be. The file's encoding and delimiter are warnings.",
    '``Amount`` is required for order-level modifications in two of the three help pages and "optional" in the newest. An empty Amount is an error when the Reason is a standard code (a standard code carries no action change of its own, so the row says nothing to do); with a custom disposition code the row may be a disposition-only change and is not flagged.',
    "``Reason``: impact.com accepts standard codes and custom codes configured per event type, which a file cannot reveal. An empty Reason, or a near miss of a standard code (other case or separators, at most two typing errors, or a fragment such as ``Returned``), is an error; any other non-standard value is a warning. Values of ``--reason-map`` are accepted; its keys are warnings whose advice names the mapped code (``--fix`` writes it).",
    "A reversal is an order-level row (order-level modification or mobile) whose Amount is zero.",
    '"The same action twice" is a warning on every line naming it (same ActionId, or the same Oid + ActionTrackerId, compared as the platform\'s keys: leading zeros and ``.0`` ignored). For order-level and chained conversions, a repeated OrderId + event type is a warning on the repeats only (``CONV_DUPLICATE``); item-level conversions share OrderIds by design.',
    "Leading zeros, long digit strings and dotted action IDs (``1000.4636.158133``) are valid IDs. Spoiled by a spreadsheet: scientific notation, a ``.0`` suffix, and 17 digits or more ending in zeros past the 15th (a spreadsheet keeps 15 significant digits). A 16-digit ID ending in 0 only counts when every ID of 16 digits or more in its column ends in 0 (at least two of them): one ID in ten ends in 0. Every sign is said: a stray space or a ``.0`` does not hide the rounding.",
    "An ID cell holds no identifier when it is empty once whitespace and invisible characters (zero-width space, BOM, Hangul filler) are removed, when it holds a spreadsheet's error value (``#N/A``, ``#REF!``, ``#VALUE!``, ``#DIV/0!``, ``#NAME?``, ``#NULL!``, ``#NUM!``, ``#SPILL!``, ``#CALC!``, ``#GETTING_DATA``, LibreOffice's ``Err:502``), or a whole-value placeholder (``NULL``, ``None``, ``nan``, ``N/A``, ``NA``, ``-``, ``--``, ``?``; without case). ``NA123`` or ``-5`` are IDs. The rule holds for every identifier column a template sends: the IDs naming the action or order, CustomerId, ClickId, MediaPartnerId and the other ID columns, and each item's Sku.",
    "``check`` and ``reconcile`` judge cells alike: a record with an identifier holding no identifier (or characters IDs never hold), an item without its Sku or with a Sku and no Quantity (or Amount), or a whole number or amount that is not plain ASCII digits (``١``, ``1,0``, ``$12``) once the fix rules have corrected what they correct, is never resubmitted; its cell is named in needs-attention.csv.",
    "An error value is a cell without a value in any column and any format (a CSV saved by a spreadsheet holds ``#N/A`` as text); in a workbook so are a formula whose result was never saved and a cell merged into another.",
    "ActionId is ASCII (digits, dots, a mobile ``M``); an Oid may be any text (``ORD-Ü1``) but not digits of another script, fullwidth forms, superscripts or invisible characters. reconciler never converts such characters to ASCII: the record goes to a person.",
    'A file that is not ``.csv``/``.xml`` (a ``.txt`` "Unicode text" export, the analyst\'s ``.xlsx``) is an error: impact.com counts it as 0 records. ``--fix`` writes a ``.csv``. A name starting with ``receipt_``/``result_`` is an error too: such files are ignored.',
    "A decimal comma (``49,90``) is a warning in a semicolon, tab or pipe file (where it is the local convention and the platform read such files) and an error in a comma file, where the value had to be quoted and is refused as ``MALFORMED``.",
    "A mobile ActionId without the ``M`` prefix is a warning, and only in a file holding ``M`` IDs (three columns ``ActionId,Amount,Reason`` with plain IDs are an order-level file).",
    "With ``--actions``, one platform state is predicted per record, in the order the platform would meet them: no such action, reversed, locked (or approved), then ``NO_CHANGE``.",
    'EventDate: ISO 8601 with an offset is right; an ISO date or date-time without an offset is a warning (read in the account\'s time zone); anything else is an error. "In the future" means after the end of ``--today`` in every time zone; "too old" counts days from the date as written.',
)
"""The calls behind the checks where impact.com's documentation leaves room (in docs/checks.md)."""


def checks_table() -> list[str]:
    """The Markdown table of every finding (docs/checks.md and the README carry it)."""
    lines = [
        "| Finding | Severity | Predicted code | Scope | Templates | Example |",
        "|---|---|---|---|---|---|",
    ]
    for c in CHECKS:
        templates = (
            "all"
            if c.templates == _ALL or c.scope is Scope.FILE
            else ", ".join(sorted(str(t) for t in c.templates))
        )
        code = f"`{c.predicted_error}`" if c.predicted_error else "—"
        example = c.example.replace("|", "\\|")
        lines.append(
            f"| `{c.slug}` | {c.severity} | {code} | {c.scope} | {templates} | {example} |"
        )
    return lines


def describe_checks() -> str:
    """docs/checks.md, generated from the registry (a test keeps the file in sync)."""
    lines = [
        "# `reconciler check`: findings",
        "",
        "<!-- Generated by reconciler.preflight.describe_checks(); do not edit by hand. -->",
        "",
        "`reconciler check FILE` reports one row per finding in `check.csv` / `check.json`:",
        "`SourceLine` (the physical line of the record; the header line or 0 for the file),",
        "`Column`, `Value`, `Finding` (the slug below), `Severity`, `PredictedError` (the code",
        "impact.com would give, when one is known) and `Advice`. `error` means the record would",
        "be rejected or applied other than intended; `warning` that it might be. The exit code",
        "is 1 when there is an error finding.",
        "",
        *checks_table(),
        "",
        "## Findings",
        "",
    ]
    for c in CHECKS:
        lines += [f"### `{c.slug}`: {c.title}", "", c.description, ""]
    lines += ["## Judgement calls", ""]
    lines += [f"- {call}" for call in JUDGEMENT_CALLS]
    return "\n".join(lines) + "\n"
