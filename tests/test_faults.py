"""Faults at start-up: a damaged index heals itself, a bad corpus or rules file stops the program.

The index is a cache of the corpus, so a damaged or missing index folder is rebuilt when the Assistant
(or the web app) starts. The corpus and the guardrail rules are not: a problem there stops start-up with
one clear message and no traceback, because serving unchecked text is worse than not serving.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from langchain_core.embeddings import Embeddings

from assistant import Assistant, Settings
from assistant.corpus import load_corpus
from assistant.index import VectorIndex
from assistant.web import build_app
from tests.conftest import CountingEmbeddings
from tests.procs import AppProcess, run_cli, serving, wait_until

LFT_QUESTION = "How often are LFTs checked?"
LFT_SENTENCE = "Monitor liver function weekly"
MONOGRAPH = "besponsa-precautions.txt"


def close_clients() -> None:
    """Forget this process's open Chroma clients, as a restarted process would not have them."""
    from chromadb.api.shared_system_client import SharedSystemClient

    SharedSystemClient.clear_system_cache()


def _files(folder: Path) -> list[Path]:
    return [path for path in folder.rglob("*") if path.is_file()]


def truncate_all(chroma: Path) -> None:
    for path in _files(chroma):
        path.write_bytes(b"")


def overwrite_with_garbage(chroma: Path) -> None:
    for path in _files(chroma):
        path.write_bytes(os.urandom(4096))


