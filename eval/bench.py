"""`reportqa bench DIR`: the eval metrics on an external benchmark folder in the
BEIR-like layout (corpus.jsonl, queries.jsonl, qrels.tsv), every method side by side."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from retrieval.engine import Engine, EngineConfig, progress_printer
from retrieval.indexing import embed_passages
from retrieval.models import Chunk, Document, Span
from retrieval.search.searcher import Searcher

from .metrics import Judged, mean_metrics
from .report import print_table
from .run import other_fusion

REQUIRED = ("corpus.jsonl", "queries.jsonl", "qrels.tsv")


class BenchmarkError(ValueError):
    pass


def _jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def load_benchmark(folder: Path, split: str | None):
    missing = [f for f in REQUIRED if not (folder / f).exists()]
    if missing:
        raise BenchmarkError(f"{folder} lacks {', '.join(missing)}: a benchmark folder holds {', '.join(REQUIRED)}")
    corpus = _jsonl(folder / "corpus.jsonl")
    queries = [q for q in _jsonl(folder / "queries.jsonl") if not split or q.get("split", split) == split]
    if not queries:
        raise BenchmarkError(f"no queries in split {split!r} of {folder}")
    qrels: dict[str, set[str]] = {}
    for line in (folder / "qrels.tsv").read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) >= 2 and (len(parts) < 3 or parts[2].strip() != "0"):
            qrels.setdefault(parts[0], set()).add(parts[1])
    queries = [q for q in queries if q["id"] in qrels]
    return corpus, queries, qrels


def _chunks(corpus: list[dict], titles: bool) -> list[Chunk]:
    return [Chunk(row["id"], row.get("doc_id", row["id"]), "corpus.jsonl", row.get("title", "") if titles else "",
                  None, None, (), (), int(row.get("char_start", 0)), int(row.get("char_end", len(row["text"]))), row["text"])
            for row in corpus]


def _by_document(chunks: list[Chunk]) -> tuple[list[Document], list[list[Chunk]], list[int]]:
    """The passages grouped into one document each, and the order that groups them."""
    groups: dict[str, list[int]] = {}
    for i, c in enumerate(chunks):
        groups.setdefault(c.doc_id, []).append(i)
    docs = [Document(doc_id, "corpus.jsonl", "", "utf-8", (Span(0, 0),), chunks[rows[0]].title, False, None,
                     None, None, None, None, None) for doc_id, rows in groups.items()]
    order = [i for rows in groups.values() for i in rows]
    return docs, [[chunks[i] for i in rows] for rows in groups.values()], order


def _vectors(encoder, chunks: list[Chunk], cache_dir: Path) -> np.ndarray:
    """Passage vectors, cached by model and exact indexed text: re-running a benchmark
    after a change to fusion or BM25 does not re-embed the corpus."""
    from tqdm import tqdm

    contexts = [c.context() for c in chunks]
    key = hashlib.sha256((encoder.model_id + "\x1f" + "\x1e".join(contexts)).encode()).hexdigest()[:16]
    cached = cache_dir / f"bench-vectors-{key}.npy"
    if cached.exists():
        return np.load(cached)
    bar = lambda total: tqdm(total=total, desc="embedding passages", unit="passage", file=sys.stderr)
    vectors = embed_passages(encoder, contexts, progress=progress_printer(bar))
    cache_dir.mkdir(parents=True, exist_ok=True)
    np.save(cached, vectors)
    return vectors


def run_bench(folder: Path, split: str, json_out: Path | None, config: EngineConfig, titles: bool = True,
              limit: int = 0) -> int:
    from tqdm import tqdm

    timings = {}
    started = time.perf_counter()
    corpus, queries, qrels = load_benchmark(Path(folder), split)
    if limit:
        queries = queries[:limit]
    chunks = _chunks(corpus, titles)
    timings["load_s"] = time.perf_counter() - started

    t = time.perf_counter()
    scratch = Path(tempfile.mkdtemp(prefix="reportqa-bench-"))
    # A collection of its own, never the configured one: the benchmark starts it empty.
    backend = dataclasses.replace(config.backend, milvus_collection="reportqa_bench",
                                  milvus_uri=config.backend.milvus_uri if config.backend.milvus_uri.startswith("http") else "")
    engine = Engine(dataclasses.replace(config, index_dir=scratch / "index", cache_size=0, backend=backend))
    timings["model_load_s"] = time.perf_counter() - t
    t = time.perf_counter()
    vectors = _vectors(engine.encoder, chunks, Path(config.encoder.cache_dir))
    timings["embed_s"] = time.perf_counter() - t

    t = time.perf_counter()
    documents, grouped, order = _by_document(chunks)
    items = engine.indexer.index_chunks(documents, grouped, vectors=vectors[order], answers=False)
    timings["tokenize_s"] = time.perf_counter() - t
    t = time.perf_counter()
    backend = engine.start_empty()
    for start in tqdm(range(0, len(items), 500), desc=f"storing in {engine.backend_name}", unit="batch", file=sys.stderr):
        backend.upsert(items[start : start + 500])
    timings["index_s"] = time.perf_counter() - t

    t = time.perf_counter()
    analyzer = engine.analyzer
    encoder = engine.encoder
    texts = [q["text"] for q in queries]
    query_vectors = {}
    for start in tqdm(range(0, len(texts), 64), desc="embedding queries", unit="batch", file=sys.stderr):
        batch = texts[start : start + 64]
        dense_texts = [analyzer.analyze(x).dense_text for x in batch]
        for text, vector in zip(dense_texts, encoder.encode_queries(dense_texts)):
            query_vectors[text] = vector
    timings["embed_queries_s"] = time.perf_counter() - t

    base = config.search
    variant, variant_config = other_fusion(base)
    variants = {"bm25": (base, "bm25"), "dense": (base, "dense"), "hybrid": (base, "hybrid"),
                variant: (variant_config, "hybrid")}
    results = {}
    for name, (search_config, mode) in variants.items():
        searcher = Searcher(engine.view(), analyzer, search_config, embed_query=query_vectors.__getitem__)
        judged, t = [], time.perf_counter()
        for q in tqdm(queries, desc=f"searching {name}", unit="q", file=sys.stderr):
            hits = searcher.search(q["text"], 10, mode).results
            relevant = qrels[q["id"]]
            ranks = tuple(next((r.rank for r in hits if r.chunk.chunk_id == pid), None) for pid in sorted(relevant))
            judged.append(Judged(q["id"], ranks))
        timings[f"search_{name}_s"] = time.perf_counter() - t
        results[name] = mean_metrics(judged)
    timings["total_s"] = time.perf_counter() - started
    engine.close()
    shutil.rmtree(scratch, ignore_errors=True)

    payload = {
        "benchmark": Path(folder).name, "split": split, "queries": len(queries), "passages": len(chunks),
        "titles_indexed": titles, "model": encoder.model_id, "fusion": base.fusion, "backend": engine.backend_name,
        "results": results, "timings_s": {k: round(v, 2) for k, v in timings.items()},
    }
    print_table(results, title=f"{payload['benchmark']} {split}: {len(queries)} queries, {len(chunks)} passages, "
                                 f"titles {'indexed' if titles else 'not indexed'}")
    print("\nstage times (s): " + ", ".join(f"{k.removesuffix('_s')} {v:.1f}" for k, v in timings.items()))
    if json_out:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(payload, ensure_ascii=False, indent=2))
        print(f"wrote {json_out}")
    return 0
