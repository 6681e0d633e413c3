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
import queue
import threading
import warnings
from concurrent.futures import Future
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


def _session(onnx_file: Path, threads: int) -> Any:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(str(onnx_file), options, providers=["CPUExecutionProvider"])


class OnnxEmbeddings(Embeddings):
    """Mean-pooled, L2-normalised sentence vectors from an exported transformer (as sentence-transformers).

    ``threads``: ONNX Runtime's intra-op threads for one encode (``Settings.encoder_threads``).
    """

    def __init__(self, model_dir: Path, onnx_file: Path, threads: int = 1) -> None:
        from tokenizers import Tokenizer

        self.model_dir = model_dir
        self.onnx_file = onnx_file
        self.threads = threads
        self._tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self._tokenizer.enable_truncation(MAX_TOKENS)
        self._tokenizer.enable_padding()
        self._session = _session(onnx_file, threads)

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


class BatchingEmbeddings(Embeddings):
    """One encoder thread that takes every query waiting at that moment and encodes them as one batch.

    For a process that has the machine's cores to itself (one worker): requests queue up while a batch runs
    on all of its intra-op threads, and the next batch takes whatever arrived meanwhile. Several threads
    encoding at once would fight over the same cores instead.
    """

    def __init__(self, encoder: OnnxEmbeddings, max_batch: int = BATCH) -> None:
        self.encoder = encoder
        self.onnx_file = encoder.onnx_file
        self.max_batch = max_batch
        self._waiting: queue.SimpleQueue[tuple[str, Future[list[float]]]] = queue.SimpleQueue()
        self._started = threading.Lock()
        self._worker: threading.Thread | None = None

    def _ensure_worker(self) -> None:
        with self._started:
            if self._worker is None:
                self._worker = threading.Thread(target=self._serve, name="onnx-batcher", daemon=True)
                self._worker.start()

    def _serve(self) -> None:
        while True:
            batch = [self._waiting.get()]
            while len(batch) < self.max_batch:
                try:
                    batch.append(self._waiting.get_nowait())
                except queue.Empty:
                    break
            try:
                vectors = self.encoder._encode([text for text, _ in batch]).tolist()
            except Exception as exc:  # every waiting request gets the error, and the thread lives on
                for _, future in batch:
                    future.set_exception(exc)
                continue
            for (_, future), vector in zip(batch, vectors, strict=True):
                future.set_result(vector)

    def embed_query(self, text: str) -> list[float]:
        self._ensure_worker()
        future: Future[list[float]] = Future()
        self._waiting.put((text, future))
        return future.result()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encoder.embed_documents(texts)
