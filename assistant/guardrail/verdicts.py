"""How fired rules are shown to the clinician: one fixed block per rule, in front of the answer.

Why separate: the wording of a verdict is part of the safety contract (same rule, same words, with its
verbatim source and what the guardrail read), and it is used wherever an answer is put together, independent
of how rules are matched.

The strongest verdict stands alone: beside a permanent discontinuation, an interrupt or cycle-limit rule is
listed only as context under it ("hold until normal" must never read as permission to resume).
"""

from __future__ import annotations

from collections.abc import Sequence

from ..models import RuleHit

ACTION_LABELS: dict[str, str] = {
    "discontinue": "Permanently discontinue",
    "interrupt": "Interrupt / hold",
    "limit": "Cycle limit",
}
CONTEXT_HEADING = "Also noted, not a separate verdict (the permanent discontinuation above comes first):"


def render_verdicts(hits: Sequence[RuleHit]) -> str:
    """The block that opens an answer when rules fire: action, message, verbatim source and reasons."""
    verdicts = [h for h in hits if h.role == "verdict"]
    context = [h for h in hits if h.role == "context"]
    blocks = []
    for hit in verdicts:
        lines = [f"{ACTION_LABELS[hit.action]} [rule {hit.rule_id}]: {hit.message}"]
        lines += [f'- Monograph, {q.section}: "{q.text}"' for q in hit.quotes]
        if hit.reasons:
            lines.append("- Why: " + "; ".join(hit.reasons))
        blocks.append("\n".join(lines))
    if context:
        lines = [CONTEXT_HEADING]
        for hit in context:
            why = f" Why: {'; '.join(hit.reasons)}" if hit.reasons else ""
            lines.append(f"- [rule {hit.rule_id}] {hit.message}{why}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)
