"""The assistant end to end (real model, real Chroma): grounded quotes, focus, abstention, API contract."""

from __future__ import annotations

import json
import sqlite3
import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import assistant as public
from assistant import Answer, Assistant, InvalidQuestion
from assistant.data import parse_yaml
from tests.conftest import CORPUS_DIR

DEV = parse_yaml((CORPUS_DIR.parent / "tests" / "data" / "dev_questions.yaml").read_text())


def _assert_grounded(bot: Assistant, answer: Answer) -> None:
    for q in answer.quotes:
        assert bot.corpus.document(q.document).text[q.start : q.end] == q.text
        assert q.text in answer.text or all(line in answer.text for line in q.text.splitlines())


@pytest.mark.model
@pytest.mark.parametrize("case", DEV["answerable"], ids=lambda c: c["q"])
def test_in_scope_questions_are_answered_from_the_right_sentence(assistant: Assistant, case) -> None:
    answer = assistant.ask(case["q"])
    assert not answer.abstained, answer.metadata
    assert any(case["expect"] in q.text for q in answer.quotes), [q.text for q in answer.quotes]
    _assert_grounded(assistant, answer)
    # at most three passages, besides the rules' sentences and the restatements of quoted passages in the
    # monograph's other part (the same rule said twice: "regular ECG ..." and "baseline and regular ECG ...")
    ids = {p.text: p.id for p in assistant.corpus.passages}
    twins = assistant.composer._restatements
    quoted = {ids[q.text] for q in answer.quotes if q.text in ids}
    restated = {i for i in quoted if twins.get(i) in quoted and i > twins[i]}
    assert len(answer.quotes) <= 3 + sum(len(h.quotes) for h in answer.guardrail) + len(restated)


@pytest.mark.parametrize("question", DEV["not_answerable"])
def test_out_of_scope_questions_abstain(assistant: Assistant, question: str) -> None:
    answer = assistant.ask(question)
    assert answer.abstained
    assert "does not address" in answer.text
    assert answer.quotes == [] and answer.guardrail == []


@pytest.mark.model
def test_answer_leads_with_the_sections_then_quotes(assistant: Assistant) -> None:
    answer = assistant.ask("How often are LFTs checked?")
    lead = answer.text.splitlines()[0]
    assert lead.startswith("The monograph addresses this under")
    for section in answer.sections:
        assert f'"{section}"' in lead
    assert "Monitor liver function weekly during treatment" in answer.text


def test_list_questions_quote_the_whole_list(assistant: Assistant) -> None:
    answer = assistant.ask("What are the risk factors for SOS?")
    (risk,) = [q for q in answer.quotes if q.text.startswith("Risk factors include:")]
    for item in (
        "Receiving hematopoietic stem cell transplantation.",
        "Using a conditioning regimen containing double alkylating agents.",
        "A history of liver disease or previous sinusoidal obstruction syndrome.",
        "Advanced age, multiple salvage treatments, and a large number of treatment cycles.",
    ):
        assert item in risk.text and item in answer.text


def test_answers_stay_focused(assistant: Assistant) -> None:
    answer = assistant.ask("How long should the patient be monitored after the infusion?")
    texts = [q.text for q in answer.quotes]
    assert "Management measures: Closely monitor the patient for at least 1 hour." in texts
    assert len(answer.quotes) <= 3


@pytest.mark.model
def test_the_monographs_restatements_are_paired_by_meaning(assistant: Assistant) -> None:
    """Round 35: the same rule under the risks and again under monitoring (found by the model, not listed)."""
    text = {p.id: p.text for p in assistant.corpus.passages}
    pairs = {frozenset((text[a], text[b])) for a, b in assistant.composer._restatements.items()}
    assert (
        frozenset(
            (
                "Management recommendation: Discontinue the drug immediately if sinusoidal obstruction "
                "syndrome occurs.",
                "Permanent drug discontinuation and active treatment are required for sinusoidal obstruction "
                "syndrome.",
            )
        )
        in pairs
    )
    assert (
        frozenset(
            (
                "Interrupt or adjust the dose if persistent cytopenia occurs.",
                "Interrupt treatment if persistent low counts occur, until counts recover or are confirmed "
                "to be related to the underlying disease.",
            )
        )
        in pairs
    )
    assert len(pairs) == 4  # SOS, the CBC before each dose, persistent low counts, regular ECGs
    for pair in pairs:  # one sentence of each part of the monograph
        sections = {p.heading_path[0] for p in assistant.corpus.passages if p.text in pair}
        assert len(sections) == 2


@pytest.mark.model
def test_an_answer_quotes_the_restatement_of_its_best_passage(assistant: Assistant) -> None:
    answer = assistant.ask("how often should ECGs be done on besponsa?")
    texts = [q.text for q in answer.quotes]
    assert any(t.startswith("Recommendations: Conduct regular electrocardiogram (ECG)") for t in texts)
    assert "Conduct baseline and regular electrocardiogram (ECG) examinations during medication." in texts


@pytest.mark.model
def test_a_restatement_carries_the_title_of_the_passage_it_restates(assistant: Assistant) -> None:
    """ "QTc prolongation - what monitoring?" is best answered by the ECG recommendation under "QT Interval
    Prolongation"; its restatement under "Cardiac Function Monitoring" names no QT, but says the same."""
    answer = assistant.ask("QTc prolongation w/ InO - what monitoring is recommended?")
    texts = [q.text for q in answer.quotes]
    assert any(t.startswith("Recommendations: Conduct regular electrocardiogram (ECG)") for t in texts)
    assert "Conduct baseline and regular electrocardiogram (ECG) examinations during medication." in texts


