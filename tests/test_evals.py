"""The evaluation suite: its metrics, its dataset, and a real run of ``python -m evals --check``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from assistant.corpus import load_corpus
from assistant.data import parse_yaml
from assistant.models import Quote
from assistant.settings import PROJECT_ROOT
from evals import metrics, report
from evals.cases import DEFAULT_DATASET, DatasetError, load_dataset
from evals.metrics import Expected, Observed
from evals.results import CaseResult, SystemRun
from evals.runner import load_thresholds, main

ROOT = Path(__file__).resolve().parent.parent
CORPUS_DIR = ROOT / "corpus"
RULES_FILE = CORPUS_DIR / "rules.yaml"
ABSTENTION_PHRASE = "does not address"

SOS = "Discontinue the drug immediately if sinusoidal obstruction syndrome occurs."
SOS_LINE = (
    "Management recommendation: Discontinue the drug immediately if sinusoidal obstruction syndrome occurs."
)
LFT = "Suspend medication if abnormalities occur, until liver function returns to normal."
RISK_LIST = (
    "Risk factors include: Receiving hematopoietic stem cell transplantation.\nUsing a conditioning regimen"
)


@pytest.fixture(scope="module")
def corpus():
    return load_corpus(CORPUS_DIR)


@pytest.fixture(scope="module")
def cases():
    return load_dataset(DEFAULT_DATASET)


# --- metrics -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("quote", "evidence", "expected"),
    [
        (SOS, SOS, True),  # identical
        (SOS_LINE, SOS, True),  # the quote contains the evidence
        (SOS, SOS_LINE, True),  # the quote is the clause of a labelled evidence sentence
        (RISK_LIST, "Using a conditioning regimen", True),  # a whole list covers one of its lines
        (LFT, SOS, False),
        ("", SOS, False),  # an empty quote covers nothing
        ("   ", SOS, False),
        (f"  {SOS}\n", SOS, True),  # surrounding whitespace is ignored
    ],
)
def test_covers(quote: str, evidence: str, expected: bool) -> None:
    assert metrics.covers(quote, evidence) is expected


@pytest.mark.parametrize(
    ("evidence", "quotes", "recall", "precision"),
    [
        ([SOS], [SOS_LINE], 1.0, 1.0),
        ([SOS, LFT], [SOS_LINE], 0.5, 1.0),
        ([SOS], [SOS_LINE, LFT], 1.0, 0.5),
        ([SOS, LFT], [LFT, SOS, "Unrelated."], 1.0, 2 / 3),
        ([SOS], [], 0.0, None),  # no quote: recall 0, precision not applicable
        ([], [SOS], None, None),  # no evidence: neither applies
    ],
)
def test_evidence_recall_and_quote_precision(evidence, quotes, recall, precision) -> None:
    got_recall = metrics.evidence_recall(evidence, quotes)
    got_precision = metrics.quote_precision(evidence, quotes)
    assert got_recall == (None if recall is None else pytest.approx(recall))
    assert got_precision == (None if precision is None else pytest.approx(precision))


@pytest.mark.parametrize(
    ("text", "phrases", "expected"),
    [
        ("Monitor liver function WEEKLY.", ["weekly"], 1.0),
        ("Suspend medication.", ["suspend|until liver function returns to normal"], 1.0),
        ("until liver function returns to normal", ["suspend|until liver function returns to normal"], 1.0),
        ("Interrupt the infusion.", ["interrupt the infusion", "severe cases"], 0.5),
        ("Nothing relevant.", ["weekly"], 0.0),
        ("Anything", [], None),
        ("The monograph does not address this.", ["does not address|not covered"], 1.0),
    ],
)
def test_must_include(text: str, phrases: list[str], expected: float | None) -> None:
    assert metrics.must_include(text, phrases) == expected


@pytest.mark.parametrize(
    ("expected", "fired", "exact", "recall", "false_fire"),
    [
        ([], [], True, None, False),
        ([], ["sos"], False, None, True),
        (["sos"], ["sos"], True, 1.0, None),
        (["sos"], [], False, 0.0, None),
        (["sos", "cytopenia"], ["sos"], False, 0.5, None),
        (["sos"], ["sos", "cytopenia"], False, 1.0, None),  # an extra rule breaks exactness only
        (["sos"], ["sos", "sos"], True, 1.0, None),  # ids are compared as sets
    ],
)
def test_guardrail_metrics(expected, fired, exact, recall, false_fire) -> None:
    assert metrics.guardrail_exact(expected, fired) is exact
    assert metrics.guardrail_recall(expected, fired) == recall
    assert metrics.guardrail_false_fire(expected, fired) is false_fire


@pytest.mark.parametrize(
    ("answerable", "abstained", "correct"),
    [(True, False, True), (True, True, False), (False, True, True), (False, False, False)],
)
def test_abstention_accuracy(answerable: bool, abstained: bool, correct: bool) -> None:
    assert metrics.abstention_accuracy(answerable, abstained) is correct


def _quote(text: str, start: int, document: str = "doc") -> Quote:
    return Quote(text=text, document=document, section="S", start=start, end=start + len(text))


@pytest.mark.parametrize(
    ("quotes", "expected"),
    [
        ([_quote("world", 6)], 1.0),
        ([_quote("world", 6), _quote("hello", 0)], 1.0),
        ([_quote("world", 5)], 0.0),  # right text, wrong offsets
        ([_quote("world", 6, document="other")], 0.0),  # unknown document
        ([_quote("world", 6), _quote("wurld", 6)], 0.5),  # paraphrase
        ([], None),
    ],
)
def test_quote_fidelity(quotes: list[Quote], expected: float | None) -> None:
    assert metrics.quote_fidelity(quotes, {"doc": "hello world"}) == expected


@pytest.mark.parametrize(
    ("values", "p50", "p95"),
    [
        ([10.0], 10.0, 10.0),
        ([1.0, 2.0, 3.0, 4.0], 2.5, 3.85),
        (list(range(1, 101)), 50.5, 95.05),
        ([5.0, 1.0, 3.0], 3.0, 4.8),  # order does not matter
        ([], None, None),
    ],
)
def test_latency_percentiles(values: list[float], p50: float | None, p95: float | None) -> None:
    got50, got95 = metrics.latency_ms_p50(values), metrics.latency_ms_p95(values)
    assert (got50, got95) == ((None, None) if p50 is None else (pytest.approx(p50), pytest.approx(p95)))


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([7.0], 1, 7.0),  # one value is every percentile of itself
        ([7.0], 99, 7.0),
        ([1.0, 2.0], 50, 1.5),
        ([3.0, 1.0, 2.0], 1, 1.02),  # never below the fastest ...
        ([3.0, 1.0, 2.0], 99, 2.98),  # ... nor above the slowest
        (list(range(1, 21)), 95, 19.05),  # "exclusive" would give 19.95, nearest rank 19
        ([1.0, 2.0, 3.0, 4.0, 100.0], 99, 96.16),
    ],
)
def test_percentile_interpolates_between_ranks(values: list[float], q: int, expected: float) -> None:
    assert metrics.percentile(values, q) == pytest.approx(expected)


@pytest.mark.parametrize("q", [0, 100, 50.5, -1, True])
def test_percentile_rejects_what_is_not_an_integer_from_1_to_99(q) -> None:
    with pytest.raises(ValueError, match="integer from 1 to 99"):
        metrics.percentile([1.0, 2.0], q)


def test_load_report_uses_the_same_percentile() -> None:
    from evals.load import Stats, report

    latencies = [float(v) for v in range(100, 2100, 100)]  # 20 requests: 100 .. 2000 ms
    stats = Stats(latencies_ms=latencies, sent=20)
    text = report(stats, 10.0, 4, ["http://127.0.0.1:1"])
    assert f"latency p95   {metrics.percentile(latencies, 95):.0f} ms" in text  # 1905, not nearest-rank 1900
    assert "latency p95   1905 ms" in text
    assert "latency p50   n/a" in report(Stats(sent=3), 1.0, 1, ["http://127.0.0.1:1"])  # all failed


@pytest.mark.parametrize(("rows", "ok"), [(None, True), (22, True), (21, False), (23, False)])
def test_load_report_compares_the_audit_rows_with_the_requests(rows: int | None, ok: bool) -> None:
    from evals.load import Stats, audited, report

    stats = Stats(latencies_ms=[10.0] * 20, sent=20, warmups=2, audit_rows=rows)
    text = report(stats, 10.0, 4, ["http://127.0.0.1:1", "http://127.0.0.1:2"])
    assert audited(stats) is ok
    assert text.count("target ") == 2
    assert ("audit rows" in text) is (rows is not None)
    if rows is not None:
        assert f"audit rows    {rows} (requests 22, warm-ups included)" in text


def _observed(text="", quotes=(), fired=(), abstained=False, latency=1.0, error=None) -> Observed:
    return Observed(text, tuple(quotes), tuple(fired), abstained, latency, error)


SOURCE = {"doc": f"{SOS}\n{LFT}"}
Q_SOS = _quote(SOS, 0)
Q_LFT = _quote(LFT, len(SOS) + 1)


@pytest.mark.parametrize(
    ("expected", "observed", "failed"),
    [
        (Expected(True, (SOS,), ("discontinue",), ("sos",)), _observed(SOS, [Q_SOS], ["sos"]), ()),
        (Expected(True, (SOS,), ("discontinue",), ("sos",)), _observed(SOS, [Q_SOS], []), ("guardrail",)),
        (Expected(True, (SOS,), (), ()), _observed(LFT, [Q_LFT]), ("evidence",)),
        (Expected(True, (SOS,), ("weekly",), ()), _observed(SOS, [Q_SOS]), ("must_include",)),
        (Expected(True, (SOS,), (), ()), _observed("x", [_quote(SOS, 1)]), ("quote_fidelity",)),
        (
            Expected(False, (), (ABSTENTION_PHRASE,), ()),
            _observed("It does not address this.", abstained=True),
            (),
        ),
        (Expected(False, (), (), ()), _observed(SOS, [Q_SOS]), ("abstention",)),
        (Expected(True, (SOS,), (), ()), _observed("no", abstained=True), ("abstention", "evidence")),
        (Expected(False, (), (), ()), _observed(abstained=True, fired=["sos"]), ("guardrail",)),
        (Expected(True, (SOS,), (), ()), _observed(error="boom"), ("error", "evidence")),
    ],
)
def test_score_case_names_failed_checks(
    expected: Expected, observed: Observed, failed: tuple[str, ...]
) -> None:
    score = metrics.score_case(expected, observed, SOURCE)
    assert score.failed == failed
    assert score.passed is (not failed)


def test_aggregate_means_over_applicable_cases_only() -> None:
    scores = [
        metrics.score_case(Expected(True, (SOS,), (), ("sos",)), _observed(SOS, [Q_SOS], ["sos"]), SOURCE),
        metrics.score_case(Expected(True, (SOS, LFT), (), ()), _observed(SOS, [Q_SOS, Q_LFT]), SOURCE),
        metrics.score_case(Expected(False, (), (), ()), _observed(abstained=False, fired=["sos"]), SOURCE),
    ]
    got = metrics.aggregate(scores, [10.0, 20.0, 30.0])
    assert got["evidence_recall"] == pytest.approx(1.0)  # the unanswerable case does not count
    assert got["guardrail_recall"] == pytest.approx(1.0)  # only the case that expects a rule
    assert got["guardrail_false_fire"] == pytest.approx(0.5)  # 1 of the 2 cases expecting none
    assert got["guardrail_exact"] == pytest.approx(2 / 3)
    assert got["abstention_accuracy"] == pytest.approx(2 / 3)
    assert got["must_include"] is None  # no case requires a phrase
    assert got["latency_ms_p50"] == pytest.approx(20.0)
    assert set(got) == set(metrics.METRICS)


@pytest.mark.parametrize(
    ("values", "thresholds", "problems"),
    [
        ({"evidence_recall": 0.9}, {"min": {"evidence_recall": 0.85}}, []),
        ({"evidence_recall": 0.8}, {"min": {"evidence_recall": 0.85}}, ["evidence_recall = 0.8 is below"]),
        ({"latency_ms_p95": 90.0}, {"max": {"latency_ms_p95": 100}}, []),
        ({"latency_ms_p95": 120.0}, {"max": {"latency_ms_p95": 100}}, ["latency_ms_p95 = 120 is above"]),
        ({"guardrail_recall": None}, {"min": {"guardrail_recall": 0.9}}, ["guardrail_recall: not measured"]),
        ({}, {"min": {"quote_fidelity": 1.0}}, ["quote_fidelity: not measured"]),
    ],
)
def test_gate(values, thresholds, problems: list[str]) -> None:
    got = metrics.gate(values, thresholds)
    assert len(got) == len(problems)
    assert all(g.startswith(p) for g, p in zip(got, problems, strict=True))


# --- dataset -------------------------------------------------------------------------------------


def test_dataset_size_and_coverage(cases) -> None:
    categories = Counter(c.category for c in cases)
    assert len(cases) >= 110
    assert categories["out_of_scope"] >= 25
    for category in ("fact", "abbreviation", "typo", "guardrail", "near_miss", "injection", "followup"):
        assert categories[category] >= 8, category
    assert sum(c.history is not None for c in cases) >= 10
    for case in cases:
        if not case.answerable:
            assert case.evidence == [] and case.guardrail == []


def test_every_evidence_string_is_verbatim_in_the_corpus(cases, corpus) -> None:
    texts = [d.text for d in corpus.documents]
    missing = [(c.id, e) for c in cases for e in c.evidence if not any(e in t for t in texts)]
    assert missing == []


def test_every_must_include_phrase_comes_from_the_corpus(cases, corpus) -> None:
    """Required phrases are the monograph's words (or the abstention wording), never invented text."""
    text = "\n".join(d.text for d in corpus.documents).lower()
    invented = [
        (c.id, alt)
        for c in cases
        for phrase in c.must_include
        for alt in phrase.split("|")
        if alt.strip().lower() not in text and alt.strip() != ABSTENTION_PHRASE
    ]
    assert invented == []


