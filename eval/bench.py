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
from retrieval.indexing import answer_sentences, embed_passages
from retrieval.models import Chunk, Document, Span
from retrieval.search.query import QueryAnalyzer
from retrieval.search.searcher import Searcher
from .ablation import NONE
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
    """The passages grouped into one document each, and the order that groups them. An
    article's text is its passages laid end to end (their stated offsets do not always match
    their texts), so sentence and passage spans share one coordinate system."""
    groups: dict[str, list[int]] = {}
    for i, c in enumerate(chunks):
        groups.setdefault(c.doc_id, []).append(i)
    docs, grouped = [], []
    for doc_id, rows in groups.items():
        placed, at = [], 0
        for i in rows:
            placed.append(dataclasses.replace(chunks[i], start=at, end=at + len(chunks[i].text)))
            at += len(chunks[i].text) + 1
        text = "\n".join(c.text for c in placed)
        docs.append(Document(doc_id, "corpus.jsonl", text, "utf-8", (Span(0, len(text)),), chunks[rows[0]].title,
                             False, None, None, None, None, None, None))
        grouped.append(placed)
    order = [i for rows in groups.values() for i in rows]
    return docs, grouped, order


def _vectors(encoder, texts: list[str], cache_dir: Path, what: str = "passages") -> np.ndarray:
    """Passage (or sentence) vectors, cached by model and exact text: re-running a benchmark
    after a change to fusion or BM25 does not re-embed the corpus."""
    from tqdm import tqdm

    key = hashlib.sha256((encoder.model_id + "\x1f" + "\x1e".join(texts)).encode()).hexdigest()[:16]
    cached = cache_dir / f"bench-vectors-{key}.npy"
    if cached.exists():
        return np.load(cached)
    bar = lambda total: tqdm(total=total, desc=f"embedding {what}", unit=what.rstrip("s"), file=sys.stderr)  # noqa: E731
    vectors = embed_passages(encoder, texts, progress=progress_printer(bar))
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
    documents, grouped, order = _by_document(chunks)
    cache = Path(config.encoder.cache_dir)
    vectors = _vectors(engine.encoder, [c.context() for c in chunks], cache)
    sentences = [doc.text[s.start : s.end] for doc, doc_chunks in zip(documents, grouped)
                 for s in answer_sentences(doc, doc_chunks)]
    sentence_vectors = _vectors(engine.encoder, sentences, cache, "sentences") if config.search.sentence_weight else \
        np.zeros((len(sentences), engine.encoder.dimension), dtype=np.float32)
    timings["embed_s"] = time.perf_counter() - t

    t = time.perf_counter()
    items = engine.indexer.index_chunks(documents, grouped, vectors=vectors[order], sentence_vectors=sentence_vectors,
                                        facts=False)
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
    plain = QueryAnalyzer(engine.tokenizer, vocabulary_path=None)
    variants = {"bm25": (base, "bm25", analyzer), "dense": (base, "dense", analyzer),
                "hybrid": (base, "hybrid", analyzer), variant: (variant_config, "hybrid", analyzer),
                # issue 11's mechanisms: none of them, and all but the two that act here
                "hybrid-before": (dataclasses.replace(base, **NONE), "hybrid", plain),
                "hybrid-no-sentences": (dataclasses.replace(base, sentence_weight=0.0), "hybrid", analyzer),
                "hybrid-no-coinages": (dataclasses.replace(base, coined_terms=False), "hybrid", analyzer)}
    def vector_of(text: str) -> np.ndarray:  # another analyzer may word a question's dense text otherwise
        if text not in query_vectors:
            query_vectors[text] = encoder.encode_queries([text])[0]
        return query_vectors[text]

    results = {}
    for name, (search_config, mode, question_analyzer) in variants.items():
        searcher = Searcher(engine.view(), question_analyzer, search_config, embed_query=vector_of)
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
