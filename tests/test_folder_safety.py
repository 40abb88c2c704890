"""Only files reconciler wrote are ever removed or replaced, whatever ``--force`` says.

A file counts as reconciler's only when the output folder's manifest (``.reconciler-output``)
is one reconciler wrote and lists it with the size and digest it has now. A marker that is no
such manifest (an older version's plain text, damaged JSON, an empty file, a folder, a link,
garbage) proves nothing. A file not proven reconciler's is never removed; with ``--force`` one
named like an output is kept aside under a dated name, and the run says so in one line. A
folder beside ``--out`` that looks like a leftover of an interrupted run is removed only when it
is proven reconciler's, and what ``kill -9`` leaves at any moment is still tidied by the next
run, even when that run has the killed one's pid (a fresh PID namespace: a container); a swap
cut short is finished with the complete new outputs its staging folder's manifest proves, by
every command writing an output folder, ``reconciler report`` included. An ``--out`` that
cannot be renamed (a mount point: a real tmpfs, or folder renames failing with EXDEV/EBUSY) is
staged inside itself and its files moved in one by one, with the same guarantees.

Every test drives the real command and asserts what the user sees: exit code, stderr, files.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from reconciler.cli import app

runner = CliRunner()
ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "fixtures" / "modification_view_errors"
MARKER = ".reconciler-output"
DEAD = 2**22 + 12345  # above the kernel's pid limit: no such process


def _invoke(*args: object) -> tuple[int, str, str]:
    result = runner.invoke(app, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


def _reconcile(out: Path | str, *extra: str) -> tuple[int, str, str]:
    return _invoke("reconcile", DEMO / "sent.csv", DEMO / "results.csv", "-o", out, *extra)


def _tree(folder: Path) -> dict[str, object]:
    """Everything under ``folder`` (links not followed): file bytes, ``dir`` or the link."""
    found: dict[str, object] = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if path.is_symlink():
            found[rel] = ("link", os.readlink(path))
        elif path.is_dir():
            found[rel] = "dir"
        else:
            found[rel] = path.read_bytes()
    return found


def _kept(folder: Path, stem: str, tag: str = "kept") -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.name.startswith(f"{stem}.{tag}-"))


def _notes(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("reconciler: note: ")]


def _leftovers(parent: Path, name: str) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith(f".{name}."))


def _manifest_of_a_real_run(tmp_path: Path) -> bytes:
    ref = tmp_path / "ref"
    assert _reconcile(ref)[0] == 1
    return (ref / MARKER).read_bytes()


# --------------------------------------------------------------------------- item 1: the marker


def _marker_variants(tmp_path: Path) -> dict[str, object]:
    real = _manifest_of_a_real_run(tmp_path)
    return {
        "plain-text": b"reconciler output\n",
        "truncated-json": real[: len(real) // 2],
        "empty": b"",
        "binary-garbage": bytes(range(256)) * 8,
        "json-list": b'["summary.json", "my-analysis.txt"]\n',
        "json-without-files": b'{"tool": "reconciler", "manifest": 1}\n',
        "json-files-a-list": b'{"tool": "reconciler", "manifest": 1, "files": ["summary.json"]}',
        "json-size-a-string": json.dumps(
            {
                "tool": "reconciler",
                "manifest": 1,
                "files": {"summary.json": {"size": "2", "digest": "sha256:x"}},
            }
        ).encode(),
        "json-another-tool": real.replace(b'"reconciler"', b'"someone-else"'),
        "json-path-as-name": json.dumps(
            {
                "tool": "reconciler",
                "manifest": 1,
                "files": {"../outside.txt": {"size": 1, "digest": "sha256:x"}},
            }
        ).encode(),
        "folder": "folder",
        "link-to-a-real-manifest": "link",
    }


VARIANTS = [
    "plain-text",
    "truncated-json",
    "empty",
    "binary-garbage",
    "json-list",
    "json-without-files",
    "json-files-a-list",
    "json-size-a-string",
    "json-another-tool",
    "json-path-as-name",
    "folder",
    "link-to-a-real-manifest",
]


def _folder_with_marker(tmp_path: Path, variant: str) -> Path:
    kind = _marker_variants(tmp_path)[variant]
    out = tmp_path / "old"
    out.mkdir()
    marker = out / MARKER
    if kind == "folder":
        marker.mkdir()
        (marker / "inside.txt").write_text("mine too\n", encoding="utf-8")
    elif kind == "link":
        # Another output folder's manifest, which lists a summary.json of the same size.
        marker.symlink_to(tmp_path / "ref" / MARKER)
    else:
        assert isinstance(kind, bytes)
        marker.write_bytes(kind)
    (out / "summary.json").write_text("x\n", encoding="utf-8")
    (out / "my-analysis.txt").write_text("my analysis - do not lose\n", encoding="utf-8")
    return out


@pytest.mark.parametrize("variant", VARIANTS)
def test_a_marker_that_is_no_manifest_proves_nothing(tmp_path: Path, variant: str) -> None:
    out = _folder_with_marker(tmp_path, variant)
    before = _tree(out)
    code, stdout, stderr = _reconcile(out)
    assert (code, stdout) == (2, "")
    assert len(stderr.splitlines()) == 1, stderr
    assert stderr.startswith(f"reconciler: {out}: holds a {MARKER} that ")
    assert "not a manifest reconciler wrote" in stderr and "--force" in stderr
    assert _tree(out) == before  # nothing removed, nothing added
    assert _leftovers(tmp_path, "old") == []


@pytest.mark.parametrize("variant", VARIANTS)
def test_forced_into_a_folder_with_such_a_marker_everything_is_kept(
    tmp_path: Path, variant: str
) -> None:
    out = _folder_with_marker(tmp_path, variant)
    before = _tree(out)
    code, _, stderr = _reconcile(out, "--force")
    assert code == 1, stderr
    assert (out / "my-analysis.txt").read_text(encoding="utf-8") == "my analysis - do not lose\n"
    kept = _kept(out, "summary")
    assert len(kept) == 1 and kept[0].read_text(encoding="utf-8") == "x\n"
    assert json.loads((out / "summary.json").read_text(encoding="utf-8"))["sent_records"] > 0
    notes = _notes(stderr)
    assert any(n.startswith("reconciler: note: summary.json ") and kept[0].name in n for n in notes)
    # The marker that was there is kept too, and a new manifest takes its place.
    aside = _kept(out, MARKER)
    assert len(aside) == 1
    after = _tree(out)
    moved = {k.replace(aside[0].name, MARKER, 1): v for k, v in after.items()}
    assert all(moved[k] == v for k, v in before.items() if k.startswith(MARKER)), variant
    assert any(n.startswith(f"reconciler: note: {MARKER} ") for n in notes)
    assert json.loads((out / MARKER).read_text(encoding="utf-8"))["tool"] == "reconciler"
    # The link's target, another folder's manifest, was not touched.
    assert json.loads((tmp_path / "ref" / MARKER).read_text(encoding="utf-8"))["files"]
    # And the next run without --force refuses: those files are the analyst's now.
    assert _reconcile(out)[0] == 2


def test_the_first_versions_marker_with_a_file_of_yours_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "old"
    out.mkdir()
    (out / MARKER).write_text("made by reconciler; safe to delete\n", encoding="utf-8")
    (out / "reconciled.csv").write_text("old output\n", encoding="utf-8")
    (out / "my-analysis.txt").write_text("mine\n", encoding="utf-8")
    before = _tree(out)
    code, _, stderr = _reconcile(out)
    assert code == 2 and len(stderr.splitlines()) == 1
    assert "older reconciler" in stderr and "my-analysis.txt" in stderr and "--force" in stderr
    assert _tree(out) == before


def test_the_first_versions_output_folder_is_replaced_and_its_files_kept(tmp_path: Path) -> None:
    # Version 1 wrote a plain-text marker and no fingerprints: its folder is reconciler's, but
    # whether its outputs were edited since cannot be told, so each is kept aside, said once.
    out = tmp_path / "old"
    out.mkdir()
    (out / MARKER).write_text("made by reconciler; safe to delete\n", encoding="utf-8")
    (out / "reconciled.csv").write_text("edited by hand, maybe\n", encoding="utf-8")
    code, _, stderr = _reconcile(out)
    assert code == 1, stderr
    kept = _kept(out, "reconciled")
    assert len(kept) == 1 and kept[0].read_text(encoding="utf-8") == "edited by hand, maybe\n"
    assert [n for n in _notes(stderr) if "reconciled.csv" in n] == [
        f"reconciler: note: reconciled.csv was written by an older reconciler that kept no "
        f"fingerprints, so an edit cannot be ruled out: kept as {kept[0].name}"
    ]
    assert (out / "reconciled.csv").read_text(encoding="utf-8").startswith("ActionId,")
    assert _leftovers(tmp_path, "old") == []


# --------------------------------------------------------------------------- files in a manifest


def test_an_edited_output_is_kept_by_reconciler_report(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert _reconcile(out)[0] == 1
    (out / "report.html").write_text("<p>my notes on this batch</p>\n", encoding="utf-8")
    code, stdout, stderr = _invoke("report", out)
    assert code == 0, stderr
    kept = _kept(out, "report", "edited")
    assert len(kept) == 1
    assert kept[0].read_text(encoding="utf-8") == "<p>my notes on this batch</p>\n"
    assert _notes(stderr) == [
        f"reconciler: note: report.html had been edited since reconciler wrote it: "
        f"kept as {kept[0].name}"
    ]
    assert (out / "report.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert stdout == f"wrote {out / 'report.html'}\n"
    # Rendering again replaces only its own report: nothing more is kept aside.
    code, _, stderr = _invoke("report", out)
    assert (code, _notes(stderr)) == (0, [])
    assert len(_kept(out, "report", "edited")) == 1


def test_reconciler_report_keeps_a_report_it_did_not_write(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert _reconcile(out, "--no-report")[0] == 1
    (out / "report.html").write_text("MY OWN REPORT\n", encoding="utf-8")
    code, _, stderr = _invoke("report", out)
    assert code == 0, stderr
    kept = _kept(out, "report")
    assert len(kept) == 1 and kept[0].read_text(encoding="utf-8") == "MY OWN REPORT\n"
    assert _notes(stderr) == [
        f"reconciler: note: report.html was not written by reconciler: kept as {kept[0].name}"
    ]


def test_reconciler_report_does_not_take_an_edit_into_its_manifest(tmp_path: Path) -> None:
    # Re-rendering the report must not record the analyst's edit of another output as
    # reconciler's: the next run would replace it without keeping it.
    out = tmp_path / "out"
    assert _reconcile(out)[0] == 1
    (out / "needs-attention.csv").write_text("edited by hand\n", encoding="utf-8")
    assert _invoke("report", out)[0] == 0
    code, _, stderr = _reconcile(out)
    assert code == 2 and "edited since reconciler wrote them: needs-attention.csv" in stderr
    assert _reconcile(out, "--force")[0] == 1
    kept = _kept(out, "needs-attention", "edited")
    assert len(kept) == 1 and kept[0].read_text(encoding="utf-8") == "edited by hand\n"


def test_a_link_in_place_of_an_output_is_not_reconcilers(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert _reconcile(out)[0] == 1
    # The analyst moves an output elsewhere and leaves a link: same bytes, but not a file
    # reconciler wrote in this folder.
    outside = tmp_path / "elsewhere.csv"
    (out / "reconciled.csv").rename(outside)
    (out / "reconciled.csv").symlink_to(outside)
    before = outside.read_bytes()
    code, _, stderr = _reconcile(out)
    assert code == 2 and "reconciled.csv" in stderr and "--force" in stderr
    code, _, stderr = _reconcile(out, "--force")
    assert code == 1, stderr
    kept = _kept(out, "reconciled")
    assert len(kept) == 1 and kept[0].is_symlink() and kept[0].resolve() == outside
    assert outside.read_bytes() == before
    assert not (out / "reconciled.csv").is_symlink()
    # reconciler report does the same with a link named report.html.
    mine = tmp_path / "mine.html"
    mine.write_text("mine\n", encoding="utf-8")
    (out / "report.html").unlink()
    (out / "report.html").symlink_to(mine)
    code, _, stderr = _invoke("report", out)
    assert code == 0, stderr
    assert mine.read_text(encoding="utf-8") == "mine\n"
    links = [p for p in _kept(out, "report") if p.is_symlink()]
    assert len(links) == 1 and links[0].resolve() == mine


# --------------------------------------------------------------------------- item 2: --force


def _user_folder(tmp_path: Path, files: dict[str, str]) -> Path:
    work = tmp_path / "work"
    work.mkdir()
    for name, text in files.items():
        (work / name).write_text(text, encoding="utf-8")
    return work


def test_out_dot_force_keeps_your_files_named_like_outputs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = _user_folder(
        tmp_path,
        {"report.html": "MY OWN REPORT\n", "summary.json": '{"mine":1}\n', "notes.txt": "n\n"},
    )
    monkeypatch.chdir(work)
    code, _, stderr = _reconcile(".", "--force")
    assert code == 1, stderr
    report = _kept(work, "report")
    summary = _kept(work, "summary")
    assert [p.read_text(encoding="utf-8") for p in report + summary] == [
        "MY OWN REPORT\n",
        '{"mine":1}\n',
    ]
    assert (work / "notes.txt").read_text(encoding="utf-8") == "n\n"
    assert _notes(stderr) == [
        f"reconciler: note: report.html was not written by reconciler: kept as {report[0].name}",
        f"reconciler: note: summary.json was not written by reconciler: kept as {summary[0].name}",
    ]
    assert (work / "report.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    # Again: now the outputs are reconciler's, replaced without another copy.
    code, _, stderr = _reconcile(".", "--force")
    assert (code, _notes(stderr)) == (1, [])
    assert len(_kept(work, "report")) == 1 and len(_kept(work, "summary")) == 1


def test_check_fix_force_keeps_your_files_named_like_its_outputs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = _user_folder(tmp_path, {"sent.fixed.csv": "my fix\n", "check.csv": "my check\n"})
    monkeypatch.chdir(work)
    code, _, stderr = _invoke("check", DEMO / "sent.csv", "--fix", "--out", ".", "--force")
    assert code in (0, 1), stderr
    fixed = _kept(work, "sent.fixed")
    check = _kept(work, "check")
    assert [p.read_text(encoding="utf-8") for p in fixed + check] == ["my fix\n", "my check\n"]
    assert len(_notes(stderr)) == 2
    assert (work / "sent.fixed.csv").read_text(encoding="utf-8").startswith("ActionId,")


def test_force_keeps_a_folder_or_link_named_like_an_output(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (work / "summary.json").mkdir()
    (work / "summary.json" / "inside.txt").write_text("mine\n", encoding="utf-8")
    outside = tmp_path / "outside.csv"
    outside.write_text("not reconciler's\n", encoding="utf-8")
    (work / "resubmit.csv").symlink_to(outside)
    code, _, stderr = _reconcile(work, "--force")
    assert code == 1, stderr
    folder = _kept(work, "summary")
    assert len(folder) == 1 and (folder[0] / "inside.txt").read_text(encoding="utf-8") == "mine\n"
    link = _kept(work, "resubmit")
    assert len(link) == 1 and link[0].is_symlink() and link[0].resolve() == outside
    assert outside.read_text(encoding="utf-8") == "not reconciler's\n"
    assert not (work / "resubmit.csv").is_symlink()
    assert len(_notes(stderr)) == 2


def test_a_file_of_yours_that_holds_the_same_bytes_is_not_copied(tmp_path: Path) -> None:
    # Replacing a file with one of the same bytes loses nothing: no copy, no note.
    ref = tmp_path / "ref"
    assert _reconcile(ref)[0] == 1
    work = tmp_path / "work"
    work.mkdir()
    (work / "changes.csv").write_bytes((ref / "changes.csv").read_bytes())
    (work / "mine.txt").write_text("m\n", encoding="utf-8")
    code, _, stderr = _reconcile(work, "--force")
    assert (code, _notes(stderr)) == (1, [])
    assert _kept(work, "changes") == []


# --------------------------------------------------------------------------- item 3: leftovers


@pytest.mark.parametrize(
    "name",
    [
        ".reports.2024-q1.tmp",  # the audit's: a user folder that merely looks like one
        f".reports.{DEAD}-abcd1234.tmp",  # the exact shape of a staging folder
        f".reports.{DEAD}-abcd1234-2.tmp",
        f".reports.old-{DEAD}",
    ],
)
def test_a_folder_of_yours_beside_out_is_left_alone(tmp_path: Path, name: str) -> None:
    mine = tmp_path / name
    mine.mkdir()
    (mine / "q1.csv").write_text("user data\n", encoding="utf-8")
    (mine / "summary.json").write_text("{}\n", encoding="utf-8")
    before = _tree(mine)
    for extra in ((), ("--force",)):
        code, _, stderr = _reconcile(tmp_path / "reports", *extra)
        assert code == 1, stderr
        assert _notes(stderr) == []
        assert _tree(mine) == before


@pytest.mark.parametrize("marker", ["reconciler output\n", "", '{"tool": "reconciler"}'])
def test_a_folder_of_yours_with_a_marker_that_is_no_manifest_is_left_alone(
    tmp_path: Path, marker: str
) -> None:
    for name in (f".reports.old-{DEAD}", f".reports.{DEAD}-abcd1234.tmp"):
        mine = tmp_path / name
        mine.mkdir()
        (mine / MARKER).write_text(marker, encoding="utf-8")
        (mine / "q1.csv").write_text("user data\n", encoding="utf-8")
    before = {p.name: _tree(p) for p in tmp_path.iterdir()}
    code, _, stderr = _reconcile(tmp_path / "reports")
    assert code == 1, stderr
    assert {p.name: _tree(p) for p in tmp_path.iterdir() if p.name != "reports"} == before


def _token(pid: int, host: str | None = None) -> str:
    host = socket.gethostname() if host is None else host
    return json.dumps({"tool": "reconciler", "staging": {"pid": pid, "host": host}})


@contextlib.contextmanager
def _a_live_process() -> Iterator[int]:
    """The pid of another process that stays alive meanwhile."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        yield proc.pid
    finally:
        proc.kill()
        proc.wait(timeout=30)


