"""The ``sanji`` command: thin, it calls into the rooms below and prints for officers (zh-CN).
One module per command group; each imports what it needs only when it runs.

``sanji --help`` and ``sanji version`` are answered here, before Typer (which imports pydantic
to build every command's parameters) is loaded: they cost about as much as starting Python.
Every other command goes through the Typer app in ``cli.commands``, built from the same table
(``cli.table.COMMANDS``): the fast help and Typer's help list the same commands, same words."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from cli.table import COMMANDS, HELP, fast_help

if TYPE_CHECKING:
    import typer


def version_text() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"sanji {version('sanji')}"
    except PackageNotFoundError:  # a source tree that was never installed
        return "sanji 0+unknown"


def main(argv: list[str] | None = None) -> int:
    """The ``sanji`` entry point."""
    args = sys.argv[1:] if argv is None else argv
    if args == ["--help"]:
        sys.stdout.write(fast_help())
        return 0
    if args == ["version"]:
        sys.stdout.write(version_text() + "\n")
        return 0
    from cli.commands import build

    # the named command alone when there is one: the others' modules stay unimported
    named = [e for e in COMMANDS if args and e.name == args[0]]
    build(named or COMMANDS)(args=args, prog_name="sanji")
    return 0


def __getattr__(name: str) -> Any:
    """``cli.app``, the Typer app of every command, built on first use (``typer.testing``
    takes it)."""
    if name == "app":
        from cli.commands import build

        return build(COMMANDS)
    raise AttributeError(name)


__all__ = ["COMMANDS", "HELP", "app", "fast_help", "main"]

if TYPE_CHECKING:
    app: typer.Typer
