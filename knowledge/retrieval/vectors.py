"""Where a passage's vector comes from: the vectors shipped with the built-in digests, a
content-addressed cache on disk, or the model, in that order.

A vector is addressed by a hash of the model id and the exact passage text, so any build in any
data directory that embeds the same passage with the same model reuses it, and a changed
passage or a new model version never meets an old vector."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from knowledge.embedding import model_id

DIM = 384
#: the built-in digests' vectors (row n is the passage whose key is ``keys[n]`` of the manifest)
SHIPPED_FILE = Path(__file__).parents[1] / "data" / "builtin-vectors.npy"
SHIPPED_MANIFEST = Path(__file__).parents[1] / "data" / "builtin-vectors.json"

Embed = Callable[[list[str]], Sequence[np.ndarray]]


def key(text: str, model: str) -> str:
    """The address of ``text``'s passage vector under ``model``."""
    return hashlib.sha256(f"{model}\0passage\0{text}".encode()).hexdigest()[:32]


class ShippedVectors:
    """The read-only vectors in the package, used only when made by the current model."""

    def __init__(self, model: str, keys: Sequence[str], matrix: np.ndarray) -> None:
        self.model = model
        self.rows = {k: n for n, k in enumerate(keys)}
        self.matrix = matrix

    @classmethod
    def load(
        cls, model: str, npy: Path = SHIPPED_FILE, manifest: Path = SHIPPED_MANIFEST
    ) -> ShippedVectors | None:
        """The shipped vectors, or None when they are missing or were made by another model."""
        if not npy.exists() or not manifest.exists():
            return None
        meta = json.loads(manifest.read_text(encoding="utf-8"))
        if meta.get("model") != model:
            return None
        matrix = np.load(npy)
        if matrix.shape != (len(meta["keys"]), DIM):
            return None
        return cls(model, meta["keys"], matrix.astype(np.float32, copy=False))

    def get(self, k: str) -> np.ndarray | None:
        n = self.rows.get(k)
        return None if n is None else self.matrix[n]


def write_shipped(
    texts: Sequence[str],
    vectors: Sequence[np.ndarray],
    model: str,
    npy: Path = SHIPPED_FILE,
    manifest: Path = SHIPPED_MANIFEST,
) -> None:
    """Write the shipped vectors of ``texts`` (duplicates kept once, in first-seen order)."""
    rows: dict[str, np.ndarray] = {}
    for text, vec in zip(texts, vectors, strict=True):
        rows.setdefault(key(text, model), np.asarray(vec, dtype=np.float32))
    matrix = np.stack(list(rows.values())) if rows else np.zeros((0, DIM), dtype=np.float32)
    with npy.open("wb") as f:
        np.save(f, matrix)
    manifest.write_text(
        json.dumps({"model": model, "dim": DIM, "keys": list(rows)}, indent=0) + "\n",
        encoding="utf-8",
    )


class VectorCache:
    """Passage vectors by key in one SQLite file, shared by every data directory that points at
    it (writes are transactions, so two builds at once do not corrupt it)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @cached_property
    def _db(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vector BLOB)")
        return db

    def get_many(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        wanted = list(dict.fromkeys(keys))
        for start in range(0, len(wanted), 500):
            part = wanted[start : start + 500]
            marks = ",".join("?" * len(part))
            rows = self._db.execute(
                f"SELECT key, vector FROM vectors WHERE key IN ({marks})", part
            ).fetchall()
            for k, blob in rows:
                vec = np.frombuffer(blob, dtype=np.float32)
                if vec.shape == (DIM,):
                    out[k] = vec
        return out

    def put_many(self, items: dict[str, np.ndarray]) -> None:
        with self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO vectors (key, vector) VALUES (?, ?)",
                [(k, np.asarray(v, dtype=np.float32).tobytes()) for k, v in items.items()],
            )

    def close(self) -> None:
        if "_db" in self.__dict__:
            self._db.close()
            del self.__dict__["_db"]


@dataclass
class Vectors:
    """Passage vectors: shipped, cached or computed (and then cached). Counts what the model
    had to compute, so a build can say how much it reused."""

    embed: Embed
    model: str
    cache: VectorCache | None = None
    shipped: ShippedVectors | None = None
    computed: int = 0
    reused: int = 0
    #: wall time spent in ``embed`` (the model), seconds
    embed_seconds: float = 0.0

    def __call__(self, texts: list[str]) -> list[np.ndarray]:
        keys = [key(t, self.model) for t in texts]
        found: dict[str, np.ndarray] = {}
        if self.shipped is not None:
            for k in keys:
                vec = self.shipped.get(k)
                if vec is not None:
                    found[k] = vec
        missing = [k for k in dict.fromkeys(keys) if k not in found]
        if missing and self.cache is not None:
            found.update(self.cache.get_many(missing))
        todo: dict[str, str] = {}
        for k, t in zip(keys, texts, strict=True):
            if k not in found:
                todo.setdefault(k, t)
        if todo:
            started = time.perf_counter()
            made = dict(zip(todo, self.embed(list(todo.values())), strict=True))
            self.embed_seconds += time.perf_counter() - started
            made = {k: np.asarray(v, dtype=np.float32) for k, v in made.items()}
            if self.cache is not None:
                self.cache.put_many(made)
            found.update(made)
        self.computed += len(todo)
        self.reused += len(texts) - len(todo)
        return [found[k] for k in keys]


def passage_vectors(
    embed: Embed, cache_path: Path | None, *, shipped: bool = True, model: str | None = None
) -> Vectors:
    """The build's source of vectors: the shipped ones (unless ``shipped`` is False) and the
    cache at ``cache_path`` (none when None) before ``embed``."""
    model = model or model_id()
    return Vectors(
        embed,
        model,
        cache=VectorCache(cache_path) if cache_path is not None else None,
        shipped=ShippedVectors.load(model) if shipped else None,
    )
