"""The test tiers: ``make test-fast`` is the unit tier (fake embedder, nothing slow), ``make test`` is
everything and lints exactly as ``make lint`` does."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest

from assistant.settings import PROJECT_ROOT
from tests.conftest import NOT_IN_FAST_TIER
from tests.fakes import HashingEmbeddings
from tests.procs import child_env


def _dot(u: list[float], v: list[float]) -> float:
    return sum(x * y for x, y in zip(u, v, strict=True))


def test_the_fake_embedder_is_deterministic_normalised_and_lexical() -> None:
    fake = HashingEmbeddings()
    a, again = (
        fake.embed_query("Monitor liver function weekly"),
        HashingEmbeddings().embed_query("monitor LIVER function weekly"),
    )
    assert a == again
    assert math.isclose(sum(v * v for v in a), 1.0)
    shared = fake.embed_query("liver function tests")
    unrelated = fake.embed_query("QT interval prolongation")
    assert _dot(a, shared) > _dot(a, unrelated)
    assert math.isclose(sum(v * v for v in fake.embed_query("")), 1.0)  # never a zero vector


@pytest.mark.process
def test_the_fast_tier_leaves_out_browser_server_process_and_model_tests() -> None:
    def start(*args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *args],
            cwd=PROJECT_ROOT,
            env=child_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def collected(proc: subprocess.Popen[str]) -> set[str]:
        out, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, out[-2000:] + err[-2000:]
        return {line for line in out.splitlines() if "::" in line}

    # The three collections run side by side: each spends most of its time importing.
    runs = [start(), start("--fast"), start("-m", " or ".join(NOT_IN_FAST_TIER))]
    everything, fast, marked = (collected(run) for run in runs)
    assert fast < everything and len(fast) > 1000
    assert marked and fast.isdisjoint(marked)
    assert fast | marked == everything
    assert not any(t.startswith(("tests/test_browser.py", "tests/test_workers.py")) for t in fast)


def test_make_test_runs_the_same_lint_as_make_lint() -> None:
    def commands(target: str) -> list[str]:
        done = subprocess.run(
            ["make", "-n", "-W", "pyproject.toml", target], cwd=PROJECT_ROOT, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        return [line for line in done.stdout.splitlines() if "ruff" in line]

    lint = commands("lint")
    assert any("ruff check" in c for c in lint) and any("ruff format --check" in c for c in lint)
    assert commands("test") == lint
