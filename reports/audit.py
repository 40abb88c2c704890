"""The audit's index: one row per submission of the window (``index.csv``, ``index.html``).

Each reconciled batch links to its own report; batches whose file was not found, that were
not complete or that could not be reconciled say so. Figures come from each batch's summary.
Written through ``reconciler.writers`` (each file whole); every value is escaped in the HTML
and neutralised in the CSV.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from reconciler.formulas import neutralise
from reconciler.writers import write_document

from .formatting import count, money_text

if TYPE_CHECKING:
    from reconciler.remote import AuditEntry

INDEX_COLUMNS: tuple[str, ...] = (
    "BatchId", "FileName", "SubmissionDate", "Status", "Outcome", "Records", "Accepted",
    "Rejected", "Unknown", "Pending", "NotApplied", "Currency", "TopCodes", "Report", "Detail",
)  # fmt: skip
OUTCOME_WORDS = {
    "reconciled": "Reconciled",
    "not_found": "File not found",
    "not_complete": "Not complete",
    "failed": "Could not reconcile",
}


def index_rows(entries: Sequence[AuditEntry]) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    for e in entries:
        s = e.summary
        row = dict.fromkeys(INDEX_COLUMNS, "")
        row.update(
            BatchId=e.batch_id,
            FileName=e.file_name,
            SubmissionDate=e.submitted,
            Status=e.status,
            Outcome=e.outcome,
            Detail=e.detail,
        )
        if s is not None:
            money = s.money
            row.update(
                Records=str(s.sent_records),
                Accepted=str(s.accepted),
                Rejected=str(s.rejected),
                Unknown=str(s.unknown),
                Pending=str(s.pending),
                NotApplied=money.not_applied_total if money.amount_column else "",
                Currency=money.currency or "",
                TopCodes="; ".join(f"{k} {v}" for k, v in list(s.by_code.items())[:3]),
                Report=f"{e.folder}/report.html",
            )
        rows.append(row)
    return rows


def write_index(
    entries: Sequence[AuditEntry], out: Path, *, since: date, until: date | None, sent_dir: Path
) -> list[str]:
    """index.csv and index.html in ``out``; their names."""
    from jinja2 import Environment, PackageLoader, select_autoescape

    rows = index_rows(entries)
    frame = pd.DataFrame(rows, columns=list(INDEX_COLUMNS), dtype=object)
    out.mkdir(parents=True, exist_ok=True)
    write_document(out / "index.csv", neutralise(frame).to_csv(index=False, lineterminator="\n"))
    env = Environment(
        loader=PackageLoader("reports", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
    )
    reconciled = [e for e in entries if e.summary is not None]
    html = env.get_template("audit.html.j2").render(
        rows=rows,
        words=OUTCOME_WORDS,
        since=since.isoformat(),
        until=until.isoformat() if until else "today",
        sent_dir=str(sent_dir),
        total=count(len(entries)),
        reconciled=count(len(reconciled)),
        attention=count(sum(1 for e in reconciled if e.summary and e.summary.needs_attention)),
        money_text=money_text,
    )
    write_document(out / "index.html", html)
    write_document(out / ".reconciler-audit", "made by reconciler audit; safe to delete\n")
    return ["index.csv", "index.html"]
