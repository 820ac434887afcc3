"""What a question asks for, read from its words: the kind of answer (one value, the
cities that achieved something, a table across cities, or a passage), the indicator it
names, the condition a city must meet, and whether it asks about results or targets."""

from __future__ import annotations

import re
from dataclasses import dataclass

from retrieval.facts.extraction import SCOPES
from retrieval.facts.numbers import base_quantity, mentions, parse_number
from retrieval.facts.vocabulary import Indicator, Vocabulary
from retrieval.search.query import QueryAnalysis
from retrieval.text.normalize import normalize_text

_TABLE = re.compile(
    r"比较|对比|比一比|各市|各城市|各地|各个城市|每个城市|每座城市|五个城市|五市|几个城市|所有城市|各报告|分别是多少|分别为多少|列表|一览"
    r"|compar|across (?:the |all |these |five )?(?:cities|reports|bureaus)|each (?:city|report|of the cities)|every city"
    r"|all (?:the )?(?:five )?cities|(?:the |these )?five cities|stack up|by city|per city|city by city|side by side|versus"
    r"|\bvs\.?\b|for all|table", re.I)
_CITIES = re.compile(
    r"哪个城市|哪些城市|哪座城市|哪几个城市|哪一个城市|哪几座城市|哪个市|哪些市|哪几个市|哪座|哪里|哪些地方|哪个地方|哪一城市|哪一个市|哪家"
    r"|城市有哪些|城市是哪些|城市有哪几个|城市都有哪些|有哪些城市|是哪些城市"
    r"|which (?:of the )?(?:cit|town|bureau|report|place)|what cit(?:y|ies)\b(?!-)|where (?:did|was|were|has|have)|which ones|name the cit", re.I)
_QUANTITY = re.compile(
    r"多少|几|比例|比率|占比|百分|浓度|密度|强度|总量|面积|长度|里程|金额|数量|数目|规模|水平|目标|达到|几成|多高|多大|指数|率"
    r"|how (?:many|much|high|low|large|big)|what (?:is|was|were|are|'s)? ?(?:the )?(?:\w+ ){0,6}?(?:rate|share|ratio|level|"
    r"concentration|number|count|amount|total|figure|value|percentage|proportion|index|target|goal|sum|capacity|investment|"
    r"fine|fines|population|gdp)|\brate\b|\bshare\b|concentration|percentage|proportion|target|how many|amount|number of|"
    r"total|figure|level|investment|fines?\b|capacity|population|gdp", re.I)
_DESCRIPTIVE = re.compile(
    r"如何|怎样|怎么|哪些措施|什么措施|哪些举措|什么举措|做法|经验|为什么|为何|意义|内容是什么|机制|是怎样"
    r"|(?:方式|方法|路径|模式|手段|思路)\W*$"  # a question that ends naming a way of doing (涂装行业VOCs治理方式)
    r"|\bhow (?:did|does|do|is|are|was|were|has|have|will|can|could|should)\b"
    r"|what (?:[\w-]+ ){0,3}?(?:measures|steps|actions|approach(?:es)?|mechanisms?|methods|ways)\b"
    r"|\bwhat (?:does|did|do|has|have|will)\b.{0,60}\bdo(?:ing|ne)?\b|\bwhat (?:is|are|was|were) \S+ planning (?:for|to do)\b"
    r"|\bwhy\b|describe|explain|in what way", re.I)
_WHAT_THING = re.compile(r"什么(?!时候|时间)|何种|哪种|哪类|哪一种|哪一类")
_ACHIEVED = re.compile(r"实现|达成|完成了|取得|实际|做到|achiev|actual|reached|attained|recorded|result|did .* (?:reach|have)",
                       re.I)
# "report or target", 实际和目标: both kinds asked, results beside plans
_BOTH_KINDS = re.compile(r"\b(?:or|and|vs\.?|versus|as well as)\s+(?:the\s+|its\s+|their\s+)?(?:targets?|targeted|goals?|plans?|planned"
                         r"|aims? (?:for|at|to)|intends? to)\b"
                         r"|\b(?:targets?|goals?|plans?)\s+(?:or|and|vs\.?|versus)\s+(?:the\s+)?(?:actual|achieved|results?|reported)\b"
                         r"|(?<![涉参])(?:[和与及含]|或者?)(?:目标|计划)|(?:包括|包含)(?:目标|计划)|(?:目标|计划)[和与及或](?:实际|完成|结果)", re.I)
