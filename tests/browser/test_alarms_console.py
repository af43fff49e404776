"""The console's 感知告警 page in a real browser (Debian's Chromium via Playwright) against
the real server: open alarms with their readings chart and the rule that fired, the event
they belong to, and the devices that went quiet. Screenshots go to tests/artifacts/screenshots."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from knowledge import Knowledge
from tests.live import Live, backend_live

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = Path(__file__).resolve().parents[1] / "artifacts" / "screenshots"

if not Path(CHROMIUM).exists():
    pytest.skip(
        "Debian's chromium is not installed (.ci/run installs it: apt-get install chromium fonts-noto-cjk)",
        allow_module_level=True,
    )

from playwright.sync_api import Browser, Page, expect, sync_playwright  # noqa: E402


@pytest.fixture(scope="module")
def live(
    tmp_path_factory: pytest.TempPathFactory, prepared_data: Path, knowledge: Knowledge
) -> Iterator[Live]:
    with backend_live(tmp_path_factory.mktemp("alarms"), prepared_data, knowledge, events=20) as s:
        yield s


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield b
        b.close()


def page_for(browser: Browser, live: Live, user: str, width: int = 1280) -> Page:
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


def send(live: Live, readings: list[dict[str, Any]]) -> dict[str, Any]:
    with live.client("yuzhong") as c:
        r = c.post("/api/v1/alarms", json=readings)
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body


def at(minutes_ago: float) -> str:
    return (datetime.now(UTC) - timedelta(minutes=minutes_ago)).isoformat()


@pytest.fixture(scope="module")
def alarm(live: Live) -> dict[str, Any]:
    """A rising water level at 菜园坝 (an alarm with four readings), and a gas detector at
    较场口 that went quiet an hour ago."""
    levels = [0.05, 0.18, 0.33, 0.41]
    body = send(
        live,
        [
            {
                "message_id": f"ui-wl-{i}",
                "device_id": "YZ-WL-01",
                "observed_at": at(20 - 5 * i),
                "metrics": {"level_m": v, "rain_mm_h": 12},
            }
            for i, v in enumerate(levels)
        ]
        + [
            {
                "message_id": "ui-gs-1",
                "device_id": "YZ-GS-02",
                "observed_at": at(60),
                "metrics": {"ch4_pct_lel": 0.4},
            }
        ],
    )
    result = body["results"][2]
    assert "AR-WL-01" in result["rule_ids"]
    return result


def test_open_alarms_show_their_chart_rule_and_event(
    browser: Browser, live: Live, alarm: dict[str, Any]
) -> None:
    page = page_for(browser, live, "jiefangbei")  # 解放碑 does not see 菜园坝's alarm
    page.goto(f"{live.url}/#/alarms")
    expect(page.get_by_test_id("open-alarms")).to_be_visible()
    expect(page.locator("[data-alarm][data-rule=AR-WL-01]")).to_have_count(0)
    page = page_for(browser, live, "yuzhong")
    page.goto(f"{live.url}/#/alarms")
    card = page.locator("[data-rule=AR-WL-01]").first
    expect(card).to_be_visible()
    expect(card.get_by_test_id("rule")).to_have_text("AR-WL-01 积水超警戒深度")
    expect(card).to_contain_text("积水深度0.33米，达到0.3米")
    expect(card.locator("svg.spark circle")).to_have_count(4)  # one dot per reading
    expect(card.locator("svg.spark line.spark-threshold")).to_have_attribute(
        "data-threshold", "0.3"
    )
    event_id = alarm["event_ids"][0]
    card.get_by_role("link", name=f"事件 E{event_id}").click()
    expect(page.get_by_test_id("alarm-rules")).to_contain_text("AR-WL-01")
    # the event shows the alarms it was filed for, each with its chart
    on_event = page.get_by_test_id("event-alarms")
    expect(on_event.locator("[data-rule=AR-WL-01] svg.spark circle")).to_have_count(4)
    shot(page, "alarm-event-draft-1280")
    assert not page.errors  # type: ignore[attr-defined]


def test_quiet_devices_are_listed_with_how_long_and_whose(
    browser: Browser, live: Live, alarm: dict[str, Any]
) -> None:
    page = page_for(browser, live, "yuzhong")
    page.goto(f"{live.url}/#/alarms")
    row = page.locator("[data-testid=silent-devices] tr[data-device=YZ-GS-02]")
    expect(row).to_contain_text("离线")
    expect(row).to_contain_text("重庆燃气集团股份有限公司")
    expect(row).to_contain_text("分钟前")
    # devices that never reported are counted, not listed one by one
    expect(page.get_by_test_id("silent-devices")).to_contain_text("登记后从未上报数据")
    expect(page.locator("[data-testid=silent-devices] tr[data-device=YZ-WL-01]")).to_have_count(0)
    shot(page, "alarms-1280")
    narrow = page_for(browser, live, "yuzhong", width=390)
    narrow.goto(f"{live.url}/#/alarms")
    expect(narrow.locator("[data-rule=AR-WL-01]").first).to_be_visible()
    width = narrow.evaluate("document.documentElement.scrollWidth")
    assert width <= 391, f"page is {width}px wide"
    shot(narrow, "alarms-390")
    assert not page.errors and not narrow.errors  # type: ignore[attr-defined]
