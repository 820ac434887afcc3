"""Typed answers from stored facts: one value, the cities that achieved something, a table
across cities with a citation in every cell, a passage for descriptive questions, and an
honest "not found" with its reason. The library returns data; the service words it."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Callable, Sequence

import numpy as np

from retrieval.answers.extractive import Answer, Evidence
from retrieval.answers.intent import AGAINST_LAST_YEAR, Intent, contradicts, direction_of, read_intent, unit_fits
from retrieval.backends.base import Filters, SearchView
from retrieval.facts.extraction import SCOPE, tells_results
from retrieval.facts.model import Fact
from retrieval.facts.numbers import canonical_unit, mentions
from retrieval.facts.vocabulary import Indicator, Vocabulary
from retrieval.models import Chunk, Document
from retrieval.search.searcher import SearchOutcome
from retrieval.text.normalize import normalize_text

# The facts' sentences and names, in normal form once: every question reads hundreds of them.
_normal = lru_cache(maxsize=32768)(normalize_text)

NOT_FOUND_REASONS = ("no_city", "other_years", "no_indicator", "off_topic")
# Words of asking, comparing and planning, which say what kind of answer is wanted, not what about.
_QUESTION_NOISE = re.compile(
    r"多少|是多少|几|哪些|哪个|什么|如何|怎么|怎样|情况|数据|年|的|了|吗|呢|是|有|为|在|达到|实现|完成|报告|工作|已经|已|相关|方面|提到|提及|取得|成果|成效"
    r"|降到|降至|提高到|提升到|升到|要|计划|目标|预计|打算|安排|具体|针对|多大|一共|总共|共|各市|各地|各城市|对比|比较|列个|一下|分别|数量"
    rf"|{AGAINST_LAST_YEAR}|增长|下降|提高|降低|增加|减少|上升|改善|城市|哪些|哪几个")

_BUREAU_NAME = r"(?:生态)?环境(?:保护)?局"  # the report's author: see _domain_phrases
_BUREAU = re.compile(rf"{_BUREAU_NAME}$")
_CHINESE_TERM = re.compile(r"[\u4e00-\u9fff]{2,}")
_MEASURING = frozenset({"率", "比例", "比率", "占比", "数量", "总量", "水平", "目标", "指数", "金额", "数", "量", "情况", "同比"})
_MEASURING_WORD = re.compile("|".join(sorted(_MEASURING, key=len, reverse=True)))
# something that did not happen, asked and said: an event's negation, not 无 of 无废城市 or
# 无人机, 零 of 零容忍, 未 of 未来, zero of zero-waste
_ASKS_ABSENCE = re.compile(r"(?:未|没有?|零|不|无)(?:发生|出现)|杜绝|\bwithout\b|\bnever\b|\bno\b(?!-)", re.I)
_SAYS_ABSENCE = re.compile(r"(?:未|没有|零|不|无)[“”\"]?(?:发生|出现)|杜绝|无.{0,6}(?:事件|事故)")
_NATIONAL = (re.compile(r"全国|nationwide|\bnational[- ]level|at (?:the )?national level", re.I), re.compile(r"全国|国家级"))
_PROVINCIAL = (re.compile(r"全省|省级|province-wide|\bprovincial[- ]level|at (?:the )?provincial level", re.I), re.compile(r"全省|省级"))
_FIRST = r"第一(?!批|次|个|家|轮)|首位|榜首"  # first place, not the first batch or the first one
_FIRST_PLACE = (re.compile(_FIRST + r"|\branks? first\b|\branked first\b|\bnumber one\b|\btop spot\b", re.I), re.compile(_FIRST))


def _what_a_sentence_must_say(question: str) -> tuple[re.Pattern, ...]:
    """What a which-city question requires in so many words: a question about something that
    did not happen (未发生突发环境事件) needs a sentence that says so, not one about handling
    it; one about a national honour, a sentence that says 全国 (a provincial contest is another);
    one about first place, a sentence that says 第一 (排名前移了2位 is a climb, not the top)."""
    asked = [(_ASKS_ABSENCE, _SAYS_ABSENCE), _NATIONAL, _PROVINCIAL, _FIRST_PLACE]
    return tuple(says for asks, says in asked if asks.search(question))


_EVERY_CITY = re.compile(r"各市|各城市|各地|各个城市|每个城市|五个城市|五市|所有城市|各报告|五份报告|所有报告"
                         r"|\bacross (?:the |all |these )?(?:five )?(?:cities|reports)|\beach (?:city|report|of the (?:cities|reports))"
                         r"|\bevery (?:city|report)|\ball (?:the )?(?:five )?(?:cities|reports)|\b(?:the |these )five (?:cities|reports)", re.I)


def _names_every_city(analysis) -> bool:
    """Whether the question says every city in so many words; 各地 right after a city name
    (嘉兴各地) means that city's own districts."""
    text = analysis.simplified
    return any(not any(text[: m.start()].rstrip("市").endswith(c) for c in analysis.cities)
               for m in _EVERY_CITY.finditer(text))


