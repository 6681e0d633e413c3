"""``python -m evals --url``: a running app (``python app.py`` in a subprocess) scores exactly as the
in-process Assistant does, its report names the target, and every way the service can fail to answer
ends in one line and exit code 2."""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi import FastAPI

from assistant import Assistant, Settings
from assistant.web.api import AssistantSlot, api_router
from evals import report
from evals.cases import DEFAULT_DATASET, load_dataset
from evals.remote import RemoteError, check_target, history_for_api
from evals.runner import main, run_system
from tests.procs import AppProcess, child_env, free_port, serving

pytestmark = pytest.mark.server

ROOT = Path(__file__).resolve().parent.parent
LIMIT = 30
TOO_LONG = "x" * 2500  # over the 2000-character limit: refused in process, and with 422 by the API


@dataclass(frozen=True)
class Service:
    app: AppProcess
    audit: Path

    @property
    def url(self) -> str:
        return self.app.url

    def answers_recorded(self) -> int:
        """Rows in the service's audit trail: one per question it answered."""
        with sqlite3.connect(self.audit) as db:
            return db.execute("SELECT COUNT(*) FROM answers").fetchone()[0]


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """The real web app on a free loopback port with its own data folder, started once for the module."""
    folder = tmp_path_factory.mktemp("service")
    app = AppProcess(folder, folder, data_dir=folder / "data", collection="evals-remote")
    try:
        app.wait_ready(timeout=150)
        yield Service(app, folder / "data" / "audit.sqlite3")
    finally:
        app.stop()


def _subset(path: Path) -> None:
    """Every follow-up (the only cases with history, one in Gradio content blocks), the first two cases of
    each other category and one question over the length limit: LIMIT lines, then three the limit skips."""
    lines = [line for line in DEFAULT_DATASET.read_text(encoding="utf-8").splitlines() if line.strip()]
    picked: list[str] = []
    per_category: dict[str, int] = {}
    for line in lines:
        case = json.loads(line)
        seen = per_category.get(case["category"], 0)
        if case.get("history") or seen < 2:
            picked.append(line)
            per_category[case["category"]] = seen + 1
    too_long = {"id": "too-long", "category": "limits", "question": TOO_LONG, "answerable": False}
    picked.append(json.dumps({**too_long, "evidence": [], "must_include": [], "guardrail": []}))
    assert len(picked) == LIMIT
    skipped = [line for line in lines if line not in picked][:3]
    path.write_text("\n".join(picked + skipped) + "\n", encoding="utf-8")


def _without_latency(metrics: dict[str, float | None]) -> dict[str, float | None]:
    return {k: v for k, v in metrics.items() if not k.startswith("latency_")}


