"""The server answers liveness at once and says it is warming up while it builds its parts."""

import shutil
import time
from pathlib import Path

import httpx
import psycopg

from knowledge import Knowledge
from settings import Settings
from store import EventStore
from tests.conftest import fresh_postgres
from tests.live import serve


def _poll(client: httpx.Client, path: str, status: int, limit_s: float = 600) -> httpx.Response:
    deadline = time.monotonic() + limit_s
    while True:
        r = client.get(path)
        if r.status_code == status or time.monotonic() > deadline:
            return r
        time.sleep(0.2)


def test_liveness_answers_while_the_services_are_still_being_built(
    tmp_path: Path, prepared_data: Path, knowledge: Knowledge
) -> None:
    with fresh_postgres() as url:
        EventStore.open(url, knowledge.store_rules).close()  # migrated
        data = tmp_path / "data"
        shutil.copytree(prepared_data, data)
        # another process holds the migrations table: opening the store waits for it, as a
        # server waits on a slow database or on building its index at first start
        with psycopg.connect(url) as holder:
            holder.execute("LOCK TABLE schema_migrations IN ACCESS EXCLUSIVE MODE")
            with (
                serve(Settings(data_dir=data, database_url=url), wait_ready=False) as base,
                httpx.Client(base_url=base, timeout=30) as c,
            ):
                assert c.get("/healthz").json() == {"status": "ok"}
                ready = c.get("/readyz")
                assert ready.status_code == 503
                body = ready.json()
                assert body["ready"] is False and body["warming_up"] is True
                assert body["progress"]["step"] == "store"
                assert "事件库" in body["progress"]["label"]
                busy = c.get("/api/v1/taxonomy")
                assert busy.status_code == 503 and int(busy.headers["Retry-After"]) >= 1
                assert "正在启动" in busy.json()["detail"]
                holder.rollback()  # the database answers again

                ready = _poll(c, "/readyz", 200)
                assert ready.status_code == 200, ready.text
                assert ready.json()["ready"] is True and ready.json()["warming_up"] is False
                assert c.get("/api/v1/taxonomy").status_code == 200
