"""Deterministic guardrail: monograph rules that override any answer about stopping, holding, resuming or
extending Besponsa treatment.

Why deterministic: clinicians act on these verdicts, so the same question must give the same rule in the same
words every time, whatever retrieval or a language model would have said. Why data-driven: the triggers are
clinical vocabulary that pharmacists review, so they live in ``corpus/rules.yaml`` together with the reason
for every matching decision; this package only knows HOW to match, never WHAT.

Matching works on whole tokens of a normalised text (``normalise``). A rule fires when its condition is
mentioned without negation and the question asks for a treatment decision; the exact semantics (negation
scope, severity, criteria questions, follow-ups) are documented at the top of ``corpus/rules.yaml``.
Loading fails closed (``RulesError``): a malformed file, an unknown action or a source sentence that is not
verbatim in the corpus stops the program. Nothing in a question and no setting can switch the rules off.

Modules: ``text`` (normalising and whole-token matching), ``schema`` (the rules file: its schema, and
compiling it against the corpus), ``reading`` (what one text says: conditions, negation, severity, criteria),
``engine`` (``Guardrail``: which rules a question triggers) and ``verdicts`` (how fired rules are shown).
"""

from .engine import CONTEXT_MARK, Guardrail, mean_check_seconds
from .text import normalise
from .verdicts import ACTION_LABELS, render_verdicts

__all__ = ["ACTION_LABELS", "CONTEXT_MARK", "Guardrail", "mean_check_seconds", "normalise", "render_verdicts"]
