"""Load monographs from ``corpus/`` and parse them by their structure. Pure: no index, no model.

A monograph is a ``NAME.txt`` beside a ``NAME.meta.yaml`` giving its provenance (id, title, drug,
source, sha256). The text is the source of truth: every passage keeps its character offsets so that
a quote can always be checked with ``text[start:end]``.

Structure, as the Besponsa text lays it out (one block per line):
- the opening paragraph before the first heading (the indication), section "Overview";
- a heading is a short line without closing punctuation; a heading followed directly by another
  heading is a top-level part, the next one its subsection;
- other lines are split into sentences;
- a line whose text ends a label with ``include:`` (e.g. "Risk factors include: ...") opens a list
  that runs over the following lines until a heading or a new "Label: ..." line.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from pydantic import BaseModel

from .data import load_data
from .errors import CorpusError
from .models import Passage, Quote
from .text import stem, words

OVERVIEW = "Overview"
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z(])")
_LABEL = re.compile(r"^[A-Z][A-Za-z ]{0,40}: ")
_LIST_OPENER = re.compile(r"^[A-Z][A-Za-z ]{0,40}\binclude:\s*")


class Provenance(BaseModel):
    id: str
    title: str
    drug: str
    source: str
    sha256: str


@dataclass(frozen=True)
class Document:
    """One monograph: its provenance, its exact text and its passages."""

    provenance: Provenance
    text: str
    passages: tuple[Passage, ...]

    @property
    def id(self) -> str:
        return self.provenance.id


@dataclass(frozen=True)
class Corpus:
    """All monographs in a folder. ``version`` identifies the exact texts (used by index and audit)."""

    documents: tuple[Document, ...]
    _by_id: dict[str, Document] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_id", {d.id: d for d in self.documents})

    @cached_property
    def version(self) -> str:
        if len(self.documents) == 1:
            return self.documents[0].provenance.sha256
        joined = "\n".join(f"{d.id}:{d.provenance.sha256}" for d in self.documents)
        return hashlib.sha256(joined.encode()).hexdigest()

    @cached_property
    def passages(self) -> tuple[Passage, ...]:
        return tuple(p for d in self.documents for p in d.passages)

    @cached_property
    def passage_by_id(self) -> dict[str, Passage]:
        return {p.id: p for p in self.passages}

    @cached_property
    def vocabulary(self) -> frozenset[str]:
        return frozenset(w for p in self.passages for w in words(p.search_text))

    @cached_property
    def stems(self) -> frozenset[str]:
        return frozenset(stem(w) for w in self.vocabulary)

    def document(self, doc_id: str) -> Document:
        try:
            return self._by_id[doc_id]
        except KeyError:
            raise CorpusError(f"unknown document {doc_id!r}") from None

    def is_verbatim(self, quote: Quote) -> bool:
        doc = self._by_id.get(quote.document)
        return doc is not None and doc.text[quote.start : quote.end] == quote.text

    def locate(self, text: str) -> Quote | None:
        """Find ``text`` verbatim in the corpus, as a quote with its section; None if it is not there."""
        for doc in self.documents:
            start = doc.text.find(text)
            if start < 0 or not text.strip():
                continue
            end = start + len(text)
            owner = next((p for p in doc.passages if p.start <= start < p.end), None)
            section = owner.section if owner else OVERVIEW
            return Quote(text=text, document=doc.id, section=section, start=start, end=end)
        return None


def load_corpus(folder: Path) -> Corpus:
    """Load every ``*.txt`` monograph in ``folder``; fail closed on anything missing or changed."""
    if not folder.is_dir():
        raise CorpusError(f"corpus folder {folder} does not exist")
    texts = sorted(folder.glob("*.txt"))
    if not texts:
        raise CorpusError(f"no monograph (*.txt) in {folder}")
    documents = tuple(_load_document(path) for path in texts)
    ids = [d.id for d in documents]
    if len(set(ids)) != len(ids):
        raise CorpusError(f"duplicate document ids in {folder}: {ids}")
    return Corpus(documents)


def _load_document(path: Path) -> Document:
    meta_path = path.with_suffix(".meta.yaml")
    if not meta_path.is_file():
        raise CorpusError(f"{path.name} has no provenance file {meta_path.name}")
    provenance = load_data(meta_path, Provenance, CorpusError)
    raw = path.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    if digest != provenance.sha256:
        raise CorpusError(
            f"{path.name} changed: its SHA-256 is {digest} but {meta_path.name} records "
            f"{provenance.sha256}. Review the new text, then update sha256 in {meta_path.name}."
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CorpusError(f"{path.name} is not UTF-8: {exc}") from exc
    passages = tuple(parse_passages(provenance.id, text))
    if not passages:
        raise CorpusError(f"{path.name} has no text")
    return Document(provenance=provenance, text=text, passages=passages)


def _lines(text: str) -> list[tuple[int, str]]:
    """Non-blank lines with their start offsets, trailing whitespace excluded."""
    out, pos = [], 0
    for raw in text.splitlines(keepends=True):
        line = raw.rstrip()
        if line.strip():
            lead = len(line) - len(line.lstrip())
            out.append((pos + lead, line.strip()))
        pos += len(raw)
    return out


def _is_heading(line: str) -> bool:
    return len(line) <= 100 and not line.endswith((".", ":", ";", "?", "!", ",")) and line[:1].isupper()


def _sentences(start: int, line: str) -> Iterator[tuple[int, int]]:
    pos = 0
    for match in _SENTENCE_END.finditer(line):
        yield start + pos, start + match.start()
        pos = match.end()
    yield start + pos, start + len(line)


def parse_passages(doc_id: str, text: str) -> Iterator[Passage]:
    """Split a monograph into sentence and list passages with heading paths and offsets."""
    lines = _lines(text)
    path: tuple[str, ...] = (OVERVIEW,)
    part: str | None = None
    counter = 0
    i = 0

    def make(kind: str, start: int, end: int, items: tuple[tuple[int, int], ...] = ()) -> Passage:
        nonlocal counter
        counter += 1
        return Passage(
            id=f"{doc_id}:{counter:03d}",
            document=doc_id,
            heading_path=path,
            kind=kind,  # type: ignore[arg-type]
            text=text[start:end],
            start=start,
            end=end,
            items=items,
        )

    while i < len(lines):
        start, line = lines[i]
        if _is_heading(line):
            next_is_heading = i + 1 < len(lines) and _is_heading(lines[i + 1][1])
            if next_is_heading:
                part = line
                path = (line,)
            else:
                path = (part, line) if part else (line,)
            i += 1
            continue
        opener = _LIST_OPENER.match(line)
        if opener:
            items = [(start + opener.end(), start + len(line))]
            j = i + 1
            while j < len(lines) and not _is_heading(lines[j][1]) and not _LABEL.match(lines[j][1]):
                items.append((lines[j][0], lines[j][0] + len(lines[j][1])))
                j += 1
            yield make("list", start, items[-1][1], tuple(items))
            i = j
            continue
        for s, e in _sentences(start, line):
            yield make("sentence", s, e)
        i += 1
