"""Response headers that keep the app inside the intranet pages allowed to use it.

- ``Content-Security-Policy`` on every response; ``frame-ancestors`` lists the app itself plus
  ``Settings.allowed_origins``, so only those pages can put the chat in an ``<iframe>``.
- CORS (Starlette's ``CORSMiddleware``, which also makes Gradio drop its own, more permissive CORS)
  lets exactly the same origins call the JSON API from their own pages.
- ``X-Content-Type-Options``, ``Referrer-Policy`` and ``Permissions-Policy`` close the usual gaps.

The Gradio page needs inline scripts and styles (its bootstrap is inline), so its policy allows them;
the /embed page sets its own stricter, nonce-based policy (see embed.py) which this middleware keeps.
"""

from __future__ import annotations

from collections.abc import Iterable

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..settings import Settings


def frame_ancestors(allowed_origins: Iterable[str]) -> str:
    return " ".join(["'self'", *allowed_origins])


def content_security_policy(
    allowed_origins: Iterable[str], *, script: str, style: str, connect: str = "'self'"
) -> str:
    """One CSP string; ``script``/``style`` are the sources for scripts and styles."""
    directives = {
        "default-src": "'self'",
        "script-src": script,
        "style-src": style,
        "img-src": "'self' data: blob:",
        "font-src": "'self' data:",
        "connect-src": connect,
        "media-src": "'self' blob:",
        "object-src": "'none'",
        "base-uri": "'self'",
        "form-action": "'self'",
        "frame-ancestors": frame_ancestors(allowed_origins),
    }
    return "; ".join(f"{name} {value}" for name, value in directives.items())


class SecurityHeaders:
    """Pure ASGI middleware (streams Gradio's server-sent events untouched) adding the headers above."""

    def __init__(self, app: ASGIApp, allowed_origins: list[str]) -> None:
        self.app = app
        inline = "'self' 'unsafe-inline'"
        # One policy for every page: /docs is served from local assets (fastapi-offline), no CDN.
        self.csp = content_security_policy(allowed_origins, script=inline, style=inline)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        csp = self.csp

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                extra = {
                    b"content-security-policy": csp.encode(),
                    b"x-content-type-options": b"nosniff",
                    b"referrer-policy": b"strict-origin-when-cross-origin",
                    b"permissions-policy": b"camera=(), microphone=(), geolocation=()",
                }
                headers += [(name, value) for name, value in extra.items() if name not in present]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def install_security(app: FastAPI, settings: Settings) -> None:
    """Add CORS (allow-list only; none by default) and the security headers to ``app``."""
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(settings.allowed_origins),
        allow_methods=["GET", "POST"],
        allow_headers=["Content-Type"],
        allow_credentials=False,
        max_age=600,
    )
    app.add_middleware(SecurityHeaders, allowed_origins=list(settings.allowed_origins))
