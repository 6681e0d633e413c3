"""Every documented setting works as documented, set the way hospital IT sets it: through the environment of
a real process (``python -m assistant settings`` and ``python app.py``)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.errors import ConfigError
from assistant.settings import PROJECT_ROOT, Settings, describe, load_settings, settings_table, variable
from tests.procs import child_env

README = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")

# Per setting: a well-formed value (and how `settings` shows it), and a malformed one.
CASES = {
    "corpus_dir": ("/tmp/other-corpus", "/tmp/other-corpus", "\t"),
    "data_dir": ("/tmp/other-data", "/tmp/other-data", " "),
    "embedding_model": ("/opt/models/minilm", "/opt/models/minilm", "bad\nname"),
    "encoder": ("torch", "torch", "gpu"),
    "encoder_threads": ("1", "1", "-1"),
    "encoder_batching": ("true", "True", "often"),
    "cache_size": ("0", "0", "-1"),
    "chroma_mode": ("server", "server", "cluster"),
    "chroma_host": ("10.0.0.5", "10.0.0.5", "two words"),
    "chroma_port": ("8001", "8001", "eighty"),
    "chroma_ssl": ("true", "True", "maybe"),
    "chroma_auth_header": ("Authorization: Bearer s3cret", "********", "Bearer-without-a-name"),
    "collection": ("ward_7", "ward_7", "x"),
    "max_question_chars": ("500", "500", "5"),
    "history_turns": ("20", "20", "0"),
    "top_k": ("5", "5", "500"),
    "llm_base_url": ("http://127.0.0.1:8000/v1", "http://127.0.0.1:8000/v1", "127.0.0.1:8000"),
    "llm_model": ("local-model", "local-model", " "),
    "llm_api_key": ("sk-123", "********", " sk-123 "),
    "llm_timeout_s": ("12.5", "12.5", "-1"),
    "store_question_text": ("true", "True", "sometimes"),
    "database_url": (
        "postgresql+psycopg://audit:s3cret@db.hospital.example:5432/audit",
        "********",
        "ftp://db/x",
    ),
    "host": ("127.0.0.2", "127.0.0.2", "my host"),
    "port": ("8081", "8081", "70000"),
    "workers": ("2", "2", "0"),
    "allowed_origins": (
        "https://intranet.hospital.example, https://wards.hospital.example",
        "https://intranet.hospital.example,https://wards.hospital.example",
        "intranet.hospital.example",
    ),
    "user_header": ("X-Forwarded-User", "X-Forwarded-User", "X Forwarded User"),
    "trusted_proxies": ("10.0.0.5, 10.1.0.0/16", "10.0.0.5,10.1.0.0/16", "proxy.hospital"),
}


def run(args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    environment = child_env()
    environment.update(env)
    return subprocess.run(
        [sys.executable, *args],
        cwd=PROJECT_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_every_setting_is_documented_and_tested() -> None:
    assert set(CASES) == set(Settings.model_fields)


def test_the_readme_table_is_the_code_s() -> None:
    """The README's settings table is exactly what the fields say (names, defaults, meanings)."""
    assert settings_table() in README
    documented = set(re.findall(r"\| `(ASSISTANT_[A-Z_]+)` \|", README))
    assert documented == {variable(name) for name in Settings.model_fields}


@pytest.mark.process
@pytest.mark.parametrize("name", sorted(CASES))
def test_a_well_formed_value_takes_effect(name: str) -> None:
    value, shown, _ = CASES[name]
    done = run(["-m", "assistant", "settings"], **{variable(name): value})
    assert done.returncode == 0, done.stderr
    line = next(line for line in done.stdout.splitlines() if line.startswith(variable(name) + " "))
    assert line.split()[-1] == "[environment]"
    assert shown in line
    if shown == "********":
        assert value not in done.stdout  # secrets are masked


@pytest.mark.process
@pytest.mark.parametrize("name", sorted(CASES))
def test_a_malformed_value_gets_one_line_from_the_cli(name: str, tmp_path: Path) -> None:
    _, _, bad = CASES[name]
    env = {"ASSISTANT_DATA_DIR": str(tmp_path), variable(name): bad}
    done = run(["-m", "assistant", "settings"], **env)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {variable(name)}: "), done.stderr
    assert "; expected " in lines[0] and "Traceback" not in done.stderr


@pytest.mark.process
@pytest.mark.parametrize("name", sorted(CASES))
def test_a_malformed_value_stops_app_py_with_one_line(name: str, tmp_path: Path) -> None:
    _, _, bad = CASES[name]
    data = tmp_path / "data"
    env = (
        {variable(name): bad}
        if name == "data_dir"
        else {variable(name): bad, "ASSISTANT_DATA_DIR": str(data)}
    )
    done = run([str(PROJECT_ROOT / "app.py")], **env)
    assert done.returncode != 0
    lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"cannot start: {variable(name)}: "), done.stderr
    assert "Traceback" not in done.stderr
    assert not data.exists()  # nothing written to the data folder


@pytest.mark.process
def test_evals_stop_with_one_line_on_bad_configuration(tmp_path: Path) -> None:
    done = run(["-m", "evals", "--no-baseline", "--limit", "1"], ASSISTANT_TOP_K="many")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].startswith("error: ASSISTANT_TOP_K: ")
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    "raw",
    [
        "https://intranet.hospital.example,https://wards.hospital.example",
        '["https://intranet.hospital.example", "https://wards.hospital.example"]',
        " https://intranet.hospital.example/ , https://wards.hospital.example ",
    ],
)
def test_origins_as_comma_separated_or_json(raw: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSISTANT_ALLOWED_ORIGINS", raw)
    assert load_settings().allowed_origins == [
        "https://intranet.hospital.example",
        "https://wards.hospital.example",
    ]


def test_a_bad_origin_names_the_variable_and_the_form(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSISTANT_ALLOWED_ORIGINS", '["https://ok.example", "not an origin"]')
    with pytest.raises(
        ConfigError, match=r"^ASSISTANT_ALLOWED_ORIGINS: .*expected comma-separated origins like"
    ):
        load_settings()


def test_describe_masks_secrets() -> None:
    settings = Settings(llm_api_key="sk-very-secret", chroma_auth_header="Authorization: Bearer s3cret")
    shown = {name: value for name, value, _ in describe(settings, {})}
    assert shown["ASSISTANT_LLM_API_KEY"] == "********"
    assert shown["ASSISTANT_CHROMA_AUTH_HEADER"] == "********"
