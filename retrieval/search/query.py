"""What a question asks about: its language, the cities and years it names, whether it
compares cities, and the BM25 tokens for it (English helped by a small glossary)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from retrieval.facts.vocabulary import DEFAULT_VOCABULARY, default_vocabulary
from retrieval.text.normalize import is_traditional, normalize_text, to_simplified
from retrieval.text.places import CITY_NAMES, cities_in
from retrieval.text.tokenize import DATA, Tokenizer

_CJK_RUN = re.compile(r"[\u4e00-\u9fff]+")
_ENGLISH_WORD = re.compile(r"\b[A-Za-z][a-z]+\b")  # Wenzhou, what; not PM, COD, VOCs
_YEAR = re.compile(r"(?<!\d)((?:19|20)\d\d)(?!\d)")
_ACROSS_CITIES = re.compile(
    r"哪个城市|哪些城市|哪座城市|哪几个城市|哪个市|哪些市|各城市|各市|几个城市|哪些地方|哪个地方|对比|比较|分别"
    r"|which cit|what cit|which (?:bureau|report)s?\b|compare|comparison|across (?:the )?cities|each city|all cities",
    re.I,
)


_ASKS_PLANS = re.compile(
    r"目标|计划|规划|打算|力争|拟|预计|预期|将要|将于|将达到|要求|明年|下一步|(?:到|至)(?:19|20)\d\d年|(?:19|20)\d\d年(?:要|将)"
    r"|(?<![a-z])(?:targets?|targeted|goals?|plans?|planned|planning|aims?|aimed|will|expects?|expected|intends?|intended"
    r"|objectives?|forecasts?|pledged?)(?![a-z])", re.I)
_MET_TARGET = re.compile(r"(?:完成|实现|达到|达成)了?.{0,8}目标|(?<![a-z])(?:met|achieved|reached|hit) (?:the |its |their )?"
                         r"(?:(?!and |or )\w+ )?(?:targets?|goals?)(?![a-z])", re.I)


# "rather than just planning them": the kind asked (done, not planned), no topic of its own
_PLANS_SET_ASIDE = re.compile(r"(?<![a-z])(?:rather than|instead of|not)\s+(?:(?:just|only|merely|simply)\s+)?"
                              r"(?:being\s+)?(?:planning|planned|plans?|targeted|targets?|pledged?)(?:\s+(?:them|it|one|to))?(?![a-z])", re.I)


# what has been done: a past tense, or a word of completion (了 of 建了, not 了解)
_ASKS_RESULTS = re.compile(r"已|了(?!解)|截至|截止|实现|完成|取得|达成|做到"
                           r"|(?<![a-z])(?:did|was|were|had|has been|have been|achieved|completed|reached|recorded|managed)(?![a-z])",
                           re.I)


def asks_results(question: str) -> bool:
    """Whether a question asks what was done (建了多少, did … launch), not what is planned."""
    return bool(_ASKS_RESULTS.search(question)) and not asks_plans(question)


def asks_plans(question: str) -> bool:
    """Whether a question asks about targets or plans (到2025年, will, pledged), not about a target
    already met (完成了年度目标任务)."""
    return bool(_ASKS_PLANS.search(question)) and not _MET_TARGET.search(question)


MAX_QUESTION_CHARS = 2000
_SEARCHABLE = re.compile(r"[\w\u4e00-\u9fff]")


class QuestionError(ValueError):
    """A question that cannot be searched; `code` names the mistake for programs."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def checked_question(text: str | None, limit: int = MAX_QUESTION_CHARS, what: str = "question") -> str:
    """The question, stripped, or QuestionError saying what to fix."""
    text = (text or "").strip()
    if not text:
        raise QuestionError("empty_query", f"the {what} is empty: type a question, e.g. 温州国控断面水质")
    if len(text) > limit:
        raise QuestionError("query_too_long", f"the {what} has {len(text)} characters; the limit is {limit}")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise QuestionError("unencodable_text", f"the {what} holds characters that are not valid Unicode text "
                                                "(a lone surrogate?); send it as UTF-8") from None
    if not _SEARCHABLE.search(text):
        raise QuestionError("nothing_to_search", f"the {what} has no words or numbers to search for")
    return text


