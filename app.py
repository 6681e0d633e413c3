"""Serve the assistant: chat UI at /, JSON API at /api, embeddable page at /embed, OpenAPI at /docs.

    python app.py                      # 127.0.0.1:7860 (ASSISTANT_HOST / ASSISTANT_PORT)
    python app.py --port 8080 --workers 2

With several workers each process loads its own Assistant; see the README on sharing a Chroma server.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import sys


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    from assistant.errors import ConfigError
    from assistant.settings import apply_library_defaults, load_settings, share_workers

    apply_library_defaults()  # before gradio and the model load; worker processes inherit them

    try:
        settings = load_settings()
    except ConfigError as exc:  # one line, no traceback, nothing written
        sys.exit(f"cannot start: {exc}")
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--host", default=settings.host, help=f"bind address (default {settings.host})")
    parser.add_argument("--port", type=int, default=settings.port, help=f"port (default {settings.port})")
    parser.add_argument(
        "--workers", type=int, default=settings.workers, help=f"worker processes (default {settings.workers})"
    )
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not _is_loopback(args.host):
        logging.warning("binding to %s: put an authenticating reverse proxy (TLS) in front of it", args.host)

    if args.workers == 1:
        from assistant.errors import AssistantError
        from assistant.web import build_app

        try:
            app = build_app(settings)
        except AssistantError as exc:  # corpus, rules or settings that cannot work: do not serve
            sys.exit(f"cannot start: {exc}")
        # proxy_headers=False: the client address stays the TCP peer, which assistant/web/signon.py checks
        # against ASSISTANT_TRUSTED_PROXIES before it believes a user header.
        uvicorn.run(app, host=args.host, port=args.port, proxy_headers=False)
    else:
        from assistant.errors import AssistantError
        from assistant.web.server import preflight

        try:  # here, once: a worker failing at start would be restarted by uvicorn over and over
            preflight(settings)
        except AssistantError as exc:
            sys.exit(f"cannot start: {exc}")
        # Worker processes import the app themselves; each builds it from the environment, which says how
        # many of them share the machine's cores.
        share_workers(args.workers)
        uvicorn.run(
            "assistant.web.server:create_app",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            proxy_headers=False,
        )


if __name__ == "__main__":
    main()
