"""locate, departments_for and find_duplicates."""

from datetime import timedelta

import pytest

from domain.models import Scope
from knowledge import Knowledge
from store import EventStore
from tests.conftest import DEMO_NOW
from tools.duplicates import DuplicateQuery, find_duplicates
from tools.locate import LocateQuery, locate

CITY = Scope(everything=True)


@pytest.mark.parametrize(
    ("address", "street"),
    [
        ("重庆市渝中区解放碑街道民权路28号", "500103003"),
        ("解放碑", "500103003"),
        ("渝中区大坪正街附近", "500103012"),
        ("九龙坡区杨家坪步行街", "500107001"),  # 九龙坡 must not be read as 九龙街道
        ("江北区观音桥步行街", "500105006"),
        ("梁平区双桂堂旁边", "500155002"),
        ("重庆市綦江区东溪古镇", "500110109"),
    ],
)
def test_locate_reads_addresses(knowledge: Knowledge, address: str, street: str) -> None:
    r = locate(knowledge, LocateQuery(address=address))
    assert (r.street, r.ambiguous) == (street, False)
    assert r.district == knowledge.jurisdiction(street).parent
    assert r.confidence >= 0.75 and knowledge.jurisdiction(street).name in r.explanation


@pytest.mark.parametrize("address", ["南滨路", "江南大道", "海尔路18号"])
def test_ambiguous_names_give_candidates_not_a_guess(knowledge: Knowledge, address: str) -> None:
    r = locate(knowledge, LocateQuery(address=address))
    assert r.ambiguous and r.street is None
    assert len(r.candidates) >= 2 and r.district is not None  # both candidates lie in one district
    assert "歧义" in r.explanation


def test_coordinates_pick_the_nearest_street_and_resolve_a_shared_road(
    knowledge: Knowledge,
) -> None:
    jfb = knowledge.jurisdiction("500103003")
    r = locate(knowledge, LocateQuery(lat=jfb.lat + 0.001, lon=jfb.lon))
    assert r.street == jfb.code and not r.ambiguous
    dzs = knowledge.jurisdiction("500108006")
    r = locate(knowledge, LocateQuery(address="南滨路", lat=dzs.lat, lon=dzs.lon))
    assert r.street == dzs.code


def test_nowhere_known_says_so(knowledge: Knowledge) -> None:
    r = locate(knowledge, LocateQuery(address="北京市朝阳区建国路"))
    assert r.street is None and r.district is None and r.confidence == 0
    assert locate(knowledge, LocateQuery(lat=39.9, lon=116.4)).street is None
    with pytest.raises(ValueError, match="地址"):
        LocateQuery(address="  ")


def test_merged_demo_duplicates_are_found_first(
    demo_store: EventStore, knowledge: Knowledge
) -> None:
    rows, _ = demo_store.search(CITY, limit=100_000)
    merged = [r for r in rows if r["duplicate_of"] is not None]
    assert len(merged) >= 5
    found = 0
    for dup in merged:
        hits = find_duplicates(
            demo_store,
            knowledge,
            CITY,
            DuplicateQuery(
                text=dup["text"],
                reported_at=dup["reported_at"],
                lat=dup["lat"],
                lon=dup["lon"],
                street=dup["street"],
                exclude_id=dup["id"],
                window_days=7,
            ),
        )
        assert all(h.event.id != dup["id"] for h in hits)
        if hits and hits[0].event.id == dup["duplicate_of"]:
            found += 1
            assert any("文本相似度" in x for x in hits[0].reasons)
    assert found / len(merged) >= 0.8


def test_a_different_incident_in_the_same_place_is_not_a_duplicate(
    demo_store: EventStore, knowledge: Knowledge
) -> None:
    rows, _ = demo_store.search(CITY, limit=100_000)
    target = next(r for r in rows if r["subtype"] == "EN01" and r["lat"])
    hits = find_duplicates(
        demo_store,
        knowledge,
        CITY,
        DuplicateQuery(
            text="小区里的路灯坏了三盏，晚上很黑",
            reported_at=target["reported_at"],
            lat=target["lat"],
            lon=target["lon"],
            exclude_id=target["id"],
        ),
    )
    assert all(h.event.subtype != "EN01" for h in hits)


def test_duplicates_stay_in_scope(demo_store: EventStore, knowledge: Knowledge) -> None:
    rows, _ = demo_store.search(CITY, limit=100_000)
    dup = next(r for r in rows if r["duplicate_of"] is not None)
    original = demo_store.get_event(dup["duplicate_of"])
    other = next(s.code for s in knowledge.streets() if s.code != original.street)
    hits = find_duplicates(
        demo_store,
        knowledge,
        Scope(streets=(other,)),
        DuplicateQuery(
            text=dup["text"], reported_at=dup["reported_at"], lat=dup["lat"], lon=dup["lon"]
        ),
    )
    assert all(h.event.street == other for h in hits)
    assert DEMO_NOW - dup["reported_at"] < timedelta(days=90)
