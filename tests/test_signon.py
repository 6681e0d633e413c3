"""Who asked, over real HTTP: the user header is believed from a trusted proxy address only, recorded in the
audit and in feedback, ignored (and logged once) from any other client, and absent without a header."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest
from langchain_core.embeddings import Embeddings

from assistant import Assistant, Settings
from assistant.web import build_app
from tests.procs import run_cli, serving

pytestmark = pytest.mark.server

PROXY = "127.0.0.2"  # the sign-on proxy: another loopback address, listed in trusted_proxies
QUESTION = "How often should liver function be monitored?"


def client_from(url: str, source: str) -> httpx.Client:
    """An HTTP client whose connections come from ``source`` (a loopback address)."""
    return httpx.Client(base_url=url, timeout=30, transport=httpx.HTTPTransport(local_address=source))


def test_the_user_header_counts_only_from_a_trusted_proxy(
    tmp_path: Path, embeddings: Embeddings, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(
        data_dir=tmp_path / "data", user_header="X-Forwarded-User", trusted_proxies=[f"{PROXY}/32"]
    )
    bot = Assistant.from_settings(settings, embeddings=embeddings)
    caplog.set_level(logging.WARNING)
    signed = {"X-Forwarded-User": "jdoe"}
    app = build_app(settings, bot)
    with serving(app) as url, client_from(url, PROXY) as proxy, client_from(url, "127.0.0.1") as stranger:
        trusted = proxy.post("/api/ask", json={"question": QUESTION}, headers=signed).json()["id"]
        liked = proxy.post("/api/feedback", json={"answer_id": trusted, "rating": "up"}, headers=signed)
        forged = [
            stranger.post("/api/ask", json={"question": QUESTION}, headers={"X-Forwarded-User": "mallory"})
            for _ in range(2)
        ]
        anonymous = proxy.post("/api/ask", json={"question": QUESTION}).json()["id"]
    assert liked.status_code == 201 and all(r.status_code == 200 for r in forged)
    users = {row["answer_id"]: row["user"] for row in bot.audit.rows()}
    assert users[trusted] == "jdoe"
    assert [users[r.json()["id"]] for r in forged] == [None, None]
    assert users[anonymous] is None
    assert [row["user"] for row in bot.audit.rows("feedback")] == ["jdoe"]
    ignored = [
        r.getMessage() for r in caplog.records if "ignored the X-Forwarded-User header" in r.getMessage()
    ]
    assert len(ignored) == 1 and "127.0.0.1" in ignored[0]  # logged once, not per request
    assert "mallory" not in " ".join(r.getMessage() for r in caplog.records)

    export = tmp_path / "jdoe.csv"
    done = run_cli(
        ["audit", "--user", "jdoe", "--csv", str(export)], cwd=tmp_path, data_dir=tmp_path / "data"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"wrote 1 answers rows to {export}"
    assert trusted in export.read_text()
