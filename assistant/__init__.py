"""Besponsa precautions assistant: grounded, quoted answers with a deterministic guardrail.

from assistant import Assistant
bot = Assistant.from_settings()
ans = bot.ask("How often are LFTs checked?")
"""

from .assistant import Assistant
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
