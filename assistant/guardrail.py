"""Deterministic guardrail: monograph rules that override any answer about stopping, holding, resuming or
extending Besponsa treatment.

Why deterministic: clinicians act on these verdicts, so the same question must give the same rule in the same
words every time, whatever retrieval or a language model would have said. Why data-driven: the triggers are
clinical vocabulary that pharmacists review, so they live in ``corpus/rules.yaml`` together with the reason
for every matching decision; this module only knows HOW to match, never WHAT.

Matching works on whole tokens of a normalised text (``normalise``). A rule fires when its condition is
mentioned without negation and the question asks for a treatment decision; the exact semantics (negation
scope, severity, criteria questions, follow-ups) are documented at the top of ``corpus/rules.yaml``.
Loading fails closed (``RulesError``): a malformed file, an unknown action or a source sentence that is not
verbatim in the corpus stops the program. Nothing in a question and no setting can switch the rules off.
"""

from __future__ import annotations

import re
import time
import unicodedata
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from .corpus import Corpus
from .errors import RulesError
from .models import Action, Quote, RuleHit

Status = Literal["present", "negated", "hypothetical"]
ACTIONS: tuple[str, ...] = get_args(Action)
ACTION_LABELS: dict[str, str] = {
    "discontinue": "Permanently discontinue",
    "interrupt": "Interrupt / hold",
    "limit": "Cycle limit",
}
CONTEXT_MARK = " (earlier turn)"
MAX_FUZZY_LENGTH = 40  # no medical word is longer; bounds the work on junk input
MASK = "_"  # stands for a masked word; never produced by ``normalise``
_PRESENT: frozenset[Status] = frozenset({"present"})
_TOPIC: frozenset[Status] = frozenset({"present", "hypothetical"})  # what a follow-up may refer back to

# --------------------------------------------------------------------------------------------- normalisation

_FOLD = str.maketrans(
    {
        **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d", "-"),
        **dict.fromkeys("\u2018\u2019\u201a\u201b\u2032\u00b4`", "'"),
        **dict.fromkeys("\u201c\u201d\u201e\u201f\u2033\u00ab\u00bb", '"'),
        "\u00d7": " x ",
        "\u2265": ">",
        "\u2264": "<",
    }
)
_COMBINING = re.compile(r"[\u0300-\u036f]")
_ACRONYM = re.compile(r"(?<![a-z])(?:[a-z]\.){2,}")
_INNER_APOSTROPHE = re.compile(r"(?<=[a-z0-9])'(?=[a-z])")
_OTHER = re.compile(r"[^a-z0-9.,;:?!()\[\]{}\"<>=+% ]+")
_DECIMAL_POINT = re.compile(r"(?<=\d)\.(?=\d)")
_PUNCT = re.compile(r"""([.,;:?!()\[\]{}"<>=+%])""")
_DIGIT_LETTER = re.compile(r"(?<=\d)(?=[a-z])|(?<=[a-z])(?=\d)")


def normalise(text: str) -> str:
    """One canonical spelling for questions and rule phrases alike: whole tokens separated by single spaces.

    Lower case; accents, unicode dashes and quotes folded; "S.O.S." -> "sos"; "can't" -> "cant"; hyphens,
    slashes and other symbols -> spaces; punctuation kept as its own token (it ends clauses); digits split
    from letters ("4th" -> "4 th", "3x" -> "3 x") but decimals kept ("2.5").
    """
    text = unicodedata.normalize("NFKD", text).lower().translate(_FOLD)
    text = _COMBINING.sub("", text)
    text = _ACRONYM.sub(lambda m: m.group(0).replace(".", ""), text)
    text = _INNER_APOSTROPHE.sub("", text)
    text = _OTHER.sub(" ", text)
    text = _DECIMAL_POINT.sub("\x00", text)
    text = _PUNCT.sub(r" \1 ", text).replace("\x00", ".")
    text = _DIGIT_LETTER.sub(" ", text)
    return " ".join(text.split())