@dataclass(frozen=True)
class NotFound:
    reason: str  # one of NOT_FOUND_REASONS
    cities: tuple[str, ...] = ()  # the cities asked about
    known_cities: tuple[str, ...] = ()
    covered_years: tuple[int, ...] = ()  # what the city's reports cover (other_years)
    asked_years: tuple[int, ...] = ()
    indicator: str = ""  # how the question named it (no_indicator)
    related: tuple[Fact, ...] = ()  # what the reports do state of it (a rank where a level was asked)
    indicator_en: str = ""  # its English name, when the vocabulary has one


@dataclass(frozen=True)
class TableRow:
    city: str
    fact: Fact | None  # None: the city's reports hold no such figure


@dataclass(frozen=True)
class TypedAnswer:
    question: str
    language: str  # en, zh or zh-hant: the service answers in the question's language
    kind: str  # value, cities, table, passage or not_found
    facts: tuple[Fact, ...]  # the rows behind the answer, cited; the first is the value asked for
    rows: tuple[TableRow, ...]  # table: one per city (and year and kind)
    cities: tuple[str, ...]  # cities: those whose reports state the achievement
    targets: tuple[Fact, ...]  # cities: the same condition only planned, named apart
    indicator: Indicator | None
    not_found: NotFound | None
    evidence: tuple[Evidence, ...]
    passage: Answer | None  # passage: the quoted sentences
    outcome: SearchOutcome
    ranking: str | None = None  # cities: max or min when the question asked which is highest or lowest
    missing: tuple[str, ...] = ()  # cities asked about that the collection has no report for


PassageAnswerer = Callable[[], Answer]
# Cosine of each fact's sentence to the question (from vectors stored at index time).
Relevance = Callable[[list[Fact]], np.ndarray]


