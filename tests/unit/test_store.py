"""The event store, run on SQLite and (when configured) PostgreSQL."""

from datetime import UTC, datetime, timedelta

import pytest

from domain.lifecycle import Action, IllegalTransition, Status
from domain.models import EventCreate, Source
from domain.vocabulary import Urgency
from knowledge import Knowledge
from store import Conflict, EventStore, NotFound
from tools.drafting import draft_order

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def make(external_id: str | None = "H-1", text: str = "解放碑步行街有人占道摆摊") -> EventCreate:
    return EventCreate(
        source=Source.HOTLINE,
        external_id=external_id,
        text=text,
        reported_at=T0,
        address="重庆市渝中区解放碑街道民权路",
        reporter_phone="13812345678",
    )


def test_ingest_is_idempotent_by_source_and_external_id(store: EventStore) -> None:
    first, created = store.add_event(make(), now=T0)
    second, created_again = store.add_event(make(text="另一段文字"), now=T0)
    assert created and not created_again
    assert second.id == first.id and second.text == "解放碑步行街有人占道摆摊"
    other, created_other = store.add_event(make().model_copy(update={"source": Source.WEB}), now=T0)
    assert created_other and other.id != first.id
    assert store.count_events() == 2


def test_events_without_external_id_are_all_kept(store: EventStore) -> None:
    a, _ = store.add_event(make(None), now=T0)
    b, _ = store.add_event(make(None), now=T0)
    assert a.id != b.id


def test_naive_times_are_beijing_time(store: EventStore) -> None:
    e, _ = store.add_event(
        make().model_copy(update={"reported_at": datetime(2026, 3, 2, 16, 0)}), now=T0
    )
    assert store.get_event(e.id).reported_at == datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def test_full_lifecycle_with_order_deadline_from_signing(
    store: EventStore, knowledge: Knowledge
) -> None:
    e, _ = store.add_event(make(), now=T0)
    store.transition(e.id, Action.TRIAGE, actor="指挥中心", at=T0 + timedelta(minutes=5))
    order = draft_order(
        knowledge, event_id=e.id, subtype="CA01", jurisdiction="500103003", urgency=Urgency.NORMAL
    )
    store.add_order(order, now=T0 + timedelta(minutes=5))
    store.transition(e.id, Action.DISPATCH, actor="指挥中心", at=T0 + timedelta(minutes=10))
    signed = T0 + timedelta(hours=2)
    store.transition(e.id, Action.ACCEPT, actor="执法大队", at=signed)
    row = store.current_order_row(e.id)
    assert row is not None and row["status"] == "accepted"
    assert store.db.read_ts(row["due_at"]) == signed + timedelta(hours=order.disposal_hours)
    store.transition(e.id, Action.RESOLVE, actor="执法大队", at=signed + timedelta(hours=3))
    done = store.transition(
        e.id,
        Action.VERIFY,
        actor="回访员",
        at=signed + timedelta(hours=5),
        payload={"satisfaction": 5},
    )
    assert done.status is Status.VERIFIED and done.satisfaction == 5
    history = store.history(e.id)
    assert [h["action"] for h in history] == [
        "receive",
        "triage",
        "dispatch",
        "accept",
        "resolve",
        "verify",
    ]
    assert history[3]["actor"] == "执法大队" and history[3]["at"] == signed


def test_illegal_transition_changes_nothing(store: EventStore) -> None:
    e, _ = store.add_event(make(), now=T0)
    with pytest.raises(IllegalTransition):
        store.transition(e.id, Action.RESOLVE, actor="x", at=T0)
    assert store.get_event(e.id).status is Status.RECEIVED
    assert len(store.history(e.id)) == 1


def test_stale_version_is_a_conflict_not_a_lost_update(store: EventStore) -> None:
    e, _ = store.add_event(make(), now=T0)
    store.transition(e.id, Action.TRIAGE, actor="甲", at=T0, expected_version=e.version)
    with pytest.raises(Conflict, match="已被他人修改"):
        store.transition(
            e.id, Action.RESOLVE_DIRECTLY, actor="乙", at=T0, expected_version=e.version
        )
    assert [h["actor"] for h in store.history(e.id)] == ["system", "甲"]


def test_unknown_event_is_not_found(store: EventStore) -> None:
    with pytest.raises(NotFound):
        store.get_event(999_999)


def test_return_with_reason_code_is_recorded(store: EventStore, knowledge: Knowledge) -> None:
    e, _ = store.add_event(make(), now=T0)
    store.transition(e.id, Action.TRIAGE, actor="c", at=T0)
    store.add_order(
        draft_order(
            knowledge,
            event_id=e.id,
            subtype="CA01",
            jurisdiction="500103003",
            urgency=Urgency.NORMAL,
        ),
        now=T0,
    )
    store.transition(e.id, Action.DISPATCH, actor="c", at=T0)
    with pytest.raises(IllegalTransition, match="未知的退单原因代码"):
        store.transition(e.id, Action.RETURN, actor="d", at=T0, reason="x", reason_code="bogus")
    store.transition(
        e.id, Action.RETURN, actor="d", at=T0, reason="不属于我单位", reason_code="not_our_duty"
    )
    row = store.current_order_row(e.id)
    assert (
        row is not None
        and row["status"] == "returned"
        and row["return_reason_code"] == "not_our_duty"
    )


def test_ai_decisions_and_feedback_are_kept(store: EventStore) -> None:
    e, _ = store.add_event(make(), now=T0)
    store.record_decision(
        event_id=e.id,
        run_id="r1",
        agent="intake",
        engine="offline",
        inputs={"text": e.text},
        output={"subtype": "CA01"},
        now=T0,
        prompt_name="intake.classify",
        prompt_version="1",
        confidence=0.91,
        latency_ms=12.5,
        fallbacks=["llm: timeout"],
    )
    store.add_feedback(
        event_id=e.id,
        officer="张三",
        kind="corrected_department",
        payload={"from": "500103.urban_mgmt", "to": "500103003.street_enforcement"},
        now=T0,
    )
    [d] = store.decisions(e.id)
    assert (d["agent"], d["output"], d["fallbacks"], d["confidence"]) == (
        "intake",
        {"subtype": "CA01"},
        ["llm: timeout"],
        0.91,
    )
    [f] = store.feedback(e.id)
    assert f["payload"]["to"] == "500103003.street_enforcement" and f["created_at"] == T0


def test_migrations_are_recorded_and_not_reapplied(store_url: str, store: EventStore) -> None:
    from store.schema import MIGRATIONS, migrate, schema_version

    assert schema_version(store.db) == MIGRATIONS[-1][0]
    assert migrate(store.db) == []
    again = EventStore.open(store_url)
    assert again.count_events() == store.count_events()
    again.close()


def test_dispatch_or_accept_without_an_order_is_refused(store: EventStore) -> None:
    e, _ = store.add_event(make("H-no-order"), now=T0)
    store.transition(e.id, Action.TRIAGE, actor="c", at=T0)
    with pytest.raises(IllegalTransition, match="还没有派单"):
        store.transition(e.id, Action.DISPATCH, actor="c", at=T0)
    assert store.get_event(e.id).status is Status.TRIAGED


def test_a_blank_external_id_means_none(store: EventStore) -> None:
    a, created_a = store.add_event(make(""), now=T0)
    b, created_b = store.add_event(make("  "), now=T0)
    assert created_a and created_b and a.id != b.id and a.external_id is None
    rows = store.add_events_bulk([make(""), make("")], now=T0)
    assert len({i for i, _ in rows}) == 2 and all(created for _, created in rows)
