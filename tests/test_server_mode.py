"""Chroma server mode: a real ``chroma run`` on a free loopback port holds the index.

The index is built into the server once and reused by a second Assistant (as a second worker would) with
no embedding; retrieval and answers are the same as with the embedded store; the web app answers 503
with a clear message while the server is down and resumes by itself when it is back, including when the
app starts before the server.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from langchain_core.embeddings import Embeddings
from pydantic import SecretStr

from assistant import Assistant, Settings
from assistant.corpus import load_corpus
from assistant.errors import StoreRejected, StoreUnreachable
from assistant.index import BUILDER_SILENT_S, VectorIndex, make_client
from assistant.web import build_app
from tests.conftest import CountingEmbeddings
from tests.procs import ChromaServer, TokenProxy, free_port, serving, wait_until

pytestmark = pytest.mark.server

LFT_QUESTION = "How often are LFTs checked?"
LFT_SENTENCE = "Monitor liver function weekly"


def server_settings(chroma: ChromaServer, data_dir: Path, collection: str) -> Settings:
    return Settings(chroma_mode="server", chroma_port=chroma.port, data_dir=data_dir, collection=collection)


@pytest.fixture(scope="module")
def chroma(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChromaServer]:
    """One Chroma server for the read-only tests of this module (each uses its own collection)."""
    folder = tmp_path_factory.mktemp("chroma-server")
    server = ChromaServer(folder / "db", folder / "chroma.log").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def server_assistant(
    chroma: ChromaServer, tmp_path_factory: pytest.TempPathFactory, embeddings: Embeddings
) -> Assistant:
    settings = server_settings(chroma, tmp_path_factory.mktemp("server-data"), "server-shared")
    return Assistant.from_settings(settings, embeddings=embeddings)


def test_built_once_into_the_server_then_reused_by_a_second_worker(
    chroma: ChromaServer, tmp_path: Path, embeddings: Embeddings
) -> None:
    # Two workers: separate data folders (nothing shared on disk), one Chroma server.
    first_counter, second_counter = CountingEmbeddings(embeddings), CountingEmbeddings(embeddings)
    first = Assistant.from_settings(
        server_settings(chroma, tmp_path / "worker1", "build-once"), embeddings=first_counter
    )
    vectors = first.index.collection.count()
    assert vectors >= len(first.corpus.passages)
    assert first.index.rebuilt and first_counter.documents_embedded == vectors

    second = Assistant.from_settings(
        server_settings(chroma, tmp_path / "worker2", "build-once"), embeddings=second_counter
    )
    assert not second.index.rebuilt
    assert second_counter.documents_embedded == 0
    assert second.index.collection.count() == vectors
    assert second.index.collection.metadata["corpus_version"] == first.corpus.version

    answers = [bot.ask(LFT_QUESTION) for bot in (first, second)]
    assert [q.text for q in answers[0].quotes] == [q.text for q in answers[1].quotes]
    assert any(LFT_SENTENCE in q.text for q in answers[1].quotes)
    assert not (tmp_path / "worker2" / "chroma").exists()  # server mode writes no local index


class SlowEmbeddings(CountingEmbeddings):
    """Signals when a build has started embedding, then takes its time (a large corpus, a slow host)."""

    def __init__(self, inner: Embeddings, started: threading.Event) -> None:
        super().__init__(inner)
        self.started = started

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.started.set()
        time.sleep(1.5)
        return super().embed_documents(texts)


def test_a_process_on_another_host_waits_for_a_live_build_instead_of_redoing_it(
    chroma: ChromaServer, tmp_path: Path, embeddings: Embeddings
) -> None:
    # Separate data folders, so no file lock is shared: as two hosts sharing one Chroma server.
    corpus = load_corpus(Settings().corpus_dir)
    started, built = threading.Event(), []
    builder = SlowEmbeddings(embeddings, started)
    first = threading.Thread(
        target=lambda: built.append(
            VectorIndex.open(server_settings(chroma, tmp_path / "host1", "live-build"), corpus, builder)
        )
    )
    first.start()
    assert started.wait(60)
    waiter = CountingEmbeddings(embeddings)

    second = VectorIndex.open(server_settings(chroma, tmp_path / "host2", "live-build"), corpus, waiter)

    first.join(60)
    assert built and built[0].rebuilt
    assert not second.rebuilt and waiter.documents_embedded == 0
    assert second.collection.metadata["state"] == "ready"


def test_an_abandoned_build_on_the_server_is_taken_over(
    chroma: ChromaServer, tmp_path: Path, embeddings: Embeddings
) -> None:
    settings = server_settings(chroma, tmp_path, "abandoned-build")
    corpus = load_corpus(settings.corpus_dir)
    done = VectorIndex.open(settings, corpus, embeddings)
    # As if its builder had crashed mid-way long ago: "building", and no heartbeat since.
    silent_since = time.time() - BUILDER_SILENT_S - 1
    meta = {**done.collection.metadata, "state": "building", "heartbeat": silent_since}
    make_client(settings).get_collection(settings.collection).modify(metadata=meta)
    counter = CountingEmbeddings(embeddings)

    index = VectorIndex.open(settings, corpus, counter)

    assert index.rebuilt and counter.documents_embedded == index.collection.count()
    assert index.collection.metadata["state"] == "ready"


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("VOD risk factors", "Risk factors include"),
        (LFT_QUESTION, LFT_SENTENCE),
        ("CBC before each dose?", "Check complete blood count before each administration."),
        ("QTc prolongation with InO", "QT interval prolongation"),
        ("thrombocytopnia and neutropnia", "thrombocytopenia and neutropenia"),
    ],
)
def test_retrieval_through_the_server(server_assistant: Assistant, question: str, expected: str) -> None:
    top = [scored.passage.text for scored in server_assistant.retriever.search(question)]
    assert any(expected in text for text in top[:5])


@pytest.mark.parametrize(
    ("question", "rule_fired", "abstained", "quoted"),
    [
        ("What should I do if sinusoidal obstruction syndrome occurs?", True, False, "sinusoidal"),
        (LFT_QUESTION, False, False, LFT_SENTENCE),
        ("How should the vials be stored?", False, True, None),
    ],
)
def test_answers_through_the_server(
    server_assistant: Assistant, question: str, rule_fired: bool, abstained: bool, quoted: str | None
) -> None:
    answer = server_assistant.ask(question)
    assert bool(answer.guardrail) is rule_fired
    assert answer.abstained is abstained
    if quoted:
        assert any(quoted in q.text for q in answer.quotes)
    source = {d.id: d.text for d in server_assistant.corpus.documents}
    assert all(source[q.document][q.start : q.end] == q.text for q in answer.quotes)


# ---------------------------------------------------------------------------------------------- faults
def ask(client: httpx.Client, question: str = LFT_QUESTION) -> httpx.Response:
    return client.post("/api/ask", json={"question": question})


def assert_clear_503(response: httpx.Response) -> None:
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("application/json")
    detail = response.json()["detail"]
    assert "unavailable" in detail.lower() and "try again" in detail.lower()
    assert "Traceback" not in response.text and "site-packages" not in response.text


def test_api_answers_503_while_chroma_is_down_and_resumes_by_itself(tmp_path: Path) -> None:
    chroma = ChromaServer(tmp_path / "db", tmp_path / "chroma.log").start()
    try:
        settings = server_settings(chroma, tmp_path / "data", "api-restart")
        with serving(build_app(settings)) as url, httpx.Client(base_url=url, timeout=30) as client:
            assert wait_until(lambda: client.get("/api/health").status_code == 200, 90)
            before = ask(client)
            assert before.status_code == 200
            assert any(LFT_SENTENCE in q["text"] for q in before.json()["quotes"])

            chroma.stop()
            assert_clear_503(ask(client))
            health = client.get("/api/health")
            assert health.status_code == 503 and health.json()["status"] == "unavailable"

            chroma.start()  # same port, same path: the index is still there
            assert wait_until(lambda: ask(client).status_code == 200, 30, 0.5)
            assert client.get("/api/health").status_code == 200
            assert ask(client).json()["quotes"] == before.json()["quotes"]
    finally:
        chroma.stop()


def test_app_started_before_chroma_becomes_ready_when_it_comes_up(tmp_path: Path) -> None:
    chroma = ChromaServer(tmp_path / "db", tmp_path / "chroma.log", port=free_port())  # not started yet
    try:
        settings = server_settings(chroma, tmp_path / "data", "api-late-server")
        with serving(build_app(settings)) as url, httpx.Client(base_url=url, timeout=30) as client:
            assert wait_until(lambda: client.get("/api/health").json()["status"] == "unavailable", 60)
            assert client.get("/api/health").status_code == 503
            assert "cannot be reached" in client.get("/api/health").json()["detail"]
            assert_clear_503(ask(client))

            chroma.start()  # an empty server: the app's loader builds the index into it
            assert wait_until(lambda: client.get("/api/health").status_code == 200, 60, 0.5)
            response = ask(client)
            assert response.status_code == 200
            assert any(LFT_SENTENCE in q["text"] for q in response.json()["quotes"])
    finally:
        chroma.stop()


# ------------------------------------------------------------------------ errors that say what to do
def test_nothing_listening_is_reported_as_unreachable_with_the_settings_to_check(tmp_path: Path) -> None:
    settings = Settings(chroma_mode="server", chroma_port=free_port(), data_dir=tmp_path)
    with pytest.raises(StoreUnreachable, match=r"unreachable.*ASSISTANT_CHROMA_PORT"):
        make_client(settings)


def test_refused_credentials_are_reported_as_such_in_health_and_the_log(
    chroma: ChromaServer, tmp_path: Path, embeddings: Embeddings, caplog: pytest.LogCaptureFixture
) -> None:
    corpus = load_corpus(Settings().corpus_dir)
    with TokenProxy(chroma.port, "s3cret") as proxy:
        right = Settings(
            chroma_mode="server",
            chroma_port=proxy.port,
            chroma_auth_header="Authorization: Bearer s3cret",
            data_dir=tmp_path / "right",
            collection="behind-proxy",
        )
        assert VectorIndex.open(right, corpus, embeddings).collection.count() > 0  # the proxy forwards
        wrong = right.model_copy(update={"chroma_auth_header": SecretStr("Authorization: Bearer wrong")})
        with pytest.raises(StoreRejected, match=r"refused the credentials.*ASSISTANT_CHROMA_AUTH_HEADER"):
            VectorIndex.open(wrong, corpus, embeddings)

        caplog.set_level(logging.WARNING)
        wrong = wrong.model_copy(update={"data_dir": tmp_path / "wrong"})
        with serving(build_app(wrong)) as url, httpx.Client(base_url=url, timeout=30) as client:
            assert wait_until(lambda: client.get("/api/health").json()["status"] == "unauthorized", 90)
            health = client.get("/api/health")
            answer = ask(client)
    assert health.status_code == 503 and "refused the assistant's credentials" in health.json()["detail"]
    assert answer.status_code == 503 and "try again shortly" not in answer.json()["detail"].lower()
    assert "unreachable" not in health.text
    assert any("ASSISTANT_CHROMA_AUTH_HEADER" in r.getMessage() for r in caplog.records)


def test_a_collection_the_server_lost_is_rebuilt_by_the_app_and_answers_resume(
    chroma: ChromaServer, tmp_path: Path, embeddings: Embeddings, caplog: pytest.LogCaptureFixture
) -> None:
    settings = server_settings(chroma, tmp_path / "data", "lost-data")
    counter = CountingEmbeddings(embeddings)
    bot = Assistant.from_settings(settings, embeddings=counter)
    entries = bot.index.entries
    caplog.set_level(logging.INFO)
    with serving(build_app(settings, bot)) as url, httpx.Client(base_url=url, timeout=30) as client:
        assert ask(client).status_code == 200
        for lose in ("emptied", "deleted"):
            server = make_client(settings)
            server.delete_collection(settings.collection)
            if lose == "emptied":  # the server came back with an empty collection of the same name
                server.create_collection(settings.collection, embedding_function=None)
            embedded_before = counter.documents_embedded
            health, answer = client.get("/api/health"), ask(client)  # the first notices; it starts rebuilding
            for response in (health, answer):
                assert response.status_code == 503, lose
                assert response.json()["status"] == "rebuilding", response.json()
                assert "being rebuilt" in response.json()["detail"]
            assert answer.headers["retry-after"] == "5"

            # Nobody runs `python -m assistant index`: the app rebuilds it and answers again by itself.
            assert wait_until(lambda: ask(client).status_code == 200, 120, 0.5), lose
            assert client.get("/api/health").json()["status"] == "ready"
            assert counter.documents_embedded - embedded_before == entries  # rebuilt once, not per request
            assert make_client(settings).get_collection(settings.collection).count() == entries
    rebuilt = [r for r in caplog.records if "index rebuilt from the corpus" in r.getMessage()]
    assert len(rebuilt) == 2


def test_a_collection_of_another_corpus_version_is_never_rebuilt_over(
    chroma: ChromaServer, tmp_path: Path, embeddings: Embeddings, caplog: pytest.LogCaptureFixture
) -> None:
    """Hosts of the next monograph version built over this name: this older host says so, leaves it alone."""
    settings = server_settings(chroma, tmp_path / "data", "taken-over")
    bot = Assistant.from_settings(settings, embeddings=embeddings)
    caplog.set_level(logging.WARNING)
    with serving(build_app(settings, bot)) as url, httpx.Client(base_url=url, timeout=30) as client:
        assert ask(client).status_code == 200
        server = make_client(settings)
        meta = {**server.get_collection(settings.collection).metadata, "corpus_version": "next-version"}
        server.delete_collection(settings.collection)
        newer = server.create_collection(settings.collection, metadata=meta, embedding_function=None)
        newer.add(ids=["p1"], embeddings=[[0.1] * 384], documents=["a passage of the next version"])
        for _ in range(3):
            health, answer = client.get("/api/health"), ask(client)
            for response in (health, answer):
                assert response.status_code == 503
                assert response.json()["status"] == "needs_rebuild"
                assert "needs a rebuild" in response.json()["detail"]
                assert "try again" not in response.json()["detail"].lower()
            assert "retry-after" not in answer.headers
            time.sleep(0.5)
    kept = make_client(settings).get_collection(settings.collection)
    assert kept.metadata["corpus_version"] == "next-version" and kept.count() == 1
    assert any("ASSISTANT_COLLECTION" in r.getMessage() for r in caplog.records)
