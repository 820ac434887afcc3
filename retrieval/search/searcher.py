"""The hybrid searcher: BM25 and dense rankings over one snapshot, fused, boosted by the
cities and years a question names, diversified across reports for questions that
compare cities, each result explaining where its score came from."""

from __future__ import annotations

import re
import time
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache

from retrieval.backends.base import NO_FILTERS, Filters, SearchView
from retrieval.facts.extraction import tells_results
from retrieval.search.fusion import FUSION_METHODS, fuse
from retrieval.models import Explanation, Hit, Result
from retrieval.text.normalize import normalize
from retrieval.text.tokenize import LONGEST_MARKED_TERM
from retrieval.search.query import QueryAnalysis, QueryAnalyzer

MODES = ("hybrid", "bm25", "dense")
_CJK_RUN = re.compile(r"[\u4e00-\u9fff]{3,}")


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
    synonyms: bool = True  # BM25 also looks for the domain synonyms of the question's words (data/synonyms.tsv)
    coined_terms: bool = True  # BM25 also looks for report coinages the question's cut split apart
    city_boost: float = 1.0  # score multiplied by 1 + boost for the cities a question names
    year_boost: float = 0.2
    plan_boost: float = 0.2  # a question about targets or plans: passages of a plan section, likewise
    results_boost: float = 0.2  # a question about what was done: passages of a section of results, likewise
    diversify: bool = True
    report_floor: float = 0.5  # of the top score, that a report's best needs to be brought forward
    # questions across cities also take each report's best chunk as a candidate (one grouped
    # search per retriever), so no report is missed because others fill the candidate lists
    per_report_candidates: bool = True
    # which city did X, asked with no word of planning: a report's result brought forward is its
    # best passage among those that tell results, not a plan that states the same figure as a goal
    results_first: bool = True
    report_candidates: int = 100  # reports a grouped search returns, each with its best chunk
    # pseudo-relevance feedback for English questions: BM25 also looks for the terms that best
    # mark the dense ranking's first passages (RM3's weights: share of each passage's tokens x
    # idf). Measured (eval/README.md): it drifts more than it helps here, so it is off.
    feedback_terms: int = 0
    feedback_passages: int = 3

    def __post_init__(self):
        if self.fusion not in FUSION_METHODS:
            raise ValueError(f"fusion must be one of {', '.join(FUSION_METHODS)}, got {self.fusion!r}")
        if self.rrf_k < 1 or self.candidates < 1 or self.report_candidates < 1:
            raise ValueError("rrf_k, candidates and report_candidates must be positive")


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
        grouped = self.config.per_report_candidates and analysis.across_cities
        bm25_hits, dense_hits, sentence_hits = [], [], []
        if mode in ("hybrid", "bm25"):
            tokens = self._lexical_tokens(analysis, filters)
            bm25_hits = self.view.lexical(tokens, n, filters)
            if grouped:
                bm25_hits = _merged(bm25_hits, self.view.lexical_per_report(tokens, self.config.report_candidates, filters))
        if mode in ("hybrid", "dense"):
            vector = self.embed_query(analysis.dense_text)
            dense_hits = self.view.vector(vector, n, filters)
            if grouped:
                dense_hits = _merged(dense_hits, self.view.vector_per_report(vector, self.config.report_candidates, filters))
            if mode == "hybrid" and self.config.sentence_weight > 0:
                sentence_hits = self._best_sentences(vector, bm25_hits, dense_hits)
        ranked = self._combine(mode, analysis, bm25_hits, dense_hits, sentence_hits)
        ranked = self._boost(ranked, analysis)
        if self.config.diversify and analysis.across_cities:
            ranked = self._diversify(ranked, results_only=self.config.results_first and not analysis.asks_plans)
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

    def _lexical_tokens(self, analysis: QueryAnalysis, filters: Filters = NO_FILTERS) -> tuple[str, ...]:
        """BM25's tokens: the question's, its words' domain synonyms, feedback terms when
        configured, and every term the collection holds that jieba's cut of the question split
        apart (a report's coinage, “五书同达”, asked without its quotation marks)."""
        tokens = analysis.tokens + (analysis.synonym_tokens if self.config.synonyms else ())
        if self.config.feedback_terms and analysis.language == "en":
            tokens += self._feedback_terms(analysis, tokens, filters)
        if not self.config.coined_terms:
            return tokens
        candidates = {run[i:j] for run in _CJK_RUN.findall(normalize(analysis.simplified).text)
                      for i in range(len(run)) for j in range(i + 3, min(i + LONGEST_MARKED_TERM, len(run)) + 1)}
        candidates = [c for c in candidates if not any(c in t for t in analysis.tokens)]
        return tokens + tuple(sorted(self.view.idf(candidates))) if candidates else tokens

    def _feedback_terms(self, analysis: QueryAnalysis, tokens: tuple[str, ...], filters: Filters) -> tuple[str, ...]:
        weights: Counter = Counter()
        for hit in self.view.vector(self.embed_query(analysis.dense_text), self.config.feedback_passages, filters):
            counts = Counter(self.analyzer.tokenizer.tokens(self.view.chunk(hit.chunk_id).text, query=True))
            total = sum(counts.values()) or 1
            for term, n in counts.items():
                weights[term] += n / total
        idf = self.view.idf([t for t in weights if len(t) > 1 and t not in tokens])
        ranked = sorted(idf, key=lambda t: (-weights[t] * idf[t], t))
        return tuple(ranked[: self.config.feedback_terms])

    def _best_sentences(self, vector, bm25_hits, dense_hits) -> list[Hit]:
        """The candidates ranked by their best sentence: one more ranking to fuse."""
        ids = dict.fromkeys(h.chunk_id for h in bm25_hits + dense_hits)
        return _ranking(self.view.sentence_scores(vector, [self.view.chunk(cid) for cid in ids]))

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
        plans = self.config.plan_boost and analysis.asks_plans
        results = self.config.results_boost and analysis.asks_results
        documents = self.view.documents() if plans or results else {}
        for cid, score in ranked:
            chunk = self.view.chunk(cid)
            boosts, factor = [], 1.0
            if plans and not tells_results(chunk, documents.get(chunk.doc_id)):
                factor *= 1 + self.config.plan_boost
                boosts.append("plan")
            elif results and tells_results(chunk, documents.get(chunk.doc_id)):
                factor *= 1 + self.config.results_boost
                boosts.append("results")
            if analysis.cities and chunk.city in analysis.cities:
                factor *= 1 + self.config.city_boost
                boosts.append(f"city:{chunk.city}")
            if analysis.years and (chunk.year in analysis.years or set(analysis.years) & set(chunk.years)):
                factor *= 1 + self.config.year_boost
                boosts.append(f"year:{chunk.year}")
            out.append((cid, score * factor if score > 0 else score, boosts))
        return sorted(out, key=lambda item: (-item[1], item[0]))

    def _diversify(self, ranked, results_only: bool = False):
        """Each report's best result first, in score order, then the rest as ranked; but only
        a report whose best passage scores at least `report_floor` of the best one overall is
        brought forward: a report with nothing on the question is not padded in ahead of
        another report's second answer. results_only: a report's best among its passages that
        tell results (a report of plans only brings its best plan)."""
        if not ranked:
            return ranked
        floor = ranked[0][1] * self.config.report_floor
        chunks = [self.view.chunk(cid) for cid, _, _ in ranked]
        documents = self.view.documents() if results_only else {}
        results = [results_only and tells_results(c, documents.get(c.doc_id)) for c in chunks]
        # reports with a passage telling results that clears the floor
        telling = {c.doc_id for c, told, (_, score, _) in zip(chunks, results, ranked) if told and score >= floor}
        seen, first, rest = set(), [], []
        for item, chunk, told in zip(ranked, chunks, results):
            doc = chunk.doc_id
            passed_over = bool(first) and doc in telling and not told
            (rest if doc in seen or item[1] < floor or passed_over else first).append(item)
            if not passed_over:
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


