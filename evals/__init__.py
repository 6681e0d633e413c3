"""Evaluation suite: run a question set through the assistant and a plain baseline, score, report, gate.

``python -m evals`` (or ``make eval``); see ``evals/runner.py`` for the options, and ``evals/remote.py``
for ``--url``, which evaluates a running deployment instead of an in-process Assistant.
"""
