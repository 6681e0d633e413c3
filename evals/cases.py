"""The dataset format (one JSON case per line) and its loader, shared by every evaluation entry point.

Its own module so that the run, the report and the blind comparison read one definition of a case.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .metrics import Expected

DEFAULT_DATASET = Path(__file__).resolve().parent / "dataset.jsonl"


class DatasetError(ValueError):
    """A dataset line that does not follow the fixed format; the message names the file and line."""


class Message(BaseModel):
    """One conversation turn. ``content`` may be Gradio's list of content blocks as well as text."""

    model_config = ConfigDict(extra="forbid")

    role: Literal["user", "assistant"]
    content: str | list[dict[str, Any]]


class Case(BaseModel):
    """One line of ``dataset.jsonl`` (the format other teams write their own sets in)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    category: str = Field(min_length=1)
    question: str = Field(min_length=1)
    history: list[Message] | None = None
    answerable: bool
    evidence: list[str]
    must_include: list[str]
    guardrail: list[str]
    # Partly covered questions: words the answer must name as not covered ("ursodiol").
    not_covered: list[str] = Field(default_factory=list)

    @field_validator("evidence", "must_include", "guardrail", "not_covered")
    @classmethod
    def _no_blank_strings(cls, values: list[str]) -> list[str]:
        if any(not v.strip() for v in values):
            raise ValueError("contains an empty string")
        return values

    @model_validator(mode="after")
    def _evidence_matches_answerability(self) -> Case:
        """Unanswerable cases rest on nothing; answerable ones must name what they rest on."""
        if not self.answerable and self.evidence:
            raise ValueError("an unanswerable case must have empty evidence")
        if self.answerable and not self.evidence:
            raise ValueError("an answerable case needs at least one evidence sentence")
        return self

    def expected(self) -> Expected:
        return Expected(
            answerable=self.answerable,
            evidence=tuple(self.evidence),
            must_include=tuple(self.must_include),
            guardrail=tuple(self.guardrail),
        )

    def history_dicts(self) -> list[dict[str, Any]] | None:
        return None if self.history is None else [m.model_dump() for m in self.history]


def load_dataset(path: Path) -> list[Case]:
    """Parse and validate every line; the first bad line stops the run with its line number."""
    if not path.is_file():
        raise DatasetError(f"{path}: no such dataset file")
    cases: list[Case] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            case = Case.model_validate_json(line)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or 'line'}: {err['msg']}" for err in exc.errors()
            )
            raise DatasetError(f"{path}:{number}: invalid case: {problems}") from None
        if case.id in seen:
            raise DatasetError(f"{path}:{number}: duplicate id {case.id!r} (first on line {seen[case.id]})")
        seen[case.id] = number
        cases.append(case)
    if not cases:
        raise DatasetError(f"{path}: no cases")
    return cases
