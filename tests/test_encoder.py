"""The ONNX encoder (the default) against PyTorch: the same vectors, the same answers, exported once."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from langchain_core.embeddings import Embeddings

from assistant import Assistant, Settings, onnx_encoder
from assistant.corpus import load_corpus
from assistant.embedding import load_embeddings
from assistant.errors import ConfigError
from evals.cases import load_dataset
from evals.runner import DEFAULT_DATASET

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def torch_embeddings(tmp_path_factory: pytest.TempPathFactory) -> Embeddings:
    return load_embeddings(Settings(data_dir=tmp_path_factory.mktemp("torch"), encoder="torch"))


@pytest.fixture(scope="module")
def onnx_embeddings(tmp_path_factory: pytest.TempPathFactory) -> Embeddings:
    return load_embeddings(Settings(data_dir=tmp_path_factory.mktemp("onnx"), encoder="onnx"))


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
    first = load_embeddings(settings)
    files = list((tmp_path / "onnx").glob("*.onnx"))
    assert len(files) == 1 and files[0] == first.onnx_file

    def no_second_export(*_: object) -> None:
        raise AssertionError("exported again although the cached file exists")

    monkeypatch.setattr(onnx_encoder, "export", no_second_export)
    again = load_embeddings(settings)
    assert again.onnx_file == first.onnx_file
    assert again.embed_query("LFTs weekly") == first.embed_query("LFTs weekly")


def test_a_model_that_cannot_run_on_onnx_names_the_setting(tmp_path: Path) -> None:
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    with pytest.raises(ConfigError, match="ASSISTANT_ENCODER=torch"):
        load_embeddings(Settings(data_dir=tmp_path / "data", embedding_model=str(folder)))
