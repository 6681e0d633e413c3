"""Evaluation suite: run a question set through the assistant and a plain baseline, score, report, gate.

``python -m evals`` (or ``make eval``); see ``evals/runner.py`` for the options.
"""
