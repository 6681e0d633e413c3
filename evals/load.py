"""Load test of ``POST /api/ask`` on loopback: N concurrent clients for S seconds, bounded in time and count.

    python -m evals.load                          # starts app.py on a free 127.0.0.1 port, 8 clients, 30 s
    python -m evals.load --clients 1,8            # one client, then eight, against the same app
    python -m evals.load --clients 16 --seconds 60 --workers 2
    python -m evals.load --workers 2 --chroma-server --clients 16 --seconds 60   # shared Chroma server
    python -m evals.load --hosts 2 --clients 16 --seconds 60   # two app hosts, one Chroma, one PostgreSQL
    python -m evals.load --url http://127.0.0.1:7860 [--url http://127.0.0.1:7861 ...]

Questions are those of the evaluation set (evals/dataset.jsonl), asked in rotation. Prints requests/s,
latency percentiles and the error count; exits 1 if any request failed. The apps it starts have their query
cache off unless ``--cache-size`` says otherwise, so the numbers are those of real work. Only loopback URLs
are accepted: this is a tool for measuring, not for loading someone else's server. When it starts the app
itself, the app gets a temporary data folder, so the load does not fill the real audit trail. With
``--chroma-server`` it also starts ``chroma run`` on a free loopback port (data in the temporary folder) and
points the app's workers at it; the first worker builds the index into it, the others reuse it. With
``--hosts N`` it simulates N hosts: N app processes (each its own data folder and port, ``--workers`` each)
sharing one Chroma server and one throwaway PostgreSQL audit database (``evals/postgres.py``; durable
settings, so commits are real); clients are spread over the hosts, and afterwards the audit rows are counted
and must equal the requests sent (warm-ups included).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import AsyncExitStack, ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from assistant.settings import load_settings

from .metrics import percentile
from .postgres import TempPostgres
from .remote import is_loopback_url

ROOT = Path(__file__).resolve().parent.parent
DATASET = Path(__file__).resolve().parent / "dataset.jsonl"
MAX_CLIENTS = 64
MAX_SECONDS = 600
MAX_HOSTS = 8
START_TIMEOUT_S = 300


@dataclass
class Stats:
    latencies_ms: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    sent: int = 0
    warmups: int = 0  # one request per target before the clock starts; answered and audited, not timed
    audit_rows: int | None = None  # rows the shared audit database holds afterwards (--hosts)
    audit_bytes: int | None = None  # the answers table's size on disk, indexes included (--hosts)

    def latency(self, q: int) -> str:
        """A percentile of the successful requests' latencies (``evals.metrics.percentile``), for people."""
        value = percentile(self.latencies_ms, q)
        return "n/a" if value is None else f"{value:.0f} ms"


