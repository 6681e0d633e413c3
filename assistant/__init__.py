"""Besponsa precautions assistant: grounded, quoted answers with a deterministic guardrail.

from assistant import Assistant
bot = Assistant.from_settings()
ans = bot.ask("How often are LFTs checked?")
"""

from typing import TYPE_CHECKING, Any

from .errors import (
    AssistantError,
    AuditUnavailable,
    ConfigError,
    CorpusError,
    IndexUnavailable,
    InvalidQuestion,
    RulesError,
)
from .models import Answer, Passage, Quote, RuleHit
from .settings import Settings

if TYPE_CHECKING:
    from .assistant import Assistant


def __getattr__(name: str) -> Any:
    """``Assistant`` is imported on first use: it pulls in the model runtime, Chroma and LangChain, which
    ``python -m assistant settings`` or ``audit`` never need (they start in a fraction of the time)."""
    if name == "Assistant":
        from .assistant import Assistant

        return Assistant
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Answer",
    "Assistant",
    "AssistantError",
    "AuditUnavailable",
    "ConfigError",
    "CorpusError",
    "IndexUnavailable",
    "InvalidQuestion",
    "Passage",
    "Quote",
    "RuleHit",
    "RulesError",
    "Settings",
]
