"""The library's front door: a collection of reports on disk, its index, and the
searches and answers over it. Reads never wait for writes: a write builds a new
snapshot aside and swaps it in whole, so no search sees a report half-added."""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from retrieval.answers.extractive import Answer, AnswerConfig, answer
from retrieval.embedding.batching import QueryBatcher
from retrieval.backends.local.corpus import CorpusIndex, IndexBuilder, IndexSettings, Progress
from retrieval.embedding.encoders import Encoder, EncoderConfig, encoder_for
from retrieval.models import Document
from retrieval.search.query import QueryAnalyzer
from retrieval.documents.reading import ReadProblem, ReportError, doc_id_for, document_from_bytes, read_reports, report_files
from retrieval.search.searcher import Filters, SearchConfig, Searcher, SearchOutcome
from retrieval.backends.local.store import Expectation, IndexStore
from retrieval.text.tokenize import Tokenizer, TokenizerConfig

MAX_REPORT_BYTES = 5 * 1024 * 1024
_SAFE_NAME = re.compile(r"^[0-9A-Za-z_\-\u4e00-\u9fff][0-9A-Za-z_.\-\u4e00-\u9fff]{0,120}$")


class UnknownDocument(KeyError):
    pass


@dataclass(frozen=True)
class EngineConfig:
    index_dir: Path
    seeds_dir: Path
    project_root: Path  # citations name files relative to this
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)
    index: IndexSettings = field(default_factory=IndexSettings)
    search: SearchConfig = field(default_factory=SearchConfig)
    answer: AnswerConfig = field(default_factory=AnswerConfig)
    cache_size: int = 256


@dataclass(frozen=True)
class IndexReport:
    documents: int
    chunks: int
    embedded: int  # chunks embedded in this run; the rest were reused
    problems: tuple[ReadProblem, ...]