AGAINST_LAST_YEAR = r"同比|[较比跟和与](?:上|去|上一|前一)年|相比(?:上|去|上一|前一)年"  # not 前年: two years back
_CHANGE = re.compile(r"提高了?多少|提升了?多少|下?降了?多少|降低了?多少|增长了?多少|增加了?多少|减少了?多少|上?涨了?多少|上?升了?多少|多少个百分点"
                     rf"|{AGAINST_LAST_YEAR}|变化|升幅|降幅|增幅|涨幅"
                     r"|by how much|by what (?:percentage|percent|proportion|margin)|percentage points?"
                     r"|how much (?:did|has) .* (?:rise|fall|drop|improve|increase|decrease|change|grow|decline|shrink)"
                     r"|year[- ]on[- ]year|compared (?:with|to) (?:the )?(?:previous|last|prior|preceding) year"
                     r"|(?:than|with|to|from|over) (?:the|a) year (?:before|earlier)|change in|rise in|drop in"
                     r"|increase in|decrease in|improvement in", re.I)
_COMPARED = re.compile(rf"{AGAINST_LAST_YEAR}|改善|year[- ]on[- ]year|than (?:the )?(?:year|previous)"
                       r"|(?:with|to) (?:the )?(?:previous|last|prior|preceding) year|(?:the|a) year (?:before|earlier)", re.I)
_TOP_PLACES = re.compile(r"前([一二两三四五六七八九十]|\d+)(?:名|位)|\btop (one|two|three|four|five|\d+)\b", re.I)
_RANK = re.compile(r"排名|(?<!连续)第几|名次|排第|rank|place(?:d)? in the province|position", re.I)
_NUMBER = re.compile(r"(?<![\d.])(\d+(?:\.\d+)?)\s*(%|％|percent|per cent|个百分点|μg/m3|ug/m3|微克/立方米|微克|micrograms?)")
_AT_LEAST = re.compile(r"以上|及以上|不低于|不少于|(?<!不)超过|at least|or more|or above|above|over|more than|exceed|no less", re.I)
_AT_MOST = re.compile(r"以下|以内|不超过|不高于|(?<!不)低于|at most|or (?:less|lower|below|under)|below|under|less than|lower than|no more|no higher", re.I)
_SCOPE_EN = {"urban area": "市区", "city centre": "市中心城区", "city center": "市中心城区", "central urban": "市中心城区",
             "downtown": "市中心城区", "central urban area": "市中心城区", "county-level": "县级及以上城市", "county level": "县级及以上城市", "whole city": "全市",
             "citywide": "全市", "city-wide": "全市"}


_AS_WRITTEN = frozenset({"%", "个百分点", "μg/m3"})  # a condition's units compared as written; others in base units


@dataclass(frozen=True)
class Condition:
    comparator: str  # =, >=, <=
    number: float
    unit: str

    def met_by(self, number: float | None, number_max: float | None = None, unit: str | None = None) -> bool:
        if number is not None and unit is not None and self.unit not in _AS_WRITTEN:
            scale, base = base_quantity(1.0, unit)  # 1.2万件 is 12000, 1.33亿元 133000000元
            if base != self.unit and not (self.unit == "count" and (base in COUNT_UNITS or not base)):
                return False  # "more than 1,000 cases" counts things: no tonnes, no share
            number, number_max = number * scale, number_max * scale if number_max is not None else None
        elif number is None or unit is not None and unit != self.unit:
            return False  # 97.5% does not meet "5个百分点以上", nor 25μg/m3 "30%"
        top = number_max if number_max is not None else number
        if self.comparator == ">=":
            return number >= self.number - 1e-9
        if self.comparator == "<=":
            return top <= self.number + 1e-9
        return abs(number - self.number) < 1e-9


