"""Prompts are files: ``prompts/<agent>.<role>.md`` with a front matter (version) and named
``{placeholders}``. ``load(name)`` is the only reader."""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from domain.errors import SanjiError

DIR = Path(__file__).parent


class PromptError(SanjiError, ValueError):
    """A prompt that does not exist, or placeholders that do not match."""


@dataclass(frozen=True)
class Prompt:
    name: str
    version: str
    system: str
    user: str

    @property
    def placeholders(self) -> set[str]:
        return {
            f
            for part in (self.system, self.user)
            for _, f, _, _ in string.Formatter().parse(part)
            if f
        }

    def render(self, **values: object) -> tuple[str, str]:
        missing = self.placeholders - set(values)
        unused = set(values) - self.placeholders
        if missing or unused:
            raise PromptError(f"{self.name}: missing {sorted(missing)}, unused {sorted(unused)}")
        return self.system.format(**values), self.user.format(**values)


@cache
def load(name: str) -> Prompt:
    path = DIR / f"{name}.md"
    if not path.exists():
        raise PromptError(f"no prompt named {name}")
    text = path.read_text(encoding="utf-8")
    m = re.match(r"^---\nversion: *(\S+)\n---\n(.*?)\n=== user ===\n(.*)$", text, re.S)
    if not m:
        raise PromptError(
            f"{path.name}: expected front matter with version, a system part and '=== user ==='"
        )
    return Prompt(name=name, version=m.group(1), system=m.group(2).strip(), user=m.group(3).strip())


def names() -> list[str]:
    return sorted(p.stem for p in DIR.glob("*.md"))
