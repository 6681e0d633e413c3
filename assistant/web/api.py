"""The JSON API: ask, health and feedback, plus the slot that holds the Assistant once it is loaded.

Loading the Assistant takes seconds (embedding model, index), so the app starts serving at once and
loads it in the background; until then ``/api/health`` says 503 and ``/api/ask`` answers 503 too.

Feedback carries only ``answer_id`` and the rating. The rated answer's rule ids, quote offsets and corpus
version are copied from its audit row (``AuditStore.record_feedback``), so feedback works whichever
worker process gave the answer and no process keeps answers, let alone questions, in memory.

(No ``from __future__ import annotations`` here: FastAPI must see the request model built at run time.)
"""

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Literal

from fastapi import APIRouter, Header, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictStr, create_model, field_validator

from ..audit import UnknownAnswer
from ..errors import AssistantError, IndexUnavailable
from ..models import Answer
from ..settings import Settings
from .signon import SignOn

if TYPE_CHECKING:
    from ..assistant import Assistant

log = logging.getLogger(__name__)

MAX_HISTORY_MESSAGES = 1000  # a bound on the request; the assistant reads Settings.history_turns of it
MAX_HISTORY_CHARS = 20_000
MAX_COMMENT_CHARS = 1000
Status = Literal["loading", "unavailable", "unauthorized", "needs_rebuild", "rebuilding", "failed", "ready"]

INDEX_DOWN = IndexUnavailable.detail
_NOT_READY = {
    "loading": "The assistant is still starting. Please try again in a moment.",
    "unavailable": INDEX_DOWN,
    "failed": "The assistant could not start. Please contact the service desk.",
}


class NotReady(AssistantError):
    """The Assistant is still loading, waiting for its vector store, or failed to load."""


class AssistantSlot:
    """Holds the Assistant once a background thread has loaded it, or says why it is not there yet.

    status: "loading" (building it), "failed" (a start-up error that needs a person), "ready", or the
    vector store's problem while retrying (``IndexUnavailable.status``: "unavailable", "unauthorized"...).
    """

    def __init__(self, assistant: "Assistant | None" = None) -> None:
        self._assistant = assistant
        self._status: str = "ready" if assistant else "loading"
        self._detail: str | None = None
        self._lock = threading.Lock()
        self._reported: str | None = None
        self.stopping = threading.Event()

    def fill(self, assistant: "Assistant") -> None:
        with self._lock:
            self._assistant, self._status = assistant, "ready"

    def mark(self, status: Literal["failed"] | IndexUnavailable) -> None:
        """Not ready: failed for good, or waiting for the vector store (the error says why)."""
        with self._lock:
            if self._assistant is None:
                if isinstance(status, IndexUnavailable):
                    self._status, self._detail = status.status, status.detail
                else:
                    self._status, self._detail = status, None

    def report(self, problem: IndexUnavailable) -> None:
        """Log a vector-store problem once per change (health checks poll: no line per poll)."""
        with self._lock:
            if str(problem) == self._reported:
                return
            self._reported = str(problem)
        log.warning("vector store %s: %s", problem.status, problem)

    def recovered(self) -> None:
        with self._lock:
            self._reported = None

    @property
    def detail(self) -> str:
        return self._detail or _NOT_READY.get(self._status, INDEX_DOWN)

    @property
    def status(self) -> str:
        return self._status

    def get(self) -> "Assistant":
        """The loaded Assistant, or NotReady with a message fit for a clinician."""
        assistant = self._assistant
        if assistant is None:
            raise NotReady(self.detail)
        return assistant

    def load_in_background(self, load: Callable[[], "Assistant | None"]) -> None:
        """Run ``load`` in a daemon thread; a failure is logged and leaves the slot "failed"."""

        def run() -> None:
            try:
                assistant = load()
            except BaseException as exc:  # a failed start must show in health, never kill the server
                log.error("the assistant could not start: %s", exc, exc_info=exc)
                self.mark("failed")
                return
            if assistant is not None:
                self.fill(assistant)

        threading.Thread(target=run, name="assistant-loader", daemon=True).start()


