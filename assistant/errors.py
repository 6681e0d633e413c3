"""Errors the assistant raises on purpose.

    AssistantError
    ├── ConfigError          settings that cannot work (bad model path, bad data folder)
    ├── CorpusError          a monograph or its provenance is missing, malformed or changed
    ├── RulesError           rules.yaml is malformed or quotes text that is not in the corpus
    ├── IndexUnavailable     the vector store cannot be reached (server down); retry later
    └── InvalidQuestion      a question that is empty or too long; nothing was asked

Start-up errors (Config/Corpus/Rules) fail closed: the program stops rather than serve unchecked text.
"""

from __future__ import annotations


class AssistantError(Exception):
    """Base class for every error raised on purpose by this package."""


class ConfigError(AssistantError):
    """Settings that cannot work."""


class CorpusError(AssistantError):
    """A monograph or its provenance is missing, malformed or changed."""


class RulesError(AssistantError):
    """The guardrail rules file is malformed or not grounded in the corpus."""


class IndexUnavailable(AssistantError):
    """The vector store cannot be reached; the request may succeed later."""


class InvalidQuestion(AssistantError, ValueError):
    """The question is empty or too long."""
