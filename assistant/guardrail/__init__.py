"""Deterministic guardrail: monograph rules that override any answer about stopping, holding, resuming or
extending Besponsa treatment.

Why deterministic: clinicians act on these verdicts, so the same question must give the same rule in the same
words every time, whatever retrieval or a language model would have said. Why data-driven: the triggers are
clinical vocabulary that pharmacists review, so they live in ``corpus/rules.yaml`` together with the reason
for every matching decision; this package only knows HOW to match, never WHAT.

Matching works on whole tokens of a normalised text (``normalise``). A rule fires when a current finding it
covers is present for this patient and the conversation asks what to do next with treatment; the exact
semantics (negation scope, severity, criteria questions, follow-ups) are documented at the top of
``corpus/rules.yaml``.
Loading fails closed (``RulesError``): a malformed file, an unknown action or a source sentence that is not
verbatim in the corpus stops the program. Nothing in a question and no setting can switch the rules off.

Modules: ``matching`` (whole-token phrase matching on the one text layer, ``assistant.text``), ``schema``
(the rules file: its schema, and compiling it against the corpus), ``labs`` (lab values against the reference
limits of ``corpus/lab_limits.yaml``), ``reading`` (what one text states: findings with status, whose they
are, severity, decision wording), ``engine`` (``Guardrail``: which rules the conversation triggers, strongest
first, with reasons) and ``verdicts`` (how fired rules are shown).
"""

from ..text import normalise
from .engine import CONTEXT_MARK, Guardrail, decides, finding_words, mean_check_seconds
from .verdicts import ACTION_LABELS, CONTEXT_HEADING, render_verdicts

__all__ = [
    "ACTION_LABELS",
    "CONTEXT_HEADING",
    "CONTEXT_MARK",
    "Guardrail",
    "decides",
    "finding_words",
    "mean_check_seconds",
    "normalise",
    "render_verdicts",
]