def typed_answer(outcome: SearchOutcome, view: SearchView, vocabulary: Vocabulary, passage: PassageAnswerer,
                 filters: Filters = Filters(), relevance: Relevance | None = None) -> TypedAnswer:
    analysis = outcome.analysis
    intent = read_intent(analysis, vocabulary)
    documents = view.documents()
    coverage = _coverage(documents)
    known = tuple(sorted(coverage))

    def done(kind: str, **parts) -> TypedAnswer:
        values = dict(facts=(), rows=(), cities=(), targets=(), indicator=intent.indicators[0] if intent.indicators else None,
                      not_found=None, evidence=(), passage=None)
        values.update(parts)
        if kind != "not_found":
            values.setdefault("missing", unknown)
        if not values["evidence"]:
            values["evidence"] = _evidence(view, documents, list(values["facts"]) + list(values["targets"]))
        return TypedAnswer(outcome.query, analysis.language, kind, outcome=outcome, **values)

    def refused(reason: str, **detail) -> TypedAnswer:
        english = intent.indicators[0].name_en if intent.indicators and reason == "no_indicator" else ""
        return done("not_found", not_found=NotFound(reason, known_cities=known, indicator_en=english, **detail))

    cities = tuple(c for c in intent.cities if c in coverage) or filters.cities
    unknown = tuple(c for c in intent.cities if c not in coverage)  # said beside the answer for the others
    if filters.cities and not set(cities) <= set(filters.cities):
        return refused("no_city", cities=tuple(c for c in cities if c not in filters.cities))  # outside the filter
    # every city: none named, or all of them said in so many words (a city named beside 各市 qualifies a cell)
    across = intent.kind in ("cities", "table") and not filters.cities \
        and (not intent.cities or _names_every_city(analysis))
    scope = () if across else cities  # the cities the answer is about; () for every one
    outside = _outside_the_collection(intent, scope, () if across else unknown, coverage, view)
    if outside:
        return refused(**outside)
    years = intent.years or filters.years
    facts = view.facts(Filters(cities=scope, years=years, doc_ids=filters.doc_ids))
    core = _core(analysis)  # what the question is about, for every fit measured below
    # and how much each of its units tells: a common word (项目, 环境) is not half of what it asks
    weights = _specificity(core, facts, analysis.tokens)
    matching, named = _matching(facts, intent, analysis.tokens, analysis.cities, core, weights)
    # a unit asked that no indicator named is stated in (PM10 is in μg/m3; a case's 个 is no 人);
    # telling, when it names the figure (how many people, how long) rather than a share
    unstated_unit = intent.unit not in (None, "count") and not any(
        unit_fits(intent.unit, u) for i in intent.indicators for u in i.units if u != "个")
    telling_unit = unstated_unit and intent.unit != "%"
    if intent.kind == "value" and intent.language == "en" and scope and not intent.indicators:
        # named in words the vocabulary lacks, the figure may be any indicator's whose sentence fits
        matching += [f for f in _glossary_sentences(facts, intent, core) if f not in matching]
    elif not matching and intent.kind == "value" and intent.language == "en" and scope \
            and (all(i.generic for i in intent.indicators) or telling_unit):
        # a named indicator the city lacks is no_indicator, unless the unit asked (how many people)
        # says the figure is another than the one named (criminal cases)
        matching = _glossary_sentences(facts, intent, core)
    elif not matching and intent.kind == "value" and intent.language != "en" and scope and intent.indicators \
            and unstated_unit:
        # likewise in Chinese (帮企业省了多少审批时间: working days, not 企业): matched by its words,
        # or stated beside the indicator named (查办环境违法案件1436件、罚款1.33亿元: 罚了多少钱;
        # 477个建设项目实施告知承诺制审批,占比77.31%: 建设项目占比多少)
        matching, _ = _matching(facts, replace(intent, indicators=()), analysis.tokens, analysis.cities, core, weights)
        matching = matching or _beside_the_named(facts, intent)
    # which cities did X: no figure to test (unless it asks which is highest or lowest)
    by_sentences = intent.kind == "cities" and intent.condition is None and not intent.superlative \
        and intent.measure != "change"
    from_facts = [f for f in matching if f.kind == "achieved" and _share(core, f.indicator_text + f.value, weights) >= 0.5] \
        if by_sentences else []
    if analysis.language == "en" and not matching and not _says_domain_terms(analysis):
        return refused("off_topic")  # English with none of the domain's terms, even asking how of a city (zongzi)
    if intent.kind == "value" and intent.unit and intent.unit != "count" and not matching and scope:
        return refused("no_indicator", cities=scope, indicator=named)  # 多少辆: no figure counted so
    if intent.kind == "passage" or by_sentences or (not matching and not intent.indicators):
        answer = passage()
        if answer.found and not (_covers_question(answer, analysis, core) and _states_unit_asked(answer, intent)):
            answer = None
        if intent.kind == "cities" and (answer or from_facts):
            return _cities_from_sentences(answer, from_facts, documents, done, refused, scope, named, core, weights, view,
                                          _what_a_sentence_must_say(analysis.simplified))
        if answer and answer.found:
            return done("passage", passage=answer, evidence=answer.evidence)
        return refused(_weak_reason(intent, scope), cities=scope, indicator=named)
    if not matching:
        # What the reports do state of it, in any year (a 2023 figure when 2024 was asked)
        stated = view.facts(Filters(cities=scope)) if intent.years else facts
        related = tuple(f for f in stated if intent.indicators and f.indicator == intent.indicators[0].indicator_id)[:3]
        return refused("no_indicator", cities=scope, indicator=named, related=related, asked_years=intent.years)

    fits = _relevance(matching, intent, core, relevance, weights)
    preference = lambda f: _preference(f, intent, fits)  # noqa: E731
    if intent.kind in ("cities", "table"):
        matching = _one_indicator(matching, fits, preference)
        if any(i.generic for i in intent.indicators if i.indicator_id == matching[0].indicator):
            matching = _about_the_same(matching, fits)
    if intent.kind == "cities":
        return _cities_answer(intent, matching, done, refused, scope, named, preference)
    by_city = _group(matching, lambda f: f.city or "")
    if intent.kind == "table" or (not scope and len(by_city) > 1):
        rows = _table_rows(intent, matching, scope or known, preference)
        if not any(r.fact for r in rows):
            return refused("no_indicator", cities=scope, indicator=named)
        return done("table", rows=tuple(rows), facts=tuple(r.fact for r in rows if r.fact))
    ranked = sorted(matching, key=preference, reverse=True)
    best = ranked[0]
    others = [f for f in ranked[1:4] if f.value_span != best.value_span and _same_thing(f, best)]
    return done("value", facts=(best, *others))


