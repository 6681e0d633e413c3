"""Hybrid retrieval: dense (Chroma) and lexical (bm25s) rankings fused by reciprocal rank fusion.

Clinicians type abbreviations and typos; the monograph spells things out. ``QueryExpander`` bridges the
two with ``corpus/synonyms.yaml`` and, for words the corpus does not know, the closest corpus word
(rapidfuzz). The expanded text is embedded once per question: the query embedding is the dominant cost.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path

import bm25s
import Stemmer
import yaml
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.retrievers import BaseRetriever
from pydantic import BaseModel, ConfigDict, ValidationError
from rapidfuzz import fuzz, process

from .corpus import Corpus, stem, words
from .errors import CorpusError
from .index import VectorIndex
from .models import Passage

RRF_K = 60
_EXPANSION_CACHE = 1024  # expansions kept per expander; they are small and pure
_FUZZY_MIN_LEN = 4
_TOKEN = re.compile(r"[a-z]+")
_FUZZY_CUTOFF = 85.0


class Vocabulary(BaseModel):
    """The schema of ``corpus/synonyms.yaml``."""

    model_config = ConfigDict(extra="forbid")

    synonyms: dict[str, list[str]]
    negations: list[str]
    stopwords: list[str]
    subject: list[str]
    generic: list[str]


Concept = tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Expansion:
    """A question rewritten for retrieval, and what it says about coverage (memoised: read only)."""

    text: str  # original question plus the monograph's words for what it mentions
    # What the question asks about, each concept in the monograph's own words: one or more
    # alternative phrases ("monitor | check"), each phrase a tuple of words.
    concepts: list[Concept]
    unknown: list[str]  # content words the monograph does not know at all
    subject: bool = False  # the question names the monograph's drug
    context: list[Concept] = field(default_factory=list)  # ruled-out findings ("no signs of SOS")

    @property
    def terms(self) -> list[str]:
        """The monograph words of all concepts, in order."""
        return list(dict.fromkeys(w for concept in self.concepts for phrase in concept for w in phrase))


class QueryExpander:
    """Expand abbreviations and fix typos against the corpus vocabulary. Pure and deterministic."""

    def __init__(self, vocabulary: Vocabulary, corpus_words: frozenset[str]) -> None:
        self.vocabulary = vocabulary
        self._expand_cached = lru_cache(maxsize=_EXPANSION_CACHE)(self._expand)
        self._corpus_words = corpus_words
        self._corpus_stems = frozenset(stem(w) for w in corpus_words)
        self._stop = frozenset(vocabulary.stopwords)
        cues = "|".join(re.escape(n) for n in sorted(vocabulary.negations, key=len, reverse=True))
        self._negated_re = re.compile(rf"\b(?:{cues})\b[^;:.?!]*") if cues else None
        self._generic = frozenset(vocabulary.generic) | frozenset(vocabulary.subject)
        self._subject = frozenset(vocabulary.subject)
        self._canonical: dict[str, list[str]] = {}
        for key, variants in vocabulary.synonyms.items():
            for variant in variants:
                self._canonical.setdefault(variant.lower(), []).append(key)
        alternatives = sorted(self._canonical, key=len, reverse=True)
        self._synonym_re = re.compile(r"(?<![\w-])(" + "|".join(map(re.escape, alternatives)) + r")(?![\w-])")
        variant_words = {w for v in self._canonical for w in words(v)}
        # Words a typo may have meant: the monograph's, clinicians' variants and stopwords ("oftn").
        self._spelled = corpus_words | variant_words | self._stop | self._generic
        self._fuzzy_targets: dict[str, list[str]] = {}
        for word in sorted(self._spelled):
            if len(word) >= _FUZZY_MIN_LEN - 1 and word.isalpha():
                self._fuzzy_targets.setdefault(word[0], []).append(word)

    @classmethod
    def from_file(cls, path: Path, corpus: Corpus) -> QueryExpander:
        try:
            vocabulary = Vocabulary.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
        except (OSError, yaml.YAMLError, ValidationError) as exc:
            raise CorpusError(f"{path.name} is not a valid vocabulary file: {exc}") from exc
        unknown = {w for k in vocabulary.synonyms for w in words(k) if w not in corpus.vocabulary}
        unknown |= {w for w in vocabulary.subject if w not in corpus.vocabulary and w in vocabulary.synonyms}
        if unknown:
            raise CorpusError(f"{path.name}: synonym targets not in the monograph: {sorted(unknown)}")
        return cls(vocabulary, corpus.vocabulary)

    def _spell(self, word: str) -> str:
        """The known word a misspelt word most likely meant, or the word itself.

        Typos keep the first letter and the length within two; "premedication" is not "medication".
        """
        if word in self._spelled or stem(word) in self._corpus_stems:
            return word
        if len(word) < _FUZZY_MIN_LEN or not word.isalpha():
            return word
        targets = [t for t in self._fuzzy_targets.get(word[0], ()) if abs(len(t) - len(word)) <= 2]
        match = process.extractOne(word, targets, scorer=fuzz.ratio, score_cutoff=_FUZZY_CUTOFF)
        return match[0] if match else word

    def _concept(self, key: str) -> Concept:
        """A synonym key as alternatives ("monitor | check") of content-word phrases."""
        alternatives = (
            tuple(w for w in words(part) if w not in self._stop and w not in self._generic)
            for part in key.split("|")
        )
        return tuple(a for a in alternatives if a)

    def _read(self, spelled: str) -> tuple[list[Concept], list[str], list[str], bool]:
        """Concepts, unknown words, monograph phrases and whether the drug is named, in a spelled text."""
        phrases = [k for m in self._synonym_re.finditer(spelled) for k in self._canonical[m.group(1)]]
        concepts: list[Concept] = []
        unknown: list[str] = []
        subject = any(set(words(p)) & self._subject for p in phrases)
        for word in words(self._synonym_re.sub(" ", spelled)):
            subject = subject or word in self._subject
            if word in self._stop or word in self._generic:
                continue
            if word in self._corpus_words or stem(word) in self._corpus_stems:
                concepts.append(((word,),))
            else:
                unknown.append(word)
        concepts.extend(self._concept(p) for p in phrases)
        return [c for c in dict.fromkeys(concepts) if c], list(dict.fromkeys(unknown)), phrases, subject

    def expand(self, text: str) -> Expansion:
        """The question in the monograph's words. Memoised: one ``ask`` reads the same question (and
        the earlier turns) several times, for follow-ups and for retrieval."""
        return self._expand_cached(text)

    def _expand(self, text: str) -> Expansion:
        spelled = _TOKEN.sub(lambda m: self._spell(m.group(0)), text.lower())
        # "No signs of SOS so far; how often ...": a finding the question rules out is context for
        # the question, not its topic.
        negated = " ; ".join(self._negated_re.findall(spelled)) if self._negated_re else ""
        asked = self._negated_re.sub(" ", spelled) if self._negated_re else spelled
        concepts, unknown, phrases, subject = self._read(asked)
        context, _, context_phrases, _ = self._read(negated)
        context = [c for c in context if c not in concepts]
        added = dict.fromkeys(
            [*(p.replace("|", " ") for p in phrases + context_phrases), *(c[0][0] for c in concepts)]
        )
        expanded = " ".join([text, *(a for a in added if a not in text.lower())])
        return Expansion(text=expanded, concepts=concepts, unknown=unknown, subject=subject, context=context)

    def clinical_terms(self, text: str) -> list[str]:
        """Corpus content words a text mentions, ruled-out findings included (they are still its topic).

        Empty means the text brings no clinical topic of its own.
        """
        expansion = self.expand(text)
        context = [w for concept in expansion.context for phrase in concept for w in phrase]
        return list(dict.fromkeys([*expansion.terms, *context]))


@dataclass(frozen=True)
class Scored:
    """A passage with its fused rank score and the two scores it came from."""

    passage: Passage
    score: float  # reciprocal rank fusion
    dense: float  # cosine similarity to the expanded question
    lexical: float  # BM25 score (0 when no word matched)


class LexicalIndex:
    """BM25 over passages with English stemming; rebuilt in memory from the corpus at start (fast)."""

    def __init__(self, passages: tuple[Passage, ...], stopwords: list[str]) -> None:
        self._stemmer = Stemmer.Stemmer("english")
        self._stopwords = stopwords
        self._bm25 = bm25s.BM25()
        self._bm25.index(self._tokenize([p.search_text for p in passages]), show_progress=False)
        self._size = len(passages)

    def _tokenize(self, texts: list[str]) -> bm25s.tokenization.Tokenized:
        return bm25s.tokenize(
            texts, stopwords=self._stopwords, stemmer=self._stemmer, show_progress=False, return_ids=True
        )

    def scores(self, text: str) -> list[float]:
        """BM25 score of every passage, in corpus order."""
        tokens = bm25s.tokenize(
            [text], stopwords=self._stopwords, stemmer=self._stemmer, show_progress=False, return_ids=False
        )[0]
        if not tokens:
            return [0.0] * self._size
        return [float(s) for s in self._bm25.get_scores(tokens)]


class HybridRetriever(BaseRetriever):
    """Dense + BM25 fused by RRF, as a LangChain retriever. ``search`` gives the scores too."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    corpus: Corpus
    index: VectorIndex
    embeddings: Embeddings
    expander: QueryExpander
    lexical: LexicalIndex
    k: int = 8

    @cached_property
    def _passages(self) -> tuple[Passage, ...]:
        return self.corpus.passages

    def search(self, text: str, expansion: Expansion | None = None) -> list[Scored]:
        """Rank passages for a question; ``expansion`` may be passed in when the caller already has it."""
        expansion = expansion or self.expander.expand(text)
        vector = self.embeddings.embed_query(expansion.text)
        dense = self.index.query(vector, k=len(self._passages))
        lexical = self.lexical.scores(expansion.text)
        fused: dict[str, float] = {}
        for rank, (pid, _) in enumerate(dense):
            fused[pid] = fused.get(pid, 0.0) + 1.0 / (RRF_K + rank + 1)
        order = sorted(range(len(lexical)), key=lambda i: -lexical[i])
        for rank, i in enumerate(j for j in order if lexical[j] > 0):
            pid = self._passages[i].id
            fused[pid] = fused.get(pid, 0.0) + 1.0 / (RRF_K + rank + 1)
        similarity = dict(dense)
        lexical_by_id = {p.id: s for p, s in zip(self._passages, lexical, strict=True)}
        ranked = sorted(fused, key=lambda pid: (-fused[pid], pid))[: self.k]
        by_id = self.corpus.passage_by_id
        return [
            Scored(by_id[pid], fused[pid], similarity.get(pid, 0.0), lexical_by_id.get(pid, 0.0))
            for pid in ranked
        ]

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        return [
            Document(
                page_content=s.passage.text,
                id=s.passage.id,
                metadata={
                    "document": s.passage.document,
                    "section": s.passage.section,
                    "start": s.passage.start,
                    "end": s.passage.end,
                    "score": s.score,
                    "dense": s.dense,
                    "lexical": s.lexical,
                },
            )
            for s in self.search(query)
        ]
