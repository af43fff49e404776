"""The Typer app behind ``sanji``, registered from ``cli.table.COMMANDS`` (one table for this
app and for the fast ``sanji --help``). ``build`` registers only the entries it is given:
``sanji serve`` builds an app of one command, so it neither imports the other command
modules nor prepares their parameters."""

from __future__ import annotations

from collections.abc import Iterable
from importlib import import_module
from typing import Any

import typer

from cli.table import HELP, Entry


def _resolve(target: str) -> Any:
    module, _, attr = target.partition(":")
    return getattr(import_module(module), attr)


def _root() -> None:
    """A group callback that does nothing: with it an app of one command is still a group
    (``sanji serve --port …``), not that command alone."""


def build(entries: Iterable[Entry]) -> typer.Typer:
    app = typer.Typer(help=HELP, no_args_is_help=True, add_completion=False)
    app.callback(help=HELP)(_root)
    for entry in entries:
        if entry.group:
            app.add_typer(_resolve(entry.target), name=entry.name, help=entry.help)
        else:
            app.command(entry.name, help=entry.help)(_resolve(entry.target))
    return app
