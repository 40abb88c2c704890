"""An analyst's edit anywhere in an output is seen, however large the file, and text is never
decoded in an encoding its bytes do not prove.

- The manifest fingerprints every byte of every output: an edit in the middle of a 20 MB
  ``needs-attention.csv`` that keeps its size makes the next run refuse (and, forced, keep the
  edited file aside). A manifest of an earlier version that fingerprinted a large file by its
  two ends only proves nothing about that file. The digest is BLAKE3 where the blake3 package
  is installed, else SHA-256: an earlier version's SHA-256 manifest still proves its files,
  and a BLAKE3 one read where blake3 is missing proves nothing (its files are kept, never
  replaced).
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
import os
import subprocess
import sys
from pathlib import Path

import pytest
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
        assert entry == {"size": len(data), "digest": _digest(data)}
    # An unchanged folder is reconciler's: the next run replaces it without a word.
    code, _, stderr = _reconcile(sent, results, out)
    assert code == 1 and "reconciler: note" not in stderr


def _digest(data: bytes) -> str:
    """What this installation's manifests say of ``data``: BLAKE3 where blake3 is installed."""
    try:
        from blake3 import blake3
    except ImportError:
        return "sha256:" + hashlib.sha256(data).hexdigest()
    return "blake3:" + blake3(data).hexdigest()


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
    # As an earlier version wrote it: SHA-256 of every byte.
    for name, entry in manifest["files"].items():
        entry["digest"] = "sha256:" + hashlib.sha256((out / name).read_bytes()).hexdigest()
    (out / MARKER).write_text(json.dumps(manifest), encoding="utf-8")
    code, _, stderr = _invoke(*args)
    assert code == 1 and "reconciler: note" not in stderr
    assert sorted(p.name for p in out.iterdir()) == sorted([MARKER, *manifest["files"]])
    # The new manifest is this installation's kind again.
    again = json.loads((out / MARKER).read_text(encoding="utf-8"))["files"]
    assert all(e["digest"] == _digest((out / n).read_bytes()) for n, e in again.items())


WITHOUT_BLAKE3 = """
import json, sys
sys.modules["blake3"] = None  # import blake3 raises ImportError
from typer.testing import CliRunner
from reconciler.cli import app
for args in json.loads(sys.argv[1]):
    result = CliRunner().invoke(app, args)
    print(json.dumps([result.exit_code, result.stderr]))
"""


def _without_blake3(*runs: tuple[object, ...]) -> list[tuple[int, str]]:
    """Each run of the command in one process where blake3 cannot be imported (a platform
    without its wheel): exit code and stderr."""
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": str(root) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    env["SOURCE_DATE_EPOCH"] = "1000000000"  # a time no run of this test's process takes
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_BLAKE3, json.dumps([[str(a) for a in r] for r in runs])],
        env=env,
        capture_output=True,
        text=True,
        cwd=root,
    )
    assert done.returncode == 0, done.stderr
    return [tuple(json.loads(line)) for line in done.stdout.splitlines()]  # type: ignore[misc]


def test_without_blake3_the_manifest_holds_sha256_and_proves_the_next_run(tmp_path: Path) -> None:
    demo = Path(__file__).resolve().parent.parent / "fixtures" / "modification_view_errors"
    out = tmp_path / "out"
    args = ("reconcile", demo / "sent.csv", demo / "results.csv", "-o", out, "--no-ledger")
    first, second = _without_blake3(args, args)
    assert first[0] == 1 and second == (1, "")
    listed = json.loads((out / MARKER).read_text(encoding="utf-8"))["files"]
    for name, entry in listed.items():
        data = (out / name).read_bytes()
        assert entry == {"size": len(data), "digest": "sha256:" + hashlib.sha256(data).hexdigest()}
    assert sorted(p.name for p in out.iterdir()) == sorted([MARKER, *listed])


