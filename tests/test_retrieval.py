"""Hybrid retrieval and query expansion: abbreviations and typos reach the right sentence."""

from __future__ import annotations

from pathlib import Path

import pytest
from langchain_core.documents import Document

from assistant import Settings
from assistant.corpus import load_corpus
from assistant.errors import CorpusError
from assistant.index import VectorIndex
from assistant.retrieval import HybridRetriever, LexicalIndex, QueryExpander, merge_rankings
from tests.conftest import CORPUS_DIR


@pytest.fixture(scope="module")
def expander() -> QueryExpander:
    return QueryExpander.from_file(CORPUS_DIR / "synonyms.yaml", load_corpus(CORPUS_DIR))


@pytest.fixture(scope="module")
def retriever(tmp_path_factory, embeddings, expander) -> HybridRetriever:
    settings = Settings(data_dir=tmp_path_factory.mktemp("retrieval"))
    corpus = load_corpus(CORPUS_DIR)
    return HybridRetriever(
        corpus=corpus,
        index=VectorIndex.open(settings, corpus, embeddings),
        embeddings=embeddings,
        expander=expander,
        lexical=LexicalIndex(corpus.passages, expander.vocabulary.stopwords),
        k=6,
    )


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("VOD risk factors", "Risk factors include"),
        ("hepatic VOD after allo-SCT", "sinusoidal obstruction syndrome"),
        ("How often are LFTs checked?", "Monitor liver function weekly"),
        ("CBC before each dose?", "Check complete blood count before each administration."),
        ("ANC and plts monitoring", "Check platelets, neutrophils"),
        ("NRM after HSCT", "non-relapse mortality rate"),
        ("BMT and non relapse mortality", "non-relapse mortality rate"),
        ("EKG monitoring", "electrocardiogram (ECG)"),
        ("QTc prolongation with InO", "QT interval prolongation"),
        ("IRR symptoms", "fever, chills, rash, and dyspnea"),
        ("bili and alk phos", "total bilirubin, and alkaline phosphatase"),
        ("thrombocytopnia and neutropnia", "thrombocytopenia and neutropenia"),
        ("sinusodial obstruction risk", "sinusoidal obstruction syndrome"),
        ("hepatotoxcity", "sinusoidal obstruction syndrome (SOS)"),
        ("myelosupression", "myelosuppression manifestations"),
        ("arrythmia risk", "risk of arrhythmia"),
        ("electrolites", "electrolyte tests"),
    ],
)
def test_abbreviations_and_typos_retrieve_the_sentence(retriever, question: str, expected: str) -> None:
    top = [s.passage.text for s in retriever.search(question)]  # the candidates the answer stage ranks
    assert any(expected in t for t in top), top


@pytest.mark.parametrize(
    ("question", "concept_words"),
    [
        ("VOD", {"sinusoidal", "obstruction", "syndrome"}),
        ("LFTs", {"liver", "function"}),
        ("thrombocytopnia", {"thrombocytopenia"}),
        ("sinusodial", {"sinusoidal", "obstruction", "syndrome"}),
        ("EKG", {"electrocardiogram", "ecg"}),
        ("alk phos", {"alkaline", "phosphatase"}),
    ],
)
def test_expansion_maps_clinical_words_to_monograph_words(expander, question, concept_words) -> None:
    assert concept_words <= set(expander.expand(question).terms)


@pytest.mark.parametrize(
    ("question", "codes"),
    [
        ("Any interaction with CYP3A4 inhibitors?", ["cyp3a4"]),
        ("Can CAR-T cells be given after inotuzumab?", ["CAR-T"]),  # a name in capitals, as typed
        ("should we give G-CSF?", ["G-CSF"]),
        ("Is it used in B-ALL or T-ALL?", []),  # names the synonyms know
        ("CD22+ B-cell ALL, re-dose after a hold?", []),  # monograph words; a hyphenated word in lower case
    ],
)
def test_names_the_monograph_does_not_use_are_read_as_codes(expander, question, codes) -> None:
    assert expander.codes(question) == codes


@pytest.mark.parametrize(
    ("question", "unknown"),
    [
        ("Is it safe in pregnancy?", []),  # everyday words: "pregnancy" is caught by what is asked
        ("interaction with fluconazole", ["fluconazole"]),
        ("Any interaction with CYP3A4 inhibitors?", ["cyp3a4"]),  # a letter-digit name, read before splitting
        ("Ursodiol ppx for VOD?", ["ursodiol", "ppx"]),
        # another medicine (corpus/drug_names.yaml) is a named thing even where a near English word exists
        ("Mesna dosing with PTCy?", ["mesna"]),
        ("is aspirin ok with it?", ["aspirin"]),  # everyday English, and a medicine the monograph lacks
        ("posttransplant infecton monitoring", []),  # a brand spelt like a typo of "infection" is the typo
    ],
)
def test_rare_words_the_monograph_does_not_know_are_reported(expander, question, unknown) -> None:
    """Rare words name things the monograph lacks; everyday ones are filler (issue 10)."""
    assert expander.expand(question).unknown == unknown


