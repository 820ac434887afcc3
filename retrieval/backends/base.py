"""The search-backend boundary: what the searcher and the answers need of a stored
collection, and no more. Fusion, boosts, diversity and answers sit above it, so every
backend ranks with the same code; each backend only stores, filters and retrieves.

A write goes to the backend; a question reads one `SearchView`, a consistent view of the
collection as it was when the question began, so no search sees a report half-written."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Hashable, Iterable, Mapping, Protocol, Sequence, runtime_checkable

import numpy as np

from retrieval.facts.model import Fact
from retrieval.models import Chunk, Document, Hit, Span


class BackendError(RuntimeError):
    """The stored collection cannot be used; the message says why and what to do."""


class CollectionUnusable(BackendError):
    """The stored collection is corrupt or was built otherwise: rebuilding it is the remedy
    (unlike an unreachable server, which a rebuild would not mend)."""


class CollectionOutdated(CollectionUnusable):
    """The stored collection is sound but was built with other settings (model, tokenizer,
    chunk size, fact extractor): rebuilding it from the reports loses nothing."""


@dataclass(frozen=True)
class Filters:
    """One neutral filter value; each backend translates it (a row mask locally, a boolean
    expression in Milvus). Empty fields do not filter."""

    cities: tuple[str, ...] = ()
    years: tuple[int, ...] = ()  # the year a passage speaks of (its section's year)
    doc_ids: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.cities or self.years or self.doc_ids)


NO_FILTERS = Filters()


@dataclass(frozen=True)
class IndexedDocument:
    """One report ready to store: its chunks with their BM25 tokens and passage vectors,
    row for row; the sentences answers quote, with their vectors (computed once, here,
    so an answer encodes only its question); and the report's typed facts."""

    document: Document
    chunks: tuple[Chunk, ...]
    tokens: tuple[tuple[str, ...], ...]
    vectors: np.ndarray  # float32, one L2-normalised row per chunk
    sentences: tuple[Span, ...] = ()  # offsets in the report file
    sentence_vectors: np.ndarray | None = None  # float32, one row per sentence
    facts: tuple[Fact, ...] = ()

    def __post_init__(self):
        if not (len(self.chunks) == len(self.tokens) == len(self.vectors)):
            raise ValueError(f"{self.document.doc_id}: {len(self.chunks)} chunks, {len(self.tokens)} token "
                             f"lists and {len(self.vectors)} vectors must match row for row")
        vectors = 0 if self.sentence_vectors is None else len(self.sentence_vectors)
        if vectors != len(self.sentences):
            raise ValueError(f"{self.document.doc_id}: {len(self.sentences)} sentences need as many vectors, "
                             f"not {vectors}")
        if any(f.doc_id != self.document.doc_id for f in self.facts):
            raise ValueError(f"{self.document.doc_id}: every fact must belong to the document")
        if any(c.doc_id != self.document.doc_id for c in self.chunks):
            raise ValueError(f"{self.document.doc_id}: every chunk must belong to the document")


@dataclass(frozen=True)
class Counts:
    documents: int
    chunks: int


@dataclass(frozen=True)
class Expectation:
    """What the running configuration needs of a stored collection: a collection built
    with another model, tokenizer or chunk size must be rebuilt, not mixed."""

    model_id: str
    dimension: int
    tokenizer: str  # TokenizerConfig.fingerprint()
    max_chunk_chars: int
    facts: str = ""  # the extractor's version and the indicator vocabulary's digest

    def mismatches(self, stored: Mapping) -> list[str]:
        problems = []
        if stored.get("model_id") != self.model_id:
            problems.append(f"model {stored.get('model_id')!r} (configured: {self.model_id!r})")
        if stored.get("dimension") != self.dimension:
            problems.append(f"dimension {stored.get('dimension')} (the model gives {self.dimension})")
        if stored.get("tokenizer") != self.tokenizer:
            problems.append("tokenizer settings or domain dictionary changed since the index was built")
        if stored.get("facts", "") != self.facts:
            problems.append("the fact extractor or indicator vocabulary changed since the index was built")
        if stored.get("max_chunk_chars") != self.max_chunk_chars:
            problems.append(f"chunk size {stored.get('max_chunk_chars')} (configured: {self.max_chunk_chars})")
        return problems