def test_a_blake3_manifest_read_without_blake3_proves_nothing(tmp_path: Path) -> None:
    pytest.importorskip("blake3", reason="this installation writes SHA-256 manifests")
    demo = Path(__file__).resolve().parent.parent / "fixtures" / "modification_view_errors"
    out = tmp_path / "out"
    args = ("reconcile", demo / "sent.csv", demo / "results.csv", "-o", out, "--no-ledger")
    assert _invoke(*args)[0] == 1
    listed = json.loads((out / MARKER).read_text(encoding="utf-8"))["files"]
    assert all(e["digest"].startswith("blake3:") for e in listed.values())
    before = {name: (out / name).read_bytes() for name in listed}

    (refused,) = _without_blake3(args)
    assert refused[0] == 2
    assert (
        "fingerprinted with BLAKE3, which this installation lacks (pip install blake3), so an "
        "edit cannot be ruled out: " in _one_line(refused[1])
    )
    assert {name: (out / name).read_bytes() for name in listed} == before

    (forced,) = _without_blake3((*args, "--force"))
    assert forced[0] == 1
    # summary.json names this run's time, so its bytes differ: kept aside, never replaced. (A
    # file whose bytes the new one repeats is replaced: nothing is lost.)
    kept = sorted(p.name for p in out.glob("summary.kept-*.json"))
    assert len(kept) == 1 and (out / kept[0]).read_bytes() == before["summary.json"]
    assert (
        f"summary.json was fingerprinted with BLAKE3, which this installation lacks (pip "
        f"install blake3), so an edit cannot be ruled out: kept as {kept[0]}" in forced[1]
    )


# --------------------------------------------------------------------------- a UTF-8 BOM


RESULTS = "Line,Order Id,Action Tracker Id,Error Type,Message\n2,,,Validation,BAD_DISPOSITION\n"


def _bom_stray_sent(folder: Path) -> Path:
    """The audit's file: a BOM, ASCII otherwise, and one byte 0x8E after T1 (line 2)."""
    sent = folder / "sent.csv"
    body = HEADER + ",T1,16027,10.00,EUR,,item returned\n,T2,16027,11.00,EUR,,item returned\n"
    sent.write_bytes(BOM + body.encode().replace(b"T1,", b"T1\x8e,"))
    return sent


BOM_REFUSAL = (
    "starts with a UTF-8 byte order mark, so it is UTF-8, but holds 1 invalid byte on line "
    "{line}; re-reading the whole file in another encoding would change its other values: fix "
    "those bytes (save it again as CSV UTF-8), or say how it is encoded with --encoding (e.g. "
    "--encoding cp1252)\n"
)


def test_a_bom_file_with_a_stray_byte_is_refused_naming_its_line(tmp_path: Path) -> None:
    sent = _bom_stray_sent(tmp_path)
    results = tmp_path / "results.csv"
    results.write_text(RESULTS, encoding="utf-8")
    code, stdout, stderr = _invoke("reconcile", sent, results, "-o", tmp_path / "o", "--no-ledger")
    assert (code, stdout) == (2, "")
    assert stderr == f"reconciler: {sent}:2: " + BOM_REFUSAL.format(line=2)
    assert not (tmp_path / "o").exists()

    code, _, stderr = _invoke("check", sent, "--fix", "-o", tmp_path / "c")
    assert code == 2 and stderr == f"reconciler: {sent}:2: " + BOM_REFUSAL.format(line=2)
    assert not (tmp_path / "c").exists()

    # Told how to read it, reconciler does so.
    code, _, _ = _invoke(
        "reconcile", sent, results, "-o", tmp_path / "told", "--no-ledger", "--encoding", "cp1252"
    )
    assert code == 1
    assert ",T1\u017d,16027" in (tmp_path / "told" / "resubmit.csv").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("name", "data", "line"),
    [
        ("results.csv", BOM + RESULTS.encode() + b"3,caf\xe9,,x,x\n", 3),
        (
            "results-status.csv",
            BOM + RESULTS.replace("Validation", "Validati\xf3n").encode("latin-1"),
            2,
        ),
        (
            "results.json",
            BOM
            + b'{"ErrorDetail":[{"Line":"2","OrderId":"T1",\n"Reason":"BAD_DISPOSITION","Note":"caf\xe9"}]}',
            2,
        ),
    ],
)
def test_a_bom_results_file_with_a_stray_byte_is_refused(
    tmp_path: Path, name: str, data: bytes, line: int
) -> None:
    sent = tmp_path / "sent.csv"
    sent.write_text(HEADER + ",T1,16027,10.00,EUR,,item returned\n", encoding="utf-8")
    results = tmp_path / name
    results.write_bytes(data)
    code, _, stderr = _invoke("reconcile", sent, results, "-o", tmp_path / "o", "--no-ledger")
    assert code == 2
    assert _one_line(stderr).startswith(f"reconciler: {results}:{line}: starts with a UTF-8 byte")
    assert not (tmp_path / "o").exists()


