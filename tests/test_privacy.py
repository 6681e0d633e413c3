"""No question text on disk by default, and an audit trail an auditor can export.

A synthetic patient identifier goes into questions (and history, feedback comments, rejected requests)
through every channel: the Python API, the chat UI's function, the CLI, and the HTTP API of the real
app (``python app.py``), all with default settings except a temporary data folder and working folder.
Then every byte under the data folder, the captured logs, the working folder (where Gradio would put a
``.gradio/`` folder) and Gradio's temp folder is searched: the identifier is nowhere. With
``store_question_text`` on it IS found in the audit database, which proves the search can see it.
"""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from langchain_core.embeddings import Embeddings

from assistant import Assistant, Settings
from assistant.web import ui
from tests.procs import AppProcess, run_cli

pytestmark = pytest.mark.process  # the CLI and the web app write the files it inspects

PATIENT = "MRN 48151623 Jane Roe"
NEEDLES = (b"48151623", b"Jane Roe")  # also each part alone, in case one were stored without the other
QUESTION = f"{PATIENT}: platelets low, should we hold Besponsa?"
OUT_OF_SCOPE = f"How should the vials for {PATIENT} be stored?"
HISTORY = [
    {"role": "user", "content": f"{PATIENT} has elevated LFTs."},
    {"role": "assistant", "content": "Monitor liver function weekly during treatment."},
]


def files_containing(roots: list[Path], needles: tuple[bytes, ...] = NEEDLES) -> list[str]:
    """Every file under ``roots`` whose bytes (SQLite pages and WAL included) contain a needle."""
    found = []
    for root in roots:
        paths = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for path in paths:
            data = path.read_bytes()
            found += [f"{path}: {needle.decode()}" for needle in needles if needle in data]
    return found


@dataclass
class Run:
    """What the privacy run left behind, and what it asked through which channel."""

    root: Path
    data: Path
    cwd: Path
    logs: Path
    gradio_tmp: Path
    channels: dict[str, int]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, embeddings: Embeddings) -> Iterator[Run]:
    root = tmp_path_factory.mktemp("privacy")
    data, cwd, logs, gradio_tmp = (root / name for name in ("data", "cwd", "logs", "gradio-tmp"))
    for folder in (cwd, logs, gradio_tmp):
        folder.mkdir()
    channels: dict[str, int] = {}

    # Everything this process logs, at every level, goes to a file we search afterwards.
    handler = logging.FileHandler(logs / "python.log", encoding="utf-8")
    handler.setLevel(logging.DEBUG)
    root_logger = logging.getLogger()
    level = root_logger.level
    root_logger.addHandler(handler)
    root_logger.setLevel(logging.DEBUG)
    try:
        # Python API and the chat UI's function (default settings, own data folder).
        bot = Assistant.from_settings(Settings(data_dir=data), embeddings=embeddings)
        answer = bot.ask(QUESTION)
        assert answer.guardrail  # a real answer, not an error path
        bot.ask(OUT_OF_SCOPE, HISTORY)
        bot.audit.record_feedback(answer_id=answer.id, rating="down", comment=PATIENT, question=QUESTION)
        channels["python"] = 2
        reply = ui.respond(bot, QUESTION, channel="ui")
        assert reply.answer is not None and reply.answer.guardrail
        assert ui.record_like(bot, reply.answer_ids, max(reply.answer_ids), False).startswith("Thank you")
        channels["ui"] = 1

        # CLI, in the temporary working folder.
        result = run_cli(["ask", QUESTION], cwd=cwd, data_dir=data)
        assert result.returncode == 0, result.stderr[-2000:]
        (logs / "cli.stderr.log").write_text(result.stderr)  # stdout is the answer shown to the user
        channels["cli"] = 1

        # HTTP API of the real app, in the temporary working folder, Gradio's temp files kept apart.
        app = AppProcess(cwd, logs, env={"GRADIO_TEMP_DIR": str(gradio_tmp)}, data_dir=data)
        try:
            app.wait_ready()
            with httpx.Client(base_url=app.url, timeout=30) as client:
                ok = client.post("/api/ask", json={"question": QUESTION, "history": HISTORY})
                assert ok.status_code == 200 and ok.json()["guardrail"]
                embed = client.post(
                    "/api/ask", json={"question": OUT_OF_SCOPE}, headers={"X-Assistant-Channel": "embed"}
                )
                assert embed.status_code == 200 and embed.json()["abstained"]
                feedback = {"answer_id": ok.json()["id"], "rating": "up", "comment": PATIENT}
                assert client.post("/api/feedback", json=feedback).status_code == 201
                # Rejected requests must not echo or log the text either.
                too_long = client.post("/api/ask", json={"question": f"{PATIENT} " + "x" * 2100})
                unknown_field = client.post("/api/ask", json={"question": QUESTION, "patient": PATIENT})
                for rejected in (too_long, unknown_field):
                    assert rejected.status_code == 422 and PATIENT not in rejected.text
        finally:
            app.stop()
        channels.update(api=1, embed=1)
    finally:
        root_logger.removeHandler(handler)
        root_logger.setLevel(level)
        handler.close()
    yield Run(root, data, cwd, logs, gradio_tmp, channels)


