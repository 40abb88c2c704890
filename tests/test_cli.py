"""CLI contract: exit codes, one-line errors, outputs, and a real run of the installed entry point."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from reconciler.cli import app

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "fixtures" / "modification_view_errors"
runner = CliRunner()


def _invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_reconcile_demo_writes_every_output(tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, stdout, _ = _invoke(
        "reconcile", str(DEMO / "sent.csv"), str(DEMO / "results.csv"), "--out", str(out)
    )
    assert code == 1  # records need attention
    assert "30 records sent: 20 accepted (66.7%), 10 rejected" in stdout
    names = {p.name for p in out.iterdir()}
    assert {
        "reconciled.csv",
        "unmatched_results.csv",
        "summary.json",
        "resubmit.csv",
        "changes.csv",
        "needs-attention.csv",
        "needs-attention.xlsx",
    } <= names
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["sent_records"] == 30
    assert summary["line_base"] == "physical"


def test_all_accepted_exits_zero(tmp_path: Path) -> None:
    folder = ROOT / "fixtures" / "no_errors"
    code, stdout, _ = _invoke(
        "reconcile",
        str(folder / "sent.csv"),
        str(folder / "results.csv"),
        "-o",
        str(tmp_path / "o"),
        "--no-report",
        "--no-xlsx",
    )
    assert code == 0, stdout
    assert not (tmp_path / "o" / "resubmit.csv").exists()


def test_no_xlsx_writes_no_workbook_and_says_so(tmp_path: Path) -> None:
    out = tmp_path / "o"
    code, _stdout, stderr = _invoke(
        "reconcile", str(DEMO / "sent.csv"), str(DEMO / "results.csv"), "-o", str(out), "--no-xlsx"
    )
    assert code == 1, stderr
    names = {p.name for p in out.iterdir()}
    assert not {n for n in names if n.endswith(".xlsx")}
    assert {"needs-attention.csv", "report.html"} <= names
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["needs_attention_files"] == ["needs-attention.csv"]
    assert "needs-attention.xlsx" not in summary["outputs"]
    assert "needs-attention.xlsx" not in (out / "report.html").read_text(encoding="utf-8")


def test_missing_file_is_one_line_exit_2_no_traceback(tmp_path: Path) -> None:
    code, _stdout, stderr = _invoke(
        "reconcile",
        str(tmp_path / "nope.csv"),
        str(DEMO / "results.csv"),
        "-o",
        str(tmp_path / "o"),
    )
    assert code == 2
    lines = stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("reconciler: ") and "nope.csv" in lines[0]
    assert "Traceback" not in stderr
    assert not (tmp_path / "o").exists()


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    _code, _out, stderr = _invoke(
        "reconcile",
        str(tmp_path / "nope.csv"),
        str(DEMO / "results.csv"),
        "--debug",
        "-o",
        str(tmp_path / "o"),
    )
    assert "Traceback" in stderr


def test_swapped_arguments_are_explained(tmp_path: Path) -> None:
    code, _out, stderr = _invoke(
        "reconcile", str(DEMO / "results.csv"), str(DEMO / "sent.csv"), "-o", str(tmp_path / "o")
    )
    assert code == 2
    assert "results export" in stderr


def test_bad_map_option(tmp_path: Path) -> None:
    code, _out, stderr = _invoke(
        "reconcile",
        str(DEMO / "sent.csv"),
        str(DEMO / "results.csv"),
        "--map",
        "line=No Such Column",
        "-o",
        str(tmp_path / "o"),
    )
    assert code == 2
    assert "No Such Column" in stderr and "columns are" in stderr


def test_map_option_names_a_column(tmp_path: Path) -> None:
    res = tmp_path / "res.csv"
    res.write_text("Row #,Ord,Problem\n4,,ALREADY_LOCKED\n", encoding="utf-8")
    code, stdout, stderr = _invoke(
        "reconcile",
        str(DEMO / "sent.csv"),
        str(res),
        "--map",
        "line=Row #",
        "--map",
        "code=Problem",
        "-o",
        str(tmp_path / "o"),
    )
    assert code == 1, stderr
    assert "ALREADY_LOCKED 1" in stdout


def test_line_base_option(tmp_path: Path) -> None:
    res = tmp_path / "res.csv"
    res.write_text("Line,Message\n3,ALREADY_LOCKED\n", encoding="utf-8")
    _invoke(
        "reconcile",
        str(DEMO / "sent.csv"),
        str(res),
        "--line-base",
        "data1",
        "-o",
        str(tmp_path / "o"),
    )
    summary = json.loads((tmp_path / "o" / "summary.json").read_text(encoding="utf-8"))
    assert summary["line_base"] == "data1"
    assert summary["by_code"] == {"ALREADY_LOCKED": 1}


def test_out_pointing_at_input_folder_is_refused(tmp_path: Path) -> None:
    sent = tmp_path / "sent.csv"
    shutil.copy(DEMO / "sent.csv", sent)
    code, _out, stderr = _invoke(
        "reconcile", str(sent), str(DEMO / "results.csv"), "-o", str(tmp_path)
    )
    assert code == 2
    assert "input" in stderr
    assert sent.read_bytes() == (DEMO / "sent.csv").read_bytes()


def test_foreign_out_folder_needs_force(tmp_path: Path) -> None:
    out = tmp_path / "o"
    out.mkdir()
    (out / "keep.txt").write_text("mine", encoding="utf-8")
    code, _o, stderr = _invoke(
        "reconcile", str(DEMO / "sent.csv"), str(DEMO / "results.csv"), "-o", str(out)
    )
    assert code == 2 and "--force" in stderr
    assert (out / "keep.txt").exists()
    code, _o, _e = _invoke(
        "reconcile", str(DEMO / "sent.csv"), str(DEMO / "results.csv"), "-o", str(out), "--force"
    )
    assert code == 1
    # --force adds reconciler's files; it never removes one reconciler did not write.
    assert (out / "keep.txt").read_text(encoding="utf-8") == "mine"
    assert (out / "reconciled.csv").exists()


def test_rerun_replaces_own_outputs(tmp_path: Path) -> None:
    out = tmp_path / "o"
    for _ in range(2):
        code, _o, _e = _invoke(
            "reconcile", str(DEMO / "sent.csv"), str(DEMO / "results.csv"), "-o", str(out)
        )
        assert code == 1
    assert (out / "reconciled.csv").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_max_rows_splits_the_resubmission(tmp_path: Path) -> None:
    sent = tmp_path / "sent.csv"
    sent.write_text(
        "ActionId,Amount,Reason\n" + "".join(f"1000.1.{i},0,item returned\n" for i in range(5)),
        encoding="utf-8",
    )
    res = tmp_path / "res.csv"
    res.write_text(
        "Line,Message\n" + "".join(f"{i + 2},BAD_DISPOSITION\n" for i in range(5)), encoding="utf-8"
    )
    out = tmp_path / "o"
    _invoke("reconcile", str(sent), str(res), "-o", str(out), "--max-rows", "2")
    parts = sorted(p.name for p in out.glob("resubmit-*.csv"))
    assert parts == ["resubmit-001.csv", "resubmit-002.csv", "resubmit-003.csv"]
    texts = [(out / p).read_text(encoding="utf-8").splitlines() for p in parts]
    assert all(t[0] == "ActionId,Amount,Reason" for t in texts)
    assert sum(len(t) - 1 for t in texts) == 5


def test_codes_and_explain() -> None:
    code, stdout, _ = _invoke("codes")
    assert code == 0 and "BAD_DISPOSITION" in stdout and "ALREADY_LOCKED" in stdout
    code, stdout, _ = _invoke("explain", "already locked")
    assert code == 0
    assert stdout.startswith("ALREADY_LOCKED:")
    assert "resolution: no_action" in stdout
    code, stdout, _ = _invoke("explain", "TOTALLY_NEW")
    assert code == 1 and "not in the catalogue" in stdout


def test_version() -> None:
    code, stdout, _ = _invoke("--version")
    assert code == 0 and stdout.startswith("reconciler ")


@pytest.mark.skipif(shutil.which("reconciler") is None, reason="the package is not installed")
def test_installed_entry_point_runs_for_real(tmp_path: Path) -> None:
    out = tmp_path / "o"
    env = {**os.environ, "SOURCE_DATE_EPOCH": "1790000000"}
    proc = subprocess.run(
        [
            "reconciler",
            "reconcile",
            str(DEMO / "sent.csv"),
            str(DEMO / "results.csv"),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr
    assert (out / "reconciled.csv").exists()
    module = subprocess.run(
        [sys.executable, "-m", "reconciler", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert module.returncode == 0 and "reconciler" in module.stdout


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("map.csv", "from,to\nReturned,ORDER RETURNED\n"),
        ("map.toml", '"Returned" = "ORDER RETURNED"\n'),
    ],
)
def test_reason_map_file_fixes_custom_reasons(tmp_path: Path, name: str, text: str) -> None:
    mapping = tmp_path / name
    mapping.write_text(text, encoding="utf-8")
    out = tmp_path / "o"
    code, _o, stderr = _invoke(
        "reconcile",
        str(DEMO / "sent.csv"),
        str(DEMO / "results.csv"),
        "-o",
        str(out),
        "--reason-map",
        str(mapping),
        "--no-report",
        "--no-xlsx",
    )
    assert code == 1, stderr
    changes = (out / "changes.csv").read_text(encoding="utf-8")
    # Line 12 also has MALFORMED ($1,299.00): both fixes apply, so it is resubmitted.
    assert '12,Amount,"$1,299.00",1299.00,amount-plain-decimal' in changes
    assert "12,Reason,Returned,ORDER RETURNED,reason-map" in changes
    resubmit = (out / "resubmit.csv").read_text(encoding="utf-8")
    assert "1000.4636.158419,,,1299.00,USD,,ORDER RETURNED" in resubmit


def test_bad_timezone_is_a_usage_error(tmp_path: Path) -> None:
    code, _o, stderr = _invoke(
        "reconcile", str(DEMO / "sent.csv"), str(DEMO / "results.csv"), "--timezone", "Mars/Base"
    )
    assert code == 2 and "--timezone" in stderr


def test_needs_attention_workbook_highlights_the_cells_to_fix(tmp_path: Path) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    out = tmp_path / "o"
    _invoke("reconcile", str(DEMO / "sent.csv"), str(DEMO / "results.csv"), "-o", str(out))
    ws = openpyxl.load_workbook(out / "needs-attention.xlsx").active
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref is not None
    header = [c.value for c in ws[1]]
    rows = {str(r[header.index("SourceLine")].value): r for r in ws.iter_rows(min_row=2)}
    line12 = rows["12"]  # 'Returned' and '$1,299.00': Reason and Amount to fix
    lit = {header[i] for i, c in enumerate(line12) if c.fill.fgColor.rgb == "FFFFF2CC"}
    assert lit == {"Amount", "Reason"}
    oid = rows["6"][header.index("Oid")]
    assert (oid.value, oid.data_type) == ("12346", "s")  # text, as sent


def test_results_without_lines_say_line_numbers_were_not_used(tmp_path: Path) -> None:
    folder = ROOT / "fixtures" / "mobile_api_submissions"
    out = tmp_path / "o"
    _invoke("reconcile", str(folder / "sent.csv"), str(folder / "results.json"), "-o", str(out))
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["line_base_detail"].startswith("not used")
    assert not any("assumed" in w for w in summary["warnings"])


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
def test_progress_bar_on_a_terminal(tmp_path: Path) -> None:
    """A terminal gets a progress bar naming each stage (forced on for this small file);
    a pipe gets none, so logs stay clean."""
    import pty

    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
        "RECONCILER_PROGRESS": "1",
        "COLUMNS": "120",
    }
    args = [sys.executable, "-m", "reconciler", "reconcile", str(DEMO / "sent.csv"),
            str(DEMO / "results.csv"), "-o", str(tmp_path / "o"), "--quiet"]  # fmt: skip
    leader, follower = pty.openpty()
    proc = subprocess.Popen(args, env=env, stdin=follower, stdout=follower, stderr=follower)
    os.close(follower)
    seen = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    os.close(leader)
    assert proc.wait(timeout=60) == 1
    text = seen.decode("utf-8", errors="replace")
    # With the ledger (on here), one stage more: looking up earlier batches.
    assert "0/10" in text and "starting" in text  # stages counted from the start
    assert "writing outputs" in text and "9/10" in text  # the last stage, named

    piped = subprocess.run(
        [*args[:-3], "-o", str(tmp_path / "p"), "--quiet"],
        env={**env, "RECONCILER_PROGRESS": ""},
        capture_output=True,
        timeout=60,
    )
    assert piped.returncode == 1
    assert piped.stderr == b""


@pytest.mark.parametrize(
    ("command", "usage"),
    [
        ("reconcile", "reconcile [OPTIONS] SENT [RESULTS]...\n"),
        ("check", "check [OPTIONS] FILE\n"),
        ("report", "report [OPTIONS] OUT_DIR\n"),
        ("explain", "explain [OPTIONS] CODE\n"),
        ("fetch", "fetch [OPTIONS] BATCH_ID\n"),
    ],
)
def test_help_names_arguments_as_the_readme_does(command: str, usage: str) -> None:
    """Capitals as the README writes them, no typer braces, no <bool> beside a flag, no type
    beside a metavar; the --out default is said, not eaten as markup."""
    done = subprocess.run(
        [sys.executable, "-m", "reconciler", command, "--help"],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "120", "NO_COLOR": "1", "TERM": "dumb"},
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    text = "\n".join(line.rstrip() for line in done.stdout.splitlines()) + "\n"
    assert usage in text
    assert "{" not in text.split("\n", 3)[1]
    assert "<bool>" not in text and "<path>" not in text and "<str>" not in text
    if command in ("reconcile", "check"):
        assert "Output folder (default: <" in text


def test_counts_read_as_words_with_thousands_separators(tmp_path: Path) -> None:
    sent = tmp_path / "sent.csv"
    rows = "".join(f"1000.4636.{500000 + i},,,10.00,USD,,ORDER_UPDATE\n" for i in range(1200))
    sent.write_text(
        "ActionId,Oid,ActionTrackerId,Amount,CurrencyCode,CustomerStatus,Reason\n" + rows
    )
    results = tmp_path / "results.csv"
    results.write_text(
        "Line,Order Id,Action Tracker Id,Error Type,Message\n2,,,Validation,NO_CHANGE\n"
    )
    result = runner.invoke(
        app, ["reconcile", str(sent), str(results), "-o", str(tmp_path / "o"), "--no-ledger"]
    )
    assert result.exit_code == 1, result.stderr
    assert result.stdout.startswith("1,200 records sent: 1,199 accepted (99.9%), 1 rejected\n")
    assert "  1 of 1 result tied" in result.stdout
    single = tmp_path / "one.csv"
    single.write_text(
        "ActionId,Oid,ActionTrackerId,Amount,CurrencyCode,CustomerStatus,Reason\n"
        "1000.4636.1,,,12.50,USD,,item returned\n"
    )
    result = runner.invoke(app, ["check", str(single), "-o", str(tmp_path / "c"), "--fix"])
    assert result.stdout.startswith(
        "1 record checked (order-level modification / reversal): 1 error on 1 record, "
    )
    assert "--fix corrected 1 cell on 1 record" in result.stdout


@pytest.mark.parametrize(
    ("typed", "suggested"),
    [
        ("lockd", "ALREADY_LOCKED"),
        ("bad dispostion", "BAD_DISPOSITION"),
        ("no chnge", "NO_CHANGE"),
        ("revrsed", "ALREADY_REVERSED"),
    ],
)
def test_explain_suggests_the_nearest_codes(typed: str, suggested: str) -> None:
    result = runner.invoke(app, ["explain", typed])
    assert result.exit_code == 1
    line = next(x for x in result.stdout.splitlines() if x.startswith("  did you mean: "))
    assert line.removeprefix("  did you mean: ").split(", ")[0].rstrip("?") == suggested


def test_explain_suggests_nothing_for_nothing_close() -> None:
    result = runner.invoke(app, ["explain", "xyzzy"])
    assert "did you mean" not in result.stdout


def test_check_lists_the_first_findings_as_a_table(tmp_path: Path) -> None:
    demo = ROOT / "fixtures" / "modification_view_errors" / "sent.csv"
    result = runner.invoke(app, ["check", str(demo), "-o", str(tmp_path / "a")])
    lines = result.stdout.splitlines()
    at = next(
        i
        for i, x in enumerate(lines)
        if x.split() == ["line", "column", "value", "finding", "predicted", "error"]
    )
    assert lines[at + 1].split() == [
        "7",
        "Reason",
        "item",
        "returned",
        "reason-not-standard",
        "BAD_DISPOSITION",
    ]
    assert lines[at + 4].split() == ["14", "Oid", "1.23457E+11", "id-spoiled", "ACTION_NOT_FOUND"]
    many = tmp_path / "many.csv"
    many.write_text(
        "ActionId,Oid,ActionTrackerId,Amount,CurrencyCode,CustomerStatus,Reason\n"
        + "".join(f"1000.4636.{i},,,10.00,USD,,returned\n" for i in range(25))
    )
    result = runner.invoke(app, ["check", str(many), "-o", str(tmp_path / "b")])
    assert "  and 15 more in check.csv" in result.stdout
    assert (
        sum(
            1
            for x in result.stdout.splitlines()
            if "reason-not-standard" in x and x.startswith("  ") and x.split()[0].isdigit()
        )
        == 10
    )


def test_option_parsing_leaves_pydantic_unimported(tmp_path: Path) -> None:
    """typer would convert every option through pydantic (about 0.1 s of each run): options
    left unset, given as text and paths, or as plain numbers and choices skip it; a bad value
    is still refused by typer, in its words."""
    demo = ROOT / "fixtures" / "modification_view_errors"
    run = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "reconciler", "reconcile",
         str(demo / "sent.csv"), str(demo / "results.csv"), "--out", str(tmp_path / "out"),
         "--no-ledger", "--quiet", "--line-base", "physical", "--max-rows", "1000"],
        capture_output=True, text=True, check=False, cwd=ROOT,
    )  # fmt: skip
    assert run.returncode == 1, run.stderr[-2000:]
    assert (tmp_path / "out" / "report.html").exists()
    assert [line for line in run.stderr.splitlines() if "pydantic" in line] == []
    code, _out, err = _invoke("reconcile", str(demo / "sent.csv"), "--max-rows", "x")
    assert code == 2 and "Invalid value for '--max-rows'" in err
    code, _out, err = _invoke("reconcile", str(demo / "sent.csv"), "--max-rows", "0")
    assert code == 2 and "greater than or equal to 1" in err
    code, _out, err = _invoke("reconcile", str(demo / "sent.csv"), "--line-base", "DATA1")
    assert code == 2 and "'DATA1' is not one of 'auto', 'physical'" in err
