"""One rendering of an answer on every channel: the chat, /embed, the CLI and ``Answer.text`` in the API.

Why one place: a clinician must never take a language model's words for the monograph's, whichever channel
shows them. Every ``Answer.text`` is written here: rule verdicts first; then either the verbatim quotes, or
the model's text under its label followed by the quotes its ``[n]`` citations point to; then the
not-covered line. The channels show ``Answer.text`` and add only decoration (a banner, a footer), so the
audit's hash of ``Answer.text`` is a hash of what was read.
"""

from __future__ import annotations

from collections.abc import Sequence

from .guardrail import render_verdicts
from .models import Generated, Quote, RuleHit

ABSTAIN_TEXT = (
    "Not covered: the Besponsa (inotuzumab ozogamicin) precautions monograph does not address this "
    "question, so no answer is given. Please check the full prescribing information or ask a "
    "pharmacist."
)
NOT_COVERED_HEADING = "Not covered by the monograph:"
RELATED_HEADING = "Related passages (they do not answer the question):"
GENERATED = "Generated summary from the quoted passages (not a quote)"
CITED_HEADING = "The quoted passages it cites, verbatim:"


def render_quotes(quotes: Sequence[Quote]) -> str:
    """A one-line lead naming the sections, then each quote verbatim with its section."""
    sections = list(dict.fromkeys(q.section for q in quotes))
    lead = "The monograph addresses this under " + _join(sections) + ":"
    return "\n\n".join([lead, *(quote_block(q) for q in quotes)])


def render_not_covered(lines: Sequence[str]) -> str:
    return f"{NOT_COVERED_HEADING} " + " ".join(lines)


def render_related(quotes: Sequence[Quote]) -> str:
    return "\n\n".join([RELATED_HEADING, *(quote_block(q) for q in quotes)])


def render_generated(hits: Sequence[RuleHit], generated: Generated, not_covered: Sequence[str]) -> str:
    """Verdicts, the label, the model's text, each cited quote under its number, the not-covered line."""
    parts = [render_verdicts(hits)] if hits else []
    parts += [f"{generated.label}:", generated.text, CITED_HEADING]
    parts += [f"[{c.number}]\n{quote_block(c.quote)}" for c in generated.citations]
    if not_covered:
        parts.append(render_not_covered(not_covered))
    return "\n\n".join(parts)


def quote_block(q: Quote) -> str:
    """A quote as Markdown block-quote lines, with its section as the last line."""
    lines = "\n".join(f"> {line}" for line in q.text.splitlines())
    return f"{lines}\n> — *{q.section}*"


def _join(items: Sequence[str]) -> str:
    if len(items) <= 1:
        return "".join(f'"{i}"' for i in items)
    return ", ".join(f'"{i}"' for i in items[:-1]) + f' and "{items[-1]}"'
