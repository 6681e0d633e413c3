"""The chat UI and the embeddable page in headless Chromium (Debian's, driven by Playwright), against the
real app and the real Assistant served on 127.0.0.1; an intranet page is simulated on 127.0.0.2."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from langchain_core.embeddings import Embeddings

from assistant import Assistant, Settings
from assistant.settings import PROJECT_ROOT
from assistant.web import build_app
from tests.test_api import free_port, serving

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = PROJECT_ROOT / "test-artifacts"
GUARDRAIL_QUESTION = "What should I do if sinusoidal obstruction syndrome occurs?"
GUARDRAIL_QUOTE = "Discontinue the drug immediately if sinusoidal obstruction syndrome occurs."
OUT_OF_SCOPE = "Is Besponsa safe during pregnancy?"
INTRANET_HOST = "127.0.0.2"  # another loopback address: another origin, as an intranet page would be
STRANGER_HOST = "127.0.0.3"  # an origin that is not in allowed_origins

pytestmark = [
    pytest.mark.browser,
    pytest.mark.server,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium (make browser-deps)"),
]

playwright_api = pytest.importorskip("playwright.sync_api")


def intranet_page(app_url: str) -> bytes:
    return (
        "<!doctype html><html><head><title>Ward intranet</title></head><body>"
        "<h1>Haematology ward</h1>"
        f'<iframe id="assistant" name="assistant" src="{app_url}/embed" width="700" height="640"></iframe>'
        "</body></html>"
    ).encode()


class StaticPage:
    """A one-page HTTP server on its own loopback address: the intranet page that frames /embed."""

    def __init__(self, host: str, port: int, body: bytes) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.url = f"http://{host}:{port}/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def intranet_port() -> int:
    return free_port(INTRANET_HOST)


@pytest.fixture(scope="module")
def ui_settings(tmp_path_factory: pytest.TempPathFactory, intranet_port: int) -> Settings:
    origin = f"http://{INTRANET_HOST}:{intranet_port}"
    return Settings(data_dir=tmp_path_factory.mktemp("ui-data"), allowed_origins=[origin])


@pytest.fixture(scope="module")
def app_url(ui_settings: Settings, embeddings: Embeddings) -> Iterator[str]:
    bot = Assistant.from_settings(ui_settings, embeddings=embeddings)
    with serving(build_app(ui_settings, bot)) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with playwright_api.sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: object, app_url: str) -> Iterator[object]:
    """A fresh tab on the chat UI, recording any JavaScript dialog (there must never be one)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    tab = context.new_page()
    tab.dialogs = []
    tab.on("dialog", lambda dialog: (tab.dialogs.append(dialog.message), dialog.dismiss()))
    tab.goto(app_url + "/", wait_until="load")  # Gradio keeps a connection open: never "networkidle"
    tab.wait_for_selector("#question textarea")
    tab.wait_for_selector("#monograph .monograph")  # the page's load event has run
    yield tab
    context.close()


