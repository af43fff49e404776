"""``sanji --help`` is answered without Typer, from the same table the Typer app is built from:
it lists every command and group the app has, with the same zh-CN help."""

import subprocess
import sys
from pathlib import Path

import typer.main

import cli

ROOT = Path(__file__).resolve().parents[2]


def test_the_fast_help_lists_every_command_of_the_typer_app_with_its_help() -> None:
    group = typer.main.get_command(cli.app)
    commands = group.commands  # type: ignore[attr-defined]
    helped = cli.fast_help()
    assert set(commands) == {e.name for e in cli.COMMANDS}
    for entry in cli.COMMANDS:
        assert commands[entry.name].help == entry.help
        assert f"  {entry.name} " in helped and entry.help in helped
    assert cli.HELP in helped


def test_help_and_version_are_answered_without_typer_or_pydantic() -> None:
    probe = (
        "import sys, cli; "
        "codes = [cli.main(['--help']), cli.main(['version'])]; "
        "print(codes, [m for m in ('typer', 'click', 'pydantic', 'rich') if m in sys.modules])"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=600
    )
    assert out.returncode == 0, out.stderr
    assert "三级 Sanji" in out.stdout and "sanji " in out.stdout
    assert out.stdout.strip().endswith("[0, 0] []")


def test_one_command_is_built_alone_and_still_named() -> None:
    """``sanji serve …`` builds an app of that command only, still called as ``serve``."""
    from cli.commands import build

    (serve,) = [e for e in cli.COMMANDS if e.name == "serve"]
    group = typer.main.get_command(build([serve]))
    assert list(group.commands) == ["serve"]  # type: ignore[attr-defined]