def test_every_section_has_a_fact_case(cases, corpus) -> None:
    """Plain facts cover every section of the monograph: some fact case rests on each section."""
    facts = [e for c in cases if c.category == "fact" for e in c.evidence]
    sections = {p.section for p in corpus.passages}
    covered = {p.section for p in corpus.passages if any(metrics.covers(p.text, e) for e in facts)}
    assert sections - covered == set()


def test_guardrail_ids_exist_in_rules_yaml(cases, corpus) -> None:
    if not RULES_FILE.is_file():
        pytest.skip("corpus/rules.yaml has not landed yet")
    rules = parse_yaml(RULES_FILE.read_text(encoding="utf-8"))
    entries = rules["rules"] if isinstance(rules, dict) and "rules" in rules else rules
    known = {r["id"] for r in entries}
    used = Counter(rule for c in cases for rule in c.guardrail)
    assert set(used) <= known
    assert {rule for rule in known if used[rule] < 3} == set(), "every rule needs several phrasings"
    sources = {r["id"]: r["sources"] for r in entries}
    unquoted = [
        (c.id, s) for c in cases for rule in c.guardrail for s in sources[rule] if s not in c.evidence
    ]
    assert unquoted == [], "a guardrail case's evidence includes its rules' source sentences"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "line 2: invalid case"),
        (
            '{"id": "x2", "category": "fact", "question": "q", "answerable": true, "evidence": ["e"], '
            '"must_include": []}',
            "guardrail: Field required",
        ),
        (
            '{"id": "x2", "category": "fact", "question": "q", "answerable": false, "evidence": ["e"], '
            '"must_include": [], "guardrail": []}',
            "unanswerable case must have empty evidence",
        ),
        (
            '{"id": "x2", "category": "fact", "question": "q", "answerable": true, "evidence": [], '
            '"must_include": [], "guardrail": []}',
            "needs at least one evidence sentence",
        ),
        (
            '{"id": "x1", "category": "fact", "question": "q", "answerable": true, "evidence": ["e"], '
            '"must_include": [], "guardrail": []}',
            "duplicate id 'x1' (first on line 1)",
        ),
        (
            '{"id": "x2", "category": "fact", "question": "q", "answerable": true, "evidence": ["e"], '
            '"must_include": [], "guardrail": [], "notes": "?"}',
            "notes: Extra inputs are not permitted",
        ),
        (
            '{"id": "x2", "category": "fact", "question": "q", "answerable": true, "evidence": ["e"], '
            '"must_include": [], "guardrail": [], "history": [{"role": "bot", "content": "hi"}]}',
            "history.0.role",
        ),
    ],
)
def test_bad_dataset_line_is_named(tmp_path: Path, line: str, message: str) -> None:
    good = (
        '{"id": "x1", "category": "fact", "question": "q", "answerable": true, "evidence": ["e"], '
        '"must_include": [], "guardrail": []}'
    )
    path = tmp_path / "cases.jsonl"
    path.write_text(f"{good}\n{line}\n", encoding="utf-8")
    with pytest.raises(DatasetError) as err:
        load_dataset(path)
    assert f"{path}:2:" in str(err.value)
    assert message.replace("line 2: ", "") in str(err.value)


