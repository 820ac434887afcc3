"""Extractive answers: the sentence of the best passages that answers the question, its
key value marked, one line per city for questions across cities, and an honest
"not found" when the evidence is too weak (threshold calibrated on the eval set)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from retrieval.documents.chunking import split_sentences
from retrieval.models import Chunk, Result, Span
from retrieval.text.normalize import normalize
from retrieval.search.searcher import SearchOutcome

NOT_FOUND = {"zh": "报告中未找到相关内容。", "en": "Not found in the reports."}
_ASKS_QUANTITY = re.compile(
    r"多少|几|比例|比率|占比|百分|排名|第几|浓度|金额|目标|最高|最低|最多|最少|最好|最大"
    r"|how (?:many|much)|percent|rate|ratio|proportion|rank|share|highest|lowest|most|best"
    r"|level|concentration|target|amount|%", re.I)
_QUESTION_WORD = re.compile(r"多少|几|什么|哪|如何|怎么|最高|最低|最多|最少|how many|how much|what|which|where|highest|lowest", re.I)
_VALUE = re.compile(
    r"(?<![A-Za-z\d.])(?:"
    r"全省第[一二三]|全国第[一二三]|全省前列|全国前列|第\s*\d+\s*(?:位|名)?"
    r"|\d+(?:\.\d+)?\s*(?:%|％|亿元|万元|亿|万吨|吨|个百分点|μg/m3|微克/立方米|㎡/km|万度|个|件|家|人|次|项|条|起|台|天|批次)?"
    r")"
)

# BM25 idf of the terms the collection holds (SearchView.idf).
IdfLookup = Callable[[Sequence[str]], dict[str, float]]
# Sentence similarity to the question: (question, [(chunk, span in the chunk, text)]) -> cosines.
Similarity = Callable[[str, list[tuple[Chunk, Span, str]]], np.ndarray]


@dataclass(frozen=True)
class AnswerConfig:
    # Per question language: below this cosine between the question and its best passage
    # nothing relevant was found. None: the encoder's own calibrated values, if it has any.
    min_dense_score: dict | None = None
    max_lines: int = 5
    sentence_candidates: int = 3  # passages whose sentences compete for a single answer
    runner_up_margin: float = 0.05  # a close second from another passage is quoted too


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
    # across cities: each city's next best sentences of its best passages, for a caller that
    # tests each (which cities did X) rather than take the first
    runners_up: tuple[Evidence, ...] = ()


def best_dense_score(outcome: SearchOutcome, top: int = 5) -> float:
    return max((r.explanation.dense_score for r in outcome.results[:top]
                if r.explanation.dense_score is not None), default=-math.inf)


def question_words_found(outcome: SearchOutcome, top: int = 3) -> bool | None:
    """Whether any content word of a Chinese question occurs in its best passages; None
    when that says nothing (English questions, or no content words besides city and year)."""
    analysis = outcome.analysis
    if analysis.language == "en":
        return None
    words = {t for t in analysis.tokens if len(t) > 1 and not t.isascii() and t not in analysis.cities}
    if not words:
        return None
    text = normalize(" ".join(r.chunk.context() for r in outcome.results[:top])).text
    return any(w in text for w in words)


def not_found_reason(outcome: SearchOutcome, known_cities: set[str], thresholds: dict | None) -> str | None:
    analysis = outcome.analysis
    if not outcome.results:
        return "no passage matched"
    if analysis.cities and not set(analysis.cities) & known_cities:
        return "the collection has no report for " + "、".join(analysis.cities)
    if question_words_found(outcome) is False:
        return "none of the question's words occur in the best passages"
    threshold = (thresholds or {}).get(analysis.language)
    if threshold is not None and best_dense_score(outcome) < threshold:
        return f"the best passage's similarity is below {threshold}"
    return None


def word_weights(words: Sequence[str], idf_of: IdfLookup) -> dict[str, float]:
    """The question's words by idf, each once: jieba's search mode also yields a word's parts
    (挥发性有机物: 挥发, 有机物, …), which count only when the whole is no word of the reports
    (银行贷款: 贷款)."""
    idf = idf_of(words)
    return {t: w for t, w in idf.items() if not any(t != u and t in u for u in idf)}


def _lexical(sentence: str, idf: dict[str, float]) -> float:
    """Share of the question's (idf-weighted) words that the sentence holds."""
    total = sum(idf.values())
    if not total:
        return 0.0
    norm = normalize(sentence).text
    return sum(w for t, w in idf.items() if t in norm) / total


def focus_words(question: str, tokens: set[str]) -> set[str]:
    """The words right next to the question word: in 完成了多少投资, 完成 and 投资."""
    near = set()
    for m in _QUESTION_WORD.finditer(question):
        window = question[max(0, m.start() - 4) : m.end() + 4].lower()
        near |= {t for t in tokens if t in window and len(t) > 1}
    return near


def _key_value(sentence: str, tokens: set[str], focus: set[str], question: str) -> tuple[int, int] | None:
    """The value the question asks for: one it names itself (which city reached 100%),
    else the value nearest to where its focus words occur in the sentence."""
    values = [m for m in _VALUE.finditer(sentence)
              if re.search(r"[\d一二三]", m.group(0)) and not re.fullmatch(r"(?:19|20)\d\d", m.group(0).strip())]
    if not values:
        return None
    named = [m for m in values if re.search(r"\d", m.group(0)) and m.group(0).strip() in question]
    if named:
        return named[0].start(), named[0].end()
    norm = normalize(sentence)
    # Chinese states the thing, then its value: 行政处罚案件797件. Ends of the focus words
    # are anchors, and a value is judged by its distance after the nearest one.
    anchors = [norm.source_span(m.start(), m.end())[1]
               for t in (focus or tokens) if len(t) > 1 for m in re.finditer(re.escape(t), norm.text)]

    def distance(m) -> float:
        after = [m.start() - a for a in anchors if a <= m.start()]
        return min(after) if after else len(sentence) + min((a - m.end() for a in anchors), default=0)

    best = min(values, key=lambda m: (distance(m), m.start()))
    return best.start(), best.end()


