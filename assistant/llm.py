"""Optional language model: a short fluent answer from the retrieved passages, checked before it is shown.

A model can misquote, cite a passage it was not given, or say "continue" where the monograph says
discontinue. So its text is never trusted: ``CheckedWriter.write`` returns it only when
(a) every citation [k] names one of the n passages it was given, and there is at least one;
(b) every quoted span is verbatim in the monograph;
(c) every number it states appears in the passages, the rule verdicts or the question;
(d) it does not contradict a guardrail rule that fired (patterns in ``corpus/llm_checks.yaml``).
Otherwise, or when the model fails or times out, it returns ``text=None`` with the reason, and the
caller keeps the extractive answer. The rule verdicts are never the model's to write: the caller puts
them first, before whatever text is kept.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import yaml
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage

from .corpus import Corpus
from .errors import ConfigError
from .models import Passage, Quote, RuleHit
from .settings import PROJECT_ROOT, Settings

CHECKS_FILE = "llm_checks.yaml"

SYSTEM_PROMPT = """\
You help clinicians with the precautions monograph of inotuzumab ozogamicin (Besponsa).
Answer ONLY from the numbered passages you are given; they are the only source you may use.
- Cite the passage behind every statement as [1], [2], ... using only the numbers listed.
- Quote only verbatim: text inside quotation marks must be copied exactly from a passage.
- Do not add facts, doses, numbers, durations or advice that the passages do not state.
- If the passages do not answer the question, say that the monograph does not address it.
- Rule verdicts, when listed, are shown to the clinician before your answer: never contradict them
  and do not repeat them.
