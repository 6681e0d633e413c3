"""Compose the extractive answer from retrieved passages, or abstain.

Answerability is judged from the question's own clinical words, not a list of banned topics:
- the question must name something the monograph knows (``Expansion.terms``);
- the selected passages must cover enough of the question's words, weighted by how rare each word is
  in the monograph (IDF); words the monograph never uses (``Expansion.unknown``: "pregnancy",
  "mg/m2", another drug's name) count against coverage at the highest weight;
- the best passage must also be close in meaning (cosine similarity of the embeddings);
- a question that asks for a kind of answer the quoted passages do not contain (a dose amount, an
  infusion rate: ``corpus/answer_types.yaml``) is not answered by passages that merely share its words.
The thresholds live in ``Calibration`` and were calibrated on development questions (see evals/).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError, field_validator

from .corpus import Corpus, read_yaml, stem, words
from .errors import CorpusError
from .models import Quote
from .retrieval import Expansion, Scored

HEADING_CREDIT = 0.5  # a word only in a passage's section title
CONTEXT_CREDIT = 0.1  # a finding the question rules out ("no signs of SOS") still hints at the topic
ABSTAIN_TEXT = (
    "Not covered: the Besponsa (inotuzumab ozogamicin) precautions monograph does not address this "
    "question, so no answer is given. Please check the full prescribing information or ask a "
    "pharmacist."
)


@dataclass(frozen=True)
class Calibration:
    """Thresholds of the answerability test and of answer focus."""

    min_coverage: float = 0.5  # the quoted passages must contain MORE than this share of the question
    min_best_coverage: float = 0.4  # ... and the best one alone at least this share (a "rate" found
    # in a mortality sentence does not answer "infusion rate")
    min_similarity: float = 0.34  # cosine similarity of the best quoted passage to the question
    keep_coverage: float = 0.6  # a passage is quoted if it covers this share of the best passage's coverage
    keep_similarity_gap: float = 0.2  # ... and is at most this much less similar than the best one
    max_quotes: int = 3


class AnswerType(BaseModel):
    """A kind of answer a question may ask for (``corpus/answer_types.yaml``)."""

    model_config = ConfigDict(extra="forbid")

    description: str
    asks: re.Pattern[str]
    answer: re.Pattern[str]

    @field_validator("asks", "answer", mode="before")
    @classmethod
    def _compile(cls, value: object) -> object:
        return re.compile(value, re.IGNORECASE) if isinstance(value, str) else value


def load_answer_types(path: Path) -> dict[str, AnswerType]:
    """Read the answer types; a broken file stops start-up (CorpusError naming it)."""
    data = read_yaml(path, CorpusError)
    try:
        return TypeAdapter(dict[str, AnswerType]).validate_python(data)
    except (ValidationError, re.error) as exc:
        raise CorpusError(f"{path.name} is not a valid answer-types file: {exc}") from exc


@dataclass(frozen=True)
class Draft:
    """The answer before the guardrail verdicts are put in front of it."""

    text: str
    quotes: list[Quote]
    abstained: bool
    diagnostics: dict[str, float | int | str] = field(default_factory=dict)


class Composer:
    """Turns ranked passages into a focused, quoted answer. Pure; built once per corpus."""

    def __init__(
        self,
        corpus: Corpus,
        subject_words: Sequence[str],
        answer_types: Mapping[str, AnswerType] | None = None,
        calibration: Calibration | None = None,
    ) -> None:
        self.calibration = calibration or Calibration()
        self._answer_types = dict(answer_types or {})
        self._subject_words = [w for w in subject_words if w in corpus.vocabulary]
        # A word in the passage itself counts fully; a word only in its section title counts half.
        self._stems: dict[str, dict[str, float]] = {}
        for p in corpus.passages:
            weights = dict.fromkeys((stem(w) for w in words(p.section)), HEADING_CREDIT)
            weights.update(dict.fromkeys((stem(w) for w in words(p.text)), 1.0))
            self._stems[p.id] = weights
        df = Counter(s for stems in self._stems.values() for s in stems)
        n = len(corpus.passages)
        self._idf = {s: math.log(1 + n / count) for s, count in df.items()}
        self._unknown_weight = math.log(1 + n)

    def _weighted(self, expansion: Expansion) -> list[tuple[list[frozenset[str]], float]]:
        """Each concept as its alternatives' stems and a weight.

        A phrase weighs as its rarest word; a concept with alternatives ("monitor | check") as its most
        common alternative, since any of them satisfies it.
        """
        concepts = expansion.concepts
        if not concepts and expansion.subject and not expansion.unknown:
            concepts = [(tuple(self._subject_words),)]  # "What is Besponsa?": the drug is the topic
        out = []
        for concept in concepts + expansion.context:
            alternatives = [frozenset(stem(w) for w in phrase) for phrase in concept]
            weight = min(max(self._idf.get(s, self._unknown_weight) for s in a) for a in alternatives)
            credit = CONTEXT_CREDIT if concept in expansion.context else 1.0
            out.append((alternatives, weight * credit))
        return out

    def compose(self, expansion: Expansion, ranked: Sequence[Scored], question: str = "") -> Draft:
        """Quote the passages that answer ``question`` (as expanded), or abstain."""
        cal = self.calibration
        wanted = self._weighted(expansion)
        total = sum(w for _, w in wanted) + self._unknown_weight * len(expansion.unknown)
        if not (expansion.concepts or expansion.subject) or not ranked:
            return _abstain("no clinical term of the monograph in the question")

        def coverage(stems: Mapping[str, float]) -> float:
            """Weighted share of the question's concepts found in credited stems (partial credit)."""
            found = (max(sum(stems.get(s, 0.0) for s in a) / len(a) for a in alts) for alts, _ in wanted)
            return sum(w * f for (_, w), f in zip(wanted, found, strict=True)) / total

        candidates = [(coverage(self._stems[s.passage.id]), s) for s in ranked]
        candidates = [(c, s) for c, s in candidates if c > 0]
        if not candidates:
            return _abstain("no retrieved passage contains the question's terms")
        close = [(c, s) for c, s in candidates if s.dense >= cal.min_similarity]
        if not close:
            best = max(s.dense for _, s in candidates)
            return _abstain("no passage is close enough in meaning", {"similarity": round(best, 3)})
        candidates = close
        best_cov, best = max(candidates, key=lambda cs: (cs[0] + cs[1].dense, cs[1].score))
        others = sorted(
            (
                (c, s)
                for c, s in candidates
                if s is not best
                and c >= cal.keep_coverage * best_cov
                and s.dense >= best.dense - cal.keep_similarity_gap
            ),
            key=lambda cs: (-(cs[0] + cs[1].dense), cs[1].passage.id),
        )
        chosen = [best, *(s for _, s in others)][: cal.max_quotes]
        union: dict[str, float] = {}
        for s in chosen:
            for word, credit in self._stems[s.passage.id].items():
                union[word] = max(credit, union.get(word, 0.0))
        question_coverage = coverage(union)
        diagnostics: dict[str, float | int | str] = {
            "coverage": round(question_coverage, 3),
            "best_coverage": round(best_cov, 3),
            "similarity": round(best.dense, 3),
            "concepts": len(wanted),
            "unknown_terms": len(expansion.unknown),
        }
        if question_coverage <= cal.min_coverage or best_cov < cal.min_best_coverage:
            return _abstain("the monograph's passages cover too little of the question", diagnostics)
        for name, kind in self._answer_types.items():
            if kind.asks.search(question) and not any(kind.answer.search(s.passage.text) for s in chosen):
                return _abstain(f"the question asks for {kind.description}", {**diagnostics, "asks": name})
        quotes = [Quote.of(s.passage) for s in sorted(chosen, key=lambda s: s.passage.start)]
        return Draft(text=render_quotes(quotes), quotes=quotes, abstained=False, diagnostics=diagnostics)


def render_quotes(quotes: Sequence[Quote]) -> str:
    """A one-line lead naming the sections, then each quote verbatim with its section."""
    sections = list(dict.fromkeys(q.section for q in quotes))
    lead = "The monograph addresses this under " + _join(sections) + ":"
    blocks = []
    for q in quotes:
        lines = "\n".join(f"> {line}" for line in q.text.splitlines())
        blocks.append(f"{lines}\n> — *{q.section}*")
    return "\n\n".join([lead, *blocks])


def _join(items: Sequence[str]) -> str:
    if len(items) <= 1:
        return "".join(f'"{i}"' for i in items)
    return ", ".join(f'"{i}"' for i in items[:-1]) + f' and "{items[-1]}"'


def _abstain(reason: str, diagnostics: dict[str, float | int | str] | None = None) -> Draft:
    return Draft(
        text=ABSTAIN_TEXT,
        quotes=[],
        abstained=True,
        diagnostics={**(diagnostics or {}), "abstain_reason": reason},
    )
