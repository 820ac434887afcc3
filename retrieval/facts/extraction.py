"""Facts from a report: every figure of every sentence, typed.

Chinese states the thing, then its value (行政处罚案件797件), so a value's indicator is
the text before it in its clause; a counted thing may follow instead (163个重点项目).
Lists are paired item for item (市中心城区、县级及以上城市PM2.5平均浓度分别为21、18.2微克/立方米),
and a 四个100% spreads over the four subjects it names. Whether a figure is a result or
a plan comes from the report's own structure (a 工作思路/计划/要点 section is a plan for
its year) and from target words in the sentence (力争, 确保, 目标, 控制在…)."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from retrieval.documents.chunking import ChunkingConfig, section_sentences
from retrieval.documents.outline import sections
from retrieval.facts.model import Fact
from retrieval.facts.numbers import Mention, mentions, parse_number, ranks
from retrieval.facts.vocabulary import Vocabulary
from retrieval.models import Chunk, Document, Section, Span

_PLAN_SECTION = re.compile(r"思路|计划|要点|打算|安排|展望|目标任务|重点工作")
_SUMMARY_SECTION = re.compile(r"总结|情况|成效|回顾|完成")
# Words that make what follows them a plan (not 争取: 争取资金 is money obtained); 目标 and
# 控制在 only within the value's own clause.
_AIMING = r"力争|确保|预计|预期|拟"
_TARGET_WORDS = re.compile(_AIMING + r"|目标|控制在")
_YEAR = re.compile(r"(?<![\d较比])(?P<to>到|至|在)?(?P<y>(?:19|20)\d\d)\s*年(?!度?[以来前后初底])")
_BASELINE_BEFORE = re.compile(r"(?:较|比|与|相比|对比|同比)\s*$")
_CLAUSE_BREAK = re.compile(r"[，,；;：:。！？!?]|\s{2,}")
_LIST_JOIN = re.compile(r"、|及(?!以上)|和|与|以及")
SCOPES = ("县级及以上城市", "县级以上城市", "设区城市", "市中心城区", "中心城区", "主城区", "市区", "全市", "市本级",
          "各县(市、区)", "各县（市、区）", "县级城市", "县城")
SCOPE = re.compile("|".join(re.escape(s) for s in SCOPES))  # any scope a report states
_LEAD_NOISE = re.compile(
    r"^(?:(?:19|20)\d\d\s*年(?:度)?|全年|今年|去年|其中|同时|目前|截至目前|此外|另外|并且?|且|以及|和|及|共计?|总计|全面|"
    r"首次|已|均|分别|对|把|将|使|让|还|又|也|力争|确保|争取|预计|继续|新增|推动|推进|实现|" + SCOPE.pattern + r"|[、“”\"'《》()（）\s])+")
_LEAD_TAIL = re.compile(
    r"(?:分别为|分别达|分别是|均为|均达到?|均保持|保持在|稳定在|维持在|提升至|提高至|提高到|上升至|升至|下降至|降至|降低至|"
    r"减少至|增加至|增长至|控制在|达到了|达到|达|为|是|保持|实现|完成|突破|超过|超|不低于|不少于|不超过|低于|高于|约|近|"
    r"首次|持续|稳定|共计?|总计|已|均|分别|全部|共有|有|占|的|了|在|到|至|逾|“|\"|\s)+$")
_LABEL = re.compile(r"[“\"]?(?P<n>[一二三四五六七八九十两\d]+)个\s*$")  # the 四个 of “四个100%”
_COUNTED_STOP = re.compile(r"[，,；;：:。、]|已|完成|实现|全部|通过|正在|中|的|和|及|[\d]")
_HEAD = re.compile(r"(?:水质|空气质量|空气)?(?:达标率|优良率|优良比例|比例|比率|占比|浓度|利用率|处置率|覆盖率|"
                   r"达标|优良)$")


EXTRACTOR_VERSION = 12  # raise when extraction changes what it finds: stored facts are then rebuilt


@dataclass(frozen=True)
class ExtractionConfig:
    chunking: ChunkingConfig = ChunkingConfig()
    max_indicator_chars: int = 24  # the words nearest the value name it; the clause's start rarely does


def section_kind(section: Section, doc: Document | None = None) -> str:
    """Its headings decide; a section they leave open takes its year's side of the report
    (all of a plan-only report is a plan, the plan year's part of a summary-and-plan)."""
    by_heading = kind_of_heading_path(section.heading_path)
    if by_heading is not None:
        return by_heading
    if doc is not None and doc.plan_year and section.year == doc.plan_year and doc.plan_year != doc.summary_year:
        return "target"
    return "achieved"


def tells_results(chunk: Chunk, doc: Document | None = None) -> bool:
    """Whether a passage lies in a part of its report that tells results, not plans."""
    return section_kind(Section(chunk.heading_path, chunk.start, chunk.end, chunk.year), doc) == "achieved"


def kind_of_heading_path(heading_path: tuple[str, ...]) -> str | None:
    """A section of a plan (工作思路/计划/要点/打算) speaks of targets, one of a summary of
    results; None when the headings say neither."""
    for title in reversed(heading_path):
        if _PLAN_SECTION.search(title) and not _SUMMARY_SECTION.search(title):
            return "target"
        if _SUMMARY_SECTION.search(title):
            return "achieved"
    return None


def extract_facts(doc: Document, vocabulary: Vocabulary, config: ExtractionConfig = ExtractionConfig()) -> tuple[Fact, ...]:
    out: list[Fact] = []
    for section in sections(doc):
        for span in section_sentences(doc, section, config.chunking):
            out += sentence_facts(doc, section, span, vocabulary, config)
    return tuple(out)


@dataclass(frozen=True)
class _Clause:
    start: int  # in the sentence
    end: int


def _clauses(sentence: str) -> list[_Clause]:
    out, start = [], 0
    for m in _CLAUSE_BREAK.finditer(sentence):
        if m.start() > start:
            out.append(_Clause(start, m.start()))
        start = m.end()
    if start < len(sentence):
        out.append(_Clause(start, len(sentence)))
    return out


def _clean(lead: str) -> str:
    previous = None
    while previous != lead:
        previous = lead
        lead = _LEAD_NOISE.sub("", lead)
        lead = _LEAD_TAIL.sub("", lead)
    return lead.strip("，,、 ")


def _scope_in(text: str) -> str:
    found = list(SCOPE.finditer(text))
    return found[-1].group(0) if found else ""


def _year_of(sentence: str, at: int, default: int | None, years: tuple[int, ...]) -> int | None:
    """The year the sentence states before the value (到2025年 counts even beyond the report's
    years; 较2013年 is a baseline, not the year), else the section's."""
    best = default
    for m in _YEAR.finditer(sentence[:at]):
        if _BASELINE_BEFORE.search(sentence[: m.start()]) or sentence[: m.start()].count("《") > sentence[: m.start()].count("》"):
            continue
        year = int(m.group("y"))
        if m.group("to") or year in years or not years:
            best = year
    return best


def _counted_noun(sentence: str, end: int, limit: int, longest: int = 12) -> str:
    """What a count counts when it comes first: 163个重点项目 -> 重点项目."""
    rest = re.sub(r"^(?:以上|以下|左右|余|多)", "", sentence[end:limit])
    if rest.startswith("的"):
        rest = rest[1:]
    if rest.startswith(("(", "（")):
        return ""  # 共增加人员编制69个(市局27个…): a breakdown follows, the lead names it
    stop = _COUNTED_STOP.search(rest)
    return rest[: stop.start() if stop else len(rest)][:longest]


def _list_items(lead: str) -> list[str]:
    return [p for p in _LIST_JOIN.split(lead) if p.strip()]


def _paired(lead: str, n: int) -> list[tuple[str, str]] | None:
    """(scope, indicator) for each of n values from a lead that names n subjects:
    市中心城区、县级及以上城市PM2.5平均浓度 -> two scopes, one indicator;
    饮用水水源地、主要流域国省控断面…断面水质达标率 -> four indicators sharing a head."""
    items = _list_items(lead)
    if len(items) != n or n < 2:
        return None
    last = items[-1]
    scope_at = SCOPE.match(last)
    if all(SCOPE.match(i) for i in items[:-1]) and scope_at:
        shared = _clean(last[scope_at.end() :])
        return [(SCOPE.match(i).group(0), shared) for i in items[:-1]] + [(scope_at.group(0), shared)]
    head = _HEAD.search(_clean(last))
    shared = head.group(0) if head else ""
    return [("", _clean(i) + (shared if shared and not i.endswith(shared) else "")) for i in items[:-1]] + \
        [("", _clean(last))]


def _value_lists(found: list[Mention], sentence: str) -> list[list[Mention]]:
    """Mentions grouped into lists joined by 、 (21、18.2微克/立方米), in order."""
    groups: list[list[Mention]] = []
    for m in found:
        if groups and re.fullmatch(r"\s*[、和及与]\s*", sentence[groups[-1][-1].end : m.start]) \
                and groups[-1][-1].measure == m.measure:
            groups[-1].append(m)
        else:
            groups.append([m])
    return groups


def sentence_facts(doc: Document, section: Section, span: Span, vocabulary: Vocabulary,
                   config: ExtractionConfig = ExtractionConfig()) -> list[Fact]:
    sentence = doc.text[span.start : span.end]
    found = mentions(sentence)
    if not found and not ranks(sentence):
        return []
    clauses = _clauses(sentence)
    section_is_plan = section_kind(section, doc) == "target"
    facts: list[Fact] = []
    scope_lists: list[list[str]] = []  # enumerations of scopes seen earlier in the sentence

    def clause_of(at: int) -> _Clause:
        return next((c for c in clauses if c.start <= at < c.end), _Clause(0, len(sentence)))

    def kind_at(clause: _Clause, at: int) -> str:
        if section_is_plan:
            return "target"
        words = sentence[clause.start : clause.end] + sentence[:at][-30:]
        if re.search(_AIMING, sentence[:at]) or _TARGET_WORDS.search(
                sentence[clause.start : clause.end]) and not re.search(r"完成.{0,6}目标|目标任务", words):
            return "target"
        if re.search(r"完成.{0,8}目标", sentence[clause.start : clause.end]) and re.search(
                r"\d\s*[%％]?\s*的", sentence[clause.start : clause.end]):
            return "target"  # 提前2年完成80%的省创目标: the 80% is the goal
        return "achieved"

    groups = _value_lists(found, sentence)
    for group_index, group in enumerate(groups):
        first = group[0]
        clause = clause_of(first.start)
        previous_end = max([clause.start] + [m.end for g in groups[:group_index] for m in g if m.end <= first.start])
        raw_lead = sentence[previous_end : first.start]
        label = _LABEL.search(raw_lead)
        n = len(group) if len(group) > 1 else (int(parse_number(label.group("n")) or 1) if label else 1)
        if label:
            raw_lead = raw_lead[: label.start()]
        tail = re.match(r"\s*(达标|优良)", sentence[group[-1].end :])
        lead = _clean(raw_lead[-config.max_indicator_chars * 3 :])
        scope_here = _scope_in(raw_lead)
        enumeration = None
        if n and n > 1:
            enumeration = _paired(_clean_keep_lists(raw_lead), n)
            if enumeration is None and scope_lists and len(scope_lists[-1]) == n:
                enumeration = [(s, lead) for s in scope_lists[-1]]
            if enumeration and all(s for s, _ in enumeration):
                scope_lists.append([s for s, _ in enumeration])
        # A 四个100% spreads over its four subjects only when the sentence names four.
        for i in range(max(len(group), len(enumeration) if enumeration else 1)):
            change = None
            m = group[min(i, len(group) - 1)]
            scope, indicator_text = (enumeration[i] if enumeration and i < len(enumeration) else (scope_here, lead))
            counted = ""
            if m.unit[:1] in _COUNTER_UNITS:
                counted = _counted_noun(sentence, m.end, clause.end)
            elif m.unit == "年" and re.search(r"连续第?$", sentence[: m.start]):
                # 连续第四年被评为美丽浙江建设优秀单位: what ran four years, its end kept whole below
                counted = _counted_noun(sentence, m.end, clause.end, longest=40)
            elif len(lead) <= 2 and not tail and vocabulary.canonical(lead, m.unit, m.measure) is None \
                    and _CJK_NEXT.match(sentence, m.end):
                # 落实230平方公里全海域海上保洁管理: a bare verb before, the thing measured after (not
                # 罚款…, which names it, nor 2150万元同比增长 or 3.2亿元用于…, which say something else)
                counted = _NOT_NAMING.split(_counted_noun(sentence, m.end, clause.end))[0]
            elif m.unit == "%" and (share_of := re.match(r"(?:以上|以下|左右)?的", sentence[m.end :])):
                counted = _counted_noun(sentence, m.end + share_of.end(), clause.end)  # 20%的乡镇(街道)
            if len(counted) >= 2 and not enumeration:
                indicator_text = counted  # 3个美丽海湾单元: the thing counted follows its count
            change_cue = _CHANGE_CUE.search(indicator_text) if m.measure == "change" else None
            if change_cue:
                change = sentence[previous_end:m.end].strip("，,、 ")
                indicator_text = indicator_text[: change_cue.start()]
            elif m.measure == "change":
                indicator_text = _CHANGE_VERB.sub("", indicator_text)  # 投诉总量虽明显下降 -> 投诉总量
            if tail and m is group[-1] and not indicator_text.endswith(tail.group(1)):
                indicator_text += tail.group(1)
            indicator_text = _sibling_of(facts, m, raw_lead, indicator_text, vocabulary) or indicator_text
            whole = _whole_of_part(facts, sentence, span.start, m.start)
            # only a count broken down in its own unit: not 28微克/立方米(同比下降6.7%) or (标准35微克)
            if whole is not None and whole.unit == m.unit and m.unit[:1] in _COUNTER_UNITS \
                    and m.measure == whole.measure == "level" and whole.indicator_text not in indicator_text:
                indicator_text += whole.indicator_text  # 69个(市局27个、…): 市局增加人员编制
            indicator_text = indicator_text[-config.max_indicator_chars :]
            rank = None
            if m.measure == "change" and (not indicator_text or re.fullmatch(r"(?:同比|较上年|比上年|较去年)?.{0,2}", indicator_text)):
                levels = [f for f in facts if f.measure == "level"]
                # 面积比91.7%、点位比95.5%,同比分别提升7.5和9.1个百分点: the i-th change of the i-th figure
                paired = len(group) > 1 and "分别" in raw_lead and len(levels) >= len(group)
                target = levels[len(levels) - len(group) + i] if paired else (
                    facts[-1] if facts and facts[-1].measure == "level" else None)
                if target is not None:
                    change = sentence[previous_end:m.end].strip("，,、 ")
                    if target.change is None:
                        facts[facts.index(target)] = replace(target, change=change)
                    indicator_text = target.indicator_text  # the change is that figure's
            for r in ranks(sentence[m.end : clause.end]):
                if r.start < 8:
                    rank = r.text  # 空气优良率97.5%、排名全省第2: the rank of this figure
                    break
            year = _year_of(sentence, m.start, section.year, doc.years)
            value_start = span.start + m.start
            facts.append(Fact(
                doc_id=doc.doc_id, path=doc.path, city=doc.city, year=year,
                indicator=vocabulary.canonical(indicator_text, m.unit, m.measure),
                indicator_text=indicator_text, value=sentence[m.start : m.end], number=m.number,
                number_max=m.number_max, unit=m.unit, comparator=m.comparator,
                kind=kind_at(clause, m.start), measure=m.measure, scope=scope, rank=rank, change=change,
                sentence=span, value_span=Span(value_start, span.start + m.end), text=sentence,
                heading_path=section.heading_path))
    facts += _rank_facts(doc, section, span, sentence, clauses, facts, vocabulary, section_is_plan, config)
    return facts


def _whole_of_part(facts: list[Fact], sentence: str, offset: int, at: int) -> Fact | None:
    """The figure a bracket opened right after it breaks down, when the figure at `at` lies
    inside that bracket: 共增加人员编制69个(市局27个、各分局42个)."""
    depth = 0
    for i in range(at - 1, -1, -1):
        if sentence[i] in ")）":
            depth += 1
        elif sentence[i] in "(（":
            if depth == 0:
                return next((f for f in facts if f.value_span.end == offset + i), None)
            depth -= 1
    return None


def _sibling_of(facts: list[Fact], m: Mention, raw_lead: str, indicator_text: str,
                vocabulary: Vocabulary) -> str | None:
    """The whole name of a figure listed right after another of the sentence under a short
    label of the same form: 优良水质面积比91.7%、点位比95.5% -> 优良水质点位比 (the head is
    said once, with the first); only a name the vocabulary knows (not 森林覆盖率…、绿化率 ->
    森林绿化率)."""
    before = facts[-1] if facts else None
    n = len(indicator_text)
    if before is None or before.measure != "level" or m.measure != "level" \
            or before.unit != m.unit or not re.fullmatch(r"[\u4e00-\u9fff]{2,4}", indicator_text) \
            or len(before.indicator_text) <= n or not re.fullmatch(r"[\u4e00-\u9fff]+", before.indicator_text[-n:]) \
            or before.indicator_text[-1] != indicator_text[-1] or before.indicator_text.endswith(indicator_text) \
            or not re.fullmatch(r"\s*[、，,]?\s*" + re.escape(indicator_text) + r"\s*", raw_lead):
        return None
    joined = before.indicator_text[:-n] + indicator_text
    return joined if vocabulary.canonical(joined, m.unit, m.measure) is not None else None


_CJK_NEXT = re.compile(r"[\u4e00-\u9fff]{2}")
_CJK = re.compile(r"[\u4e00-\u9fff]")
_NOT_NAMING = re.compile(r"同比|较上年|比上年|用于|来自|占")
_COUNTER_UNITS = set("个件项条座所批次场张类大支处名位艘辆台套宗起份篇家户轮")
_CHANGE_CUE = re.compile(r"(?:同比|较上年|比上年|较去年|比去年|较|比|与.{1,8}相比).*$")
_CHANGE_VERB = re.compile(r"(?:虽|均|分别|也)?(?:明显|大幅|持续|显著|有所|稳步|进一步)*(?:下降|上升|提高|降低|增长|减少|增加|提升|改善)了?$")


def _clean_keep_lists(lead: str) -> str:
    """The lead without its connecting verbs, its 、 lists kept whole."""
    lead = re.sub(r"^.*[：:]", "", lead)
    return _LEAD_TAIL.sub("", lead)


def _rank_facts(doc, section, span, sentence, clauses, figures, vocabulary, section_is_plan, config) -> list[Fact]:
    """Every rank is a fact of its own too (入库数量位居全省第2), named by the words before it,
    or, right after a figure (空气优良率97.5%、排名全省第2), by that figure's indicator."""
    out = []
    for r in ranks(sentence):
        clause = next((c for c in clauses if c.start <= r.start < c.end), None)
        if clause is None:
            continue
        before = [f for f in figures if 0 <= span.start + r.start - f.value_span.end < 8
                  and f.value_span.start >= span.start + clause.start]
        lead = _clean(re.sub(r"(?:位居|位列|排名|居|列|排)\s*$", "", sentence[clause.start : r.start]))
        lead = re.sub(r"(?:全省|全国)$", "", lead)[-config.max_indicator_chars :]
        earlier = [f for f in figures if f.value_span.end <= span.start + r.start]
        # 综合指数2.34、同比改善10.3%,在全国排名第3: a rank that names nothing is the figure's before it
        ranked = before[-1] if before else earlier[-1] if earlier and len(_CJK.findall(lead)) < 2 else None
        # 查办环境违法案件1436件、罚款1.33亿元,均列全省第2位: the rank of each figure listed before 均
        shared = _listed_before(figures, span, clauses, clause) if _EACH_RANKED.search(sentence[clause.start : r.start]) else []
        digits = re.search(r"\d+|[一二三四五六七八九十]+", r.text)
        number = parse_number(digits.group(0)) if digits else None
        for named in shared or [ranked]:
            out.append(Fact(
                doc_id=doc.doc_id, path=doc.path, city=doc.city,
                year=_year_of(sentence, r.start, section.year, doc.years),
                indicator=named.indicator if named else vocabulary.canonical(lead, "", "rank"),
                indicator_text=named.indicator_text if named else lead, value=r.text, number=number,
                number_max=None, unit="", comparator="=", kind="target" if section_is_plan else "achieved",
                measure="rank", scope="", rank=r.text, change=None, sentence=span,
                value_span=Span(span.start + r.start, span.start + r.end), text=sentence,
                heading_path=section.heading_path))
    return out


_EACH_RANKED = re.compile(r"^\s*均\s*(?:位居|位列|排名|居|列|排)?\s*(?:全省|全国)?\s*$")


def _listed_before(figures: list[Fact], span: Span, clauses: list, clause) -> list[Fact]:
    """The levels of the clause before one that opens with 均 (…1436件、罚款1.33亿元,均列全省第2位)."""
    i = clauses.index(clause)
    if i == 0:
        return []
    previous = clauses[i - 1]
    return [f for f in figures if f.measure == "level"
            and span.start + previous.start <= f.value_span.start < span.start + previous.end]


