"""Tokens for BM25: jieba over the normal form, with a dictionary of the reports'
vocabulary, stop words dropped alike from chunks and queries."""

from __future__ import annotations

import hashlib
import logging
import re
import sqlite3
import threading
import warnings
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from retrieval.text.normalize import normalize
from retrieval.text.substring_table import SubstringTable, write_table

DATA = Path(__file__).parent.parent / "data"
log = logging.getLogger("reportqa.tokens")
_WORDLIKE = re.compile(r"[\w\u4e00-\u9fff%.+\-]*[\w\u4e00-\u9fff%]")
# A term a report coins and marks as one (“五书同达”, 《…条例》): a whole token beside jieba's
# cut, which splits such terms differently from one context to the next.
LONGEST_MARKED_TERM = 12
_MARKED_TERM = re.compile(r"[“「『《\"]([^“”「」『』《》\"\s]{2,%d})[”」』》\"]" % LONGEST_MARKED_TERM)
_CJK = re.compile(r"[\u4e00-\u9fff]")
_ALL_CJK = re.compile(r"[\u4e00-\u9fff]+")
LONGEST_PHRASE_WORDS = 4
VERSION = 3  # of how tokens are made from jieba's cut; the index records it


def _read_list(path: Path) -> frozenset[str]:
    return frozenset(
        line.strip() for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    )


@dataclass(frozen=True)
class TokenizerConfig:
    domain_words: Path = DATA / "domain_words.txt"
    stopwords: Path = DATA / "stopwords.txt"
    question_words: Path = DATA / "question_words.txt"
    mode: str = "search"  # jieba's search mode also emits the words inside long compounds
    # a run of jieba's words a report repeats this often is also one token in its chunks
    # (its own coinage, cut apart by jieba); 0 turns it off
    phrase_repeats: int = 3

    def __post_init__(self):
        if self.mode not in ("search", "accurate"):
            raise ValueError(f"tokenizer mode must be 'search' or 'accurate', got {self.mode!r}")
        if self.phrase_repeats < 0 or self.phrase_repeats == 1:
            raise ValueError(f"phrase_repeats must be 0 (off) or at least 2, got {self.phrase_repeats}")

    def fingerprint(self) -> str:
        """Changes whenever the tokens of a text could change: the index records it."""
        h = hashlib.sha256(f"{self.mode} {VERSION} {self.phrase_repeats}".encode())
        for path in (self.domain_words, self.stopwords):
            h.update(Path(path).read_bytes())
        return h.hexdigest()[:16]


@dataclass(frozen=True)
class Token:
    text: str
    start: int  # offsets in the source text
    end: int


def _import_jieba():
    with warnings.catch_warnings():  # jieba 0.42 imports pkg_resources, deprecated upstream
        warnings.simplefilter("ignore")
        import jieba

    jieba.setLogLevel(logging.WARNING)
    return jieba