def _outside_the_collection(intent: Intent, cities: tuple[str, ...], unknown: tuple[str, ...],
                            coverage: dict[str, set[int]], view: SearchView) -> dict | None:
    """Why a question lies outside what the collection covers: a city with no report, or
    years its reports do not speak of (a plan's 到2025年 covers 2025); None when inside."""
    if unknown and not cities:
        return {"reason": "no_city", "cities": unknown}
    if not intent.years:
        return None
    asked = cities or tuple(sorted(coverage))
    outside = [c for c in asked if not set(intent.years) & coverage[c]
               and not view.facts(Filters(cities=(c,), years=intent.years))]
    if len(outside) < len(asked):
        return None
    city = outside[0] if cities else ""
    covered = coverage[city] if city else set().union(*coverage.values())
    return {"reason": "other_years", "cities": (city,) if city else (), "asked_years": intent.years,
            "covered_years": tuple(sorted(covered))}


def _coverage(documents: dict[str, Document]) -> dict[str, set[int]]:
    """The years each city's reports cover: their summary and plan years."""
    out: dict[str, set[int]] = {}
    for doc in documents.values():
        if doc.city:
            out.setdefault(doc.city, set()).update(doc.years)
    return out


def _content_words(tokens: Sequence[str], cities: Sequence[str]) -> list[str]:
    words = []
    for t in dict.fromkeys(tokens):
        t = _QUESTION_NOISE.sub("", t)
        if len(t) >= 2 and not t.isdigit() and t not in cities and not t.isascii():
            words.append(t)
    return words


def _matching(facts: list[Fact], intent: Intent, tokens: Sequence[str], cities: Sequence[str],
              question_core: list[tuple[str, ...]], weights: Sequence[float] = ()) -> tuple[list[Fact], str]:
    """Candidate facts: those of the indicators the question names (vocabulary ids) and
    those whose indicator text holds the question's own words, in the unit asked for and
    not about other water classes; and the name to quote when there are none."""
    facts = [f for f in facts if unit_fits(intent.unit, f.unit) and not contradicts(intent, f.indicator_text)]
    ids = {i.indicator_id for i in intent.indicators}
    found = {id(f): f for f in facts if f.indicator in ids}
    # By the question's words: facts outside the vocabulary, or of an indicator it names
    # (never one it does not: a PM2.5 figure is no answer about PM10), whose indicator text
    # holds most of what the question is about, or whose sentence does while the indicator
    # text shares some of it (销号率 in a sentence about 中央环保督察反馈问题).
    core = question_core
    loose = not ids and intent.language != "en"  # the sentence may vouch only when nothing else names it
    for f in facts:
        if not core or (ids and f.indicator is not None and f.indicator not in ids):
            continue
        if ids and f.indicator is None and intent.language == "en":
            continue  # glossary terms alone are too few to vouch beside a named indicator
        own = _share(core, f.indicator_text, weights)
        if own >= 0.5 or loose and own > 0 and _share(core, f.text, weights) >= 0.5:
            found[id(f)] = f
    words = _content_words(tokens, cities)
    named = intent.indicators[0].name_zh if intent.indicators else max(words, key=len, default="")
    return _measured([f for f in facts if id(f) in found], intent), named


def _beside_the_named(facts: list[Fact], intent: Intent) -> list[Fact]:
    """The figures in the unit asked of the sentences that state an indicator the question
    names but that is counted in another unit."""
    ids = {i.indicator_id for i in intent.indicators}
    sentences = {(f.doc_id, f.sentence) for f in facts if f.indicator in ids}
    return _measured([f for f in facts if (f.doc_id, f.sentence) in sentences and f.indicator not in ids
                      and unit_fits(intent.unit, f.unit) and not contradicts(intent, f.indicator_text)], intent)


def _glossary_sentences(facts: list[Fact], intent: Intent, core: list[tuple[str, ...]]) -> list[Fact]:
    """For an English question about one city's figure that the vocabulary does not name, or
    names only broadly (penalty relief, emission rights, projects): the figures, in the unit
    and measure asked, whose sentence holds at least half the question's glossary terms; the
    sentences' nearness in meaning then ranks them. Chinese questions need no such step: their
    own words already vouch through the sentence (`_matching`)."""
    # Any indicator's figure may answer: the question names it in words the vocabulary lacks
    # ("provincially monitored sections" for 省控断面), which is why this step exists.
    fitting = [f for f in facts if unit_fits(intent.unit, f.unit) and not contradicts(intent, f.indicator_text)]
    return _measured([f for f in fitting if _share(core, f.text) >= 0.5], intent)


