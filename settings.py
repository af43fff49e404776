"""The one Settings object of the process (env prefix SANJI_, optional .env file)."""

from __future__ import annotations

import os
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Literal

from pydantic import AnyHttpUrl, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SANJI_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    data_dir: Path = Field(default=Path("data"), description="everything Sanji writes goes here")
    database_url: str | None = Field(
        default=None, description="sqlite:///path or postgresql://…; default: SQLite in data_dir"
    )
    chroma_path: Path | None = Field(default=None, description="default: <data_dir>/chroma")
    vector_cache: Path | None = Field(
        default=None,
        description="the passage-vector cache every data directory shares (SQLite, by model "
        "and passage text); default: <user cache dir>/sanji/vectors.sqlite3",
    )
    chroma_url: AnyHttpUrl | None = Field(
        default=None,
        description="a Chroma server, overrides chroma_path; may carry the path prefix of a "
        "proxy in front of it (https://proxy.example/chroma)",
    )
    chroma_headers: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="headers sent with every request to the Chroma server, as JSON: "
        '{"Authorization": "Bearer …"} or {"X-Chroma-Token": "…"} (token auth)',
    )
    llm_base_url: AnyHttpUrl | None = Field(
        default=None, description="OpenAI-compatible endpoint; unset = offline"
    )
    llm_api_key: SecretStr = SecretStr("not-needed")
    llm_model: str = "qwen2.5-7b-instruct"
    llm_timeout_s: float = Field(default=30.0, gt=0)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    demo_seed: int = 20251128
    login_failures_per_account: int = Field(
        default=5, ge=1, description="failed sign-ins per account within the window, then 429"
    )
    login_failures_per_address: int = Field(
        default=20, ge=1, description="failed sign-ins per client address within the window"
    )
    login_window_s: float = Field(default=900, gt=0, description="the sign-in failure window")
    worker_threads: int = Field(default=8, ge=1, le=200, description="threads serving requests")
    supervision_sweep_s: float = Field(
        default=300, ge=0, description="seconds between automatic 督办 sweeps (0: never)"
    )
    db_pool_size: int = Field(
        default=8,
        ge=1,
        le=100,
        description="PostgreSQL connections per pool (the store's and the checkpointer's each)",
    )
    precedents: bool = Field(
        default=True,
        description="decide the level and lead type from labelled precedents (the casebook); "
        "off: the rules decide alone",
    )
    perception_sweep_s: float = Field(
        default=60,
        ge=0,
        description="how often the server looks for silent sensors and lapsed detection "
        "alarms (seconds; 0: never, e.g. when `sanji alarms consume` sweeps instead)",
    )

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, v: object) -> object:
        return v.upper() if isinstance(v, str) else v

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'sanji.db').resolve()}"

    @property
    def resolved_chroma_path(self) -> Path:
        return self.chroma_path or self.data_dir / "chroma"

    @property
    def resolved_vector_cache(self) -> Path:
        if self.vector_cache is not None:
            return self.vector_cache
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        return Path(base) / "sanji" / "vectors.sqlite3"

    @property
    def chroma_server(self) -> tuple[str, dict[str, str]] | None:
        """The Chroma server's URL and the headers to send it, when one is configured."""
        if self.chroma_url is None:
            return None
        headers = {k: v.get_secret_value() for k, v in self.chroma_headers.items()}
        return str(self.chroma_url), headers

    @property
    def llm_configured(self) -> bool:
        return self.llm_base_url is not None


@cache
def get_settings() -> Settings:
    """Settings from the environment, built once per process and passed down from there."""
    return Settings()


def app_version() -> str:
    """The installed package's version (the one in pyproject.toml)."""
    try:
        return version("sanji")
    except PackageNotFoundError:  # a source tree that was never installed
        return "0+unknown"
