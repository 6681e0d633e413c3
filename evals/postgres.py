"""A throwaway PostgreSQL server in a temporary folder, for the tests and the several-hosts load run.

Debian's server binaries (``/usr/lib/postgresql/<version>/bin``) refuse to run as root, so as root the folder
is given to the ``postgres`` user and every server command runs through ``runuser``; as anyone else they run
as that user. The server listens on 127.0.0.1 on a free port (and a socket in its own folder) with password
authentication, and is stopped with ``pg_ctl stop`` on its own data folder, never by process name.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import sqlalchemy as sa

DEBIAN_BINARIES = Path("/usr/lib/postgresql")
USER = "assistant"
RUN_AS = "postgres"  # the unprivileged user Debian's package creates
# A test server need not survive a power cut; a measured one must (the default: fsync on).
THROWAWAY = ("fsync=off", "synchronous_commit=off", "full_page_writes=off")


def server_binaries() -> Path:
    """The newest Debian PostgreSQL bin folder, or the folder of ``initdb`` on the PATH."""
    found = sorted(
        DEBIAN_BINARIES.glob("*/bin/initdb"), key=lambda p: int(re.sub(r"\D", "", p.parts[-3]) or 0)
    )
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise RuntimeError(
        "PostgreSQL server binaries (initdb, pg_ctl) not found: `make postgres-deps` as root installs "
        "Debian's postgresql package"
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class TempPostgres:
    """``initdb`` + ``pg_ctl start`` in a new temporary folder; ``stop`` removes the folder."""

    def __init__(self, *, durable: bool = True) -> None:
        self.durable = durable
        self.bin = server_binaries()
        self.port = _free_port()
        self.password = secrets.token_hex(12)
        self.folder: Path | None = None

    @property
    def as_root(self) -> bool:
        return os.geteuid() == 0

    def _run(self, *command: str, timeout: float = 120) -> None:
        prefix = ["runuser", "-u", RUN_AS, "--"] if self.as_root else []
        done = subprocess.run(
            [*prefix, str(self.bin / command[0]), *command[1:]],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.folder,
        )
        if done.returncode != 0:
            log = self.log_text()
            raise RuntimeError(f"{command[0]} failed: {done.stderr.strip()[-2000:]}\n{log[-2000:]}")

    def log_text(self) -> str:
        log = self.folder / "server.log" if self.folder else None
        return log.read_text(errors="replace") if log and log.exists() else ""

    def start(self) -> TempPostgres:
        # Not under pytest's temporary folders: their parents are private to root; postgres cannot enter.
        self.folder = Path(tempfile.mkdtemp(prefix="assistant-postgres-"))
        data, password = self.folder / "data", self.folder / "password"
        password.write_text(self.password + "\n")
        if self.as_root:
            shutil.chown(self.folder, RUN_AS, RUN_AS)
            shutil.chown(password, RUN_AS, RUN_AS)
        password.chmod(0o600)
        self._run(
            "initdb", "-D", str(data), "-U", USER, f"--pwfile={password}", "--auth-local=trust",
            "--auth-host=scram-sha-256", "-E", "UTF8", "--no-locale", "--no-sync",
        )  # fmt: skip
        options = [f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.folder}"]
        options += [] if self.durable else [" ".join(f"-c {o}" for o in THROWAWAY)]
        try:
            self._run(
                "pg_ctl", "-D", str(data), "-l", str(self.folder / "server.log"), "-w", "-t", "60",
                "-o", " ".join(options), "start",
            )  # fmt: skip
        except BaseException:
            self.stop()
            raise
        return self

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{USER}:{self.password}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """A new empty database; its URL."""
        if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
            raise ValueError(f"not a plain database name: {name!r}")
        engine = sa.create_engine(self.url(), isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
        try:
            with engine.connect() as connection:
                connection.exec_driver_sql(f"CREATE DATABASE {name}")
        finally:
            engine.dispose()
        return self.url(name)

    def stop(self) -> None:
        """Stop the server this object started (``pg_ctl stop`` on its data folder) and remove the folder."""
        if self.folder is None:
            return
        data = self.folder / "data"
        try:
            if (data / "postmaster.pid").exists():
                self._run("pg_ctl", "-D", str(data), "-m", "fast", "-w", "-t", "60", "stop")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None

    def __enter__(self) -> TempPostgres:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
