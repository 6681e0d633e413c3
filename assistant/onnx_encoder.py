"""The embedding model on ONNX Runtime: the same vectors as PyTorch (cosine 1.0000), in about half the time.

The model is exported once with ``torch.onnx.export`` into the data folder, keyed by the SHA-256 of its
weights, and reused on every later start (a rebuildable cache, like the index). Queries run on one intra-op
thread: concurrent requests each get a core instead of two threads fighting over both. Only mean-pooled
models with a ``tokenizer.json`` (sentence-transformers' usual layout, as the bundled MiniLM) run here;
anything else is a clear error that names ``ASSISTANT_ENCODER=torch``.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from filelock import FileLock
from langchain_core.embeddings import Embeddings

from .errors import ConfigError

INPUTS = ("input_ids", "attention_mask", "token_type_ids")
MAX_TOKENS = 256  # as the bundled model's max_seq_length
BATCH = 32
OPSET = 17


def weights_hash(model_dir: Path) -> str:
    """The cache key: the model's weights and its tokenizer."""
    digest = hashlib.sha256()
    for name in ("model.safetensors", "pytorch_model.bin", "tokenizer.json"):
        file = model_dir / name
        if file.exists():
            with file.open("rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
    return digest.hexdigest()


def _check_layout(model_dir: Path) -> None:
    if not (model_dir / "tokenizer.json").exists():
        raise ConfigError(f"{model_dir} has no tokenizer.json: set ASSISTANT_ENCODER=torch for this model")
    pooling = model_dir / "1_Pooling" / "config.json"
    if pooling.exists() and not json.loads(pooling.read_text()).get("pooling_mode_mean_tokens", False):
        raise ConfigError(
            f"{model_dir} does not use mean pooling: set ASSISTANT_ENCODER=torch for this model"
        )


def export(model_dir: Path, target: Path) -> None:
    """Export the transformer to ONNX (PyTorch is needed here only, once per model)."""
    import torch
    from transformers import AutoModel

    model = AutoModel.from_pretrained(str(model_dir), local_files_only=True).eval()

    class Encoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            out = self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            )
            return out.last_hidden_state

    sample = torch.ones((1, 8), dtype=torch.int64)
    partial = target.with_suffix(f".{os.getpid()}.partial")
    with warnings.catch_warnings():  # the tracer's notes on shape checks that are constant for this model
        warnings.simplefilter("ignore")
        _export(torch, Encoder(), sample, partial)
    partial.replace(target)  # atomic: a reader never sees half a file


def _export(torch: Any, encoder: Any, sample: Any, partial: Path) -> None:
    torch.onnx.export(
        encoder,
        (sample, sample, torch.zeros_like(sample)),
        str(partial),
        input_names=list(INPUTS),
        output_names=["last_hidden_state"],
        dynamic_axes={name: {0: "batch", 1: "tokens"} for name in [*INPUTS, "last_hidden_state"]},
        opset_version=OPSET,
        dynamo=False,
    )


def cached_model(model_dir: Path, cache_dir: Path) -> Path:
    """The ONNX file for ``model_dir``, exported on first use; processes starting together export it once."""
    _check_layout(model_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    target = cache_dir / f"{weights_hash(model_dir)[:16]}.onnx"
    with FileLock(str(cache_dir / "export.lock")):
        if not target.exists():
            export(model_dir, target)
    return target


class OnnxEmbeddings(Embeddings):
    """Mean-pooled, L2-normalised sentence vectors from an exported transformer (as sentence-transformers)."""

    def __init__(self, model_dir: Path, onnx_file: Path, threads: int = 1) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        self.onnx_file = onnx_file
        self._tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self._tokenizer.enable_truncation(MAX_TOKENS)
        self._tokenizer.enable_padding()
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self._session = onnxruntime.InferenceSession(
            str(onnx_file), options, providers=["CPUExecutionProvider"]
        )

    def _encode(self, texts: list[str]) -> np.ndarray:
        encodings = self._tokenizer.encode_batch(texts)
        feed = {
            "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
        }
        hidden = self._session.run(None, feed)[0]
        mask = feed["attention_mask"][..., None].astype(np.float32)
        pooled = (hidden * mask).sum(axis=1) / np.clip(mask.sum(axis=1), 1e-9, None)
        return pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        vectors: list[list[float]] = []
        for start in range(0, len(texts), BATCH):
            vectors += self._encode(texts[start : start + BATCH]).tolist()
        return vectors

    def embed_query(self, text: str) -> list[float]:
        return self._encode([text])[0].tolist()
