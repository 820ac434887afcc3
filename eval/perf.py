"""`reportqa perf` (or `python -m eval.perf`): speed and scale, measured in one run.

- query latency (p50/p95/p99) per mode on the seed index, in-process and over HTTP, warm;
- HTTP throughput at 1, 4 and 16 concurrent clients, and the served process's memory;
- index build time and embedding throughput;
- a scale curve at 10k, 100k and 1M synthetic chunks: BM25 latency and memory, dense exact
  vs approximate latency, memory and recall@10 against exact;
- our BM25 against rank-bm25's BM25Okapi.get_scores on the same tokens.

Figures go to OUT.json and a chart to OUT.png. Caches are off for the latency figures, so
each question is really searched; a repeated question (the cache) is measured apart.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from retrieval.backends.local.bm25 import BM25Index
from retrieval.backends.local.dense import DenseConfig, build_faiss_index
from retrieval.backends import BackendConfig
from retrieval.engine import Engine, EngineConfig

from .backend_perf import chart as backends_chart
from .timing import percentiles
from .backend_perf import measure_backends
from .questions import load_questions

MODES = ("bm25", "dense", "hybrid")


def rss_mb(pid: int | None = None) -> float:
    status = Path(f"/proc/{pid or 'self'}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS"))) / 1024


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ----- the seed index -------------------------------------------------------------


def measure_build(config: EngineConfig) -> tuple[Engine, dict]:
    """Build the seed index from scratch into a scratch folder, with caches off."""
    scratch = Path(tempfile.mkdtemp(prefix="reportqa-perf-"))
    config = dataclasses.replace(config, index_dir=scratch / "index", cache_size=0, backend=BackendConfig())
    started = time.perf_counter()
    engine = Engine(config)
    load_s = time.perf_counter() - started
    engine.warm_up()
    started = time.perf_counter()
    report = engine.build()
    build_s = time.perf_counter() - started
    started = time.perf_counter()
    engine.load()
    reload_s = time.perf_counter() - started
    view = engine.view()
    sentences = sum(len(view.sentences(doc_id)[0]) for doc_id in view.documents())
    return engine, {
        "model_load_s": round(load_s, 2), "build_s": round(build_s, 2), "index_load_s": round(reload_s, 3),
        "chunks": report.chunks, "answer_sentences": sentences,
        # per second of the whole build, which embeds the answer sentences too
        "embedding_passages_per_s": round(report.chunks / build_s, 1),
        "embedded_texts_per_s": round((report.chunks + sentences) / build_s, 1),
    }


def seed_rows(engine: Engine) -> tuple[list, np.ndarray]:
    """The seed collection's live chunks and their vectors, from the local backend's segments."""
    state = engine.view()
    chunks, vectors = [], []
    for segment in state.segments:
        dead = state.dead_rows(segment)
        for row, chunk in enumerate(segment.chunks):
            if dead is None or not dead[row]:
                chunks.append(chunk)
                vectors.append(segment.vectors[row])
    return chunks, np.asarray(vectors, dtype=np.float32)


def seed_contexts(engine: Engine) -> list[str]:
    return [c.context() for c in seed_rows(engine)[0]]


def measure_embedding(engine: Engine, texts: list[str]) -> dict:
    """Passages per second by batch size, on the chunks' indexed text."""
    out = {}
    for batch in (1, 16, 64):
        started = time.perf_counter()
        for i in range(0, len(texts), batch):
            engine.encoder.encode_passages(texts[i : i + batch])
        out[f"batch_{batch}"] = round(len(texts) / (time.perf_counter() - started), 1)
    return out


def measure_cold_cli(config: EngineConfig, questions: list[str], runs: int = 7) -> dict:
    """`reportqa search` as a person runs it without a server: a new process each time, so
    every run loads Python, the index and the model before it answers."""
    env = {k: v for k, v in os.environ.items() if k != "REPORTQA_URL"}
    times = []
    for q in questions[:runs]:
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "service.cli", "search", q, "-k", "3", "--index", str(config.index_dir),
                        "--seeds", str(config.seeds_dir)], cwd=config.project_root, env=env, check=True,
                       capture_output=True)
        times.append((time.perf_counter() - started) * 1000)
    return percentiles(times)