def _core(analysis) -> list[tuple[str, ...]]:
    """What a question is about, as units each matched by any of its alternatives: the
    character pairs of a Chinese question without city, year, bureau and the words of asking,
    comparing and planning (robust to how jieba cuts either side: 占比要 as 占/比要); for an
    English question, each glossary phrase's Chinese terms, and any Chinese term it quotes.
    A word of a synonym group is one unit that any word of its group matches (危险废物 is
    found in 危废填埋占比)."""
    groups = analysis.synonym_groups
    if analysis.language == "en":
        quoted = [(term, *sorted(_bigrams(term))) for term in _quoted_terms(analysis)]  # (告知承诺制)
        return [unit + tuple(w for g in groups if set(g) & set(unit) for w in g if w not in unit)
                for unit in _domain_phrases(analysis)] + quoted
    text = analysis.simplified
    for city in analysis.cities:
        text = text.replace(city, " ")
    text = normalize_text(re.sub(rf"(?:19|20)\d\d\s*年?|市?{_BUREAU_NAME}", " ", text))
    synonyms = []
    for group in groups:
        words = sorted((w for w in group if not w.isascii() and w in text), key=len, reverse=True)
        if words:
            synonyms.append(group)
            for word in words:
                text = text.replace(word, " ")
    text, either = _alternatives(text, analysis.tokens)
    text = _QUESTION_NOISE.sub(" ", text)
    return [(pair,) for pair in sorted(_bigrams(text))] + synonyms + either


def _alternatives(text: str, tokens: Sequence[str]) -> tuple[str, list[tuple[str, ...]]]:
    """The words either side of a 或 (已建成或创成: 建成 or 创成) as one unit that either
    matches, taken out of the text so neither is required on its own."""
    words = sorted({normalize_text(t) for t in tokens if len(t) >= 2}, key=len, reverse=True)
    units = []
    for m in reversed(list(re.finditer(r"或者?", text))):
        left = next((w for w in words if text.endswith(w, 0, m.start())), None)
        right = next((w for w in words if text.startswith(w, m.end())), None)
        if left and right:
            units.append((left, right))
            text = text[: m.start() - len(left)] + " " * (len(left) + len(m.group()) + len(right)) + text[m.end() + len(right):]
    return text, units


def _domain_phrases(analysis) -> list[tuple[str, ...]]:
    """The Chinese terms of each glossary phrase an English question names, less a city (Jiaxing
    names a place, not a figure), the bureau (every report is its own account, and its sentences
    seldom name it) and the words of measuring alone ("rate": 率 比例, which any figure has)."""
    return [tuple(g.split()) for g in analysis.glossary
            if g.split() and not set(g.split()) & set(analysis.cities) and set(g.split()) - _MEASURING
            and not all(_BUREAU.search(t) for t in g.split())]


def _says_domain_terms(analysis) -> bool:
    """Whether an English question names anything of the domain (an exchange rate is no 率 of
    these reports): a domain phrase, or a Chinese term it quotes."""
    return bool(_domain_phrases(analysis)) or bool(_quoted_terms(analysis))


def _quoted_terms(analysis) -> list[str]:
    """The Chinese terms an English question quotes, city names taken out (温州市 is no term)."""
    text = analysis.simplified
    for city in analysis.cities:
        text = re.sub(re.escape(city) + "市?", " ", text)
    return _CHINESE_TERM.findall(text)


def _bigrams(text: str) -> set[str]:
    runs = _CHINESE_TERM.findall(text)  # a single character has no pair
    return {run[i : i + 2] for run in runs for i in range(len(run) - 1)}


def _share(core: list[tuple[str, ...]], text: str, weights: Sequence[float] = ()) -> float:
    """The share of the question's units the text holds, each unit counted once or by its weight."""
    if not core:
        return 0.0
    text = _normal(text)
    weights = weights or [1.0] * len(core)
    total = sum(weights)
    if not total:
        return 0.0  # every unit weighs nothing: pairs across words that no sentence holds
    return sum(w for unit, w in zip(core, weights) if any(a in text for a in unit)) / total


def _specificity(core: list[tuple[str, ...]], facts: Sequence[Fact], tokens: Sequence[str] = ()) -> tuple[float, ...]:
    """Each unit's idf over the distinct sentences of the facts in scope: 项目 is in hundreds
    of them, 挥发性有机物 in a few. A unit none of them holds (产业集群 where the reports say
    工业集聚区) tells nothing of how specific it is, and weighs as the others do on average;
    unless it is a pair across two of the question's words (件零 of 事件零发生), which is no
    word at all and weighs nothing."""
    sentences = [_normal(t) for t in dict.fromkeys(f.text for f in facts)]
    held = [sum(any(a in t for a in unit) for t in sentences) for unit in core]
    idf = [math.log(1 + len(sentences) / (1 + n)) for n in held]
    seen = [w for w, n in zip(idf, held) if n]
    average = sum(seen) / len(seen) if seen else 1.0
    words = [normalize_text(t) for t in tokens]
    def unseen(unit) -> float:  # a Chinese question's character pair, not a glossary term (电镀园区)
        across = words and len(unit) == 1 and len(unit[0]) == 2 and not any(unit[0] in w for w in words)
        return 0.0 if across else average
    return tuple(w if n else unseen(unit) for w, n, unit in zip(idf, held, core))


