"""The ``sanji`` command: thin, it calls into the rooms below and prints for officers (zh-CN).
One module per command group; each imports what it needs only when it runs."""

from __future__ import annotations

import typer

from cli import cases, data, evals, regulations, system, users

app = typer.Typer(
    help="三级 Sanji：城市运行和治理中心智能体 (city governance command-center agents)",
    no_args_is_help=True,
    add_completion=False,
)
for command in (
    system.version,
    system.doctor,
    system.serve,
    data.train,
    regulations.search,
    cases.triage,
    cases.review,
    cases.chat,
):
    app.command()(command)
app.add_typer(data.demo_app, name="demo")
app.add_typer(system.knowledge_app, name="knowledge")
app.add_typer(data.import_app, name="import")
app.add_typer(regulations.index_app, name="index")
app.add_typer(evals.eval_app, name="eval")
app.add_typer(users.users_app, name="users")

__all__ = ["app"]
