"""Departments as users over real HTTP, on SQLite and PostgreSQL: a department's worklist
and actions, attachments checked by their content, returns adjudicated by the owning centre,
Open311 status notes, the supervision sweep."""

from __future__ import annotations

import httpx

from tests.live import Live, live_on_both_backends

STREET = "500103003"  # 解放碑街道
ENFORCEMENT = f"{STREET}.street_enforcement"  # demo account jfb_zhifa
OFFICE = f"{STREET}.street_office"  # demo account jfb_jiedao
TEXT = "解放碑步行街民权路口有人占道摆摊卖水果，堵住了人行道"
PLACE = "渝中区解放碑街道民权路"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(200))
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


live = live_on_both_backends(events=60)


def dispatched_to(c: httpx.Client, lead: str, external_id: str) -> int:
    """File an event as the street centre and dispatch it to ``lead`` alone."""
    r = c.post(
        "/api/v1/events",
        params={"triage": "true"},
        json={"source": "hotline", "text": TEXT, "address": PLACE, "external_id": external_id},
    )
    assert r.status_code == 201, r.text
    event_id: int = r.json()["id"]
    r = c.post(
        f"/api/v1/events/{event_id}/edit",
        json={"lead_department": lead, "assisting_departments": [], "level": "street"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["event"]["lead_department"] == lead
    return event_id


def actions_of(c: httpx.Client, event_id: int) -> list[str]:
    return [a["action"] for a in c.get(f"/api/v1/events/{event_id}").json()["allowed_actions"]]


def test_a_department_works_its_own_orders_only(live: Live) -> None:
    with (
        live.client("jiefangbei") as centre,
        live.client("jfb_zhifa") as dept,
        live.client("jfb_jiedao") as other,
    ):
        event_id = dispatched_to(centre, ENFORCEMENT, "D-1")
        me = dept.get("/api/v1/auth/me").json()
        assert (
            me["role"] == "department" and me["jurisdiction_name"] == "解放碑街道综合行政执法大队"
        )
        mine = dept.get("/api/v1/department/orders").json()
        [row] = [o for o in mine if o["event"]["id"] == event_id]
        assert row["part"] == "lead" and row["part_zh"] == "主办"
        assert {a["action"] for a in row["allowed_actions"]} == {"accept", "return"}
        assert event_id not in [
            o["event"]["id"] for o in other.get("/api/v1/department/orders").json()
        ]
        assert other.get(f"/api/v1/events/{event_id}").status_code == 404
        listed = dept.get("/api/v1/events", params={"limit": 500}).json()
        assert event_id in [e["id"] for e in listed["items"]]
        assert event_id not in [e["id"] for e in other.get("/api/v1/events").json()["items"]]
        assert dept.get("/api/v1/stats").status_code == 200
        r = dept.get("/api/v1/events", params={"jurisdiction": "500103"})
        assert r.status_code == 403  # a department filters by nothing but its own orders
        assert other.post(f"/api/v1/events/{event_id}/accept").status_code == 404
        # what a department may not do: approve, supervise, adjudicate, see the centre's lists
        assert dept.post(f"/api/v1/events/{event_id}/approve").status_code == 403
        r = dept.post(f"/api/v1/events/{event_id}/supervise", json={"reason": "催办"})
        assert r.status_code == 403
        assert dept.get("/api/v1/returns").status_code == 403
        assert centre.get("/api/v1/department/orders").status_code == 403
        # the department signs, reports progress, completes; the clock starts at 签收
        r = dept.post(f"/api/v1/events/{event_id}/accept")
        assert r.status_code == 200, r.text
        assert r.json()["event"]["due_at"] is not None
        assert "report_progress" in actions_of(dept, event_id)
        photo = dept.post(
            f"/api/v1/events/{event_id}/attachments",
            params={"filename": "现场.png", "note": "到场照片"},
            content=PNG,
            headers={"Content-Type": "image/png"},
        )
        assert photo.status_code == 201, photo.text
        r = dept.post(
            f"/api/v1/events/{event_id}/report-progress",
            json={"reason": "已到场劝离摊贩", "attachments": [photo.json()["id"]]},
        )
        assert r.status_code == 200, r.text
        r = dept.post(f"/api/v1/events/{event_id}/report-progress", json={"attachments": [99999]})
        assert r.status_code == 422 and "附件" in r.json()["detail"]
        with live.client("city") as city:
            [req] = city.get(f"/open311/v2/requests/{event_id}.json").json()
        assert "签收" in req["status_notes"]
        assert "解放碑街道综合行政执法大队 进展反馈：已到场劝离摊贩" in req["status_notes"]
        r = dept.post(f"/api/v1/events/{event_id}/resolve", json={"reason": "摊贩已清理"})
        assert r.status_code == 200 and r.json()["event"]["status"] == "resolved"
        assert (
            dept.post(f"/api/v1/events/{event_id}/verify", json={"satisfaction": 5}).status_code
            == 403
        )
        history = centre.get(f"/api/v1/events/{event_id}").json()["history"]
        progress = [h for h in history if h["action"] == "report_progress"]
        assert progress[0]["actor"] == "jfb_zhifa"
        assert progress[0]["payload"]["department"] == ENFORCEMENT
        assert progress[0]["payload"]["attachments"] == [photo.json()["id"]]


def test_attachments_are_checked_by_content_and_served_to_those_who_see_the_event(
    live: Live,
) -> None:
    with (
        live.client("jiefangbei") as centre,
        live.client("jfb_zhifa") as dept,
        live.client("yz_chengguan") as stranger,
    ):
        event_id = dispatched_to(centre, ENFORCEMENT, "D-2")
        url = f"/api/v1/events/{event_id}/attachments"
        # a text file named .jpg is not an image
        r = dept.post(
            url,
            params={"filename": "照片.jpg"},
            content=b"not really a photo",
            headers={"Content-Type": "image/jpeg"},
        )
        assert r.status_code == 415 and "按文件内容识别" in r.json()["detail"]
        r = dept.post(url, content=b"", headers={"Content-Type": "application/pdf"})
        assert r.status_code == 422 and "为空" in r.json()["detail"]
        big = b"\xff\xd8\xff" + b"\x00" * (10 * 1024 * 1024)
        r = dept.post(url, content=big, headers={"Content-Type": "image/jpeg"})
        assert r.status_code == 413 and "10 MB" in r.json()["detail"]
        # a PDF with a misleading name and type is stored as what it is
        r = dept.post(
            url,
            params={"filename": "../../办结报告.txt"},
            content=PDF,
            headers={"Content-Type": "text/plain"},
        )
        assert r.status_code == 201, r.text
        meta = r.json()
        assert meta["media_type"] == "application/pdf" and meta["filename"] == "办结报告.txt"
        assert meta["department"] == ENFORCEMENT and meta["size"] == len(PDF)
        got = centre.get(meta["url"])
        assert got.status_code == 200 and got.content == PDF
        assert got.headers["content-type"] == "application/pdf"
        assert [a["id"] for a in dept.get(url).json()] == [meta["id"]]
        assert stranger.get(meta["url"]).status_code == 404
        assert (
            stranger.post(url, content=PNG, headers={"Content-Type": "image/png"}).status_code
            == 404
        )
        with live.client("hotline") as feed:  # an integration sees the event but attaches nothing
            r = feed.post(url, content=PNG, headers={"Content-Type": "image/png"})
            assert r.status_code == 403


def test_returns_are_adjudicated_by_the_owning_centre(live: Live) -> None:
    with (
        live.client("jiefangbei") as centre,
        live.client("yuzhong") as district,
        live.client("jfb_zhifa") as dept,
        live.client("jfb_jiedao") as office,
    ):
        event_id = dispatched_to(centre, ENFORCEMENT, "D-3")
        r = dept.post(
            f"/api/v1/events/{event_id}/return",
            json={"reason_code": "not_our_duty", "reason": "摊点在商场红线内，归街道办管理"},
        )
        assert r.status_code == 200, r.text
        assert r.json()["redraft"] is None  # the centre rules, the department sees no draft
        r = dept.post(f"/api/v1/events/{event_id}/adjudicate", json={"decision": "reject"})
        assert r.status_code == 403
        [pending] = [p for p in centre.get("/api/v1/returns").json() if p["event_id"] == event_id]
        assert pending["owner_level"] == "street" and pending["may_adjudicate"] is True
        assert pending["returned_department"] == ENFORCEMENT
        assert pending["reason_name"] == "非本单位职责"
        # reject: back to the department, which must take it
        r = centre.post(
            f"/api/v1/events/{event_id}/adjudicate",
            json={"decision": "reject", "note": "占道经营属执法大队职责"},
        )
        assert r.status_code == 200, r.text
        assert r.json()["event"]["status"] == "dispatched"
        assert r.json()["event"]["lead_department"] == ENFORCEMENT
        assert "accept" in actions_of(dept, event_id)
        # returned again; accepting it needs a department that serves the place
        r = dept.post(
            f"/api/v1/events/{event_id}/return",
            json={"reason_code": "not_our_duty", "reason": "仍认为不归本单位"},
        )
        assert r.status_code == 200
        r = centre.post(f"/api/v1/events/{event_id}/adjudicate", json={"decision": "accept"})
        assert r.status_code == 422 and "改派" in r.json()["detail"]
        r = centre.post(
            f"/api/v1/events/{event_id}/adjudicate",
            json={"decision": "accept", "corrected_department": "500112.urban_mgmt"},
        )
        assert r.status_code == 422 and "不管辖事发地" in r.json()["detail"]
        r = district.post(
            f"/api/v1/events/{event_id}/adjudicate",
            json={"decision": "accept", "corrected_department": OFFICE, "note": "改由街道办牵头"},
        )
        assert r.status_code == 200, r.text
        assert r.json()["event"]["lead_department"] == OFFICE
        assert "accept" in actions_of(office, event_id)
        assert actions_of(dept, event_id) == []  # it still sees the event, but acts no more
        detail = centre.get(f"/api/v1/events/{event_id}").json()
        labels = [f["payload"] for f in detail["feedback"] if f["kind"] == "return_adjudicated"]
        assert [(p["decision"], p["corrected_department"]) for p in labels] == [
            ("reject", None),
            ("accept", OFFICE),
        ]
        assert labels[-1]["returned_department"] == ENFORCEMENT
        assert labels[-1]["reason_code"] == "not_our_duty"
        assert labels[-1]["note"] == "改由街道办牵头"
        assert isinstance(labels[-1]["order_id"], int) and labels[-1]["subtype"]
        ruling = centre.get(f"/api/v1/events/{event_id}/adjudication").json()
        assert [a["decision"] for a in ruling["adjudications"]] == ["reject", "accept"]
        r = centre.post(f"/api/v1/events/{event_id}/adjudicate", json={"decision": "reject"})
        assert r.status_code == 409  # nothing is waiting for a ruling now


def test_the_supervision_sweep_raises_each_step_once(live: Live) -> None:
    with live.client("yuzhong") as district, live.client("jiefangbei") as street:
        assert street.post("/api/v1/supervision/sweep").status_code == 403
        first = district.post("/api/v1/supervision/sweep")
        assert first.status_code == 200, first.text
        assert first.json()["raised"], "the demo month has overdue orders"
        again = district.post("/api/v1/supervision/sweep")
        assert again.status_code == 200 and again.json()["raised"] == []
        for raised in first.json()["raised"]:
            history = district.get(f"/api/v1/events/{raised['event_id']}")
            if history.status_code != 200:
                continue  # outside 渝中区: the city sees it
            steps = [
                h["payload"].get("step")
                for h in history.json()["history"]
                if h["action"] == "supervise"
            ]
            assert steps.count(raised["step"]) == 1


def test_approving_the_redraft_of_a_return_is_a_ruling_too(live: Live) -> None:
    with live.client("jiefangbei") as centre, live.client("jfb_zhifa") as dept:
        event_id = dispatched_to(centre, ENFORCEMENT, "D-4")
        r = dept.post(
            f"/api/v1/events/{event_id}/return",
            json={"reason_code": "not_our_area", "reason": "地址在七星岗街道"},
        )
        assert r.status_code == 200, r.text
        pending = centre.get(f"/api/v1/events/{event_id}/adjudication").json()
        suggested = pending["suggested_department"]
        assert suggested and suggested != ENFORCEMENT
        assert pending["suggested_department_name"]
        r = centre.post(f"/api/v1/events/{event_id}/approve")
        assert r.status_code == 200, r.text
        detail = centre.get(f"/api/v1/events/{event_id}").json()
        assert [h["action"] for h in detail["history"]][-2:] == ["return", "redispatch"]
        [label] = [f["payload"] for f in detail["feedback"] if f["kind"] == "return_adjudicated"]
        assert label["decision"] == "accept" and label["corrected_department"] == suggested
        assert (
            label["reason_code"] == "not_our_area" and label["returned_department"] == ENFORCEMENT
        )


def test_a_departments_orders_are_pushed_to_it(live: Live) -> None:
    from tests.integration.test_stream import Subscriber

    mine = Subscriber(live, "jfb_zhifa", {"max_s": 20})
    other = Subscriber(live, "yz_chengguan", {"max_s": 20})
    with live.client("jiefangbei") as centre:
        event_id = dispatched_to(centre, ENFORCEMENT, "D-5")
    seen = [(e, d.get("action")) for e, _, d in mine.join() if d.get("event_id") == event_id]
    assert ("change", "dispatch") in seen
    assert all(d.get("event_id") != event_id for _, _, d in other.join())
