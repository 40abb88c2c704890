"""The HTML report: golden file, escaping of hostile input, size caps, re-rendering, and the
rules every report keeps (self-contained, deterministic, figures taken from the summary).

Golden file: ``tests/golden/report/modification_view_errors.html``, the report of
``fixtures/modification_view_errors`` rendered with ``SOURCE_DATE_EPOCH`` fixed and the tool
version masked as ``reconciler VERSION``, compared by ``tests/goldens.py`` (a mismatch lands in
the git-ignored ``tests/actual/``; ``RECONCILER_UPDATE_GOLDEN=1 pytest`` regenerates).
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from reconciler import __version__
from reconciler.errors import InputError
from reconciler.pipeline import Reconciliation, reconcile, write_outputs
from reports import render_outputs, rerender
from reports.html import render_html
from reports.view import (
    MAX_CODE_SECTIONS,
    MAX_TABLE_ROWS,
    report_from_reconciliation,
    section_rows,
)
from tests import goldens
from tests.helpers import scenario_inputs

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
EPOCH = "1767225600"  # 2026-01-01T00:00:00Z
SCENARIOS = sorted(p.name for p in FIXTURES.iterdir() if (p / "expected.csv").exists())


def _input(folder: Path, stem: str) -> Path:
    return next(p for p in sorted(folder.iterdir()) if p.stem == stem).relative_to(ROOT)


def _reconcile(scenario: str) -> Reconciliation:
    folder = FIXTURES / scenario
    return reconcile(*scenario_inputs(folder, ROOT))


def _write(rec: Reconciliation, out: Path, *, xlsx: bool = False) -> list[str]:
    return write_outputs(rec, out, report=True, workbook=xlsx)


def _mask(html: str) -> str:
    return html.replace(f"reconciler {__version__}", "reconciler VERSION")


@pytest.fixture
def fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # relative input paths: the report shows them as given
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)


class _Tags(HTMLParser):
    """Every start tag with its attributes, and the text inside <script> elements."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))