def test_a_bom_file_that_is_valid_utf8_reads_as_before(tmp_path: Path) -> None:
    sent = tmp_path / "sent.csv"
    sent.write_bytes(BOM + (HEADER + ",M\u00fcller-1,16027,10.00,EUR,,item returned\n").encode())
    results = tmp_path / "results.csv"
    results.write_text(RESULTS, encoding="utf-8")
    code, _, _ = _invoke("reconcile", sent, results, "-o", tmp_path / "o", "--no-ledger")
    assert code == 1
    assert ",M\u00fcller-1,16027" in (tmp_path / "o" / "resubmit.csv").read_text(encoding="utf-8")


# --------------------------------------------------------------------------- ISO-8859-15, Mac Roman


def _sent(folder: Path, rows: str, encoding: str, note: bool = False) -> Path:
    sent = folder / "sent.csv"
    header = HEADER.replace("\n", ",Note\n") if note else HEADER
    sent.write_bytes((header + rows).encode(encoding))
    return sent


def _results(folder: Path) -> Path:
    path = folder / "results.csv"
    path.write_text(
        "Line,Order Id,Action Tracker Id,Error Type,Message\n"
        "2,,,Validation,BAD_DISPOSITION\n3,,,Validation,BAD_DISPOSITION\n",
        encoding="utf-8",
    )
    return path


READ_RIGHT = {
    # The audit's files: their values reached resubmit.csv changed.
    "iso-8859-15-euro": (
        ",R\u00e9f-\u20ac1,16027,10.00,EUR,,item returned,Preis 10 \u20ac\n"
        ",T2,16027,11.00,EUR,,item returned,R\u00fcckgabe 5 \u20ac Gutschrift\n",
        "iso-8859-15",
        True,
    ),
    "mac-roman-german": (
        ",ORD-\u00dc1,16027,10.00,EUR,,item returned\n"
        ",\u00c4rger-2,16027,11.00,EUR,,item returned\n",
        "mac_roman",
        False,
    ),
    "mac-roman-french": (
        ",T1,16027,10.00,EUR,,item returned,Cr\u00e8me br\u00fbl\u00e9e\n"
        ",T2,16027,11.00,EUR,,item returned,H\u00e9l\u00e8ne Fran\u00e7ois\n",
        "mac_roman",
        True,
    ),
    "mac-roman-capitals": (
        ",T1,16027,10.00,EUR,,item returned,M\u00dcLLER JOS\u00c9\n"
        ",T2,16027,11.00,EUR,,item returned,\u00c9COLE\n",
        "mac_roman",
        True,
    ),
    # What read right in cp1252 still does.
    "cp1252-punctuation": (
        ",T1,16027,10.00,EUR,,item returned,don\u2019t O\u2019Brien\n"
        ",T2,16027,11.00,EUR,,item returned,\u201cHello\u201d \u2013 fine\n",
        "cp1252",
        True,
    ),
    "cp1252-capitals": (
        ",C\u00d4TE-1,16027,10.00,EUR,,item returned\n,T2,16027,11.00,EUR,,item returned\n",
        "cp1252",
        False,
    ),
    "cp1252-apostrophe-accent": (
        ",T1,16027,10.00,EUR,,item returned,it\u00b4s M\u00fcller\n"
        ",T2,16027,11.00,EUR,,item returned,1\u00bd kg\n",
        "cp1252",
        True,
    ),
}


@pytest.mark.parametrize("name", sorted(READ_RIGHT))
def test_iso_8859_15_and_mac_roman_are_read_right(tmp_path: Path, name: str) -> None:
    rows, encoding, note = READ_RIGHT[name]
    sent = _sent(tmp_path, rows, encoding, note)
    out = tmp_path / "o"
    code, stdout, _ = _invoke("reconcile", sent, _results(tmp_path), "-o", out, "--no-ledger")
    assert code == 1
    assert f"sent.csv is not UTF-8: read as {encoding}" in stdout
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["sent_encoding"] == encoding
    resubmit = (out / "resubmit.csv").read_text(encoding="utf-8")
    for line in rows.splitlines():
        assert line.replace("item returned", "ITEM_RETURNED") in resubmit

    code, _, _ = _invoke("check", sent, "--fix", "-o", tmp_path / "c")
    assert code in (0, 1)
    fixed = (tmp_path / "c" / "sent.fixed.csv").read_text(encoding="utf-8")
    for line in rows.splitlines():
        assert line.split(",item returned")[0] in fixed