def shot(tab: object, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    tab.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def ask(tab: object, question: str) -> None:
    """Type a question, press Ask, wait for the new answer to appear."""
    before = tab.locator('#chat [data-testid="bot"]').count()
    tab.fill("#question textarea", question)
    tab.click("#ask")
    tab.wait_for_function(
        "n => document.querySelectorAll('#chat [data-testid=\"bot\"]').length > n", arg=before, timeout=30000
    )


def rows(db: Path, query: str, params: tuple[object, ...] = ()) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(query, params).fetchall()


def wait_for_rows(db: Path, query: str, params: tuple[object, ...], timeout: float = 15) -> list[tuple]:
    deadline = time.monotonic() + timeout
    found = rows(db, query, params)
    while not found and time.monotonic() < deadline:
        time.sleep(0.2)
        found = rows(db, query, params)
    return found


# ---------------------------------------------------------------------------------------------- chat UI
def test_guardrail_question_shows_the_banner_quotes_and_highlights(page: object) -> None:
    ask(page, GUARDRAIL_QUESTION)
    banner = page.locator("#guardrail-banner .guardrail")
    banner.wait_for()
    assert "Permanently discontinue" in banner.locator(".guardrail-action").first.text_content()
    assert GUARDRAIL_QUOTE in banner.text_content()
    chat = page.locator("#chat").text_content()
    assert GUARDRAIL_QUOTE in chat
    assert "Risk of Hepatotoxicity" in chat  # each quote names its section
    marks = page.locator("#monograph mark.quoted").all_text_contents()
    assert any(GUARDRAIL_QUOTE in mark for mark in marks)
    assert "does not replace, clinical judgement" in page.locator("#disclaimer").text_content()
    assert "Monograph version" in page.locator("#monograph-version").text_content()
    shot(page, "ui-guardrail")
    assert page.dialogs == []


def test_enter_sends_shift_enter_adds_a_line_and_the_box_keeps_focus(page: object) -> None:
    """The chat convention clinicians know: Enter sends, Shift+Enter a new line; focus stays in the box."""
    box = page.locator("#question textarea")
    box.click()
    box.type("CBC before")
    box.press("Shift+Enter")
    box.type("each dose?")
    assert box.input_value() == "CBC before\neach dose?"  # a new line, nothing sent
    assert page.locator('#chat [data-testid="bot"]').count() == 0

    box.press("Enter")
    page.locator('#chat [data-testid="bot"]').first.wait_for(timeout=30000)
    assert "Check complete blood count before each administration." in page.locator("#chat").text_content()
    page.wait_for_function("() => document.querySelector('#question textarea').value === ''")
    assert page.evaluate("() => document.activeElement === document.querySelector('#question textarea')")

    ask(page, "How often are LFTs checked?")  # sent with the Ask button: the cursor comes back
    page.wait_for_function("() => document.activeElement === document.querySelector('#question textarea')")
    assert page.dialogs == []


README_SHOT = "chat-guardrail.png"


def test_readme_screenshot_of_a_guardrail_answer(page: object, readme_shots: Path | None) -> None:
    """The README's picture: banner, quotes and highlighted monograph, all in view. ``make screenshots``
    writes it to docs/; otherwise it goes to test-artifacts/ and the committed one is left alone."""
    ask(page, GUARDRAIL_QUESTION)
    page.locator("#guardrail-banner .guardrail").wait_for()
    mark = page.locator("#monograph mark.quoted", has_text="Discontinue the drug immediately").first
    mark.scroll_into_view_if_needed()
    page.evaluate("() => window.scrollTo(0, 0)")
    banner, answer = (
        page.locator("#guardrail-banner .guardrail"),
        page.locator('#chat [data-testid="bot"]').first,
    )
    for shown in (banner, answer, mark):
        assert shown.is_visible()
    target = (readme_shots or ARTIFACTS) / README_SHOT
    target.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(target))  # the viewport: what a clinician sees first
    assert target.stat().st_size > 10_000


def test_out_of_scope_question_shows_the_not_covered_message(page: object) -> None:
    ask(page, OUT_OF_SCOPE)
    last = page.locator('#chat [data-testid="bot"]').last.text_content()
    assert "Not covered by the monograph" in last
    assert not page.locator("#guardrail-banner .guardrail").is_visible()
    assert page.locator("#monograph mark.quoted").count() == 0
    shot(page, "ui-abstained")


@pytest.mark.parametrize(
    "payload",
    [
        "<img src=x onerror=alert(1)>",
        "<script>alert(2)</script> SOS?",
        "[liver](javascript:alert(3)) <svg onload=alert(4)>",
    ],
)
def test_markup_in_a_question_is_shown_as_text_and_never_runs(page: object, payload: str) -> None:
    ask(page, payload)
    page.wait_for_timeout(500)  # time for an onerror/onload to fire, if anything were rendered
    assert page.dialogs == []
    assert payload in page.locator('#chat [data-testid="user"]').last.text_content()
    rendered = "#chat img[src='x'], #chat script, #chat svg[onload], #chat a[href^='javascript']"
    assert page.locator(rendered).count() == 0
    shot(page, "ui-markup")


@pytest.mark.parametrize(
    ("question", "message"),
    [("   ", "The question is empty."), ("a" * 2001, "the limit is 2000")],
)
def test_empty_or_too_long_question_gets_a_clear_message(page: object, question: str, message: str) -> None:
    page.fill("#question textarea", question)
    page.click("#ask")
    page.wait_for_function(
        "text => document.querySelector('#status').textContent.includes(text)", arg=message, timeout=15000
    )
    assert page.locator('#chat [data-testid="bot"]').count() == 0


