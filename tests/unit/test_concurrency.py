"""Two officers acting on one order at the same moment: one wins, the other gets a clear
conflict, and nothing is lost. Each officer has their own connection, as in a real server."""

import threading
from datetime import UTC, datetime

import pytest

from domain.lifecycle import Action, IllegalTransition
from domain.models import EventCreate, Source
from domain.vocabulary import Urgency
from knowledge import Knowledge
from store import Conflict, EventStore
from tools.drafting import draft_order

T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


def dispatched_event(store: EventStore, knowledge: Knowledge) -> int:
    e, _ = store.add_event(
        EventCreate(source=Source.GRID, external_id="G-1", text="井盖缺失", reported_at=T0), now=T0
    )
    store.transition(e.id, Action.TRIAGE, actor="中心", at=T0)
    store.add_order(
        draft_order(
            knowledge,
            event_id=e.id,
            subtype="CA10",
            jurisdiction="500103002",
            urgency=Urgency.URGENT,
        ),
        now=T0,
    )
    store.transition(e.id, Action.DISPATCH, actor="中心", at=T0)
    return e.id


def race(
    url: str, knowledge: Knowledge, event_id: int, version: int | None, rounds: int = 1
) -> list:
    results: list = []
    barrier = threading.Barrier(2)

    def officer(name: str) -> None:
        store = EventStore.open(url, knowledge.store_rules)
        try:
            barrier.wait()
            store.transition(event_id, Action.ACCEPT, actor=name, at=T0, expected_version=version)
            results.append("ok")
        except (Conflict, IllegalTransition) as exc:
            results.append(exc)
        finally:
            store.close()

    threads = [threading.Thread(target=officer, args=(n,)) for n in ("甲", "乙")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


@pytest.mark.parametrize("with_version", [True, False], ids=["same-version", "no-version"])
def test_parallel_accepts_give_one_success(
    store: EventStore, store_url: str, knowledge: Knowledge, with_version: bool
) -> None:
    event_id = dispatched_event(store, knowledge)
    version = store.get_event(event_id).version if with_version else None
    results = race(store_url, knowledge, event_id, version)
    assert results.count("ok") == 1, results
    loser = next(r for r in results if r != "ok")
    if with_version:
        assert isinstance(loser, Conflict) and "已被他人修改" in str(loser)
    else:
        assert isinstance(loser, Conflict | IllegalTransition)
    accepts = [h for h in store.history(event_id) if h["action"] == "accept"]
    assert len(accepts) == 1
    assert store.get_event(event_id).accepted_at == T0
