"""The Typer app behind ``sanji``, registered from ``cli.table.COMMANDS`` (one table for this app
and for the fast ``sanji --help``)."""

from __future__ import annotations

from importlib import import_module
from typing import Any

import typer

from cli.table import COMMANDS, HELP


def _resolve(target: str) -> Any:
    module, _, attr = target.partition(":")
    return getattr(import_module(module), attr)


app = typer.Typer(help=HELP, no_args_is_help=True, add_completion=False)
for entry in COMMANDS:
    if entry.group:
        app.add_typer(_resolve(entry.target), name=entry.name, help=entry.help)
    else:
        app.command(entry.name, help=entry.help)(_resolve(entry.target))
