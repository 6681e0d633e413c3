"""Two hosts, simulated: two ``python app.py`` processes with their own data folders and ports, sharing one
``chroma run`` server and one PostgreSQL audit database, as two machines behind a load balancer.

Feedback sent through one host finds the answer the other gave; one export shows every answer of both; a
load spread over both loses no audit row; and when the Chroma server comes back without its data, one host
rebuilds the index while both say "rebuilding", then both answer again without a restart.
"""

from __future__ import annotations

import asyncio
import csv
import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from assistant.audit import AuditStore
from evals.load import run_load
from evals.postgres import TempPostgres
from tests.procs import AppProcess, ChromaServer, run_cli, wait_until

pytestmark = pytest.mark.server

# The load run of `make test`: 16 clients over both hosts for 60 s, as issue 14 asks (`make load-hosts` prints
# the same run's figures for the README).
LOAD_SECONDS = 60.0
LOAD_CLIENTS = 16
SOS_QUESTION = "What should I do if sinusoidal obstruction syndrome occurs?"
LFT_QUESTION = "How often are LFTs checked?"
REBUILT = "index rebuilt from the corpus"


@dataclass
class Hosts:
    a: AppProcess
    b: AppProcess
    chroma: ChromaServer
    database: str
    root: Path

    @property
    def apps(self) -> tuple[AppProcess, AppProcess]:
        return self.a, self.b


@pytest.fixture(scope="module")
def hosts(postgres: TempPostgres, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hosts]:
    root = tmp_path_factory.mktemp("hosts")
    chroma = ChromaServer(root / "chroma-db", root / "chroma.log").start()
    database = postgres.create_database("two_hosts")
    shared = {"chroma_mode": "server", "chroma_port": chroma.port, "database_url": database}
    apps: list[AppProcess] = []
    try:
        for name in ("a", "b"):  # started together, as two machines booting at once
            folder = root / name
            folder.mkdir()
            apps.append(AppProcess(folder, folder, data_dir=folder / "data", collection="hosts", **shared))
        for app in apps:
            app.wait_ready(timeout=240)
        yield Hosts(apps[0], apps[1], chroma, database, root)
    finally:
        for app in apps:
            app.stop()
        chroma.stop()


def ask(app: AppProcess, question: str = LFT_QUESTION) -> httpx.Response:
    return httpx.post(f"{app.url}/api/ask", json={"question": question}, timeout=60)


def test_feedback_through_one_host_for_an_answer_the_other_gave(hosts: Hosts, tmp_path: Path) -> None:
    answered = {"a": ask(hosts.a, SOS_QUESTION), "b": ask(hosts.b)}
    assert all(response.status_code == 200 for response in answered.values())
    a_answer, b_answer = answered["a"].json(), answered["b"].json()
    assert a_answer["guardrail"] and not b_answer["guardrail"]

    through_b = httpx.post(f"{hosts.b.url}/api/feedback", json={"answer_id": a_answer["id"], "rating": "up"})
    through_a = httpx.post(
        f"{hosts.a.url}/api/feedback", json={"answer_id": b_answer["id"], "rating": "down"}
    )
    assert (through_b.status_code, through_a.status_code) == (201, 201), (through_b.text, through_a.text)

    store = AuditStore(hosts.database)
    rated = {row["answer_id"]: row for row in store.rows("feedback")}
    store.close()
    # The row host B wrote carries the rules host A's answer fired, read from A's audit row.
    assert rated[a_answer["id"]]["rating"] == "up"
    assert json.loads(str(rated[a_answer["id"]]["rule_ids"])) == [
        hit["rule_id"] for hit in a_answer["guardrail"]
    ]
    assert rated[b_answer["id"]]["rating"] == "down"

    # One export, taken on neither host's data folder, shows the answers of both.
    export = tmp_path / "audit.csv"
    today = datetime.now(UTC).date().isoformat()
    done = run_cli(
        ["audit", "--since", today, "--csv", str(export)],
        cwd=tmp_path,
        data_dir=tmp_path / "auditor",
        database_url=hosts.database,
    )
    assert done.returncode == 0, done.stderr
    with export.open(newline="", encoding="utf-8") as handle:
        exported = {row["answer_id"]: row for row in csv.DictReader(handle)}
    assert {a_answer["id"], b_answer["id"]} <= set(exported)
    assert exported[a_answer["id"]]["question"] == "" and exported[b_answer["id"]]["channel"] == "api"
    assert not any((hosts.root / name / "data" / "audit.sqlite3").exists() for name in ("a", "b"))


def test_a_load_spread_over_both_hosts_loses_no_audit_row(hosts: Hosts) -> None:
    store = AuditStore(hosts.database)
    before = store.count()
    served_before = [app.logs().count("POST /api/ask") for app in hosts.apps]

    stats, elapsed = asyncio.run(
        run_load([hosts.a.url, hosts.b.url], LOAD_CLIENTS, LOAD_SECONDS, max_requests=100_000)
    )

    assert sum(stats.errors.values()) == 0, dict(stats.errors)
    assert stats.sent > LOAD_SECONDS * 5 and elapsed >= LOAD_SECONDS
    assert store.count() - before == stats.sent + stats.warmups  # one audit row per request, none lost
    store.close()
    served = [app.logs().count("POST /api/ask") - n for app, n in zip(hosts.apps, served_before, strict=True)]
    assert sum(served) == stats.sent + stats.warmups
    assert min(served) > 0.4 * sum(served)  # the clients were spread over both hosts


def test_a_wiped_chroma_server_is_rebuilt_by_one_host_and_both_answer_again(hosts: Hosts) -> None:
    before = ask(hosts.a).json()["quotes"]
    pids = [app.proc.pid for app in hosts.apps]
    rebuilt_before = sum(app.logs().count(REBUILT) for app in hosts.apps)

    hosts.chroma.stop()
    shutil.rmtree(hosts.chroma.path)  # the server's data is gone: a new volume
    assert ask(hosts.a).json()["status"] == "unavailable"
    hosts.chroma.start()  # same port, empty

    seen: set[str] = set()

    def both_answer() -> bool:
        answers = [ask(app) for app in hosts.apps]
        for app in hosts.apps:
            seen.add(httpx.get(f"{app.url}/api/health", timeout=30).json()["status"])
        return all(response.status_code == 200 for response in answers)

    assert wait_until(both_answer, timeout=180, interval=0.3), hosts.a.logs()[-2000:] + hosts.b.logs()[-2000:]
    assert "rebuilding" in seen, seen
    assert [app.proc.pid for app in hosts.apps] == pids and all(app.proc.poll() is None for app in hosts.apps)
    assert sum(app.logs().count(REBUILT) for app in hosts.apps) - rebuilt_before == 1  # exactly one host
    for app in hosts.apps:
        assert ask(app).json()["quotes"] == before
        assert httpx.get(f"{app.url}/api/health").json()["status"] == "ready"