def measure_in_process(engine: Engine, questions: list[str]) -> dict:
    out = {}
    for mode in MODES:
        times = []
        for q in questions:
            started = time.perf_counter()
            engine.search(q, 10, mode)
            times.append((time.perf_counter() - started) * 1000)
        out[mode] = percentiles(times)
    cached = dataclasses.replace(engine.config, cache_size=256)
    warm = Engine(cached, encoder=engine.encoder)
    warm.load()
    warm.search(questions[0], 10, "hybrid")
    times = []
    for _ in range(50):
        started = time.perf_counter()
        warm.search(questions[0], 10, "hybrid")
        times.append((time.perf_counter() - started) * 1000)
    out["hybrid_repeated_question"] = percentiles(times)
    return out


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(config: EngineConfig, port: int) -> subprocess.Popen:
    # The query cache off: every request is really searched.
    env = {**os.environ, "REPORTQA_CACHE_DIR": str(config.encoder.cache_dir), "REPORTQA_MODEL": config.encoder.model,
           "REPORTQA_QUERY_CACHE": "0"}
    process = subprocess.Popen(
        [sys.executable, "-m", "service.cli", "serve", "--port", str(port), "--index", str(config.index_dir),
         "--seeds", str(config.seeds_dir)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    import httpx

    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the server exited: " + process.stderr.read().decode()[-2000:])
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.5)
    process.kill()
    raise RuntimeError("the server did not start within 300 s")


def measure_load(config: EngineConfig, questions: list[str], total: int, clients: int = 16) -> dict:
    """`total` uncached hybrid searches from `clients` concurrent clients: errors and latency."""
    import httpx

    port = _free_port()
    server = start_server(config, port)
    url = f"http://127.0.0.1:{port}/v1/search"
    statuses: dict[str, int] = {}
    times: list[float] = []

    def worker(offset: int) -> None:
        with httpx.Client(timeout=60) as c:
            for i in range(offset, total, clients):
                started = time.perf_counter()
                try:
                    status = str(c.post(url, json={"query": questions[i % len(questions)]}).status_code)
                except httpx.HTTPError as exc:
                    status = type(exc).__name__
                times.append((time.perf_counter() - started) * 1000)
                statuses[status] = statuses.get(status, 0) + 1

    try:
        started = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            list(pool.map(worker, range(clients)))
        elapsed = time.perf_counter() - started
    finally:
        server.terminate()
        server.wait(timeout=30)
    return {"requests": total, "clients": clients, "statuses": statuses,
            "errors": sum(n for s, n in statuses.items() if s != "200"),
            "rps": round(total / elapsed, 1), "latency_ms": percentiles(times)}


def measure_http(config: EngineConfig, questions: list[str], requests_per_client: int) -> dict:
    import httpx

    port = _free_port()
    server = start_server(config, port)
    url = f"http://127.0.0.1:{port}"
    out = {"latency_ms": {}, "throughput_rps": {}}
    try:
        with httpx.Client(timeout=60) as client:
            for q in questions[:5]:
                client.post(f"{url}/v1/search", json={"query": q})
            for mode in MODES:
                times = []
                for q in questions:
                    started = time.perf_counter()
                    client.post(f"{url}/v1/search", json={"query": q, "mode": mode}).raise_for_status()
                    times.append((time.perf_counter() - started) * 1000)
                out["latency_ms"][mode] = percentiles(times)
            # Answers in the same run: top_k 11 so no answer reuses a search just timed
            # from the cache (same work, another cache key).
            times = []
            for q in questions:
                started = time.perf_counter()
                client.post(f"{url}/v1/ask", json={"question": q, "top_k": 11}).raise_for_status()
                times.append((time.perf_counter() - started) * 1000)
            out["latency_ms"]["ask"] = percentiles(times)
            out["ask_to_search_p50"] = round(out["latency_ms"]["ask"]["p50"] / out["latency_ms"]["hybrid"]["p50"], 2)
        for clients in (1, 4, 16):
            def worker(offset: int) -> int:
                with httpx.Client(timeout=120) as c:
                    for i in range(requests_per_client):
                        q = questions[(offset * 7 + i) % len(questions)]
                        c.post(f"{url}/v1/search", json={"query": q}).raise_for_status()
                return requests_per_client

            started = time.perf_counter()
            with ThreadPoolExecutor(clients) as pool:
                done = sum(pool.map(worker, range(clients)))
            out["throughput_rps"][str(clients)] = round(done / (time.perf_counter() - started), 1)
        out["server_rss_mb"] = round(rss_mb(server.pid), 1)
    finally:
        server.terminate()
        server.wait(timeout=30)
    return out


# ----- the scale curve --------------------------------------------------------------


def synthetic_counts(sentence_tokens: list[list[str]], n_docs: int, rng: np.random.Generator):
    """n_docs synthetic chunks, each 2-4 seed sentences drawn at random: a documents x terms
    count matrix built as one sparse product, without tokenizing a million texts."""
    from scipy import sparse

    vocabulary: dict[str, int] = {}
    rows, cols = [], []
    for i, tokens in enumerate(sentence_tokens):
        for t in tokens:
            rows.append(i)
            cols.append(vocabulary.setdefault(t, len(vocabulary)))
    sentences = sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(sentence_tokens), len(vocabulary)))
    per_doc = rng.integers(2, 5, size=n_docs)
    doc_rows = np.repeat(np.arange(n_docs), per_doc)
    picks = rng.integers(0, len(sentence_tokens), size=len(doc_rows))
    choice = sparse.csr_matrix((np.ones(len(doc_rows)), (doc_rows, picks)), shape=(n_docs, len(sentence_tokens)))
    return (choice @ sentences).tocsr(), vocabulary


