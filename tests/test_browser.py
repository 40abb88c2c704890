"""The HTML report in a real browser: Debian's headless Chromium driven by ``playwright``.

Checks that the report loads without console errors, that filtering by a code changes the
visible rows, that sorting works, that it fits a 375 px wide phone without horizontal scrolling,
that it degrades to plain tables without JavaScript, and that hostile input runs no script.
Screenshots go to each test's temporary folder.

The browser is ``/usr/bin/chromium`` (``RECONCILER_CHROMIUM`` overrides it), never a browser
download: ``.ci/run`` installs Debian's package. Where Chromium or the ``playwright`` package is
missing the tests skip with the reason, except in CI (``CI=true``), where they fail.

``save_screenshot`` makes the README's picture: ``python docs/make_screenshot.py``, or
``RECONCILER_SCREENSHOT=1 pytest tests/test_browser.py``, rewrites ``docs/report.png``.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reconciler.pipeline import reconcile, write_outputs

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "fixtures" / "modification_view_errors"
DOCS_PNG = ROOT / "docs" / "report.png"
CHROMIUM = Path(os.environ.get("RECONCILER_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
EPOCH = "1767225600"

VISIBLE_ROWS = (
    "(id) => Array.from(document.querySelectorAll('#' + id + ' tbody tr'))"
    ".filter((r) => !r.hidden && r.offsetParent !== null).length"
)


def _missing(reason: str) -> None:
    if os.environ.get("CI", "").strip().lower() == "true":
        pytest.fail(f"{reason}; CI=true requires the browser test to run")
    pytest.skip(reason)


def _sync_playwright() -> Any:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("the playwright package is not installed (pip install playwright)")
    if not CHROMIUM.exists():
        _missing(f"{CHROMIUM} not found (apt-get install chromium)")
    return sync_playwright


def make_report(folder: Path) -> Path:
    """The demo report (fixtures/modification_view_errors) written into ``folder/out``."""
    old = os.environ.get("SOURCE_DATE_EPOCH")
    os.environ["SOURCE_DATE_EPOCH"] = EPOCH
    try:
        with contextlib.chdir(ROOT):  # the report shows the input paths as given
            sent, results = (
                p.relative_to(ROOT) for p in (FIXTURE / "sent.csv", FIXTURE / "results.csv")
            )
            rec = reconcile(sent, results)
    finally:
        if old is None:
            del os.environ["SOURCE_DATE_EPOCH"]
        else:
            os.environ["SOURCE_DATE_EPOCH"] = old
    out = folder / "out"
    write_outputs(rec, out, force=True, report=True)
    return out / "report.html"


def launch(playwright: Any) -> Any:
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


def save_screenshot(report: Path, png: Path, *, width: int = 1200, height: int = 1700) -> Path:
    """A PNG of the top of ``report`` (header, headline figures, money, next steps)."""
    with _sync_playwright()() as p:
        browser = launch(p)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.goto(report.resolve().as_uri())
            png.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(png))
        finally:
            browser.close()
    return png


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with _sync_playwright()() as p:
        b = launch(p)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_report(tmp_path_factory.mktemp("report"))


class _Page:
    """A page with every console error and uncaught exception collected."""

    def __init__(self, browser: Any, **options: Any) -> None:
        self.context = browser.new_context(**options)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.page.on(
            "console",
            lambda m: self.errors.append(f"console: {m.text}") if m.type == "error" else None,
        )
        self.page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))

        def on_dialog(dialog: Any) -> None:
            self.dialogs.append(dialog.message)
            dialog.dismiss()

        self.page.on("dialog", on_dialog)
        self.page.on(
            "request",
            lambda r: (
                None if r.url.startswith("file:") else self.errors.append(f"request: {r.url}")
            ),
        )

    def open(self, path: Path) -> Any:
        self.page.goto(path.resolve().as_uri())
        self.page.wait_for_load_state("load")
        return self.page

    def close(self) -> None:
        self.context.close()


def test_loads_without_errors(browser: Any, report: Path, tmp_path: Path) -> None:
    tab = _Page(browser, viewport={"width": 1280, "height": 900})
    page = tab.open(report)
    assert page.title() == "Reconciliation of sent.csv"
    assert page.locator(".controls").count() >= 1  # the script ran
    page.screenshot(path=str(tmp_path / "desktop.png"), full_page=True)
    tab.close()
    assert tab.errors == []
    assert (tmp_path / "desktop.png").stat().st_size > 10_000
    if os.environ.get("RECONCILER_SCREENSHOT") == "1":
        save_screenshot(report, DOCS_PNG)


def test_filter_by_code_and_resolution_and_search(browser: Any, report: Path) -> None:
    tab = _Page(browser, viewport={"width": 1280, "height": 900})
    page = tab.open(report)
    assert page.evaluate(VISIBLE_ROWS, "t-records") == 10
    controls = page.locator("#records .controls")
    controls.locator("select[data-filter=code]").select_option("BAD_DISPOSITION")
    assert page.evaluate(VISIBLE_ROWS, "t-records") == 2
    assert "Showing 2 of the 10 rows" in page.locator("#records .filter-status").inner_text()
    controls.locator("select[data-filter=resolution]").select_option("fix_manually")
    assert page.evaluate(VISIBLE_ROWS, "t-records") == 1
    controls.locator("select[data-filter=code]").select_option("")
    controls.locator("select[data-filter=resolution]").select_option("")
    controls.locator("input[data-filter=search]").fill("1000.4636.158419")
    assert page.evaluate(VISIBLE_ROWS, "t-records") == 1
    controls.locator("input[data-filter=search]").fill("")
    assert page.evaluate(VISIBLE_ROWS, "t-records") == 10
    tab.close()
    assert tab.errors == []


def test_sort_by_clicking_a_header(browser: Any, report: Path) -> None:
    tab = _Page(browser, viewport={"width": 1280, "height": 900})
    page = tab.open(report)
    header = page.locator("#t-records thead th").first
    first_line = "document.querySelector('#t-records tbody tr td').textContent"
    header.locator("button").click()
    assert header.get_attribute("aria-sort") == "ascending"
    assert page.evaluate(first_line) == "4"
    header.locator("button").click()
    assert header.get_attribute("aria-sort") == "descending"
    assert page.evaluate(first_line) == "25"
    tab.close()
    assert tab.errors == []


def test_fits_a_phone(browser: Any, report: Path, tmp_path: Path) -> None:
    tab = _Page(browser, viewport={"width": 375, "height": 800}, is_mobile=True, has_touch=True)
    page = tab.open(report)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375 + 1, f"the page is {width}px wide at 375px: something overflows"
    # wide tables scroll inside their own box instead
    boxes = page.evaluate(
        "Array.from(document.querySelectorAll('.table-wrap'))"
        ".map((w) => w.getBoundingClientRect().right)"
    )
    assert boxes and max(boxes) <= 375 + 1
    page.screenshot(path=str(tmp_path / "phone.png"), full_page=False)
    tab.close()
    assert tab.errors == []


CARDS = """(id) => {
  const table = document.getElementById(id);
  const labels = Array.from(table.querySelectorAll('thead th')).map((th) => th.textContent.trim());
  const rows = Array.from(table.querySelectorAll('tbody tr')).filter((r) => !r.hidden);
  return {
    labels,
    wrapScrolls: table.closest('.table-wrap').scrollWidth > table.closest('.table-wrap').clientWidth,
    cards: rows.map((tr) => {
      const box = tr.getBoundingClientRect();
      return {
        top: box.top, bottom: box.bottom, left: box.left, right: box.right,
        cells: Array.from(tr.cells).filter((td) => td.offsetParent !== null).map((td) => {
          const r = td.getBoundingClientRect();
          const kids = Array.from(td.children).map((c) => c.getBoundingClientRect().left);
          return {
            label: getComputedStyle(td, '::before').content,
            dataLabel: td.dataset.label, text: td.textContent.trim(),
            top: r.top, bottom: r.bottom, left: r.left, right: r.right, kids,
            labelWidth: parseFloat(getComputedStyle(td, '::before').width),
          };
        }),
      };
    }),
  };
}"""


def _assert_cards(facts: dict[str, Any], width: int, wanted: list[str]) -> None:
    assert not facts["wrapScrolls"], "the table scrolls sideways on a narrow screen"
    assert facts["cards"]
    for before, card in zip(facts["cards"], facts["cards"][1:], strict=False):
        assert card["top"] >= before["bottom"], "cards overlap"
    for card in facts["cards"]:
        assert card["left"] >= 0 and card["right"] <= width + 0.5
        shown = [c["dataLabel"] for c in card["cells"]]
        for label in wanted:  # every column with a value is in the card, none hidden aside
            cell = next((c for c in card["cells"] if c["dataLabel"] == label), None)
            if cell is None:
                continue
            assert card["left"] <= cell["left"] and cell["right"] <= card["right"] + 0.5
        assert shown, "a card with no cells"
        for cell in card["cells"]:
            assert cell["label"] == f'"{cell["dataLabel"]}"'  # the column's name beside the value
            assert cell["dataLabel"] in facts["labels"]
            # the value starts right of its label, never under it
            assert all(left >= cell["left"] + cell["labelWidth"] - 0.5 for left in cell["kids"])
        for upper, lower in zip(card["cells"], card["cells"][1:], strict=False):
            assert lower["top"] >= upper["bottom"] - 0.5, "cells of a card overlap"
            assert lower["top"] - upper["bottom"] <= 4, "a gap inside a card"


def test_follow_up_rows_are_cards_at_400px(browser: Any, report: Path, tmp_path: Path) -> None:
    tab = _Page(browser, viewport={"width": 400, "height": 900})
    page = tab.open(report)
    assert page.evaluate("document.documentElement.scrollWidth") <= 401
    records = page.evaluate(CARDS, "t-records")
    assert records["labels"] == [
        "Line", "Identifiers", "Codes", "Resolution", "Values to check", "Advice",
    ]  # fmt: skip
    _assert_cards(records, 400, ["Resolution", "Values to check", "Advice"])
    # every card shows its resolution and advice; the rows needing a value show the values
    for card in records["cards"]:
        assert {"Line", "Identifiers", "Codes", "Resolution", "Advice"} <= {
            c["dataLabel"] for c in card["cells"]
        }
    codes = page.evaluate(CARDS, "t-codes")
    _assert_cards(codes, 400, ["Records"])
    assert all(
        any(c["dataLabel"] == "Records" and c["text"].isdigit() for c in card["cells"])
        for card in codes["cards"]
    )
    # the header stays as sort buttons; filtering hides whole cards
    page.locator("#t-records thead th").first.locator("button").click()
    assert page.locator("#t-records thead th").first.get_attribute("aria-sort") == "ascending"
    page.locator("#records select[data-filter=code]").select_option("BAD_DISPOSITION")
    assert page.evaluate(VISIBLE_ROWS, "t-records") == 2
    assert len(page.evaluate(CARDS, "t-records")["cards"]) == 2
    page.locator("#t-records").scroll_into_view_if_needed()
    png = tmp_path / "cards-400.png"
    page.screenshot(path=str(png))
    assert png.read_bytes()[16:24] == (400).to_bytes(4, "big") + (900).to_bytes(4, "big")
    # wide screens keep the table
    page.set_viewport_size({"width": 1280, "height": 900})
    assert page.evaluate("getComputedStyle(document.querySelector('#t-records tr')).display") == (
        "table-row"
    )
    tab.close()
    assert tab.errors == []


def test_without_javascript_tables_stay_plain(browser: Any, report: Path) -> None:
    tab = _Page(browser, java_script_enabled=False, viewport={"width": 1280, "height": 900})
    page = tab.open(report)
    assert page.locator(".controls").count() == 0
    assert page.evaluate(VISIBLE_ROWS, "t-records") == 10
    assert page.locator("#t-records thead th button").count() == 0
    tab.close()
    assert tab.errors == []


def test_print_hides_the_controls(browser: Any, report: Path) -> None:
    tab = _Page(browser, viewport={"width": 1280, "height": 900})
    page = tab.open(report)
    page.locator("#records select[data-filter=code]").select_option("MALFORMED")
    page.emulate_media(media="print")
    assert not page.locator("#records .controls").is_visible()
    displayed = (
        "Array.from(document.querySelectorAll('#t-records tbody tr'))"
        ".filter((r) => getComputedStyle(r).display !== 'none').length"
    )
    assert page.evaluate(displayed) == 10  # filtered-out rows print too
    tab.close()
    assert tab.errors == []


def test_hostile_input_runs_no_script(browser: Any, tmp_path: Path) -> None:
    from tests.test_report import hostile_report

    path = hostile_report(tmp_path)
    tab = _Page(browser, viewport={"width": 1280, "height": 900})
    page = tab.open(path)
    assert page.locator("img").count() == 0
    assert page.locator("script").count() == 1
    assert "<script>alert(1)</script>" in page.locator("#t-records").inner_text()
    tab.close()
    assert tab.dialogs == [] and tab.errors == []


def test_the_whole_header_sorts_and_resolution_sorts_by_urgency(browser: Any, report: Path) -> None:
    tab = _Page(browser, viewport={"width": 1280, "height": 900})
    page = tab.open(report)
    heads = page.locator("#t-records thead th")
    names = [heads.nth(i).inner_text().strip() for i in range(heads.count())]
    col = names.index("Resolution")
    # A click on the cell itself, beside the words, sorts too.
    page.evaluate(f"document.querySelectorAll('#t-records thead th')[{col}].click()")
    assert heads.nth(col).get_attribute("aria-sort") == "ascending"
    order = page.evaluate(
        f"Array.from(document.querySelectorAll('#t-records tbody tr'))"
        f".map((r) => r.cells[{col}].textContent.trim())"
    )
    ranks = {"Fix by hand": 0, "Contact support": 1, "Review by hand": 2, "Fixed automatically": 4}
    assert [ranks.get(x, 9) for x in order] == sorted(ranks.get(x, 9) for x in order)
    assert order[0] == "Fix by hand"  # by urgency, not "Contact support" by its letters
    tab.close()
    assert tab.errors == []


def test_the_checklist_keeps_its_ticks_and_print_has_no_sort_arrows(
    browser: Any, report: Path
) -> None:
    tab = _Page(browser, viewport={"width": 1280, "height": 900})
    page = tab.open(report)
    box = page.locator(".checklist input[type=checkbox]").first
    box.check()
    page.reload()
    page.wait_for_load_state("load")
    assert page.locator(".checklist input[type=checkbox]").first.is_checked()
    page.emulate_media(media="print")
    arrow = page.evaluate(
        "getComputedStyle(document.querySelector('#t-records thead th button'), '::after').content"
    )
    assert arrow in ("none", "normal", "")
    tab.close()
    assert tab.errors == []
