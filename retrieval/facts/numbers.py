"""Number mentions in a sentence: the quantities a report states, with their units,
comparators and ranges, told apart from what only looks like a number (years and dates,
heading ordinals, names such as PM2.5, 十四五 or “12345”) and from ranks and changes."""

from __future__ import annotations

import re
from dataclasses import dataclass

_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}
_CN_BIG = {"万": 10_000, "亿": 100_000_000}
_CN = "零〇一二两三四五六七八九十百千"

# Longest first: 个百分点 before 个, 万吨 before 万.
_BASE_UNITS = """个百分点 百分点 % ％ ‰ ㎡/km m2/km μg/m3 μg/m³ ug/m3 微克/立方米 mg/m3 毫克/立方米 mg/L 毫克/升 分贝 dB
元 吨 千克 公斤 千瓦时 千瓦 兆瓦 度 立方米 平方米 平方千米 平方公里 km2 公里 千米 米 km 亩 公顷 人次 人 户 家 个 件
项 条 座 所 批次 批 次 轮 场 张 类 支 处 名 位 艘 辆 台 套 宗 起 份 篇 天 小时 个工作日 工作日 个月 倍 成 年""".split()
_SCALED = {"元", "吨", "千瓦时", "千瓦", "度", "立方米", "平方米", "亩", "人次", "人", "户", "家", "个", "件", "辆", "台", "套"}
_UNITS = sorted(_BASE_UNITS + [p + u for u in _SCALED for p in ("万", "亿", "万亿")] + ["万亿", "万", "亿"],
                key=len, reverse=True)
_UNIT = "(?:余|多)?(?:" + "|".join(re.escape(u) for u in _UNITS) + r")(?:/(?:年|日|天))?"  # 万吨/年: a capacity
# Units that count things: a Chinese numeral is only a number before one of these.
_COUNTERS = set("个件项条座所批次轮场张类支处名位艘辆台套宗起份篇家户天人倍成万亿")

_ARABIC = r"\d+(?:,\d{3})*(?:\.\d+)?"
_NUMBER = rf"(?:{_ARABIC}|[{_CN}]+(?:点[{_CN}]+)?)"
_MENTION = re.compile(
    rf"(?P<percent>百分之)?(?P<n>{_NUMBER})\s*(?P<u1>{_UNIT})?"
    rf"(?:\s*(?P<dash>[-—–~～至到])\s*(?P<n2>{_NUMBER})\s*(?P<u2>{_UNIT})?)?"
)
_CANONICAL_UNIT = {"％": "%", "μg/m³": "μg/m3", "ug/m3": "μg/m3", "微克/立方米": "μg/m3", "毫克/立方米": "mg/m3",
                   "毫克/升": "mg/L", "百分点": "个百分点", "千米": "公里", "km": "公里", "平方千米": "平方公里",
                   "km2": "平方公里", "公斤": "千克", "dB": "分贝", "工作日": "个工作日"}
_SCALE = {"万亿": 1e12, "万": 1e4, "亿": 1e8, "千": 1e3}

_RANK = re.compile(rf"(?:(?:全省|全国|全市|全球|省内|国内|同类城市|重点城市|地级市)(?:排名|排|位居|居|列)?|排名|排|位居|居|列)"
                   rf"第\s*(?P<n>\d+|[{_CN}]+)\s*(?:位|名)?|第\s*(?P<m>\d+|[{_CN}]+)\s*(?:位|名)|(?:全省|全国)(?:前列|首位|领先)|(?P<g>[一二三特])等(?:奖|功)")
_CHANGE_BEFORE = re.compile(r"(?:下降|降低|减少|削减|压减|提高|提升|增长|增加|上升|改善|增幅|降幅|降|增|升|减|多|少)(?:了|约|近|超|达)?\s*$")
_TO = re.compile(r"(?:至|到|为)\s*$")
_BEFORE_GE = re.compile(r"(?:不低于|不少于|不小于|大于等于|≥|达到|达)\s*$")
_BEFORE = [(re.compile(r"(?:不低于|不少于|不小于|大于等于|≥)\s*$"), ">="),
           (re.compile(r"(?:不超过|不高于|不大于|小于等于|≤|控制在)\s*$"), "<="),
           (re.compile(r"(?:超过|大于|高于|多于|>)\s*$"), ">"),
           (re.compile(r"(?:低于|小于|少于|<)\s*$"), "<")]
_AFTER = [(re.compile(r"^\s*(?:以上|及以上)"), ">="), (re.compile(r"^\s*(?:以内|以下|及以下)"), "<=")]
_NOT_A_COUNT_BEFORE = set("第唯之统进单同逐每万")  # 第一 (a rank), 唯一, 之一, 统一, 进一步, 单一 ...


