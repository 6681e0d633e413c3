"""Write what a run measured: report.json (for machines and diffs), report.md (for people), PNG plots.

The JSON of an in-process run holds no timestamp and no per-case timing, so the committed reference run
changes in a diff only where behaviour changed (the two latency percentiles aside). A run against a
service (``--url``) describes one deployment at one moment, so its report also records ``target``: the
URL, the corpus version the service reported, and when the run started (UTC).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .metrics import HIGHER_IS_BETTER, METRICS
from .results import SystemRun

JSON_NAME = "report.json"
MD_NAME = "report.md"
CATEGORY_PLOT = "category_pass_rates.png"
LATENCY_PLOT = "latency.png"


def _round(value: float | bool | None, digits: int = 4) -> float | bool | None:
    if value is None or isinstance(value, bool):
        return value
    return round(float(value), digits)


def categories(runs: Sequence[SystemRun]) -> dict[str, dict[str, Any]]:
    """Cases and pass rate per category and system, categories in dataset order."""
    table: dict[str, dict[str, Any]] = {}
    for run in runs:
        for result in run.results:
            row = table.setdefault(result.case.category, {"cases": 0})
            if run is runs[0]:
                row["cases"] += 1
            row.setdefault(run.name, 0)
            row[run.name] += result.score.passed
    for row in table.values():
        for run in runs:
            row[run.name] = round(row[run.name] / row["cases"], 4)
    return table


def build(
    runs: Sequence[SystemRun],
    *,
    dataset: Mapping[str, Any],
    corpus_version: str,
    thresholds: Mapping[str, Mapping[str, float]],
    violations: Sequence[str],
    target: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The whole report as JSON-ready data; the first run is the system under test.

    ``target``: for a run against a service, its ``url``, ``corpus_version``, ``started_at`` and
    ``duration_s``; None for an in-process run.
    """
    by_id = [
        {run.name: r for run in runs for r in run.results if r.case.id == case_id}
        for case_id in (r.case.id for r in runs[0].results)
    ]
    rows = []
    for per_system in by_id:
        case = next(iter(per_system.values())).case
        row: dict[str, Any] = {
            "id": case.id,
            "category": case.category,
            "question": case.question,
            "turns": 1 + len(case.history or []) // 2,
            "expected": {"answerable": case.answerable, "guardrail": sorted(case.guardrail)},
        }
        for name, result in per_system.items():
            row[name] = {
                "passed": result.score.passed,
                "failed": list(result.score.failed),
                "abstained": result.observed.abstained,
                "fired": sorted(result.observed.fired),
                "sections": list(result.sections),
                "scores": {k: _round(v) for k, v in result.score.values.items()},
                **(
                    {"missing_evidence": list(result.score.missing_evidence)}
                    if result.score.missing_evidence
                    else {}
                ),
                **(
                    {"missing_phrases": list(result.score.missing_phrases)}
                    if result.score.missing_phrases
                    else {}
                ),
                **({"error": result.observed.error} if result.observed.error else {}),
            }
        rows.append(row)
    return {
        **({"target": dict(target)} if target else {}),
        "dataset": dict(dataset),
        "corpus_version": corpus_version,
        "systems": [run.name for run in runs],
        "metrics": {
            run.name: {k: _round(v, 4 if "latency" not in k else 1) for k, v in run.metrics.items()}
            for run in runs
        },
        "passed": {run.name: run.passed for run in runs},
        "categories": categories(runs),
        "gate": {"thresholds": {k: dict(v) for k, v in thresholds.items()}, "violations": list(violations)},
        "cases": rows,
    }


def _fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.1f}" if abs(value) >= 10 else f"{value:.3f}"
    return str(value)


def _bound(name: str, thresholds: Mapping[str, Mapping[str, float]]) -> str:
    if name in thresholds.get("min", {}):
        return f">= {thresholds['min'][name]}"
    if name in thresholds.get("max", {}):
        return f"<= {thresholds['max'][name]}"
    return ""


def metric_rows(data: Mapping[str, Any]) -> list[list[str]]:
    """Metric, one column per system, gate, direction: the side-by-side comparison."""
    systems = data["systems"]
    thresholds = data["gate"]["thresholds"]
    rows = []
    for name in METRICS:
        direction = "higher" if name in HIGHER_IS_BETTER else "lower"
        rows.append(
            [
                name,
                *(_fmt(data["metrics"][s].get(name)) for s in systems),
                _bound(name, thresholds),
                f"{direction} is better",
            ]
        )
    return rows


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]
    line = "  ".join(str(h).ljust(w) for h, w in zip(header, widths, strict=True))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    return out


def _category_rows(data: Mapping[str, Any]) -> list[list[str]]:
    systems = data["systems"]
    return [
        [cat, str(row["cases"]), *(f"{row[s]:.0%}" for s in systems)]
        for cat, row in data["categories"].items()
    ]


def _target_line(target: Mapping[str, Any], code: str = "") -> str:
    """The service evaluated, in one line (``code``: the Markdown backtick, or nothing for the terminal)."""
    version = target["corpus_version"][:12]
    return (
        f"{code}{target['url']}{code} (corpus version {code}{version}{code} as its /api/health reported), "
        f"run started {target['started_at']}, took {target['duration_s']} s"
    )