@dataclass(frozen=True)
class Intent:
    kind: str  # value, cities, table or passage
    language: str  # en, zh or zh-hant, as the question is written
    indicators: tuple[Indicator, ...]  # from the vocabulary, best first
    cities: tuple[str, ...]
    years: tuple[int, ...]
    wants: str | None  # achieved, target, or None for either
    measure: str  # level, change or rank
    condition: Condition | None
    scope: str | None
    asks_quantity: bool
    unit: str | None  # what the answer must be counted in, when the question says (多少辆, how many)
    classes: frozenset[str]  # water classes the question names (3, 5, poor), which a fact must not contradict
    times: frozenset[str]  # day, night: likewise
    superlative: str | None = None  # max or min: which city is highest / lowest
    direction: str | None = None  # up or down: a change the question asks about (改善, 下降)
    asks_how: bool = False  # how, why, what measures: the question asks for a description


def read_intent(analysis: QueryAnalysis, vocabulary: Vocabulary) -> Intent:
    text = analysis.simplified
    indicators = _nearest_first(vocabulary.mentioned(text), text)
    unit = _unit_asked(text)
    asks_quantity = bool(_QUANTITY.search(text)) or bool(indicators) or unit is not None  # 大排查 轮数
    # 几项首创经验 counts experiences and "what percentage of steps" asks a share: neither asks to describe
    # and 推出了什么贷款产品 asks what thing, not how many, when it names nothing measured
    asks_what_thing = bool(_WHAT_THING.search(text)) and not _QUANTITY.search(text) \
        and not (indicators and re.search(r"(?:是|为)什么(?:情况|样)?\W*$", text))  # PM2.5是什么: its figure
    asks_how = (bool(_DESCRIPTIVE.search(text)) or asks_what_thing) and unit is None
    if _CITIES.search(text):
        kind = "cities"
    elif _TABLE.search(text) or len(analysis.cities) > 1:
        kind = "table"
    elif asks_how:
        kind = "passage"  # how, why, what measures: sentences answer, not a figure
    elif asks_quantity and (indicators or analysis.cities or unit not in (None, "count")):
        kind = "value"  # 多少钱, how many tonnes: a figure, even of nothing the reports name
    else:
        kind = "passage"
    # 达到多少: the level to be reached, a target's question
    targets, results = analysis.asks_plans or "达到多少" in text, bool(_ACHIEVED.search(text) or _BOTH_KINDS.search(text))
    wants = None if targets and results else "target" if targets else "achieved" if results and kind != "cities" else None
    if kind == "cities":
        wants = "achieved"  # which city achieved X: plans are named apart, never counted
    compared = _COMPARED.search(text)
    # 增加了多少个人员编制 counts what was added (a level), unless it says against what
    changed = _CHANGE.search(text) and not (unit in COUNT_UNITS and not compared and not re.search(r"百分点|percentage point", text))
    measure = "change" if changed or kind == "cities" and compared \
        else "rank" if _RANK.search(text) and (unit is None or re.search(r"第(?:几|多少)", text)) \
        else "level"  # 排名前移了几位: so many places moved, a level; 排名第几位 is a rank
    condition = _condition(text)
    if condition and condition.unit == "个百分点":
        measure = "change"  # 提高5个百分点以上: a change, not a level
    top = _TOP_PLACES.search(text)
    if top and not condition:
        measure, condition = "rank", Condition("<=", float(_places(top)), "名")  # 排进全省前两名: ranked 1 or 2
    return Intent(kind, analysis.language, indicators, analysis.cities, analysis.years, wants, measure, condition,
                  _scope(text), asks_quantity, unit, water_classes(text),
                  times_of_day(text), _superlative(text), direction_of(text), asks_how)


# where a question asks of its indicator: a question word, or a threshold the figure must pass
# (哪些城市的信访件销号率超过99%: the rate is tested, not the cases)
_ASKING = re.compile(r"多少|几|什么|哪|超过|高于|低于|不低于|不少于|以上|以下|how (?:many|much|high)|what|which"
                     r"|more than|at least|fewer than|less than|exceed", re.I)


