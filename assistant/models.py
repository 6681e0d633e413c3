"""Data shared by every stage: passages of the corpus, quotes, guardrail hits and answers."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Action = Literal["discontinue", "interrupt", "limit"]


class Passage(BaseModel):
    """One retrievable unit of a monograph: a sentence, or a whole list (lead-in plus items)."""

    model_config = ConfigDict(frozen=True)

    id: str
    document: str
    heading_path: tuple[str, ...]
    kind: Literal["sentence", "list"]
    text: str
    start: int
    end: int
    items: tuple[tuple[int, int], ...] = ()

    @property
    def section(self) -> str:
        """The innermost heading: what a clinician calls the section."""
        return self.heading_path[-1]

    @property
    def search_text(self) -> str:
        """What retrieval matches: the section title gives a lone sentence its topic."""
        return f"{self.section}: {self.text}"

    @property
    def vector_texts(self) -> list[tuple[str, str]]:
        """(entry id, text) pairs to embed: the passage with and without its section title, and each list
        item under the list's lead-in, with and without the section title.

        A long list embeds as a blur; "Is advanced age a risk factor?" must still find its one item, and "does
        the conditioning regimen matter?" its item, which the section title pulls away (0.16 against 0.41
        without it). The lead-in stays: alone, "previous sinusoidal obstruction syndrome" is as close to "SOS
        confirmed, continue?" as the rule that answers it.
        """
        # The sentence alone as well: a section title unrelated to the sentence ("Increased Non-Relapse
        # Mortality After Transplantation" above the cycle limit) pulls its vector away from the question.
        entries = [(self.id, self.search_text), (f"{self.id}#text", self.text)]
        if self.items:
            lead = self.text[: self.items[0][0] - self.start]
            for number, (start, end) in enumerate(self.items, 1):
                item = self.text[start - self.start : end - self.start]
                text = item if number == 1 else lead + item
                entries.append((f"{self.id}#{number}", f"{self.section}: {text}"))
                if number > 1:
                    entries.append((f"{self.id}#{number}.text", text))
        return entries


class Quote(BaseModel):
    """A verbatim span of a monograph: ``source_text[start:end] == text``."""

    model_config = ConfigDict(frozen=True)

    text: str
    document: str
    section: str
    start: int
    end: int

    @classmethod
    def of(cls, passage: Passage) -> Quote:
        return cls(
            text=passage.text,
            document=passage.document,
            section=passage.section,
            start=passage.start,
            end=passage.end,
        )


def unique_quotes(quotes: Iterable[Quote]) -> list[Quote]:
    """Each monograph span once, first occurrence first: a rule and a passage often quote one sentence."""
    spans: dict[tuple[str, int, int], Quote] = {}
    for quote in quotes:
        spans.setdefault((quote.document, quote.start, quote.end), quote)
    return list(spans.values())


class RuleHit(BaseModel):
    """A guardrail rule that fired, with the words that made it fire and what they were read as.

    ``role``: "verdict" is shown as a rule to act on; "context" is a weaker rule that also applies but is
    shown under a permanent discontinuation, never beside it.
    """

    rule_id: str
    action: Action
    message: str
    quotes: list[Quote]
    triggers: list[str] = Field(default_factory=list)
    reasons: list[str] = Field(default_factory=list)
    role: Literal["verdict", "context"] = "verdict"


class Citation(BaseModel):
    """One ``[number]`` in a language model's text and the verbatim quote it points to."""

    number: int
    quote: Quote


class Generated(BaseModel):
    """The part of an answer a language model wrote: checked, but never a quote.

    ``Answer.text`` already shows it under ``label`` with the quotes of its citations; this field is for an
    integrator who lays an answer out itself and must label the model's words the same way.
    """

    label: str
    text: str
    model: str
    citations: list[Citation]


class Answer(BaseModel):
    """What the assistant tells the clinician, and everything needed to audit it."""

    id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    text: str
    quotes: list[Quote] = Field(default_factory=list)
    guardrail: list[RuleHit] = Field(default_factory=list)
    abstained: bool = False
    # What the question asks that the monograph does not give, one sentence each ("The monograph does not
    # mention ursodiol."); empty when everything asked is covered.
    not_covered: list[str] = Field(default_factory=list)
    # Passages offered when abstaining: close in meaning, but they do NOT answer the question.
    related: list[Quote] = Field(default_factory=list)
    corpus_version: str
    rules_version: str = ""  # SHA-256 of the guardrail's rules and lab-limits files
    suggestions: list[str] = Field(default_factory=list)
    # Set only when a language model wrote part of ``text``: which words are generated, and what they cite.
    generated: Generated | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)

    def shown_quotes(self) -> list[Quote]:
        """Every span the clinician saw: the answer's quotes, then the guardrail's, without repeats."""
        return unique_quotes([*self.quotes, *(q for hit in self.guardrail for q in hit.quotes)])

    @property
    def sections(self) -> list[str]:
        """Sections quoted, in order of first appearance."""
        return list(dict.fromkeys(q.section for q in self.quotes))
