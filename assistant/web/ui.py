"""The Gradio 6 chat page. The logic is in plain functions (``respond``, ``render_*``) so tests can call
it without a server; ``build_ui`` only lays out components and wires events to those functions.

What the clinician sees for each answer: the answer with its verbatim quotes and sections; a prominent
banner naming the guardrail action ("Permanently discontinue", "Interrupt / hold", "Cycle limit") with
the rule's own quotes; a distinct "not covered by the monograph" message when the assistant abstains;
the monograph beside the chat with every quoted passage highlighted; like/dislike buttons.

Escaping: nothing a user types is ever rendered as markup. Questions are escaped for HTML and Markdown;
answer text (built by the assistant from the monograph and fixed phrases) keeps its Markdown but any
``<`` and ``&`` in it are escaped, so no HTML tag can appear either. Gradio's own sanitizer stays on.

Privacy: the conversation lives in the browser's page and in a per-tab Gradio State (memory only,
dropped when the tab closes or after an hour); nothing about it is written to disk except the audit row.
"""

from __future__ import annotations

import html
import logging
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import gradio as gr

from ..corpus import Corpus
from ..errors import IndexUnavailable, InvalidQuestion
from ..guardrail import ACTION_LABELS, CONTEXT_HEADING
from ..models import Answer, Quote, RuleHit
from ..settings import Settings
from .api import NotReady
from .signon import SignOn

if TYPE_CHECKING:
    from ..assistant import Assistant

log = logging.getLogger(__name__)

NOT_COVERED = "Not covered by the monograph"
DISCLAIMER = (
    "This assistant quotes only the Besponsa (inotuzumab ozogamicin) precautions monograph. "
    "It supports, and does not replace, clinical judgement."
)
EXAMPLE_QUESTIONS = (
    "What should I do if sinusoidal obstruction syndrome occurs?",
    "How often should liver function be monitored?",
    "What are the risk factors for hepatotoxicity?",
    "How many treatment cycles are recommended?",
    "What should I do if an infusion reaction occurs?",
    "Which tests are needed before each administration?",
)
MAX_SUGGESTIONS = 3
STATE_SECONDS = 3600  # a forgotten tab does not keep its conversation in server memory for ever

CSS = """
#guardrail-banner .guardrail { border: 3px solid #b91c1c; background: #fef2f2; color: #7f1d1d;
  border-radius: 8px; padding: 0.75rem 1rem; }
#guardrail-banner .guardrail-action { font-size: 1.25rem; font-weight: 700; text-transform: uppercase; }
#guardrail-banner blockquote { margin: 0.4rem 0 0.4rem 0.5rem; padding-left: 0.6rem;
  border-left: 3px solid #b91c1c; }
#guardrail-banner cite { display: block; font-size: 0.85rem; font-style: italic; }
#guardrail-banner .guardrail-why { font-size: 0.9rem; margin-top: 0.3rem; }
#guardrail-banner .guardrail-context { border-top: 1px dashed #b91c1c; margin-top: 0.5rem;
  font-size: 0.9rem; }
#monograph .monograph { line-height: 1.5; font-size: 0.9rem; max-height: 70vh;
  overflow-y: auto; }
#monograph mark.quoted { background: #fde68a; color: inherit; padding: 0 1px; }
#status p { color: #b45309; font-weight: 600; }
"""

# Chat convention: Enter sends (Gradio does so for a one-line box that may grow), Shift+Enter adds a
# line. After a click on Ask or a suggestion, the cursor goes back to the question box, so the next
# question can be typed at once. A plain inline script: the page's CSP allows inline, not eval.
HEAD = """<script>
document.addEventListener("click", (event) => {
  if (!event.target.closest("#ask, .suggestion")) return;
  const box = document.querySelector("#question textarea");
  if (box) setTimeout(() => box.focus(), 0);
});
</script>"""
QUESTION_MAX_LINES = 8

AssistantSource = Callable[[], "Assistant"]


# ---------------------------------------------------------------------------------------------- render
_MARKDOWN_SPECIALS = re.compile(r"([\\`*_{}\[\]()#+\-.!|~])")


def escape_text(text: str) -> str:
    """User text for a Markdown message: shown literally, never as HTML or Markdown markup."""
    return _MARKDOWN_SPECIALS.sub(r"\\\1", html.escape(text, quote=False))


def safe_markdown(text: str) -> str:
    """Assistant text keeps its Markdown (quotes, emphasis) but can carry no HTML tag."""
    return text.replace("&", "&amp;").replace("<", "&lt;")


