"""Deterministic fakes for the fast unit tier (``make test-fast``): no model load, same vectors every run.

``HashingEmbeddings`` stands in for MiniLM: each stem of the text layer is hashed to a fixed dimension and
the vector is normalised, so texts that share words are close, and nothing else is. It keeps the
pipeline honest (real Chroma, real retrieval code) without meaning; tests that depend on the model's
sense of meaning are marked ``model`` and run only in ``make test``.
"""

from __future__ import annotations

import hashlib
import math

from langchain_core.embeddings import Embeddings

from assistant.text import read

DIMENSIONS = 384  # as all-MiniLM-L6-v2


class HashingEmbeddings(Embeddings):
    """Bag of stems hashed into ``DIMENSIONS`` buckets, L2-normalised (cosine = dot, as the real model)."""

    def __init__(self, dimensions: int = DIMENSIONS) -> None:
        self.dimensions = dimensions

    def _vector(self, text: str) -> list[float]:
        vector = [0.0] * self.dimensions
        for stem in read(text).stems:
            digest = hashlib.blake2b(stem.encode(), digest_size=8).digest()
            bucket = int.from_bytes(digest[:4], "big") % self.dimensions
            vector[bucket] += 1.0 if digest[4] % 2 else -1.0
        norm = math.sqrt(sum(v * v for v in vector))
        if norm == 0:  # no words at all: a fixed unit vector, never a zero vector (cosine undefined)
            vector[0], norm = 1.0, 1.0
        return [v / norm for v in vector]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self._vector(text) for text in texts]

    def embed_query(self, text: str) -> list[float]:
        return self._vector(text)
