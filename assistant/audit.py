"""The audit trail: one SQLite row per answer given and per feedback received.

An auditor must be able to reconstruct what the assistant showed (corpus version, rules fired, the exact
quoted spans) without the store holding what clinicians typed, which may identify a patient. So question
and comment text are dropped unless ``store_question_text`` is on, and everything else is offsets and ids.

SQLite in WAL mode lets several app processes (uvicorn workers) append while others read. Each thread
keeps its own connection (reopened after a fork), so one store object is safe to share between threads
and an insert costs a fraction of a millisecond: closing the last connection to a WAL database
checkpoints it, which is what made a connection-per-call store slow.
"""

from __future__ import annotations

import csv
import json
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from .models import Answer
from .settings import Settings

Rating = Literal["up", "down"]
RATINGS: frozenset[str] = frozenset({"up", "down"})
Table = Literal["answers", "feedback"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    id             INTEGER PRIMARY KEY,
    time           TEXT    NOT NULL,  -- UTC, ISO 8601
    answer_id      TEXT    NOT NULL,
    channel        TEXT    NOT NULL,
    corpus_version TEXT    NOT NULL,
    rule_ids       TEXT    NOT NULL,  -- JSON list of rule ids that fired
    quotes         TEXT    NOT NULL,  -- JSON [[document, start, end], ...]
    abstained      INTEGER NOT NULL,
    latency_ms     REAL    NOT NULL,
    question       TEXT               -- NULL unless store_question_text
);
CREATE INDEX IF NOT EXISTS answers_answer_id ON answers (answer_id);
CREATE INDEX IF NOT EXISTS answers_time ON answers (time);
CREATE TABLE IF NOT EXISTS feedback (
    id             INTEGER PRIMARY KEY,
    time           TEXT    NOT NULL,
    answer_id      TEXT    NOT NULL,
    rating         TEXT    NOT NULL CHECK (rating IN ('up', 'down')),
    rule_ids       TEXT    NOT NULL,
    quotes         TEXT    NOT NULL,
    corpus_version TEXT    NOT NULL,
    comment        TEXT,              -- NULL unless store_question_text
    question       TEXT               -- NULL unless store_question_text
);
CREATE INDEX IF NOT EXISTS feedback_time ON feedback (time);
"""

_COLUMNS: dict[str, tuple[str, ...]] = {
    "answers": (
        "time", "answer_id", "channel", "corpus_version", "rule_ids", "quotes", "abstained", "latency_ms",
        "question",
    ),
    "feedback": (
        "time", "answer_id", "rating", "rule_ids", "quotes", "corpus_version", "comment", "question",
    ),
}  # fmt: skip


class UnknownAnswer(LookupError):
    """Feedback names an answer this store has never recorded."""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _utc_iso(moment: datetime) -> str:
    """A naive ``since`` is taken as UTC, so it compares correctly with the stored UTC strings."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _rule_ids(answer: Answer) -> str:
    return json.dumps([hit.rule_id for hit in answer.guardrail])


def _offsets(answer: Answer) -> str:
    return json.dumps([[q.document, q.start, q.end] for q in answer.shown_quotes()])


class AuditStore:
    """Append-only answer and feedback log in one SQLite file (``Settings.audit_db``)."""

    def __init__(self, path: Path, *, store_question_text: bool = False) -> None:
        self.path = Path(path)
        self.store_question_text = store_question_text
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        with self._connect() as db:
            # WAL is a property of the file: set once, every later connection (any process) uses it.
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)

    @classmethod
    def from_settings(cls, settings: Settings) -> AuditStore:
        return cls(settings.audit_db, store_question_text=settings.store_question_text)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """This thread's connection, inside a transaction that commits on success."""
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None or self._local.pid != os.getpid():
            db = sqlite3.connect(self.path, timeout=10.0)
            db.row_factory = sqlite3.Row
            # NORMAL is durable across application crashes in WAL mode and avoids an fsync per answer.
            db.execute("PRAGMA synchronous=NORMAL")
            self._local.db, self._local.pid = db, os.getpid()
        with db:
            yield db

    def _allowed(self, text: str | None) -> str | None:
        return text if self.store_question_text and text else None

    @property
    def journal_mode(self) -> str:
        with self._connect() as db:
            return str(db.execute("PRAGMA journal_mode").fetchone()[0])

    def record_answer(
        self, answer: Answer, *, channel: str, latency_ms: float, question: str | None = None
    ) -> None:
        """One row per answer shown, whatever the channel (python, api, ui, embed, cli, eval)."""
        row = (
            _now(),
            answer.id,
            channel,
            answer.corpus_version,
            _rule_ids(answer),
            _offsets(answer),
            int(answer.abstained),
            float(latency_ms),
            self._allowed(question),
        )
        with self._connect() as db:
            db.execute(
                "INSERT INTO answers (time, answer_id, channel, corpus_version, rule_ids, quotes, abstained,"
                " latency_ms, question) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                row,
            )

    def record_feedback(
        self,
        *,
        answer: Answer | None = None,
        answer_id: str,
        rating: str,
        comment: str | None = None,
        question: str | None = None,
    ) -> None:
        """Store a like/dislike with what the rated answer showed.

        Pass ``answer`` when the caller still has it; otherwise its rule ids, offsets and corpus version
        are copied from the ``answers`` table (so feedback works across worker processes). Raises
        ValueError for a rating other than "up"/"down" and UnknownAnswer for an id never recorded.
        """
        if rating not in RATINGS:
            raise ValueError(f"rating must be 'up' or 'down', not {rating!r}")
        if answer is not None and answer.id != answer_id:
            raise ValueError("answer_id does not match the answer given")
        with self._connect() as db:
            if answer is not None:
                facts = (_rule_ids(answer), _offsets(answer), answer.corpus_version)
            else:
                facts = db.execute(
                    "SELECT rule_ids, quotes, corpus_version FROM answers WHERE answer_id = ?"
                    " ORDER BY id DESC LIMIT 1",
                    (answer_id,),
                ).fetchone()
                if facts is None:
                    raise UnknownAnswer(f"no answer {answer_id!r} in the audit trail")
                facts = tuple(facts)
            db.execute(
                "INSERT INTO feedback (time, answer_id, rating, rule_ids, quotes, corpus_version, comment,"
                " question) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (_now(), answer_id, rating, *facts, self._allowed(comment), self._allowed(question)),
            )

    def rows(self, table: Table = "answers", *, since: datetime | None = None) -> list[dict[str, object]]:
        """Rows of one table, oldest first, as dicts (for export, tests and the audit CLI)."""
        columns = _COLUMNS[table]  # also rejects an unknown table name before it reaches SQL
        query = f"SELECT {', '.join(columns)} FROM {table}"
        params: tuple[str, ...] = ()
        if since is not None:
            query += " WHERE time >= ?"
            params = (_utc_iso(since),)
        with self._connect() as db:
            return [dict(row) for row in db.execute(query + " ORDER BY id", params)]

    def export_csv(self, path: Path, *, since: datetime | None = None, table: Table = "answers") -> int:
        """Write one table to CSV (header + rows since ``since``); return the number of rows written."""
        records = self.rows(table, since=since)
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=_COLUMNS[table])
            writer.writeheader()
            writer.writerows(records)
        return len(records)
