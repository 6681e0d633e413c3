"""Errors the assistant raises on purpose.

    AssistantError
    ├── ConfigError          settings that cannot work (bad model path, bad data folder)
    ├── CorpusError          a monograph or its provenance is missing, malformed or changed
    ├── RulesError           rules.yaml is malformed or quotes text that is not in the corpus
    ├── IndexUnavailable     the vector store cannot answer; ``status`` and ``detail`` say why and what to do
    │   ├── StoreUnreachable nothing answers at the Chroma server's address; retry later
    │   ├── StoreRejected    the Chroma server refused the credentials (401/403): fix the setting
    │   └── IndexMissing     the collection is missing or empty (the server lost its data): rebuild it
    │       └── IndexRebuilding  another process is rebuilding it: wait
    ├── AuditUnavailable     the audit database cannot be reached or used (ASSISTANT_DATABASE_URL)
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
    """The vector store cannot answer. ``str(exc)`` is for the log (what an operator should do);
    ``detail`` is for a clinician; ``status`` for /api/health; ``retry`` whether trying again may help."""

    status = "unavailable"
    detail = (
        "The monograph index is unavailable right now, so no answer can be given. Please try again shortly."
    )
    retry = True


class StoreUnreachable(IndexUnavailable):
    """Nothing answers at the Chroma server's address (down, restarting, or a wrong host or port)."""

    detail = (
        "The monograph index is unavailable right now (its server cannot be reached), so no answer can be "
        "given. Please try again shortly."
    )


class StoreRejected(IndexUnavailable):
    """The Chroma server (or the proxy in front of it) refused the credentials: retrying will not help."""

    status = "unauthorized"
    detail = (
        "The monograph index is unavailable: its server refused the assistant's credentials. Trying again "
        "will not help; please contact the service desk."
    )
    retry = False


class IndexMissing(IndexUnavailable):
    """The collection is gone or empty (a server that lost its data): it must be rebuilt."""

    status = "needs_rebuild"
    detail = (
        "The monograph index is missing from its server and needs a rebuild; no answer can be given until "
        "then. Please contact the service desk."
    )
    retry = False


class AuditUnavailable(AssistantError):
    """The audit database cannot be reached or used. ``str(exc)`` names it (never its password) for the log;
    ``detail`` is for a clinician. At start-up it stops the program with that one line."""

    detail = (
        "The audit record is unavailable right now, so this could not be recorded. Please try again shortly."
    )


class InvalidQuestion(AssistantError, ValueError):
    """The question is empty or too long."""


class IndexRebuilding(IndexMissing):
    """The collection is being rebuilt by a live process (``python -m assistant index``, another worker)."""

    status = "rebuilding"
    detail = (
        "The monograph index is being rebuilt, so no answer can be given yet. Please try again in a few "
        "minutes."
    )
    retry = True
