"""The audit database: the migrations make the tables the code queries, on SQLite and on a real PostgreSQL;
a file written before Alembic is upgraded in place; hosts starting together migrate once; a database that
cannot be used stops start-up with one line that never shows the password."""

from __future__ import annotations

import dataclasses
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from assistant import Assistant
from assistant.audit import AuditStore
from assistant.database import head, metadata, revision
from assistant.errors import AuditUnavailable
from assistant.locks import file_lock
from assistant.models import Answer
from assistant.settings import PROJECT_ROOT
from assistant.web import build_app
from evals.postgres import TempPostgres
from tests.procs import child_env, free_port, serving

LEGACY_DUMP = PROJECT_ROOT / "tests" / "data" / "audit_before_alembic.sql"
LEGACY_IDS = ("ab35970cd7e7499bad9df1a5cd9a9a42", "e852d6b601da43958bde75efdadc95f9")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.server)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database: a new SQLite file, or a new database on the session's PostgreSQL server."""
    if request.param == "postgresql":
        return request.getfixturevalue("pg_url")
    return f"sqlite:///{tmp_path / 'audit.sqlite3'}"


def test_the_migrations_make_exactly_the_tables_the_code_queries(url: str) -> None:
    store = AuditStore(url)
    with store.engine.connect() as connection:
        assert revision(connection) == head()
        assert compare_metadata(MigrationContext.configure(connection), metadata) == []
    store.close()


def test_opening_a_current_database_again_changes_nothing(url: str) -> None:
    first = AuditStore(url)
    first.record_answer(Answer(text="a", corpus_version="v"), channel="api", latency_ms=1.0)
    second = AuditStore(url)
    assert second.count() == 1
    with second.engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT COUNT(*) FROM alembic_version").scalar() == 1
    first.close()
    second.close()


def test_a_file_written_before_alembic_is_upgraded_in_place(tmp_path: Path) -> None:
    """A file from the store before this schema was versioned (tests/data/audit_before_alembic.sql)."""
    path = tmp_path / "audit.sqlite3"
    with sqlite3.connect(path) as db:
        db.executescript(LEGACY_DUMP.read_text(encoding="utf-8"))
    store = AuditStore(path)
    with store.engine.connect() as connection:
        assert revision(connection) == head()
    old = store.rows()
    assert [row["answer_id"] for row in old] == list(LEGACY_IDS)
    assert old[0]["user"] == "jdoe" and old[1]["rule_ids"] == '["sos-discontinue"]'
    assert (
        store.replay(LEGACY_IDS[1]).hash_matches is True
    )  # what the old version recorded still proves itself
    # New rows go next to the old ones; feedback finds an answer the old version recorded.
    store.record_answer(Answer(text="new", corpus_version="v2"), channel="api", latency_ms=2.0)
    store.record_feedback(answer_id=LEGACY_IDS[0], rating="up")
    assert store.count() == 3 and store.count("feedback") == 2
    assert store.rows("feedback")[-1]["quotes"] == '[["mono", 10, 20]]'
    store.close()


_MIGRATE = """
import sys, time
from pathlib import Path
from assistant import Assistant
from assistant.audit import AuditStore

rendezvous, count = Path(sys.argv[2]), int(sys.argv[3])
(rendezvous / sys.argv[4]).touch()
deadline = time.monotonic() + 60
while len(list(rendezvous.iterdir())) < count and time.monotonic() < deadline:
    time.sleep(0.005)
AuditStore(sys.argv[1]).record_answer(__import__("assistant").Answer(text=sys.argv[4], corpus_version="v"),
                                      channel="python", latency_ms=1.0)
"""


@pytest.mark.process
def test_hosts_starting_together_on_an_empty_database_migrate_it_once(url: str, tmp_path: Path) -> None:
    """Two processes open the store at the same moment (as two hosts starting): the lock makes one of
    them migrate while the other waits, and both then write."""
    rendezvous = tmp_path / "rendezvous"
    rendezvous.mkdir()
    count = 2
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _MIGRATE, url, str(rendezvous), str(count), f"host{i}"],
            env=child_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(count)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err[-3000:]
    store = AuditStore(url)
    assert sorted(row["shown"] for row in store.rows()) == ["host0", "host1"]
    with store.engine.connect() as connection:
        assert list(connection.exec_driver_sql("SELECT version_num FROM alembic_version")) == [(head(),)]
    store.close()


