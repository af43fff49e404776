"""Masking personal information: person names in free text (measured on hand-written sets),
nested attributes, and searching by what the caller may not see (on both stores)."""

from __future__ import annotations

import json

import pytest
from langchain_core.tools import BaseTool

from domain.errors import OutOfScope
from domain.models import DispatchOrder, Event, EventCreate, Scope, Source
from domain.vocabulary import Level, Urgency
from evals.pii_names import DATASET, HELDOUT, evaluate
from knowledge import Knowledge
from store import EventStore
from tests.conftest import DEMO_NOW
from tools.langchain import ToolDeps, build_tools
from tools.pii import mask_attributes, mask_text


def filed(store: EventStore, text: str, **where: float) -> Event:
    event, _ = store.add_event(
        EventCreate(source=Source.HOTLINE, text=text, reported_at=DEMO_NOW, **where),  # type: ignore[arg-type]
        now=DEMO_NOW,
        actor="test",
    )
    return event


def tools_for(store: EventStore, knowledge: Knowledge, scope: Scope) -> dict[str, BaseTool]:
    return {t.name: t for t in build_tools(ToolDeps(store, knowledge, scope, lambda: DEMO_NOW))}


@pytest.mark.parametrize(("dataset", "floor"), [(DATASET, 0.95), (HELDOUT, 0.9)])
def test_name_masking_precision_and_recall(dataset: object, floor: float) -> None:
    scores = evaluate(dataset)  # type: ignore[arg-type]
    assert scores.sentences >= 30 and scores.gold >= 20
    assert scores.precision >= floor and scores.recall >= floor, scores.misses


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("我叫王建国，电话13812345678", "我叫***，电话138****5678"),
        ("王先生反映：联系人：李秀英", "*先生反映：联系人：***"),
        ("王家沟社区门口，李子坝轻轨站下", "王家沟社区门口，李子坝轻轨站下"),
        ("门卫大爷说杨家坪的张师傅来过", "门卫大爷说杨家坪的*师傅来过"),
        ("请回复 wang.jianguo@example.com", "请回复 w***@example.com"),
        # words that end or start with a surname character (seen in real citizens' messages)
        (
            "出租车师傅说不打表，感谢局长，希望相关领导重视",
            "出租车师傅说不打表，感谢局长，希望相关领导重视",
        ),
        ("施工队长说养老金班主任都不管", "施工队长说养老金班主任都不管"),
    ],
)
def test_free_text_keeps_places_and_masks_people(text: str, expected: str) -> None:
    assert mask_text(text) == expected


def test_nested_attributes_are_masked_at_every_depth() -> None:
    attributes = {
        "caller": {"name": "王建国", "phone": "13812345678", "id_card": "500103199001011234"},
        "phones": ["13912345678", "023-63851234"],
        "contacts": [{"联系人": "李秀英", "note": "我叫赵德柱"}],
        "count": 3,
    }
    seen = mask_attributes(attributes)
    flat = json.dumps(seen, ensure_ascii=False)
    for secret in ("王建国", "13812345678", "199001011234", "13912345678", "63851234", "李秀英"):
        assert secret not in flat, flat
    assert "赵德柱" not in flat
    assert seen["caller"]["phone"] == "138****5678" and seen["count"] == 3
    assert seen["phones"][1] == "023-****1234"


def test_the_chats_event_search_finds_only_what_it_shows(
    store: EventStore, knowledge: Knowledge
) -> None:
    """The model's search_events tool answers for a caller without personal information: a
    hidden digit, plate character or given name finds nothing; a whole number is refused."""
    event = filed(store, "我是赵德柱，电话13876543219，渝A5K7Q9长期占用消防通道")
    tools = tools_for(store, knowledge, Scope(everything=True))

    def ids(text: str) -> set[int]:
        return {e["id"] for e in tools["search_events"].invoke({"text": text})["items"]}

    for hidden in ("1387", "76543", "渝A5K", "德柱"):
        assert event.id not in ids(hidden), hidden
    for shown in ("3219", "消防通道", "渝A"):
        assert event.id in ids(shown), shown
    page = tools["search_events"].invoke({"text": "3219"})
    assert page["total"] == 1 and "赵德柱" not in json.dumps(page, ensure_ascii=False)
    for whole, why in (("13876543219", "电话"), ("渝A5K7Q9", "车牌")):
        with pytest.raises(OutOfScope, match=why):
            tools["search_events"].invoke({"text": whole})


def test_similarity_does_not_confirm_a_name(store: EventStore, knowledge: Knowledge) -> None:
    """The model's find_duplicates tool takes any text: a name alone must not find the event
    that holds it, while the incident's own words still do."""
    where = {"lat": 29.5571, "lon": 106.5772}
    event = filed(store, "我叫赵德柱，八一路好吃街烧烤油烟扰民", **where)
    tools = tools_for(store, knowledge, Scope(everything=True))

    def similar(text: str) -> set[int]:
        query = {"text": text, "reported_at": DEMO_NOW.isoformat(), "min_score": 0, **where}
        return {c["event"]["id"] for c in tools["find_duplicates"].invoke(query)}

    assert event.id not in similar("赵德柱")
    assert event.id in similar("好吃街烧烤油烟扰民")


def test_the_chats_get_event_does_not_name_duplicates_outside_the_scope(
    store: EventStore, knowledge: Knowledge
) -> None:
    """A draft's explanation names the suspected duplicate; a street officer asking the model
    about its own event must not learn the number of one in another street."""
    ids = []
    for street in ("500103010", "500103003"):  # 朝天门, 解放碑
        event = filed(store, "共享单车堵住盲道")
        store.set_classification(
            event.id,
            street=street,
            district="500103",
            subtype="CA01",
            category="CA",
            urgency=Urgency.NORMAL,
            now=DEMO_NOW,
        )
        ids.append(event.id)
    foreign, mine = ids
    store.record_decision(
        event_id=mine,
        run_id="r1",
        agent="intake",
        engine="offline",
        inputs={},
        output={"duplicates": [{"event_id": foreign, "score": 0.9, "reasons": ["相距120米"]}]},
        now=DEMO_NOW,
    )
    store.add_order(
        DispatchOrder(
            event_id=mine,
            lead_department="500103.urban_mgmt",
            level=Level.STREET,
            urgency=Urgency.NORMAL,
            response_hours=2,
            disposal_hours=24,
            explanation=f"需人工确认：疑似重复：与事件 {foreign} 相似（得分 0.90）。",
        ),
        now=DEMO_NOW,
    )
    street_scope = Scope(streets=("500103003",))
    for scope, named in ((street_scope, False), (Scope(everything=True), True)):
        seen = json.dumps(
            tools_for(store, knowledge, scope)["get_event"].invoke({"event_id": mine}),
            ensure_ascii=False,
        )
        assert (f"事件 {foreign}" in seen) is named, seen
        assert "辖区外的一件事件" in seen or named
