"""Cities the reports come from or are asked about, with the names people use for them.

Traditional forms need no entry: queries are converted to simplified characters first."""

from __future__ import annotations

import re

CITY_NAMES: dict[str, tuple[str, ...]] = {
    # Zhejiang
    "杭州": ("hangzhou",), "宁波": ("ningbo",), "温州": ("wenzhou",), "嘉兴": ("jiaxing",),
    "湖州": ("huzhou",), "绍兴": ("shaoxing",), "金华": ("jinhua",), "衢州": ("quzhou",),
    "舟山": ("zhoushan",), "台州": ("taizhou",), "丽水": ("lishui",),
    # Jiangxi
    "南昌": ("nanchang",), "赣州": ("ganzhou",), "九江": ("jiujiang",), "上饶": ("shangrao",),
    "吉安": ("ji'an", "jian"), "宜春": ("yichun",), "抚州": ("fuzhou jiangxi",),
    "景德镇": ("jingdezhen",), "萍乡": ("pingxiang",), "新余": ("xinyu",), "鹰潭": ("yingtan",),
    # Fujian
    "福州": ("fuzhou",), "厦门": ("xiamen", "amoy"), "泉州": ("quanzhou",), "漳州": ("zhangzhou",),
    "莆田": ("putian",), "龙岩": ("longyan",), "三明": ("sanming",), "南平": ("nanping",),
    "宁德": ("ningde",),
    # Elsewhere, often compared with
    "北京": ("beijing", "peking"), "上海": ("shanghai",), "广州": ("guangzhou", "canton"),
    "深圳": ("shenzhen",), "南京": ("nanjing",), "苏州": ("suzhou",), "成都": ("chengdu",),
    "武汉": ("wuhan",), "重庆": ("chongqing",), "天津": ("tianjin",),
}

_ENGLISH = {alias: city for city, aliases in CITY_NAMES.items() for alias in aliases}
_ENGLISH_PATTERN = re.compile(
    r"\b(" + "|".join(sorted(map(re.escape, _ENGLISH), key=len, reverse=True)) + r")\b", re.I
)
_CHINESE_PATTERN = re.compile("|".join(sorted(CITY_NAMES, key=len, reverse=True)))


def cities_in(text: str) -> list[str]:
    """Cities named in text (simplified Chinese or English/pinyin), in order of first mention."""
    found: dict[str, int] = {}
    for m in _CHINESE_PATTERN.finditer(text):
        found.setdefault(m.group(0), m.start())
    for m in _ENGLISH_PATTERN.finditer(text):
        found.setdefault(_ENGLISH[m.group(0).lower()], m.start())
    return sorted(found, key=found.get)


def most_named_city(text: str) -> str | None:
    counts: dict[str, int] = {}
    for m in _CHINESE_PATTERN.finditer(text):
        counts[m.group(0)] = counts.get(m.group(0), 0) + 1
    return max(counts, key=counts.get) if counts else None


def english_name(city: str) -> str:
    aliases = CITY_NAMES.get(city)
    return aliases[0].title() if aliases else city
