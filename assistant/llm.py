"""Optional language model: a short fluent answer from the retrieved passages, checked before it is shown.

A model can misquote, cite a passage it was not given, or say "continue" where the monograph says
discontinue. So its text is never trusted: ``CheckedWriter.write`` returns it only when
(a) it cannot pass for something it is not: no blockquote or heading line, no link or URL, no rule
    verdict look-alike ("[rule", "Permanently discontinue", "Interrupt / hold", "Cycle limit");
(b) every citation is a plain [k] naming one of the n passages it was given, and there is at least one;
(c) every quoted span, in any quotation style ("…", “…”, '…', ‘…’, «…», ‹…›, „…“, 「…」), is verbatim in
    the monograph, and no quotation mark is left unbalanced;
(d) every number it states, in digits or in words ("five hundred"), appears in the passages, the rule
    verdicts or the question (limit: words too common in ordinary prose, such as "one", "first" or
    "once", are not read as numbers on their own; ``corpus/llm_checks.yaml`` lists the words read);
(e) it does not contradict a guardrail rule that fired (patterns in ``corpus/llm_checks.yaml``).
Otherwise, or when the model fails or times out, it returns ``text=None`` with the reason, and the
caller keeps the extractive answer. A pattern list cannot catch every contradiction, so the caller does
not ask the model at all when a rule fired (check (e) is defence in depth); the rule verdicts are never
the model's to write.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage

from .corpus import Corpus
from .data import read_yaml
from .errors import ConfigError
from .guardrail import ACTION_LABELS
from .models import Passage, Quote, RuleHit
from .settings import Settings

CHECKS_FILE = "llm_checks.yaml"
SKIPPED_RULE_FIRED = "a guardrail rule fired: the rule is shown in the monograph's words"
SKIPPED_ABSTAINED = "no passage answers the question: nothing to write from"
SKIPPED_NO_MODEL = "no language model is configured"

SYSTEM_PROMPT = """\
You help clinicians with the precautions monograph of inotuzumab ozogamicin (Besponsa).
Answer ONLY from the numbered passages you are given; they are the only source you may use.
- Cite the passage behind every statement as [1], [2], ... using only the numbers listed, one number
  per pair of brackets, and no other square brackets.
- Quote only verbatim: text inside quotation marks must be copied exactly from a passage.
- Do not add facts, doses, numbers, durations or advice that the passages do not state.
- If the passages do not answer the question, say that the monograph does not address it.
- Rule verdicts, when listed, are shown to the clinician before your answer: never contradict them
  and do not repeat them.
