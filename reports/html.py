"""Render the report's view model to one self-contained HTML file.

Owns: the Jinja2 environment (``autoescape=True``, ``StrictUndefined``: every value from an input
file is escaped, a typo in a template fails loudly), inlining the package's CSS and JavaScript,
and the Content-Security-Policy that lets only that script and style run. Nothing is loaded from
the network: charts are inline SVG drawn by the template from the view's geometry.

Does not own: what the report says (``reports.view``) or writing files (``reports.__init__``).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from functools import cache
from importlib import resources

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup, escape

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
    )
    env.globals["table_rows"] = table_rows
    return env


def table_rows(rows: Sequence[Row], columns: Sequence[Column] = ()) -> Markup:
    """A table's body rows, ``<tr>`` by ``<tr>``, each cell escaped.

    Written in Python rather than as a template macro: a report's tables hold thousands of
    cells, and a macro call costs far more than a string join. Equal cells (a table's codes,
    resolution and advice repeat from row to row) are rendered once per column. The markup
    matches the template's: ``badge`` here is the ``badge`` macro's. Each cell carries its
    column's label (``data-label``): on a narrow screen the stylesheet lays a row out as a card,
    label beside value."""
    labels = [f' data-label="{escape(c.label)}"' for c in columns]
    rendered: dict[tuple[int, Cell], str] = {}
    out = []
    for row in rows:
        cells = []
        for i, c in enumerate(row.cells):
            html = rendered.get((i, c))
            if html is None:
                html = _cell(c)
                if i < len(labels):
                    html = "<td" + labels[i] + html[3:]
                rendered[(i, c)] = html
            cells.append(html)
        out.append(
            f'<tr data-codes="{escape(row.codes)}" data-res="{escape(row.resolution)}">'
            f"{''.join(cells)}</tr>\n"
        )
    return Markup("".join(out))


def _cell(c: Cell) -> str:
    text = escape(c.text)
    if c.kind in _PLAIN_CELLS:
        return f"{_PLAIN_CELLS[c.kind]}{text}</td>"
    if c.kind == "ids":
        spans = []
        for i, (label, value) in enumerate(c.items):
            shown = (
                f'<span class="v flag">{escape(value)}<span class="vh"> (check this value)'
                "</span></span>"
                if c.marks[i]
                else f'<span class="v">{escape(value)}</span>'
            )
            spans.append(f'<span class="kv"><span class="k">{escape(label)}</span> {shown}</span>')
        return f'<td class="ids">{"".join(spans)}</td>'
    if c.kind == "codes":
        codes = [
            f'<a href="#{escape(anchor)}"><code>{escape(code)}</code></a>'
            if anchor
            else f"<code>{escape(code)}</code>"
            for code, anchor in c.items
        ]
        return f'<td class="codes">{" ".join(codes)}</td>'
    if c.kind == "resolution":
        # Sorted by urgency (what needs a person first), not by the label's letters.
        slug = c.items[0][0]
        rank = RESOLUTION_ORDER.index(slug) if slug in RESOLUTION_ORDER else len(RESOLUTION_ORDER)
        return (
            f'<td class="res" data-sort="{rank:02d}"><span class="badge res-{escape(slug)}">'
            f"{text}</span></td>"
        )
    if c.kind == "values":
        spans = [
            f'<span class="kv"><span class="k">{escape(label)}</span> '
            f'<span class="v check">{escape(value)}</span></span>'
            for label, value in c.items
        ]
        return f'<td class="values">{"".join(spans)}</td>'
    return f"<td>{text}</td>"


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
