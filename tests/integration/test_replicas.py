"""The server against a PostgreSQL that restarts, and officers racing on one draft: the
server needs no restart, and every loser of a race is told so with a 409."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from agents.errors import NothingPending
from agents.runtime import Services, build_services
from domain.lifecycle import Action, Status
from domain.models import EventCreate, Source
from knowledge import Knowledge
from settings import Settings
from store import Conflict
from tests.live import Live, live_server
from tests.pgcluster import PrivateCluster, private_cluster

NOISE = "民族路88号工地夜间施工噪音扰民，凌晨两点还在打桩，严重影响休息"
NOISE_AT = "渝中区解放碑街道民族路88号"
T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def cluster() -> Iterator[PrivateCluster]:
    with private_cluster() as c:
        yield c


@pytest.fixture
def restartable(
    cluster: PrivateCluster, tmp_path: Path, prepared_data: Path, knowledge: Knowledge
) -> Iterator[tuple[Live, PrivateCluster]]:
    with psycopg.connect(cluster.url(), autocommit=True) as conn:
        conn.execute("CREATE DATABASE sanji")
    with live_server(
        cluster.url("sanji"),
        tmp_path / "data",
        prepared_data,
        knowledge,
        now=datetime.now(UTC),
        events=20,
    ) as live:
        yield live, cluster


def test_a_postgresql_restart_needs_no_server_restart(
    restartable: tuple[Live, PrivateCluster],
) -> None:
    live, cluster = restartable
    with live.client("city") as city:
        assert city.get("/api/v1/events", params={"limit": 1}).status_code == 200
        filed = city.post(
            "/api/v1/events",
            params={"triage": "true"},
            json={"source": "hotline", "text": NOISE, "address": NOISE_AT},
        )
        assert filed.status_code == 201, filed.text

        cluster.stop()
        down = city.get("/api/v1/events", params={"limit": 1})
        assert down.status_code == 503, down.text
        assert "数据库暂不可用" in down.json()["detail"]
        cluster.start()

        # the store's and the checkpointer's connections died with the server; new ones serve
        listed = city.get("/api/v1/events", params={"limit": 1})
        assert listed.status_code == 200, listed.text
        event_id = filed.json()["id"]
        assert city.get(f"/api/v1/events/{event_id}/draft").status_code == 200
        approved = city.post(f"/api/v1/events/{event_id}/approve")
        assert approved.status_code == 200, approved.text
        assert approved.json()["outcome"] == "dispatched"
        again = city.post(
            "/api/v1/events",
            params={"triage": "true"},
            json={"source": "hotline", "text": NOISE + "，第二次反映", "address": NOISE_AT},
        )
        assert again.status_code == 201, again.text


# -- officers racing on one draft ----------------------------------------------------------


@pytest.fixture
def services(store_url: str, tmp_path: Path, prepared_data: Path) -> Iterator[Services]:
    shutil.copytree(prepared_data, tmp_path / "data")
    settings = Settings(data_dir=tmp_path / "data", database_url=store_url)
    hooks: list[Callable[[], None]] = []

    def observe(trace: list[dict[str, Any]]) -> None:
        while hooks:  # runs between a triage's graph run and the recording of its draft
            hooks.pop()()

    with build_services(settings, observe=observe) as s:
        s.hooks = hooks  # type: ignore[attr-defined]
        yield s


def noise_event(s: Services) -> int:
    event, _ = s.store.add_event(
        EventCreate(source=Source.HOTLINE, text=NOISE, address=NOISE_AT, reported_at=T0), now=T0
    )
    return event.id


def test_a_forced_retriage_racing_an_approval_leaves_no_draft_on_a_dispatched_event(
    services: Services,
) -> None:
    s = services
    event_id = noise_event(s)
    first = s.dispatcher.triage(event_id, by="yuzhong")
    approve = {"action": "approve", "officer": "jiefangbei"}
    # the re-triage has drafted (its status check long passed) when the approval lands
    s.hooks.append(  # type: ignore[attr-defined]
        lambda: s.dispatcher.decide(event_id, approve, by="jiefangbei")
    )
    with pytest.raises(Conflict) as refused:
        s.dispatcher.triage(event_id, by="yuzhong", force=True)
    assert "派" in str(refused.value)
    assert s.store.get_event(event_id).status is Status.DISPATCHED
    assert s.dispatcher.pending(event_id) is None, "a pending draft on a dispatched event"
    with pytest.raises(Conflict):  # nothing to approve twice: not 200 "stale"
        s.dispatcher.decide(event_id, approve, by="yuzhong", approval_id=first["approval"]["id"])
    with pytest.raises(Conflict):
        s.dispatcher.decide(event_id, approve, by="yuzhong")
    assert [h["action"] for h in s.store.history(event_id)].count("dispatch") == 1


def test_a_draft_whose_event_moved_on_cannot_be_approved(services: Services) -> None:
    s = services
    event_id = noise_event(s)
    s.dispatcher.triage(event_id, by="yuzhong")
    s.store.transition(
        event_id, Action.RESOLVE_DIRECTLY, actor="jiefangbei", at=T0, reason="已当场处理"
    )
    assert s.dispatcher.pending(event_id) is None
    with pytest.raises(Conflict):
        s.dispatcher.decide(event_id, {"action": "approve", "officer": "yuzhong"}, by="yuzhong")
    assert "dispatch" not in [h["action"] for h in s.store.history(event_id)]


def test_an_event_never_triaged_has_nothing_pending(services: Services) -> None:
    event_id = noise_event(services)
    with pytest.raises(NothingPending):
        services.dispatcher.decide(
            event_id, {"action": "approve", "officer": "yuzhong"}, by="yuzhong"
        )