def _measured(facts: list[Fact], intent: Intent) -> list[Fact]:
    """The figures of the measure asked for: a level unless a change or rank is asked (a
    rank is no answer to "how much", nor a level to "by how much")."""
    return [f for f in facts if f.measure == intent.measure or (intent.measure == "rank" and f.rank)]


@dataclass(frozen=True)
class _Fit:
    words: float  # share of the question's character pairs in the fact's indicator text
    score: float  # that plus its sentence's cosine to the question
    context: float = 0.0  # share of them in the fact's sentence


def _relevance(facts: list[Fact], intent: Intent, core: list[tuple[str, ...]],
               relevance: Relevance | None, weights: Sequence[float] = ()) -> dict[int, _Fit]:
    """How well each fact fits the question, by id(fact): the share of the question's
    character pairs in its indicator text, and at half weight in its sentence read under its
    heading, each pair weighed by how few sentences in scope hold it (`_specificity`); its
    sentence's cosine to the question; and a point for the indicator the question names
    first (a quarter for another it names), so the figure asked for outranks its neighbours."""
    cosines = relevance(facts) if relevance and facts else np.zeros(len(facts))
    first = intent.indicators[0].indicator_id if intent.indicators else None
    named = {i.indicator_id for i in intent.indicators}
    names = {i.indicator_id: sorted({_normal(z) for z in i.zh}, key=len, reverse=True) for i in intent.indicators}
    out = {}
    for f, cosine in zip(facts, cosines):
        words = _share(core, f.indicator_text + f.value, weights) if core else 0.0
        # the sentence read under its own heading: 罚款791.5万元 under 二是顺利完成省级生态环保督察
        context = _share(core, (f.heading_path[-1] if f.heading_path else "") + f.text, weights) if core else 0.0
        bonus = 2.0 if f.indicator == first and first else 0.25 if f.indicator in named else 0.0
        # a qualifier the question does not ask (重复投诉 to 投诉) counts against, as half its words would
        plain = _plain(f, names.get(f.indicator, ()), core)
        score = words + 0.5 * context + float(cosine) + bonus - (0 if plain else 0.5)
        # rounded to hundredths: scores that close (a cosine's last digits) tell two sentences
        # apart no better than chance, and a tie goes to the figure the report states first
        out[id(f)] = _Fit(words, round(score, 2), context)
    return out


def _plain(f: Fact, names: Sequence[str], core: list[tuple[str, ...]]) -> bool:
    """Whether a fact's indicator text is the indicator itself, or qualified only as the question
    asks: what is left of it without its vocabulary names (`names`, longest first), scope and words of measuring (投诉总量:
    nothing; 重复投诉: 重复) holds something of the question in every word. An English
    question's core holds only the glossary's terms, so a qualifier it says in words the
    glossary lacks counts against as unasked: the glossary must know the domain's coinages (散乱污)."""
    text = _normal(f.indicator_text)
    for name in names:  # longest first
        text = text.replace(name, " ")
    text = _MEASURING_WORD.sub(" ", SCOPE.sub(" ", text))
    # a run holds a pair of the question, or lies within a term it says (重复 of 重复投诉)
    return all(any(a in run or run in a for unit in core for a in unit) for run in _CHINESE_TERM.findall(text))


def _one_indicator(facts: list[Fact], fits: dict[int, "_Fit"], preference) -> list[Fact]:
    """The facts of the best fact's indicator (every cell of a table measures one thing);
    for figures outside the vocabulary, those whose words fit about as well as its."""
    best = max(facts, key=preference)
    if best.indicator is not None:
        return [f for f in facts if f.indicator == best.indicator]
    return _about_the_same([f for f in facts if f.indicator is None], fits)


def _about_the_same(facts: list[Fact], fits: dict[int, _Fit]) -> list[Fact]:
    """The facts whose indicator text and sentence hold at least half as much of the question
    as the best one's: a city whose only figure of the kind is about something else (企业 in a
    sentence about training, not about a 正面清单) gets no cell."""
    best_words = max((fits[id(f)].words for f in facts), default=0.0)
    best_context = max((fits[id(f)].context for f in facts), default=0.0)
    return [f for f in facts if fits[id(f)].words * 2 >= best_words and fits[id(f)].context * 2 >= best_context]


