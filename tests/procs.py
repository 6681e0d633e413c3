"""Real processes for the scaling, fault and privacy tests: a ``chroma run`` server, ``python app.py``
and ``python -m assistant``, each on a free 127.0.0.1 port, logging to files the tests can read, and
stopped by the pid the test started (never by name)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import uvicorn
from fastapi import FastAPI

from assistant.settings import PROJECT_ROOT

CHROMA_CLI = Path(sys.executable).with_name("chroma")
LOOPBACK = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def wait_until(check: Callable[[], bool], timeout: float, interval: float = 0.2) -> bool:
    """Poll ``check`` until it is true or ``timeout`` seconds have passed (bounded, never hangs)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return True
        except Exception:  # a server still starting refuses connections
            pass
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)


def child_env(**settings: object) -> dict[str, str]:
    """The environment for a child process: offline, no telemetry, and only the ASSISTANT_ settings given."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    env.update(
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        ANONYMIZED_TELEMETRY="False",
        GRADIO_ANALYTICS_ENABLED="False",
        PYTHONUNBUFFERED="1",
        PYTHONPATH=str(PROJECT_ROOT),
    )
    env.update({f"ASSISTANT_{k.upper()}": str(v) for k, v in settings.items()})
    return env


def stop_process(proc: subprocess.Popen, timeout: float = 20) -> None:
    """SIGTERM the process we started, then SIGKILL its own process group if it does not exit."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the group this test created (start_new_session=True)
        proc.wait(timeout=10)


class ChromaServer:
    """``chroma run`` on a loopback port, persisting to ``path``; can be stopped and started again."""

    def __init__(self, path: Path, log: Path, port: int | None = None) -> None:
        self.path, self.log, self.port = path, log, port or free_port()
        self.proc: subprocess.Popen | None = None

    def heartbeat(self) -> bool:
        return httpx.get(f"http://{LOOPBACK}:{self.port}/api/v2/heartbeat", timeout=2).status_code == 200

    def start(self, timeout: float = 30) -> ChromaServer:
        command = [str(CHROMA_CLI), "run", "--path", str(self.path), "--host", LOOPBACK]
        command += ["--port", str(self.port)]
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, env=child_env(), start_new_session=True
            )
        if not wait_until(lambda: self.proc.poll() is None and self.heartbeat(), timeout):
            self.stop()
            raise RuntimeError(
                f"chroma run did not answer on port {self.port}: {self.log.read_text()[-2000:]}"
            )
        return self

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)
            self.proc = None


class AppProcess:
    """``python app.py`` (the real web app, optionally with several uvicorn workers) as a child process."""

    def __init__(
        self, cwd: Path, logs: Path, workers: int = 1, env: dict[str, str] | None = None, **settings: object
    ) -> None:
        self.port = free_port()
        self.url = f"http://{LOOPBACK}:{self.port}"
        self.stdout, self.stderr = logs / "app.stdout.log", logs / "app.stderr.log"
        command = [sys.executable, str(PROJECT_ROOT / "app.py"), "--host", LOOPBACK, "--port", str(self.port)]
        if workers > 1:
            command += ["--workers", str(workers)]
        with self.stdout.open("ab") as out, self.stderr.open("ab") as err:
            self.proc = subprocess.Popen(
                command,
                cwd=cwd,
                stdout=out,
                stderr=err,
                env={**child_env(**settings), **(env or {})},
                start_new_session=True,
            )

    def wait_ready(self, timeout: float = 120) -> None:
        def ready() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(f"app exited with {self.proc.returncode}: {self.logs()[-3000:]}")
            return httpx.get(f"{self.url}/api/health", timeout=5).status_code == 200

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if ready():
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise AssertionError(f"app not ready after {timeout} s: {self.logs()[-3000:]}")

    def logs(self) -> str:
        return self.stdout.read_text(errors="replace") + self.stderr.read_text(errors="replace")

    def stop(self) -> None:
        stop_process(self.proc)


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """Run ``app`` with uvicorn in a thread on a free loopback port; yield its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host=LOOPBACK, port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    if not wait_until(lambda: server.started or not thread.is_alive(), 30, 0.05) or not server.started:
        raise RuntimeError("uvicorn did not start")
    try:
        yield f"http://{LOOPBACK}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def run_cli(
    args: list[str], cwd: Path, timeout: float = 120, input: str | None = None, **settings: object
) -> subprocess.CompletedProcess:
    """``python -m assistant ARGS`` in ``cwd`` with the given settings (and ``input`` on stdin); output
    captured as text."""
    return subprocess.run(
        [sys.executable, "-m", "assistant", *args],
        cwd=cwd,
        env=child_env(**settings),
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


class TokenProxy:
    """An authenticating reverse proxy on loopback, as a hospital puts in front of ``chroma run``: forwards
    to the Chroma server only requests carrying ``Authorization: Bearer <token>``, answers 401 otherwise."""

    def __init__(self, target_port: int, token: str) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        target = f"http://{LOOPBACK}:{target_port}"
        hop = {
            "host",
            "content-length",
            "connection",
            "authorization",
            "accept-encoding",
            "transfer-encoding",
        }

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _reply(self, status: int, headers: dict[str, str], body: bytes) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if self.headers.get("Authorization") != f"Bearer {token}":
                    self._reply(401, {"Content-Type": "application/json"}, b'{"message": "bad token"}')
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() not in hop}
                answer = httpx.request(
                    self.command, target + self.path, content=body or None, headers=headers, timeout=60
                )
                kept = {
                    k: v
                    for k, v in answer.headers.items()
                    if k.lower() not in hop | {"content-encoding", "date", "server"}
                }
                self._reply(answer.status_code, kept, answer.content)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = forward

        self.server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> TokenProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
