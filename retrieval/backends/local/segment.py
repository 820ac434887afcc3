"""An immutable segment: whole reports' chunks with their term counts, vectors and a FAISS
index over them. A write adds a segment and never changes one; deletes are tombstones
kept beside the segments (`state.py`), and merging replaces segments by a new one."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Sequence

import numpy as np
from scipy import sparse

from retrieval.backends.base import Filters, IndexedDocument
from retrieval.backends.local.bm25 import term_counts
from retrieval.backends.local.dense import DenseConfig, build_faiss_index
from retrieval.facts.model import Fact
from retrieval.models import Chunk, Document, Span


@dataclass(frozen=True, eq=False)
class Sentences:
    """Answer sentences of a segment's reports, with their vectors, row for row."""

    doc_ids: tuple[str, ...]
    spans: tuple[Span, ...]
    vectors: np.ndarray  # float32, sentences x dimension

    @classmethod
    def empty(cls, dimension: int) -> "Sentences":
        return cls((), (), np.zeros((0, dimension), dtype=np.float32))

    @classmethod
    def of(cls, items: Sequence[IndexedDocument], dimension: int) -> "Sentences":
        rows = [(item.document.doc_id, span, item.sentence_vectors[i])
                for item in items for i, span in enumerate(item.sentences)]
        if not rows:
            return cls.empty(dimension)
        return cls(tuple(r[0] for r in rows), tuple(r[1] for r in rows),
                   np.ascontiguousarray(np.stack([r[2] for r in rows]), dtype=np.float32))

    @cached_property
    def rows_of(self) -> dict[str, list[int]]:
        rows: dict[str, list[int]] = {}
        for row, doc_id in enumerate(self.doc_ids):
            rows.setdefault(doc_id, []).append(row)
        return rows

    def of_document(self, doc_id: str) -> tuple[tuple[Span, ...], np.ndarray]:
        rows = self.rows_of.get(doc_id, [])
        return tuple(self.spans[r] for r in rows), self.vectors[rows]

    @classmethod
    def joined(cls, parts: Sequence["Sentences"], dimension: int) -> "Sentences":
        if not parts:
            return cls.empty(dimension)
        return cls(tuple(d for p in parts for d in p.doc_ids), tuple(s for p in parts for s in p.spans),
                   np.concatenate([p.vectors for p in parts]))

    def without(self, gone: frozenset[str]) -> "Sentences":
        keep = [r for r, d in enumerate(self.doc_ids) if d not in gone]
        return Sentences(tuple(self.doc_ids[r] for r in keep), tuple(self.spans[r] for r in keep), self.vectors[keep])