def test_bad_dataset_exits_2_before_loading_anything(tmp_path: Path, capsys) -> None:
    path = tmp_path / "cases.jsonl"
    path.write_text('{"id": "x"}\n', encoding="utf-8")
    assert main(["--dataset", str(path), "--out", str(tmp_path / "out")]) == 2
    assert f"{path}:1:" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_thresholds_reject_unknown_metric(tmp_path: Path) -> None:
    path = tmp_path / "thresholds.yaml"
    path.write_text("min:\n  evidence_recal: 0.9\n", encoding="utf-8")
    with pytest.raises(SystemExit, match=r"min\.evidence_recal"):
        load_thresholds(path)


def test_committed_thresholds_name_real_metrics() -> None:
    gate = load_thresholds(ROOT / "evals" / "thresholds.yaml")
    assert gate["min"] and gate["max"]


# --- report (from scored cases, no model) ---------------------------------------------------------


def test_report_lists_failures_and_compares_systems(tmp_path: Path, cases) -> None:
    picked = cases[:2]
    good = _observed(SOS, [Q_SOS], [])
    runs = []
    for name, observed in (("assistant", good), ("baseline", _observed("nothing"))):
        results = [
            CaseResult(c, observed, metrics.score_case(c.expected(), observed, SOURCE), ("S",))
            for c in picked
        ]
        summary = metrics.aggregate([r.score for r in results], [1.0, 2.0])
        runs.append(SystemRun(name, results, summary))
    data = report.build(
        runs,
        dataset={"path": "d.jsonl", "cases": 2, "sha256": "0" * 64},
        corpus_version="c" * 64,
        thresholds={"min": {"quote_fidelity": 1.0}, "max": {}},
        violations=[],
    )
    written = report.write_all(data, runs, tmp_path)
    assert [p.name for p in written] == ["report.json", "report.md", "category_pass_rates.png", "latency.png"]
    loaded = json.loads((tmp_path / "report.json").read_text())
    assert loaded["systems"] == ["assistant", "baseline"]
    assert [row["id"] for row in loaded["cases"]] == [c.id for c in picked]
    assert all("evidence" in row["baseline"]["failed"] for row in loaded["cases"])
    md = (tmp_path / "report.md").read_text()
    assert "| evidence_recall |" in md and picked[0].id in md
    assert all(p.stat().st_size > 1000 for p in written[2:])


