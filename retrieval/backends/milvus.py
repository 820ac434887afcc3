"""The Milvus backend, through pymilvus's MilvusClient: a file path runs the embedded
milvus-lite, `http://host:19530` a Milvus standalone or cluster, with the same code.

Collections (NAME is the configured collection name):
- NAME_chunks: one row per chunk and report version. The project's own normalised jieba
  tokens sit in a text field read by Milvus's whitespace analyzer into a BM25 function,
  so Milvus keeps the BM25 statistics across shards while the tokens stay ours; the dense
  vector beside them (FLAT on lite, HNSW on a server). Its description records what built it.
- NAME_documents: one row per report, naming its committed version: the commit point.
- NAME_texts: the report's full text, in parts (a VARCHAR holds at most 64 KB).
- NAME_facts: one row per typed fact, filterable by city and year.
- NAME_sentences: one row per answer sentence with its vector, read by report.

Milvus has no multi-row transactions, so every chunk row carries its report's version and
a question sees only the versions committed when it began. A write inserts the new
version's rows, then commits by upserting the report's row, then deletes older versions'
rows, each step with Strong consistency: a report is searchable, whole, when the write
returns. A crash between steps leaves rows of an uncommitted version, which no question
sees and the next open removes."""

from __future__ import annotations

import json
import logging
import threading
import time
import warnings
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from retrieval.backends.base import (NO_FILTERS, BackendError, CollectionOutdated, CollectionUnusable, Counts, Expectation, Filters,
                                     IndexedDocument, best_sentence_of_chunks, fact_allowed)
from retrieval.backends.local.bm25 import BM25Params, idf_floor, idf_of
from retrieval.backends.local.store import document_from, document_row
from retrieval.facts.model import Fact
from retrieval.models import Chunk, Document, Hit, Span
from retrieval.transactions import no_checkpoint

_TEXT_PART = 16_000  # characters: at most 48 KB of UTF-8 per VARCHAR value
_CHUNK_FIELDS = ["chunk_id", "doc_id", "version", "city", "year", "years", "path", "title", "heading_path",
                 "start", "end", "text"]
_SCHEMA = 3  # recorded in the chunks collection's description: another layout is rebuilt, not misread
_STRONG = "Strong"
DENSE_INDEXES = ("auto", "FLAT", "IVF_FLAT", "HNSW")


@dataclass(frozen=True)
class MilvusSettings:
    uri: str  # a file path (milvus-lite) or http(s)://host:port
    collection: str = "reportqa"
    bm25: BM25Params = field(default_factory=BM25Params)
    token: str = ""  # user:password or an API key, for servers that ask for one
    # auto: FLAT (exact) on milvus-lite, HNSW on a server; IVF_FLAT works on both.
    dense_index: str = "auto"
    ivf_nlist: int = 1024
    ivf_nprobe: int = 64
    hnsw_m: int = 16
    hnsw_ef_construction: int = 200
    hnsw_ef: int = 128
    overfetch: int = 50  # extra hits asked for (at least twice the largest report's chunks), for rows of other versions
    refresh_s: float = 1.0  # how stale a question's view of other nodes' commits may be

    def __post_init__(self):
        if self.dense_index not in DENSE_INDEXES:
            raise ValueError(f"Milvus dense index must be one of {', '.join(DENSE_INDEXES)}, got {self.dense_index!r}")
        if self.embedded and self.dense_index == "HNSW":
            raise ValueError("milvus-lite has no HNSW index: use FLAT or IVF_FLAT, or a Milvus server")

    @property
    def embedded(self) -> bool:
        return not self.uri.startswith(("http://", "https://", "tcp://", "unix:"))

    @property
    def index_type(self) -> str:
        if self.dense_index != "auto":
            return self.dense_index
        return "FLAT" if self.embedded else "HNSW"


