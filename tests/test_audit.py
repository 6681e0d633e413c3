"""The audit/feedback store on a real SQLite file: WAL, no question text by default, feedback, CSV export."""

from __future__ import annotations

import csv
import json
import sqlite3
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from assistant.audit import AuditStore, UnknownAnswer
from assistant.models import Answer, Quote, RuleHit
from assistant.settings import Settings

PATIENT = "Patient Jane Roe MRN 4417-2290 has SOS, stop?"

QUOTE = Quote(text="Risk text.", document="mono", section="Risk", start=10, end=20)
RULE_QUOTE = Quote(text="Stop text.", document="mono", section="Management", start=40, end=50)


def make_answer(*, guardrail: bool = False, abstained: bool = False) -> Answer:
    hits = [RuleHit(rule_id="sos-discontinue", action="discontinue", message="Stop.", quotes=[RULE_QUOTE])]
    return Answer(
        text="Not covered." if abstained else "Answer.",
        quotes=[] if abstained else [QUOTE],
        guardrail=hits if guardrail else [],
        abstained=abstained,
        corpus_version="v1",
    )


def raw_rows(path: Path, table: str) -> list[tuple]:
    with sqlite3.connect(path) as db:
        return db.execute(f"SELECT * FROM {table}").fetchall()


def test_database_is_in_wal_mode(tmp_path: Path) -> None:
    store = AuditStore(tmp_path / "audit.sqlite3")
    assert store.journal_mode == "wal"
    with sqlite3.connect(tmp_path / "audit.sqlite3") as db:  # a second, independent connection sees it too
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


@pytest.mark.parametrize(
    ("guardrail", "abstained", "rule_ids", "offsets"),
    [
        (False, False, [], [["mono", 10, 20]]),
        (True, False, ["sos-discontinue"], [["mono", 10, 20], ["mono", 40, 50]]),
        (False, True, [], []),
    ],
)
def test_answer_row_records_what_was_shown(
    tmp_path: Path, guardrail: bool, abstained: bool, rule_ids: list[str], offsets: list[list[object]]
) -> None:
    store = AuditStore(tmp_path / "audit.sqlite3")
    answer = make_answer(guardrail=guardrail, abstained=abstained)
    store.record_answer(answer, channel="api", latency_ms=12.5, question=PATIENT)
    [row] = store.rows("answers")
    assert row["answer_id"] == answer.id
    assert row["channel"] == "api"
    assert row["corpus_version"] == "v1"
    assert json.loads(row["rule_ids"]) == rule_ids
    assert json.loads(row["quotes"]) == offsets
    assert row["abstained"] == int(abstained)
    assert row["latency_ms"] == 12.5
    assert datetime.fromisoformat(row["time"]).tzinfo is not None
    assert row["question"] is None


def test_question_text_is_nowhere_in_the_files_by_default(tmp_path: Path) -> None:
    path = tmp_path / "audit.sqlite3"
    store = AuditStore(path)
    answer = make_answer(guardrail=True)
    store.record_answer(answer, channel="ui", latency_ms=1.0, question=PATIENT)
    store.record_feedback(answer_id=answer.id, rating="down", comment=PATIENT, question=PATIENT)
    files = list(tmp_path.iterdir())  # the database, its -wal and -shm files
    assert files
    assert all(b"4417-2290" not in f.read_bytes() for f in files)


def test_question_and_comment_are_kept_only_when_allowed(tmp_path: Path) -> None:
    path = tmp_path / "audit.sqlite3"
    store = AuditStore(path, store_question_text=True)
    answer = make_answer()
    store.record_answer(answer, channel="ui", latency_ms=1.0, question=PATIENT)
    store.record_feedback(answer_id=answer.id, rating="up", comment="useful", question=PATIENT)
    assert store.rows("answers")[0]["question"] == PATIENT
    feedback = store.rows("feedback")[0]
    assert (feedback["question"], feedback["comment"]) == (PATIENT, "useful")


def test_from_settings_uses_the_data_folder_and_privacy_setting(tmp_path: Path) -> None:
    store = AuditStore.from_settings(Settings(data_dir=tmp_path / "data"))
    assert store.path == tmp_path / "data" / "audit.sqlite3"
    assert store.store_question_text is False


