"""The web application over real HTTP: uvicorn on a free 127.0.0.1 port serving the real app and the real
Assistant (real model, real embedded Chroma in a tmp folder)."""

from __future__ import annotations

import http.client
import json
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from langchain_core.embeddings import Embeddings

from assistant import Assistant, Settings
from assistant.settings import PROJECT_ROOT
from assistant.web import build_app
from assistant.web.server import install_error_handlers
from evals.load import is_loopback_url

pytestmark = pytest.mark.server

ALLOWED = "https://intranet.example.org"
REFUSED = "https://evil.example.com"
PATIENT = "MRN-7734-PATIENT-ZQX"
GUARDRAIL_QUESTION = "What should I do if sinusoidal obstruction syndrome occurs?"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


@contextmanager
def serving(app: FastAPI, host: str = "127.0.0.1") -> Iterator[str]:
    """Run ``app`` with uvicorn in a thread on a free loopback port; yield its base URL."""
    port = free_port(host)
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@pytest.fixture(scope="module")
def api_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(data_dir=tmp_path_factory.mktemp("api-data"), allowed_origins=[ALLOWED])


@pytest.fixture(scope="module")
def api_assistant(api_settings: Settings, embeddings: Embeddings) -> Assistant:
    return Assistant.from_settings(api_settings, embeddings=embeddings)


@pytest.fixture(scope="module")
def base_url(api_settings: Settings, api_assistant: Assistant) -> Iterator[str]:
    with serving(build_app(api_settings, api_assistant)) as url:
        yield url


@pytest.fixture(scope="module")
def client(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=30) as http:
        yield http


def raw_get(base_url: str, path: str) -> tuple[int, bytes]:
    """GET with the path sent byte for byte (httpx would normalise "../" away)."""
    host, port = base_url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def assert_no_stack_trace(body: str) -> None:
    assert "Traceback" not in body
    assert not any(marker in body for marker in ('File "/', "site-packages"))


# ---------------------------------------------------------------------------------------------- schema
def test_openapi_schema_documents_the_api(client: httpx.Client) -> None:
    schema = client.get("/openapi.json").json()
    assert {"/api/ask", "/api/health", "/api/feedback"} <= set(schema["paths"])
    body_ref = schema["paths"]["/api/ask"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    request_schema = schema["components"]["schemas"][body_ref["$ref"].rsplit("/", 1)[-1]]
    assert request_schema["required"] == ["question"]
    assert request_schema["properties"]["question"]["maxLength"] == 2000
    answer_ref = schema["paths"]["/api/ask"]["post"]["responses"]["200"]["content"]["application/json"]
    assert answer_ref["schema"]["$ref"].endswith("/Answer")
    assert "/embed" not in schema["paths"]
    docs = client.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


# ---------------------------------------------------------------------------------------------- ask
def test_health_is_ready_with_the_corpus_version(client: httpx.Client, api_assistant: Assistant) -> None:
    response = client.get("/api/health")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "corpus_version": api_assistant.corpus.version,
        "documents": ["besponsa-precautions"],
        "vector_store": "embedded",
    }


def test_ask_returns_the_answer_json_with_guardrail_and_verbatim_quotes(
    client: httpx.Client, api_assistant: Assistant
) -> None:
    response = client.post("/api/ask", json={"question": GUARDRAIL_QUESTION, "history": []})
    assert response.status_code == 200
    answer = response.json()
    assert set(answer) == {
        "id", "text", "quotes", "guardrail", "abstained", "not_covered", "related", "corpus_version",
        "rules_version", "suggestions", "generated", "metadata",
    }  # fmt: skip
    assert answer["generated"] is None and answer["metadata"]["generator"] == "extractive"
    assert answer["guardrail"][0]["action"] == "discontinue"
    assert answer["guardrail"][0]["role"] == "verdict" and answer["guardrail"][0]["reasons"]
    assert answer["quotes"] and not answer["abstained"]
    text = api_assistant.corpus.document("besponsa-precautions").text
    assert all(text[q["start"] : q["end"]] == q["text"] for q in answer["quotes"])


