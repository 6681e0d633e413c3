"""Follow-up questions: history normalisation, topic carrying, suggestions, and multi-turn conversations.

Pure tests of ``resolve`` use a tiny deterministic expander; the conversations run through the real
assistant (real model, real Chroma in a tmp folder, real guardrail).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import gradio as gr
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assistant.conversation import (
    MAX_MESSAGES,
    MAX_TURNS,
    Cues,
    load_cues,
    normalize_history,
    quoted_before,
    resolve,
)
from assistant.corpus import load_corpus
from assistant.errors import ConfigError, InvalidQuestion
from assistant.retrieval import QueryExpander
from assistant.settings import PROJECT_ROOT
from assistant.suggestions import Suggestions
from assistant.text import words

CORPUS_DIR = PROJECT_ROOT / "corpus"
_KEYS = ["role", "content", "type", "text", "file", "assistant"]
SOS_TERMS = ["sinusoidal", "obstruction", "syndrome"]


class FakeExpander:
    """Maps a few words to corpus terms, like ``QueryExpander.clinical_terms``, deterministically."""

    TERMS: ClassVar[dict[str, list[str]]] = {
        "sos": SOS_TERMS,
        "qt": ["qt", "interval", "prolongation"],
        "liver": ["liver"],
        "platelets": ["platelets"],
        "managed": ["managed"],
        "monitor": ["monitor"],
        "watch": ["monitor"],
    }

    def clinical_terms(self, text: str) -> list[str]:
        return [t for w in words(text) for t in self.TERMS.get(w, [])]


@pytest.fixture(scope="module")
def cues() -> Cues:
    return load_cues(CORPUS_DIR)


@pytest.fixture(scope="module")
def expander() -> QueryExpander:
    corpus = load_corpus(CORPUS_DIR)
    return QueryExpander.from_file(CORPUS_DIR / "synonyms.yaml", corpus)


# --------------------------------------------------------------------------------------------------
# normalize_history


@dataclass
class Message:
    """A pydantic-like message object with role and content attributes."""

    role: str
    content: Any


@pytest.mark.parametrize(
    ("history", "expected"),
    [
        (None, []),
        ([], []),
        (
            [{"role": "user", "content": "What is SOS?"}, {"role": "assistant", "content": "A syndrome."}],
            [("user", "What is SOS?"), ("assistant", "A syndrome.")],
        ),
        (  # Gradio 6 content blocks; a file block carries no text and is skipped
            [
                {"role": "user", "content": [{"type": "text", "text": "What is SOS?"}]},
                {
                    "role": "assistant",
                    "content": [
                        {"type": "text", "text": "Part one."},
                        {"type": "file", "file": {"path": "/tmp/x.png"}},
                        {"type": "text", "text": "Part two."},
                    ],
                },
            ],
            [("user", "What is SOS?"), ("assistant", "Part one.\nPart two.")],
        ),
        ([Message("user", "Hi"), Message("system", "Be brief")], [("user", "Hi"), ("system", "Be brief")]),
        ([gr.ChatMessage(content="Dose?", role="user")], [("user", "Dose?")]),
        ([{"role": "user", "content": ["plain", "strings"]}], [("user", "plain\nstrings")]),
        ([{"role": "user", "content": "   "}, {"role": "user", "content": []}], []),  # empty turns dropped
    ],
)
def test_normalize_history_accepts(history: object, expected: list[tuple[str, str]]) -> None:
    assert normalize_history(history) == expected


def test_normalize_history_keeps_only_the_last_turns() -> None:
    """The limit counts user turns (50 by default): user messages in a row are not read as 100 turns."""
    history = [{"role": "user", "content": f"question {i}"} for i in range(3 * MAX_MESSAGES)]
    kept = normalize_history(history)
    assert len(kept) == MAX_TURNS
    assert kept[-1] == ("user", f"question {3 * MAX_MESSAGES - 1}")
    assert kept[0] == ("user", f"question {3 * MAX_MESSAGES - MAX_TURNS}")


@pytest.mark.parametrize(
    ("history", "message"),
    [
        ("What is SOS?", "history must be a list"),
        ({"role": "user", "content": "x"}, "history must be a list"),
        ([42], "message 0 must be a {'role', 'content'} mapping"),
        ([{"role": "user"}], "message 0 needs a 'role' and a 'content'"),
        ([{"role": "user", "content": "ok"}, {"role": "bot", "content": "x"}], "message 1 has role 'bot'"),
        ([{"role": "user", "content": 5}], "content must be text or a list of content blocks, not int"),
        ([{"role": "user", "content": None}], "not NoneType"),
        ([{"role": "user", "content": [{"type": "text", "text": 7}]}], "text block without a string"),
        ([{"role": "user", "content": [3.5]}], "content block of type float"),
    ],
)
def test_normalize_history_rejects_malformed(history: object, message: str) -> None:
    with pytest.raises(InvalidQuestion, match=re.escape(message)):
        normalize_history(history)


# --------------------------------------------------------------------------------------------------
# resolve() with a fake expander: the logic alone

SOS_TURN = ("user", "What are the risk factors for SOS?")
ANSWER = ("assistant", "Risk factors include: receiving hematopoietic stem cell transplantation.")


@pytest.mark.parametrize(
    ("history", "question", "followup", "carried"),
    [
        ([], "How should it be managed?", False, []),  # nothing to follow up on
        ([SOS_TURN, ANSWER], "And how should it be managed if it happens?", True, SOS_TERMS),
        ([SOS_TURN, ANSWER], "How long should we watch them afterwards?", True, SOS_TERMS),
        ([SOS_TURN, ANSWER], "Is a biopsy needed?", True, SOS_TERMS),  # no topic of its own
        ([SOS_TURN, ANSWER], "What about QT prolongation?", True, []),  # new topic wins
        ([SOS_TURN, ANSWER], "How often are platelets checked?", False, []),  # new topic, no cue
        (  # look back past a user turn without a topic
            [SOS_TURN, ANSWER, ("user", "How should it be managed?"), ANSWER],
            "And afterwards?",
            True,
            SOS_TERMS,
        ),
        (  # the most recent topic wins over an older one
            [SOS_TURN, ANSWER, ("user", "And QT?"), ANSWER],
            "How do we monitor it?",
            True,
            ["qt", "interval", "prolongation"],
        ),
        (  # only the clinician's turns carry a topic; the assistant's text is not the clinician's topic
            [("user", "Hello"), ("assistant", "SOS and QT are covered.")],
            "How is it managed?",
            False,
            [],
        ),
        (  # the current question passed as the last history message is not its own context
            [("user", "How is it managed?")],
            "How is it managed?",
            False,
            [],
        ),
    ],
)
def test_resolve_carries_topic_only_when_question_has_none(
    cues: Cues,
    history: list[tuple[str, str]],
    question: str,
    followup: bool,
    carried: list[str],
) -> None:
    resolution = resolve(question, history, FakeExpander(), cues)
    assert resolution.followup is followup
    assert resolution.carried_terms == carried
    assert resolution.query == " ".join([question, *carried])


@pytest.mark.parametrize(
    ("question", "found"),
    [
        ("And how should it be managed?", ["it", "and"]),
        ("What about in pregnancy?", ["what about"]),
        ("How long should we watch them afterwards?", ["them", "afterwards"]),
        ("Which drugs should be avoided then?", ["then"]),
        ("Bread and butter", []),  # "and" opens a follow-up only at the start
        # a yes/no question ending on a verb of belonging asks about the earlier list (round 51)
        ("does being old count? she is 74", ["she", "count"]),
        ("What does the platelet count mean?", []),
        ("What are the risk factors for SOS?", []),
    ],
)
def test_cues_found_in_question(cues: Cues, question: str, found: list[str]) -> None:
    assert cues.found_in(question) == found


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("pronouns: [it]\n", "conversation.yaml does not follow its schema"),
        ("pronouns: [it\n", "cannot read"),
        ("pronouns: ['']\nopeners: []\ntemporal: []\nnon_topic_terms: []\nclosings: []\n", "empty phrase"),
    ],
)
def test_broken_cues_file_stops_start_up(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "conversation.yaml").write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_cues(tmp_path)


# --------------------------------------------------------------------------------------------------
# resolve() with the real QueryExpander (corpus/synonyms.yaml)


@pytest.mark.parametrize(
    ("question", "followup", "carried"),
    [
        ("And how should it be managed if it happens?", True, SOS_TERMS),
        ("How long should we watch them afterwards?", True, SOS_TERMS),
        ("What if it is severe?", True, SOS_TERMS),
        ("What about QT prolongation?", True, []),
        ("How often is the CBC checked?", False, []),
        # An everyday topic the monograph lacks is carried like any follow-up; what it ASKS for (pregnancy,
        # corpus/answer_types.yaml) then makes the answer "not covered" (see test_assistant).
        ("What about in pregnancy?", True, SOS_TERMS),
        ("And should we give defibrotide?", True, []),  # a rare name the monograph lacks: nothing carried
    ],
)
def test_resolve_with_real_expander(
    expander: QueryExpander, cues: Cues, question: str, followup: bool, carried: list[str]
) -> None:
    resolution = resolve(question, [SOS_TURN, ANSWER], expander, cues)
    assert resolution.followup is followup
    assert resolution.carried_terms == carried


RISKS = ("user", "What are the biggest safety issues with Besponsa?")
LISTED = (
    "assistant",
    "Mainly hepatotoxicity (including sinusoidal obstruction syndrome) and myelosuppression.",
)


@pytest.mark.parametrize(
    ("question", "item"),
    [
        ("ok and how do we monitor for the first one?", "hepatotoxicity"),
        ("and the second one?", "myelosuppression"),
        ("what about the latter?", "myelosuppression"),
        ("and the third one?", None),  # the list has two items
        ("the other one?", None),  # no place named
    ],
)
def test_resolve_reads_a_list_item_pointed_at_by_its_place(
    expander: QueryExpander, cues: Cues, question: str, item: str | None
) -> None:
    """Round 53: "the first one" is the first item of the list the last answer gave."""
    resolution = resolve(question, [RISKS, LISTED], expander, cues)
    if item is None:
        assert "myelosuppression" not in resolution.query and "hepatotoxicity" not in resolution.query
    else:
        assert resolution.followup and resolution.query.endswith(item)
        other = {"hepatotoxicity", "myelosuppression"} - {item}
        assert not other & set(resolution.query.split())


# --------------------------------------------------------------------------------------------------
# Suggestions: pure


@pytest.fixture(scope="module")
def suggestions() -> Suggestions:
    return Suggestions.load(CORPUS_DIR)


def test_every_suggestion_section_is_a_monograph_section(suggestions: Suggestions) -> None:
    sections = {p.section for p in load_corpus(CORPUS_DIR).passages}
    assert set(suggestions.by_section) == sections
    assert all(2 <= len(qs) <= 3 for qs in suggestions.by_section.values())


@pytest.mark.parametrize(
    ("sections", "asked", "expected_first"),
    [
        (["Risk of Hepatotoxicity"], "How are LFTs checked?", "Which liver tests should be done before each"),
        (
            ["Risk of Hepatotoxicity"],
            "which liver tests should be done before each administration",
            "How many",
        ),
        ([], "What about pregnancy?", "What are the risk factors"),  # abstention: overview suggestions
    ],
)
def test_suggest_never_repeats_the_question(
    suggestions: Suggestions, sections: list[str], asked: str, expected_first: str
) -> None:
    offered = suggestions.suggest(sections, asked)
    assert 1 <= len(offered) <= 3
    assert offered[0].startswith(expected_first)
    assert all(words(q) != words(asked) for q in offered)


def test_suggest_skips_questions_asked_earlier(suggestions: Suggestions) -> None:
    first = suggestions.suggest(["Myelosuppression"], "x")
    later = suggestions.suggest(["Myelosuppression"], "y", earlier=[first[0]])
    assert first[0] not in later


# --------------------------------------------------------------------------------------------------
# Multi-turn conversations through the real assistant


@dataclass(frozen=True)
class Turn:
    question: str
    rules: set[str] | None = None  # exact rule ids that must fire (None: not checked)
    abstained: bool = False
    section: str | None = None  # a section the answer must quote
    not_section: str | None = None  # a section the answer must not quote (topic pollution)
    followup: bool | None = None


RISK_SOS = Turn("What are the risk factors for SOS?", rules=set(), section="Risk of Hepatotoxicity")

CONVERSATIONS: dict[str, list[Turn]] = {
    "sos follow-up fires the rule": [
        RISK_SOS,
        Turn("And how should it be managed if it happens?", rules={"sos"}, followup=True),
    ],
    "sos four turns": [
        RISK_SOS,
        Turn("And how should it be managed if it happens?", rules={"sos"}, section="Risk of Hepatotoxicity"),
        Turn("How long should we watch them afterwards?", rules=set(), followup=True),
        Turn("Which other drugs should be avoided then?", rules=set(), section="QT Interval Prolongation"),
    ],
    "does a listed item count": [
        RISK_SOS,
        Turn("does being old count? she is 74", rules=set(), section="Risk of Hepatotoxicity", followup=True),
    ],
    "topic switch is not polluted": [
        RISK_SOS,
        Turn(
            "What about QT prolongation?",
            rules=set(),
            section="QT Interval Prolongation",
            not_section="Risk of Hepatotoxicity",
        ),
    ],
    "follow-up outside the monograph abstains": [
        RISK_SOS,
        Turn("What about in pregnancy?", rules=set(), abstained=True),
    ],
    "follow-up about storage abstains": [
        Turn("How often should LFTs be checked?", rules=set(), section="Liver Function Monitoring"),
        Turn("And how should it be stored?", rules=set(), abstained=True),
    ],
    "restart at a lower dose after sos": [
        Turn("Can Besponsa cause VOD?", rules=set(), section="Risk of Hepatotoxicity"),
        Turn("Can we restart it at a lower dose?", rules={"sos"}),
    ],
    "liver tests then abnormal": [
        Turn(
            "Which liver tests are checked before each dose?",
            rules=set(),
            section="Liver Function Monitoring",
        ),
        Turn("And if they come back abnormal, do we give the next dose?", rules={"liver_abnormal"}),
    ],
    "blood counts then persistent low": [
        Turn("Which blood counts are checked before each administration?", rules=set()),
        Turn("And if they stay low, should we continue treatment?", rules={"cytopenia"}),
    ],
    "infusion reaction three turns": [
        Turn(
            "What are the symptoms of an infusion reaction?",
            rules=set(),
            section="Infusion-Related Reactions",
        ),
        Turn(
            "How long should we monitor the patient after it?",
            rules=set(),
            section="Infusion-Related Reactions",
        ),
        Turn("What if it is severe, can we restart?", rules={"infusion_reaction_severe"}),
    ],
    "infusion topic then QT decision is not polluted": [
        Turn(
            "What symptoms can occur during the infusion?", rules=set(), section="Infusion-Related Reactions"
        ),
        Turn("And can we continue if the QTc is prolonged?", section="QT Interval Prolongation"),
    ],
    "cycles then a fourth": [
        Turn("How many treatment cycles are recommended?", rules={"cycle_limit"}),
        Turn("Can we give a 4th cycle then?", rules={"cycle_limit"}),
    ],
    "qt then ecg frequency": [
        Turn("Does Besponsa affect the QT interval?", rules=set(), section="QT Interval Prolongation"),
        Turn("How often should it be monitored with ECGs?", rules=set()),
        Turn("Which other drugs should be avoided?", rules=set(), section="QT Interval Prolongation"),
    ],
    "transplant then monitoring afterwards": [
        Turn("Why is non-relapse mortality higher after transplant?", rules=set()),
        Turn(
            "What should we watch for afterwards?",
            rules=set(),
            section="Increased Non-Relapse Mortality After Transplantation",
        ),
    ],
    "informational follow-up does not fire": [
        RISK_SOS,
        Turn("Is a history of liver disease one of them?", rules=set(), section="Risk of Hepatotoxicity"),
    ],
    "myelosuppression then liver switch": [
        Turn("What are the manifestations of myelosuppression?", rules=set(), section="Myelosuppression"),
        Turn("And what about the liver tests?", rules=set(), not_section="Myelosuppression"),
    ],
    "thanks closes the topic": [
        Turn("What are the risk factors for SOS?", rules=set(), section="Risk of Hepatotoxicity"),
        Turn("Thanks, that's all!", rules=set(), abstained=True),
    ],
    "negated condition in the earlier turn": [
        Turn("There are no signs of SOS so far; what should we monitor?", rules=set()),
        Turn("And can we continue?", rules=set()),
    ],
}


def _history_message(role: str, text: str, blocks: bool) -> dict[str, Any]:
    return {"role": role, "content": [{"type": "text", "text": text}] if blocks else text}


def _run(bot: Any, turns: list[Turn], blocks: bool = False) -> None:
    history: list[dict[str, Any]] = []
    for number, turn in enumerate(turns, start=1):
        ans = bot.ask(turn.question, history=history)
        where = f"turn {number} {turn.question!r}: {ans.text[:300]!r}"
        assert ans.abstained is turn.abstained, where
        if turn.rules is not None:
            assert {h.rule_id for h in ans.guardrail} == turn.rules, where
        _assert_verdicts_first(ans, where)
        if turn.section:
            assert turn.section in ans.sections, where
        if turn.not_section:
            assert turn.not_section not in ans.sections, where
        if turn.followup is not None:
            assert ans.metadata.get("followup") is turn.followup, where
        for quote in ans.quotes:
            assert bot.corpus.is_verbatim(quote), where
        history += [
            _history_message("user", turn.question, blocks),
            _history_message("assistant", ans.text, blocks),
        ]


def _assert_verdicts_first(ans: Any, where: str) -> None:
    """Every rule message comes before the first quote that is not a rule's own source sentence."""
    rule_quotes = {q.text for h in ans.guardrail for q in h.quotes}
    others = [ans.text.find(q.text) for q in ans.quotes if q.text not in rule_quotes]
    first_other = min((p for p in others if p >= 0), default=len(ans.text))
    for hit in ans.guardrail:
        assert 0 <= ans.text.find(hit.message) < first_other, where


