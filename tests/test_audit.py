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
