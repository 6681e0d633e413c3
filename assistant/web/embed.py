"""GET /embed: a compact chat page for an ``<iframe>`` on intranet pages.

Same engine and guardrail as everything else: the page only calls ``POST api/ask`` and
``POST api/feedback`` of this app (relative URLs, so it also works behind a path prefix). Which pages
may frame it is the CSP ``frame-ancestors`` list (``Settings.allowed_origins``).

Everything the server or the user supplies is put in the page with ``textContent`` and
``createElement``, never ``innerHTML``; the one inline script runs under a per-response nonce, so
``script-src`` allows nothing else. The conversation lives only in the page's memory.
"""

from __future__ import annotations

import json
import secrets

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from ..guardrail import ACTION_LABELS, CONTEXT_HEADING
from ..rendering import GENERATED
from ..settings import Settings
from .security import content_security_policy
from .ui import DISCLAIMER, NOT_COVERED

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Besponsa precautions assistant</title>
<style nonce="__NONCE__">
  body { font: 14px/1.45 system-ui, sans-serif; margin: 0; color: #111827; background: #fff; }
  main { display: flex; flex-direction: column; height: 100vh; box-sizing: border-box; padding: 8px; }
  #log { flex: 1; overflow-y: auto; border: 1px solid #d1d5db; border-radius: 6px; padding: 6px; }
  .msg { margin: 6px 0; padding: 6px 8px; border-radius: 6px; }
  .user { white-space: pre-wrap; }
  .text p { margin: 4px 0; }
  .user { background: #eef2ff; margin-left: 20%; }
  .bot { background: #f9fafb; border: 1px solid #e5e7eb; }
  .banner { border: 2px solid #b91c1c; background: #fef2f2; color: #7f1d1d; padding: 6px 8px;
            border-radius: 6px; margin-bottom: 6px; }
  .banner .action { font-weight: 700; text-transform: uppercase; }
  .why { font-size: 0.85rem; margin-top: 4px; }
  .context { border: 1px dashed #b91c1c; padding: 4px 8px; margin: 6px 0; font-size: 0.9rem; }
  .abstained { border: 2px dashed #6b7280; background: #f3f4f6; padding: 6px 8px; border-radius: 6px;
               margin-bottom: 6px; font-weight: 600; }
  blockquote { margin: 4px 0 4px 4px; padding-left: 8px; border-left: 3px solid #9ca3af; }
  cite { display: block; font-size: 12px; color: #4b5563; }
  .generated { font-style: italic; font-weight: 600; color: #92400e; }
  .problem { color: #b45309; font-weight: 600; }
  form { display: flex; gap: 6px; margin-top: 6px; }
  textarea { flex: 1; resize: none; font: inherit; padding: 4px; }
  button { font: inherit; cursor: pointer; }
  .tools button { margin-right: 4px; }
  .suggestions button { margin: 2px 4px 2px 0; }
  footer { font-size: 11px; color: #6b7280; margin-top: 4px; }
</style>
</head>
<body>
<main>
  <div id="log" aria-live="polite"></div>
  <form id="ask-form">
    <textarea id="question" rows="2" aria-label="Your question"
      placeholder="Ask about Besponsa precautions (up to __MAX__ characters)"></textarea>
    <button id="ask" type="submit">Ask</button>
  </form>
  <footer><span id="disclaimer"></span> <span id="version"></span></footer>
</main>
<script nonce="__NONCE__">
"use strict";
const MAX = __MAX__;
const HISTORY_MESSAGES = __HISTORY_MESSAGES__;  // Settings.history_turns user turns and their answers
const ACTIONS = __ACTIONS__;
const NOT_COVERED = __NOT_COVERED__;
const GENERATED = __GENERATED__;
const CONTEXT_HEADING = __CONTEXT_HEADING__;
const history = [];
const log = document.getElementById("log");
const form = document.getElementById("ask-form");
const box = document.getElementById("question");
document.getElementById("disclaimer").textContent = __DISCLAIMER__;

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  return node;
}
function quoteBlock(q) {
  const block = el("blockquote", "quote", q.text);
  block.appendChild(el("cite", null, q.section));
  return block;
}
function reasons(hit) {
  const box = el("div", "why");
  if (!hit.reasons || !hit.reasons.length) return box;
  box.appendChild(el("span", null, "Why this rule:"));
  const list = el("ul");
  hit.reasons.forEach(r => list.appendChild(el("li", null, r)));
  box.appendChild(list);
  return box;
}
function say(cls, text) {
  const node = el("div", "msg " + cls, text);
  log.appendChild(node);
  log.scrollTop = log.scrollHeight;
  return node;
}
function problem(text) { say("problem", text); }

// The answer text is Markdown; show its "> " quote lines as blockquotes, everything else as
// paragraphs, all through textContent (no Markdown or HTML is ever interpreted). The label over a
// language model's words is set apart, as in the chat.
function answerText(text) {
  const box = el("div", "text");
  let quote = null;
  for (const line of text.split("\\n")) {
    if (line.startsWith("> ")) {
      if (!quote) { quote = el("blockquote"); box.appendChild(quote); }
      const body = line.slice(2);
      const source = body.match(/^\\u2014 \\*(.*)\\*$/);
      quote.appendChild(source ? el("cite", null, "\\u2014 " + source[1]) : el("div", null, body));
    } else {
      quote = null;
      if (line === GENERATED + ":") box.appendChild(el("p", "generated", line));
      else if (line.trim()) box.appendChild(el("p", null, line));
    }
  }
  return box;
}

async function feedback(answerId, rating, tools) {
  const res = await fetch("api/feedback", {
    method: "POST",
    headers: {"Content-Type": "application/json"},
    body: JSON.stringify({answer_id: answerId, rating: rating}),
  });
  const note = res.ok ? "Thank you: feedback recorded." : "Feedback not saved.";
  tools.replaceChildren(el("span", "thanks", note));
}

function showAnswer(a) {
  const node = el("div", "msg bot");
  node.dataset.answerId = a.id;
  for (const hit of a.guardrail.filter(h => h.role !== "context")) {
    const banner = el("div", "banner");
    banner.setAttribute("role", "alert");
    banner.dataset.rule = hit.rule_id;
    banner.appendChild(el("div", "action", "\\u26a0 " + (ACTIONS[hit.action] || hit.action)));
    banner.appendChild(el("div", null, hit.message));
    hit.quotes.forEach(q => banner.appendChild(quoteBlock(q)));
    banner.appendChild(reasons(hit));
    node.appendChild(banner);
  }
  const context = a.guardrail.filter(h => h.role === "context");
  if (context.length) {
    const box = el("div", "context", CONTEXT_HEADING);
    const list = el("ul");
    for (const hit of context) {
      const item = el("li", null, hit.message);
      item.dataset.rule = hit.rule_id;
      item.appendChild(reasons(hit));
      list.appendChild(item);
    }
    box.appendChild(list);
    node.appendChild(box);
  }
  if (a.abstained) node.appendChild(el("div", "abstained", NOT_COVERED + "."));
  node.appendChild(answerText(a.text));
  const tools = el("div", "tools");
  for (const [label, rating] of [["Helpful", "up"], ["Not helpful", "down"]]) {
    const b = el("button", "rate-" + rating, label);
    b.type = "button";
    b.addEventListener("click", () => feedback(a.id, rating, tools));
    tools.appendChild(b);
  }
  node.appendChild(tools);
  if (a.suggestions && a.suggestions.length) {
    const row = el("div", "suggestions");
    for (const s of a.suggestions.slice(0, 3)) {
      const b = el("button", null, s);
      b.type = "button";
      b.addEventListener("click", () => ask(s));
      row.appendChild(b);
    }
    node.appendChild(row);
  }
  log.appendChild(node);
  log.scrollTop = log.scrollHeight;
  document.getElementById("version").textContent = "Monograph version " + a.corpus_version.slice(0, 12);
}

// The cursor stays in the question box after every answer or error, ready for the next question.
async function ask(question) {
  try { await send(question); } finally { box.focus(); }
}

async function send(question) {
  if (!question.trim()) { problem("Please type a question."); return; }
  if (question.length > MAX) {
    problem("The question is " + question.length + " characters long; the limit is " + MAX + ".");
    return;
  }
  say("user", question);
  box.value = "";
  let res;
  try {
    res = await fetch("api/ask", {
      method: "POST",
      headers: {"Content-Type": "application/json", "X-Assistant-Channel": "embed"},
      body: JSON.stringify({question: question, history: history.slice(-HISTORY_MESSAGES)}),
    });
  } catch (e) {
    problem("The assistant cannot be reached. Please try again.");
    return;
  }
  let body = null;
  try { body = await res.json(); } catch (e) { body = null; }
  if (res.ok && body) {
    showAnswer(body);
    history.push({role: "user", content: question}, {role: "assistant", content: body.text});
    return;
  }
  const detail = body && body.detail;
  const text = Array.isArray(detail) ? detail.map(d => d.msg).join(" ") : (detail || "Something went wrong.");
  problem(text + (body && body.error_id ? " (error id " + body.error_id + ")" : ""));
}

form.addEventListener("submit", (event) => { event.preventDefault(); ask(box.value); });
box.addEventListener("keydown", (event) => {
  // Enter sends, Shift+Enter adds a line; not while an input method is composing a character.
  if (event.key !== "Enter" || event.shiftKey || event.isComposing) return;
  event.preventDefault();
  ask(box.value);
});
</script>
</body>
</html>
"""


def _js_string(value: object) -> str:
    """A JSON literal safe inside a <script> element (no "</script>" or "<!--" can appear in it)."""
    return json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def embed_router(settings: Settings) -> APIRouter:
    router = APIRouter()
    page = (
        _PAGE.replace("__MAX__", str(settings.max_question_chars))
        .replace("__HISTORY_MESSAGES__", str(2 * settings.history_turns))
        .replace("__ACTIONS__", _js_string(ACTION_LABELS))
        .replace("__NOT_COVERED__", _js_string(NOT_COVERED))
        .replace("__GENERATED__", _js_string(GENERATED))
        .replace("__CONTEXT_HEADING__", _js_string(CONTEXT_HEADING))
        .replace("__DISCLAIMER__", _js_string(DISCLAIMER))
    )

    @router.get("/embed", response_class=HTMLResponse, include_in_schema=False)
    def embed() -> HTMLResponse:
        nonce = secrets.token_urlsafe(16)
        csp = content_security_policy(
            settings.allowed_origins, script=f"'nonce-{nonce}'", style=f"'nonce-{nonce}'"
        )
        return HTMLResponse(
            page.replace("__NONCE__", nonce),
            headers={"Content-Security-Policy": csp, "Cache-Control": "no-store"},
        )

    return router
