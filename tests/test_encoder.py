"""The ONNX encoder (the default) against PyTorch: the same vectors, the same answers, exported once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from langchain_core.embeddings import Embeddings

from assistant import Assistant, Settings, onnx_encoder
from assistant.corpus import load_corpus
from assistant.embedding import CachedEmbeddings, load_embeddings, load_model
from assistant.errors import ConfigError
from evals.cases import load_dataset
from evals.runner import DEFAULT_DATASET

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def torch_embeddings(tmp_path_factory: pytest.TempPathFactory) -> Embeddings:
    return load_model(Settings(data_dir=tmp_path_factory.mktemp("torch"), encoder="torch"))


@pytest.fixture(scope="module")
def onnx_embeddings(tmp_path_factory: pytest.TempPathFactory) -> Embeddings:
    return load_model(Settings(data_dir=tmp_path_factory.mktemp("onnx"), encoder_batching=False))


def test_onnx_and_torch_vectors_agree(onnx_embeddings: Embeddings, torch_embeddings: Embeddings) -> None:
    assert isinstance(onnx_embeddings, onnx_encoder.OnnxEmbeddings)
    questions = [case.question for case in load_dataset(DEFAULT_DATASET)]
    passages = [p.text for p in load_corpus(Settings().corpus_dir).passages]
    for texts in (questions, passages):  # queries one by one, passages in padded batches
        onnx = np.array(
            [onnx_embeddings.embed_query(t) for t in texts]
            if texts is questions
            else onnx_embeddings.embed_documents(texts)
        )
        torch = np.array(torch_embeddings.embed_documents(texts))
        cosines = (onnx * torch).sum(axis=1)
        assert cosines.min() >= 0.9999, texts[int(cosines.argmin())]
        assert np.allclose(np.linalg.norm(onnx, axis=1), 1.0, atol=1e-5)


def test_the_eval_gives_the_same_answers_on_both_encoders(
    tmp_path: Path, onnx_embeddings: Embeddings, torch_embeddings: Embeddings
) -> None:
    bots = [
        Assistant.from_settings(Settings(data_dir=tmp_path / name), embeddings=embeddings)
        for name, embeddings in (("onnx", onnx_embeddings), ("torch", torch_embeddings))
    ]
    for case in load_dataset(DEFAULT_DATASET):
        onnx, torch = (bot.ask(case.question, history=case.history_dicts(), channel="eval") for bot in bots)
        assert onnx.abstained == torch.abstained, case.id
        assert [h.rule_id for h in onnx.guardrail] == [h.rule_id for h in torch.guardrail], case.id
        assert [(q.start, q.end) for q in onnx.quotes] == [(q.start, q.end) for q in torch.quotes], case.id
        assert onnx.not_covered == torch.not_covered, case.id


def test_the_export_is_cached_by_model_hash_and_reused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(data_dir=tmp_path)
    first = load_model(settings)
    files = list((tmp_path / "onnx").glob("*.onnx"))
    assert len(files) == 1 and files[0] == first.onnx_file

    def no_second_export(*_: object) -> None:
        raise AssertionError("exported again although the cached file exists")

    monkeypatch.setattr(onnx_encoder, "export", no_second_export)
    again = load_model(settings)
    assert again.onnx_file == first.onnx_file
    assert again.embed_query("LFTs weekly") == first.embed_query("LFTs weekly")


def test_a_model_that_cannot_run_on_onnx_names_the_setting(tmp_path: Path) -> None:
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    with pytest.raises(ConfigError, match="ASSISTANT_ENCODER=torch"):
        load_embeddings(Settings(data_dir=tmp_path / "data", embedding_model=str(folder)))


def _questions() -> list[str]:
    return [case.question for case in load_dataset(DEFAULT_DATASET)]


def test_concurrent_queries_get_their_own_vectors(onnx_embeddings: Embeddings) -> None:
    """Many threads at once on one session: each gets the vector of its question."""
    questions = _questions()[:48]
    expected = [onnx_embeddings.embed_query(q) for q in questions]
    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(onnx_embeddings.embed_query, questions))
    assert got == expected


def test_micro_batching_gives_the_same_vectors_concurrently(onnx_embeddings: Embeddings) -> None:
    batching = onnx_encoder.BatchingEmbeddings(onnx_embeddings)
    questions = _questions()[:48]
    expected = np.array([onnx_embeddings.embed_query(q) for q in questions])
    with ThreadPoolExecutor(8) as pool:  # queries of different lengths padded into one batch
        got = np.array(list(pool.map(batching.embed_query, questions)))
    assert (got * expected).sum(axis=1).min() >= 0.9999


def test_micro_batching_passes_an_error_to_every_waiting_caller(onnx_embeddings: Embeddings) -> None:
    batching = onnx_encoder.BatchingEmbeddings(onnx_embeddings)
    with pytest.raises(TypeError):
        batching.embed_query(None)  # type: ignore[arg-type]
    assert len(batching.embed_query("LFTs weekly")) == 384  # the encoder thread lives on


def test_the_cache_returns_the_models_vector_and_counts_hits(onnx_embeddings: Embeddings) -> None:
    cached = CachedEmbeddings(onnx_embeddings, size=2)
    first = cached.embed_query("SOS risk factors")
    first.append(0.0)  # a caller changing its list does not change the cached vector
    assert cached.embed_query("SOS risk factors") == onnx_embeddings.embed_query("SOS risk factors")
    for question in ("a", "b", "c"):
        cached.embed_query(question)
    info = cached.cache_info()
    assert (info.hits, info.misses, info.currsize, info.maxsize) == (1, 4, 2, 2)


@pytest.mark.parametrize(
    ("size", "batching", "kind"),
    [
        (0, False, onnx_encoder.OnnxEmbeddings),
        (0, True, onnx_encoder.BatchingEmbeddings),
        (16, False, CachedEmbeddings),
    ],
)
def test_settings_choose_the_encoder_and_cache(tmp_path: Path, size: int, batching: bool, kind: type) -> None:
    settings = Settings(data_dir=tmp_path, cache_size=size, encoder_batching=batching)
    assert type(load_embeddings(settings)) is kind


@pytest.mark.parametrize(
    ("cores", "workers", "threads", "batching", "expected"),
    [
        (2, 1, 0, None, (2, True)),  # one process owns both cores: one encoder thread batches on both
        (2, 2, 0, None, (1, False)),  # two workers: one core each, one encode per request
        (8, 3, 0, None, (2, True)),
        (1, 4, 0, None, (1, False)),
        (2, 1, 1, None, (1, False)),  # set explicitly
        (2, 1, 0, False, (2, False)),
    ],
)
def test_threads_are_the_cores_shared_among_workers(
    monkeypatch: pytest.MonkeyPatch,
    cores: int,
    workers: int,
    threads: int,
    batching: bool | None,
    expected: tuple[int, bool],
) -> None:
    monkeypatch.setattr("os.cpu_count", lambda: cores)
    settings = Settings(workers=workers, encoder_threads=threads, encoder_batching=batching)
    assert (settings.threads_per_encode, settings.batches_queries) == expected


def test_a_cached_answer_still_writes_its_audit_row(tmp_path: Path, onnx_embeddings: Embeddings) -> None:
    cached = CachedEmbeddings(onnx_embeddings, size=8)
    bot = Assistant.from_settings(Settings(data_dir=tmp_path), embeddings=cached)
    answers = [bot.ask("How often are LFTs checked?", channel="eval") for _ in range(3)]
    assert cached.cache_info().hits == 2
    ids = {a.id for a in answers}
    assert len(ids) == 3
    assert ids <= {row["answer_id"] for row in bot.audit.rows()}
