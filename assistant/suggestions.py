"""Suggested next questions, shown as buttons under an answer.

They come from a data file (``corpus/suggestions.yaml``) keyed by monograph section rather than from a
model, so every suggestion is a question the monograph answers (a test asks each one through the
assistant) and the same answer always offers the same suggestions.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import cache
from pathlib import Path

from .corpus import OVERVIEW
from .data import load_data
from .errors import ConfigError
from .text import words

SUGGESTIONS_FILE = "suggestions.yaml"
SuggestionsFile = dict[str, list[str]]  # the schema of corpus/suggestions.yaml: section -> questions
MAX_SUGGESTIONS = 3


class Suggestions:
    """Two or three follow-up questions per section, pointing at neighbouring sections."""

    def __init__(self, by_section: dict[str, list[str]]) -> None:
        self.by_section = by_section

    @classmethod
    def load(cls, corpus_dir: Path) -> Suggestions:
        return _load(corpus_dir)

    def suggest(
        self, sections: Sequence[str], asked: str, earlier: Iterable[str] = (), limit: int = MAX_SUGGESTIONS
    ) -> list[str]:
        """Up to ``limit`` questions for the answer's sections (in order), never one already asked.

        An answer without sections (an abstention) gets the overview's suggestions, so the clinician
        sees what the monograph can answer.
        """
        seen = {_key(asked), *(_key(q) for q in earlier)}
        out: list[str] = []
        for section in list(sections) or [OVERVIEW]:
            for question in self.by_section.get(section, []):
                if _key(question) not in seen:
                    seen.add(_key(question))
                    out.append(question)
        return out[:limit]

    @property
    def questions(self) -> list[str]:
        """Every distinct suggestion in the file (for tests that ask them all)."""
        return list(dict.fromkeys(q for qs in self.by_section.values() for q in qs))


def _key(question: str) -> tuple[str, ...]:
    """Compare questions by their words, ignoring case and punctuation."""
    return tuple(words(question))


@cache
def _load(corpus_dir: Path) -> Suggestions:
    path = corpus_dir / SUGGESTIONS_FILE
    data = load_data(path, SuggestionsFile, ConfigError)
    if not all(v and all(q.strip() for q in v) for v in data.values()):
        raise ConfigError(f"{path} must map each section name to a non-empty list of questions")
    return Suggestions({k: [q.strip() for q in v] for k, v in data.items()})
