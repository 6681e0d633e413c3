"""The plain baseline: the standard LangChain recipe, so the report shows what the assistant adds.

Chroma (in memory, cosine space) over the monograph split into its lines, the same embedding model as
the assistant, top-3 ``similarity_search``, and the three chunks quoted as the answer. No query
expansion, no guardrail, no abstention, no conversation: each question is embedded on its own.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import chromadb
from chromadb.config import Settings as ChromaSettings
from langchain_chroma import Chroma
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings

from assistant.corpus import Corpus
from assistant.models import Answer, Quote

TOP_K = 3


def split_lines(corpus: Corpus) -> list[Document]:
    """One chunk per non-blank line of every monograph (headings included), with its offsets."""
    chunks = []
    for doc in corpus.documents:
        pos = 0
        for raw in doc.text.splitlines(keepends=True):
            line = raw.strip()
            if line:
                start = pos + raw.index(line)
                chunks.append(
                    Document(
                        page_content=line,
                        metadata={"document": doc.id, "start": start, "end": start + len(line)},
                    )
                )
            pos += len(raw)
    return chunks


@dataclass
class PlainBaseline:
    """Top-3 dense retrieval, answered by quoting the chunks found."""

    store: Chroma
    corpus: Corpus

    @classmethod
    def build(cls, corpus: Corpus, embeddings: Embeddings) -> PlainBaseline:
        """Index the corpus lines in a fresh in-memory collection (never Chroma's default embedder)."""
        client = chromadb.EphemeralClient(settings=ChromaSettings(anonymized_telemetry=False))
        store = Chroma(
            collection_name=f"baseline-{uuid.uuid4().hex[:12]}",
            embedding_function=embeddings,
            client=client,
            collection_configuration={"hnsw": {"space": "cosine"}},
        )
        chunks = split_lines(corpus)
        store.add_documents(chunks, ids=[f"line-{i:03d}" for i in range(len(chunks))])
        return cls(store=store, corpus=corpus)

    def ask(self, question: str, history: list[dict[str, Any]] | None = None) -> Answer:
        """The three nearest lines, quoted; ``history`` is accepted and ignored, as in the recipe."""
        found = self.store.similarity_search(question, k=TOP_K)
        quotes = [self._quote(d) for d in found]
        text = "\n\n".join(f'{q.section}: "{q.text}"' for q in quotes)
        return Answer(text=text, quotes=quotes, corpus_version=self.corpus.version)

    def _quote(self, chunk: Document) -> Quote:
        meta = chunk.metadata
        located = self.corpus.locate(chunk.page_content)
        section = located.section if located else meta["document"]
        return Quote(
            text=chunk.page_content,
            document=meta["document"],
            section=section,
            start=int(meta["start"]),
            end=int(meta["end"]),
        )

    def close(self) -> None:
        """Drop the in-memory collection."""
        self.store.delete_collection()
