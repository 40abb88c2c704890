"""The only code that writes files. Every output folder is staged and moved into place whole.

Owns: output folders (``folder``: staging, the manifest of what reconciler wrote, each file by
its size and the SHA-256 of every byte so that an edit anywhere is seen, hashed on a thread of
its own as each writing job of ``run_jobs`` finishes; signals held back during the swap,
recovery of an interrupted run), CSV outputs (``csvfile``), JSON outputs (``jsonfile``, with
``write_document`` for a report rewritten in place), workbooks (``xlsx``; their zip container
``zipout``, deflated with ISA-L where it is installed), and stdout when its reader went away
(``streams``). Formula-like values are neutralised in analyst-facing files by the rule in
``reconciler.formulas``, with the byte scans of ``reconciler.bytescan``. Does not decide what
goes in a file.
"""

from __future__ import annotations

from reconciler.bytescan import _bytes_match, _has_xml_illegal
from reconciler.formulas import formula_mask, neutralise
from reconciler.writers.csvfile import encode_rows, write_csv
from reconciler.writers.folder import (
    HELD_SIGNALS,
    MARKER,
    Written,
    check_out_dir,
    prove_ahead,
    read_manifest,
    record_in_manifest,
    recover_interrupted,
    run_jobs,
    signals_deferred,
    staged_output,
    staging_notes,
)
from reconciler.writers.jsonfile import write_document, write_json, write_raw
from reconciler.writers.xlsx import MAX_CELL_CHARS, Sheet, write_xlsx

__all__ = [
    "HELD_SIGNALS",
    "MARKER",
    "MAX_CELL_CHARS",
    "Sheet",
    "Written",
    "_bytes_match",
    "_has_xml_illegal",
    "check_out_dir",
    "encode_rows",
    "formula_mask",
    "neutralise",
    "prove_ahead",
    "read_manifest",
    "record_in_manifest",
    "recover_interrupted",
    "run_jobs",
    "signals_deferred",
    "staged_output",
    "staging_notes",
    "write_csv",
    "write_document",
    "write_json",
    "write_raw",
    "write_xlsx",
]