def test_a_staging_folder_not_provably_reconcilers_is_left_alone(tmp_path: Path) -> None:
    other_host = tmp_path / f".reports.{DEAD}-abcd1234.tmp"
    other_host.mkdir()
    (other_host / MARKER).write_text(_token(DEAD, "another-machine"), encoding="utf-8")
    (other_host / "reconciled.csv").write_text("half\n", encoding="utf-8")
    other_pid = tmp_path / f".reports.{DEAD}-efgh5678.tmp"
    other_pid.mkdir()
    (other_pid / MARKER).write_text(_token(DEAD + 1), encoding="utf-8")
    with _a_live_process() as pid:
        live = tmp_path / f".reports.{pid}-live1234.tmp"  # a run still writing
        live.mkdir()
        (live / MARKER).write_text(_token(pid), encoding="utf-8")
        before = {p.name: _tree(p) for p in tmp_path.iterdir()}
        code, _, stderr = _reconcile(tmp_path / "reports")
    assert code == 1, stderr
    assert {p.name: _tree(p) for p in tmp_path.iterdir() if p.name != "reports"} == before


# What kill -9 can leave beside --out, at each moment of a run, and what the next run does.
def _killed_writing(parent: Path) -> None:
    stage = parent / f".reports.{DEAD}-abcd1234.tmp"
    stage.mkdir()
    (stage / MARKER).write_text(_token(DEAD), encoding="utf-8")
    (stage / "reconciled.csv").write_text("half", encoding="utf-8")
    (stage / ".report.html.x1y2z3w4.tmp").write_text("<!DOC", encoding="utf-8")


