"""The only module that talks to Chroma: open the vector store, build or reuse the index, query it.

The index is a cache of the corpus. The collection's metadata records the corpus version and the
embedding model; when either differs (or the collection is incomplete) the index is rebuilt, otherwise
it is reused without embedding anything.

Several processes may start at once (uvicorn workers, a CLI next to the app). A file lock in the data
folder makes one of them the builder while the others wait and then reuse its index; in embedded mode
this matters most, because Chroma's embedded store is not made for several writing processes. A Chroma
server may also be shared by processes on other hosts, which no local lock reaches: there a collection
marked "building" whose builder still shows signs of life (a heartbeat in its metadata, refreshed after
every batch) is waited for, and only one that has gone silent is taken over and rebuilt.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass

import chromadb
from chromadb.api import ClientAPI
from chromadb.api.models.Collection import Collection
from chromadb.config import Settings as ChromaSettings
from filelock import FileLock
from langchain_core.embeddings import Embeddings
from tqdm import tqdm

from .corpus import Corpus
from .embedding import model_name
from .errors import IndexUnavailable
from .settings import Settings

log = logging.getLogger(__name__)
_BATCH = 32
BUILDER_SILENT_S = 60.0  # a "building" collection without a heartbeat for this long was abandoned
_POLL_S = 0.5


def make_client(settings: Settings) -> ClientAPI:
    """An embedded persistent client or an HTTP client, telemetry off in both."""
    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if settings.chroma_mode == "server":
        headers = {}
        if settings.chroma_auth_header is not None:
            name, _, value = settings.chroma_auth_header.get_secret_value().partition(":")
            headers[name.strip()] = value.strip()
        try:
            return chromadb.HttpClient(
                host=settings.chroma_host,
                port=settings.chroma_port,
                ssl=settings.chroma_ssl,
                headers=headers or None,
                settings=chroma_settings,
            )
        except Exception as exc:  # chromadb raises ValueError/ConnectionError variants
            raise IndexUnavailable(
                f"Chroma server at {settings.chroma_host}:{settings.chroma_port} is unreachable"
            ) from exc
    settings.chroma_dir.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(settings.chroma_dir), settings=chroma_settings)


@dataclass
class VectorIndex:
    """A Chroma collection holding one vector per passage, plus one per list item."""

    collection: Collection
    embeddings: Embeddings
    rebuilt: bool
    entries: int

    @classmethod
    def open(
        cls,
        settings: Settings,
        corpus: Corpus,
        embeddings: Embeddings,
        *,
        progress: bool = False,
        rebuild: bool = False,
    ) -> VectorIndex:
        """Reuse the index if it matches the corpus and model (unless ``rebuild``); else build it."""
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        with FileLock(str(settings.data_dir / "index.lock"), timeout=600):
            if settings.chroma_mode == "server":
                return cls._open(make_client(settings), settings, corpus, embeddings, progress, rebuild)
            try:
                return cls._open(make_client(settings), settings, corpus, embeddings, progress, rebuild)
            except Exception as exc:  # a truncated or foreign folder: the index is only a cache
                log.warning("index folder unreadable (%s); rebuilding it from the corpus", type(exc).__name__)
                _discard_embedded(settings)
                return cls._open(make_client(settings), settings, corpus, embeddings, progress, True)

    @classmethod
    def _open(
        cls,
        client: ClientAPI,
        settings: Settings,
        corpus: Corpus,
        embeddings: Embeddings,
        progress: bool,
        rebuild: bool,
    ) -> VectorIndex:
        wanted = {
            "corpus_version": corpus.version,
            "embedding_model": model_name(settings),
            "entries": _entry_count(corpus),
        }
        try:
            existing = {c.name for c in client.list_collections()}
            if settings.collection in existing:
                collection = client.get_collection(settings.collection, embedding_function=None)
                if settings.chroma_mode == "server" and not rebuild:
                    collection = _wait_for_other_builder(client, settings, wanted)
                meta = collection.metadata or {}
                complete = meta.get("state") == "ready" and collection.count() == wanted["entries"]
                if complete and not rebuild and all(meta.get(k) == v for k, v in wanted.items()):
                    return cls(collection, embeddings, rebuilt=False, entries=wanted["entries"])
                client.delete_collection(settings.collection)
            collection = client.create_collection(
                settings.collection,
                configuration={"hnsw": {"space": "cosine"}},
                metadata={**wanted, "state": "building", "heartbeat": time.time()},
                embedding_function=None,
            )
        except IndexUnavailable:
            raise
        except Exception as exc:
            if settings.chroma_mode == "server":
                raise IndexUnavailable(f"Chroma server error: {type(exc).__name__}") from exc
            raise
        _fill(collection, corpus, embeddings, progress, wanted)
        # The version is only recorded once every passage is in: an interrupted build is never reused.
        collection.modify(metadata={**wanted, "state": "ready"})
        return cls(collection, embeddings, rebuilt=True, entries=wanted["entries"])

    def query(self, vector: Sequence[float], k: int) -> list[tuple[str, float]]:
        """Nearest passages as (passage id, cosine similarity), best first.

        A list's similarity is that of its closest entry (the whole list or one of its items).
        """
        try:
            result = self.collection.query(
                query_embeddings=[list(vector)], n_results=self.entries, include=["distances"]
            )
        except Exception as exc:
            raise IndexUnavailable(f"vector store query failed: {type(exc).__name__}") from exc
        best: dict[str, float] = {}
        for entry, distance in zip(result["ids"][0], (result["distances"] or [[]])[0], strict=True):
            best.setdefault(entry.split("#", 1)[0], 1.0 - float(distance))  # results come best first
        return list(best.items())[:k]

    def ping(self) -> bool:
        """True when the store answers (used by health checks)."""
        try:
            self.collection.count()
        except Exception:
            return False
        return True


def _wait_for_other_builder(client: ClientAPI, settings: Settings, wanted: dict[str, object]) -> Collection:
    """The collection once no other live process is building this same index into the server.

    Returns at once when the collection is ready, holds another version, or its builder has been silent
    for ``BUILDER_SILENT_S`` (then the caller rebuilds it). Server mode only: the embedded store is
    guarded by the file lock alone.
    """
    while True:
        collection = client.get_collection(settings.collection, embedding_function=None)
        meta = collection.metadata or {}
        same_build = all(meta.get(k) == v for k, v in wanted.items())
        heartbeat = meta.get("heartbeat")
        alive = isinstance(heartbeat, int | float) and time.time() - heartbeat < BUILDER_SILENT_S
        if meta.get("state") != "building" or not same_build or not alive:
            return collection
        log.info("another process is building collection %r; waiting for it", settings.collection)
        time.sleep(_POLL_S)


def _fill(
    collection: Collection, corpus: Corpus, embeddings: Embeddings, progress: bool, wanted: dict[str, object]
) -> None:
    entries = [(entry, text, p) for p in corpus.passages for entry, text in p.vector_texts]
    bar = tqdm(total=len(entries), desc="Embedding passages", unit="entry", disable=not progress)
    for i in range(0, len(entries), _BATCH):
        batch = entries[i : i + _BATCH]
        vectors = embeddings.embed_documents([text for _, text, _ in batch])
        collection.add(
            ids=[entry for entry, _, _ in batch],
            embeddings=vectors,
            documents=[text for _, text, _ in batch],
            metadatas=[
                {
                    "passage": p.id,
                    "document": p.document,
                    "section": p.section,
                    "start": p.start,
                    "end": p.end,
                }
                for _, _, p in batch
            ],
        )
        collection.modify(metadata={**wanted, "state": "building", "heartbeat": time.time()})
        bar.update(len(batch))
    bar.close()


def _entry_count(corpus: Corpus) -> int:
    return sum(len(p.vector_texts) for p in corpus.passages)


def _discard_embedded(settings: Settings) -> None:
    from chromadb.api.shared_system_client import SharedSystemClient

    SharedSystemClient.clear_system_cache()
    shutil.rmtree(settings.chroma_dir, ignore_errors=True)