def _preference(f: Fact, intent: Intent, fits: dict[int, _Fit]) -> tuple:
    surface = max((len(_normal(s)) for i in intent.indicators if i.indicator_id == f.indicator
                   for s in i.zh if _normal(s) in _normal(f.indicator_text)), default=0)
    extra = len(_normal(f.indicator_text)) - surface
    return (
        intent.wants is None or f.kind == intent.wants,
        f.kind == "achieved" if intent.wants is None else True,
        f.scope == intent.scope if intent.scope else True,
        fits[id(f)].score if id(f) in fits else 0.0,
        f.scope in ("", "全市", "市区"),
        -extra,  # 空气优良率 over 赛事期间空气优良率: the indicator itself, not a qualified one
        -(f.value_span.start),  # a report states its headline figure first
    )


def _same_thing(a: Fact, b: Fact) -> bool:
    return a.indicator == b.indicator and a.city == b.city and (a.scope != b.scope or a.kind != b.kind or a.year != b.year)


def _group(facts: list[Fact], key) -> dict:
    out: dict = {}
    for f in facts:
        out.setdefault(key(f), []).append(f)
    return out


def _table_rows(intent: Intent, facts: list[Fact], cities: Sequence[str], preference) -> list[TableRow]:
    wanted = [f for f in facts if intent.wants is None or f.kind == intent.wants]
    rows = []
    for city in cities:
        groups = _group([f for f in wanted if f.city == city], lambda f: (f.year or 0, f.kind))
        if not groups:
            rows.append(TableRow(city, None))
        for key in sorted(groups, key=lambda k: (k[0], k[1] != "achieved")):
            rows.append(TableRow(city, max(groups[key], key=preference)))
    return rows


def _cities_answer(intent: Intent, facts: list[Fact], done, refused, cities, named, preference) -> TypedAnswer:
    if intent.superlative and intent.condition is None:
        return _extreme(intent, facts, done, refused, cities, named, preference)
    condition = intent.condition
    meets = [f for f in facts if f.measure == "level"
             and (condition is None or condition.met_by(f.number, f.number_max, canonical_unit(f.unit)))]
    achieved = [f for f in meets if f.kind == "achieved" and (not cities or f.city in cities)]
    if intent.measure == "rank":  # which cities rank in the top two: their ranks, tested
        achieved = [f for f in facts if f.measure == "rank" and f.kind == "achieved" and (not cities or f.city in cities)
                    and (condition is None or condition.met_by(f.number))]
    if intent.measure == "change":  # which cities improved: a change in the direction asked
        achieved = [f for f in facts if f.measure == "change" and f.kind == "achieved" and (not cities or f.city in cities)
                    and (intent.direction is None or direction_of(f.change or f.text) == intent.direction)
                    and (condition is None or condition.met_by(f.number, f.number_max, canonical_unit(f.unit)))]
    best = {}
    for f in sorted(achieved, key=preference, reverse=True):
        best.setdefault(f.city, f)
    planned = {}
    for f in sorted((f for f in meets if f.kind == "target" and f.city not in best and (not cities or f.city in cities)),
                    key=preference, reverse=True):
        planned.setdefault(f.city, f)
    if not best:
        return refused("no_indicator", cities=cities, indicator=named)
    return done("cities", facts=tuple(best.values()), cities=tuple(best), targets=tuple(planned.values()))


def _extreme(intent: Intent, facts: list[Fact], done, refused, cities, named, preference) -> TypedAnswer:
    """Which city is highest (lowest): each city's achieved figure, compared; the answer is
    the first, and the others stay as facts so the comparison can be checked."""
    best: dict[str, Fact] = {}
    # only figures of one named indicator compare: 通过率 and 销号率 are not one "rate"
    for f in sorted((f for f in facts if f.kind == "achieved" and f.measure == "level" and f.number is not None
                     and f.indicator is not None and (not cities or f.city in cities)), key=preference, reverse=True):
        best.setdefault(f.city, f)
    if not best:
        return refused("no_indicator", cities=cities, indicator=named)
    ranked = sorted(best.values(), key=lambda f: f.number, reverse=intent.superlative == "max")
    return done("cities", facts=tuple(ranked), cities=(ranked[0].city,), ranking=intent.superlative)


