"""Changes pushed as Server-Sent Events over a real server, on SQLite and PostgreSQL: what a
subscriber sees in its scope, in order, and what it gets back after reconnecting."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import httpx

from tests.live import Live, live_on_both_backends

live = live_on_both_backends(events=20)


def _records(lines: Iterator[str]) -> Iterator[tuple[str, str | None, dict[str, Any]]]:
    event, ident, data = "message", None, []
    for line in lines:
        if line == "":
            if data:
                yield event, ident, json.loads("\n".join(data))
            event, ident, data = "message", None, []
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("id:"):
            ident = line[3:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].lstrip())


class Subscriber:
    """A stream read in a thread: every record, until ``until`` says stop or the server ends."""

    def __init__(self, live: Live, user: str, params: dict[str, Any]) -> None:
        self.records: list[tuple[str, str | None, dict[str, Any]]] = []
        self.ready = threading.Event()
        self.client = live.client(user)
        self.params = params
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()
        assert self.ready.wait(120), "the stream did not start"

    def _read(self) -> None:
        with self.client.stream("GET", "/api/v1/stream", params=self.params) as r:
            assert r.status_code == 200 and r.headers["content-type"].startswith(
                "text/event-stream"
            )
            for record in _records(r.iter_lines()):
                self.records.append(record)
                if record[0] == "ready":
                    self.ready.set()

    def join(self) -> list[tuple[str, str | None, dict[str, Any]]]:
        self.thread.join(180)
        assert not self.thread.is_alive(), "the stream did not end at max_s"
        self.client.close()
        return self.records


def _file(live: Live, text: str, address: str) -> int:
    with live.client("city") as city:
        r = city.post(
            "/api/v1/events",
            params={"triage": "true"},
            json={"source": "hotline", "text": text, "address": address},
        )
        assert r.status_code == 201, r.text
        event_id = int(r.json()["id"])
        approved = city.post(f"/api/v1/events/{event_id}/approve", json={})
        assert approved.status_code == 200, approved.text
    return event_id


def test_changes_reach_the_subscribers_whose_scope_holds_them(live: Live) -> None:
    street = Subscriber(live, "jiefangbei", {"max_s": 6})
    other = Subscriber(live, "jiangbei", {"max_s": 6})
    event_id = _file(live, "解放碑民族路有人占道摆摊卖水果，行人过不去", "渝中区解放碑街道民族路")
    seen = [(e, d) for e, _, d in street.join() if d.get("event_id") == event_id]
    kinds = [(e, d.get("action")) for e, d in seen]
    assert ("change", "receive") in kinds and ("draft", None) in kinds
    assert ("change", "dispatch") in kinds
    assert kinds.index(("change", "receive")) < kinds.index(("change", "dispatch"))
    dispatched = next(d for e, d in seen if d.get("action") == "dispatch")
    assert dispatched["status"] == "dispatched" and dispatched["action_zh"] == "派单"
    assert dispatched["actor"] == "city" and "text" not in dispatched  # no texts pushed
    assert all(d.get("event_id") != event_id for _, _, d in other.join())  # 江北 sees nothing


def test_a_reconnect_gets_what_it_missed(live: Live) -> None:
    with live.client("city") as city:
        first = httpx.Client(base_url=live.url, headers=city.headers, timeout=60)
        with first.stream("GET", "/api/v1/stream", params={"max_s": 1}) as r:
            records = list(_records(r.iter_lines()))
        first.close()
    cursor = records[-1][1]
    assert records[0][0] == "ready" and records[-1][0] == "bye" and cursor
    missed = _file(live, "解放碑八一路井盖松动，踩上去会翻", "渝中区解放碑街道八一路")
    with live.client("city") as city:
        r = city.get("/api/v1/stream", params={"max_s": 1}, headers={"Last-Event-ID": cursor})
    assert r.status_code == 200
    again = list(_records(iter(r.text.splitlines())))
    assert {d.get("action") for _, _, d in again if d.get("event_id") == missed} >= {
        "receive",
        "dispatch",
    }
    with live.client("city") as city:
        bad = city.get("/api/v1/stream", params={"max_s": 0})
        assert bad.status_code == 422
    assert httpx.get(f"{live.url}/api/v1/stream").status_code == 401
