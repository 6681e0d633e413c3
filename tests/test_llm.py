"""The optional language model: its answer is shown only when every check passes.

LangChain's fake chat models stand in for the model (it cannot run here); once, the real
``ChatOpenAI`` client talks over real HTTP to a scripted OpenAI-compatible server on loopback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.language_models.fake_chat_models import FakeListChatModel, GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import Field

from assistant.corpus import Corpus, load_corpus
from assistant.errors import ConfigError
from assistant.llm import (
    SKIPPED_ABSTAINED,
    SKIPPED_NO_MODEL,
    SKIPPED_RULE_FIRED,
    CheckedWriter,
    WriterChecks,
    load_checks,
    make_chat_model,
)
from assistant.models import Passage, Quote, RuleHit
from assistant.settings import PROJECT_ROOT, Settings
from tests.fake_openai_server import Reply, ScriptedOpenAI

CORPUS_DIR = PROJECT_ROOT / "corpus"
QUESTION = "SOS confirmed after cycle 1, can we continue at a lower dose?"


@pytest.fixture(scope="module")
def corpus() -> Corpus:
    return load_corpus(CORPUS_DIR)


@pytest.fixture(scope="module")
def checks() -> WriterChecks:
    return load_checks(CORPUS_DIR)


def _passage(corpus: Corpus, fragment: str) -> Passage:
    return next(p for p in corpus.passages if fragment in p.text)


@pytest.fixture(scope="module")
def passages(corpus: Corpus) -> list[Passage]:
    """Three retrieved passages, numbered [1]..[3] in the prompt."""
    return [
        _passage(corpus, "can cause severe and even fatal sinusoidal"),
        _passage(corpus, "Discontinue the drug immediately"),
        _passage(corpus, "Permanent drug discontinuation and active treatment"),
    ]


def _hit(corpus: Corpus, rule_id: str, action: str, sentence: str) -> RuleHit:
    quote = corpus.locate(sentence)
    assert quote is not None
    return RuleHit(rule_id=rule_id, action=action, message=f"{rule_id} verdict", quotes=[quote])  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def sos(corpus: Corpus) -> RuleHit:
    return _hit(
        corpus,
        "sos",
        "discontinue",
        "Discontinue the drug immediately if sinusoidal obstruction syndrome occurs.",
    )


@pytest.fixture(scope="module")
def liver(corpus: Corpus) -> RuleHit:
    return _hit(corpus, "liver_abnormal", "interrupt", "Suspend medication if abnormalities occur")


@pytest.fixture(scope="module")
def cycles(corpus: Corpus) -> RuleHit:
    return _hit(corpus, "cycle_limit", "limit", "2 cycles are recommended, and a 3rd cycle may be considered")


GOOD = (
    "Sinusoidal obstruction syndrome requires stopping the drug: "
    '"Discontinue the drug immediately if sinusoidal obstruction syndrome occurs." [2] '
    "Permanent discontinuation and active treatment are required [3]."
)

# (reply, which rule fires, expected rejection reason prefix or None when kept, cited passage numbers)
CASES: list[tuple[str, str | None, str | None, list[int]]] = [
    (GOOD, "sos", None, [2, 3]),
    ("Do not continue the drug [2]; it can be fatal [1].", "sos", None, [2, 1]),
    ("Stop the drug [2] and continue to monitor the patient closely [3].", "sos", None, [2, 3]),
    ('As stated, "discontinue the drug immediately" [2].', "sos", None, [2]),  # lower-case first letter
    (
        '"Inotuzumab ozogamicin can cause severe ... sinusoidal obstruction syndrome (SOS)." [1]',
        None,
        None,
        [1],
    ),
    (
        'The monograph says "Reduce the dose by half after SOS." [2]',
        "sos",
        "quoted text not in the monograph",
        [],
    ),
    ('It says "Discontinue the drug permanently." [2]', "sos", "quoted text not in the monograph", []),
    ("SOS can be fatal [7].", None, "citation [7] does not match any of 3 passages", []),
    ("SOS can be fatal [0].", None, "citation [0] does not match any of 3 passages", []),
    ("SOS can be fatal [ref 2].", None, "unreadable citation [ref 2]", []),
    # Only a plain [n] is a citation: no lists, ranges, footnotes or stray brackets
    ("SOS can be fatal [1, 2].", None, "unreadable citation [1, 2]", []),
    ("SOS can be fatal [1-3].", None, "unreadable citation [1-3]", []),
    ("SOS can be fatal [^1].", None, "unreadable citation [^1]", []),
    ("SOS can be fatal [1]].", None, "unreadable citation ]", []),
    (
        '"Inotuzumab ozogamicin can cause severe [...] sinusoidal obstruction syndrome (SOS)." [1]',
        None,
        None,
        [1],
    ),
    # Nothing that could pass for a monograph quote, a rule verdict or a link
    (
        "> Discontinue the drug immediately if sinusoidal obstruction syndrome occurs. [2]",
        None,
        'a line starts with ">" (looks like a monograph quote)',
        [],
    ),
    ("Stop the drug [2].\n  > Reduce the dose by half.", None, 'a line starts with ">"', []),
    ("# Stop now\nStop the drug [2].", None, 'a line starts with "#"', []),
    ("Permanently discontinue [rule sos]: stop the drug [2].", None, 'imitates a rule verdict: "[rule"', []),
    ("Permanently discontinue the drug [2].", None, 'imitates a rule verdict: "Permanently discontinue"', []),
    ("INTERRUPT/HOLD the infusion [1].", None, 'imitates a rule verdict: "Interrupt / hold"', []),
    ("The cycle limit applies [1].", None, 'imitates a rule verdict: "Cycle limit"', []),
    ("SOS can be fatal [details](https://evil.example/x) [1].", None, "a link or URL", []),
    ("SOS can be fatal [1](https://evil.example/x).", None, "a link or URL", []),
    ("See https://evil.example/x for SOS [1].", None, "a link or URL", []),
    ("See <www.evil.example> for SOS [1].", None, "a link or URL", []),
    ("SOS can be fatal [1]. [x]: javascript:alert(1)", None, "a link or URL", []),
    # Every quotation style is checked verbatim; apostrophes are not quotation marks
    ("It says 'Reduce the dose by half after SOS.' [2]", "sos", "quoted text not in the monograph", []),
    ("It says ‘Reduce the dose by half after SOS.’ [2]", "sos", "quoted text not in the monograph", []),
    ("It says «Reduce the dose by half after SOS» [2]", "sos", "quoted text not in the monograph", []),
    ("It says ‹Reduce the dose› [2]", "sos", "quoted text not in the monograph", []),
    ("It says „Reduce the dose“ [2]", "sos", "quoted text not in the monograph", []),
    ("It says 「Reduce the dose」 [2]", "sos", "quoted text not in the monograph", []),
    ("It says `Reduce the dose` [2]", "sos", "quoted text not in the monograph", []),
    ("It says 'reduce the dose [2].", "sos", "unbalanced quotation marks (')", []),
    ("It says «reduce the dose [2].", "sos", "unbalanced quotation marks («)", []),
    ("It says ‘reduce the dose [2].", "sos", "unbalanced quotation marks (‘)", []),
    ("The monograph's words: 'discontinue the drug immediately' [2].", "sos", None, [2]),
    ("The monograph’s words: ‘Discontinue the drug immediately’ [2].", "sos", None, [2]),
    (
        "It says «Discontinue the drug immediately» and the patients' safety comes first [2].",
        "sos",
        None,
        [2],
    ),
    ("SOS can be fatal.", None, "the answer cites no passage", []),
    ("After SOS you can continue treatment at a lower dose [2].", "sos", "contradicts rule sos", []),
    ("Hold the drug, then resume once SOS resolves [2].", "sos", "contradicts rule sos", []),
    ("Do not stop, continue [2].", "sos", "contradicts rule sos", []),
    ("Monitor for 48 hours after SOS [1].", None, "number not in the passages: 48", []),
    # Numbers in words are numbers too ("one", "first" alone are prose, not checked)
    ("Monitor for five hundred days after SOS [1].", None, "number not in the passages: five hundred", []),
    ("Monitor for twenty-one days after SOS [1].", None, "number not in the passages: twenty-one", []),
    ("Give half the dose after SOS [1].", None, "number not in the passages: half", []),
    ("SOS is one of the fatal risks; the first sign matters [1].", None, None, [1]),
    ("A third cycle may be considered [1].", "cycles", None, [1]),  # the 3rd cycle of the verdict
    # Contradictions the review found once slipped through the patterns (defence in depth: through the
    # Assistant, the model is not even asked when a rule fired)
    ("There is no need to stop Besponsa [1].", "sos", "contradicts rule sos", []),
    ("Never stop Besponsa for this [1].", "sos", "contradicts rule sos", []),
    ("Treatment can be maintained; discontinuation is not necessary [1].", "sos", "contradicts rule sos", []),
    ("Besponsa may be given again once the syndrome has resolved [1].", "sos", "contradicts rule sos", []),
    ("You can continue without interruption [1].", "liver", "contradicts rule liver_abnormal", []),
    ("It is safe to proceed [1].", "liver", "contradicts rule liver_abnormal", []),
    ("A 4th cycle can be given [1].", "cycles", "contradicts rule cycle_limit", []),
    ("A 4th cycle is not recommended [1].", "cycles", None, [1]),
    ('Unbalanced "quote [1].', None, 'unbalanced quotation marks (")', []),
    ("", None, "the language model returned no text", []),
]


@pytest.mark.parametrize(("reply", "rule", "rejected", "cited"), CASES)
def test_fake_model_answer_is_checked(
    request: pytest.FixtureRequest,
    corpus: Corpus,
    checks: WriterChecks,
    passages: list[Passage],
    reply: str,
    rule: str | None,
    rejected: str | None,
    cited: list[int],
) -> None:
    hits = [request.getfixturevalue(rule)] if rule else []
    question = "Can we give a 4th cycle?" if rule == "cycles" else QUESTION
    writer = CheckedWriter(GenericFakeChatModel(messages=iter([reply])), corpus, checks)
    result = writer.write(question, passages, hits)
    if rejected is None:
        assert result.rejected is None
        assert result.text == reply
        assert result.quotes == [Quote.of(passages[k - 1]) for k in cited]
        assert all(corpus.is_verbatim(q) for q in result.quotes)
    else:
        assert result.text is None
        assert result.quotes == []
        assert result.rejected is not None and result.rejected.startswith(rejected), result.rejected


class RaisingChatModel(BaseChatModel):
    """A model whose endpoint is down."""

    def _generate(self, messages: list[BaseMessage], stop: Any = None, **kwargs: Any) -> ChatResult:
        raise TimeoutError("no answer within the time limit")

    @property
    def _llm_type(self) -> str:
        return "raising"


def test_model_failure_is_a_rejection_not_a_crash(
    corpus: Corpus, checks: WriterChecks, passages: list[Passage], sos: RuleHit
) -> None:
    result = CheckedWriter(RaisingChatModel(), corpus, checks).write(QUESTION, passages, [sos])
    assert (result.text, result.rejected) == (None, "language model unavailable: TimeoutError")


def test_prompt_numbers_passages_and_lists_verdicts(
    corpus: Corpus, checks: WriterChecks, passages: list[Passage], sos: RuleHit
) -> None:
    system, human = CheckedWriter(FakeListChatModel(responses=["x"]), corpus, checks).messages(
        QUESTION, passages, [sos]
    )
    assert "ONLY from the numbered passages" in system.text
    for number, passage in enumerate(passages, start=1):
        assert f"[{number}] ({passage.section}) {passage.text}" in human.text
    assert "sos: sos verdict" in human.text
    assert human.text.endswith(f"Question: {QUESTION}")


def test_no_passages_no_model_call(corpus: Corpus, checks: WriterChecks) -> None:
    model = FakeListChatModel(responses=["never used [1]"])
    result = CheckedWriter(model, corpus, checks).write(QUESTION, [], [])
    assert result.rejected == "no passages to write from"
    assert model.i == 0


# --------------------------------------------------------------------------------------------------
# Settings and the checks file


def test_no_settings_no_model() -> None:
    assert make_chat_model(Settings(llm_base_url=None, llm_model=None)) is None
    assert make_chat_model(Settings(llm_base_url="http://127.0.0.1:9/v1", llm_model=None)) is None


def test_settings_name_an_openai_compatible_model() -> None:
    from langchain_openai import ChatOpenAI

    model = make_chat_model(Settings(llm_base_url="http://127.0.0.1:9/v1", llm_model="m", llm_timeout_s=7))
    assert isinstance(model, ChatOpenAI)
    assert (model.openai_api_base, model.model_name, model.temperature) == ("http://127.0.0.1:9/v1", "m", 0)
    assert (model.request_timeout, model.max_retries) == (7, 0)
    assert model.openai_api_key is not None and model.openai_api_key.get_secret_value() == "none"
    keyed = make_chat_model(
        Settings(llm_base_url="http://127.0.0.1:9/v1", llm_model="m", llm_api_key="s3cret")
    )
    assert isinstance(keyed, ChatOpenAI) and keyed.openai_api_key is not None
    assert keyed.openai_api_key.get_secret_value() == "s3cret"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("contradictions: [\n", "cannot read"),
        ("clause_separators: ','\nnegation: 'not'\nnegation_window_words: 3\n", "KeyError"),
        (
            "clause_separators: ','\nnegation: 'not'\nnegation_window_words: 3\n"
            "contradictions: {pause: []}\n",
            "unknown rule actions ['pause']",
        ),
        (
            "clause_separators: ','\nnegation: 'not'\nnegation_window_words: 3\n"
            "contradictions: {discontinue: ['(unclosed']}\n",
            "error",
        ),
        (
            "clause_separators: ','\nnegation: 'not'\nnegation_window_words: 3\n"
            "contradictions: {discontinue: []}\nprose_number_words: {one: 1}\nnumber_words: [two]\n",
            "AttributeError",
        ),
    ],
)
def test_broken_checks_file_stops_start_up(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "llm_checks.yaml").write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_checks(tmp_path)


# --------------------------------------------------------------------------------------------------
# Once over real HTTP: the real ChatOpenAI client against a scripted OpenAI-compatible server

HTTP_SCRIPT: list[tuple[Reply, str | None]] = [
    (Reply(GOOD), None),
    (Reply('It says "Continue at half the dose after SOS." [2]'), "quoted text not in the monograph"),
    (Reply("SOS can be fatal [7]."), "citation [7] does not match any of 3 passages"),
    (Reply("You may continue treatment once the patient is stable [2]."), "contradicts rule sos"),
    (Reply(status=500, content="model crashed"), "language model unavailable: OpenAIAPIError"),
    (Reply(GOOD, delay_s=3.0), "language model unavailable: OpenAITimeoutError"),
    (Reply("Discontinue the drug immediately [2]."), None),
]


@pytest.mark.server
def test_scripted_openai_server_over_http(
    corpus: Corpus, checks: WriterChecks, passages: list[Passage], sos: RuleHit
) -> None:
    with ScriptedOpenAI([reply for reply, _ in HTTP_SCRIPT]) as server:
        model = make_chat_model(
            Settings(llm_base_url=server.base_url, llm_model="scripted", llm_timeout_s=1.0)
        )
        assert model is not None
        writer = CheckedWriter(model, corpus, checks)
        for number, (reply, rejected) in enumerate(HTTP_SCRIPT, start=1):
            result = writer.write(QUESTION, passages, [sos])
            where = f"reply {number}: {result.rejected}"
            if rejected is None:
                assert (result.text, result.rejected) == (reply.content, None), where
                assert result.quotes, where
            else:
                assert result.text is None and result.rejected is not None, where
                assert result.rejected.startswith(rejected), where
    assert len(server.requests) == len(HTTP_SCRIPT)
    first = server.requests[0]
    assert first["model"] == "scripted" and first["temperature"] == 0
    assert [m["role"] for m in first["messages"]] == ["system", "user"]
    assert "[3] (Liver Function Monitoring)" in first["messages"][1]["content"]


# --------------------------------------------------------------------------------------------------
# End to end through the real assistant (real model, real Chroma in a tmp folder, real guardrail)

SOS_DECISION = "Should we discontinue Besponsa if sinusoidal obstruction syndrome occurs?"
MONITORING = "How often should liver function be monitored?"  # fires no rule; quotes 3 passages


class RecordingChatModel(BaseChatModel):
    """Replies with ``reply`` and records every prompt it is sent."""

    reply: str
    calls: list[list[BaseMessage]] = Field(default_factory=list)

    def _generate(self, messages: list[BaseMessage], stop: Any = None, **kwargs: Any) -> ChatResult:
        self.calls.append(messages)
        return ChatResult(generations=[ChatGeneration(message=AIMessage(self.reply))])

    @property
    def _llm_type(self) -> str:
        return "recording"


def _bot(settings: Settings, embeddings: Any, model: BaseChatModel) -> Any:
    from assistant import Assistant

    return Assistant.from_settings(settings, embeddings=embeddings, chat_model=model)


@pytest.fixture(scope="module")
def extractive(assistant: Any) -> dict[str, Any]:
    """The answers without a language model, to compare with."""
    return {question: assistant.ask(question) for question in (SOS_DECISION, MONITORING)}


@pytest.mark.parametrize(
    "reply",
    [
        "Stop the drug immediately and permanently [1].",
        "You can continue at a lower dose once the patient improves [1].",
        # Contradictions that once passed every pattern: the model is no longer even asked
        "There is no need to stop Besponsa [1].",
        "Never stop Besponsa for this [1].",
        "Treatment can be maintained; discontinuation is not necessary [1].",
        "Besponsa may be given again once the syndrome has resolved [1].",
    ],
)
def test_model_is_not_asked_when_a_rule_fired(
    session_settings: Settings, embeddings: Any, extractive: dict[str, Any], reply: str
) -> None:
    from assistant.guardrail import render_verdicts

    model = RecordingChatModel(reply=reply)
    bot = _bot(session_settings, embeddings, model)
    ans = bot.ask(SOS_DECISION)
    assert model.calls == []
    assert [h.rule_id for h in ans.guardrail] == ["sos"]
    assert ans.text.startswith(render_verdicts(ans.guardrail))
    assert reply not in ans.text
    assert ans.metadata["generator"] == "extractive" and "llm_rejected" not in ans.metadata
    assert ans.metadata["llm_skipped"] == SKIPPED_RULE_FIRED
    assert (ans.text, ans.quotes) == (extractive[SOS_DECISION].text, extractive[SOS_DECISION].quotes)
    assert all(bot.corpus.is_verbatim(q) for q in ans.quotes)


GOOD_MONITORING = (
    "Liver function is monitored weekly during treatment and for at least one month after "
    "transplantation [1]; ALT, AST, total bilirubin and alkaline phosphatase are checked "
    '"before each administration" [2].'
)


@pytest.mark.model
@pytest.mark.parametrize(
    ("reply", "rejected"),
    [
        (GOOD_MONITORING, None),
        (
            "Monitor liver function for two months after transplantation [1].",
            "number not in the passages: two",
        ),
        ("> Monitor liver function daily. [1]", 'a line starts with ">"'),
        ("Check 'liver function every day' [1].", "quoted text not in the monograph"),
        ("Monitor weekly [1]. [details](https://evil.example/x)", "a link or URL"),
        ("Interrupt / hold if abnormalities occur [3].", 'imitates a rule verdict: "Interrupt / hold"'),
        ("Monitor weekly [1, 2].", "unreadable citation [1, 2]"),
    ],
)
def test_model_answer_without_rule_is_checked_and_labelled(
    session_settings: Settings, embeddings: Any, extractive: dict[str, Any], reply: str, rejected: str | None
) -> None:
    from assistant.rendering import GENERATED, quote_block
    from assistant.web.ui import render_answer

    model = RecordingChatModel(reply=reply)
    bot = _bot(session_settings, embeddings, model)
    ans = bot.ask(MONITORING)
    assert len(model.calls) == 1 and ans.guardrail == []
    assert "Rule verdicts" not in model.calls[0][1].text
    assert "llm_skipped" not in ans.metadata
    assert all(bot.corpus.is_verbatim(q) for q in ans.quotes)
    if rejected is None:
        assert ans.metadata["generator"] == "llm" and "llm_rejected" not in ans.metadata
        assert ans.generated is not None and ans.generated.text == reply and len(ans.quotes) == 2
        assert ans.generated.model == "recording" and ans.metadata["model"] == "recording"
        # The model's words under their label, then the quote behind each [n], verbatim
        assert ans.text.startswith(f"{GENERATED}:\n\n{reply}\n\n")
        for citation in ans.generated.citations:
            assert f"[{citation.number}]\n{quote_block(citation.quote)}" in ans.text
        assert [c.quote for c in ans.generated.citations] == ans.quotes
        assert render_answer(ans).startswith(f"*{GENERATED}:*")
    else:
        assert ans.metadata["generator"] == "extractive"
        assert ans.metadata["llm_rejected"].startswith(rejected), ans.metadata["llm_rejected"]
        assert (ans.text, ans.quotes) == (extractive[MONITORING].text, extractive[MONITORING].quotes)
        assert ans.generated is None and GENERATED not in render_answer(ans)


def test_abstention_never_reaches_the_model(session_settings: Settings, embeddings: Any) -> None:
    model = RecordingChatModel(reply="Take 5 mg daily [1].")
    ans = _bot(session_settings, embeddings, model).ask("Is Besponsa safe in pregnancy?")
    assert ans.abstained and ans.metadata["generator"] == "extractive"
    assert ans.metadata["llm_skipped"] == SKIPPED_ABSTAINED
    assert model.calls == []


def test_a_rule_beside_an_abstention_says_why_the_model_was_not_asked(
    session_settings: Settings, embeddings: Any
) -> None:
    """Retrieval abstains (no dose for a 3rd cycle) but the cycle-limit rule fires: the rule is the reason."""
    model = RecordingChatModel(reply="Take 5 mg daily [1].")
    ans = _bot(session_settings, embeddings, model).ask("What dose should we use for a 3rd cycle?")
    assert [h.rule_id for h in ans.guardrail] == ["cycle_limit"] and ans.abstained
    assert ans.metadata["llm_skipped"] == SKIPPED_RULE_FIRED
    assert model.calls == [] and ans.generated is None


def test_without_a_model_the_answer_says_none_is_configured(assistant: Any) -> None:
    assert assistant.ask(MONITORING).metadata["llm_skipped"] == SKIPPED_NO_MODEL


def test_checks_come_from_the_settings_corpus_folder(
    corpus_copy: Path, tmp_path: Path, embeddings: Any, corpus: Corpus
) -> None:
    """The writer reads llm_checks.yaml beside the corpus it answers from, never the repo's copy, and
    a broken one stops start-up before the (slow) index is built."""
    with pytest.raises(TypeError):
        CheckedWriter(RecordingChatModel(reply="x"), corpus)  # type: ignore[call-arg]
    (corpus_copy / "llm_checks.yaml").write_text("contradictions: [\n", encoding="utf-8")
    settings = Settings(corpus_dir=corpus_copy, data_dir=tmp_path / "data")
    with pytest.raises(ConfigError, match=str(corpus_copy / "llm_checks.yaml")):
        _bot(settings, embeddings, RecordingChatModel(reply="x"))
    assert not (tmp_path / "data").exists()  # no index built, no audit store opened
