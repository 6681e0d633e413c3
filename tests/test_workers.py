"""Several processes on one embedded data folder: one builds the index, the others reuse it, all answer.

Chroma's embedded store is not made for several writing processes, so ``VectorIndex.open`` takes a file
lock in the data folder: the first process builds while the others wait, then they open the finished
index read-only. These tests start real processes at the same moment on an empty folder.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.procs import AppProcess, child_env, wait_until

pytestmark = pytest.mark.server

LFT_QUESTION = "How often are LFTs checked?"
LFT_SENTENCE = "Monitor liver function weekly"

# Each process loads the model (slow), says so, waits until every process has, then opens the index:
# so all of them reach VectorIndex.open at the same moment.
_WORKER = """
import json, sys, time
from pathlib import Path
from assistant import Assistant, Settings
from assistant.embedding import load_embeddings

me, rendezvous, count = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
settings = Settings()
embeddings = load_embeddings(settings)
(rendezvous / me).touch()
deadline = time.monotonic() + 120
while len(list(rendezvous.iterdir())) < count and time.monotonic() < deadline:
    time.sleep(0.01)
bot = Assistant.from_settings(settings, embeddings=embeddings)
answer = bot.ask(sys.argv[4], channel="python")
state = "built" if bot.index.rebuilt else "reused"
print(json.dumps({"index": state, "quotes": [q.text for q in answer.quotes]}))
"""


def test_two_processes_on_an_empty_folder_build_once_and_both_answer(tmp_path: Path) -> None:
    data, rendezvous = tmp_path / "data", tmp_path / "rendezvous"
    rendezvous.mkdir()
    env = child_env(data_dir=data, collection="two-processes")
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, f"p{i}", str(rendezvous), "2", LFT_QUESTION],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    outputs = [proc.communicate(timeout=180) for proc in procs]
    for proc, (_, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err[-3000:]
    results = [json.loads(out.strip().splitlines()[-1]) for out, _ in outputs]

    assert sorted(r["index"] for r in results) == ["built", "reused"]
    for result in results:
        assert any(LFT_SENTENCE in quote for quote in result["quotes"])
    with sqlite3.connect(data / "audit.sqlite3") as db:
        assert db.execute("SELECT COUNT(*) FROM answers WHERE channel = 'python'").fetchone()[0] == 2


QUESTIONS = [
    (LFT_QUESTION, LFT_SENTENCE, False),
    ("What should I do if sinusoidal obstruction syndrome occurs?", "sinusoidal obstruction syndrome", True),
    ("CBC before each dose?", "Check complete blood count before each administration.", False),
    ("QTc prolongation with InO", "QT interval prolongation", False),
]


def _ready_in_a_row(url: str, count: int) -> bool:
    return all(httpx.get(f"{url}/api/health", timeout=30).status_code == 200 for _ in range(count))


def test_app_with_two_workers_on_the_embedded_store_answers_concurrent_requests(tmp_path: Path) -> None:
    app = AppProcess(tmp_path, tmp_path, workers=2, data_dir=tmp_path / "data", collection="two-workers")
    try:
        app.wait_ready(timeout=150)
        # Both workers up (uvicorn logs each start). Each loads its Assistant in the background after
        # start, so the first ready answer may come from one worker while the other is still loading:
        # wait until 20 fresh connections in a row, spread by the kernel over both, all say ready.
        assert app.logs().count("Application startup complete") == 2, app.logs()[-3000:]
        assert wait_until(lambda: _ready_in_a_row(app.url, 20), timeout=150, interval=0.5), app.logs()[-3000:]

        def ask(case: tuple[str, str, bool]) -> tuple[int, dict, tuple[str, str, bool]]:
            with httpx.Client(base_url=app.url, timeout=60) as client:  # a new connection per request
                response = client.post("/api/ask", json={"question": case[0]})
                return response.status_code, response.json(), case

        with ThreadPoolExecutor(max_workers=8) as pool:
            results = list(pool.map(ask, QUESTIONS * 4))

        for status, body, (question, quoted, rule_fired) in results:
            assert status == 200, (question, body)
            assert any(quoted in q["text"] for q in body["quotes"]), question
            assert bool(body["guardrail"]) is rule_fired
            assert body["abstained"] is False
        # Both processes append to the one audit database (SQLite WAL).
        with sqlite3.connect(tmp_path / "data" / "audit.sqlite3") as db:
            assert db.execute("SELECT COUNT(*) FROM answers WHERE channel = 'api'").fetchone()[0] == 16
    finally:
        app.stop()
    assert app.proc.returncode is not None
