"""Refresh docs/report.png, the README's picture of the HTML report.

Renders the report of ``fixtures/modification_view_errors`` (clock fixed by SOURCE_DATE_EPOCH)
and photographs its top in Debian's headless Chromium, with the same helper the browser test
uses. Run from anywhere: ``python docs/make_screenshot.py`` (needs ``playwright`` and
``/usr/bin/chromium``; never downloads a browser).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.test_browser import DOCS_PNG, make_report, save_screenshot  # noqa: E402


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        png = save_screenshot(make_report(Path(tmp)), DOCS_PNG)
    print(f"wrote {png.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