@pytest.mark.parametrize("pass_answer", [True, False])
def test_feedback_carries_the_rated_answers_rules_and_offsets(tmp_path: Path, pass_answer: bool) -> None:
    """With the Answer in hand or only its id (another worker answered), the row is the same."""
    store = AuditStore(tmp_path / "audit.sqlite3")
    answer = make_answer(guardrail=True)
    store.record_answer(answer, channel="api", latency_ms=3.0)
    store.record_feedback(answer=answer if pass_answer else None, answer_id=answer.id, rating="up")
    [row] = store.rows("feedback")
    assert row["answer_id"] == answer.id
    assert row["rating"] == "up"
    assert json.loads(row["rule_ids"]) == ["sos-discontinue"]
    assert json.loads(row["quotes"]) == [["mono", 10, 20], ["mono", 40, 50]]
    assert row["corpus_version"] == "v1"
    assert row["comment"] is None and row["question"] is None


@pytest.mark.parametrize("rating", ["like", "", "UP", "1"])
def test_feedback_rejects_a_rating_other_than_up_or_down(tmp_path: Path, rating: str) -> None:
    store = AuditStore(tmp_path / "audit.sqlite3")
    answer = make_answer()
    store.record_answer(answer, channel="api", latency_ms=1.0)
    with pytest.raises(ValueError, match="rating"):
        store.record_feedback(answer=answer, answer_id=answer.id, rating=rating)
    assert raw_rows(tmp_path / "audit.sqlite3", "feedback") == []


def test_feedback_for_an_unknown_answer_is_refused(tmp_path: Path) -> None:
    store = AuditStore(tmp_path / "audit.sqlite3")
    with pytest.raises(UnknownAnswer):
        store.record_feedback(answer_id="0" * 32, rating="up")
    with pytest.raises(ValueError, match="does not match"):
        store.record_feedback(answer=make_answer(), answer_id="0" * 32, rating="up")


def test_export_csv_writes_rows_since_a_date(tmp_path: Path) -> None:
    store = AuditStore(tmp_path / "audit.sqlite3")
    first, second = make_answer(), make_answer(guardrail=True)
    store.record_answer(first, channel="cli", latency_ms=1.0)
    time.sleep(0.01)
    middle = datetime.now(UTC)
    time.sleep(0.01)
    store.record_answer(second, channel="eval", latency_ms=2.0)

    everything = tmp_path / "out" / "all.csv"
    assert store.export_csv(everything) == 2
    with everything.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["answer_id"] for r in rows] == [first.id, second.id]
    assert rows[1]["rule_ids"] == '["sos-discontinue"]'
    assert "question" in rows[0] and rows[0]["question"] == ""

    recent = tmp_path / "recent.csv"
    assert store.export_csv(recent, since=middle) == 1
    naive_utc = middle.astimezone(UTC).replace(tzinfo=None)  # a naive date is read as UTC
    assert store.export_csv(recent, since=naive_utc) == 1
    assert store.export_csv(recent, since=middle + timedelta(days=1)) == 0
    assert recent.read_text().startswith("time,answer_id,channel")

    store.record_feedback(answer_id=second.id, rating="down")
    assert store.export_csv(tmp_path / "feedback.csv", table="feedback") == 1