@pytest.mark.parametrize(
    ("question", "filler"),
    [
        ("Is hepatotoxicity a common risk?", []),  # framing words weigh nothing
        ("Can patients drive after the infusion?", ["drive"]),
        ("whats the infusoin speed", ["speed"]),  # "infusoin" is a typo of a monograph word
        ("pt just devleoped SOS", ["developed"]),  # a typo of everyday English, not a rare name
    ],
)
def test_everyday_words_the_monograph_lacks_are_filler(expander, question, filler) -> None:
    assert expander.expand(question).filler == filler


def test_stopwords_and_the_drug_name_are_not_topics(expander) -> None:
    expansion = expander.expand("Tell me about Besponsa please")
    assert expansion.concepts == [] and expansion.subject
    assert expander.clinical_terms("and what about then?") == []


def test_fusion_scores_and_langchain_interface(retriever) -> None:
    results = retriever.search("Interrupt the infusion if a reaction occurs")
    assert results[0].passage.text.startswith("Interrupt the infusion")
    assert [r.score for r in results] == sorted((r.score for r in results), reverse=True)
    assert results[0].lexical > 0 and 0 < results[0].dense <= 1
    docs = retriever.invoke("Interrupt the infusion if a reaction occurs")
    assert isinstance(docs[0], Document)
    assert docs[0].metadata["section"] == "Infusion-Related Reactions"
    assert docs[0].page_content == results[0].passage.text


def test_merged_rankings_keep_each_passage_once_with_its_best_scores(retriever) -> None:
    whole = retriever.search("Is it approved for children, and what dose do kids get?")
    part = retriever.search("is it approved for children")
    merged = merge_rankings(whole, part)
    ids = [s.passage.id for s in merged]
    assert len(ids) == len(set(ids)) == len({s.passage.id for s in [*whole, *part]})
    for s in merged:
        same = [t for t in [*whole, *part] if t.passage.id == s.passage.id]
        assert (s.score, s.dense, s.lexical) == tuple(
            max(getattr(t, f) for t in same) for f in ("score", "dense", "lexical")
        )
    assert [s.score for s in merged] == sorted((s.score for s in merged), reverse=True)


def test_retrieval_is_deterministic(retriever) -> None:
    first = [s.passage.id for s in retriever.search("risk factors for VOD")]
    assert all([s.passage.id for s in retriever.search("risk factors for VOD")] == first for _ in range(3))


def test_synonym_targets_must_be_monograph_words(tmp_path: Path) -> None:
    bad = tmp_path / "synonyms.yaml"
    bad.write_text("synonyms: {pregnancy: [preg]}\nstopwords: []\nsubject: []\ngeneric: []\n")
    with pytest.raises(CorpusError, match="pregnancy"):
        QueryExpander.from_file(bad, load_corpus(CORPUS_DIR))


@pytest.mark.parametrize(
    ("word", "verb"),
    [
        ("predisposes", True),  # "predisposed", "predisposing" exist: a verb
        ("ursodiol", False),  # a drug has no -ed or -ing forms
        ("voriconazole", False),
        ("antihistamines", False),
        ("enumerate", True),  # "enumerated": the stem ("enumer") cuts more than an inflection
        ("busulfan", False),
    ],
)
def test_verb_forms_are_not_names_of_things(word: str, verb: bool) -> None:
    from assistant.text import is_verb_form

    assert is_verb_form(word) is verb


@pytest.mark.parametrize(
    ("text", "amounts"),
    [
        ("observe for 60 min", {(1.0, "hours")}),  # one unit per dimension: 60 min is 1 hour
        ("at least 1 hour", {(1.0, "hours")}),
        ("half an hour", {(0.5, "hours")}),
        ("for at least one month after transplantation", {(30.0, "days")}),
        ("2 weeks", {(14.0, "days")}),
        ("q15min", {(0.25, "hours")}),
        ("by 25% or 50%", {(25.0, "%"), (50.0, "%")}),
        ("eg twice weekly", {(2.0, "per week")}),
        ("monitor liver function weekly", {(1.0, "per week")}),
        ("3 times a week", {(3.0, "per week")}),  # a frequency names no week-long time
        ("this week", set()),  # a time, not how often
        ("day 8, cycle 2", set()),
    ],
)
def test_amounts_of_time_are_read_in_one_unit_per_dimension(text: str, amounts: set) -> None:
    from assistant.text import normalise, quantities

    assert set(quantities(normalise(text))) == amounts


