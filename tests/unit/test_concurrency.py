"""Two officers acting on one order at the same moment: one wins, the other gets a clear
conflict, and nothing is lost. Each officer has their own connection, as in a real server."""

import threading
from collections.abc import Callable
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

import pytest

from domain.lifecycle import Action, IllegalTransition
from domain.models import EventCreate, Source
from domain.vocabulary import Urgency
from knowledge import Knowledge
from store import Conflict, EventStore
from store.importer import ImportReport, import_events
from store.schema import MIGRATIONS, schema_version
from tests.conftest import fresh_postgres
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
            jurisdiction="500103003",
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


# -- imports and migrations racing on one database ------------------------------------------


def run_together(*jobs: Callable[[], object]) -> list[object]:
    """Start each job in its own thread at the same moment; their results or exceptions."""
    results: list[object] = [None] * len(jobs)
    barrier = threading.Barrier(len(jobs))

    def run(n: int) -> None:
        barrier.wait()
        try:
            results[n] = jobs[n]()
        except Exception as exc:
            results[n] = exc

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results


def test_two_imports_of_one_file_count_each_event_once(
    store: EventStore, store_url: str, knowledge: Knowledge, tmp_path: Path
) -> None:
    rows = 400
    path = tmp_path / "hotline.csv"
    lines = ["工单号,内容,时间"] + [f"RX-{n},井盖缺失第{n}号,2026-06-01 09:00" for n in range(rows)]
    path.write_text("\n".join(lines), encoding="utf-8")
    mapping = {"external_id": "工单号", "text": "内容", "reported_at": "时间"}

    def importer() -> ImportReport:
        own = EventStore.open(store_url, knowledge.store_rules)
        try:  # small batches: many chances for the two imports to interleave
            return import_events(own, path, mapping, source=Source.HOTLINE, now=T0, batch=25)
        finally:
            own.close()

    reports = run_together(importer, importer)
    assert all(isinstance(r, ImportReport) for r in reports), reports
    created = [r.created for r in reports if isinstance(r, ImportReport)]
    existing = [r.existing for r in reports if isinstance(r, ImportReport)]
    assert sum(created) == rows, f"新增 {created} counted twice"
    assert sum(existing) == rows
    assert store.count_events() == rows
    receives = store.db.fetchall(
        "SELECT event_id, COUNT(*) AS n FROM transitions WHERE action = 'receive' "
        "GROUP BY event_id HAVING COUNT(*) <> 1"
    )
    assert receives == [], f"{len(receives)} events with a second receive record"


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_processes_opening_an_empty_database_at_once_all_start(
    backend: str, knowledge: Knowledge, tmp_path: Path
) -> None:
    for attempt in range(4):  # each attempt on a fresh, empty database
        with ExitStack() as stack:
            if backend == "sqlite":
                url = f"sqlite:///{tmp_path / f'empty-{attempt}.db'}"
            else:
                url = stack.enter_context(fresh_postgres())

            def opener(url: str = url) -> int:
                s = EventStore.open(url, knowledge.store_rules)
                try:
                    return schema_version(s.db)
                finally:
                    s.close()

            results = run_together(opener, opener, opener)
            assert results == [MIGRATIONS[-1][0]] * 3, results
            s = EventStore.open(url, knowledge.store_rules)
            try:
                applied = s.db.fetchall("SELECT version FROM schema_migrations ORDER BY version")
                assert [r["version"] for r in applied] == [m[0] for m in MIGRATIONS]
            finally:
                s.close()