@dataclass(frozen=True)
class QueryAnalysis:
    text: str  # as asked
    simplified: str
    language: str  # zh, zh-hant or en
    cities: tuple[str, ...]
    years: tuple[int, ...]
    across_cities: bool
    tokens: tuple[str, ...]  # for BM25, glossary terms included
    dense_text: str  # for the encoder: an English question carries its glossary terms along
    glossary: tuple[str, ...] = ()  # the Chinese terms of each English phrase matched (alternatives, space-separated)
    synonym_tokens: tuple[str, ...] = ()  # BM25 tokens of the domain synonyms of words in the question
    synonym_groups: tuple[tuple[str, ...], ...] = ()  # the synonym groups a word of it (or of its glossary terms) is in
    asks_plans: bool = False  # about targets or plans (`asks_plans`)
    asks_results: bool = False  # about what was done (`asks_results`)


def _singular_or_plural(phrase: str) -> tuple[str, str]:
    """What both forms of a phrase contain, and a pattern for either: pilot(s), business(es),
    capacit(y|ies), a plural entry's singular (mobile source(s))."""
    if phrase.endswith("y") and phrase[-2:-1] not in tuple("aeiou"):
        return phrase[:-1], re.escape(phrase[:-1]) + "(?:y|ies)"
    last = phrase.rsplit(" ", 1)[-1]
    if " " in phrase and len(last) > 3 and last.endswith("s") and not last.endswith(("ss", "us", "is")):
        # mobile sources: a mobile source too (a single word may be a verb: scraps, plans)
        return phrase[:-1], re.escape(phrase[:-1]) + "s?"
    return phrase, re.escape(phrase) + "(?:e?s)?"


def _unhyphenated(text: str) -> str:
    """Words joined by a hyphen read as two (notification-and-commitment), keeping every offset;
    a hyphen after a digit (NH3-N) stays."""
    return re.sub(r"(?<=[a-z])-(?=[a-z])", " ", text)


def said(word: str, normal_text: str) -> bool:
    """Whether a text in normal form holds the word: an English word whole (cod, not the cod
    of code), a Chinese one anywhere."""
    if word.isascii():
        return bool(re.search(rf"(?<![a-z]){re.escape(word)}(?![a-z])", normal_text))
    return word in normal_text


def language_of(text: str) -> str:
    """en, zh or zh-hant. An English question quoting a Chinese term ('Seventh Clinic' (第七诊所))
    is English: its English words outnumber its runs of Chinese; pollutant names (PM2.5, COD)
    are no English."""
    runs = len(_CJK_RUN.findall(text))
    if not runs or len(_ENGLISH_WORD.findall(text)) > runs:
        return "en"
    return "zh-hant" if is_traditional(text) else "zh"


