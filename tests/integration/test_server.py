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


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(data_dir=tmp_path / "data")
    k = default_knowledge()
    store = EventStore.open(settings.resolved_database_url, k)
    load_demo(store, k, seed=3, now=datetime.now(UTC), count=120)
    store.close()
    with TestClient(create_app(settings)) as c:
        yield c


def test_health_and_readiness(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz").json()
    assert ready["ready"] is True
    assert ready["checks"]["database"]["schema"] >= 1
    assert ready["checks"]["llm"]["mode"] == "offline"


def test_landing_page_is_chinese_and_counts_the_demo(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and 'lang="zh-CN"' in page.text
    assert "事件总数 120" in page.text and "归档" in page.text


def test_knowledge_endpoints(client: TestClient) -> None:
    tax = client.get("/api/v1/taxonomy").json()
    assert sum(len(c["subtypes"]) for c in tax) >= 60
    tree = client.get("/api/v1/jurisdictions").json()
    yuzhong = next(d for d in tree["districts"] if d["name"] == "渝中区")
    assert len(yuzhong["streets"]) == 11
    assert client.get("/openapi.json").status_code == 200