def _nearest_first(mentioned, text: str) -> tuple[Indicator, ...]:
    """The indicator next to the question word or threshold comes first: in
    赣州美丽建设项目完成了多少投资 it asks about 投资, and 项目 only says which."""
    asking = [m.start() for m in _ASKING.finditer(normalize_text(text))]
    if not asking:
        return tuple(m.indicator for m in mentioned)
    def distance(m) -> int:
        return min(min(abs(m.start - a), abs(m.end - a)) for a in asking)
    return tuple(m.indicator for m in sorted(mentioned, key=lambda m: (distance(m), m.start - m.end)))


_ZH_UNIT = re.compile(r"(?:多少|几)(?:个)?(工作日|小时|位|辆|台|家|件|起|宗|项|条|座|所|人次|人|户|次|轮次|轮|批次|批|吨|万吨|亿元|万元|元|天|个月|公里|亩"
                      r"|微克/立方米|%)|(轮|批)数|(?<!哪)(?:多少|几)(个)(?!百分点|月|城市|市)|连续第?(?:多少|几)(年)")  # 多少个监测站点: counted, whatever the noun; not 哪几个市
_EN_COUNT = re.compile(r"\bhow many\b(?! (?:percent|per cent|percentage|yuan|tons|tonnes|days|μg))", re.I)
_EN_PERCENT = re.compile(r"what (?:percentage|share|proportion|rate|ratio|fraction)|\bpercentage\b|\bpercent\b"
                         r"|\b(?:share|proportion|rate|ratio|fraction) of\b", re.I)
COUNT_UNITS = frozenset("个件项条座所批次场张类支处名位艘辆台套宗起份篇家户人轮".replace("", " ").split()) | {"人次", "批次"}


_EN_UNITS = {"decibel": "分贝", "db": "分贝", "ton": "吨", "tonne": "吨", "yuan": "money", "rmb": "money",
             "microgram": "μg/m3", "μg": "μg/m3", "hectare": "公顷", "kilomet": "公里", "km": "公里", "mu": "亩",
             "day": "天", "far": "公里", "long": "公里"}
_EN_UNIT = re.compile(r"\b(?:in|how many) (decibels?|db|tons?|tonnes?|yuan|rmb|micrograms?|μg|hectares?|kilomet\w*|km|mu|days)\b"
                      r"|\bhow (far)(?= (?:\w+ ){0,3}?(?:from|away|along|offshore|upstream|downstream|inland|beyond)\b)"
                      r"|\bhow (long)(?= (?:is|was|are|were) (?:\w+ ){0,5}?(?:network|pipes?|pipelines?|coastline|shoreline|greenways?"
                      r"|roads?|rivers?|embankments?|channels?|stretch)\b)|\bhow (long a stretch)\b", re.I)
_EN_COUNTED_UNITS = {"rounds": "轮", "times": "次", "batches": "批", "months": "个月", "people": "人", "persons": "人",
                     "individuals": "人", "vehicles": "辆", "working days": "个工作日", "years": "年"}
_EN_COUNTED = re.compile(r"\bhow many (?:\w+ )?(rounds|times|batches|months|people|persons|individuals|vehicles|working days|years)\b",
                         re.I)
_MONEY = re.compile(r"多少钱|多少资金|金额|总额|罚(?:没)?款(?:是|为|有|共|一共)?多少|how much money|how much (?:funding|investment|in fines|was invested)|"
                    r"\bin (?:yuan|rmb)\b|how many yuan", re.I)
_AREA = re.compile(r"面积(?:有|是|为)?多(?:大|少)|多大面积|how (?:large|big) an area|what area|\barea of\b", re.I)
_DURATION = re.compile(r"多久|多长时间|(?:多少|几)[\u4e00-\u9fff]{0,4}时间|for how long|how long (?:did|does|do|will|has|have|had|would"
                       r"|can|it|they)\b|how much time|for how many years", re.I)
# a rate of handling (处置能力达336.81万吨/年), asked with a word of asking: not 能力建设
_CAPACITY = re.compile(r"(?:处置|处理|焚烧|填埋|贮存|储存|收运|利用)能力(?:是|为|有|达到?)?(?:多少|多大|几)"
                       r"|(?:handling|treatment|disposal|processing|incineration|landfill|storage|daily|annual) capacity"
                       r"|capacity (?:of|to) (?:handle|treat|dispose|process)", re.I)
