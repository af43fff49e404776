"""The 感知告警 page shows a water alarm's upstream trace in a real browser (Debian's Chromium
via Playwright): the basin map with the alarm station and the sources (the most likely in
red), the ranked sources with their evidence, and the joint warning."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from knowledge import Knowledge
from store import EventStore
from tests.browser.chromium import SHOTS, page_for, require_chromium
from tests.live import Live, live_server
from tests.rivers import ingest_episode

require_chromium()


@pytest.fixture(scope="module")
def live(
    tmp_path_factory: pytest.TempPathFactory, prepared_data: Path, knowledge: Knowledge
) -> Iterator[Live]:
    root = tmp_path_factory.mktemp("trace-console")
    url = f"sqlite:///{root / 'sanji.db'}"
    store = EventStore.open(url, knowledge.store_rules)
    ingest_episode(store, knowledge)
    store.close()
    with live_server(
        url, root / "data", prepared_data, knowledge, now=datetime.now(UTC), events=20
    ) as s:
        yield s


def test_water_alarm_card_shows_its_trace(browser: Browser, live: Live) -> None:
    page = page_for(browser, live, "city")
    page.goto(f"{live.url}/#/alarms")
    card = page.locator("article.alarm", has=page.get_by_test_id("trace")).first
    expect(card).to_contain_text("綦江支坪水质自动监测站")
    trace = card.get_by_test_id("trace")
    expect(trace.locator("ol.trace-top li").first).to_contain_text("文龙街道沱湾雨污混流排污口")
    expect(trace.locator("svg.trace-map rect.station")).to_have_count(1)
    expect(trace.locator("svg.trace-map circle.src-top").first).to_be_visible()
    expect(trace.get_by_test_id("joint-warning")).to_contain_text("重庆市生态环境局主办")
    expect(trace.get_by_test_id("joint-warning")).to_contain_text("江津区生态环境局")
    SHOTS.mkdir(parents=True, exist_ok=True)
    card.screenshot(path=str(SHOTS / "alarm-trace-1280.png"))  # the card alone
    # the event's page shows the same trace beside its draft
    card.get_by_role("link", name="事件 E").click()
    on_event = page.get_by_test_id("event-alarms").get_by_test_id("trace")
    expect(on_event.locator("ol.trace-top li").first).to_contain_text("文龙街道沱湾雨污混流排污口")
    assert not page.errors  # type: ignore[attr-defined]