def cut_database_in_half(chroma: Path) -> None:
    database = chroma / "chroma.sqlite3"
    database.write_bytes(database.read_bytes()[: database.stat().st_size // 2])


def delete_folder(chroma: Path) -> None:
    shutil.rmtree(chroma)


def truncate_vector_files(chroma: Path) -> None:
    for path in _files(chroma):
        if path.suffix == ".bin":
            path.write_bytes(b"")


COLLECTION = "faults"


@pytest.fixture(scope="module")
def built_data(tmp_path_factory: pytest.TempPathFactory, embeddings: Embeddings) -> Path:
    """A data folder with a complete index of the shipped corpus, built once for this module."""
    data = tmp_path_factory.mktemp("built")
    settings = Settings(data_dir=data, collection=COLLECTION)
    VectorIndex.open(settings, load_corpus(settings.corpus_dir), embeddings)
    close_clients()
    return data


def copy_of(built_data: Path, tmp_path: Path, **settings: object) -> Settings:
    """This test's own data folder: a copy of the built one (a restart would find it so on disk)."""
    shutil.copytree(built_data, tmp_path / "data")
    return Settings(data_dir=tmp_path / "data", collection=COLLECTION, **settings)


@pytest.mark.model
@pytest.mark.parametrize(
    ("damage", "rebuilt"),
    [
        (overwrite_with_garbage, True),
        (cut_database_in_half, True),
        (delete_folder, True),
        # Chroma replays the vectors from its own log when only its HNSW files are damaged: no rebuild
        # is needed, and the answers must still be right.
        (truncate_vector_files, False),
    ],
)
def test_damaged_index_heals_when_the_assistant_starts(
    tmp_path: Path, built_data: Path, embeddings: Embeddings, damage: Callable[[Path], None], rebuilt: bool
) -> None:
    settings = copy_of(built_data, tmp_path)
    damage(settings.chroma_dir)
    counter = CountingEmbeddings(embeddings)

    bot = Assistant.from_settings(settings, embeddings=counter)

    assert bot.index.rebuilt is rebuilt
    assert counter.documents_embedded == (bot.index.collection.count() if rebuilt else 0)
    answer = bot.ask(LFT_QUESTION)
    assert not answer.abstained
    assert any(LFT_SENTENCE in q.text for q in answer.quotes)
    close_clients()


@pytest.mark.server
def test_truncated_index_is_rebuilt_when_the_app_starts(tmp_path: Path, built_data: Path) -> None:
    settings = copy_of(built_data, tmp_path)
    truncate_all(settings.chroma_dir)

    with serving(build_app(settings)) as url, httpx.Client(base_url=url, timeout=30) as client:
        assert wait_until(lambda: client.get("/api/health").status_code == 200, 90)
        response = client.post("/api/ask", json={"question": LFT_QUESTION})
    assert response.status_code == 200
    assert any(LFT_SENTENCE in q["text"] for q in response.json()["quotes"])
    close_clients()


# ------------------------------------------------------------------------------------ bad start-up files
def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path.name}: update this test"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def rules_not_yaml(corpus: Path) -> None:
    with (corpus / "rules.yaml").open("a", encoding="utf-8") as rules:
        rules.write("\n  - id: [unclosed\n")


def rules_unknown_action(corpus: Path) -> None:
    _replace(corpus / "rules.yaml", "action: discontinue", "action: ignore")


def rules_quote_not_in_monograph(corpus: Path) -> None:
    _replace(corpus / "rules.yaml", "Discontinue the drug immediately if", "Discontinue the drug at once if")


def rules_missing(corpus: Path) -> None:
    (corpus / "rules.yaml").unlink()


def monograph_changed_silently(corpus: Path) -> None:
    with (corpus / MONOGRAPH).open("a", encoding="utf-8") as text:
        text.write("The usual dose is 10 mg.\n")


def no_monograph(corpus: Path) -> None:
    (corpus / MONOGRAPH).unlink()


def synonyms_not_yaml(corpus: Path) -> None:
    with (corpus / "synonyms.yaml").open("a", encoding="utf-8") as synonyms:
        synonyms.write("\n  - [oops\n")


BAD_START = [
    (rules_not_yaml, "rules.yaml is not valid YAML"),
    (rules_unknown_action, "unknown action 'ignore'"),
    (rules_quote_not_in_monograph, "not verbatim in the corpus"),
    (rules_missing, "cannot read rules file"),
    (monograph_changed_silently, f"{MONOGRAPH} changed"),
    (no_monograph, "no monograph"),
    (synonyms_not_yaml, "cannot read"),
]


@pytest.mark.process
@pytest.mark.parametrize(("break_it", "message"), BAD_START)
def test_bad_corpus_or_rules_stop_the_cli_with_a_clear_error(
    tmp_path: Path, corpus_copy: Path, break_it: Callable[[Path], None], message: str
) -> None:
    break_it(corpus_copy)
    data = tmp_path / "data"

    result = run_cli(["ask", LFT_QUESTION], cwd=tmp_path, corpus_dir=corpus_copy, data_dir=data)

    assert result.returncode != 0
    assert result.stdout == ""  # no answer at all, not a partial one
    assert "Traceback" not in result.stderr
    # The first line names the problem. (A YAML syntax error adds the parser's line/column below it.)
    first_line = result.stderr.strip().splitlines()[0]
    assert first_line.startswith("error: ") and message in first_line
    assert not (data / "chroma").exists()  # stopped before building anything


@pytest.mark.server
@pytest.mark.parametrize("workers", [1, 2])
def test_bad_rules_stop_the_web_app(tmp_path: Path, corpus_copy: Path, workers: int) -> None:
    rules_quote_not_in_monograph(corpus_copy)
    app = AppProcess(tmp_path, tmp_path, workers=workers, corpus_dir=corpus_copy, data_dir=tmp_path / "data")
    try:
        app.proc.wait(timeout=60)  # it must exit by itself, not keep restarting workers
    finally:
        app.stop()
    assert app.proc.returncode != 0
    assert "Traceback" not in app.logs()
    (line,) = [line for line in app.stderr.read_text().splitlines() if "cannot start" in line]
    assert line.startswith("cannot start: ") and "rules.yaml" in line and "not verbatim" in line


# ------------------------------------------------------------------------------------ corpus change
@pytest.mark.model
def test_changed_corpus_is_rebuilt_at_start_and_answers_carry_the_new_version(
    tmp_path: Path, built_data: Path, corpus_copy: Path, embeddings: Embeddings
) -> None:
    settings = copy_of(built_data, tmp_path, corpus_dir=corpus_copy)
    old = Assistant.from_settings(settings, embeddings=CountingEmbeddings(embeddings))
    assert not old.index.rebuilt  # same corpus as the built folder
    close_clients()

    # A revised monograph (test copy only): one sentence gains words, the provenance hash is updated.
    _replace(corpus_copy / MONOGRAPH, LFT_SENTENCE, f"{LFT_SENTENCE} (revised wording)")
    text = corpus_copy / MONOGRAPH
    new_hash = hashlib.sha256(text.read_bytes()).hexdigest()
    meta = corpus_copy / "besponsa-precautions.meta.yaml"
    meta.write_text(re.sub(r"(?m)^sha256: .*$", f"sha256: {new_hash}", meta.read_text()))
    counter = CountingEmbeddings(embeddings)

    new = Assistant.from_settings(settings, embeddings=counter)

    assert new.index.rebuilt and counter.documents_embedded == new.index.collection.count()
    assert new.corpus.version == new_hash != old.corpus.version
    answer = new.ask(LFT_QUESTION)
    assert answer.corpus_version == new_hash
    assert any("(revised wording)" in q.text for q in answer.quotes)
    source = new.corpus.documents[0].text
    assert all(source[q.start : q.end] == q.text for q in answer.quotes)  # offsets into the new text
    close_clients()