def _client(settings: MilvusSettings):
    # pymilvus logs every failed call and iterator detail itself; failures reach the caller
    # as BackendError with a message, so its own log lines would only say it twice.
    with warnings.catch_warnings():  # milvus-lite imports pkg_resources, deprecated upstream
        warnings.simplefilter("ignore")
        from pymilvus import MilvusClient

        logging.getLogger("pymilvus").setLevel(logging.CRITICAL)
        if settings.embedded:
            Path(settings.uri).parent.mkdir(parents=True, exist_ok=True)
        try:
            return MilvusClient(uri=settings.uri, token=settings.token)
        except Exception as exc:  # pymilvus raises its own exception types, and OSError for lite
            if settings.embedded:
                raise BackendError(
                    f"cannot open the milvus-lite file {settings.uri} ({exc}): milvus-lite serves a file to one "
                    "process at a time, so stop the reportqa using it (serve, index) or run against a Milvus "
                    "server (REPORTQA_MILVUS_URI=http://host:19530)") from None
            raise BackendError(f"cannot reach Milvus at {settings.uri}: {exc}. Check REPORTQA_MILVUS_URI "
                               "(a file path runs the embedded milvus-lite; http://host:19530 a server)") from None


def _expr_in(field_name: str, values) -> str:
    return f"{field_name} in {json.dumps(list(values), ensure_ascii=False)}"


def filter_expression(filters: Filters) -> str:
    """The neutral filter as a Milvus boolean expression."""
    parts = []
    if filters.cities:
        parts.append(_expr_in("city", filters.cities))
    if filters.years:
        parts.append(_expr_in("year", [int(y) for y in filters.years]))
    if filters.doc_ids:
        parts.append(_expr_in("doc_id", filters.doc_ids))
    return " and ".join(parts)


@dataclass(frozen=True)
class _Committed:
    """What one report's committed version holds, as the application keeps it."""

    version: int
    document: Document
    chunks: int
    doc_freq: Counter  # chunks of the report holding each term (answers' idf)


