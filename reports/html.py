"""Render the report's view model to one self-contained HTML file.

Owns: the Jinja2 environment (``autoescape=True``, ``StrictUndefined``: every value from an input
file is escaped, a typo in a template fails loudly), inlining the package's CSS and JavaScript,
and the Content-Security-Policy that lets only that script and style run. Nothing is loaded from
the network: charts are inline SVG drawn by the template from the view's geometry.

The templates are compiled once per version of their text and kept in the user's cache folder
(``platformdirs``: ``~/.cache/reconciler/templates`` on Linux): compiling them took 20 ms of
every run. A cache that cannot be read or written, or that another user could write to, is not
used; a damaged entry is compiled again.

Does not own: what the report says (``reports.view``) or writing files (``reports.__init__``).
"""

from __future__ import annotations

import base64
import hashlib
import os
import stat
from collections.abc import Iterator, Sequence
from functools import cache
from importlib import resources
from pathlib import Path

from jinja2 import Environment, FileSystemBytecodeCache, PackageLoader, StrictUndefined
from jinja2.bccache import Bucket
from markupsafe import Markup, escape
from platformdirs import user_cache_path

from .formatting import RESOLUTION_ORDER
from .viewmodel import Cell, Column, Report, Row

TEMPLATE = "report.html.j2"


@cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("reports", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        bytecode_cache=_CompiledTemplates(template_cache_folder()),
    )
    env.globals["table_rows"] = table_rows
    return env


def template_cache_folder() -> Path:
    """Where compiled templates are kept: the user's cache folder for reconciler."""
    return user_cache_path("reconciler", appauthor=False) / "templates"


class _CompiledTemplates(FileSystemBytecodeCache):
    """Jinja's file cache of compiled templates (each entry keyed by the template's name and
    checked against a digest of its text, and against the Python version), used only in a
    folder that is the user's own and that nobody else may write to (what is loaded from it
    is run). Anything that goes wrong with it costs a compile, never the report."""

    def __init__(self, folder: Path) -> None:
        super().__init__(str(folder))
        self.folder = folder

    def load_bytecode(self, bucket: Bucket) -> None:
        if not self._trusted():
            return
        try:
            super().load_bytecode(bucket)
        except Exception:  # a damaged or foreign entry: compiled again
            bucket.reset()

    def dump_bytecode(self, bucket: Bucket) -> None:
        try:
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            if self._trusted():
                super().dump_bytecode(bucket)
        except OSError:
            pass

    def _trusted(self) -> bool:
        try:
            info = self.folder.lstat()
        except OSError:
            return False
        if not stat.S_ISDIR(info.st_mode):
            return False  # a link or a file where the folder should be
        if os.name != "posix":
            return True
        return info.st_uid == os.getuid() and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def table_rows(rows: Sequence[Row], columns: Sequence[Column] = ()) -> Markup:
    """A table's body rows, ``<tr>`` by ``<tr>``, each cell escaped.

    Written in Python rather than as a template macro: a report's tables hold thousands of
    cells, and a macro call costs far more than a string join. Equal cells (a table's codes,
    resolution and advice repeat from row to row: the view hands the same object) are
    rendered once per column, and every text of the table is escaped in one call. The markup
    matches the template's: ``badge`` here is the ``badge`` macro's. Each cell carries its
    column's label (``data-label``): on a narrow screen the stylesheet lays a row out as a card,
    label beside value."""
    labels = [f' data-label="{escape(c.label)}"' for c in columns]
    # The distinct cells (by column and object) and row attributes, in order of first use.
    seen: dict[tuple[int, int], int] = {}
    cells: list[tuple[int, Cell]] = []
    attrs: dict[tuple[str, str], int] = {}
    layout: list[tuple[list[int], int]] = []
    for row in rows:
        keys = []
        for i, c in enumerate(row.cells):
            n = seen.get((i, id(c)))
            if n is None:
                n = seen[(i, id(c))] = len(cells)
                cells.append((i, c))
            keys.append(n)
        layout.append((keys, attrs.setdefault((row.codes, row.resolution), len(attrs))))
    texts: list[str] = []
    for _i, c in cells:
        texts.extend(_cell_texts(c))
    for pair in attrs:
        texts.extend(pair)
    escaped = iter(_escape_all(texts))
    html = []
    for i, c in cells:
        cell = _cell(c, escaped)
        html.append("<td" + labels[i] + cell[3:] if i < len(labels) else cell)
    starts = [f'<tr data-codes="{next(escaped)}" data-res="{next(escaped)}">' for _pair in attrs]
    return Markup(
        "".join([starts[a] + "".join([html[k] for k in keys]) + "</tr>\n" for keys, a in layout])
    )


