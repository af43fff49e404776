import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from demo.generator import generate_events, generate_labelled
from demo.load import load_demo
from domain.lifecycle import Action
from domain.models import Scope, Source
from knowledge import Knowledge
from store import EventStore

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def events(knowledge: Knowledge) -> list:
    return generate_events(knowledge, seed=42, now=NOW)


def test_same_seed_same_events(knowledge: Knowledge, events: list) -> None:
    again = generate_events(knowledge, seed=42, now=NOW)
    assert [e.create for e in again] == [e.create for e in events]
    assert [e.steps for e in again] == [e.steps for e in events]
    other = generate_events(knowledge, seed=43, now=NOW)
    assert [e.create.text for e in other] != [e.create.text for e in events]


def test_demo_is_large_and_covers_every_channel_and_category(
    knowledge: Knowledge, events: list
) -> None:
    assert len(events) >= 600
    assert {e.create.source for e in events} == set(Source)
    assert {e.subtype[:2] for e in events} == set(knowledge.categories)
    demo_districts = {s.parent for s in knowledge.sample_streets()}
    assert len(demo_districts) == 8  # the demo stays in the districts with sample data
    assert {e.district for e in events} == demo_districts
    assert {e.street for e in events} <= {s.code for s in knowledge.sample_streets()}


def test_events_are_placed_in_their_street(knowledge: Knowledge, events: list) -> None:
    for e in events:
        street = knowledge.jurisdiction(e.street)
        assert street.parent == e.district
        assert e.create.address.startswith(
            f"重庆市{knowledge.jurisdiction(e.district).name}{street.name}"
        )
        assert abs(e.create.lat - street.lat) < 0.05 and abs(e.create.lon - street.lon) < 0.05


def test_histories_are_in_time_order_and_in_the_past(events: list) -> None:
    for e in events:
        times = [e.create.reported_at] + [s.at for s in e.steps]
        assert times == sorted(times)
        assert times[-1] <= NOW


def test_histories_have_the_variety_a_dashboard_needs(events: list) -> None:
    last = Counter(e.steps[-1].action if e.steps else None for e in events)
    actions = Counter(s.action for e in events for s in e.steps)
    assert last[None] >= 5  # new, waiting for triage
    assert last[Action.CLOSE] >= 200
    assert actions[Action.RETURN] >= 10 and actions[Action.REDISPATCH] >= 10
    assert actions[Action.MERGE_DUPLICATE] >= 10
    assert actions[Action.SUPERVISE] >= 3 and actions[Action.APPROVE_EXTENSION] >= 3
    scores = Counter(
        s.payload["satisfaction"] for e in events for s in e.steps if s.action is Action.VERIFY
    )
    assert set(scores) == {1, 2, 3, 4, 5}


def test_loading_replays_legal_lifecycles_once(tmp_path: Path, knowledge: Knowledge) -> None:
    store = EventStore.open(f"sqlite:///{tmp_path / 'demo.db'}", knowledge.store_rules)
    first = load_demo(store, knowledge, seed=5, now=NOW, count=200)
    assert first["created"] == 200 and first["transitions"] > 600
    again = load_demo(store, knowledge, seed=5, now=NOW, count=200)
    assert again["created"] == 0 and again["skipped"] == 200
    assert store.count_events() == 200
    statuses = Counter(r["status"] for r in store.search(Scope(everything=True), limit=1000)[0])
    assert statuses["closed"] > 50 and statuses["in_progress"] > 0
    returned = store.db.fetchall("SELECT event_id FROM orders WHERE status = 'returned'")
    assert returned, "some orders are returned and re-dispatched"
    event_id = returned[0]["event_id"]
    orders = store.orders(event_id)
    assert len(orders) == 2 and orders[0].lead_department != orders[1].lead_department
    store.close()


def test_labelled_set_is_separate_and_covers_every_subtype(
    knowledge: Knowledge, events: list
) -> None:
    rows = generate_labelled(knowledge, seed=7)
    assert len(rows) >= 300
    assert set(Counter(r["subtype"] for r in rows)) == set(knowledge.subtypes)
    demo_texts = {e.create.text for e in events}
    assert not demo_texts & {r["text"] for r in rows}
    for r in rows:  # no label leakage into the text
        assert knowledge.subtype(r["subtype"]).name not in r["text"] or r["subtype"] in {"CS01"}


def test_shipped_labelled_file_is_what_the_generator_makes(knowledge: Knowledge) -> None:
    shipped = (ROOT / "knowledge/data/labelled/synthetic-train.jsonl").read_text(encoding="utf-8")
    rows = [json.loads(line) for line in shipped.splitlines()]
    assert rows == generate_labelled(knowledge, seed=7, per_subtype=4)
