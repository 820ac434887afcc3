"""The indicator vocabulary (`retrieval/data/indicators.json`): canonical ids with their
Chinese surface forms, English names and units. A fact's indicator text is mapped to an
id by its longest surface form whose units agree; a question names indicators in either
language. Indicators outside it keep their surface text and still answer."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from retrieval.text.normalize import normalize_text

DEFAULT_VOCABULARY = Path(__file__).parent.parent / "data" / "indicators.json"


@dataclass(frozen=True)
class Indicator:
    indicator_id: str
    zh: tuple[str, ...]
    en: tuple[str, ...]
    units: tuple[str, ...]  # empty: any unit
    generic: bool = False  # figures about many things (projects, funds): words must fit the question too

    @property
    def name_zh(self) -> str:
        return self.zh[0]

    @property
    def name_en(self) -> str:
        return self.en[0]

    def allows(self, unit: str) -> bool:
        return not self.units or re.sub(r"/(?:年|日|天)$", "", unit) in self.units  # 万吨/年 is a 万吨 capacity


@dataclass(frozen=True)
class Mentioned:
    indicator: Indicator
    start: int  # in the normalised question
    end: int


class Vocabulary:
    def __init__(self, indicators: tuple[Indicator, ...]):
        ids = [i.indicator_id for i in indicators]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"indicator ids must be unique; repeated: {', '.join(duplicates)}")
        self.indicators = indicators
        self.by_id = {i.indicator_id: i for i in indicators}
        forms = [(normalize_text(form), i) for i in indicators for form in i.zh]
        self._zh = sorted(forms, key=lambda f: len(f[0]), reverse=True)
        self._en = sorted(((_english_pattern(name), len(name), i, _probe(name)) for i in indicators for name in i.en),
                          key=lambda f: f[1], reverse=True)

    @classmethod
    def load(cls, path: Path = DEFAULT_VOCABULARY) -> "Vocabulary":
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            return cls(tuple(Indicator(row["id"], tuple(row["zh"]), tuple(row["en"]), tuple(row.get("units", ())),
                                       bool(row.get("generic", False)))
                             for row in data["indicators"]))
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise ValueError(f"the indicator vocabulary {path} cannot be read ({e}); restore it from the "
                             f"repository") from e

    def canonical(self, indicator_text: str, unit: str, measure: str = "level") -> str | None:
        """The id of the longest surface form in the text whose units allow the fact's (a
        change in 个百分点 or % is allowed for any indicator)."""
        text = normalize_text(indicator_text)
        for form, indicator in self._zh:
            if form in text and (indicator.allows(unit) or measure != "level"):
                return indicator.indicator_id
        return None

    def mentioned(self, question: str) -> list[Mentioned]:
        """Indicators a question names, longest match first, overlapping shorter ones dropped."""
        text = normalize_text(question)
        found: list[Mentioned] = []
        taken: list[tuple[int, int]] = []
        # Asides in parentheses may split a name: 国控(国考)断面水质优良(1-3类)比例.
        plain = re.sub(r"\([^()]{0,12}\)", "", text)
        candidates = [(m.start(), m.end(), i) for form, i in self._zh for m in re.finditer(re.escape(form), text)]
        candidates += [(m.start(), m.end(), i) for form, i in self._zh for m in re.finditer(re.escape(form), plain)
                       if not any(c[2] is i for c in candidates)]
        candidates += [(m.start(), m.end(), i) for pattern, _, i, probe in self._en if probe in text
                       for m in pattern.finditer(text)]
        for start, end, indicator in sorted(candidates, key=lambda c: (c[0] - c[1], c[0])):
            if any(start < e and s < end for s, e in taken):
                continue
            if any(f.indicator is indicator for f in found):
                continue
            taken.append((start, end))
            found.append(Mentioned(indicator, start, end))
        return found


_INFLECTION = r"(?:s|es|e?d|ing|ly|led|ment|ments)?"


def _probe(name: str) -> str:
    """A plain substring every match of the name holds (its first word's first letters, which no
    inflection changes): a cheap test before the pattern's."""
    words = re.findall(r"[a-z0-9.]+", name.lower())
    return words[0][:4] if words else ""


def _english_pattern(name: str) -> re.Pattern:
    """An English name's words in order, with up to four words or a parenthesis between
    them: provincial-controlled (and above) sections."""
    words = re.findall(r"[a-z0-9.]+", name.lower())
    gap = r"(?:[\W_]+[\w]+){0,4}?[\W_]+"
    def word(w: str) -> str:
        if w.endswith((".", "s")):
            return re.escape(w)
        if w.endswith("y") and len(w) >= 5:  # penalty, penalties
            return re.escape(w[:-1]) + "(?:y|ies|ied)"
        # plurals, and longer words' inflections: municipal(ly), control(led), invest(ed); not
        # invest(igation), credit(worthiness): another word
        return re.escape(w) + (_INFLECTION if len(w) >= 5 else "s?")
    return re.compile(r"(?<![a-z])" + gap.join(word(w) for w in words) + r"(?![a-z])")


@lru_cache(maxsize=4)
def default_vocabulary(path: Path = DEFAULT_VOCABULARY) -> Vocabulary:
    return Vocabulary.load(path)