REFUSED = {
    # One short value: Mac Roman Ü is cp1252 †, ISO-8859-15 € is cp1252 ¤.
    "mac-roman-oid": (
        ",ORD-\u00dc1,16027,10.00,EUR,,item returned\n",
        "mac_roman",
        "cp1252 'ORD-\u20201'",
    ),
    "iso-8859-15-oid": (
        ",R\u00e9f-\u20ac1,16027,10.00,EUR,,item returned\n",
        "iso-8859-15",
        "cp1252 'R\u00e9f-\u00a41'",
    ),
    "mac-roman-names": (
        ",M\u00fcller-1,16027,10.00,EUR,,item returned\n,Caf\u00e9-2,16027,11.00,EUR,,item returned\n",
        "mac_roman",
        "cp1250 'M\u017aller-1'",
    ),
    "mac-roman-n-tilde": (
        ",Se\u00f1or-1,16027,10.00,EUR,,item returned\n",
        "mac_roman",
        "cp1252 'Se\u2013or-1'",
    ),
    "mac-roman-inner-capital": (
        ",P\u00e9rez-1,16027,10.00,EUR,,item returned\n",
        "mac_roman",
        "",
    ),
    "mac-roman-cp932-look-alike": (
        ",S\u00e3o Paulo-1,16027,10.00,EUR,,item returned\n",
        "mac_roman",
        "",
    ),
    "mac-roman-e-diaeresis": (
        ",No\u00ebl-1,16027,10.00,EUR,,item returned\n",
        "mac_roman",
        "cp1252 'No\u2018l-1'",
    ),
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_too_little_iso_8859_15_or_mac_roman_text_is_refused_never_misread(
    tmp_path: Path, name: str
) -> None:
    rows, encoding, other_reading = REFUSED[name]
    sent = _sent(tmp_path, rows, encoding)
    code, stdout, stderr = _invoke(
        "reconcile", sent, _results(tmp_path), "-o", tmp_path / "o", "--no-ledger"
    )
    assert (code, stdout) == (2, "")
    line = _one_line(stderr)
    assert line.startswith(f"reconciler: {sent}:2: is not UTF-8, and too little of its text")
    value = rows.split(",")[1]
    assert f"{encoding} '{value.split()[0]}'" in line and other_reading in line
    assert not (tmp_path / "o").exists()

    told = tmp_path / "told"
    code, _, _ = _invoke(
        "reconcile", sent, _results(tmp_path), "-o", told, "--no-ledger", "--encoding", encoding
    )
    assert code == 1
    assert f",{value},16027" in (told / "resubmit.csv").read_text(encoding="utf-8")


# --------------------------------------------------------------------------- UTF-16


def _utf16(rows: str) -> bytes:
    return ("\ufeff" + HEADER + rows).encode("utf-16-le")


UTF16_ROWS = ",T1,16027,10.00,EUR,,item returned\n,T2,16027,11.00,EUR,,item returned\n"


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        (
            "a-byte-added-at-the-end",
            _utf16(UTF16_ROWS) + b"\n",
            "4: looks like UTF-16 text but is not valid UTF-16: its last byte (on line 4) is "
            "left over, an odd number of bytes (cut short, or a byte added); save it again as "
            "CSV UTF-8",
        ),
        (
            "cut-short",
            _utf16(UTF16_ROWS)[:-1],
            "3: looks like UTF-16 text but is not valid UTF-16: its last byte (on line 3) is "
            "left over, an odd number of bytes (cut short, or a byte added); save it again as "
            "CSV UTF-8",
        ),
        (
            "a-byte-missing-on-line-2",
            _utf16(UTF16_ROWS)[:160] + _utf16(UTF16_ROWS)[161:],
            "2: looks like UTF-16 text but is not valid UTF-16: a byte is missing or extra on "
            "line 2 (the text after it is shifted by one byte); save it again as CSV UTF-8",
        ),
    ],
)
def test_utf16_with_an_odd_byte_is_refused_naming_the_line(
    tmp_path: Path, name: str, data: bytes, message: str
) -> None:
    sent = tmp_path / "sent.csv"
    sent.write_bytes(data)
    code, _, stderr = _invoke("check", sent, "-o", tmp_path / "c")
    assert code == 2
    assert stderr == f"reconciler: {sent}:{message}\n"
    results = tmp_path / "results.csv"
    results.write_bytes(data)
    sent = _sent(tmp_path, UTF16_ROWS, "utf-8")
    code, _, stderr = _invoke("reconcile", sent, results, "-o", tmp_path / "o", "--no-ledger")
    assert code == 2 and stderr == f"reconciler: {results}:{message}\n"