def test_a_host_leaves_a_new_sqlite_file_alone_while_another_holds_the_migration_lock(tmp_path: Path) -> None:
    """Switching a file to WAL fails at once, without waiting, while another connection has it open; so a
    second host waits for the lock before it opens the file at all (CI once saw 'database is locked')."""
    path = tmp_path / "audit.sqlite3"
    opened: list[AuditStore] = []
    with file_lock(Path(f"{path}.migrate.lock"), 60.0):
        waiting = threading.Thread(target=lambda: opened.append(AuditStore(path)))
        waiting.start()
        waiting.join(timeout=1.0)
        assert waiting.is_alive() and not path.exists()
    waiting.join(timeout=60)
    assert opened and opened[0].journal_mode == "wal"
    opened[0].close()


# ----------------------------------------------------------------------- a database that cannot be used
@pytest.mark.server
def test_a_refused_password_is_one_clear_error_without_the_password(postgres: TempPostgres) -> None:
    wrong = sa.make_url(postgres.url()).set(password="not-the-password-0417")
    with pytest.raises(AuditUnavailable) as raised:
        AuditStore(wrong.render_as_string(hide_password=False))
    message = str(raised.value)
    assert "not-the-password-0417" not in message and "***" in message
    assert "password authentication failed" in message and "ASSISTANT_DATABASE_URL" in message


def test_nothing_listening_is_one_clear_error() -> None:
    url = f"postgresql+psycopg://audit:s3cret@127.0.0.1:{free_port()}/audit"
    with pytest.raises(
        AuditUnavailable, match=r"audit database postgresql\+psycopg://audit:\*\*\*@127.0.0.1"
    ):
        AuditStore(url)


@pytest.mark.process
@pytest.mark.server
def test_app_py_stops_at_start_on_a_database_it_cannot_use(postgres: TempPostgres, tmp_path: Path) -> None:
    wrong = (
        sa.make_url(postgres.url())
        .set(password="not-the-password-0417")
        .render_as_string(hide_password=False)
    )
    done = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "app.py"), "--port", str(free_port())],
        env=child_env(data_dir=tmp_path / "data", database_url=wrong),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    lines = [line for line in done.stderr.splitlines() if line.startswith("cannot start")]
    assert len(lines) == 1 and "audit database" in lines[0] and "ASSISTANT_DATABASE_URL" in lines[0]
    assert "not-the-password-0417" not in done.stderr and "Traceback" not in done.stderr


@pytest.mark.server
def test_feedback_while_the_database_is_gone_is_a_503_never_a_stack_trace(
    assistant: Assistant, postgres: TempPostgres, pg_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    bot = dataclasses.replace(assistant, audit=AuditStore(pg_url))
    with serving(build_app(assistant.settings, bot)) as url, httpx.Client(base_url=url, timeout=30) as client:
        answer = client.post("/api/ask", json={"question": "How often are LFTs checked?"}).json()
        assert (
            client.post("/api/feedback", json={"answer_id": answer["id"], "rating": "up"}).status_code == 201
        )
        engine = sa.create_engine(postgres.url(), isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
        with engine.connect() as db:  # the database goes away under the running app
            db.exec_driver_sql(f"DROP DATABASE {sa.make_url(pg_url).database} WITH (FORCE)")
        engine.dispose()
        refused = client.post("/api/feedback", json={"answer_id": answer["id"], "rating": "down"})
    assert refused.status_code == 503 and refused.headers["retry-after"] == "5"
    assert refused.json()["detail"] == AuditUnavailable.detail and "Traceback" not in refused.text
    logged = [r.getMessage() for r in caplog.records if "audit database" in r.getMessage()]
    assert logged and all(sa.make_url(pg_url).password not in line for line in logged)
