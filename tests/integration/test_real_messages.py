"""Real citizen messages (../shared/data): complete imports, and real near-duplicates."""

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from domain.models import Scope, Source
from knowledge import Knowledge
from store import EventStore
from store.importer import import_events
from tools.duplicates import DuplicateQuery, find_duplicates

MAP = {
    "text": "留言详情",
    "title": "留言主题",
    "reported_at": "留言时间",
    "external_id": "留言编号",
}
NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def votes_store(
    tmp_path_factory: pytest.TempPathFactory, knowledge: Knowledge
) -> Iterator[EventStore]:
    from tests.conftest import SHARED_DATA

    path = SHARED_DATA / "citizen-messages" / "messages-with-votes.csv"
    if not path.exists():
        pytest.skip(f"{path} not found: real-data tests need ../shared/data")
    store = EventStore.open(
        f"sqlite:///{tmp_path_factory.mktemp('votes') / 's.db'}", knowledge.store_rules
    )
    report = import_events(store, path, MAP, source=Source.WEB, now=NOW)
    assert report.rows == 4287 and report.created == 4287 and not report.rejected
    yield store
    store.close()


def test_the_original_excel_file_imports_completely(store: EventStore, shared_data: Path) -> None:
    path = shared_data / "citizen-messages" / "messages-with-official-replies.original.xlsx"
    report = import_events(store, path, MAP, source=Source.WEB, now=NOW)
    assert (report.rows, report.created, report.existing, len(report.rejected)) == (
        2816,
        2816,
        0,
        0,
    )
    again = import_events(store, path, MAP, source=Source.WEB, now=NOW)
    assert (again.created, again.existing) == (0, 2816)
    assert store.count_events() == 2816
    rows, _ = store.search(Scope(everything=True), text="景蓉华苑", limit=5)
    event = store.get_event(rows[0]["id"])
    assert "\t" not in event.text and event.attributes["答复意见"]  # unmapped columns are kept


def test_votes_file_imports_completely(votes_store: EventStore) -> None:
    assert votes_store.count_events() == 4287


def test_real_near_duplicates_are_found(votes_store: EventStore, knowledge: Knowledge) -> None:
    """~40 messages in summer 2019 complain about bundled parking at one estate (伊景园滨河苑)."""
    city = Scope(everything=True)
    _, total = votes_store.search(city, text="伊景园", limit=200)
    assert total >= 30
    probe = votes_store.find_by_external_id("web", "196264")
    assert probe is not None and probe.title and "伊景园" in probe.title
    hits = find_duplicates(
        votes_store,
        knowledge,
        city,
        DuplicateQuery(
            text=probe.title + probe.text,
            reported_at=probe.reported_at,
            exclude_id=probe.id,
            window_days=30,
            limit=15,
        ),
    )
    assert len(hits) >= 10
    on_topic = [h for h in hits if "伊景园" in (h.event.title or "") + h.event.excerpt]
    assert len(on_topic) / len(hits) >= 0.9
    top = votes_store.get_event(hits[0].event.id)
    assert top.external_id == "230554"  # the near-verbatim repeat of the same complaint
    assert hits[0].text_similarity >= 0.5


def test_same_estate_different_problem_ranks_below_same_problem(
    votes_store: EventStore, knowledge: Knowledge
) -> None:
    """万科魅力之城: two messages about cracked floors, others about cooking fumes."""
    city = Scope(everything=True)
    probe = votes_store.find_by_external_id("web", "198084")  # 楼板开裂
    assert probe is not None
    hits = find_duplicates(
        votes_store,
        knowledge,
        city,
        DuplicateQuery(
            text=(probe.title or "") + probe.text,
            reported_at=probe.reported_at,
            exclude_id=probe.id,
            window_days=60,
            min_score=0.3,
        ),
    )
    ranked = [votes_store.get_event(h.event.id).external_id for h in hits]
    assert ranked and ranked[0] == "205168"  # the other cracked-floor message
    fumes = votes_store.find_by_external_id("web", "189381")
    assert fumes is not None and fumes.external_id not in ranked[:1]