@pytest.mark.server
def test_identifier_is_nowhere_on_disk_with_default_settings(run: Run) -> None:
    searched = [run.data, run.logs, run.cwd, run.gradio_tmp]
    assert (run.data / "audit.sqlite3").is_file() and (run.data / "chroma").is_dir()
    assert '"POST /api/ask HTTP/1.1" 422' in (run.logs / "app.stdout.log").read_text()  # logs were captured
    assert files_containing(searched) == []
    dot_gradio = run.cwd / ".gradio"
    assert not dot_gradio.exists() or files_containing([dot_gradio]) == []


def test_identifier_is_found_when_question_text_storage_is_on(tmp_path: Path, embeddings: Embeddings) -> None:
    """The control: the same search finds the identifier once a setting allows storing questions."""
    bot = Assistant.from_settings(
        Settings(data_dir=tmp_path, store_question_text=True, collection="privacy-control"),
        embeddings=embeddings,
    )
    bot.ask(QUESTION)
    assert files_containing([tmp_path]) != []
    assert [row["question"] for row in bot.audit.rows()] == [QUESTION]


@pytest.mark.server
def test_audit_cli_exports_every_channel_without_question_text(run: Run) -> None:
    today = datetime.now(UTC).date()
    export = run.root / "export" / "audit.csv"

    result = run_cli(
        ["audit", "--since", today.isoformat(), "--csv", str(export)], cwd=run.cwd, data_dir=run.data
    )

    assert result.returncode == 0, result.stderr
    total = sum(run.channels.values())
    assert result.stdout.strip() == f"wrote {total} answers rows to {export}"
    with export.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert {c: sum(r["channel"] == c for r in rows) for c in run.channels} == run.channels
    assert all(row["question"] == "" for row in rows)
    assert files_containing([export]) == []
    for row in rows:
        assert len(row["answer_id"]) == 32 and len(row["corpus_version"]) == 64
        assert isinstance(json.loads(row["rule_ids"]), list)
        assert all(len(span) == 3 for span in json.loads(row["quotes"]))
        assert row["abstained"] in {"0", "1"} and float(row["latency_ms"]) > 0
    assert {"cytopenia"} <= {rule for row in rows for rule in json.loads(row["rule_ids"])}

    tomorrow = (today + timedelta(days=1)).isoformat()
    later = run_cli(["audit", "--since", tomorrow, "--csv", str(export)], cwd=run.cwd, data_dir=run.data)
    assert later.returncode == 0 and later.stdout.startswith("wrote 0 answers rows")
