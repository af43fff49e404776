"""The officers' console in a real browser: Debian's Chromium driven by Playwright, against the
real server over HTTP. Screenshots of every page go to tests/artifacts/screenshots."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from knowledge import Knowledge
from tests.browser.chromium import no_overflow, page_for, require_chromium, shot
from tests.live import Live, backend_live

BEIJING = timezone(timedelta(hours=8))


require_chromium()


@pytest.fixture(scope="module")
def live(
    tmp_path_factory: pytest.TempPathFactory, prepared_data: Path, knowledge: Knowledge
) -> Iterator[Live]:
    with backend_live(
        tmp_path_factory.mktemp("console"), prepared_data, knowledge, events=400
    ) as server:
        yield server


def code(k: Knowledge, name: str) -> str:
    return next(j.code for j in k.jurisdictions.values() if j.name == name)


def filed(live: Live, text: str, address: str) -> dict[str, Any]:
    with live.client("city") as city:
        r = city.post(
            "/api/v1/events",
            params={"triage": "true"},
            json={"source": "hotline", "text": text, "address": address},
        )
        assert r.status_code == 201, r.text
        body: dict[str, Any] = r.json()
        return body


def test_a_street_officer_sees_only_its_street(
    browser: Browser, live: Live, knowledge: Knowledge
) -> None:
    page = page_for(browser, live, "jiefangbei")
    expect(page.get_by_test_id("jurisdiction")).to_have_text("解放碑街道")
    rows = page.locator("[data-testid=all] li[data-event]")
    expect(rows.first).to_be_visible()
    streets = set(rows.evaluate_all("els => els.map(e => e.dataset.street)"))
    assert streets == {code(knowledge, "解放碑街道")}
    no_overflow(page)
    shot(page, "queue-street-1280")
    assert not page.errors  # type: ignore[attr-defined]


def js_percent(x: float) -> str:
    """As the console's ``percent(x, 0)`` writes it (toFixed rounds halves up)."""
    return f"{math.floor(x * 100 + 0.5)}%"


def test_open_an_event_and_approve_the_ai_draft(browser: Browser, live: Live) -> None:
    event = filed(
        live, "解放碑八一路好吃街有人占道摆摊卖烧烤，油烟很大，行人走不过", "渝中区解放碑街道八一路"
    )
    page = page_for(browser, live, "jiefangbei")
    page.goto(f"{live.url}/#/event/{event['id']}")
    draft = page.get_by_test_id("draft")
    expect(draft).to_be_visible()
    expect(page.get_by_test_id("lead")).to_contain_text(event["draft"]["lead_department"]["name"])
    expect(page.get_by_test_id("explanation")).not_to_be_empty()
    # the precedents the level and lead rest on (the casebook is on in the served configuration)
    nearest = event["draft"]["precedents"][0]["id"]
    expect(page.get_by_test_id("precedents")).to_contain_text(nearest)
    # and how sure it is, against the line below which an officer confirms
    sure = event["draft"]["precedent_confidence"]
    expect(page.get_by_test_id("precedent-confidence")).to_contain_text(
        f"层级 {js_percent(sure['level'])}（采纳线 {js_percent(sure['level_threshold'])}）"
    )
    page.locator("details.law summary").first.click()  # the article text opens on click
    expect(page.locator("details.law[open] p").first).not_to_be_empty()
    no_overflow(page)
    shot(page, "event-draft-1280")
    page.get_by_test_id("approve").click()
    expect(page.locator("[data-status=dispatched]").first).to_be_visible()
    expect(page.locator("[data-testid=timeline] li[data-action=dispatch]")).to_contain_text(
        "jiefangbei"
    )
    with live.client("city") as city:
        history = city.get(f"/api/v1/events/{event['id']}").json()["history"]
    assert ("dispatch", "jiefangbei") in [(h["action"], h["actor"]) for h in history]
    shot(page, "event-dispatched-1280")