# ------------------------------------------------------------------------------------------ rules-file schema


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Regex(_Strict):
    re: str = Field(min_length=1)


Term = str | _Regex


class _Entry(_Strict):
    any: list[Term] = Field(default_factory=list)
    near: list[list[Term]] = Field(default_factory=list)
    window: int = Field(default=4, ge=0, le=20)
    negatable: bool = True

    @model_validator(mode="after")
    def _one_kind(self) -> _Entry:
        if bool(self.any) == bool(self.near):
            raise ValueError("a match entry needs exactly one of `any` (a list) or `near` (two lists)")
        if self.near and (len(self.near) != 2 or not all(self.near)):
            raise ValueError("`near` must hold exactly two non-empty lists")
        return self


class _Negation(_Strict):
    before: list[Term] = Field(default_factory=list)
    after: list[Term] = Field(default_factory=list)


class _GlobalNegation(_Negation):
    window: int = Field(ge=0, le=10)
    not_negation: list[Term] = Field(default_factory=list)


class _Condition(_Strict):
    match: list[_Entry] = Field(min_length=1)
    negation: _Negation = Field(default_factory=_Negation)


class _Rule(_Strict):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    action: str
    condition: str
    message: str = Field(min_length=1)
    sources: list[str] = Field(min_length=1)
    severity: Literal["required", "excluded"] | None = None
    requires_intent: bool = True


class _CriteriaGroup(_Strict):
    words: list[Term] = Field(min_length=1)
    fire: list[str] = Field(min_length=1)
    unless: list[Term] = Field(default_factory=list)


class _Criteria(_Strict):
    cues: list[Term] = Field(min_length=1)
    groups: list[_CriteriaGroup] = Field(min_length=1)


class _Fuzzy(_Strict):
    min_length: int = Field(default=7, ge=4)
    long_length: int = Field(default=10, ge=4)
    not_typos: list[str] = Field(default_factory=list)


class _RulesFile(_Strict):
    version: Literal[1]
    boundaries: list[Term] = Field(min_length=1)
    list_joiners: list[Term] = Field(default_factory=list)
    masked: list[Term] = Field(default_factory=list)
    intent: list[Term] = Field(min_length=1)
    severity: list[Term] = Field(min_length=1)
    negation: _GlobalNegation
    hypothetical: _Negation
    fuzzy: _Fuzzy = Field(default_factory=_Fuzzy)
    criteria: _Criteria
    shared: dict[str, Any] = Field(default_factory=dict)  # YAML anchors only; not read
    conditions: dict[str, _Condition] = Field(min_length=1)
    rules: list[_Rule] = Field(min_length=1)


# ------------------------------------------------------------------------------------------------- matching


@dataclass(frozen=True, slots=True)
class _Span:
    """Tokens ``start:end`` of a document."""

    start: int
    end: int

    def overlaps(self, other: _Span) -> bool:
        return self.start < other.end and other.start < self.end


@dataclass(frozen=True)
class _Doc:
    """A normalised (and typo-corrected) text split into tokens; ``surface`` keeps the words as typed."""

    text: str
    starts: tuple[int, ...]
    surface: tuple[str, ...]

    @classmethod
    def of(cls, tokens: Sequence[str], surface: Sequence[str]) -> _Doc:
        starts, pos = [], 0
        for token in tokens:
            starts.append(pos)
            pos += len(token) + 1
        return cls(" ".join(tokens), tuple(starts), tuple(surface))

    def words(self, span: _Span) -> str:
        return " ".join(self.surface[span.start : span.end])


