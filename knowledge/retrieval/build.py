"""Incremental build of the regulation index.

A file whose content hash (and passage format) is unchanged is not touched, a changed file is
re-parsed and only its changed articles are re-embedded, a removed file's units go away. A
passage whose vector was shipped or is in the vector cache is not run through the model. Any
file that cannot be parsed stops the build before anything is written."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from knowledge.embedding import PassageEmbedder
from knowledge.errors import IndexBuildError, LawParseError
from knowledge.lawtext import Article, file_hash, parse_file, read_manifest
from knowledge.retrieval import corpus
from knowledge.retrieval.corpus import Manifest, UnitStore
from knowledge.retrieval.dense import DenseIndex
from knowledge.retrieval.vectors import passage_vectors

SUFFIXES = {".md", ".markdown", ".txt", ".docx", ".pdf"}


@dataclass
class FileReport:
    path: str
    status: str  # new | changed | unchanged | removed
    title: str = ""
    articles: int = 0
    embedded: int = 0


@dataclass
class BuildReport:
    files: list[FileReport] = field(default_factory=list)
    seconds: float = 0.0
    #: of the embedded articles, how many vectors the model computed and how many were reused
    #: (shipped with the built-in digests, or from the vector cache)
    computed: int = 0
    reused: int = 0
    #: of ``seconds``, how long the model took
    embed_seconds: float = 0.0

    @property
    def articles(self) -> int:
        return sum(f.articles for f in self.files if f.status != "removed")

    @property
    def embedded(self) -> int:
        return sum(f.embedded for f in self.files)

    @property
    def changed(self) -> bool:
        return any(f.status != "unchanged" for f in self.files)


def source_files(sources: Sequence[Path]) -> list[tuple[Path, dict[str, dict[str, str]]]]:
    """Every law file of the sources (files, or folders read one level deep), each with the
    metadata manifest of its folder."""
    files: list[tuple[Path, dict[str, dict[str, str]]]] = []
    for src in sources:
        if src.is_file():
            files.append((src.resolve(), read_manifest(src.parent)))
            continue
        if not src.is_dir():
            raise IndexBuildError(f"找不到法规目录或文件：{src}")
        manifest = read_manifest(src)
        files += [
            (p.resolve(), manifest)
            for p in sorted(src.iterdir())
            if p.suffix.lower() in SUFFIXES and not p.name.startswith(".") and p.name != "README.md"
        ]
    return files


def build(
    store: UnitStore,
    dense: DenseIndex,
    current: Sequence[Article],
    sources: Sequence[Path],
    progress: Callable[[str], None] | None = None,
    vector_cache: Path | None = None,
    shipped_vectors: bool = True,
) -> tuple[list[Article], BuildReport]:
    """Bring ``store`` and ``dense`` in line with ``sources``; ``current`` are the units of the
    last build. Passage vectors come from the shipped ones, the cache file ``vector_cache``
    (none when None), or the model (the shipped ones are skipped when ``shipped_vectors`` is
    False). Returns the new units and what happened to each file."""
    started = time.perf_counter()
    files = source_files(sources)
    old = store.manifest()
    by_file: dict[str, list[Article]] = {}
    for a in current:
        by_file.setdefault(a.source, []).append(a)

    report = BuildReport()
    parsed: dict[str, list[Article]] = {}
    hashes: dict[str, str] = {}
    errors = []
    for path, manifest in files:
        key = str(path)
        hashes[key] = file_hash(path)
        before = old.get(key, {})
        if (
            before.get("hash") == hashes[key]
            and before.get("passage") == corpus.PASSAGE_VERSION
            and key in by_file
        ):
            parsed[key] = by_file[key]
            report.files.append(
                FileReport(key, "unchanged", by_file[key][0].title, len(by_file[key]))
            )
            continue
        try:
            law = parse_file(path, manifest)
        except (LawParseError, OSError) as exc:
            errors.append(str(exc))
            continue
        parsed[key] = law.articles
        report.files.append(
            FileReport(key, "changed" if key in old else "new", law.title, len(law.articles))
        )
    if errors:
        raise IndexBuildError("以下文件无法解析，索引未改动：\n" + "\n".join(errors))
    _check_unique(parsed)
    removed = [k for k in old if k not in parsed]
    report.files += [
        FileReport(k, "removed", old[k].get("title", ""), len(old[k].get("uids", [])))
        for k in removed
    ]

    stale = [u for k in removed for u in old[k].get("uids", [])]
    pending: list[Article] = []
    for f in report.files:
        if f.status in ("new", "changed"):
            todo = dense.pending(parsed[f.path], old.get(f.path, {}).get("uids", []))
            f.embedded = len(todo)
            pending += todo
    if pending:
        # every file's changed passages in one stream: the model sees full batches
        with PassageEmbedder() as embed:
            vectors = passage_vectors(embed, vector_cache, shipped=shipped_vectors)
            dense.upsert(pending, vectors, progress)
        report.computed, report.reused = vectors.computed, vectors.reused
        report.embed_seconds = round(vectors.embed_seconds, 2)
    if stale:
        dense.delete(stale)

    units = [a for key in parsed for a in parsed[key]]
    store.save(units, _manifest(parsed, hashes))
    report.seconds = round(time.perf_counter() - started, 2)
    return units, report


def _check_unique(parsed: dict[str, list[Article]]) -> None:
    seen: dict[str, str] = {}
    for key, units in parsed.items():
        for a in units:
            if a.uid in seen and seen[a.uid] != key:
                raise IndexBuildError(f"《{a.title}》{a.article} 同时出现在 {seen[a.uid]} 和 {key}")
            seen[a.uid] = key


def _manifest(parsed: dict[str, list[Article]], hashes: dict[str, str]) -> Manifest:
    return {
        k: {
            "hash": hashes[k],
            "passage": corpus.PASSAGE_VERSION,
            "title": parsed[k][0].title,
            "uids": [a.uid for a in parsed[k]],
        }
        for k in parsed
    }
