"""Who asked, from the hospital's single sign-on: the user a trusted reverse proxy names in a header.

The app has no sign-on of its own; hospitals put it behind a proxy that authenticates the clinician and
passes the user in a header (``ASSISTANT_USER_HEADER``, e.g. ``X-Forwarded-User``). Anyone can send that
header, so it is believed only from a direct peer listed in ``ASSISTANT_TRUSTED_PROXIES``; from any other
client it is ignored, and that is logged once per process (a warning per request would flood the log).

The peer is the TCP peer: app.py runs uvicorn without its own proxy-header rewriting, so an
``X-Forwarded-For`` cannot make a client pass for a trusted proxy.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
from collections.abc import Mapping

from ..settings import Settings

log = logging.getLogger(__name__)
MAX_USER_CHARS = 200


class SignOn:
    """Reads the user from a request's header when, and only when, the request comes from a trusted proxy."""

    def __init__(self, settings: Settings) -> None:
        self.header = settings.user_header
        self.proxies = [ipaddress.ip_network(p, strict=False) for p in settings.trusted_proxies]
        self._warned = threading.Event()

    def user(self, peer: str | None, headers: Mapping[str, str]) -> str | None:
        """The signed-on user, or None (no header configured or sent, or an untrusted sender)."""
        if not self.header:
            return None
        value = headers.get(self.header)
        if value is None:
            return None
        if not self._trusted(peer):
            if not self._warned.is_set():
                self._warned.set()
                log.warning(
                    "ignored the %s header from %s, which is not in ASSISTANT_TRUSTED_PROXIES (logged once)",
                    self.header,
                    peer or "an unknown client",
                )
            return None
        user = "".join(ch for ch in value if ch.isprintable()).strip()[:MAX_USER_CHARS]
        return user or None

    def _trusted(self, peer: str | None) -> bool:
        try:
            address = ipaddress.ip_address(peer or "")
        except ValueError:
            return False
        return any(address in network for network in self.proxies)
