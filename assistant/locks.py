"""Locks that let one process of many do a one-off job: build the index, migrate the audit schema.

A file lock reaches the processes of one host that share a folder. A PostgreSQL advisory lock reaches every
host that shares the database, and the server releases it when its holder's connection ends, so a host that
dies mid-job never leaves the others waiting for nothing.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import sqlalchemy as sa
from filelock import FileLock
from sqlalchemy.engine import Connection

from .settings import Settings

POLL_S = 0.2
BUILD_LOCK_TIMEOUT_S = 600.0


def advisory_key(name: str) -> int:
    """A stable signed 64-bit key for a lock name (PostgreSQL's advisory lock keys are bigints)."""
    return int.from_bytes(hashlib.sha256(f"besponsa-assistant:{name}".encode()).digest()[:8], signed=True)


def file_lock(path: Path, timeout: float) -> FileLock:
    path.parent.mkdir(parents=True, exist_ok=True)
    return FileLock(str(path), timeout=timeout)


def transaction_lock(connection: Connection, name: str) -> None:
    """Hold ``name`` until ``connection``'s transaction ends (PostgreSQL only)."""
    connection.execute(sa.select(sa.func.pg_advisory_xact_lock(advisory_key(name))))


@contextmanager
def session_lock(url: str, name: str, timeout: float) -> Iterator[None]:
    """Hold ``name`` on a connection of its own for as long as the block runs (PostgreSQL only).

    Polled rather than blocking, so a holder that never finishes is a ``TimeoutError`` here, not a hang."""
    engine = sa.create_engine(url, poolclass=sa.NullPool, connect_args={"connect_timeout": 10})
    key = advisory_key(name)
    try:
        with engine.connect() as connection:
            deadline = time.monotonic() + timeout
            while not connection.execute(sa.select(sa.func.pg_try_advisory_lock(key))).scalar():
                connection.rollback()
                if time.monotonic() > deadline:
                    raise TimeoutError(f"lock {name!r} still held by another host after {timeout:.0f} s")
                time.sleep(POLL_S)
            connection.commit()
            try:
                yield
            finally:
                connection.execute(sa.select(sa.func.pg_advisory_unlock(key)))
                connection.commit()
    finally:
        engine.dispose()


def index_build_lock(
    settings: Settings, timeout: float = BUILD_LOCK_TIMEOUT_S
) -> AbstractContextManager[object]:
    """The lock a process holds while it builds (or decides to reuse) the index.

    A Chroma server shared by hosts that share a PostgreSQL audit database: an advisory lock there, named
    for the server and the collection, so two versions of the index never block each other. Otherwise the
    file lock in the data folder, which every worker of this host shares."""
    if settings.chroma_mode == "server" and settings.shared_database:
        where = f"{settings.chroma_host}:{settings.chroma_port}/{settings.collection}"
        return session_lock(settings.audit_url, f"index:{where}", timeout)
    return file_lock(settings.data_dir / "index.lock", timeout)
