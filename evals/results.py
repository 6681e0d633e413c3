"""What a run produced: each case as a system answered it, and the system's suite-level metrics.

Its own module so that the report reads results without importing the runner that produces them.
"""

from __future__ import annotations

from dataclasses import dataclass

from .cases import Case
from .metrics import CaseScore, Observed


@dataclass(frozen=True)
class CaseResult:
    """One case as one system answered it."""

    case: Case
    observed: Observed
    score: CaseScore
    sections: tuple[str, ...]


@dataclass(frozen=True)
class SystemRun:
    """A system's results over the whole dataset and its suite-level metrics."""

    name: str
    results: list[CaseResult]
    metrics: dict[str, float | None]

    @property
    def passed(self) -> int:
        return sum(r.score.passed for r in self.results)
