"""Run the evaluation: load the cases, ask each system every question, score, report, gate.

The assistant is driven only through its public API (``Assistant.from_settings`` and ``ask``), the way
a hospital's pharmacy team would drive it, so the suite measures what clinicians get; with ``--url``,
through a running deployment's ``POST /api/ask`` instead (``evals/remote.py``), scored the same way.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from tqdm import tqdm

from assistant.data import parse_yaml

from . import metrics
from .cases import DEFAULT_DATASET, Case, DatasetError, load_dataset
from .metrics import Observed
from .results import CaseResult, SystemRun

EVALS_DIR = Path(__file__).resolve().parent
DEFAULT_THRESHOLDS = EVALS_DIR / "thresholds.yaml"
DEFAULT_OUT = EVALS_DIR / "results" / "latest"
WARM_UP_QUESTION = "What is Besponsa?"


Ask = Callable[[str, list[dict[str, Any]] | None], Any]


def observe(answer: Any, latency_ms: float) -> tuple[Observed, tuple[str, ...]]:
    """Read what the metrics need from an ``Answer``: every quote shown, rule quotes included."""
    quotes = answer.shown_quotes()
    fired = tuple(dict.fromkeys(hit.rule_id for hit in answer.guardrail))
    sections = tuple(dict.fromkeys(q.section for q in answer.quotes))
    observed = Observed(
        text=answer.text,
        quotes=tuple(quotes),
        fired=fired,
        abstained=bool(answer.abstained),
        latency_ms=latency_ms,
        not_covered=tuple(getattr(answer, "not_covered", ()) or ()),
    )
    return observed, sections


def run_system(
    name: str,
    ask: Ask,
    cases: Sequence[Case],
    sources: dict[str, str],
    *,
    progress: bool = True,
    abort_on: tuple[type[Exception], ...] = (),
) -> SystemRun:
    """Ask every case once, timing each call; an exception fails the case instead of the run.

    ``abort_on``: exceptions that say the system cannot answer at all (a service unreachable), which stop
    the run instead: scoring every remaining case as a failure would hide the reason.
    """
    results = []
    for case in tqdm(cases, desc=f"{name:>9}", unit="case", disable=not progress, file=sys.stderr):
        started = time.perf_counter()
        try:
            answer = ask(case.question, case.history_dicts())
            observed, sections = observe(answer, (time.perf_counter() - started) * 1000)
        except abort_on:
            raise
        except Exception as exc:  # a crash is a failed case, reported with the others
            latency = (time.perf_counter() - started) * 1000
            observed = Observed("", (), (), False, latency, error=f"{type(exc).__name__}: {exc}")
            sections = ()
        score = metrics.score_case(case.expected(), observed, sources)
        results.append(CaseResult(case=case, observed=observed, score=score, sections=sections))
    summary = metrics.aggregate([r.score for r in results], [r.observed.latency_ms for r in results])
    return SystemRun(name=name, results=results, metrics=summary)


def load_thresholds(path: Path) -> dict[str, dict[str, float]]:
    """The gate: ``min`` and ``max`` maps of metric name -> bound. Unknown metric names are an error."""
    try:
        data = parse_yaml(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise SystemExit(f"cannot read thresholds {path}: {exc}") from exc
    unknown = [
        f"{kind}.{name}"
        for kind in ("min", "max")
        for name in (data.get(kind) or {})
        if name not in metrics.METRICS
    ]
    extra = set(data) - {"min", "max"}
    if unknown or extra:
        raise SystemExit(f"{path}: unknown entries {sorted(unknown) + sorted(extra)}")
    return {kind: {k: float(v) for k, v in (data.get(kind) or {}).items()} for kind in ("min", "max")}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m evals",
        description="Evaluate the Besponsa assistant (and a plain LangChain baseline) on a question set.",
    )
    parser.add_argument(
        "--dataset", type=Path, default=DEFAULT_DATASET, help="JSONL cases (default: %(default)s)"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="report folder (default: %(default)s)")
    parser.add_argument("--check", action="store_true", help="exit 1 when a metric misses thresholds.yaml")
    parser.add_argument(
        "--thresholds", type=Path, default=DEFAULT_THRESHOLDS, help="gate (default: %(default)s)"
    )
    parser.add_argument("--no-baseline", action="store_true", help="skip the plain LangChain baseline")
    parser.add_argument("--limit", type=int, default=None, help="only the first N cases (a quick look)")
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="runtime data folder for index and audit (default: the assistant's settings)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    remote = parser.add_argument_group(
        "a running service",
        "Ask a deployment through POST /api/ask instead of an in-process Assistant. Quotes are checked "
        "against the local corpus, which must be the version the service reports (else exit 2). The "
        "baseline runs in process and is not run. Exit 2 with one line when the service cannot answer.",
    )
    remote.add_argument("--url", help="base address of the service, e.g. http://127.0.0.1:7860")
    remote.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="HOST",
        help="let --url name this host although it is not loopback (repeatable; loopback only by default)",
    )
    remote.add_argument(
        "--timeout", type=float, default=30.0, help="seconds per request (default: %(default)s)"
    )
    remote.add_argument(
        "--deadline", type=float, default=900.0, help="seconds for the whole run (default: %(default)s)"
    )
    args = parser.parse_args(argv)
    if args.timeout <= 0 or args.deadline <= 0:
        parser.error("--timeout and --deadline must be positive")
    if args.url and args.data_dir:
        parser.error("--data-dir is for the in-process assistant; the service at --url has its own")
    return args


class CannotRun(Exception):
    """The run cannot start or go on (no assistant, corpus mismatch): one line, exit 2."""


@dataclass(frozen=True)
class Prepared:
    """The systems' runs, what the report says about the target, and how long each step took."""

    runs: list[SystemRun]
    corpus_version: str
    target: dict[str, Any] | None
    timings: dict[str, float]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m evals``; returns the exit code (0 ok, 1 gate failed, 2 bad input)."""
    from assistant.settings import apply_library_defaults

    from .remote import RemoteError, check_target

    args = parse_args(argv)
    apply_library_defaults()
    try:
        url = check_target(args.url, args.allow_host) if args.url else None
        cases = load_dataset(args.dataset)
    except (DatasetError, RemoteError) as exc:  # before any request or model load
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.limit is not None:
        cases = cases[: max(args.limit, 0)]
    thresholds = load_thresholds(args.thresholds)

    from . import report

    try:
        prepared = run_service(url, cases, args) if url else run_in_process(cases, args)
    except (CannotRun, RemoteError) as exc:  # fail closed, with the reason and without a traceback
        print(f"error: {exc}", file=sys.stderr)
        return 2
    runs = prepared.runs
    violations = metrics.gate(runs[0].metrics, thresholds)
    dataset_info = {
        "path": _display_path(args.dataset),
        "cases": len(cases),
        "sha256": hashlib.sha256(args.dataset.read_bytes()).hexdigest(),
    }
    data = report.build(
        runs,
        dataset=dataset_info,
        corpus_version=prepared.corpus_version,
        thresholds=thresholds,
        violations=violations,
        target=prepared.target,
    )
    written = report.write_all(data, runs, args.out)
    print(report.console_summary(data))
    print("timings: " + ", ".join(f"{k}={v:.1f}" for k, v in prepared.timings.items()))
    print("wrote " + ", ".join(_display_path(p) for p in written))
    if violations:
        print("threshold violations:\n  " + "\n  ".join(violations), file=sys.stderr)
        if args.check:
            return 1
    elif args.check:
        print("check: all metrics meet evals/thresholds.yaml")
    return 0


def run_in_process(cases: Sequence[Case], args: argparse.Namespace) -> Prepared:
    """The assistant (and the baseline) loaded here, asked through ``Assistant.ask``."""
    from assistant import Assistant, AssistantError
    from assistant.embedding import load_embeddings
    from assistant.settings import load_settings

    from .baseline import PlainBaseline

    try:
        settings = load_settings(data_dir=args.data_dir) if args.data_dir else load_settings()
    except AssistantError as exc:
        raise CannotRun(str(exc)) from None
    timings: dict[str, float] = {}
    started = time.perf_counter()
    try:
        embeddings = load_embeddings(settings)
        bot = Assistant.from_settings(settings, embeddings=embeddings)
    except AssistantError as exc:
        raise CannotRun(f"the assistant cannot start: {exc}") from None
    bot.ask(WARM_UP_QUESTION, channel="eval")
    timings["assistant_start_s"] = time.perf_counter() - started
    sources = {doc.id: doc.text for doc in bot.corpus.documents}
    progress = not args.no_progress

    started = time.perf_counter()
    runs = [
        run_system(
            "assistant", lambda q, h: bot.ask(q, history=h, channel="eval"), cases, sources, progress=progress
        )
    ]
    timings["assistant_run_s"] = time.perf_counter() - started
    if not args.no_baseline:
        started = time.perf_counter()
        baseline = PlainBaseline.build(bot.corpus, embeddings)
        baseline.ask(WARM_UP_QUESTION)
        timings["baseline_start_s"] = time.perf_counter() - started
        started = time.perf_counter()
        runs.append(
            run_system("baseline", lambda q, h: baseline.ask(q, history=h), cases, sources, progress=progress)
        )
        timings["baseline_run_s"] = time.perf_counter() - started
        baseline.close()
    return Prepared(runs=runs, corpus_version=bot.corpus.version, target=None, timings=timings)


def run_service(url: str, cases: Sequence[Case], args: argparse.Namespace) -> Prepared:
    """A running service asked through ``POST /api/ask``; its quotes checked against the local corpus.

    A service on another corpus version than the local one is refused before any question (CannotRun):
    fidelity measured against other texts would be wrong, and silently so.
    """
    from assistant import AssistantError
    from assistant.corpus import load_corpus
    from assistant.settings import load_settings

    from .remote import RemoteAnswerError, RemoteAssistant, RemoteError

    try:
        settings = load_settings()
        corpus = load_corpus(settings.corpus_dir)
    except AssistantError as exc:
        raise CannotRun(f"the local corpus cannot be read: {exc}") from None
    started_at = datetime.now(UTC)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    with RemoteAssistant(url, timeout_s=args.timeout, deadline_s=args.deadline) as service:
        served = service.health()["corpus_version"]
        if served != corpus.version:
            raise CannotRun(
                f"{url} serves corpus version {served[:12]} but the local corpus "
                f"({_display_path(settings.corpus_dir)}) is {corpus.version[:12]}: quotes cannot be checked "
                "against other texts; evaluate with the corpus the service was deployed with"
            )
        try:
            service.ask(WARM_UP_QUESTION)
        except RemoteAnswerError as exc:
            raise CannotRun(f"{url} could not answer the warm-up question: {exc}") from None
        timings["service_ready_s"] = time.perf_counter() - started
        sources = {doc.id: doc.text for doc in corpus.documents}
        started = time.perf_counter()
        run = run_system(
            "assistant", service.ask, cases, sources, progress=not args.no_progress, abort_on=(RemoteError,)
        )
        timings["assistant_run_s"] = time.perf_counter() - started
    target = {
        "url": url,
        "corpus_version": served,
        "started_at": started_at.isoformat(timespec="seconds"),
        "duration_s": round(sum(timings.values()), 1),
    }
    return Prepared(runs=[run], corpus_version=corpus.version, target=target, timings=timings)


def _display_path(path: Path) -> str:
    """Repository-relative when possible, so the committed report does not name a home folder."""
    try:
        return str(path.resolve().relative_to(EVALS_DIR.parent))
    except ValueError:
        return str(path)