def _ranking(scores: dict[str, float]) -> list[Hit]:
    """Chunks by score, best first, ties broken by id as every ranking here is."""
    ranked = sorted(scores.items(), key=lambda item: (-item[1], item[0]))
    return [Hit(cid, score, rank) for rank, (cid, score) in enumerate(ranked, start=1)]


def _merged(hits: list[Hit], more: list[Hit]) -> list[Hit]:
    """One retriever's two candidate lists as one ranking (a chunk in both counted once)."""
    return _ranking({h.chunk_id: h.score for h in more} | {h.chunk_id: h.score for h in hits})


# Words a question is phrased with rather than what it asks about: worth matching, not marking.
_NOT_MARKED = frozenset({"城市", "达到", "实现", "情况", "工作", "全市", "哪些", "哪个", "多少", "是否", "完成"})


@lru_cache(maxsize=4096)
def _normal_form(text: str):
    """A passage's normal form, kept: the same passages come back question after question,
    and folding them character by character was half of a search's time after encoding."""
    return normalize(text)


def highlights(text: str, tokens: tuple[str, ...]) -> tuple[tuple[int, int], ...]:
    """[start, end) spans of text where the question's content words occur, found in the
    normal form (so 溫州 in a question highlights 温州) and mapped back to exact offsets."""
    norm = _normal_form(text)
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
