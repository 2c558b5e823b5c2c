"""What the dashboard's browser tests share: a page in Debian's headless Chromium that
records console errors, and the folder for its screenshots."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ARTIFACTS, CHROMIUM_ARGS, chromium_path, require

SHOTS = ARTIFACTS / "dashboard"


@dataclass
class BrowserPage:
    """A fresh page (1280 by 900) and the console errors it has logged."""

    page: Any
    shots: Path
    errors: list[str] = field(default_factory=list)

    def csp_errors(self) -> list[str]:
        return [e for e in self.errors if "Content Security Policy" in e]


@pytest.fixture
def browser_page() -> Iterator[BrowserPage]:
    require(chromium_path() is not None, "Debian's chromium is not installed")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require(False, "playwright is not installed")
        return
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        out = BrowserPage(page, SHOTS)
        page.on("console", lambda m: out.errors.append(m.text) if m.type == "error" else None)
        try:
            yield out
        finally:
            browser.close()