def test_edit_a_draft_to_another_department(browser: Browser, live: Live) -> None:
    event = filed(
        live, "民族路步行街的井盖松动了，踩上去会翻，晚上很危险", "渝中区解放碑街道民族路"
    )
    page = page_for(browser, live, "yuzhong")
    page.goto(f"{live.url}/#/event/{event['id']}")
    page.get_by_test_id("edit").click()
    select = page.get_by_test_id("edit-lead")
    expect(select.locator("option").nth(5)).to_be_attached()  # the list arrives from the API
    options = select.locator("option").evaluate_all("els => els.map(e => [e.value, e.textContent])")
    current = event["draft"]["lead_department"]["code"]
    target = next(v for v, t in options if v != current and "城市管理" in t)
    select.select_option(target)
    page.locator("dialog textarea").fill("由城管先行到场设置警示")
    shot(page, "event-edit-dialog-1280")
    page.locator("dialog button[type=submit]").click()
    expect(page.locator("[data-status=dispatched]").first).to_be_visible()
    with live.client("city") as city:
        detail = city.get(f"/api/v1/events/{event['id']}").json()
    assert detail["event"]["lead_department"] == target
    assert detail["feedback"][-1]["kind"] == "draft_edited"


def test_an_offered_article_is_ticked_into_the_orders_legal_basis(
    browser: Browser, live: Live
) -> None:
    event = filed(live, "我家楼下有个问题一直没人管，希望尽快处理。", "渝中区解放碑街道民族路")
    offered = [f"《{x['title']}》{x['article']}" for x in event["draft"]["proposed_basis"]]
    assert offered, "a draft of an unsure type offers articles"
    page = page_for(browser, live, "yuzhong")
    page.goto(f"{live.url}/#/event/{event['id']}")
    expect(page.get_by_test_id("proposed-basis")).to_contain_text(offered[0])
    page.get_by_test_id("edit").click()
    basis = page.get_by_test_id("edit-basis")
    box = basis.locator(f"input[value='{offered[0]}']")
    expect(box).not_to_be_checked()
    box.check()
    page.locator("dialog button[type=submit]").click()
    expect(page.locator("[data-status=dispatched]").first).to_be_visible()
    with live.client("city") as city:
        detail = city.get(f"/api/v1/events/{event['id']}").json()
    cited = [f"《{c['title']}》{c['article']}" for c in detail["orders"][-1]["legal_basis"]]
    drafted = [f"《{x['title']}》{x['article']}" for x in event["draft"]["legal_basis"]]
    assert cited == [*drafted, offered[0]]


def test_ask_the_assistant_and_see_a_streamed_answer_with_sources(
    browser: Browser, live: Live
) -> None:
    page = page_for(browser, live, "yuzhong")
    page.goto(f"{live.url}/#/assistant")
    page.fill("input[aria-label=问题]", "今天有哪些超时未办结的事件")
    page.keyboard.press("Enter")
    answer = page.locator("[data-testid=answer][data-done='1']").last
    expect(answer).to_contain_text("超过办理时限")
    expect(answer.locator("a[data-source=event]").first).to_be_visible()
    no_overflow(page)
    shot(page, "assistant-1280")
    page.fill("input[aria-label=问题]", "占道经营依据什么规定处罚")
    page.keyboard.press("Enter")
    law = page.locator("[data-testid=answer][data-done='1'] a[data-source=article]").first
    expect(law).to_be_visible()
    law.click()
    expect(page.locator(".msg .law").first).not_to_be_empty()


def test_the_dashboard_numbers_match_the_api(browser: Browser, live: Live) -> None:
    page = page_for(browser, live, "yuzhong")
    page.goto(f"{live.url}/#/dashboard")
    expect(page.locator("[data-state=ready]")).to_be_attached()
    expect(page.locator("[data-kpi=today]")).to_be_visible()
    kpi = {
        k: page.locator(f"[data-kpi={k}]").get_attribute("data-value")
        for k in ("today", "week", "on_time_rate", "median_hours", "return_rate", "satisfaction")
    }
    now = datetime.now(BEIJING)
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    monday = today - timedelta(days=today.weekday())
    with live.client("yuzhong") as c:

        def stats(since: datetime) -> dict[str, Any]:
            params = {"since": since.isoformat(), "until": datetime.now(UTC).isoformat()}
            total: dict[str, Any] = c.get("/api/v1/stats", params=params).json()["total"]
            return total

        month = stats(datetime.now(UTC) - timedelta(days=30))
        assert float(kpi["today"] or 0) == stats(today)["count"]
        assert float(kpi["week"] or 0) == stats(monday)["count"]
    for key, field in (
        ("on_time_rate", "on_time_rate"),
        ("median_hours", "median_hours_to_close"),
        ("return_rate", "return_rate"),
        ("satisfaction", "satisfaction"),
    ):
        expected = month[field]
        if expected is None:
            assert not kpi[key]
        else:
            assert float(kpi[key] or "nan") == pytest.approx(expected, abs=1e-6), key
    no_overflow(page)
    shot(page, "dashboard-1280")


