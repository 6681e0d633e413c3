"""The audit and feedback database: its engine, its tables, and its schema brought up to date at start.

One URL (``Settings.audit_url``) names it: an SQLite file in the data folder by default, which serves one
host; a PostgreSQL server when several hosts must keep one record (``ASSISTANT_DATABASE_URL``). The tables
are described once here, in SQLAlchemy Core, so the same queries run on both.

The schema is versioned by the Alembic migrations in ``assistant/migrations/`` (inside the package, so an
installed copy migrates too). ``migrate`` applies them under a lock, so hosts starting together do not
race: a PostgreSQL advisory lock held by the migrating transaction, or a file lock beside an SQLite file.
A database that cannot be reached or used is an ``AuditUnavailable`` naming the URL without its password.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import DisconnectionError, SQLAlchemyError

from .errors import AuditUnavailable
from .locks import file_lock, transaction_lock

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = "assistant:migrations"
CONNECT_TIMEOUT_S = 10  # a PostgreSQL host that does not answer is reported, not waited on for minutes
MIGRATION_LOCK_TIMEOUT_S = 600.0

metadata = sa.MetaData()
# BIGINT identity on PostgreSQL; on SQLite only INTEGER PRIMARY KEY is the auto-numbered rowid.
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

answers = sa.Table(
    "answers",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("time", sa.Text, nullable=False),  # UTC, ISO 8601 (compares in time order as text)
    sa.Column("answer_id", sa.Text, nullable=False),
    sa.Column("channel", sa.Text, nullable=False),
    sa.Column("corpus_version", sa.Text, nullable=False),
    sa.Column("rule_ids", sa.Text, nullable=False),  # JSON list of rule ids that fired
    sa.Column("quotes", sa.Text, nullable=False),  # JSON [[document, start, end], ...]
    sa.Column("abstained", sa.Integer, nullable=False),
    sa.Column("latency_ms", sa.Float, nullable=False),
    sa.Column("question", sa.Text),  # NULL unless store_question_text
    sa.Column("rules_version", sa.Text),  # SHA-256 of the rules and lab-limits files
    sa.Column("rules", sa.Text),  # JSON [[rule_id, action, role], ...] in display order
    sa.Column("generator", sa.Text),  # "extractive" or "llm"
    sa.Column("model", sa.Text),  # the language model's name when generator is "llm"
    sa.Column("shown_sha256", sa.Text),  # SHA-256 of Answer.text, UTF-8
    sa.Column("shown", sa.Text),  # Answer.text, with the withheld parts marked
    sa.Column("withheld", sa.Text),  # JSON list of the parts withheld for privacy
    sa.Column("generated_sha256", sa.Text),  # SHA-256 of the model's own words, when a model wrote them
    sa.Column("user", sa.Text),  # who asked, from the trusted sign-on header (ASSISTANT_USER_HEADER)
    sa.Index("answers_answer_id", "answer_id"),
    sa.Index("answers_time", "time"),
)

feedback = sa.Table(
    "feedback",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("time", sa.Text, nullable=False),
    sa.Column("answer_id", sa.Text, nullable=False),
    sa.Column("rating", sa.Text, nullable=False),
    sa.Column("rule_ids", sa.Text, nullable=False),
    sa.Column("quotes", sa.Text, nullable=False),
    sa.Column("corpus_version", sa.Text, nullable=False),
    sa.Column("comment", sa.Text),  # NULL unless store_question_text
    sa.Column("question", sa.Text),  # NULL unless store_question_text
    sa.Column("user", sa.Text),
    sa.CheckConstraint("rating IN ('up', 'down')", name="feedback_rating"),
    sa.Index("feedback_time", "time"),
)


def shown(url: str) -> str:
    """The URL as it may be logged or printed: never the password."""
    return make_url(url).render_as_string(hide_password=True)


def sqlite_file(url: str) -> Path | None:
    """The file of an SQLite URL; None for any other database."""
    parsed = make_url(url)
    return Path(parsed.database) if parsed.get_backend_name() == "sqlite" and parsed.database else None


def make_engine(url: str) -> Engine:
    """A pooled engine for ``url``. SQLite: NORMAL sync, durable across application crashes in WAL mode
    (which ``migrate`` sets) without an fsync per answer. PostgreSQL: connections checked before use, so a
    restarted server costs no request."""
    path = sqlite_file(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": 10.0})
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = sa.create_engine(
            url, pool_pre_ping=True, connect_args={"connect_timeout": CONNECT_TIMEOUT_S}
        )
    # A pooled connection must not cross a fork (a forked child would share its socket or file): reopen.
    sa.event.listen(engine, "connect", _remember_pid)
    sa.event.listen(engine, "checkout", _same_process)
    return engine


def _sqlite_pragmas(connection: object, _: object) -> None:
    cursor = connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _remember_pid(_: object, record: object) -> None:
    record.info["pid"] = os.getpid()  # type: ignore[attr-defined]


def _same_process(_: object, record: object, proxy: object) -> None:
    if record.info["pid"] != os.getpid():  # type: ignore[attr-defined]
        record.dbapi_connection = proxy.dbapi_connection = None  # type: ignore[attr-defined]
        raise DisconnectionError("connection opened in another process")


@contextmanager
def reporting(url: str) -> Iterator[None]:
    """Turn a database failure into ``AuditUnavailable``: the URL without its password and the cause."""
    try:
        yield
    except SQLAlchemyError as exc:
        cause = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise AuditUnavailable(
            f"audit database {shown(url)} cannot be used ({type(exc).__name__}: {cause}); check "
            "ASSISTANT_DATABASE_URL and that the database server is running"
        ) from exc


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration without an ini file: the packaged migrations, run on ``connection``."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", MIGRATIONS)
    config.attributes["connection"] = connection
    return config


@cache
def head() -> str:
    """The newest schema revision shipped with this package."""
    from alembic.script import ScriptDirectory

    return str(ScriptDirectory.from_config(alembic_config()).get_current_head())


def revision(connection: Connection) -> str | None:
    """The schema revision the database is at (None: never migrated: empty, or made before Alembic)."""
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision, one process at a time; cheap when it already is."""
    url = engine.url.render_as_string(hide_password=False)
    path = sqlite_file(url)
    with reporting(url):
        if path is None:
            with engine.connect() as connection:
                if revision(connection) == head():
                    return
            with engine.begin() as connection:
                transaction_lock(connection, "audit-schema-migration")
                _upgrade(connection)
            return
        # SQLite: all of it under the file lock. Switching a file to WAL fails at once, without waiting,
        # while another connection has it open, so hosts opening a new file together must take turns.
        with file_lock(Path(f"{path}.migrate.lock"), MIGRATION_LOCK_TIMEOUT_S):
            with engine.connect() as connection:
                connection.exec_driver_sql("PRAGMA journal_mode=WAL")  # kept in the file: set once
            with engine.begin() as connection:
                _upgrade(connection)


def _upgrade(connection: Connection) -> None:
    """Apply the migrations not yet applied; another host may have applied them while this one waited."""
    from alembic import command

    if revision(connection) != head():
        command.upgrade(alembic_config(connection), "head")
