"""The local collection at one moment: its segments, the reports deleted from them
(tombstones), and BM25 statistics over the live rows. Immutable: a write makes the next
state from this one in time proportional to the report written, and a question keeps
the state it started with (it is the local `SearchView`).

BM25 scores follow rank-bm25's BM25Okapi over the live chunks exactly: idf from the live
document frequencies (negative values raised to epsilon times the mean idf), lengths
normalised by the live average, each term's weight computed from the segment's term
counts at query time, so adding a report never rewrites another report's weights."""

from __future__ import annotations

import bisect
from collections import Counter
from dataclasses import dataclass
from functools import cached_property
from typing import Mapping, Sequence

import numpy as np

from retrieval.backends.base import NO_FILTERS, Counts, Filters, IndexedDocument, best_sentence_of_chunks, fact_allowed
from retrieval.backends.local.bm25 import BM25Params, idf_floor, idf_of, okapi_scores
from retrieval.backends.local.segment import Segment
from retrieval.facts.model import Fact
from retrieval.models import Chunk, Document, Hit, Span


@dataclass(frozen=True, eq=False)
class CollectionState:
    segments: tuple[Segment, ...]
    deleted: Mapping[str, frozenset[str]]  # segment id -> ids of reports removed from it
    doc_freq: Mapping[str, int]  # live chunks holding each term
    live_chunks: int
    live_length: float  # tokens in the live chunks
    bm25: BM25Params
    generation: int = 0

    # ----- making states ---------------------------------------------------------

    @classmethod
    def empty(cls, bm25: BM25Params) -> "CollectionState":
        return cls((), {}, {}, 0, 0.0, bm25)

    @classmethod
    def of(cls, segments: Sequence[Segment], deleted: Mapping[str, frozenset[str]], bm25: BM25Params,
           generation: int = 0) -> "CollectionState":
        """A state computed from scratch (when loading from disk)."""
        state = cls.empty(bm25)
        for segment in segments:
            state = state.adding(segment)
        for segment_id, doc_ids in deleted.items():
            for doc_id in doc_ids:
                state = state.deleting(segment_id, doc_id)
        return state.numbered(generation)

    def numbered(self, generation: int) -> "CollectionState":
        return CollectionState(self.segments, self.deleted, self.doc_freq, self.live_chunks, self.live_length,
                               self.bm25, generation)

    def adding(self, segment: Segment) -> "CollectionState":
        doc_freq = dict(self.doc_freq)
        for term, n in segment.document_frequencies().items():
            doc_freq[term] = doc_freq.get(term, 0) + n
        return CollectionState(self.segments + (segment,), self.deleted, doc_freq,
                               self.live_chunks + len(segment), self.live_length + float(segment.doc_len.sum()),
                               self.bm25, self.generation)

    def deleting(self, segment_id: str, doc_id: str) -> "CollectionState":
        """This state with one report's rows in one segment tombstoned."""
        segment = self._segment(segment_id)
        rows = segment.doc_rows.get(doc_id)
        if rows is None or doc_id in self.deleted.get(segment_id, ()):
            return self
        doc_freq = dict(self.doc_freq)
        for term, n in segment.document_frequencies(rows).items():
            left = doc_freq[term] - n
            if left:
                doc_freq[term] = left
            else:
                del doc_freq[term]
        deleted = dict(self.deleted)
        deleted[segment_id] = deleted.get(segment_id, frozenset()) | {doc_id}
        return CollectionState(self.segments, deleted, doc_freq, self.live_chunks - len(rows),
                               self.live_length - float(segment.doc_len[rows].sum()), self.bm25, self.generation)

    def replacing(self, old: Sequence[Segment], new: Segment) -> "CollectionState":
        """Merged `old` segments swapped for `new`, which holds exactly their live rows."""
        gone = {s.segment_id for s in old}
        segments = tuple(s for s in self.segments if s.segment_id not in gone) + ((new,) if len(new) else ())
        deleted = {k: v for k, v in self.deleted.items() if k not in gone}
        return CollectionState(segments, deleted, self.doc_freq, self.live_chunks, self.live_length,
                               self.bm25, self.generation)

    def _segment(self, segment_id: str) -> Segment:
        for s in self.segments:
            if s.segment_id == segment_id:
                return s
        raise KeyError(segment_id)

    # ----- what lives where ------------------------------------------------------

    @cached_property
    def _documents(self) -> dict[str, tuple[Document, str]]:
        out = {}
        for segment in self.segments:
            gone = self.deleted.get(segment.segment_id, ())
            for doc in segment.documents:
                if doc.doc_id not in gone:
                    out[doc.doc_id] = (doc, segment.segment_id)
        return out

    def documents(self) -> Mapping[str, Document]:
        return {doc_id: doc for doc_id, (doc, _) in self._documents.items()}

    def segment_of(self, doc_id: str) -> str | None:
        entry = self._documents.get(doc_id)
        return entry[1] if entry else None

    def indexed(self, doc_id: str) -> IndexedDocument | None:
        """A stored report as it was written: for moving it to another backend unembedded."""
        segment_id = self.segment_of(doc_id)
        if segment_id is None:
            return None
        segment = self._segment(segment_id)
        rows = segment.doc_rows[doc_id]
        doc = self._documents[doc_id][0]
        spans, vectors = segment.sentences.of_document(doc_id)
        return IndexedDocument(doc, tuple(segment.chunks[r] for r in rows),
                               tuple(tuple(segment.tokens_of(r)) for r in rows), segment.vectors[rows],
                               spans, vectors, tuple(f for f in segment.facts if f.doc_id == doc_id))

    def facts(self, filters: Filters = NO_FILTERS) -> list[Fact]:
        out = []
        for segment in self.segments:
            gone = self.deleted.get(segment.segment_id, ())
            out += [f for f in segment.facts if f.doc_id not in gone and fact_allowed(f, filters)]
        return sorted(out, key=lambda f: f.doc_id)  # stable: a report's facts stay in the order it states them

    def sentences(self, doc_id: str) -> tuple[tuple[Span, ...], np.ndarray]:
        segment_id = self.segment_of(doc_id)
        if segment_id is None:
            return (), np.zeros((0, 0), dtype=np.float32)
        return self._segment(segment_id).sentences.of_document(doc_id)

    def sentence_scores(self, vector: np.ndarray, chunks: Sequence[Chunk]) -> dict[str, float]:
        by_doc: dict[str, list[Chunk]] = {}
        for chunk in chunks:
            by_doc.setdefault(chunk.doc_id, []).append(chunk)
        out: dict[str, float] = {}
        for doc_id, doc_chunks in by_doc.items():
            segment_id = self.segment_of(doc_id)
            if segment_id is None:
                continue
            sentences = self._segment(segment_id).sentences
            starts, ends, rows, disjoint = self._sentence_rows(doc_id, sentences)
            if not rows:
                continue
            scores = sentences.vectors[rows] @ vector  # each report's sentences once, not once per chunk
            if not disjoint:  # nested spans: bisecting would not find a chunk's sentences
                out |= best_sentence_of_chunks(doc_chunks, ((doc_id, Span(b, e), float(x))
                                                            for b, e, x in zip(starts, ends, scores)))
                continue
            for chunk in doc_chunks:
                lo, hi = bisect.bisect_left(starts, chunk.start), bisect.bisect_right(ends, chunk.end)
                if lo < hi:
                    out[chunk.chunk_id] = float(scores[lo:hi].max())
        return out

    @cached_property
    def _sentences_by_doc(self) -> dict:
        return {}

    def _sentence_rows(self, doc_id: str, sentences) -> tuple[list[int], list[int], list[int], bool]:
        """A report's sentence starts, ends and rows in file order, and whether the spans are
        disjoint (then a chunk's sentences are one run of rows, found by bisecting). Only
        offsets are kept, never vectors."""
        if doc_id not in self._sentences_by_doc:
            rows = sorted(sentences.rows_of.get(doc_id, []), key=lambda r: (sentences.spans[r].start, sentences.spans[r].end))
            starts = [sentences.spans[r].start for r in rows]
            ends = [sentences.spans[r].end for r in rows]
            disjoint = all(ends[i] <= starts[i + 1] for i in range(len(rows) - 1))
            self._sentences_by_doc[doc_id] = (starts, ends, rows, disjoint)
        return self._sentences_by_doc[doc_id]

    @cached_property
    def _dead(self) -> dict[str, np.ndarray]:
        """Tombstoned rows by segment, once per state: every question reads them."""
        out = {}
        for segment in self.segments:
            gone = self.deleted.get(segment.segment_id)
            if gone:
                dead = np.zeros(len(segment), dtype=bool)
                for doc_id in gone:
                    dead[segment.doc_rows.get(doc_id, [])] = True
                out[segment.segment_id] = dead
        return out

    def dead_rows(self, segment: Segment) -> np.ndarray | None:
        return self._dead.get(segment.segment_id)

    def dead_fraction(self, segment: Segment) -> float:
        dead = self.dead_rows(segment)
        return float(dead.mean()) if dead is not None and len(segment) else 0.0

    @cached_property
    def _chunks(self) -> dict[str, Chunk]:
        out = {}
        for segment in self.segments:
            gone = self.deleted.get(segment.segment_id, ())
            for chunk in segment.chunks:
                if chunk.doc_id not in gone:
                    out[chunk.chunk_id] = chunk
        return out

    def chunk(self, chunk_id: str) -> Chunk:
        return self._chunks[chunk_id]

    def counts(self) -> Counts:
        return Counts(len(self._documents), self.live_chunks)

    @property
    def snapshot(self):
        return self  # states are immutable: the state itself names its commit

    def _allowed(self, segment: Segment, filters: Filters) -> np.ndarray | None:
        """Rows a question may see in the segment, or None for all of them."""
        dead = self.dead_rows(segment)
        if not filters and dead is None:
            return None
        keep = segment.mask(filters) if filters else np.ones(len(segment), dtype=bool)
        return keep & ~dead if dead is not None else keep

    # ----- BM25 ----------------------------------------------------------------------

    @cached_property
    def _idf_floor(self) -> float:
        return idf_floor(self.doc_freq, self.live_chunks, self.bm25.epsilon)

    def idf(self, terms: Sequence[str]) -> dict[str, float]:
        return idf_of(terms, self.doc_freq, self.live_chunks, self._idf_floor)

    def bm25_scores(self, segment: Segment, tokens: Sequence[str]) -> np.ndarray:
        """rank-bm25's score of every row of the segment (dead rows included)."""
        counts = Counter(tokens)
        columns = [(*segment.term_column(term), idf, counts[term]) for term, idf in self.idf(list(counts)).items()]
        avg_len = self.live_length / self.live_chunks if self.live_chunks and self.live_length > 0 else 1.0
        return okapi_scores(len(segment), columns, segment.doc_len, avg_len, self.bm25)

    def lexical(self, tokens: Sequence[str], k: int, filters: Filters = NO_FILTERS) -> list[Hit]:
        candidates = []
        for segment in self.segments:
            scores = self.bm25_scores(segment, tokens)
            allowed = self._allowed(segment, filters)
            matched = scores > 0
            if allowed is not None:
                matched &= allowed
            rows = np.flatnonzero(matched)
            candidates += _best(segment, rows, scores[rows], k)
        return _ranked(candidates, k)

    def lexical_per_report(self, tokens: Sequence[str], reports: int, filters: Filters = NO_FILTERS) -> list[Hit]:
        best: list[tuple[float, str]] = []
        for segment in self.segments:
            scores = self.bm25_scores(segment, tokens)
            allowed = self._allowed(segment, filters)
            matched = scores > 0 if allowed is None else (scores > 0) & allowed
            best += _best_per_report(segment, matched, scores)
        return _ranked(best, reports)

    # ----- dense -----------------------------------------------------------------------

    def vector_per_report(self, vector: np.ndarray, reports: int, filters: Filters = NO_FILTERS) -> list[Hit]:
        """Exact inner products over the allowed rows: a report's best chunk may lie beyond
        any approximate index's top k."""
        query = np.ascontiguousarray(vector, dtype=np.float32)
        best: list[tuple[float, str]] = []
        for segment in self.segments:
            if len(segment):
                allowed = self._allowed(segment, filters)
                best += _best_per_report(segment, np.ones(len(segment), dtype=bool) if allowed is None else allowed,
                                         segment.vectors @ query)
        return _ranked(best, reports)

    def vector(self, vector: np.ndarray, k: int, filters: Filters = NO_FILTERS) -> list[Hit]:
        query = np.ascontiguousarray(vector, dtype=np.float32).reshape(1, -1)
        candidates = []
        for segment in self.segments:
            if not len(segment):
                continue
            allowed = self._allowed(segment, filters)
            if allowed is None:
                scores, rows = segment.faiss.search(query, min(k, len(segment)))
                keep = rows[0] >= 0
                candidates += _best(segment, rows[0][keep], scores[0][keep], k)
            elif segment.dense.kind == "flat":
                rows = np.flatnonzero(allowed)
                candidates += _best(segment, rows, segment.vectors[rows] @ query[0], k)
            else:
                candidates += _best(segment, *_search_selected(segment, query, allowed, k), k)
        return _ranked(candidates, k)


