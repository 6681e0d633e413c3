"""The Assistant wires the stages: corpus → index → retrieval → guardrail → answer → audit.

Everything is built once in ``from_settings`` (slow: loads the model, opens or builds the index);
``ask`` is then cheap and never raises for a question it accepts.
"""

from __future__ import annotations

import logging
import time
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from langchain_core.embeddings import Embeddings
from langchain_core.language_models import BaseChatModel

from .answer import Answerability, AnswerTypes, Composer, Draft, split_question
from .audit import AuditStore
from .conversation import Cues, load_cues, normalize_history, quoted_before, resolve
from .corpus import Corpus, load_corpus
from .data import load_data
from .embedding import load_embeddings
from .errors import InvalidQuestion
from .guardrail import Guardrail, decides, finding_words, render_verdicts
from .index import VectorIndex
from .llm import (
    SKIPPED_ABSTAINED,
    SKIPPED_NO_MODEL,
    SKIPPED_RULE_FIRED,
    CheckedWriter,
    load_checks,
    make_chat_model,
)
from .models import Answer, Citation, Generated, Passage, RuleHit, unique_quotes
from .rendering import GENERATED, render_generated, render_not_covered
from .retrieval import HybridRetriever, LexicalIndex, QueryExpander, merge_rankings
from .settings import Settings
from .suggestions import Suggestions

log = logging.getLogger(__name__)