def _cities_from_sentences(answer: Answer | None, facts: list[Fact], documents: dict[str, Document], done, refused,
                           cities, named, core: list[tuple[str, ...]], weights: Sequence[float], view: SearchView,
                           must_say: Sequence[re.Pattern] = ()) -> TypedAnswer:
    """Which cities did something with no figure to test: the cities of achieved facts whose
    words fit the question, and of quoted sentences (a city's best, or failing it one of the
    next best of its best passages) that hold most of what it asks and lie
    in a part of their report that tells results, not plans, and that say what the question
    requires of them (`_what_a_sentence_must_say`)."""
    first: dict[str, Evidence] = {}  # each city's first sentence that passes, its best one or a runner-up
    for e in (answer.evidence + answer.runners_up) if answer else ():
        if e.chunk.city and (not cities or e.chunk.city in cities) and tells_results(e.chunk, documents.get(e.chunk.doc_id)) \
                and _share(core, e.chunk.context(), weights) >= 0.5 and all(p.search(e.text) for p in must_say):
            first.setdefault(e.chunk.city, e)
    quoted = list(first.values())
    facts = [f for f in facts if (not cities or f.city in cities) and all(p.search(f.text) for p in must_say)]
    found = tuple(dict.fromkeys([f.city for f in facts] + [e.chunk.city for e in quoted]))
    if not found:
        return refused("no_indicator", cities=cities, indicator=named)
    evidence = _evidence(view, documents, facts) + tuple(e for e in quoted if e.chunk.city not in {f.city for f in facts})
    return done("cities", cities=found, facts=tuple(facts), evidence=evidence, passage=answer)


def _covers_question(answer: Answer, analysis, core: list[tuple[str, ...]]) -> bool:
    """Whether the passages quoted hold most of what a Chinese question asks: half its
    character pairs (空气质量 is found in 空气优良率 and 环境质量 though the word is not), or more
    than half its words, each found whole or by a pair of it (亚运会 in 护航亚运). Pairs across
    words (保障亚运会水质: 障亚, 会水) are noise a long question has many of; a question about
    something else shares a pair or a word at most. (An English question's glossary terms are
    alternatives, not all needed: the encoder's threshold judges it.)"""
    if analysis.language == "en" or not core:
        return True
    text = " ".join(e.chunk.context() for e in answer.evidence) + " " + \
        " ".join(r.chunk.context() for r in answer.outcome.results[:3])
    words = [(w, *sorted(_bigrams(w))) for w in _content_words(analysis.tokens, analysis.cities)]
    return _share(core, text) >= 0.5 or bool(words) and _share(words, text) > 0.5


def _states_unit_asked(answer: Answer, intent: Intent) -> bool:
    """A question asking for a figure in a unit (多少钱, how many tonnes) is answered by
    sentences only if one of them states a figure in it."""
    if intent.kind != "value" or intent.unit is None:
        return True
    return any(unit_fits(intent.unit, m.unit) for e in answer.evidence for m in mentions(e.text))


def _weak_reason(intent: Intent, cities: Sequence[str]) -> str:
    """Why nothing answers: a question about a covered city's figures that no report
    states names a missing indicator; anything else is off the reports' topic."""
    return "no_indicator" if cities and (intent.asks_quantity or intent.indicators) else "off_topic"


def _evidence(view: SearchView, documents: dict[str, Document], facts: Sequence[Fact]) -> tuple[Evidence, ...]:
    """Each fact's sentence, cited like a passage, once per sentence."""
    out, seen = [], set()
    for f in facts:
        if (f.doc_id, f.sentence) in seen:
            continue
        seen.add((f.doc_id, f.sentence))
        out.append(Evidence(_chunk_of(view, documents, f), f.sentence, f.text, _value_in_sentence(f)))
    return tuple(out)


def _value_in_sentence(f: Fact) -> tuple[int, int]:
    return f.value_span.start - f.sentence.start, f.value_span.end - f.sentence.start


def _chunk_of(view: SearchView, documents: dict[str, Document], f: Fact) -> Chunk:
    if f.chunk_id:
        try:
            return view.chunk(f.chunk_id)
        except KeyError:
            pass
    doc = documents[f.doc_id]
    return Chunk(f"{f.doc_id}:{f.sentence.start}", f.doc_id, doc.path, doc.title, doc.city, f.year, doc.years,
                 f.heading_path, f.sentence.start, f.sentence.end, f.text)


def evidence_index(answer: TypedAnswer, fact: Fact) -> int:
    """1-based position of the evidence citing this fact's sentence, for [n] markers."""
    for i, e in enumerate(answer.evidence, start=1):
        if e.chunk.doc_id == fact.doc_id and e.span == fact.sentence:
            return i
    return 0

