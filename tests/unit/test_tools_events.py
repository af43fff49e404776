"""Event tools over a demo store, on SQLite and PostgreSQL. Expected values are computed
independently from the full event list, never copied from the tool under test."""

from datetime import timedelta, timezone

import pytest

from domain.errors import OutOfScope
from domain.lifecycle import Status
from domain.models import Scope
from knowledge import Knowledge
from store import EventStore, NotFound
from tests.conftest import DEMO_NOW
from tools.events import (
    EventQuery,
    OverdueQuery,
    get_event,
    list_due_soon,
    list_overdue,
    search_events,
)
from tools.scope import narrow, scope_for
from tools.stats import StatsQuery, event_stats

CITY = Scope(everything=True)
OPEN_CLOCK = {"accepted", "in_progress", "extension_requested"}


def everything(store: EventStore) -> list[dict]:
    rows, _ = store.search(CITY, limit=100_000)
    return rows


def test_scope_of_a_street_officer_is_their_street(knowledge: Knowledge) -> None:
    s = scope_for(knowledge, ["500103003"])
    assert s == Scope(streets=("500103003",))
    assert scope_for(knowledge, ["500103", "500103003"]) == Scope(districts=("500103",))
    assert scope_for(knowledge, ["500103003001"]).streets == ("500103003",)  # a community
    assert scope_for(knowledge, ["500000"]).everything
    with pytest.raises(OutOfScope):
        narrow(knowledge, s, "500105")
    with pytest.raises(OutOfScope):
        narrow(knowledge, s, "500103001")


def test_search_never_leaves_the_scope(demo_store: EventStore, knowledge: Knowledge) -> None:
    all_rows = everything(demo_store)
    street = max(
        {r["street"] for r in all_rows if r["street"]},
        key=lambda c: sum(r["street"] == c for r in all_rows),
    )
    scope = scope_for(knowledge, [street])
    page = search_events(demo_store, knowledge, scope, EventQuery(limit=500))
    expected = [r["id"] for r in all_rows if r["street"] == street]
    assert page.total == len(expected) > 0
    assert sorted(e.id for e in page.items) == sorted(expected)
    district = knowledge.jurisdiction(street).parent
    d_page = search_events(
        demo_store, knowledge, scope_for(knowledge, [district]), EventQuery(limit=1)
    )
    assert d_page.total == sum(r["district"] == district for r in all_rows)
    with pytest.raises(OutOfScope):
        search_events(demo_store, knowledge, scope, EventQuery(jurisdiction="500155"))


def test_search_filters_and_pages(demo_store: EventStore, knowledge: Knowledge) -> None:
    all_rows = everything(demo_store)
    since = DEMO_NOW - timedelta(days=30)
    q = EventQuery(jurisdiction="500103", status=[Status.CLOSED], since=since, limit=7)
    expected = sorted(
        (
            r
            for r in all_rows
            if r["district"] == "500103" and r["status"] == "closed" and r["reported_at"] >= since
        ),
        key=lambda r: (r["reported_at"], r["id"]),
        reverse=True,
    )
    first = search_events(demo_store, knowledge, CITY, q)
    second = search_events(demo_store, knowledge, CITY, q.model_copy(update={"offset": 7}))
    assert first.total == len(expected)
    assert [e.id for e in first.items + second.items] == [r["id"] for r in expected[:14]]
    word = "垃圾"
    hits = search_events(demo_store, knowledge, CITY, EventQuery(text=word, limit=500))
    assert (
        hits.total
        == sum(
            word in r["text"] or word in (r["title"] or "") or word in (r["address"] or "")
            for r in all_rows
        )
        > 0
    )


def test_get_event_masks_personal_information_and_hides_other_streets(
    demo_store: EventStore, knowledge: Knowledge
) -> None:
    row = next(r for r in everything(demo_store) if r["source"] == "hotline" and r["street"])
    event = demo_store.get_event(row["id"])
    assert event.reporter_phone and event.reporter_phone.isdigit()
    detail = get_event(demo_store, scope_for(knowledge, [row["street"]]), row["id"])
    assert (
        detail.event.reporter_phone == event.reporter_phone[:3] + "****" + event.reporter_phone[-4:]
    )
    assert detail.history[0]["action"] == "receive"
    other = next(s for s in knowledge.streets() if s.code != row["street"])
    with pytest.raises(NotFound, match="不在您的辖区"):
        get_event(demo_store, scope_for(knowledge, [other.code]), row["id"])


