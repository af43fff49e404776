"""Read a YAML file into a pydantic model and report errors with the file and line."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from knowledge.errors import KnowledgeError

M = TypeVar("M", bound=BaseModel)

#: libyaml's loader where PyYAML was built with it (about ten times faster), else pure Python
LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class YamlFile:
    """A parsed YAML document that remembers where each value came from."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise KnowledgeError(path, None, f"cannot read file: {exc}") from exc
        try:
            self.node = yaml.compose(text, Loader=LOADER)
            self.data: Any = LOADER("").construct_document(self.node) if self.node else None
        except yaml.MarkedYAMLError as exc:
            line = exc.problem_mark.line + 1 if exc.problem_mark else None
            raise KnowledgeError(path, line, f"YAML syntax error: {exc.problem}") from exc
        if self.data is None:
            raise KnowledgeError(path, 1, "file is empty")

    def line_of(self, loc: Sequence[int | str]) -> int | None:
        """The 1-based line of the value at ``loc`` (or of its nearest existing parent)."""
        node = self.node
        line = node.start_mark.line + 1 if node is not None else None
        for part in loc:
            child = None
            if isinstance(node, yaml.MappingNode):
                for key, value in node.value:
                    if key.value == str(part):
                        child = value
                        break
            elif (
                isinstance(node, yaml.SequenceNode)
                and isinstance(part, int)
                and 0 <= part < len(node.value)
            ):
                child = node.value[part]
            if child is None:
                break
            node = child
            line = node.start_mark.line + 1
        return line

    def error(self, loc: Sequence[int | str], message: str) -> KnowledgeError:
        return KnowledgeError(self.path, self.line_of(loc), message)

    def parse(self, model: type[M]) -> M:
        try:
            return model.model_validate(self.data)
        except ValidationError as exc:
            first = exc.errors()[0]
            loc = [p for p in first["loc"] if isinstance(p, int | str)]
            path = ".".join(str(p) for p in loc) or "<root>"
            more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
            raise self.error(loc, f"{path}: {first['msg']}{more}") from exc