class Tokenizer:
    """dictionary_table: where a one-question process keeps jieba's dictionary (with the domain
    words) as a table, so that cutting a question never loads the whole dictionary; the first
    process to load it writes the table. None loads it whole, as a server does once."""

    def __init__(self, config: TokenizerConfig = TokenizerConfig(), dictionary_table: Path | None = None):
        self.config = config
        self.dictionary_table = dictionary_table
        self._lock = threading.Lock()

    @cached_property
    def _jieba(self):
        tok = _import_jieba().Tokenizer()
        tok.initialize()
        for line in Path(self.config.domain_words).read_text(encoding="utf-8").splitlines():
            parts = line.split()
            if parts:
                tok.add_word(parts[0].lower(), int(parts[1]) if len(parts) > 1 else None)
        if self.dictionary_table is not None and not self.dictionary_table.exists():
            try:
                write_table(self.dictionary_table, ((w, n, 0.0) for w, n in tok.FREQ.items()), {"total": str(tok.total)})
            except (OSError, sqlite3.Error) as e:  # a read-only cache: questions are cut as before
                log.warning("jieba's dictionary table %s cannot be written (%s); cold questions load it whole",
                            self.dictionary_table, e)
        return tok

    @cached_property
    def _table(self) -> SubstringTable:
        return SubstringTable(self.dictionary_table)

    def _cutter_for(self, text: str, query: bool):
        """The whole dictionary when it is loaded or must be; else, for a question, jieba
        holding just the dictionary words that occur in it, which cuts it identically."""
        table = self.dictionary_table
        if not query or "_jieba" in self.__dict__ or table is None or not table.exists():
            return self._jieba
        try:
            words = self._table.within([text])
        except sqlite3.Error as e:  # a damaged table: cut as a server does, and say so once
            log.warning("jieba's dictionary table %s is unusable (%s); delete it to have it rewritten", table, e)
            return self._jieba
        tok = _import_jieba().Tokenizer()
        tok.FREQ = {word: number for word, (number, _) in words.items()}
        tok.total = int(self._table.meta["total"])
        tok.initialized = True
        return tok

    @cached_property
    def stopwords(self) -> frozenset[str]:
        return _read_list(Path(self.config.stopwords))

    @cached_property
    def question_words(self) -> frozenset[str]:
        return _read_list(Path(self.config.question_words))

    def repeated_phrases(self, text: str) -> frozenset[str]:
        """Phrases a report repeats: runs of two to four of its Chinese words (up to
        LONGEST_MARKED_TERM characters, no stop word, not beginning or ending on one character)
        said at least phrase_repeats times, less the runs only ever seen inside a longer such
        phrase. Its coinages that jieba cuts apart are among them (码头岸电), and so are set
        phrases (全省第一) that only restate their words. They come from the report alone, so
        adding a report changes no other report's tokens."""
        if not self.config.phrase_repeats:
            return frozenset()
        with self._lock:
            words = list(self._jieba.cut(normalize(text).text))
        word = lambda w: bool(_ALL_CJK.fullmatch(w)) and w not in self.stopwords  # noqa: E731
        counts: dict[tuple[str, ...], int] = {}
        for i in range(len(words)):
            if len(words[i]) < 2 or not word(words[i]):  # not 年工作, 个问题
                continue
            for n in range(2, LONGEST_PHRASE_WORDS + 1):
                run = tuple(words[i : i + n])
                if len(run) < n or not word(run[-1]) or len("".join(run)) > LONGEST_MARKED_TERM:
                    break
                if len(run[-1]) > 1:
                    counts[run] = counts.get(run, 0) + 1
        repeated = {run: n for run, n in counts.items() if n >= self.config.phrase_repeats}
        inner = {run[i:j] for run, n in repeated.items() for i in range(len(run)) for j in range(i + 2, len(run) + 1)
                 if (i, j) != (0, len(run)) and repeated.get(run[i:j]) == n}
        return frozenset("".join(run) for run in repeated if run not in inner)

    def tokens_with_offsets(self, text: str, query: bool = False, phrases: frozenset[str] = frozenset()) -> list[Token]:
        """phrases: whole tokens wherever they occur, beside the cut (a report's repeated_phrases)."""
        norm = normalize(text)
        drop = self.stopwords | self.question_words if query else self.stopwords
        with self._lock:  # jieba's tokenizer keeps state while it cuts
            pieces = list(self._cutter_for(norm.text, query).tokenize(norm.text, mode=self.config.mode == "search" and "search" or "default"))
        out = []
        for word, start, end in pieces:
            word = word.strip()
            if not word or word in drop or not _WORDLIKE.fullmatch(word):
                continue
            s, e = norm.source_span(start, end)
            out.append(Token(word, s, e))
        cut = {t.text for t in out}
        for m in _MARKED_TERM.finditer(norm.text):
            word = m.group(1)
            if word not in cut and word not in drop and _CJK.search(word) and _WORDLIKE.fullmatch(word):
                out.append(Token(word, *norm.source_span(m.start(1), m.end(1))))
        have = {t.text for t in out}
        for phrase in phrases - have:
            start = norm.text.find(phrase)
            while start >= 0:
                out.append(Token(phrase, *norm.source_span(start, start + len(phrase))))
                start = norm.text.find(phrase, start + len(phrase))
        return out

    def tokens(self, text: str, query: bool = False, phrases: frozenset[str] = frozenset()) -> list[str]:
        return [t.text for t in self.tokens_with_offsets(text, query, phrases)]
