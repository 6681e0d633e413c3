"""The only module that talks to Chroma: open the vector store, build or reuse the index, query it.

The index is a cache of the corpus. The collection's metadata records the corpus version, the embedding
model and a digest of the texts embedded; when any differs (or the collection is incomplete) the index is
rebuilt, otherwise it is reused without embedding anything.

Several processes may start at once (uvicorn workers, a CLI next to the app). A lock makes one of them
the builder while the others wait and then reuse its index (``assistant/locks.py``): a file lock in the
data folder, which matters most in embedded mode because Chroma's embedded store is not made for several
writing processes; or, for a Chroma server shared by hosts that share a PostgreSQL audit database, an
advisory lock there. Hosts without one rely on the collection's own marks: a collection marked "building"
whose builder still shows signs of life (a heartbeat in its metadata, refreshed after every batch) is
waited for, and only one that has gone silent is taken over and rebuilt.

A Chroma server that comes back without its data (a new volume, a restore) is noticed by the next query
or health check: the collection is missing, empty, or an abandoned build. Each process that notices starts
one background rebuild under the same lock, so exactly one rebuilds while the others wait and then reuse
it; meanwhile the status is "rebuilding", and answers resume by themselves. A collection that holds
another corpus or model (the next monograph version, built by newer hosts) is never rebuilt over.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import NoReturn, TypeVar

import chromadb
import httpx
from chromadb.api import ClientAPI
from chromadb.api.models.Collection import Collection
from chromadb.config import Settings as ChromaSettings
from chromadb.errors import NotFoundError
from langchain_core.embeddings import Embeddings
from tqdm import tqdm

from .corpus import Corpus, Passage
from .embedding import model_name
from .errors import IndexMissing, IndexRebuilding, IndexUnavailable, StoreRejected, StoreUnreachable
from .locks import index_build_lock
from .settings import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")
_BATCH = 32
BUILDER_SILENT_S = 60.0  # a "building" collection without a heartbeat for this long was abandoned
_POLL_S = 0.5
RESTORE_RETRY_S = 30.0  # after a failed background rebuild, wait this long before the next attempt
REBUILD = "rebuild it with `python -m assistant index` (the app resumes by itself once it is built)"


def _auth_headers(settings: Settings) -> dict[str, str]:
    if settings.chroma_auth_header is None:
        return {}
    name, _, value = settings.chroma_auth_header.get_secret_value().partition(":")
    return {name.strip(): value.strip()}


def _where(settings: Settings) -> str:
    scheme = "https" if settings.chroma_ssl else "http"
    return f"{scheme}://{settings.chroma_host}:{settings.chroma_port}"


def probe(settings: Settings) -> IndexUnavailable | None:
    """Why the Chroma server cannot be used, asked over plain HTTP (the Chroma client reports a refused
    token from a proxy as a bare exception): nothing answers, or it refuses the credentials; None if neither.
    """
    where = _where(settings)
    try:
        response = httpx.get(f"{where}/api/v2/auth/identity", headers=_auth_headers(settings), timeout=5)
    except httpx.HTTPError as exc:
        return StoreUnreachable(
            f"Chroma server at {where} is unreachable ({type(exc).__name__}): start it, or check "
            "ASSISTANT_CHROMA_HOST, ASSISTANT_CHROMA_PORT and ASSISTANT_CHROMA_SSL"
        )
    if response.status_code in (401, 403):
        return StoreRejected(
            f"Chroma server at {where} refused the credentials (HTTP {response.status_code}): check "
            "ASSISTANT_CHROMA_AUTH_HEADER against the token the server or its proxy expects"
        )
    return None


def _server_error(settings: Settings, exc: Exception) -> IndexUnavailable:
    """The error that says what to do: unreachable, credentials refused, or the server's own error."""
    return probe(settings) or IndexUnavailable(
        f"Chroma server at {_where(settings)} error: {type(exc).__name__}"
    )