_PER_TIME = frozenset({"年", "日", "天", "小时", "h", "d", "a"})
_DURATION_UNITS = frozenset({"天", "个月", "个工作日", "工作日", "小时", "年"})
_AREA_UNITS = frozenset({"平方公里", "平方千米", "km2", "平方米", "公顷", "亩", "万亩", "万平方米"})
_HOW_MANY_THINGS = re.compile(r"(?<!排放)(?:数量|数目|个数)")  # 治理项目数量: a count, not tonnes
# a rate asked for (立案率是多少), or named last in a terse query (督察问题 销号率)
_RATE = re.compile(r"(?:率|比例|比率|占比|百分比)(?:(?:是|为|有|达到|达|[提升]高到|提升到|[升降]至|[升降]到|下降到|上升到)?了?(?:多少|几)|[?？。\s]*$)|(?:多大|多高|多少)的?(?:比例|比重|占比)")


def _unit_asked(text: str) -> str | None:
    """The unit a question asks for: a Chinese classifier after 多少 or 几 (多少辆, 几轮) or the
    noun counted (how many rounds, people), an English unit (in tonnes; how far from, how long a
    pipe network: 公里), money, "%" for a rate or share (立案率是多少, a query ending in 销号率,
    what share), "area" (面积有多大), "duration" (多久, how long did), "capacity" (处置能力是多少: so much
    a year or a day), "count" for how many or a 数量."""
    m = _ZH_UNIT.search(text)
    if m:
        return next(g for g in m.groups() if g)
    m = _EN_COUNTED.search(text)
    if m:
        return _EN_COUNTED_UNITS[m.group(1).lower()]
    m = _EN_UNIT.search(text)
    if m:
        said_unit = next(g for g in m.groups() if g).lower()
        return next(unit for word, unit in _EN_UNITS.items() if said_unit.startswith(word))
    if _CAPACITY.search(text):
        return "capacity"
    if _MONEY.search(text):
        return "money"
    if _RATE.search(text) or _EN_PERCENT.search(text):
        return "%"
    if _AREA.search(text):
        return "area"
    if _DURATION.search(text):
        return "duration"
    if _EN_COUNT.search(text) or _HOW_MANY_THINGS.search(text):
        return "count"
    return None


def unit_fits(asked: str | None, unit: str) -> bool:
    if asked is None:
        return True
    if asked == "count":
        return base_quantity(1.0, unit)[1] in COUNT_UNITS or unit == ""
    if asked == "%":
        return unit in ("%", "个百分点")
    if asked == "money":
        return unit.endswith("元")
    if asked == "area":
        return unit in _AREA_UNITS
    if asked == "duration":
        return unit in _DURATION_UNITS
    if asked == "capacity":
        return "/" in unit and unit.rsplit("/", 1)[1] in _PER_TIME
    # 16万辆 counts 辆, 1.03亿元 answers 多少万元; 个 counts anything
    return base_quantity(1.0, unit)[1] == base_quantity(1.0, asked)[1] or asked in COUNT_UNITS and unit in ("个", "")


_ROMAN_NUMBER = {"i": 1, "ii": 2, "iii": 3, "iv": 4, "v": 5, "一": 1, "二": 2, "三": 3, "四": 4, "五": 5}
_ONE = r"(?:iv|v|i{1,3}|[1-5一二三四五])"
_CLASS_RANGE = re.compile(rf"(?:class(?:es)?\s*(?P<a>{_ONE})(?:\s*(?:-|–|—|~|to|至|and)\s*(?:class\s*)?(?P<b>{_ONE}))?\b"
                          rf"|(?P<c>{_ONE})(?:\s*[-–—~至]\s*(?P<d>{_ONE}))?\s*类)", re.I)
_POOR = re.compile(r"劣|worse than|below class|超标|不达标", re.I)


def _class_number(text: str) -> int:
    text = text.lower()
    return int(text) if text.isdigit() else _ROMAN_NUMBER[text]


