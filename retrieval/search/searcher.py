"""The hybrid searcher: BM25 and dense rankings over one snapshot, fused, boosted by the
cities and years a question names, diversified across reports for questions that
compare cities, each result explaining where its score came from."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

from retrieval.backends.base import NO_FILTERS, Filters, SearchView
from retrieval.search.fusion import FUSION_METHODS, fuse
from retrieval.models import Explanation, Hit, Result
from retrieval.text.normalize import normalize
from retrieval.search.query import QueryAnalysis, QueryAnalyzer

MODES = ("hybrid", "bm25", "dense")


@dataclass(frozen=True)
class SearchConfig:
    fusion: str = "weighted"  # measured better than rrf on both eval sets (eval/README.md)
    rrf_k: int = 60
    candidates: int = 100  # taken from each retriever before fusion
    # (bm25, dense) weights by query language: English reaches BM25 only through the glossary.
    weights: dict = field(default_factory=lambda: {"zh": (1.0, 1.0), "zh-hant": (1.0, 1.0), "en": (0.5, 1.0)})
    # hybrid also ranks candidates by their best sentence's cosine (the sentence vectors
    # answers use), weighted as the passage vectors are; 0 turns it off
    sentence_weight: float = 1.0
    city_boost: float = 1.0  # score multiplied by 1 + boost for the cities a question names
    year_boost: float = 0.2
    diversify: bool = True

    def __post_init__(self):
        if self.fusion not in FUSION_METHODS:
            raise ValueError(f"fusion must be one of {', '.join(FUSION_METHODS)}, got {self.fusion!r}")
        if self.rrf_k < 1 or self.candidates < 1:
            raise ValueError("rrf_k and candidates must be positive")


@dataclass(frozen=True)
class SearchOutcome:
    query: str
    mode: str
    analysis: QueryAnalysis
    results: tuple[Result, ...]
    took_ms: float
    total: int = 0  # candidates that matched, of which `results` is one page
    facets: "Facets | None" = None


@dataclass(frozen=True)
class Facets:
    """How the matching candidates spread over cities and years, most first."""

    cities: tuple[tuple[str, int], ...]
    years: tuple[tuple[int, int], ...]


class Searcher:
    """Ranks over one view of a backend: everything above the boundary (fusion, boosts,
    diversity) is here, so every backend ranks with the same code."""

    def __init__(self, view: SearchView, analyzer: QueryAnalyzer, config: SearchConfig = SearchConfig(),
                 embed_query=None):
        self.view = view
        self.embed_query = embed_query  # text -> normalised query vector (the engine caches and batches)
        self.analyzer = analyzer
        self.config = config

    def search(self, query: str, k: int = 10, mode: str = "hybrid", filters: Filters = NO_FILTERS,
               offset: int = 0) -> SearchOutcome:
        """Results offset+1 .. offset+k of the ranking (pages of one ranking, not a new search)."""
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        started = time.perf_counter()
        analysis = self.analyzer.analyze(query)
        n = self.config.candidates
        bm25_hits = self.view.lexical(analysis.tokens, n, filters) if mode in ("hybrid", "bm25") else []
        dense_hits, sentence_hits = [], []
        if mode in ("hybrid", "dense"):
            vector = self.embed_query(analysis.dense_text)
            dense_hits = self.view.vector(vector, n, filters)
            if mode == "hybrid" and self.config.sentence_weight > 0:
                sentence_hits = self._best_sentences(vector, bm25_hits, dense_hits)
        ranked = self._combine(mode, analysis, bm25_hits, dense_hits, sentence_hits)
        ranked = self._boost(ranked, analysis)
        if self.config.diversify and analysis.across_cities:
            ranked = self._diversify(ranked)
        explain = self._explanations(bm25_hits, dense_hits, sentence_hits)
        results = []
        for rank, (cid, score, boosts) in enumerate(ranked[offset : offset + k], start=offset + 1):
            chunk = self.view.chunk(cid)
            results.append(Result(rank, score, chunk, highlights(chunk.text, analysis.tokens),
                                  Explanation(*explain.get(cid, (None,) * 5), boosts=tuple(boosts))))
        took = (time.perf_counter() - started) * 1000
        return SearchOutcome(query, mode, analysis, tuple(results), took, len(ranked), self._facets(ranked))

    def _facets(self, ranked) -> Facets:
        cities, years = Counter(), Counter()
        for cid, _, _ in ranked:
            chunk = self.view.chunk(cid)
            if chunk.city:
                cities[chunk.city] += 1
            if chunk.year:
                years[chunk.year] += 1
        return Facets(tuple(sorted(cities.items(), key=lambda c: (-c[1], c[0]))),
                      tuple(sorted(years.items(), key=lambda y: (-y[1], y[0]))))

    def _best_sentences(self, vector, bm25_hits, dense_hits) -> list[Hit]:
        """The candidates ranked by their best sentence: one more ranking to fuse."""
        ids = dict.fromkeys(h.chunk_id for h in bm25_hits + dense_hits)
        scores = self.view.sentence_scores(vector, [self.view.chunk(cid) for cid in ids])
        ranked = sorted(scores.items(), key=lambda item: (-item[1], item[0]))
        return [Hit(cid, score, rank) for rank, (cid, score) in enumerate(ranked, start=1)]

    def _combine(self, mode: str, analysis: QueryAnalysis, bm25_hits, dense_hits, sentence_hits) -> list[tuple[str, float]]:
        if mode == "bm25":
            return [(h.chunk_id, h.score) for h in bm25_hits]
        if mode == "dense":
            return [(h.chunk_id, h.score) for h in dense_hits]
        w_bm25, w_dense = self.config.weights.get(analysis.language, (1.0, 1.0))
        rankings = [(w_bm25, bm25_hits), (w_dense, dense_hits), (w_dense * self.config.sentence_weight, sentence_hits)]
        return fuse(self.config.fusion, rankings, self.config.rrf_k)

    def _boost(self, ranked, analysis: QueryAnalysis) -> list[tuple[str, float, list[str]]]:
        out = []
        for cid, score in ranked:
            chunk = self.view.chunk(cid)
            boosts, factor = [], 1.0
            if analysis.cities and chunk.city in analysis.cities:
                factor *= 1 + self.config.city_boost
                boosts.append(f"city:{chunk.city}")
            if analysis.years and (chunk.year in analysis.years or set(analysis.years) & set(chunk.years)):
                factor *= 1 + self.config.year_boost
                boosts.append(f"year:{chunk.year}")
            out.append((cid, score * factor if score > 0 else score, boosts))
        return sorted(out, key=lambda item: (-item[1], item[0]))

    def _diversify(self, ranked):
        """Each report's best result first, in score order, then the rest as ranked."""
        seen, first, rest = set(), [], []
        for item in ranked:
            doc = self.view.chunk(item[0]).doc_id
            (rest if doc in seen else first).append(item)
            seen.add(doc)
        return first + rest

    @staticmethod
    def _explanations(bm25_hits, dense_hits, sentence_hits) -> dict[str, list]:
        out: dict[str, list] = {}
        for h in bm25_hits:
            out.setdefault(h.chunk_id, [None] * 5)[0:2] = [h.rank, h.score]
        for h in dense_hits:
            out.setdefault(h.chunk_id, [None] * 5)[2:4] = [h.rank, h.score]
        for h in sentence_hits:
            out.setdefault(h.chunk_id, [None] * 5)[4] = h.score
        return out


# Words a question is phrased with rather than what it asks about: worth matching, not marking.
_NOT_MARKED = frozenset({"城市", "达到", "实现", "情况", "工作", "全市", "哪些", "哪个", "多少", "是否", "完成"})


def highlights(text: str, tokens: tuple[str, ...]) -> tuple[tuple[int, int], ...]:
    """[start, end) spans of text where the question's content words occur, found in the
    normal form (so 溫州 in a question highlights 温州) and mapped back to exact offsets."""
    norm = normalize(text)
    spans = []
    for token in set(tokens):
        if (len(token) < 2 and not token.isdigit()) or token in _NOT_MARKED:
            continue
        pos = norm.text.find(token)
        while pos >= 0:
            spans.append(norm.source_span(pos, pos + len(token)))
            pos = norm.text.find(token, pos + len(token))
    spans.sort()
    merged: list[list[int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return tuple((s, e) for s, e in merged)