@dataclass(frozen=True, eq=False)
class Segment:
    segment_id: str
    documents: tuple[Document, ...]
    chunks: tuple[Chunk, ...]
    terms: tuple[str, ...]  # the segment's own vocabulary: column j of `tf` is terms[j]
    tf: sparse.csc_matrix  # chunks x terms, term frequencies
    vectors: np.ndarray  # float32, chunks x dimension
    dense: DenseConfig
    facts: tuple[Fact, ...]
    sentences: Sentences

    @classmethod
    def from_documents(cls, segment_id: str, items: Sequence[IndexedDocument], dense: DenseConfig,
                       dimension: int) -> "Segment":
        chunks = tuple(c for item in items for c in item.chunks)
        tokens = [t for item in items for t in item.tokens]
        vectors = (np.concatenate([item.vectors for item in items]).astype(np.float32)
                   if chunks else np.zeros((0, dimension), dtype=np.float32))
        return cls.from_rows(segment_id, tuple(item.document for item in items), chunks, tokens, vectors, dense,
                             tuple(f for item in items for f in item.facts), Sentences.of(items, dimension))

    @classmethod
    def from_rows(cls, segment_id: str, documents: tuple[Document, ...], chunks: tuple[Chunk, ...],
                  tokens: Sequence[Sequence[str]], vectors: np.ndarray, dense: DenseConfig,
                  facts: tuple[Fact, ...], sentences: Sentences) -> "Segment":
        tf, terms = term_counts(tokens)
        return cls(segment_id, documents, chunks, terms, tf, np.ascontiguousarray(vectors, dtype=np.float32), dense,
                   facts, sentences)

    def __len__(self) -> int:
        return len(self.chunks)

    @cached_property
    def column(self) -> dict[str, int]:
        return {t: j for j, t in enumerate(self.terms)}

    @cached_property
    def doc_len(self) -> np.ndarray:
        return np.asarray(self.tf.sum(axis=1), dtype=np.float64).ravel()

    @cached_property
    def doc_rows(self) -> dict[str, np.ndarray]:
        rows: dict[str, list[int]] = {}
        for row, chunk in enumerate(self.chunks):
            rows.setdefault(chunk.doc_id, []).append(row)
        return {doc: np.asarray(r, dtype=np.int64) for doc, r in rows.items()}

    @cached_property
    def faiss(self):
        return build_faiss_index(self.vectors, self.dense)

    @cached_property
    def _city(self) -> np.ndarray:
        return np.array([c.city or "" for c in self.chunks], dtype=object)

    @cached_property
    def _doc(self) -> np.ndarray:
        return np.array([c.doc_id for c in self.chunks], dtype=object)

    @cached_property
    def _year(self) -> np.ndarray:
        return np.array([c.year or 0 for c in self.chunks], dtype=np.int64)

    def mask(self, filters: Filters) -> np.ndarray:
        keep = np.ones(len(self), dtype=bool)
        if filters.cities:
            keep &= np.isin(self._city, list(filters.cities))
        if filters.doc_ids:
            keep &= np.isin(self._doc, list(filters.doc_ids))
        if filters.years:
            keep &= np.isin(self._year, list(filters.years))
        return keep

    def document_frequencies(self, rows: np.ndarray | None = None) -> dict[str, int]:
        """How many of these rows (all by default) hold each term."""
        tf = self.tf if rows is None else self._csr[rows]
        counts = np.diff(sparse.csc_matrix(tf).indptr)
        return {self.terms[j]: int(n) for j, n in enumerate(counts) if n}

    def term_column(self, term: str) -> tuple[np.ndarray, np.ndarray]:
        """(rows, term frequencies) of the chunks that hold the term."""
        j = self.column.get(term)
        if j is None:
            return np.empty(0, dtype=np.int32), np.empty(0, dtype=np.float32)
        lo, hi = self.tf.indptr[j], self.tf.indptr[j + 1]
        return self.tf.indices[lo:hi], self.tf.data[lo:hi]

    def tokens_of(self, row: int) -> list[str]:
        """The row's tokens as a bag (for merging segments; order is not kept)."""
        csr = self._csr
        lo, hi = csr.indptr[row], csr.indptr[row + 1]
        return [self.terms[j] for j, n in zip(csr.indices[lo:hi], csr.data[lo:hi]) for _ in range(int(n))]

    @cached_property
    def _csr(self) -> sparse.csr_matrix:
        return self.tf.tocsr()


def merged(segment_id: str, parts: Sequence[Segment], dead: dict[str, frozenset[str]], dense: DenseConfig,
           dimension: int) -> Segment:
    """One segment holding the live reports of these parts."""
    documents, chunks, tokens, vectors, facts, sentences = [], [], [], [], [], []
    for part in parts:
        gone = dead.get(part.segment_id, frozenset())
        documents += [d for d in part.documents if d.doc_id not in gone]
        facts += [f for f in part.facts if f.doc_id not in gone]
        sentences.append(part.sentences.without(gone))
        for row, chunk in enumerate(part.chunks):
            if chunk.doc_id not in gone:
                chunks.append(chunk)
                tokens.append(part.tokens_of(row))
                vectors.append(part.vectors[row])
    matrix = np.asarray(vectors, dtype=np.float32).reshape(len(vectors), dimension)
    return Segment.from_rows(segment_id, tuple(documents), tuple(chunks), tokens, matrix, dense, tuple(facts),
                             Sentences.joined(sentences, dimension))
