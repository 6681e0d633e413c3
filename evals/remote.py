"""Ask a running deployment instead of an in-process Assistant: ``python -m evals --url http://HOST:PORT``.

Why: the in-process run measures the code; this measures what a deployment actually answers, through the
same ``POST /api/ask`` clinicians' tools call. Each response is validated into the ``Answer`` model the
in-process run gets, so the metrics, gate and report are the same.

Bounds, because this sends traffic to a server: loopback only unless a host is allowed by name, no proxy
from the environment and no redirect followed, a timeout per request, an overall deadline, and the
runner's ``--limit``. A service that cannot answer (connection refused, 503, timeout, deadline) stops the
run with one ``RemoteError`` line; an error answer to one question (500, 422) fails that case only, as a
crash of ``ask`` does in process.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import httpx
from pydantic import ValidationError

from assistant.conversation import normalize_history
from assistant.models import Answer


class RemoteError(Exception):
    """The service cannot be evaluated (unreachable, not ready, too slow): one line for the operator."""


class RemoteAnswerError(Exception):
    """The service answered one question with an error status: that case fails, the run goes on."""


def is_loopback_url(url: str) -> bool:
    """True for ``localhost`` and literal loopback addresses (127.0.0.0/8, ::1); names are not resolved."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_target(url: str, allowed_hosts: Sequence[str] = ()) -> str:
    """The base URL to use, or RemoteError: http(s), a host, and loopback unless that host is allowed."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RemoteError(f"--url {url!r} is not an http:// or https:// address with a host")
    if parts.query or parts.fragment:
        raise RemoteError(f"--url {url!r} must be a base address, without a query or fragment")
    allowed = {h.strip("[]").lower() for h in allowed_hosts}
    if not is_loopback_url(url) and parts.hostname.lower() not in allowed:
        raise RemoteError(
            f"refusing {url}: {parts.hostname} is not a loopback address; "
            f"pass --allow-host {parts.hostname} to evaluate a service there"
        )
    return url.rstrip("/")


def history_for_api(history: Sequence[Any] | None) -> list[dict[str, str]]:
    """The history as ``/api/ask`` takes it (text content): each message's text as the assistant reads it
    in process, Gradio content blocks joined by ``normalize_history`` itself, so both runs see one text."""
    messages = []
    for message in history or []:
        turns = normalize_history([message], max_turns=1)  # one message: its role and normalised text
        role = message["role"] if isinstance(message, dict) else message.role
        messages.append({"role": str(role), "content": turns[0][1] if turns else ""})
    return messages


class RemoteAssistant:
    """A deployment's ``/api`` as the evaluation needs it: ``health`` once, then ``ask`` per case."""

    def __init__(self, url: str, *, timeout_s: float, deadline_s: float) -> None:
        self.url = url
        self.timeout_s = timeout_s
        self.deadline_s = deadline_s
        self._deadline = time.monotonic() + deadline_s
        self.asked = 0
        self.corpus_version: str | None = None  # what health() reported; every answer must carry it
        # trust_env=False: no proxy from the environment, so the request goes to the host checked above.
        self._http = httpx.Client(base_url=url, trust_env=False, follow_redirects=False)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> RemoteAssistant:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def health(self) -> dict[str, Any]:
        """``GET /api/health``: the service's status and ``corpus_version`` when it is ready."""
        response = self._request("GET", "/api/health")
        if response.status_code != 200:
            status = f"HTTP {response.status_code}{_detail(response)}"
            raise RemoteError(f"{self.url}/api/health answered {status}")
        try:
            body = response.json()
            version = body["corpus_version"]
        except (ValueError, KeyError, TypeError):
            raise RemoteError(f"{self.url}/api/health did not report a corpus_version") from None
        if not isinstance(version, str) or not version:
            raise RemoteError(f"{self.url}/api/health reported no corpus_version")
        self.corpus_version = version
        return body

    def ask(self, question: str, history: Sequence[Any] | None = None) -> Answer:
        """``POST /api/ask``; the response validated into the ``Answer`` the in-process run gets."""
        body = {"question": question, "history": history_for_api(history)}
        response = self._request("POST", "/api/ask", json=body)
        self.asked += 1
        if response.status_code == 503:
            raise RemoteError(f"{self.url}/api/ask answered HTTP 503{_detail(response)}")
        if response.status_code != 200:
            raise RemoteAnswerError(f"HTTP {response.status_code}{_detail(response)}")
        try:
            answer = Answer.model_validate(response.json())
        except (ValueError, ValidationError) as exc:
            raise RemoteAnswerError(f"the response is not an Answer: {exc}") from None
        if self.corpus_version is not None and answer.corpus_version != self.corpus_version:
            raise RemoteError(
                f"{self.url} answered from corpus version {answer.corpus_version[:12]} after reporting "
                f"{self.corpus_version[:12]}: the service changed during the run"
            )
        return answer

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One request within both bounds; anything that is not an HTTP answer is a RemoteError."""
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise RemoteError(self._deadline_passed())
        timeout = min(self.timeout_s, remaining)
        try:
            return self._http.request(method, path, timeout=timeout, **kwargs)
        except httpx.TimeoutException:
            if timeout < self.timeout_s:
                raise RemoteError(self._deadline_passed()) from None
            limit = f"no answer within {self.timeout_s:g} s (--timeout)"
            raise RemoteError(f"{self.url}{path}: {limit}") from None
        except httpx.ConnectError as exc:
            raise RemoteError(f"cannot connect to {self.url}: {_reason(exc)}") from None
        except httpx.HTTPError as exc:
            raise RemoteError(f"{self.url}{path}: {type(exc).__name__}: {_reason(exc)}") from None

    def _deadline_passed(self) -> str:
        return (
            f"the overall deadline of {self.deadline_s:g} s (--deadline) passed after {self.asked} "
            f"questions to {self.url}"
        )


def _detail(response: httpx.Response) -> str:
    """The service's own one-line reason (its Problem ``detail``), when it gave one."""
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        return ""
    if isinstance(detail, list) and detail and isinstance(detail[0], dict):  # FastAPI's 422 errors
        detail = "; ".join(str(e.get("msg", e)) for e in detail)
    if isinstance(detail, str) and detail:
        return ": " + " ".join(detail.split())[:300]
    return ""


def _reason(exc: Exception) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