def _killed_before_the_marker(parent: Path) -> None:
    (parent / f".reports.{DEAD}-abcd1234.tmp").mkdir()


def _killed_writing_the_marker(parent: Path) -> None:
    stage = parent / f".reports.{DEAD}-abcd1234.tmp"
    stage.mkdir()
    (stage / f"{MARKER}.k3j4h5g6.tmp").write_text('{"tool": "reco', encoding="utf-8")


def _killed_by_an_older_version(parent: Path) -> None:
    # Versions before this one wrote no marker into their staging folders.
    stage = parent / f".reports.{DEAD}-abcd1234.tmp"
    stage.mkdir()
    (stage / "reconciled.csv").write_text("half", encoding="utf-8")
    (stage / "needs-attention.xlsx.part").write_bytes(b"PK\x03\x04")


def _killed_before_the_swap(parent: Path) -> None:
    stage = parent / f".reports.{DEAD}-abcd1234.tmp"
    assert _reconcile(stage)[0] == 1  # complete outputs, with their manifest


KILLED_WHILE_STAGING = [
    _killed_writing,
    _killed_before_the_marker,
    _killed_writing_the_marker,
    _killed_by_an_older_version,
    _killed_before_the_swap,
]


@pytest.mark.parametrize("left", KILLED_WHILE_STAGING, ids=lambda f: f.__name__)
def test_what_a_killed_run_left_while_staging_is_removed(tmp_path: Path, left: object) -> None:
    assert callable(left)
    left(tmp_path)
    code, _, stderr = _reconcile(tmp_path / "reports")
    assert code == 1, stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reports"]
    stage = f".reports.{DEAD}-abcd1234.tmp"
    if left is _killed_before_the_swap:
        # Complete outputs its manifest proves are never called unfinished: they are finished
        # (moved into place), then this run replaces them.
        assert _notes(stderr) == [
            f"reconciler: note: finished what an interrupted run left: its complete new "
            f"outputs ({stage}) are now in {tmp_path / 'reports'}"
        ]
        return
    what = (
        "an empty folder an interrupted run left"
        if left is _killed_before_the_marker
        else "the unfinished outputs of an interrupted run"
    )
    assert _notes(stderr) == [f"reconciler: note: removed {stage}, {what}"]