def console_summary(data: Mapping[str, Any]) -> str:
    """Plain-text tables for the terminal: metrics side by side, then pass rates per category."""
    systems = data["systems"]
    total = data["dataset"]["cases"]
    lines = [f"target: {_target_line(data['target'])}", ""] if "target" in data else []
    lines += _table(["metric", *systems, "gate", ""], metric_rows(data))
    lines.append("")
    lines += _table(["category", "cases", *(f"{s} pass" for s in systems)], _category_rows(data))
    lines.append("")
    lines.append("passed: " + ", ".join(f"{s} {data['passed'][s]}/{total}" for s in systems))
    return "\n".join(lines)


def markdown(data: Mapping[str, Any]) -> str:
    """report.md: the comparison, per-category pass rates, the gate, and every failing case."""
    systems = data["systems"]
    main = systems[0]
    total = data["dataset"]["cases"]

    def md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
        out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        return out + ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]

    lines = [
        "# Evaluation report",
        "",
        f"Dataset `{data['dataset']['path']}`: {total} cases (sha256 `{data['dataset']['sha256'][:12]}`); "
        f"corpus version `{data['corpus_version'][:12]}`.",
        "Passed: " + ", ".join(f"**{s}** {data['passed'][s]}/{total}" for s in systems) + ".",
        *([f"Target: {_target_line(data['target'], '`')}."] if "target" in data else []),
        "",
        "## Metrics",
        "",
        *md_table(["metric", *systems, "gate", ""], metric_rows(data)),
        "",
        "The baseline is the standard LangChain recipe (Chroma top-3 over the monograph's lines, same "
        "embedding model, no guardrail, no abstention). Definitions: `evals/metrics.py`.",
        "",
        "## Pass rate per category",
        "",
        *md_table(["category", "cases", *systems], _category_rows(data)),
        "",
        f"![pass rate per category]({CATEGORY_PLOT})",
        f"![latency]({LATENCY_PLOT})",
        "",
        "## Gate",
        "",
    ]
    violations = data["gate"]["violations"]
    lines += [f"- {v}" for v in violations] if violations else ["All metrics meet `evals/thresholds.yaml`."]
    failing = [row for row in data["cases"] if not row[main]["passed"]]
    lines += ["", f"## Failing cases ({main}): {len(failing)}", ""]
    if failing:
        rows = []
        for row in failing:
            got = row[main]
            expected_rules = ", ".join(row["expected"]["guardrail"]) or "none"
            fired = ", ".join(got["fired"]) or "none"
            rows.append(
                [
                    row["id"],
                    row["category"],
                    row["question"],
                    ", ".join(got["failed"])
                    + "".join(f"; missing “{p}”" for p in got.get("missing_phrases", [])),
                    f"expected {expected_rules}; fired {fired}",
                    f"answerable {row['expected']['answerable']}; abstained {got['abstained']}",
                ]
            )
        lines += md_table(["id", "category", "question", "failed", "guardrail", "abstention"], rows)
    else:
        lines.append("None.")
    return "\n".join(lines) + "\n"


def plot(runs: Sequence[SystemRun], data: Mapping[str, Any], out: Path) -> list[Path]:
    """Two PNGs: pass rate per category (systems side by side) and the latency distribution."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(data["categories"])
    width = 0.8 / len(runs)
    fig, ax = plt.subplots(figsize=(9, 4.5))
    for i, run in enumerate(runs):
        rates = [data["categories"][c][run.name] * 100 for c in names]
        ax.bar([x + i * width for x in range(len(names))], rates, width=width, label=run.name)
    ax.set_xticks([x + width * (len(runs) - 1) / 2 for x in range(len(names))])
    ax.set_xticklabels([f"{c}\n(n={data['categories'][c]['cases']})" for c in names], fontsize=8)
    ax.set_ylabel("cases passed (%)")
    ax.set_ylim(0, 105)
    ax.set_title("Pass rate per category")
    ax.legend()
    fig.tight_layout()
    category_png = out / CATEGORY_PLOT
    fig.savefig(category_png, dpi=100, metadata={"Software": None})
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(9, 4))
    everything = [r.observed.latency_ms for run in runs for r in run.results]
    low, high = min(everything, default=0.0), max(everything, default=1.0)
    edges = [low + (high - low) * i / 40 for i in range(41)] if high > low else 40
    for i, run in enumerate(runs):
        color = f"C{i}"
        p50, p95 = run.metrics["latency_ms_p50"], run.metrics["latency_ms_p95"]
        label = run.name if p95 is None else f"{run.name}: p50 {p50:.1f} ms, p95 {p95:.1f} ms"
        ax.hist([r.observed.latency_ms for r in run.results], bins=edges, alpha=0.6, color=color, label=label)
        if p95 is not None:
            ax.axvline(p95, linestyle="--", linewidth=1, color=color)
    ax.set_xlabel("ask() latency (ms)")
    ax.set_ylabel("cases")
    ax.set_title("Latency per question")
    ax.legend()
    fig.tight_layout()
    latency_png = out / LATENCY_PLOT
    fig.savefig(latency_png, dpi=100, metadata={"Software": None})
    plt.close(fig)
    return [category_png, latency_png]


def write_all(data: Mapping[str, Any], runs: Sequence[SystemRun], out: Path) -> list[Path]:
    """Write report.json, report.md and the plots into ``out`` (created if missing)."""
    out.mkdir(parents=True, exist_ok=True)
    json_path = out / JSON_NAME
    json_path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    md_path = out / MD_NAME
    md_path.write_text(markdown(data), encoding="utf-8")
    return [json_path, md_path, *plot(runs, data, out)]