class HistoryMessage(BaseModel):
    """One earlier message of the conversation, as the caller shows it."""

    model_config = ConfigDict(extra="forbid")

    role: Literal["user", "assistant"]
    content: StrictStr = Field(max_length=MAX_HISTORY_CHARS)


class AskRequestBase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: StrictStr
    history: list[HistoryMessage] = Field(
        default_factory=list,
        max_length=MAX_HISTORY_MESSAGES,
        description="earlier messages, oldest first; the last `history_turns` user turns (default 50) count",
    )

    @field_validator("question")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("The question is empty.")
        return value


def ask_request_model(max_question_chars: int) -> type[AskRequestBase]:
    """The request body of /api/ask, with the configured length limit in its OpenAPI schema."""
    return create_model(
        "AskRequest",
        __base__=AskRequestBase,
        question=(
            StrictStr,
            Field(min_length=1, max_length=max_question_chars, description="the clinician's question"),
        ),
    )


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    answer_id: str = Field(pattern=r"^[0-9a-f]{32}$", description="the `id` of the answer being rated")
    rating: Literal["up", "down"]
    comment: StrictStr | None = Field(
        default=None,
        max_length=MAX_COMMENT_CHARS,
        description="kept only when the store_question_text setting allows free text",
    )


class Health(BaseModel):
    status: Literal["ready"]
    corpus_version: str
    documents: list[str]
    vector_store: str


class Problem(BaseModel):
    """Every error body: a message for people, and an error id when the server logged a fault."""

    detail: str
    error_id: str | None = None


def api_router(slot: AssistantSlot, settings: Settings) -> APIRouter:
    """Routes under /api. Blocking work runs in FastAPI's thread pool (plain ``def`` handlers)."""
    router = APIRouter(prefix="/api", tags=["assistant"])
    signon = SignOn(settings)

    def user_of(http: Request) -> str | None:
        return signon.user(http.client.host if http.client else None, http.headers)

    ask_model = ask_request_model(settings.max_question_chars)
    unavailable = {503: {"model": Problem, "description": "still starting, or the vector store is down"}}

    @router.post("/ask", response_model=Answer, responses={**unavailable, 500: {"model": Problem}})
    def ask(
        request: ask_model,  # type: ignore[valid-type]
        http: Request,
        channel: Annotated[Literal["api", "embed"], Header(alias="X-Assistant-Channel")] = "api",
    ) -> Answer:
        """Answer one question from the monograph: quotes with sections, guardrail verdicts, or abstention.

        Errors: 422 for an empty, over-long or malformed request; 503 while starting or when the
        vector store is unreachable (retry later).
        """
        history = [message.model_dump() for message in request.history]
        return slot.get().ask(request.question, history, channel=channel, user=user_of(http))

    @router.get("/health", response_model=Health, responses=unavailable)
    def health() -> Health | JSONResponse:
        """200 once the Assistant is loaded and its vector store answers; 503 otherwise, with a status that
        says why: loading, failed, unavailable (unreachable), unauthorized (credentials refused),
        needs_rebuild (the index is missing or empty), rebuilding."""
        status = slot.status
        if status != "ready":
            return JSONResponse({"status": status, "detail": slot.detail}, status_code=503)
        bot = slot.get()
        try:
            bot.index.check()
        except IndexUnavailable as problem:
            slot.report(problem)
            return JSONResponse({"status": problem.status, "detail": problem.detail}, status_code=503)
        slot.recovered()
        return Health(
            status="ready",
            corpus_version=bot.corpus.version,
            documents=[d.id for d in bot.corpus.documents],
            vector_store=settings.chroma_mode,
        )

    @router.post("/feedback", status_code=201, responses={404: {"model": Problem}, **unavailable})
    def feedback(request: FeedbackRequest, http: Request) -> dict[str, str]:
        """Record a like ("up") or dislike ("down") of an answer given by this service (by any of its hosts
        when they share a database). 503 when the audit database cannot be reached."""
        try:
            slot.get().audit.record_feedback(
                answer_id=request.answer_id,
                rating=request.rating,
                comment=request.comment,
                user=user_of(http),
            )
        except UnknownAnswer:
            raise HTTPException(404, "No answer with this id was given by this service.") from None
        return {"status": "recorded"}

    return router