def _escape_all(texts: list[str]) -> list[str]:
    """``escape`` of each text, in one call over them all (joined by NUL, which escaping
    leaves alone); one at a time should a text hold a NUL itself."""
    if not texts:
        return []
    joined = "\0".join(texts)
    if joined.count("\0") != len(texts) - 1:
        return [str(escape(t)) for t in texts]
    return str(escape(joined)).split("\0")


def _cell_texts(c: Cell) -> list[str]:
    """The texts ``_cell`` escapes, in the order it takes them."""
    if c.kind in _PLAIN_CELLS:
        return [c.text]
    if c.kind == "ids":
        return [t for label, value in c.items for t in (value, label)]
    if c.kind == "codes":
        return [t for code, anchor in c.items for t in ((anchor, code) if anchor else (code,))]
    if c.kind == "resolution":
        return [c.items[0][0], c.text]
    if c.kind == "values":
        return [t for label, value in c.items for t in (label, value)]
    return [c.text]


def _cell(c: Cell, escaped: Iterator[str]) -> str:
    """A cell's ``<td>``; ``escaped`` yields its texts escaped (``_cell_texts``' order)."""
    if c.kind in _PLAIN_CELLS:
        return f"{_PLAIN_CELLS[c.kind]}{next(escaped)}</td>"
    if c.kind == "ids":
        spans = []
        for i in range(len(c.items)):
            value = next(escaped)
            shown = (
                f'<span class="v flag">{value}<span class="vh"> (check this value)</span></span>'
                if c.marks[i]
                else f'<span class="v">{value}</span>'
            )
            spans.append(f'<span class="kv"><span class="k">{next(escaped)}</span> {shown}</span>')
        return f'<td class="ids">{"".join(spans)}</td>'
    if c.kind == "codes":
        codes = [
            f'<a href="#{next(escaped)}"><code>{next(escaped)}</code></a>'
            if anchor
            else f"<code>{next(escaped)}</code>"
            for _code, anchor in c.items
        ]
        return f'<td class="codes">{" ".join(codes)}</td>'
    if c.kind == "resolution":
        # Sorted by urgency (what needs a person first), not by the label's letters.
        slug = c.items[0][0]
        rank = RESOLUTION_ORDER.index(slug) if slug in RESOLUTION_ORDER else len(RESOLUTION_ORDER)
        return (
            f'<td class="res" data-sort="{rank:02d}"><span class="badge res-{next(escaped)}">'
            f"{next(escaped)}</span></td>"
        )
    if c.kind == "values":
        spans = [
            f'<span class="kv"><span class="k">{next(escaped)}</span> '
            f'<span class="v check">{next(escaped)}</span></span>'
            for _pair in c.items
        ]
        return f'<td class="values">{"".join(spans)}</td>'
    return f"<td>{next(escaped)}</td>"


_PLAIN_CELLS = {
    "num": '<td class="num">',
    "id": '<td class="id">',
    "muted": '<td class="muted">',
}


@cache
def static_text(name: str) -> str:
    text = (resources.files("reports") / "static" / name).read_text(encoding="utf-8")
    closing = "</script" if name.endswith(".js") else "</style"
    if closing in text.lower():  # would end the inline element early
        raise ValueError(f"reports/static/{name} must not contain {closing}")
    return text


def _sha256(text: str) -> str:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return "sha256-" + base64.b64encode(digest).decode("ascii")


def render_html(report: Report) -> str:
    """The report as one HTML document (str)."""
    css = static_text("report.css")
    js = static_text("report.js")
    csp = (
        "default-src 'none'; "
        f"style-src '{_sha256(css)}'; "
        f"script-src '{_sha256(js)}'; "
        "img-src data:; base-uri 'none'; form-action 'none'"
    )
    return (
        environment()
        .get_template(TEMPLATE)
        .render(
            r=report,
            css=Markup(css),
            js=Markup(js),
            csp=csp,
        )
    )
