"""The rules file, ``corpus/rules.yaml``: its schema, reading it, and compiling it against the corpus.

Why separate: this is where the guardrail fails closed. Every way a rules file can be wrong (unreadable, not
YAML, a misspelt key, an unknown action or condition, a bad regex, a source sentence that is not verbatim in
the monograph) raises ``RulesError`` here, before a single question is checked.

The schema classes keep their leading underscores: pydantic prints their names in validation errors, which
``RulesError`` passes on to whoever has to fix the file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..corpus import Corpus
from ..data import read_yaml
from ..errors import RulesError
from ..models import Action, Quote
from .matching import Terms

ACTIONS: tuple[str, ...] = get_args(Action)

# ------------------------------------------------------------------------------------------ rules-file schema


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Regex(_Strict):
    re: str = Field(min_length=1)


Term = str | _Regex


class _Entry(_Strict):
    any: list[Term] = Field(default_factory=list)
    near: list[list[Term]] = Field(default_factory=list)
    window: int = Field(default=4, ge=0, le=20)
    negatable: bool = True
    # The two words of a `near` pair must share a clause (default) or only a sentence: "wheeze and throat
    # tightness during the infusion" is one reaction though "and" ends a clause.
    scope: Literal["clause", "sentence"] = "clause"
    # A statement that the tests are normal ("LFTs fine"): it ends an earlier abnormal finding, fires nothing.
    normal: bool = False
    # A recovery phrase ("LFTs back to normal"): a question about resuming after a hold (see resume_intents).
    resume: bool = False

    @model_validator(mode="after")
    def _one_kind(self) -> _Entry:
        if bool(self.any) == bool(self.near):
            raise ValueError("a match entry needs exactly one of `any` (a list) or `near` (two lists)")
        if self.near and (len(self.near) != 2 or not all(self.near)):
            raise ValueError("`near` must hold exactly two non-empty lists")
        return self


class _Negation(_Strict):
    before: list[Term] = Field(default_factory=list)
    after: list[Term] = Field(default_factory=list)


class _GlobalNegation(_Negation):
    window: int = Field(ge=0, le=10)
    not_negation: list[Term] = Field(default_factory=list)
    retraction: list[Term] = Field(default_factory=list)


class _ConditionSeverity(_Strict):
    words: list[Term] = Field(min_length=1)
    window: int = Field(default=5, ge=0, le=20)


class _Signs(_Strict):
    """Signs that together suggest a condition: at least `min` different groups in one text."""

    min: int = Field(ge=2)
    groups: dict[str, list[Term]] = Field(min_length=2)
    labs: list[str] = Field(default_factory=list)  # a raised value of these analytes is a group of its own


class _Condition(_Strict):
    label: str = Field(min_length=1)  # how a reason names it: "an abnormal liver test"
    match: list[_Entry] = Field(min_length=1)
    negation: _Negation = Field(default_factory=_Negation)
    severity: _ConditionSeverity | None = None
    signs: _Signs | None = None
    # A reaction to the product: a reaction to another product ("during the platelet transfusion") is not it.
    reaction: bool = False


class _PastResolved(_Strict):
    resolved: list[Term] = Field(min_length=1)
    past: list[Term] = Field(min_length=1)
    day: list[Term] = Field(default_factory=list)  # a treatment day's label ("C1D8")
    today: list[Term] = Field(default_factory=list)  # words that make a day label the current one


class _MistakenBelief(_Strict):
    belief: list[Term] = Field(min_length=1)
    contrast: list[Term] = Field(min_length=1)


class _Rule(_Strict):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    action: str
    condition: str
    message: str = Field(min_length=1)
    sources: list[str] = Field(min_length=1)
    severity: Literal["required", "excluded"] | None = None
    requires_intent: bool = True


class _CriteriaGroup(_Strict):
    words: list[Term] = Field(min_length=1)
    fire: list[str] = Field(min_length=1)
    unless: list[Term] = Field(default_factory=list)


class _Criteria(_Strict):
    cues: list[Term] = Field(min_length=1)
    groups: list[_CriteriaGroup] = Field(min_length=1)
    # the question said of what was told before ("is that a reason to stop it for good?")
    back: list[Term] = Field(default_factory=list)


class _Fuzzy(_Strict):
    min_length: int = Field(default=7, ge=4)
    long_length: int = Field(default=10, ge=4)
    not_typos: list[str] = Field(default_factory=list)


class _CycleCount(_Strict):
    """Counting cycles across turns: the words for a cycle, and for asking one more."""

    cycle_words: list[str] = Field(default_factory=list)
    one_more: list[Term] = Field(default_factory=list)
    next_one: list[str] = Field(default_factory=list)  # "one more cycle": the next, whichever number
    more_then: list[str] = Field(default_factory=list)  # "one more BEFORE transplant": timing, not a noun
    durations: list[str] = Field(default_factory=list)  # "cycle three MONTHS ago": a time, not a number


class _AskedObject(_Strict):
    """What the verb of a question acts on: our treatment ("give D8?") or something else ("start G-CSF?")."""

    askers: list[Term] = Field(min_length=1)  # what opens the verb's slot: "should we", "ok to"
    choosers: list[Term] = Field(default_factory=list)  # what opens an object's slot: "which", "what about"
    skip: list[str] = Field(default_factory=list)  # determiners and adverbs before the object
    ends: list[str] = Field(default_factory=list)  # words after which the object is over
    ours: list[Term] = Field(default_factory=list)  # objects that are our treatment besides its own words
    gives_other: list[str] = Field(default_factory=list)  # verbs that give another product: "transfuse"
    acts: list[str] = Field(default_factory=list)  # procedures and tests: "the dental extraction", "a scan"


class _AskedElsewhere(_Strict):
    """A question for a thing, a person or a number beside a finding ("ALT 138, what's the bleep for
    hepatology?"): opened by one of ``openers``, naming none of ``decision_words``."""

    openers: list[Term] = Field(min_length=1)
    fillers: list[str] = Field(default_factory=list)  # words before the opener: "so", "and", "unrelated"
    decision_words: list[Term] = Field(default_factory=list)


class _RulesFile(_Strict):
    version: Literal[1]
    boundaries: list[Term] = Field(min_length=1)
    not_boundaries: list[Term] = Field(default_factory=list)
    sentence_ends: list[Term] = Field(min_length=1)
    list_joiners: list[Term] = Field(default_factory=list)
    masked: list[Term] = Field(default_factory=list)
    intent: list[Term] = Field(min_length=1)
    asks: list[Term] = Field(min_length=1)
    informational: list[Term] = Field(default_factory=list)
    observation: list[Term] = Field(default_factory=list)
    severity: list[Term] = Field(min_length=1)
    mild: list[Term] = Field(default_factory=list)
    other_patient: list[Term] = Field(default_factory=list)
    other_product: list[Term] = Field(default_factory=list)
    product_stems: list[str] = Field(default_factory=list)
    infusion_words: list[str] = Field(default_factory=list)
    treatment_verbs: list[str] = Field(default_factory=list)
    reaction_names: list[str] = Field(default_factory=list)
    own_product: list[Term] = Field(default_factory=list)
    patient_ref: list[Term] = Field(default_factory=list)
    patient_deixis: list[Term] = Field(default_factory=list)
    resume_intents: list[Term] = Field(default_factory=list)
    held: list[Term] = Field(default_factory=list)
    held_ended: list[Term] = Field(default_factory=list)
    rest_of: list[Term] = Field(default_factory=list)
    cycle_count: _CycleCount = Field(default_factory=lambda: _CycleCount())
    patient_switch: list[Term] = Field(default_factory=list)
    every_patient: list[Term] = Field(default_factory=list)
    patient_described: list[Term] = Field(default_factory=list)
    retract_back: list[Term] = Field(default_factory=list)
    correction: list[Term] = Field(default_factory=list)
    before_drug: list[Term] = Field(default_factory=list)
    never_given: list[Term] = Field(default_factory=list)
    past_resolved: _PastResolved | None = None
    mistaken_belief: _MistakenBelief | None = None
    own_context: list[Term] = Field(default_factory=list)
    asked_object: _AskedObject | None = None
    asked_elsewhere: _AskedElsewhere | None = None
    under_way: list[Term] = Field(default_factory=list)
    negation: _GlobalNegation
    hypothetical: _Negation
    conditional: list[Term] = Field(default_factory=list)
    fuzzy: _Fuzzy = Field(default_factory=_Fuzzy)
    criteria: _Criteria
    shared: dict[str, Any] = Field(default_factory=dict)  # YAML anchors only; not read
    conditions: dict[str, _Condition] = Field(min_length=1)
    rules: list[_Rule] = Field(min_length=1)


RulesFile = _RulesFile  # the name the rest of the package uses


def read_rules(path: Path) -> RulesFile:
    """Read and validate ``path``; any problem raises ``RulesError`` naming it (fail closed)."""
    source = str(path)
    if not path.is_file():
        raise RulesError(f"cannot read rules file {source}: no such file")
    try:
        raw = read_yaml(path, RulesError)
    except RulesError as exc:
        raise RulesError(f"rules file {source} is not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise RulesError(f"rules file {source} must be a YAML mapping, not {type(raw).__name__}")
    try:
        return _RulesFile.model_validate(raw)
    except ValidationError as exc:
        raise RulesError(f"rules file {source} does not follow the rules schema: {exc}") from exc


# ------------------------------------------------------------------------------------------- compiled rules


@dataclass(frozen=True)
class CompiledEntry:
    any: Terms | None
    near: tuple[Terms, Terms] | None
    window: int
    negatable: bool
    scope: str = "clause"
    normal: bool = False
    resume: bool = False


@dataclass(frozen=True)
class CompiledSigns:
    name: str
    words: Terms


@dataclass(frozen=True)
class CompiledCondition:
    name: str
    entries: tuple[CompiledEntry, ...]
    before: Terms
    after: Terms
    severity: Terms | None  # words that make THIS condition severe, only near a mention of it
    severity_window: int
    label: str = ""
    signs: tuple[CompiledSigns, ...] = ()
    signs_min: int = 0
    sign_labs: tuple[str, ...] = ()
    reaction: bool = False


@dataclass(frozen=True)
class CompiledRule:
    id: str
    action: Action
    condition: str
    message: str
    quotes: tuple[Quote, ...]
    severity: Literal["required", "excluded"] | None
    requires_intent: bool


@dataclass(frozen=True)
class CompiledGroup:
    words: Terms
    fire: tuple[str, ...]
    unless: Terms


def compile_rule(rule: _Rule, spec: RulesFile, corpus: Corpus, source: str) -> CompiledRule:
    """A rule whose action and condition exist and whose source sentences are verbatim in the corpus."""
    where = f"{source}: rule {rule.id!r}"
    if rule.action not in ACTIONS:
        raise RulesError(f"{where} has unknown action {rule.action!r}; expected one of {list(ACTIONS)}")
    if rule.condition not in spec.conditions:
        raise RulesError(f"{where} names unknown condition {rule.condition!r}")
    quotes = []
    for sentence in rule.sources:
        quote = corpus.locate(sentence)
        if quote is None:
            raise RulesError(f"{where}: source sentence is not verbatim in the corpus: {sentence!r}")
        quotes.append(quote)
    return CompiledRule(
        id=rule.id,
        action=rule.action,  # type: ignore[arg-type]  # checked against ACTIONS above
        condition=rule.condition,
        message=" ".join(rule.message.split()),
        quotes=tuple(quotes),
        severity=rule.severity,
        requires_intent=rule.requires_intent,
    )


def compile_condition(name: str, cond: _Condition, source: str) -> CompiledCondition:
    where = f"{source}: condition {name!r}"
    entries = []
    for i, entry in enumerate(cond.match):
        at = f"{where} match[{i}]"
        entries.append(
            CompiledEntry(
                any=Terms(entry.any, at) if entry.any else None,
                near=(Terms(entry.near[0], at), Terms(entry.near[1], at)) if entry.near else None,
                window=entry.window,
                negatable=entry.negatable,
                scope=entry.scope,
                normal=entry.normal,
                resume=entry.resume,
            )
        )
    signs = cond.signs
    return CompiledCondition(
        name=name,
        entries=tuple(entries),
        before=Terms(cond.negation.before, f"{where} negation.before"),
        after=Terms(cond.negation.after, f"{where} negation.after"),
        severity=Terms(cond.severity.words, f"{where} severity") if cond.severity else None,
        severity_window=cond.severity.window if cond.severity else 0,
        label=cond.label,
        signs=tuple(
            CompiledSigns(group, Terms(terms, f"{where} signs.{group}"))
            for group, terms in signs.groups.items()
        )
        if signs
        else (),
        signs_min=signs.min if signs else 0,
        sign_labs=tuple(signs.labs) if signs else (),
        reaction=cond.reaction,
    )


def compile_group(index: int, group: _CriteriaGroup, source: str) -> CompiledGroup:
    where = f"{source}: criteria.groups[{index}]"
    unknown = [a for a in group.fire if a not in ACTIONS]
    if unknown:
        raise RulesError(f"{where} fires unknown action {unknown}; expected one of {list(ACTIONS)}")
    return CompiledGroup(Terms(group.words, where), tuple(group.fire), Terms(group.unless, where))
