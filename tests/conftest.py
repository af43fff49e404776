"""Shared fixtures: knowledge, stores on both backends, the shared data folder."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from knowledge import Knowledge, default_knowledge
from store import EventStore

if TYPE_CHECKING:
    from agents.deps import AgentDeps

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
PG_ENV = "SANJI_TEST_POSTGRES_URL"


@pytest.fixture(scope="session", autouse=True)
def private_vector_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Tests (and the processes they start) share one passage-vector cache of their own,
    never the user's."""
    path = tmp_path_factory.mktemp("vector-cache") / "vectors.sqlite3"
    mp = pytest.MonkeyPatch()
    mp.setenv("SANJI_VECTOR_CACHE", str(path))
    yield path
    mp.undo()


@pytest.fixture(scope="session")
def knowledge() -> Knowledge:
    return default_knowledge()


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"../shared/data not found at {SHARED_DATA}: real-data tests need it")
    return SHARED_DATA


@contextmanager
def fresh_postgres() -> Iterator[str]:
    """Create a PostgreSQL database for a test (or a module) and drop it afterwards."""
    admin = os.environ.get(PG_ENV)
    if not admin:
        pytest.skip(f"{PG_ENV} is not set: PostgreSQL tests run in CI (.ci/run sets it)")
    import psycopg

    name = f"sanji_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = admin.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def postgres_url() -> Iterator[str]:
    with fresh_postgres() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'sanji.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def store(store_url: str, knowledge: Knowledge) -> Iterator[EventStore]:
    s = EventStore.open(store_url, knowledge.store_rules)
    try:
        yield s
    finally:
        s.close()


DEMO_NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def demo_store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, knowledge: Knowledge
) -> Iterator[EventStore]:
    """A store with 400 demo events (seed 11, as of DEMO_NOW), built once per module and backend."""
    from demo.load import load_demo

    with ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path_factory.mktemp('demo') / 'sanji.db'}"
        else:
            url = stack.enter_context(fresh_postgres())
        s = EventStore.open(url, knowledge.store_rules)
        stack.callback(s.close)
        load_demo(s, knowledge, seed=11, now=DEMO_NOW, count=400)
        yield s


@pytest.fixture(autouse=True)
def only_loopback_models(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never talk to a real model: an LLM address that is not on this machine fails."""
    from urllib.parse import urlparse

    url = os.environ.get("SANJI_LLM_BASE_URL")
    if url and urlparse(url).hostname not in ("127.0.0.1", "localhost", "::1"):
        pytest.fail(
            f"SANJI_LLM_BASE_URL={url} is not a loopback address; tests use tests/fakes only"
        )
    monkeypatch.delenv("SANJI_LLM_BASE_URL", raising=False)


@pytest.fixture(scope="session")
def prepared_data(tmp_path_factory: pytest.TempPathFactory, knowledge: Knowledge) -> Path:
    """A data folder with the built-in regulation index, the offline classifier and the
    casebook already built, to copy for each server under test (building them takes
    seconds)."""
    from agents.casebook import ensure_casebook
    from agents.classifier import ensure_classifier
    from knowledge.retrieval import open_ready_index

    data = tmp_path_factory.mktemp("prepared") / "data"
    index = open_ready_index(data, data / "chroma")
    assert index.units
    ensure_classifier(knowledge, data / "models")
    ensure_casebook(knowledge, data / "models")
    return data


@contextmanager
def offline_deps(
    root: Path, prepared: Path, k: Knowledge, clock: Callable[[], datetime]
) -> Iterator[AgentDeps]:
    """The agents' dependencies for offline drafting: a copy of the prepared data folder
    (regulation index, classifier) under ``root`` and a fresh SQLite store, closed after."""
    from agents.classifier import ensure_classifier
    from agents.deps import AgentDeps
    from knowledge.retrieval import open_index

    shutil.copytree(prepared, root / "data")
    store = EventStore.open(f"sqlite:///{root / 's.db'}", k.store_rules)
    try:
        index = open_index(root / "data", root / "data" / "chroma")
        classifier = ensure_classifier(k, root / "data" / "models")
        yield AgentDeps(store, k, index, classifier, clock)
    finally:
        store.close()