def test_concurrent_writers_lose_nothing_and_stay_fast(tmp_path: Path) -> None:
    """One store shared by the app's threads plus a second store (another worker) on the same file."""
    path = tmp_path / "audit.sqlite3"
    stores = [AuditStore(path), AuditStore(path)]
    answer = make_answer(guardrail=True)

    def write(store: AuditStore) -> None:
        for _ in range(50):
            store.record_answer(answer, channel="api", latency_ms=1.0)

    threads = [threading.Thread(target=write, args=(stores[i % 2],)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(stores[0].rows()) == 400

    started = time.perf_counter()
    for _ in range(100):
        stores[0].record_answer(answer, channel="api", latency_ms=1.0)
    assert (time.perf_counter() - started) / 100 < 0.002  # the Assistant records every answer inline


# ------------------------------------------------------------------------------ replay what was shown
MODEL_WORDS = f"{PATIENT} should stop [1]."  # model text may repeat what was typed: withheld by default


def generated_answer(*, context_rule: bool = False) -> Answer:
    """An answer a model wrote, with a verdict, a context rule and a not-covered line, rendered as shown."""
    from assistant.models import Citation, Generated
    from assistant.rendering import GENERATED, render_generated

    hits = [
        RuleHit(
            rule_id="sos",
            action="discontinue",
            message="Stop.",
            quotes=[RULE_QUOTE],
            reasons=[f"'{PATIENT}' read as SOS"],
        )
    ]
    if context_rule:
        hits.append(RuleHit(rule_id="cycle_limit", action="limit", message="Two.", quotes=[], role="context"))
        hits.reverse()  # the context rule first in the list: the display order still puts the verdict first
    generated = Generated(
        label=GENERATED, text=MODEL_WORDS, model="scripted", citations=[Citation(number=1, quote=QUOTE)]
    )
    not_covered = ["The monograph does not mention roe."]
    return Answer(
        text=render_generated(hits, generated, not_covered),
        quotes=[QUOTE],
        guardrail=hits,
        not_covered=not_covered,
        corpus_version="v1",
        rules_version="r1",
        generated=generated,
    )


def test_the_row_records_versions_rules_in_display_order_writer_and_hash(tmp_path: Path) -> None:
    from assistant.audit import sha256

    store = AuditStore(tmp_path / "audit.sqlite3")
    answer = generated_answer(context_rule=True)
    store.record_answer(answer, channel="api", latency_ms=1.0, user="jdoe")
    [row] = store.rows()
    assert (row["corpus_version"], row["rules_version"]) == ("v1", "r1")
    assert json.loads(row["rules"]) == [
        ["sos", "discontinue", "verdict"],
        ["cycle_limit", "limit", "context"],
    ]
    assert (row["generator"], row["model"], row["user"]) == ("llm", "scripted", "jdoe")
    assert row["shown_sha256"] == sha256(answer.text)
    assert row["generated_sha256"] == sha256(MODEL_WORDS)


def test_model_text_and_question_words_are_withheld_by_default(tmp_path: Path) -> None:
    from assistant.audit import MODEL_TEXT, NOT_COVERED, REASONS, WITHHELD, sha256

    store = AuditStore(tmp_path / "audit.sqlite3")
    answer = generated_answer()
    store.record_answer(answer, channel="cli", latency_ms=1.0)
    replay = store.replay(answer.id)
    assert replay.withheld == [MODEL_TEXT, REASONS, NOT_COVERED]
    assert replay.hash_matches is None  # cannot be recomputed without the withheld parts
    assert replay.text is not None and WITHHELD.format(MODEL_TEXT) in replay.text
    assert QUOTE.text in replay.text and RULE_QUOTE.text in replay.text  # the monograph's words stay
    # Whoever holds the withheld parts (the clinician's screen) can prove them against the hash
    restored = replay.text
    for part, name in [
        (MODEL_WORDS, MODEL_TEXT),
        ("; ".join(answer.guardrail[0].reasons), REASONS),
        (" ".join(answer.not_covered), NOT_COVERED),
    ]:
        restored = restored.replace(WITHHELD.format(name), part)
    assert sha256(restored) == replay.row["shown_sha256"] and restored == answer.text
    assert all(b"4417-2290" not in f.read_bytes() for f in tmp_path.iterdir())


def test_with_free_text_allowed_the_text_is_kept_and_its_hash_matches(tmp_path: Path) -> None:
    store = AuditStore(tmp_path / "audit.sqlite3", store_question_text=True)
    answer = generated_answer()
    store.record_answer(answer, channel="ui", latency_ms=1.0)
    replay = store.replay(answer.id)
    assert (replay.text, replay.withheld, replay.hash_matches) == (answer.text, [], True)


def test_an_extractive_answer_is_replayed_whole_by_default_and_tampering_shows(tmp_path: Path) -> None:
    path = tmp_path / "audit.sqlite3"
    store = AuditStore(path)
    answer = make_answer(guardrail=True)
    store.record_answer(answer, channel="api", latency_ms=1.0)
    replay = store.replay(answer.id)
    assert (replay.text, replay.withheld, replay.hash_matches) == (answer.text, [], True)
    assert replay.row["generator"] == "extractive" and replay.row["model"] is None
    with sqlite3.connect(path) as db:
        db.execute("UPDATE answers SET shown = 'Continue the drug.'")
    assert store.replay(answer.id).hash_matches is False
    with pytest.raises(UnknownAnswer):
        store.replay("0" * 32)


OLD_SCHEMA = """
CREATE TABLE answers (
    id INTEGER PRIMARY KEY, time TEXT NOT NULL, answer_id TEXT NOT NULL, channel TEXT NOT NULL,
    corpus_version TEXT NOT NULL, rule_ids TEXT NOT NULL, quotes TEXT NOT NULL, abstained INTEGER NOT NULL,
    latency_ms REAL NOT NULL, question TEXT
);
CREATE TABLE feedback (
    id INTEGER PRIMARY KEY, time TEXT NOT NULL, answer_id TEXT NOT NULL,
    rating TEXT NOT NULL CHECK (rating IN ('up', 'down')), rule_ids TEXT NOT NULL, quotes TEXT NOT NULL,
    corpus_version TEXT NOT NULL, comment TEXT, question TEXT
);
INSERT INTO answers VALUES (1, '2026-01-01T00:00:00+00:00', 'a', 'api', 'v0', '["sos"]', '[]', 0, 1.0, NULL);
"""


def test_a_file_from_the_first_release_is_upgraded_in_place(tmp_path: Path) -> None:
    path = tmp_path / "audit.sqlite3"
    with sqlite3.connect(path) as db:
        db.executescript(OLD_SCHEMA)
    store = AuditStore(path)
    old = store.replay("a")
    assert (old.text, old.hash_matches, old.row["rule_ids"]) == (None, None, '["sos"]')
    answer = make_answer()
    store.record_answer(answer, channel="api", latency_ms=1.0, user="jdoe")
    store.record_feedback(answer_id=answer.id, rating="up", user="jdoe")
    assert [r["answer_id"] for r in store.rows()] == ["a", answer.id]
    assert [r["answer_id"] for r in store.rows(user="jdoe")] == [answer.id]
    assert [r["user"] for r in store.rows("feedback")] == ["jdoe"]
    AuditStore(path)  # opening an upgraded file again changes nothing
    assert len(store.rows()) == 2


@pytest.mark.process
@pytest.mark.server
@pytest.mark.parametrize("free_text", [True, False])
def test_audit_show_replays_what_the_cli_showed(tmp_path: Path, free_text: bool) -> None:
    """``python -m assistant audit show ID`` after ``ask`` with a scripted OpenAI-compatible server."""
    from assistant.audit import MODEL_TEXT, WITHHELD
    from tests.fake_openai_server import Reply, ScriptedOpenAI
    from tests.procs import run_cli

    question = "How often should liver function be monitored?"
    settings = {"data_dir": tmp_path / "data", "store_question_text": str(free_text).lower()}
    with ScriptedOpenAI([Reply("Liver function is monitored weekly during treatment [1].")]) as server:
        asked = run_cli(
            ["ask", question, "--json"], cwd=tmp_path, llm_base_url=server.base_url, llm_model="m", **settings
        )
    assert asked.returncode == 0, asked.stderr[-2000:]
    answer = json.loads(asked.stdout)
    assert answer["generated"] is not None
    extractive = run_cli(["ask", question, "--json"], cwd=tmp_path, **settings)
    assert extractive.returncode == 0, extractive.stderr[-2000:]
    plain = json.loads(extractive.stdout)

    shown = run_cli(["audit", "show", answer["id"]], cwd=tmp_path, **settings)
    assert shown.returncode == 0, shown.stderr
    assert "text written by: language model m" in shown.stdout
    if free_text:
        assert answer["text"] in shown.stdout and "(matches)" in shown.stdout
    else:
        assert answer["generated"]["text"] not in shown.stdout
        assert (
            answer["text"].replace(answer["generated"]["text"], WITHHELD.format(MODEL_TEXT)) in shown.stdout
        )
        assert "not recomputable: parts withheld" in shown.stdout
    again = run_cli(["audit", "show", plain["id"]], cwd=tmp_path, **settings)
    assert again.returncode == 0 and plain["text"] in again.stdout and "(matches)" in again.stdout
    assert "text written by: extractive" in again.stdout
    unknown = run_cli(["audit", "show", "0" * 32], cwd=tmp_path, **settings)
    assert unknown.returncode == 2 and "no answer" in unknown.stderr