@dataclass(frozen=True)
class Mention:
    start: int  # of the number with its unit, in the sentence
    end: int
    number: float
    number_max: float | None
    unit: str  # canonical spelling; "" when none is written
    comparator: str  # =, >=, <=, >, <
    measure: str  # level, change or rank


def chinese_number(text: str) -> float | None:
    """一百二十三 -> 123, 两万 -> 20000, 三点五 -> 3.5; None when it is not a numeral."""
    if not text:
        return None
    if "点" in text:
        whole, _, frac = text.partition("点")
        head = chinese_number(whole)
        digits = [_CN_DIGITS.get(ch) for ch in frac]
        if head is None or None in digits:
            return None
        return head + float("0." + "".join(str(d) for d in digits))
    total, section, current = 0, 0, None
    for ch in text:
        if ch in _CN_DIGITS:
            current = _CN_DIGITS[ch] if current is None else current * 10 + _CN_DIGITS[ch]
        elif ch in _CN_UNITS:
            section += (1 if current is None else current) * _CN_UNITS[ch]
            current = None
        elif ch in _CN_BIG:
            total += (section + (current or 0)) * _CN_BIG[ch]
            section, current = 0, None
        else:
            return None
    return float(total + section + (current or 0))


def parse_number(text: str) -> float | None:
    try:
        return float(text.replace(",", ""))
    except ValueError:
        return chinese_number(text)


def canonical_unit(unit: str) -> str:
    return _CANONICAL_UNIT.get(unit, unit)


def base_quantity(number: float, unit: str) -> tuple[float, str]:
    """A value in its base unit, so 1.2亿元 and 12000万元 compare equal; %, 个, 吨 stay."""
    if "/" in unit and unit.rsplit("/", 1)[1] in ("年", "日", "天"):
        value, base = base_quantity(number, unit.rsplit("/", 1)[0])
        return value, f"{base}/{unit.rsplit('/', 1)[1]}"
    unit = canonical_unit(unit)
    if unit in ("万亿", "万", "亿"):
        return number * _SCALE[unit], ""  # 140万: a number at a scale, of nothing named
    for prefix in ("万亿", "万", "亿", "千"):  # longest first: 万亿元 is 1e12 元
        if unit.startswith(prefix) and len(unit) > len(prefix):
            return number * _SCALE[prefix], unit[len(prefix):]
    return number, unit


def _is_date_or_name(sentence: str, m: re.Match) -> bool:
    raw, unit = m.group("n"), m.group("u1") or ""
    before = sentence[max(0, m.start() - 3) : m.start()]
    after = sentence[m.end() : m.end() + 2]
    if re.fullmatch(r"(?:19|20)\d\d", raw) and (unit in ("", "年") or after[:1] in ("年", "-", "—", "～")):
        return True  # a year, alone or opening a year range
    if re.search(r"[A-Za-z]$", before) or re.match(r"[A-Za-z]", sentence[m.end(): m.end() + 1] if not unit else ""):
        return True  # PM2.5, PM10, O3, CO2, GB3095
    if not unit and (after[:1] in ("月", "日", "号", "时", "·", "+") or re.match(r"\.(?!\d)", after)):
        return True  # dates, 3+X, a list ordinal 1.
    if unit == "年" and not re.search(r"(?:提前|连续第?|近|超过)$", before):
        return True  # 一年来, 3年行动: only 连续三年, 连续第四年, 提前2年 are durations
    if before.endswith(("“", "「", "《")) and sentence[m.end() : m.end() + 1] in ("”", "」", "》"):
        return True  # a name in quotes: “12345”
    if before.endswith(("(", "（")) and sentence[m.end() : m.end() + 1] in (")", "）"):
        return True  # a heading ordinal: (一)
    return False


def _chinese_ok(sentence: str, m: re.Match) -> bool:
    """A Chinese numeral counts only as a quantity before a counter (三个, 两家, 九成), not
    in words (唯一, 统一, 进一步), and not as the 四个 of a “四个100%” label."""
    raw, unit = m.group("n"), (m.group("u1") or "").lstrip("余多")
    if re.search(r"\d", raw) or m.group("percent"):
        return True  # digits, or 百分之九十五
    consecutive_years = unit == "年" and re.search(r"(?:连续第?|提前)$", sentence[: m.start()])
    if not unit or unit[0] not in _COUNTERS and not consecutive_years:
        return False
    if unit == "类" and sentence[m.end() : m.end() + 1] in ("水", "及", "以"):
        return False  # 三类水质: a water class
    if sentence[m.start() - 1 : m.start()] in _NOT_A_COUNT_BEFORE and not consecutive_years:
        return False
    if re.match(r"\s*(?:[\d一二三四五六七八九十两]|[“\"]\s*[\d一二三四五六七八九十两])", sentence[m.end() : m.end() + 3]):
        return False  # labels and names: 四个100%, 五位一体, 四个“100%” (not 三轮“守护蓝天”行动)
    return not (raw == "一" and unit in ("大", "批", "类", "次", "场", "期"))  # 一大批, 一次性: phrases


