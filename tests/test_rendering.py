"""Model text is labelled and backed by its quotes on every channel: the Python API, the JSON API over
HTTP, ``python -m assistant ask``/``chat``/``--json`` as real processes against a scripted
OpenAI-compatible server on loopback (the browser tests cover the chat page and /embed)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from langchain_core.embeddings import Embeddings

from assistant import Assistant, Settings
from assistant.guardrail import render_verdicts
from assistant.models import Citation, Generated, Quote, RuleHit
from assistant.rendering import CITED_HEADING, GENERATED, quote_block, render_generated, render_not_covered
from assistant.web import build_app
from tests.fake_openai_server import Reply, ScriptedOpenAI
from tests.procs import run_cli, serving
from tests.test_llm import RecordingChatModel

MONITORING = "How often should liver function be monitored?"
REPLY = "Liver function is monitored weekly during treatment [1]."
PARTLY = "How often should liver function be monitored, and should we give ursodiol?"


def test_the_layout_verdicts_label_text_cited_quotes_not_covered() -> None:
    first = Quote(text="Monitor weekly.", document="mono", section="Risk", start=0, end=15)
    second = Quote(text="Check counts.\nEach time.", document="mono", section="Tests", start=20, end=44)
    hit = RuleHit(rule_id="r", action="interrupt", message="Hold it.", quotes=[first])
    generated = Generated(
        label=GENERATED,
        text="Weekly [2], and counts [1].",
        model="m",
        citations=[Citation(number=2, quote=second), Citation(number=1, quote=first)],
    )
    text = render_generated([hit], generated, ["The monograph does not mention x."])
    assert text.split("\n\n") == [
        render_verdicts([hit]),
        f"{GENERATED}:",
        "Weekly [2], and counts [1].",
        CITED_HEADING,
        "[2]\n> Check counts.\n> Each time.\n> — *Tests*",
        "[1]\n> Monitor weekly.\n> — *Risk*",
        render_not_covered(["The monograph does not mention x."]),
    ]


def _shows_generated_answer(text: str, answer: dict[str, Any]) -> None:
    """The label, the model's words, and each cited quote verbatim under its number."""
    generated = answer["generated"]
    assert generated["label"] == GENERATED and generated["text"] in text
    assert text.index(f"{GENERATED}:") < text.index(generated["text"]) < text.index(CITED_HEADING)
    assert generated["citations"]
    for citation in generated["citations"]:
        assert f"[{citation['number']}]\n{quote_block(Quote(**citation['quote']))}" in text


def test_python_api_partly_covered_keeps_the_not_covered_line(
    session_settings: Settings, embeddings: Embeddings
) -> None:
    bot = Assistant.from_settings(
        session_settings, embeddings=embeddings, chat_model=RecordingChatModel(reply=REPLY)
    )
    answer = bot.ask(PARTLY)
    assert answer.generated is not None, answer.metadata
    _shows_generated_answer(answer.text, answer.model_dump())
    assert answer.not_covered == ["The monograph does not mention ursodiol."]
    assert answer.text.endswith(render_not_covered(answer.not_covered))
    source = {d.id: d.text for d in bot.corpus.documents}
    assert all(
        source[c.quote.document][c.quote.start : c.quote.end] == c.quote.text
        for c in answer.generated.citations
    )


@pytest.mark.server
def test_json_api_carries_the_generated_field(session_settings: Settings, embeddings: Embeddings) -> None:
    bot = Assistant.from_settings(
        session_settings, embeddings=embeddings, chat_model=RecordingChatModel(reply=REPLY)
    )
    with serving(build_app(session_settings, bot)) as url:
        body = httpx.post(f"{url}/api/ask", json={"question": MONITORING}, timeout=30).json()
        rule = httpx.post(f"{url}/api/ask", json={"question": "SOS confirmed, continue?"}, timeout=30).json()
        schema = httpx.get(f"{url}/openapi.json", timeout=30).json()
    assert body["metadata"]["generator"] == "llm" and body["generated"]["model"] == "recording"
    _shows_generated_answer(body["text"], body)
    assert rule["generated"] is None and rule["metadata"]["llm_skipped"]
    assert "generated" in schema["components"]["schemas"]["Answer"]["properties"]


@pytest.mark.process
@pytest.mark.server
def test_cli_ask_json_and_chat_show_the_label_and_the_quotes(tmp_path: Path) -> None:
    replies = [Reply(REPLY) for _ in range(3)]
    with ScriptedOpenAI(replies) as server:
        settings = {"data_dir": tmp_path / "data", "llm_base_url": server.base_url, "llm_model": "scripted"}
        asked = run_cli(["ask", MONITORING, "--json"], cwd=tmp_path, **settings)
        assert asked.returncode == 0, asked.stderr[-2000:]
        answer = json.loads(asked.stdout)
        _shows_generated_answer(answer["text"], answer)
        assert answer["generated"]["model"] == "scripted"

        plain = run_cli(["ask", MONITORING], cwd=tmp_path, **settings)
        assert plain.returncode == 0, plain.stderr[-2000:]
        _shows_generated_answer(plain.stdout, answer)
        assert "summary written by model scripted" in plain.stdout

        chat = run_cli(["chat"], cwd=tmp_path, input=f"{MONITORING}\n\n", **settings)
        assert chat.returncode == 0, chat.stderr[-2000:]
        _shows_generated_answer(chat.stdout, answer)
    assert len(server.requests) == 3