def render_answer(answer: Answer) -> str:
    """The answer's chat message (Markdown): guardrail headline, abstention notice, then the answer.

    The text is ``Answer.text``, the rendering every channel shows (a language model's words under their
    label, with the quotes they cite); the label is set in italics here.
    """
    actions = dict.fromkeys(ACTION_LABELS[hit.action] for hit in answer.guardrail if hit.role == "verdict")
    parts = [f"**⚠ Guardrail: {' · '.join(actions)}**"] if actions else []
    if answer.abstained:
        parts.append(f"**{NOT_COVERED}.**")
    text = safe_markdown(answer.text)
    if answer.generated is not None:
        label = f"{safe_markdown(answer.generated.label)}:"
        text = "\n\n".join(f"*{p}*" if p == label else p for p in text.split("\n\n"))
    parts.append(text)
    return "\n\n".join(parts)


def render_citations(quotes: Sequence[Quote]) -> str:
    """The quotes as citations (Markdown), each with its section and character offsets."""
    lines = []
    for quote in quotes:
        body = "\n".join(f"> {safe_markdown(line)}" for line in quote.text.splitlines())
        where = f"{safe_markdown(quote.section)} · {quote.document} [{quote.start}:{quote.end}]"
        lines.append(f"{body}\n>\n> — *{where}*")
    return "\n\n".join(lines)


def render_banner(answer: Answer) -> str:
    """The guardrail banner (HTML, every text escaped); empty when no rule fired."""
    if not answer.guardrail:
        return ""
    blocks = []
    for hit in (h for h in answer.guardrail if h.role == "verdict"):
        rule = html.escape(hit.rule_id)
        quotes = "".join(
            f"<blockquote>{html.escape(q.text)}<cite>{html.escape(q.section)}</cite></blockquote>"
            for q in hit.quotes
        )
        blocks.append(
            f'<div class="guardrail-hit rule-{rule}" data-rule="{rule}" data-action="{hit.action}">'
            f'<div class="guardrail-action">⚠ {ACTION_LABELS[hit.action]}</div>'
            f"<p>{html.escape(hit.message)}</p>{quotes}{_reasons(hit)}</div>"
        )
    context = [h for h in answer.guardrail if h.role == "context"]
    if context:
        items = "".join(
            f'<li data-rule="{html.escape(h.rule_id)}">{html.escape(h.message)}{_reasons(h)}</li>'
            for h in context
        )
        blocks.append(
            f'<div class="guardrail-context"><p>{html.escape(CONTEXT_HEADING)}</p><ul>{items}</ul></div>'
        )
    return f'<div class="guardrail" role="alert">{"".join(blocks)}</div>'


def _reasons(hit: RuleHit) -> str:
    """What the guardrail read, so that a pharmacist can check the rule before acting on it."""
    if not hit.reasons:
        return ""
    items = "".join(f"<li>{html.escape(r)}</li>" for r in hit.reasons)
    return f'<div class="guardrail-why">Why this rule: <ul>{items}</ul></div>'


