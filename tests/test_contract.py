"""The output contract under adversarial input: IDs stay as sent, nothing is blanked, invented
or re-decoded, and what cannot be kept exactly is refused or handed to a person with a reason.

Each test drives the real command (typer's runner) and asserts what the user gets: the files
written, their bytes, the one-line refusal and the exit code.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from reconciler.cli import app

runner = CliRunner()


def _invoke(*args: object) -> tuple[int, str, str]:
    result = runner.invoke(app, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_a_record_naming_no_action_is_never_resubmitted(tmp_path: Path) -> None:
    sent = _write(
        tmp_path / "sent.csv",
        "ActionId,Oid,ActionTrackerId,Amount,CurrencyCode,CustomerStatus,Reason\n"
        "1000.4636.158133,,,19.99,USD,EXISTING,item returned\n"
        ",,,64.00,USD,NEW,item returned\n"
        ",T1,,0,,,item returned\n",
    )
    results = _write(
        tmp_path / "results.csv",
        "Line,Order Id,Message\n2,,BAD_DISPOSITION\n3,,BAD_DISPOSITION\n4,T1,BAD_DISPOSITION\n",
    )
    out = tmp_path / "out"
    code, _, _ = _invoke("reconcile", sent, results, "-o", out)
    assert code == 1
    resubmit = (out / "resubmit.csv").read_text(encoding="utf-8").splitlines()
    assert resubmit == [
        "ActionId,Oid,ActionTrackerId,Amount,CurrencyCode,CustomerStatus,Reason",
        "1000.4636.158133,,,19.99,USD,EXISTING,ITEM_RETURNED",
    ]
    attention = (out / "needs-attention.csv").read_text(encoding="utf-8").splitlines()
    assert len(attention) == 3
    for row in attention[1:]:
        assert "names no action" in row
        assert row.endswith("ActionId;Oid;ActionTrackerId;Reason")


def test_a_hidden_first_sheet_is_skipped_and_said(tmp_path: Path) -> None:
    import openpyxl

    wb = openpyxl.Workbook()
    old = wb.active
    assert old is not None
    old.title = "Old"
    old.append(["ActionId", "Amount", "Reason"])
    old.append(["1000.1.1", "5.00", "ORDER_UPDATE"])
    old.sheet_state = "hidden"
    current = wb.create_sheet("Current")
    current.append(["ActionId", "Amount", "Reason"])
    current.append(["1000.1.9", "9.00", "ORDER_UPDATE"])
    wb.active = 1
    sent = tmp_path / "sent.xlsx"
    wb.save(sent)
    results = _write(tmp_path / "results.csv", "Line,ActionId,Message\n2,1000.1.9,NO_CHANGE\n")
    out = tmp_path / "out"
    code, stdout, _ = _invoke("reconcile", sent, results, "-o", out)
    assert code == 1
    assert "1 record sent: 0 accepted (0.0%), 1 rejected" in stdout
    assert (
        "sent.xlsx: read sheet 'Current', the first visible one; hidden sheets skipped: Old"
        in stdout
    )
    reconciled = (out / "reconciled.csv").read_text(encoding="utf-8").splitlines()
    assert reconciled[1].startswith("1000.1.9,9.00,ORDER_UPDATE,2,rejected,NO_CHANGE")
    import json

    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["sent_sheet"] == "Current"
    # check says the same
    code, stdout, _ = _invoke("check", sent, "-o", tmp_path / "checked")
    assert "hidden sheets skipped: Old" in stdout


def test_only_ascii_digits_pass_as_numbers(tmp_path: Path) -> None:
    sent = _write(
        tmp_path / "sent.csv",
        "ActionId,Oid,ActionTrackerId,Amount,CurrencyCode,CustomerStatus,Reason\n"
        "1000.1.1,,,١٩.٩٩,USD,,ORDER_UPDATE\n"
        "1000.1.2,,,１９.９９,USD,,ORDER_UPDATE\n"
        ",T1,١٦٠٢٧,0,,,ITEM_RETURNED\n",
    )
    out = tmp_path / "checked"
    code, _, _ = _invoke("check", sent, "-o", out)
    assert code == 1
    rows = (out / "check.csv").read_text(encoding="utf-8").splitlines()
    assert [",".join(r.split(",")[:4]) for r in rows[1:]] == [
        "2,Amount,١٩.٩٩,amount-not-a-number",
        "3,Amount,１９.９９,amount-not-a-number",
        "4,ActionTrackerId,١٦٠٢٧,not-an-integer",
    ]
    demo = Path(__file__).resolve().parent.parent / "fixtures" / "modification_view_errors"
    code, stdout, stderr = _invoke(
        "reconcile", demo / "sent.csv", demo / "results.csv", "--action-tracker-id", "²",
        "-o", tmp_path / "o",
    )  # fmt: skip
    assert code == 2 and stdout == ""
    assert stderr == (
        "reconciler: --action-tracker-id '²': give the event type's whole-number ID, in "
        "digits 0-9\n"
    )


def test_a_deeply_nested_summary_is_one_line(tmp_path: Path) -> None:
    demo = Path(__file__).resolve().parent.parent / "fixtures" / "modification_view_errors"
    out = tmp_path / "out"
    assert _invoke("reconcile", demo / "sent.csv", demo / "results.csv", "-o", out)[0] == 1
    summary = out / "summary.json"
    text = summary.read_text(encoding="utf-8")
    summary.write_text(text[:-2] + ', "deep": ' + "[" * 100_000 + "]" * 100_000 + "}\n")
    code, _, stderr = _invoke("report", out)
    assert code == 2
    assert stderr == (
        f"reconciler: {summary}: is nested too deeply to be a reconciler summary; run "
        "reconcile again\n"
    )


def test_two_columns_for_one_field_with_different_values_are_refused(tmp_path: Path) -> None:
    demo = Path(__file__).resolve().parent.parent / "fixtures" / "modification_view_errors"
    sent = _write(
        tmp_path / "sent.csv",
        "ActionId,Amount,Reason,Action Id\n1000.1.1,5.00,ORDER_UPDATE,1000.1.1\n"
        "1000.1.2,6.00,ORDER_UPDATE,1000.1.3\n",
    )
    results = _write(tmp_path / "results.csv", "Line,ActionId,Message\n2,1000.1.1,NO_CHANGE\n")
    code, stdout, stderr = _invoke("reconcile", sent, results, "-o", tmp_path / "o")
    assert (code, stdout) == (2, "")
    assert stderr == (
        f"reconciler: {sent}:3: columns 'ActionId' and 'Action Id' both hold ActionId, with "
        "different values ('1000.1.2' and '1000.1.3'); remove or rename one\n"
    )
    twice = _write(tmp_path / "twice.csv", "Line,Message,Message\n2,NO_CHANGE,ALREADY_LOCKED\n")
    code, _, stderr = _invoke("reconcile", demo / "sent.csv", twice, "-o", tmp_path / "o")
    assert code == 2
    assert "two columns 'Message' both hold Error Code, with different values" in stderr


def test_invisible_and_look_alike_header_characters_are_read_and_said(tmp_path: Path) -> None:
    sent = tmp_path / "sent.csv"
    sent.write_bytes(
        "ActionId,\u0410mount,Re\ufeffason,Action\u200bId\n"
        "1000.1.1,5.00,ORDER_UPDATE,1000.1.1\n".encode()
    )
    results = _write(tmp_path / "results.csv", "Line,ActionId,Message\n2,1000.1.1,NO_CHANGE\n")
    out = tmp_path / "out"
    code, stdout, _ = _invoke("reconcile", sent, results, "-o", out)
    assert code == 1
    assert (
        "sent.csv: column 'Аmount' is read as 'amount': its header holds letters of another "
        in stdout
    )
    assert (
        "sent.csv: column 'Re\\ufeffason' is read as 'reason': its header holds invisible "
        in stdout
    )
    assert (
        "columns 'ActionId' and 'Action\\u200bId' both hold ActionId, with the same values"
        in stdout
    )
    # The header row goes back to impact.com exactly as written.
    header = (out / "reconciled.csv").read_bytes().split(b"\n")[0]
    assert header.startswith("ActionId,\u0410mount,Re\ufeffason,Action\u200bId,".encode())


# --------------------------------------------------------------------------- the output folder

DEMO = Path(__file__).resolve().parent.parent / "fixtures" / "modification_view_errors"


def _reconcile_into(out: Path | str, *extra: str) -> tuple[int, str, str]:
    return _invoke("reconcile", DEMO / "sent.csv", DEMO / "results.csv", "-o", out, *extra)


def test_out_dot_force_never_removes_the_analysts_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    _write(tmp_path / "notes.txt", "my notes")
    (tmp_path / "drafts").mkdir()
    _write(tmp_path / "drafts" / "fix.csv", "x")
    code, _, stderr = _reconcile_into(".")
    assert code == 2 and "was not made by reconciler" in stderr
    for _ in range(2):  # and again: only reconciler's own files are replaced
        code, _, _ = _reconcile_into(".", "--force")
        assert code == 1
    assert (tmp_path / "notes.txt").read_text(encoding="utf-8") == "my notes"
    assert (tmp_path / "drafts" / "fix.csv").read_text(encoding="utf-8") == "x"
    assert (tmp_path / "reconciled.csv").exists() and (tmp_path / "report.html").exists()
    assert not [
        p.name for p in tmp_path.parent.iterdir() if p.name.startswith(f".{tmp_path.name}.")
    ]


def test_files_added_or_edited_in_an_output_folder_are_kept(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert _reconcile_into(out)[0] == 1
    _write(out / "notes.txt", "call the partner")
    (out / "needs-attention.csv").write_text("edited by hand\n", encoding="utf-8")
    code, _, stderr = _reconcile_into(out)
    assert code == 2
    assert stderr == (
        f"reconciler: {out}: holds files edited since reconciler wrote them: "
        "needs-attention.csv; added since: notes.txt; move them out of the folder, choose "
        "another --out, or pass --force (your files are kept, an edited output is kept aside "
        "under a dated name)\n"
    )
    code, _, stderr = _reconcile_into(out, "--force")
    assert code == 1
    assert (out / "notes.txt").read_text(encoding="utf-8") == "call the partner"
    kept = [p for p in out.iterdir() if p.name.startswith("needs-attention.edited-")]
    assert len(kept) == 1 and kept[0].read_text(encoding="utf-8") == "edited by hand\n"
    assert (
        f"needs-attention.csv had been edited since reconciler wrote it: kept as {kept[0].name}"
        in stderr
    )
    assert (out / "needs-attention.csv").read_text(encoding="utf-8-sig").startswith("ActionId,")
    # reconciler report rewrites report.html and keeps it reconciler's own
    assert _invoke("report", out)[0] == 0
    assert _reconcile_into(out)[0] == 2  # notes.txt and the kept file are still the analyst's


def test_a_symlinked_out_is_written_through(tmp_path: Path) -> None:
    target = tmp_path / "real"
    link = tmp_path / "link"
    link.symlink_to(target, target_is_directory=True)
    target.mkdir()
    for _ in range(2):
        assert _reconcile_into(link)[0] == 1
    assert link.is_symlink() and (target / "reconciled.csv").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link", "real"]


def test_a_long_legal_folder_name_is_accepted(tmp_path: Path) -> None:
    out = tmp_path / ("o" * 250)
    for _ in range(2):
        assert _reconcile_into(out)[0] == 1
    assert (out / "reconciled.csv").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]


def test_what_a_killed_run_left_is_recovered(tmp_path: Path) -> None:
    from reconciler import writers

    out = tmp_path / "OUT"
    assert _reconcile_into(out)[0] == 1
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    dead = 2**22 + 12345  # above the kernel's pid limit: no such process
    # Killed mid-swap: the previous outputs set aside, the new ones not yet in place.
    out.rename(tmp_path / f".OUT.old-{dead}")
    # Killed while writing: a staging folder of 40 MB that no one would remove.
    stale = tmp_path / f".OUT.{dead}-abcd1234.tmp"
    stale.mkdir()
    _write(stale / "reconciled.csv", "half")
    said = writers.recover_interrupted(out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["OUT"]
    assert any("restored the previous outputs" in s for s in said)
    assert any("unfinished outputs of an interrupted run" in s for s in said)
    # A staging folder of a running process is left alone.
    live = tmp_path / f".OUT.{os.getpid()}-live.tmp"
    live.mkdir()
    writers.recover_interrupted(out)
    assert live.exists()


# --------------------------------------------------------------------------- encodings


def test_one_stray_byte_does_not_re_decode_the_file(tmp_path: Path) -> None:
    sent = tmp_path / "sent.csv"
    sent.write_bytes(
        "ActionId,Oid,ActionTrackerId,Amount,CurrencyCode,CustomerStatus,Reason\n"
        ",ORD-\u00dc1,16027,0,,,ITEM_RETURNED\n".encode()
        + b",T2,16027,0,,,Caf\xe9\n"
    )
    results = tmp_path / "results.csv"
    results.write_text("Line,Order Id,Message\n2,ORD-\u00dc1,ALREADY_LOCKED\n", encoding="utf-8")
    code, stdout, stderr = _invoke("reconcile", sent, results, "-o", tmp_path / "o")
    assert (code, stdout) == (2, "")
    assert stderr == (
        f"reconciler: {sent}:3: is UTF-8 except for 1 invalid byte on line 3; re-reading the "
        "whole file in another encoding would change its other values: fix those bytes (save "
        "it again as CSV UTF-8), or say how it is encoded with --encoding (e.g. --encoding "
        "cp1252)\n"
    )
    code, _, _ = _invoke("check", sent, "-o", tmp_path / "c")
    assert code == 2  # check reads the file the same way
    code, _, stderr = _invoke(
        "reconcile", sent, results, "--encoding", "nope", "-o", tmp_path / "o"
    )
    assert code == 2 and "--encoding 'nope' is not an encoding Python knows" in stderr


@pytest.mark.parametrize(
    ("encoding", "oid", "name"),
    [
        ("cp1252", "ORD-\u00dc1", "M\u00fcller"),
        ("gb18030", "\u8ba2\u5355-7", "\u5f20\u4f1f"),
        ("cp1250", "Z-\u0141\u00f3d\u017a", "\u017b\u00f3\u0142\u0107 \u015awi\u0119ty"),
        ("cp1251", "\u0417\u0410\u041a-3", "\u041c\u043e\u0441\u043a\u0432\u0430"),
        ("cp932", "\u6ce8\u6587-5", "\u5c71\u7530\u592a\u90ce"),
    ],
)
def test_a_legacy_encoding_is_worked_out_from_the_bytes(
    tmp_path: Path, encoding: str, oid: str, name: str
) -> None:
    sent = tmp_path / "sent.csv"
    sent.write_bytes(
        (
            "Oid,ActionTrackerId,Amount,CustomerStatus,Reason\n"
            f"{oid},16027,0,,ITEM_RETURNED\n"
            f"T2,16027,12.00,{name},ORDER_UPDATE\n"
        ).encode(encoding)
    )
    results = tmp_path / "results.csv"
    results.write_text(f"Line,Order Id,Message\n2,{oid},ALREADY_LOCKED\n", encoding="utf-8")
    out = tmp_path / "out"
    code, stdout, _ = _invoke("reconcile", sent, results, "-o", out)
    assert code == 1
    assert "2 records sent: 1 accepted (50.0%), 1 rejected" in stdout
    assert f"sent.csv is not UTF-8: read as {encoding}" in stdout
    reconciled = (out / "reconciled.csv").read_text(encoding="utf-8").splitlines()
    assert reconciled[1].startswith(
        f"{oid},16027,0,,ITEM_RETURNED,2,rejected,ALREADY_LOCKED,no_action,line"
    )
    assert reconciled[2].startswith(f"T2,16027,12.00,{name},ORDER_UPDATE,3,accepted")


def test_a_flood_of_codes_on_one_record_stays_bounded(tmp_path: Path) -> None:
    import json

    codes = " ".join(f"CODE_{i:06d}" for i in range(100_000))
    results = tmp_path / "results.json"
    results.write_text(
        json.dumps(
            {
                "APISubmissions": [
                    {
                        "BatchId": "A-1",
                        "ActionId": "1000.4636.158133",
                        "Status": "Complete",
                        "CompletionDate": "2025-01-01T00:00:00Z",
                        "ErrorType": "Validation",
                        "ErrorReason": codes,
                    }
                ]
            }
        ),
        encoding="utf-8",
    )
    out = tmp_path / "out"
    code, _, _ = _invoke("reconcile", DEMO / "sent.csv", results, "-o", out)
    assert code == 1
    html = (out / "report.html").read_text(encoding="utf-8")
    assert len(html) < 1_000_000  # it was 62.8 MB
    assert "and 99,980 more in reconciled.csv" in html
    row = (out / "reconciled.csv").read_text(encoding="utf-8").splitlines()[1]
    assert row.count("CODE_") >= 100_000  # every code stays in the CSV
    assert "and 99,990 more codes (ErrorCodes lists them all" in row
    assert len(row) < 2_000_000


def test_workbook_id_cells_without_a_value_are_never_resubmitted(tmp_path: Path) -> None:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["ActionId", "Amount", "Reason"])
    ws.append(['=VLOOKUP("x",Z:Z,1,FALSE)', "5.00", "item returned"])  # never calculated
    ws.append(["1000.1.3", "6.00", "item returned"])
    ws.append(["1000.1.3", "7.00", "item returned"])
    ws.merge_cells("A3:A4")  # row 4's ActionId is merged into A3
    ws.append(["#N/A", "8.00", "item returned"])
    ws["A5"].data_type = "e"
    ws.append(["1000.1.6", "9.00", "item returned"])
    sent = tmp_path / "sent.xlsx"
    wb.save(sent)
    results = _write(
        tmp_path / "results.csv",
        "Line,Message\n2,BAD_DISPOSITION\n3,BAD_DISPOSITION\n4,BAD_DISPOSITION\n"
        "5,BAD_DISPOSITION\n6,BAD_DISPOSITION\n",
    )
    out = tmp_path / "out"
    code, _, _ = _invoke("reconcile", sent, results, "-o", out)
    assert code == 1
    resubmit = (out / "resubmit.csv").read_text(encoding="utf-8").splitlines()
    assert resubmit[1:] == ["1000.1.3,6.00,ITEM_RETURNED", "1000.1.6,9.00,ITEM_RETURNED"]
    attention = (out / "needs-attention.csv").read_text(encoding="utf-8").lower()
    assert "its actionid cell (sheet row 2) is a formula without a saved value" in attention
    assert "its actionid cell (sheet row 4) is merged into a3" in attention
    assert "its actionid cell (sheet row 5) is the excel error #n/a" in attention
    code, _, _ = _invoke("check", sent, "-o", tmp_path / "checked")
    found = (tmp_path / "checked" / "check.csv").read_text(encoding="utf-8")
    assert found.count(",id-cell-unreadable,error,ACTION_NOT_FOUND,") == 3


def test_files_analysts_open_carry_a_bom_and_files_for_impact_com_do_not(tmp_path: Path) -> None:
    """Excel on Windows reads a CSV as UTF-8 only with a byte-order mark: the files an analyst
    double-clicks have one (their "→" and accents read right); the files meant for impact.com
    (resubmit.csv, check --fix's file) and the machine-read contract (reconciled.csv,
    unmatched_results.csv) are exactly as before."""
    out = tmp_path / "out"
    assert _reconcile_into(out)[0] == 1
    bom = b"\xef\xbb\xbf"
    for name in ("needs-attention.csv", "changes.csv"):
        data = (out / name).read_bytes()
        assert data.startswith(bom + b"ActionId,") or data.startswith(bom + b"SourceLine,"), name
    assert "→".encode() in (out / "needs-attention.csv").read_bytes()  # "would also correct"
    for name in ("resubmit.csv", "reconciled.csv", "unmatched_results.csv"):
        assert not (out / name).read_bytes().startswith(bom), name
    checked = tmp_path / "checked"
    code, _, stderr = _invoke("check", DEMO / "sent.csv", "--fix", "-o", checked)
    assert code in (0, 1), stderr
    assert (checked / "check.csv").read_bytes().startswith(bom + b"SourceLine,")
    assert (checked / "changes.csv").read_bytes().startswith(bom)
    fixed = next(p for p in checked.iterdir() if p.name.endswith(".fixed.csv"))
    assert fixed.read_bytes().startswith(b"ActionId,")
