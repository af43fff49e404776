"""A Chroma server behind a proxy: ``SANJI_CHROMA_URL`` may carry the proxy's path prefix and
``SANJI_CHROMA_HEADERS`` the token it wants. A real ``chroma run`` (shipped with chromadb) on
loopback, behind a small proxy that refuses requests without the token or the prefix."""

import json
import shutil
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from agents.runtime import open_configured_index
from knowledge.retrieval import BUILTIN_DIR
from settings import Settings
from tests.live import free_port, process_server

TOKEN = "Bearer s3cret-token"
PREFIX = "/chroma"


@pytest.fixture(scope="module")
def chroma(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``chroma run`` on a free loopback port; yields its URL."""
    root = tmp_path_factory.mktemp("chroma-server")
    port = free_port()
    chroma_cli = shutil.which("chroma", path=str(Path(sys.executable).parent))
    assert chroma_cli, "chromadb's chroma command is missing"
    argv = [chroma_cli, "run", "--path", str(root / "db"), "--host", "127.0.0.1"]
    url = f"http://127.0.0.1:{port}"
    with process_server([*argv, "--port", str(port)], f"{url}/api/v2/heartbeat", root / "log"):
        yield url


@pytest.fixture(scope="module")
def proxy(chroma: str) -> Iterator[tuple[str, list[str]]]:
    """A proxy that serves Chroma under PREFIX to callers sending TOKEN; yields its URL and
    the paths it forwarded."""
    forwarded: list[str] = []
    upstream = httpx.Client(base_url=chroma, timeout=120)

    class Handler(BaseHTTPRequestHandler):
        def _relay(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.headers.get("Authorization") != TOKEN:
                return self._answer(401, b'{"error": "missing token"}')
            if not self.path.startswith(PREFIX + "/"):
                return self._answer(404, b'{"error": "not under the prefix"}')
            path = self.path[len(PREFIX) :]
            forwarded.append(path)
            r = upstream.request(
                self.command,
                path,
                content=body,
                headers={"Content-Type": self.headers.get("Content-Type", "application/json")},
            )
            self._answer(r.status_code, r.content, r.headers.get("content-type"))

        def _answer(self, status: int, body: bytes, kind: str | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind or "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _relay

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}{PREFIX}", forwarded
    finally:
        server.shutdown()
        server.server_close()
        upstream.close()


def test_the_index_lives_on_a_chroma_server_behind_a_token_proxy(
    tmp_path: Path, proxy: tuple[str, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, forwarded = proxy
    monkeypatch.setenv("SANJI_CHROMA_URL", url)
    monkeypatch.setenv("SANJI_CHROMA_HEADERS", json.dumps({"Authorization": TOKEN}))
    settings = Settings(data_dir=tmp_path / "data")
    assert "s3cret" not in repr(settings)  # the token is a secret
    index = open_configured_index(settings, build_if_empty=False)
    report = index.build([BUILTIN_DIR / "城市绿化条例.md"])
    assert report.embedded > 0
    assert any(p.startswith("/api/v2/") for p in forwarded)

    again = open_configured_index(settings, build_if_empty=False)
    hits = again.search("绿化", k=3)
    assert hits and all(h.unit.title == "城市绿化条例" for h in hits)
    assert any(h.dense_rank is not None for h in hits)  # Chroma answered through the proxy


def test_without_the_token_the_server_is_not_reached(
    tmp_path: Path, proxy: tuple[str, list[str]]
) -> None:
    url, _ = proxy
    settings = Settings(data_dir=tmp_path / "data", chroma_url=url)
    with pytest.raises(Exception, match=r"401|token|Unauthorized|missing"):
        open_configured_index(settings, build_if_empty=False).build(
            [BUILTIN_DIR / "城市绿化条例.md"]
        )
