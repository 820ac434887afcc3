"""Okapi BM25 with rank-bm25's formulas, scored as one sparse matrix product.

rank-bm25 loops over every document in Python for each query; here the per-(document,
term) weights are computed once at build time, so a query is a sum of a few columns."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

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


def okapi_term_weight(tf: np.ndarray, doc_len: np.ndarray, avg_len: float, k1: float, b: float) -> np.ndarray:
    return tf * (k1 + 1) / (tf + k1 * (1 - b + b * doc_len / avg_len))


class BM25Index:
    def __init__(self, corpus_tokens: list[list[str]], params: BM25Params = BM25Params()):
        vocabulary: dict[str, int] = {}
        rows, cols, tfs = [], [], []
        for row, tokens in enumerate(corpus_tokens):
            for term, tf in Counter(tokens).items():
                rows.append(row)
                cols.append(vocabulary.setdefault(term, len(vocabulary)))
                tfs.append(tf)
        counts = sparse.csr_matrix((np.asarray(tfs, dtype=np.float64), (rows, cols)),
                                   shape=(len(corpus_tokens), len(vocabulary)))
        self._build(counts, vocabulary, params)

    @classmethod
    def from_term_counts(cls, counts: sparse.spmatrix, vocabulary: dict[str, int],
                         params: BM25Params = BM25Params()) -> "BM25Index":
        """From a documents x terms matrix of term frequencies (for corpora made in bulk)."""
        index = cls.__new__(cls)
        index._build(counts, vocabulary, params)
        return index

    def _build(self, counts: sparse.spmatrix, vocabulary: dict[str, int], params: BM25Params) -> None:
        self.params, self.vocabulary = params, vocabulary
        counts = sparse.coo_matrix(counts)
        n_docs, n_terms = counts.shape
        self.n_docs = n_docs
        rows, cols, tf = counts.row.astype(np.int64), counts.col.astype(np.int64), counts.data.astype(np.float64)
        doc_len = np.bincount(rows, weights=tf, minlength=n_docs)
        doc_freq = np.bincount(cols, minlength=n_terms).astype(np.float64)
        self.idf = okapi_idf(doc_freq, n_docs, params.epsilon)
        avg_len = doc_len.mean() if n_docs and doc_len.mean() > 0 else 1.0
        weight = self.idf[cols] * okapi_term_weight(tf, doc_len[rows], avg_len, params.k1, params.b)
        # Columns are terms: a query reads only the columns of its own terms.
        self.matrix = sparse.csc_matrix((weight, (rows, cols)), shape=(n_docs, n_terms), dtype=np.float32)

    def scores(self, query_tokens: list[str]) -> np.ndarray:
        """A score per document; a repeated query term counts again, as in rank-bm25."""
        counts = Counter(t for t in query_tokens if t in self.vocabulary)
        if not counts or not self.n_docs:
            return np.zeros(self.n_docs, dtype=np.float32)
        cols = np.fromiter((self.vocabulary[t] for t in counts), dtype=np.int64)
        weights = np.fromiter(counts.values(), dtype=np.float32)
        return np.asarray(self.matrix[:, cols] @ weights).ravel()