def test_like_in_the_chat_is_stored_in_sqlite(page: object, ui_settings: Settings) -> None:
    [(last,)] = rows(ui_settings.audit_db, "SELECT COALESCE(MAX(id), 0) FROM answers")
    ask(page, "How often should liver function be monitored?")
    # this question's own row: the chat may show the answer a moment before its audit row is written, and
    # an earlier test's answer must not be taken for it
    [(answer_id,)] = wait_for_rows(
        ui_settings.audit_db,
        "SELECT answer_id FROM answers WHERE channel = 'ui' AND id > ? ORDER BY id DESC LIMIT 1",
        (last,),
    )
    page.locator('#chat button[aria-label="Like"]').last.click()
    # the like is a queued event of its own: on a loaded machine (a fresh clone's CI, two test workers each
    # with a model and a browser) it once took longer than the default 15 s to reach the audit database
    found = wait_for_rows(
        ui_settings.audit_db,
        "SELECT rating, corpus_version, quotes FROM feedback WHERE answer_id = ?",
        (answer_id,),
        timeout=60,
    )
    assert found and found[0][0] == "up"
    assert found[0][2] != "[]"  # the liked answer's quote offsets came along
    page.locator("#status").get_by_text("feedback was recorded").wait_for()


def test_lab_value_verdict_shows_what_the_guardrail_read(page: object) -> None:
    """Issue 11: each verdict says which words it read and what it read them as."""
    ask(page, "ALT 6x ULN before C2D8, proceed?")
    hit = page.locator("#guardrail-banner .guardrail-hit.rule-liver_abnormal")  # the sanitiser drops data-*
    hit.wait_for()
    assert "Interrupt / hold" in hit.locator(".guardrail-action").text_content()
    why = hit.locator(".guardrail-why").text_content()
    assert "'alt 6 x uln' read as ALT above the upper limit of normal: 6 x ULN, CTCAE grade 3" in why
    assert "'proceed' read as a treatment decision" in why
    shot(page, "ui-lab-value-reason")


def test_partly_covered_question_shows_quotes_and_what_is_not_covered(page: object) -> None:
    """Issue 10: the covered part is quoted, and one line names what the monograph does not say."""
    ask(page, "What are the risk factors for SOS, and should we give ursodiol prophylaxis?")
    last = page.locator('#chat [data-testid="bot"]').nth(0).text_content()
    assert "Risk factors include" in last
    assert "Not covered by the monograph: The monograph does not mention ursodiol." in last
    assert any(
        "Risk factors include" in m for m in page.locator("#monograph mark.quoted").all_text_contents()
    )
    shot(page, "ui-partial-answer")


# ---------------------------------------------------------------------------------------------- embed
def test_intranet_page_on_another_origin_can_frame_embed_and_ask(
    browser: object, app_url: str, intranet_port: int, ui_settings: Settings
) -> None:
    site = StaticPage(INTRANET_HOST, intranet_port, intranet_page(app_url))
    context = browser.new_context(viewport={"width": 900, "height": 800})
    try:
        tab = context.new_page()
        dialogs: list[str] = []
        tab.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        tab.goto(site.url, wait_until="load")
        frame = tab.frame_locator("#assistant")
        frame.locator("#question").fill(GUARDRAIL_QUESTION)
        frame.locator("#ask").click()
        banner = frame.locator(".banner")
        banner.wait_for(timeout=30000)
        assert "Permanently discontinue" in banner.first.text_content()
        assert GUARDRAIL_QUOTE in frame.locator("#log").text_content()

        frame.locator("#question").fill("<img src=x onerror=alert(1)>")
        frame.locator("#ask").click()
        frame.locator(".msg.bot").nth(1).wait_for(timeout=30000)
        assert dialogs == []
        assert frame.locator("#log img").count() == 0

        answer_id = frame.locator(".msg.bot").first.get_attribute("data-answer-id")
        frame.locator(".msg.bot").first.locator(".rate-down").click()
        frame.get_by_text("feedback recorded").wait_for()
        shot(tab, "embed-intranet")
    finally:
        context.close()
        site.close()
    assert rows(ui_settings.audit_db, "SELECT channel FROM answers WHERE answer_id = ?", (answer_id,)) == [
        ("embed",)
    ]
    assert rows(ui_settings.audit_db, "SELECT rating FROM feedback WHERE answer_id = ?", (answer_id,)) == [
        ("down",)
    ]


def test_a_page_on_an_origin_not_allowed_cannot_frame_embed(browser: object, app_url: str) -> None:
    site = StaticPage(STRANGER_HOST, free_port(STRANGER_HOST), intranet_page(app_url))
    context = browser.new_context()
    try:
        tab = context.new_page()
        tab.goto(site.url, wait_until="load")
        tab.wait_for_timeout(1000)
        framed = [f for f in tab.frames if f is not tab.main_frame]
        assert framed, "the iframe element should exist"
        assert all(f.query_selector("#question") is None for f in framed)  # blocked by frame-ancestors
        shot(tab, "embed-refused")
    finally:
        context.close()
        site.close()