def scatter(centres: np.ndarray, n: int, rng: np.random.Generator, spread: float) -> np.ndarray:
    """n normalised points, each a random centre plus Gaussian noise of norm about `spread`."""
    out = np.empty((n, centres.shape[1]), dtype=np.float32)
    for start in range(0, n, 100_000):
        m = min(100_000, n - start)
        block = centres[rng.integers(0, len(centres), size=m)] + rng.standard_normal(
            (m, centres.shape[1]), dtype=np.float32) * (spread / np.sqrt(centres.shape[1]))
        out[start : start + m] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def synthetic_vectors(real: np.ndarray, n: int, n_queries: int, rng: np.random.Generator):
    """Chunks and queries clustered as real embeddings are: topics scattered widely around the
    seed chunks' real vectors (one topic per 20 chunks), chunks and queries around topics.
    (All of a million points around 217 vectors would make near-duplicate clusters that no
    real collection has; uniform random vectors would have no neighbours worth finding.)"""
    topics = scatter(real, max(500, n // 20), rng, spread=1.0)
    return scatter(topics, n, rng, spread=0.7), scatter(topics, n_queries, rng, spread=0.7)


def time_queries(fn, queries, repeat: int = 1) -> list[float]:
    times = []
    for _ in range(repeat):
        for q in queries:
            started = time.perf_counter()
            fn(q)
            times.append((time.perf_counter() - started) * 1000)
    return times


def seed_sentence_tokens(engine: Engine, seed_chunks: list) -> list[list[str]]:
    """The seed chunks' sentences as BM25 tokens: what synthetic chunks are drawn from."""
    from retrieval.documents.chunking import split_sentences
    from retrieval.models import Span

    sentences = [c.text[s.start : s.end] for c in seed_chunks for s in split_sentences(c.text, Span(0, len(c.text)))]
    return [t for t in (engine.tokenizer.tokens(s) for s in sentences) if t]


def measure_scale(engine: Engine, questions: list[str], sizes: list[int], rng: np.random.Generator) -> dict:
    from rank_bm25 import BM25Okapi

    seed_chunks, centres = seed_rows(engine)
    sentence_tokens = seed_sentence_tokens(engine, seed_chunks)
    query_tokens = [engine.tokenizer.tokens(q, query=True) for q in questions]
    n_queries = min(100, len(questions))
    out = {"sentences": len(sentence_tokens), "points": {}}

    def search_one(index, query):
        return index.search(query[None, :], 10)

    def bm25_topk(index, tokens):
        scores = index.scores(tokens)
        k = min(10, len(scores))
        return np.argpartition(-scores, k - 1)[:k]

    for n in sizes:
        _log(f"scale: {n} chunks")
        point = {}
        before = rss_mb()
        started = time.perf_counter()
        counts, vocabulary = synthetic_counts(sentence_tokens, n, rng)
        bm25 = BM25Index.from_term_counts(counts, vocabulary)
        point["bm25_build_s"] = round(time.perf_counter() - started, 2)
        m = bm25.matrix  # term counts; weights are computed per query, as the backend does
        point["bm25_matrix_mb"] = round((m.data.nbytes + m.indices.nbytes + m.indptr.nbytes) / 2**20, 1)
        point["bm25_rss_delta_mb"] = round(rss_mb() - before, 1)
        point["bm25_ms"] = percentiles(time_queries(functools.partial(bm25_topk, bm25), query_tokens))
        if n <= 10_000:  # rank-bm25 is a Python loop per document: compared where it finishes
            docs = _documents_from_counts(counts, vocabulary)
            oracle = BM25Okapi(docs)
            ours = time_queries(bm25.scores, query_tokens[:40])
            theirs = time_queries(oracle.get_scores, query_tokens[:40])
            point["rank_bm25_ms"] = percentiles(theirs)
            point["bm25_speedup_vs_rank_bm25"] = round(statistics.median(theirs) / statistics.median(ours), 1)
            point["bm25_agrees_with_rank_bm25"] = bool(np.allclose(bm25.scores(query_tokens[0]),
                                                                   oracle.get_scores(query_tokens[0]), rtol=1e-4, atol=1e-4))
            del docs, oracle
        del counts, bm25, m

        vectors, queries = synthetic_vectors(centres, n, n_queries, rng)
        point["vectors_mb"] = round(vectors.nbytes / 2**20, 1)
        exact = build_faiss_index(vectors, DenseConfig(kind="flat"))
        _, truth = exact.search(queries, 10)
        search = lambda index: percentiles(time_queries(functools.partial(search_one, index), queries, repeat=2))
        point["dense_exact_ms"] = search(exact)
        del exact
        if n <= 100_000:  # beyond, HNSW took 321 s to build here and needed a far larger efSearch
            started = time.perf_counter()
            index = build_faiss_index(vectors, DenseConfig(kind="hnsw", hnsw_m=16, hnsw_ef_construction=64))
            point["dense_hnsw_build_s"] = round(time.perf_counter() - started, 1)
            point.update(_sweep("hnsw", index, "efSearch", (16, 32, 64, 128), queries, truth, search,
                                functools.partial(setattr, index.hnsw, "efSearch")))
            del index
        lists = min(4096, max(64, int(4 * np.sqrt(n))))
        point["ivf_lists"] = lists
        for kind in ("ivf", "ivf_sq8"):
            started = time.perf_counter()
            index = build_faiss_index(vectors, DenseConfig(kind=kind, ivf_lists=lists))
            point[f"dense_{kind}_build_s"] = round(time.perf_counter() - started, 1)
            point.update(_sweep(kind, index, "nprobe", (8, 16, 32, 64, 128, 192), queries, truth, search,
                                functools.partial(setattr, index, "nprobe")))
            del index
        del vectors
        out["points"][str(n)] = point
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return out


def measure_backends_at_scale(engine: Engine, questions: list[str], sizes: list[int], rng) -> dict:
    seed_chunks, centres = seed_rows(engine)
    sentence_tokens = seed_sentence_tokens(engine, seed_chunks)

    def tokens_for(n):
        return _documents_from_counts(*synthetic_counts(sentence_tokens, n, rng))

    def vectors_for(n, n_queries):
        return synthetic_vectors(centres, n, n_queries, rng)

    return measure_backends(engine, questions, tokens_for, vectors_for, [c.context() for c in seed_chunks], sizes, _log)


def _sweep(name, index, knob, values, queries, truth, search, set_knob) -> dict:
    """Latency and recall@10 against exact for each setting; the chosen one is the cheapest
    that reaches 0.95 recall, else the most accurate."""
    sweep = []
    for value in values:
        set_knob(value)
        sweep.append({knob: value, "recall@10": _recall(index, queries, truth), "ms": search(index)})
    chosen = next((s for s in sweep if s["recall@10"] >= 0.95), sweep[-1])
    return {f"dense_{name}_sweep": sweep, f"dense_{name}_{knob}": chosen[knob],
            f"dense_{name}_ms": chosen["ms"], f"dense_{name}_recall@10": chosen["recall@10"]}


def _recall(index, queries: np.ndarray, truth: np.ndarray) -> float:
    _, found = index.search(queries, 10)
    return round(float(np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth)])), 3)


