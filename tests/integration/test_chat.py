"""The officers' chat assistant over real HTTP and SSE, offline engine, on both stores: answers
with sources, conversation memory, confirmation before dispatch, and scope."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx

from agents.chat.intents import parse
from knowledge import Knowledge
from tests.live import Live, live_on_both_backends

live = live_on_both_backends(events=300)


def ask(c: httpx.Client, thread: str, message: str, **kw: Any) -> list[tuple[str, Any]]:
    """The SSE events of one answer, in order, as (event, data)."""
    out: list[tuple[str, Any]] = []
    with c.stream(
        "POST", "/api/v1/chat", json={"thread_id": thread, "message": message, **kw}
    ) as r:
        assert r.status_code == 200, r.read()
        assert r.headers["content-type"].startswith("text/event-stream")
        kind = "message"
        for line in r.iter_lines():
            if line.startswith("event:"):
                kind = line.split(":", 1)[1].strip()
            elif line.startswith("data:"):
                out.append((kind, json.loads(line.split(":", 1)[1])))
    return out


def done(events: list[tuple[str, Any]]) -> dict[str, Any]:
    final = [d for kind, d in events if kind == "done"]
    assert len(final) == 1, events
    answer: dict[str, Any] = final[0]
    streamed = "".join(d["text"] for kind, d in events if kind == "delta")
    assert streamed == answer["content"]  # the stream is the answer, piece by piece
    return answer


def jcode(k: Knowledge, name: str) -> str:
    return next(j.code for j in k.jurisdictions.values() if j.name == name)


def test_overdue_question_streams_the_api_answer_with_sources(
    live: Live, knowledge: Knowledge
) -> None:
    yz = jcode(knowledge, "渝中区")
    with live.client("yuzhong") as c:
        events = ask(c, "t-overdue", "渝中区今天有哪些超时未办结的事件")
        assert sum(1 for kind, _ in events if kind == "delta") >= 3
        answer = done(events)
        listed = c.get("/api/v1/events/overdue", params={"jurisdiction": yz}).json()
    assert listed, "the demo data has overdue events in 渝中区"
    assert f"{len(listed)} 件" in answer["content"]
    assert answer["sources"]["events"] == sorted(e["id"] for e in listed[:10])
    for e in listed[:10]:
        assert f"E{e['id']}" in answer["content"]


def test_count_with_comparison_matches_the_event_list(live: Live, knowledge: Knowledge) -> None:
    question = "解放碑街道本周噪音投诉多少件，比上周多还是少"
    intent = parse(question, knowledge, datetime.now(UTC))
    assert intent.window is not None and intent.compare is not None and intent.subtypes

    def total(since: datetime, until: datetime) -> int:
        params: dict[str, Any] = {
            "jurisdiction": jcode(knowledge, "解放碑街道"),
            "subtype": list(intent.subtypes),
            "since": since.isoformat(),
            "until": until.isoformat(),
            "limit": 1,
        }
        with live.client("jiefangbei") as c:
            return int(c.get("/api/v1/events", params=params).json()["total"])

    now_n = total(intent.window.since, intent.window.until)
    before = total(intent.compare.since, intent.compare.until)
    with live.client("jiefangbei") as c:
        answer = done(ask(c, "t-count", question))
    text = answer["content"]
    assert f"共 {now_n} 件" in text and f"{intent.compare.label} {before} 件" in text
    if now_n > before:
        assert f"多 {now_n - before} 件" in text
    elif now_n < before:
        assert f"少 {before - now_n} 件" in text
    else:
        assert "持平" in text


def test_status_and_supervision_words_filter_the_list(live: Live, knowledge: Knowledge) -> None:
    yz = jcode(knowledge, "渝中区")

    def total(c: httpx.Client, **params: Any) -> int:
        return int(
            c.get("/api/v1/events", params={"jurisdiction": yz, "limit": 1, **params}).json()[
                "total"
            ]
        )

    with live.client("yuzhong") as c:
        everything = total(c)
        waiting = total(c, status="dispatched")
        supervised = total(c, supervised="true")
        waiting_answer = done(ask(c, "t-status", "渝中区待签收的事件有哪些"))["content"]
        supervised_answer = done(ask(c, "t-supervised", "渝中区督办件有哪些"))["content"]
    assert waiting < everything, "the demo data has events in other states"
    assert f"派遣的各类事件共 {waiting} 件" in waiting_answer
    assert f"督办的各类事件共 {supervised} 件" in supervised_answer


def test_follow_up_questions_remember_the_event(live: Live, knowledge: Knowledge) -> None:
    with live.client("yuzhong") as c:
        page = c.get(
            "/api/v1/events",
            params={"status": ["accepted", "in_progress", "resolved", "closed"], "limit": 1},
        ).json()["items"]
        event_id = page[0]["id"]
        first = done(ask(c, "t-focus", f"看看事件 E{event_id}"))
        assert f"E{event_id}" in first["content"] and first["sources"]["events"] == [event_id]
        basis = done(ask(c, "t-focus", "这起事件依据哪条规定处理"))
        assert basis["sources"]["articles"], basis
        for a in basis["sources"]["articles"]:
            assert a["citation"] in basis["content"]
            hit = c.get(
                "/api/v1/regulations/article", params={"title": a["title"], "article": a["article"]}
            )
            assert hit.status_code == 200  # every cited article exists in the index
        similar = done(ask(c, "t-focus", "和这件事类似的还有哪些"))
        assert event_id in similar["sources"]["events"]
        history = c.get("/api/v1/chat/t-focus").json()
        assert [m["role"] for m in history] == ["user", "assistant"] * 3


def test_dispatch_is_proposed_then_done_only_on_confirmation(live: Live) -> None:
    with live.client("city") as city:
        filed = city.post(
            "/api/v1/events",
            json={
                "source": "hotline",
                "text": "较场口日月光广场门口共享单车乱停乱放，堵住了盲道",
                "address": "渝中区较场口",
            },
        ).json()
    event_id = filed["id"]
    with live.client("yuzhong") as c:
        # the event is not located until triage: the district officer cannot see it yet
        refused = done(ask(c, "t-dispatch", f"帮我给事件 E{event_id} 起草派单"))
        assert "不在您的辖区" in refused["content"]
    with live.client("city") as c:
        events = ask(c, "t-dispatch", f"帮我给事件 E{event_id} 起草派单")
        proposal = [d for kind, d in events if kind == "proposal"]
        assert proposal and proposal[0]["event_id"] == event_id
        assert "确认派单" in done(events)["content"]
        assert c.get(f"/api/v1/events/{event_id}").json()["event"]["status"] == "received"
        confirmed = done(ask(c, "t-dispatch", "确认派单"))
        assert "已派单" in confirmed["content"]
        detail = c.get(f"/api/v1/events/{event_id}").json()
        assert detail["event"]["status"] == "dispatched"
        assert ("dispatch", "city") in [(h["action"], h["actor"]) for h in detail["history"]]
        again = done(ask(c, "t-dispatch", "确认派单"))
        assert "没有等待您确认" in again["content"]


def test_cancel_drops_the_proposal(live: Live) -> None:
    with live.client("city") as c:
        event_id = c.get("/api/v1/events", params={"status": "received", "limit": 1}).json()[
            "items"
        ][0]["id"]
        assert any(k == "proposal" for k, _ in ask(c, "t-cancel", f"给事件 E{event_id} 起草派单"))
        assert "已取消" in done(ask(c, "t-cancel", "算了，先不派"))["content"]
        assert "没有" in done(ask(c, "t-cancel", "确认"))["content"]
        assert c.get(f"/api/v1/events/{event_id}").json()["event"]["status"] == "received"


def test_the_chat_cannot_cross_scopes_or_threads(live: Live, knowledge: Knowledge) -> None:
    jfb = jcode(knowledge, "解放碑街道")
    with live.client("city") as city:
        items = city.get("/api/v1/events", params={"limit": 200}).json()["items"]
    foreign = next(e["id"] for e in items if e["street"] not in (jfb, None))
    with live.client("jiefangbei") as c:
        seen = done(ask(c, "shared", f"看看事件 E{foreign}"))
        assert "不在您的辖区" in seen["content"] and seen["sources"]["events"] == []
        events = ask(c, "shared", f"帮我给事件 E{foreign} 起草派单")
        assert not [d for kind, d in events if kind == "proposal"]
    with live.client("yuzhong") as c:
        done(ask(c, "shared", f"看看事件 E{foreign}"))  # another officer, the same thread name
    with live.client("jiefangbei") as c:
        answer = done(ask(c, "shared", "这起事件依据哪条规定处理"))
        assert "请告诉我是哪一件事件" in answer["content"]


def test_integrations_get_drafts_but_no_proposals(live: Live) -> None:
    with live.client("city") as city:
        event_id = city.get("/api/v1/events", params={"status": "received", "limit": 1}).json()[
            "items"
        ][0]["id"]
    with live.client("hotline") as c:
        events = ask(c, "t-feed", f"帮我给事件 E{event_id} 起草派单")
        assert not [d for kind, d in events if kind == "proposal"]
        assert "派单草稿" in done(events)["content"]


def test_what_it_cannot_answer_it_says_plainly(live: Live) -> None:
    with live.client("city") as c:
        answer = done(ask(c, "t-unknown", "给我讲个笑话"))
        assert "还不能回答" in answer["content"] and "超时" in answer["content"]
        bad = c.post("/api/v1/chat", json={"thread_id": "a b", "message": "你好"})
        assert bad.status_code == 422


def test_confirming_dispatches_exactly_the_draft_that_was_shown(live: Live) -> None:
    text = "解放碑得意世界旁边工地夜里施工噪音很大，凌晨还在切割钢筋"
    with live.client("city") as city, live.client("yuzhong") as district:
        event_id = city.post(
            "/api/v1/events",
            params={"triage": "true"},
            json={"source": "hotline", "text": text, "address": "渝中区解放碑街道得意世界"},
        ).json()["id"]
        assert district.post(f"/api/v1/events/{event_id}/approve").status_code == 200
        returned_by = district.get(f"/api/v1/events/{event_id}").json()["event"]["lead_department"]
        r = district.post(
            f"/api/v1/events/{event_id}/return",
            json={"reason_code": "not_our_duty", "reason": "不属本单位"},
        )
        redraft = r.json()["redraft"]
        events = ask(district, "t-exact", f"帮我给事件 E{event_id} 起草派单")
        proposal = next(d for kind, d in events if kind == "proposal")
        assert proposal["lead"]["code"] == redraft["lead_department"]["code"] != returned_by
        assert proposal["approval_id"] == redraft["approval"]["id"]
        assert "退单后重新分拨" in done(events)["content"]
        assert "已派单" in done(ask(district, "t-exact", "确认派单"))["content"]
        after = district.get(f"/api/v1/events/{event_id}").json()["event"]
        assert after["lead_department"] == proposal["lead"]["code"]
        # a proposal whose draft was replaced meanwhile is not dispatched
        other = city.post(
            "/api/v1/events",
            params={"triage": "true"},
            json={"source": "hotline", "text": text + "。", "address": "渝中区解放碑街道"},
        ).json()["id"]
        assert any(
            k == "proposal" for k, _ in ask(district, "t-stale", f"给事件 E{other} 起草派单")
        )
        city.post(f"/api/v1/events/{other}/triage", params={"force": "true"})
        stale = done(ask(district, "t-stale", "确认派单"))
        assert "未派单" in stale["content"] and "取代" in stale["content"]
        assert district.get(f"/api/v1/events/{other}").json()["event"]["status"] == "received"


def test_who_owns_it_is_answered_with_the_drafts_decision(live: Live, knowledge: Knowledge) -> None:
    with live.client("jiefangbei") as c:
        answer = done(ask(c, "t-owner", "占道经营归谁管，依据哪条法规？"))
        text = answer["content"]
        assert answer["intent"] == "ownership"
        assert "主办：解放碑街道综合行政执法大队" in text and "承办层级" in text
        assert answer["sources"]["articles"]
        for a in answer["sources"]["articles"]:
            assert a["citation"] in text
            hit = c.get(
                "/api/v1/regulations/article", params={"title": a["title"], "article": a["article"]}
            )
            assert hit.status_code == 200
        refused = done(ask(c, "t-owner", "观音桥街道的占道经营归谁管"))
        assert "不在您的辖区" in refused["content"] and "主办" not in refused["content"]