- At most four sentences, plain text, no headings."""

_CITATION = re.compile(r"\[([^\[\]]*\d[^\[\]]*)\]")
_CITATION_LIST = re.compile(r"^\s*\d+(?:\s*(?:,|;|-|–|and)\s*\d+)*\s*$")
_QUOTED = re.compile(r"\"([^\"]*)\"|“([^”]*)”")
_ELLIPSIS = re.compile(r"\s*(?:\.\.\.|…|\[\s*(?:\.\.\.|…)\s*\])\s*")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_SPACE = re.compile(r"\s+")


def make_chat_model(settings: Settings) -> BaseChatModel | None:
    """The OpenAI-compatible chat model the settings name (vLLM, Ollama, Azure...), or None."""
    if not settings.llm_enabled:
        return None
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(
        base_url=settings.llm_base_url,
        model=settings.llm_model,
        api_key=settings.llm_api_key or "none",  # local servers accept any key; the client needs one
        timeout=settings.llm_timeout_s,
        temperature=0,
        max_retries=0,  # a slow model falls back to the extractive answer instead of making people wait
    )


@dataclass(frozen=True)
class WriterResult:
    """The checked answer (``text``), or why it was rejected (``rejected``); never both."""

    text: str | None
    quotes: list[Quote] = field(default_factory=list)
    rejected: str | None = None


@dataclass(frozen=True)
class ContradictionChecks:
    """Phrases that contradict each rule action, from ``llm_checks.yaml``."""

    clause_separators: re.Pattern[str]
    negation: re.Pattern[str]
    negation_window_words: int
    patterns: dict[str, tuple[re.Pattern[str], ...]]

    def find(self, text: str, hits: Sequence[RuleHit]) -> str | None:
        """A rejection reason naming the first rule the text contradicts, or None."""
        clauses = self.clause_separators.split(text.lower())
        for hit in hits:
            for pattern in self.patterns.get(hit.action, ()):
                for clause in clauses:
                    for match in pattern.finditer(clause or ""):
                        before = " ".join(clause[: match.start()].split()[-self.negation_window_words :])
                        if not self.negation.search(before):
                            return f'contradicts rule {hit.rule_id}: "{clause.strip()}"'
        return None


@cache
def load_checks(corpus_dir: Path) -> ContradictionChecks:
    """Read and compile ``llm_checks.yaml``; a broken file stops start-up with its name and the fault."""
    path = corpus_dir / CHECKS_FILE
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        contradictions = data["contradictions"]
        unknown = set(contradictions) - {"discontinue", "interrupt", "limit"}
        if unknown:
            raise ConfigError(f"{path}: unknown rule actions {sorted(unknown)}")
        return ContradictionChecks(
            clause_separators=re.compile(data["clause_separators"]),
            negation=re.compile(data["negation"]),
            negation_window_words=int(data["negation_window_words"]),
            patterns={
                action: tuple(re.compile(p) for p in patterns) for action, patterns in contradictions.items()
            },
        )
    except ConfigError:
        raise
    except (OSError, yaml.YAMLError, KeyError, TypeError, ValueError, re.error) as exc:
        raise ConfigError(f"{path} is not a valid checks file: {type(exc).__name__}: {exc}") from exc


class CheckedWriter:
    """Asks the chat model for an answer from numbered passages, and shows it only if it passes."""

    def __init__(
        self, chat_model: BaseChatModel, corpus: Corpus, checks: ContradictionChecks | None = None
    ) -> None:
        self.chat_model = chat_model
        self.corpus = corpus
        self.checks = checks or load_checks(PROJECT_ROOT / "corpus")
        self._texts = [_squash(d.text) for d in corpus.documents]

    def messages(
        self, question: str, passages: Sequence[Passage], hits: Sequence[RuleHit]
    ) -> list[SystemMessage | HumanMessage]:
        """The prompt: system rules, then the numbered passages, the rule verdicts and the question."""
        numbered = "\n".join(f"[{i}] ({p.section}) {p.text}" for i, p in enumerate(passages, start=1))
        parts = [f"Passages from the monograph:\n{numbered}"]
        if hits:
            verdicts = "\n".join(f"- {h.rule_id}: {h.message}" for h in hits)
            parts.append(f"Rule verdicts already shown to the clinician:\n{verdicts}")
        parts.append(f"Question: {question}")
        return [SystemMessage(SYSTEM_PROMPT), HumanMessage("\n\n".join(parts))]

    def write(self, question: str, passages: list[Passage], hits: list[RuleHit]) -> WriterResult:
        """The model's answer if every check passes; otherwise ``text=None`` and the reason."""
        if not passages:
            return WriterResult(None, rejected="no passages to write from")
        try:
            reply = self.chat_model.invoke(self.messages(question, passages, hits))
        except Exception as exc:  # any client, network or server failure: fall back, never crash
            return WriterResult(None, rejected=f"language model unavailable: {type(exc).__name__}")
        return self.check(str(reply.text).strip(), question, passages, hits)

    def check(
        self, text: str, question: str, passages: Sequence[Passage], hits: Sequence[RuleHit]
    ) -> WriterResult:
        """Run the checks on a model answer (public so that a streamed answer can be checked at its end)."""
        if not text:
            return WriterResult(None, rejected="the language model returned no text")
        cited, reason = _citations(text, len(passages))
        reason = (
            reason
            or self._misquote(text)
            or _invented_number(text, question, passages, hits)
            or self.checks.find(text, hits)
        )
        if reason:
            return WriterResult(None, rejected=reason)
        return WriterResult(text, quotes=[Quote.of(passages[k - 1]) for k in cited])

    def _misquote(self, text: str) -> str | None:
        if text.count('"') % 2:
            return 'unbalanced quotation marks (")'
        for match in _QUOTED.finditer(text):
            span = match.group(1) if match.group(1) is not None else match.group(2)
            for fragment in _ELLIPSIS.split(span):
                if not self._is_verbatim(fragment):
                    return f"quoted text not in the monograph: {fragment.strip()[:120]!r}"
        return None

    def _is_verbatim(self, fragment: str) -> bool:
        """Exact text; only whitespace, trailing punctuation and a lower-case first letter may differ."""
        core = _squash(fragment).rstrip(",;:")
        if not core:
            return True
        variants = {core, core.rstrip("."), core[:1].upper() + core[1:]}
        return any(v and v in t for v in variants for t in self._texts)


def _squash(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


def _citations(text: str, n: int) -> tuple[list[int], str | None]:
    """Cited passage numbers in order of first citation, or why the citations are not acceptable."""
    cited: list[int] = []
    for match in _CITATION.finditer(text):
        inside = match.group(1)
        if not _CITATION_LIST.match(inside):
            return [], f"unreadable citation [{inside}]"
        for k in map(int, _NUMBER.findall(inside)):
            if not 1 <= k <= n:
                return [], f"citation [{k}] does not match any of {n} passages"
            if k not in cited:
                cited.append(k)
    if not cited:
        return [], "the answer cites no passage"
    return cited, None


def _invented_number(
    text: str, question: str, passages: Sequence[Passage], hits: Sequence[RuleHit]
) -> str | None:
    """A number the model states that none of its sources states (a dose, a duration, a threshold)."""
    sources = [question, *(p.text for p in passages), *(h.message for h in hits)]
    sources += [q.text for h in hits for q in h.quotes]
    known = {n for s in sources for n in _NUMBER.findall(s)}
    stated = _NUMBER.findall(_CITATION.sub(" ", text))
    invented = [n for n in stated if n not in known]
    return f"number not in the passages: {invented[0]}" if invented else None
