"""The LangChain adapters: Chinese descriptions, typed schemas, and the caller's scope."""

from datetime import timedelta

import pytest

from knowledge import Knowledge
from store import EventStore, NotFound
from tests.conftest import DEMO_NOW
from tools.langchain import ToolDeps, build_tools
from tools.scope import scope_for


def test_tools_describe_themselves_in_chinese(demo_store: EventStore, knowledge: Knowledge) -> None:
    tools = build_tools(
        ToolDeps(demo_store, knowledge, scope_for(knowledge, ["500103"]), lambda: DEMO_NOW)
    )
    names = {t.name for t in tools}
    assert names == {
        "search_events",
        "get_event",
        "list_overdue",
        "list_due_soon",
        "event_stats",
        "find_duplicates",
        "locate",
        "departments_for",
        "sla_for",
        "device_status",
    }
    for t in tools:
        assert any("\u4e00" <= ch <= "\u9fff" for ch in t.description), t.name
        assert t.args, t.name


def test_tools_run_under_the_officers_scope(demo_store: EventStore, knowledge: Knowledge) -> None:
    street = "500103003"
    tools = {
        t.name: t
        for t in build_tools(
            ToolDeps(demo_store, knowledge, scope_for(knowledge, [street]), lambda: DEMO_NOW)
        )
    }
    page = tools["search_events"].invoke({"limit": 100})
    assert page["total"] > 0 and {e["street"] for e in page["items"]} == {street}
    stats = tools["event_stats"].invoke(
        {
            "since": (DEMO_NOW - timedelta(days=30)).isoformat(),
            "until": DEMO_NOW.isoformat(),
            "group_by": "street",
        }
    )
    assert [g["key"] for g in stats["groups"]] == [street]
    other = demo_store.search(scope_for(knowledge, ["500105"]), limit=1)[0][0]
    with pytest.raises(NotFound, match="不在您的辖区"):
        tools["get_event"].invoke({"event_id": other["id"]})
    routed = tools["departments_for"].invoke({"subtype": "CA01", "jurisdiction": street})
    assert routed["lead"]["name"] == "解放碑街道综合行政执法大队"


def test_get_event_applies_the_same_rule_as_the_api(
    demo_store: EventStore, knowledge: Knowledge
) -> None:
    """An unlocated event is visible to whoever filed it and to nobody else below the city
    (the rule of tools.scope.may_see, as in the API and the chat)."""
    from domain.models import EventCreate, Source

    event, _ = demo_store.add_event(
        EventCreate(source=Source.WEB, text="某处有积水，地址不详，请核实。", reported_at=DEMO_NOW),
        now=DEMO_NOW,
        actor="api:hotline-bridge",
    )
    assert event.district is None and event.street is None
    scope = scope_for(knowledge, ["500103003"])

    def get(actor: str | None) -> dict:
        tools = {
            t.name: t
            for t in build_tools(
                ToolDeps(demo_store, knowledge, scope, lambda: DEMO_NOW, actor=actor)
            )
        }
        return tools["get_event"].invoke({"event_id": event.id})

    assert get("api:hotline-bridge")["event"]["id"] == event.id
    for other in (None, "user:someone-else"):
        with pytest.raises(NotFound):
            get(other)