def test_service_scores_like_the_in_process_assistant(
    service: Service, assistant: Assistant, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dataset, out = tmp_path / "subset.jsonl", tmp_path / "out"
    _subset(dataset)
    recorded = service.answers_recorded()
    before = datetime.now(UTC).replace(microsecond=0)

    args = ["--url", service.url, "--dataset", str(dataset), "--limit", str(LIMIT), "--no-progress"]
    assert main([*args, "--out", str(out)]) == 0
    remote = json.loads((out / "report.json").read_text(encoding="utf-8"))

    cases = load_dataset(dataset)[:LIMIT]
    assert any(isinstance(m.content, list) for c in cases for m in c.history or [])  # Gradio blocks too
    sources = {doc.id: doc.text for doc in assistant.corpus.documents}
    run = run_system(
        "assistant", lambda q, h: assistant.ask(q, history=h, channel="eval"), cases, sources, progress=False
    )
    local = report.build(
        [run],
        dataset=remote["dataset"],
        corpus_version=assistant.corpus.version,
        thresholds={},
        violations=[],
    )

    # The same numbers, and the same verdict on every case (latency aside: HTTP costs time).
    assert _without_latency(remote["metrics"]["assistant"]) == _without_latency(local["metrics"]["assistant"])
    assert remote["metrics"]["assistant"]["evidence_recall"] > 0.9  # a real run, not an empty one
    assert [row["id"] for row in remote["cases"]] == [row["id"] for row in local["cases"]]
    for got, expected in zip(remote["cases"], local["cases"], strict=True):
        got_error, expected_error = (
            got["assistant"].pop("error", None),
            expected["assistant"].pop("error", None),
        )
        assert got["assistant"] == expected["assistant"], got["id"]
        assert (got_error is None) is (expected_error is None), (got["id"], got_error, expected_error)
    too_long = next(row for row in remote["cases"] if row["id"] == "too-long")["assistant"]
    assert too_long["failed"] == ["error", "abstention"]  # 422 from the API, InvalidQuestion in process

    # --limit bounds what is sent: the warm-up and LIMIT questions, nothing more. The service audits each
    # answer it gives; the over-long question got a 422 and no answer.
    assert remote["dataset"]["cases"] == LIMIT
    assert service.answers_recorded() - recorded == 1 + (LIMIT - 1)

    # The report names what was evaluated, from what the service itself reported, and when.
    target = remote["target"]
    assert target["url"] == service.url
    assert target["corpus_version"] == assistant.corpus.version == remote["corpus_version"]
    started = datetime.fromisoformat(target["started_at"])
    assert before <= started <= datetime.now(UTC)
    md = (out / "report.md").read_text(encoding="utf-8")
    assert f"Target: `{service.url}`" in md and assistant.corpus.version[:12] in md
    assert capsys.readouterr().out.startswith(f"target: {service.url} ")


def test_a_service_on_another_corpus_version_is_refused_before_any_question(
    service: Service,
    corpus_copy: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Quote fidelity is checked against the local texts, so they must be the texts the service serves."""
    text_file, meta_file = (
        corpus_copy / "besponsa-precautions.txt",
        corpus_copy / "besponsa-precautions.meta.yaml",
    )
    text_file.write_bytes(text_file.read_bytes() + b"\nA local edit.\n")
    served = hashlib.sha256((ROOT / "corpus" / text_file.name).read_bytes()).hexdigest()
    local = hashlib.sha256(text_file.read_bytes()).hexdigest()
    meta_file.write_text(meta_file.read_text(encoding="utf-8").replace(served, local), encoding="utf-8")
    monkeypatch.setenv("ASSISTANT_CORPUS_DIR", str(corpus_copy))
    recorded = service.answers_recorded()

    assert main(["--url", service.url, "--limit", "3", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert f"serves corpus version {served[:12]} but the local corpus" in err[0]
    assert f"is {local[:12]}" in err[0]
    assert service.answers_recorded() == recorded  # not one question asked
    assert not (tmp_path / "out").exists()


def test_the_overall_deadline_stops_the_run(service: Service, tmp_path: Path, capsys) -> None:
    recorded = service.answers_recorded()
    args = ["--url", service.url, "--deadline", "0.5", "--no-progress"]
    assert main([*args, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "the overall deadline of 0.5 s (--deadline) passed after" in err[0]
    assert service.answers_recorded() - recorded < len(load_dataset(DEFAULT_DATASET))
    assert not (tmp_path / "out").exists()


# --- refused before any request, and services that cannot answer ---------------------------------------


def _evals_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """``python -m evals ARGS`` as an operator runs it: exit code and stderr as they see them."""
    return subprocess.run(
        [sys.executable, "-m", "evals", "--no-progress", *args],
        cwd=ROOT,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.parametrize(
    "url", ["http://10.0.0.5:7860", "https://intranet.example.org", "http://127.0.0.1.nip.io:7860"]
)
def test_a_host_that_is_not_loopback_is_refused_without_allow_host(url: str, tmp_path: Path, capsys) -> None:
    assert main(["--url", url, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: refusing {url}: ") and "--allow-host" in err[0]
    assert not (tmp_path / "out").exists()


def test_allow_host_lets_that_host_only() -> None:
    """Checked without sending anything: naming the host allows it, and it allows no other."""
    assert check_target("http://10.0.0.5:7860/", ["10.0.0.5"]) == "http://10.0.0.5:7860"
    assert check_target("http://[::1]:7860", []) == "http://[::1]:7860"
    with pytest.raises(RemoteError, match=re.escape("refusing http://10.0.0.6:7860")):
        check_target("http://10.0.0.6:7860", ["10.0.0.5"])
    with pytest.raises(RemoteError, match="not an http"):
        check_target("file:///etc/passwd", ["localhost"])


def test_an_unreachable_loopback_port_is_one_line_and_exit_2(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    done = _evals_cli("--url", url, "--out", str(tmp_path / "out"))
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [
        f"error: cannot connect to {url}: [Errno 111] Connection refused"
    ], done.stderr
    assert done.stdout == ""
    assert not (tmp_path / "out").exists()


def test_a_service_still_loading_answers_503_and_the_run_stops(tmp_path: Path) -> None:
    """The real API router with an Assistant that has not loaded yet: /api/health says 503."""
    app = FastAPI()
    app.include_router(api_router(AssistantSlot(), Settings(data_dir=tmp_path / "data")))
    with serving(app) as url:
        done = _evals_cli("--url", url, "--out", str(tmp_path / "out"))
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"error: {url}/api/health answered HTTP 503: The assistant is still starting. "
        "Please try again in a moment."
    ]


def test_a_service_slower_than_the_timeout_is_one_line_and_exit_2(tmp_path: Path) -> None:
    app = FastAPI()

    @app.get("/api/health")
    def slow_health() -> dict[str, str]:
        time.sleep(2)
        return {"status": "ready", "corpus_version": "never seen"}

    with serving(app) as url:
        started = time.monotonic()
        done = _evals_cli("--url", url, "--timeout", "0.5", "--out", str(tmp_path / "out"))
        assert time.monotonic() - started < 30
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"error: {url}/api/health: no answer within 0.5 s (--timeout)"
    ]


def test_history_content_blocks_become_the_text_the_assistant_reads() -> None:
    history = [
        {"role": "user", "content": [{"type": "text", "text": "Can Besponsa cause neutropenia?"}]},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Myelosuppression: ..."},
                {"type": "file", "file": {"path": "x.png"}},  # carries no text
                {"type": "text", "text": "  Check blood counts.  "},
            ],
        },
        {"role": "user", "content": "And how often?"},
    ]
    assert history_for_api(history) == [
        {"role": "user", "content": "Can Besponsa cause neutropenia?"},
        {"role": "assistant", "content": "Myelosuppression: ...\n  Check blood counts."},
        {"role": "user", "content": "And how often?"},
    ]
    assert history_for_api(None) == []
