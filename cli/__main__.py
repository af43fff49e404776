"""``python -m cli``: the same as the ``sanji`` command."""

from cli import app

app()