def _search_selected(segment: Segment, query: np.ndarray, allowed: np.ndarray, k: int):
    """An approximate index searched with the allowed rows as a FAISS ID selector."""
    import faiss

    bitmap = np.packbits(allowed, bitorder="little")
    selector = faiss.IDSelectorBitmap(len(segment), faiss.swig_ptr(bitmap))
    config = segment.dense
    if config.kind == "hnsw":
        params = faiss.SearchParametersHNSW(sel=selector, efSearch=config.hnsw_ef_search)
    elif config.kind in ("ivf", "ivf_sq8") and hasattr(segment.faiss, "nprobe"):
        params = faiss.SearchParametersIVF(sel=selector, nprobe=config.ivf_probe)
    else:
        params = faiss.SearchParameters(sel=selector)
    scores, rows = segment.faiss.search(query, min(k, int(allowed.sum()) or 1), params=params)
    keep = rows[0] >= 0
    return rows[0][keep], scores[0][keep]


def _best_per_report(segment: Segment, allowed: np.ndarray, scores: np.ndarray) -> list[tuple[float, str]]:
    out = []
    for rows in segment.doc_rows.values():
        rows = np.asarray(rows)[allowed[rows]]
        if len(rows):
            top = rows[int(np.argmax(scores[rows]))]
            out.append((float(scores[top]), segment.chunks[top].chunk_id))
    return out


def _best(segment: Segment, rows: np.ndarray, scores: np.ndarray, k: int) -> list[tuple[float, str]]:
    if len(rows) > k:
        top = np.argpartition(-scores, k - 1)[:k]
        rows, scores = rows[top], scores[top]
    return [(float(s), segment.chunks[r].chunk_id) for r, s in zip(rows, scores)]


def _ranked(candidates: list[tuple[float, str]], k: int) -> list[Hit]:
    """Best first, ties broken by chunk id so rankings are deterministic."""
    candidates.sort(key=lambda c: (-c[0], c[1]))
    return [Hit(cid, score, rank) for rank, (score, cid) in enumerate(candidates[:k], start=1)]
