"""One FastAPI application: JSON API (/api), embeddable page (/embed), OpenAPI (/docs) and the Gradio
chat UI mounted at /.

``build_app`` checks the corpus and rules at once (cheap; a bad file stops start-up with a clear
error) and loads the Assistant itself (slow: model and index) in a background thread once the server
starts, so ``/api/health`` can say "loading" first. If the vector store cannot be reached at start the
loader keeps retrying, and the app begins answering by itself when the store is back.

``create_app`` is the factory uvicorn calls in each worker process:
``uvicorn assistant.web.server:create_app --factory --workers 2``.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import gradio as gr
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline

from ..corpus import load_corpus
from ..errors import AuditUnavailable, IndexUnavailable, InvalidQuestion
from ..settings import PROJECT_ROOT, Settings, load_settings
from . import ui
from .api import AssistantSlot, NotReady, api_router
from .embed import embed_router
from .security import install_security

if TYPE_CHECKING:
    from ..assistant import Assistant

log = logging.getLogger(__name__)

RETRY_SECONDS = 5.0


def preflight(settings: Settings) -> None:
    """Fail closed before serving: the corpus and the guardrail rules must load and agree, and the audit
    database must answer (its schema is migrated here, once, before any worker starts)."""
    from ..audit import AuditStore
    from ..guardrail import Guardrail

    corpus = load_corpus(settings.corpus_dir)
    Guardrail.load(settings.corpus_dir / "rules.yaml", corpus)
    AuditStore.from_settings(settings).close()


def load_assistant(settings: Settings, slot: AssistantSlot) -> Assistant | None:
    """Build the Assistant; while only the vector store is unreachable, say so and keep retrying."""
    from ..assistant import Assistant
    from ..embedding import load_embeddings

    embeddings = load_embeddings(settings)  # once: a retry must not reload the model
    while not slot.stopping.is_set():
        try:
            return Assistant.from_settings(settings, embeddings=embeddings)
        except IndexUnavailable as exc:
            slot.mark(exc)
            log.warning("vector store %s at start: %s; retrying in %.0f s", exc.status, exc, RETRY_SECONDS)
            slot.stopping.wait(RETRY_SECONDS)
    return None


def install_error_handlers(app: FastAPI) -> None:
    """Errors become short JSON bodies; a fault is logged with an id and never shows a stack trace."""

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        # The default body echoes the input back; a question may hold patient details, so leave it out.
        errors = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        return JSONResponse({"detail": errors}, status_code=422)

    @app.exception_handler(InvalidQuestion)
    async def invalid_question(_: Request, exc: InvalidQuestion) -> JSONResponse:
        error = {"loc": ["body", "question"], "msg": str(exc), "type": "invalid_question"}
        return JSONResponse({"detail": [error]}, status_code=422)

    @app.exception_handler(IndexUnavailable)
    async def index_unavailable(_: Request, exc: IndexUnavailable) -> JSONResponse:
        log.warning("vector store %s: %s", exc.status, exc)
        headers = {"Retry-After": "5"} if exc.retry else {}
        return JSONResponse({"detail": exc.detail, "status": exc.status}, status_code=503, headers=headers)

    @app.exception_handler(AuditUnavailable)
    async def audit_unavailable(_: Request, exc: AuditUnavailable) -> JSONResponse:
        log.warning("%s", exc)
        return JSONResponse({"detail": exc.detail}, status_code=503, headers={"Retry-After": "5"})

    @app.exception_handler(NotReady)
    async def not_ready(_: Request, exc: NotReady) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=503, headers={"Retry-After": "5"})

    @app.exception_handler(Exception)
    async def fault(request: Request, exc: Exception) -> JSONResponse:
        error_id = uuid.uuid4().hex[:12]
        log.error("error %s on %s %s", error_id, request.method, request.url.path, exc_info=exc)
        body = {"detail": "Internal error. Please try again.", "error_id": error_id}
        return JSONResponse(body, status_code=500)


def build_app(settings: Settings | None = None, assistant: Assistant | None = None) -> FastAPI:
    """The whole web application. Pass ``assistant`` to serve one already loaded (tests do)."""
    settings = settings or Settings()
    if assistant is None:
        preflight(settings)
    slot = AssistantSlot(assistant)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if slot.status == "loading":
            slot.load_in_background(lambda: load_assistant(settings, slot))
        yield
        slot.stopping.set()

    # /docs from the assets bundled in fastapi-offline: an intranet without internet still gets its docs.
    app = FastAPIOffline(
        title="Besponsa precautions assistant",
        description="Answers from the Besponsa precautions monograph only: verbatim quotes with their "
        "section, a deterministic guardrail for stopping/holding treatment, and abstention otherwise.",
        version="1",
        lifespan=lifespan,
        redoc_url=None,
        favicon_url=None,
        swagger_ui_parameters={"validatorUrl": None},  # Swagger UI would ask validator.swagger.io
    )
    app.state.slot = slot
    app.state.settings = settings
    install_error_handlers(app)
    install_security(app, settings)
    app.include_router(api_router(slot, settings))
    app.include_router(embed_router(settings))
    blocked = [PROJECT_ROOT, settings.data_dir, settings.corpus_dir, Path.home()]
    gr.mount_gradio_app(
        app,
        ui.build_ui(slot.get, settings),
        path="/",
        css=ui.CSS,
        head=ui.HEAD,
        footer_links=[],
        run_history=False,  # Gradio would otherwise keep past questions in the browser's storage
        ssr_mode=False,
        show_error=False,
        allowed_paths=[],
        blocked_paths=[str(Path(p).resolve()) for p in blocked],
        max_file_size="1mb",
        mcp_server=False,
        pwa=False,
        enable_monitoring=False,
    )
    return app


def create_app() -> FastAPI:
    """uvicorn factory (``--factory``): settings from the environment, Assistant loaded in background."""
    return build_app(load_settings())