def _tags(html: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    parser = _Tags()
    parser.feed(html)
    return parser.tags


def _table_rows(html: str) -> dict[str, int]:
    """Rows in the body of each data table, by table id."""
    out: dict[str, int] = {}
    for m in re.finditer(r'<table class="data" id="([^"]+)".*?</table>', html, re.S):
        body = m.group(0).split("<tbody>", 1)[1]
        out[m.group(1)] = body.count("<tr ")
    return out


# --------------------------------------------------------------------------- golden


def test_golden_report(fixed_clock: None, tmp_path: Path) -> None:
    rec = _reconcile("modification_view_errors")
    _write(rec, tmp_path / "out")
    actual = _mask((tmp_path / "out" / "report.html").read_text(encoding="utf-8"))
    problems = goldens.compare("report", {"modification_view_errors.html": actual.encode()})
    assert not problems, "\n".join(problems)


# --------------------------------------------------------------------------- content


def test_view_takes_its_figures_from_the_summary(fixed_clock: None) -> None:
    report = report_from_reconciliation(_reconcile("modification_view_errors"))
    assert [(f.label, f.value) for f in report.figures] == [
        ("Records sent", "30"),
        ("Accepted", "20"),
        ("Rejected", "10"),
        ("Fixed automatically", "1"),
        ("Need a person", "4"),
        ("Terminal", "5"),
        ("Unmatched results", "1"),
        ("Ambiguous ties", "0"),
        ("Results tied", "11 of 12"),
    ]
    assert report.figures[1].note == "66.7% of the records sent"
    # The one EUR record was accepted: what was not applied is all USD. The NO_CHANGE row
    # (129.95) changed nothing, so nothing of it is at stake.
    assert report.money.total == "1,437.10 USD"
    assert [(m.resolution, m.amount) for m in report.money.lines] == [
        ("fix_manually", "1,299.00 USD"),
        ("review", "74.10 USD"),
        ("auto_fixed", "64.00 USD"),
        ("no_action", "0.00 USD"),
    ]
    assert any("6 reversals" in n and "returned or cancelled" in n for n in report.money.notes)
    assert [(s.id, s.files) for s in report.steps] == [
        ("step-resubmit", ("resubmit.csv", "changes.csv")),
        ("step-attention", ("needs-attention.csv", "needs-attention.xlsx")),
        ("step-terminal", ("reconciled.csv",)),
        ("step-unmatched", ("unmatched_results.csv",)),
    ]
    assert [s.code for s in report.code_sections] == [
        "ACTION_NOT_FOUND", "ALREADY_LOCKED", "BAD_DISPOSITION", "ALREADY_APPROVED",
        "ALREADY_REVERSED", "DUPLICATE_MODIFICATION", "MALFORMED", "NO_CHANGE",
    ]  # fmt: skip
    bad = next(s for s in report.code_sections if s.code == "BAD_DISPOSITION")
    assert [row.cells[0].text for row in bad.table.rows] == ["7", "12"]  # sorted by line
    assert [c.label for c in bad.table.columns] == [
        "Line", "Identifiers", "Codes", "Resolution", "Values to check", "Advice",
    ]  # fmt: skip
    values = {row.cells[0].text: row.cells[4].items for row in bad.table.rows}
    assert values["12"] == (("Reason", "Returned"), ("Amount", "$1,299.00"))
    assert [row.cells[0].text for row in report.records_table.rows] == [
        "4", "6", "7", "9", "10", "12", "14", "18", "22", "25",
    ]  # fmt: skip
    assert [(r.reason, r.count) for r in report.unmatched_reasons] == [
        ("line_out_of_range", "1 result")
    ]
    assert len(report.unmatched_table.rows) == 1
    assert not report.ambiguous_table.rows


def test_currency_follows_the_file(fixed_clock: None) -> None:
    report = report_from_reconciliation(_reconcile("modification_ftp_json"))
    assert report.money.total.endswith(" EUR")
    reset = report_from_reconciliation(_reconcile("reset_view_errors"))
    assert not reset.money.available  # a reset file has no Amount
    assert [row.cells[-2].text for row in reset.ambiguous_table.rows] == ["4 8"]


def test_report_is_self_contained(fixed_clock: None, tmp_path: Path) -> None:
    _write(_reconcile("modification_view_errors"), tmp_path / "out")
    html = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert (
        "http://" not in html
        and "https://" not in html
        and "//" not in re.sub(r"<script>.*?</script>|<style>.*?</style>", "", html, flags=re.S)
    )
    tags = _tags(html)
    names = [t for t, _ in tags]
    assert names.count("script") == 1 and names.count("style") == 1
    assert "link" not in names and "img" not in names and "iframe" not in names
    for _tag, attrs in tags:
        for name, value in attrs:
            assert name not in ("src", "srcset", "action") and not name.startswith("on")
            if name == "href":
                assert value is not None and value.startswith("#")
    csp = next(dict(a)["content"] for t, a in tags if dict(a).get("http-equiv"))
    assert csp is not None and "default-src 'none'" in csp and "unsafe-inline" not in csp


def test_report_is_deterministic(fixed_clock: None) -> None:
    rec = _reconcile("modification_view_errors")
    first = render_html(report_from_reconciliation(rec))
    assert render_html(report_from_reconciliation(rec)) == first
    again = render_html(report_from_reconciliation(_reconcile("modification_view_errors")))
    assert again == first


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_rerender_gives_the_same_report(scenario: str, fixed_clock: None, tmp_path: Path) -> None:
    out = tmp_path / "out"
    written = _write(_reconcile(scenario), out, xlsx=True)
    assert "report.html" in written and "reconciled.xlsx" in written
    first = (out / "report.html").read_bytes()
    workbook = (out / "reconciled.xlsx").read_bytes()
    (out / "report.html").unlink()
    assert rerender(out) == ["report.html"]
    assert (out / "report.html").read_bytes() == first
    assert (out / "reconciled.xlsx").read_bytes() == workbook  # only the report is re-rendered
    assert not [p.name for p in out.iterdir() if p.name.endswith(".tmp")]


def test_render_outputs_switches(fixed_clock: None, tmp_path: Path) -> None:
    rec = _reconcile("no_errors")
    stage = tmp_path / "stage"
    stage.mkdir()
    assert render_outputs(rec, stage, html=False, xlsx=True) == ["reconciled.xlsx"]
    assert render_outputs(rec, stage, html=True, xlsx=False) == ["report.html"]
    assert render_outputs(rec, stage, html=False, xlsx=False) == []
    html = (stage / "report.html").read_text(encoding="utf-8")
    assert "Nothing to do: every record was accepted" in html


def test_rerender_refuses_what_is_not_an_output_folder(fixed_clock: None, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="is not a folder"):
        rerender(tmp_path / "nowhere")
    with pytest.raises(InputError, match=r"holds no summary\.json"):
        rerender(tmp_path)
    out = tmp_path / "out"
    _write(_reconcile("modification_view_errors"), out)
    (out / "summary.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(InputError, match="cannot be read as JSON") as info:
        rerender(out)
    assert "\n" not in str(info.value)
    (out / "summary.json").write_text('{"sent_records": 30}', encoding="utf-8")
    with pytest.raises(InputError, match="lacks"):
        rerender(out)
    out = tmp_path / "out2"
    _write(_reconcile("modification_view_errors"), out)
    (out / "reconciled.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(InputError, match="does not end with the columns"):
        rerender(out)


# --------------------------------------------------------------------------- hostile input

HOSTILE = (
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '"><svg onload=alert(1)>',
)
FORMULA = '=HYPERLINK("http://x";"y")'


def _hostile_files(folder: Path) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    sent = folder / "sent.csv"
    results = folder / "results.csv"

    def q(value: str) -> str:
        return '"' + value.replace('"', '""') + '"'

    sent.write_text(
        "ActionId,Oid,ActionTrackerId,Amount,CurrencyCode,CustomerStatus,Reason\n"
        f"{q(HOSTILE[0])},,,10.00,USD,,ORDER_UPDATE\n"
        f",{q(HOSTILE[1])},16027,0,USD,,{q(HOSTILE[2])}\n"
        f"1000.1.1,,,{q(FORMULA)},USD,,{q(HOSTILE[0])}\n"
        "1000.1.2,,,@SUM(A1),USD,,ORDER_UPDATE\n"
        f"{q(HOSTILE[2])},,,5,USD,,ORDER_UPDATE\n"
        "1000.1.3,,,7,USD,,=cmd|' /C calc'!A0\n",
        encoding="utf-8",
    )
    results.write_text(
        "Line,Order Id,Action Tracker Id,Error Type,Message\n"
        f"2,,,Validation,{q(HOSTILE[0])}\n"
        f"3,{q(HOSTILE[1])},16027,Validation,BAD_DISPOSITION\n"
        "4,,,Validation,MALFORMED\n"
        f"5,,,Validation,{q(HOSTILE[2])}\n"
        f"6,,,{q(HOSTILE[1])},{q(HOSTILE[1])}\n"
        "7,,,Validation,BAD_DISPOSITION\n"
        f"9,{q(HOSTILE[1])},{q(HOSTILE[0])},Validation,{q(HOSTILE[2])}\n",
        encoding="utf-8",
    )
    return sent, results


def hostile_report(folder: Path) -> Path:
    """Reconcile the hostile files into ``folder/out``; the report's path (also used by the
    browser test)."""
    sent, results = _hostile_files(folder)
    out = folder / "out"
    write_outputs(reconcile(sent, results), out, report=True, workbook=True)
    return out / "report.html"


def test_hostile_input_is_escaped(fixed_clock: None, tmp_path: Path) -> None:
    path = hostile_report(tmp_path)
    html = path.read_text(encoding="utf-8")
    for raw in ("<script>alert", "<img", "<svg onload", "onerror=alert(1)>", "onload=alert"):
        outside_escapes = html.replace("&lt;img src=x onerror=alert(1)&gt;", "").replace(
            "&lt;svg onload=alert(1)&gt;", ""
        )
        assert raw not in outside_escapes, raw
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # the IDs are shown, escaped
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "&#34;&gt;&lt;svg onload=alert(1)&gt;" in html
    assert "=HYPERLINK(&#34;http://x&#34;;&#34;y&#34;)" in html  # shown as typed, inert
    assert "&#34;=cmd|&#39; /C calc&#39;!A0&#34; is not a standard reason code" in html
    tags = _tags(html)
    assert [t for t, _ in tags].count("script") == 1
    assert not {"img", "iframe", "object", "embed"} & {t for t, _ in tags}
    assert not [n for _, attrs in tags for n, _ in attrs if n.startswith("on")]
    # the values neutralised in reconciled.csv are shown as typed after a re-render
    first = path.read_bytes()
    rerender(path.parent)
    assert path.read_bytes() == first


# --------------------------------------------------------------------------- size caps


def _big_files(folder: Path, n: int, codes: list[str], unmatched: int) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    sent = folder / "sent.csv"
    results = folder / "results.csv"
    rows = ["ActionId,Oid,ActionTrackerId,Amount,CurrencyCode,CustomerStatus,Reason"]
    rows += [f"1000.4636.{100000 + i},,,{i % 500}.{i % 97:02d},USD,,ORDER_UPDATE" for i in range(n)]
    sent.write_text("\n".join(rows) + "\n", encoding="utf-8")
    errors = ["Line,Order Id,Action Tracker Id,Error Type,Message"]
    errors += [f"{i + 2},,,Validation,{codes[i % len(codes)]}" for i in range(0, n, 2)]
    errors += [f"{n + 10 + i},,,Validation,NO_CHANGE" for i in range(unmatched)]
    results.write_text("\n".join(errors) + "\n", encoding="utf-8")
    return sent, results


def test_tables_are_capped_for_large_runs(fixed_clock: None, tmp_path: Path) -> None:
    codes = [
        "ALREADY_LOCKED", "BAD_DISPOSITION", "NO_CHANGE", "ACTION_NOT_FOUND", "ALREADY_REVERSED",
        "MALFORMED", "ALREADY_APPROVED",
    ] + [f"CUSTOM_CODE_{i}" for i in range(16)]  # fmt: skip
    sent, results = _big_files(tmp_path, 20_000, codes, unmatched=MAX_TABLE_ROWS + 100)
    rec = reconcile(sent, results)
    html = render_html(report_from_reconciliation(rec))
    rows = _table_rows(html)
    assert rows["t-records"] == MAX_TABLE_ROWS
    assert rows["t-unmatched"] == MAX_TABLE_ROWS
    sections = {t: n for t, n in rows.items() if t.startswith("t-code-")}
    assert len(sections) == MAX_CODE_SECTIONS
    assert set(sections.values()) == {section_rows(MAX_CODE_SECTIONS)} == {100}
    assert all(n <= MAX_TABLE_ROWS for n in rows.values())
    assert "Showing 100 of 435 rows. All of them are in reconciled.csv (ErrorCodes contains" in html
    assert "Showing 500 of 10,000 rows. All of them are in reconciled.csv" in html
    assert "Showing 500 of 600 rows. All of them are in unmatched_results.csv." in html
    assert "3 less frequent codes have no sections of their own" in html
    assert len(html.encode("utf-8")) < 5_000_000
    first_lines = re.findall(
        r'<tr data-codes="[^"]*" data-res="[^"]*"><td data-label="Line" class="num">(\d+)</td>',
        html.split('id="t-records"', 1)[1].split("</table>", 1)[0],
    )
    assert [int(x) for x in first_lines[:3]] == [2, 4, 6]  # the first records by line


def test_rerender_names_the_summary_field_that_is_wrong(fixed_clock: None, tmp_path: Path) -> None:
    out = tmp_path / "out"
    _write(_reconcile("modification_view_errors"), out)
    original = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    for field, value, said in (
        ("sent_records", "30", "'sent_records' is not a whole number"),
        ("accepted", True, "'accepted' is not a whole number"),
        ("money", [], "'money' is not an object"),
        ("warnings", "none", "'warnings' is not a list"),
    ):
        edited = {**original, field: value}
        (out / "summary.json").write_text(json.dumps(edited), encoding="utf-8")
        with pytest.raises(InputError, match=said) as info:
            rerender(out)
        assert "run reconcile again" in str(info.value)
    broken = {**original, "submission": {**original["submission"], "batch_ids": [1]}}
    (out / "summary.json").write_text(json.dumps(broken), encoding="utf-8")
    with pytest.raises(InputError, match=r"'submission\.batch_ids\[0\]' is not text"):
        rerender(out)


def test_the_typed_summary_writes_summary_json_back_unchanged(
    fixed_clock: None, tmp_path: Path
) -> None:
    from reconciler.model import Summary

    for scenario in ("modification_view_errors", "reset_view_errors", "no_errors"):
        out = tmp_path / scenario
        _write(_reconcile(scenario), out)
        data = json.loads((out / "summary.json").read_text(encoding="utf-8"))
        again = Summary.from_json(data).to_json()
        assert list(again) == list(data) and again == data


def test_a_multi_code_advice_cut_in_a_code_section_leaves_no_label(tmp_path: Path) -> None:
    """Line 12 of the demo has BAD_DISPOSITION and MALFORMED: in MALFORMED's section its advice
    is the BAD_DISPOSITION part, then the pointer to the section's own advice."""
    from typer.testing import CliRunner

    from reconciler.cli import app

    demo = ROOT / "fixtures" / "modification_view_errors"
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app, ["reconcile", str(demo / "sent.csv"), str(demo / "results.csv"), "-o", str(out)]
    )
    assert result.exit_code == 1, result.stderr
    html = (out / "report.html").read_text(encoding="utf-8")
    assert ":. See" not in html and "| MALFORMED:. See" not in html
    assert "then resubmit the row. See “What to do” above." in html