def water_classes(text: str) -> frozenset[str]:
    """The water-quality classes a text names (a range names each: Ⅰ-Ⅲ类 is 1, 2 and 3),
    and "poor" for 劣Ⅴ类 or worse than Class IV."""
    text = normalize_text(text)
    if _POOR.search(text):
        return frozenset({"poor"})
    found = set()
    for m in _CLASS_RANGE.finditer(text):
        low = m.group("a") or m.group("c")
        high = m.group("b") or m.group("d") or low
        a, b = _class_number(low), _class_number(high)
        found |= {str(n) for n in range(min(a, b), max(a, b) + 1)}
    return frozenset(found)


_TIMES = {"day": re.compile(r"昼间|白天|日间|daytime|day-time|\bday\b", re.I),
          "night": re.compile(r"夜间|夜晚|晚上|夜里|night", re.I)}


def times_of_day(text: str) -> frozenset[str]:
    return frozenset(name for name, pattern in _TIMES.items() if pattern.search(text))


def contradicts(intent: "Intent", indicator_text: str) -> bool:
    """A fact about other water classes or another time of day than the question's: 三类水质
    占比 for a 劣Ⅴ类 question, an 优良 share for water worse than Class IV, 昼间 for night-time."""
    stated_times = times_of_day(indicator_text)
    if intent.times and stated_times and not stated_times & intent.times:
        return True
    if not intent.classes:
        return False
    stated = water_classes(indicator_text)
    if "poor" in intent.classes:
        return "poor" not in stated
    return bool(stated) and not (stated & intent.classes)


_ALL = re.compile(r"全部|全都|均(?:为|达到?)|都(?:达到|是|为)|\ball (?:of )?(?:the |their |its )?|\bevery\b|\bfully\b", re.I)


_UP = re.compile(r"提高|提升|上升|增长|增加|改善|好转|increase|rise|rose|grow|grew|improv|higher|(?:go|goes|gone|went) up", re.I)
_DOWN = re.compile(r"下降|降低|减少|削减|回落|decline|decrease|drop|fall|fell|reduc|lower|(?:go|goes|gone|went|come|came) down", re.I)


def direction_of(text: str) -> str | None:
    up, down = bool(_UP.search(text)), bool(_DOWN.search(text))
    return "up" if up and not down else "down" if down and not up else None


_MOST = re.compile(r"最高|最多|最大|highest|most|largest|biggest|\btop\b", re.I)
_LEAST = re.compile(r"最低|最少|最小|lowest|least|smallest|fewest", re.I)


def _superlative(text: str) -> str | None:
    return "max" if _MOST.search(text) else "min" if _LEAST.search(text) else None


_WORD_NUMBERS = {w: n for n, w in enumerate("zero one two three four five six seven eight nine ten eleven twelve".split())}
_EN_NUMBER = r"\d+(?:,\d{3})*(?:\.\d+)?|" + "|".join(_WORD_NUMBERS)
_EN_AMOUNT = (rf"(?P<n>{_EN_NUMBER})(?:\s+(?P<scale>hundred|thousand|million|billion))?"
              r"(?:\s+(?P<unit>yuan|rmb|tonnes?|tons?|km|kilomet(?:re|er)s?|hectares?|mu|percent|per cent))?")
# a threshold said before an amount (more than 1,000 cases; 1,000 or more is read as at least 1,000),
# followed by what it counts: "PM2.5 below 30?" leaves the unit unsaid, and is no count
_EN_THRESHOLD = re.compile(
    rf"(?<![a-z])(?:(?P<ge>more than|over|above|at least|exceed(?:s|ed|ing)?|no (?:less|fewer) than)"
    rf"|(?P<le>fewer than|less than|under|below|at most|no more than))\s+{_EN_AMOUNT}", re.I)
_OR_MORE = re.compile(rf"(?<![a-z\d])({_EN_AMOUNT})\s+or (?:more|above)(?![a-z])", re.I)
_EN_SCALES = {"hundred": 1e2, "thousand": 1e3, "million": 1e6, "billion": 1e9}
_EN_BASE_UNITS = {"yuan": "元", "rmb": "元", "ton": "吨", "km": "公里", "kilomet": "公里", "hectare": "公顷", "mu": "亩",
                  "percent": "%", "per cent": "%"}
