"""Compose the extractive answer from retrieved passages: answer, answer in part, or abstain.

Answerability is decided from what the question is ABOUT and what it ASKS FOR, not from how many of its
words the monograph happens to contain:
- what it is about: the monograph concepts named in the sentences that ask (``QuestionParts.asking``); the
  statements around them (patient details: "63-year-old, two prior salvage lines ...") only hint at the
  topic, and everyday words the monograph lacks ("recognised", "worry") weigh nothing;
- whether the topic is covered is a fitted logistic score (``Answerability``, ``corpus/answerability.yaml``,
  written by ``python -m evals.calibrate`` from the development sets) over what the composer measures: the
  share of those concepts (weighted by rarity in the monograph, IDF) that the quoted passages and the best
  passage contain, the best passage's closeness in meaning (cosine similarity), how many things are asked
  and whether an earlier answer quoted it. A long or lay question close in meaning is answered though its
  words are not the monograph's; every feature and the probability are in the answer's diagnostics;
- what it asks for: a kind of answer the monograph never gives (a dose amount, an infusion rate, a figure, a
  threshold, named drugs, pregnancy ...: ``corpus/answer_types.yaml``) or a named thing it never mentions
  (a rare word such as "ursodiol") is NOT COVERED. A clause of the question that asks only for such things is
  not answered by passages that merely share its other words;
- when another clause of the question is covered, the answer quotes what covers it and names, in one line,
  what the monograph does not say (a partial answer); when nothing asked is covered, it abstains, and may
  offer related passages under a heading that says they do not answer the question.
Kinds of answer the monograph does give ("can it cause ...?", "how often?") steer which passage answers
best. Focus thresholds live in ``Calibration``. The score is smooth in its features, so a word that carries
no topic does not flip the decision (a property test adds filler words and patient ages to covered
questions).
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache, partial
from itertools import pairwise

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .corpus import Corpus, Passage
from .models import Quote
from .rendering import ABSTAIN_TEXT, render_not_covered, render_quotes, render_related
from .retrieval import Concept, Expansion, QueryExpander, Scored
from .text import (
    AUXILIARIES,
    CLAUSE_DASH,
    EMPHASIS,
    INTENSIFIERS,
    POLITE,
    QUESTION_WORDS,
    is_verb_form,
    list_markers,
    normalise,
    phrases_in,
    quantities,
    stem,
    without_intensifiers,
    words,
)

HEADING_CREDIT = 0.75  # a word only in a passage's section title
CONTEXT_CREDIT = 0.1  # ruled-out findings and patient details still hint at the topic
# An everyday word the monograph lacks ("drive", "vaccines") may be what is asked about: it weighs this share
# of a word the monograph lacks. Words that only frame a question ("recognised", "worry") weigh nothing.
FILLER_CREDIT = 0.35
_SENTENCE_END = frozenset(".?!;:")
_SPELLED_STEM = 4  # a pattern's word this long may be a stem of the word it matches ("monitor\\w*")
NOT_MENTIONED = "The monograph does not mention"  # opens the line naming what a question names that it lacks
_WHAT_IF = re.compile(r"\bwhat if\b")  # a condition, not a question word: "what if we premedicate, ...?"
_CLAUSE_SPLIT = frozenset({",", "and", "also", "plus", "but", "or", "then", "+", "&"})
# A request is asked as much as a question: "list the labs ... and tell me exactly which days".
_REQUEST_VERBS = frozenset(
    {"tell", "list", "explain", "describe", "name", "state", "summarise", "summarize", "outline", "define"}
)
_ASKING_START = _REQUEST_VERBS | frozenset(
    [
        "what",
        "whats",
        "which",
        "when",
        "how",
        "can",
        "could",
        "should",
        "shall",
        "do",
        "does",
        "did",
        "is",
        "are",
        "was",
        "were",
        "will",
        "would",
        "may",
        "must",
        "any",
        "why",
        "who",
        "where",
        "ok",
        "okay",
    ]
)
_PERSONS = frozenset({"we", "i", "you", "he", "she", "they"})  # who acts in a main clause ("..., we stop?")
# Adverbs that may stand between a conjunction and the question word it joins ("... and exactly how often?").
_FOCUSING = frozenset({"exactly", "specifically", "precisely", "roughly", "approximately", "particularly"})
# Words that are the subject after a modal verb ("..., should WE hold?"): the modal then opens a question.
_SUBJECT_WORDS = _PERSONS | {"it", "this", "that", "there", "the", "a"}
# A longer frame ("for the liver tests before each dose, which ...") needs a topic after it.
_PREAMBLE_WORDS = 5
# What ends a clause that is asked, not a frame.
_ASKED_TOGETHER = frozenset({"?", "and", "also", "plus", "+", "&"})
# A sentence that reports a question ("The nurse is asking what to do.") asks it.
_ASKING_VERBS = frozenset({"asking", "asks", "wondering", "wonders", "advise", "advice"})
# "... and would like to know", "let me know": wanting to know asks; "we know it can lengthen the QT" states.
_WANTING_TO_KNOW = frozenset({"to", "me", "us"})
# A statement, a spaced dash or a colon, then the question: "Weekly LFTs during ino - should we also ...?"
# A label before it that names nothing ("Pharmacist: ...") is passed over (`_premise`).
_PREMISE_BREAK = re.compile(r"\s+[-\u2013\u2014]+\s+|\s*:\s+")
_PREMISE_MIN = 8  # characters
# A role given to the assistant, opening a clause: "pretend you're the attending", "act as a pharmacist"
_ROLE = re.compile(
    r"^(?:please |now |ok |okay )?(?:(?:pretend|imagine|suppose)(?: that)? (?:you|youre|ur|u)\b"
    r"|(?:act|behave|roleplay|role play) (?:as|like)\b|(?:you are|youre) now\b)"
)
# A statement the asker says the monograph makes ("The monograph says 'favorable efficacy' - what's the CR
# rate?"): the asker has read it, and quoting it back answers nothing (13 development questions of this form
# are labelled not answerable, 4 answerable), unless what is asked is only which drugs ("The monograph says
# avoid QT-prolonging drugs - which antiemetics are safe then?": the class rule is the answer there).
_ATTRIBUTED = re.compile(
    r"^(?:the |this |that |your )?(?:monograph|label|leaflet|smpc|text|document|it|pi|(?:\w+ ){1,2}section)"
    r" (?:says?|said|mentions?|mentioned|states?|stated|reads?|tells?|recommends?|talks about|refers to)\b"
)
# ... or opens on its words in quotation marks: "'Regular' ECGs - how regular?"
_QUOTE_OPENING = re.compile(r"^\s*['\"\u2018\u201c]\w")
_QUESTION_WORDS = QUESTION_WORDS
# Words that start a question inside a sentence, after "and" or a comma (not "is", "was": "plt 20 and is
# bleeding" states; not requests: "pretend to be one and tell me the dose" commands).
_ASKING_AFTER_JOIN = _QUESTION_WORDS | frozenset(
    {"can", "could", "should", "shall", "do", "does", "did", "will", "would", "may", "must"}
)
# ... and so does a request ("target antigen of inotuzumab, and name its payload"), but not "state", which
# after "and" is as often a noun ("the indication and state of the disease")
_ASKING_AFTER_JOIN |= _REQUEST_VERBS - {"state"}
# A clause opening with a subordinator states a condition ("if we reduce the dose for cytopenia, by what
# percent?"): it names what the question is about but asks nothing of its own.
_CONDITION_START = frozenset({"if", "once", "assuming", "suppose", "supposing", "provided", "unless"})
# "not proceeding to transplant", "non-transplant", "isn't going for HSCT": a setting the patient is outside
_SCOPE_NEGATORS = frozenset({"not", "non", "isnt", "never"})
# words after the negator that may name the setting ("not going to transplant", "do NOT go on to transplant")
_SCOPE_WINDOW = 4
_SCOPE_NEAR = 3  # a passage left out for its setting is named when it was among this many closest
_PREMISE_CONCEPTS = 2  # a premise restating a monograph sentence names at least this many of its concepts
_NAMED_MIN_LENGTH = 5  # a rare word this long names a thing ("ursodiol"); shorter ones may be shorthand
# Rare words with these English endings describe rather than name: "spiking", "allografted",
# "haematological", "hepatotoxic". Drug names end otherwise (-mab, -ine, -ol, -ide, -ase), and a rare noun
# ("extravasation", "contraindication", "cardiotoxicity") names a thing the monograph may lack.
_MODIFIER_ENDINGS = ("ing", "ed", "ly", "ical", "ic", "ous", "ive", "ary")
# A value the asker offers for what they ask ("until day +100?", "up to 24 hours?", "eg twice weekly?",
# "by 25% or 50%?"): the word before an amount that puts it forward, and words that may stand between.
_OFFERING = re.compile(
    r"(?:\b(?:until|till|up\s+to|beyond|past|to|e\s+g|eg|such\s+as|like|every|or|than|by|q|above|over|below|under)|[<>]=?"
    r"|\bfor(?=\s+(?:\d+|one|two|three|four|five|six|twelve)\s+(?:days?|weeks?|months?)\b))\s+"
    r"(?:(?:about|around|roughly|approx|approximately|maybe|say|at|least|the|first|next)\s+){0,2}"
)
_DIGIT = re.compile(r"\d")
# "until day +100?", "- D+21?": a day after transplant offered as the answer (the monograph numbers no days);
# not one told of the patient ("spiking temps D+10 - what monitoring?")
_POST_DAY = re.compile(
    r"(?:\b(?:until|till|up\s+to|to|beyond|past|by|after|through|or|e\s+g|eg|such\s+as|like|say)\s+"
    r"(?:\w+\s+){0,2}?)(?:day|d)\s+\+\s*(\d+)\b|\b(?:day|d)\s+\+\s*(\d+)(?=\s*\??\s*$)"
)
_OFFERED_WORDS = 4  # an offered amount is read in this many words after the word that offers it
_LIMIT_WORDS = frozenset({"above", "over", "below", "under", "beyond", "past", "than", ">", "<", ">=", "<="})


@dataclass(frozen=True)
class Calibration:
    """Thresholds of answer focus (which passages are quoted beside the best one)."""

    floor_similarity: float = 0.2  # a passage less similar than this to the question is never quoted
    quote_similarity: float = 0.34  # ... nor quoted beside the best one unless at least this similar
    related_similarity: float = 0.5  # passages this close may be offered as related when abstaining
    keep_coverage: float = 0.75  # a passage is quoted if it covers this share of the best passage's coverage
    keep_similarity_gap: float = 0.15  # ... and is at most this much less similar than the best one
    # A passage that gives the kind of answer asked for is preferred as the best one when its coverage plus
    # similarity is at least this share of the best candidate's.
    steer_share: float = 0.6
    max_quotes: int = 3
    max_related: int = 2
    # Two passages in different parts of the monograph that are each other's closest in meaning across the
    # parts, at least this similar, restate one rule ("Discontinue the drug immediately if SOS occurs" under
    # the risks, "Permanent drug discontinuation ... for SOS" under monitoring): quoting one quotes both. The
    # four restated pairs measure 0.63 to 0.94; the closest pair that is not a restatement, 0.56.
    restatement_similarity: float = 0.6


# What the answerability score reads; each value is reported in the answer's diagnostics.
FEATURES = (
    "coverage",  # weighted share of what is asked that the quoted passages contain
    "best_coverage",  # ... that the best passage alone contains
    "similarity",  # cosine similarity of the best passage to the question
    "log_concepts",  # how many things are asked about (log): long questions dilute coverage
    "quoted_before",  # 1 when an earlier answer in the conversation quoted the best passage
)


class Answerability(BaseModel):
    """A logistic score over ``FEATURES`` (``corpus/answerability.yaml``): is the topic asked about covered?

    Why a fitted score rather than hand-set cut-offs: a question may be long, wordy or lay and still close in
    meaning (coverage low, similarity high), or share every word and mean something else. Fitted on the
    development questions by ``python -m evals.calibrate``; deterministic, and each feature's contribution
    is in the diagnostics. What is asked FOR (a dose, a threshold ...) is decided apart, by answer types.
    """

    model_config = ConfigDict(extra="forbid")

    weights: dict[str, float]
    intercept: float
    threshold: float = Field(gt=0.0, lt=1.0)
    source: str = ""

    @field_validator("weights")
    @classmethod
    def _known(cls, value: dict[str, float]) -> dict[str, float]:
        if set(value) != set(FEATURES):
            raise ValueError(f"weights must name exactly these features: {', '.join(FEATURES)}")
        return value

    def probability(self, features: Mapping[str, float]) -> float:
        z = self.intercept + sum(w * features[name] for name, w in self.weights.items())
        return 1.0 / (1.0 + math.exp(-z))


def _compile(value: object) -> object:
    if not isinstance(value, str):
        return value
    try:
        return re.compile(value)
    except re.error as exc:  # pydantic reports ValueError as a validation error naming the field
        raise ValueError(f"invalid regular expression: {exc}") from exc


class Answering(BaseModel):
    """An answer pattern that counts only for a clause about its dimension (an age, a time in hours)."""

    model_config = ConfigDict(extra="forbid")

    passage: re.Pattern[str]
    clause: re.Pattern[str]

    _compiled = field_validator("passage", "clause", mode="before")(_compile)


class AnswerType(BaseModel):
    """A kind of answer a question may ask for (``corpus/answer_types.yaml``).

    ``asks`` is matched on the normalised question; ``answer`` on each quoted passage (normalised). Without
    ``answer`` the monograph never gives this kind of answer.
    """

    model_config = ConfigDict(extra="forbid")

    label: str
    asks: re.Pattern[str]
    answer: re.Pattern[str] | None = None
    # Phrases of the monograph the kind asks about, put into ``asks`` where "{terms}" stands.
    terms: list[str] = Field(default_factory=list)
    # A number answers only a question about its own dimension: "aged 1 year" answers "from what age?", not
    # "what potassium target?". ``answer_when`` names, for an answer pattern, what the asking clause must say.
    answer_when: list[Answering] = Field(default_factory=list)
    # A kind the monograph does give ("can it cause ...?" -> "can cause"): it is never "not covered"; the
    # passages that give it are preferred as the best answer when they cover enough of the question.
    steer: bool = False
    # A steering kind whose answer speaks of a class ("other drugs that can prolong the QT interval"): a name
    # the question puts in that class ("a QT-prolonging antifungal") is answered by it, though not mentioned.
    covers_names: bool = False
    # A steering kind answered by every passage of a section that gives it ("how is it managed?"): they are
    # quoted together with the best one.
    whole_section: bool = False
    # A kind whose words are followed by what is asked about ("can it cause high blood sugar?"): everyday
    # words after them that the monograph lacks are the question's topic, and weigh as much as a term it
    # lacks, not as filler.
    effect: bool = False
    # A steering kind that every passage giving it answers, wherever it stands ("other drugs": "avoid
    # concurrent use" and "strengthen monitoring when combined"): once one is quoted, all retrieved are.
    every_passage: bool = False
    # Answered by a passage about ANY concept the clause names, not only its most specific one: "LFT frequency
    # after stem cell transplant?" is answered by the weekly liver-function passage, which lacks "stem".
    any_topic: bool = False
    # A kind named by what a question is about, not by how it asks (pregnancy, storage): said in a statement
    # ("Mum is breastfeeding - can she have it?"), it is what a question with no topic of its own asks about.
    subject: bool = False
    # A steering kind asked of the drug itself ("what is it actually for?", "what kind of drug is it?"): the
    # question's other words are the asker's setting, not a topic the monograph must cover.
    about_drug: bool = False
    # Answered by any passage of a section that tells of what the clause names (or, when it names nothing
    # but what it asks, what the question's statements name), quoted or not: "QTc 520 ms - hold the dose?"
    # asks for a rule the sections on the QT interval never give, wherever the passages quoted stand.
    by_section: bool = False

    @model_validator(mode="before")
    @classmethod
    def _put_terms(cls, data: object) -> object:
        """``asks`` with its "{terms}" replaced by an alternation of ``terms``."""
        if isinstance(data, dict) and data.get("terms") and isinstance(data.get("asks"), str):
            terms = "|".join(f"(?:{t})" for t in data["terms"])
            data = {**data, "asks": data["asks"].replace("{terms}", terms)}
        return data

    @model_validator(mode="after")
    def _steer_needs_answer(self) -> AnswerType:
        if self.steer and (self.answer is None or self.answer_when):
            raise ValueError("a steering answer type needs an unconditional answer pattern")
        return self

    _compiled = field_validator("asks", "answer", mode="before")(_compile)

    def answered_by(
        self, passages: Sequence[str], clause: str = "", topical: Sequence[str] | None = None
    ) -> bool:
        """Whether a passage gives this kind of answer to ``clause`` (normalised). ``topical``: the passages
        about what the clause asks about, the only ones whose number in the clause's dimension answers it."""
        if self.answer is not None and any(self.answer.search(normalise(p)) for p in passages):
            return True
        return self.numbered_by(passages if topical is None else topical, clause)

    def numbered_by(self, passages: Sequence[str], clause: str) -> bool:
        """Whether a passage gives a number in the dimension ``clause`` asks about (``answer_when``)."""
        texts = [normalise(p) for p in passages]
        return any(
            a.clause.search(clause) and any(a.passage.search(t) for t in texts) for a in self.answer_when
        )

    def spanned(self, clause: str) -> set[str]:
        """The words of ``clause`` that this kind's patterns match, with those they let stand between."""
        return {w for _, w in self._matched_words(clause)}

    def dimension(self, clause: str) -> set[str]:
        """The words of ``clause`` that ask for this kind or name its dimension ("how many hours", "age"): the
        words its patterns spell, not those a pattern lets stand between them ("how long should LIVER
        FUNCTION keep being checked": what is checked is the topic)."""
        return {w for p, w in self._matched_words(clause) if _spells(_spelled(p.pattern), w)}

    def _matched_words(self, clause: str) -> list[tuple[re.Pattern[str], str]]:
        """Each word of ``clause`` that a pattern of this kind matches, with the pattern."""
        patterns = [self.asks, *(a.clause for a in self.answer_when)]
        return [(p, w) for p in patterns for m in p.finditer(clause) for w in m.group(0).split()]


