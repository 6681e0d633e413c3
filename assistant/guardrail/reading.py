"""Reading one text: which conditions it mentions (present, negated or hypothetical), its decision-intent and
severity words, and whether it asks about the rules themselves.

Why separate: this is the clinical-language part of the guardrail (typo correction, masked phrases, clause
boundaries, negation scope over lists, near-pairs such as "ALT ... 3x ULN"). It says what a text says and
nothing about which rules fire; ``engine`` decides that from one or more readings.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from ..corpus import Corpus
from .schema import RulesFile, compile_condition, compile_group
from .text import Boundaries, Doc, Span, Terms, normalise

# "retracted": negated by a cue that withdraws a diagnosis ("SOS ruled out", "VOD excluded"), which ends the
# condition in a conversation; a plain negation ("no signs of SOS") may only mean it has resolved.
Status = Literal["present", "negated", "retracted", "hypothetical"]
MAX_FUZZY_LENGTH = 40  # no medical word is longer; bounds the work on junk input
MASK = "_"  # stands for a masked word; never produced by ``normalise``


@dataclass(frozen=True)
class Mention:
    condition: str
    words: str
    status: Status


@dataclass(frozen=True)
class Reading:
    """What one text says: the conditions it mentions, its decision-intent words and its severity words."""

    mentions: tuple[Mention, ...]
    intent: tuple[str, ...]
    severe: tuple[str, ...]
    criteria: tuple[frozenset[str], tuple[str, ...]] | None  # (actions asked about, trigger words)
    # Halves of `near` conditions, for a condition split across turns ("Which liver tests are done?" then
    # "And if they are abnormal?"): the first subject word per condition, and the qualifiers found.
    subjects: dict[str, str]
    qualifiers: tuple[Mention, ...]

    def found(self, condition: str, statuses: frozenset[Status]) -> list[str]:
        return [m.words for m in self.mentions if m.condition == condition and m.status in statuses]

    def retracts(self, condition: str) -> bool:
        return any(m.condition == condition and m.status == "retracted" for m in self.mentions)


class Reader:
    """The rules file's vocabulary compiled into matchers. Immutable after construction; ``read`` is pure."""

    def __init__(self, spec: RulesFile, corpus: Corpus, source: str) -> None:
        self._window = spec.negation.window
        self._boundaries = Terms(spec.boundaries, f"{source}: boundaries")
        self._not_boundaries = Terms(spec.not_boundaries, f"{source}: not_boundaries")
        self._sentence_ends = Terms(spec.sentence_ends, f"{source}: sentence_ends")
        self._joiners = Terms(spec.list_joiners, f"{source}: list_joiners")
        self._masked = Terms(spec.masked, f"{source}: masked")
        self._intent = Terms(spec.intent, f"{source}: intent")
        self._severity = Terms(spec.severity, f"{source}: severity")
        self._before = Terms(spec.negation.before, f"{source}: negation.before")
        self._after = Terms(spec.negation.after, f"{source}: negation.after")
        self._not_negation = Terms(spec.negation.not_negation, f"{source}: negation.not_negation")
        self._retraction = Terms(spec.negation.retraction, f"{source}: negation.retraction")
        self._hypo_before = Terms(spec.hypothetical.before, f"{source}: hypothetical.before")
        self._hypo_after = Terms(spec.hypothetical.after, f"{source}: hypothetical.after")
        self._conditions = tuple(
            compile_condition(name, cond, source) for name, cond in spec.conditions.items()
        )
        self.condition_names = tuple(c.name for c in self._conditions)
        self._cues = Terms(spec.criteria.cues, f"{source}: criteria.cues")
        self._groups = tuple(compile_group(i, g, source) for i, g in enumerate(spec.criteria.groups))
        self._fuzzy = spec.fuzzy
        self._known, self._fuzzy_vocabulary = self._vocabularies(spec, corpus)
        self._nearest = lru_cache(maxsize=4096)(self._nearest_uncached)

    def _vocabularies(self, spec: RulesFile, corpus: Corpus) -> tuple[frozenset[str], tuple[str, ...]]:
        """Words never corrected, and the condition/severity words a typo may be corrected to."""
        medical: set[str] = set(self._severity.words)
        for cond in self._conditions:
            for entry in cond.entries:
                for terms in (entry.any,) if entry.any else entry.near or ():
                    medical |= terms.words
            if cond.severity is not None:
                medical |= cond.severity.words
        every = [self._intent, self._boundaries, self._joiners, self._before, self._after, self._cues]
        every += [self._not_negation, self._hypo_before, self._hypo_after, *(g.words for g in self._groups)]
        every += [self._not_boundaries, self._sentence_ends, self._retraction]
        known = set(corpus.vocabulary) | medical | {normalise(w) for w in spec.fuzzy.not_typos}
        for terms in every:
            known |= terms.words
        targets = sorted(w for w in medical if w.isalpha() and len(w) >= spec.fuzzy.min_length)
        return frozenset(known), tuple(targets)

    def read(self, text: str, *, with_criteria: bool = True) -> Reading:
        surface = normalise(text).split()
        tokens = [self._correct(token) for token in surface]
        for span in self._masked.find(Doc.of(tokens, surface)):
            tokens[span.start : span.end] = [MASK] * (span.end - span.start)
        doc = Doc.of(tokens, surface)
        size = len(surface)
        intent = self._intent.find(doc)
        # "and" in "ANC 0.3 and falling" does not end a clause (`not_boundaries`).
        joined = self._not_boundaries.find(doc)
        boundaries = [b for b in self._boundaries.find(doc) if not any(b.overlaps(j) for j in joined)]
        clauses = Boundaries(size, boundaries)
        # Negation stops at clause boundaries and at intent words, but runs over the commas of a list that
        # ends in "or"/"nor" ("no fever, chills or rash").
        listed = self._list_commas(doc, boundaries)
        separators = [*listed, *self._joiners.find(doc)]
        scope = Boundaries(size, [*(b for b in boundaries if b not in listed), *intent], separators)
        fake = self._not_negation.find(doc)

        def cues(terms: Terms) -> list[Span]:
            return [c for c in terms.find(doc) if not any(c.overlaps(f) for f in fake)]

        before, after = cues(self._before), cues(self._after)
        hypo_before, hypo_after = cues(self._hypo_before), cues(self._hypo_after)
        retraction = cues(self._retraction)

        mentions: list[Mention] = []
        subjects: dict[str, str] = {}
        qualifiers: list[Mention] = []
        severity = self._severity.find(doc)  # words that make any infusion reaction severe
        for cond in self._conditions:
            negation = (before + cues(cond.before), after + cues(cond.after))
            present: list[Span] = []  # where the condition is mentioned as present, for its severity words
            hypothetical = (hypo_before, hypo_after)
            covered: set[int] = set()
            for entry in cond.entries:
                if entry.near is not None:
                    firsts, seconds = entry.near[0].find(doc), entry.near[1].find(doc)
                    if firsts:
                        subjects.setdefault(cond.name, doc.words(firsts[0]))
                    for q in seconds:
                        how = self._status((q,), entry.negatable, negation, hypothetical, retraction, scope)
                        qualifiers.append(Mention(cond.name, doc.words(q), how))
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
                    how = self._status(parts, entry.negatable, negation, hypothetical, retraction, scope)
                    mentions.append(Mention(cond.name, words, how))
                    if how == "present":
                        present.append(Span(min(p.start for p in parts), max(p.end for p in parts)))
            if cond.severity is not None and present:  # "intubated after an infusion reaction"
                sentences = Boundaries(size, self._sentence_ends.find(doc))
                severity += [
                    s
                    for s in cond.severity.find(doc)
                    if any(self._close(s, m, cond.severity_window, sentences) for m in present)
                ]

        severity.sort(key=lambda s: (s.start, s.end))
        severe = tuple(
            doc.words(s)
            for s in severity
            if not self._cued((s,), before + hypo_before, after + hypo_after, scope)
        )
        own_topic = any(m.status == "present" for m in mentions)
        criteria = self._criteria(doc) if with_criteria and not own_topic else None
        return Reading(
            mentions=tuple(mentions),
            intent=tuple(doc.words(s) for s in intent),
            severe=severe,
            criteria=criteria,
            subjects=subjects,
            qualifiers=tuple(qualifiers),
        )

    @staticmethod
    def _close(word: Span, mention: Span, window: int, sentences: Boundaries) -> bool:
        """``word`` lies inside ``mention`` or within ``window`` tokens of it, in the same sentence."""
        if word.overlaps(mention):
            return True
        left, right = (word, mention) if word.start < mention.start else (mention, word)
        return right.start - left.end <= window and not sentences.between(left.end, right.start)

    def _list_commas(self, doc: Doc, boundaries: list[Span]) -> set[Span]:
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
        firsts: list[Span], seconds: list[Span], window: int, clauses: Boundaries
    ) -> list[tuple[Span, ...]]:
        """A word of each list, at most ``window`` tokens apart in the same clause ("ALT ... 3x ULN")."""
        pairs: list[tuple[Span, ...]] = []
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
        parts: Sequence[Span],
        negatable: bool,
        negation: tuple[list[Span], list[Span]],
        hypothetical: tuple[list[Span], list[Span]],
        retraction: list[Span],
        scope: Boundaries,
    ) -> Status:
        """Retracted ("SOS ruled out"), negated ("no SOS"), hypothetical ("at risk of SOS") or present."""
        if negatable and self._cued(parts, *negation, scope):
            return "retracted" if self._cued(parts, retraction, retraction, scope) else "negated"
        if negatable and self._cued(parts, *hypothetical, scope):
            return "hypothetical"
        return "present"

    def _cued(self, parts: Sequence[Span], before: list[Span], after: list[Span], scope: Boundaries) -> bool:
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

    def _criteria(self, doc: Doc) -> tuple[frozenset[str], tuple[str, ...]] | None:
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