def _documents_from_counts(counts, vocabulary) -> list[list[str]]:
    terms = {i: t for t, i in vocabulary.items()}
    counts = counts.tocsr()
    return [[terms[c] for c, tf in zip(counts.indices[counts.indptr[r] : counts.indptr[r + 1]],
                                       counts.data[counts.indptr[r] : counts.indptr[r + 1]]) for _ in range(int(tf))]
            for r in range(counts.shape[0])]


# ----- report --------------------------------------------------------------------


def _at_million(r: dict) -> dict | None:
    return r["scale"]["points"].get("1000000")


def _approximate_at_million(point: dict) -> bool:
    return any(point.get(f"dense_{kind}_ms", {}).get("p50", 1e9) <= 10 and point.get(f"dense_{kind}_recall@10", 0) >= 0.95
               for kind in ("hnsw", "ivf", "ivf_sq8"))


# Each check answers True or False, or None where the run did not measure it (--quick).
TARGETS = {
    "hybrid /v1/search p50 <= 30 ms": lambda r: r["http"]["latency_ms"]["hybrid"]["p50"] <= 30,
    "hybrid /v1/search p95 <= 80 ms": lambda r: r["http"]["latency_ms"]["hybrid"]["p95"] <= 80,
    ">= 40 requests/s at 4 clients": lambda r: r["http"]["throughput_rps"]["4"] >= 40,
    "/v1/ask p50 <= 2x hybrid /v1/search p50": lambda r: r["http"]["ask_to_search_p50"] <= 2.0,
    "a cold `reportqa search` (no server) median <= 1.5 s": lambda r: r["cold_cli_ms"]["p50"] <= 1500,
    "BM25 on 1M chunks p50 <= 50 ms": lambda r: (
        None if _at_million(r) is None else _at_million(r)["bm25_ms"]["p50"] <= 50),
    "approximate dense on 1M p50 <= 10 ms at recall@10 >= 0.95": lambda r: (
        None if _at_million(r) is None else _approximate_at_million(_at_million(r))),
    "embedding >= 100 passages/s": lambda r: r["build"]["embedding_passages_per_s"] >= 100,
    "served seed index RSS <= 1.5 GB": lambda r: r["http"]["server_rss_mb"] <= 1536,
    "10,000 searches at 16 clients with 0 errors": lambda r: (
        None if r["load"]["requests"] < 10_000 else r["load"]["errors"] == 0),
    "adding one report to 100k chunks: its embedding + <= 1 s (local)": lambda r: (
        r["backends"]["local/100000"]["add_one_report"]["write_s"] <= 1.0),
}


