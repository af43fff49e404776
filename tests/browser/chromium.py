"""What every browser test shares: Debian's Chromium (skipped with a clear message where it is
missing), signing in as a demo officer, screenshots and the no-sideways-scrolling check."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.live import Live

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = Path(__file__).resolve().parents[1] / "artifacts" / "screenshots"


def require_chromium() -> None:
    """Skip the calling module when Chromium is not installed."""
    if not Path(CHROMIUM).exists():
        pytest.skip(
            "Debian's chromium is not installed (.ci/run installs it: apt-get install chromium "
            "fonts-noto-cjk)",
            allow_module_level=True,
        )


def page_for(browser: Browser, live: Live, user: str, width: int = 1280) -> Page:
    """A new page signed in as ``user``; page errors are collected on ``page.errors``."""
    context = browser.new_context(viewport={"width": width, "height": 800}, locale="zh-CN")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(live.url + "/")
    page.fill("#username", user)
    page.fill("#password", live.passwords[user])
    page.click("button[type=submit]")
    expect(page.get_by_test_id("jurisdiction")).to_be_visible()
    page.errors = errors  # type: ignore[attr-defined]
    return page


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def no_overflow(page: Page) -> None:
    """Nothing on the page is wider than the window (no sideways scrolling)."""
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"] + 1, f"page is {width}px wide"  # type: ignore[index]
