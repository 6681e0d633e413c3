"""One history limit (``Settings.history_turns``, default 50 user turns), the same on every channel.

A finding stated in the oldest turn that is still read keeps its rule firing; one turn more and it has left
the conversation the assistant reads. Checked through Python, the chat UI's function, the JSON API over
real HTTP, and the page /embed serves.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from assistant import Assistant, Settings
from assistant.web import build_app
from assistant.web.ui import respond
from tests.test_api import serving

FINDING = "SOS confirmed on day 12."
FILLER = "What does CD22 mean?"
QUESTION = "Continue?"


def conversation(earlier_user_turns: int) -> list[dict[str, str]]:
    """The finding first, then fillers, so that there are exactly ``earlier_user_turns`` user turns."""
    turns = []
    for i in range(earlier_user_turns):
        turns += [
            {"role": "user", "content": FINDING if i == 0 else FILLER},
            {"role": "assistant", "content": "(an earlier answer)"},
        ]
    return turns


def fired(answer) -> set[str]:
    return {h.rule_id for h in answer.guardrail}


def test_the_default_is_fifty_user_turns() -> None:
    assert Settings().history_turns == 50


@pytest.mark.parametrize(("earlier", "expected"), [(50, {"sos"}), (51, set())])
def test_python(assistant: Assistant, earlier: int, expected: set[str]) -> None:
    assert fired(assistant.ask(QUESTION, conversation(earlier))) == expected


@pytest.mark.parametrize(("earlier", "expected"), [(50, {"sos"}), (51, set())])
def test_chat_ui(assistant: Assistant, earlier: int, expected: set[str]) -> None:
    reply = respond(assistant, QUESTION, [], conversation(earlier), {})
    assert reply.answer is not None and fired(reply.answer) == expected


@pytest.fixture(scope="module")
def base_url(assistant: Assistant) -> Iterator[str]:
    with serving(build_app(assistant.settings, assistant)) as url:
        yield url


@pytest.mark.parametrize(("earlier", "expected"), [(50, {"sos"}), (51, set())])
def test_api(base_url: str, earlier: int, expected: set[str]) -> None:
    body = {"question": QUESTION, "history": conversation(earlier)}
    answer = httpx.post(f"{base_url}/api/ask", json=body, timeout=30).json()
    assert {h["rule_id"] for h in answer["guardrail"]} == expected


def test_embed_sends_the_same_number_of_turns(base_url: str) -> None:
    """/embed keeps its conversation in the page and sends the last 2 x history_turns messages."""
    page = httpx.get(f"{base_url}/embed", timeout=30).text
    assert re.search(r"const HISTORY_MESSAGES = 100;", page)
    assert "history.slice(-HISTORY_MESSAGES)" in page


def test_a_smaller_limit_applies_to_every_channel(tmp_path, embeddings) -> None:
    bot = Assistant.from_settings(Settings(data_dir=tmp_path, history_turns=3), embeddings=embeddings)
    assert fired(bot.ask(QUESTION, conversation(3))) == {"sos"}
    assert fired(bot.ask(QUESTION, conversation(4))) == set()
    with serving(build_app(bot.settings, bot)) as url:
        assert "const HISTORY_MESSAGES = 6;" in httpx.get(f"{url}/embed", timeout=30).text