AnswerTypes = dict[str, AnswerType]


@dataclass(frozen=True)
class Choice:
    """Alternatives a clause asks between, and the concepts they name that the rest of it does not."""

    first: str
    second: str
    concepts: tuple[Concept, ...]


@dataclass(frozen=True)
class Clause:
    """A part of what is asked ("and should we give ursodiol?"), as the expander reads it."""

    text: str
    expansion: Expansion
    codes: tuple[str, ...] = ()  # letter-digit names the monograph does not use ("cyp3a4")
    typed: str = ""  # the clause before typo correction
    choice: Choice | None = None  # "start or end of the infusion?"
    # Its parts joined by "and" or "+" ("recommended number of cycles and cycle length"), each as a clause
    # of its own; empty when it has none.
    conjuncts: tuple[Clause, ...] = ()
    # The things it lists under one question, joined by "and" ("a baseline ECG and an echo"), each
    # as a clause of its own; empty when its parts are conjuncts or it lists nothing. The first holds the
    # asking words: only it asks on its own.
    items: tuple[Clause, ...] = ()


@dataclass(frozen=True)
class QuestionParts:
    """A question split by its structure: what it asks, and the statements around it."""

    asking: Expansion  # the sentences that ask (with a follow-up's carried topic)
    context: Expansion  # the statements (patient details), which only hint at the topic
    clauses: tuple[Clause, ...]  # the asking sentences split at commas and "and"
    asking_text: str  # normalised
    preamble: str = ""  # the words of a preamble clause as typed ("just checking"), if the question has one
    # A statement the question opens with before a dash or colon ("ECGs at baseline and regularly - how
    # often is regularly?"): what the asker already read, which the answer may confirm.
    premise: Expansion | None = None
    premise_told: bool = False  # the asker says the monograph makes that statement ("It says X - ...")
    commands_only: bool = False  # no sentence asks: every clause is a statement or a command
    stated: str = ""  # the question's own statements, normalised ("mum is breastfeeding")
    # The guardrail found a rule of the monograph for the decision asked ("ALT 300 - hold?"), set after the
    # question is read: a decision it rules on is given, whatever else the question names.
    ruled: bool = False


