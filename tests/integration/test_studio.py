"""LangGraph Studio's path: ``langgraph dev`` (the in-memory LangGraph server) serves the graphs
of ``langgraph.json``, and a ``langgraph-sdk`` client uses them as Studio does: lists the
assistants, reads their input and output schemas, runs triage and resumes its interrupt."""

import os
import shutil
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from langgraph_sdk import get_sync_client
from langgraph_sdk.client import SyncLangGraphClient

from domain.models import EventCreate
from knowledge import Knowledge
from store import EventStore
from tests.live import free_port, process_server

ROOT = Path(__file__).resolve().parents[2]
LANGGRAPH = Path(sys.executable).parent / "langgraph"
REPORT = {
    "source": "hotline",
    "text": "解放碑步行街消防通道被私家车堵住了，好几天没人管",
    "reported_at": "2026-11-20T09:30:00+08:00",
    "address": "渝中区解放碑步行街",
}


@pytest.fixture(scope="module")
def studio(
    tmp_path_factory: pytest.TempPathFactory, prepared_data: Path, knowledge: Knowledge
) -> Iterator[tuple[SyncLangGraphClient, int]]:
    """``langgraph dev`` from the repository (as a developer starts it) on a data folder with
    one stored event; yields a client and that event's id."""
    root = tmp_path_factory.mktemp("studio")
    data = root / "data"
    shutil.copytree(prepared_data, data)
    store = EventStore.open(f"sqlite:///{data / 'sanji.db'}", knowledge.store_rules)
    event, _ = store.add_event(EventCreate.model_validate(REPORT), now=datetime.now(UTC))
    store.close()
    port = free_port()
    env = {
        **os.environ,
        "SANJI_DATA_DIR": str(data),
        "LANGSMITH_TRACING": "false",
        "LANGGRAPH_CLI_NO_ANALYTICS": "1",
    }
    env.pop("SANJI_DATABASE_URL", None)
    env.pop("SANJI_CHROMA_URL", None)
    argv = [str(LANGGRAPH), "dev", "--no-browser", "--no-reload", "--host", "127.0.0.1"]
    url = f"http://127.0.0.1:{port}"
    # from the repository, as a developer starts it: langgraph.json's paths are relative
    with (
        process_server([*argv, "--port", str(port)], f"{url}/ok", root / "log", cwd=ROOT, env=env),
        get_sync_client(url=url, timeout=600) as client,
    ):
        yield client, event.id


def _triage(client: SyncLangGraphClient) -> str:
    (assistant,) = client.assistants.search(graph_id="triage")
    return str(assistant["assistant_id"])


def test_the_graphs_are_listed_with_their_input_and_output_schemas(
    studio: tuple[SyncLangGraphClient, int],
) -> None:
    client, _ = studio
    assert {a["graph_id"] for a in client.assistants.search()} == {"triage", "review"}
    schemas: Any = client.assistants.get_schemas(_triage(client))
    assert schemas["input_schema"] is not None and schemas["output_schema"] is not None
    assert {"event_id", "event"} <= set(schemas["input_schema"]["properties"])
    assert {"draft", "outcome"} <= set(schemas["output_schema"]["properties"])


def test_an_event_that_is_not_stored_ends_with_its_draft(
    studio: tuple[SyncLangGraphClient, int],
) -> None:
    client, _ = studio
    thread = client.threads.create()
    result: Any = client.runs.wait(thread["thread_id"], _triage(client), input={"event": REPORT})
    assert result["draft"]["lead_department"], result
    assert "outcome" not in result
    state: Any = client.threads.get_state(thread["thread_id"])
    assert state["next"] == [] and not state["interrupts"]
    assert client.threads.get(thread["thread_id"])["status"] == "idle"


def test_a_stored_event_waits_for_approval_and_is_dispatched_on_resume(
    studio: tuple[SyncLangGraphClient, int],
) -> None:
    client, event_id = studio
    thread = client.threads.create()
    triage = _triage(client)
    client.runs.wait(thread["thread_id"], triage, input={"event_id": event_id})
    assert client.threads.get(thread["thread_id"])["status"] == "interrupted"
    state: Any = client.threads.get_state(thread["thread_id"])
    assert state["next"] == ["human_approval"]
    (waiting,) = state["interrupts"]
    assert waiting["value"]["event_id"] == event_id and "approve" in waiting["value"]["question"]

    # a decision without an officer is asked again, with the reason
    client.runs.wait(thread["thread_id"], triage, command={"resume": {"action": "approve"}})
    (again,) = client.threads.get_state(thread["thread_id"])["interrupts"]
    assert again["value"]["errors"] == ["请注明审核人（officer）"]

    result: Any = client.runs.wait(
        thread["thread_id"],
        triage,
        command={"resume": {"action": "approve", "officer": "渝中区值班员"}},
    )
    assert result["outcome"] == "dispatched"
    assert client.threads.get(thread["thread_id"])["status"] == "idle"
