"""Benchmark: ``python -m evals.bench`` (also ``make bench``). Prints numbers; asserts nothing.

- cold start: first ``Assistant.from_settings`` on an empty data folder (model load + index build);
- warm start: the same with the index reused;
- one bare query embedding with the same model (the floor of any answer);
- ``ask`` p50/p95 after warm-up, caches off, against a bare PyTorch embedding (target p50 <= 0.75x);
- ``ask`` again with the query cache on, every question already seen (the cache's best case, apart);
- the guardrail's own time per question.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from assistant import Assistant, Settings
from assistant.data import parse_yaml
from assistant.embedding import load_embeddings, load_model
from assistant.settings import PROJECT_ROOT, apply_library_defaults

from .metrics import percentile

QUESTIONS_FILE = PROJECT_ROOT / "tests" / "data" / "dev_questions.yaml"


def _questions() -> list[str]:
    dev = parse_yaml(QUESTIONS_FILE.read_text(encoding="utf-8"))
    return (
        [c["q"] for c in dev["answerable"]]
        + list(dev["not_answerable"])
        + [
            "SOS confirmed, can we continue at a lower dose?",
            "ALT 3x ULN before cycle 2, give it today?",
            "chills during the infusion, stop?",
            "can we give a 4th cycle before transplant?",
        ]
    )


def _timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.bench", description=__doc__)
    parser.add_argument("--rounds", type=int, default=5, help="passes over the question set")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    apply_library_defaults()
    questions = _questions()

    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        # Caches off for every target; the cache's effect is measured apart, on the same questions.
        settings = Settings(data_dir=Path(tmp), cache_size=0)  # the default encoder: ONNX Runtime
        export_ms = _timed(lambda: load_model(settings))  # exports the model into the empty folder
        load_ms = _timed(lambda: load_model(settings))  # reuses the exported file
        torch_settings = settings.model_copy(update={"encoder": "torch"})
        torch_load_ms = _timed(lambda: load_model(torch_settings))
        embeddings = load_model(settings)
        torch_embeddings = load_model(torch_settings)
        cold_ms = _timed(lambda: Assistant.from_settings(settings, embeddings=embeddings))
        warm_ms = _timed(lambda: Assistant.from_settings(settings, embeddings=embeddings))
        warm_total_ms = _timed(lambda: Assistant.from_settings(settings))  # model load included
        bot = Assistant.from_settings(settings, embeddings=embeddings)
        cached = Assistant.from_settings(settings, embeddings=load_embeddings(Settings(data_dir=Path(tmp))))

        for q in questions:  # warm-up (and fills the cached bot's query cache)
            embeddings.embed_query(q)
            torch_embeddings.embed_query(q)
            bot.ask(q)
            cached.ask(q)
        embed: list[float] = []
        torch_embed: list[float] = []
        ask: list[float] = []
        ask_cached: list[float] = []
        # Rounds alternate, so a busy machine slows all alike; within a round each path runs as a block:
        # ONNX Runtime's threads spin for a moment after a run, and would slow a PyTorch call right after.
        for _ in range(args.rounds):
            torch_embed += [_timed(lambda q=q: torch_embeddings.embed_query(q)) for q in questions]
            embed += [_timed(lambda q=q: embeddings.embed_query(q)) for q in questions]
            ask += [_timed(lambda q=q: bot.ask(q)) for q in questions]
            ask_cached += [_timed(lambda q=q: cached.ask(q)) for q in questions]
        guard = [
            _timed(lambda q=q: bot.guardrail.check(q)) for _ in range(args.rounds * 10) for q in questions
        ]

    embed_p50, embed_p95 = percentile(embed, 50), percentile(embed, 95)
    torch_p50, torch_p95 = percentile(torch_embed, 50), percentile(torch_embed, 95)
    ask_p50, ask_p95 = percentile(ask, 50), percentile(ask, 95)
    cached_p50, cached_p95 = percentile(ask_cached, 50), percentile(ask_cached, 95)
    guard_mean_us, guard_p95_us = statistics.mean(guard) * 1000, percentile(guard, 95) * 1000
    rows = [
        ("questions", f"{len(questions)} x {args.rounds} rounds, {os.cpu_count()} CPU threads"),
        ("ONNX export (first start)", f"{export_ms:.1f} ms"),
        ("model load: ONNX, torch", f"{load_ms:.1f} ms, {torch_load_ms:.1f} ms"),
        ("cold start (build index)", f"{cold_ms:.1f} ms"),
        ("warm start (reuse index)", f"{warm_ms:.1f} ms; with the model load {warm_total_ms:.1f} ms"),
        ("bare embedding, PyTorch", f"p50 {torch_p50:.2f} ms, p95 {torch_p95:.2f} ms"),
        ("bare embedding, ONNX", f"p50 {embed_p50:.2f} ms, p95 {embed_p95:.2f} ms"),
        (
            "ask p50, caches off",
            f"{ask_p50:.2f} ms = {ask_p50 / torch_p50:.2f}x a PyTorch embedding (target <= 0.75x)",
        ),
        ("ask p95, caches off", f"{ask_p95:.2f} ms = {ask_p95 / torch_p50:.2f}x a PyTorch embedding"),
        (
            "ask p50 / p95, cache on",
            f"{cached_p50:.2f} ms / {cached_p95:.2f} ms (every question seen before)",
        ),
        ("guardrail check", f"mean {guard_mean_us:.1f} us, p95 {guard_p95_us:.1f} us"),
    ]
    for name, value in rows:
        print(f"{name:<26} {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