class Engine:
    def __init__(self, config: EngineConfig, encoder: Encoder | None = None):
        self.config = config
        self.tokenizer = Tokenizer(config.tokenizer)
        self.encoder = encoder or encoder_for(config.encoder)
        self.analyzer = QueryAnalyzer(self.tokenizer)
        self.builder = IndexBuilder(self.tokenizer, self.encoder, config.index)
        self.store = IndexStore(config.index_dir)
        self._searcher: Searcher | None = None
        self._write_lock = threading.Lock()
        self._cache: OrderedDict = OrderedDict()
        self._vectors: OrderedDict = OrderedDict()
        self._cache_lock = threading.Lock()
        self._batcher = QueryBatcher(self.encoder.encode_queries)

    # ----- the collection -------------------------------------------------

    def expectation(self) -> Expectation:
        return Expectation(self.encoder.model_id, self.encoder.dimension,
                           self.config.tokenizer.fingerprint(), self.config.index.chunking.max_chars)

    def cite(self, path: Path) -> str:
        path = Path(path).resolve()
        try:
            return path.relative_to(Path(self.config.project_root).resolve()).as_posix()
        except ValueError:
            return str(path)

    @property
    def corpus(self) -> CorpusIndex:
        if self._searcher is None:
            raise RuntimeError("no index is loaded: call load() or build() first")
        return self._searcher.corpus

    def has_saved_index(self) -> bool:
        return self.store.exists()

    def load(self) -> CorpusIndex:
        corpus = self.store.load(self.expectation(), self.config.index)
        self._install(corpus)
        return corpus

    def build(self, progress: Progress | None = None) -> IndexReport:
        """Index exactly the reports in seeds_dir, reusing what the saved index holds."""
        with self._write_lock:
            documents, problems = read_reports(report_files(self.config.seeds_dir), self.cite)
            previous = self._searcher.corpus if self._searcher else self._previous_or_none()
            corpus, embedded = self.builder.build(documents, previous, progress)
            self.store.save(corpus, self.expectation())
            self._install(corpus)
        return IndexReport(len(corpus.documents), len(corpus), embedded, tuple(problems))

    def load_or_build(self, progress: Progress | None = None) -> IndexReport | None:
        if self.has_saved_index():
            self.load()
            return None
        return self.build(progress)

    def _previous_or_none(self) -> CorpusIndex | None:
        """The saved index, when it can serve as a source of reusable vectors."""
        if not self.store.exists():
            return None
        try:
            return self.store.load(self.expectation(), self.config.index)
        except Exception:  # a stale or corrupt index is rebuilt from scratch, not reused
            return None

    def searcher(self, config: SearchConfig | None = None) -> Searcher:
        """A searcher over the current snapshot, with other search settings to compare."""
        return Searcher(self.corpus, self.encoder, self.analyzer, config or self.config.search, self._query_vector)

    def _install(self, corpus: CorpusIndex) -> None:
        self._searcher = Searcher(corpus, self.encoder, self.analyzer, self.config.search, self._query_vector)
        with self._cache_lock:
            self._cache.clear()

    def warm_up(self) -> None:
        """The first pass through the model is several times slower than the rest: take it
        before serving, not on a user's first question."""
        self.encoder.encode_queries(["warm up 预热"])
        self.encoder.encode_passages(["warm up 预热"])
        self.tokenizer.tokens("预热")

    def add_document(self, name: str, data: bytes) -> Document:
        """Add or replace one report (UTF-8 or GBK text). It is stored in seeds_dir as UTF-8,
        so its citations open as every other report's do."""
        if not _SAFE_NAME.match(name) or ".." in name:
            raise ReportError(f"{name!r} is not a usable file name: use letters, digits, Chinese, _ - and .")
        if not name.endswith(".txt"):
            name += ".txt"
        if len(data) > MAX_REPORT_BYTES:
            raise ReportError(f"{name}: {len(data)} bytes is over the {MAX_REPORT_BYTES} byte limit")
        target = Path(self.config.seeds_dir) / name
        doc = document_from_bytes(data, doc_id_for(target), self.cite(target), name)
        with self._write_lock:
            current = self.corpus
            others = [d for d in current.documents.values() if d.doc_id != doc.doc_id]
            corpus, _ = self.builder.build(others + [doc], current)
            # The file first: if saving the index fails, the next `reportqa index` still finds it.
            tmp = target.with_name(f".{target.name}.tmp")
            tmp.write_text(doc.text, encoding="utf-8", newline="")
            tmp.replace(target)
            self.store.save(corpus, self.expectation())
            self._install(corpus)
        return corpus.documents[doc.doc_id]

    def delete_document(self, doc_id: str) -> None:
        with self._write_lock:
            current = self.corpus
            if doc_id not in current.documents:
                raise UnknownDocument(doc_id)
            doc = current.documents[doc_id]
            others = [d for d in current.documents.values() if d.doc_id != doc_id]
            corpus, _ = self.builder.build(others, current)
            self.store.save(corpus, self.expectation())
            self._install(corpus)
            path = Path(self.config.project_root) / doc.path
            if path.resolve().parent == Path(self.config.seeds_dir).resolve() and path.exists():
                path.unlink()

    def document(self, doc_id: str) -> Document:
        try:
            return self.corpus.documents[doc_id]
        except KeyError:
            raise UnknownDocument(doc_id) from None

    # ----- questions ---------------------------------------------------------

    def _query_vector(self, text: str) -> np.ndarray:
        with self._cache_lock:
            if text in self._vectors:
                self._vectors.move_to_end(text)
                return self._vectors[text]
        vector = self._batcher.encode(text)
        with self._cache_lock:
            self._vectors[text] = vector
            if len(self._vectors) > self.config.cache_size:
                self._vectors.popitem(last=False)
        return vector

    def _current_searcher(self) -> Searcher:
        searcher = self._searcher  # one snapshot for the whole question
        if searcher is None:
            raise RuntimeError("no index is loaded: call load() or build() first")
        return searcher

    def search(self, query: str, k: int = 10, mode: str = "hybrid", filters: Filters = Filters()) -> SearchOutcome:
        return self._search(self._current_searcher(), query, k, mode, filters)

    def _search(self, searcher: Searcher, query: str, k: int, mode: str, filters: Filters) -> SearchOutcome:
        # The searcher itself, not its id: a cached entry keeps its snapshot alive, so a
        # new snapshot can never be mistaken for an old one that happened to share an id.
        key = (searcher, query, k, mode, filters)
        with self._cache_lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        outcome = searcher.search(query, k, mode, filters)
        with self._cache_lock:
            self._cache[key] = outcome
            if len(self._cache) > self.config.cache_size:
                self._cache.popitem(last=False)
        return outcome

    def ask(self, question: str, filters: Filters = Filters(), k: int = 10) -> Answer:
        searcher = self._current_searcher()
        outcome = self._search(searcher, question, k, "hybrid", filters)
        corpus = searcher.corpus
        configured = self.config.answer.min_dense_score
        thresholds = configured if configured is not None else self.encoder.answer_thresholds
        return answer(outcome, corpus.bm25, self.known_cities(corpus), self.config.answer, thresholds, self._similarity)

    @staticmethod
    def known_cities(corpus: CorpusIndex) -> set[str]:
        return {d.city for d in corpus.documents.values() if d.city}

    def _similarity(self, question: str, sentences: list[str]) -> np.ndarray:
        return self.encoder.encode_passages(sentences) @ self._query_vector(question)


def progress_printer(bar_factory: Callable) -> Progress:
    """Adapts a tqdm-like bar factory to the (done, total) progress callback."""
    state = {}

    def update(done: int, total: int) -> None:
        if "bar" not in state:
            state["bar"] = bar_factory(total)
        bar = state["bar"]
        bar.update(done - bar.n)
        if done >= total:
            bar.close()

    return update
