"""Errors of the knowledge layer: a knowledge file that is wrong (file, line, what)."""

from __future__ import annotations

from pathlib import Path

from domain.errors import SanjiError


class KnowledgeError(SanjiError, ValueError):
    """A knowledge file is malformed or refers to something that does not exist."""

    def __init__(self, path: Path | str, line: int | None, message: str) -> None:
        self.path = Path(path)
        self.line = line
        self.message = message
        where = f"{self.path}:{line}" if line else str(self.path)
        super().__init__(f"{where}: {message}")


class LawParseError(SanjiError, ValueError):
    """A file that does not look like a regulation (no title, or no article)."""


class IndexBuildError(SanjiError):
    """Files that could not be parsed; the index was left as it was."""