def fact_allowed(fact: Fact, filters: Filters) -> bool:
    return ((not filters.cities or fact.city in filters.cities) and (not filters.years or fact.year in filters.years)
            and (not filters.doc_ids or fact.doc_id in filters.doc_ids))


def best_sentence_of_chunks(chunks: Sequence[Chunk], sentences: Iterable[tuple[str, Span, float]]) -> dict[str, float]:
    """Each chunk's best-scoring sentence among (doc_id, span, score) rows: a sentence
    counts for the chunk of its report whose span holds it."""
    by_doc: dict[str, list[Chunk]] = {}
    for chunk in chunks:
        by_doc.setdefault(chunk.doc_id, []).append(chunk)
    best: dict[str, float] = {}
    for doc_id, span, score in sentences:
        for chunk in by_doc.get(doc_id, ()):
            if chunk.start <= span.start and span.end <= chunk.end and score > best.get(chunk.chunk_id, -2.0):
                best[chunk.chunk_id] = score
    return best


def content_hash(doc: Document) -> str:
    return hashlib.sha256(doc.text.encode("utf-8")).hexdigest()


@runtime_checkable
class SearchView(Protocol):
    """One consistent read of the collection, for the length of one question."""

    def lexical(self, tokens: Sequence[str], k: int, filters: Filters = NO_FILTERS) -> list[Hit]:
        """The k best chunks by BM25 over these (already normalised) tokens, best first;
        chunks that match no token are left out."""

    def vector(self, vector: np.ndarray, k: int, filters: Filters = NO_FILTERS) -> list[Hit]:
        """The k chunks nearest to a normalised query vector by inner product, best first."""

    def lexical_per_report(self, tokens: Sequence[str], reports: int, filters: Filters = NO_FILTERS) -> list[Hit]:
        """Each report's best chunk by BM25, for the `reports` best reports, best first: one
        grouped search, so a report is a candidate however many chunks other reports have."""

    def vector_per_report(self, vector: np.ndarray, reports: int, filters: Filters = NO_FILTERS) -> list[Hit]:
        """Each report's nearest chunk to the query vector, for the `reports` best reports."""

    def chunk(self, chunk_id: str) -> Chunk:
        """A chunk this view returned or holds; KeyError if it holds none by that id."""

    def documents(self) -> Mapping[str, Document]:
        """Every report in the collection, by id."""

    def facts(self, filters: Filters = NO_FILTERS) -> list[Fact]:
        """The typed facts of the reports these filters allow (years filter a fact's own
        year), in report and file order."""

    def sentences(self, doc_id: str) -> tuple[tuple[Span, ...], np.ndarray]:
        """A report's answer sentences (file offsets) and their vectors, row for row; empty
        for a report stored without them."""

    def sentence_scores(self, vector: np.ndarray, chunks: Sequence[Chunk]) -> dict[str, float]:
        """For each of these chunks, the best inner product between the query vector and one
        of its stored sentences: a passage is as good as its best sentence, which a passage
        vector averages away. Chunks without stored sentences are left out (and, on a backend
        that searches the sentences rather than scoring them all, chunks whose sentences are
        not among the nearest it returns)."""

    def idf(self, terms: Sequence[str]) -> dict[str, float]:
        """BM25 idf of the terms the collection holds (terms it lacks are left out); kept in
        the application for engines that expose no term statistics."""

    def counts(self) -> Counts: ...

    @property
    def snapshot(self) -> Hashable:
        """Names the committed collection this view reads: equal for views of the same
        commit, so results can be cached per commit and never across one."""


@runtime_checkable
class SearchBackend(Protocol):
    name: str  # "local" or "milvus"
    location: str  # where the collection lives: a folder, a file or a server URI

    def view(self) -> SearchView:
        """The collection as committed now; later writes do not change this view."""

    def upsert(self, documents: Sequence[IndexedDocument]) -> None:
        """Add or replace these reports. Each becomes searchable whole when this returns,
        and no view ever holds part of one."""

    def delete(self, doc_id: str) -> None:
        """Remove one report; KeyError if the collection has none by that id."""

    def refresh(self) -> None:
        """Catch up with what other processes committed (before a write, under the writer lock)."""

    def discard_uncommitted(self) -> None:
        """Remove what interrupted writes left behind (under the writer lock)."""

    def close(self) -> None: ...