def test_ask_uses_the_history_for_a_follow_up(client: httpx.Client) -> None:
    history = [
        {"role": "user", "content": "What are the risk factors for sinusoidal obstruction syndrome?"},
        {"role": "assistant", "content": "The monograph lists risk factors."},
    ]
    answer = client.post("/api/ask", json={"question": "What should I do if it occurs?", "history": history})
    assert answer.status_code == 200
    assert answer.json()["metadata"]["followup"] is True


def test_out_of_scope_question_abstains(client: httpx.Client) -> None:
    answer = client.post("/api/ask", json={"question": "Is Besponsa safe during pregnancy?"}).json()
    assert answer["abstained"] is True
    assert answer["quotes"] == []
    assert answer["not_covered"] == [
        "It gives no information on pregnancy, breastfeeding, fertility or contraception."
    ]


def test_partly_covered_question_answers_and_names_what_is_not_covered(client: httpx.Client) -> None:
    question = "What are the risk factors for SOS, and should we give ursodiol prophylaxis?"
    answer = client.post("/api/ask", json={"question": question}).json()
    assert answer["abstained"] is False
    assert any(q["text"].startswith("Risk factors include:") for q in answer["quotes"])
    assert answer["not_covered"] == ["The monograph does not mention ursodiol."]
    assert answer["related"] == []


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"question": ""}, ["body", "question"]),
        ({"question": "   \n\t "}, ["body", "question"]),
        ({"question": "x" * 2001}, ["body", "question"]),
        ({"question": 42}, ["body", "question"]),
        ({"question": ["a list"]}, ["body", "question"]),
        ({"question": None}, ["body", "question"]),
        ({}, ["body", "question"]),
        ({"question": "ok?", "history": "not a list"}, ["body", "history"]),
        ({"question": "ok?", "history": [{"role": "robot", "content": "x"}]}, ["body", "history", 0, "role"]),
        ({"question": "ok?", "history": [{"role": "user"}]}, ["body", "history", 0, "content"]),
        ({"question": "ok?", "history": [{"role": "user", "content": 5}]}, ["body", "history", 0, "content"]),
        ({"question": "ok?", "history": [["user", "hi"]]}, ["body", "history", 0]),
        ({"question": "ok?", "extra": 1}, ["body", "extra"]),
    ],
)
def test_invalid_requests_get_422_naming_the_field(
    client: httpx.Client, body: dict[str, object], where: list[object]
) -> None:
    response = client.post("/api/ask", json=body)
    assert response.status_code == 422
    errors = response.json()["detail"]
    assert any(error["loc"] == where for error in errors), errors
    assert all(set(error) == {"loc", "msg", "type"} for error in errors)  # the input is not echoed back
    assert_no_stack_trace(response.text)


