"""The suite's metrics as pure functions: no model, no I/O, so each one is tested on a table of examples.

Every case-level metric returns a value, or ``None`` when it does not apply to the case. The suite-level
metric of the same name is the mean over the cases where it applies (``aggregate``); a boolean metric's
mean is therefore a rate. Which cases each metric applies to:

=======================  ==========================================================================
``evidence_recall``      answerable cases with evidence: share of the evidence sentences covered by a
                         quote (answer quotes and guardrail rule quotes together).
``quote_precision``      cases with evidence whose answer shows at least one quote: share of the quotes
                         that cover some evidence sentence. Unanswerable cases are judged by
                         ``abstention_accuracy`` instead, and an answer without quotes by recall.
``must_include``         cases with phrases: share of the phrases found in the answer text.
``guardrail_exact``      every case: the set of fired rule ids equals the expected set.
``guardrail_recall``     cases that expect at least one rule: share of the expected ids that fired.
``guardrail_false_fire`` cases that expect no rule: True when any rule fired (lower is better).
``abstention_accuracy``  every case: the answer abstains exactly when the case is not answerable.
``quote_fidelity``       cases with at least one quote: share of quotes whose ``start:end`` span of the
                         named document is exactly the quoted text.
``latency_ms_p50/p95``   every case: percentiles (``percentile``) of the time ``ask`` took.
=======================  ==========================================================================

A quote *covers* an evidence sentence when one text contains the other: the assistant may quote a whole
list whose one line is the evidence, or the rule quote may be the clause of a labelled sentence.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

#: Metrics where a higher value is better; the others (false fires, latency) are better when lower.
HIGHER_IS_BETTER = (
    "evidence_recall",
    "must_include",
    "quote_precision",
    "guardrail_exact",
    "guardrail_recall",
    "abstention_accuracy",
    "quote_fidelity",
)
LOWER_IS_BETTER = ("guardrail_false_fire", "latency_ms_p50", "latency_ms_p95")
METRICS = HIGHER_IS_BETTER + LOWER_IS_BETTER

#: Per-case checks; a case passes when every applicable one passes. ``quote_precision`` is reported but
#: is no pass condition: quoting one more relevant sentence is not a wrong answer.
CHECKS = ("error", "abstention", "guardrail", "evidence", "must_include", "quote_fidelity")


class QuoteLike(Protocol):
    """What the metrics read from a quote (``assistant.models.Quote`` fits)."""

    text: str
    document: str
    start: int
    end: int


def covers(quote: str, evidence: str) -> bool:
    """True when the quote contains the evidence sentence or lies inside it (whitespace-trimmed)."""
    q, e = quote.strip(), evidence.strip()
    return bool(q) and bool(e) and (e in q or q in e)


def evidence_recall(evidence: Sequence[str], quotes: Sequence[str]) -> float | None:
    """Share of evidence sentences covered by some quote; None when the case lists no evidence."""
    if not evidence:
        return None
    return sum(any(covers(q, e) for q in quotes) for e in evidence) / len(evidence)


def quote_precision(evidence: Sequence[str], quotes: Sequence[str]) -> float | None:
    """Share of quotes that cover some evidence sentence; None without evidence or without quotes."""
    if not evidence or not quotes:
        return None
    return sum(any(covers(q, e) for e in evidence) for q in quotes) / len(quotes)


def phrase_found(text: str, phrase: str) -> bool:
    """Case-insensitive containment; ``|`` separates alternatives, any one of which suffices."""
    low = text.lower()
    return any(alt.strip().lower() in low for alt in phrase.split("|") if alt.strip())


def must_include(text: str, phrases: Sequence[str]) -> float | None:
    """Share of required phrases found in the answer text; None when the case requires none."""
    if not phrases:
        return None
    return sum(phrase_found(text, p) for p in phrases) / len(phrases)


def guardrail_exact(expected: Iterable[str], fired: Iterable[str]) -> bool:
    """The fired rule ids, as a set, are exactly the expected ones (empty means none may fire)."""
    return set(expected) == set(fired)


def guardrail_recall(expected: Iterable[str], fired: Iterable[str]) -> float | None:
    """Share of expected rule ids that fired; None when the case expects no rule."""
    wanted = set(expected)
    if not wanted:
        return None
    return len(wanted & set(fired)) / len(wanted)


def guardrail_false_fire(expected: Iterable[str], fired: Iterable[str]) -> bool | None:
    """True when a rule fired on a case that expects none; None for cases that expect rules."""
    if set(expected):
        return None
    return bool(set(fired))


def abstention_accuracy(answerable: bool, abstained: bool) -> bool:
    """Correct when the assistant abstains exactly on the questions the monograph does not answer."""
    return abstained != answerable


def quote_fidelity(quotes: Sequence[QuoteLike], sources: Mapping[str, str]) -> float | None:
    """Share of quotes that are verbatim at their offsets; None when the answer shows no quote."""
    if not quotes:
        return None
    return sum(_verbatim(q, sources) for q in quotes) / len(quotes)


def _verbatim(quote: QuoteLike, sources: Mapping[str, str]) -> bool:
    text = sources.get(quote.document)
    return text is not None and 0 <= quote.start < quote.end and text[quote.start : quote.end] == quote.text


def percentile(values: Sequence[float], q: int) -> float | None:
    """The q-th percentile (an integer, 1..99) of ``values``; the one definition eval, bench and load use.

    ``statistics.quantiles(values, n=100, method="inclusive")``: linear interpolation between the two
    closest ranks of the sorted values (numpy's default, R's type 7). "inclusive" treats the measured
    latencies as the whole population, so a percentile never lies outside the observed range (the
    default "exclusive" method would put the p95 of 20 samples above the slowest one). One value is
    every percentile of itself; no value has none (None).
    """
    if isinstance(q, bool) or not isinstance(q, int) or not 1 <= q <= 99:
        raise ValueError(f"percentile must be an integer from 1 to 99, not {q!r}")
    if not values:
        return None
    if len(values) == 1:  # quantiles() needs two points before Python 3.13
        return float(values[0])
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def latency_ms_p50(latencies_ms: Sequence[float]) -> float | None:
    return percentile(latencies_ms, 50)


def latency_ms_p95(latencies_ms: Sequence[float]) -> float | None:
    return percentile(latencies_ms, 95)


@dataclass(frozen=True)
class Expected:
    """What a case expects (the fields of a dataset line that the metrics read)."""

    answerable: bool
    evidence: tuple[str, ...]
    must_include: tuple[str, ...]
    guardrail: tuple[str, ...]


@dataclass(frozen=True)
class Observed:
    """What a system answered: text, every quote shown (answer and rule quotes), fired rule ids."""

    text: str
    quotes: tuple[QuoteLike, ...]
    fired: tuple[str, ...]
    abstained: bool
    latency_ms: float
    error: str | None = None
    not_covered: tuple[str, ...] = ()  # what the answer says the monograph does not give


@dataclass(frozen=True)
class CaseScore:
    """Case-level metric values (None: not applicable) and the names of the checks that failed."""

    values: dict[str, float | bool | None]
    failed: tuple[str, ...]
    missing_evidence: tuple[str, ...] = ()
    missing_phrases: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        return not self.failed


def score_case(expected: Expected, observed: Observed, sources: Mapping[str, str]) -> CaseScore:
    """Every case-level metric for one answer, and which of the ``CHECKS`` it fails."""
    texts = [q.text for q in observed.quotes]
    values: dict[str, float | bool | None] = {
        "evidence_recall": evidence_recall(expected.evidence, texts) if expected.answerable else None,
        "quote_precision": quote_precision(expected.evidence, texts),
        "must_include": must_include(observed.text, expected.must_include),
        "guardrail_exact": guardrail_exact(expected.guardrail, observed.fired),
        "guardrail_recall": guardrail_recall(expected.guardrail, observed.fired),
        "guardrail_false_fire": guardrail_false_fire(expected.guardrail, observed.fired),
        "abstention_accuracy": abstention_accuracy(expected.answerable, observed.abstained),
        "quote_fidelity": quote_fidelity(observed.quotes, sources),
    }
    failed = []
    if observed.error is not None:
        failed.append("error")
    if not values["abstention_accuracy"]:
        failed.append("abstention")
    if not values["guardrail_exact"]:
        failed.append("guardrail")
    for check, metric in (
        ("evidence", "evidence_recall"),
        ("must_include", "must_include"),
        ("quote_fidelity", "quote_fidelity"),
    ):
        value = values[metric]
        if value is not None and value < 1:
            failed.append(check)
    missing_evidence = (
        tuple(e for e in expected.evidence if not any(covers(q, e) for q in texts))
        if expected.answerable
        else ()
    )
    missing_phrases = tuple(p for p in expected.must_include if not phrase_found(observed.text, p))
    return CaseScore(
        values=values,
        failed=tuple(failed),
        missing_evidence=missing_evidence,
        missing_phrases=missing_phrases,
    )


def aggregate(scores: Sequence[CaseScore], latencies_ms: Sequence[float]) -> dict[str, float | None]:
    """Suite-level metrics: the mean of each case-level metric where it applies, plus latency percentiles."""
    out: dict[str, float | None] = {}
    for name in METRICS:
        if name.startswith("latency_"):
            continue
        applicable = [float(s.values[name]) for s in scores if s.values.get(name) is not None]  # type: ignore[arg-type]
        out[name] = sum(applicable) / len(applicable) if applicable else None
    out["latency_ms_p50"] = latency_ms_p50(latencies_ms)
    out["latency_ms_p95"] = latency_ms_p95(latencies_ms)
    return out


def gate(metrics: Mapping[str, float | None], thresholds: Mapping[str, Mapping[str, float]]) -> list[str]:
    """Threshold violations, as sentences. ``thresholds`` has ``min`` and ``max`` maps of metric -> bound.

    A metric named in the thresholds but not measured (None, or unknown) is a violation: a gate that
    silently skips a metric would let a regression through.
    """
    problems = []
    for kind in ("min", "max"):
        for name, bound in (thresholds.get(kind) or {}).items():
            value = metrics.get(name)
            if value is None:
                problems.append(f"{name}: not measured (threshold {kind} {bound})")
            elif kind == "min" and value < bound:
                problems.append(f"{name} = {value:.4g} is below the minimum {bound}")
            elif kind == "max" and value > bound:
                problems.append(f"{name} = {value:.4g} is above the maximum {bound}")
    return problems
