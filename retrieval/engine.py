"""The library's front door: a folder of reports, their collection in a search backend,
and the searches and answers over it. Reads never wait for writes, and each question
reads one view of the collection, so no search sees a report half-added."""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Callable

import numpy as np

from retrieval.answers.extractive import Answer, AnswerConfig, answer
from retrieval.answers.typed import TypedAnswer, typed_answer
from retrieval.backends import BackendConfig, open_backend
from retrieval.backends.base import (BackendError, CollectionOutdated, CollectionUnusable, Counts, Expectation, Filters, IndexedDocument, SearchBackend,
                                     SearchView, content_hash)
from retrieval.documents.reading import (ReadProblem, ReportError, document_from_bytes, read_reports, report_files,
                                         report_id)
from retrieval.embedding.batching import QueryBatcher
from retrieval.embedding.encoders import Encoder, EncoderConfig
from retrieval.embedding.registry import encoder_for
from retrieval.indexing import Indexer, IndexSettings, Progress
from retrieval.facts.model import Fact
from retrieval.facts.extraction import EXTRACTOR_VERSION
from retrieval.facts.vocabulary import Vocabulary, default_vocabulary
from retrieval.models import Chunk, Document, Span
from retrieval.search.query import QueryAnalyzer
from retrieval.search.searcher import SearchConfig, Searcher, SearchOutcome
from retrieval.text.normalize import to_simplified
from retrieval.text.places import cities_in
from retrieval.text.tokenize import Tokenizer, TokenizerConfig
from retrieval.transactions import Checkpoint, Intent, IntentLog, fsync_path, no_checkpoint, write_synced, writer_lock

MAX_REPORT_BYTES = 5 * 1024 * 1024
_BOM = b"\xef\xbb\xbf"
log = logging.getLogger("reportqa.engine")
_INDEX_BATCH = 32  # reports embedded and stored per backend write when indexing a folder


class UnknownDocument(KeyError):
    pass


class UnknownFilterValue(ValueError):
    """A filter value the collection holds nothing for; the message lists what it holds."""

    def __init__(self, field_name: str, value, known: list):
        shown = ", ".join(map(str, known[:20])) + (", …" if len(known) > 20 else "")
        super().__init__(f"{field_name} {value!r} is not in the collection; it holds: {shown}")
        self.field_name, self.value, self.known = field_name, value, known


class DocumentExists(ValueError):
    """A report by that id is already stored: replace it on purpose (PUT), not by accident."""


class VersionMismatch(ValueError):
    """The stored report is not the version the caller based its change on."""


def document_version(doc: Document) -> str:
    """What If-Match compares: the report text's digest, so equal texts are equal versions."""
    return content_hash(doc)[:16]


@dataclass(frozen=True)
class Reconciliation:
    """What a start-up check of the reports against the index found and repaired."""

    recovered: str  # what was done about a write a crash interrupted, or ""
    added: tuple[str, ...]  # files the index lacked
    reindexed: tuple[str, ...]  # files whose text differed from what the index holds
    removed: tuple[str, ...]  # reports whose file is gone

    @property
    def repaired(self) -> bool:
        return bool(self.recovered or self.added or self.reindexed or self.removed)

    def __str__(self) -> str:
        parts = [self.recovered] if self.recovered else []
        for what, ids in (("indexed", self.added), ("re-indexed (file changed)", self.reindexed),
                          ("removed (file gone)", self.removed)):
            if ids:
                parts.append(f"{what}: {', '.join(ids)}")
        return "; ".join(parts) or "every report matches its file"


@dataclass(frozen=True)
class EngineConfig:
    index_dir: Path
    seeds_dir: Path
    project_root: Path  # citations name files relative to this
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)
    index: IndexSettings = field(default_factory=IndexSettings)
    backend: BackendConfig = field(default_factory=BackendConfig)
    search: SearchConfig = field(default_factory=SearchConfig)
    answer: AnswerConfig = field(default_factory=AnswerConfig)
    cache_size: int = 256
    # a process that answers one question and exits: the tokenizers read their dictionaries
    # from tables written beside them rather than loading them whole (about 1.5 s saved)
    cold_start: bool = False


