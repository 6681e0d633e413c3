"""The guardrail itself: which rules a question triggers, given the question and the conversation so far.

Why separate: this is the decision, kept small enough to read in one go. ``reading`` says what a text
mentions; this module applies the rules-file semantics to that reading (a present condition needs decision
intent, severity may be required or excluded, criteria questions name actions, follow-ups borrow the
condition of an earlier turn but never its intent) and builds the ``RuleHit`` records.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from pathlib import Path

from ..corpus import Corpus
from ..errors import RulesError
from ..models import RuleHit
from .reading import Reader, Reading, Status
from .schema import CompiledRule, RulesFile, compile_rule, read_rules

CONTEXT_MARK = " (earlier turn)"
_PRESENT: frozenset[Status] = frozenset({"present"})
_TOPIC: frozenset[Status] = frozenset({"present", "hypothetical"})  # what a follow-up may refer back to


class Guardrail:
    """The loaded, validated rules. Immutable after ``load``; ``check`` is pure and thread-safe."""

    def __init__(self, spec: RulesFile, corpus: Corpus, source: str) -> None:
        self._rules = tuple(compile_rule(rule, spec, corpus, source) for rule in spec.rules)
        ids = [r.id for r in self._rules]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise RulesError(f"{source}: duplicate rule ids {duplicates}")
        self._reader = Reader(spec, corpus, source)
        self._condition_names = self._reader.condition_names

    @classmethod
    def load(cls, path: Path, corpus: Corpus) -> Guardrail:
        """Read and validate ``path``; any problem raises ``RulesError`` naming it (fail closed)."""
        return cls(read_rules(path), corpus, str(path))

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
        asked = self._reader.read(question)
        if any(m.status == "present" for m in asked.mentions):
            found = {c: asked.found(c, _PRESENT) for c in self._condition_names}
            return self._hits(asked, found, asked.severe, from_context=False)
        if asked.criteria is not None:
            return self._criteria_hits(*asked.criteria)
        if not asked.intent:
            return []
        for line in reversed(context.splitlines()):
            earlier = self._reader.read(line, with_criteria=False)
            found = {c: [w + CONTEXT_MARK for w in earlier.found(c, _TOPIC)] for c in self._condition_names}
            for q in asked.qualifiers:  # the subject in the earlier turn, its qualifier in this question
                if q.status == "present" and q.condition in earlier.subjects:
                    found[q.condition].append(f"{earlier.subjects[q.condition]}{CONTEXT_MARK} + {q.words}")
            if any(found.values()):
                return self._hits(asked, found, asked.severe + earlier.severe, from_context=True)
        return []

    def _hits(
        self, asked: Reading, found: dict[str, list[str]], severe: tuple[str, ...], *, from_context: bool
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
    def _hit(rule: CompiledRule, triggers: Iterable[str]) -> RuleHit:
        return RuleHit(
            rule_id=rule.id,
            action=rule.action,
            message=rule.message,
            quotes=list(rule.quotes),
            triggers=list(dict.fromkeys(triggers)),
        )


def mean_check_seconds(guard: Guardrail, questions: Sequence[str], *, rounds: int = 50) -> float:
    """Mean wall time of one ``guard.check`` over ``questions`` (for the benchmark; not a test)."""
    if not questions:
        return 0.0
    started = time.perf_counter()
    for _ in range(rounds):
        for question in questions:
            guard.check(question)
    return (time.perf_counter() - started) / (rounds * len(questions))
