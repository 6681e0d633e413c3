"""The audit trail: one SQLite row per answer given and per feedback received.

An auditor must be able to replay what the assistant showed ("the assistant told me X") without the store
holding what clinicians typed, which may identify a patient. So each answer row keeps the corpus and rules
versions, the rules fired (id, action, role, in display order), the quote offsets, which path wrote the text
(extractive or a named model), the SHA-256 of ``Answer.text`` (the rendering every channel shows) and that
text itself. The parts of it that come from the question or a model (the model's words, what the guardrail
read, the not-covered names) are kept only when ``store_question_text`` allows free text; otherwise they are
replaced by a "withheld" mark, the row lists them in ``withheld``, and the model text's own hash is kept.
Question and comment text are dropped unless ``store_question_text`` is on.

Files written by an older version are upgraded in place: missing columns are added, old rows keep NULLs.

SQLite in WAL mode lets several app processes (uvicorn workers) append while others read. Each thread
keeps its own connection (reopened after a fork), so one store object is safe to share between threads
and an insert costs a fraction of a millisecond: closing the last connection to a WAL database
checkpoints it, which is what made a connection-per-call store slow.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
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
# Columns added after the first release: added to an existing file when missing (upgrade in place).
_ADDED: dict[str, tuple[tuple[str, str], ...]] = {
    "answers": (
        ("rules_version", "TEXT"),  # SHA-256 of the rules and lab-limits files
        ("rules", "TEXT"),  # JSON [[rule_id, action, role], ...] in display order
        ("generator", "TEXT"),  # "extractive" or "llm"
        ("model", "TEXT"),  # the language model's name when generator is "llm"
        ("shown_sha256", "TEXT"),  # SHA-256 of Answer.text, UTF-8
        ("shown", "TEXT"),  # Answer.text, with the withheld parts marked
        ("withheld", "TEXT"),  # JSON list of the parts withheld for privacy
        ("generated_sha256", "TEXT"),  # SHA-256 of the model's own words, when a model wrote them
        ("user", "TEXT"),  # who asked, from the trusted sign-on header (ASSISTANT_USER_HEADER)
    ),
    "feedback": (("user", "TEXT"),),
}
WITHHELD = "[withheld for privacy: {}]"
MODEL_TEXT = "the language model's text"
REASONS = "what the guardrail read in the question"
NOT_COVERED = "what the question named that the monograph does not cover"

_COLUMNS: dict[str, tuple[str, ...]] = {
    "answers": (
        "time", "answer_id", "channel", "corpus_version", "rule_ids", "quotes", "abstained", "latency_ms",
        "question", "rules_version", "rules", "generator", "model", "shown_sha256", "shown", "withheld",
        "generated_sha256", "user",
    ),
    "feedback": (
        "time", "answer_id", "rating", "rule_ids", "quotes", "corpus_version", "comment", "question", "user",
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


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def withhold(answer: Answer) -> tuple[str, list[str]]:
    """``Answer.text`` with every part that comes from the question or a model replaced by a mark, and the
    names of the parts replaced. What is left is monograph text, rule messages and fixed phrases."""
    private: dict[str, str] = {}
    if answer.generated is not None:
        private[answer.generated.text] = MODEL_TEXT
    for hit in answer.guardrail:
        if hit.reasons:
            private["; ".join(hit.reasons)] = REASONS
    if answer.not_covered:
        private[" ".join(answer.not_covered)] = NOT_COVERED
    text, withheld = answer.text, []
    for part in sorted(private, key=len, reverse=True):
        if part and part in text:
            text = text.replace(part, WITHHELD.format(private[part]))
            withheld.append(private[part])
    return text, list(dict.fromkeys(withheld))


@dataclass(frozen=True)
class Replay:
    """What an answer row says was shown, and whether its hash proves it."""

    row: dict[str, object]
    text: str | None  # the text as shown (withheld parts marked); None for a row older than this field
    withheld: list[str]
    hash_matches: bool | None  # None: parts were withheld, or the row predates the hash


def _display_order(answer: Answer) -> list:
    """Rule verdicts first, then the rules shown only as context under them (as ``render_verdicts``)."""
    return [h for h in answer.guardrail if h.role == "verdict"] + [
        h for h in answer.guardrail if h.role == "context"
    ]


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
            for table, columns in _ADDED.items():
                present = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
                for name, kind in columns:
                    if name not in present:
                        db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")

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
        self,
        answer: Answer,
        *,
        channel: str,
        latency_ms: float,
        question: str | None = None,
        user: str | None = None,
    ) -> None:
        """One row per answer shown, whatever the channel (python, api, ui, embed, cli, eval)."""
        shown, withheld = (answer.text, []) if self.store_question_text else withhold(answer)
        generated = answer.generated
        row = {
            "time": _now(),
            "answer_id": answer.id,
            "channel": channel,
            "corpus_version": answer.corpus_version,
            "rule_ids": _rule_ids(answer),
            "quotes": _offsets(answer),
            "abstained": int(answer.abstained),
            "latency_ms": float(latency_ms),
            "question": self._allowed(question),
            "rules_version": answer.rules_version,
            "rules": json.dumps([[h.rule_id, h.action, h.role] for h in _display_order(answer)]),
            "generator": "llm" if generated else "extractive",
            "model": generated.model if generated else None,
            "shown_sha256": sha256(answer.text),
            "shown": shown,
            "withheld": json.dumps(withheld),
            "generated_sha256": sha256(generated.text) if generated else None,
            "user": user,
        }
        with self._connect() as db:
            db.execute(
                f"INSERT INTO answers ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                tuple(row.values()),
            )

    def replay(self, answer_id: str) -> Replay:
        """The answer as it was shown, from its row; UnknownAnswer for an id never recorded."""
        with self._connect() as db:
            found = db.execute(
                f"SELECT {', '.join(_COLUMNS['answers'])} FROM answers WHERE answer_id = ? ORDER BY id DESC",
                (answer_id,),
            ).fetchone()
        if found is None:
            raise UnknownAnswer(f"no answer {answer_id!r} in the audit trail")
        row = dict(found)
        text = row["shown"]
        withheld = json.loads(row["withheld"]) if row["withheld"] else []
        if text is None or withheld or not row["shown_sha256"]:
            return Replay(row, text, withheld, None)
        return Replay(row, text, withheld, sha256(str(text)) == row["shown_sha256"])

    def record_feedback(
        self,
        *,
        answer: Answer | None = None,
        answer_id: str,
        rating: str,
        comment: str | None = None,
        question: str | None = None,
        user: str | None = None,
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
                " question, user) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (_now(), answer_id, rating, *facts, self._allowed(comment), self._allowed(question), user),
            )

    def rows(
        self, table: Table = "answers", *, since: datetime | None = None, user: str | None = None
    ) -> list[dict[str, object]]:
        """Rows of one table, oldest first, as dicts (for export, tests and the audit CLI); ``user``: only
        that user's rows."""
        columns = _COLUMNS[table]  # also rejects an unknown table name before it reaches SQL
        query = f"SELECT {', '.join(columns)} FROM {table}"
        conditions, params = [], []
        if since is not None:
            conditions.append("time >= ?")
            params.append(_utc_iso(since))
        if user is not None:
            conditions.append("user = ?")
            params.append(user)
        if conditions:
            query += " WHERE " + " AND ".join(conditions)
        with self._connect() as db:
            return [dict(row) for row in db.execute(query + " ORDER BY id", params)]

    def export_csv(
        self,
        path: Path,
        *,
        since: datetime | None = None,
        table: Table = "answers",
        user: str | None = None,
    ) -> int:
        """Write one table to CSV (header + rows since ``since``, of ``user``); return the rows written."""
        records = self.rows(table, since=since, user=user)
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=_COLUMNS[table])
            writer.writeheader()
            writer.writerows(records)
        return len(records)