def make_client(settings: Settings) -> ClientAPI:
    """An embedded persistent client or an HTTP client, telemetry off in both."""
    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if settings.chroma_mode == "server":
        try:
            return chromadb.HttpClient(
                host=settings.chroma_host,
                port=settings.chroma_port,
                ssl=settings.chroma_ssl,
                headers=_auth_headers(settings) or None,
                settings=chroma_settings,
            )
        except Exception as exc:  # chromadb raises ValueError/ConnectionError/bare Exception variants
            raise _server_error(settings, exc) from exc
    settings.chroma_dir.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(settings.chroma_dir), settings=chroma_settings)


class Restorer:
    """Runs one background rebuild at a time for a process, and pauses after one that failed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._failed_at: float | None = None

    def start(self, rebuild: Callable[[], None]) -> bool:
        """True when a rebuild is running (this call may have started it); False while pausing after a
        failure, so a rebuild that cannot succeed is not retried on every request."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return True
            if self._failed_at is not None and time.monotonic() - self._failed_at < RESTORE_RETRY_S:
                return False
            self._thread = threading.Thread(
                target=self._run, args=(rebuild,), name="index-rebuild", daemon=True
            )
            self._thread.start()
            return True

    def _run(self, rebuild: Callable[[], None]) -> None:
        try:
            rebuild()
        except Exception as exc:  # a rebuild that fails must show in health and the log, never kill a worker
            kind = type(exc).__name__
            log.error(
                "rebuilding the lost index failed (%s: %s); retrying in %.0f s", kind, exc, RESTORE_RETRY_S
            )
            with self._lock:
                self._failed_at = time.monotonic()
        else:
            with self._lock:
                self._failed_at = None


