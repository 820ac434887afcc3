"""Both backends at 10k and 100k chunks, in one run: ingest rate, hybrid search latency
through the shared searcher, the approximate dense index's recall@10 against exact
search on the same backend, and what adding one report to the collection costs.

Collections are synthetic: chunks made of 2-4 random seed sentences' tokens, vectors
clustered as real embeddings are (perf.synthetic_vectors); questions are the eval set's,
tokenised for BM25, with synthetic query vectors from the same clusters."""

from __future__ import annotations

import dataclasses
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from retrieval.backends import BackendConfig
from retrieval.backends.base import IndexedDocument
from retrieval.backends.local.dense import DenseConfig
from retrieval.engine import Engine
from retrieval.models import Chunk, Document, Span
from retrieval.search.searcher import Searcher

from .timing import percentiles

CHUNKS_PER_REPORT = 100
CITIES = ("温州", "嘉兴", "赣州", "绍兴", "厦门", "杭州", "宁波", "台州")
# The approximate index measured against exact search on each backend: (its name, its settings).
APPROXIMATE = {"local": ("FAISS IVF", {"dense": DenseConfig(kind="ivf")}),
               "milvus": ("IVF_FLAT", {"milvus_dense_index": "IVF_FLAT"})}


def synthetic_reports(tokens: list[list[str]], vectors: np.ndarray, prefix: str) -> list[IndexedDocument]:
    reports = []
    for r, start in enumerate(range(0, len(tokens), CHUNKS_PER_REPORT)):
        doc_id = f"{prefix}{r:06d}"
        city, year = CITIES[r % len(CITIES)], 2019 + r % 6
        rows = range(start, min(start + CHUNKS_PER_REPORT, len(tokens)))
        text = "\n".join("".join(tokens[i]) for i in rows)  # a report's worth of text: writes hash it
        doc = Document(doc_id, f"synthetic/{doc_id}.txt", text, "utf-8", (Span(0, len(text)),), doc_id, False, None,
                       city, None, year, None, None)
        chunks = tuple(Chunk(f"{doc_id}:{i}", doc_id, doc.path, doc_id, city, year, (year,), ("一、工作总结",),
                             0, 0, "".join(tokens[i][:12])) for i in rows)
        reports.append(IndexedDocument(doc, chunks, tuple(tuple(tokens[i]) for i in rows), vectors[list(rows)]))
    return reports


def _collection(base: Engine, kind: str, extra: dict, scratch: Path, reports: list[IndexedDocument]):
    config = dataclasses.replace(base.config, index_dir=scratch / f"{kind}-{len(extra)}-{len(reports)}", cache_size=0,
                                 backend=BackendConfig(kind=kind, **extra))
    engine = Engine(config, encoder=base.encoder)
    backend = engine.start_empty()
    started = time.perf_counter()
    for start in range(0, len(reports), 10):  # ten reports (1,000 chunks) a write
        backend.upsert(reports[start : start + 10])
    return engine, time.perf_counter() - started


def _hybrid_latency(engine: Engine, questions: list[str], query_vectors: np.ndarray) -> dict:
    vectors = {engine.analyzer.analyze(q).dense_text: v for q, v in zip(questions, query_vectors)}
    searcher = Searcher(engine.view(), engine.analyzer, engine.config.search, vectors.__getitem__)
    for q in questions[:5]:
        searcher.search(q, 10)
    times = []
    for q in questions:
        started = time.perf_counter()
        searcher.search(q, 10)
        times.append((time.perf_counter() - started) * 1000)
    return percentiles(times)


def _recall(exact: Engine, approximate: Engine, query_vectors: np.ndarray) -> float:
    found = []
    for v in query_vectors:
        truth = {h.chunk_id for h in exact.view().vector(v, 10)}
        got = {h.chunk_id for h in approximate.view().vector(v, 10)}
        found.append(len(truth & got) / 10)
    return round(float(np.mean(found)), 3)


def _add_one_report(engine: Engine, report: IndexedDocument, texts: list[str]) -> dict:
    """Its own embedding (the real model, on real seed text of the same length) and its write."""
    started = time.perf_counter()
    engine.encoder.encode_passages(texts)
    embed_s = time.perf_counter() - started
    started = time.perf_counter()
    engine.backend.upsert([report])
    write_s = time.perf_counter() - started
    return {"chunks": len(report.chunks), "embedding_s": round(embed_s, 2), "write_s": round(write_s, 3)}


def measure_backends(base: Engine, questions: list[str], tokens_for, vectors_for, seed_texts: list[str],
                     sizes: list[int], log=lambda m: print(m, file=sys.stderr, flush=True)) -> dict:
    """tokens_for(n) -> n token lists; vectors_for(n, n_queries) -> (chunk vectors, query vectors)."""
    out = {}
    scratch = Path(tempfile.mkdtemp(prefix="reportqa-backends-"))
    try:
        for n in sizes:
            tokens = tokens_for(n)
            vectors, query_vectors = vectors_for(n, len(questions))
            reports = synthetic_reports(tokens, vectors, "r")
            extra = synthetic_reports(tokens_for(40), vectors_for(40, 1)[0], "new")[0]
            for kind in ("local", "milvus"):
                log(f"backends: {kind} at {n} chunks")
                engine, ingest_s = _collection(base, kind, {}, scratch, reports)
                point = {"chunks": n, "ingest_s": round(ingest_s, 1),
                         "ingest_chunks_per_s": round(n / ingest_s), "hybrid_ms": _hybrid_latency(engine, questions, query_vectors)}
                log(f"backends: {kind} at {n} chunks, approximate index")
                name, settings = APPROXIMATE[kind]
                approximate, _ = _collection(base, kind, settings, scratch, reports)
                point["approximate_index"] = name
                point["approximate_recall@10"] = _recall(engine, approximate, query_vectors[:100])
                point["approximate_hybrid_ms"] = _hybrid_latency(approximate, questions, query_vectors)
                point["add_one_report"] = _add_one_report(engine, extra, seed_texts[: len(extra.chunks)])
                out[f"{kind}/{n}"] = point
                for e in (engine, approximate):
                    e.close()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return out


def chart(points: dict, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(points)
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2))
    x = np.arange(len(names))
    for offset, p in ((-0.2, "p50"), (0.2, "p95")):
        bars = axes[0].bar(x + offset, [points[n]["hybrid_ms"][p] for n in names], 0.4, label=f"hybrid {p}")
        axes[0].bar_label(bars, fmt="%.1f", fontsize=7)
    axes[0].set_title("hybrid search latency (exact dense index)")
    axes[0].set_ylabel("ms")
    bars = axes[1].bar(x, [points[n]["ingest_chunks_per_s"] for n in names], color="#0b6e4f")
    axes[1].bar_label(bars, fmt="%.0f", fontsize=7)
    axes[1].set_title("ingest, chunks/s (embedding excluded)")
    bars = axes[2].bar(x, [points[n]["add_one_report"]["write_s"] for n in names], color="#8a5a00")
    axes[2].bar_label(bars, fmt="%.2f", fontsize=7)
    axes[2].set_title("adding one 40-chunk report: the write, s")
    for ax in axes:
        ax.set_xticks(x)
        ax.set_xticklabels(names, fontsize=8)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
