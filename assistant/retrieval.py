"""Hybrid retrieval: dense (Chroma) and lexical (bm25s) rankings fused by reciprocal rank fusion.

Clinicians type abbreviations and typos; the monograph spells things out. ``QueryExpander`` bridges the
two with ``corpus/synonyms.yaml`` and, for words the corpus does not know, the closest corpus word
(rapidfuzz). The expanded text is embedded once per question: the query embedding is the dominant cost.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path

import bm25s
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.retrievers import BaseRetriever
from pydantic import BaseModel, ConfigDict, Field, model_validator

from .corpus import Corpus
from .data import load_data, load_medicines
from .errors import CorpusError
from .index import VectorIndex
from .models import Passage
from .text import (
    AUXILIARIES,
    Speller,
    english_words,
    g_dropped,
    inflections,
    is_english_word,
    is_everyday_compound,
    is_everyday_word,
    join_split,
    normalise,
    phrases_in,
    read,
    stem,
    without_intensifiers,
    words,
)

RRF_K = 60
_EXPANSION_CACHE = 1024  # expansions kept per expander; they are small and pure
_FUZZY_MIN_LEN = 4
_NAME_MIN_LEN = 6
# A name made of letters and digits ("CYP3A4", "CD19", "FLT3"); the text layer splits it, so it is read first.
_CONVERSATION = frozenset({"question", "questions", "please", "thanks", "hi", "hello"})
_DRUG_NAME = "inotuzumab ozogamicin"  # the monograph's drug, searched for when a question says "it"
_CYCLE_DAY = re.compile(r"(?:c|cycle|d|day|g|gr|grade)\d+(?:d\d+)?")  # "C3D1", "G2" are not names
# A determiner in a synonym variant, as escaped ("damage\\ the\\ liver"), and the determiners it stands for
_THE = re.compile(r"(?:(?<=^)|(?<=\\ ))the(?=\\ |$)")
_DETERMINERS = ("the", "a", "an", "her", "his", "my", "our", "their", "your", "its", "this", "that")
_ANY_DETERMINER = "(?:" + "|".join(_DETERMINERS) + ")"
_DETERMINER = re.compile(rf"(?<!\S){_ANY_DETERMINER}(?!\S)")
_CONSONANT_Y = re.compile(r"[a-z]{2}[^aeiouy\W]y$")  # "toxicity": plural "toxicities"
_CODE = re.compile(r"(?<![a-z0-9])[a-z]{2,}\d+[a-z0-9]*(?![a-z0-9])")
# A hyphenated name typed in capitals ("CAR-T", "G-CSF"), of two capitalised names ("Child-Pugh"), or of
# words before an acronym ("mini-hyper-CVD"; not a prefix alone: "post-HCT"): one name, though its parts
# look like words.
_CAPITAL_NAME = re.compile(
    r"(?<![A-Za-z0-9-])(?:[A-Z]{1,4}-[A-Z]{1,4}|[A-Z][a-z]{2,}-[A-Z][a-z]{2,}"
    r"|(?!(?:post|pre|anti|non|peri|re|de|co|sub|inter|intra)-[A-Z])(?:[a-z]{2,}-)+[A-Z]{2,5})"
    r"(?![A-Za-z0-9-])"
)
# A clause's subject after a comma: a person, said by pronoun or as the patient
_NEW_SUBJECT = frozenset(
    {"i", "we", "you", "he", "she", "they", "it", "hes", "shes", "theyre", "pt", "patient"}
)


def _new_clause(tokens: Sequence[str], i: int) -> bool:
    """A comma before a clause with a subject of its own ("..., she wants to go home")."""
    return tokens[i] == "," and i + 1 < len(tokens) and tokens[i + 1] in _NEW_SUBJECT


# What may follow "this" standing for the drug (not a noun it qualifies, nor "why is this?", the situation)
_AFTER_PRONOUN = frozenset(
    {"ok", "okay", "safe", "fine", "suitable", "allowed", "approved", "appropriate", "licensed", "indicated"}
    | {"used", "given", "be", "cause", "affect", "work"}
)


def _pronoun_before(tokens: Sequence[str], i: int) -> bool:
    """Whether the token at ``i`` follows "this" as a pronoun for the drug does ("is this ok", "does this
    cause")."""
    return i < len(tokens) and tokens[i] in _AFTER_PRONOUN


class Vocabulary(BaseModel):
    """The schema of ``corpus/synonyms.yaml``."""

    model_config = ConfigDict(extra="forbid")

    synonyms: dict[str, list[str]]
    negations: list[str]
    stopwords: list[str]
    subject: list[str]
    generic: list[str]
    # Patient details ("63-year-old", "38 kg", "34F"): context of a question, never what it asks about.
    patient_details: list[str] = Field(default_factory=list)
    # Words that frame a question rather than name its topic ("recognised", "real", "worry"): weightless.
    framing: list[str] = Field(default_factory=list)
    framing_phrases: list[str] = Field(default_factory=list)
    # Nouns that, after "this" and a word or two, name the drug itself: "this leukemia drug".
    drug_nouns: list[str] = Field(default_factory=list)
    # Concepts naming whom a question is about ("children"): a clause's topic only when nothing else is.
    populations: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _populations_are_concepts(self) -> Vocabulary:
        if unknown := set(self.populations) - set(self.synonyms):
            raise ValueError(f"populations must be keys of synonyms: {sorted(unknown)}")
        return self


Concept = tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Expansion:
    """A question rewritten for retrieval, and what it says about coverage (memoised: read only)."""

    text: str  # original question plus the monograph's words for what it mentions
    # What the question asks about, each concept in the monograph's own words: one or more
    # alternative phrases ("monitor | check"), each phrase a tuple of words.
    concepts: list[Concept]
    # Content words the monograph does not know and that are not everyday English: named things it lacks
    # ("ursodiol", "voriconazole"). Everyday words it lacks ("recognised", "worry") are `filler`.
    unknown: list[str]
    subject: bool = False  # the question names the monograph's drug
    context: list[Concept] = field(default_factory=list)  # ruled-out findings ("no signs of SOS")
    filler: list[str] = field(default_factory=list)
    pointed: bool = False  # no topic, and "this drug" / "this medicine": the drug is what is asked about

    @property
    def terms(self) -> list[str]:
        """The monograph words of all concepts, in order."""
        return list(dict.fromkeys(w for concept in self.concepts for phrase in concept for w in phrase))


class QueryExpander:
    """Expand abbreviations and fix typos against the corpus vocabulary. Pure and deterministic."""

    def __init__(
        self,
        vocabulary: Vocabulary,
        corpus_words: frozenset[str],
        corpus_codes: frozenset[str] = frozenset(),
        medicines: frozenset[str] = frozenset(),
    ) -> None:
        self.vocabulary = vocabulary
        self._codes = corpus_codes  # letter-digit names the monograph uses ("cd22")
        self._expand_cached = lru_cache(maxsize=_EXPANSION_CACHE)(self._expand)
        self._corpus_words = corpus_words
        # Other medicines' names: a named thing the monograph lacks, never a typo of an everyday word
        self._medicines = medicines - corpus_words
        self._corpus_stems = frozenset(stem(w) for w in corpus_words)
        self._stop = frozenset(vocabulary.stopwords)
        self._framing = frozenset(vocabulary.framing)
        cues = "|".join(re.escape(normalise(n)) for n in sorted(vocabulary.negations, key=len, reverse=True))
        self._negated_re = re.compile(rf"(?<!\S)(?:{cues})(?!\S)[^;:.?!]*") if cues else None
        nouns = "|".join(re.escape(normalise(n)) for n in vocabulary.drug_nouns)
        # "this leukemia drug": the words between "this" and the noun describe the drug, not a topic.
        self._drug_ref = (
            re.compile(rf"(?<!\S)this(?:\s+[a-z]\S*){{0,2}}?\s+(?:{nouns})(?!\S)") if nouns else None
        )
        self._drug_pointer = re.compile(rf"(?<!\S)(?:this|the)\s+(?:{nouns})(?!\S)") if nouns else None
        self._generic = frozenset(vocabulary.generic) | frozenset(vocabulary.subject)
        self._subject = frozenset(vocabulary.subject)
        self._canonical: dict[str, list[str]] = {}
        for key, variants in vocabulary.synonyms.items():
            for variant in variants:
                self._canonical.setdefault(normalise(variant), []).append(key)
                # ... and its "-ies" plural ("haematological toxicities"), which the "-s" below cannot spell
                if _CONSONANT_Y.search(variant):
                    self._canonical.setdefault(normalise(variant)[:-1] + "ies", []).append(key)
        alternatives = sorted(self._canonical, key=len, reverse=True)
        # A plural of a variant is the variant ("heart tracings"): the variants are written in the singular.
        # "the" in a variant stands for any determiner: "damage the liver" is also "damage her liver".
        self._synonym_re = re.compile(
            r"(?<!\S)("
            + "|".join(_THE.sub(_ANY_DETERMINER, re.escape(a)) for a in alternatives)
            + r")(?:(?<=[a-z]{3})e?s)?(?!\S)"
        )
        self._details = [
            re.compile(rf"(?<!\S)(?:{p})(?!\S)")
            for p in [*vocabulary.patient_details, *vocabulary.framing_phrases]
        ]
        variant_words = {w for v in self._canonical for w in v.split()}
        # Words a typo may have meant: the monograph's, clinicians' variants and stopwords ("oftn").
        spelled = corpus_words | variant_words | self._stop | self._generic
        spelled |= inflections(corpus_words | variant_words)  # "prolongign" meant "prolonging"
        self._speller = Speller(spelled, spelled, min_length=_FUZZY_MIN_LEN, compounds=True, by_sound=True)
        # What a word split by dictation may spell ("plate lets", "a l t"): a term, not a stopword
        self._joinable = frozenset(corpus_words | variant_words) - self._stop
        # The drug's names are typed wrong more than most words ("besonpa", "inotuzamab"), and no other
        # word is near them: two edits are allowed from six letters.
        names = [w for w in vocabulary.subject if w in corpus_words]
        self._names = Speller(names, names, min_length=_NAME_MIN_LEN, long_length=_NAME_MIN_LEN)
        # A word that is neither the monograph's nor everyday English may be a typo of everyday English
        # ("devleoped", "waht"): then it is filler, not a named thing the monograph lacks.
        english = english_words()
        # One edit only: two edits turn a medical term English lacks into an everyday word ("torsades" ->
        # "trades"), which would then weigh as filler instead of being named as not mentioned.
        self._english = Speller(english | spelled, english, min_length=_FUZZY_MIN_LEN, long_length=None)

    @classmethod
    def from_file(cls, path: Path, corpus: Corpus, medicines: frozenset[str] | None = None) -> QueryExpander:
        """``medicines``: other medicines' names when already read (``Guardrail.medicines``); else read from
        ``corpus/drug_names.yaml`` beside ``path``."""
        vocabulary = load_data(path, Vocabulary, CorpusError)
        unknown = {w for k in vocabulary.synonyms for w in words(k) if w not in corpus.vocabulary}
        unknown |= {w for w in vocabulary.subject if w not in corpus.vocabulary and w in vocabulary.synonyms}
        if unknown:
            raise CorpusError(f"{path.name}: synonym targets not in the monograph: {sorted(unknown)}")
        try:
            [re.compile(p) for p in [*vocabulary.patient_details, *vocabulary.framing_phrases]]
        except re.error as exc:
            raise CorpusError(f"{path.name}: patient_details holds an invalid pattern: {exc}") from exc
        codes = frozenset(c for d in corpus.documents for c in _CODE.findall(d.text.lower()))
        if medicines is None:
            medicines = load_medicines(path.parent)
        return cls(vocabulary, corpus.vocabulary, codes, medicines)

    def _spell(self, word: str) -> str:
        """The known word a misspelt word most likely meant ("cheked" -> "checked"), or the word itself."""
        if stem(word) in self._corpus_stems or is_everyday_word(word):
            return word  # "last" is not a typo of "least"
        if (full := g_dropped(word)) != word:
            return full  # "befor startin besponsa"
        corrected = self._speller.correct(word)
        if corrected == word:
            corrected = self._names.correct(word)
        if corrected == word and not is_everyday_word(word) and not is_english_word(word):
            # "devleoped"; not "vitals", a real if rarer word, nor another medicine ("mesna" is no "mesa"; a
            # brand named like a typo of the monograph's words, "infecton", is still read as that word)
            corrected = word if word in self._medicines else self._english.correct(word)
        return corrected

    def _synonym_keys(self, matched: str) -> list[str]:
        """The synonym keys of a matched variant, whose determiners may differ from the variant's "the"."""
        return self._canonical.get(matched) or self._canonical[_DETERMINER.sub("the", matched)]

    @cached_property
    def equivalents(self) -> dict[Concept, Concept]:
        """Each concept with the monograph's other phrases for it: "cytopenia" is also "low counts"
        ("Interrupt treatment if persistent low counts occur"): clinicians' words for one are the other's."""
        out: dict[Concept, Concept] = {}
        for key, variants in self.vocabulary.synonyms.items():
            concept = self._concept(key)
            own = [self._concept(v) for v in variants if all(w in self._corpus_words for w in words(v))]
            # phrases only: a single word ("counts", "age") is too broad to stand for the concept
            extra = tuple(p for c in own for p in c if p not in concept and len(p) > 1)
            if concept and extra:
                out[concept] = (*out.get(concept, concept), *extra)
        return out

    @cached_property
    def populations(self) -> frozenset[Concept]:
        """The concepts that say whom a question is about ("children"), not what it asks."""
        return frozenset(self._concept(key) for key in self.vocabulary.populations)

    def _concept(self, key: str) -> Concept:
        """A synonym key as alternatives ("monitor | check") of content-word phrases."""
        alternatives = (
            tuple(w for w in words(part) if w not in self._stop and w not in self._generic)
            for part in key.split("|")
        )
        return tuple(a for a in alternatives if a)

    def _read(self, spelled: str) -> tuple[list[Concept], list[str], list[str], bool, list[str]]:
        """Concepts, rare unknown words, monograph phrases, whether the drug is named, and filler words."""
        # "what is it actually for?" is "what is it for?": emphasis does not break a phrase
        spelled = without_intensifiers(spelled)
        phrases = [k for m in self._synonym_re.finditer(spelled) for k in self._synonym_keys(m.group(1))]
        concepts: list[Concept] = []
        unknown: list[str] = []
        filler: list[str] = []
        subject = any(set(words(p)) & self._subject for p in phrases)
        for word in self._synonym_re.sub(" ", spelled).split():
            subject = subject or word in self._subject
            # "keeps asking" frames as "keep" does (not "weekly" as "week": only an added "s")
            framing = word in self._framing or (word.endswith("s") and word[:-1] in self._framing)
            if word in self._stop or word in self._generic or framing or len(word) < 3:
                continue
            if not word[0].isalpha():
                continue  # numbers are values ("ALT 212"), not topics
            if word in self._corpus_words or stem(word) in self._corpus_stems:
                concepts.append(((word,),))
            elif word in self._medicines:
                unknown.append(word)  # "aspirin" is everyday English, and a medicine the monograph lacks
            elif is_everyday_word(word) or is_everyday_compound(word):
                filler.append(word)
            else:
                unknown.append(word)
        concepts.extend(self._concept(p) for p in phrases)
        cleaned = [c for c in dict.fromkeys(concepts) if c]
        return cleaned, list(dict.fromkeys(unknown)), phrases, subject, list(dict.fromkeys(filler))

    def expand(self, text: str) -> Expansion:
        """The question in the monograph's words. Memoised: one ``ask`` reads the same question (and
        the earlier turns) several times, for follow-ups and for retrieval."""
        return self._expand_cached(text)

    def codes(self, text: str) -> list[str]:
        """Letter-digit names in ``text`` that the monograph does not use ("cyp3a4", "cd19"), and hyphenated
        names in capitals that neither it nor the synonyms know ("CAR-T"; not "B-ALL")."""
        found = [
            c for c in _CODE.findall(text.lower()) if c not in self._codes and not _CYCLE_DAY.fullmatch(c)
        ]
        for name in _CAPITAL_NAME.findall(text):
            spelled = normalise(name)
            known = all(w in self._corpus_words for w in spelled.split())  # "B-cell"
            expansion = self.expand(spelled)  # "T-ALL" names ALL; "Child-Pugh" is more than "child"
            if not known and (not expansion.concepts or expansion.unknown):
                found.append(name)  # as typed: "The monograph does not mention CAR-T."
        return found

    def spelled(self, text: str) -> str:
        """The normalised text with typos corrected, punctuation kept ("whats the infusoin rate ?" ->
        "whats the infusion rate ?"): what answer types and clause splitting read."""
        return " ".join(word for word, _ in self.spelled_pairs(text))

    def spelled_pairs(self, text: str) -> list[tuple[str, str]]:
        """Each corrected word with the token it was typed as; a word typed as two ("riskfactor") gives
        its second part an empty typed token, so the typed tokens still spell the question."""
        tokens = join_split(read(text).tokens, self._joinable)
        named = self._in_names(tokens)
        return [
            (word, token if i == 0 else "")
            for at, token in enumerate(tokens)
            for i, word in enumerate(
                self._spell(token).split() if token.isalpha() and at not in named else [token]
            )
        ]

    def _in_names(self, tokens: Sequence[str]) -> set[int]:
        """The tokens of another medicine's name of two or three words ("st johns wort"), which are kept as
        typed: "wort" is no typo of "work" there."""
        return {at for start, end in phrases_in(tokens, self._medicines) for at in range(start, end)}

    def _expand(self, text: str) -> Expansion:
        tokens = join_split(read(text).tokens, self._joinable)
        # A denial reaches to the end of its clause: a comma before a new subject ends it ("no symptoms at
        # all, she wants to go home"), kept as ";" until the denial is read; one in a list does not ("no
        # fever, rash or rigors").
        normal = " ".join(
            t if t[0].isalnum() else ";"
            for i, t in enumerate(tokens)
            if t[0].isalnum() or _new_clause(tokens, i)
        )
        for pattern in self._details:
            normal = pattern.sub(" ", normal)
        tokens = normal.split()
        named = self._in_names(tokens)
        spelled = " ".join(
            self._spell(t) if t.isalpha() and i not in named else t for i, t in enumerate(tokens)
        )
        if self._drug_ref is not None:
            spelled = self._drug_ref.sub("this drug", spelled)
        # "No signs of SOS so far; how often ...": a finding the question rules out is context for
        # the question, not its topic.
        negated = " ; ".join(self._negated_re.findall(spelled)) if self._negated_re else ""
        asked = self._negated_re.sub(" ", spelled) if self._negated_re else spelled
        spelled, asked = (" ".join(w for w in t.split() if w != ";") for t in (spelled, asked))
        concepts, unknown, phrases, subject, filler = self._read(asked)
        codes = self.codes(text)
        parts = {p for c in codes for p in re.findall(r"[a-z]+", c)}  # "cyp3a4" was read as "cyp", "a"
        unknown = list(dict.fromkeys([*(w for w in unknown if w not in parts), *codes]))
        context, _, context_phrases, _, _ = self._read(negated)
        context = [c for c in context if c not in concepts]
        added = dict.fromkeys(
            [*(p.replace("|", " ") for p in phrases + context_phrases), *(c[0][0] for c in concepts)]
        )
        # The typo-corrected question is embedded: "cyles of besposna" is far from every passage.
        # Framing words ("quick question", "really") are left out of what is embedded: they carry no topic
        # and must not move the question away from the passages that answer it.
        embedded = " ".join(w for w in spelled.split() if w not in self._framing and w not in _CONVERSATION)
        # "In plain terms, what is this medicine for?": with no topic of its own, a question about "this drug"
        # asks about the one drug there is
        pointers = self._drug_pointer.finditer(spelled) if self._drug_pointer else ()
        pointed = not concepts and any(m.group(0).startswith("this") for m in pointers)
        if not subject and 1 <= len(concepts) <= 2 and self._refers_to_drug(spelled):
            # "is it ok for kids?" is far in meaning from "... indicated ... in children ...": a question
            # about the drug and one or two topics is searched for with the drug's name. (One with several
            # topics is near its passages already, and one with none is not answered: the name would only
            # move them, or the related passages offered, towards whatever names the drug.)
            added[_DRUG_NAME] = None
        expanded = " ".join([embedded, *(a for a in added if a not in spelled)])
        return Expansion(
            text=expanded,
            concepts=concepts,
            unknown=unknown,
            subject=subject,
            context=context,
            filler=filler,
            pointed=pointed,
        )

    def _refers_to_drug(self, spelled: str) -> bool:
        """The question points at the drug without naming it: "it", "its", "this drug", "the medicine"."""
        tokens = without_intensifiers(spelled).split()  # "is this really ok ...": as "is this ok"
        # "is this ok for kids?", "does this cause ...": "this" standing alone, as "it" does (not "this week")
        standing = any(
            word == "this" and tokens[i - 1] in AUXILIARIES and _pronoun_before(tokens, i + 1)
            for i, word in enumerate(tokens)
            if i > 0
        )
        return (
            bool({"it", "its"} & set(tokens))
            or standing
            or bool(self._drug_pointer and self._drug_pointer.search(spelled))
        )

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


def merge_rankings(*rankings: Sequence[Scored]) -> list[Scored]:
    """Passages ranked for several queries as one list: each passage with its best scores, best first."""
    best: dict[str, Scored] = {}
    for scored in (s for ranking in rankings for s in ranking):
        seen = best.get(scored.passage.id)
        best[scored.passage.id] = (
            scored
            if seen is None
            else Scored(
                scored.passage,
                max(seen.score, scored.score),
                max(seen.dense, scored.dense),
                max(seen.lexical, scored.lexical),
            )
        )
    return sorted(best.values(), key=lambda s: (-s.score, s.passage.id))


class LexicalIndex:
    """BM25 over passages, on the stems of the one text layer; rebuilt in memory from the corpus (fast)."""

    def __init__(self, passages: tuple[Passage, ...], stopwords: list[str]) -> None:
        self._stopwords = frozenset(stopwords)
        self._bm25 = bm25s.BM25()
        self._bm25.index([self._terms(p.search_text) for p in passages], show_progress=False)
        self._size = len(passages)

    def _terms(self, text: str) -> list[str]:
        """Stems of the words of ``text`` that are not stopwords (the same for passages and questions)."""
        found = read(text)
        return [s for w, s in zip(found.words, found.stems, strict=True) if w not in self._stopwords]

    def scores(self, text: str) -> list[float]:
        """BM25 score of every passage, in corpus order."""
        tokens = self._terms(text)
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
