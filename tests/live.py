"""A real server for tests: uvicorn on a free port of 127.0.0.1 in a thread, and an HTTP
client that signs in as one of the demo officers."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from demo.accounts import ACCOUNTS, ensure_demo_accounts
from demo.load import load_demo
from domain.access import Role
from evals.load_api import stop
from knowledge import Knowledge
from server import create_app
from settings import Settings
from store import EventStore
from store.users import Users
from tools.scope import jurisdiction_code


@dataclass
class Live:
    url: str
    keys: dict[str, str]  # username -> API key
    passwords: dict[str, str]
    settings: Settings

    def client(self, username: str | None = None, **kw: Any) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.keys[username]}"} if username else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60, **kw)


def until_ready(client: httpx.Client | Any, limit_s: float = 600) -> None:
    """Poll ``/readyz`` until the server has built its parts (a bounded wait: the first start
    on a fresh data folder builds the regulation index)."""
    deadline = time.monotonic() + limit_s
    while client.get("/readyz").json().get("warming_up"):
        if time.monotonic() > deadline:
            raise RuntimeError(f"the server was not ready within {limit_s:.0f} s")
        time.sleep(0.1)


@contextmanager
def serve(settings: Settings, *, wait_ready: bool = True, app: Any = None) -> Iterator[str]:
    """Serve the app (``create_app(settings)`` unless ``app`` is given) on a free loopback
    port; with ``wait_ready`` (the default) return once its parts are built, else as soon as
    it accepts connections."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app or create_app(settings), log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    url = f"http://127.0.0.1:{port}"
    if wait_ready:
        with httpx.Client(base_url=url, timeout=60) as c:
            until_ready(c)
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


@contextmanager
def live_server(
    database_url: str,
    data_dir: Path,
    prepared: Path,
    k: Knowledge,
    *,
    now: datetime,
    events: int = 200,
    **settings: Any,
) -> Iterator[Live]:
    """Demo events and accounts in a fresh store, then the server over it."""
    shutil.copytree(prepared, data_dir, dirs_exist_ok=True)
    store = EventStore.open(database_url, k.store_rules)
    load_demo(store, k, seed=3, now=now, count=events)
    lines = ensure_demo_accounts(store.db, k, data_dir)
    users = Users(store.db)
    users.add(
        "hotline",
        role=Role.INTEGRATION,
        jurisdiction=jurisdiction_code(k, "重庆市"),
        display_name="12345 热线系统",
        now=now,
    )
    users.add(
        "yuzhong_feed",
        role=Role.INTEGRATION,
        jurisdiction=jurisdiction_code(k, "渝中区"),
        now=now,
    )
    names = [a[0] for a in ACCOUNTS] + ["hotline", "yuzhong_feed"]
    keys = {n: users.issue(users.find(n).id, "api_key", now=now) for n in names}  # type: ignore[union-attr]
    passwords = {line.split("\t")[0]: line.split("\t")[1] for line in lines}
    store.close()
    s = Settings(data_dir=data_dir, database_url=database_url, **settings)
    with serve(s) as url:
        yield Live(url=url, keys=keys, passwords=passwords, settings=s)


@contextmanager
def backend_live(
    root: Path, prepared: Path, k: Knowledge, *, backend: str = "sqlite", events: int = 200
) -> Iterator[Live]:
    """A live server on a fresh store (SQLite under ``root``, or a new PostgreSQL database)
    with demo data reported up to now."""
    from datetime import UTC

    from tests.conftest import fresh_postgres

    with ExitStack() as stack:
        url = (
            f"sqlite:///{root / 'sanji.db'}"
            if backend == "sqlite"
            else stack.enter_context(fresh_postgres())
        )
        yield stack.enter_context(
            live_server(url, root / "data", prepared, k, now=datetime.now(UTC), events=events)
        )


def live_on_both_backends(events: int) -> Any:
    """A module fixture: a live server with ``events`` demo events, on SQLite and PostgreSQL."""

    @pytest.fixture(scope="module", params=["sqlite", "postgresql"])
    def live(
        request: pytest.FixtureRequest,
        tmp_path_factory: pytest.TempPathFactory,
        prepared_data: Path,
        knowledge: Knowledge,
    ) -> Iterator[Live]:
        root = tmp_path_factory.mktemp(f"live-{request.param}")
        with backend_live(
            root, prepared_data, knowledge, backend=request.param, events=events
        ) as server:
            yield server

    return live


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def process_server(
    argv: list[str],
    probe: str,
    log: Path,
    *,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    limit_s: float = 600,
) -> Iterator[None]:
    """Run a server command (output to ``log``) until ``probe`` answers 200, a bounded poll;
    stop it afterwards. Fails with the log's tail if the command exits first."""
    with log.open("wb") as out:
        server = subprocess.Popen(argv, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + limit_s
            while True:
                if server.poll() is not None:
                    raise RuntimeError(f"{argv[0]} exited: {log.read_text()[-3000:]}")
                try:
                    if httpx.get(probe, timeout=5).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{argv[0]} did not answer within {limit_s:.0f} s")
                time.sleep(0.3)
            yield
        finally:
            stop(server)