class MilvusView:
    """The collection as committed when the view was made."""

    def __init__(self, backend: "MilvusBackend", committed: Mapping[str, _Committed], doc_freq: Mapping[str, int],
                 generation: int):
        self._backend = backend
        self._committed = committed
        self._doc_freq = doc_freq
        self._live_chunks = sum(c.chunks for c in committed.values())
        self._largest = max((c.chunks for c in committed.values()), default=0)
        self._generation = generation
        self._chunks: dict[str, Chunk] = {}

    @property
    def snapshot(self):
        return (id(self._backend), self._generation)

    def documents(self) -> Mapping[str, Document]:
        return {doc_id: c.document for doc_id, c in self._committed.items()}

    def counts(self) -> Counts:
        return Counts(len(self._committed), self._live_chunks)

    def idf(self, terms: Sequence[str]) -> dict[str, float]:
        floor = self._backend.idf_floor(self._generation, self._doc_freq, self._live_chunks)
        return idf_of(terms, self._doc_freq, self._live_chunks, floor)

    def lexical(self, tokens: Sequence[str], k: int, filters: Filters = NO_FILTERS) -> list[Hit]:
        text = " ".join(t for t in tokens if t.strip())
        if not text or not self._committed:
            return []
        return self._search([text], "sparse", {"metric_type": "BM25"}, k, filters)

    def vector(self, vector: np.ndarray, k: int, filters: Filters = NO_FILTERS) -> list[Hit]:
        if not self._committed:
            return []
        return self._search([np.asarray(vector, dtype=np.float32).tolist()], "dense", self._dense_params(k), k, filters)

    def _dense_params(self, k: int) -> dict:
        settings = self._backend.settings
        params = {"metric_type": "IP"}
        if settings.index_type == "HNSW":
            params["params"] = {"ef": max(settings.hnsw_ef, self._limit(k))}
        elif settings.index_type == "IVF_FLAT":
            params["params"] = {"nprobe": settings.ivf_nprobe}
        return params

    def lexical_per_report(self, tokens: Sequence[str], reports: int, filters: Filters = NO_FILTERS) -> list[Hit]:
        text = " ".join(t for t in tokens if t.strip())
        if not text or not self._committed:
            return []
        return self._search([text], "sparse", {"metric_type": "BM25"}, reports, filters, per_report=True)

    def vector_per_report(self, vector: np.ndarray, reports: int, filters: Filters = NO_FILTERS) -> list[Hit]:
        if not self._committed:
            return []
        return self._search([np.asarray(vector, dtype=np.float32).tolist()], "dense", self._dense_params(reports),
                            reports, filters, per_report=True)

    def _limit(self, k: int) -> int:
        """k plus room for rows of other versions: a report being replaced has two."""
        return min(16384, k + max(self._backend.settings.overfetch, 2 * self._largest))

    def _search(self, data, field_name: str, params: dict, k: int, filters: Filters, per_report: bool = False) -> list[Hit]:
        backend = self._backend
        # Grouped by report, a group holds a report's two best rows, as a report being replaced
        # has rows of two versions and only the committed one may answer (should both be of
        # the other version, the report misses this grouped search, not the plain one).
        # `limit` counts groups then: room for reports that have no committed version yet
        limit = min(16384, k + self._backend.settings.overfetch) if per_report else self._limit(k)
        grouping = {"group_by_field": "doc_id", "group_size": 2} if per_report else {}
        rows = backend.call("search", backend.chunks_name, data=data, anns_field=field_name,
                            limit=limit, filter=filter_expression(filters), output_fields=_CHUNK_FIELDS,
                            search_params=params, consistency_level=_STRONG, **grouping)[0]
        hits, reports = [], set()
        for row in rows:
            entity = row["entity"]
            committed = self._committed.get(entity["doc_id"])
            if committed is None or committed.version != entity["version"]:
                continue  # a version being written, or one already replaced
            if per_report:  # a group's second row: the same report
                if entity["doc_id"] in reports:
                    continue
                reports.add(entity["doc_id"])
            chunk = _chunk_of(entity)
            self._chunks[chunk.chunk_id] = chunk
            hits.append((float(row["distance"]), chunk.chunk_id))
        hits.sort(key=lambda h: (-h[0], h[1]))
        return [Hit(cid, score, rank) for rank, (score, cid) in enumerate(hits[:k], start=1)]

    def facts(self, filters: Filters = NO_FILTERS) -> list[Fact]:
        if not self._committed:
            return []
        rows = self._backend._query_all(self._backend.facts_name, filter_expression(filters) or "version >= 0",
                                        ["key", "doc_id", "version", "fact"])
        facts = [(int(row["key"].rsplit("#", 1)[1]), Fact.from_row(row["fact"])) for row in rows if self._is_committed(row)]
        facts.sort(key=lambda nf: (nf[1].doc_id, nf[0]))  # a report's facts in the order it states them
        return [f for _, f in facts if fact_allowed(f, filters)]

    def sentences(self, doc_id: str) -> tuple[tuple[Span, ...], np.ndarray]:
        committed = self._committed.get(doc_id)
        if committed is None:
            return (), np.zeros((0, self._backend.expectation.dimension), dtype=np.float32)
        rows = self._backend._query_all(
            self._backend.sentences_name,
            f"doc_id == {json.dumps(doc_id, ensure_ascii=False)} and version == {committed.version}",
            ["start", "end", "vector"])
        rows.sort(key=lambda r: (r["start"], r["end"]))
        vectors = np.asarray([r["vector"] for r in rows], dtype=np.float32).reshape(
            len(rows), self._backend.expectation.dimension)
        return tuple(Span(r["start"], r["end"]) for r in rows), vectors

    def sentence_scores(self, vector: np.ndarray, chunks: Sequence[Chunk]) -> dict[str, float]:
        """One search of the committed sentences of the chunks' reports, no vectors leaving the
        server: the nearest few per candidate chunk, so a chunk whose sentences are all farther
        than that is left out (exact while the reports hold fewer sentences than the limit)."""
        docs = sorted({c.doc_id for c in chunks if c.doc_id in self._committed})
        if not docs:
            return {}
        backend = self._backend
        # two `in` lists, not a pair per report: milvus-lite rejects a chain of 50 `or`s. They can let
        # through a row no report has committed only if two writes drew the same time_ns version;
        # `_is_committed` drops it either way.
        versions = sorted({self._committed[d].version for d in docs})
        committed = f"{_expr_in('doc_id', docs)} and {_expr_in('version', versions)}"
        rows = backend.call("search", backend.sentences_name, data=[np.asarray(vector, dtype=np.float32).tolist()],
                            anns_field="vector", limit=min(16384, 16 * len(chunks)),
                            filter=committed, output_fields=["doc_id", "version", "start", "end"],
                            search_params={"metric_type": "IP"}, consistency_level=_STRONG)[0]
        found = [(r["entity"], float(r["distance"])) for r in rows]
        return best_sentence_of_chunks(chunks, ((e["doc_id"], Span(e["start"], e["end"]), score)
                                                for e, score in found if self._is_committed(e)))

    def _is_committed(self, row: dict) -> bool:
        committed = self._committed.get(row["doc_id"])
        return committed is not None and committed.version == row["version"]

    def chunk(self, chunk_id: str) -> Chunk:
        if chunk_id not in self._chunks:
            doc_id = chunk_id.rsplit(":", 1)[0]
            committed = self._committed.get(doc_id)
            if committed is None:
                raise KeyError(chunk_id)
            rows = self._backend.call("query", self._backend.chunks_name,
                                      filter=f"chunk_id == {json.dumps(chunk_id, ensure_ascii=False)} "
                                             f"and version == {committed.version}",
                                      output_fields=_CHUNK_FIELDS, consistency_level=_STRONG)
            if not rows:
                raise KeyError(chunk_id)
            self._chunks[chunk_id] = _chunk_of(rows[0])
        return self._chunks[chunk_id]


