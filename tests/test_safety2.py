"""An analyst's edit anywhere in an output is seen, however large the file, and text is never
decoded in an encoding its bytes do not prove.

- The manifest fingerprints every byte of every output: an edit in the middle of a 20 MB
  ``needs-attention.csv`` that keeps its size makes the next run refuse (and, forced, keep the
  edited file aside). A manifest of an earlier version that fingerprinted a large file by its
  two ends only proves nothing about that file.
- A UTF-8 BOM says the file is UTF-8: an invalid byte after it is a stray byte, refused
  naming its line (sent and results, CSV and JSON), never a reason to read the file as cp1252.
- ISO-8859-15 and Mac Roman are candidates: such a file is read right or refused as
  ambiguous, never read as cp1252 without a word (``Réf-€1`` as ``Réf-¤1``, ``ORD-Ü1`` as
  ``ORD-†1``); what reads right in cp1252 still does.
- UTF-16 with a byte too many or missing is refused naming the line.

Every test drives the real command and asserts what the user sees: exit code, the one line on
stderr, the files written.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from typer.testing import CliRunner

from reconciler.cli import app

runner = CliRunner()
MARKER = ".reconciler-output"
HEADER = "ActionId,Oid,ActionTrackerId,Amount,CurrencyCode,CustomerStatus,Reason\n"
BOM = b"\xef\xbb\xbf"


def _invoke(*args: object) -> tuple[int, str, str]:
    result = runner.invoke(app, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


def _one_line(stderr: str) -> str:
    assert stderr.count("\n") == 1, stderr
    return stderr


# --------------------------------------------------------------------------- fingerprints


def _large_run(tmp_path: Path, records: int = 8000) -> tuple[Path, Path, Path]:
    """Inputs whose needs-attention.csv is over 16 MiB (every record needs attention)."""
    sent = tmp_path / "sent.csv"
    with sent.open("w", encoding="utf-8") as fh:
        fh.write(HEADER.rstrip("\n") + ",Note\n")
        for i in range(records):
            fh.write(f"1000.4636.{i + 1},,,10.00,USD,,Returned,{'n' * 2000}\n")
    results = tmp_path / "results.csv"
    with results.open("w", encoding="utf-8") as fh:
        fh.write("Line,Order Id,Action Tracker Id,Error Type,Message\n")
        for i in range(records):
            fh.write(f"{i + 2},,,Validation,BAD_DISPOSITION\n")
    return sent, results, tmp_path / "out"


def _reconcile(sent: Path, results: Path, out: Path, *extra: str) -> tuple[int, str, str]:
    return _invoke(
        "reconcile", sent, results, "-o", out, "--no-ledger", "--no-report", "--no-xlsx", *extra
    )


def _edit_middle(path: Path, new: bytes = b"MYFIX_OK") -> int:
    """Overwrite ``new`` in the middle of ``path`` (its size unchanged); the offset."""
    size = path.stat().st_size
    at = size // 2
    with path.open("r+b") as fh:
        fh.seek(at)
        fh.write(new)
    assert path.stat().st_size == size
    return at


def test_an_edit_in_the_middle_of_a_large_output_is_never_overwritten(tmp_path: Path) -> None:
    sent, results, out = _large_run(tmp_path)
    assert _reconcile(sent, results, out)[0] == 1
    attention = out / "needs-attention.csv"
    assert attention.stat().st_size > 16 * 1024 * 1024
    _edit_middle(attention)
    edited = attention.read_bytes()

    code, stdout, stderr = _reconcile(sent, results, out)
    assert (code, stdout) == (2, "")
    assert "edited since reconciler wrote them: needs-attention.csv" in _one_line(stderr)
    assert attention.read_bytes() == edited

    code, _, stderr = _reconcile(sent, results, out, "--force")
    assert code == 1
    kept = sorted(out.glob("needs-attention.edited-*.csv"))
    assert len(kept) == 1 and kept[0].read_bytes() == edited
    assert (
        f"needs-attention.csv had been edited since reconciler wrote it: kept as {kept[0].name}"
        in stderr
    )
    assert b"MYFIX_OK" not in attention.read_bytes()


def test_the_manifest_holds_the_digest_of_every_byte_of_every_output(tmp_path: Path) -> None:
    # Large outputs are hashed on a thread of their own while the others are written: the
    # manifest must still name each file's whole bytes.
    sent, results, out = _large_run(tmp_path)
    assert _reconcile(sent, results, out)[0] == 1
    listed = json.loads((out / MARKER).read_text(encoding="utf-8"))["files"]
    on_disk = sorted(p.name for p in out.iterdir() if p.name != MARKER)
    assert sorted(listed) == on_disk
    for name, entry in listed.items():
        data = (out / name).read_bytes()
        assert entry == {"size": len(data), "digest": "sha256:" + hashlib.sha256(data).hexdigest()}
    # An unchanged folder is reconciler's: the next run replaces it without a word.
    code, _, stderr = _reconcile(sent, results, out)
    assert code == 1 and "reconciler: note" not in stderr


def _ends_digest(path: Path) -> str:
    """The digest an earlier version wrote for a file over 16 MiB: its first and last MiB."""
    data = path.read_bytes()
    mib = 1024 * 1024
    return "sha256-ends:" + hashlib.sha256(data[:mib] + data[-mib:]).hexdigest()


def test_a_large_file_an_older_manifest_fingerprinted_by_its_ends_is_not_proven(
    tmp_path: Path,
) -> None:
    sent, results, out = _large_run(tmp_path)
    assert _reconcile(sent, results, out)[0] == 1
    attention = out / "needs-attention.csv"
    manifest = json.loads((out / MARKER).read_text(encoding="utf-8"))
    manifest["files"]["needs-attention.csv"]["digest"] = _ends_digest(attention)
    (out / MARKER).write_text(json.dumps(manifest), encoding="utf-8")
    # The analyst's edit in the middle keeps both ends, so the old digest still matches.
    _edit_middle(attention)
    assert _ends_digest(attention) == manifest["files"]["needs-attention.csv"]["digest"]
    edited = attention.read_bytes()

    code, _, stderr = _reconcile(sent, results, out)
    assert code == 2
    assert (
        "that an older reconciler fingerprinted only in part, so an edit cannot be ruled out: "
        "needs-attention.csv" in _one_line(stderr)
    )
    assert attention.read_bytes() == edited

    code, _, stderr = _reconcile(sent, results, out, "--force")
    assert code == 1
    kept = sorted(out.glob("needs-attention.kept-*.csv"))
    assert len(kept) == 1 and kept[0].read_bytes() == edited
    assert "needs-attention.csv was fingerprinted only in part by an older reconciler" in stderr
    # The small files the older manifest listed by their whole bytes are still reconciler's.
    assert not list(out.glob("reconciled.*-*.csv")) and not list(out.glob("summary.*-*.json"))


def test_an_older_manifests_whole_digests_still_prove_small_files(tmp_path: Path) -> None:
    demo = Path(__file__).resolve().parent.parent / "fixtures" / "modification_view_errors"
    out = tmp_path / "out"
    args = ("reconcile", demo / "sent.csv", demo / "results.csv", "-o", out, "--no-ledger")
    assert _invoke(*args)[0] == 1
    manifest = json.loads((out / MARKER).read_text(encoding="utf-8"))
    assert all(e["digest"].startswith("sha256:") for e in manifest["files"].values())
    code, _, stderr = _invoke(*args)
    assert code == 1 and "reconciler: note" not in stderr
    assert sorted(p.name for p in out.iterdir()) == sorted([MARKER, *manifest["files"]])