_NOT_COUNTED = re.compile(r"\s*(?:$|[?.,;]|(?:in|on|at|by|for|during|from|of|and|or|than)\b)", re.I)


def _threshold(text: str) -> Condition | None:
    """A threshold on an amount the question counts or measures, in base units: more than 1,000
    cases, at least five pilots, over 50 million yuan, 超过1万辆, 5个以上, 1亿元以上, 超过1000亩."""
    for m in mentions(text):  # Chinese: a figure written with its unit and a comparator
        if m.comparator != "=" and m.unit and m.measure == "level":
            value, base = base_quantity(m.number, m.unit)
            unit = "count" if base in COUNT_UNITS or not base else base
            return Condition(">=" if m.comparator in (">=", ">") else "<=", value, unit)
    text = _OR_MORE.sub(lambda m: "at least " + m.group(1), text)
    for m in _EN_THRESHOLD.finditer(text):
        unit_word = (m.group("unit") or "").lower()
        if not unit_word and _NOT_COUNTED.match(text, m.end()):
            continue
        number = _written_number(m.group("n"))
        number *= _EN_SCALES.get((m.group("scale") or "").lower(), 1.0)
        unit = next((base for word, base in _EN_BASE_UNITS.items() if unit_word.startswith(word)), "count")
        return Condition(">=" if m.group("ge") else "<=", number, unit)
    return None


def _written_number(written: str) -> float | None:
    """A number written in English words, in digits or in Chinese (two, 2, 两)."""
    written = written.lower()
    return float(_WORD_NUMBERS[written]) if written in _WORD_NUMBERS else parse_number(written)


def _places(top: re.Match) -> int:
    return int(_written_number(top.group(1) or top.group(2)) or 0)


def _condition(text: str) -> Condition | None:
    m = _NUMBER.search(text)
    if not m:
        threshold = _threshold(text)
        if threshold:
            return threshold
        # "all of their sections at good quality": a share of 100%
        return Condition(">=", 100.0, "%") if _ALL.search(text) and (_RATE.search(text) or re.search(
            r"比例|达标|优良|share|proportion|sections|rate", text, re.I)) else None
    unit = {"个百分点": "个百分点", "μg/m3": "μg/m3", "ug/m3": "μg/m3", "微克/立方米": "μg/m3", "微克": "μg/m3"}.get(
        m.group(2), "μg/m3" if m.group(2).startswith("microgram") else "%")
    around = text[max(0, m.start() - 12) : m.end() + 12]
    comparator = ">=" if _AT_LEAST.search(around) else "<=" if _AT_MOST.search(around) else "="
    return Condition(comparator, float(m.group(1)), unit)


_NEGATED = re.compile(r"(?:不是|而非|并非|不含|不包括|除了|除去|(?<![消去清拆排剔免])除|\bnot\b|\bexcluding|\bexcept\b|\brather than"
                      r"|\binstead of|\bother than)"
                      r"\W*(?:\w+\W+){0,1}?\W*$", re.I)


def _scope(text: str) -> str | None:
    """The scope the question asks about; one it sets aside ("not the central urban area",
    不是市区) is none."""
    lowered = text.lower()
    said = [(m.start(), m.end(), scope) for scope in SCOPES for m in re.finditer(re.escape(scope), text)]
    said += [(m.start(), m.end(), zh) for en, zh in _SCOPE_EN.items() for m in re.finditer(re.escape(en), lowered)]
    whole = [s for s in said if not any(o[0] <= s[0] and s[1] <= o[1] and o[1] - o[0] > s[1] - s[0] for o in said)]
    kept = [s for s in whole if not _NEGATED.search(lowered[max(0, s[0] - 24):s[0]])]
    order: dict[str, int] = {}
    for n, scope in enumerate((*SCOPES, *_SCOPE_EN.values())):
        order.setdefault(scope, n)
    return min(kept, key=lambda s: order[s[2]])[2] if kept else None