def test_malformed_json_gets_422_without_stack_trace(client: httpx.Client) -> None:
    response = client.post("/api/ask", content=b"{not json", headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    assert_no_stack_trace(response.text)


def test_question_text_is_not_stored_anywhere_by_default(
    client: httpx.Client, api_settings: Settings
) -> None:
    question = f"Patient {PATIENT}: how often to check liver tests?"
    response = client.post("/api/ask", json={"question": question})
    assert response.status_code == 200
    files = [p for p in api_settings.data_dir.rglob("*") if p.is_file()]
    assert any(p.name.startswith("audit.sqlite3") for p in files)
    assert all(PATIENT.encode() not in p.read_bytes() for p in files)


# ---------------------------------------------------------------------------------------------- feedback
def test_feedback_is_stored_with_rule_ids_and_offsets(client: httpx.Client, api_settings: Settings) -> None:
    answer = client.post(
        "/api/ask", json={"question": GUARDRAIL_QUESTION}, headers={"X-Assistant-Channel": "embed"}
    ).json()
    rating = {"answer_id": answer["id"], "rating": "down", "comment": PATIENT}
    response = client.post("/api/feedback", json=rating)
    assert response.status_code == 201
    with sqlite3.connect(api_settings.audit_db) as db:
        channel = db.execute("SELECT channel FROM answers WHERE answer_id = ?", (answer["id"],)).fetchone()
        row = db.execute(
            "SELECT rating, rule_ids, quotes, corpus_version, comment FROM feedback WHERE answer_id = ?",
            (answer["id"],),
        ).fetchone()
    assert channel == ("embed",)
    rating, rule_ids, quotes, version, comment = row
    assert rating == "down"
    assert json.loads(rule_ids) == [hit["rule_id"] for hit in answer["guardrail"]]
    assert json.loads(quotes) == [[q["document"], q["start"], q["end"]] for q in answer["quotes"]]
    assert version == answer["corpus_version"]
    assert comment is None  # free text is kept only when store_question_text allows it


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"answer_id": "0" * 32, "rating": "up"}, 404),
        ({"answer_id": "0" * 32, "rating": "like"}, 422),
        ({"answer_id": "../../etc/passwd", "rating": "up"}, 422),
        ({"rating": "up"}, 422),
    ],
)
def test_feedback_refuses_unknown_answers_and_bad_ratings(
    client: httpx.Client, body: dict[str, str], status: int
) -> None:
    response = client.post("/api/feedback", json=body)
    assert response.status_code == status
    assert_no_stack_trace(response.text)