@pytest.mark.process
@pytest.mark.parametrize("module", ["cases", "results", "metrics", "report", "runner", "remote"])
def test_each_evals_module_imports_alone_and_report_never_loads_the_runner(module: str) -> None:
    """A fresh interpreter per module: no import cycle, and the report reads results, not the runner."""
    probe = f"import sys, evals.{module}; print('evals.runner' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == str(module == "runner")


def test_baseline_chunks_are_verbatim_lines(corpus) -> None:
    from evals.baseline import split_lines

    chunks = split_lines(corpus)
    text = corpus.documents[0].text
    assert len(chunks) == len([line for line in text.splitlines() if line.strip()])
    assert all(text[c.metadata["start"] : c.metadata["end"]] == c.page_content for c in chunks)


# --- the real thing -------------------------------------------------------------------------------


def _run_evals(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False"}
    return subprocess.run(
        [sys.executable, "-m", "evals", "--data-dir", str(tmp_path / "data"), "--no-progress", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.process
@pytest.mark.timeout(300)
def test_full_suite_passes_the_gate(tmp_path: Path) -> None:
    """What CI relies on: the whole dataset, assistant and baseline, meets evals/thresholds.yaml."""
    out = tmp_path / "out"
    done = _run_evals(tmp_path, "--check", "--out", str(out))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    for name in ("report.json", "report.md", "category_pass_rates.png", "latency.png"):
        assert (out / name).stat().st_size > 0, name
    data = json.loads((out / "report.json").read_text())
    assert data["systems"] == ["assistant", "baseline"]
    assert set(data["metrics"]["assistant"]) == set(metrics.METRICS)
    assert len(data["cases"]) == len(load_dataset(DEFAULT_DATASET))
    assert "metric" in done.stdout and "out_of_scope" in done.stdout  # the printed tables
    assert (tmp_path / "data" / "chroma").is_dir()  # index and audit went to the tmp data folder


@pytest.mark.model
@pytest.mark.timeout(300)
def test_check_fails_when_a_threshold_is_missed(tmp_path: Path, capsys) -> None:
    """The gate bites: an unreachable bound makes --check exit 1 and name the metric (in-process, 3 cases)."""
    strict = tmp_path / "strict.yaml"
    strict.write_text("min:\n  abstention_accuracy: 1.01\nmax: {}\n", encoding="utf-8")
    args = ["--check", "--no-baseline", "--no-progress", "--limit", "3", "--thresholds", str(strict)]
    code = main([*args, "--data-dir", str(tmp_path / "data"), "--out", str(tmp_path / "out")])
    assert code == 1
    err = capsys.readouterr().err
    assert "abstention_accuracy = 1 is below the minimum 1.01" in err
    assert (tmp_path / "out" / "report.json").is_file()


@pytest.mark.model
@pytest.mark.timeout(300)
def test_the_final_blind_gate_runs_a_final_set_and_passes(tmp_path: Path) -> None:
    """The gate's own path on one final set. All of them run in ``make eval-gate``, which CI runs after
    ``make test`` (about 5 minutes: too long for the test suite's 10-minute budget)."""
    from evals import blind

    name = next(iter(blind.FINALS))
    out = tmp_path / "out"
    args = ["--check", "--data-dir", str(tmp_path / "data"), "--out", str(out), "--final", name]
    assert blind.main(args) == 0
    columns = json.loads((out / "blind.json").read_text())
    assert set(columns) == {name}  # this final set, and no development column
    assert columns[name]["answers"]["cases"] >= 100 and columns[name]["guardrail"]["cases"] >= 150
    assert columns[name]["guardrail"]["weaker_beside"] == 0
    assert "| false_refusal |" in (out / "blind.md").read_text()


def test_ci_runs_the_final_blind_gate_after_the_tests() -> None:
    """Every final set still gates every change: ``.ci/run`` runs ``make eval-gate`` after ``make test``."""
    lines = [line.strip() for line in (PROJECT_ROOT / ".ci" / "run").read_text().splitlines()]
    assert lines.index("make test") < lines.index("make eval-gate")
    done = subprocess.run(["make", "-n", "eval-gate"], cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert done.returncode == 0 and "evals.blind --check --finals-only" in done.stdout


# ---------------------------------------------------------------------------- answerability calibration
def test_calibration_cross_validates_by_held_out_set() -> None:
    """Each set is scored by a model fitted without it, so the threshold is chosen on unseen questions."""
    from evals import calibrate

    rows = [
        {"set": f"s{i % 3}", "answerable": good, **dict.fromkeys(calibrate.FEATURES, 0.0), "coverage": cov}
        for i, (good, cov) in enumerate([(True, 0.9), (False, 0.1)] * 30)
    ]
    counts = calibrate.cross_validate(rows)
    assert set(counts) == set(calibrate.THRESHOLDS)
    assert counts[0.5] == (0, 0)  # separable on coverage: no errors at an even threshold
    assert all(fr + fa <= 60 for fr, fa in counts.values())


@pytest.mark.parametrize(
    ("counts", "chosen"),
    [
        # round 32's re-fit: 0.75 sums 0.0504, 0.80 sums 0.0506 (within the band): the higher one
        ({0.70: (19, 272), 0.75: (35, 261), 0.80: (76, 239), 0.85: (172, 219)}, 0.80),
        # a clearly lower sum wins, even at a lower threshold
        ({0.80: (76, 239), 0.85: (172, 120), 0.90: (493, 229)}, 0.85),
        ({0.50: (0, 0), 0.90: (0, 0)}, 0.90),  # a tie: the threshold that answers less
        # never below the floor (rounds 39 and 41: 0.75 took final sets over their false-answer gates)
        ({0.70: (19, 150), 0.75: (35, 261), 0.80: (76, 239)}, 0.80),
        ({0.70: (14, 316), 0.75: (31, 310), 0.80: (72, 292), 0.85: (175, 264)}, 0.80),
    ],
)
def test_the_threshold_is_the_highest_within_the_band_of_the_lowest_error(
    counts: dict[float, tuple[int, int]], chosen: float
) -> None:
    from evals import calibrate

    assert calibrate.choose_threshold(counts, 9928, 5568) == chosen


def test_the_committed_answerability_score_is_the_fit_of_the_stored_features() -> None:
    """corpus/answerability.yaml is reproducible: re-fitting on the features ``make calibrate`` stored gives
    the same weights and threshold, so nobody hand-tuned it."""
    from evals import calibrate

    rows, answerable, unanswerable = calibrate.load_rows()
    fitted = calibrate.fit_document(rows, answerable, unanswerable)
    committed = parse_yaml(calibrate.OUT.read_text(encoding="utf-8"))
    assert fitted["threshold"] == committed["threshold"]
    assert fitted["weights"] == pytest.approx(committed["weights"], abs=1e-3)
    assert fitted["intercept"] == pytest.approx(committed["intercept"], abs=1e-3)
    assert {r["set"] for r in rows} <= {p.name for p in calibrate.CALIBRATION_QA}


@pytest.mark.model
def test_the_stored_features_are_what_the_code_computes(tmp_path: Path) -> None:
    """A change to the features cannot go unfitted: a sample of the development questions (every 25th)
    gives, with the current code, the features stored by the last ``make calibrate``, and reaches the
    score exactly when it did then."""
    from evals import calibrate

    rows, answerable, unanswerable = calibrate.load_rows()
    every = 25
    sampled = {
        (path.name, case.id)
        for path in calibrate.CALIBRATION_QA
        for i, case in enumerate(load_dataset(path))
        if i % every == 0
    }
    stored = {(r["set"], r["id"]): r for r in rows if (r["set"], r["id"]) in sampled}
    now, answerable_now, unanswerable_now = calibrate.collect(calibrate.CALIBRATION_QA, tmp_path, every)
    assert (answerable_now, unanswerable_now) == (answerable, unanswerable)
    assert len(now) > 200 and {(r["set"], r["id"]) for r in now} == set(stored)
    for row in now:
        expected = stored[(row["set"], row["id"])]
        assert {n: row[n] for n in calibrate.FEATURES} == pytest.approx(
            {n: expected[n] for n in calibrate.FEATURES}, abs=1e-6
        ), (row["set"], row["id"])