def test_a_swap_killed_midway_is_finished_with_the_complete_new_outputs(tmp_path: Path) -> None:
    out = tmp_path / "reports"
    assert _reconcile(out)[0] == 1
    (out / "call-notes.txt").write_text("saved during the run\n", encoding="utf-8")
    out.rename(tmp_path / f".reports.old-{DEAD}")  # killed between the two renames
    _killed_before_the_swap(tmp_path)
    new = _tree(tmp_path / f".reports.{DEAD}-abcd1234.tmp")
    code, _, stderr = _reconcile(out, "--no-report", "--force")
    assert code == 1, stderr
    assert _notes(stderr)[0] == (
        f"reconciler: note: finished what an interrupted run left: its complete new outputs "
        f"(.reports.{DEAD}-abcd1234.tmp) are now in {out}, and the previous ones it had set "
        f"aside (.reports.old-{DEAD}) removed"
    )
    assert "unfinished" not in stderr and "restored" not in stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reports"]
    assert (out / "call-notes.txt").read_text(encoding="utf-8") == "saved during the run\n"
    assert "report.html" not in _tree(out) and set(new) - {"report.html"} <= set(_tree(out))


def test_a_swap_killed_midway_without_complete_outputs_is_restored(tmp_path: Path) -> None:
    out = tmp_path / "reports"
    assert _reconcile(out)[0] == 1
    before = _tree(out)
    out.rename(tmp_path / f".reports.old-{DEAD}")  # killed between the two renames
    _killed_writing(tmp_path)  # and a staging folder that is not complete
    code, stdout, stderr = _invoke("report", out)
    assert code == 0, stderr
    assert _notes(stderr) == [
        f"reconciler: note: removed .reports.{DEAD}-abcd1234.tmp, the unfinished outputs of an "
        "interrupted run",
        f"reconciler: note: restored the previous outputs of {out} from an interrupted run",
    ]
    assert stdout == f"wrote {out / 'report.html'}\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reports"]
    after = _tree(out)
    assert {k: v for k, v in after.items() if k != MARKER} == {
        k: v for k, v in before.items() if k != MARKER
    }


