from pathlib import Path

import pytest

from settings import Settings


def test_defaults_put_everything_under_the_data_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SANJI_DATA_DIR", str(tmp_path / "d"))
    s = Settings()
    assert s.resolved_database_url == f"sqlite:///{(tmp_path / 'd' / 'sanji.db').resolve()}"
    assert s.resolved_chroma_path == tmp_path / "d" / "chroma"
    assert not s.llm_configured


def test_environment_configures_llm_and_keeps_the_key_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SANJI_LLM_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("SANJI_LLM_API_KEY", "sk-secret")
    monkeypatch.setenv("SANJI_LOG_LEVEL", "debug")
    s = Settings()
    assert s.llm_configured and s.log_level == "DEBUG"
    assert "sk-secret" not in repr(s)


def test_bad_values_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SANJI_PORT", "70000")
    with pytest.raises(ValueError, match="port"):
        Settings()