@dataclass(frozen=True)
class IndexReport:
    documents: int
    chunks: int
    embedded: int  # chunks embedded in this run; the rest were kept as stored
    removed: int  # reports no longer in the folder, removed from the index
    problems: tuple[ReadProblem, ...]
    backend: str
    location: str


class Engine:
    """Built from one configuration value: the CLI, the app and the benchmarks all make
    their engine this way and never wire its parts by hand."""

    def __init__(self, config: EngineConfig, encoder: Encoder | None = None, checkpoint: Checkpoint = no_checkpoint):
        self.config = config
        self.checkpoint = checkpoint  # fault-injection tests crash the process at a named step
        self.intents = IntentLog(config.index_dir)
        table = config.encoder.cache_dir / f"jieba-{config.tokenizer.fingerprint()}.sqlite" if config.cold_start else None
        self.tokenizer = Tokenizer(config.tokenizer, dictionary_table=table)
        self.encoder = encoder or encoder_for(config.encoder, config.cold_start)
        self.analyzer = QueryAnalyzer(self.tokenizer)
        self.indexer = Indexer(self.tokenizer, self.encoder, config.index)
        self.backend: SearchBackend | None = None
        self._write_lock = threading.Lock()
        self._cache: OrderedDict = OrderedDict()
        self._vectors: OrderedDict = OrderedDict()
        self._cache_lock = threading.Lock()
        self._batcher = QueryBatcher(self.encoder.encode_queries)

    @cached_property
    def vocabulary(self) -> Vocabulary:  # compiled on first use: a cold search never needs it
        return default_vocabulary(self.config.index.vocabulary)

    # ----- the collection -------------------------------------------------

    def expectation(self) -> Expectation:
        return Expectation(self.encoder.model_id, self.encoder.dimension,
                           self.config.tokenizer.fingerprint(), self.config.index.chunking.max_chars,
                           facts_fingerprint(self.config.index.vocabulary))

    @property
    def backend_name(self) -> str:
        return self.config.backend.kind

    @property
    def backend_location(self) -> str:
        return self.config.backend.location(self.config.index_dir)

    def cite(self, path: Path) -> str:
        path = Path(path).resolve()
        try:
            return path.relative_to(Path(self.config.project_root).resolve()).as_posix()
        except ValueError:
            return str(path)

    def view(self) -> SearchView:
        return self._loaded_backend().view()

    def counts(self) -> Counts:
        return self.view().counts()

    def documents(self) -> dict[str, Document]:
        return dict(self.view().documents())

    def _open(self, fresh: bool = False) -> SearchBackend:
        return open_backend(self.config.backend, self.config.index_dir, self.expectation(), fresh)

    def has_saved_index(self) -> bool:
        try:
            backend = self.backend or self._open()
        except BackendError:
            return True  # there is one, and load() will say what is wrong with it
        self.backend = backend
        return backend.view().counts().documents > 0

    def load(self) -> Reconciliation:
        """Open the stored collection (BackendError when there is none or it cannot be used),
        finish or undo a write a crash interrupted, and bring the index in line with the files."""
        backend = self.backend or self._open()
        if not backend.view().counts().documents and not self.intents.pending():
            raise BackendError(f"there is no index in {self.backend_location}; build one with `reportqa index`")
        self._install(backend)
        with self._write_lock, self._writer():
            backend.refresh()
            backend.discard_uncommitted()
            recovered = self._recover(backend)
            report = self._sync(backend, None)
        found = Reconciliation(recovered, report.added, report.reindexed, report.removed)
        log.log(logging.WARNING if found.repaired else logging.DEBUG,
                "start-up check of %s against the index: %s", self.config.seeds_dir, found)
        return found

    def build(self, progress: Progress | None = None) -> IndexReport:
        """Make the index hold exactly the reports in seeds_dir: new and changed reports are
        embedded and stored, unchanged ones kept, missing ones removed. A stored collection
        that is corrupt or was built with other settings is rebuilt from scratch."""
        with self._write_lock, self._writer():
            try:
                backend = self.backend or self._open()
            except CollectionUnusable:  # corrupt or built otherwise; an unreachable server is not
                backend = self._open(fresh=True)
            backend.refresh()
            backend.discard_uncommitted()
            self._recover(backend)
            synced = self._sync(backend, progress)
            self._install(backend)
            counts = backend.view().counts()
        return IndexReport(counts.documents, counts.chunks, synced.embedded, len(synced.removed), synced.problems,
                           self.backend_name, self.backend_location)

    def _writer(self):
        return writer_lock(self.config.index_dir)

    def _sync(self, backend: SearchBackend, progress: Progress | None) -> "_Synced":
        documents, problems = read_reports(report_files(self.config.seeds_dir), self.cite)
        documents, collisions = _without_colliding_ids(documents)
        stored = backend.view().documents()
        added = [d for d in documents if d.doc_id not in stored]
        changed = [d for d in documents if d.doc_id in stored and content_hash(stored[d.doc_id]) != content_hash(d)]
        wanted = {d.doc_id for d in documents}
        removed = [doc_id for doc_id in stored if doc_id not in wanted]
        fresh, moved = self._moved_from_local(added + changed)
        for start in range(0, len(moved), _INDEX_BATCH):
            backend.upsert(moved[start : start + _INDEX_BATCH])
        embedded = self._store(backend, fresh, progress)
        for doc_id in removed:
            backend.delete(doc_id)
        if added or changed or removed:
            self._invalidate()
        return _Synced(tuple(d.doc_id for d in added), tuple(d.doc_id for d in changed), tuple(removed), embedded,
                       tuple(problems) + collisions)

    def _recover(self, backend: SearchBackend) -> str:
        """Finish a write the backend committed before a crash, undo one it did not."""
        intent = self.intents.pending()
        if intent is None:
            return ""
        stored = backend.view().documents().get(intent.doc_id)
        staged, target = Path(intent.staged), Path(intent.target)
        if intent.op == "put":
            committed = stored is not None and content_hash(stored) == intent.sha256
            if committed and staged.exists():
                staged.replace(target)
                outcome = f"an interrupted write of {intent.doc_id} was finished (the index had committed it)"
            else:
                staged.unlink(missing_ok=True)
                outcome = (f"an interrupted write of {intent.doc_id} was " +
                           ("already complete" if committed else "undone (the index had not committed it)"))
        else:
            if stored is not None:
                backend.delete(intent.doc_id)
            if intent.target:
                target.unlink(missing_ok=True)
            outcome = f"an interrupted delete of {intent.doc_id} was finished"
        self.intents.path.unlink(missing_ok=True)
        log.warning("recovery: %s", outcome)
        return outcome

    def _moved_from_local(self, documents: list[Document]) -> tuple[list[Document], list[IndexedDocument]]:
        """Reports a local index in index_dir already holds, unchanged, with the same model and
        tokenizer: moved to another backend as stored, not embedded again."""
        if self.backend_name == "local" or not documents:
            return documents, []
        try:
            local = open_backend(BackendConfig(), self.config.index_dir, self.expectation()).view()
        except BackendError:
            return documents, []
        stored = local.documents()
        moved = [local.indexed(d.doc_id) for d in documents
                 if d.doc_id in stored and content_hash(stored[d.doc_id]) == content_hash(d)]
        taken = {item.document.doc_id for item in moved}
        return [d for d in documents if d.doc_id not in taken], moved

    def _store(self, backend: SearchBackend, documents: list[Document], progress: Progress | None) -> int:
        """Embed and store reports a batch at a time, progress counted over all the passages
        and answer sentences they hold; the number of chunks stored."""
        batches = [documents[i : i + _INDEX_BATCH] for i in range(0, len(documents), _INDEX_BATCH)]
        indexed = [self.indexer.chunked(batch) for batch in batches]
        work = [self.indexer.embedding_work(batch, chunks) for batch, chunks in zip(batches, indexed)]
        total = sum(work)
        done = 0
        for batch, chunks, size in zip(batches, indexed, work):
            step = (lambda d, _t, base=done: progress(base + d, total)) if progress else None
            backend.upsert(self.indexer.index_chunks(batch, chunks, step))
            done += size
        if progress and not total:
            progress(0, 0)
        return sum(len(c) for batch in indexed for c in batch)

    def start_empty(self) -> SearchBackend:
        """A new, empty collection in the configured backend, for collections made in bulk
        like a benchmark's: locally what was stored goes once the first write lands; Milvus
        drops the collections at once (it cannot swap them atomically)."""
        self._install(self._open(fresh=True))
        return self.backend

    def close(self) -> None:
        if self.backend is not None:
            self.backend.close()

    def load_or_build(self, progress: Progress | None = None) -> IndexReport | Reconciliation:
        """The saved index, or one built from seeds_dir; a saved one built with other settings
        (model, tokenizer, chunk size, fact extractor) is rebuilt from seeds_dir, which holds
        every report the index does, so nothing is lost."""
        if self.has_saved_index():
            try:
                return self.load()
            except CollectionOutdated as exc:  # a corrupt one is reported instead: `reportqa index` mends it
                log.warning("rebuilding the index: %s", exc)
                self.backend = None
        return self.build(progress)

    def searcher(self, config: SearchConfig | None = None, analyzer: QueryAnalyzer | None = None) -> Searcher:
        """A searcher over the current collection, with other search settings (or another
        reading of questions) to compare."""
        return Searcher(self.view(), analyzer or self.analyzer, config or self.config.search, self._query_vector)

    def _install(self, backend: SearchBackend) -> None:
        if self.backend is not None and self.backend is not backend:
            self.backend.close()
        self.backend = backend
        backend.checkpoint = self.checkpoint
        self._invalidate()

    def _invalidate(self) -> None:
        with self._cache_lock:
            self._cache.clear()

    def warm_up(self) -> None:
        """The first pass through the model is several times slower than the rest: take it
        before serving, not on a user's first question."""
        self.encoder.encode_queries(["warm up 预热"])
        self.encoder.encode_passages(["warm up 预热"])
        self.tokenizer.tokens("预热")

    def add_document(self, name: str, data: bytes, replace: bool = False, if_match: str | None = None) -> Document:
        """Store one report (UTF-8 or GBK text) under its name, in seeds_dir as UTF-8 so its
        citations open as every other report's do. An existing id is replaced only when asked
        (DocumentExists otherwise), and if_match, when given, must name the stored version.
        The text, chunks, vectors and manifest entry become visible together or not at all."""
        doc_id = report_id(name)
        if len(data) > MAX_REPORT_BYTES:
            raise ReportError(f"{name}: {len(data)} bytes is over the {MAX_REPORT_BYTES} byte limit")
        target = Path(self.config.seeds_dir) / f"{doc_id}.txt"
        doc = document_from_bytes(data.removeprefix(_BOM), doc_id, self.cite(target), name)
        with self._write_lock, self._writer():
            backend = self._writable()
            existing = backend.view().documents().get(doc_id)
            if existing is not None and not replace:
                raise DocumentExists(f"a report {doc_id!r} is already stored; replace it with PUT /v1/documents/{doc_id}")
            if if_match is not None and (existing is None or document_version(existing) != if_match.strip('"')):
                found = document_version(existing) if existing else "no report"
                raise VersionMismatch(f"report {doc_id!r} is at version {found}, not {if_match}; "
                                      "fetch it again and retry")
            items = self.indexer.index([doc])
            staged = target.with_name(f".{target.name}.staged")
            with self._transaction(backend, Intent("put", doc_id, str(target), str(staged), content_hash(doc))):
                self.checkpoint("intent_recorded")
                write_synced(staged, doc.text)
                fsync_path(staged.parent)
                self.checkpoint("file_staged")
                backend.upsert(items)
                self._invalidate()
                self.checkpoint("index_committed")
                staged.replace(target)
                fsync_path(target.parent)
                self.checkpoint("file_in_place")
        return doc

    def delete_document(self, doc_id: str) -> None:
        with self._write_lock, self._writer():
            backend = self._writable()
            doc = backend.view().documents().get(doc_id)
            if doc is None:
                raise UnknownDocument(doc_id)
            path = Path(self.config.project_root) / doc.path
            ours = path.resolve().parent == Path(self.config.seeds_dir).resolve()
            with self._transaction(backend, Intent("delete", doc_id, str(path) if ours else "")):
                self.checkpoint("intent_recorded")
                backend.delete(doc_id)
                self._invalidate()
                self.checkpoint("index_committed")
                if ours:
                    path.unlink(missing_ok=True)
                    fsync_path(path.parent)
                self.checkpoint("file_removed")

    def _loaded_backend(self) -> SearchBackend:
        if self.backend is None:
            raise RuntimeError("no index is loaded: call load() or build() first")
        return self.backend

    def _writable(self) -> SearchBackend:
        """The backend, up to date with other writers and with no interrupted write pending
        (called under the writer lock)."""
        backend = self._loaded_backend()
        backend.refresh()
        self._recover(backend)
        return backend

    @contextmanager
    def _transaction(self, backend: SearchBackend, intent: Intent):
        """The intent recorded around a write; if the write fails part-way (not a crash: an
        error), it is finished or undone at once, as a restart would."""
        with self.intents.recording(intent):
            try:
                yield
            except BaseException:
                try:
                    self._recover(backend)
                finally:
                    self._invalidate()
                raise
    def document(self, doc_id: str) -> Document:
        try:
            return self.view().documents()[doc_id]
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

    def search(self, query: str, k: int = 10, mode: str = "hybrid", filters: Filters = Filters(),
               offset: int = 0) -> SearchOutcome:
        return self._search(self.searcher(), query, k, mode, filters, offset)

    def resolved_filters(self, cities=(), years=(), doc_ids=()) -> Filters:
        """Filters from what a person or program typed: a city in any form a question
        accepts (温州, 温州市, 溫州, Wenzhou); UnknownFilterValue for what the collection lacks."""
        documents = self.view().documents()
        known_cities = sorted({d.city for d in documents.values() if d.city})
        known_years = sorted({y for d in documents.values() for y in d.years})
        resolved = []
        for value in cities:
            named = cities_in(to_simplified(value.strip()))
            if len(named) != 1 or named[0] not in known_cities:
                raise UnknownFilterValue("city", value, known_cities)
            resolved.append(named[0])
        for year in years:
            if year not in known_years:
                raise UnknownFilterValue("year", year, known_years)
        for doc_id in doc_ids:
            if doc_id not in documents:
                raise UnknownFilterValue("doc_id", doc_id, sorted(documents))
        return Filters(tuple(dict.fromkeys(resolved)), tuple(years), tuple(doc_ids))

    def _search(self, searcher: Searcher, query: str, k: int, mode: str, filters: Filters,
                offset: int = 0) -> SearchOutcome:
        # The view itself, not its id: a cached entry keeps its view alive, so a new view
        # can never be mistaken for an old one that happened to share an id. Writes by this
        # engine clear the cache too, for backends whose views are made per question.
        # The question and filters by digest: a key costs the same however large they are.
        asked = hashlib.sha256(repr((query, k, mode, filters, offset)).encode("utf-8", "surrogatepass")).digest()
        key = (searcher.view.snapshot, asked)
        with self._cache_lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        outcome = searcher.search(query, k, mode, filters, offset)
        with self._cache_lock:
            self._cache[key] = outcome
            if len(self._cache) > self.config.cache_size:
                self._cache.popitem(last=False)
        return outcome

    def ask(self, question: str, filters: Filters = Filters(), k: int = 10) -> TypedAnswer:
        """A typed answer (value, cities, table) from the stored facts when the question asks
        for figures; else the sentences that answer it; else "not found" with its reason."""
        searcher = self.searcher()
        outcome = self._search(searcher, question, k, "hybrid", filters)
        view = searcher.view
        question = outcome.analysis.dense_text

        def relevance(facts: list[Fact]) -> np.ndarray:
            return self._similarity(view, question, [(f.doc_id, f.sentence, f.text) for f in facts])

        return typed_answer(outcome, view, self.vocabulary, lambda: self._sentences(view, outcome), filters, relevance)

    def sentence_answer(self, question: str, filters: Filters = Filters(), k: int = 10) -> Answer:
        """The sentences of the best passages that answer the question, with no facts
        (what descriptive questions get; the answer eval compares typed answers with it)."""
        searcher = self.searcher()
        return self._sentences(searcher.view, self._search(searcher, question, k, "hybrid", filters))

    def _sentences(self, view: SearchView, outcome: SearchOutcome) -> Answer:
        configured = self.config.answer.min_dense_score
        thresholds = configured if configured is not None else self.encoder.answer_thresholds
        def similarity(question: str, candidates: list[tuple[Chunk, Span, str]]) -> np.ndarray:
            return self._similarity(view, question, [(c.doc_id, Span(c.start + s.start, c.start + s.end), t)
                                                     for c, s, t in candidates])

        return answer(outcome, view.idf, self.known_cities(view), self.config.answer, thresholds, similarity)

    def facts(self, indicator: str | None = None, filters: Filters = Filters(), kind: str | None = None) -> list[Fact]:
        """Stored facts, by indicator (a canonical id, a name the vocabulary knows in either
        language, or words of the indicator text) and kind."""
        found = self.view().facts(filters)
        if indicator:
            wanted = indicator.strip().lower()
            ids = {wanted} | {m.indicator.indicator_id for m in self.vocabulary.mentioned(indicator)}
            found = [f for f in found if f.indicator in ids or wanted in f.indicator_text.lower()]
        return [f for f in found if kind is None or f.kind == kind]

    @staticmethod
    def known_cities(view: SearchView) -> set[str]:
        return {d.city for d in view.documents().values() if d.city}

    def _similarity(self, view: SearchView, question: str, sentences: list[tuple[str, Span, str]]) -> np.ndarray:
        """Cosines of sentences (doc id, file span, text) to the question, from the vectors
        stored at index time; a sentence stored without one is encoded now."""
        stored: dict[str, dict[tuple[int, int], np.ndarray]] = {}
        vectors, missing = [], []
        for i, (doc_id, span, _) in enumerate(sentences):
            if doc_id not in stored:
                spans, rows = view.sentences(doc_id)
                stored[doc_id] = {(s.start, s.end): rows[j] for j, s in enumerate(spans)}
            vector = stored[doc_id].get((span.start, span.end))
            vectors.append(vector)
            if vector is None:
                missing.append(i)
        if missing:
            for i, vector in zip(missing, self.encoder.encode_passages([sentences[i][2] for i in missing])):
                vectors[i] = vector
        if not vectors:
            return np.zeros(0, dtype=np.float32)
        return np.stack(vectors) @ self._query_vector(question)


@dataclass(frozen=True)
class _Synced:
    added: tuple[str, ...]
    reindexed: tuple[str, ...]
    removed: tuple[str, ...]
    embedded: int
    problems: tuple[ReadProblem, ...]


def _without_colliding_ids(documents: list[Document]) -> tuple[list[Document], tuple[ReadProblem, ...]]:
    """Two files whose names give one id would serve one's chunks under the other's text:
    the first keeps the id, the others are refused with a message naming both."""
    first: dict[str, Document] = {}
    problems = []
    for doc in documents:
        if doc.doc_id in first:
            problems.append(ReadProblem(doc.path, f"{doc.path}: its id {doc.doc_id!r} is already taken by "
                                                  f"{first[doc.doc_id].path}; rename one of the two files"))
        else:
            first[doc.doc_id] = doc
    return list(first.values()), tuple(problems)


def facts_fingerprint(vocabulary: Path) -> str:
    digest = hashlib.sha256(Path(vocabulary).read_bytes()).hexdigest()[:16]
    return f"extractor {EXTRACTOR_VERSION}, vocabulary {digest}"


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
