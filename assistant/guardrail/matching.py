"""Phrase matching for the guardrail: whole tokens of the one normalised spelling (``assistant.text``),
token spans, and clause boundaries.

Why separate: every matching decision is made on whole tokens, never on substrings; keeping it here means
there is one place that defines what "the question mentions this phrase" means.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from ..errors import RulesError
from ..text import normalise


class Regex(Protocol):
    """A ``{re: ...}`` entry of the rules file; only its pattern matters here, so matching does not
    depend on the rules-file schema."""

    re: str


@dataclass(frozen=True, slots=True)
class Span:
    """Tokens ``start:end`` of a document."""

    start: int
    end: int

    def overlaps(self, other: Span) -> bool:
        return self.start < other.end and other.start < self.end

    def holds(self, other: Span) -> bool:
        """``other`` lies inside this span, which is longer."""
        return self.start <= other.start and other.end <= self.end and self != other


@dataclass(frozen=True)
class Doc:
    """A normalised (and typo-corrected) text split into tokens; ``surface`` keeps the words as typed."""

    text: str
    starts: tuple[int, ...]
    surface: tuple[str, ...]
    counted: tuple[int, ...] = ()  # words before each token (see ``gap``)
    # Tokens that open a clause after a dash ("ALT 150 - start meropenem?"); the dash itself is no token, so
    # that phrases read across it as typed ("no - just mild")
    dashed: frozenset[int] = frozenset()

    @classmethod
    def of(cls, tokens: Sequence[str], surface: Sequence[str], dashed: frozenset[int] = frozenset()) -> Doc:
        starts, pos = [], 0
        for token in tokens:
            starts.append(pos)
            pos += len(token) + 1
        counted = [0]
        for i, token in enumerate(tokens):
            counted.append(counted[-1] + _is_word(token, tokens[i + 1] if i + 1 < len(tokens) else ""))
        return cls(" ".join(tokens), tuple(starts), tuple(surface), tuple(counted), dashed)

    def words(self, span: Span) -> str:
        return " ".join(self.surface[span.start : span.end])

    def after(self, span: Span) -> int:
        """Where the text after ``span`` starts: the next token's offset, or the end of the text."""
        return self.starts[span.end] if span.end < len(self.starts) else len(self.text)

    def gap(self, start: int, end: int) -> int:
        """Words in tokens ``start:end``, how far apart two phrases read: punctuation, numbers and the letters
        of "C1D8" or "x10^9" ("c 1 d 8") do not count, so "fever during the infusion on C1D1, then on C1D8 a
        reaction" is as close as it reads."""
        return self.counted[end] - self.counted[start] if end > start else 0


def _is_word(token: str, following: str) -> int:
    if not any(c.isalpha() for c in token):
        return 0
    return 0 if len(token) == 1 and following[:1].isdigit() else 1


class Terms:
    """A list of phrases and regexes compiled into one pattern that matches whole tokens only."""

    def __init__(self, items: Iterable[str | Regex], where: str) -> None:
        literals: set[str] = set()
        patterns: list[str] = []
        for item in items:
            if not isinstance(item, str):  # a `{re: ...}` entry of the rules file
                if item.re.endswith(" "):  # "(?!\S)" follows every alternative: it could never match
                    raise RulesError(f"{where}: regular expression {item.re!r} ends in a space; use (?= )")
                patterns.append(item.re)
                continue
            phrase = normalise(item)
            if not phrase:
                raise RulesError(f"{where}: phrase {item!r} is empty once normalised")
            literals.add(phrase)
        self.phrases = frozenset(literals)
        self.words = frozenset(w for phrase in literals for w in phrase.split())
        ordered = sorted(literals, key=lambda p: (-len(p), p))  # longest first: "hepatic vod" before "vod"
        alternatives = [re.escape(p) for p in ordered] + [f"(?:{p})" for p in patterns]
        try:
            self._pattern = (
                re.compile(rf"(?<!\S)(?:{'|'.join(alternatives)})(?!\S)") if alternatives else None
            )
        except re.error as exc:
            raise RulesError(f"{where}: invalid regular expression ({exc})") from exc

    def find(self, doc: Doc) -> list[Span]:
        if self._pattern is None:
            return []
        spans = []
        for m in self._pattern.finditer(doc.text):
            if m.end() == m.start():
                continue
            start = bisect_right(doc.starts, m.start()) - 1
            end = bisect_right(doc.starts, m.end() - 1)
            spans.append(Span(start, end))
        return spans


class Boundaries:
    """Prefix counts of clause-ending tokens, so "is there a boundary between i and j" is O(1).

    ``separators`` are list separators (the commas and "or" of "fever, chills or rash"): a negation before a
    list reaches every item, so distances are counted from the last separator.
    """

    def __init__(self, size: int, spans: Iterable[Span], separators: Iterable[Span] = ()) -> None:
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
        return self.count(start, end) > 0

    def count(self, start: int, end: int) -> int:
        """Boundary tokens in tokens ``start:end``."""
        return self._prefix[end] - self._prefix[start] if end > start else 0

    def list_start(self, start: int, end: int) -> int:
        """Where the list item ending at ``end`` begins, if a separator lies in ``start:end``; else start."""
        inside = [s for s in self._separators if start < s <= end]
        return inside[-1] if inside else start