@pytest.mark.model
@pytest.mark.parametrize("name", list(CONVERSATIONS))
def test_conversation(assistant: Any, name: str) -> None:
    _run(assistant, CONVERSATIONS[name])


@pytest.mark.model
@pytest.mark.parametrize("name", ["sos four turns", "topic switch is not polluted"])
def test_conversation_with_gradio_content_blocks(assistant: Any, name: str) -> None:
    _run(assistant, CONVERSATIONS[name], blocks=True)


@pytest.mark.parametrize(
    "history",
    ["not a list", [{"role": "doctor", "content": "hi"}], [{"role": "user", "content": 5}], [17]],
)
def test_malformed_history_is_an_invalid_question(assistant: Any, history: object) -> None:
    with pytest.raises(InvalidQuestion):
        assistant.ask("How often are LFTs checked?", history=history)


@pytest.mark.model
def test_every_suggestion_is_answered(assistant: Any, suggestions: Suggestions) -> None:
    unanswered = [q for q in suggestions.questions if assistant.ask(q).abstained]
    assert unanswered == []


def test_answers_offer_suggestions_other_than_the_question(assistant: Any) -> None:
    question = "What are the risk factors for sinusoidal obstruction syndrome?"
    ans = assistant.ask(question)
    assert 2 <= len(ans.suggestions) <= 3
    assert all(words(s) != words(question) for s in ans.suggestions)


