"""How fired rules are shown to the clinician: one fixed block per rule, in front of the answer.

Why separate: the wording of a verdict is part of the safety contract (same rule, same words, with its
verbatim source), and it is used wherever an answer is put together, independent of how rules are matched.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..models import RuleHit

ACTION_LABELS: dict[str, str] = {
    "discontinue": "Permanently discontinue",
    "interrupt": "Interrupt / hold",
    "limit": "Cycle limit",
}


def render_verdicts(hits: Sequence[RuleHit]) -> str:
    """The block that opens an answer when rules fire: action, message and verbatim source per rule."""
    blocks = []
    for hit in hits:
        lines = [f"{ACTION_LABELS[hit.action]} [rule {hit.rule_id}]: {hit.message}"]
        lines += [f'- Monograph, {q.section}: "{q.text}"' for q in hit.quotes]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)