@dataclass
class VectorIndex:
    """A Chroma collection holding one vector per passage, plus one per list item."""

    collection: Collection
    embeddings: Embeddings
    rebuilt: bool
    entries: int
    settings: Settings | None = None  # to find the collection again on a Chroma server (see ``_recover``)
    wanted: dict[str, object] = field(default_factory=dict)  # the metadata of a complete, current index
    corpus: Corpus | None = None  # to rebuild a collection the server lost
    restorer: Restorer = field(default_factory=Restorer)

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
        with index_build_lock(settings):
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
            # what was embedded, not only how much: a new way of embedding the same passages rebuilds too
            "entries_digest": _entry_digest(corpus),
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
                    return cls(collection, embeddings, False, wanted["entries"], settings, wanted, corpus)
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
                raise _server_error(settings, exc) from exc
            raise
        _fill(collection, corpus, embeddings, progress, wanted)
        # The version is only recorded once every passage is in: an interrupted build is never reused.
        collection.modify(metadata={**wanted, "state": "ready"})
        return cls(collection, embeddings, True, wanted["entries"], settings, wanted, corpus)

    def query(self, vector: Sequence[float], k: int) -> list[tuple[str, float]]:
        """Nearest passages as (passage id, cosine similarity), best first.

        A list's similarity is that of its closest entry (the whole list or one of its items).
        """

        result = self._read(
            lambda: self.collection.query(
                query_embeddings=[list(vector)], n_results=self.entries, include=["distances"]
            ),
            "query",
        )
        best: dict[str, float] = {}
        for entry, distance in zip(result["ids"][0], (result["distances"] or [[]])[0], strict=True):
            best.setdefault(entry.split("#", 1)[0], 1.0 - float(distance))  # results come best first
        return list(best.items())[:k]

    def text_vectors(self, passages: Sequence[Passage]) -> list[list[float]]:
        """Each passage's stored vector of its text alone, in order: what the index already embedded, so a
        warm start embeds nothing."""

        ids = [f"{p.id}#text" for p in passages]
        result = self._read(lambda: self.collection.get(ids=ids, include=["embeddings"]), "read")
        stored = dict(zip(result["ids"], result["embeddings"], strict=True))  # type: ignore[arg-type]
        return [[float(x) for x in stored[entry]] for entry in ids]

    def _read(self, run: Callable[[], T], what: str) -> T:
        """``run()`` against the store; after a failure, recover the store and try once more."""
        try:
            return run()
        except Exception as exc:
            self._recover(exc)
            try:
                return run()
            except Exception as again:
                raise IndexUnavailable(f"vector store {what} failed: {type(again).__name__}") from again

    def check(self) -> None:
        """Raise the IndexUnavailable that says what is wrong, if the store cannot answer (health checks)."""
        try:
            self.collection.count()
        except Exception as exc:
            self._recover(exc)

    def ping(self) -> bool:
        """True when the store answers."""
        try:
            self.check()
        except IndexUnavailable:
            return False
        return True

    def _recover(self, exc: Exception) -> None:
        """After a failed call: use the collection again if it was rebuilt under the same name (by another
        process or ``python -m assistant index``), start rebuilding it if the server lost it, else raise the
        error that says what to do."""
        settings = self.settings
        if settings is None or settings.chroma_mode != "server":
            raise IndexUnavailable(f"vector store failed: {type(exc).__name__}") from exc
        problem = probe(settings)
        if problem is not None:
            raise problem from exc
        name, where = settings.collection, _where(settings)
        try:
            collection = make_client(settings).get_collection(name, embedding_function=None)
            count = collection.count()
        except NotFoundError:
            self._lost(f"collection {name!r} is missing from the Chroma server at {where}", exc)
        except IndexUnavailable:
            raise
        except Exception as error:
            raise _server_error(settings, error) from exc
        meta = collection.metadata or {}
        heartbeat = meta.get("heartbeat")
        alive = isinstance(heartbeat, int | float) and time.time() - heartbeat < BUILDER_SILENT_S
        if meta.get("state") == "building" and alive:
            raise IndexRebuilding(f"collection {name!r} on {where} is being rebuilt by another process")
        found = f"{count} of {self.entries} entries, state {meta.get('state')!r}"
        if count == 0 or meta.get("state") != "ready":
            self._lost(f"collection {name!r} on {where} is empty or an abandoned build ({found})", exc)
        if not all(meta.get(k) == v for k, v in self.wanted.items()):
            raise IndexMissing(
                f"collection {name!r} on {where} holds another index (corpus {meta.get('corpus_version')!r}, "
                f"model {meta.get('embedding_model')!r}), not this process's: give each corpus version its "
                "own ASSISTANT_COLLECTION, or " + REBUILD
            ) from exc
        if count != self.entries:
            self._lost(f"collection {name!r} on {where} is incomplete ({found})", exc)
        if collection.id == self.collection.id:
            raise IndexUnavailable(f"Chroma server at {where} error: {type(exc).__name__}") from exc
        log.info("collection %r was rebuilt on %s; using the new one", name, where)
        self.collection = collection

    def _lost(self, what: str, exc: Exception) -> NoReturn:
        """The server lost this index: rebuild it in the background (one process does, under the build lock;
        the others wait and reuse it). Raises the status meanwhile: rebuilding, or needs_rebuild when the last
        attempt failed moments ago (the log says why)."""
        if self.corpus is not None and self.restorer.start(self._restore):
            raise IndexRebuilding(f"{what} (did it lose its data?): rebuilding it from the corpus") from exc
        raise IndexMissing(f"{what} (did it lose its data?): " + REBUILD) from exc

    def _restore(self) -> None:
        """Rebuild the collection under the build lock, or reuse it if another process rebuilt it first."""
        settings, corpus = self.settings, self.corpus
        assert settings is not None and corpus is not None  # only started by _lost, which checks
        with index_build_lock(settings):
            fresh = VectorIndex._open(make_client(settings), settings, corpus, self.embeddings, False, False)
        self.collection = fresh.collection
        where = f"{_where(settings)}/{settings.collection}"
        if fresh.rebuilt:
            log.warning("index rebuilt from the corpus into %s after the server lost it", where)
        else:
            log.info("index at %s was rebuilt by another process; using it", where)


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


def _entry_digest(corpus: Corpus) -> str:
    """A hash of every (entry id, text) the index embeds."""
    digest = hashlib.sha256()
    for entry, text in (pair for p in corpus.passages for pair in p.vector_texts):
        digest.update(f"{entry}\0{text}\0".encode())
    return digest.hexdigest()


def _discard_embedded(settings: Settings) -> None:
    from chromadb.api.shared_system_client import SharedSystemClient

    SharedSystemClient.clear_system_cache()
    shutil.rmtree(settings.chroma_dir, ignore_errors=True)