# --------------------------------------------------------------------------------------------------
# Properties: any JSON-like history is either accepted or refused with InvalidQuestion

_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=20)
    | st.sampled_from([*_KEYS, "user", "bot"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(_KEYS), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(history=_json, question=st.text(max_size=60))
def test_any_history_is_accepted_or_refused_cleanly(cues: Cues, history: object, question: str) -> None:
    try:
        turns = normalize_history(history)
    except InvalidQuestion:
        return
    assert all(role in ("user", "assistant", "system") and text.strip() for role, text in turns)
    resolution = resolve(question, turns, FakeExpander(), cues)
    assert resolution.query.startswith(question.strip()) or resolution.query == question


PASSAGES = [
    (
        "p1",
        "Monitor liver function weekly during treatment and for at least one month after transplantation.",
    ),
    ("p2", "Check complete blood count before each administration."),
]


@pytest.mark.parametrize(
    ("history", "quoted"),
    [
        ([], set()),
        ([("user", "how often LFTs?")], set()),  # a user turn quotes nothing
        (
            [("assistant", 'It says "monitor liver function weekly during treatment and for at least".')],
            {"p1"},
        ),
        ([("assistant", "Liver function weekly.")], set()),  # too short to be a quote
        (
            [("assistant", "Check complete blood count before each administration. Monitor liver function.")],
            {"p2"},
        ),
    ],
)
def test_quoted_before_finds_the_passages_an_earlier_answer_quoted(
    history: list[tuple[str, str]], quoted: set[str]
) -> None:
    assert quoted_before(history, PASSAGES) == quoted


@pytest.mark.model
def test_a_short_follow_up_on_a_quoted_passage_is_answered(assistant: Any) -> None:
    """'What about a 2 year old?' is far in meaning from the long indication sentence, but the previous
    answer quoted it: the follow-up is answered from it, not refused."""
    first = assistant.ask("ino ok in kids?", channel="eval")
    assert not first.abstained
    history = [{"role": "user", "content": "ino ok in kids?"}, {"role": "assistant", "content": first.text}]
    answer = assistant.ask("what about a 2 year old?", history=history, channel="eval")
    assert not answer.abstained
    assert any("children aged 1 year and older" in q.text for q in answer.quotes)


@pytest.mark.parametrize(
    ("history", "question", "asked"),
    [
        (
            [("user", "InO and QT drugs?"), ("assistant", "Avoid other QT-prolonging drugs.")],
            "which ones?",
            "which drugs?",
        ),
        (
            [("user", "how often LFTs on besponsa?"), ("assistant", "Weekly.")],
            "which ones exactly?",
            "which lfts exactly?",
        ),
        ([("user", "what does the monograph say about QT?")], "which ones exactly?", ""),  # no plural told
        ([("user", "InO and QT drugs?")], "is it safe?", ""),  # no "ones"
        # the caller passed the current question as the last history message
        ([("user", "InO and QT drugs?"), ("user", "which ones?")], "which ones?", "which drugs?"),
    ],
)
def test_resolve_reads_ones_as_the_plural_noun_told_before(
    expander: QueryExpander, cues: Cues, history: list[tuple[str, str]], question: str, asked: str
) -> None:
    """Round 54: "which ones?" asks for the things of the latest earlier turn that names some."""
    resolution = resolve(question, history, expander, cues)
    assert resolution.asked == asked
    if asked:
        assert asked.split()[1] in resolution.query.split()


@pytest.mark.parametrize(
    ("history", "question", "carried"),
    [
        # round 55: "it" after a question that names the drug and no topic is the drug
        (
            [("user", "What is inotuzumab?"), ("assistant", "An antibody-drug conjugate.")],
            "what are the big safety concerns with it?",
            ["inotuzumab"],
        ),
        ([("user", "tell me about besponsa")], "is it safe?", ["inotuzumab"]),
        ([], "what are the big safety concerns with it?", []),  # nothing asked before
        ([("user", "inotuzumab or blinatumomab?")], "is it safe?", []),  # another product named
        ([("user", "What is inotuzumab?")], "is she safe?", []),  # a person, not a thing
        ([("user", "What is inotuzumab?")], "does it cause SOS?", []),  # a topic of its own
    ],
)
def test_resolve_reads_it_as_the_drug_after_a_question_naming_it(
    expander: QueryExpander, cues: Cues, history: list[tuple[str, str]], question: str, carried: list[str]
) -> None:
    resolution = resolve(question, history, expander, cues)
    assert resolution.carried_terms == carried
    assert resolution.query == " ".join([question, *carried])


def test_it_after_a_question_naming_the_drug_is_answered_about_the_drug(assistant: Any) -> None:
    """Round 55: "what are the big safety concerns with it?" after "What is inotuzumab?" was refused for want
    of a clinical term; "it" is the drug, and the answer quotes the overview of the drug."""
    history = [
        {"role": "user", "content": "What is inotuzumab?"},
        {"role": "assistant", "content": "An antibody-drug conjugate targeting CD22."},
    ]
    answer = assistant.ask("what are the big safety concerns with it?", history=history, channel="eval")
    assert not answer.abstained
    assert answer.quotes and all(q.section == "Overview" for q in answer.quotes)