@pytest.mark.parametrize("command", ["report", "reconcile", "check"])
def test_every_command_writing_an_output_folder_finishes_a_swap_cut_short(
    tmp_path: Path, command: str
) -> None:
    out = tmp_path / "reports"
    assert _reconcile(out)[0] == 1
    out.rename(tmp_path / f".reports.old-{DEAD}")
    _killed_before_the_swap(tmp_path)
    summary = (tmp_path / f".reports.{DEAD}-abcd1234.tmp" / "summary.json").read_bytes()
    if command == "report":
        code, _, stderr = _invoke("report", out)
        assert code == 0, stderr
        assert (out / "summary.json").read_bytes() == summary
    elif command == "reconcile":
        code, _, stderr = _reconcile(out)
        assert code == 1, stderr
    else:
        code, _, stderr = _invoke("check", DEMO / "sent.csv", "--out", out)
        assert code in (0, 1), stderr
    assert _notes(stderr)[0].startswith("reconciler: note: finished what an interrupted run left")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reports"]
    # What is in place is proven reconciler's: the next run replaces it without a word.
    code, _, stderr = _reconcile(out)
    assert (code, _notes(stderr)) == (1, [])


def test_a_swap_killed_before_the_old_outputs_went_puts_your_files_back(tmp_path: Path) -> None:
    # Killed after the new outputs took the place of the old ones, before the old went: the
    # old folder is reconciler's, but a file the analyst saved there meanwhile is not.
    out = tmp_path / "reports"
    assert _reconcile(out)[0] == 1
    old = tmp_path / f".reports.old-{DEAD}"
    out.rename(old)
    (old / "call-notes.txt").write_text("saved during the run\n", encoding="utf-8")
    (old / "report.html").write_text("edited during the run\n", encoding="utf-8")
    assert _reconcile(tmp_path / "ref")[0] == 1
    (tmp_path / "ref").rename(out)  # the new outputs in place
    code, _, stderr = _reconcile(tmp_path / "other")  # beside it: tidies siblings of "other"
    assert code == 1
    assert old.exists()  # not this --out's leftover
    code, _, stderr = _reconcile(out, "--force")
    assert code == 1, stderr
    assert not old.exists()
    assert (out / "call-notes.txt").read_text(encoding="utf-8") == "saved during the run\n"
    edited = [
        p
        for p in out.iterdir()
        if p.name.startswith("report.") and p.read_bytes() == b"edited during the run\n"
    ]
    assert len(edited) == 1


# --------------------------------------------------------------------------- kill -9, for real


def _command(sent: Path, results: Path, out: Path) -> list[str]:
    return [
        sys.executable, "-m", "reconciler", "reconcile", str(sent), str(results),
        "--out", str(out), "--no-xlsx", "--quiet", "--no-ledger",
    ]  # fmt: skip


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}