def mentions(sentence: str) -> list[Mention]:
    out: list[Mention] = []
    for m in _MENTION.finditer(sentence):
        if m.start() > 0 and re.match(r"[\d.]", sentence[m.start() - 1]):
            continue
        if _is_date_or_name(sentence, m) or not _chinese_ok(sentence, m):
            continue
        if _in_short_quote(sentence, m.start()) and "%" not in sentence[m.start() : m.end() + 1]:
            continue  # a slogan: “千人百日”, “奋战100天”
        before = sentence[: m.start()]
        if (m.group("u1") or "").lstrip("余多")[:1] in _COUNTERS and re.match(r"\d", sentence[m.end() : m.end() + 1]):
            continue  # the 7个 of a “7个100%” label
        if re.search(r"(?<!连续)第\s*$", before):
            continue  # a rank: found by ranks(); 连续第四年 is four years running
        number = parse_number(m.group("n"))
        if number is None:
            continue
        unit = m.group("u2") or m.group("u1") or ""
        more = unit[:1] in ("余", "多")  # 100余篇: more than 100
        unit = unit.lstrip("余多")
        end = m.end()
        number_max = None
        if m.group("n2") is not None:
            number_max = parse_number(m.group("n2"))
            if number_max is None or number_max < number:
                number_max, end, unit = None, m.end("u1") if m.group("u1") else m.end("n"), (m.group("u1") or "").lstrip("余多")
        if m.group("percent"):
            unit = "%"
        if unit == "成" and not re.search(r"\d", m.group("n")):
            number, unit = number * 10, "%"  # 九成: nine tenths
        unit = canonical_unit(unit)
        if unit == "年" and number >= 1900:
            continue
        after = sentence[end:]
        comparator = next((c for p, c in _AFTER if p.match(after)), None)
        comparator = comparator or next((c for p, c in _BEFORE if p.search(before)), ">" if more else "=")
        if unit == "个百分点" or (_CHANGE_BEFORE.search(before) and not _TO.search(before)):
            measure = "change"
        else:
            measure = "level"
        out.append(Mention(m.start(), end, number, number_max, unit, comparator, measure))
    out += water_classes(sentence)
    out.sort(key=lambda m: m.start)
    return _lists_share_units(sentence, out)


def _lists_share_units(sentence: str, found: list[Mention]) -> list[Mention]:
    """In 21、18.2微克/立方米 the first number takes the unit written after the last."""
    out = list(found)
    for i in range(len(out) - 2, -1, -1):
        a, b = out[i], out[i + 1]
        if not a.unit and b.unit and re.fullmatch(r"\s*[、和及与]\s*", sentence[a.end : b.start]):
            out[i] = Mention(a.start, a.end, a.number, a.number_max, b.unit, a.comparator, b.measure)
    return out


def _in_short_quote(sentence: str, at: int, longest: int = 14) -> bool:
    opened = sentence.rfind("“", 0, at)
    if opened < 0 or sentence.rfind("”", 0, at) > opened:
        return False
    closed = sentence.find("”", at)
    return closed >= 0 and closed - opened <= longest


@dataclass(frozen=True)
class Rank:
    start: int
    end: int
    text: str


def ranks(sentence: str) -> list[Rank]:
    return [Rank(m.start(), m.end(), m.group(0)) for m in _RANK.finditer(sentence)
            if parse_number(m.group("n") or m.group("m") or "一") is not None]


_ROMAN_CLASS = re.compile(r"(?<![ⅠⅡⅢⅣⅤIV\-—～~至])(?P<r>Ⅳ|Ⅴ|Ⅲ|Ⅱ|Ⅰ|IV|V|III|II|I)\s*类(?!\s*[-—～~至])")
_ROMAN_VALUE = {"Ⅰ": 1, "Ⅱ": 2, "Ⅲ": 3, "Ⅳ": 4, "Ⅴ": 5, "I": 1, "II": 2, "III": 3, "IV": 4, "V": 5}


def water_classes(sentence: str) -> list[Mention]:
    """A water-quality class stated as a level: 提升为Ⅱ类 (not the Ⅰ-Ⅲ类 of an indicator name)."""
    return [Mention(m.start(), m.end(), float(_ROMAN_VALUE[m.group("r")]), None, "类", "=", "level")
            for m in _ROMAN_CLASS.finditer(sentence)
            if re.search(r"(?:为|达到?|保持|提升至|提升为|稳定在|优于)\s*$", sentence[: m.start()])]