class _Terms:
    """A list of phrases and regexes compiled into one pattern that matches whole tokens only."""

    def __init__(self, items: Iterable[Term], where: str) -> None:
        literals: set[str] = set()
        patterns: list[str] = []
        for item in items:
            if isinstance(item, _Regex):
                patterns.append(item.re)
                continue
            phrase = normalise(item)
            if not phrase:
                raise RulesError(f"{where}: phrase {item!r} is empty once normalised")
            literals.add(phrase)
        self.words = frozenset(w for phrase in literals for w in phrase.split())
        ordered = sorted(literals, key=lambda p: (-len(p), p))  # longest first: "hepatic vod" before "vod"
        alternatives = [re.escape(p) for p in ordered] + [f"(?:{p})" for p in patterns]
        try:
            self._pattern = (
                re.compile(rf"(?<!\S)(?:{'|'.join(alternatives)})(?!\S)") if alternatives else None
            )
        except re.error as exc:
            raise RulesError(f"{where}: invalid regular expression ({exc})") from exc

    def find(self, doc: _Doc) -> list[_Span]:
        if self._pattern is None:
            return []
        spans = []
        for m in self._pattern.finditer(doc.text):
            if m.end() == m.start():
                continue
            start = bisect_right(doc.starts, m.start()) - 1
            end = bisect_right(doc.starts, m.end() - 1)
            spans.append(_Span(start, end))
        return spans


@dataclass(frozen=True)
class _CompiledEntry:
    any: _Terms | None
    near: tuple[_Terms, _Terms] | None
    window: int
    negatable: bool


@dataclass(frozen=True)
class _CompiledCondition:
    name: str
    entries: tuple[_CompiledEntry, ...]
    before: _Terms
    after: _Terms


@dataclass(frozen=True)
class _CompiledRule:
    id: str
    action: Action
    condition: str
    message: str
    quotes: tuple[Quote, ...]
    severity: Literal["required", "excluded"] | None
    requires_intent: bool


@dataclass(frozen=True)
class _CompiledGroup:
    words: _Terms
    fire: tuple[str, ...]
    unless: _Terms


@dataclass(frozen=True)
class _Mention:
    condition: str
    words: str
    status: Status


@dataclass(frozen=True)
class _Reading:
    """What one text says: the conditions it mentions, its decision-intent words and its severity words."""

    mentions: tuple[_Mention, ...]
    intent: tuple[str, ...]
    severe: tuple[str, ...]
    criteria: tuple[frozenset[str], tuple[str, ...]] | None  # (actions asked about, trigger words)
    # Halves of `near` conditions, for a condition split across turns ("Which liver tests are done?" then
    # "And if they are abnormal?"): the first subject word per condition, and the qualifiers found.
    subjects: dict[str, str]
    qualifiers: tuple[_Mention, ...]

    def found(self, condition: str, statuses: frozenset[Status]) -> list[str]:
        return [m.words for m in self.mentions if m.condition == condition and m.status in statuses]


class _Boundaries:
    """Prefix counts of clause-ending tokens, so "is there a boundary between i and j" is O(1).

    ``separators`` are list separators (the commas and "or" of "fever, chills or rash"): a negation before a
    list reaches every item, so distances are counted from the last separator.
    """

    def __init__(self, size: int, spans: Iterable[_Span], separators: Iterable[_Span] = ()) -> None:
        self._separators = sorted(s.end for s in separators)
        flags = [0] * size
        for span in spans:
            for i in range(span.start, span.end):
                flags[i] = 1
        self._prefix = [0]
        for flag in flags:
            self._prefix.append(self._prefix[-1] + flag)

    def between(self, start: int, end: int) -> bool:
        """True if a boundary token lies in tokens ``start:end``."""
        return end > start and self._prefix[end] - self._prefix[start] > 0

    def list_start(self, start: int, end: int) -> int:
        """Where the list item ending at ``end`` begins, if a separator lies in ``start:end``; else start."""
        inside = [s for s in self._separators if start < s <= end]
        return inside[-1] if inside else start


# ------------------------------------------------------------------------------------------------ guardrail


