"""Presentation: the HTML report and the analyst workbook of a finished reconciliation.

Public API:

- :func:`render_outputs` writes ``report.html`` and/or ``reconciled.xlsx`` into the staging
  folder of ``reconciler.pipeline.write_outputs`` (pass it as one of its ``extras``), so they
  land together with the other outputs or not at all.
- :func:`rerender` re-renders ``report.html`` from an existing output folder, using only what is
  in it (``summary.json``, ``reconciled.csv``, ``unmatched_results.csv``).

Computes no statistics (they come from the run's summary) and imports nothing from the CLI.
Layout: ``sources`` reads a run (from memory or an output folder, through
``reconciler.readers``), ``view`` builds the display-ready ``viewmodel`` from it, ``html``
renders that with the templates and static files shipped in this package, ``workbook`` builds
the workbook's sheets, and ``formatting`` holds the words, numbers and row picking both share.
Nothing here opens a file itself: reading is ``reconciler.readers``', writing
``reconciler.writers``'.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from reconciler.outputs import REPORT, WORKBOOK
from reconciler.writers import write_document

if TYPE_CHECKING:
    from reconciler.model import Reconciliation

__all__ = ["REPORT_NAME", "WORKBOOK_NAME", "render_outputs", "rerender"]

REPORT_NAME = REPORT
WORKBOOK_NAME = WORKBOOK


def render_outputs(
    rec: Reconciliation, stage: Path, *, html: bool = True, xlsx: bool = True
) -> list[str]:
    """Write ``report.html`` (``html``) and ``reconciled.xlsx`` (``xlsx``) into ``stage``.

    Returns the names of the files written."""
    from .html import render_html
    from .view import report_from_reconciliation
    from .workbook import write_workbook

    written: list[str] = []
    if html:
        write_document(stage / REPORT_NAME, render_html(report_from_reconciliation(rec)))
        written.append(REPORT_NAME)
    if xlsx:
        write_workbook(rec, stage / WORKBOOK_NAME)
        written.append(WORKBOOK_NAME)
    return written


def rerender(out_dir: Path) -> list[str]:
    """Re-render ``report.html`` in an output folder of ``reconciler reconcile``. A
    ``report.html`` there that reconciler did not write as it is now (edited, or the analyst's
    own) is kept aside under a dated name first (``reconciler.writers.staging_notes`` says so).
    What an interrupted run left is recovered first, as every command writing an output
    folder does: a swap cut short is finished (or the previous outputs put back) before the
    folder is read.

    Raises ``reconciler.errors.InputError`` when the folder is missing or is not such a
    folder, ``OutputError`` when the report cannot be written."""
    from reconciler.writers import record_in_manifest
    from reconciler.writers.folder import make_room, recover_before_rewrite

    from .html import render_html
    from .view import report_from_folder

    out_dir = Path(out_dir)
    recover_before_rewrite(out_dir)
    text = render_html(report_from_folder(out_dir))
    make_room(out_dir, REPORT_NAME)  # a report.html reconciler did not write is kept aside
    write_document(out_dir / REPORT_NAME, text)
    record_in_manifest(out_dir, REPORT_NAME)  # so the next run knows it is its own
    return [REPORT_NAME]
