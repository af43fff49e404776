"""``sanji serve`` on a fresh start: liveness answers before the app is even loaded, and what
needs only the event store is served while the regulation index is still being built. The slow
parts are held back by construction (an app factory that waits for the test, a Chroma address
that accepts connections and never answers), never by sleeping."""

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from demo.accounts import ensure_demo_accounts
from demo.load import load_demo
from knowledge import Knowledge
from server import create_app, create_staged_app
from settings import Settings
from store import EventStore
from tests.live import serve, until_ready


def _poll(client: httpx.Client, path: str, ok: Any, limit_s: float = 600) -> httpx.Response:
    """Ask ``path`` until ``ok(response)`` (a bounded wait for a state, not a speed check)."""
    deadline = time.monotonic() + limit_s
    while True:
        r = client.get(path)
        if ok(r) or time.monotonic() > deadline:
            return r
        time.sleep(0.1)


def test_liveness_and_warming_up_answers_before_the_app_is_loaded(
    tmp_path: Path, prepared_data: Path
) -> None:
    data = tmp_path / "data"
    shutil.copytree(prepared_data, data)
    settings = Settings(data_dir=data)
    release = threading.Event()

    def slow_to_load() -> Any:  # as importing FastAPI, the agents and Chroma on a busy machine
        release.wait(timeout=600)
        return create_app(settings)

    staged = create_staged_app(settings, factory=slow_to_load)
    with (
        serve(settings, app=staged, wait_ready=False) as base,
        httpx.Client(base_url=base, timeout=60) as c,
    ):
        assert c.get("/healthz").json() == {"status": "ok"}
        ready = c.get("/readyz")
        assert ready.status_code == 503 and int(ready.headers["Retry-After"]) >= 1
        body = ready.json()
        assert body["ready"] is False and body["warming_up"] is True
        assert body["progress"]["step"] == "load" and body["progress"]["label"] == "正在加载程序"
        busy = c.get("/api/v1/taxonomy")
        assert busy.status_code == 503 and int(busy.headers["Retry-After"]) >= 1
        assert "正在启动" in busy.json()["detail"]
        page = c.get("/")
        assert page.status_code == 503 and page.headers["content-type"].startswith("text/html")
        assert "正在准备…" in page.text and 'lang="zh-CN"' in page.text
        georeport = c.get("/open311/v2/services.json")
        assert georeport.status_code == 503 and georeport.json()[0]["code"] == 503
        assert staged.app is None

        release.set()
        until_ready(c)
        assert c.get("/readyz").json()["ready"] is True
        assert c.get("/api/v1/taxonomy").status_code == 200
        assert "/static/console.js" in c.get("/").text


@contextmanager
def _silent_chroma() -> Iterator[str]:
    """A Chroma address whose connections are accepted by the kernel and never answered: the
    regulation index stays unbuilt for as long as the test needs."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.close()


def test_the_store_serves_while_the_regulation_index_is_not_built(
    tmp_path: Path, prepared_data: Path, knowledge: Knowledge
) -> None:
    data = tmp_path / "data"
    shutil.copytree(prepared_data, data)
    passwords: dict[str, str] = {}

    def prepare(store: EventStore, k: Knowledge) -> None:  # what ``sanji serve`` does
        load_demo(store, k, seed=3, now=datetime.now(UTC), count=60)
        for line in ensure_demo_accounts(store.db, k, data):
            name, password = line.split("\t")[:2]
            passwords[name] = password

    with _silent_chroma() as chroma:
        settings = Settings(data_dir=data, chroma_url=chroma)
        staged = create_staged_app(settings, prepare=prepare)
        with (
            serve(settings, app=staged, wait_ready=False) as base,
            httpx.Client(base_url=base, timeout=60) as c,
        ):
            waiting = _poll(c, "/readyz", lambda r: r.json()["progress"]["step"] == "index")
            assert waiting.status_code == 503, waiting.text
            progress = waiting.json()["progress"]
            assert progress["step"] == "index" and "法规索引" in progress["label"]
            assert c.get("/healthz").json() == {"status": "ok"}
            # the demo data goes in beside the index build: wait until the store serves
            taxonomy = _poll(c, "/api/v1/taxonomy", lambda r: r.status_code != 503)
            assert taxonomy.status_code == 200, taxonomy.text

            # the store and the knowledge are there: sign in, list events, read the taxonomy
            login = c.post(
                "/api/v1/auth/login",
                json={"username": "yuzhong", "password": passwords["yuzhong"]},
            )
            assert login.status_code == 200, login.text
            auth = {"Authorization": f"Bearer {login.json()['token']}"}
            events = c.get("/api/v1/events", headers=auth)
            assert events.status_code == 200 and events.json()["items"]

            # what needs the index answers 503 in Chinese with Retry-After, at once
            search = c.get("/api/v1/regulations/search", params={"q": "占道经营"})
            assert search.status_code == 503 and int(search.headers["Retry-After"]) >= 1
            assert "法规索引" in search.json()["detail"]
            assert "正在准备法规索引" in search.json()["detail"]
            chat = c.post(
                "/api/v1/chat",
                json={"thread_id": "t1", "message": "今天有多少件事件"},
                headers=auth,
            )
            assert chat.status_code == 503 and "法规索引" in chat.json()["detail"]

            still = c.get("/readyz")
            assert still.status_code == 503 and still.json()["warming_up"] is True