def test_restatements_are_mutual_nearest_across_parts() -> None:
    from assistant.answer import find_restatements
    from assistant.corpus import Passage

    def passage(i: int, part: str) -> Passage:
        return Passage(
            id=f"d:{i}",
            document="d",
            heading_path=(part, f"s{i}"),
            kind="sentence",
            text=f"t{i}",
            start=i,
            end=i,
        )

    passages = [passage(0, "A"), passage(1, "A"), passage(2, "B"), passage(3, "B")]
    vectors = [[1.0, 0.0], [0.0, 1.0], [0.99, 0.14], [0.9, 0.44]]
    # 0 and 2 are each other's closest across the parts; 1's closest is 3, but 3's closest is 0 (not mutual)
    assert find_restatements(passages, vectors, 0.6) == {"d:0": "d:2", "d:2": "d:0"}
    assert find_restatements(passages, vectors, 0.995) == {}


def test_answer_is_json_ready_and_versioned(assistant: Assistant) -> None:
    answer = assistant.ask("Which labs are checked before each administration?")
    dumped = json.loads(json.dumps(answer.model_dump()))
    assert dumped["corpus_version"] == assistant.corpus.version
    assert set(dumped) >= {"id", "text", "quotes", "guardrail", "abstained", "corpus_version"}
    assert set(dumped["quotes"][0]) == {"text", "document", "section", "start", "end"}


@pytest.mark.parametrize(
    ("question", "message"),
    [
        ("", "empty"),
        ("   \n\t ", "empty"),
        ("\x00\x01", "empty"),
        ("\u200b\u200b\ufeff", "empty"),
        ("x" * 2001, "limit is 2000"),
        (None, "must be text"),
        (42, "must be text"),
    ],
)
def test_bad_questions_get_a_clear_error(assistant: Assistant, question, message: str) -> None:
    with pytest.raises(InvalidQuestion, match=message):
        assistant.ask(question)  # type: ignore[arg-type]


def test_every_answer_is_audited_without_question_text(assistant: Assistant) -> None:
    answer = assistant.ask("Patient MRN 99887766: how often are LFTs checked?")
    with sqlite3.connect(assistant.settings.audit_db) as db:
        row = db.execute(
            "SELECT channel, corpus_version, question FROM answers WHERE answer_id = ?", (answer.id,)
        ).fetchone()
    assert row == ("python", assistant.corpus.version, None)
    assert b"99887766" not in assistant.settings.audit_db.read_bytes()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(question=st.text(min_size=1, max_size=300))
def test_any_text_gives_an_answer_or_abstention_never_an_exception(
    assistant: Assistant, question: str
) -> None:
    try:
        answer = assistant.ask(question)
    except InvalidQuestion as exc:  # only for text with nothing visible in it
        assert "empty" in str(exc)
        assert all(c.isspace() or unicodedata.category(c) in {"Cc", "Cs", "Cf"} for c in question)
        return
    assert isinstance(answer, Answer)
    assert answer.abstained or answer.quotes or answer.guardrail
    _assert_grounded(assistant, answer)


def test_public_api_is_complete() -> None:
    for name in public.__all__:
        assert hasattr(public, name), name
    assert {"Assistant", "Answer", "Quote", "RuleHit", "Settings", "InvalidQuestion"} <= set(public.__all__)


def test_every_example_question_in_the_ui_is_answered(assistant: Assistant) -> None:
    from assistant.web.ui import EXAMPLE_QUESTIONS

    for question in EXAMPLE_QUESTIONS:
        answer = assistant.ask(question)
        assert not answer.abstained, question


def test_a_condition_stated_many_turns_ago_still_fires_the_rule(assistant: Assistant) -> None:
    history = [{"role": "user", "content": "Patient has SOS."}, {"role": "assistant", "content": "..."}]
    for i in range(15):
        history += [
            {"role": "user", "content": f"Unrelated question {i} about ECG monitoring?"},
            {"role": "assistant", "content": "..."},
        ]
    answer = assistant.ask("And the next dose?", history=history)
    assert [h.rule_id for h in answer.guardrail] == ["sos"]


def test_invisible_characters_do_not_hide_a_condition(assistant: Assistant) -> None:
    answer = assistant.ask("S\u200bO\u200bS confirmed, continue?")
    assert [h.rule_id for h in answer.guardrail] == ["sos"]


FITTED = "weights: {coverage: 2, best_coverage: 2, similarity: 2, log_concepts: -0.5, quoted_before: 0.7}"


@pytest.mark.parametrize(
    ("clause", "dimension"),
    [
        # the words the pattern spells ask; those it lets stand between them are what is asked about
        ("how long should liver function keep being checked", {"how", "long", "should", "checked"}),
        ("for how long should a child be closely monitored", {"for", "how", "long", "should", "monitored"}),
        ("what is the dose", set()),
    ],
)
def test_a_kinds_dimension_is_the_words_its_pattern_spells(clause: str, dimension: set[str]) -> None:
    from assistant.answer import AnswerType

    kind = AnswerType(
        label="duration",
        asks=r"\bhow\s+long\s+(?:should)\b(?:\s+\w+){0,6}?\s+(?:monitored|checked)\b"
        r"|\bfor\s+how\s+long\b(?:\s+\w+){0,8}?\s+(?:monitored|checked)\b",
    )
    assert kind.dimension(clause) == dimension
    assert kind.spanned(clause) >= dimension


