"""The audit/feedback store on a real SQLite file and a real PostgreSQL server: no question text by default,
feedback, replay, CSV export (also through ``python -m assistant audit``); WAL and upgrades on SQLite."""

from __future__ import annotations

import csv
import json
import sqlite3
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from assistant.audit import AuditStore, UnknownAnswer
from assistant.database import answers
from assistant.models import Answer, Quote, RuleHit
from assistant.settings import Settings
from evals.postgres import TempPostgres

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


def raw_rows(store: AuditStore, table: str) -> list[tuple]:
    with store.engine.connect() as db:
        return list(db.exec_driver_sql(f"SELECT * FROM {table}"))


OpenStore = Callable[..., AuditStore]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.server)])
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> OpenStore:
    """Opens stores on one database: an SQLite file, or a new database on the session's PostgreSQL server.
    Two stores opened by it share the database, as two workers or two hosts do."""
    url = request.getfixturevalue("pg_url") if request.param == "postgresql" else tmp_path / "audit.sqlite3"
    opened: list[AuditStore] = []

    def open_(**options: bool) -> AuditStore:
        opened.append(AuditStore(url, **options))
        return opened[-1]

    yield open_
    for store in opened:
        store.close()


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
    open_store: OpenStore, guardrail: bool, abstained: bool, rule_ids: list[str], offsets: list[list[object]]
) -> None:
    store = open_store()
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


def _files_containing(folder: Path, needle: bytes) -> list[Path]:
    return [f for f in folder.rglob("*") if f.is_file() and needle in f.read_bytes()]


@pytest.mark.server
@pytest.mark.parametrize("free_text", [False, True])
def test_question_text_is_nowhere_in_the_postgresql_files_by_default(
    postgres: TempPostgres, pg_url: str, free_text: bool
) -> None:
    """The server's own files (tables and write-ahead log) after a checkpoint; the control, with free text
    allowed, finds the identifier there, which proves the search can see it."""
    store = AuditStore(pg_url, store_question_text=free_text)
    answer = make_answer(guardrail=True)
    store.record_answer(answer, channel="ui", latency_ms=1.0, question=PATIENT)
    store.record_feedback(answer_id=answer.id, rating="down", comment=PATIENT, question=PATIENT)
    with store.engine.connect() as db:
        db.exec_driver_sql("CHECKPOINT")
    store.close()
    assert postgres.folder is not None
    assert bool(_files_containing(postgres.folder / "data", b"4417-2290")) is free_text


def test_question_and_comment_are_kept_only_when_allowed(open_store: OpenStore) -> None:
    store = open_store(store_question_text=True)
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
    # A path given as text is a file too, not a URL.
    assert AuditStore(str(tmp_path / "other.sqlite3")).url == f"sqlite:///{tmp_path / 'other.sqlite3'}"


@pytest.mark.server
def test_from_settings_uses_the_database_url_and_never_shows_its_password(pg_url: str) -> None:
    store = AuditStore.from_settings(Settings(database_url=pg_url, store_question_text=True))
    assert store.path is None and store.store_question_text is True
    store.record_answer(make_answer(), channel="api", latency_ms=1.0)
    assert store.count() == 1 and store.engine.dialect.name == "postgresql"
    password = sa.make_url(pg_url).password
    assert password and password not in repr(store) and "***" in repr(store)
    store.close()


@pytest.mark.parametrize("pass_answer", [True, False])
def test_feedback_carries_the_rated_answers_rules_and_offsets(
    open_store: OpenStore, pass_answer: bool
) -> None:
    """With the Answer in hand or only its id (another worker or host answered), the row is the same."""
    answering, rating = open_store(), open_store()
    answer = make_answer(guardrail=True)
    answering.record_answer(answer, channel="api", latency_ms=3.0)
    rating.record_feedback(answer=answer if pass_answer else None, answer_id=answer.id, rating="up")
    [row] = answering.rows("feedback")
    assert row["answer_id"] == answer.id
    assert row["rating"] == "up"
    assert json.loads(row["rule_ids"]) == ["sos-discontinue"]
    assert json.loads(row["quotes"]) == [["mono", 10, 20], ["mono", 40, 50]]
    assert row["corpus_version"] == "v1"
    assert row["comment"] is None and row["question"] is None