def _client_counts(text: str) -> list[int]:
    """``8`` or ``1,8``: one load run per count, one after another against the same apps."""
    try:
        return [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number or comma-separated numbers: {text!r}") from None


def load_questions(path: Path = DATASET) -> list[str]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line)["question"] for line in handle if line.strip()]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_ready(
    url: str, process: subprocess.Popen[bytes] | None, *, workers: int = 1, timeout: float = START_TIMEOUT_S
) -> None:
    """Wait for /api/health to say ready several times in a row (each worker loads its own Assistant)."""
    deadline = time.monotonic() + timeout
    streak = 0
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise SystemExit(f"the app exited with code {process.returncode} before it was ready")
        try:
            ok = httpx.get(f"{url}/api/health", timeout=5).status_code == 200  # a new connection each time
        except httpx.HTTPError:
            ok = False
        streak = streak + 1 if ok else 0
        if streak >= 3 * workers:
            return
        time.sleep(0.2 if ok else 0.5)
    raise SystemExit(f"{url}/api/health was not ready after {timeout:.0f} s")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def started_chroma(folder: Path) -> Iterator[dict[str, str]]:
    """Run ``chroma run`` (the CLI in the chromadb package) on a free loopback port; yield the app's env."""
    port = free_port()
    chroma = Path(sys.executable).with_name("chroma")
    command = [str(chroma), "run", "--path", str(folder / "chroma-server"), "--host", "127.0.0.1"]
    with (folder / "chroma.log").open("wb") as log:
        process = subprocess.Popen([*command, "--port", str(port)], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while process.poll() is None and time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        else:
            raise SystemExit(f"chroma run did not start on port {port}")
        yield {"ASSISTANT_CHROMA_MODE": "server", "ASSISTANT_CHROMA_PORT": str(port)}
    finally:
        stop(process)


@contextmanager
def started_app(
    workers: int, data_dir: Path | None, chroma_server: bool = False, cache_size: int = 0
) -> Iterator[str]:
    """Run ``python app.py`` on a free loopback port in a subprocess; stop it afterwards."""
    with tempfile.TemporaryDirectory(prefix="assistant-load-") as scratch, ExitStack() as stack:
        env = {"ASSISTANT_DATA_DIR": str(data_dir or scratch), "ASSISTANT_CACHE_SIZE": str(cache_size)}
        if chroma_server:
            env.update(stack.enter_context(started_chroma(Path(scratch))))
        [url] = stack.enter_context(_serving([env], workers, Path(scratch)))
        yield url


@contextmanager
def started_hosts(hosts: int, workers: int, cache_size: int = 0) -> Iterator[tuple[list[str], str]]:
    """``hosts`` app processes, each with its own data folder and port, sharing one ``chroma run`` and one
    PostgreSQL; yield their URLs and the audit database's URL."""
    threads = load_settings().encoder_threads or max(1, (os.cpu_count() or 1) // (hosts * workers))
    with tempfile.TemporaryDirectory(prefix="assistant-load-") as scratch, ExitStack() as stack:
        folder = Path(scratch)
        database = stack.enter_context(TempPostgres()).create_database("audit")
        chroma = stack.enter_context(started_chroma(folder))
        envs = [
            {
                **chroma,
                "ASSISTANT_DATA_DIR": str(folder / f"host{n}"),
                "ASSISTANT_DATABASE_URL": database,
                "ASSISTANT_CACHE_SIZE": str(cache_size),
                # Simulated hosts share this machine's cores, as real hosts would not: split them.
                "ASSISTANT_ENCODER_THREADS": str(threads),
            }
            for n in range(hosts)
        ]
        yield stack.enter_context(_serving(envs, workers, folder)), database


@contextmanager
def _serving(envs: list[dict[str, str]], workers: int, logs: Path) -> Iterator[list[str]]:
    """One ``python app.py`` per environment, started together (as hosts booting at once), each on a free
    loopback port; yield their URLs once every one is ready, and stop them all afterwards."""
    processes: list[subprocess.Popen[bytes]] = []
    urls: list[str] = []
    try:
        for n, settings in enumerate(envs):
            port = free_port()
            command = [sys.executable, str(ROOT / "app.py"), "--host", "127.0.0.1", "--port", str(port)]
            env = {**os.environ, "HF_HUB_OFFLINE": "1", **settings}
            # A file, not a pipe nobody reads: a full pipe would block the app mid-run.
            with (logs / f"app{n}.log").open("wb") as log:
                processes.append(
                    subprocess.Popen(
                        [*command, "--workers", str(workers)],
                        cwd=ROOT,
                        env=env,
                        stdout=subprocess.DEVNULL,
                        stderr=log,
                    )
                )
            urls.append(f"http://127.0.0.1:{port}")
        for url, process in zip(urls, processes, strict=True):
            wait_ready(url, process, workers=workers)
        yield urls
    finally:
        for process in processes:
            stop(process)


async def client_loop(
    http: httpx.AsyncClient,
    questions: list[str],
    offset: int,
    deadline: float,
    budget: list[int],
    stats: Stats,
) -> None:
    """One simulated user: ask, wait for the answer, ask the next question, until time or budget runs out."""
    i = offset
    while time.monotonic() < deadline and budget[0] > 0:
        budget[0] -= 1
        question = questions[i % len(questions)]
        i += 1
        started = time.perf_counter()
        stats.sent += 1
        try:
            response = await http.post("/api/ask", json={"question": question, "history": []})
        except httpx.HTTPError as exc:
            stats.errors[type(exc).__name__] += 1
            continue
        if response.status_code == 200:
            stats.latencies_ms.append((time.perf_counter() - started) * 1000)
        else:
            stats.errors[f"HTTP {response.status_code}"] += 1


async def run_load(urls: list[str], clients: int, seconds: float, max_requests: int) -> tuple[Stats, float]:
    """``clients`` simulated users spread over ``urls`` (client n asks ``urls[n % len(urls)]``)."""
    questions = load_questions()
    stats = Stats()
    per_target = -(-clients // len(urls))
    limits = httpx.Limits(max_connections=per_target, max_keepalive_connections=per_target)
    async with AsyncExitStack() as stack:
        https = [
            await stack.enter_async_context(httpx.AsyncClient(base_url=url, timeout=60, limits=limits))
            for url in urls
        ]
        for http in https:  # warm-up, not timed
            response = await http.post("/api/ask", json={"question": questions[0]})
            stats.warmups += 1
            if response.status_code != 200:
                stats.errors[f"warm-up HTTP {response.status_code}"] += 1
        budget = [max_requests]
        started = time.monotonic()
        deadline = started + seconds
        step = max(1, len(questions) // clients)
        await asyncio.gather(
            *(
                client_loop(https[n % len(https)], questions, n * step, deadline, budget, stats)
                for n in range(clients)
            )
        )
        elapsed = time.monotonic() - started
    return stats, elapsed


def report(stats: Stats, elapsed: float, clients: int, urls: list[str]) -> str:
    done = len(stats.latencies_ms)
    errors = sum(stats.errors.values())
    lines = [
        *(f"target        {url}/api/ask" for url in urls),
        f"clients       {clients}",
        f"duration      {elapsed:.1f} s",
        f"requests      {stats.sent} ({done} ok, {errors} errors)",
        f"throughput    {done / elapsed:.1f} requests/s",
        f"latency p50   {stats.latency(50)}",
        f"latency p95   {stats.latency(95)}",
        f"latency p99   {stats.latency(99)}",
        f"errors        {errors}" + (f" {dict(stats.errors)}" if errors else ""),
    ]
    if stats.audit_rows is not None:
        lines.append(
            f"audit rows    {stats.audit_rows} (requests {stats.sent + stats.warmups}, warm-ups included)"
        )
    if stats.audit_rows and stats.audit_bytes is not None:
        lines.append(
            f"audit size    {stats.audit_bytes / 1e6:.1f} MB in PostgreSQL, indexes included "
            f"({stats.audit_bytes / stats.audit_rows / 1000:.2f} kB per answer)"
        )
    return "\n".join(lines)


def audited(stats: Stats) -> bool:
    """True unless the audit was counted and holds another number of rows than requests were sent."""
    return stats.audit_rows is None or stats.audit_rows == stats.sent + stats.warmups


def measure_audit(database: str) -> tuple[int, int]:
    """The answers the shared PostgreSQL audit database holds, and the bytes that table takes."""
    import sqlalchemy as sa

    engine = sa.create_engine(database, poolclass=sa.NullPool)
    try:
        with engine.connect() as db:
            rows = db.execute(sa.text("SELECT count(*) FROM answers")).scalar_one()
            size = db.execute(sa.text("SELECT pg_total_relation_size('answers')")).scalar_one()
    finally:
        engine.dispose()
    return int(rows), int(size)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--url", action="append", help="a running app on loopback; repeat to spread clients over several"
    )
    parser.add_argument(
        "--clients",
        type=_client_counts,
        default=[8],
        help="concurrent clients; several runs one after another: 1,8 (default 8)",
    )
    parser.add_argument("--seconds", type=float, default=30.0, help="duration (default 30)")
    parser.add_argument("--max-requests", type=int, default=100_000, help="stop after this many requests")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn workers per app started here")
    parser.add_argument(
        "--data-dir", type=Path, help="data folder for the app started here (default: a temp one)"
    )
    parser.add_argument(
        "--chroma-server", action="store_true", help="also start a Chroma server on loopback for the app"
    )
    parser.add_argument(
        "--hosts",
        type=int,
        default=0,
        help="start this many app hosts sharing one Chroma server and one PostgreSQL (counts the audit rows)",
    )
    parser.add_argument(
        "--cache-size",
        type=int,
        default=0,
        help="the started apps' query cache (ASSISTANT_CACHE_SIZE); default 0, the targets hold without it",
    )
    args = parser.parse_args(argv)
    if not all(1 <= n <= MAX_CLIENTS for n in args.clients):
        parser.error(f"--clients must be between 1 and {MAX_CLIENTS}")
    if not 0 < args.seconds <= MAX_SECONDS:
        parser.error(f"--seconds must be between 0 and {MAX_SECONDS}")
    if args.max_requests < 1:
        parser.error("--max-requests must be at least 1")
    if not 0 <= args.hosts <= MAX_HOSTS:
        parser.error(f"--hosts must be between 1 and {MAX_HOSTS}")
    if args.cache_size < 0:
        parser.error("--cache-size must be 0 (off) or more")
    if args.url and (args.chroma_server or args.hosts or args.cache_size):
        parser.error(
            "--chroma-server, --hosts and --cache-size start the apps themselves; they cannot be combined"
            " with --url (set ASSISTANT_CACHE_SIZE on a running app)"
        )
    if args.hosts and (args.chroma_server or args.data_dir):
        parser.error("--hosts starts its own Chroma server and data folders")
    if args.hosts and len(args.clients) > 1:
        parser.error("--hosts counts the audit rows of one run: give one --clients number")
    for url in args.url or []:
        if not is_loopback_url(url):
            parser.error(f"refusing {url}: load is only sent to loopback (127.0.0.0/8, ::1, localhost)")

    def run_all(urls: list[str], database: str | None = None) -> list[Stats]:
        """One run per client count, each reported as it ends."""
        results = []
        for clients in args.clients:
            stats, elapsed = asyncio.run(run_load(urls, clients, args.seconds, args.max_requests))
            if database is not None:
                stats.audit_rows, stats.audit_bytes = measure_audit(database)
            print(report(stats, elapsed, clients, urls), flush=True)
            results.append(stats)
        return results

    cache = f"query cache {args.cache_size}" if args.cache_size else "caches off"
    if args.url:
        urls = [url.rstrip("/") for url in args.url]
        for url in urls:
            wait_ready(url, None, timeout=30)
        results = run_all(urls)
    elif args.hosts:
        print(
            f"starting PostgreSQL, chroma run and {args.hosts} app hosts (workers={args.workers} each,"
            f" {cache}) ...",
            flush=True,
        )
        with started_hosts(args.hosts, args.workers, args.cache_size) as (urls, database):
            results = run_all(urls, database)
    else:
        store = "a Chroma server" if args.chroma_server else "the embedded store"
        print(f"starting app.py (workers={args.workers}, {store}, {cache}) on loopback ...", flush=True)
        with started_app(args.workers, args.data_dir, args.chroma_server, args.cache_size) as url:
            results = run_all([url])
    return 1 if any(stats.errors or not audited(stats) for stats in results) else 0


if __name__ == "__main__":
    sys.exit(main())