def test_embed_shows_reasons_context_and_not_covered(browser: object, app_url: str) -> None:
    """/embed shows what each verdict read, a weaker rule only as context under a discontinuation, and
    the not-covered line of a partial answer."""
    context = browser.new_context(viewport={"width": 900, "height": 900})
    try:
        tab = context.new_page()
        tab.goto(app_url + "/embed", wait_until="load")
        tab.locator("#question").fill("VOD suspected and plts 25 x10^9/L. D15?")
        tab.locator("#ask").click()
        tab.locator(".msg.bot").first.wait_for(timeout=30000)
        answer = tab.locator(".msg.bot").first
        banners = answer.locator(".banner")
        assert banners.count() == 1 and banners.first.get_attribute("data-rule") == "sos"
        assert "read as sinusoidal obstruction syndrome" in banners.first.locator(".why").text_content()
        context_box = answer.locator(".context")
        assert "not a separate verdict" in context_box.text_content()
        assert "'plts 25 x 10 9 l' read as a low platelet count" in context_box.text_content()
        assert "Interrupt / hold" not in answer.text_content()

        tab.locator("#question").fill(
            "What are the risk factors for SOS, and should we give ursodiol prophylaxis?"
        )
        tab.locator("#ask").click()
        tab.locator(".msg.bot").nth(1).wait_for(timeout=30000)
        partial = tab.locator(".msg.bot").nth(1).text_content()
        assert "Risk factors include" in partial
        assert "The monograph does not mention ursodiol." in partial
        shot(tab, "embed-reasons-partial")
    finally:
        context.close()


def test_embed_enter_sends_shift_enter_adds_a_line_and_focus_returns(browser: object, app_url: str) -> None:
    context = browser.new_context(viewport={"width": 900, "height": 900})
    try:
        tab = context.new_page()
        tab.goto(app_url + "/embed", wait_until="load")
        box = tab.locator("#question")
        box.click()
        box.type("CBC before")
        box.press("Shift+Enter")
        box.type("each dose?")
        assert box.input_value() == "CBC before\neach dose?"
        assert tab.locator(".msg.bot").count() == 0

        box.press("Enter")
        tab.locator(".msg.bot").first.wait_for(timeout=30000)
        assert (
            "Check complete blood count before each administration."
            in tab.locator(".msg.bot").first.text_content()
        )
        assert box.input_value() == ""
        tab.wait_for_function("() => document.activeElement === document.getElementById('question')")

        box.fill("How often are LFTs checked?")
        tab.locator("#ask").click()  # the button takes focus; the answer gives it back to the box
        tab.locator(".msg.bot").nth(1).wait_for(timeout=30000)
        tab.wait_for_function("() => document.activeElement === document.getElementById('question')")
    finally:
        context.close()


def test_api_docs_render_with_no_request_leaving_loopback(browser: object, app_url: str) -> None:
    """/docs on an intranet without internet: Swagger UI from local assets, the ask endpoint shown."""
    context = browser.new_context()
    requested: list[str] = []
    try:
        tab = context.new_page()
        tab.on("request", lambda request: requested.append(request.url))
        failed: list[str] = []
        tab.on("requestfailed", lambda request: failed.append(request.url))
        tab.goto(app_url + "/docs", wait_until="load")
        tab.locator(
            "#operations-default-ask_api_ask_post, [id^=operations-][id$=_api_ask_post]"
        ).first.wait_for(timeout=15000)
        assert "/api/ask" in tab.locator(".swagger-ui").text_content()
        shot(tab, "api-docs")
    finally:
        context.close()
    hosts = {urlsplit(url).hostname for url in requested if not url.startswith(("data:", "blob:"))}
    assert hosts == {"127.0.0.1"}, sorted(requested)
    assert failed == []