class QueryAnalyzer:
    """English reaches BM25 through Chinese terms: the glossary's phrases, and the indicators
    of the answers' vocabulary (one list of indicator names for both), read as English."""

    def __init__(self, tokenizer: Tokenizer, glossary_path: Path = DATA / "glossary_en_zh.tsv",
                 synonyms_path: Path = DATA / "synonyms.tsv", vocabulary_path: Path | None = DEFAULT_VOCABULARY):
        self.tokenizer = tokenizer
        self.glossary_path = glossary_path
        self.synonyms_path = synonyms_path
        self.vocabulary_path = vocabulary_path

    def indicator_terms(self, english: str) -> tuple[list[str], str]:
        """The Chinese names of the indicators an English question names, and the question
        without those names (so "fine particulate" is not also read as a 罚款 fine). The
        vocabulary is loaded only for English: a cold Chinese question never compiles it."""
        text = normalize_text(english)
        if self.vocabulary_path is None:
            return [], text
        terms = []
        phrases = self._glossary_spans(text)
        for m in default_vocabulary(self.vocabulary_path).mentioned(text):
            around = [zh for s, e, zh in phrases if s <= m.start and m.end <= e and e - s > m.end - m.start]
            # a longer glossary phrase around the name says more of it: which of the indicator's
            # names is meant ("volatile organic compound": 挥发性有机物, not every pollutant of
            # emission_reduction), or else what it adds to them ("sea outfalls": 入海排口)
            if any(set(zh.split()) & set(m.indicator.zh) for zh in around):
                continue
            terms.append(" ".join(m.indicator.zh))
            if not around:
                text = text[: m.start] + " " * (m.end - m.start) + text[m.end :]
        return terms, text

    @cached_property
    def _synonyms(self) -> list[tuple[str, ...]]:
        return [tuple(w.strip().lower() for w in line.split("\t") if w.strip())
                for line in Path(self.synonyms_path).read_text(encoding="utf-8").splitlines()
                if line.strip() and not line.startswith("#")]

    def synonym_groups(self, normal_text: str) -> tuple[tuple[str, ...], ...]:
        """The synonym groups a word of the text belongs to (found in its normal form, so 国控
        inside 国控断面 counts)."""
        return tuple(group for group in self._synonyms if any(said(word, normal_text) for word in group))

    def synonym_tokens(self, normal_text: str, tokens: list[str], groups: tuple[tuple[str, ...], ...]) -> tuple[str, ...]:
        """Tokens of the words of the question's synonym groups (`synonym_groups`) that it does
        not say, less those it already has."""
        extra: list[str] = []
        for group in groups:
            for word in group:
                if not said(word, normal_text):
                    extra += [t for t in self.tokenizer.tokens(word, query=True) if t not in tokens and t not in extra]
        return tuple(extra)

    @cached_property
    def _glossary(self) -> list[tuple[str, re.Pattern, str]]:
        entries = []
        for line in Path(self.glossary_path).read_text(encoding="utf-8").splitlines():
            if line.strip() and not line.startswith("#") and "\t" in line:
                phrase, terms = line.split("\t", 1)
                entries.append((phrase.strip(), terms.strip()))
        entries += [(alias, city) for city, aliases in CITY_NAMES.items() for alias in aliases]
        # Longest phrases first (by what both forms hold, not by pattern), so "hazardous waste" wins
        # over "waste" and "sea outfalls" over "outfalls"; a plural is the phrase too.
        forms: dict[str, tuple[str, str]] = {}
        for phrase, zh in entries:
            common, pattern = _singular_or_plural(_unhyphenated(phrase.lower()))
            if common in forms:  # nature reserve and nature reserves: one phrase, the terms of both
                pattern, said_before = forms[common]
                zh = " ".join(dict.fromkeys(said_before.split() + zh.split()))
            forms[common] = (pattern, zh)
        return sorted(((common, re.compile(r"(?<![a-z])" + pattern + r"(?![a-z])"), zh)
                       for common, (pattern, zh) in forms.items()), key=lambda e: -len(e[0]))

    def _glossary_spans(self, text: str) -> list[tuple[int, int, str]]:
        """Where glossary phrases occur in a lower-case text (hyphens kept: a hyphen and a space are
        one character), with their Chinese terms."""
        lowered = _unhyphenated(text)
        return [(*m.span(), zh) for phrase, pattern, zh in self._glossary if phrase in lowered
                for m in pattern.finditer(lowered)]

    def glossary_terms(self, text: str) -> list[str]:
        lowered, terms = _unhyphenated(text.lower()), []
        for phrase, pattern, zh in self._glossary:
            # the plain substring test first (what both forms contain): a thousand phrases, few in any question
            if phrase in lowered and pattern.search(lowered):
                terms.append(zh)
                lowered = pattern.sub(" ", lowered)
        return terms

    def analyze(self, text: str) -> QueryAnalysis:
        simplified = to_simplified(text)
        language = language_of(text)
        tokens = self.tokenizer.tokens(text, query=True)
        if language == "en":
            named, rest = self.indicator_terms(_PLANS_SET_ASIDE.sub(" ", simplified))
            glossary = named + [t for t in self.glossary_terms(rest) if t not in named]
        else:
            glossary = self.glossary_terms(simplified)
        for terms in glossary:  # each Chinese word once per phrase: an indicator's many names are one mention
            tokens.extend(dict.fromkeys(self.tokenizer.tokens(terms, query=True)))
        dense_text = simplified if language != "en" or not glossary else f"{simplified} ({' '.join(glossary)})"
        said_text = normalize_text(f"{simplified} {' '.join(glossary)}")
        groups = self.synonym_groups(said_text)
        synonyms = self.synonym_tokens(said_text, tokens, groups)
        cities = tuple(cities_in(simplified))
        years = tuple(sorted({int(y) for y in _YEAR.findall(simplified)}))
        across = bool(_ACROSS_CITIES.search(simplified)) or len(cities) > 1
        return QueryAnalysis(text, simplified, language, cities, years, across, tuple(tokens), dense_text,
                             tuple(glossary), synonyms, groups, asks_plans(simplified),
                             asks_results(simplified))
