"""What ``pip install .`` ships: every package of the source tree, and its data."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _configured() -> list[str]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    packages: list[str] = data["tool"]["setuptools"]["packages"]
    return packages


def test_every_package_of_the_tree_is_installed() -> None:
    found = sorted(
        ".".join(init.parent.relative_to(ROOT).parts)
        for top in ("reconciler", "reports")
        for init in (ROOT / top).rglob("__init__.py")
    )
    missing = [name for name in found if name not in _configured()]
    assert not missing, f"add to [tool.setuptools] packages in pyproject.toml: {missing}"


def test_the_report_data_folders_are_shipped() -> None:
    assert {"reports.templates", "reports.static"} <= set(_configured())
