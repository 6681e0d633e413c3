"""Text as the guardrail sees it: one normalised spelling, whole tokens, token spans and phrase matching.

Why separate: questions and rule phrases must go through exactly the same normalisation, and every matching
decision is made on whole tokens, never on substrings; keeping both here means there is one place that
defines what "the question mentions this phrase" means.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import RulesError

if TYPE_CHECKING:
    from .schema import Term

_FOLD = str.maketrans(
    {
        **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d", "-"),
        **dict.fromkeys("\u2018\u2019\u201a\u201b\u2032\u00b4`", "'"),
        **dict.fromkeys("\u201c\u201d\u201e\u201f\u2033\u00ab\u00bb", '"'),
        "\u00d7": " x ",
        "\u2265": ">",
        "\u2264": "<",
        # Lower-case Cyrillic and Greek letters that look like Latin ones ("ЅОЅ" typed or pasted with a
        # Cyrillic keyboard layout). A small, fixed list: not mu or beta, which clinicians use as themselves.
        **dict(zip("абвекмнорстухіјѕһԁԛԝ", "abbekmhopctyxijshdqw", strict=True)),
        **dict(zip("αεικνορτυχ", "aeiknoptux", strict=True)),
    }
)
_COMBINING = re.compile(r"[\u0300-\u036f]")
_ACRONYM = re.compile(r"(?<![a-z])(?:[a-z]\.){2,}")
_HYPHENATED_LETTERS = re.compile(r"(?<![a-z0-9])[a-z](?:-[a-z]){2,}(?![a-z0-9])")  # "s-o-s" -> "sos"
_INNER_APOSTROPHE = re.compile(r"(?<=[a-z0-9])'(?=[a-z])")
_OTHER = re.compile(r"[^a-z0-9.,;:?!()\[\]{}\"<>=+% ]+")
_DECIMAL_POINT = re.compile(r"(?<=\d)\.(?=\d)")
_PUNCT = re.compile(r"""([.,;:?!()\[\]{}"<>=+%])""")
_DIGIT_LETTER = re.compile(r"(?<=\d)(?=[a-z])|(?<=[a-z])(?=\d)")


def normalise(text: str) -> str:
    """One canonical spelling for questions and rule phrases alike: whole tokens separated by single spaces.

    Lower case; invisible format characters dropped (zero-width space/joiner, soft hyphen: "S\u200bO\u200bS"
    is "sos"); accents, unicode dashes and quotes folded; Latin-looking Cyrillic/Greek letters read as Latin;
    "S.O.S." and "s-o-s" -> "sos"; "can't" -> "cant"; hyphens, slashes and other symbols -> spaces;
    punctuation kept as its own token (it ends clauses); digits split from letters ("4th" -> "4 th", "3x" ->
    "3 x") but decimals kept ("2.5").
    """
    text = unicodedata.normalize("NFKD", text).lower().translate(_FOLD)
    if not text.isascii():  # only non-ASCII text can hold format characters (category Cf)
        text = "".join(c for c in text if unicodedata.category(c) != "Cf")
    text = _COMBINING.sub("", text)
    text = _ACRONYM.sub(lambda m: m.group(0).replace(".", ""), text)
    text = _HYPHENATED_LETTERS.sub(lambda m: m.group(0).replace("-", ""), text)
    text = _INNER_APOSTROPHE.sub("", text)
    text = _OTHER.sub(" ", text)
    text = _DECIMAL_POINT.sub("\x00", text)
    text = _PUNCT.sub(r" \1 ", text).replace("\x00", ".")
    text = _DIGIT_LETTER.sub(" ", text)
    return " ".join(text.split())


@dataclass(frozen=True, slots=True)
class Span:
    """Tokens ``start:end`` of a document."""

    start: int
    end: int

    def overlaps(self, other: Span) -> bool:
        return self.start < other.end and other.start < self.end


@dataclass(frozen=True)
class Doc:
    """A normalised (and typo-corrected) text split into tokens; ``surface`` keeps the words as typed."""

    text: str
    starts: tuple[int, ...]
    surface: tuple[str, ...]

    @classmethod
    def of(cls, tokens: Sequence[str], surface: Sequence[str]) -> Doc:
        starts, pos = [], 0
        for token in tokens:
            starts.append(pos)
            pos += len(token) + 1
        return cls(" ".join(tokens), tuple(starts), tuple(surface))

    def words(self, span: Span) -> str:
        return " ".join(self.surface[span.start : span.end])


class Terms:
    """A list of phrases and regexes compiled into one pattern that matches whole tokens only."""

    def __init__(self, items: Iterable[Term], where: str) -> None:
        literals: set[str] = set()
        patterns: list[str] = []
        for item in items:
            if not isinstance(item, str):  # a `{re: ...}` entry of the rules file
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
        return end > start and self._prefix[end] - self._prefix[start] > 0

    def list_start(self, start: int, end: int) -> int:
        """Where the list item ending at ``end`` begins, if a separator lies in ``start:end``; else start."""
        inside = [s for s in self._separators if start < s <= end]
        return inside[-1] if inside else start
