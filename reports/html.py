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
from collections.abc import Callable
from functools import cache
from importlib import resources

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from .view import Cell, Report

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
    env.globals["once"] = _once
    return env


def _once(macro: Callable[[Cell], Markup], cell: Cell, rendered: dict[Cell, Markup]) -> Markup:
    """``macro(cell)``, rendered once per distinct cell of a table (``rendered`` remembers).

    A table's codes, resolution and advice cells repeat from row to row, and calling a macro
    costs far more than looking up what it gave; equal cells render alike."""
    out = rendered.get(cell)
    if out is None:
        out = rendered[cell] = macro(cell)
    return out


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
