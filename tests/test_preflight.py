"""Pre-submission checks (``reconciler check``).

Per check: tests/cases/checks/<slug>.toml holds fail and pass cases as data. Each case is a
file written from ``header`` + ``rows`` (or raw ``text``) in the case's encoding, delimiter and
file name, read with the real reader and checked with --today 2025-02-20. A fail case lists the
``(SourceLine, Column, Finding[, PredictedError])`` tuples of its finding; a pass case has none.
Then: the registry, the generated docs, the vectorised helpers, and the CLI contract.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import tomllib
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from reconciler import preflight
from reconciler.actions import index_actions, is_locked
from reconciler.cli import app
from reconciler.fixes import timezone
from reconciler.normalize import id_key
from reconciler.preflight import CHECKS, CheckOptions, Severity, check, describe_checks
from reconciler.readers import read_table
from tests.helpers import table

ROOT = Path(__file__).resolve().parent.parent
CASES_DIR = Path(__file__).parent / "cases" / "checks"
FIXTURES = ROOT / "fixtures"
TODAY = date(2025, 2, 20)
runner = CliRunner()


# ----------------------------------------------------------------------------- per-check cases


def _load(path: Path) -> dict[str, Any]:
    return tomllib.loads(path.read_text(encoding="utf-8"))


def _cases() -> list[Any]:
    out = []
    for path in sorted(CASES_DIR.glob("*.toml")):
        data = _load(path)
        for kind in ("fail", "pass"):
            for case in data.get(kind, []):
                out.append(
                    pytest.param(path.stem, kind, case, id=f"{path.stem}/{kind}: {case['name']}")
                )
    return out


def write_case(folder: Path, case: dict[str, Any]) -> Path:
    """The case as a file on disk, as a user would have it."""
    path = folder / case.get("filename", "sent.csv")
    encoding = case.get("encoding", "utf-8")
    if "text" in case:
        path.write_bytes(case["text"].encode(encoding))
        return path
    rows = [list(r) for r in case["rows"]] * int(case.get("repeat", 1))
    if path.suffix == ".xlsx":
        from openpyxl import Workbook

        wb = Workbook()
        ws = wb.active
        assert ws is not None
        for row in [case["header"], *rows]:
            ws.append(row)
        wb.save(path)
        return path
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=case.get("delimiter", ","), lineterminator="\n")
    writer.writerow(case["header"])
    writer.writerows(rows)
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


def options_of(case: dict[str, Any]) -> CheckOptions:
    actions = None
    if "actions" in case:
        actions = index_actions(table(case["actions_header"], case["actions"], name="actions.csv"))
    return CheckOptions(
        reason_map=case.get("reason_map", {}),
        actions=actions,
        today=date.fromisoformat(case.get("today", TODAY.isoformat())),
        timezone=timezone(case.get("timezone")),
    )


def findings_of(result: preflight.CheckResult, slug: str) -> list[tuple[Any, ...]]:
    f = result.findings
    f = f[f["Finding"] == slug]
    return sorted(
        (int(line), str(col), str(slug_), str(code))
        for line, col, slug_, code in zip(
            f["SourceLine"], f["Column"], f["Finding"], f["PredictedError"], strict=True
        )
    )


@pytest.mark.parametrize(("slug", "kind", "case"), _cases())
def test_check_case(slug: str, kind: str, case: dict[str, Any], tmp_path: Path) -> None:
    path = write_case(tmp_path, case)
    result = check(read_table(path), options_of(case))
    got = findings_of(result, slug)
    if kind == "pass":
        assert got == [], result.findings.to_string()
        return
    expected = sorted(tuple(e) for e in case["expected"])
    assert [g[:3] for g in got] == [e[:3] for e in expected], result.findings.to_string()
    for g, e in zip(got, expected, strict=True):
        if len(e) == 4:
            assert g[3] == e[3], f"PredictedError of {g}"


def test_every_check_has_fail_and_pass_cases() -> None:
    files = {p.stem for p in CASES_DIR.glob("*.toml")}
    slugs = {c.slug for c in CHECKS}
    assert files == slugs, (
        f"without cases: {sorted(slugs - files)}; unknown: {sorted(files - slugs)}"
    )
    for slug in slugs:
        data = _load(CASES_DIR / f"{slug}.toml")
        assert data.get("fail"), f"{slug}: no fail case"
        assert data.get("pass"), f"{slug}: no pass case"
        for case in data["fail"]:
            assert all(e[2] == slug for e in case["expected"]), f"{slug}: {case['name']}"


# ----------------------------------------------------------------------------- the registry


def test_registry_is_well_formed() -> None:
    from reconciler.catalogue import load_catalogue

    cat = load_catalogue()
    for c in CHECKS:
        assert c.slug == c.slug.lower() and " " not in c.slug and "_" not in c.slug, c.slug
        assert c.severity in (Severity.ERROR, Severity.WARNING)
        assert c.title and c.description and c.example, c.slug
        if c.predicted_error:
            assert cat.get(c.predicted_error).known, (
                f"{c.slug}: {c.predicted_error} not in catalogue"
            )


def test_file_encoding_and_delimiter_findings_are_warnings() -> None:
    for slug in ("utf8-bom", "not-utf8", "delimiter-not-comma"):
        assert preflight.BY_SLUG[slug].severity is Severity.WARNING
    assert preflight.BY_SLUG["duplicate-action"].severity is Severity.WARNING


def test_docs_are_generated_from_the_registry() -> None:
    doc = ROOT / "docs" / "checks.md"
    if os.environ.get("RECONCILER_REGENERATE"):
        doc.parent.mkdir(exist_ok=True)
        doc.write_text(describe_checks(), encoding="utf-8")
    assert doc.read_text(encoding="utf-8") == describe_checks(), (
        "docs/checks.md is out of date: run RECONCILER_REGENERATE=1 pytest tests/test_preflight.py"
    )
    for c in CHECKS:
        assert f"`{c.slug}`" in describe_checks()


def test_findings_have_fixed_columns_and_a_stable_order(tmp_path: Path) -> None:
    path = write_case(
        tmp_path,
        {
            "header": ["ActionId", "Oid", "ActionTrackerId", "Amount", "Reason"],
            "rows": [
                ["", "1.2E+11", "16027.0", "-1", "returned"],
                ["1000.1.1", "", "", "$5", "ORDER_UPDATE"],
            ],
            "delimiter": ";",
        },
    )
    first = check(read_table(path), CheckOptions(today=TODAY)).findings
    again = check(read_table(path), CheckOptions(today=TODAY)).findings
    assert tuple(first.columns) == preflight.FINDING_COLUMNS
    pd.testing.assert_frame_equal(first, again)
    keys = list(zip(first["SourceLine"], first["Column"], first["Finding"], strict=True))
    assert keys == sorted(keys)
    assert set(first["Severity"]) <= {"error", "warning"}


def test_an_empty_check_has_the_columns() -> None:
    result = check(
        table(["ActionId", "Amount", "Reason"], [["M1000.1.1", "1.00", "ORDER_UPDATE"]]),
        CheckOptions(today=TODAY),
    )
    assert result.findings.empty
    assert tuple(result.findings.columns) == preflight.FINDING_COLUMNS
    assert result.errors == 0 and result.warnings == 0


# ----------------------------------------------------------------------------- helpers


def test_id_key_compares_spoiled_numbers_equal() -> None:
    values = ["00123", "123", "123.0", "0", "000", "0.0", "12", "A1", "1.5", "M1000.1.1",
              "1000.4636.1", "", "00A", "1,0", "0012.00", "T0001", " 7 "]  # fmt: skip
    got = list(id_key(pd.Series(values, dtype="str")))
    assert got == ["123", "123", "123", "0", "0", "0", "12", "A1", "1.5", "M1000.1.1",
                   "1000.4636.1", "", "00A", "1,0", "12", "T0001", "7"]  # fmt: skip
    assert list(id_key(pd.Series(values, dtype=object))) == got


def test_state_masks_mirror_is_locked() -> None:
    header = ["Action Id", "Oid", "Action Tracker Id", "State", "Amount", "Locking Date"]
    rows = [
        ["1.1.1", "", "", "PENDING", "1", "2025-01-31"],
        ["1.1.2", "", "", "PENDING", "1", "2025-02-20"],
        ["1.1.3", "", "", "APPROVED", "1", ""],
        ["1.1.4", "", "", "LOCKED", "1", "2025-03-01"],
        ["1.1.5", "", "", "PENDING", "1", ""],
        ["1.1.6", "", "", "PENDING", "1", "2025-02-19T23:59:59Z"],
    ]
    actions = index_actions(table(header, rows, name="a.csv"))
    sent = table(["ActionId", "Amount", "Reason"], [[r[0], "5.00", "ORDER_UPDATE"] for r in rows])
    result = check(sent, CheckOptions(actions=actions, today=TODAY))
    flagged = set(result.findings.loc[result.findings["Finding"] == "already-locked", "Value"])
    expected = {
        r[0]
        for r, (_, a) in zip(rows, actions.frame.iterrows(), strict=True)
        if is_locked(a, TODAY)
    }
    assert flagged == expected


def test_reason_near_misses() -> None:
    near = ["item returned", "Returned", "ITEM_RETURN", "CONS_FRUAD", "order-update", "RETURN"]
    custom = ["REFUND", "RETOURE", "ORDER RETURNED", "VIP_UPGRADE", "X"]
    assert all(preflight._reason_verdict(v)[0] == "near" for v in near), near
    assert all(preflight._reason_verdict(v)[0] == "custom" for v in custom), custom


def test_a_results_export_given_by_mistake_is_an_unknown_template() -> None:
    results = table(["Line", "Order Id", "Error Type", "Message"], [["2", "T1", "Validation", "X"]])
    result = check(results, CheckOptions(today=TODAY))
    assert list(result.findings["Finding"]) == ["unknown-template"]
    assert "results export" in result.findings["Advice"].iat[0]


def test_every_template_the_reconcile_command_recognises_is_checked() -> None:
    seen = set()
    for sent in sorted(FIXTURES.glob("*/sent.*")):
        seen.add(str(check(read_table(sent), CheckOptions(today=TODAY)).template))
    assert seen == {
        "modification", "item_modification", "mobile", "reset", "conversion",
        "item_conversion", "chained_conversion",
    }  # fmt: skip


# ----------------------------------------------------------------------------- CLI contract


def _invoke(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def test_check_exit_0_on_a_clean_file(tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, stdout, _ = _invoke(
        "check", str(FIXTURES / "no_errors" / "sent.csv"), "-o", str(out), "--today", "2025-02-20"
    )
    assert code == 0, stdout
    assert "12 records checked" in stdout and "0 errors" in stdout
    assert {p.name for p in out.iterdir()} >= {"check.csv", "check.json"}
    assert _rows(out / "check.csv") == []
    assert (
        (out / "check.csv")
        .read_text(encoding="utf-8-sig")
        .startswith("SourceLine,Column,Value,Finding,Severity,PredictedError,Advice\n")
    )
    summary = json.loads((out / "check.json").read_text(encoding="utf-8"))
    assert summary["errors"] == 0 and summary["findings"] == [] and summary["records"] == 12


def test_check_exit_1_with_errors_and_the_outputs(tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, stdout, _ = _invoke(
        "check", str(FIXTURES / "modification_view_errors" / "sent.csv"), "-o", str(out),
        "--today", "2025-02-20",
    )  # fmt: skip
    assert code == 1
    assert "30 records checked" in stdout and "4 errors on 3 records" in stdout
    assert "reason-not-standard 2" in stdout
    rows = _rows(out / "check.csv")
    assert [(r["SourceLine"], r["Column"], r["Finding"], r["PredictedError"]) for r in rows] == [
        ("7", "Reason", "reason-not-standard", "BAD_DISPOSITION"),
        ("12", "Amount", "amount-not-a-number", "MALFORMED"),
        ("12", "Reason", "reason-not-standard", "BAD_DISPOSITION"),
        ("14", "Oid", "id-spoiled", "ACTION_NOT_FOUND"),
    ]
    assert all(r["Severity"] == "error" and r["Advice"] for r in rows)
    summary = json.loads((out / "check.json").read_text(encoding="utf-8"))
    assert summary["by_finding"] == {
        "reason-not-standard": 2,
        "amount-not-a-number": 1,
        "id-spoiled": 1,
    }
    assert len(summary["findings"]) == 4 and summary["template"] == "modification"


def test_check_exit_1_only_for_errors_not_warnings(tmp_path: Path) -> None:
    sent = tmp_path / "sent.csv"
    sent.write_bytes(b"\xef\xbb\xbfActionId;Amount;Reason\nM1000.1.1;49,90;ORDER_UPDATE\n")
    code, stdout, _ = _invoke(
        "check", str(sent), "-o", str(tmp_path / "o"), "--today", "2025-02-20"
    )
    assert code == 0, stdout
    assert "3 warnings" in stdout


@pytest.mark.parametrize(
    "args",
    [
        ["--today", "2025-02-30"],
        ["--today", "20/02/2025"],
        ["--timezone", "Mars/Olympus"],
    ],
)
def test_check_exit_2_on_bad_options(args: list[str], tmp_path: Path) -> None:
    code, _, stderr = _invoke(
        "check", str(FIXTURES / "no_errors" / "sent.csv"), "-o", str(tmp_path / "o"), *args
    )
    assert code == 2
    assert stderr.startswith("reconciler: ") and len(stderr.strip().splitlines()) == 1


def test_check_exit_2_when_it_cannot_run(tmp_path: Path) -> None:
    code, _, stderr = _invoke("check", str(tmp_path / "missing.csv"))
    assert code == 2 and "does not exist" in stderr
    png = tmp_path / "x.csv"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20)
    code, _, stderr = _invoke("check", str(png), "-o", str(tmp_path / "o"))
    assert code == 2
    code, _, stderr = _invoke("check", str(png), "-o", str(tmp_path))
    assert code == 2 and "--out" in stderr


def test_check_default_out_folder_and_unknown_template(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent = tmp_path / "orders.csv"
    sent.write_text("Order,Total\nA1,10\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    code, stdout, _ = _invoke("check", str(sent))
    assert code == 1  # a finding, not a failure: check.csv says what is wrong
    assert [r["Finding"] for r in _rows(tmp_path / "orders_checked" / "check.csv")] == [
        "unknown-template"
    ]
    assert "orders_checked" in stdout


def test_check_uses_source_date_epoch_for_today(tmp_path: Path) -> None:
    sent = FIXTURES / "chained_conversion" / "sent.csv"
    feb = str(int(datetime(2025, 2, 20, tzinfo=UTC).timestamp()))
    code, _, _ = _invoke(
        "check", str(sent), "-o", str(tmp_path / "a"), env={"SOURCE_DATE_EPOCH": feb}
    )
    assert code == 1  # the lower-cased chained CustomerId
    findings = {r["Finding"] for r in _rows(tmp_path / "a" / "check.csv")}
    assert "event-date-too-old" not in findings
    later = str(int(datetime(2026, 1, 1, tzinfo=UTC).timestamp()))
    _invoke("check", str(sent), "-o", str(tmp_path / "b"), env={"SOURCE_DATE_EPOCH": later})
    findings = {r["Finding"] for r in _rows(tmp_path / "b" / "check.csv")}
    assert "event-date-too-old" in findings


def test_check_fix_writes_exact_bytes_and_changes(tmp_path: Path) -> None:
    sent = tmp_path / "mods.csv"
    sent.write_text(
        "ActionId,Oid,ActionTrackerId,Amount,CurrencyCode,CustomerStatus,Reason\n"
        '1000.4636.158311,,,"$1,299.00",USD,,item returned\n'
        ",T1,16027.0,0,,,ITEM_RETURNED\n"
        ",T2,16027,0,,,REFUND\n"
        ',"O=1+2",16027,12.00,USD,"Note, with comma",ORDER_UPDATE\n',
        encoding="utf-8",
    )
    out = tmp_path / "out"
    code, stdout, _ = _invoke("check", str(sent), "-o", str(out), "--fix", "--today", "2025-02-20")
    assert code == 1  # the findings are about the file as it is
    assert (out / "mods.fixed.csv").read_bytes() == (
        b"ActionId,Oid,ActionTrackerId,Amount,CurrencyCode,CustomerStatus,Reason\n"
        b"1000.4636.158311,,,1299.00,USD,,ITEM_RETURNED\n"
        b",T1,16027,0,,,ITEM_RETURNED\n"
        b",T2,16027,0,,,REFUND\n"
        b',O=1+2,16027,12.00,USD,"Note, with comma",ORDER_UPDATE\n'
    )
    changes = [
        (r["SourceLine"], r["Column"], r["Before"], r["After"], r["Rule"])
        for r in _rows(out / "changes.csv")
    ]
    assert changes == [
        ("2", "Amount", "$1,299.00", "1299.00", "amount-plain-decimal"),
        ("2", "Reason", "item returned", "ITEM_RETURNED", "reason-standard-spelling"),
        ("3", "ActionTrackerId", "16027.0", "16027", "integer-drop-decimal"),
    ]
    assert "--fix corrected 3 cells on 2 records" in stdout
    summary = json.loads((out / "check.json").read_text(encoding="utf-8"))
    assert "mods.fixed.csv" in summary["outputs"] and summary["fix"] is True


def test_check_fix_maps_reasons_from_the_reason_map(tmp_path: Path) -> None:
    sent = tmp_path / "mods.csv"
    sent.write_text("ActionId,Amount,Reason\n1000.1.1,0,RETOURE\n", encoding="utf-8")
    rmap = tmp_path / "map.csv"
    rmap.write_text("from,to\nRETOURE,ITEM_RETURNED\n", encoding="utf-8")
    out = tmp_path / "out"
    code, _, _ = _invoke(
        "check",
        str(sent),
        "-o",
        str(out),
        "--fix",
        "--reason-map",
        str(rmap),
        "--today",
        "2025-02-20",
    )
    assert code == 0  # a --reason-map key is a warning
    assert (out / "mods.fixed.csv").read_text(encoding="utf-8").splitlines()[
        1
    ] == "1000.1.1,0,ITEM_RETURNED"


def test_check_fix_turns_utf16_tab_into_utf8_commas(tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, _, _ = _invoke(
        "check", str(FIXTURES / "conversion_utf16_tab" / "sent.txt"), "-o", str(out), "--fix",
        "--today", "2025-02-20", "--timezone", "America/New_York",
    )  # fmt: skip
    assert code == 1
    data = (out / "sent.fixed.csv").read_bytes()
    assert not data.startswith((b"\xef\xbb\xbf", b"\xff\xfe"))
    text = data.decode("utf-8")
    lines = text.split("\n")
    assert lines[0] == (
        "CampaignId,ActionTrackerId,EventDate,OrderId,ClickId,CustomerId,CustomerStatus,"
        "CurrencyCode,Amount,PromoCode"
    )
    assert len(lines) == 20 and lines[-1] == "" and "\r" not in text and "\t" not in text
    assert "NOËL20" in text
    assert lines[6].startswith("1000,16027,2025-02-02T16:40:00-05:00,4051234567890200016,")
    findings = {r["Finding"] for r in _rows(out / "check.csv")}
    assert {"not-csv-or-xml", "not-utf8", "delimiter-not-comma", "event-date-not-iso"} <= findings


def test_check_fix_turns_bom_semicolons_into_plain_commas(tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, _, _ = _invoke(
        "check", str(FIXTURES / "modification_ftp_json" / "sent.csv"), "-o", str(out), "--fix",
        "--today", "2025-02-20",
    )  # fmt: skip
    assert code == 1  # 1.299,00 is an error in the file as it is
    data = (out / "sent.fixed.csv").read_bytes()
    assert data.startswith(
        b"ActionId,Oid,ActionTrackerId,Amount,CurrencyCode,CustomerStatus,Reason\n"
    )
    lines = data.decode("utf-8").splitlines()
    assert lines[1] == ",T52324200101,16027,49.90,EUR,,ORDER_UPDATE"
    assert lines[5] == ",T52324200110,16027,1299.00,EUR,,ORDER_UPDATE"
    assert lines[2] == ",T52324200102,16027,0,,,RETOURE"  # a custom code is kept
    assert ";" not in data.decode("utf-8") and len(lines) == 17
    # The fixed file checks clean apart from the custom code.
    again = check(read_table(out / "sent.fixed.csv"), CheckOptions(today=TODAY))
    assert list(again.findings["Finding"]) == ["reason-custom"]


def test_check_fix_from_a_workbook(tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, _, _ = _invoke(
        "check", str(FIXTURES / "modification_sent_xlsx" / "sent.xlsx"), "-o", str(out), "--fix",
        "--today", "2025-02-20",
    )  # fmt: skip
    assert code == 1
    lines = (out / "sent.fixed.csv").read_text(encoding="utf-8").splitlines()
    assert lines[0] == "ActionId,Oid,ActionTrackerId,Amount,CurrencyCode,CustomerStatus,Reason"
    assert lines[2] == ",00012501,16027,27.80,USD,,ORDER_UPDATE"  # leading zeros kept
    assert len(lines) == 13


def test_check_csv_neutralises_formulas_but_the_fixed_file_keeps_values(tmp_path: Path) -> None:
    sent = tmp_path / "mods.csv"
    sent.write_text("ActionId,Amount,Reason\n=HYPERLINK(1),0,=cmd\n", encoding="utf-8")
    out = tmp_path / "out"
    _invoke("check", str(sent), "-o", str(out), "--fix", "--today", "2025-02-20")
    values = {r["Value"] for r in _rows(out / "check.csv")}
    assert "'=cmd" in values and "=cmd" not in values
    assert "=HYPERLINK(1),0,=cmd" in (out / "mods.fixed.csv").read_text(encoding="utf-8")


def test_check_with_an_actions_export(tmp_path: Path) -> None:
    actions = tmp_path / "actions.csv"
    actions.write_text(
        "Action Id,Oid,Action Tracker Id,State,Amount,Locking Date\n"
        "1000.1.1,,16027,PENDING,10.00,2025-01-31\n"
        "1000.1.2,00012346,16027,PENDING,10.00,2025-03-31\n",
        encoding="utf-8",
    )
    sent = tmp_path / "mods.csv"
    sent.write_text(
        "ActionId,Oid,ActionTrackerId,Amount,Reason\n"
        "1000.1.1,,,5.00,ORDER_UPDATE\n"
        ",12346,16027,0,ITEM_RETURNED\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    code, _, _ = _invoke(
        "check",
        str(sent),
        "-o",
        str(out),
        "--actions",
        str(actions),
        "--fix",
        "--today",
        "2025-02-20",
    )
    assert code == 1
    got = [(r["SourceLine"], r["Finding"], r["PredictedError"]) for r in _rows(out / "check.csv")]
    assert got == [
        ("2", "already-locked", "ALREADY_LOCKED"),
        ("3", "action-not-found", "ACTION_NOT_FOUND"),
    ]
    lines = (out / "mods.fixed.csv").read_text(encoding="utf-8").splitlines()
    assert lines[2] == ",00012346,16027,0,ITEM_RETURNED"  # recovered from the export


def test_check_installed_entry_point(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-m", "reconciler", "check", str(FIXTURES / "no_errors" / "sent.csv"),
         "-o", str(tmp_path / "o"), "--today", "2025-02-20"],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "o" / "check.json").exists()


def test_no_error_findings_on_a_clean_generated_file() -> None:
    rng = np.random.default_rng(3)
    rows = []
    for i in range(400):
        rev = rng.random() < 0.4
        aid = f"1000.4636.{150000 + i}" if i % 2 else ""
        oid = "" if aid else f"{i:08d}" if i % 4 == 0 else f"T5232{i:07d}"
        amount = "0" if rev else f"{rng.integers(1, 99999) / 100:.2f}"
        reason = ["ITEM_RETURNED", "CONS_FRAUD", "TEST_ACTION"][i % 3] if rev else "ORDER_UPDATE"
        status = "" if rev else ["", "NEW", "EXISTING"][i % 3]
        rows.append(
            [aid, oid, "" if aid else "16027", amount, "" if rev else "USD", status, reason]
        )
    header = [
        "ActionId",
        "Oid",
        "ActionTrackerId",
        "Amount",
        "CurrencyCode",
        "CustomerStatus",
        "Reason",
    ]
    result = check(table(header, rows), CheckOptions(today=TODAY))
    assert result.findings.empty, result.findings.to_string()


def test_readme_lists_every_finding_with_its_example() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("<!-- checks-table:start")
    start = readme.index("\n", start) + 1
    end = readme.index("<!-- checks-table:end -->")
    assert readme[start:end].strip("\n").splitlines() == preflight.checks_table(), (
        "README.md's table of findings is out of date: paste preflight.checks_table() into it"
    )


def test_large_files_split_the_checks_over_two_threads_with_the_same_findings() -> None:
    """From 10,000 records the action-key checks run on a second thread; the findings must be
    exactly those of running every check in one place, in the same order."""
    from reconciler.detect import detect_template
    from tests.helpers import table

    rows = []
    for i in range(12_000):
        if i % 3:
            oid = f"{4000000000 + i % 4000:012d}"  # every Oid three times: duplicate-action
            rows.append(["", oid, "16027", f"{i % 50}.00", "USD", "", "ITEM_RETURNED"])
        else:
            rows.append([f"1000.4636.{i}", "", "", " 12.00", "USD", "", "item returned"])
    header = ["ActionId", "Oid", "ActionTrackerId", "Amount", "CurrencyCode", "CustomerStatus",
              "Reason"]  # fmt: skip
    sent = table(header, rows)
    opts = preflight.CheckOptions(today=date(2025, 2, 20))
    split = preflight.check(sent, opts)
    schema = detect_template(sent)
    ctx = preflight._Ctx(sent, schema, opts, date(2025, 2, 20))
    whole, fix_codes = preflight._run(ctx, preflight.CHECKS)
    assert set(split.findings["Finding"]) >= {"duplicate-action", "value-whitespace"}
    pd.testing.assert_frame_equal(split.findings, whole)
    pd.testing.assert_frame_equal(split.fix_codes, fix_codes)


def test_a_spoiled_id_wider_than_an_int64_is_recovered_not_a_crash(tmp_path: Path) -> None:
    # Scientific notation keeping 23 digits of a 26-digit Oid: more than any spreadsheet
    # keeps, and more than a 64-bit integer holds; each is still found in the export, by
    # its 23 digits rounded (the 24th digit 1 rounds down, 7 up).
    kept = "1" + "2" * 22
    down, up = kept + "100", kept + "700"
    actions = tmp_path / "actions.csv"
    actions.write_text(
        "ActionId,Oid,ActionTrackerId,State,Amount,LockingDate\n"
        "1000.1.1,,16027,PENDING,10.00,2025-03-31\n"
        f"1000.1.2,{down},16027,PENDING,10.00,2025-03-31\n"
        f"1000.1.3,{up},16027,PENDING,10.00,2025-03-31\n",
        encoding="utf-8",
    )
    sent = tmp_path / "mods.csv"
    sent.write_text(
        "ActionId,Oid,ActionTrackerId,Amount,Reason\n"
        f",1.{'2' * 22}E+25,16027,0,ITEM_RETURNED\n"
        f",1.{'2' * 21}3E+25,16027,0,ITEM_RETURNED\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    code, _, err = _invoke(
        "check", str(sent), "-o", str(out), "--actions", str(actions), "--fix",
        "--today", "2025-02-20",
    )  # fmt: skip
    assert code == 1, err
    lines = (out / "mods.fixed.csv").read_text(encoding="utf-8").splitlines()
    assert lines[1:] == [f",{down},16027,0,ITEM_RETURNED", f",{up},16027,0,ITEM_RETURNED"]