def split_question(
    expander: QueryExpander, question: str, carried: Sequence[str] = (), hints: Sequence[str] = ()
) -> QuestionParts:
    """Sentences that ask (ending in "?" or opening with a question word) versus statements.

    Each token is kept as typed and as typo-corrected (``QueryExpander.spelled_pairs``), so that
    what a clause asks for is read on both: "antiemetic" must not turn into another word unnoticed.
    """
    pairs = expander.spelled_pairs(question)
    sentences: list[list[tuple[str, str]]] = [[]]
    inside = _parenthesised(pairs)
    for i, pair in enumerate(pairs):
        sentences[-1].append(pair)
        if pair[0] in _SENTENCE_END and i not in inside:  # "(busulfan? melphalan?)" ends no sentence
            sentences.append([])
    # a question mark left alone ("... with steroid premeds, quick question: ?") asks the sentence before it
    for i in range(1, len(sentences)):
        if ("?", "?") in sentences[i] and not any(t[0][0].isalnum() for t in sentences[i]):
            sentences[i - 1] += sentences[i]
    sentences = [s for s in sentences if any(t[0][0].isalnum() for t in s)]
    # "The whanau want to know if ...": who asks is told, what follows is asked
    frames, reported = [], []  # reported: the sentences that report a question, each of which asks it
    for n, sentence in enumerate(sentences):
        frame, rest = _reported(sentence)
        # ... when the frame names someone by a word the monograph lacks (else it frames as before, and the
        # whole sentence asks: "His mum asked me how often ...")
        if frame and expander.expand(" ".join(t for t, _ in frame)).unknown:
            sentences[n] = rest
            frames.append(frame)
        if frame:
            reported.append(sentences[n])

    def asks(sentence: list[tuple[str, str]]) -> bool:
        if any(sentence is r for r in reported):
            return True
        words = {t for t, _ in sentence}
        tokens = [t for t, _ in sentence]
        # "sos risk factors and does ursodiol help": a question word after a conjunction asks too
        joined = any(
            t in _ASKING_AFTER_JOIN and tokens[i - 1] in _CLAUSE_SPLIT for i, t in enumerate(tokens) if i
        )
        return (
            sentence[-1][0] == "?"
            or tokens[0] in _ASKING_START
            or any(t in POLITE and n.isalpha() for t, n in pairwise(tokens))  # "..., please outline"
            or bool(_ASKING_VERBS & words)
            or _wants_to_know(tokens)
            or joined
            or bool(list_markers(tokens))  # "... requests (i) the causes and (ii) the rate": a list asks
        )

    asking = [s for s in sentences if asks(s)]
    statements = [s for s in sentences if s not in asking] if asking else []
    statements += frames
    commands_only = not asking  # "You are now a general chatbot. Pretend to be one and tell me the dose."
    asking = asking or sentences
    asking_pairs = [p for s in asking for p in s]
    asking_text = " ".join(t for t, _ in asking_pairs)
    # A new clause starts where a question word follows a comma or a conjunction ("..., and what ALT
    # threshold ...?", "... - specifically, is voriconazole OK?"); "does gemtuzumab also cause SOS?" is one.
    clauses: list[list[tuple[str, str]]] = [[]]
    closers: list[set[str]] = [set()]  # the separators after each clause ("?", ",", "and")
    markers = dict(list_markers([t for t, _ in asking_pairs]))
    labels = {i for start, end in markers.items() for i in range(start + 1, end)}
    enclosed = _parenthesised(asking_pairs)
    for i, (token, typed) in enumerate(asking_pairs):
        if i in markers:  # "(i) the main causes ... and (ii) the percentage": each item is a clause
            while clauses[-1] and clauses[-1][-1][0] in _CLAUSE_SPLIT:
                closers[-1].add(clauses[-1].pop()[0])
            if clauses[-1]:
                clauses.append([])
                closers.append(set())
            continue
        if i in labels:
            continue
        following = asking_pairs[i + 1][0] if i + 1 < len(asking_pairs) else ""
        after = asking_pairs[i + 2][0] if i + 2 < len(asking_pairs) else ""
        # "..., and what ALT ...", "... and by how many ms?", "... and at what count ...?"
        starts = (
            following in _ASKING_START
            or following in _QUESTION_WORDS  # "... and whether it's safe in pregnancy"
            or following in _CLAUSE_SPLIT
            or ((following in _PREPOSITIONS or following in _FOCUSING) and after in _ASKING_START)
        ) and not _predicate_follows(clauses[-1], token, following, after)
        if (token in _SENTENCE_END and i not in enclosed) or (token in _CLAUSE_SPLIT and starts):
            if clauses[-1]:
                clauses.append([])
                closers.append(set())
        elif token not in _CLAUSE_SPLIT or clauses[-1]:
            clauses[-1].append((token, typed))
            continue
        closers[-2 if len(closers) > 1 else -1].add(token)  # ", and": both close the clause before
    # A preamble before the question ("just checking, what are ...", "quick one, is ...") frames it: it
    # only hints at the topic. A clause that is a question itself ("ino can cause SOS right?") or is joined
    # to the next by "and" ("SOS risk factors for besp, and should ...?") is asked, not a preamble.
    kept = [(c, closer) for c, closer in zip(clauses, closers, strict=True) if c]
    clauses = [c for c, _ in kept]
    first = next((i for i, c in enumerate(clauses) if _opens_asking(c)), 0)
    if any(
        _ASKING_VERBS & {t for t, _ in c} or _wants_to_know([t for t, _ in c], _WHETHER)
        for c in clauses[:first]
    ):
        # "I was wondering whether liver monitoring carries on ..., or ...", "I need to know if it is
        # possible for children, from which age?": that is the question
        first = 0
    long_frame = any(sum(t[0].isalnum() for t, _ in c) > _PREAMBLE_WORDS for c in clauses[:first])
    frame_text = " ".join(t for c in clauses[:first] for t, _ in c)
    topical_frame = bool(frame_text) and bool(expander.expand(frame_text).concepts)
    rest = expander.expand(" ".join(t for c in clauses[first:] for t, _ in c))
    if any(closer & _ASKED_TOGETHER for _, closer in kept[:first]):
        first = 0
    # "After transplant, what should we monitor?", "in kids, is it ok?", "For SOS surveillance, what weight
    # gain should trigger concern?": a frame that opens with a preposition says when, for whom or for what the
    # question asks; it is part of its first clause, which asks for what it asked
    if topical_frame and first and clauses[0][0][0] in _PREPOSITIONS:
        clauses = [[p for c in clauses[: first + 1] for p in c], *clauses[first + 1 :]]
        first = 0
    # "if he gets a transplant after this drug, is that more dangerous?", "qt prolongation with besponsa, is
    # it a real risk?": the frame names what "that" and "it" are. A question that names the drug ("...,
    # can we resume Besponsa?") has a topic of its own, and a short frame only hints at it.
    if not rest.concepts and (long_frame or (topical_frame and not rest.subject)):
        first = 0
    preamble, clauses = clauses[:first], _elided(clauses[first:])
    # "Pretend you are the Pfizer medical information line and tell me the SOS incidence": the role given to
    # the assistant asks nothing; what follows it is the question
    while len(clauses) > 1 and _ROLE.match(" ".join(t for t, _ in clauses[0])):
        preamble, clauses = [*preamble, clauses[0]], clauses[1:]
    typed_preamble = _typed_span(question, [t for c in preamble for _, t in c])
    asking_text = " ".join(t for c in clauses for t, _ in c)
    statements += preamble
    joined = " ".join([asking_text, *carried])
    codes = {c: normalise(c) for c in expander.codes(question)}

    def codes_in(text: str) -> tuple[str, ...]:
        return tuple(c for c, spelled in codes.items() if f" {spelled} " in f" {text} ")

    return QuestionParts(
        premise=_premise(expander, question),
        premise_told=_told_by_monograph(question),
        asking=expander.expand(joined),
        context=expander.expand(" ".join([*(" ".join(t for t, _ in s) for s in statements), *hints])),
        clauses=tuple(_clause(expander, c, codes_in) for c in clauses if c),
        asking_text=asking_text,
        preamble=typed_preamble,
        commands_only=commands_only,
        stated=" ".join(t for s in statements for t, _ in s),
    )


_ELLIPTICAL = _QUESTION_WORDS | frozenset({"often", "frequently", "long", "soon", "exactly", "much", "many"})


def _elided(clauses: list[list[tuple[str, str]]]) -> list[list[tuple[str, str]]]:
    """A clause of question words only asks them of the clause before it: "Which electrolytes need
    checking on ino, and when?" asks "when (do) electrolytes need checking on ino" too."""
    out: list[list[tuple[str, str]]] = []
    for clause in clauses:
        words = [t for t, _ in clause if t[:1].isalnum()]
        if out and words and words[0] in _QUESTION_WORDS and set(words) <= _ELLIPTICAL:
            before = out[-1]
            opened = next((i for i, (t, _) in enumerate(before) if t not in _QUESTION_WORDS), len(before))
            rest = before[opened:]
            # asked, not a condition: "when do electrolytes need checking", not "when electrolytes ..."
            asked = [("do", "")] if rest and rest[0][0] not in AUXILIARIES else []
            clause = [*clause, *asked, *rest]
        out.append(clause)
    return out


_WHETHER = frozenset({"if", "whether"})
_ASKED = frozenset({"ask", "asks", "asked", "asking", "wonder", "wonders", "wondering"})
_ASKED_REACH = 3  # words from the verb of asking to the question word: the one asked ("asked the nurse how")


