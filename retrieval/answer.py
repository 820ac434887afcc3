"""Extractive answers: the sentence(s) of the best passages that answer the question,
its key value marked, one line per city for questions across cities, and an honest
"not found" when the best evidence is too weak (threshold calibrated on the eval set)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from .chunking import split_sentences
from .models import Chunk, Result, Span
from .normalize import normalize
from .searcher import SearchOutcome

NOT_FOUND = {"zh": "报告中未找到相关内容。", "en": "Not found in the reports."}
_ASKS_QUANTITY = re.compile(r"多少|几|比例|比率|占比|百分|排名|第几|浓度|how (?:many|much)|percent|rate|ratio|proportion|rank|share|level|concentration|%", re.I)
_VALUE = re.compile(
    r"(?:第\s*\d+\s*(?:位|名)?|全省第[一二三]|全国第[一二三]|全省前列|全国前列"
    r"|\d+(?:\.\d+)?\s*(?:%|％|亿元|万元|亿|万吨|吨|个百分点|μg/m3|微克/立方米|个|件|家|人|次|项|条|起|公里|千米|平方公里|天|万人|批次)?)"
)


@dataclass(frozen=True)
class AnswerConfig:
    # Below this cosine between question and best passage, nothing relevant was found.
    # Calibrated by `python -m eval.calibrate` on eval/questions.jsonl and eval/unanswerable.jsonl.
    min_dense_score: float = 0.80
    max_lines: int = 5
    evidence_per_line: int = 1


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


def _sentence_spans(chunk: Chunk) -> list[Span]:
    return split_sentences(chunk.text, Span(0, len(chunk.text)))


def _score_sentence(sentence: str, tokens: set[str], idf: dict[str, float], wants_value: bool) -> float:
    norm = normalize(sentence).text
    score = sum(idf.get(t, 1.0) for t in tokens if t in norm)
    if wants_value and _VALUE.search(sentence) and re.search(r"\d|第|前列", sentence):
        score *= 1.3
    return score


def _key_value(sentence: str, tokens: set[str]) -> tuple[int, int] | None:
    """The value nearest to where the question's words occur in the sentence."""
    norm = normalize(sentence)
    anchors = [norm.source_span(m.start(), m.end())[0]
               for t in tokens if len(t) > 1 for m in re.finditer(re.escape(t), norm.text)]
    values = [m for m in _VALUE.finditer(sentence) if not re.fullmatch(r"\d{4}", m.group(0).strip())]
    values = [m for m in values if re.search(r"[\d一二三]", m.group(0))]
    if not values:
        return None
    centre = sum(anchors) / len(anchors) if anchors else 0
    best = min(values, key=lambda m: (abs(m.start() - centre), m.start()))
    return best.start(), best.end()


def _best_sentence(chunk: Chunk, tokens, idf, wants_value) -> tuple[float, Evidence]:
    best = None
    for span in _sentence_spans(chunk):
        sentence = chunk.text[span.start : span.end]
        score = _score_sentence(sentence, tokens, idf, wants_value)
        if best is None or score > best[0]:
            value = _key_value(sentence, tokens) if wants_value else None
            file_span = Span(chunk.start + span.start, chunk.start + span.end)
            best = (score, Evidence(chunk, file_span, sentence, value))
    return best


def _marked(e: Evidence) -> str:
    if e.value is None:
        return e.text
    s, t = e.value
    return f"{e.text[:s]}【{e.text[s:t]}】{e.text[t:]}"


def _idf(outcome: SearchOutcome, bm25) -> dict[str, float]:
    vocab, idf = bm25.vocabulary, bm25.idf
    return {t: float(idf[vocab[t]]) if t in vocab else 1.0 for t in outcome.analysis.tokens}


def answer(outcome: SearchOutcome, bm25, config: AnswerConfig = AnswerConfig()) -> Answer:
    analysis = outcome.analysis
    language = "en" if analysis.language == "en" else "zh"
    results: tuple[Result, ...] = outcome.results
    dense_best = max((r.explanation.dense_score or -math.inf for r in results[:5]), default=-math.inf)
    if not results or dense_best < config.min_dense_score:
        return Answer(outcome.query, NOT_FOUND[language], False, (), outcome)

    tokens = {t for t in analysis.tokens if len(t) > 1 or t.isdigit()}
    idf = _idf(outcome, bm25)
    wants_value = bool(_ASKS_QUANTITY.search(analysis.simplified))

    if analysis.across_cities:
        per_city: dict[str, Result] = {}
        for r in results:
            if r.chunk.city and r.chunk.city not in per_city and r.explanation.dense_score is not None \
                    and r.explanation.dense_score >= config.min_dense_score:
                per_city[r.chunk.city] = r
        chosen = list(per_city.values())[: config.max_lines]
    else:
        chosen = []
    if len(chosen) < 2:  # one city asked about, or only one found: the best sentence overall
        scored = [_best_sentence(r.chunk, tokens, idf, wants_value) for r in results[:3]]
        prior = [s * (1.0 / (1 + 0.15 * i)) for i, (s, _) in enumerate(scored)]
        best = max(range(len(scored)), key=lambda i: (prior[i], -i))
        evidence = (scored[best][1],)
        return Answer(outcome.query, f"{_marked(evidence[0])} [1]", True, evidence, outcome)

    evidence, lines = [], []
    for i, r in enumerate(chosen, start=1):
        _, e = _best_sentence(r.chunk, tokens, idf, wants_value)
        evidence.append(e)
        lines.append(f"{r.chunk.city}：{_marked(e)} [{i}]")
    return Answer(outcome.query, "\n".join(lines), True, tuple(evidence), outcome)
