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
        # Conditions whose rule discontinues permanently: once present in a conversation, they stay.
        self._permanent = tuple(dict.fromkeys(r.condition for r in self._rules if r.action == "discontinue"))

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
        assistant's answers: they quote rule sentences). The topic is the question's own condition if it
        has one; otherwise a criteria question's actions; otherwise (a follow-up such as "should we stop it
        then?") the most recent line in which a condition is present or hypothetical. Whatever the topic,
        a decision question also fires every `discontinue` rule whose condition is present in ANY earlier
        line (a permanent discontinuation never expires), unless a later turn retracts that same condition
        ("SOS ruled out"). Severity words count from the question and every earlier line. The decision
        intent always comes from the question.
        """
        asked = self._reader.read(question)
        if not asked.intent and asked.criteria is None:
            # No decision asked: only the question's own rules that need no intent (cycle_limit) can fire.
            found = {c: asked.found(c, _PRESENT) for c in self._condition_names}
            return self._hits(asked, found, asked.severe)
        earlier = [self._reader.read(line, with_criteria=False) for line in context.splitlines()]
        severe = asked.severe + tuple(s for line in earlier for s in line.severe)
        kept = self._kept(asked, earlier)
        if any(m.status == "present" for m in asked.mentions):
            found = {c: asked.found(c, _PRESENT) for c in self._condition_names}
            return self._hits(asked, found, severe, kept=kept)
        if asked.criteria is not None:
            criteria = self._criteria_hits(*asked.criteria)
            fired = {h.rule_id for h in criteria}
            extra = [h for h in self._hits(asked, {}, severe, kept=kept) if h.rule_id not in fired]
            return sorted(criteria + extra, key=lambda h: self.rule_ids.index(h.rule_id))
        return self._hits(asked, self._borrowed(asked, earlier), severe, from_context=True, kept=kept)

    def _borrowed(self, asked: Reading, earlier: Sequence[Reading]) -> dict[str, list[str]]:
        """A follow-up's topic: the conditions of the latest earlier line that has one (not retracted)."""
        for i in reversed(range(len(earlier))):
            line = earlier[i]
            later = [*earlier[i + 1 :], asked]
            found = {
                c: [w + CONTEXT_MARK for w in line.found(c, _TOPIC)]
                for c in self._condition_names
                if not any(r.retracts(c) for r in later)
            }
            for q in asked.qualifiers:  # the subject in the earlier turn, its qualifier in this question
                if q.status == "present" and q.condition in line.subjects:
                    found.setdefault(q.condition, [])
                    found[q.condition].append(f"{line.subjects[q.condition]}{CONTEXT_MARK} + {q.words}")
            if any(found.values()):
                return found
        return {}

    def _kept(self, asked: Reading, earlier: Sequence[Reading]) -> dict[str, list[str]]:
        """Conditions of `discontinue` rules present in any earlier line and not retracted by a later turn."""
        kept: dict[str, list[str]] = {}
        for condition in self._permanent:
            for i, line in enumerate(earlier):
                words = line.found(condition, _PRESENT)
                if words and not any(r.retracts(condition) for r in [*earlier[i + 1 :], asked]):
                    kept.setdefault(condition, []).extend(w + CONTEXT_MARK for w in words)
        return kept

    def _hits(
        self,
        asked: Reading,
        found: dict[str, list[str]],
        severe: tuple[str, ...],
        *,
        from_context: bool = False,
        kept: dict[str, list[str]] | None = None,
    ) -> list[RuleHit]:
        """Rules whose condition was found, given the question's intent and the severity words.

        ``kept``: conditions carried from earlier lines, which fire only `discontinue` rules.
        """
        hits = []
        for rule in self._rules:
            words = list(found.get(rule.condition, []))
            carried = (kept or {}).get(rule.condition, []) if rule.action == "discontinue" else []
            if not words and not carried:
                continue
            if (rule.requires_intent or from_context or not words) and not asked.intent:
                continue
            if (rule.severity == "required" and not severe) or (rule.severity == "excluded" and severe):
                continue
            triggers = words + carried
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