def test_the_review_prints(browser: Browser, live: Live) -> None:
    with live.client("yuzhong") as c:
        closed = c.get("/api/v1/events", params={"status": "closed", "limit": 1}).json()["items"]
    page = page_for(browser, live, "yuzhong")
    page.goto(f"{live.url}/#/review/{closed[0]['id']}")
    expect(page.get_by_test_id("review")).to_contain_text("复盘")
    page.emulate_media(media="print")
    expect(page.locator("header.top")).to_be_hidden()
    shot(page, "review-print")


@pytest.mark.parametrize("where", ["queue", "event", "assistant", "dashboard"])
def test_phone_width_pages_fit(browser: Browser, live: Live, where: str) -> None:
    page = page_for(browser, live, "jiefangbei", width=375)
    if where == "event":
        with live.client("jiefangbei") as c:
            first = c.get("/api/v1/events", params={"limit": 1}).json()["items"][0]["id"]
        page.goto(f"{live.url}/#/event/{first}")
        expect(page.get_by_test_id("timeline")).to_be_visible()
    else:
        page.goto(f"{live.url}/#/{where}")
        # the push stream stays open, so the network is never idle: wait for the page instead
        expect(page.locator("#app > *").first).to_be_visible()
        expect(page.get_by_text("正在加载…")).to_have_count(0)
        if where == "queue":
            expect(page.locator("[data-testid=all] li").first).to_be_visible()
        elif where == "dashboard":
            expect(page.locator(".dash-empty", has_text="加载中…")).to_have_count(0)
    no_overflow(page)
    shot(page, f"{where}-phone")
    assert not page.errors  # type: ignore[attr-defined]


def test_the_deadline_badge_follows_the_servers_due_soon_time(browser: Browser, live: Live) -> None:
    page = page_for(browser, live, "yuzhong")
    kinds = page.evaluate(
        """async () => {
          const { deadline } = await import('/static/ui.js');
          const now = Date.parse('2026-11-20T10:00:00Z');
          const e = (due, soon) => ({ status: 'in_progress', accepted_at: '2026-11-20T00:00:00Z',
                                       due_at: due, due_soon_at: soon });
          return [
            e('2026-11-20T12:00:00Z', '2026-11-20T09:00:00Z'),  // past due_soon_at
            e('2026-11-20T12:00:00Z', '2026-11-20T11:00:00Z'),  // not yet
            e('2026-11-20T09:00:00Z', '2026-11-20T08:00:00Z'),  // past due
          ].map(x => deadline(x, now).dataset.deadline);
        }"""
    )
    assert kinds == ["soon", "ok", "overdue"]
    assert not page.errors  # type: ignore[attr-defined]


def test_another_officers_action_appears_without_a_reload(browser: Browser, live: Live) -> None:
    """Pushed, not polled: while the stream is up the console does not poll, so a new event in
    the list and a dispatch on the open event page can only have come by push; a marker set in
    the page shows it was never reloaded."""
    page = page_for(browser, live, "jiefangbei")
    expect(page.get_by_test_id("live")).to_have_text("实时")
    expect(page.locator("[data-testid=all] li[data-event]").first).to_be_visible()
    page.evaluate("window.__notReloaded = true")
    event = filed(live, "解放碑民族路口有人乱扔装修垃圾，堆了半条人行道", "渝中区解放碑街道民族路")
    expect(page.locator(f"[data-testid=all] li[data-event='{event['id']}']")).to_be_visible()
    page.locator(f"[data-testid=all] li[data-event='{event['id']}']").click()
    expect(page.get_by_test_id("draft")).to_be_visible()
    with live.client("city") as city:  # a second officer approves the draft elsewhere
        r = city.post(f"/api/v1/events/{event['id']}/approve", json={})
        assert r.status_code == 200, r.text
    expect(page.locator("[data-status=dispatched]").first).to_be_visible()
    expect(page.locator("[data-testid=timeline] li[data-action=dispatch]")).to_contain_text("city")
    assert page.evaluate("window.__notReloaded") is True
    shot(page, "event-pushed-1280")
    assert not page.errors  # type: ignore[attr-defined]
