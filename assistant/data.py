"""The one loader of the corpus data files (``corpus/*.yaml``): YAML in, a validated pydantic model out.

Why one: the data files (rules, lab limits, synonyms, answer types, conversation cues, suggestions, model-text
checks, and since round 33 other languages' clinical words) used to be read five different ways. Now each has
one schema class, and every way a file can be wrong (missing, not UTF-8, not YAML, a misspelt key, a wrong
type) raises one error naming the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from .errors import AssistantError, CorpusError

M = TypeVar("M")


# libyaml's parser where PyYAML was built with it: the same documents, parsed about eight times faster (the
# evaluation sets hold some 17,000 situations, read by every test worker and every evaluation run)
_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse_yaml(text: str) -> Any:
    """Safe YAML, as ``yaml.safe_load`` reads it, for the evaluation sets and reports."""
    return yaml.load(text, Loader=_SafeLoader)


class _UniqueKeyLoader(_SafeLoader):
    """Safe YAML that refuses a key written twice in one mapping: PyYAML would keep the last silently, so
    a second "hepatotoxicity:" entry in synonyms.yaml would drop the first one's variants unnoticed."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} appears twice in one mapping", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def read_yaml(path: Path, error: type[AssistantError] = CorpusError) -> Any:
    """Parse a data file; a missing, broken or ambiguous (duplicate key) file raises ``error`` naming it."""
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise error(f"cannot read {path}: {exc}") from exc


def load_data(path: Path, schema: type[M] | Any, error: type[AssistantError] = CorpusError) -> M:
    """Read ``path`` and validate it against ``schema`` (a pydantic model or any type pydantic knows)."""
    raw = read_yaml(path, error)
    try:
        return TypeAdapter(schema).validate_python(raw)
    except (ValidationError, ValueError) as exc:
        raise error(f"{path.name} does not follow its schema: {exc}") from exc


MEDICINES_FILE = "drug_names.yaml"


class DrugNames(BaseModel):
    """The schema of ``corpus/drug_names.yaml``: other medicines' names, one per line, written by
    tools/drug_names.py."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str = Field(min_length=1)
    names: str = Field(min_length=1)

    def as_set(self) -> frozenset[str]:
        return frozenset(line.strip() for line in self.names.splitlines() if line.strip())


def load_medicines(folder: Path, error: type[AssistantError] = CorpusError) -> frozenset[str]:
    """Other medicines' names (``corpus/drug_names.yaml``): the guardrail reads what a decision acts on by
    them, and the question reader never "corrects" one into an everyday word ("mesna" is no "mesa")."""
    return load_data(folder / MEDICINES_FILE, DrugNames, error).as_set()
