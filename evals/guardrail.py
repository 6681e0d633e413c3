"""Measure the rule guardrail alone on a table of decision situations (``python -m evals.guardrail``).

A situation is the latest user message ``q``, optional earlier user turns ``context`` (a list, oldest first,
or one string with a turn per line) and the exact set of rule ids that must fire. Files are YAML mappings
from a kind of situation to its cases: the format of ``tests/data/guardrail_cases.yaml`` and of the blind
sets in ``evals/sets/``.

Metrics (a case "needs" a rule when its expected set is not empty):
``recall_all``     cases that need rules: share in which every expected rule fired (the issue's >= 0.98).
``exact``          all cases: share whose fired set is exactly the expected set (>= 0.90).
``false_fire``     cases that need none: share in which any rule fired (<= 0.05).
``weaker_beside``  cases in which an interrupt or limit rule is shown as a verdict next to a
                   permanent discontinuation (must be 0).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from assistant.data import parse_yaml
from assistant.guardrail import Guardrail

EVALS_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Situation:
    kind: str
    question: str
    context: tuple[str, ...]
    expected: frozenset[str]


def load_situations(path: Path) -> list[Situation]:
    """Every case of a situations file; a malformed case stops with its kind and position."""
    data = parse_yaml(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping from kind to cases")
    out = []
    for kind, cases in data.items():
        for i, case in enumerate(cases or []):
            if not isinstance(case, dict) or "q" not in case or "fire" not in case:
                raise ValueError(f"{path}: {kind}[{i}] needs `q` and `fire`")
            context = case.get("context") or []
            lines = context.splitlines() if isinstance(context, str) else [str(c) for c in context]
            out.append(Situation(kind, str(case["q"]), tuple(lines), frozenset(case["fire"] or [])))
    return out


def score(guard: Guardrail, situations: Sequence[Situation]) -> dict[str, Any]:
    """Run every situation once; return the metrics, the per-kind table and the failures."""
    need = exact = caught = none = fired_on_none = weaker = 0
    kinds: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    failures = []
    for s in situations:
        hits = guard.check(s.question, context="\n".join(s.context))
        fired = frozenset(h.rule_id for h in hits)
        discontinued = any(h.action == "discontinue" for h in hits)
        if discontinued and any(
            h.action != "discontinue" and getattr(h, "role", "verdict") == "verdict" for h in hits
        ):
            weaker += 1
        row = kinds[s.kind]
        row["cases"] += 1
        exact += fired == s.expected
        row["exact"] += fired == s.expected
        if s.expected:
            need += 1
            ok = s.expected <= fired
            caught += ok
            row["need"] += 1
            row["caught"] += ok
        else:
            none += 1
            row["none"] += 1
            fired_on_none += bool(fired)
            row["fired_on_none"] += bool(fired)
        if fired != s.expected:
            failures.append(
                {
                    "kind": s.kind,
                    "context": list(s.context),
                    "q": s.question,
                    "expected": sorted(s.expected),
                    "fired": sorted(fired),
                }
            )
    total = len(situations)
    return {
        "cases": total,
        "need_rules": need,
        "need_none": none,
        "recall_all": caught / need if need else None,
        "exact": exact / total if total else None,
        "false_fire": fired_on_none / none if none else None,
        "weaker_beside": weaker,
        "kinds": {k: dict(v) for k, v in kinds.items()},
        "failures": failures,
    }


def summary(name: str, result: dict[str, Any]) -> str:
    def pct(v: float | None) -> str:
        return "n/a" if v is None else f"{v:.3f}"

    lines = [
        f"{name}: {result['cases']} situations "
        f"({result['need_rules']} need rules, {result['need_none']} none)",
        f"  all expected rules fired {pct(result['recall_all'])} · exact set {pct(result['exact'])} · "
        f"fired when none needed {pct(result['false_fire'])} · weaker verdict beside discontinue "
        f"{result['weaker_beside']}",
    ]
    for kind, row in result["kinds"].items():
        caught = f"{row.get('caught', 0)}/{row.get('need', 0)} caught" if row.get("need") else "-"
        quiet = f"{row.get('fired_on_none', 0)}/{row.get('none', 0)} fired" if row.get("none") else "-"
        lines.append(f"    {kind:<24} exact {row.get('exact', 0)}/{row['cases']:<3}  {caught:<14} {quiet}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: 0 when every file was scored (the numbers are the result; no gate here)."""
    parser = argparse.ArgumentParser(prog="python -m evals.guardrail", description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path, help="situation files (YAML)")
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    parser.add_argument("--failures", action="store_true", help="print every failed situation")
    args = parser.parse_args(argv)

    from assistant.corpus import load_corpus
    from assistant.errors import AssistantError
    from assistant.settings import load_settings

    try:
        settings = load_settings()
    except AssistantError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    guard = Guardrail.load(settings.corpus_dir / "rules.yaml", load_corpus(settings.corpus_dir))
    results = {}
    for path in args.files:
        try:
            situations = load_situations(path)
        except (OSError, ValueError, yaml.YAMLError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        result = score(guard, situations)
        results[path.name] = result
        print(summary(path.name, result))
        if args.failures:
            for f in result["failures"]:
                print(
                    f"  FAIL [{f['kind']}] {f['context']} | {f['q']} | want {f['expected']} got {f['fired']}"
                )
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