def _candidates(results: list[Result]) -> list[tuple[int, Chunk, Span, str]]:
    out = []
    for i, r in enumerate(results):
        heading = _bare(r.chunk.heading_path[-1]) if r.chunk.heading_path else None
        for span in split_sentences(r.chunk.text, Span(0, len(r.chunk.text))):
            text = r.chunk.text[span.start : span.end]
            # not a bare heading number or fragment, nor the passage's own heading: it names the
            # topic (五是提振精神凝队伍), the sentences under it say what was done
            if re.search(r"[\w\u4e00-\u9fff]{6}", text) and _bare(text) != heading:
                out.append((i, r.chunk, span, text))
    return out


def _bare(text: str) -> str:
    return re.sub(r"[\s。.;；:：]+$", "", text.strip())


def _ranked_evidence(question: str, results: list[Result], idf: dict[str, float], focus: set[str],
                     wants_value: bool, similarity: Similarity | None) -> list[tuple[float, Evidence]]:
    """Candidate sentences of the passages, best first, scored by similarity to the question,
    the question's words they hold, and the rank of their passage."""
    candidates = _candidates(results)
    if not candidates:
        r = results[0]
        return [(0.0, Evidence(r.chunk, Span(r.chunk.start, r.chunk.end), r.chunk.text, None))]
    semantic = similarity(question, [c[1:] for c in candidates]) if similarity else np.zeros(len(candidates))
    scored = []
    for (i, chunk, span, text), sim in zip(candidates, semantic):
        score = float(sim) + 0.5 * _lexical(text, idf) - 0.02 * i
        if wants_value and _VALUE.search(text) and re.search(r"\d|第[一二三]|前列", text):
            score += 0.05
        value = _key_value(text, set(idf), focus, question) if wants_value else None
        scored.append((score, -i, -span.start, Evidence(chunk, Span(chunk.start + span.start, chunk.start + span.end), text, value)))
    scored.sort(key=lambda s: s[:3], reverse=True)
    return [(score, e) for score, _, _, e in scored]


def _marked(e: Evidence) -> str:
    if e.value is None:
        return e.text
    s, t = e.value
    return f"{e.text[:s]}【{e.text[s:t]}】{e.text[t:]}"


def answer(outcome: SearchOutcome, idf_of: IdfLookup, known_cities: set[str], config: AnswerConfig = AnswerConfig(),
           thresholds: dict | None = None, similarity: Similarity | None = None) -> Answer:
    analysis = outcome.analysis
    if not_found_reason(outcome, known_cities, thresholds):
        return Answer(outcome.query, NOT_FOUND["en" if analysis.language == "en" else "zh"], False, (), outcome)
    results = list(outcome.results)
    threshold = (thresholds or {}).get(analysis.language)

    idf = word_weights([t for t in dict.fromkeys(analysis.tokens) if (len(t) > 1 or t.isdigit()) and t not in analysis.cities],
                       idf_of)
    for t in focus_words(analysis.simplified, set(idf)):
        idf[t] *= 2  # what the question asks about weighs more than its setting
    wants_value = bool(_ASKS_QUANTITY.search(analysis.simplified))
    question = analysis.dense_text
    focus = focus_words(question, set(idf))  # glossary terms of an English question count too

    per_city: dict[str, list[Result]] = {}
    if analysis.across_cities:
        for r in results:
            # a passage that only BM25 brought (no passage cosine: outside the dense candidates) is
            # judged by its words, as the typed answers do; the threshold is for what the encoder saw
            dense = r.explanation.dense_score
            if r.chunk.city and (threshold is None or dense is None or dense >= threshold):
                per_city.setdefault(r.chunk.city, []).append(r)
    if len(per_city) < 2:
        ranked = _ranked_evidence(question, results[: config.sentence_candidates], idf, focus, wants_value, similarity)
        (best_score, best), chosen = ranked[0], [ranked[0][1]]
        runner_up = next(((s, e) for s, e in ranked[1:] if e.chunk.chunk_id != best.chunk.chunk_id), None)
        if runner_up and runner_up[0] >= best_score - config.runner_up_margin:
            chosen.append(runner_up[1])
        lines = [f"{_marked(e)} [{i}]" for i, e in enumerate(chosen, start=1)]
        return Answer(outcome.query, "\n".join(lines), True, tuple(chosen), outcome)

    best = {city: _ranked_evidence(question, hits[:1], idf, focus, wants_value, similarity)[0][1]
            for city, hits in per_city.items()}
    # "Which city achieved 100%…": only the cities whose evidence states the value asked about.
    named = _named_values(analysis.simplified)
    stating = {city: e for city, e in best.items() if any(v in e.text for v in named)}
    chosen = list((stating or best).items())[: config.max_lines]
    lines = [f"{city}：{_marked(e)} [{i}]" for i, (city, e) in enumerate(chosen, start=1)]
    runners_up = tuple(e for city, _ in chosen
                       for _, e in _ranked_evidence(question, per_city[city][:3], idf, focus, wants_value, similarity)[:3]
                       if e.span != best[city].span)
    return Answer(outcome.query, "\n".join(lines), True, tuple(e for _, e in chosen), outcome, runners_up)


def _named_values(question: str) -> list[str]:
    return [m.group(0) for m in re.finditer(r"\d+(?:\.\d+)?\s*%", question)]
