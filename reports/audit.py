"""The audit's index: one row per submission of the window (``index.csv``, ``index.html``).

Each reconciled batch links to its own report; batches whose file was not found, that were
not complete or that could not be reconciled say so. Figures come from each batch's summary.
Written through ``reconciler.writers`` (each file whole); every value is escaped in the HTML
and neutralised in the CSV.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from reconciler.formulas import neutralise
from reconciler.remote import AUDIT_MARKER
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
    written = _written_before(out)
    texts = {"index.csv": neutralise(frame).to_csv(index=False, lineterminator="\n")}
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
    texts["index.html"] = html
    for name, text in texts.items():
        _make_room(out / name, written.get(name))
        write_document(out / name, text)
    digests = {name: _digest((out / name).read_bytes()) for name in texts}
    marker = {"tool": "reconciler audit", "manifest": 1, "files": digests}
    write_document(out / AUDIT_MARKER, json.dumps(marker, indent=1, sort_keys=True) + "\n")
    return ["index.csv", "index.html"]


AUDIT_NOTES: list[str] = []
"""What the last ``write_index`` kept aside (an index the analyst edited or made)."""


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _written_before(out: Path) -> dict[str, str]:
    """The digests of the index files an earlier audit wrote here (none if it cannot tell)."""
    AUDIT_NOTES.clear()
    try:
        path = out / AUDIT_MARKER
        if path.is_symlink() or not path.is_file() or path.stat().st_size > 1 << 20:
            return {}
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    files = doc.get("files") if isinstance(doc, dict) else None
    if not isinstance(files, dict):
        return {}
    return {str(k): str(v) for k, v in files.items() if isinstance(v, str)}


def _make_room(path: Path, digest: str | None) -> None:
    """Keep ``path`` aside under a dated name unless an earlier audit wrote it as it is now."""
    if not os.path.lexists(path):
        return
    regular = path.is_file() and not path.is_symlink()
    if digest is not None and regular and _digest(path.read_bytes()) == digest:
        return
    tag = "edited" if digest is not None else "kept"
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    for n in itertools.count(1):
        extra = "" if n == 1 else f"-{n}"
        kept = path.with_name(f"{path.stem}.{tag}-{stamp}{extra}{path.suffix}")
        if not os.path.lexists(kept):
            break
    os.replace(path, kept)
    why = "had been edited since reconciler wrote it" if digest else "was not written by it"
    AUDIT_NOTES.append(f"{path.name} {why}: kept as {kept.name}")
