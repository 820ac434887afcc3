"""One normal form for chunks and queries alike: half-width, simplified, lower case,
Roman numerals as digits. Every output character remembers the source character it
came from, so matches in the normal form map back to exact offsets for highlights."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

_ROMAN = {"i": 1, "ii": 2, "iii": 3, "iv": 4, "v": 5, "vi": 6}
# Roman numerals for water-quality classes: Ⅰ-Ⅲ类, II类 (after NFKC, lower case).
_ROMAN_CLASS = re.compile(r"(?<![a-z])(iv|v?i{1,3}|v)(?=\s*(?:[-~～至到]\s*(?:iv|v?i{1,3}|v)\s*)?类)")


@lru_cache(maxsize=1)
def _t2s():
    import opencc

    return opencc.OpenCC("t2s")


@dataclass(frozen=True)
class Normalized:
    text: str
    origin: tuple[int, ...]  # origin[i]: index in the source of text[i]

    def source_span(self, start: int, end: int) -> tuple[int, int]:
        return self.origin[start], self.origin[end - 1] + 1


def to_simplified(text: str) -> str:
    return _t2s().convert(text)


def _fold_char(ch: str) -> str:
    if ch.isascii():
        return ch.lower()
    return unicodedata.normalize("NFKC", ch).lower()


def normalize(text: str) -> Normalized:
    simplified = to_simplified(text)
    if len(simplified) != len(text):  # a phrase-level conversion changed the length
        simplified = "".join(to_simplified(ch) for ch in text)
    chars, origin = [], []
    for i, ch in enumerate(simplified):
        for out in _fold_char(ch):
            chars.append(out)
            origin.append(i)
    folded = "".join(chars)
    # Roman numerals to digits, keeping one origin per output character.
    pieces, origins, pos = [], [], 0
    for m in _ROMAN_CLASS.finditer(folded):
        pieces.append(folded[pos : m.start()])
        origins.extend(origin[pos : m.start()])
        pieces.append(str(_ROMAN[m.group(1)]))
        origins.append(origin[m.start()])
        pos = m.end()
    pieces.append(folded[pos:])
    origins.extend(origin[pos:])
    return Normalized("".join(pieces), tuple(origins))


def normalize_text(text: str) -> str:
    return normalize(text).text


def is_traditional(text: str) -> bool:
    return to_simplified(text) != text