def _chunk_of(row: dict) -> Chunk:
    return Chunk(row["chunk_id"], row["doc_id"], row["path"], row["title"], row["city"] or None, row["year"] or None,
                 tuple(row["years"]), tuple(row["heading_path"]), row["start"], row["end"], row["text"])


class MilvusBackend:
    name = "milvus"
    checkpoint = staticmethod(no_checkpoint)  # the engine sets its own, for fault-injection tests

    def __init__(self, settings: MilvusSettings, expectation: Expectation, fresh: bool = False):
        self.settings = settings
        self.location = settings.uri
        self.expectation = expectation
        self.client = _client(settings)
        prefix = settings.collection
        self.chunks_name, self.documents_name, self.texts_name = f"{prefix}_chunks", f"{prefix}_documents", f"{prefix}_texts"
        self.facts_name, self.sentences_name = f"{prefix}_facts", f"{prefix}_sentences"
        self._lock = threading.Lock()
        if fresh:  # Milvus cannot swap collections atomically: a rebuild starts from empty ones
            for name in self._collections:
                if self.call("has_collection", name):
                    self.call("drop_collection", name)
        self._ensure_collections()
        self._committed: dict[str, _Committed] = {}
        self._doc_freq: Counter = Counter()
        self._generation = 0
        self._floor: tuple[int, float] = (-1, 0.0)
        self._refreshed = 0.0
        self.refresh()

    @property
    def _collections(self) -> tuple[str, ...]:
        return self.chunks_name, self.documents_name, self.texts_name, self.facts_name, self.sentences_name

    # ----- plumbing --------------------------------------------------------------------

    def call(self, method: str, *args, **kwargs):
        try:
            return getattr(self.client, method)(*args, **kwargs)
        except BackendError:
            raise
        except Exception as exc:
            raise BackendError(f"Milvus at {self.settings.uri} failed in {method}: {exc}") from None

    def close(self) -> None:
        if self.settings.embedded:
            # milvus-lite runs one server per file, shared by every client of that file:
            # closing one client would stop it under the others. It ends with the process.
            return
        try:
            self.client.close()
        except Exception:  # closing a connection that already went away is not an error
            pass

    def idf_floor(self, generation: int, doc_freq: Mapping[str, int], live_chunks: int) -> float:
        """rank-bm25's floor for negative idf, as the local backend has it (once per commit)."""
        if self._floor[0] != generation:
            self._floor = (generation, idf_floor(doc_freq, live_chunks, self.settings.bm25.epsilon))
        return self._floor[1]

    def _ensure_collections(self) -> None:
        from pymilvus import DataType, Function, FunctionType

        if self.call("has_collection", self.chunks_name):
            description = self.call("describe_collection", self.chunks_name).get("description") or "{}"
            try:
                stored = json.loads(description)
            except ValueError:
                stored = {}
            problems = self.expectation.mismatches(stored)
            if stored.get("schema") != _SCHEMA:
                problems.append(f"collection layout {stored.get('schema')} (this reportqa writes {_SCHEMA})")
            if problems:
                raise CollectionOutdated(
                    f"the Milvus collection {self.chunks_name} at {self.settings.uri} does not match this "
                    f"configuration: {'; '.join(problems)}. Rebuild it with `reportqa index --backend milvus`.")
            for name in self._collections:
                if not self.call("has_collection", name):
                    raise CollectionUnusable(f"the Milvus collection {name} at {self.settings.uri} is missing. "
                                             "Rebuild with `reportqa index --backend milvus`.")
                self.call("load_collection", name)
            return

        schema = self.client.create_schema(auto_id=False,
                                           description=json.dumps({**asdict(self.expectation), "schema": _SCHEMA}))
        schema.add_field("row_id", DataType.VARCHAR, is_primary=True, max_length=512)
        schema.add_field("chunk_id", DataType.VARCHAR, max_length=512)
        schema.add_field("doc_id", DataType.VARCHAR, max_length=512)
        schema.add_field("version", DataType.INT64)
        schema.add_field("city", DataType.VARCHAR, max_length=64)
        schema.add_field("year", DataType.INT64)
        schema.add_field("years", DataType.JSON)
        schema.add_field("path", DataType.VARCHAR, max_length=1024)
        schema.add_field("title", DataType.VARCHAR, max_length=2048)
        schema.add_field("heading_path", DataType.JSON)
        schema.add_field("start", DataType.INT64)  # the citation: text == the file's [start:end]
        schema.add_field("end", DataType.INT64)
        schema.add_field("text", DataType.VARCHAR, max_length=65535)
        schema.add_field("tokens", DataType.VARCHAR, max_length=65535, enable_analyzer=True,
                         analyzer_params={"tokenizer": "whitespace"})
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_field("dense", DataType.FLOAT_VECTOR, dim=self.expectation.dimension)
        schema.add_function(Function(name="bm25", function_type=FunctionType.BM25,
                                     input_field_names=["tokens"], output_field_names=["sparse"]))
        index = self.client.prepare_index_params()
        index.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25",
                        params={"bm25_k1": self.settings.bm25.k1, "bm25_b": self.settings.bm25.b})
        kind = self.settings.index_type
        if kind == "HNSW":
            params = {"M": self.settings.hnsw_m, "efConstruction": self.settings.hnsw_ef_construction}
        elif kind == "IVF_FLAT":
            params = {"nlist": self.settings.ivf_nlist}
        else:
            params = {}
        index.add_index("dense", index_type=kind, metric_type="IP", params=params)
        self.call("create_collection", self.chunks_name, schema=schema, index_params=index,
                  consistency_level=_STRONG)

        for name, fields in ((self.documents_name, ("version", "document", "chunks")),
                             (self.texts_name, ("doc_id", "version", "part", "text")),
                             (self.facts_name, ("doc_id", "version", "city", "year", "fact")),
                             (self.sentences_name, ("doc_id", "version", "start", "end", "vector"))):
            schema = self.client.create_schema(auto_id=False)
            schema.add_field("key", DataType.VARCHAR, is_primary=True, max_length=600)
            for f in fields:
                if f in ("version", "chunks", "part", "year", "start", "end"):
                    schema.add_field(f, DataType.INT64)
                elif f in ("document", "fact"):
                    schema.add_field(f, DataType.JSON)
                elif f == "vector":
                    schema.add_field(f, DataType.FLOAT_VECTOR, dim=self.expectation.dimension)
                else:
                    schema.add_field(f, DataType.VARCHAR, max_length=65535 if f == "text" else 512)
            vector = "vector" if "vector" in fields else "pad"
            if vector == "pad":
                schema.add_field("pad", DataType.FLOAT_VECTOR, dim=2)  # Milvus collections need a vector field
            index = self.client.prepare_index_params()
            index.add_index(vector, index_type="FLAT", metric_type="L2" if vector == "pad" else "IP")
            self.call("create_collection", name, schema=schema, index_params=index, consistency_level=_STRONG)

    def _read_committed(self, doc_ids: list[str], versions: dict[str, int], chunks: dict[str, int]) -> dict:
        """The committed versions of these reports: metadata, text and term counts."""
        if not doc_ids:
            return {}
        out = {}
        for start in range(0, len(doc_ids), 200):
            batch = doc_ids[start : start + 200]
            texts: dict[str, list[tuple[int, str]]] = {}
            where = _expr_in("doc_id", batch)
            for row in self._query_all(self.texts_name, where, ["doc_id", "version", "part", "text"]):
                if row["version"] == versions[row["doc_id"]]:
                    texts.setdefault(row["doc_id"], []).append((row["part"], row["text"]))
            # Term statistics are the application's: counted from the rows' own tokens.
            doc_freq: dict[str, Counter] = {}
            for row in self._query_all(self.chunks_name, where, ["doc_id", "version", "tokens"]):
                if row["version"] == versions[row["doc_id"]]:
                    doc_freq.setdefault(row["doc_id"], Counter()).update(set(row["tokens"].split()))
            for row in self._query_all(self.documents_name, _expr_in("key", batch), ["key", "version", "document"]):
                meta = dict(row["document"])
                meta["text"] = "".join(t for _, t in sorted(texts.get(row["key"], [])))
                out[row["key"]] = _Committed(row["version"], document_from(meta), chunks[row["key"]],
                                             doc_freq.get(row["key"], Counter()))
        return out

    def refresh(self) -> None:
        """Catch up with commits made elsewhere: reports whose committed version changed are
        read again, reports gone are dropped; the rest stay as they are."""
        rows = self._query_all(self.documents_name, "version >= 0", ["key", "version", "chunks"])
        versions = {r["key"]: r["version"] for r in rows}
        chunks = {r["key"]: r["chunks"] for r in rows}
        with self._lock:
            known = {doc_id: c.version for doc_id, c in self._committed.items()}
        changed = [doc_id for doc_id, v in versions.items() if known.get(doc_id) != v]
        gone = [doc_id for doc_id in known if doc_id not in versions]
        self._committed_now({**{doc_id: None for doc_id in gone}, **self._read_committed(changed, versions, chunks)})
        self._refreshed = time.monotonic()

    def _query_all(self, collection: str, expr: str, fields: list[str]) -> list[dict]:
        iterator = self.call("query_iterator", collection, batch_size=1000, filter=expr, output_fields=fields)
        rows = []
        while True:
            batch = iterator.next()
            if not batch:
                iterator.close()
                return rows
            rows.extend(batch)

    def discard_uncommitted(self) -> None:
        """Rows of versions no report row names: left by a write that did not finish."""
        with self._lock:
            committed = {doc_id: c.version for doc_id, c in self._committed.items()}
        for doc_id, version in committed.items():
            self._delete_rows(f"doc_id == {json.dumps(doc_id, ensure_ascii=False)} and version != {version}")
        self._delete_rows(f"doc_id not in {json.dumps(list(committed), ensure_ascii=False)}" if committed
                          else "version >= 0")

    # ----- reads -----------------------------------------------------------------------

    def view(self) -> MilvusView:
        if time.monotonic() - self._refreshed > self.settings.refresh_s:
            self.refresh()  # other nodes' commits, seen within refresh_s
        with self._lock:
            return MilvusView(self, dict(self._committed), self._doc_freq, self._generation)

    # ----- writes ----------------------------------------------------------------------

    def upsert(self, documents: Sequence[IndexedDocument]) -> None:
        for item in documents:
            self._write_one(item)

    def _write_one(self, item: IndexedDocument) -> None:
        doc = item.document
        version = time.time_ns()
        quoted = json.dumps(doc.doc_id, ensure_ascii=False)
        rows = [{"row_id": f"{c.chunk_id}@{version}", "chunk_id": c.chunk_id, "doc_id": c.doc_id,
                 "version": version, "city": c.city or "", "year": int(c.year or 0), "years": list(c.years),
                 "path": c.path, "title": c.title, "heading_path": list(c.heading_path), "start": c.start,
                 "end": c.end, "text": c.text,
                 "tokens": " ".join(tokens), "dense": vector.tolist()}
                for c, tokens, vector in zip(item.chunks, item.tokens, np.asarray(item.vectors, dtype=np.float32))]
        for start in range(0, len(rows), 500):
            self.call("insert", self.chunks_name, rows[start : start + 500])
        texts = [{"key": f"{doc.doc_id}@{version}#{i}", "doc_id": doc.doc_id, "version": version, "part": i,
                  "text": doc.text[at : at + _TEXT_PART], "pad": [0.0, 0.0]}
                 for i, at in enumerate(range(0, max(len(doc.text), 1), _TEXT_PART))]
        self.call("insert", self.texts_name, texts)
        facts = [{"key": f"{doc.doc_id}@{version}#{i}", "doc_id": doc.doc_id, "version": version,
                  "city": fact.city or "", "year": int(fact.year or 0), "fact": fact.row(), "pad": [0.0, 0.0]}
                 for i, fact in enumerate(item.facts)]
        for start in range(0, len(facts), 500):
            self.call("insert", self.facts_name, facts[start : start + 500])
        sentences = [{"key": f"{doc.doc_id}@{version}#{i}", "doc_id": doc.doc_id, "version": version,
                      "start": span.start, "end": span.end, "vector": vector.tolist()}
                     for i, (span, vector) in enumerate(zip(item.sentences, np.asarray(
                         item.sentence_vectors if item.sentence_vectors is not None else [], dtype=np.float32)))]
        for start in range(0, len(sentences), 500):
            self.call("insert", self.sentences_name, sentences[start : start + 500])
        self.checkpoint("rows_inserted")
        doc_freq = Counter(t for tokens in item.tokens for t in set(tokens))
        meta = document_row(doc)
        meta.pop("text")
        self.call("upsert", self.documents_name, [{"key": doc.doc_id, "version": version, "document": meta,
                                                   "chunks": len(item.chunks), "pad": [0.0, 0.0]}])  # the commit point
        self._committed_now({doc.doc_id: _Committed(version, doc, len(item.chunks), doc_freq)})
        self.checkpoint("report_committed")
        self._delete_rows(f"doc_id == {quoted} and version != {version}")

    def delete(self, doc_id: str) -> None:
        if doc_id not in self._committed:
            raise KeyError(doc_id)
        quoted = json.dumps(doc_id, ensure_ascii=False)
        self.call("delete", self.documents_name, filter=f"key == {quoted}")  # the commit point
        self._committed_now({doc_id: None})
        self.checkpoint("report_committed")
        self._delete_rows(f"doc_id == {quoted}")

    def _delete_rows(self, expression: str) -> None:
        """Chunk, text, fact and sentence rows alike (all carry doc_id and version)."""
        for name in self._collections:
            if name == self.documents_name:
                continue
            self.call("delete", name, filter=expression)

    def _committed_now(self, changes: Mapping[str, "_Committed | None"]) -> None:
        """Reports whose committed version is now this (None: gone), with term counts to match."""
        if not changes:
            return
        with self._lock:
            doc_freq = Counter(self._doc_freq)
            for doc_id, committed in changes.items():
                old = self._committed.pop(doc_id, None)
                if old is not None:
                    doc_freq.subtract(old.doc_freq)
                if committed is not None:
                    self._committed[doc_id] = committed
                    doc_freq.update(committed.doc_freq)
            self._doc_freq = +doc_freq  # drops terms no report holds any more
            self._generation += 1