@pytest.mark.parametrize(
    ("typed", "normalised"),
    [
        ("T 38.3 during the infusion", "temp 38.3 during the infusion"),
        ("Cyc 3 D8", "cycle 3 d 8"),  # a cycle by its chart abbreviation (round 66)
        ("cyc3, cx #4", "cycle 3 , cycle 4"),
        ("cx done", "cx done"),  # not without its number
        ("3rd cyc InO, next cyc when", "3 rd cycle ino , next cycle when"),  # ... or its ordinal
        ("CYC 500 mg", "cyc 500 mg"),  # cyclophosphamide
        ("2 cycs done", "2 cycles done"),
        ("T38.3C", "temp 38.3 c"),
        ("1415 T 37.2 / 1430 T 37.3", "1415 temp 37.2 > 1430 temp 37.3"),
        ("pt T 39 now", "pt temp 39 now"),
        ("T 40 ms", "t 40 ms"),  # a time, not a temperature
        ("T3 N0", "t 3 n 0"),  # a tumour stage
        ("T 400", "t 400"),
    ],
)
def test_a_temperature_by_its_chart_letter_is_a_temperature(typed: str, normalised: str) -> None:
    from assistant.text import normalise

    assert normalise(typed) == normalised


def test_the_unlisted_terms_are_the_monographs_own_phrases() -> None:
    """Each phrase the "unlisted" kind asks about occurs in the monograph: it names what the monograph
    leaves undefined, not a phrasing seen in a question."""
    import re

    from assistant.data import load_data
    from assistant.text import normalise

    text = normalise(load_corpus(CORPUS_DIR).documents[0].text)
    raw = load_data(CORPUS_DIR / "answer_types.yaml", dict)["unlisted"]["terms"]
    assert raw
    for term in raw:
        assert re.search(rf"\b(?:{term})\b", text), term


def test_a_cut_off_word_stands_for_the_one_word_it_begins() -> None:
    from assistant.text import Speller

    speller = Speller(["myelosuppression", "monitor"], ["myelosuppression", "monitor", "myeloid"])
    assert speller.correct("myelosupp") == "myelosuppression"
    assert speller.correct("myelo") == "myelo"  # too short to stand for one word
    assert speller.correct("monito") == "monitor"  # one letter cut: a typo, corrected by edit distance


def test_a_first_letter_typed_as_one_that_sounds_the_same_is_corrected() -> None:
    from assistant.text import Speller

    speller = Speller(["cycles", "ketone"], ["cycles", "ketone", "scales"])
    assert speller.correct("sycles") == "cycles"  # "s" for a soft "c"
    assert speller.correct("cetone") == "ketone"  # "c" for a hard "k"
    assert speller.correct("tycles") == "tycles"  # no sound-alike first letter: left alone


def test_of_words_equally_near_a_typo_the_one_with_its_letters_swapped_wins() -> None:
    from assistant.text import Speller

    speller = Speller(["cause", "case"], ["cause", "case"])
    assert speller.correct("cuase") == "cause"  # two letters swapped, though "case" is commoner
    assert speller.correct("casue") == "cause"


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("chils", "chills"),  # one letter left out (round 66)
        ("fevr", "fever"),
        ("rash", None),  # known already: nothing to put back
        ("fvrs", None),  # two letters away
        ("bil", None),  # more than one word: "bili", "bile"
    ],
)
def test_a_word_with_one_letter_left_out_is_the_known_word(typed: str, meant: str | None) -> None:
    from assistant.text import letter_dropped

    assert letter_dropped(typed, {"chills", "fever", "rash", "fevers", "bili", "bile"}) == meant


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("durign", "during"),  # one edit from a common word
        ("cuase", "cause"),  # short: two letters swapped
        ("wiht", "with"),
        ("posa", None),  # short and no swap: an abbreviation ("posaconazole"), not "post"
        ("picc", None),
        ("during", None),  # an English word is no typo
        ("xyzzy", None),  # nothing near
    ],
)
def test_a_typo_of_a_little_everyday_word_is_the_word(typed: str, meant: str | None) -> None:
    from assistant.text import common_word_meant

    assert common_word_meant(typed) == meant


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("prolongashun", "prolongation"),  # "tion" spelled as it sounds: three edits away
        ("hemorage", "hemorrhage"),  # "rrh" as "r"
        ("neutropinia", "neutropenia"),
        ("ursodiol", "ursodiol"),  # a name said like no known word stays itself
    ],
)
def test_a_word_spelled_as_it_sounds_is_the_known_word_said_alike(typed: str, meant: str) -> None:
    from assistant.text import Speller

    known = ["prolongation", "hemorrhage", "neutropenia", "neutrophils"]
    assert Speller(known, known, by_sound=True).correct(typed) == meant
    assert Speller(known, known).correct("prolongashun") == "prolongashun"  # only where asked for


