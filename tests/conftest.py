"""Shared fixtures: the real embedding model (loaded once per session) and tmp data folders."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from langchain_core.embeddings import Embeddings

from assistant import Assistant, Settings
from assistant.embedding import load_embeddings
from assistant.settings import PROJECT_ROOT, apply_library_defaults
from evals.postgres import TempPostgres
from tests.fakes import HashingEmbeddings

# The suite is an entry point: before test modules import gradio or load the model.
apply_library_defaults()

CORPUS_DIR = PROJECT_ROOT / "corpus"
# The fast tier leaves out what needs a browser, a server, a child process or the real model's meaning.
NOT_IN_FAST_TIER = ("browser", "server", "process", "model")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--fast",
        action="store_true",
        help="unit tier (make test-fast): a deterministic fake embedder; leaves out tests marked "
        + ", ".join(NOT_IN_FAST_TIER),
    )
    parser.addoption("--screenshots", action="store_true", help="write the README's screenshots to docs/")


README_SHOTS = PROJECT_ROOT / "docs"


@pytest.fixture(scope="session")
def readme_shots(request: pytest.FixtureRequest) -> Path | None:
    """Where the README's screenshots go (``make screenshots``); None: leave the committed ones alone."""
    return README_SHOTS if request.config.getoption("--screenshots") else None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not config.getoption("--fast"):
        return
    kept, left_out = [], []
    for item in items:
        (left_out if any(item.get_closest_marker(m) for m in NOT_IN_FAST_TIER) else kept).append(item)
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = kept


class CountingEmbeddings(Embeddings):
    """The real model, counting how many texts it embeds (to prove index reuse)."""

    def __init__(self, inner: Embeddings) -> None:
        self.inner = inner
        self.documents_embedded = 0
        self.queries_embedded = 0

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.documents_embedded += len(texts)
        return self.inner.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        self.queries_embedded += 1
        return self.inner.embed_query(text)


@pytest.fixture(scope="session")
def embeddings(request: pytest.FixtureRequest) -> Embeddings:
    """The bundled all-MiniLM-L6-v2, for real; in the fast tier a deterministic fake (tests/fakes.py)."""
    if request.config.getoption("--fast"):
        return HashingEmbeddings()
    return load_embeddings(Settings())


@pytest.fixture
def counting(embeddings: Embeddings) -> CountingEmbeddings:
    return CountingEmbeddings(embeddings)


@pytest.fixture
def corpus_copy(tmp_path: Path) -> Path:
    """A private copy of corpus/ that a test may change."""
    target = tmp_path / "corpus"
    shutil.copytree(CORPUS_DIR, target)
    return target


@pytest.fixture(scope="session")
def session_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(data_dir=tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="session")
def assistant(session_settings: Settings, embeddings: Embeddings) -> Assistant:
    """One real assistant (real model, real embedded Chroma in a tmp folder) shared by read-only tests."""
    return Assistant.from_settings(session_settings, embeddings=embeddings)


@pytest.fixture(scope="session")
def postgres() -> Iterator[TempPostgres]:
    """One real PostgreSQL server for the session, in a temporary folder (evals/postgres.py); tests that use
    it are marked ``server``. Each test takes a database of its own (``pg_url``)."""
    server = TempPostgres(durable=False).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def pg_url(postgres: TempPostgres) -> str:
    """The URL of a new, empty database on the session's PostgreSQL server."""
    return postgres.create_database(f"test_{uuid.uuid4().hex[:16]}")
