"""The 复盘 page in a real browser (Debian's Chromium via Playwright) against the live server:
the last full week's review of the officer's district, its downloads, its printed form, and a
street officer's review of its own street only."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook
from playwright.sync_api import Browser, Page, expect

from demo.load import load_demo
from knowledge import Knowledge
from store import EventStore
from tests.browser.chromium import no_overflow, page_for, require_chromium, shot
from tests.live import Live, backend_live

require_chromium()


@pytest.fixture(scope="module")
def live(
    tmp_path_factory: pytest.TempPathFactory, prepared_data: Path, knowledge: Knowledge
) -> Iterator[Live]:
    with backend_live(tmp_path_factory.mktemp("period"), prepared_data, knowledge, events=60) as s:
        store = EventStore.open(str(s.settings.database_url), knowledge.store_rules)
        load_demo(store, knowledge, seed=3, now=datetime.now(UTC), count=0, period_week="500103")
        store.close()
        yield s


def open_review(browser: Browser, live: Live, user: str) -> Page:
    page = page_for(browser, live, user)
    page.get_by_role("link", name="复盘").click()
    expect(page.get_by_test_id("period-review")).to_be_visible()
    return page


def test_the_district_review_of_last_week_with_downloads(
    browser: Browser, live: Live, tmp_path: Path
) -> None:
    page = open_review(browser, live, "yuzhong")
    review = page.get_by_test_id("period-review")
    expect(review.locator("h1")).to_contain_text("渝中区")
    narrative = page.get_by_test_id("narrative")
    expect(narrative).to_contain_text("共受理事件")
    count = int(re.search(r"共受理事件(\d+)件", narrative.inner_text()).group(1))  # type: ignore[union-attr]
    assert count >= 30
    expect(page.locator("[data-testid=cases] .case")).to_have_count(5)
    expect(page.locator("[data-testid=cases] .case table tr").first).to_be_visible()
    expect(page.get_by_test_id("hot-spots").locator("tbody tr").first).to_be_visible()
    expect(page.get_by_test_id("departments")).to_contain_text("退单")
    no_overflow(page)
    shot(page, "period-review-1280")

    with page.expect_download() as got:
        page.get_by_test_id("download-xlsx").click()
    xlsx = got.value
    assert xlsx.suggested_filename.startswith("复盘-渝中区-") and xlsx.suggested_filename.endswith(
        ".xlsx"
    )
    xlsx.save_as(tmp_path / "r.xlsx")
    book = load_workbook(io.BytesIO((tmp_path / "r.xlsx").read_bytes()))
    overview = {row[0]: row[1] for row in book["概况"].iter_rows(values_only=True)}
    assert overview["事件数"] == count
    with page.expect_download() as got:
        page.get_by_test_id("download-pdf").click()
    got.value.save_as(tmp_path / "r.pdf")
    assert (tmp_path / "r.pdf").read_bytes().startswith(b"%PDF")

    page.emulate_media(media="print")  # printed: no header, no form, no buttons
    expect(page.get_by_test_id("period-form")).to_be_hidden()
    expect(page.locator("header.top")).to_be_hidden()
    expect(page.get_by_test_id("download-pdf")).to_be_hidden()
    expect(review).to_be_visible()
    shot(page, "period-review-print")
    assert not page.errors  # type: ignore[attr-defined]


def test_a_month_and_a_street_officer(browser: Browser, live: Live) -> None:
    page = open_review(browser, live, "jiefangbei")
    expect(page.locator("select[name=place] option")).to_have_count(1)
    expect(page.get_by_test_id("period-review").locator("h1")).to_contain_text("解放碑街道")
    page.select_option("select[name=span]", "month")
    page.get_by_role("button", name="生成复盘").click()
    expect(page.get_by_test_id("period-review").locator("h1")).to_contain_text(
        re.compile(r"\d{4}-\d{2} 复盘")
    )
    streets = page.get_by_test_id("by-area").locator("tbody tr td:first-child").all_inner_texts()
    assert set(streets) <= {"解放碑街道"}
    assert not page.errors  # type: ignore[attr-defined]
