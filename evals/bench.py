"""Benchmark: ``python -m evals.bench`` (also ``make bench``). Prints numbers; asserts nothing.

- cold start: first ``Assistant.from_settings`` on an empty data folder (model load + index build);
- warm start: the same with the index reused;
- one bare query embedding with the same model (the floor of any answer);
- ``ask`` p50/p95 after warm-up, and its ratio to the embedding time (targets: p50 <= 1.5x, p95 <= 3x);
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

import yaml

from assistant import Assistant, Settings
from assistant.embedding import load_embeddings
from assistant.settings import PROJECT_ROOT, apply_library_defaults

from .metrics import percentile

QUESTIONS_FILE = PROJECT_ROOT / "tests" / "data" / "dev_questions.yaml"


def _questions() -> list[str]:
    dev = yaml.safe_load(QUESTIONS_FILE.read_text(encoding="utf-8"))
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
        settings = Settings(data_dir=Path(tmp))  # the default encoder: ONNX Runtime
        export_ms = _timed(lambda: load_embeddings(settings))  # exports the model into the empty folder
        load_ms = _timed(lambda: load_embeddings(settings))  # reuses the exported file
        torch_load_ms = _timed(lambda: load_embeddings(settings.model_copy(update={"encoder": "torch"})))
        embeddings = load_embeddings(settings)
        torch_embeddings = load_embeddings(settings.model_copy(update={"encoder": "torch"}))
        cold_ms = _timed(lambda: Assistant.from_settings(settings, embeddings=embeddings))
        warm_ms = _timed(lambda: Assistant.from_settings(settings, embeddings=embeddings))
        warm_total_ms = _timed(lambda: Assistant.from_settings(settings))  # model load included
        bot = Assistant.from_settings(settings, embeddings=embeddings)

        for q in questions:  # warm-up
            embeddings.embed_query(q)
            torch_embeddings.embed_query(q)
            bot.ask(q)
        embed: list[float] = []
        torch_embed: list[float] = []
        ask: list[float] = []
        for _ in range(args.rounds):  # interleaved, so a busy machine slows all alike
            for q in questions:
                torch_embed.append(_timed(lambda q=q: torch_embeddings.embed_query(q)))
                embed.append(_timed(lambda q=q: embeddings.embed_query(q)))
                ask.append(_timed(lambda q=q: bot.ask(q)))
        guard = [
            _timed(lambda q=q: bot.guardrail.check(q)) for _ in range(args.rounds * 10) for q in questions
        ]

    embed_p50, embed_p95 = percentile(embed, 50), percentile(embed, 95)
    torch_p50, torch_p95 = percentile(torch_embed, 50), percentile(torch_embed, 95)
    ask_p50, ask_p95 = percentile(ask, 50), percentile(ask, 95)
    guard_mean_us, guard_p95_us = statistics.mean(guard) * 1000, percentile(guard, 95) * 1000
    rows = [
        ("questions", f"{len(questions)} x {args.rounds} rounds, {os.cpu_count()} CPU threads"),
        ("ONNX export (first start)", f"{export_ms:.1f} ms"),
        ("model load: ONNX, torch", f"{load_ms:.1f} ms, {torch_load_ms:.1f} ms"),
        ("cold start (build index)", f"{cold_ms:.1f} ms"),
        ("warm start (reuse index)", f"{warm_ms:.1f} ms; with the model load {warm_total_ms:.1f} ms"),
        ("bare embedding, PyTorch", f"p50 {torch_p50:.2f} ms, p95 {torch_p95:.2f} ms"),
        ("bare embedding, ONNX", f"p50 {embed_p50:.2f} ms, p95 {embed_p95:.2f} ms"),
        ("ask p50", f"{ask_p50:.2f} ms = {ask_p50 / torch_p50:.2f}x a PyTorch embedding (target <= 0.75x)"),
        ("ask p95", f"{ask_p95:.2f} ms = {ask_p95 / torch_p50:.2f}x a PyTorch embedding"),
        ("guardrail check", f"mean {guard_mean_us:.1f} us, p95 {guard_p95_us:.1f} us"),
    ]
    for name, value in rows:
        print(f"{name:<26} {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