def test_population_concepts_must_be_synonym_keys() -> None:
    """A population the vocabulary names must be one of its concepts, or it could never be set aside."""
    from pydantic import ValidationError

    from assistant.retrieval import Vocabulary

    base = {"synonyms": {"children": ["kids"]}, "negations": [], "stopwords": [], "subject": []}
    base["generic"] = []
    assert Vocabulary(**base, populations=["children"]).populations == ["children"]
    with pytest.raises(ValidationError, match="keys of synonyms"):
        Vocabulary(**base, populations=["elderly"])


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("answer_types.yaml", "amount: [unclosed", "cannot read"),
        ("answer_types.yaml", "amount: {description: x, asks: '(', answer: 'mg'}", "answer_types.yaml"),
        ("answer_types.yaml", "amount: {description: x, asks: dose}", "answer_types.yaml"),
        ("answerability.yaml", "weights: [unclosed", "cannot read"),
        ("answerability.yaml", f"{FITTED}\nintercept: -1\nthreshold: 1.5", "threshold"),  # a probability
        ("answerability.yaml", f"{FITTED}\nthreshold: 0.7", "intercept"),  # missing
        (
            "answerability.yaml",
            "weights: {coverage: 2}\nintercept: -1\nthreshold: 0.7",
            "exactly these features",
        ),
        ("answerability.yaml", f"{FITTED}\nintercept: -1\nthreshold: 0.7\nbias: 3", "answerability.yaml"),
    ],
)
def test_a_broken_answer_data_file_stops_start_up(
    corpus_copy, embeddings, tmp_path, name: str, content: str, message: str
) -> None:
    """The answer types and the fitted answerability score are read once, at start-up, and fail closed."""
    from assistant import CorpusError, Settings

    (corpus_copy / name).write_text(content, encoding="utf-8")
    with pytest.raises(CorpusError, match=message):
        Assistant.from_settings(
            Settings(corpus_dir=corpus_copy, data_dir=tmp_path / "data"), embeddings=embeddings
        )


# ------------------------------------------------------------------------------- answerability (issue 10)
COVERED = [c["q"] for c in DEV["answerable"]]
NEUTRAL = [
    "please",
    "actually",
    "really",
    "quick question:",
    "for a 63-year-old patient,",
    "just checking,",
    "kindly",
]