def test_overdue_list_is_exact_and_sorted(demo_store: EventStore, knowledge: Knowledge) -> None:
    rows = everything(demo_store)
    expected = sorted(
        (r for r in rows if r["status"] in OPEN_CLOCK and r["due_at"] and r["due_at"] < DEMO_NOW),
        key=lambda r: (r["due_at"], r["id"]),
    )
    got = list_overdue(demo_store, knowledge, CITY, OverdueQuery(as_of=DEMO_NOW, limit=500))
    assert [e.id for e in got] == [r["id"] for r in expected]
    assert got and all(e.hours_overdue and e.hours_overdue > 0 for e in got)
    district = got[0].district
    assert district is not None
    mine = list_overdue(
        demo_store,
        knowledge,
        scope_for(knowledge, [district]),
        OverdueQuery(as_of=DEMO_NOW, limit=500),
    )
    assert {e.district for e in mine} == {district}
    assert [e.id for e in mine] == [r["id"] for r in expected if r["district"] == district]


def test_due_soon_means_less_than_a_fifth_left(
    demo_store: EventStore, knowledge: Knowledge
) -> None:
    as_of = DEMO_NOW - timedelta(days=3)
    got = list_due_soon(demo_store, knowledge, CITY, OverdueQuery(as_of=as_of, limit=500))
    for e in got:
        assert e.due_at and e.accepted_at and e.due_at >= as_of
        assert (e.due_at - as_of) <= (e.due_at - e.accepted_at) * 0.2 + timedelta(seconds=1)
    ids = {e.id for e in got}
    overdue_ids = {
        e.id
        for e in list_overdue(demo_store, knowledge, CITY, OverdueQuery(as_of=as_of, limit=500))
    }
    assert not ids & overdue_ids


def test_stats_match_a_hand_count(demo_store: EventStore, knowledge: Knowledge) -> None:
    rows = everything(demo_store)
    since, until = DEMO_NOW - timedelta(days=90), DEMO_NOW
    report = event_stats(
        demo_store, knowledge, CITY, StatsQuery(since=since, until=until, group_by="street")
    )
    inside = [r for r in rows if since <= r["reported_at"] < until]
    assert report.total.count == len(inside)
    resolved = [r for r in inside if r["resolved_at"]]
    assert report.total.resolved == len(resolved)
    timed = [r for r in resolved if r["due_at"]]
    assert report.total.on_time_rate == round(
        sum(r["resolved_at"] <= r["due_at"] for r in timed) / len(timed), 4
    )
    dispatched = [r for r in inside if r["lead_department"]]
    assert report.total.return_rate == round(
        sum(r["returns"] > 0 for r in dispatched) / len(dispatched), 4
    )
    assert 0 < report.total.return_rate < 0.3
    scores = [r["satisfaction"] for r in inside if r["satisfaction"]]
    assert report.total.satisfaction == round(sum(scores) / len(scores), 2)
    assert sum(g.metrics.count for g in report.groups) == report.total.count
    hours = sorted((r["resolved_at"] - r["reported_at"]).total_seconds() / 3600 for r in resolved)
    mid = len(hours) // 2
    median = hours[mid] if len(hours) % 2 else (hours[mid - 1] + hours[mid]) / 2
    assert report.total.median_hours_to_close == pytest.approx(median, abs=0.01)


def test_stats_by_day_are_in_date_order_within_scope(
    demo_store: EventStore, knowledge: Knowledge
) -> None:
    scope = scope_for(knowledge, ["500105"])
    report = event_stats(
        demo_store,
        knowledge,
        scope,
        StatsQuery(since=DEMO_NOW - timedelta(days=14), until=DEMO_NOW, group_by="day"),
    )
    keys = [g.key for g in report.groups]
    assert keys == sorted(keys) and len(keys) >= 5
    city = event_stats(
        demo_store,
        knowledge,
        CITY,
        StatsQuery(jurisdiction="500105", since=DEMO_NOW - timedelta(days=14), until=DEMO_NOW),
    )
    assert city.total.count == report.total.count


def test_naive_times_and_attributes(demo_store: EventStore, knowledge: Knowledge) -> None:
    naive = DEMO_NOW.astimezone(timezone(timedelta(hours=8))).replace(
        tzinfo=None
    )  # Beijing wall time
    aware = list_overdue(demo_store, knowledge, CITY, OverdueQuery(as_of=DEMO_NOW, limit=500))
    assert [
        e.id
        for e in list_overdue(demo_store, knowledge, CITY, OverdueQuery(as_of=naive, limit=500))
    ] == [e.id for e in aware]
    from domain.models import EventCreate, Source

    e, _ = demo_store.add_event(
        EventCreate(
            source=Source.WEB,
            external_id="attr-1",
            text="路灯坏了",
            reported_at=DEMO_NOW,
            attributes={"联系电话": "13912345678", "点赞数": 3},
        ),
        now=DEMO_NOW,
    )
    detail = get_event(demo_store, CITY, e.id)
    assert detail.event.attributes == {"联系电话": "139****5678", "点赞数": 3}
