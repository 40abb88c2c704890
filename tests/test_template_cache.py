"""The report's compiled templates, kept in the user's cache folder between runs.

- The first render compiles the templates and keeps them; the next compiles nothing and
  gives the same report byte for byte.
- A damaged or foreign entry (garbage, cut short) is compiled again: the same report.
- A cache folder another user could write to (what is loaded from it is run), a file or a
  link where the folder should be, or a folder that cannot be made: nothing is read from or
  written there, and the report is the same.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import jinja2
import pytest

from reports import html
from reports.view import report_from_reconciliation
from reports.viewmodel import Report
from tests.helpers import scenario_inputs

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def report() -> Report:
    from reconciler.pipeline import reconcile

    os.environ.setdefault("SOURCE_DATE_EPOCH", "1700000000")
    rec = reconcile(*scenario_inputs(ROOT / "fixtures" / "modification_view_errors", ROOT))
    return report_from_reconciliation(rec)


@pytest.fixture
def cache_at(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each render builds its environment anew, with the cache folder the test names."""
    html.environment.cache_clear()
    yield
    html.environment.cache_clear()


def _render(report: Report, folder: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setattr(html, "template_cache_folder", lambda: folder)
    html.environment.cache_clear()
    return html.render_html(report)


def _no_compiling(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a template was compiled")

    monkeypatch.setattr(jinja2.Environment, "compile", refuse)


def test_templates_are_compiled_once_and_then_read(
    report: Report, cache_at: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "cache" / "reconciler" / "templates"
    first = _render(report, folder, monkeypatch)
    kept = sorted(folder.iterdir())
    assert kept and all(p.suffix == ".cache" for p in kept)
    if os.name == "posix":
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    with monkeypatch.context() as m:
        _no_compiling(m)
        assert _render(report, folder, m) == first
    assert sorted(folder.iterdir()) == kept


@pytest.mark.parametrize("damage", ["garbage", "cut short", "empty"])
def test_a_damaged_entry_is_compiled_again(
    report: Report, cache_at: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage: str
) -> None:
    folder = tmp_path / "templates"
    first = _render(report, folder, monkeypatch)
    for entry in folder.iterdir():
        data = entry.read_bytes()
        entry.write_bytes(
            {"garbage": b"\x80\x04junk" * 9, "cut short": data[: len(data) // 2], "empty": b""}[
                damage
            ]
        )
    assert _render(report, folder, monkeypatch) == first
    # Compiled again and kept whole: the next render reads it.
    with monkeypatch.context() as m:
        _no_compiling(m)
        assert _render(report, folder, m) == first


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_a_folder_others_may_write_to_is_not_used(
    report: Report, cache_at: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "templates"
    first = _render(report, tmp_path / "own", monkeypatch)
    folder.mkdir()
    folder.chmod(0o777)
    assert _render(report, folder, monkeypatch) == first
    assert list(folder.iterdir()) == []
    # An entry planted there is not read either: it would fail the render if it were.
    for entry in (tmp_path / "own").iterdir():
        (folder / entry.name).write_bytes(b"\x80\x04junk")
    with monkeypatch.context() as m:
        m.setattr(jinja2.bccache.Bucket, "load_bytecode", _refuse_reading)
        assert _render(report, folder, m) == first


def _refuse_reading(*_args: object) -> None:
    raise AssertionError("an entry was read from a folder others may write to")


@pytest.mark.parametrize("what", ["a file", "a link", "cannot be made"])
def test_a_cache_that_cannot_be_used_costs_nothing_but_a_compile(
    report: Report, cache_at: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, what: str
) -> None:
    first = _render(report, tmp_path / "own", monkeypatch)
    folder = tmp_path / "templates"
    if what == "a file":
        folder.write_text("not a folder", encoding="utf-8")
    elif what == "a link":
        (tmp_path / "elsewhere").mkdir()
        folder.symlink_to(tmp_path / "elsewhere")
    else:
        blocker = tmp_path / "blocker"
        blocker.write_text("", encoding="utf-8")
        folder = blocker / "templates"
    assert _render(report, folder, monkeypatch) == first
    if what == "a link":
        assert list((tmp_path / "elsewhere").iterdir()) == []