def _with_filler(question: str, filler: str) -> list[str]:
    """The question with the filler at its start, at its end and, unless the filler ends in punctuation that
    opens a new sentence or clause ("quick question:"), in its middle."""
    words = question.rstrip("?").split()
    changed = [f"{filler} {question}", f"{question.rstrip('?')} {filler}?"]
    if filler[-1].isalnum():
        changed.append(" ".join([*words[: len(words) // 2], filler, *words[len(words) // 2 :]]) + "?")
    return changed


@pytest.mark.model
@pytest.mark.parametrize("question", COVERED)
def test_a_neutral_filler_word_keeps_a_covered_question_answered(assistant: Assistant, question: str) -> None:
    """No threshold sits on a knife-edge that one word carrying no topic flips: every covered development
    question, with every neutral filler in every place (exhaustive, so the test cannot pass by luck)."""
    assert not assistant.ask(question).abstained
    flipped = [c for f in NEUTRAL for c in _with_filler(question, f) if assistant.ask(c).abstained]
    assert not flipped


@pytest.mark.model
def test_when_before_a_subject_sets_a_condition(assistant: Assistant) -> None:
    """ "When counts recover after a hold, ...": the clause sets a condition and asks nothing, so the
    question asks only for the dose, which the monograph does not give (the hold rule still leads)."""
    answer = assistant.ask(
        "When counts recover after a hold, is it restarted at the same dose or a lower one?"
    )
    assert answer.abstained and "dose amount" in " ".join(answer.not_covered)
    assert [h.rule_id for h in answer.guardrail] == ["cytopenia"]
    asked = assistant.ask("When do liver tests get checked?")  # "when" before a verb asks
    assert not asked.abstained


@pytest.mark.model
@pytest.mark.parametrize(
    ("question", "not_covered"),
    [
        ("What are the risk factors for SOS, and should we give ursodiol prophylaxis?", "ursodiol"),
        ("How often are LFTs checked, and what ALT threshold should trigger a hold?", "numeric threshold"),
        ("Does inotuzumab prolong the QT interval, and what QTc value should make me hold it?", "threshold"),
        ("Which drugs should be avoided with inotuzumab - specifically, is voriconazole OK?", "voriconazole"),
        # a statement before the question, after a label that names no monograph concept
        (
            "Pharmacist: QT drugs to avoid with InO - is ondansetron ok for the antiemetic cover?",
            "ondansetron",
        ),
        # the clause the monograph cannot answer does not dilute the meaning of the one it can
        ("Is it approved for children, and what dose do kids get?", "dose amount"),
        ("Is it indicated for under-18s, and what's the mg/m2 dose in children?", "dose amount"),
        # ... while a condition lends its topic to a clause that asks without one
        ("If SOS develops, what do we do with the drug, and what is the defibrotide dose?", "defibrotide"),
        # "and" before a preposition and a question word opens a new clause
        ("Which cytopenias can it cause and below what platelet count do we transfuse?", "threshold"),
        # a request opens a clause as a question does
        (
            "List the labs to draw before each dose and tell me which cycle days (D1, D8, D15) they fall on.",
            "schedule",
        ),
        # each clause of a refused question is searched for on its own; "at risk" asks for risk factors
        (
            "What is the mechanism by which inotuzumab causes SOS, and which patients are at risk?",
            "mechanism",
        ),
        # a drug the question itself calls QT-prolonging is one of the monograph's "other drugs"
        (
            "pt on inotuzumab is also on a QT-prolonging antifungal, anything in the monograph?",
            "does not mention antifungal",
        ),
        # "and exactly how often" opens a clause of its own
        (
            "Do patients need ECGs on inotuzumab and exactly how often - weekly, every cycle?",
            "exact schedule",
        ),
        # "if ..., we stop?": a main clause after the condition asks
        ("If SOS occur, we stop inotuzumab? And which drug is used to treat the SOS?", "named drugs"),
        # "... and whether ..." opens a clause of its own
        (
            "A pharmacist asks whether InO causes myelosuppression and whether it is safe in pregnancy.",
            "pregnancy",
        ),
        # enumerated items are clauses, and a list asks even with no question word
        (
            "The committee requests (a) the causes of death after HSCT following ino and (b) the NRM "
            "percentage.",
            "rates",
        ),
        # a thing of its own after "and the" under the same request
        ("Please give the risk factors for SOS and the reported incidence of SOS.", "incidences"),
        # after "before": "how long after HSCT do we keep checking LFTs" is answered, the interval is not
        (
            "How long after HSCT should LFTs continue, and what is the minimum interval between the last "
            "ino dose and conditioning?",
            "interval",
        ),
        # each thing listed under one question is asked about: the ECG is given, the echo is not (round 65)
        ("Do we need a baseline ECG and an echo before starting inotuzumab?", "other tests"),
        ("Do we need LFTs and a hepatitis B serology before ino?", "does not mention serology"),
        # asked of the drug in a dimension the indication gives a number in (round 65)
        ("Can inotuzumab be used in a 1 year old, and what's the paediatric dose?", "dose amount"),
    ],
)
def test_a_partly_covered_question_is_answered_and_names_the_rest(
    assistant: Assistant, question: str, not_covered: str
) -> None:
    answer = assistant.ask(question)
    assert not answer.abstained and answer.quotes, answer.metadata
    assert answer.not_covered and not_covered in " ".join(answer.not_covered)
    assert "Not covered by the monograph: " + " ".join(answer.not_covered) in answer.text
    _assert_grounded(assistant, answer)


@pytest.mark.parametrize(
    ("question", "not_covered"),
    [
        ("Should ursodiol be used to prevent VOD?", "The monograph does not mention ursodiol."),
        ("What speed should it run at?", "It gives no infusion rate or duration."),
        ("What is the recommended dose of Besponsa in mg/m2?", "It gives no dose amount."),
        ("Does Besponsa need a dose adjustment with strong CYP3A4 inhibitors?", "does not mention cyp3a4"),
        ("Is Besponsa safe during pregnancy?", "pregnancy"),
        # a number answers only a question about its own dimension: the age sentence gives no potassium target
        ("What potassium and magnesium targets should be reached before each dose?", "threshold"),
        ("Is the Besponsa infusion given over 1 hour?", "infusion rate or duration"),
        # ... and only from a passage about what is asked: "at least 1 hour" is the observation, not the ECG
        ("How many hours before the infusion should the pre-dose ECG be done?", "figure in the unit asked"),
        # candidates listed for a "which" question, none of which the monograph names
        ("Which electrolytes should be tested - potassium, magnesium, calcium?", "It does not say which"),
        ("which electrolytes exactly (K, Mg, Ca)?", "k, mg or ca"),
        # the monograph's one time in hours is how long to watch the patient, not when a reaction starts
        ("How many minutes into the infusion do reactions usually start?", "figure in the unit asked"),
        ("When treatment resumes, is it given at the same dose or reduced?", "dose amount"),
        # an amount the asker offers that no passage gives, whatever the unit or the way it is offered
        ("Should weekly LFTs continue until day +100 after HSCT?", "does not mention day +100"),
        ("should weekly lfts keep going to 3 months post transplant", "does not mention 3 months"),
        ("Can delayed infusion reactions occur after the infusion - up to 24 hours?", "24 hours"),
        ("should CBC be checked between doses, eg twice weekly?", "does not mention twice weekly"),
        ("should CBC be checked between doses, eg 3 times a week?", "does not mention 3 times a week"),
        # a phrase the monograph uses without saying what it covers
        ("Does busulfan plus thiotepa count as double alkylating agents?", "what that term covers"),
        ("how often is 'regular'?", "what that term covers"),
        ("Is a 66 year old considered advanced age?", "what that term covers"),
        ("What does 'strengthen monitoring' mean in practice?", "what that term covers"),
        ("Which conditioning drugs are meant by 'double alkylating agents'?", "what that term covers"),
        # how often something happens asks for an incidence
        ("How often do infusion reactions happen with inotuzumab?", "incidences"),
        # a hyphenated name in capitals is one name ("car" and "t" are not what is asked about)
        ("Can CAR-T cells be given after inotuzumab?", "does not mention CAR-T"),
        # another product named in several words is named whole, its words not corrected ("wort" is no "work")
        ("is st john's wort ok alongside ino?", "does not mention st johns wort"),
        # an emphasis word does not hide what is asked
        ("How does it actually kill the leukaemic cells?", "mechanism of action"),
        ("How long must counts stay low before we call the cytopenia 'persistent'?", "what that term covers"),
        # a frame that opens with a preposition is part of the clause it frames
        ("For SOS monitoring on inotuzumab, what weight gain should trigger concern?", "threshold"),
        # a figure named after several words, a terse "... cut-off?", funding, when something shows up
        ("What is the 1-year non-relapse mortality rate after transplant?", "incidences"),
        ("platelet cutoff?", "threshold"),
        ("Is inotuzumab funded for first relapse?", "reimbursement"),
        ("at what point after the transplant does VOD usually show up?", "time course"),
        # a medical term English lacks is not "corrected" to an everyday word two edits away ("trades")
        ("Is torsades the arrhythmia inotuzumab causes?", "does not mention torsades"),
        ("What is the maximum duration of a dose delay before we must stop inotuzumab?", "how long"),
        ("Is thiotepa plus busulfan the double alkylating regimen that the leaflet means?", "what that term"),
        # a rare noun names a thing ("extravasation"), as a drug name does
        ("How do we manage extravasation of a Besponsa infusion?", "does not mention extravasation"),
        ("Is a prior history of SOS an absolute contraindication?", "no list of contraindications"),
        # an amount in ms that no passage gives
        ("Should inotuzumab be stopped for good if the QTc goes above 500 ms?", "does not mention 500 ms"),
        # an eponym is one name, though one of its parts is a word the monograph knows ("child")
        ("Is there a Child-Pugh based dose adjustment for inotuzumab?", "does not mention Child-Pugh"),
        ("Is inotuzumab contraindicated in patients with active hepatitis?", "no list of contraindications"),
        ("How does it cause SOS?", "mechanism"),
        (
            "Which electrolytes specifically - potassium, magnesium, calcium - should be measured?",
            "term covers",
        ),
        ("Should the dose be reduced in elderly patients because of their SOS risk?", "patient group"),
        ("Do blood products need to be irradiated for patients on inotuzumab?", "irradiation"),
        ("Is it correct that a QTc >500 ms mandates interrupting inotuzumab?", "does not mention 500 ms"),
        ("Should weekly liver monitoring continue for three months after transplant?", "three months"),
        ("Can she go to school or nursery between cycles?", "daily activities"),
        ("Which electrolytes should be measured for the QT precaution?", "term covers"),
        ("How do I convert bilirubin from mg/dL to umol/L?", "unit conversions"),
        # another product, however short its name (the guardrail's products and corpus/drug_names.yaml)
        ("ATG dosing in conditioning?", "The monograph does not mention atg."),
        ("Mesna dosing with PTCy?", "The monograph does not mention mesna."),
        ("Which clinic is best for ALL treatment near Lyon?", "access"),  # a provider is access
        # things a question lists with a shared last noun are asked together (round 65)
        ("What potassium and magnesium levels should be targeted before a Besponsa dose?", "threshold"),
        ("Should HBV and HCV serologies be screened before starting Besponsa?", "other tests"),
        # a short aside between dashes is part of its question; a frame opening with "of" frames (round 65)
        (
            "Which blood products - irradiated? CMV-negative? - are advised for transfusion support on InO?",
            "irradiation",
        ),
        ("Of the infection deaths after transplant, are they mostly fungal or bacterial?", "which"),
        ("What is the relative risk of SOS after double alkylating agents versus a single one?", "rates"),
    ],
)
def test_a_question_asking_only_for_what_is_not_covered_abstains(
    assistant: Assistant, question: str, not_covered: str
) -> None:
    answer = assistant.ask(question)
    assert answer.abstained and not answer.quotes
    assert not_covered in " ".join(answer.not_covered)


@pytest.mark.parametrize(
    ("question", "rule", "quotes"),
    [
        (
            "What ALT or AST level, in multiples of the upper limit of normal, should prompt us to hold it?",
            "liver_abnormal",
            ["Suspend medication if abnormalities occur, until liver function returns to normal."],
        ),
        # round 39: "the limit to ..." asks for a number too
        (
            "Which neutrophil count is the limit to interrupt treatment with InO?",
            "cytopenia",
            [
                "Interrupt or adjust the dose if persistent cytopenia occurs.",
                "Interrupt treatment if persistent low counts occur, until counts recover or are confirmed "
                "to be related to the underlying disease.",
            ],
        ),
    ],
)
def test_a_limit_asked_for_a_rule_abstains_on_the_limit_and_shows_the_rule(
    assistant: Assistant, question: str, rule: str, quotes: list[str]
) -> None:
    """The monograph gives no ALT level or count; asking for the one that prompts a hold asks about the rule,
    whose own sentences are shown (a comma before a verb-led predicate does not split what is asked)."""
    answer = assistant.ask(question)
    assert answer.abstained
    assert "threshold" in " ".join(answer.not_covered)
    assert [h.rule_id for h in answer.guardrail] == [rule]
    assert [q.text for q in answer.quotes] == quotes


@pytest.mark.parametrize(
    "question",
    [
        # how long a finding has lasted is a patient detail, not an amount offered as the answer
        "plt 40 for 2 weeks, hold ino?",
        "ANC 0.6 x10^9/L for 10 days during C1 - hold ino?",
        "plt 25 K/uL for over a week on InO - hold it?",
    ],
)
def test_how_long_a_finding_lasted_is_no_amount_asked_about(assistant: Assistant, question: str) -> None:
    answer = assistant.ask(question)
    assert not answer.abstained and answer.quotes
    assert not any("week" in line or "days" in line for line in answer.not_covered)


@pytest.mark.parametrize(
    ("question", "rule", "not_covered"),
    [
        (
            "After a mild infusion reaction, can the infusion be restarted at half the rate?",
            "infusion_reaction",
            "rate",
        ),
        (
            "What criteria decide whether a 3rd cycle is 'necessary'?",
            "cycle_limit",
            "definition of that term",
        ),
        (
            "What ALT elevation, expressed as a multiple of the ULN, triggers interruption?",
            "liver_abnormal",
            "threshold",
        ),
    ],
)
def test_a_rule_beside_an_uncovered_ask_keeps_the_question_not_covered(
    assistant: Assistant, question: str, rule: str, not_covered: str
) -> None:
    """The rule's verdict is shown, but it does not answer what the monograph never gives (a restart rate,
    what makes a 3rd cycle necessary): the answer stays a refusal of that part."""
    answer = assistant.ask(question)
    assert rule in {h.rule_id for h in answer.guardrail}
    assert answer.abstained and not_covered in " ".join(answer.not_covered)


@pytest.mark.model
@pytest.mark.parametrize(
    ("question", "rule"),
    [
        (
            "with bilirubin 2.0 mg/dL and AST 95 is possible to continue the inotuzumab or we must to wait?",
            "liver_abnormal",
        ),
        ("71F, anaphylaxis with stridor during InO, now resolved. Can she get D8 if we premedicate?", None),
        # round 56: a choice of actions in words the monograph lacks, which the rule decides
        ("ANC 0.6 x10^9/L pre C2D8, low since C1D15, BM pending. push InO or sit on it?", "cytopenia"),
    ],
)
def test_a_rule_answers_the_choice_the_passages_left_open(
    assistant: Assistant, question: str, rule: str | None
) -> None:
    """A rule's own sentence gives what the quoted passages did not ("continue or wait?": suspend until
    normal): the rule answers, so the answer is no refusal and says nothing is left open."""
    answer = assistant.ask(question)
    assert answer.guardrail and not answer.abstained
    assert rule is None or rule in {h.rule_id for h in answer.guardrail}
    assert answer.metadata["retrieval"]["answered_by"] == "rule verdicts"


@pytest.mark.model
@pytest.mark.parametrize(
    ("question", "rule", "not_covered"),
    [
        (
            "Grade 4 anaphylaxis during the InO infusion today. Can we rechallenge next week with premeds?",
            "infusion_reaction_severe",
            "named drugs or premedications",
        ),
        (
            "SOS confirmed on InO last week. Can we rechallenge with ursodiol cover?",
            "sos",
            "ursodiol",
        ),
    ],
)
def test_a_permanent_discontinuation_answers_a_yes_or_no_decision_about_the_drug(
    assistant: Assistant, question: str, rule: str, not_covered: str
) -> None:
    """The rule answers "can we rechallenge ... with premeds?" (no), whatever the question adds; what the
    monograph does not give stays named in the answer."""
    answer = assistant.ask(question)
    assert [h.rule_id for h in answer.guardrail][:1] == [rule]
    assert not answer.abstained, answer.metadata
    assert not_covered in " ".join(answer.not_covered) and not_covered in answer.text
    assert all(q.text in answer.text for q in answer.guardrail[0].quotes)
    # the metadata does not call an answer a refusal: the passages alone were refused, the rule answered
    retrieval = answer.metadata["retrieval"]
    assert "abstain_reason" not in retrieval and retrieval["answered_by"] == "rule verdicts"
    assert retrieval["passages_refused"]


@pytest.mark.model
def test_a_finding_stated_earlier_lets_its_permanent_rule_answer_a_later_decision(
    assistant: Assistant,
) -> None:
    """A severe reaction told in an earlier turn answers "what if we premedicate, can we give it then?"; a
    condition an earlier question only asked about does not ("Is age an SOS risk factor?")."""
    told = [
        {"role": "user", "content": "pt developed stridor and BP 70/40 during the Besponsa infusion"},
        {"role": "assistant", "content": "That is a severe infusion-related reaction."},
    ]
    question = "What if we premedicate with steroids next time, can we give it then?"
    answer = assistant.ask(question, history=told)
    assert [h.rule_id for h in answer.guardrail][:1] == ["infusion_reaction_severe"]
    assert not answer.abstained, answer.metadata
    assert "named drugs or premedications" in " ".join(answer.not_covered)
    asked = [
        {"role": "user", "content": "Is age an SOS risk factor?"},
        {"role": "assistant", "content": "The monograph lists the risk factors."},
    ]
    assert assistant.ask("dose-reduce in older patients?", history=asked).abstained


@pytest.mark.model
@pytest.mark.parametrize(
    ("question", "quoted"),
    [
        # "before admission" says when, not where it is given
        (
            "Transplant in two weeks: should we give another cycle before admission?",
            "2 cycles are recommended",
        ),
        # a question relayed from a relative, about a relative, is about the drug
        ("Mum wants to know if the drug can damage his liver", "sinusoidal obstruction syndrome"),
        ("Parent asking: will this medicine hurt my son's liver?", "sinusoidal obstruction syndrome"),
    ],
)
def test_framing_and_patient_words_do_not_hide_a_covered_question(
    assistant: Assistant, question: str, quoted: str
) -> None:
    answer = assistant.ask(question)
    assert not answer.abstained, answer.metadata
    assert any(quoted in q.text for q in answer.quotes)
    _assert_grounded(assistant, answer)


def test_a_clause_that_only_sets_a_condition_asks_nothing_of_its_own(assistant: Assistant) -> None:
    """ "If we reduce the dose for cytopenia" names the topic; only "by what percent" is asked, and the
    monograph gives no percentage. (The cytopenia rule may still lead, with its own quotes.)"""
    answer = assistant.ask("If we reduce the dose for persistent cytopenia, by what percent?")
    assert answer.abstained
    assert "percentages" in " ".join(answer.not_covered)


@pytest.mark.parametrize(
    "question",
    [
        "For a patient not going to transplant, how many cycles of inotuzumab can be given in total?",
        "How many cycles for a non-transplant patient?",
    ],
)
def test_a_passage_for_a_setting_the_question_excludes_does_not_answer(
    assistant: Assistant, question: str
) -> None:
    """The cycle count sits under "... Mortality After Transplantation": it is not the answer for a patient
    who is not having one, and the answer says where the monograph gives it."""
    answer = assistant.ask(question)
    assert any("which the question excludes" in line for line in answer.not_covered)
    assert "Mortality After Transplantation" in answer.text


@pytest.mark.model
def test_a_setting_excluded_a_few_words_after_not_is_excluded(assistant: Assistant) -> None:
    """ "patients who do NOT go on to transplant": the month of monitoring after transplantation is not
    their answer, and nothing else in the monograph says how long."""
    answer = assistant.ask(
        "For how long should liver function be monitored after the last dose in patients who do NOT go on "
        "to transplant?"
    )
    assert answer.abstained


@pytest.mark.model
@pytest.mark.parametrize(
    ("question", "history", "answered"),
    [
        # one option a quoted passage gives answers the choice ("weekly")
        ("weekly or monthly?", "Do we need to keep monitoring LFTs after transplant in pts on ino?", True),
        ("LFTs weekly or fortnightly on ino?", "", True),
        # neither option is given: the one the monograph lacks is still named
        ("Should the QT be corrected with Fridericia or Bazett for ino ECG monitoring?", "", False),
        # the drug's own name is no option the monograph gives
        ("Should we use blinatumomab or inotuzumab first in relapsed B-ALL?", "", False),
    ],
)
def test_an_option_the_monograph_gives_answers_a_choice(
    assistant: Assistant, question: str, history: str, answered: bool
) -> None:
    turns = [{"role": "user", "content": history}, {"role": "assistant", "content": "..."}]
    answer = assistant.ask(question, history=turns if history else None)
    assert answer.abstained is not answered, answer.not_covered


@pytest.mark.model
def test_a_later_dose_after_a_severe_reaction_is_answered_by_the_rule(assistant: Assistant) -> None:
    """ "even with premeds ... next time?" asks to give it again: the permanent discontinuation answers."""
    history = [
        {"role": "user", "content": "Pt had anaphylaxis with hypotension on C1D1 of InO."},
        {"role": "assistant", "content": "Severe infusion reactions require permanent discontinuation."},
    ]
    answer = assistant.ask("even with premeds and a slower rate next time?", history=history)
    assert not answer.abstained
    assert [h.rule_id for h in answer.guardrail] == ["infusion_reaction_severe"]


@pytest.mark.parametrize(
    ("question", "quoted"),
    [
        # no topic of its own: "this medicine" is the one drug there is
        ("In plain terms, what is this medicine for?", "indicated for the treatment"),
        # which kinds there are: the sentence that lists them, not one that names the class (round 61)
        ("myelosupression with inotuzumab - which cytopenais?", "manifestations such as thrombocytopenia"),
        # what to do, when the closest passage only tells the reactions: the section's management (round 62)
        ("pt had rigors and temp 38.3 durign the infsuion, what do we do", "Interrupt the infusion"),
        ("What supportive measures are suggested for myelosuppression?", "blood transfusion support"),
        # what to watch for after transplant: the recommendation after the mortality sentence (round 62)
        (
            "What monitoring is recommended once a patient proceeds to stem cell transplant?",
            "Closely monitor for",
        ),
        # two letters swapped: "cuase" is "cause", the sentence that says what it can cause (round 62)
        ("does inotuzumab cuase low platelts and neutrophils", "can cause myelosuppression"),
        # a grandparent and a day after transplant are who and when, not what is asked (round 64)
        (
            "grandad is 74 and this is his third lot of rescue treatment - is he more at risk of the liver "
            "problem?",
            "Advanced age, multiple salvage treatments",
        ),
        (
            "BMT pt, had InO pre-tx, spiking temps D+10 - what does the monograph say re monitoring?",
            "Closely monitor for signs of infection",
        ),
        # one risk factor of the list, found by its own vector (the section title pulls it away; round 64)
        ("does the conditioning regimen matter?", "double alkylating agents"),
        ("Hx of VOD - does it matter for InO?", "previous sinusoidal obstruction syndrome"),
        # red cells named as what is given; the drug bringing counts down is what it can cause (round 65)
        ("abx + RBC/plt tx for cytopenias on InO - does the mono support that?", "blood transfusion support"),
        ("Will this medicine bring his blood counts down?", "can cause myelosuppression"),
        # the small veins of the liver named in lay words are where SOS is (round 65)
        ("Can this leukemia drug block up the little veins inside the liver?", "fatal sinusoidal"),
        # the drug asked for itself, whatever words come after (round 66)
        ("what exactly is this medicine, in simple words? the family keeps asking", "antibody-drug"),
        # risk factors asked with the verb or the comparison after the risk; the drug's own risk (round 67)
        ("75 yo F, 3 prior lines of therapy. Which of her features raise SOS risk?", "Risk factors include"),
        ("in which patients the risk of SOS is more high with this medicine?", "Risk factors include"),
        ("What is the main liver risk with inotuzumab ozogamicin?", "fatal sinusoidal"),
    ],
)
def test_what_the_monograph_gives_is_answered(assistant: Assistant, question: str, quoted: str) -> None:
    answer = assistant.ask(question)
    assert not answer.abstained, answer.metadata
    assert any(quoted in q.text for q in answer.quotes)


@pytest.mark.parametrize(
    ("question", "refused", "ruleless"),
    [
        # no section on the QT interval says to interrupt, suspend or stop the drug (round 63)
        ("Is it necessary to interrupt InO for grade 2 QT prolongation?", True, True),
        ("Which electrolyte abnormalities mean we must hold ino?", True, True),
        # ... asked on a patient's finding, its passages are quoted beside the rule the monograph lacks
        ("QTc 520 ms on the C1D8 ECG. Do I hold the dose?", False, True),
        # ... the sections on the liver and on infusion reactions do; other drugs are the QT section's rule
        ("Should we hold the dose if liver function tests come back abnormal?", False, False),
        ("Should we interrupt the infusion if the patient gets a rash?", False, False),
        ("Should other QT-prolonging medicines be avoided while giving inotuzumab ozogamicin?", False, False),
    ],
)
def test_a_decision_on_a_finding_the_monograph_has_no_rule_for_is_not_covered(
    assistant: Assistant, question: str, refused: bool, ruleless: bool
) -> None:
    answer = assistant.ask(question)
    assert answer.abstained is refused, answer.metadata
    assert any("rule on holding or stopping" in line for line in answer.not_covered) is ruleless


@pytest.mark.parametrize(
    "question",
    [
        # "medical" shares its stem with "medication", a word of the monograph that says nothing
        "how do I contact medical information?",
        # answers offered for a question the monograph does not answer are no question of their own
        "'regular' ECGs - how regular? weekly, every cycle, every dose?",
        # a day after transplant offered as the answer
        "Typical day post-transplant when SOS presents after ino - D+21?",
    ],
)
def test_round_64_questions_the_monograph_does_not_answer_are_refused(
    assistant: Assistant, question: str
) -> None:
    assert assistant.ask(question).abstained


def test_a_generic_noun_after_a_question_on_cycles_follows_it_up(assistant: Assistant) -> None:
    """ "why does the number matter?" has no topic of its own: the number of cycles asked before."""
    history = [
        {"role": "user", "content": "how many cycles of ino before transplant?"},
        {"role": "assistant", "content": "2 cycles are recommended, and a 3rd may be considered."},
    ]
    answer = assistant.ask("why does the number matter?", history=history)
    assert not answer.abstained, answer.metadata
    assert any("number of treatment cycles" in q.text for q in answer.quotes)


def test_a_setting_named_without_negation_is_still_answered(assistant: Assistant) -> None:
    answer = assistant.ask("How many cycles of inotuzumab are recommended before transplant?")
    assert not answer.abstained
    assert any("2 cycles are recommended" in q.text for q in answer.quotes)
    assert not answer.not_covered


def test_how_long_a_hold_may_last_is_not_covered(assistant: Assistant) -> None:
    """The monograph says until when a hold lasts, never for how long at most. (The liver rule leads.)"""
    answer = assistant.ask(
        "How long can we suspend inotuzumab for abnormal LFTs before we must stop it for good?"
    )
    assert answer.abstained
    assert "how long" in " ".join(answer.not_covered)


@pytest.mark.model
def test_which_values_asks_which_tests_not_a_number(assistant: Assistant) -> None:
    first = "Do I need CBC with every dose of inotuzumab?"
    history = [
        {"role": "user", "content": first},
        {"role": "assistant", "content": assistant.ask(first).text},
    ]
    answer = assistant.ask("which values in the count exactly?", history=history)
    assert not answer.abstained
    assert any("platelets, neutrophils" in q.text for q in answer.quotes)


def test_related_passages_are_labelled_as_not_answering(assistant: Assistant) -> None:
    """When abstaining, close passages may be offered, under a heading that says they do not answer."""
    answer = assistant.ask("What is the elimination half-life of the CD22 antibody-drug conjugate?")
    assert answer.abstained and answer.quotes == []
    for quote in answer.related:
        assert assistant.corpus.is_verbatim(quote)
    if answer.related:
        assert "Related passages (they do not answer the question):" in answer.text


# ------------------------------------------------------------------------ the fitted answerability score
def test_the_answerability_score_rises_with_coverage_and_meaning() -> None:
    """The fitted weights say what a reader expects: more of the question covered, or a passage closer in
    meaning, never makes an answer less likely; asking about more things at once never makes it more likely
    (evals/calibrate.py keeps that weight <= 0: round 38's development sets gave it none)."""
    from assistant.answer import Answerability
    from assistant.data import load_data
    from assistant.settings import Settings

    score = load_data(Settings().corpus_dir / "answerability.yaml", Answerability)
    base = {
        "coverage": 0.5,
        "best_coverage": 0.4,
        "similarity": 0.5,
        "log_concepts": 1.0,
        "quoted_before": 0.0,
    }
    for feature in ("coverage", "best_coverage", "similarity"):
        assert score.probability({**base, feature: base[feature] + 0.3}) > score.probability(base), feature
    # An earlier quote of the passage may add nothing (evals/calibrate.py keeps such weights >= 0).
    assert score.probability({**base, "quoted_before": 1.0}) >= score.probability(base)
    assert score.probability({**base, "log_concepts": 2.0}) <= score.probability(base)
    assert 0.0 < score.probability(base) < 1.0


@pytest.mark.model
def test_the_answerability_diagnostics_explain_the_decision(assistant: Assistant) -> None:
    """Each answer reports the features the score read and the probability it gave."""
    from assistant.answer import FEATURES

    answered = assistant.ask("How often should liver function be monitored?")
    found = answered.metadata["retrieval"]
    assert set(FEATURES) <= set(found)
    assert found["answerability"] >= assistant.composer.answerability.threshold
    refused = assistant.ask("What is the capital of France?")
    assert refused.abstained