- At most four sentences, plain text: no headings, block quotes, links or other formatting."""

_CITATION = re.compile(r"\[(\d+)\]")
_BRACKETED_ELLIPSIS = re.compile(r"\[\s*(?:\.\.\.|…)\s*\]")
_STRAY_BRACKET = re.compile(r"\[[^\[\]\n]{0,40}\]?|\]")
# Quoted spans in every quotation style a model may use; each alternative captures its span.
_QUOTED = re.compile(
    r'"([^"]*)"|“([^“”]*)”|„([^„“”]*)[“”]|«([^«»]*)»|‹([^‹›]*)›|「([^「」]*)」|『([^『』]*)』|`([^`]*)`'
    r"|‘(.*?)’(?!\w)"  # ’ inside a word is an apostrophe: ‘don’t stop’
    r"|(?<![\w'’])'(?=\S)(.*?\S)'(?!\w)"  # likewise: 'the patient's liver'
)
# A quotation mark left once the quoted spans are taken out: unbalanced, or a style not checked above.
_QUOTE_MARK = re.compile(r"[\"“”„‟«»‹›「」『』`‘‚‛＂〝〞❝❞]|(?<!\w)['’](?=\w)")
_ELLIPSIS = re.compile(r"\s*(?:\.\.\.|…|\[\s*(?:\.\.\.|…)\s*\])\s*")
# Text that could pass for something the model must not write: a blockquote or heading line (the
# monograph quotes and verdict banners), a link or URL, a rule tag like the verdicts' "[rule sos]".
_MARKUP_LINE = re.compile(r"^[ \t]*([>#])", re.MULTILINE)
_LINK = re.compile(
    r"\]\s*\(|\b(?:https?|ftp|file|mailto|javascript|vbscript|data):\S|\bwww\.\w", re.IGNORECASE
)
_RULE_TAG = re.compile(r"\[\s*rule\b", re.IGNORECASE)
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
    """The checked answer (``text``), or why it was rejected (``rejected``); never both.

    ``cited``: the passage numbers the text cites, in order of first citation; ``quotes``: their quotes.
    """

    text: str | None
    quotes: list[Quote] = field(default_factory=list)
    rejected: str | None = None
    cited: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class WriterChecks:
    """What ``llm_checks.yaml`` tells the checks: phrases that contradict each rule action, and the
    spelled-out numbers to read ("five hundred") with their values."""

    clause_separators: re.Pattern[str]
    negation: re.Pattern[str]
    negation_window_words: int
    patterns: dict[str, tuple[re.Pattern[str], ...]]
    number_words: dict[str, float]  # every number word, with the prose words
    prose_number_words: frozenset[str]  # "one", "first": numbers only inside a run ("twenty-one")
    number_run: re.Pattern[str]  # one or more number words in a row: "twenty-five", "five hundred"

    def contradiction(self, text: str, hits: Sequence[RuleHit]) -> str | None:
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

    def spelled_numbers(self, text: str) -> list[tuple[str, str]]:
        """Each run of number words in the text, as written and as digits: ("five hundred", "500")."""
        found = []
        for match in self.number_run.finditer(text):
            words = re.split(r"[\s-]+", match.group(0).lower())
            if set(words) <= self.prose_number_words:
                continue
            total = current = 0.0
            for word in words:
                value = self.number_words[word]
                if value >= 1000:  # "two thousand": a scale closes the group before it
                    total, current = total + (current or 1) * value, 0.0
                elif value == 100:  # "five hundred"
                    current = (current or 1) * value
                else:  # "twenty five", "twenty-third"
                    current += value
            found.append((match.group(0), _digits(total + current)))
        return found


def _digits(value: float) -> str:
    return str(int(value)) if value.is_integer() else str(value)


@cache
def load_checks(corpus_dir: Path) -> WriterChecks:
    """Read and compile ``llm_checks.yaml``; a broken file stops start-up with its name and the fault."""
    path = corpus_dir / CHECKS_FILE
    try:
        data = read_yaml(path, ConfigError)
        contradictions = data["contradictions"]
        unknown = set(contradictions) - {"discontinue", "interrupt", "limit"}
        if unknown:
            raise ConfigError(f"{path}: unknown rule actions {sorted(unknown)}")
        patterns = {action: tuple(map(re.compile, regexes)) for action, regexes in contradictions.items()}
        prose = {str(w).lower(): float(v) for w, v in data["prose_number_words"].items()}
        number_words = {**prose, **{str(w).lower(): float(v) for w, v in data["number_words"].items()}}
        word = "|".join(sorted(map(re.escape, number_words), key=len, reverse=True))
        return WriterChecks(
            clause_separators=re.compile(data["clause_separators"]),
            negation=re.compile(data["negation"]),
            negation_window_words=int(data["negation_window_words"]),
            patterns=patterns,
            number_words=number_words,
            prose_number_words=frozenset(prose),
            number_run=re.compile(rf"\b(?:{word})(?:[\s-]+(?:{word}))*\b", re.IGNORECASE),
        )
    except ConfigError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, re.error) as exc:
        raise ConfigError(f"{path} is not a valid checks file: {type(exc).__name__}: {exc}") from exc


class CheckedWriter:
    """Asks the chat model for an answer from numbered passages, and shows it only if it passes."""

    def __init__(self, chat_model: BaseChatModel, corpus: Corpus, checks: WriterChecks) -> None:
        """``checks``: ``load_checks(settings.corpus_dir)``, from the same folder as the corpus."""
        self.chat_model = chat_model
        self.corpus = corpus
        self.checks = checks
        self._texts = [_squash(d.text) for d in corpus.documents]

    @property
    def model_name(self) -> str:
        """The model's name as the endpoint knows it (for the answer and the audit)."""
        for attribute in ("model_name", "model"):
            name = getattr(self.chat_model, attribute, None)
            if isinstance(name, str) and name:
                return name
        return self.chat_model._llm_type

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
            _disguised(text)
            or reason
            or self._misquote(text)
            or self._invented_number(text, question, passages, hits)
            or self.checks.contradiction(text, hits)
        )
        if reason:
            return WriterResult(None, rejected=reason)
        return WriterResult(text, quotes=[Quote.of(passages[k - 1]) for k in cited], cited=cited)

    def _misquote(self, text: str) -> str | None:
        stray = _QUOTE_MARK.search(_QUOTED.sub(" ", text))
        if stray:
            return f"unbalanced quotation marks ({stray.group(0)})"
        for match in _QUOTED.finditer(text):
            span = next(group for group in match.groups() if group is not None)
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

    def _invented_number(
        self, text: str, question: str, passages: Sequence[Passage], hits: Sequence[RuleHit]
    ) -> str | None:
        """A number the model states, in digits or words, that none of its sources states (a dose, a
        duration, a threshold)."""
        sources = [question, *(p.text for p in passages), *(h.message for h in hits)]
        sources += [q.text for h in hits for q in h.quotes]
        known = {n for s in sources for n in _NUMBER.findall(s)}
        known |= {digits for s in sources for _, digits in self.checks.spelled_numbers(s)}
        text = _CITATION.sub(" ", text)
        stated = [(n, n) for n in _NUMBER.findall(text)] + self.checks.spelled_numbers(text)
        invented = [written for written, digits in stated if digits not in known]
        return f"number not in the passages: {invented[0]}" if invented else None


def _squash(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


def _disguised(text: str) -> str | None:
    """Why the text could pass for a monograph quote, a rule verdict or a link; None if it cannot."""
    line = _MARKUP_LINE.search(text)
    if line:
        looks_like = "a monograph quote" if line.group(1) == ">" else "a heading or verdict"
        return f'a line starts with "{line.group(1)}" (looks like {looks_like})'
    link = _LINK.search(text)
    if link:
        return f"a link or URL: {link.group(0)!r}"
    if _RULE_TAG.search(text):
        return 'imitates a rule verdict: "[rule"'
    for label in ACTION_LABELS.values():
        words = r"\W+".join(re.escape(w) for w in re.findall(r"\w+", label))
        if re.search(rf"\b{words}\b", text, re.IGNORECASE):
            return f'imitates a rule verdict: "{label}"'
    return None


def _citations(text: str, n: int) -> tuple[list[int], str | None]:
    """Cited passage numbers in order of first citation, or why the citations are not acceptable."""
    stray = _STRAY_BRACKET.search(_BRACKETED_ELLIPSIS.sub(" ", _CITATION.sub(" ", text)))
    if stray:
        return [], f"unreadable citation {stray.group(0)}: cite a passage as [1], one number per bracket"
    cited: list[int] = []
    for k in map(int, _CITATION.findall(text)):
        if not 1 <= k <= n:
            return [], f"citation [{k}] does not match any of {n} passages"
        if k not in cited:
            cited.append(k)
    if not cited:
        return [], "the answer cites no passage"
    return cited, None
