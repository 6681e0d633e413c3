"""The audit trail: one row per answer given and per feedback received, in one database for the service.

An auditor must be able to replay what the assistant showed ("the assistant told me X") without the store
holding what clinicians typed, which may identify a patient. So each answer row keeps the corpus and rules
versions, the rules fired (id, action, role, in display order), the quote offsets, which path wrote the text
(extractive or a named model), the SHA-256 of ``Answer.text`` (the rendering every channel shows) and that
text itself. The parts of it that come from the question or a model (the model's words, what the guardrail
read, the not-covered names) are kept only when ``store_question_text`` allows free text; otherwise they are
replaced by a "withheld" mark, the row lists them in ``withheld``, and the model text's own hash is kept.
Question and comment text are dropped unless ``store_question_text`` is on.

The database (``assistant/database.py``) is an SQLite file in the data folder by default, or the PostgreSQL
server every host shares (``ASSISTANT_DATABASE_URL``): then feedback sent through one host finds the answer
another host gave, and one export covers the whole service. Opening a store brings its schema up to date
(files written by an older version are upgraded in place). Connections are pooled, so an insert costs a
fraction of a millisecond and one store object is safe to share between threads.
"""

from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import sqlalchemy as sa

from .database import answers, feedback, make_engine, migrate, reporting, shown, sqlite_file
from .models import Answer
from .settings import Settings

Rating = Literal["up", "down"]
RATINGS: frozenset[str] = frozenset({"up", "down"})
Table = Literal["answers", "feedback"]

WITHHELD = "[withheld for privacy: {}]"
MODEL_TEXT = "the language model's text"
REASONS = "what the guardrail read in the question"
NOT_COVERED = "what the question named that the monograph does not cover"

_TABLES: dict[str, sa.Table] = {"answers": answers, "feedback": feedback}
_COLUMNS: dict[str, tuple[str, ...]] = {
    name: tuple(c.name for c in table.columns if c.name != "id") for name, table in _TABLES.items()
}


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
    """Append-only answer and feedback log in the database ``database`` names: an SQLAlchemy URL
    (``Settings.audit_url``), or the path of an SQLite file."""

    def __init__(self, database: str | Path, *, store_question_text: bool = False) -> None:
        is_url = isinstance(database, str) and "://" in database
        self.url = str(database) if is_url else f"sqlite:///{Path(database)}"
        self.path = sqlite_file(self.url)  # None unless SQLite
        self.store_question_text = store_question_text
        self.engine = make_engine(self.url)
        migrate(self.engine)

    @classmethod
    def from_settings(cls, settings: Settings) -> AuditStore:
        return cls(settings.audit_url, store_question_text=settings.store_question_text)

    def __repr__(self) -> str:
        return f"AuditStore({shown(self.url)!r})"

    def close(self) -> None:
        """Close the pooled connections (a store is reopened by making another)."""
        self.engine.dispose()

    def _allowed(self, text: str | None) -> str | None:
        return text if self.store_question_text and text else None

    @property
    def journal_mode(self) -> str:
        """SQLite's journal mode ("wal"): several processes append while others read."""
        with reporting(self.url), self.engine.connect() as db:
            return str(db.exec_driver_sql("PRAGMA journal_mode").scalar())

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
        text, withheld = (answer.text, []) if self.store_question_text else withhold(answer)
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
            "shown": text,
            "withheld": json.dumps(withheld),
            "generated_sha256": sha256(generated.text) if generated else None,
            "user": user,
        }
        with reporting(self.url), self.engine.begin() as db:
            db.execute(answers.insert(), row)  # parameters, not .values(): compiled once and cached

    def _latest(self, answer_id: str, columns: tuple[str, ...]) -> dict[str, object] | None:
        query = (
            sa.select(*(answers.c[name] for name in columns))
            .where(answers.c.answer_id == answer_id)
            .order_by(answers.c.id.desc())
            .limit(1)
        )
        with reporting(self.url), self.engine.connect() as db:
            found = db.execute(query).mappings().first()
        return dict(found) if found is not None else None

    def replay(self, answer_id: str) -> Replay:
        """The answer as it was shown, from its row; UnknownAnswer for an id never recorded."""
        row = self._latest(answer_id, _COLUMNS["answers"])
        if row is None:
            raise UnknownAnswer(f"no answer {answer_id!r} in the audit trail")
        text = row["shown"]
        withheld = json.loads(str(row["withheld"])) if row["withheld"] else []
        if text is None or withheld or not row["shown_sha256"]:
            return Replay(row, text, withheld, None)  # type: ignore[arg-type]
        return Replay(row, str(text), withheld, sha256(str(text)) == row["shown_sha256"])

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
        are copied from the ``answers`` table (so feedback works across worker processes and hosts). Raises
        ValueError for a rating other than "up"/"down" and UnknownAnswer for an id never recorded.
        """
        if rating not in RATINGS:
            raise ValueError(f"rating must be 'up' or 'down', not {rating!r}")
        if answer is not None and answer.id != answer_id:
            raise ValueError("answer_id does not match the answer given")
        if answer is not None:
            facts = {
                "rule_ids": _rule_ids(answer),
                "quotes": _offsets(answer),
                "corpus_version": answer.corpus_version,
            }
        else:
            found = self._latest(answer_id, ("rule_ids", "quotes", "corpus_version"))
            if found is None:
                raise UnknownAnswer(f"no answer {answer_id!r} in the audit trail")
            facts = found
        row = {
            "time": _now(),
            "answer_id": answer_id,
            "rating": rating,
            **facts,
            "comment": self._allowed(comment),
            "question": self._allowed(question),
            "user": user,
        }
        with reporting(self.url), self.engine.begin() as db:
            db.execute(feedback.insert(), row)

    def rows(
        self, table: Table = "answers", *, since: datetime | None = None, user: str | None = None
    ) -> list[dict[str, object]]:
        """Rows of one table, oldest first, as dicts (for export, tests and the audit CLI); ``user``: only
        that user's rows."""
        chosen = _TABLES[table]  # also rejects an unknown table name
        query = sa.select(*(chosen.c[name] for name in _COLUMNS[table])).order_by(chosen.c.id)
        if since is not None:
            query = query.where(chosen.c.time >= _utc_iso(since))
        if user is not None:
            query = query.where(chosen.c.user == user)
        with reporting(self.url), self.engine.connect() as db:
            return [dict(row) for row in db.execute(query).mappings()]

    def count(self, table: Table = "answers") -> int:
        """How many rows a table holds (the load test compares it with the requests sent)."""
        with reporting(self.url), self.engine.connect() as db:
            return int(db.execute(sa.select(sa.func.count()).select_from(_TABLES[table])).scalar_one())

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