@pytest.mark.parametrize("rating", ["like", "", "UP", "1"])
def test_feedback_rejects_a_rating_other_than_up_or_down(open_store: OpenStore, rating: str) -> None:
    store = open_store()
    answer = make_answer()
    store.record_answer(answer, channel="api", latency_ms=1.0)
    with pytest.raises(ValueError, match="rating"):
        store.record_feedback(answer=answer, answer_id=answer.id, rating=rating)
    assert raw_rows(store, "feedback") == []


def test_feedback_for_an_unknown_answer_is_refused(open_store: OpenStore) -> None:
    store = open_store()
    with pytest.raises(UnknownAnswer):
        store.record_feedback(answer_id="0" * 32, rating="up")
    with pytest.raises(ValueError, match="does not match"):
        store.record_feedback(answer=make_answer(), answer_id="0" * 32, rating="up")


def test_export_csv_writes_rows_since_a_date(open_store: OpenStore, tmp_path: Path) -> None:
    store = open_store()
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


def test_concurrent_writers_lose_nothing_and_stay_fast(open_store: OpenStore) -> None:
    """One store shared by the app's threads plus a second store (another worker or host) on one database."""
    stores = [open_store(), open_store()]
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
    # The Assistant records every answer inline; PostgreSQL adds a round trip on loopback.
    limit = 0.002 if stores[0].engine.dialect.name == "sqlite" else 0.005
    assert (time.perf_counter() - started) / 100 < limit


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


def test_the_row_records_versions_rules_in_display_order_writer_and_hash(open_store: OpenStore) -> None:
    from assistant.audit import sha256

    store = open_store()
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


def test_with_free_text_allowed_the_text_is_kept_and_its_hash_matches(open_store: OpenStore) -> None:
    store = open_store(store_question_text=True)
    answer = generated_answer()
    store.record_answer(answer, channel="ui", latency_ms=1.0)
    replay = store.replay(answer.id)
    assert (replay.text, replay.withheld, replay.hash_matches) == (answer.text, [], True)


def test_an_extractive_answer_is_replayed_whole_by_default_and_tampering_shows(open_store: OpenStore) -> None:
    store = open_store()
    answer = make_answer(guardrail=True)
    store.record_answer(answer, channel="api", latency_ms=1.0)
    replay = store.replay(answer.id)
    assert (replay.text, replay.withheld, replay.hash_matches) == (answer.text, [], True)
    assert replay.row["generator"] == "extractive" and replay.row["model"] is None
    with store.engine.begin() as db:
        db.execute(answers.update().values(shown="Continue the drug."))
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
def test_the_audit_cli_exports_what_every_host_recorded(open_store: OpenStore, tmp_path: Path) -> None:
    """``python -m assistant audit --since ... --csv`` on the database ASSISTANT_DATABASE_URL names."""
    from tests.procs import run_cli

    hosts = [open_store(), open_store()]
    given = [make_answer(), make_answer(guardrail=True), make_answer(abstained=True)]
    for i, answer in enumerate(given):
        hosts[i % 2].record_answer(answer, channel="api", latency_ms=float(i + 1), user="jdoe" if i else None)
    hosts[1].record_feedback(answer_id=given[0].id, rating="up")
    today = datetime.now(UTC).date()
    settings = {"data_dir": tmp_path / "elsewhere", "database_url": hosts[0].url}

    export = tmp_path / "audit.csv"
    done = run_cli(["audit", "--since", today.isoformat(), "--csv", str(export)], cwd=tmp_path, **settings)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"wrote 3 answers rows to {export}"
    with export.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["answer_id"] for r in rows] == [a.id for a in given]
    assert [(r["latency_ms"], r["abstained"], r["user"]) for r in rows] == [
        ("1.0", "0", ""),
        ("2.0", "0", "jdoe"),
        ("3.0", "1", "jdoe"),
    ]
    assert all(r["question"] == "" for r in rows)
    assert not (tmp_path / "elsewhere" / "audit.sqlite3").exists()  # the URL, not the data folder

    feedback = tmp_path / "feedback.csv"
    done = run_cli(["audit", "--csv", str(feedback), "--table", "feedback"], cwd=tmp_path, **settings)
    assert done.returncode == 0 and "wrote 1 feedback rows" in done.stdout


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
