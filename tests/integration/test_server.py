"""The app over HTTP (in-process ASGI transport), on the embedded defaults."""

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from demo.load import load_demo
from knowledge import default_knowledge
from server import create_app
from settings import Settings
from store import EventStore
from tests.live import until_ready


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("server") / "data")
    k = default_knowledge()
    store = EventStore.open(settings.resolved_database_url, k.store_rules)
    load_demo(store, k, seed=3, now=datetime.now(UTC), count=120)
    store.close()
    with TestClient(create_app(settings)) as c:
        until_ready(c)
        yield c


def test_health_and_readiness(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz").json()
    assert ready["ready"] is True
    assert ready["checks"]["database"]["schema"] >= 1
    assert ready["checks"]["llm"]["mode"] == "offline"
    assert ready["checks"]["index"]["articles"] >= 200  # built from the shipped digests at start


def test_the_console_shell_and_its_modules_are_served(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and 'lang="zh-CN"' in page.text
    assert "/static/console.js" in page.text
    for module in ("console.js", "ui.js", "queue.js", "event.js", "chat.js", "dashboard.js"):
        r = client.get(f"/static/{module}")
        assert r.status_code == 200 and "javascript" in r.headers["content-type"]


def test_knowledge_endpoints(client: TestClient) -> None:
    tax = client.get("/api/v1/taxonomy").json()
    assert sum(len(c["subtypes"]) for c in tax) >= 60
    tree = client.get("/api/v1/jurisdictions").json()
    yuzhong = next(d for d in tree["districts"] if d["name"] == "渝中区")
    assert len(yuzhong["streets"]) == 11
    assert client.get("/openapi.json").status_code == 200


def test_regulation_search_and_lookup(client: TestClient) -> None:
    found = client.get("/api/v1/regulations/search", params={"q": "消防通道被车堵了", "k": 3})
    assert found.headers["X-Sanji-Engine"] == "offline"  # no model configured
    hits = found.json()
    assert len(hits) == 3 and all(h["citation"].startswith("《") for h in hits)
    assert any("消防" in h["title"] for h in hits)
    found = client.get(
        "/api/v1/regulations/article", params={"title": "中华人民共和国消防法", "article": "28"}
    )
    assert found.status_code == 200 and found.json()["article"] == "第二十八条"
    missing = client.get(
        "/api/v1/regulations/article",
        params={"title": "中华人民共和国消防法", "article": "第九百条"},
    )
    assert missing.status_code == 404 and "没有" in missing.json()["detail"]
    bad = client.get("/api/v1/regulations/article", params={"title": "x", "article": "abc"})
    assert bad.status_code == 422
    assert client.get("/api/v1/regulations/search", params={"q": ""}).status_code == 422


def test_readiness_checks_the_model_endpoint(tmp_path: Path, prepared_data: Path) -> None:
    import shutil
    import socket

    from tests.fakes.openai_server import ScriptedServer

    shutil.copytree(prepared_data, tmp_path / "data")
    model = ScriptedServer([])
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    try:
        for url, ok in ((model.base_url, True), (f"http://127.0.0.1:{dead}/v1", False)):
            settings = Settings(data_dir=tmp_path / "data", llm_base_url=url)
            with TestClient(create_app(settings)) as c:
                until_ready(c)
                ready = c.get("/readyz")
                llm = ready.json()["checks"]["llm"]
                assert ready.status_code == 200 and llm["mode"] == "llm"
                assert llm["ok"] is ok and ready.json()["degraded"] is (not ok)
    finally:
        model.close()


def test_regulation_search_lets_the_model_rerank_for_signed_in_callers(
    tmp_path: Path, prepared_data: Path
) -> None:
    import shutil
    from urllib.parse import unquote

    from domain.access import Role
    from store.users import Users
    from tests.fakes.openai_server import ScriptedServer

    shutil.copytree(prepared_data, tmp_path / "data")
    model = ScriptedServer(
        [{"order": [2, 1], "reason": "第2条直接规定了消防通道"}, {"order": [77]}, {"order": [88]}]
    )
    settings = Settings(data_dir=tmp_path / "data", llm_base_url=model.base_url)
    k = default_knowledge()
    store = EventStore.open(settings.resolved_database_url, k.store_rules)
    Users(store.db).add(
        "wang", role=Role.STREET, jurisdiction="500103001", now=datetime.now(UTC), password="pw-1"
    )
    store.close()
    params = {"q": "消防通道被车堵了", "k": 3}
    try:
        with TestClient(create_app(settings)) as c:
            until_ready(c)
            offline = c.get("/api/v1/regulations/search", params=params)
            assert offline.headers["X-Sanji-Engine"] == "offline"  # anonymous: no model calls
            assert not model.requests
            token = c.post(
                "/api/v1/auth/login", json={"username": "wang", "password": "pw-1"}
            ).json()["token"]
            auth = {"Authorization": f"Bearer {token}"}
            ranked = c.get("/api/v1/regulations/search", params=params, headers=auth)
            assert ranked.headers["X-Sanji-Engine"] == "llm"
            assert unquote(ranked.headers["X-Sanji-Reason"]).startswith("第2条")
            first, second = offline.json()[:2]
            got = ranked.json()
            assert [h["citation"] for h in got[:2]] == [second["citation"], first["citation"]]
            assert [h["score"] for h in got] == [3.0, 2.0, 1.0] and all(not h["why"] for h in got)
            # invented numbers twice: the offline order, with the reason in a header
            kept = c.get("/api/v1/regulations/search", params=params, headers=auth)
            assert kept.headers["X-Sanji-Engine"] == "offline"
            assert "不在候选范围" in unquote(kept.headers["X-Sanji-Fallback"])
            assert [h["citation"] for h in kept.json()] == [h["citation"] for h in offline.json()]
            skip = c.get(
                "/api/v1/regulations/search", params={**params, "engine": "offline"}, headers=auth
            )
            assert skip.headers["X-Sanji-Engine"] == "offline"
    finally:
        model.close()
