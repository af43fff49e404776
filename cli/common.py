"""What every command shares: the consoles, the one way to fail, the engine choice, and the
services built through the wiring root. Heavy imports wait until a command runs, so
``sanji --help`` and ``sanji version`` answer at once."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, NoReturn

import typer
from rich.console import Console

if TYPE_CHECKING:
    from agents.runtime import Services
    from domain.models import Source
    from settings import Settings
    from store import EventStore


def get_settings() -> Settings:
    """The process's settings (pydantic-settings is imported only by commands that run)."""
    from settings import get_settings as settings_of_process

    return settings_of_process()


console = Console()
err = Console(stderr=True)


def fail(message: str, code: int = 1) -> NoReturn:
    """Print an officer-readable error and exit."""
    err.print(f"[bold red]错误[/]：{message}")
    raise typer.Exit(code)


def engine_choice(value: str, *allowed: str) -> str:
    """The engine named on the command line, if it is one of ``allowed``."""
    if value not in allowed:
        fail(f"engine 只能是 {'、'.join(allowed[:-1])} 或 {allowed[-1]}")
    return value


@contextmanager
def services(*, durable: bool = True, precedents: bool = True) -> Iterator[Services]:
    """Every part of Sanji, built from the settings and closed afterwards; ``precedents``
    False turns the casebook off whatever the settings say (the rules decide alone)."""
    from agents.runtime import build_services

    settings = get_settings()
    if not precedents:
        settings = settings.model_copy(update={"precedents": False})
    with build_services(settings, durable=durable) as built:
        yield built


@contextmanager
def event_store() -> Iterator[EventStore]:
    """The configured event store alone, for commands that need nothing else."""
    from agents.runtime import open_store

    store = open_store(get_settings())
    try:
        yield store
    finally:
        store.close()


def source_choice(value: str) -> Source:
    """The reporting channel named on the command line."""
    from domain.models import Source

    try:
        return Source(value)
    except ValueError:
        fail(f"未知的来源「{value}」，可选：{', '.join(s.value for s in Source)}")
