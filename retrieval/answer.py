"""Extractive answers: the sentence of the best passages that answers the question, its
key value marked, one line per city for questions across cities, and an honest
"not found" when the evidence is too weak (threshold calibrated on the eval set)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .chunking import split_sentences
from .models import Chunk, Result, Span
from .normalize import normalize
from .searcher import SearchOutcome

NOT_FOUND = {"zh": "报告中未找到相关内容。", "en": "Not found in the reports."}
_ASKS_QUANTITY = re.compile(
    r"多少|几|比例|比率|占比|百分|排名|第几|浓度|金额|目标|how (?:many|much)|percent|rate|ratio|proportion|rank|share"
    r"|level|concentration|target|amount|%", re.I)
_VALUE = re.compile(
    r"全省第[一二三]|全国第[一二三]|全省前列|全国前列|第\s*\d+\s*(?:位|名)?"
    r"|\d+(?:\.\d+)?\s*(?:%|％|亿元|万元|亿|万吨|吨|个百分点|μg/m3|微克/立方米|㎡/km|万度|个|件|家|人|次|项|条|起|台|天|批次)?"
)

# Sentence similarity to the question, from the encoder: (question, sentences) -> cosines.
Similarity = Callable[[str, list[str]], np.ndarray]


@dataclass(frozen=True)
class AnswerConfig:
    # Below this cosine between the question and its best passage nothing relevant was found.
    # None: the encoder's own calibrated value (see eval/calibrate.py), if it has one.
    min_dense_score: float | None = None
    max_lines: int = 5
    sentence_candidates: int = 3  # passages whose sentences compete for a single answer


@dataclass(frozen=True)
class Evidence:
    chunk: Chunk
    span: Span  # the quoted sentence, offsets in the report file
    text: str
    value: tuple[int, int] | None  # the key value inside text


@dataclass(frozen=True)
class Answer:
    question: str
    text: str
    found: bool
    evidence: tuple[Evidence, ...]
    outcome: SearchOutcome


def best_dense_score(outcome: SearchOutcome, top: int = 5) -> float:
    return max((r.explanation.dense_score for r in outcome.results[:top]
                if r.explanation.dense_score is not None), default=-math.inf)


def _lexical(sentence: str, idf: dict[str, float]) -> float:
    """Share of the question's (idf-weighted) words that the sentence holds."""
    total = sum(idf.values())
    if not total:
        return 0.0
    norm = normalize(sentence).text
    return sum(w for t, w in idf.items() if t in norm) / total


def _key_value(sentence: str, tokens: set[str]) -> tuple[int, int] | None:
    """The value nearest to where the question's words occur in the sentence."""
    norm = normalize(sentence)
    anchors = [norm.source_span(m.start(), m.end())[0]
               for t in tokens if len(t) > 1 for m in re.finditer(re.escape(t), norm.text)]
    values = [m for m in _VALUE.finditer(sentence)
              if re.search(r"[\d一二三]", m.group(0)) and not re.fullmatch(r"(?:19|20)\d\d", m.group(0).strip())]
    if not values:
        return None
    centre = sum(anchors) / len(anchors) if anchors else 0
    best = min(values, key=lambda m: (abs((m.start() + m.end()) / 2 - centre), m.start()))
    return best.start(), best.end()


def _candidates(results: list[Result]) -> list[tuple[int, Chunk, Span, str]]:
    out = []
    for i, r in enumerate(results):
        for span in split_sentences(r.chunk.text, Span(0, len(r.chunk.text))):
            text = r.chunk.text[span.start : span.end]
            if re.search(r"[\w\u4e00-\u9fff]{6}", text):  # not a bare heading number or fragment
                out.append((i, r.chunk, span, text))
    return out


def _best_evidence(question: str, results: list[Result], idf: dict[str, float], wants_value: bool,
                   similarity: Similarity | None) -> Evidence:
    candidates = _candidates(results)
    if not candidates:
        r = results[0]
        return Evidence(r.chunk, Span(r.chunk.start, r.chunk.end), r.chunk.text, None)
    texts = [c[3] for c in candidates]
    semantic = similarity(question, texts) if similarity else np.zeros(len(texts))
    scored = []
    for (i, chunk, span, text), sim in zip(candidates, semantic):
        score = float(sim) + 0.5 * _lexical(text, idf) - 0.02 * i
        if wants_value and _VALUE.search(text) and re.search(r"\d|第[一二三]|前列", text):
            score += 0.05
        scored.append((score, -i, -span.start, chunk, span, text))
    score, _, _, chunk, span, text = max(scored, key=lambda s: s[:3])
    value = _key_value(text, set(idf)) if wants_value else None
    return Evidence(chunk, Span(chunk.start + span.start, chunk.start + span.end), text, value)


def _marked(e: Evidence) -> str:
    if e.value is None:
        return e.text
    s, t = e.value
    return f"{e.text[:s]}【{e.text[s:t]}】{e.text[t:]}"


def answer(outcome: SearchOutcome, bm25, known_cities: set[str], config: AnswerConfig = AnswerConfig(),
           threshold: float | None = None, similarity: Similarity | None = None) -> Answer:
    analysis = outcome.analysis
    language = "en" if analysis.language == "en" else "zh"
    not_found = Answer(outcome.query, NOT_FOUND[language], False, (), outcome)
    results = list(outcome.results)
    if not results:
        return not_found
    if analysis.cities and not set(analysis.cities) & known_cities:
        return not_found  # asked about a city the collection has no report for
    if threshold is not None and best_dense_score(outcome) < threshold:
        return not_found

    vocab = bm25.vocabulary
    idf = {t: float(bm25.idf[vocab[t]]) for t in set(analysis.tokens)
           if t in vocab and (len(t) > 1 or t.isdigit()) and t not in analysis.cities}
    wants_value = bool(_ASKS_QUANTITY.search(analysis.simplified))
    question = analysis.simplified

    per_city: dict[str, list[Result]] = {}
    if analysis.across_cities:
        for r in results:
            if r.chunk.city and (threshold is None or (r.explanation.dense_score or -1) >= threshold):
                per_city.setdefault(r.chunk.city, []).append(r)
    if len(per_city) < 2:
        evidence = _best_evidence(question, results[: config.sentence_candidates], idf, wants_value, similarity)
        return Answer(outcome.query, f"{_marked(evidence)} [1]", True, (evidence,), outcome)

    evidence, lines = [], []
    for i, (city, hits) in enumerate(list(per_city.items())[: config.max_lines], start=1):
        e = _best_evidence(question, hits[:1], idf, wants_value, similarity)
        evidence.append(e)
        lines.append(f"{city}：{_marked(e)} [{i}]")
    return Answer(outcome.query, "\n".join(lines), True, tuple(evidence), outcome)