@pytest.mark.parametrize(
    ("word", "compound"),
    [
        ("timepoints", True),
        ("bloodwork", True),
        ("antifungal", False),  # a word English has is its own term
        ("quinine", False),  # parts too short to count
        ("ursodiol", False),
    ],
)
def test_two_everyday_words_typed_as_one_are_everyday(word: str, compound: bool) -> None:
    from assistant.text import is_everyday_compound

    assert is_everyday_compound(word) is compound


def test_a_word_typed_without_its_vowels_is_the_one_word_it_spells() -> None:
    from assistant.text import Speller

    speller = Speller(["platelets", "plates"], ["platelets", "plates", "bilirubin"])
    assert speller.correct("pltlets") == "platelets"  # vowels left out, consonants in order
    assert speller.correct("pltes") == "plates"
    assert speller.correct("blrbn") == "bilirubin"
    assert speller.correct("plnts") == "plnts"  # a consonant the word has not: not corrected


@pytest.mark.parametrize(
    ("typed", "spelled"),
    [
        ("prolongign", "prolonging"),  # a typo of an inflection the monograph never uses
        ("riskfactor", "risk factor"),  # two known words typed as one
        ("antiinfectives", "anti infectives"),
        ("besonpa", "besponsa"),  # the drug's names allow two edits
        ("inotuzamab", "inotuzumab"),
        ("ursodiol", "ursodiol"),  # a rare name stays itself, to be reported as not mentioned
        ("childen", "children"),  # of two words one edit away, the commoner ("childe" is one too)
        ("torsades", "torsades"),  # two edits from "trades": a term English lacks, not a typo of it
        ("pltlets", "platelets"),  # typed without vowels, as in a text message
        ("monitring", "monitoring"),
        ("dubble", "double"),  # a letter doubled that is single costs no edit, one more is allowed
        ("picc", "pick"),  # too short to merge its letters: "pill" is not near it
        ("compresses", "compresses"),  # merged, still two edits from "completes"
    ],
)
def test_the_speller_reads_inflections_compounds_and_the_drugs_names(
    expander: QueryExpander, typed: str, spelled: str
) -> None:
    assert expander.spelled(typed) == spelled


def test_a_split_word_keeps_one_typed_token_for_the_question_as_typed(expander: QueryExpander) -> None:
    pairs = expander.spelled_pairs("is previos SOS a riskfactor?")
    assert [w for w, _ in pairs] == ["is", "previous", "sos", "a", "risk", "factor", "?"]
    assert " ".join(t for _, t in pairs if t) == "is previos sos a riskfactor ?"


def test_the_determiner_of_a_synonym_variant_may_be_any(expander: QueryExpander) -> None:
    """ "damage the liver" is a variant; "damage her liver" and "damage his liver" say the same."""
    liver = expander.expand("could it damage the liver?").concepts
    assert liver and expander.expand("could it damage her liver?").concepts == liver
    assert expander.expand("could it damage his liver?").concepts == liver


def test_cd22_as_typed_is_the_monographs_antigen(expander: QueryExpander) -> None:
    cd22 = expander.expand("cd22").concepts
    assert cd22 and set(cd22) <= set(expander.expand("is it for CD22 negative disease?").concepts)


def test_a_plural_of_a_synonym_variant_is_the_variant(expander: QueryExpander) -> None:
    assert (
        expander.expand("do I need heart tracings?").concepts
        == expander.expand("do I need a heart tracing?").concepts
    )


@pytest.mark.parametrize(
    ("text", "plain"),
    [
        ("how does it actually kill the cells ?", "how does it kill the cells ?"),
        ("what dose please", "what dose"),
        ("is it really just weekly", "is it weekly"),
        ("actual dose", "actual dose"),  # an adjective, not emphasis
    ],
)
def test_emphasis_words_are_left_out_for_reading_what_is_asked(text: str, plain: str) -> None:
    from assistant.text import without_intensifiers

    assert without_intensifiers(text) == plain