class Guardrail:
    """The loaded, validated rules. Immutable after ``load``; ``check`` is pure and thread-safe."""

    def __init__(self, spec: _RulesFile, corpus: Corpus, source: str) -> None:
        self._rules = tuple(self._compile_rule(rule, spec, corpus, source) for rule in spec.rules)
        ids = [r.id for r in self._rules]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise RulesError(f"{source}: duplicate rule ids {duplicates}")
        self._window = spec.negation.window
        self._boundaries = _Terms(spec.boundaries, f"{source}: boundaries")
        self._joiners = _Terms(spec.list_joiners, f"{source}: list_joiners")
        self._masked = _Terms(spec.masked, f"{source}: masked")
        self._intent = _Terms(spec.intent, f"{source}: intent")
        self._severity = _Terms(spec.severity, f"{source}: severity")
        self._before = _Terms(spec.negation.before, f"{source}: negation.before")
        self._after = _Terms(spec.negation.after, f"{source}: negation.after")
        self._not_negation = _Terms(spec.negation.not_negation, f"{source}: negation.not_negation")
        self._hypo_before = _Terms(spec.hypothetical.before, f"{source}: hypothetical.before")
        self._hypo_after = _Terms(spec.hypothetical.after, f"{source}: hypothetical.after")
        self._conditions = tuple(
            self._compile_condition(name, cond, source) for name, cond in spec.conditions.items()
        )
        self._condition_names = tuple(c.name for c in self._conditions)
        self._cues = _Terms(spec.criteria.cues, f"{source}: criteria.cues")
        self._groups = tuple(self._compile_group(i, g, source) for i, g in enumerate(spec.criteria.groups))
        self._fuzzy = spec.fuzzy
        self._known, self._fuzzy_vocabulary = self._vocabularies(spec, corpus)
        self._nearest = lru_cache(maxsize=4096)(self._nearest_uncached)

    # -- loading -------------------------------------------------------------------------------------------

    @classmethod
    def load(cls, path: Path, corpus: Corpus) -> Guardrail:
        """Read and validate ``path``; any problem raises ``RulesError`` naming it (fail closed)."""
        source = str(path)
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise RulesError(f"cannot read rules file {source}: {exc}") from exc
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise RulesError(f"rules file {source} is not valid YAML: {exc}") from exc
        if not isinstance(raw, dict):
            raise RulesError(f"rules file {source} must be a YAML mapping, not {type(raw).__name__}")
        try:
            spec = _RulesFile.model_validate(raw)
        except ValidationError as exc:
            raise RulesError(f"rules file {source} does not follow the rules schema: {exc}") from exc
        return cls(spec, corpus, source)

    @staticmethod
    def _compile_rule(rule: _Rule, spec: _RulesFile, corpus: Corpus, source: str) -> _CompiledRule:
        where = f"{source}: rule {rule.id!r}"
        if rule.action not in ACTIONS:
            raise RulesError(f"{where} has unknown action {rule.action!r}; expected one of {list(ACTIONS)}")
        if rule.condition not in spec.conditions:
            raise RulesError(f"{where} names unknown condition {rule.condition!r}")
        quotes = []
        for sentence in rule.sources:
            quote = corpus.locate(sentence)
            if quote is None:
                raise RulesError(f"{where}: source sentence is not verbatim in the corpus: {sentence!r}")
            quotes.append(quote)
        return _CompiledRule(
            id=rule.id,
            action=rule.action,  # type: ignore[arg-type]  # checked against ACTIONS above
            condition=rule.condition,
            message=" ".join(rule.message.split()),
            quotes=tuple(quotes),
            severity=rule.severity,
            requires_intent=rule.requires_intent,
        )

    @staticmethod
    def _compile_condition(name: str, cond: _Condition, source: str) -> _CompiledCondition:
        where = f"{source}: condition {name!r}"
        entries = []
        for i, entry in enumerate(cond.match):
            at = f"{where} match[{i}]"
            entries.append(
                _CompiledEntry(
                    any=_Terms(entry.any, at) if entry.any else None,
                    near=(_Terms(entry.near[0], at), _Terms(entry.near[1], at)) if entry.near else None,
                    window=entry.window,
                    negatable=entry.negatable,
                )
            )
        return _CompiledCondition(
            name=name,
            entries=tuple(entries),
            before=_Terms(cond.negation.before, f"{where} negation.before"),
            after=_Terms(cond.negation.after, f"{where} negation.after"),
        )

    @staticmethod
    def _compile_group(index: int, group: _CriteriaGroup, source: str) -> _CompiledGroup:
        where = f"{source}: criteria.groups[{index}]"
        unknown = [a for a in group.fire if a not in ACTIONS]
        if unknown:
            raise RulesError(f"{where} fires unknown action {unknown}; expected one of {list(ACTIONS)}")
        return _CompiledGroup(_Terms(group.words, where), tuple(group.fire), _Terms(group.unless, where))

    def _vocabularies(self, spec: _RulesFile, corpus: Corpus) -> tuple[frozenset[str], tuple[str, ...]]:
        """Words never corrected, and the condition/severity words a typo may be corrected to."""
        medical: set[str] = set(self._severity.words)
        for cond in self._conditions:
            for entry in cond.entries:
                for terms in (entry.any,) if entry.any else entry.near or ():
                    medical |= terms.words
        every = [self._intent, self._boundaries, self._joiners, self._before, self._after, self._cues]
        every += [self._not_negation, self._hypo_before, self._hypo_after, *(g.words for g in self._groups)]
        known = set(corpus.vocabulary) | medical | {normalise(w) for w in spec.fuzzy.not_typos}
        for terms in every:
            known |= terms.words
        targets = sorted(w for w in medical if w.isalpha() and len(w) >= spec.fuzzy.min_length)
        return frozenset(known), tuple(targets)

    # -- public --------------------------------------------------------------------------------------------

    @property
    def rule_ids(self) -> list[str]:
        return [r.id for r in self._rules]

    def check(self, question: str, context: str = "") -> list[RuleHit]:
        """The rules this question triggers, in rules-file order. Pure and deterministic.

        ``context``: the earlier USER turns of the conversation, one per line, oldest first (not the
        assistant's answers: they quote rule sentences). It is read only when no condition is present in the
        question itself (a follow-up such as "should we stop it then?"), and then only the most recent line
        in which a condition is present or hypothetical counts. The decision intent always comes from the
        question.
        """
        asked = self._read(question)
        if any(m.status == "present" for m in asked.mentions):
            found = {c: asked.found(c, _PRESENT) for c in self._condition_names}
            return self._hits(asked, found, asked.severe, from_context=False)
        if asked.criteria is not None:
            return self._criteria_hits(*asked.criteria)
        if not asked.intent:
            return []
        for line in reversed(context.splitlines()):
            earlier = self._read(line, with_criteria=False)
            found = {c: [w + CONTEXT_MARK for w in earlier.found(c, _TOPIC)] for c in self._condition_names}
            for q in asked.qualifiers:  # the subject in the earlier turn, its qualifier in this question
                if q.status == "present" and q.condition in earlier.subjects:
                    found[q.condition].append(f"{earlier.subjects[q.condition]}{CONTEXT_MARK} + {q.words}")
            if any(found.values()):
                return self._hits(asked, found, asked.severe + earlier.severe, from_context=True)
        return []

    # -- reading a text ------------------------------------------------------------------------------------

    def _read(self, text: str, *, with_criteria: bool = True) -> _Reading:
        surface = normalise(text).split()
        tokens = [self._correct(token) for token in surface]
        for span in self._masked.find(_Doc.of(tokens, surface)):
            tokens[span.start : span.end] = [MASK] * (span.end - span.start)
        doc = _Doc.of(tokens, surface)
        size = len(surface)
        intent = self._intent.find(doc)
        boundaries = self._boundaries.find(doc)
        clauses = _Boundaries(size, boundaries)
        # Negation stops at clause boundaries and at intent words, but runs over the commas of a list that
        # ends in "or"/"nor" ("no fever, chills or rash").
        listed = self._list_commas(doc, boundaries)
        separators = [*listed, *self._joiners.find(doc)]
        scope = _Boundaries(size, [*(b for b in boundaries if b not in listed), *intent], separators)
        fake = self._not_negation.find(doc)

        def cues(terms: _Terms) -> list[_Span]:
            return [c for c in terms.find(doc) if not any(c.overlaps(f) for f in fake)]

        before, after = cues(self._before), cues(self._after)
        hypo_before, hypo_after = cues(self._hypo_before), cues(self._hypo_after)

        mentions: list[_Mention] = []
        subjects: dict[str, str] = {}
        qualifiers: list[_Mention] = []
        for cond in self._conditions:
            negation = (before + cues(cond.before), after + cues(cond.after))
            hypothetical = (hypo_before, hypo_after)
            covered: set[int] = set()
            for entry in cond.entries:
                if entry.near is not None:
                    firsts, seconds = entry.near[0].find(doc), entry.near[1].find(doc)
                    if firsts:
                        subjects.setdefault(cond.name, doc.words(firsts[0]))
                    for q in seconds:
                        how = self._status((q,), entry.negatable, negation, hypothetical, scope)
                        qualifiers.append(_Mention(cond.name, doc.words(q), how))
                    matches = self._pairs(firsts, seconds, entry.window, clauses)
                else:
                    assert entry.any is not None
                    matches = [(span,) for span in entry.any.find(doc)]
                for parts in matches:
                    tokens = {i for p in parts for i in range(p.start, p.end)}
                    if tokens <= covered:
                        continue  # "infusion reaction" already counted; skip its near-pair reading
                    covered |= tokens
                    words = " ".join(doc.words(p) for p in parts)
                    how = self._status(parts, entry.negatable, negation, hypothetical, scope)
                    mentions.append(_Mention(cond.name, words, how))

        severe = tuple(
            doc.words(s)
            for s in self._severity.find(doc)
            if not self._cued((s,), before + hypo_before, after + hypo_after, scope)
        )
        own_topic = any(m.status == "present" for m in mentions)
        criteria = self._criteria(doc) if with_criteria and not own_topic else None
        return _Reading(
            mentions=tuple(mentions),
            intent=tuple(doc.words(s) for s in intent),
            severe=severe,
            criteria=criteria,
            subjects=subjects,
            qualifiers=tuple(qualifiers),
        )

    def _list_commas(self, doc: _Doc, boundaries: list[_Span]) -> set[_Span]:
        """Commas followed, before any other boundary, by a list joiner ("fever, chills or rash")."""
        joiners = [j.start for j in self._joiners.find(doc)]
        if not joiners:
            return set()
        listed = set()
        stop = len(doc.surface)  # start of the next boundary that is not a comma
        for b in reversed(boundaries):
            if doc.surface[b.start] != ",":
                stop = b.start
            elif bisect_left(joiners, b.end) < bisect_left(joiners, stop):
                listed.add(b)
        return listed

    def _correct(self, token: str) -> str:
        """A long word one (or two) letters away from a condition word is read as that word."""
        too_short, too_long = len(token) < self._fuzzy.min_length, len(token) > MAX_FUZZY_LENGTH
        if too_short or too_long or token in self._known or not token.isalpha():
            return token
        return self._nearest(token)

    def _nearest_uncached(self, token: str) -> str:
        limit = 2 if len(token) >= self._fuzzy.long_length else 1
        best = process.extractOne(
            token, self._fuzzy_vocabulary, scorer=Levenshtein.distance, score_cutoff=limit
        )
        return best[0] if best is not None else token

    @staticmethod
    def _pairs(
        firsts: list[_Span], seconds: list[_Span], window: int, clauses: _Boundaries
    ) -> list[tuple[_Span, ...]]:
        """A word of each list, at most ``window`` tokens apart in the same clause ("ALT ... 3x ULN")."""
        pairs: list[tuple[_Span, ...]] = []
        if not firsts or not seconds:
            return pairs
        starts = [b.start for b in seconds]  # already in text order
        reach = window + max(b.end - b.start for b in seconds)
        for a in firsts:
            lo, hi = bisect_left(starts, a.start - reach), bisect_right(starts, a.end + window)
            for b in seconds[lo:hi]:
                if a.overlaps(b):
                    continue
                left, right = (a, b) if a.start < b.start else (b, a)
                if right.start - left.end <= window and not clauses.between(left.end, right.start):
                    pairs.append((a, b))
        return pairs

    def _status(
        self,
        parts: Sequence[_Span],
        negatable: bool,
        negation: tuple[list[_Span], list[_Span]],
        hypothetical: tuple[list[_Span], list[_Span]],
        scope: _Boundaries,
    ) -> Status:
        """Negated ("no signs of SOS"), hypothetical ("at risk of SOS") or present."""
        if negatable and self._cued(parts, *negation, scope):
            return "negated"
        if negatable and self._cued(parts, *hypothetical, scope):
            return "hypothetical"
        return "present"

    def _cued(
        self, parts: Sequence[_Span], before: list[_Span], after: list[_Span], scope: _Boundaries
    ) -> bool:
        """A cue shortly before any part, or shortly after the whole match, in the same clause."""
        end = max(p.end for p in parts)
        for cue in before:
            if any(cue.overlaps(p) for p in parts):
                continue
            for part in parts:
                if part.start < cue.end or scope.between(cue.end, part.start):
                    continue
                if part.start - scope.list_start(cue.end, part.start) <= self._window:
                    return True
        for cue in after:
            gap = cue.start - end
            inside = any(cue.overlaps(p) for p in parts)
            if 0 <= gap <= self._window and not inside and not scope.between(end, cue.start):
                return True
        return False

    def _criteria(self, doc: _Doc) -> tuple[frozenset[str], tuple[str, ...]] | None:
        """A question about the rules themselves ("when must it be permanently discontinued?")."""
        cues = self._cues.find(doc)
        if not cues:
            return None
        actions: set[str] = set()
        words: list[str] = []
        for group in self._groups:
            found = group.words.find(doc)
            if found and not group.unless.find(doc):
                actions.update(group.fire)
                words += [doc.words(s) for s in found]
        if not actions:
            return None
        return frozenset(actions), tuple(dict.fromkeys([doc.words(cues[0]), *words]))

    # -- building hits -------------------------------------------------------------------------------------

    def _hits(
        self, asked: _Reading, found: dict[str, list[str]], severe: tuple[str, ...], *, from_context: bool
    ) -> list[RuleHit]:
        """Rules whose condition was found, given the question's intent and the severity words."""
        hits = []
        for rule in self._rules:
            if not found.get(rule.condition):
                continue
            if (rule.requires_intent or from_context) and not asked.intent:
                continue
            if (rule.severity == "required" and not severe) or (rule.severity == "excluded" and severe):
                continue
            triggers = list(found[rule.condition])
            if rule.severity == "required":
                triggers += list(severe)
            triggers += asked.intent
            hits.append(self._hit(rule, triggers))
        return hits

    def _criteria_hits(self, actions: frozenset[str], words: tuple[str, ...]) -> list[RuleHit]:
        return [self._hit(r, ["criteria question", *words]) for r in self._rules if r.action in actions]

    @staticmethod
    def _hit(rule: _CompiledRule, triggers: Iterable[str]) -> RuleHit:
        return RuleHit(
            rule_id=rule.id,
            action=rule.action,
            message=rule.message,
            quotes=list(rule.quotes),
            triggers=list(dict.fromkeys(triggers)),
        )


def render_verdicts(hits: Sequence[RuleHit]) -> str:
    """The block that opens an answer when rules fire: action, message and verbatim source per rule."""
    blocks = []
    for hit in hits:
        lines = [f"{ACTION_LABELS[hit.action]} [rule {hit.rule_id}]: {hit.message}"]
        lines += [f'- Monograph, {q.section}: "{q.text}"' for q in hit.quotes]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def mean_check_seconds(guard: Guardrail, questions: Sequence[str], *, rounds: int = 50) -> float:
    """Mean wall time of one ``guard.check`` over ``questions`` (for the benchmark; not a test)."""
    if not questions:
        return 0.0
    started = time.perf_counter()
    for _ in range(rounds):
        for question in questions:
            guard.check(question)
    return (time.perf_counter() - started) / (rounds * len(questions))