# ---------------------------------------------------------------------------------------------- headers
@pytest.mark.parametrize("path", ["/", "/embed", "/api/health", "/docs"])
def test_every_page_carries_the_security_headers(client: httpx.Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    csp = response.headers["content-security-policy"]
    ancestors = next(d for d in csp.split(";") if d.strip().startswith("frame-ancestors")).split()
    assert ancestors == ["frame-ancestors", "'self'", ALLOWED]
    assert "object-src 'none'" in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "strict-origin-when-cross-origin"


def test_embed_page_runs_only_its_own_nonced_script(client: httpx.Client) -> None:
    response = client.get("/embed")
    csp = response.headers["content-security-policy"]
    script_src = next(d for d in csp.split(";") if d.strip().startswith("script-src")).split()
    assert len(script_src) == 2 and script_src[1].startswith("'nonce-")
    nonce = script_src[1].removeprefix("'nonce-").rstrip("'")
    assert f'<script nonce="{nonce}">' in response.text
    assert "innerHTML" not in response.text and "insertAdjacentHTML" not in response.text
    assert client.get("/embed").headers["content-security-policy"] != csp  # a fresh nonce per response


def test_embed_page_labels_model_text_and_shows_the_disclaimer(client: httpx.Client) -> None:
    from assistant.rendering import GENERATED
    from assistant.web.ui import DISCLAIMER

    page = client.get("/embed").text
    assert json.dumps(GENERATED) in page and 'line === GENERATED + ":"' in page
    assert json.dumps(DISCLAIMER) in page


@pytest.mark.parametrize("path", ["/api/ask", "/gradio_api/info"])
def test_cors_preflight_allows_only_the_configured_origin(client: httpx.Client, path: str) -> None:
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
    allowed = client.options(path, headers={"Origin": ALLOWED, **preflight})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == ALLOWED
    refused = client.options(path, headers={"Origin": REFUSED, **preflight})
    assert refused.status_code == 400
    assert "access-control-allow-origin" not in refused.headers


def test_cross_origin_answers_are_readable_only_by_the_allowed_origin(client: httpx.Client) -> None:
    body = {"question": "How often should liver function be monitored?"}
    allowed = client.post("/api/ask", json=body, headers={"Origin": ALLOWED})
    assert allowed.headers["access-control-allow-origin"] == ALLOWED
    refused = client.post("/api/ask", json=body, headers={"Origin": REFUSED})
    assert "access-control-allow-origin" not in refused.headers
    gradio = client.get("/config", headers={"Origin": REFUSED})
    assert "access-control-allow-origin" not in gradio.headers


# ---------------------------------------------------------------------------------------------- files
@pytest.mark.parametrize(
    "path",
    [
        "/gradio_api/file=/etc/passwd",
        "/gradio_api/file=../../../../../../etc/passwd",
        "/gradio_api/file=..%2F..%2F..%2F..%2F..%2F..%2Fetc%2Fpasswd",
        "/gradio_api/file=%2Fetc%2Fpasswd",
        "/gradio_api/file=/proc/self/environ",
        "/gradio_api/file=/tmp/../etc/passwd",
        "/gradio_api/file=" + str(PROJECT_ROOT / "assistant" / "settings.py"),
        "/gradio_api/file=assistant/settings.py",
        "/gradio_api/file=corpus/rules.yaml",
        "/file=/etc/passwd",
        "/static/../../../../etc/passwd",
        "/assets/..%2F..%2F..%2F..%2Fetc%2Fpasswd",
    ],
)
def test_files_outside_the_app_cannot_be_read(base_url: str, path: str) -> None:
    status, body = raw_get(base_url, path)
    assert status in (400, 403, 404)
    assert b"root:" not in body and b"class Settings" not in body and b"Traceback" not in body


def test_the_audit_database_cannot_be_downloaded(base_url: str, api_settings: Settings) -> None:
    status, body = raw_get(base_url, f"/gradio_api/file={api_settings.audit_db}")
    assert status in (403, 404)
    assert not body.startswith(b"SQLite format")


# ---------------------------------------------------------------------------------------------- faults
def test_a_fault_returns_a_generic_message_and_an_error_id() -> None:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret internal detail /etc/passwd")

    with serving(app) as url:
        response = httpx.get(f"{url}/boom", timeout=10)
    assert response.status_code == 500
    body = response.json()
    assert body["detail"] == "Internal error. Please try again."
    assert len(body["error_id"]) == 12
    assert "secret" not in response.text
    assert_no_stack_trace(response.text)


def _health_after_loading(url: str, timeout_s: float = 60) -> httpx.Response:
    """The health response once the app has stopped saying "loading" (or the timeout passed)."""
    deadline = time.monotonic() + timeout_s
    health = httpx.get(f"{url}/api/health", timeout=10)
    while health.json()["status"] == "loading" and time.monotonic() < deadline:
        time.sleep(0.2)
        health = httpx.get(f"{url}/api/health", timeout=10)
    return health


def test_health_and_ask_say_503_while_the_vector_store_is_unreachable(tmp_path: Path) -> None:
    """Chroma server mode pointing at a closed port: the loader keeps retrying, the API says why."""
    settings = Settings(data_dir=tmp_path, chroma_mode="server", chroma_port=free_port())
    with serving(build_app(settings)) as url:
        health = _health_after_loading(url)
        ask = httpx.post(f"{url}/api/ask", json={"question": GUARDRAIL_QUESTION}, timeout=10)
    assert health.status_code == 503
    assert health.json()["status"] == "unavailable"
    assert ask.status_code == 503
    assert "unavailable" in ask.json()["detail"]
    assert ask.headers["retry-after"] == "5"
    assert_no_stack_trace(ask.text)


def test_a_failed_start_reports_failed_without_details(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, embedding_model=str(tmp_path / "no-such-model"))
    with serving(build_app(settings)) as url:
        health = _health_after_loading(url)
        ask = httpx.post(f"{url}/api/ask", json={"question": GUARDRAIL_QUESTION}, timeout=10)
    assert (health.status_code, health.json()["status"]) == (503, "failed")
    assert ask.status_code == 503
    assert "no-such-model" not in ask.text and "no-such-model" not in health.text


@pytest.mark.parametrize(
    ("url", "loopback"),
    [
        ("http://127.0.0.1:7860", True),
        ("http://127.0.0.2:8000/", True),
        ("http://localhost:7860", True),
        ("http://[::1]:7860", True),
        ("http://10.0.0.5:7860", False),
        ("http://0.0.0.0:7860", False),
        ("https://intranet.example.org", False),
        ("http://127.0.0.1.nip.io:7860", False),
    ],
)
def test_load_script_only_targets_loopback(url: str, loopback: bool) -> None:
    assert is_loopback_url(url) is loopback


# ---------------------------------------------------------------------------------------------- UI logic
@pytest.mark.parametrize(
    "text",
    [
        "<img src=x onerror=alert(1)>",
        "<script>alert(1)</script>",
        "[x](javascript:alert(1))",
        "**bold** & `code`",
    ],
)
def test_user_text_is_escaped_for_html_and_markdown(text: str) -> None:
    from assistant.web.ui import escape_text

    escaped = escape_text(text)
    assert "<" not in escaped
    assert "](" not in escaped and "**" not in escaped and "`" not in escaped.replace("\\`", "")


def test_banner_and_monograph_escape_and_mark_the_quoted_offsets(api_assistant: Assistant) -> None:
    import html

    from assistant.models import Answer, RuleHit
    from assistant.web.ui import render_banner, render_monograph

    corpus = api_assistant.corpus
    quote = corpus.locate("Discontinue the drug immediately if sinusoidal obstruction syndrome occurs.")
    assert quote is not None
    hit = RuleHit(rule_id="x", action="interrupt", message="<b>hold</b>", quotes=[quote])
    banner = render_banner(Answer(text="t", quotes=[quote], guardrail=[hit], corpus_version=corpus.version))
    assert "Interrupt / hold" in banner and "&lt;b&gt;hold&lt;/b&gt;" in banner and "<b>" not in banner
    monograph = render_monograph(corpus, [quote])
    marked = monograph.split('<mark class="quoted"', 1)[1].split(">", 1)[1].split("</mark>", 1)[0]
    assert html.unescape(marked) == quote.text
    assert "\n" not in monograph  # one HTML block: Markdown never reads the monograph text


def test_respond_builds_the_chat_and_never_raises(api_assistant: Assistant, api_settings: Settings) -> None:
    from assistant.web.ui import NOT_COVERED, record_like, respond

    empty = respond(api_assistant, "   ", [], [], {})
    assert empty.answer is None and empty.chat == [] and "empty" in empty.status

    first = respond(api_assistant, GUARDRAIL_QUESTION, [], [], {})
    assert first.status == "" and first.answer is not None
    assert first.chat[0] == {
        "role": "user",
        "content": "What should I do if sinusoidal obstruction syndrome occurs?",
    }
    assert "Permanently discontinue" in first.chat[1]["content"]
    assert first.chat[2]["metadata"]["title"].startswith("Quoted from the monograph")
    assert set(first.answer_ids) == {1, 2} and set(first.answer_ids.values()) == {first.answer.id}
    assert first.turns[0] == {"role": "user", "content": GUARDRAIL_QUESTION}

    second = respond(
        api_assistant, "Is Besponsa safe during pregnancy?", first.chat, first.turns, first.answer_ids
    )
    assert second.answer is not None and second.answer.abstained
    assert NOT_COVERED in second.chat[-1]["content"]

    assert record_like(api_assistant, second.answer_ids, 1, True).startswith("Thank you")
    assert record_like(api_assistant, second.answer_ids, 0, True) == ""  # a question, not an answer
    assert record_like(api_assistant, second.answer_ids, 1, "") == ""  # a like taken back
    with sqlite3.connect(api_settings.audit_db) as db:
        rating = db.execute("SELECT rating FROM feedback WHERE answer_id = ?", (first.answer.id,)).fetchall()
    assert rating == [("up",)]
