"""The units of one build and the lookups derived from them.

A ``Snapshot`` is never changed: each lookup is computed from its own units on first use and
kept. A build does not invalidate anything; ``RegulationIndex`` swaps in a new snapshot of the
new units, so no lookup can outlive the units it was made from."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property

from knowledge.lawtext import Article
from knowledge.retrieval.lexical import LexicalIndex
from knowledge.retrieval.rerank import ArticleFlags


class Snapshot:
    def __init__(self, units: Sequence[Article]) -> None:
        self._units = tuple(units)

    @property
    def units(self) -> tuple[Article, ...]:
        return self._units

    @cached_property
    def lexical(self) -> LexicalIndex:
        return LexicalIndex.of(self._units)

    @cached_property
    def flags(self) -> ArticleFlags:
        return ArticleFlags.of(self._units)

    @cached_property
    def positions(self) -> dict[str, int]:
        """unit id -> position"""
        return {a.uid: n for n, a in enumerate(self._units)}

    @cached_property
    def by_article(self) -> dict[tuple[str, int, int], list[Article]]:
        """(title, article number, sub-number) -> units (a digest and a full text may share it)"""
        out: dict[tuple[str, int, int], list[Article]] = {}
        for a in self._units:
            out.setdefault((a.title, a.article_no, a.article_sub), []).append(a)
        return out