def test_embedding_as_documented_with_origins_from_the_environment(browser: object, tmp_path: Path) -> None:
    """Issue 15: app.py started the way the README says, ASSISTANT_ALLOWED_ORIGINS comma-separated in its
    environment: a page on one allowed origin frames /embed and gets an answer; a third origin is refused by
    frame-ancestors and by CORS."""
    import httpx

    from tests.procs import AppProcess

    intranet_port, wards_port = free_port(INTRANET_HOST), free_port("127.0.0.4")
    origins = f"http://{INTRANET_HOST}:{intranet_port}, http://127.0.0.4:{wards_port}"
    app = AppProcess(
        PROJECT_ROOT, tmp_path, env={"ASSISTANT_ALLOWED_ORIGINS": origins}, data_dir=tmp_path / "data"
    )
    try:
        app.wait_ready()
        site = StaticPage(INTRANET_HOST, intranet_port, intranet_page(app.url))
        stranger = StaticPage(STRANGER_HOST, free_port(STRANGER_HOST), intranet_page(app.url))
        context = browser.new_context()
        try:
            tab = context.new_page()
            tab.goto(site.url, wait_until="load")
            frame = tab.frame_locator("#assistant")
            frame.locator("#question").fill(GUARDRAIL_QUESTION)
            frame.locator("#ask").click()
            frame.locator(".banner").first.wait_for(timeout=60000)
            assert GUARDRAIL_QUOTE in frame.locator("#log").text_content()
            shot(tab, "embed-env-origins")

            refused = context.new_page()
            refused.goto(stranger.url, wait_until="load")
            refused.wait_for_timeout(1000)
            framed = [f for f in refused.frames if f is not refused.main_frame]
            assert framed and all(f.query_selector("#question") is None for f in framed)
        finally:
            context.close()
            site.close()
            stranger.close()
        allowed = httpx.options(
            f"{app.url}/api/ask",
            headers={"Origin": f"http://127.0.0.4:{wards_port}", "Access-Control-Request-Method": "POST"},
        )
        assert allowed.headers.get("access-control-allow-origin") == f"http://127.0.0.4:{wards_port}"
        stranger_origin = f"http://{STRANGER_HOST}:1"
        denied = httpx.options(
            f"{app.url}/api/ask", headers={"Origin": stranger_origin, "Access-Control-Request-Method": "POST"}
        )
        assert denied.headers.get("access-control-allow-origin") != stranger_origin
    finally:
        app.stop()


# ------------------------------------------------------------------------------- with a language model
MODEL_REPLY = "Liver function is monitored weekly during treatment [1]."
MODEL_QUESTION = "How often should liver function be monitored?"


@pytest.fixture(scope="module")
def llm_app_url(tmp_path_factory: pytest.TempPathFactory, embeddings: Embeddings) -> Iterator[str]:
    """The app with a deterministic fake language model in place of the remote one."""
    from tests.test_llm import RecordingChatModel

    settings = Settings(data_dir=tmp_path_factory.mktemp("llm-ui-data"))
    bot = Assistant.from_settings(
        settings, embeddings=embeddings, chat_model=RecordingChatModel(reply=MODEL_REPLY)
    )
    with serving(build_app(settings, bot)) as url:
        yield url


def _cited_quote(url: str) -> str:
    """The quote behind [1], as the API gives it (the same engine the pages call)."""
    import httpx

    body = httpx.post(f"{url}/api/ask", json={"question": MODEL_QUESTION}, timeout=30).json()
    [citation] = body["generated"]["citations"]
    assert citation["number"] == 1
    return citation["quote"]["text"]


def test_chat_labels_model_text_and_shows_the_quote_it_cites(browser: object, llm_app_url: str) -> None:
    from assistant.rendering import GENERATED

    quote = _cited_quote(llm_app_url)
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        tab = context.new_page()
        tab.goto(llm_app_url + "/", wait_until="load")
        tab.wait_for_selector("#question textarea")
        ask(tab, MODEL_QUESTION)
        message = tab.locator('#chat [data-testid="bot"]').first
        text = message.text_content()
        assert text.index(GENERATED) < text.index(MODEL_REPLY) < text.index(quote)
        assert message.locator("em", has_text=GENERATED).count() == 1  # set apart from the model's words
        assert quote in message.locator("blockquote").first.text_content()
        shot(tab, "ui-generated")
    finally:
        context.close()


def test_embed_labels_model_text_and_shows_the_quote_it_cites(browser: object, llm_app_url: str) -> None:
    from assistant.rendering import GENERATED

    quote = _cited_quote(llm_app_url)
    context = browser.new_context(viewport={"width": 900, "height": 900})
    try:
        tab = context.new_page()
        tab.goto(llm_app_url + "/embed", wait_until="load")
        tab.locator("#question").fill(MODEL_QUESTION)
        tab.locator("#ask").click()
        answer = tab.locator(".msg.bot").first
        answer.wait_for(timeout=30000)
        assert answer.locator(".generated").text_content() == f"{GENERATED}:"
        text = answer.text_content()
        assert text.index(GENERATED) < text.index(MODEL_REPLY) < text.index(quote)
        assert quote in answer.locator("blockquote").first.text_content()
        shot(tab, "embed-generated")
    finally:
        context.close()
