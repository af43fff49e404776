"""The department view of the console in a real browser: a department signs for its order,
reports progress with a photo and returns another; the owning centre rules on the return."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from knowledge import Knowledge
from tests.browser.chromium import page_for, require_chromium, shot
from tests.live import Live, backend_live

require_chromium()

ENFORCEMENT = "500103003.street_enforcement"  # demo account jfb_zhifa
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(200))


@pytest.fixture(scope="module")
def live(
    tmp_path_factory: pytest.TempPathFactory, prepared_data: Path, knowledge: Knowledge
) -> Iterator[Live]:
    with backend_live(
        tmp_path_factory.mktemp("department-console"), prepared_data, knowledge, events=60
    ) as server:
        yield server


def dispatched_to_enforcement(live: Live, external_id: str) -> int:
    with live.client("jiefangbei") as centre:
        r = centre.post(
            "/api/v1/events",
            params={"triage": "true"},
            json={
                "source": "hotline",
                "text": "解放碑八一路有人占道摆摊卖烧烤，堵住了人行道",
                "address": "渝中区解放碑街道八一路",
                "external_id": external_id,
            },
        )
        assert r.status_code == 201, r.text
        event_id: int = r.json()["id"]
        r = centre.post(
            f"/api/v1/events/{event_id}/edit",
            json={"lead_department": ENFORCEMENT, "assisting_departments": [], "level": "street"},
        )
        assert r.status_code == 200, r.text
        return event_id


def test_a_department_signs_and_reports_progress_with_a_photo(browser: Browser, live: Live) -> None:
    event_id = dispatched_to_enforcement(live, "B-1")
    page = page_for(browser, live, "jfb_zhifa")
    expect(page.get_by_test_id("jurisdiction")).to_have_text("解放碑街道综合行政执法大队")
    row = page.locator(f"[data-testid=department-orders] tr[data-event='{event_id}']")
    expect(row).to_be_visible()
    expect(row.get_by_test_id("due")).to_have_text("签收后起算")
    row.locator("button[data-action=accept]").click()
    expect(row.locator("button[data-action=report_progress]")).to_be_visible()
    expect(row.get_by_test_id("due")).not_to_have_text("签收后起算")
    row.locator("button[data-action=report_progress]").click()
    dialog = page.locator("dialog[open]")
    dialog.get_by_test_id("reason").fill("已到场劝离摊贩")
    dialog.get_by_test_id("files").set_input_files(
        {"name": "现场.png", "mimeType": "image/png", "buffer": PNG}
    )
    dialog.locator("button.primary").click()
    expect(page.locator("dialog[open]")).to_have_count(0)
    shot(page, "department-orders-1280")
    with live.client("jiefangbei") as centre:
        history = centre.get(f"/api/v1/events/{event_id}").json()["history"]
        files = centre.get(f"/api/v1/events/{event_id}/attachments").json()
    progress = [h for h in history if h["action"] == "report_progress"]
    assert progress and progress[-1]["actor"] == "jfb_zhifa"
    assert [f["filename"] for f in files] == ["现场.png"]
    assert progress[-1]["payload"]["attachments"] == [files[0]["id"]]
    page.goto(f"{live.url}/#/event/{event_id}")
    expect(page.locator("[data-testid=attachments] img")).to_have_count(1)
    assert not page.errors  # type: ignore[attr-defined]


def test_a_return_is_ruled_on_by_the_owning_centre(browser: Browser, live: Live) -> None:
    event_id = dispatched_to_enforcement(live, "B-2")
    dept = page_for(browser, live, "jfb_zhifa")
    row = dept.locator(f"[data-testid=department-orders] tr[data-event='{event_id}']")
    row.locator("button[data-action=return]").click()
    dialog = dept.locator("dialog[open]")
    dialog.get_by_test_id("reason-code").select_option("not_our_duty")
    dialog.get_by_test_id("reason").fill("摊点在商场红线内，归街道办管理")
    dialog.locator("button.primary").click()
    # returned (routing drafts again meanwhile): off the department's open list
    expect(row).to_have_count(0, timeout=120_000)
    centre = page_for(browser, live, "jiefangbei")
    centre.goto(f"{live.url}/#/event/{event_id}")
    card = centre.get_by_test_id("adjudication")
    expect(card).to_contain_text("非本单位职责")
    expect(card.locator("button[data-decision=reject]")).to_be_visible()
    shot(centre, "event-return-ruling-1280")
    card.locator("button[data-decision=reject]").click()
    ruling = centre.locator("dialog[open]")
    ruling.get_by_test_id("ruling-note").fill("占道经营属执法大队职责")
    ruling.locator("button.primary").click()
    expect(centre.locator("[data-status=dispatched]").first).to_be_visible()
    expect(centre.locator("[data-testid=timeline] li[data-action=adjudicate]")).to_contain_text(
        "jiefangbei"
    )
    with live.client("jiefangbei") as api:
        feedback = api.get(f"/api/v1/events/{event_id}").json()["feedback"]
    [label] = [f["payload"] for f in feedback if f["kind"] == "return_adjudicated"]
    assert label["decision"] == "reject" and label["returned_department"] == ENFORCEMENT
    assert not dept.errors and not centre.errors  # type: ignore[attr-defined]