@dataclass
class Assistant:
    """Answers questions from the monograph. Build with ``Assistant.from_settings()``."""

    settings: Settings
    corpus: Corpus
    index: VectorIndex
    expander: QueryExpander
    retriever: HybridRetriever
    composer: Composer
    guardrail: Guardrail
    audit: AuditStore
    cues: Cues
    suggestions: Suggestions
    writer: CheckedWriter | None = None  # the checked language model, when settings name one

    @classmethod
    def from_settings(
        cls,
        settings: Settings | None = None,
        *,
        embeddings: Embeddings | None = None,
        chat_model: BaseChatModel | None = None,
        progress: bool = False,
    ) -> Assistant:
        """Load corpus and rules (failing closed on any problem), then open or build the index."""
        settings = settings or Settings()
        corpus = load_corpus(settings.corpus_dir)
        guardrail = Guardrail.load(settings.corpus_dir / "rules.yaml", corpus)
        expander = QueryExpander.from_file(settings.corpus_dir / "synonyms.yaml", corpus, guardrail.medicines)
        embeddings = embeddings or load_embeddings(settings)
        chat_model = chat_model or make_chat_model(settings)
        # The checks come from this corpus folder, and are read before the slow index is opened.
        writer = CheckedWriter(chat_model, corpus, load_checks(settings.corpus_dir)) if chat_model else None
        index = VectorIndex.open(settings, corpus, embeddings, progress=progress)
        retriever = HybridRetriever(
            corpus=corpus,
            index=index,
            embeddings=embeddings,
            expander=expander,
            lexical=LexicalIndex(corpus.passages, expander.vocabulary.stopwords),
            k=settings.top_k,
        )
        return cls(
            settings=settings,
            corpus=corpus,
            index=index,
            expander=expander,
            retriever=retriever,
            composer=Composer(
                corpus,
                expander.vocabulary.subject,
                load_data(settings.corpus_dir / "answer_types.yaml", AnswerTypes),
                clinical_words=guardrail.vocabulary,
                answerability=load_data(settings.corpus_dir / "answerability.yaml", Answerability),
                populations=expander.populations,
                equivalents=expander.equivalents,
                passage_vectors=index.text_vectors(corpus.passages),
                product_names=guardrail.product_names,
            ),
            guardrail=guardrail,
            audit=AuditStore.from_settings(settings),
            cues=load_cues(settings.corpus_dir),
            suggestions=Suggestions.load(settings.corpus_dir),
            writer=writer,
        )

    def validate(self, question: object) -> str:
        """The question as it will be used, or InvalidQuestion saying what is wrong with it."""
        if not isinstance(question, str):
            raise InvalidQuestion("The question must be text.")
        # Control, surrogate and invisible format characters (zero-width space, soft hyphen) carry no
        # meaning and could hide a word from the guardrail: "S\u200bO\u200bS".
        kept = (ch for ch in question if ch in "\n\t" or unicodedata.category(ch) not in {"Cc", "Cs", "Cf"})
        cleaned = "".join(kept).strip()
        if not cleaned:
            raise InvalidQuestion("The question is empty.")
        limit = self.settings.max_question_chars
        if len(cleaned) > limit:
            raise InvalidQuestion(f"The question is {len(cleaned)} characters long; the limit is {limit}.")
        return cleaned

    def ask(
        self,
        question: str,
        history: Sequence[Any] | None = None,
        *,
        channel: str = "python",
        user: str | None = None,
    ) -> Answer:
        """Answer one question, in the context of the conversation so far. ``user``: who asked, as the
        hospital's sign-on names them (recorded in the audit only)."""
        started = time.perf_counter()
        question = self.validate(question)
        turns = normalize_history(history, self.settings.history_turns)
        resolution = resolve(question, turns, self.expander, self.cues)
        asked = resolution.asked or question  # "which ones?" after "QT drugs?" asks "which drugs?"
        parts = split_question(self.expander, asked, resolution.carried_terms, resolution.hint_terms)
        # A preamble ("just checking, ...") is not searched for: its words would pull unrelated passages.
        query = resolution.query if not parts.preamble else resolution.query.replace(parts.preamble, " ", 1)
        ranked = self.retriever.search(query, self.expander.expand(query))
        earlier = [text for role, text in turns if role == "user"]
        if earlier and earlier[-1].strip() == question:
            earlier.pop()  # the caller passed the current question as the last history message
        # The guardrail reads every earlier user turn (never the answers, which quote the rules): a
        # condition stated once ("SOS confirmed") still holds when a later turn asks "continue?".
        hits: list[RuleHit] = self.guardrail.check(question, context="\n".join(earlier))
        parts = replace(parts, ruled=bool(hits))
        quoted = quoted_before(turns, [(p.id, p.text) for p in self.corpus.passages])
        draft = self.composer.compose(parts, ranked, quoted)
        pulled = self.composer.pulled_by_statements(parts, draft)
        clauses = self.composer.answerable_parts(parts) if draft.abstained or pulled else []
        if clauses:
            # "Is it approved for children, and what dose do kids get?": one clause may have diluted the
            # meaning of another that the monograph answers; each searched for alone, a passage keeps its
            # best scores. Only a refusal is reconsidered, so that answered questions quote as before.
            searched = [self.retriever.search(c, self.expander.expand(c)) for c in clauses]
            merged = merge_rankings(ranked, *searched)
            retry = self.composer.compose(parts, merged, quoted)
            # (an answer the statements pulled is kept only when the retry finds nothing better)
            if not retry.abstained and not (pulled and self.composer.pulled_by_statements(parts, retry)):
                draft = retry
        # A rule's own sentences may give what the quoted passages left open ("continue or wait?" beside
        # a finding the rule covers), or decide a choice of actions no passage matched ("ANC 0.6 pre C2D8 -
        # push InO or sit on it?"): then the rule answers, and the answer is no refusal.
        # ... or, for a decision asked about a finding the question states first, answer one clause and leave
        # another open ("Pt has SOS on InO. Management? And which drug is the active treatment?"): then the
        # open one is named as not covered.
        told = [words for h in hits for words in finding_words(h)]
        left, all_open = self.composer.left_open(parts, [q.text for h in hits for q in h.quotes], told)
        stated_first = any(decides(h) for h in hits) and any(w in parts.stated for w in told)
        by_rule = (
            draft.abstained
            and bool(hits)
            and (bool(draft.not_covered) or any(c.choice for c in parts.clauses))
            and (not left or (not all_open and stated_first))
        )
        answer = self._assemble(draft, hits, question, left if by_rule else None)
        answer.metadata["generator"] = "extractive"
        # Why the model was not asked, whenever it was not: set on every path, so that no answer leaves
        # a reader guessing. A rule comes first: no pattern list can catch every way a model could
        # contradict a rule, so the model is not asked beside one.
        if self.writer is None:
            answer.metadata["llm_skipped"] = SKIPPED_NO_MODEL
        elif hits:
            answer.metadata["llm_skipped"] = SKIPPED_RULE_FIRED
        elif draft.abstained:
            answer.metadata["llm_skipped"] = SKIPPED_ABSTAINED
        else:
            self._write(self.writer, answer, question, draft, hits)
        answer.suggestions = self.suggestions.suggest(answer.sections, question, earlier=earlier)
        answer.metadata.update(
            followup=resolution.followup,
            latency_ms=round((time.perf_counter() - started) * 1000, 2),
        )
        self._record(answer, channel, question, user)
        return answer

    def _assemble(
        self, draft: Draft, hits: list[RuleHit], question: str, by_rule: list[str] | None = None
    ) -> Answer:
        """Rule verdicts first, whatever retrieval found; then the quoted passages, unless the passage that
        answers best is a verdict's own sentence: then the verdict is the answer, and passages that only
        share the finding's words ("Detect ALT, AST ..." beside "AST 4x ULN, continue?") are left out.
        ``by_rule``: the rule's sentences answer what the passages did not, less these lines left open."""
        verdict_quotes = [q for h in hits for q in h.quotes]
        draft_shown = not draft.abstained and not (
            hits and draft.best in verdict_quotes and not draft.not_covered
        )
        quotes = unique_quotes([*verdict_quotes, *(draft.quotes if draft_shown else [])])
        # A permanent discontinuation answers a yes-or-no decision about the drug whatever else it names
        # ("anaphylaxis in C1 - rechallenge with heavy premeds?": no); the premedication stays not covered.
        # A decision about something else ("is defibrotide the treatment?") is not answered, unless it asks to
        # resume ours ("rechallenge with an antihistamine premed?"). A rule that holds the drug for a while
        # does not make the rest moot: "restart at half rate?" still asks for the rate it does not give.
        stops = [h for h in hits if h.role == "verdict" and h.action == "discontinue"]
        decided = (
            draft.abstained
            and draft.polar
            and bool(stops)
            and (
                (any(decides(h) for h in stops) and not draft.names_other)
                or self.guardrail.asks_to_resume(question)
            )
        )
        if hits:
            parts = [render_verdicts(hits)]
            if draft_shown:
                parts.append(draft.text)
            elif decided and draft.not_covered:
                parts.append(render_not_covered(draft.not_covered))
            elif by_rule:
                parts.append(render_not_covered(by_rule))
            text = "\n\n".join(parts)
        else:
            text = draft.text
        # A rule verdict answers a decision the passages did not; it does not answer a question that asks
        # for what the monograph never gives ("what dose for a 3rd cycle?"): that stays not covered.
        abstained = (
            draft.abstained and not decided and by_rule is None and (not hits or bool(draft.not_covered))
        )
        diagnostics = dict(draft.diagnostics)
        if draft.abstained and not abstained:
            # the passages alone would have been refused; say so without calling the answer a refusal
            diagnostics["passages_refused"] = diagnostics.pop("abstain_reason", "")
            diagnostics["answered_by"] = "rule verdicts"
        return Answer(
            text=text,
            quotes=quotes,
            guardrail=hits,
            abstained=abstained,
            not_covered=draft.not_covered if by_rule is None else by_rule,
            related=draft.related,
            corpus_version=self.corpus.version,
            rules_version=self.guardrail.version,
            metadata={"retrieval": diagnostics},
        )

    def _write(
        self, writer: CheckedWriter, answer: Answer, question: str, draft: Draft, hits: list[RuleHit]
    ) -> None:
        """Replace the quoted passages by the model's checked text; keep them if any check fails.

        The model writes only from the passages the extractive answer quotes (they passed the
        answerability test). ``ask`` calls it only when no rule fired; should that change, the rule
        verdicts still stay first, and are never the model's to write.
        """
        by_span = {(p.document, p.start, p.end): p for p in self.corpus.passages}
        spans = [(q.document, q.start, q.end) for q in draft.quotes]
        passages: list[Passage] = [by_span[span] for span in spans if span in by_span]
        result = writer.write(question, passages, hits)
        if result.text is None:
            answer.metadata["llm_rejected"] = result.rejected
            return
        answer.generated = Generated(
            label=GENERATED,
            text=result.text,
            model=writer.model_name,
            citations=[Citation(number=n, quote=q) for n, q in zip(result.cited, result.quotes, strict=True)],
        )
        answer.text = render_generated(hits, answer.generated, answer.not_covered)
        answer.quotes = unique_quotes([*(q for h in hits for q in h.quotes), *result.quotes])
        answer.metadata.update(generator="llm", model=writer.model_name)

    def _record(self, answer: Answer, channel: str, question: str, user: str | None) -> None:
        """Audit every answer; a failing audit store is logged, never shown to the clinician."""
        try:
            self.audit.record_answer(
                answer,
                channel=channel,
                latency_ms=answer.metadata["latency_ms"],
                question=question,
                user=user,
            )
        except Exception:
            log.exception("audit record failed for answer %s", answer.id)

    def ready(self) -> bool:
        """True when the vector store answers."""
        return self.index.ping()
