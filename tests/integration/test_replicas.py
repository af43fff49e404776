"""The server against a PostgreSQL that restarts, and officers racing on one draft: the
server needs no restart, and every loser of a race is told so with a 409."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from knowledge import Knowledge
from tests.live import Live, live_server
from tests.pgcluster import PrivateCluster, private_cluster

NOISE = "民族路88号工地夜间施工噪音扰民，凌晨两点还在打桩，严重影响休息"
NOISE_AT = "渝中区解放碑街道民族路88号"


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
