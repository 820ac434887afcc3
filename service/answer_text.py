"""A typed answer put into words for a person, in the question's language: every figure
with its city, year and whether it was achieved or only targeted, and [n] pointing at the
evidence that states it. The library decides what the answer is; this only says it."""

from __future__ import annotations

import re

from retrieval.answers.typed import NotFound, TypedAnswer, evidence_index
from retrieval.facts.model import Fact
from retrieval.text.places import english_name

_COMPARATOR = {"=": "", ">=": "≥", "<=": "≤", ">": ">", "<": "<"}
_KIND = {"zh": {"achieved": "实际", "target": "目标"}, "en": {"achieved": "achieved", "target": "target"}}


def language_of(answer: TypedAnswer) -> str:
    return "en" if answer.language == "en" else "zh"


def city_name(city: str | None, lang: str) -> str:
    if not city:
        return ""
    return english_name(city) if lang == "en" else city


def indicator_name(answer: TypedAnswer, fact: Fact, lang: str) -> str:
    if lang == "en" and fact.indicator and answer.indicator and answer.indicator.indicator_id == fact.indicator:
        return answer.indicator.name_en
    return fact.indicator_text or (answer.indicator.name_zh if answer.indicator else "")


def value_text(fact: Fact) -> str:
    """The value as written, with the comparator it was stated with (≤29微克/立方米) and its
    unit when the sentence wrote it only once for a list (市中心城区…分别为21、18.2微克/立方米)."""
    shown = fact.value if fact.measure != "change" or not fact.change else fact.change
    if fact.unit and fact.measure == "level" and re.fullmatch(r"[\d.,]+", shown):
        shown += fact.unit
    return f"{_COMPARATOR.get(fact.comparator, '')}{shown}"


def fact_line(answer: TypedAnswer, fact: Fact, lang: str, with_city: bool = True) -> str:
    n = evidence_index(answer, fact)
    cite = f" [{n}]" if n else ""
    kind = _KIND[lang][fact.kind]
    scope = f"{fact.scope}" if fact.scope else ""
    where = city_name(fact.city, lang) if with_city else ""
    if lang == "en":
        parts = [p for p in (where, str(fact.year or ""), scope) if p]
        extra = f"; {fact.rank}" if fact.rank and fact.measure != "rank" else ""
        return f"{', '.join(parts)}: {indicator_name(answer, fact, lang)} {value_text(fact)} ({kind}{extra}){cite}"
    year = f"{fact.year}年" if fact.year else ""
    extra = f"，{fact.rank}" if fact.rank and fact.measure != "rank" else ""
    return f"{where}{year}{scope}{indicator_name(answer, fact, lang)}：{value_text(fact)}（{kind}{extra}）{cite}"


def not_found_text(reason: NotFound, lang: str) -> str:
    cities = "、".join(city_name(c, lang) for c in reason.cities) if lang == "zh" else \
        ", ".join(city_name(c, lang) for c in reason.cities)
    known = ("、" if lang == "zh" else ", ").join(city_name(c, lang) for c in reason.known_cities)
    if reason.reason == "no_city":
        return (f"报告库中没有{cities}的报告（现有：{known}）。" if lang == "zh"
                else f"There is no report for {cities} in the collection (it holds {known}).")
    if reason.reason == "other_years":
        years = _years(reason.covered_years)
        asked = "、".join(str(y) for y in reason.asked_years)
        if lang == "zh":
            return f"{cities or '报告库'}的报告涵盖{years}年，没有{asked}年的内容。"
        return f"{cities or 'The collection'}'s reports cover {years}, not {asked}." if cities else \
            f"The reports cover {years}, not {asked}."
    if reason.reason == "no_indicator":
        what = (reason.indicator_en if lang == "en" and reason.indicator_en else reason.indicator) or \
            ("该指标" if lang == "zh" else "that")
        related = ""
        if reason.related:
            stated = "；".join(f"{f.year or ''}{'年' if lang == 'zh' and f.year else ' ' if f.year else ''}"
                              f"{f.indicator_text}{value_text(f)}" for f in reason.related)
            related = f"报告只写了：{stated}。" if lang == "zh" else f" The reports state only: {stated}."
        years = "、".join(str(y) for y in reason.asked_years)
        if lang == "zh":
            return f"{cities + '的' if cities else ''}报告中没有{years + '年' if years else ''}关于“{what}”的数值。{related}"
        return f"No report{' for ' + cities if cities else ''} states a figure for {what}{' in ' + years if years else ''}." \
               f"{related}"
    return ("报告中没有与这个问题相关的内容（这些报告是生态环境局的年度工作报告）。" if lang == "zh"
            else "The reports hold nothing on this question (they are annual work reports of ecology and "
                 "environment bureaus).")


