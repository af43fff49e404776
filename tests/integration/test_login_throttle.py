"""Password guessing is slowed down: after a few failures for one account, or from one client
address, sign-in answers 429 for a while; people who type their password right are not."""

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from knowledge import Knowledge
from tests.live import Live, live_server

LOGIN = "/api/v1/auth/login"


@pytest.fixture(scope="module")
def live(
    tmp_path_factory: pytest.TempPathFactory, prepared_data: Path, knowledge: Knowledge
) -> Iterator[Live]:
    root = tmp_path_factory.mktemp("throttle")
    with live_server(
        f"sqlite:///{root / 'sanji.db'}",
        root / "data",
        prepared_data,
        knowledge,
        now=datetime.now(UTC),
        events=10,
        login_failures_per_account=3,
        login_failures_per_address=6,
        login_window_s=600,
    ) as live:
        yield live


def from_address(live: Live, address: str) -> httpx.Client:
    """A client whose connections come from ``address`` (any of 127.0.0.0/8 reaches the
    server on 127.0.0.1)."""
    transport = httpx.HTTPTransport(local_address=address)
    return httpx.Client(base_url=live.url, timeout=60, transport=transport)


def login(c: httpx.Client, live: Live, username: str, *, right: bool = True) -> httpx.Response:
    password = live.passwords.get(username, "x") if right else "wrong-password"
    return c.post(LOGIN, json={"username": username, "password": password})


def test_an_account_is_locked_after_repeated_failures_others_sign_in(live: Live) -> None:
    with from_address(live, "127.0.0.3") as c:
        for _ in range(3):
            assert login(c, live, "yuzhong", right=False).status_code == 401
        locked = login(c, live, "yuzhong")  # even the right password waits now
        assert locked.status_code == 429
        assert 1 <= int(locked.headers["Retry-After"]) <= 600
        assert "登录失败次数过多" in locked.json()["detail"]
    with from_address(live, "127.0.0.4") as other:  # the account, not the address, is locked
        assert login(other, live, "yuzhong").status_code == 429
        assert login(other, live, "jiangbei").status_code == 200


def test_successful_sign_ins_are_never_limited(live: Live) -> None:
    with from_address(live, "127.0.0.5") as c:
        for _ in range(8):
            assert login(c, live, "city").status_code == 200
        # failures below the limit, then the right password: signed in, and the count restarts
        for _ in range(2):
            assert login(c, live, "jiefangbei", right=False).status_code == 401
        assert login(c, live, "jiefangbei").status_code == 200
        for _ in range(2):
            assert login(c, live, "jiefangbei", right=False).status_code == 401
        assert login(c, live, "jiefangbei").status_code == 200


def test_one_address_guessing_many_accounts_is_slowed_down(live: Live) -> None:
    with from_address(live, "127.0.0.6") as c:
        for n in range(6):
            assert login(c, live, f"guess{n}", right=False).status_code == 401
        blocked = login(c, live, "admin")
        assert blocked.status_code == 429 and "登录失败次数过多" in blocked.json()["detail"]
    with from_address(live, "127.0.0.7") as elsewhere:
        assert login(elsewhere, live, "admin").status_code == 200