def chart(result: dict, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(12, 8.5))
    ax = axes[0][0]
    width = 0.13
    for i, (where, data) in enumerate((("in-process", result["in_process"]), ("HTTP", result["http"]["latency_ms"]))):
        for j, p in enumerate(("p50", "p95", "p99")):
            xs = [k + (i * 3 + j) * width for k in range(len(MODES))]
            bars = ax.bar(xs, [data[m][p] for m in MODES], width, label=f"{where} {p}")
            ax.bar_label(bars, fmt="%.0f", fontsize=6)
    ax.set_xticks([k + 2.5 * width for k in range(len(MODES))])
    ax.set_xticklabels(MODES)
    ax.set_ylabel("ms")
    ax.set_title("query latency on the seed index (warm, uncached)")
    ax.legend(fontsize=7)

    ax = axes[0][1]
    clients = list(result["http"]["throughput_rps"])
    bars = ax.bar(clients, [result["http"]["throughput_rps"][c] for c in clients], color="#0b6e4f")
    ax.bar_label(bars, fmt="%.1f")
    ax.axhline(40, color="#b3261e", linestyle="--", label="target at 4 clients")
    ax.set_xlabel("concurrent clients")
    ax.set_ylabel("requests/s")
    ax.set_title("hybrid /v1/search throughput")
    ax.legend(fontsize=7)

    points = result["scale"]["points"]
    sizes = [int(n) for n in points]
    ax = axes[1][0]
    ax.plot(sizes, [points[str(n)]["bm25_ms"]["p50"] for n in sizes], "o-", label="BM25 p50")
    ax.plot(sizes, [points[str(n)]["dense_exact_ms"]["p50"] for n in sizes], "s-", label="dense exact p50")
    for name, marker in (("hnsw", "^"), ("ivf", "v"), ("ivf_sq8", "D")):
        have = [n for n in sizes if f"dense_{name}_ms" in points[str(n)]]
        ax.plot(have, [points[str(n)][f"dense_{name}_ms"]["p50"] for n in have], marker + "-",
                label=f"dense {name} p50 (recall@10 " + "/".join(f"{points[str(n)][f'dense_{name}_recall@10']:.2f}" for n in have) + ")")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("chunks")
    ax.set_ylabel("ms")
    ax.set_title("search latency by collection size")
    ax.legend(fontsize=7)

    ax = axes[1][1]
    ax.plot(sizes, [points[str(n)]["bm25_matrix_mb"] for n in sizes], "o-", label="BM25 matrix")
    ax.plot(sizes, [points[str(n)]["vectors_mb"] for n in sizes], "s-", label="vectors (float32, 384-d)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("chunks")
    ax.set_ylabel("MB")
    ax.set_title("index memory by collection size")
    ax.legend(fontsize=7)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)


