"""Okapi BM25 with rank-bm25's formulas, one small pure function each.

rank-bm25 loops over every document in Python for each query; here a query reads only
the term-frequency columns of its own terms, as numpy vectors."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
from scipy import sparse


@dataclass(frozen=True)
class BM25Params:
    k1: float = 1.5
    b: float = 0.75
    epsilon: float = 0.25  # floor for negative idf, as a fraction of the mean idf

    def __post_init__(self):
        if self.k1 < 0 or not 0 <= self.b <= 1:
            raise ValueError(f"BM25 needs k1 >= 0 and 0 <= b <= 1, got k1={self.k1}, b={self.b}")


def raw_idf(doc_freq: np.ndarray, n_docs: int) -> np.ndarray:
    return np.log(n_docs - doc_freq + 0.5) - np.log(doc_freq + 0.5)


def okapi_idf(doc_freq: np.ndarray, n_docs: int, epsilon: float) -> np.ndarray:
    """rank-bm25's BM25Okapi idf: negative values are raised to epsilon * mean idf."""
    idf = raw_idf(doc_freq, n_docs)
    floor = epsilon * idf.mean() if len(idf) else 0.0
    return np.where(idf < 0, floor, idf)


def idf_floor(doc_freq: Mapping[str, int], n_docs: int, epsilon: float) -> float:
    """rank-bm25's value for negative idf: epsilon times the mean raw idf over the vocabulary."""
    if not doc_freq:
        return 0.0
    df = np.fromiter(doc_freq.values(), dtype=np.float64, count=len(doc_freq))
    return epsilon * float(raw_idf(df, n_docs).mean())


def idf_of(terms: Sequence[str], doc_freq: Mapping[str, int], n_docs: int, floor: float) -> dict[str, float]:
    """idf of the terms a collection holds (the others are left out), negatives raised to floor."""
    present = [t for t in dict.fromkeys(terms) if doc_freq.get(t)]
    if not present:
        return {}
    raw = raw_idf(np.array([doc_freq[t] for t in present], dtype=np.float64), n_docs)
    return {t: float(v if v >= 0 else floor) for t, v in zip(present, raw)}


def term_counts(rows_tokens: Sequence[Sequence[str]]) -> tuple[sparse.csc_matrix, tuple[str, ...]]:
    """A rows x terms matrix of term frequencies (columns are terms) and its vocabulary."""
    vocabulary: dict[str, int] = {}
    rows, cols, tfs = [], [], []
    for row, tokens in enumerate(rows_tokens):
        for term, tf in Counter(tokens).items():
            rows.append(row)
            cols.append(vocabulary.setdefault(term, len(vocabulary)))
            tfs.append(tf)
    matrix = sparse.csc_matrix((np.asarray(tfs, dtype=np.float32), (rows, cols)),
                               shape=(len(rows_tokens), len(vocabulary)))
    return matrix, tuple(vocabulary)


def okapi_term_weight(tf: np.ndarray, doc_len: np.ndarray, avg_len: float, k1: float, b: float) -> np.ndarray:
    return tf * (k1 + 1) / (tf + k1 * (1 - b + b * doc_len / avg_len))


def okapi_scores(n_rows: int, columns, doc_len: np.ndarray, avg_len: float, params: "BM25Params") -> np.ndarray:
    """Scores of n_rows chunks from the query terms' columns: (rows, term frequencies, idf,
    times the term occurs in the query) each. A repeated query term counts again, as in
    rank-bm25. Weights are computed at query time, so adding chunks rewrites no stored weight."""
    scores = np.zeros(n_rows, dtype=np.float64)
    for rows, tf, idf, repeats in columns:
        if len(rows):
            w = okapi_term_weight(tf.astype(np.float64), doc_len[rows], avg_len, params.k1, params.b)
            scores[rows] += repeats * idf * w
    return scores


class BM25Index:
    """BM25 over one fixed set of chunks with its own statistics: the scoring the local
    backend does per segment, on its own (for the scale benchmark and the oracle test)."""

    def __init__(self, corpus_tokens: list[list[str]], params: BM25Params = BM25Params()):
        counts, terms = term_counts(corpus_tokens)
        self._build(counts, {t: j for j, t in enumerate(terms)}, params)

    @classmethod
    def from_term_counts(cls, counts: sparse.spmatrix, vocabulary: dict[str, int],
                         params: BM25Params = BM25Params()) -> "BM25Index":
        """From a documents x terms matrix of term frequencies (for corpora made in bulk)."""
        index = cls.__new__(cls)
        index._build(counts, vocabulary, params)
        return index

    def _build(self, counts: sparse.spmatrix, vocabulary: dict[str, int], params: BM25Params) -> None:
        self.params, self.vocabulary = params, vocabulary
        self.matrix = sparse.csc_matrix(counts, dtype=np.float32)  # columns are terms
        self.n_docs = self.matrix.shape[0]
        self.doc_len = np.asarray(self.matrix.sum(axis=1), dtype=np.float64).ravel()
        self.idf = okapi_idf(np.diff(self.matrix.indptr).astype(np.float64), self.n_docs, params.epsilon)
        self.avg_len = self.doc_len.mean() if self.n_docs and self.doc_len.mean() > 0 else 1.0

    def scores(self, query_tokens: list[str]) -> np.ndarray:
        m = self.matrix
        columns = []
        for term, repeats in Counter(t for t in query_tokens if t in self.vocabulary).items():
            j = self.vocabulary[term]
            lo, hi = m.indptr[j], m.indptr[j + 1]
            columns.append((m.indices[lo:hi], m.data[lo:hi], self.idf[j], repeats))
        return okapi_scores(self.n_docs, columns, self.doc_len, self.avg_len, self.params)
