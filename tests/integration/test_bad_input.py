"""Text a database cannot store (lone surrogates, NUL) over real HTTP, on SQLite and
PostgreSQL: a precise 422 naming the field, the connection stays usable, nothing is stored."""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from knowledge import Knowledge
from tests.live import Live, live_on_both_backends, live_server

live = live_on_both_backends(events=5)


def post_raw(c: httpx.Client, path: str, body: str) -> httpx.Response:
    """A JSON body written by hand, so that escapes such as \\ud800 reach the server as sent."""
    return c.post(path, content=body.encode(), headers={"Content-Type": "application/json"})


def total(c: httpx.Client) -> int:
    r = c.get("/api/v1/events", params={"limit": 1})
    assert r.status_code == 200, r.text
    count: int = r.json()["total"]
    return count


def event_body(**fields: str) -> str:
    base = {"source": '"hotline"', "text": '"路灯不亮"', **fields}
    return "{" + ", ".join(f'"{k}": {v}' for k, v in base.items()) + "}"


UNSTORABLE: list[tuple[str, str, str]] = [
    # (case, JSON body, what the message must name)
    ("surrogate value", event_body(attributes='{"k": "\\ud800"}'), "附加信息：「k」"),
    ("surrogate key", event_body(attributes='{"\\udfff": "v"}'), "附加信息：键名"),
    ("surrogate in list", event_body(attributes='{"k": ["ok", {"n": "\\ud800"}]}'), "「k[1].n」"),
    ("surrogate text", event_body(text='"路灯\\ud800不亮"'), "正文"),
    ("surrogate title", event_body(title='"\\ud83d"'), "标题"),
    ("surrogate address", event_body(address='"民族路\\udc00"'), "地址"),
    ("nul external id", event_body(external_id='"A\\u0000B"'), "外部编号"),
    ("nul value", event_body(attributes='{"k": "a\\u0000b"}'), "附加信息：「k」"),
    ("nul key", event_body(attributes='{"a\\u0000": 1}'), "附加信息：键名"),
    ("nul nested", event_body(attributes='{"k": {"m": ["\\u0000"]}}'), "「k.m[0]」"),
]


@pytest.mark.parametrize(("case", "body", "field"), UNSTORABLE, ids=[c[0] for c in UNSTORABLE])
def test_unstorable_text_in_an_event_is_a_422_naming_the_field(
    live: Live, case: str, body: str, field: str
) -> None:
    with live.client("hotline") as c:
        before = total(c)
        r = post_raw(c, "/api/v1/events", body)
        assert r.status_code == 422, (case, r.status_code, r.text)
        detail = r.json()["detail"]
        assert field in detail and "无法保存的字符" in detail, detail
        # the same connection goes on working, and nothing was stored
        assert total(c) == before


QUERIES: list[tuple[str, dict[str, Any]]] = [
    ("/api/v1/events", {"text": "\x00"}),
    ("/api/v1/events", {"subtype": "CA\x0001"}),
    ("/api/v1/events", {"category": ["EN", "C\x00A"]}),
    ("/api/v1/stats", {"category": "EN\x00"}),
]


@pytest.mark.parametrize(("path", "params"), QUERIES, ids=[str(q[1]) for q in QUERIES])
def test_nul_in_a_query_filter_is_a_422(live: Live, path: str, params: dict[str, Any]) -> None:
    with live.client("city") as c:
        r = c.get(path, params=params)
        assert r.status_code == 422, r.text
        assert "无法保存的字符" in r.json()["detail"], r.text


def test_nul_in_open311_fields_is_refused_the_georeport_way(live: Live) -> None:
    with live.client() as c:
        base = {"api_key": live.keys["hotline"], "service_code": "EN02", "lat": "29.56"}
        base["long"] = "106.57"
        for field in ("address_string", "last_name", "phone", "email", "attribute[floor]"):
            r = c.post("/open311/v2/requests.json", data={**base, field: "x\x00y"})
            assert r.status_code == 400, (field, r.text)
            assert "无法保存的字符" in r.json()[0]["description"], r.text
        assert c.post("/open311/v2/requests.json", data=base).status_code == 201
        r = c.get(
            "/open311/v2/requests.json",
            params={"service_code": "EN02\x00"},
            auth=("open311", live.keys["hotline"]),
        )
        assert r.status_code == 400 and "无法保存的字符" in r.json()[0]["description"], r.text


def test_nul_in_an_action_reason_or_a_login_is_a_422(live: Live) -> None:
    with live.client("city") as c:
        page = c.get("/api/v1/events", params={"status": "in_progress", "limit": 1}).json()
        event_id = page["items"][0]["id"]
        r = c.post(f"/api/v1/events/{event_id}/supervise", json={"reason": "督办\x00"})
        assert r.status_code == 422 and "原因" in r.json()["detail"], r.text
        r = c.post("/api/v1/auth/login", json={"username": "a\x00", "password": "x"})
        assert r.status_code == 422 and "无法保存的字符" in r.json()["detail"], r.text


# -- a SQLite file locked by another writer (a bulk import) --------------------------------


class Waiting(logging.Handler):
    """Notes when the store starts waiting for another writer's lock."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.started = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if "waiting" in record.getMessage():
            self.started.set()


@pytest.fixture(scope="module")
def locked(
    tmp_path_factory: pytest.TempPathFactory, prepared_data: Path, knowledge: Knowledge
) -> Iterator[tuple[Live, Path]]:
    """A live server over a SQLite file whose writes wait at most 8 seconds for a lock."""
    root = tmp_path_factory.mktemp("locked")
    db = root / "sanji.db"
    with live_server(
        f"sqlite:///{db}?timeout=8",
        root / "data",
        prepared_data,
        knowledge,
        now=datetime.now(UTC),
        events=1,
    ) as server:
        yield server, db


@contextmanager
def write_lock(db: Path) -> Iterator[sqlite3.Connection]:
    """Another connection holding the write lock, as a bulk import does."""
    other = sqlite3.connect(db, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        yield other
    finally:
        if other.in_transaction:
            other.execute("ROLLBACK")
        other.close()


def test_a_write_locked_past_the_bound_is_a_503_with_retry_after(
    locked: tuple[Live, Path],
) -> None:
    live, db = locked
    body = {"source": "hotline", "text": "路灯不亮", "external_id": "locked-1"}
    with live.client("hotline") as c:
        with write_lock(db):
            r = c.post("/api/v1/events", json=body)
        assert r.status_code == 503, r.text
        assert int(r.headers["retry-after"]) >= 1
        assert "数据库繁忙" in r.json()["detail"] and "未写入" in r.json()["detail"]
        # nothing was half written: filing again once the lock is gone creates it
        r = c.post("/api/v1/events", json=body)
        assert r.status_code == 201 and r.json()["created"] is True, r.text


def test_a_lock_released_within_the_bound_is_waited_for(locked: tuple[Live, Path]) -> None:
    live, db = locked
    waiting = Waiting()
    logging.getLogger("store.db").addHandler(waiting)
    result: list[httpx.Response] = []
    body = {"source": "hotline", "text": "井盖丢了", "external_id": "locked-2"}
    try:
        with live.client("hotline") as c, write_lock(db) as other:
            post = threading.Thread(
                target=lambda: result.append(c.post("/api/v1/events", json=body))
            )
            post.start()
            assert waiting.started.wait(timeout=120), "the request never waited for the lock"
            other.execute("COMMIT")  # the other writer finishes
            post.join(timeout=120)
    finally:
        logging.getLogger("store.db").removeHandler(waiting)
    assert result and result[0].status_code == 201, result[0].text if result else "no answer"
