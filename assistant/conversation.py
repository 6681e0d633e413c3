"""Follow-up questions: what to search for, given the chat so far.

Clinicians ask elliptical follow-ups ("And how should it be managed if it happens?"). Without the
earlier turn, retrieval finds nothing specific. ``resolve`` carries the topic of the most recent earlier
user turn that had one into the search query, but only when the new question has no topic of its own: a
follow-up that names a new topic ("What about QT prolongation?") is not polluted by the old. (The
guardrail reads every earlier user turn itself; see ``Assistant.ask``.)

No language model is involved: a topic is the set of corpus words a text mentions (the retrieval
``QueryExpander.clinical_terms``) minus the words that say what to do or when (``conversation.yaml``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cache, cached_property, lru_cache
from pathlib import Path
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from .data import load_data
from .errors import ConfigError, InvalidQuestion
from .text import AUXILIARIES, ordinal_word, stem, words

ROLES = ("user", "assistant", "system")
MAX_TURNS = 50  # the default of Settings.history_turns: the guardrail reads every kept user turn
MAX_MESSAGES = 2 * MAX_TURNS  # a turn is a user message and its answer
MAX_MESSAGE_CHARS = 4000  # older text is not needed to find a topic, and bounds the work per request
CUES_FILE = "conversation.yaml"
# Pointers at an earlier topic that a question with a topic of its own may still use ("does THAT include
# kids?"); "it" is left out: it usually means the drug.
_DEMONSTRATIVES = frozenset({"that", "this", "those", "these", "them", "they"})
# "the first one", "the second one", "the last one", "the latter": an item of the list the last answer gave.
_LIST_POINTER = re.compile(r"\bthe (\w+) one\b|\bthe (latter|former)\b")
_LIST_ENDS = {"last": -1, "latter": -1, "former": 0}
_LIST_SEPARATORS = re.compile(r";|,|\band\b|\bor\b")
# Focus words that may close a question after its verb ("does older age count too?", "... count as well?")
_ADDITIVE = frozenset({"too", "also", "either", "as", "well", "then"})
_PLURAL_MIN = 3  # a plural noun "ones" may stand for is longer than this ("lfts", "drugs"; not "its", "was")
_NOT_PLURAL = frozenset(
    {"ones", "this", "thus", "plus", "always", "perhaps", "status", "besides", "whereas", "across"}
)


class TermSource(Protocol):
    """What ``resolve`` needs from the retrieval ``QueryExpander``."""

    def clinical_terms(self, text: str) -> list[str]: ...


class CuesFile(BaseModel):
    """The schema of ``corpus/conversation.yaml``."""

    model_config = ConfigDict(extra="forbid")

    pronouns: list[str]
    openers: list[str]
    temporal: list[str]
    non_topic_terms: list[str]
    closings: list[str]
    inclusion: list[str] = []
    drug_pronouns: list[str] = []
    drug_name: str = ""


@dataclass(frozen=True)
class Cues:
    """Phrases that mark a follow-up, and corpus words that are not a topic (from conversation.yaml)."""

    pronouns: frozenset[str]
    openers: tuple[tuple[str, ...], ...]
    temporal: tuple[tuple[str, ...], ...]
    non_topic_terms: frozenset[str]
    closings: frozenset[str] = frozenset()
    inclusion: frozenset[str] = frozenset()
    drug_pronouns: frozenset[str] = frozenset()
    drug_name: str = ""

    @cached_property
    def non_topic_stems(self) -> frozenset[str]:
        return frozenset(stem(t) for t in self.non_topic_terms)

    def found_in(self, question: str) -> list[str]:
        """The cues the question uses: pronouns and time phrases anywhere, openers at the start."""
        tokens = tuple(words(question))
        found = [t for t in tokens if t in self.pronouns]
        found += [" ".join(p) for p in self.openers if tokens[: len(p)] == p]
        found += [" ".join(p) for p in self.temporal if _contains(tokens, p)]
        found += self._included(question)
        return list(dict.fromkeys(found))

    def _included(self, question: str) -> list[str]:
        """A yes/no question that ends on a verb of belonging ("does being old count? she is 74"): it asks
        whether its topic is among what was asked before."""
        found = []
        for sentence in re.split(r"[?.!]", question):
            tokens = words(sentence)
            while tokens and tokens[-1] in _ADDITIVE:  # "does older age count too?"
                tokens = tokens[:-1]
            if tokens and tokens[0] in AUXILIARIES and tokens[-1] in self.inclusion:
                found.append(tokens[-1])
        return found

    def is_non_topic(self, term: str) -> bool:
        """True for words that say what to do or when ("managed", "monitoring"), compared by stem."""
        return term.lower() in self.non_topic_terms or stem(term.lower()) in self.non_topic_stems


@dataclass(frozen=True)
class Resolution:
    """How a question is understood in its conversation.

    query:         text the retriever searches with (the question, plus carried topic terms).
    followup:      the question refers back to the conversation.
    carried_terms: topic terms taken from the earlier turn (empty when the question has its own topic).
    hint_terms:    the earlier topic, when a question with its own topic points back at it ("Does that
                   include kids?"): it guides retrieval and hints at the topic, but is not what is asked.
    asked:         the question with "ones" read as the noun it stands for ("which ones exactly?" after
                   "InO and QT drugs?" asks "which drugs exactly?"); "" when it has none.
    """

    query: str
    followup: bool = False
    carried_terms: list[str] = field(default_factory=list)
    hint_terms: list[str] = field(default_factory=list)
    asked: str = ""


def _contains(tokens: tuple[str, ...], phrase: tuple[str, ...]) -> bool:
    n = len(phrase)
    return any(tokens[i : i + n] == phrase for i in range(len(tokens) - n + 1))


@cache
def load_cues(corpus_dir: Path) -> Cues:
    """Read ``conversation.yaml``; a missing or malformed file stops start-up with its name."""
    path = corpus_dir / CUES_FILE
    data = load_data(path, CuesFile, ConfigError).model_dump()
    keys = ("pronouns", "openers", "temporal", "non_topic_terms", "closings", "inclusion", "drug_pronouns")
    phrases = {k: [tuple(words(str(p))) for p in data[k]] for k in keys}
    if any(not p for k in keys for p in phrases[k]):
        raise ConfigError(f"{path} has an empty phrase")
    return Cues(
        pronouns=frozenset(" ".join(p) for p in phrases["pronouns"]),
        openers=tuple(phrases["openers"]),
        temporal=tuple(phrases["temporal"]),
        non_topic_terms=frozenset(" ".join(p) for p in phrases["non_topic_terms"]),
        closings=frozenset(" ".join(p) for p in phrases["closings"]),
        inclusion=frozenset(" ".join(p) for p in phrases["inclusion"]),
        drug_pronouns=frozenset(" ".join(p) for p in phrases["drug_pronouns"]),
        drug_name=str(data["drug_name"]),
    )


def normalize_history(history: object, max_turns: int = MAX_TURNS) -> list[tuple[str, str]]:
    """Turn a chat history into ``(role, text)`` pairs, keeping the last ``max_turns`` user turns (and the
    answers between them).

    Accepts None, a list of ``{"role", "content"}`` dicts, or objects with ``role`` and ``content``
    attributes (Gradio ``ChatMessage``, pydantic models). ``content`` is a string or a list of Gradio 6
    content blocks (``{"type": "text", "text": ...}``; file and component blocks carry no text and are
    skipped). Anything else raises ``InvalidQuestion`` naming the message at fault. Older messages are
    dropped unread so that a huge history costs no more than a short one.
    """
    if history is None:
        return []
    if not isinstance(history, list | tuple):
        raise InvalidQuestion(f"history must be a list of messages, not {type(history).__name__}")
    offset = max(0, len(history) - 2 * max_turns)  # a turn is at most a user message and its answer
    turns: list[tuple[str, str]] = []
    for index, message in enumerate(history[offset:], start=offset):
        role, content = _role_and_content(message, index)
        text = _text_of(content, index).strip()
        if text:
            turns.append((role, text[-MAX_MESSAGE_CHARS:]))
    users = [i for i, (role, _) in enumerate(turns) if role == "user"]
    if len(users) > max_turns:  # several user messages in a row: still only max_turns user turns
        turns = turns[users[-max_turns] :]
    return turns


def _role_and_content(message: object, index: int) -> tuple[str, object]:
    if isinstance(message, Mapping):
        if "role" not in message or "content" not in message:
            raise InvalidQuestion(f"history message {index} needs a 'role' and a 'content'")
        role, content = message["role"], message["content"]
    elif hasattr(message, "role") and hasattr(message, "content"):
        role, content = message.role, message.content
    else:
        raise InvalidQuestion(
            f"history message {index} must be a {{'role', 'content'}} mapping, not {type(message).__name__}"
        )
    if role not in ROLES:
        expected = ", ".join(ROLES)
        raise InvalidQuestion(f"history message {index} has role {role!r}; expected one of {expected}")
    return str(role), content


def _text_of(content: object, index: int) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, Mapping):
        return _block_text(content, index)
    if isinstance(content, Sequence):
        parts = [item if isinstance(item, str) else _block_text(item, index) for item in content]
        return "\n".join(p for p in parts if p)
    raise InvalidQuestion(
        f"history message {index} content must be text or a list of content blocks, "
        f"not {type(content).__name__}"
    )


def _block_text(block: object, index: int) -> str:
    """The text of one Gradio content block; '' for file/component blocks, which carry no question."""
    if isinstance(block, Mapping):
        kind = block.get("type", "text" if "text" in block else None)
        text = block.get("text")
    elif hasattr(block, "type"):  # Gradio's TextMessage / FileMessage models
        kind, text = block.type, getattr(block, "text", None)
    else:
        raise InvalidQuestion(f"history message {index} has a content block of type {type(block).__name__}")
    if kind != "text":
        return ""
    if not isinstance(text, str):
        raise InvalidQuestion(f"history message {index} has a text block without a string 'text'")
    return text


def topic_terms(text: str, expander: TermSource, cues: Cues) -> list[str]:
    """The clinical terms of ``text`` that name what it is about (condition, section, test)."""
    return [t for t in expander.clinical_terms(text) if not cues.is_non_topic(t)]


def unknown_terms(text: str, expander: TermSource, cues: Cues) -> list[str]:
    """Content words the monograph does not know ("pregnancy"), minus the follow-up cues themselves.

    Only the real ``QueryExpander`` reports them (``expand(text).unknown``); a bare term source has none.
    """
    expand = getattr(expander, "expand", None)
    if expand is None:
        return []
    cue_words = {w for phrase in cues.found_in(text) for w in phrase.split()}
    return [w for w in expand(text).unknown if w not in cue_words and not cues.is_non_topic(w)]


def resolve(
    question: str,
    history: list[tuple[str, str]],
    expander: TermSource,
    cues: Cues | None = None,
) -> Resolution:
    """Decide whether ``question`` follows up on the conversation and what topic it inherits (see
    ``_resolve``), with "ones" read as the plural noun of the latest earlier turn that has one."""
    earlier = list(history)
    if earlier and earlier[-1] == ("user", question.strip()):
        earlier.pop()  # the caller passed the current question as the last history message
    noun = _ones_noun(question, earlier)
    if not noun:
        return _resolve(question, earlier, expander, cues)
    asked = re.sub(r"\bones\b", noun, question, flags=re.IGNORECASE)
    return replace(_resolve(asked, earlier, expander, cues), asked=asked)


def _ones_noun(question: str, history: list[tuple[str, str]]) -> str:
    """The noun "ones" stands for: the last plural noun of the latest earlier turn that has one ("InO and QT
    drugs?" then "which ones?": "drugs"; "how often LFTs?", "Weekly." then "which ones exactly?": "lfts")."""
    if "ones" not in words(question):
        return ""
    for _, text in reversed(history):
        plural = [w for w in words(text) if w.endswith("s") and not w.endswith("ss") and len(w) > _PLURAL_MIN]
        plural = [w for w in plural if w not in _NOT_PLURAL and w not in AUXILIARIES]
        if plural:
            return plural[-1]
    return ""


def _resolve(
    question: str,
    earlier: list[tuple[str, str]],
    expander: TermSource,
    cues: Cues | None = None,
) -> Resolution:
    """Decide whether ``question`` follows up on the ``earlier`` turns and what topic it inherits.

    - No earlier user turn with a topic: the question stands alone.
    - The question names a topic the monograph knows: it wins, nothing is carried (even after "and").
    - Otherwise it is a follow-up: retrieval searches with the earlier topic terms added (so "And how
      should it be managed?" after a question on SOS is about SOS), unless the question brings a topic
      the monograph does not know ("What about in pregnancy?"): carrying the old topic would then
      answer a question that was not asked.
    """
    cues = cues if cues is not None else default_cues()
    if set(words(question)) <= cues.closings:
        return Resolution(query=question)  # "Thanks!" is not a question about the last topic
    item = _pointed_item(question, earlier, expander, cues)
    if item:  # "Mainly hepatotoxicity and myelosuppression." then "how do we monitor for the first one?"
        carried = topic_terms(item, expander, cues)
        return Resolution(query=" ".join([question.strip(), item]), followup=True, carried_terms=carried)
    pointed = _last_topic_turn(earlier, expander, cues)  # the turn whose topic a follow-up inherits
    previous_terms = list(dict.fromkeys(topic_terms(pointed, expander, cues)))
    if not previous_terms:
        if _about_the_drug(question, earlier, expander, cues):
            drug = cues.drug_name
            return Resolution(query=f"{question.strip()} {drug}", followup=True, carried_terms=[drug])
        return Resolution(query=question)
    if topic_terms(question, expander, cues):
        pointers = set(cues.found_in(question)) & (_DEMONSTRATIVES | cues.inclusion)
        if not pointers:
            return Resolution(query=question, followup=bool(cues.found_in(question)))
        hints = [t for t in previous_terms if t.lower() not in set(words(question))]
        # searched with the question it points back to: "does that include kids?" after "what is it
        # indicated for?" is close in meaning to the indication sentence only read together with it
        return Resolution(query=" ".join([question.strip(), pointed]), followup=True, hint_terms=hints)
    if unknown_terms(question, expander, cues):
        return Resolution(query=question, followup=True)
    asked = set(words(question))
    carried = [t for t in previous_terms if t.lower() not in asked]
    query = " ".join([question.strip(), *carried])
    return Resolution(query=query, followup=True, carried_terms=carried)


def _about_the_drug(question: str, earlier: list[tuple[str, str]], expander: TermSource, cues: Cues) -> bool:
    """ "it" in a question with no topic, after a question with none that names the drug: the drug ("What is
    inotuzumab?" then "what are the big safety concerns with it?"); not after one that also names something
    the monograph does not know ("inotuzumab or blinatumomab?"), nor in a question that does."""
    expand = getattr(expander, "expand", None)
    asked = [text for role, text in earlier if role == "user"]
    if expand is None or not asked or not cues.drug_name or not set(words(question)) & cues.drug_pronouns:
        return False
    if topic_terms(question, expander, cues) or unknown_terms(question, expander, cues):
        return False
    return bool(expand(asked[-1]).subject) and not unknown_terms(asked[-1], expander, cues)


def _pointed_item(question: str, history: list[tuple[str, str]], expander: TermSource, cues: Cues) -> str:
    """The item of the list the last answer gave that the question points at by its place ("the first one",
    "the latter"), or "": the items are what the answer names, apart from what it adds in brackets, after
    the colon that opens a list, split at semicolons, commas and "and"/"or"; only those with a topic count."""
    match = _LIST_POINTER.search(question.lower())
    answers = [text for role, text in history if role == "assistant"]
    if match is None or not answers:
        return ""
    word = match.group(1) or match.group(2)
    place = _LIST_ENDS[word] if word in _LIST_ENDS else ordinal_word(word) - 1
    if place < -1 or (place == -1 and word not in _LIST_ENDS):  # "the other one": no place
        return ""
    listed = re.sub(r"\([^)]*\)", " ", answers[-1]).rsplit(":", 1)[-1]
    items = [i for i in _LIST_SEPARATORS.split(listed) if topic_terms(i, expander, cues)]
    return items[place].strip(" .!?") if -len(items) <= place < len(items) and len(items) > 1 else ""


def _last_topic_turn(history: list[tuple[str, str]], expander: TermSource, cues: Cues) -> str:
    """The most recent user turn that has a topic ("" if none has)."""
    for role, text in reversed(history):
        if role == "user" and topic_terms(text, expander, cues):
            return text
    return ""


def default_cues() -> Cues:
    """The cues shipped in the repository's corpus folder (callers with settings use ``load_cues``)."""
    from .settings import PROJECT_ROOT

    return load_cues(PROJECT_ROOT / "corpus")


_QUOTED_RUN = 6  # words in a row an earlier answer must share with a passage to have quoted it


@lru_cache(maxsize=1024)
def _word_runs(text: str) -> frozenset[tuple[str, ...]]:
    """Every run of ``_QUOTED_RUN`` words in a text (memoised: the passages are the same on every ask)."""
    w = words(text)
    return frozenset(tuple(w[i : i + _QUOTED_RUN]) for i in range(len(w) - _QUOTED_RUN + 1))


def quoted_before(history: Sequence[tuple[str, str]], passages: Sequence[tuple[str, str]]) -> frozenset[str]:
    """Ids of the passages (id, text) that an earlier answer in this conversation quoted: a run of words
    shared with an assistant turn. A follow-up about the same passage ("so peds ok? what age?") is close
    to it through the conversation, even when the short question alone is far from it in meaning."""
    said = frozenset().union(*(_word_runs(text) for role, text in history if role == "assistant"))
    if not said:
        return frozenset()
    return frozenset(pid for pid, text in passages if _word_runs(text) & said)