def _years(years) -> str:
    years = sorted(years)
    if not years:
        return ""
    if years == list(range(years[0], years[-1] + 1)) and len(years) > 1:
        return f"{years[0]}–{years[-1]}"
    return "、".join(str(y) for y in years)


def answer_text(answer: TypedAnswer) -> str:
    text = _answer_text(answer)
    if answer.missing:  # 北京和温州…: the answer covers 温州, and says it has nothing for 北京
        lang = language_of(answer)
        names = ("、" if lang == "zh" else ", ").join(city_name(c, lang) for c in answer.missing)
        text += f"\n（报告库中没有{names}的报告。）" if lang == "zh" else f"\n(The collection has no report for {names}.)"
    return text


def _answer_text(answer: TypedAnswer) -> str:
    lang = language_of(answer)
    if answer.kind == "not_found":
        return not_found_text(answer.not_found, lang)
    if answer.kind == "passage":
        return answer.passage.text
    if answer.kind == "value":
        head = fact_line(answer, answer.facts[0], lang)
        rest = [fact_line(answer, f, lang) for f in answer.facts[1:]]
        if rest:
            head += ("\n另有：" if lang == "zh" else "\nAlso stated: ") + ("；" if lang == "zh" else "; ").join(rest)
        return head
    if answer.kind == "cities":
        return _cities_text(answer, lang)
    return "\n".join(table_lines(answer, lang))


def _cities_text(answer: TypedAnswer, lang: str) -> str:
    if answer.facts:
        lines = [fact_line(answer, f, lang) for f in answer.facts]
    else:  # cities from quoted sentences
        lines = [f"{city_name(e.chunk.city, lang)}: {e.text} [{i}]" for i, e in enumerate(answer.evidence, start=1)]
    if answer.ranking:
        head = {("zh", "max"): "数值最高：", ("zh", "min"): "数值最低：", ("en", "max"): "Highest: ",
                ("en", "min"): "Lowest: "}[(lang, answer.ranking)]
        head += city_name(answer.cities[0], lang)
        note = "（各市的年份不同，逐一列出）" if lang == "zh" else " (each city's own year, listed below)"
        return "\n".join([head + note, *lines])
    head = "达成的城市：" if lang == "zh" else "Cities whose reports state it as achieved: "
    head += ("、" if lang == "zh" else ", ").join(city_name(c, lang) for c in answer.cities)
    out = [head, *lines]
    if answer.targets:
        out.append("仅为目标（并非已达成）：" if lang == "zh" else "Only as a target (not achieved):")
        out += [fact_line(answer, f, lang) for f in answer.targets]
    return "\n".join(out)


def table_lines(answer: TypedAnswer, lang: str) -> list[str]:
    """One line per row: city | year | achieved/target | value [n]; a city without a figure says so."""
    header = "城市 | 年份 | 类型 | 数值" if lang == "zh" else "city | year | kind | value"
    lines = [header]
    for row in answer.rows:
        name = city_name(row.city, lang)
        if row.fact is None:
            lines.append(f"{name} | — | — | " + ("报告中没有该数值" if lang == "zh" else "no figure in its reports"))
            continue
        f = row.fact
        n = evidence_index(answer, f)
        scope = f" ({f.scope})" if f.scope else ""
        lines.append(f"{name} | {f.year or '—'} | {_KIND[lang][f.kind]} | {value_text(f)}{scope}" + (f" [{n}]" if n else ""))
    return lines