@pytest.fixture(scope="module")
def big_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """A generated sent file and its results, big enough to take a second or two, and the
    complete outputs of one run of them."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "bench_generate", ROOT / "benchmarks" / "generate.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    work = tmp_path_factory.mktemp("kill9")
    sent, results = module.generate(40_000, work / "data")
    ref = work / "ref"
    done = subprocess.run(_command(Path(sent), Path(results), ref), env=_env())
    assert done.returncode == 1
    return Path(sent), Path(results), ref


def _wait_for(parent: Path, part: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if any(part in p.name for p in parent.iterdir() if p.name.startswith(".reports.")):
            return
        time.sleep(0.0005)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize(
    ("moment", "after"),
    [("reading", 0.3), (".tmp", 0.0), (".tmp", 0.1), (".tmp", 0.5), (".old-", 0.0)],
)
def test_kill_9_at_any_moment_is_tidied_by_the_next_run(
    tmp_path: Path, big_run: tuple[Path, Path, Path], moment: str, after: float
) -> None:
    # Killed while reading, as the staging folder appears (its marker maybe not yet written),
    # while it fills, and as the swap sets the previous outputs aside (or while they go).
    sent, results, ref = big_run
    out = tmp_path / "reports"
    shutil.copytree(ref, out)
    mine = tmp_path / ".reports.2024-q1.tmp"
    mine.mkdir()
    (mine / "q1.csv").write_text("user data\n", encoding="utf-8")
    proc = subprocess.Popen(_command(sent, results, out), env=_env())
    if moment != "reading":
        _wait_for(tmp_path, moment, proc)
    time.sleep(after)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    code, _, stderr = _reconcile(out)
    assert code == 1, stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [".reports.2024-q1.tmp", "reports"]
    assert (mine / "q1.csv").read_text(encoding="utf-8") == "user data\n"
    assert (out / "reconciled.csv").read_text(encoding="utf-8").startswith("ActionId,")


# --------------------------------------------------------------------------- a pid seen again


def test_a_leftover_of_a_dead_run_with_this_processs_pid_is_removed(tmp_path: Path) -> None:
    # In a fresh PID namespace (every container) each run is pid 1: the killed run's pid is
    # the next run's own. Its staging folder and the outputs its swap set aside are a dead
    # run's all the same.
    out = tmp_path / "reports"
    me = os.getpid()  # the runs below are this process
    assert _reconcile(out)[0] == 1
    before = _tree(out)
    out.rename(tmp_path / f".reports.old-{me}")
    stage = tmp_path / f".reports.{me}-abcd1234.tmp"
    stage.mkdir()
    (stage / MARKER).write_text(_token(me), encoding="utf-8")
    (stage / "reconciled.csv").write_text("half", encoding="utf-8")
    code, _, stderr = _invoke("report", out)
    assert code == 0, stderr
    assert _notes(stderr) == [
        f"reconciler: note: removed {stage.name}, the unfinished outputs of an interrupted run",
        f"reconciler: note: restored the previous outputs of {out} from an interrupted run",
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reports"]
    assert (out / "reconciled.csv").read_bytes() == before["reconciled.csv"]


def test_a_leftover_whose_pid_another_process_took_is_removed(tmp_path: Path) -> None:
    # The pid is alive, but as another process: the start tag in the folder's name differs.
    with _a_live_process() as pid:
        stage = tmp_path / f".reports.{pid}-abcd1234-0badc0de.tmp"
        stage.mkdir()
        (stage / MARKER).write_text(_token(pid), encoding="utf-8")
        (stage / "reconciled.csv").write_text("half", encoding="utf-8")
        legacy = tmp_path / f".reports.{pid}-efgh5678.tmp"  # no tag: the pid alone decides
        legacy.mkdir()
        (legacy / MARKER).write_text(_token(pid), encoding="utf-8")
        code, _, stderr = _reconcile(tmp_path / "reports")
        assert code == 1, stderr
        if not Path(f"/proc/{pid}/stat").exists():
            pytest.skip("no /proc here: a live pid keeps its folders (the conservative rule)")
        assert sorted(p.name for p in tmp_path.iterdir()) == [legacy.name, "reports"]
        assert _notes(stderr) == [
            f"reconciler: note: removed {stage.name}, the unfinished outputs of an interrupted run"
        ]


def _holding_the_lock(folder: Path) -> subprocess.Popen[str]:
    code = (
        "import fcntl, os, sys, time\n"
        "fd = os.open(sys.argv[1], os.O_RDONLY)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX)\n"
        "print('locked', flush=True)\n"
        "time.sleep(120)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(folder)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline() == "locked\n"
    return proc


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX locks")
def test_a_folder_a_live_run_holds_is_left_alone_whatever_its_pid(tmp_path: Path) -> None:
    # A run in another PID namespace (another container on the same volume) has a pid that
    # means nothing here; the lock it holds on its folders says it is alive.
    stage = tmp_path / f".reports.{DEAD}-abcd1234.tmp"
    stage.mkdir()
    (stage / MARKER).write_text(_token(DEAD), encoding="utf-8")
    (stage / "reconciled.csv").write_text("half", encoding="utf-8")
    holder = _holding_the_lock(stage)
    try:
        before = _tree(stage)
        code, _, stderr = _reconcile(tmp_path / "reports")
        assert (code, _notes(stderr)) == (1, [])
        assert _tree(stage) == before
    finally:
        holder.kill()
        holder.wait(timeout=30)
    code, _, stderr = _reconcile(tmp_path / "reports")  # gone now: its lock went with it
    assert code == 1, stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reports"]


def _wait_for_marker(parent: Path, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        stages = [p for p in parent.iterdir() if p.name.startswith(".reports.")]
        if any(p.name.endswith(".tmp") and (p / MARKER).exists() for p in stages):
            return
        time.sleep(0.0005)


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text(encoding="ascii")
    except OSError:
        return []
    return [int(x) for x in text.split()]


def _in_a_new_pid_namespace(command: list[str]) -> list[str]:
    return ["unshare", "--pid", "--fork", "--mount-proc", *command]


def _namespaces_permitted() -> bool:
    if shutil.which("unshare") is None:
        return False
    done = subprocess.run(_in_a_new_pid_namespace(["true"]), capture_output=True)
    return done.returncode == 0


@pytest.mark.skipif(sys.platform != "linux", reason="PID namespaces are Linux's")
def test_kill_9_in_a_container_is_tidied_by_the_next_container(
    tmp_path: Path, big_run: tuple[Path, Path, Path]
) -> None:
    # Each run in a fresh PID namespace, as `docker run` does: both are pid 1.
    if not _namespaces_permitted():
        if os.environ.get("CI"):
            pytest.fail("unshare --pid is not permitted in CI (the tests run as root there)")
        pytest.skip("unshare --pid is not permitted here (needs root)")
    sent, results, ref = big_run
    out = tmp_path / "reports"
    shutil.copytree(ref, out)
    proc = subprocess.Popen(_in_a_new_pid_namespace(_command(sent, results, out)), env=_env())
    try:
        # Killed once its staging folder holds its marker (a fixed wait after the folder shows
        # up can miss the run: 40,000 records are written in about a tenth of a second).
        _wait_for_marker(tmp_path, proc)
        inner = _children(proc.pid)
        assert inner, "the run in the namespace was not found"
        os.kill(inner[0], signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(timeout=60)
    left = _leftovers(tmp_path, "reports")
    # The pid-1 run's staging folder, or, when the kill lands as its swap sets the previous
    # outputs aside (a fast run gets there within the wait), those outputs.
    assert [name for name in left if name.startswith((".reports.1-", ".reports.old-1-"))], left
    done = subprocess.run(
        _in_a_new_pid_namespace(_command(DEMO / "sent.csv", DEMO / "results.csv", out)),
        env=_env(),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1, done.stderr
    assert _leftovers(tmp_path, "reports") == []
    assert "interrupted run" in done.stderr


# --------------------------------------------------------------------------- --out a mount point


@pytest.fixture
def mount_point(tmp_path: Path) -> Iterator[Path]:
    """An empty tmpfs mounted at ``tmp_path/mnt/share``: another filesystem than its parent,
    a folder that cannot be renamed (a container's volume, ``docker -v …:/out``)."""
    point = tmp_path / "mnt" / "share"
    point.mkdir(parents=True)
    if sys.platform != "linux" or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs Linux")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256m", "tmpfs", str(point)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        if os.environ.get("CI"):
            pytest.fail(f"cannot mount a tmpfs in CI (the tests run as root): {done.stderr}")
        pytest.skip(f"mounting a tmpfs is not permitted here (needs root): {done.stderr.strip()}")
    try:
        assert os.path.ismount(point)
        yield point
    finally:
        if subprocess.run(["umount", str(point)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(point)], capture_output=True)


def _no_staging_anywhere(out: Path) -> None:
    assert _leftovers(out.parent, out.name) == []
    assert [p.name for p in out.iterdir() if p.name.startswith(".reconciler-staging.")] == []


def test_out_a_mount_point_is_written(
    mount_point: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")  # two runs, the same bytes
    out = mount_point
    code, _, stderr = _reconcile(out, "--no-ledger")
    assert code == 1, stderr
    assert _notes(stderr) == [] and "cannot write outputs" not in stderr
    ref = tmp_path / "ref"
    assert _reconcile(ref, "--no-ledger")[0] == 1
    assert _tree(out) == _tree(ref)  # the same outputs, manifest included
    _no_staging_anywhere(out)
    # Again: the folder is reconciler's now, and its outputs are replaced in place.
    code, _, stderr = _reconcile(out, "--no-report")
    assert (code, _notes(stderr)) == (1, [])
    assert "report.html" not in _tree(out)  # its own old output, removed as proven
    _no_staging_anywhere(out)
    # reconciler report writes into it too.
    code, _, stderr = _invoke("report", out)
    assert (code, _notes(stderr)) == (0, []), stderr
    assert (out / "report.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert os.path.ismount(out)


def test_out_a_mount_point_keeps_your_files(mount_point: Path) -> None:
    out = mount_point
    (out / "notes.txt").write_text("mine\n", encoding="utf-8")
    (out / "report.html").write_text("MY OWN REPORT\n", encoding="utf-8")
    code, _, stderr = _reconcile(out)
    assert code == 2 and len(stderr.splitlines()) == 1 and "--force" in stderr
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt", "report.html"]
    code, _, stderr = _reconcile(out, "--force")
    assert code == 1, stderr
    kept = _kept(out, "report")
    assert len(kept) == 1 and kept[0].read_text(encoding="utf-8") == "MY OWN REPORT\n"
    assert _notes(stderr) == [
        f"reconciler: note: report.html was not written by reconciler: kept as {kept[0].name}"
    ]
    assert (out / "notes.txt").read_text(encoding="utf-8") == "mine\n"
    _no_staging_anywhere(out)


def test_out_a_link_to_a_mount_point_is_written_through(mount_point: Path, tmp_path: Path) -> None:
    link = tmp_path / "out"
    link.symlink_to(mount_point)
    for _ in range(2):
        code, _, stderr = _reconcile(link)
        assert code == 1, stderr
        assert link.is_symlink() and (mount_point / "summary.json").is_file()
        _no_staging_anywhere(mount_point)
        assert _leftovers(tmp_path, "out") == []


def _cannot_rename_folders(monkeypatch: pytest.MonkeyPatch, error: int) -> None:
    """Every rename of a folder fails as across filesystems (or a busy mount point)."""
    real = os.replace

    def replace(src: object, dst: object, *args: object, **kwargs: object) -> None:
        if os.path.isdir(str(src)) and not os.path.islink(str(src)):
            raise OSError(error, os.strerror(error), str(src))
        real(src, dst, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "replace", replace)


@pytest.mark.parametrize("error", [errno.EXDEV, errno.EBUSY], ids=["EXDEV", "EBUSY"])
def test_a_folder_that_cannot_be_renamed_is_written_file_by_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: int
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")  # two runs, the same bytes
    ref = tmp_path / "ref"
    assert _reconcile(ref, "--no-ledger")[0] == 1
    _cannot_rename_folders(monkeypatch, error)
    out = tmp_path / "reports"
    code, _, stderr = _reconcile(out, "--no-ledger")  # a new folder
    assert (code, _notes(stderr)) == (1, []), stderr
    assert _tree(out) == _tree(ref)
    _no_staging_anywhere(out)
    code, _, stderr = _reconcile(out, "--no-report")  # reconciler's: replaced
    assert (code, _notes(stderr)) == (1, []), stderr
    assert "report.html" not in _tree(out)
    (out / "mine.txt").write_text("mine\n", encoding="utf-8")
    (out / "summary.json").write_text("edited\n", encoding="utf-8")
    code, _, stderr = _reconcile(out, "--force")  # holding your files: they stay
    assert code == 1, stderr
    kept = _kept(out, "summary", "edited")
    assert len(kept) == 1 and kept[0].read_text(encoding="utf-8") == "edited\n"
    assert (out / "mine.txt").read_text(encoding="utf-8") == "mine\n"
    _no_staging_anywhere(out)
    # The manifest proves every output: the next run refuses only for mine.txt.
    code, _, stderr = _reconcile(out)
    assert code == 2 and "added since: mine.txt" in stderr and "edited since" not in stderr


# A test-only hook for a real process: it stops for good (until killed) right after the
# rename named by RECONCILER_TEST_STOP: "old" (the swap set the previous outputs aside) or
# "inside" (the first file moved out of a staging folder inside --out).
_HOOK = """
import os, sys, time
_real = os.replace
_log, _when = os.environ["RECONCILER_TEST_LOG"], os.environ["RECONCILER_TEST_STOP"]
def _replace(src, dst, *args, **kwargs):
    _real(src, dst, *args, **kwargs)
    s, d = os.fspath(src), os.fspath(dst)
    inside = os.path.basename(os.path.dirname(s)).startswith(".reconciler-staging.")
    if (_when == "old" and ".old-" in os.path.basename(d)) or (
        _when == "inside" and inside and not os.path.basename(os.path.dirname(d)).startswith(".")
    ):
        with open(_log, "a") as f:
            f.write(d + "\\n")
        time.sleep(300)
os.replace = _replace
import runpy
sys.argv[0] = "reconciler"
runpy.run_module("reconciler", run_name="__main__", alter_sys=True)
"""


def _stopped_at(when: str, command: list[str], log: Path) -> subprocess.Popen[bytes]:
    """``command`` (a reconciler run), stopped right after that rename."""
    env = {**_env(), "RECONCILER_TEST_LOG": str(log), "RECONCILER_TEST_STOP": when}
    proc = subprocess.Popen([sys.executable, "-c", _HOOK, *command[3:]], env=env)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None and not log.exists():
        time.sleep(0.01)
    assert log.exists(), "the run never reached that rename"
    return proc


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_kill_9_between_the_two_renames_then_report(
    tmp_path: Path, big_run: tuple[Path, Path, Path]
) -> None:
    sent, results, ref = big_run
    out = tmp_path / "reports"
    shutil.copytree(ref, out)
    proc = _stopped_at(
        "old", [*_command(sent, results, out), "--max-rows", "5000"], tmp_path / "log"
    )
    assert not out.exists()  # the previous outputs set aside, the new ones not in place
    stage = [
        p for p in tmp_path.iterdir() if p.name.startswith(".reports.") and p.name.endswith(".tmp")
    ]
    assert len(stage) == 1
    new = {p.name: p.read_bytes() for p in stage[0].iterdir()}
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    code, stdout, stderr = _invoke("report", out)
    assert code == 0, stderr
    old = [p for p in _leftovers(tmp_path, "reports") if ".old-" in p]
    assert old == []
    notes = _notes(stderr)
    assert len(notes) == 1 and notes[0].startswith(
        f"reconciler: note: finished what an interrupted run left: its complete new outputs "
        f"({stage[0].name}) are now in {out}, and the previous ones it had set aside (.reports.old-"
    ), notes
    assert stdout == f"wrote {out / 'report.html'}\n"
    assert _leftovers(tmp_path, "reports") == []
    after = {p.name: p.read_bytes() for p in out.iterdir()}
    assert {k: v for k, v in after.items() if k not in ("report.html", MARKER)} == {
        k: v for k, v in new.items() if k not in ("report.html", MARKER)
    }
    assert "resubmit-001.csv" in after and "resubmit.csv" not in after
    code, _, stderr = _reconcile(out)  # proven reconciler's: replaced without a word
    assert (code, _notes(stderr)) == (1, [])


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_kill_9_while_moving_files_into_a_mount_point_then_report(
    mount_point: Path, tmp_path: Path, big_run: tuple[Path, Path, Path]
) -> None:
    sent, results, ref = big_run
    out = mount_point
    for item in ref.iterdir():
        shutil.copy2(item, out / item.name)
    (out / "mine.txt").write_text("mine\n", encoding="utf-8")
    log = tmp_path / "log"
    proc = _stopped_at(
        "inside", [*_command(sent, results, out), "--max-rows", "5000", "--force"], log
    )
    stage = [p for p in out.iterdir() if p.name.startswith(".reconciler-staging.")]
    assert len(stage) == 1
    moved = Path(log.read_text(encoding="utf-8").splitlines()[0])
    new = {p.name: p.read_bytes() for p in stage[0].iterdir()}
    new[moved.name] = moved.read_bytes()
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    code, _, stderr = _invoke("report", out)
    assert code == 0, stderr
    assert _notes(stderr) == [
        f"reconciler: note: finished what an interrupted run left: its complete new outputs "
        f"({stage[0].name}) are now in {out}"
    ]
    _no_staging_anywhere(out)
    after = {p.name: p.read_bytes() for p in out.iterdir()}
    assert after.pop("mine.txt") == b"mine\n"
    assert {k: v for k, v in after.items() if k not in ("report.html", MARKER)} == {
        k: v for k, v in new.items() if k not in ("report.html", MARKER)
    }
    assert "resubmit.csv" not in after  # the previous run's, proven: removed
    code, _, stderr = _reconcile(out)  # every output proven: only mine.txt is in the way
    assert code == 2 and "added since: mine.txt" in stderr and "edited since" not in stderr
