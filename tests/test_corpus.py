"""Corpus loading and structure: offsets, headings, lists, provenance, several documents."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from assistant.corpus import OVERVIEW, load_corpus, parse_passages
from assistant.errors import CorpusError
from assistant.models import Quote
from tests.conftest import CORPUS_DIR

SHARED = CORPUS_DIR.parent.parent / "shared" / "monograph" / "besponsa-precautions.txt"
PART_1 = "Precautions for the Administration of Inotuzumab Ozogamicin (Besponsa)"
PART_2 = "Monitoring During Inotuzumab Ozogamicin (Besponsa) Treatment"


@pytest.fixture(scope="module")
def corpus():
    return load_corpus(CORPUS_DIR)


def test_corpus_copy_is_byte_identical_to_shared_monograph() -> None:
    if not SHARED.exists():
        pytest.skip("shared/ monograph not beside this checkout")
    assert (CORPUS_DIR / "besponsa-precautions.txt").read_bytes() == SHARED.read_bytes()


def test_provenance_hash_matches_text(corpus) -> None:
    doc = corpus.document("besponsa-precautions")
    assert doc.provenance.sha256 == hashlib.sha256(doc.text.encode()).hexdigest() == corpus.version
    assert doc.provenance.drug.startswith("inotuzumab ozogamicin")


def test_every_passage_offset_is_exact(corpus) -> None:
    doc = corpus.document("besponsa-precautions")
    for p in doc.passages:
        assert doc.text[p.start : p.end] == p.text
        for start, end in p.items:
            assert p.start <= start < end <= p.end


@pytest.mark.parametrize(
    ("fragment", "path"),
    [
        ("antibody-drug conjugate targeting CD22", (OVERVIEW,)),
        ("hepatotoxicity and myelosuppression.", (OVERVIEW,)),
        ("severe and even fatal sinusoidal obstruction syndrome", (PART_1, "Risk of Hepatotoxicity")),
        ("common causes of death", (PART_1, "Increased Non-Relapse Mortality After Transplantation")),
        ("Use anti-infective drugs", (PART_1, "Myelosuppression")),
        ("Closely monitor the patient for at least 1 hour.", (PART_1, "Infusion-Related Reactions")),
        ("Avoid concurrent use of other drugs", (PART_1, "QT Interval Prolongation")),
        ("total bilirubin, and alkaline phosphatase", (PART_2, "Liver Function Monitoring")),
        ("until counts recover", (PART_2, "Complete Blood Count Monitoring")),
        ("Strengthen monitoring when combined", (PART_2, "Cardiac Function Monitoring")),
    ],
)
def test_heading_paths(corpus, fragment: str, path: tuple[str, ...]) -> None:
    (passage,) = [p for p in corpus.passages if fragment in p.text]
    assert passage.heading_path == path
    assert passage.section == path[-1]


def test_intro_paragraph_is_split_into_sentences(corpus) -> None:
    intro = [p for p in corpus.passages if p.heading_path == (OVERVIEW,)]
    assert len(intro) == 2
    assert intro[0].text.startswith("Inotuzumab ozogamicin (Besponsa) is an antibody-drug conjugate")
    assert intro[1].text.startswith("Although this drug")


def test_risk_factor_lines_form_one_list(corpus) -> None:
    (risk,) = [p for p in corpus.passages if p.kind == "list"]
    assert risk.text.startswith("Risk factors include: Receiving hematopoietic stem cell transplantation.")
    assert risk.text.endswith(
        "Advanced age, multiple salvage treatments, and a large number of treatment cycles."
    )
    doc = corpus.document(risk.document)
    items = [doc.text[s:e] for s, e in risk.items]
    assert items == [
        "Receiving hematopoietic stem cell transplantation.",
        "Using a conditioning regimen containing double alkylating agents.",
        "A history of liver disease or previous sinusoidal obstruction syndrome.",
        "Advanced age, multiple salvage treatments, and a large number of treatment cycles.",
    ]
    # The list stops at the next labelled line.
    assert not any("Management recommendation" in doc.text[s:e] for s, e in risk.items)


def test_headings_are_not_passages(corpus) -> None:
    texts = {p.text for p in corpus.passages}
    assert "Risk of Hepatotoxicity" not in texts
    assert PART_2 not in texts


def test_locate_returns_verbatim_quote_with_section(corpus) -> None:
    sentence = "Permanent drug discontinuation is required for severe cases."
    quote = corpus.locate(sentence)
    assert quote is not None and corpus.is_verbatim(quote)
    assert quote.section == "Infusion-Related Reactions"
    assert corpus.locate("Discontinue the drug if the patient is pregnant.") is None
    forged = Quote(text="Permanent", document=quote.document, section=quote.section, start=0, end=9)
    assert not corpus.is_verbatim(forged)


SECOND = """Demo drug (Demozumab) is a fictional antibody used to test the loader.
Precautions for Demozumab
Renal Toxicity
Demozumab can injure the kidneys.
Check creatinine before each dose.
Monitoring During Demozumab Treatment
Kidney Monitoring
Warning signs include: Reduced urine output.
Swelling of the legs.
Management: Stop the drug if creatinine doubles.
"""


def _write_doc(folder: Path, name: str, text: str) -> None:
    (folder / f"{name}.txt").write_text(text, encoding="utf-8")
    digest = hashlib.sha256(text.encode()).hexdigest()
    (folder / f"{name}.meta.yaml").write_text(
        f"id: {name}\ntitle: Demo\ndrug: demozumab\nsource: test fixture\nsha256: {digest}\n",
        encoding="utf-8",
    )


def test_two_documents_side_by_side(corpus_copy: Path) -> None:
    _write_doc(corpus_copy, "demozumab", SECOND)
    corpus = load_corpus(corpus_copy)
    assert {d.id for d in corpus.documents} == {"besponsa-precautions", "demozumab"}
    demo = corpus.document("demozumab")
    assert [p.section for p in demo.passages] == [
        OVERVIEW,
        "Renal Toxicity",
        "Renal Toxicity",
        "Kidney Monitoring",
        "Kidney Monitoring",
    ]
    (warning,) = [p for p in demo.passages if p.kind == "list"]
    assert warning.text == "Warning signs include: Reduced urine output.\nSwelling of the legs."
    assert len({p.id for p in corpus.passages}) == len(corpus.passages)
    assert corpus.version != load_corpus(CORPUS_DIR).version
    for p in corpus.passages:
        assert corpus.document(p.document).text[p.start : p.end] == p.text


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: (d / "besponsa-precautions.txt").write_text("changed\n"), "changed"),
        (lambda d: (d / "besponsa-precautions.meta.yaml").unlink(), "no provenance"),
        (
            lambda d: (d / "besponsa-precautions.meta.yaml").write_text("id: [unclosed"),
            "cannot read",
        ),
        (
            lambda d: (d / "besponsa-precautions.meta.yaml").write_text("id: x\n"),
            "does not follow its schema",
        ),
        (lambda d: [p.unlink() for p in d.glob("*.txt")], "no monograph"),
    ],
)
def test_bad_corpus_fails_closed(corpus_copy: Path, mutate, message: str) -> None:
    mutate(corpus_copy)
    with pytest.raises(CorpusError, match=message):
        load_corpus(corpus_copy)


def test_missing_folder_fails_closed(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="does not exist"):
        load_corpus(tmp_path / "nope")


def test_parse_is_pure_and_repeatable() -> None:
    text = (CORPUS_DIR / "besponsa-precautions.txt").read_text(encoding="utf-8")
    assert list(parse_passages("x", text)) == list(parse_passages("x", text))