def print_summary(result: dict) -> None:
    """The figures a person looks at first, as one table; the rest is in the JSON."""
    rows = [("seed index build", f"{result['build']['build_s']} s for {result['build']['chunks']} chunks "
                                 f"({result['build']['embedding_passages_per_s']} passages/s)")]
    for where, data in (("in-process", result["in_process"]), ("HTTP", result["http"]["latency_ms"])):
        for mode in MODES:
            rows.append((f"{mode} {where}", f"p50 {data[mode]['p50']} ms, p95 {data[mode]['p95']} ms"))
    cold = result["cold_cli_ms"]
    rows.append(("cold `reportqa search`", f"p50 {cold['p50']} ms over {cold['n']} runs, each a new process"))
    ask = result["http"]["latency_ms"]["ask"]
    rows.append(("ask HTTP", f"p50 {ask['p50']} ms, p95 {ask['p95']} ms: "
                             f"{result['http']['ask_to_search_p50']}x the hybrid search p50"))
    rows.append(("HTTP throughput", ", ".join(f"{c} clients {v} req/s" for c, v in result["http"]["throughput_rps"].items())))
    load = result["load"]
    rows.append((f"load: {load['requests']} searches, {load['clients']} clients",
                 f"{load['errors']} errors, {load['rps']} req/s, p50 {load['latency_ms']['p50']} ms"))
    for n, point in result["scale"]["points"].items():
        rows.append((f"scale {int(n):,} chunks", f"BM25 p50 {point['bm25_ms']['p50']} ms, exact dense p50 "
                                                f"{point['dense_exact_ms']['p50']} ms"))
    for name, point in result["backends"].items():
        rows.append((f"backend {name}", f"ingest {point['ingest_chunks_per_s']}/s, hybrid p50 {point['hybrid_ms']['p50']} "
                                        f"p95 {point['hybrid_ms']['p95']} ms, {point['approximate_index']} recall@10 "
                                        f"{point['approximate_recall@10']}, adding a report "
                                        f"{point['add_one_report']['write_s']} s + embedding "
                                        f"{point['add_one_report']['embedding_s']} s"))
    width = max(len(r[0]) for r in rows)
    for label, value in rows:
        print(f"{label:<{width}}  {value}")
    print()
    for name, met in result["targets"].items():
        print(f"{'not measured' if met is None else 'met' if met else 'NOT met':12}  {name}")


def run_perf(config: EngineConfig, out: Path, quick: bool = False) -> int:
    rng = np.random.default_rng(20261122)
    questions = [q.question for q in load_questions(Path("eval/questions.jsonl"), Path(config.project_root))]
    result = {"machine": {"cpus": os.cpu_count()}, "questions": len(questions), "quick": quick}
    _log("building the seed index from scratch")
    engine, result["build"] = measure_build(config)
    result["embedding_passages_per_s"] = measure_embedding(engine, seed_contexts(engine)[:128])
    _log("in-process latency")
    result["in_process"] = measure_in_process(engine, questions)
    _log("a cold `reportqa search`, no server")
    result["cold_cli_ms"] = measure_cold_cli(engine.config, questions)
    _log("HTTP latency and throughput")
    result["http"] = measure_http(engine.config, questions, requests_per_client=10 if quick else 30)
    sizes = [10_000, 100_000] if quick else [10_000, 100_000, 1_000_000]
    result["scale"] = measure_scale(engine, questions, sizes, rng)
    _log("load: searches at 16 clients")
    result["load"] = measure_load(engine.config, questions, 1_000 if quick else 10_000)
    _log("both backends at 10k and 100k chunks")
    result["backends"] = measure_backends_at_scale(engine, questions, [10_000, 100_000], rng)
    result["targets"] = {name: check(result) for name, check in TARGETS.items()}
    shutil.rmtree(Path(engine.config.index_dir).parent, ignore_errors=True)

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(result, ensure_ascii=False, indent=2))
    chart(result, out.with_suffix(".png"))
    backends_chart(result["backends"], out.with_name(out.name + "-backends.png"))
    print_summary(result)
    print(f"wrote {out.with_suffix('.json')} and {out.with_suffix('.png')}")
    return 0


if __name__ == "__main__":
    here = Path(".").resolve()
    sys.exit(run_perf(EngineConfig(index_dir=here / "index", seeds_dir=here / "seeds", project_root=here),
                      Path("eval/results/perf"), quick="--quick" in sys.argv))