def _merged(spans: Sequence[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    merged: list[tuple[int, int, str]] = []
    for start, end, title in sorted(spans):
        if merged and start <= merged[-1][1]:
            last = merged[-1]
            merged[-1] = (last[0], max(last[1], end), last[2])
        else:
            merged.append((start, end, title))
    return merged


def _escaped_lines(text: str) -> str:
    return html.escape(text).replace("\n", "<br>")


def render_monograph(corpus: Corpus, quotes: Sequence[Quote] = ()) -> str:
    """Each monograph's full text (escaped) with the quoted spans marked, using the quotes' offsets.

    One line of HTML per document (newlines become <br>), so the Markdown component passes it through
    as a single HTML block and never reads the monograph's text as Markdown.
    """
    parts = []
    for doc in corpus.documents:
        spans = [(q.start, q.end, q.section) for q in quotes if q.document == doc.id]
        out, pos = [], 0
        for start, end, section in _merged(spans):
            out.append(_escaped_lines(doc.text[pos:start]))
            quoted = _escaped_lines(doc.text[start:end])
            out.append(f'<mark class="quoted" title="{html.escape(section)}">{quoted}</mark>')
            pos = end
        out.append(_escaped_lines(doc.text[pos:]))
        title = html.escape(doc.provenance.title)
        parts.append(f'<div class="monograph" data-document="{doc.id}"><h3>{title}</h3>{"".join(out)}</div>')
    return "".join(parts)


def version_line(corpus: Corpus) -> str:
    return f"Monograph version `{corpus.version[:12]}`"


# ---------------------------------------------------------------------------------------------- respond
@dataclass
class Reply:
    """The page after one question: the new chat, the state to keep, and what to show beside it."""

    chat: list[dict[str, Any]]
    turns: list[dict[str, str]]
    answer_ids: dict[int, str]
    status: str = ""
    answer: Answer | None = None
    suggestions: list[str] = field(default_factory=list)


def respond(
    bot: Assistant | AssistantSource,
    message: str,
    chat: Sequence[Any] | None = None,
    turns: Sequence[dict[str, str]] | None = None,
    answer_ids: dict[int, str] | None = None,
    *,
    channel: str = "ui",
    user: str | None = None,
) -> Reply:
    """Ask one question in the conversation so far; never raises, reports problems in ``status``.

    ``chat`` is what the Chatbot shows (escaped, with citation messages); ``turns`` is the plain
    conversation passed to the assistant as history; ``answer_ids`` maps chat positions to answer ids
    so that a like/dislike can name the answer it rates.
    """
    chat, turns, answer_ids = list(chat or []), list(turns or []), dict(answer_ids or {})
    try:
        assistant = bot() if callable(bot) else bot
        answer = assistant.ask(message, turns, channel=channel, user=user)
    except (InvalidQuestion, NotReady) as exc:
        return Reply(chat, turns, answer_ids, status=str(exc))
    except IndexUnavailable as exc:
        return Reply(chat, turns, answer_ids, status=exc.detail)
    except Exception:
        error_id = uuid.uuid4().hex[:12]
        log.exception("chat UI error %s", error_id)
        return Reply(
            chat, turns, answer_ids, status=f"Something went wrong (error id {error_id}). Please try again."
        )

    chat.append({"role": "user", "content": escape_text(message)})
    answer_at = len(chat)
    chat.append({"role": "assistant", "content": render_answer(answer)})
    if answer.quotes:
        title = f"Quoted from the monograph ({len(answer.quotes)})"
        chat.append(
            {"role": "assistant", "content": render_citations(answer.quotes), "metadata": {"title": title}}
        )
    for index in range(answer_at, len(chat)):
        answer_ids[index] = answer.id
    turns += [{"role": "user", "content": message}, {"role": "assistant", "content": answer.text}]
    return Reply(chat, turns, answer_ids, answer=answer, suggestions=answer.suggestions[:MAX_SUGGESTIONS])


def record_like(
    bot: Assistant | AssistantSource,
    answer_ids: dict[int, str],
    index: object,
    liked: object,
    user: str | None = None,
) -> str:
    """Store a like/dislike of the answer at chat position ``index``; returns the status line."""
    rating = {True: "up", False: "down"}.get(liked) if isinstance(liked, bool) else None
    position = index[0] if isinstance(index, list | tuple) else index
    answer_id = answer_ids.get(position) if isinstance(position, int) else None
    if rating is None or answer_id is None:
        return ""  # a like taken back, or a click on a question: nothing to record
    try:
        assistant = bot() if callable(bot) else bot
        assistant.audit.record_feedback(answer_id=answer_id, rating=rating, user=user)
    except Exception:
        error_id = uuid.uuid4().hex[:12]
        log.exception("feedback error %s", error_id)
        return f"Your feedback could not be saved (error id {error_id})."
    return "Thank you: your feedback was recorded."


# ---------------------------------------------------------------------------------------------- layout
def build_ui(assistant: Assistant | AssistantSource, settings: Settings) -> gr.Blocks:
    """The chat page. ``assistant`` may be a loaded Assistant or a function returning it (or raising
    NotReady while it loads). Mount it with ``gr.mount_gradio_app(..., css=CSS)``."""
    source: AssistantSource = assistant if callable(assistant) else (lambda: assistant)  # type: ignore[assignment]

    def corpus_or_none() -> Corpus | None:
        try:
            return source().corpus
        except NotReady:
            return None

    def on_load() -> tuple[str, str, str]:
        corpus = corpus_or_none()
        if corpus is None:
            return "", "", "The assistant is still starting. Please reload the page in a moment."
        return version_line(corpus), render_monograph(corpus), ""

    signon = SignOn(settings)

    def user_of(request: gr.Request | None) -> str | None:
        if request is None:
            return None
        return signon.user(request.client.host if request.client else None, request.headers)

    def on_ask(
        message: str,
        chat: list[Any],
        turns: list[dict[str, str]],
        ids: dict[int, str],
        request: gr.Request,
    ) -> tuple:
        reply = respond(source, message, chat, turns, ids, user=user_of(request))
        corpus = corpus_or_none()
        if reply.answer is None:
            return (reply.chat, message, reply.status, gr.update(), gr.update(), turns, ids, *_buttons([]))
        banner = render_banner(reply.answer)
        return (
            reply.chat,
            "",
            "",
            gr.update(value=banner, visible=bool(banner)),
            render_monograph(corpus, reply.answer.quotes) if corpus else "",
            reply.turns,
            reply.answer_ids,
            *_buttons(reply.suggestions),
        )

    def on_like(ids: dict[int, str], data: gr.LikeData, request: gr.Request) -> str:
        return record_like(source, ids, data.index, data.liked, user=user_of(request))

    def on_clear() -> tuple:
        corpus = corpus_or_none()
        monograph = render_monograph(corpus) if corpus else ""
        return ([], "", "", gr.update(value="", visible=False), monograph, [], {}, *_buttons([]))

    with gr.Blocks(title="Besponsa precautions assistant", analytics_enabled=False) as demo:
        gr.Markdown("## Besponsa (inotuzumab ozogamicin) precautions assistant")
        gr.Markdown(DISCLAIMER, elem_id="disclaimer")
        version = gr.Markdown(elem_id="monograph-version")
        turns = gr.State([], time_to_live=STATE_SECONDS)
        ids = gr.State({}, time_to_live=STATE_SECONDS)
        with gr.Row():
            with gr.Column(scale=3):
                # Markdown, not gr.HTML: Gradio 6's HTML component compiles templates with eval, which
                # the page's Content-Security-Policy forbids. Both panels are escaped HTML blocks.
                banner = gr.Markdown(visible=False, elem_id="guardrail-banner", sanitize_html=True)
                chatbot = gr.Chatbot(
                    label="Conversation",
                    elem_id="chat",
                    height=520,
                    sanitize_html=True,
                    render_markdown=True,
                    allow_tags=False,
                    latex_delimiters=[],
                    feedback_options=("Like", "Dislike"),
                    buttons=["copy"],
                    placeholder="Ask about precautions, monitoring or management with Besponsa.",
                )
                status = gr.Markdown(elem_id="status")
                with gr.Row():
                    question = gr.Textbox(
                        label="Your question",
                        placeholder=f"Type a question (up to {settings.max_question_chars} characters)",
                        lines=1,  # Enter sends; Shift+Enter adds a line and the box grows
                        max_lines=QUESTION_MAX_LINES,
                        autofocus=True,
                        scale=5,
                        elem_id="question",
                    )
                    send = gr.Button("Ask", variant="primary", scale=1, elem_id="ask")
                with gr.Row():
                    suggestions = [
                        gr.Button(visible=False, size="sm", elem_classes=["suggestion"])
                        for _ in range(MAX_SUGGESTIONS)
                    ]
                gr.Examples(
                    examples=[[q] for q in EXAMPLE_QUESTIONS],
                    inputs=[question],
                    label="Example questions",
                    cache_examples=False,
                )
                clear = gr.Button("New conversation", size="sm", elem_id="clear")
            with gr.Column(scale=2), gr.Accordion("Monograph (quoted passages highlighted)", open=True):
                monograph = gr.Markdown(elem_id="monograph", sanitize_html=True, latex_delimiters=[])

        outputs = [chatbot, question, status, banner, monograph, turns, ids, *suggestions]
        events = {"api_visibility": "private", "concurrency_limit": None}
        question.submit(on_ask, [question, chatbot, turns, ids], outputs, **events)
        send.click(on_ask, [question, chatbot, turns, ids], outputs, **events)
        for button in suggestions:
            button.click(on_ask, [button, chatbot, turns, ids], outputs, **events)
        chatbot.like(on_like, [ids], [status], **events)
        clear.click(on_clear, None, outputs, **events)
        chatbot.clear(on_clear, None, outputs, **events)
        demo.load(on_load, None, [version, monograph, status], **events)
    return demo


def _buttons(texts: Sequence[str]) -> list[Any]:
    texts = list(texts)[:MAX_SUGGESTIONS]
    return [
        gr.update(value=texts[i], visible=True) if i < len(texts) else gr.update(visible=False)
        for i in range(MAX_SUGGESTIONS)
    ]