def _reported(
    sentence: list[tuple[str, str]],
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """A question reported as someone's ("The whanau also want to know if it can make her bleed", "Mum asks
    whether ...", "His mum asked me how often ..."): who asks (the frame, returned first) is a statement, not
    part of what is asked, so a word naming them (a word the monograph lacks) does not make the question one
    it cannot answer. Emphasis and politeness ("want to know please if") stand anywhere in it."""
    kept = [(i, t) for i, (t, _) in enumerate(sentence) if t not in INTENSIFIERS]
    tokens = [t for _, t in kept]
    for n, t in enumerate(tokens[:-2]):
        if t in _ASKING_START:
            # "His mum asked me how often ...": a question word after who was asked opens what is asked
            if t in _QUESTION_WORDS and not _ASKED.isdisjoint(tokens[max(0, n - _ASKED_REACH) : n]):
                return sentence[: kept[n][0]], sentence[kept[n][0] :]
            break  # a question word opens what is asked: no frame before it
        if (
            t in _WHETHER
            and n >= 2
            and (tokens[n - 1] in _ASKED or _wants_to_know(tokens[: n + 1], _WHETHER))
        ):
            # what is asked keeps its "whether": a question of its own, not an option of the one before
            i = kept[n][0]
            return sentence[:i], [("whether", sentence[i][1]), *sentence[i + 1 :]]
    return [], sentence


def _wants_to_know(tokens: Sequence[str], then: frozenset[str] | None = None) -> bool:
    """The words say what the asker wants to know ("would like to know", "let me know"), followed by one of
    ``then`` when given ("need to know if", "let me know whether")."""
    return any(
        t == "know"
        and i
        and tokens[i - 1] in _WANTING_TO_KNOW
        and (then is None or "".join(tokens[i + 1 : i + 2]) in then)
        for i, t in enumerate(tokens)
    )


def _parenthesised(pairs: Sequence[tuple[str, str]]) -> set[int]:
    """Positions inside brackets, or inside a short aside between two dashes ("Which blood products -
    irradiated? CMV-negative? - are advised?"): what a question puts there is part of the clause around it."""
    inside: set[int] = set()
    depth = 0
    for i, (token, _) in enumerate(pairs):
        depth += token == "("
        depth -= token == ")" and depth > 0
        if depth:
            inside.add(i)
    dashes = [i for i, (token, _) in enumerate(pairs) if token == CLAUSE_DASH]
    for opened, closed in pairwise(dashes):
        words = sum(token[:1].isalnum() for token, _ in pairs[opened + 1 : closed])
        if closed + 1 < len(pairs) and pairs[closed + 1][0][:1].isalnum() and words <= _ASIDE_WORDS:
            inside.update(range(opened, closed))
    return inside


_ASIDE_WORDS = 5  # words of an aside between dashes


def _predicate_follows(clause: Sequence[tuple[str, str]], token: str, following: str, after: str) -> bool:
    """A comma before a modal verb that has no subject of its own continues the clause: "What ALT level, in
    multiples of the ULN, should prompt us to hold?" asks one thing ("what level ... should prompt"), while
    "what is the threshold, should we hold?" asks two. Only a clause opening with "what"/"which" and no verb
    of its own yet waits for its predicate; after a preposition ("At what ALT level, as a multiple of the
    ULN, should we hold?") even a modal with a subject is its predicate."""
    if token != "," or following not in AUXILIARIES or not clause:
        return False
    tokens = [t for t, _ in clause]
    if tokens[0] in _PREPOSITIONS and len(tokens) > 1:
        tokens = tokens[1:]  # "At what ALT level, as a multiple of the ULN, should we hold?"
    elif after in _SUBJECT_WORDS:
        return False
    return tokens[0] in {"what", "which"} and not AUXILIARIES.intersection(tokens[1:])


def _opens_asking(clause: Sequence[tuple[str, str]]) -> bool:
    """A clause opening with a question word, or a preposition and one ("at what rate", "by how much"), or a
    polite request ("please outline")."""
    tokens = [t for t, _ in clause]
    while len(tokens) > 1 and tokens[0] in EMPHASIS:  # "actually please outline ..."
        tokens = tokens[1:]
    first = tokens[0]
    second = tokens[1] if len(tokens) > 1 else ""
    polite = first in POLITE and second.isalpha()  # "please outline ...": a request
    return first in _ASKING_START or polite or (first in _PREPOSITIONS and second in _ASKING_START)


def _premise(expander: QueryExpander, question: str) -> Expansion | None:
    """The statement before a dash or colon that opens a question, when it asks nothing itself. A label
    before it that names no monograph concept is passed over: "Pharmacist: QT drugs to avoid with InO - is
    ondansetron ok?" states "QT drugs to avoid with InO"."""
    start = 0
    for cut in _PREMISE_BREAK.finditer(question):
        lead = question[start : cut.start()]
        if len(lead.strip()) < _PREMISE_MIN:
            continue  # the break is inside the statement ("S.O.S - ..." is too short to stand alone)
        if "?" in lead or "?" not in question[cut.end() :]:
            return None
        tokens = normalise(lead).split()
        if not tokens or tokens[0] in _ASKING_START or (_ASKING_VERBS | _QUESTION_WORDS) & set(tokens):
            return None
        premise = expander.expand(" ".join(tokens))
        if not premise.concepts and not premise.unknown:
            start = cut.end()  # a label ("Pharmacist:", "Quick one -"): the statement may follow it
            continue
        # Only the monograph's own words: "dose reduction for cytopenia - by how many mg/m2?" restates none
        return None if premise.unknown or premise.filler else premise
    return None


def _told_by_monograph(question: str) -> bool:
    """The question opens on what the monograph says: "The label says 'advanced age' - over what age?",
    "The QT section says ...", "'Regular' ECGs - how regular?"."""
    return bool(_QUOTE_OPENING.match(question) or _ATTRIBUTED.match(normalise(question)))


def _holds(concept: Sequence[Sequence[str]], stems: Collection[str]) -> bool:
    """Whether a passage's (or passages') stems hold one of a concept's alternative phrases whole."""
    return any(all(stem(w) in stems for w in phrase) for phrase in concept)


def _typed_span(question: str, tokens: Sequence[str]) -> str:
    """The part of the question as typed that the normalised ``tokens`` came from ("Just checking,")."""
    if not tokens:
        return ""
    pattern = r"\W*".join(re.escape(t) for t in tokens if t[:1].isalnum())
    found = re.search(pattern, question, re.IGNORECASE) if pattern else None
    return found.group(0) if found else ""


def _clause(
    expander: QueryExpander, pairs: list[tuple[str, str]], codes_in: Callable[[str], tuple[str, ...]]
) -> Clause:
    text = " ".join(t for t, _ in pairs)
    tokens = [t for t, _ in pairs]
    kept = _split_at(pairs, _COORDINATORS)
    pieces = [p for _, p in kept]

    def own_part(before: list[tuple[str, str]], p: list[tuple[str, str]]) -> bool:
        pairing = _PAIRING & {t for t, _ in before}
        return _opens_asking(p) or _requests(p) or (p[0][0] in _OWN_NOUN_PHRASE and not pairing)

    # Only clauses joined into one: a later part asks or requests on its own ("... and give me the
    # incidence"), or names a thing of its own under the same request ("give the risk factors ... and the
    # reported incidence"). "what potassium and magnesium targets" joins two nouns under one request.
    joined = any(own_part(b, p) for b, p in pairwise(pieces))
    if joined:
        # a part that is none of these stays with the one before it, coordinator and all: "the
        # mini-hyper-CVD plus inotuzumab regimen and its schedule" asks about one regimen, and its schedule
        merged = [kept[0][1]]
        for joiner, p in kept[1:]:
            if own_part(merged[-1], p):
                merged.append(p)
            else:
                merged[-1] = [*merged[-1], *([joiner] if joiner else []), *p]
        pieces = merged
    conjuncts = tuple(_clause(expander, p, codes_in) for p in pieces) if joined else ()
    # "do we need a baseline ECG and an echo": the things listed, each asked about (not "between the last
    # dose and the start of conditioning", one interval; nor "busulfan plus thiotepa", one regimen)
    listed = [p for _, p in _split_at(pairs, _LISTING)]
    # ... each a noun phrase of its own: "a baseline ECG and an echo", not "potassium and magnesium levels",
    # "HBV and HCV serologies" or "fever and chills", whose last noun or asking words are the others' too
    apart = not joined and not _PAIRING & set(tokens) and all(p[0][0] in _ITEM_OPENERS for p in listed[1:])
    items = tuple(_clause(expander, p, codes_in) for p in listed) if len(listed) > 1 and apart else ()
    typed = " ".join(t for _, t in pairs if t)
    return Clause(
        text,
        expander.expand(text),
        # a name is found as typed too: "hyper-CVAD" is not "hyper chad" once corrected
        tuple(dict.fromkeys([*codes_in(text), *codes_in(typed)])),
        typed,
        _choice(expander, tokens),
        conjuncts,
        items,
    )


def _split_at(
    pairs: Sequence[tuple[str, str]], joiners: frozenset[str]
) -> list[tuple[tuple[str, str] | None, list[tuple[str, str]]]]:
    """The non-empty runs of ``pairs`` between the tokens in ``joiners``, each with the joiner before it."""
    runs: list[tuple[tuple[str, str] | None, list[tuple[str, str]]]] = [(None, [])]
    for pair in pairs:
        if pair[0] in joiners:
            runs.append((pair, []))
        else:
            runs[-1][1].append(pair)
    return [(joiner, run) for joiner, run in runs if run]


_COORDINATORS = frozenset({"and", "plus", "+", "&"})  # join the parts of one clause
_LISTING = frozenset({"and", "&"})  # join the things a clause lists ("or" offers a choice: ``_choice``)
_REQUESTING = frozenset({"give", "show", "provide", "send", "quote"})  # "... and give me the incidence"
_REQUESTED_FOR = frozenset({"me", "us"})
_OWN_NOUN_PHRASE = frozenset({"the", "its", "their"})  # "... and the reported incidence": a thing of its own
_ITEM_OPENERS = _OWN_NOUN_PHRASE | {"a", "an", "any", "some", "his", "her"}  # "... and an echo"
_PAIRING = frozenset({"between", "both"})  # "between the last dose and the start of conditioning": one thing


def _requests(pairs: Sequence[tuple[str, str]]) -> bool:
    """A part opening with a request made to the assistant: "give me", "show us"."""
    return len(pairs) > 1 and pairs[0][0] in _REQUESTING and pairs[1][0] in _REQUESTED_FOR


_CHOICE_BEFORE = 3  # words of the first alternative read before "or" ("the start or the end")
_CHOICE_AFTER = 6  # ... and of the second after it ("or just at the start of each cycle")
# "or" that offers no alternative of its own: "and/or", "or not", "or so", "or more", "or something"
_LIST_ASKERS = frozenset({"which", "what", "whats"})  # a clause that asks to pick among listed candidates
_LIST_JOINERS = frozenset({"and", "or"})
_LIST_ITEMS = 3  # "K, Mg, Ca": fewer items between commas are more often a clause's parts than candidates
_LIST_ITEM_WORDS = 3  # words in one listed candidate ("an antipyretic", "busulfan plus thiotepa")
_NOT_A_CHOICE = frozenset({"and", "not", "so", "more", "less", "other", "others", "otherwise", "else"})
_NOT_A_CHOICE |= frozenset({"anything", "something", "similar", "both", "either", "whatever", "yes", "no"})
_NOT_A_CHOICE |= frozenset({"true", "false"})  # "True or false: ..."


def _choice(expander: QueryExpander, tokens: Sequence[str]) -> Choice | None:
    """The alternatives a clause offers ("start or end of the infusion", "every dose or only the first"):
    a few words on each side of its last "or", and the concepts they name that the rest of it does not.
    A "which"/"what" clause may offer them as a list instead: "which electrolytes - K, Mg, Ca?"."""
    if "or" not in tokens:
        return _listed_choice(expander, tokens)
    at = len(tokens) - 1 - tokens[::-1].index("or")
    stop = at - 1 if at and tokens[at - 1] == "," else at  # "..., or just at the start of each cycle?"
    before: list[str] = []
    for token in reversed(tokens[max(0, stop - _CHOICE_BEFORE) : stop]):
        if not token[0].isalnum():
            break
        before.insert(0, token)
    after: list[str] = []
    for token in tokens[at + 1 : at + 1 + min(_CHOICE_AFTER, len(before) + 2)]:
        if not token[0].isalnum():
            break
        after.append(token)
    # ... not cut inside a term: "only for grown ups" (adults), not "only for grown"; a term that the next
    # word names alone is not cut ("foods or supplements the patient should | avoid")
    following = tokens[at + 1 + len(after) : at + 2 + len(after)]
    if after and following and following[0][0].isalnum():
        longer = set(expander.expand(" ".join([*after, *following])).concepts)
        shorter = {*expander.expand(" ".join(after)).concepts, *expander.expand(following[0]).concepts}
        if longer - shorter:
            after += following
    # The options are about as long as each other: "hsct mainly fungal or bacterial" offers "mainly fungal"
    before = before[-(len(after) + 1) :]
    if not before or not after or tokens[at - 1] in _NOT_A_CHOICE or after[0] in _NOT_A_CHOICE:
        return None
    if after[0] in _ASKING_START:
        return None  # "..., or does it affect the marrow too?": a question of its own
    rest = expander.expand(" ".join([*tokens[: stop - len(before)], *tokens[at + 1 + len(after) :]]))
    options = expander.expand(" ".join([*before, *after]))
    if not (options.concepts or options.unknown or options.filler):
        return None  # "a common or major concern": words that only frame the question
    own = [c for c in options.concepts if c not in rest.concepts]
    return Choice(" ".join(before), " ".join(after), tuple(own))


def _listed_choice(expander: QueryExpander, tokens: Sequence[str]) -> Choice | None:
    """The candidates a "which"/"what" clause lists, three or more short items between commas ("which
    electrolytes (K, Mg, Ca)?", "such as a steroid, an antipyretic and an antihistamine"), or a clause that
    is only such a list ("which electrolytes should be tested - potassium, magnesium, calcium?")."""
    items: list[list[str]] = [[]]
    run: list[list[str]] = []
    ends = 0  # where the list ends
    for at, token in enumerate([*tokens, "."]):
        if token == "," or (token in _LIST_JOINERS and len(items) >= 2):
            items.append([])
        elif token.isalpha() and (len(items) == 1 or len(items[-1]) < _LIST_ITEM_WORDS):
            items[-1].append(token)  # the first item is cut to the others' length below
        else:  # the list, if any, ends here
            done = [i for i in items if i]
            if len(done) >= _LIST_ITEMS and len(done) == len(items):
                run, ends = [done[0][-max(len(i) for i in done[1:]) :], *done[1:]], at
            items = [[]]  # a number ends it: "K 3.1, Mg 0.6, starting tomorrow" lists values
    listed = {w for item in run for w in item}
    only_list = all(w in listed or w in _LIST_JOINERS or not w[0].isalnum() for w in tokens)
    # asked before the list ("which electrolytes - K, Mg, Ca?"), or "which" after it ("K, Mg, Ca - which?");
    # not "rigors, mild, HD stable - what do we do?", whose list tells the patient
    asked = _LIST_ASKERS.intersection(tokens[:ends]) or "which" in tokens[ends:]
    if not run or not (only_list or asked):
        return None
    rest = expander.expand(" ".join(w for w in tokens if w not in listed))
    options = expander.expand(" ".join(w for item in run for w in item))
    own = [c for c in options.concepts if c not in rest.concepts]
    return Choice(", ".join(" ".join(i) for i in run[:-1]), " ".join(run[-1]), tuple(own))


@dataclass(frozen=True)
class Draft:
    """The answer before the guardrail verdicts are put in front of it."""

    text: str
    quotes: list[Quote]
    abstained: bool
    not_covered: list[str] = field(default_factory=list)
    related: list[Quote] = field(default_factory=list)
    diagnostics: dict[str, float | int | str] = field(default_factory=dict)
    best: Quote | None = None  # the passage that answers best (one of ``quotes``)
    # Every clause asks yes or no ("can we rechallenge with premeds?"), none asks what, which or how: a
    # decision that a rule may answer even where a passage does not.
    polar: bool = False

    @property
    def names_other(self) -> bool:
        """The question names something the monograph does not ("is defibrotide the treatment?"); an amount
        it offers ("so we delay the next dose by a week?") is no other thing."""
        return any(line.startswith(NOT_MENTIONED) and not _amounts_only(line) for line in self.not_covered)


def _is_statement(text: str) -> bool:
    """Words that ask nothing ("plt 40 anc 0.3 since c 1 d 15"): no question word, no auxiliary first."""
    tokens = text.split()
    return bool(tokens) and tokens[0] not in AUXILIARIES and not _QUESTION_WORDS & set(tokens)


def _after_dash(text: str) -> str:
    """What follows the last dash that opens a clause ("... C2D1 due - give ino" -> "give ino")."""
    return text.rpartition(f" {CLAUSE_DASH} ")[2]


def _amounts_only(line: str) -> bool:
    """A "does not mention" line that names only amounts of time, percentages or multiples ("a week")."""
    named = normalise(line[len(NOT_MENTIONED) :])
    said = list(quantities(named).values())
    for phrase in said:
        named = named.replace(phrase, " ")
    return bool(said) and set(named.split()) <= {"and", "or", ",", "."}


class Composer:
    """Turns ranked passages into a focused, quoted answer. Pure; built once per corpus."""

    def __init__(
        self,
        corpus: Corpus,
        subject_words: Sequence[str],
        answer_types: Mapping[str, AnswerType] | None = None,
        calibration: Calibration | None = None,
        clinical_words: frozenset[str] = frozenset(),
        answerability: Answerability | None = None,
        populations: frozenset[Concept] = frozenset(),
        equivalents: Mapping[Concept, Concept] | None = None,
        passage_vectors: Sequence[Sequence[float]] = (),
        product_names: frozenset[str] = frozenset(),
    ) -> None:
        self._passage = corpus.passage_by_id
        self._products = product_names  # other products ("atg", "mesna"): named however short
        self._populations = populations  # "children": a clause's topic only when it names nothing else
        self._equivalents = dict(equivalents or {})  # "cytopenia" is also the monograph's "low counts"
        self.calibration = calibration or Calibration()
        # passage id -> the passage that restates it, from each passage's vector (in corpus order)
        self._restatements = (
            find_restatements(corpus.passages, passage_vectors, self.calibration.restatement_similarity)
            if passage_vectors
            else {}
        )
        # None answers whenever a passage shares the question's concepts: only the calibration run wants that.
        self.answerability = answerability
        # Clinical words the product knows though the monograph does not ("rechallenge"): not named things.
        self._clinical = clinical_words
        self._kinds_asked = lru_cache(maxsize=4096)(self._kinds_asked_uncached)
        self._answer_types = dict(answer_types or {})
        self._subject_words = [w for w in subject_words if w in corpus.vocabulary]
        # A word in the passage itself counts fully; a word only in its section title counts half.
        self._stems: dict[str, dict[str, float]] = {}
        for p in corpus.passages:
            weights = dict.fromkeys((stem(w) for w in words(p.section)), HEADING_CREDIT)
            weights.update(dict.fromkeys((stem(w) for w in words(p.text)), 1.0))
            self._stems[p.id] = weights
        # Each passage's own words (not its section title), by text: what names an alternative asked about.
        self._own_stems = {p.text: frozenset(stem(w) for w in words(p.text)) for p in corpus.passages}
        self._topic_stems = {p.text: frozenset(self._stems[p.id]) for p in corpus.passages}  # with its title
        # The amounts of time and percentages each passage gives ("at least 1 hour"), by text.
        self._amounts = {p.text: frozenset(quantities(normalise(p.text))) for p in corpus.passages}
        self._texts = tuple(p.text for p in corpus.passages)
        self._section_of = {p.text: p.section for p in corpus.passages}
        # The passages that give each kind checked by section, by its label: what they name is what they
        # decide on or do ("Suspend medication if abnormalities occur"), not a finding of its own
        self._deciding = {
            t.label: [p for p in self._texts if t.answered_by([p])]
            for t in self._answer_types.values()
            if t.by_section
        }
        # Neighbouring words of the monograph ("non relapse"): terms, not a negation and its object
        self._pairs = frozenset(
            pair for p in corpus.passages for pair in pairwise(normalise(f"{p.section} {p.text}").split())
        )
        # What a passage says only through its section title: the setting it applies in ("Strictly control
        # the number of treatment cycles", under "... Mortality After Transplantation").
        self._scope = {
            p.id: frozenset(w for w, credit in self._stems[p.id].items() if credit < 1.0)
            for p in corpus.passages
        }
        self._scope_of = {p.text: self._scope[p.id] for p in corpus.passages}
        df = Counter(s for stems in self._stems.values() for s in stems)
        n = len(corpus.passages)
        self._idf = {s: math.log(1 + n / count) for s, count in df.items()}
        self._unknown_weight = math.log(1 + n)

    def _weighted(
        self, parts: QuestionParts, blocked: Sequence[str] = (), outside: frozenset[str] = frozenset()
    ) -> list[tuple[list[frozenset[str]], float]]:
        """Each concept as its alternatives' stems and a weight.

        A phrase weighs as its rarest word; a concept with alternatives ("monitor | check") as its most
        common alternative, since any of them satisfies it. What is asked counts fully; ruled-out findings
        and the statements around the question (patient details) only hint at the topic.
        """
        asking, context = parts.asking, parts.context
        concepts = list(asking.concepts)
        if (
            blocked
        ):  # what only a not-covered clause asks ("should we give ursodiol prophylaxis?") is left out
            kept = {
                c for clause in parts.clauses if clause.text not in blocked for c in clause.expansion.concepts
            }
            if kept:
                concepts = [
                    c
                    for c in concepts
                    if c in kept or not any(c in k.expansion.concepts for k in parts.clauses)
                ]
            elif context.concepts and any(k.text not in blocked for k in parts.clauses):
                # An open clause with no topic of its own ("SOS on ino: what to do with the drug, and
                # what defibrotide dose?") asks about the statements' topic.
                concepts = list(context.concepts)
        hints = [*asking.context, *(c for c in context.concepts + context.context if c not in concepts)]
        # Everyday words the monograph lacks, and shorthand it does not know ("tki"), in what is asked; not
        # the words that say what kind of answer is wanted, when the monograph gives that kind ("continue
        # or wait?", "how often"): they frame the question, and whether it is given is tested on its own.
        framing = self._framing(parts)
        of_drug = any(kind.about_drug for kind in self._steering(parts))
        unmet = [
            *(w for w in asking.filler if w not in framing),
            *(w for w in asking.unknown if len(w) < _NAMED_MIN_LENGTH),
        ]
        if blocked:
            open_words = {w for k in parts.clauses if k.text not in blocked for w in k.expansion.filler}
            unmet = (
                [w for w in unmet if w in open_words]
                if any(k.text not in blocked for k in parts.clauses)
                else unmet
            )
        if not concepts and not asking.unknown:
            # With no topic of its own, what is asked is about the ruled-out findings it names ("hang the ino
            # without a CBC?"), the statements' topic ("ALT 300 on day 8. What now?") or the drug ("What is
            # Besponsa?"); its words the monograph lacks still count against it, and the score decides.
            # A kind of answer the monograph gives, asked of the drug ("what is it actually for?"), is about
            # the drug whatever other words come with it.
            if (not unmet or of_drug) and (
                asking.subject or ((context.subject or asking.pointed) and not context.concepts)
            ):
                concepts = [(tuple(self._subject_words),)]
            elif context.concepts and (not unmet or not (asking.context or asking.subject)):
                concepts, hints = list(context.concepts), list(asking.context)
            elif asking.context:
                concepts, hints = list(asking.context), list(context.concepts + context.context)
        # "not going to transplant" (``outside``) is the setting, not the topic
        concepts = [c for c in concepts if not any(outside >= {stem(w) for w in p} for p in c)]
        if not concepts:
            return []  # nothing the monograph knows is asked about ("half-life of inotuzumab?")
        out = []
        for concept, credit in [*((c, 1.0) for c in concepts), *((c, CONTEXT_CREDIT) for c in hints)]:
            alternatives = [frozenset(stem(w) for w in phrase) for phrase in concept]
            weight = min(max(self._idf.get(s, self._unknown_weight) for s in a) for a in alternatives)
            out.append((alternatives, weight * credit))
        effects = self._effect_words(parts)
        out += [
            ([frozenset({f"?{w}"})], self._unknown_weight * (1.0 if w in effects else FILLER_CREDIT))
            for w in unmet
        ]
        return out

    def _effect_words(self, parts: QuestionParts) -> frozenset[str]:
        """The words after a kind that names an effect ("does it make kids feel sick?"), in each clause."""
        words: set[str] = set()
        for clause in parts.clauses:
            for kind in self._kinds_asked(clause.text, clause.typed):
                found = kind.asks.search(clause.text) if kind.effect else None
                if not found:
                    continue
                # the words right after it that the question's reading names (a term, or a word the monograph
                # lacks), up to one it does not ("cause a liver problem that ...": none)
                expansion = clause.expansion
                named = {*expansion.filler, *expansion.unknown}
                named.update(w for concept in expansion.concepts for phrase in concept for w in phrase)
                for word in clause.text[found.end() :].split():
                    if word in named:
                        words.add(word)
                    elif word not in _LIST_JOINERS:  # "feel sick and throw up": both are asked about
                        break
        return frozenset(words)

    def left_open(
        self, parts: QuestionParts, passages: Sequence[str], told: Sequence[str] = ()
    ) -> tuple[list[str], bool]:
        """What the question asks that these passages (a rule's own sentences) do not give, and whether they
        leave every clause open. Nothing is left when a rule's sentence answers the choice the quoted
        passages left open ("continue or wait?"), or a choice in a clause of words the monograph lacks
        ("push InO or sit on it?"), which the rule decides; "SOS on InO. Management? And which drug is the
        active treatment?" leaves its second clause open, not its first. A passage that applies only in a
        setting the question excludes ("not going to transplant") gives nothing. ``told``: the words the
        rule's findings were read from ("plt 40"); told before a dash, they ask for nothing."""
        outside = self._outside_scope(parts)
        given = [p for p in passages if not outside & self._scope_of.get(p, frozenset())]
        if not given:
            return ["nothing given"], True
        missing, blocked = self._not_covered(parts, given, by_rule=True, told=told)
        return missing, not ({c.text for c in parts.clauses} - set(blocked))

    def _framing(self, parts: QuestionParts) -> frozenset[str]:
        """The words of the asking clauses that ask for a kind of answer the monograph gives."""
        return frozenset(
            w
            for clause in parts.clauses
            for kind in self._kinds_asked(clause.text, clause.typed)
            if kind.steer
            for w in kind.dimension(clause.text)
        )

    def compose(
        self, parts: QuestionParts, ranked: Sequence[Scored], quoted_before: frozenset[str] = frozenset()
    ) -> Draft:
        """Quote the passages that answer the question, name what is not covered, or abstain.

        ``quoted_before``: passages an earlier answer in the conversation quoted; they count as close in
        meaning (the coverage tests still apply). A passage that applies only in a setting the question
        excludes ("not going to transplant") does not answer; when it was among the closest, the answer
        says where the monograph says it."""
        outside = self._outside_scope(parts)
        excluded = [s for s in ranked if outside & self._scope[s.passage.id]]
        draft = self._compose(parts, [s for s in ranked if s not in excluded], quoted_before, outside)
        near = {s.passage.section for s in ranked[:_SCOPE_NEAR] if s in excluded}
        if not near:
            return draft
        lines = [f'It says this only under "{section}", which the question excludes.' for section in near]
        return _noting(draft, [*lines, *draft.not_covered])

    def _compose(
        self,
        parts: QuestionParts,
        ranked: Sequence[Scored],
        quoted_before: frozenset[str],
        outside: frozenset[str],
    ) -> Draft:
        cal = self.calibration
        # clauses that ask for what no passage gives
        _, pessimistic = self._not_covered(parts, self._texts)
        wanted = self._weighted(parts, pessimistic, outside)
        if not any(w for _, w in wanted) or not ranked:
            return self._abstain("no clinical term of the monograph in the question", parts, [], ranked)
        total = sum(w for _, w in wanted)

        def coverage(stems: Mapping[str, float]) -> float:
            """Weighted share of the question's concepts found in credited stems (partial credit)."""
            found = (max(sum(stems.get(s, 0.0) for s in a) / len(a) for a in alts) for alts, _ in wanted)
            return sum(w * f for (_, w), f in zip(wanted, found, strict=True)) / total

        candidates = [(coverage(self._stems[s.passage.id]), s) for s in ranked]
        candidates = [(c, s) for c, s in candidates if c > 0]
        if not candidates:
            return self._abstain("no retrieved passage contains the question's terms", parts, [], ranked)
        close = [
            (c, s) for c, s in candidates if s.dense >= cal.floor_similarity or s.passage.id in quoted_before
        ]
        if not close:
            best = max(s.dense for _, s in candidates)
            diagnostics = {"similarity": round(best, 3)}
            return self._abstain("no passage is close enough in meaning", parts, [], ranked, diagnostics)
        steering = self._steering(parts)
        best_cov, best = max(
            self._steered(steering, close), key=lambda cs: (cs[0] + cs[1].dense, cs[1].score)
        )
        others = sorted(
            (
                (c, s)
                for c, s in close
                if s is not best
                and (s.dense >= cal.quote_similarity or s.passage.id in quoted_before)
                and c >= cal.keep_coverage * best_cov
                and s.dense >= best.dense - cal.keep_similarity_gap
            ),
            key=lambda cs: (-(cs[0] + cs[1].dense), cs[1].passage.id),
        )
        chosen = [best, *(s for _, s in others)][: cal.max_quotes]
        chosen += self._giving(steering, ranked, chosen, best)
        chosen += self._same_section(steering, ranked, chosen, best)
        chosen += self._dimensioned(parts, ranked, chosen, best)
        union: dict[str, float] = {}
        for s in chosen:
            for word, credit in self._stems[s.passage.id].items():
                union[word] = max(credit, union.get(word, 0.0))
        features = {
            "coverage": coverage(union),
            "best_coverage": best_cov,
            "similarity": best.dense,
            "log_concepts": math.log(len(wanted)),
            "quoted_before": float(best.passage.id in quoted_before),
        }
        diagnostics: dict[str, float | int | str] = {
            name: round(value, 3) for name, value in features.items()
        }
        diagnostics["unknown_terms"] = len(parts.asking.unknown)
        if self.answerability is not None:
            diagnostics["answerability"] = round(self.answerability.probability(features), 3)
        texts = [s.passage.text for s in chosen]
        missing, blocked = self._not_covered(parts, texts)
        if self.answerability is not None and diagnostics["answerability"] < self.answerability.threshold:
            reason = "the monograph's passages cover too little of the question"
            return self._abstain(reason, parts, missing, chosen, diagnostics)
        chosen += self._every_giving(steering, ranked, chosen)
        quoted = [s.passage for s in chosen]
        quoted += self._section_giving(steering, quoted, best.passage, coverage)
        quoted += self._restating(best.passage, quoted, outside, coverage)
        quotes = [Quote.of(p) for p in sorted(quoted, key=lambda p: p.start)]
        if blocked:
            if not self._something_else_asked(parts, blocked, union, [s.passage.text for s in chosen]):
                stated = self._premise_passage(parts, ranked)
                if stated is not None and parts.premise_told and not self._names_only(parts, blocked):
                    stated = None  # the asker read it there: quoting it back answers nothing
                if stated is None:
                    reason = "the question asks only for what the monograph does not give"
                    return self._abstain(
                        reason, parts, missing, chosen, {**diagnostics, "asks": ", ".join(blocked)}
                    )
                # "Observation is at least 1 hr - but how long does the infusion run?": the passage the
                # asker restated, and what the monograph does not say
                quotes, best = [Quote.of(stated.passage)], stated
                diagnostics["premise"] = stated.passage.id
            diagnostics["partial"] = ", ".join(blocked)
        text = render_quotes(quotes)
        if missing:
            text += "\n\n" + render_not_covered(missing)
        return Draft(
            text=text,
            quotes=quotes,
            abstained=False,
            not_covered=missing,
            diagnostics=diagnostics,
            best=Quote.of(best.passage),
        )

    def answerable_parts(self, parts: QuestionParts) -> list[str]:
        """The clauses of a refused question with several, each to be searched for on its own: one clause
        may pull retrieval away from the passage that answers another ("what is the mechanism ..., and
        which patients are at risk?"). Left out: a clause that asks only for what no passage may give ("what
        dose do kids get?"), and an option offered for the clause before ("... - weekly? every cycle?")."""
        _, blocked = self._not_covered(parts, self._texts)
        asking = [c for i, c in enumerate(parts.clauses) if not (i and _is_option(c))]
        # "List the SOS risk factors and give me the incidence": the parts of a clause joined by "and" that
        # ask for nothing the monograph lacks are searched for alone too
        searched: list[str] = []
        split = False
        for clause in asking:
            if clause.text not in blocked:
                searched.append(clause.text)
                continue
            open_parts = [p.text for p in clause.conjuncts if self._asks_on_its_own(p)]
            searched += open_parts
            split = split or bool(open_parts)
        return searched if len(parts.clauses) > 1 or split or parts.stated else []

    def pulled_by_statements(self, parts: QuestionParts, draft: Draft) -> bool:
        """An answer to a question with statements before what it asks whose quotes miss some of what the
        asking clauses name ("6 yo, 20 kg, ..., bili 0.5, ALT 22. What's the minimum observation period after
        the infusion?" quoting the liver tests, which name no infusion): the statements may have pulled the
        search, so it is searched again on what it asks alone, as a refusal is."""
        if draft.abstained or not parts.stated or not draft.quotes:
            return False
        concepts = [c for clause in parts.clauses for c in clause.expansion.concepts]
        quoted = frozenset().union(*(self._topic_stems.get(q.text, frozenset()) for q in draft.quotes))
        return bool(concepts) and not all(_holds(c, quoted) for c in concepts)

    def _names_only(self, parts: QuestionParts, blocked: Sequence[str]) -> bool:
        """The clauses that ask for what the monograph lacks ask only for named drugs."""
        named = self._answer_types.get("named_drugs")
        kinds = [
            t
            for c in parts.clauses
            if c.text in blocked
            for t in self._kinds_asked(c.text, c.typed)
            if not t.steer
        ]
        return bool(kinds) and all(t is named for t in kinds)

    def _premise_passage(self, parts: QuestionParts, ranked: Sequence[Scored]) -> Scored | None:
        """The passage that contains every concept of the question's opening statement, when it names at
        least ``_PREMISE_CONCEPTS`` of them."""
        premise = parts.premise
        if premise is None or len(premise.concepts) < _PREMISE_CONCEPTS:
            return None
        # Closeness is not asked of the passage: it is ranked for the question after the statement ("but
        # at what ALT level exactly?"), which shares little with it; holding every concept is the test.
        for scored in ranked:
            if all(_holds(concept, self._stems[scored.passage.id]) for concept in premise.concepts):
                return scored
        return None

    def _steering(self, parts: QuestionParts) -> list[AnswerType]:
        """The kinds of answer the monograph does give that the question asks for (``steer: true``)."""
        return [t for c in parts.clauses for t in self._kinds_asked(c.text, c.typed) if t.steer]

    def _steered(
        self, asked: Sequence[AnswerType], close: list[tuple[float, Scored]]
    ) -> list[tuple[float, Scored]]:
        """The candidates that give the kind of answer asked for ("can it cause ...?": a passage that says
        what it can cause), when one of them covers enough of the question; otherwise all of them."""
        if not asked:
            return close
        giving = [(c, s) for c, s in close if any(t.answered_by([s.passage.text]) for t in asked)]
        top = max(c + s.dense for c, s in close)
        if giving and max(c + s.dense for c, s in giving) >= self.calibration.steer_share * top:
            return giving
        return close

    def _giving(
        self, asked: Sequence[AnswerType], ranked: Sequence[Scored], chosen: list[Scored], best: Scored
    ) -> list[Scored]:
        """The passage closest in meaning that gives the kind of answer asked for, when none of the chosen
        ones does: "Will this drug make the blood counts go down?" quotes "... can cause myelosuppression
        ...", whose words are not the question's."""
        texts = [s.passage.text for s in chosen]
        wanting = [t for t in asked if not t.answered_by(texts)]
        if not wanting:
            return []
        floor = best.dense - self.calibration.keep_similarity_gap
        giving = [
            s
            for s in ranked
            if s not in chosen and s.dense >= floor and any(t.answered_by([s.passage.text]) for t in wanting)
        ]
        return sorted(giving, key=lambda s: -s.dense)[:_GIVING_MAX]

    def _same_section(
        self, asked: Sequence[AnswerType], ranked: Sequence[Scored], chosen: list[Scored], best: Scored
    ) -> list[Scored]:
        """The other passages of the best one's section that give the kind of answer asked for, when the
        kind asks for the whole of it ("How should an infusion reaction be managed?": interrupt and treat, and
        stop for good if severe)."""
        whole = [t for t in asked if t.whole_section and t.answered_by([best.passage.text])]
        if not whole:
            return []
        return [
            s
            for s in sorted(ranked, key=lambda s: s.passage.start)
            if s not in chosen
            and s.passage.heading_path == best.passage.heading_path
            and any(t.answered_by([s.passage.text]) for t in whole)
        ][:_GIVING_MAX]

    def _section_giving(
        self,
        asked: Sequence[AnswerType],
        quoted: Sequence[Passage],
        best: Passage,
        coverage: Callable[[Mapping[str, float]], float],
    ) -> list[Passage]:
        """The passage of the best one's section that gives the kind of answer asked for, when the best one
        only tells what the section then manages and no quoted passage gives it ("fever and rigors during the
        infusion, what do we do?": the reactions, then "Interrupt the infusion ..."), retrieved or not: of
        several, the one that covers most of the question. Added after the answer is decided: it completes
        the answer, it does not make it covered."""
        wanting = [t for t in asked if t.whole_section and not t.answered_by([p.text for p in quoted])]
        giving = [
            p
            for p in sorted(self._passage.values(), key=lambda p: p.start)
            if p not in quoted
            and p.heading_path == best.heading_path
            and any(t.answered_by([p.text]) for t in wanting)
        ]
        return sorted(giving, key=lambda p: -coverage(self._stems[p.id]))[:1]

    def _every_giving(
        self, asked: Sequence[AnswerType], ranked: Sequence[Scored], chosen: list[Scored]
    ) -> list[Scored]:
        """The other retrieved passages that give a kind every passage of which answers, once a quoted one
        gives it ("other drugs": "avoid concurrent use ..." and "strengthen monitoring when combined ...").
        Added to the quotes after the answer is decided: they complete it, they do not make it covered."""
        texts = [s.passage.text for s in chosen]
        every = [t for t in asked if t.every_passage and t.answered_by(texts)]
        return [
            s
            for s in sorted(ranked, key=lambda s: s.passage.start)
            if s not in chosen and any(t.answered_by([s.passage.text]) for t in every)
        ][:_GIVING_MAX]

    def _restating(
        self,
        best: Passage,
        quoted: Sequence[Passage],
        outside: frozenset[str],
        coverage: Callable[[Mapping[str, float]], float],
    ) -> list[Passage]:
        """The passage that restates the best one elsewhere in the monograph, when it covers as much of the
        question as a passage quoted beside the best one must ("a baseline ECG?" is not answered by "regular
        ECG ... before and during") and does not apply only in a setting the question excludes. A restatement
        says the same rule under another title: the best one's title counts for it too, so "QTc prolongation -
        what monitoring?" quotes both ECG sentences, the second under "Cardiac Function Monitoring". Added
        after the answer is decided: it completes the answer, it does not make it covered."""
        twin = self._passage.get(self._restatements.get(best.id, ""))
        if twin is None or twin in quoted or outside & self._scope[twin.id]:
            return []
        titled = {**dict.fromkeys(self._scope[best.id], HEADING_CREDIT), **self._stems[twin.id]}
        if coverage(titled) < self.calibration.keep_coverage * coverage(self._stems[best.id]):
            return []
        return [twin]

    def _dimensioned(
        self, parts: QuestionParts, ranked: Sequence[Scored], chosen: list[Scored], best: Scored
    ) -> list[Scored]:
        """The closest passage that gives the number a clause asks for in its own dimension, when none of the
        chosen ones does: "From what age can it be used?" quotes "... children aged 1 year and older" even
        when a risk-factor sentence about age is closer."""
        texts = [s.passage.text for s in chosen]
        floor = best.dense - self.calibration.keep_similarity_gap
        out: list[Scored] = []
        for clause in parts.clauses:
            for kind in self._kinds_asked(clause.text, clause.typed):
                if kind.steer or not kind.answer_when:
                    continue
                about = self._about(clause, kind)
                if kind.answered_by(texts, clause.text, self._on(about, texts)):
                    continue
                for s in ranked:
                    if s in chosen or s in out or s.dense < floor:
                        continue
                    if kind.numbered_by(self._on(about, [s.passage.text]), clause.text):
                        out.append(s)
                        break
        return out[:_GIVING_MAX]

    def _kinds_asked_uncached(self, text: str, typed: str) -> tuple[AnswerType, ...]:
        """The kinds of answer a clause asks for, read on the words as corrected and as typed ("antiemetic"
        must not become another word), each also without emphasis words ("how does it actually kill").
        Memoised: ``compose`` asks it up to three times per clause."""
        readings = list(dict.fromkeys([text, typed, without_intensifiers(text), without_intensifiers(typed)]))
        return tuple(t for t in self._answer_types.values() if any(t.asks.search(r) for r in readings if r))

    def _not_covered(
        self, parts: QuestionParts, passages: Sequence[str], by_rule: bool = False, told: Sequence[str] = ()
    ) -> tuple[list[str], list[str]]:
        """Lines naming what the question asks that the quoted passages do not give, and the clauses (by
        text) that ask only for that. With the whole monograph as ``passages``: what any passage could give,
        before passages are chosen."""
        missing: list[str] = []
        blocked: list[str] = []
        previous_blocked = False
        # "not going to transplant: how long are LFTs monitored?": a passage about the setting the patient is
        # outside of ("... at least one month after transplantation") gives them no answer
        outside = self._outside_scope(parts, with_statements=True)
        scoped = [p for p in passages if not outside & self._own_stems.get(p, frozenset())]
        for clause in parts.clauses:
            if previous_blocked and _is_option(clause):
                blocked.append(clause.text)  # "exact ECG schedule - weekly? every cycle?": options of it
                continue
            # a hyphenated name in capitals ("CAR-T") is a name whatever its length, and stands for its parts
            capital = [c for c in clause.codes if "-" in c]
            in_names = {w for c in capital for w in c.lower().split("-")}
            unknown = [
                *(w for w in clause.expansion.unknown if w not in self._clinical and w not in in_names),
                *(c for c in clause.codes if c not in capital),
            ]
            names = [
                w
                for w in unknown
                if self._names_a_thing(w)
                and (
                    not w.endswith(_MODIFIER_ENDINGS) or f" {w} acid " in f" {clause.text} "
                )  # "ursodeoxycholic acid"
                and not is_verb_form(w)
            ] + capital
            if not clause.expansion.concepts:
                names = unknown + capital  # "should we give G-CSF?": asks about that alone
            # another product named in two or three words is named whole: "St John's wort", not "wort"
            phrases = self._product_phrases(clause)
            names = [w for w in names if not any(w in p.split() for p in phrases)] + phrases
            names += self._offered_not_given(clause.text, passages)
            # "weekly or monthly?": an option a quoted passage says in its own words answers the choice; the
            # other option's word the monograph lacks is not asked for on its own (the drug's own name is no
            # option given: "blinatumomab or inotuzumab first?")
            if names and clause.choice is not None:
                said = frozenset().union(*(self._own_stems.get(p, frozenset()) for p in passages))
                said -= {stem(w) for w in self._subject_words}
                # the words either side of "or" are the options offered
                first, second = clause.choice.first.split()[-1], clause.choice.second.split()[0]
                for given, other in ((first, second), (second, first)):
                    if stem(given) in said and given not in names:
                        names = [w for w in names if w != other]
            # beside a rule that fired, a statement of its finding's value before a dash asks for nothing
            # ("plt 40, BM MRD neg, C2D1 due - give InO?" asks no efficacy figures; "what criteria make a 3rd
            # cycle necessary - MRD status?" still asks for criteria)
            before = clause.text.rpartition(f" {CLAUSE_DASH} ")[0]
            tells = by_rule and _is_statement(before) and any(w in before for w in told if _DIGIT.search(w))
            asked = self._kinds_asked(
                *(_after_dash(t) for t in (clause.text, clause.typed))
                if tells
                else (clause.text, clause.typed)
            )
            given = partial(self._section_gives, clause=clause, ruled=parts.ruled)
            own = {t.label: given(t, clause.expansion) for t in asked if t.by_section}
            lacking = [
                t
                for t in asked
                if not t.steer
                and not (own[t.label] is not False if t.by_section else self._gives(t, clause, scoped))
            ]
            kinds = [t.label for t in lacking]
            # "QTc 510 ms, K 3.1. Hold today's dose?": asked on what the statements tell, the rule the
            # monograph lacks is named beside its passages on that finding, the answer not refused (writers
            # label such a case partial; asked of the finding itself, "hold for QT prolongation?", it is)
            told_lacking = [
                t.label
                for t in asked
                if t.by_section and own[t.label] is None and given(t, parts.context) is False
            ]
            # "also on a QT-prolonging antifungal - anything in the monograph?": the class rule answers it
            in_class = any(t.covers_names and t.answered_by(passages) for t in asked)
            # a word that alone asks for a kind is said once, as that kind ("a contraindication?"); a code
            # with digits is still named ("CYP3A4")
            names = [w for w in names if not w.isalpha() or not any(t.asks.search(w) for t in lacking)]
            if names:
                missing.append(f"{NOT_MENTIONED} {_join_plain(names)}.")
            missing += [f"It gives no {label}." for label in [*kinds, *told_lacking]]
            choice = clause.choice
            unchosen = (
                choice is not None
                and not names
                and not (by_rule and not clause.expansion.concepts)
                and not self._chooses(choice, passages, clause.text)
            )
            if unchosen:  # "Does the 1 hr monitoring start from the start or the end of the infusion?"
                missing.append(f"It does not say which: {choice.first} or {choice.second}.")
            previous_blocked = bool((names and not in_class) or kinds or unchosen)
            if previous_blocked:
                blocked.append(clause.text)
        # "mum is breastfeeding, can she have inotuzumab": a question with no topic of its own asks about
        # the subject its statement names
        if parts.stated and parts.clauses and not any(c.expansion.concepts for c in parts.clauses):
            stated = [
                t
                for t in self._kinds_asked(parts.stated, parts.stated)
                if t.subject and not self._gives(t, parts.clauses[0], passages)
            ]
            missing += [f"It gives no {t.label}." for t in stated]
            if stated:
                blocked += [c.text for c in parts.clauses if c.text not in blocked]
        return list(dict.fromkeys(missing)), blocked

    def _outside_scope(self, parts: QuestionParts, with_statements: bool = False) -> frozenset[str]:
        """The settings a question places its patient outside: "for a patient NOT proceeding to transplant",
        "a non-transplant patient". A passage that applies only in that setting (its section title names it)
        does not answer for them. ``with_statements``: also where its statements say so ("If the patient is
        not going to transplant, ...")."""
        tokens = (f"{parts.stated} {parts.asking_text}" if with_statements else parts.asking_text).split()
        concepts = [c for clause in parts.clauses for c in clause.expansion.concepts]
        if with_statements:
            concepts += parts.context.concepts
        out: set[str] = set()
        for i, token in enumerate(tokens):
            # a negator inside a term of the monograph is no negation: "non relapse mortality"
            if token not in _SCOPE_NEGATORS or tuple(tokens[i : i + 2]) in self._pairs:
                continue
            # "non" is a prefix of the next word only: "non severe infusion reaction" is still a reaction
            reach = 1 if token == "non" else _SCOPE_WINDOW
            window = {stem(w) for w in tokens[i + 1 : i + 1 + reach]}
            for phrase in (p for concept in concepts for p in concept):
                if window & {stem(w) for w in phrase}:
                    out.update(stem(w) for w in phrase)
        return frozenset(out)

    def _section_gives(
        self, kind: AnswerType, named_in: Expansion, clause: Clause, ruled: bool
    ) -> bool | None:
        """Whether a section that tells of what ``named_in`` (the clause's words or the statements') names
        gives ``kind`` (``by_section``); also when a rule fired for the decision, or the clause asks about
        what another steering kind answers there ("give it with other QT-prolonging drugs?": "Avoid
        concurrent use"). None when it names nothing the sections tell of."""
        if ruled:
            return True
        deciding = self._deciding[kind.label]
        concepts = [c for c in named_in.concepts if not self._on(c, deciding)]
        sections = {self._section_of[p] for c in concepts for p in self._on(c, self._texts)}
        if not sections:
            return None
        told = [p for p in self._texts if self._section_of[p] in sections]
        others = [t for t in self._kinds_asked(clause.text, clause.typed) if t.steer and t is not kind]
        return any(t.answered_by(told) for t in [kind, *others])

    def _gives(self, kind: AnswerType, clause: Clause, passages: Sequence[str]) -> bool:
        """Whether a passage about the clause's topic gives ``kind`` for ``clause``: "how often exactly are
        ECGs done?" is not answered by "Check complete blood count before each administration", though that
        passage was quoted beside the ECG ones."""
        topical = self._topical(clause, kind, passages)
        return kind.answered_by(topical, clause.text, topical)

    def _offered_not_given(self, clause: str, passages: Sequence[str]) -> list[str]:
        """The amounts a clause offers as its answer ("should LFTs go on until day +100?", "restart at 50%?"),
        when no passage gives any of them: the monograph does not mention them. One given amount answers a
        choice ("weekly or twice weekly?")."""
        offered: dict[tuple[float, str], str] = {}
        for match in _OFFERING.finditer(clause):
            before = clause[: match.start()].split()
            lasted = match.group(0).startswith("for") or before[-1:] == ["for"]  # "for over a week"
            if lasted and _DIGIT.search(" ".join(before[-4:])):
                continue  # how long a finding lasted ("plt 40 for 2 weeks, hold?"), no amount offered
            after = " ".join(clause[match.end() :].split()[:_OFFERED_WORDS])
            for key, said in quantities(after).items():
                # a multiple of the ULN is offered as a limit ("above 1.5 x ULN"), not where a value went
                # ("AST went up to 4x ULN")
                limit = match.group(0).split()[0] in _LIMIT_WORDS
                if after.startswith(said) and (key[1] != "x ULN" or limit):
                    offered.setdefault(key, said)
        for match in _POST_DAY.finditer(clause):
            day = match.group(1) or match.group(2)
            offered.setdefault((float(day), "day"), f"day +{day}")
        if not offered:
            return []
        given = frozenset().union(
            *(self._amounts[p] if p in self._amounts else quantities(normalise(p)) for p in passages)
        )
        return [] if given.intersection(offered) else list(offered.values())

    def _topical(self, clause: Clause, kind: AnswerType, passages: Sequence[str]) -> list[str]:
        """The passages whose number in the asked dimension may answer ``clause``: about its most specific
        concept, or about any of its concepts for a kind that says so (``any_topic``)."""
        if not kind.any_topic:
            return self._on(self._about(clause, kind), passages)
        dimension = kind.dimension(clause.text)
        concepts = [c for c in clause.expansion.concepts if not any(dimension.intersection(p) for p in c)]
        if not concepts:
            return list(passages)
        return [p for p in passages if any(self._on(c, [p]) for c in concepts)]

    def _about(self, clause: Clause, kind: AnswerType) -> Concept | None:
        """What a clause asking for ``kind`` is about: its most specific concept (by IDF), besides the words
        that ask for the kind or name its dimension and the patients it is asked for ("a child"); None when
        it names nothing else."""
        dimension = kind.dimension(clause.text)
        concepts = [c for c in clause.expansion.concepts if not any(dimension.intersection(p) for p in c)]
        if not concepts:
            return None

        # the words between the ones that ask ("how long should LIVER FUNCTION keep being checked?"), for
        # any kind the clause asks ("for how long after TRANSPLANTATION should LIVER FUNCTION be monitored in
        # patients previously given it" asks a time course too, whose own words are only "how long after")
        kinds = self._kinds_asked(clause.text, clause.typed)
        inside = set().union(*(k.spanned(clause.text) for k in (kind, *kinds))) - dimension

        def specificity(concept: Concept) -> tuple[bool, bool, float]:
            rarity = min(max(self._idf.get(stem(w), self._unknown_weight) for w in p) for p in concept)
            within = any(inside.issuperset(p) for p in concept)
            return concept not in self._populations, within, rarity

        return max(concepts, key=specificity)

    def _on(self, about: Concept | None, passages: Sequence[str]) -> list[str]:
        """The passages about ``about`` (section title included), which alone may give a number in the
        asked dimension: "at least 1 hour" (under "Infusion-Related Reactions") answers "how many hours
        should we observe after the infusion?", not "how many hours before the infusion is the ECG done?"."""
        if about is None:
            return list(passages)
        about = self._equivalents.get(about, about)
        return [p for p in passages if _holds(about, self._topic_stems.get(p, frozenset()))]

    def _chooses(self, choice: Choice, passages: Sequence[str], clause: str) -> bool:
        """A quoted passage names one of the alternatives (a concept the rest of the clause does not), or
        gives the kind of answer the alternatives ask about ("a real danger or just a small side effect?":
        what it can cause). Without passages nothing is known yet."""
        if not passages:
            return True
        # "2 or 3?": numbers offered are chosen by a passage giving one of them ("2 cycles", "a 3rd cycle")
        numbers = {w for w in (choice.first.split()[-1:] + choice.second.split()[:1]) if w.isdigit()}
        if len(numbers) == 2 and any(numbers & set(normalise(p).split()) for p in passages):
            return True
        # "the CD19 or the CD22?": a passage that names an option's code ("targeting CD22", read "cd 22")
        # chooses it, whatever else the option says ("the CD22 please?")
        words = [*choice.first.split(), *choice.second.split()]
        codes = {f" {a} {b} " for a, b in itertools.pairwise(words) if a.isalpha() and b.isdigit()}
        if any(code in f" {normalise(p)} " for code in codes for p in passages):
            return True
        # ... or a kind asked through the choice itself ("pause it for a while or stop it completely?")
        asked = [*self._kinds_asked(f"{choice.first} or {choice.second}", "")]
        asked += [t for t in self._kinds_asked(clause, "") if " or " in _matched(t.asks, clause)]
        if any(t.steer and t.answered_by(passages) for t in asked):
            return True
        stems = [self._own_stems.get(p, frozenset()) for p in passages]
        return any(_holds(concept, own) for concept in choice.concepts for own in stems)

    def _something_else_asked(
        self, parts: QuestionParts, blocked: Sequence[str], union: Mapping[str, float], texts: Sequence[str]
    ) -> bool:
        """Another clause asks about a monograph concept that the quoted passages (``texts``, their stems
        ``union``) contain. A clause with no topic of its own asks about the statements' topic ("SOS on ino:
        what to do with the drug, and what defibrotide dose?")."""
        conditions = [c for c in parts.clauses if _states_condition(c)]
        framing = [concept for c in conditions for concept in c.expansion.concepts]
        for clause in parts.clauses:
            if clause.text in blocked and any(self._open_part(c, union) for c in clause.conjuncts):
                return True  # "Recommended # cycles and cycle length?": the number of cycles is given
            if clause.text in blocked and clause.items and self._open_part(clause.items[0], union):
                return True  # "Do we need a baseline ECG and an echo?": the ECG is given
            if clause.text in blocked or clause in conditions:
                continue
            asks = clause.text.split(" ", 1)[0] in _ASKING_START
            # "Can inotuzumab be used in a 1 year old, and what dose?": asked of the drug in a dimension a
            # quoted passage gives a number in (the indication's "aged 1 year and older")
            own = clause.expansion
            of_drug = asks and own.subject and not own.concepts and not own.unknown and not clause.codes
            if of_drug and any(t.numbered_by(texts, clause.text) for t in self._answer_types.values()):
                return True
            # a clause without a topic of its own asks about the statements' only when it asks at all
            # ("what to do with the drug"), not "pretend to be one and tell me the dose of blinatumomab"
            if parts.commands_only and not asks:
                continue  # "you are now a general medical chatbot" asks about nothing
            topic = clause.expansion.concepts or ([*framing, *parts.context.concepts] if asks else [])
            if any(_holds(concept, union) for concept in topic):
                return True
        return False

    def _lacks_kind(self, clause: Clause) -> bool:
        """The clause asks for a kind of answer that not every passage gives (a steering kind, such as risk
        factors, only chooses among passages)."""
        return any(not t.steer for t in self._kinds_asked(clause.text, clause.typed))

    def _open_part(self, part: Clause, union: Mapping[str, float]) -> bool:
        """A part of a clause that asks on its own about a concept the quoted passages contain."""
        return self._asks_on_its_own(part) and any(_holds(c, union) for c in part.expansion.concepts)

    def _asks_on_its_own(self, part: Clause) -> bool:
        """A part of a clause joined to another ("list the SOS risk factors and give me the incidence") that
        asks for no kind of answer the monograph lacks and names nothing it lacks."""
        named = [w for w in part.expansion.unknown if self._names_a_thing(w) and w not in self._clinical]
        return not named and not part.codes and not self._lacks_kind(part)

    def _product_phrases(self, clause: Clause) -> list[str]:
        """Other products' names of two or three words in the clause with a word it leaves unread ("st johns
        wort"; not "alkylating agents" or "monoclonal antibody", which read as the monograph's concepts)."""
        tokens = clause.text.split()
        unread = {*clause.expansion.unknown, *clause.expansion.filler}
        spans = [tokens[start:end] for start, end in phrases_in(tokens, self._products)]
        return [" ".join(span) for span in spans if unread & set(span)]

    def _names_a_thing(self, word: str) -> bool:
        """An unknown word long enough to name a thing ("ursodiol"), or another product's name however
        short ("atg")."""
        return len(word) >= _NAMED_MIN_LENGTH or word in self._products

    def _abstain(
        self,
        reason: str,
        parts: QuestionParts,
        missing: list[str],
        near: Sequence[Scored],
        diagnostics: dict[str, float | int | str] | None = None,
    ) -> Draft:
        if not missing:
            missing, _ = self._not_covered(parts, [s.passage.text for s in near])
        related = [
            Quote.of(s.passage)
            for s in near[: self.calibration.max_related]
            if s.dense >= self.calibration.related_similarity
        ]
        text = ABSTAIN_TEXT
        if missing:
            text += "\n\n" + render_not_covered(missing)
        if related:
            text += "\n\n" + render_related(related)
        return Draft(
            text=text,
            quotes=[],
            abstained=True,
            not_covered=missing,
            related=related,
            diagnostics={**(diagnostics or {}), "abstain_reason": reason},
            polar=_polar(parts),
        )


def find_restatements(
    passages: Sequence[Passage], vectors: Sequence[Sequence[float]], floor: float
) -> dict[str, str]:
    """Pairs of passages in different parts of the monograph (its risks and its monitoring) that are each
    other's closest in meaning across the parts, at least ``floor`` similar (cosine), both ways."""
    parts = [p.heading_path[0] if len(p.heading_path) > 1 else None for p in passages]
    norms = [math.sqrt(sum(x * x for x in v)) or 1.0 for v in vectors]
    units = [[x / norm for x in v] for v, norm in zip(vectors, norms, strict=True)]

    def similarity(i: int, j: int) -> float:
        return sum(a * b for a, b in zip(units[i], units[j], strict=True))

    closest: dict[int, tuple[float, int]] = {}
    for i, part in enumerate(parts):
        across = [(similarity(i, j), j) for j, other in enumerate(parts) if part and other and other != part]
        if across:
            closest[i] = max(across)
    return {
        passages[i].id: passages[j].id
        for i, (sim, j) in closest.items()
        if sim >= floor and closest.get(j, (0.0, -1))[1] == i
    }


def _noting(draft: Draft, lines: list[str]) -> Draft:
    """The draft with ``lines`` as its not-covered part, in its text too."""
    block = render_not_covered(lines)
    if draft.not_covered:
        text = draft.text.replace(render_not_covered(draft.not_covered), block, 1)
    elif draft.abstained:
        text = draft.text.replace(ABSTAIN_TEXT, f"{ABSTAIN_TEXT}\n\n{block}", 1)
    else:
        text = f"{draft.text}\n\n{block}"
    return replace(draft, text=text, not_covered=lines)


_GIVING_MAX = 2  # passages added because they give the kind of answer asked for
_PREPOSITIONS = frozenset(
    [
        "by",
        "at",
        "above",
        "below",
        "beyond",
        "in",
        "for",
        "to",
        "on",
        "from",
        "with",
        "after",
        "before",
        "until",
        "over",
        "under",
        "within",
        "during",
        "of",  # "Of the infection deaths after transplant, are they mostly fungal?"
        "among",
        "amongst",
    ]
)
_OPTION_WORDS = 4  # "every cycle?", "day 1 and 8?": a short fragment without a question word
_OPTION_SPLIT = re.compile(r"\s(?:,|/|or)\s")  # the items of a list of options


def _is_option(clause: Clause) -> bool:
    """A short fragment that offers a value for the clause before it rather than asking something new, or a
    list of such values ("weekly, every cycle, every dose")."""
    tokens = clause.text.split()
    if tokens[0] in _ASKING_START:
        return False
    items = [i.split() for i in _OPTION_SPLIT.split(clause.text) if i.strip()]
    return all(sum(t.isalnum() for t in item) <= _OPTION_WORDS for item in items)


def _states_condition(clause: Clause) -> bool:
    """A clause that only sets a condition: "if we reduce the dose for cytopenia", not "if VOD happens do we
    stop the ino" (which asks within it). "when" before a subject sets one too ("when liver tests normalise
    after a hold, ..."); before a verb or "to" it asks ("when do we restart?", "when to check the FBC")."""
    first, *rest = clause.text.split()
    when = first == "when" and bool(rest) and rest[0] not in AUXILIARIES and rest[0] != "to"
    subordinate = first in _CONDITION_START or when
    # "if SOS occurs, we stop inotuzumab?": a main clause after the comma asks within it
    main = any(t == "," and rest[i + 1 : i + 2] and rest[i + 1] in _PERSONS for i, t in enumerate(rest))
    return subordinate and not _ASKING_START & set(rest) and not main


def _join_plain(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + f" or {items[-1]}"


def _polar(parts: QuestionParts) -> bool:
    """The question asks yes or no ("can we give C2 with premeds?", "team asking whether to reattempt D8",
    "what if we premedicate, can we give it then?"): it asks (not only commands), and no clause has a
    question word other than "whether" or the "what" of "what if"."""
    return (
        not parts.commands_only
        and bool(parts.clauses)
        and not any(
            (_QUESTION_WORDS - {"whether"}) & set(_WHAT_IF.sub("if", c.text).split()) for c in parts.clauses
        )
    )


@lru_cache(maxsize=512)
def _spelled(pattern: str) -> frozenset[str]:
    """The words a regular expression spells out (its escapes, such as ``\\w`` and ``\\s``, left out)."""
    return frozenset(re.findall(r"[a-z0-9]+", re.sub(r"\\[a-zA-Z]", " ", pattern)))


def _spells(spelled: frozenset[str], word: str) -> bool:
    """Whether ``word`` is spelled by a pattern, whole or as a stem it completes ("monitor" + "ing")."""
    return word in spelled or any(word.startswith(s) for s in spelled if len(s) >= _SPELLED_STEM)


def _matched(pattern: re.Pattern[str], text: str) -> str:
    found = pattern.search(text)
    return found.group(0) if found else ""
