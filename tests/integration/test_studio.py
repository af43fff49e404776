"""langgraph.json points at graphs that build from the settings (as LangGraph server loads them)."""

import importlib
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_langgraph_json_graphs_load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from settings import get_settings

    monkeypatch.setenv("SANJI_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    config = json.loads((ROOT / "langgraph.json").read_text(encoding="utf-8"))
    assert set(config["graphs"]) == {"triage", "review"}
    sys.modules.pop("agents.studio", None)
    try:
        studio = importlib.import_module("agents.studio")
        for name, target in config["graphs"].items():
            module_path, attr = target.split(":")
            assert module_path == "./agents/studio.py"
            graph = getattr(studio, attr)
            assert graph.name in ("sanji-triage", "sanji-review") and name in graph.name
        assert "human_approval" in studio.triage.get_graph().nodes
        studio._services.close()
    finally:
        sys.modules.pop("agents.studio", None)
        get_settings.cache_clear()
