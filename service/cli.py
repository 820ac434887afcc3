"""The `reportqa` command. Library errors become one-line messages and a non-zero exit;
only this edge (and the service) reads the environment."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

EXIT_USAGE, EXIT_ERROR = 2, 1


def engine_config(args):
    """The engine's configuration from the options and the environment (options win)."""
    from retrieval.backends import BackendConfig
    from retrieval.embedding.encoders import EncoderConfig
    from retrieval.engine import EngineConfig

    seeds = Path(args.seeds)
    encoder = EncoderConfig(
        model=os.environ.get("REPORTQA_MODEL", EncoderConfig.model),
        cache_dir=Path(os.environ.get("REPORTQA_CACHE_DIR", EncoderConfig.cache_dir)),
        runtime=os.environ.get("REPORTQA_RUNTIME", EncoderConfig.runtime),
    )
    backend = BackendConfig(
        kind=getattr(args, "backend", None) or os.environ.get("REPORTQA_BACKEND", "local"),
        milvus_uri=getattr(args, "milvus_uri", None) or os.environ.get("REPORTQA_MILVUS_URI", ""),
        milvus_token=os.environ.get("REPORTQA_MILVUS_TOKEN", ""),
    )
    return EngineConfig(index_dir=Path(args.index), seeds_dir=seeds, project_root=seeds.resolve().parent,
                        encoder=encoder, backend=backend, cache_size=int(os.environ.get("REPORTQA_QUERY_CACHE", 256)))


def _bar(description: str):
    from tqdm import tqdm

    return lambda total: tqdm(total=total, desc=description, unit="chunk", file=sys.stderr)


def open_engine(args):
    """The engine with its index loaded; built from the seeds (with a progress bar) if there is none."""
    from retrieval.engine import Engine, progress_printer

    engine = Engine(engine_config(args))
    if not engine.has_saved_index():
        print(f"no index in {args.index}: building it from {args.seeds}", file=sys.stderr)
    from retrieval.engine import IndexReport

    report = engine.load_or_build(progress_printer(_bar("embedding")))
    if isinstance(report, IndexReport):
        _print_index_report(report)
    elif report.repaired:
        print(f"start-up check of {args.seeds} against the index: {report}", file=sys.stderr)
    return engine


def _print_index_report(report) -> None:
    for problem in report.problems:
        print(f"skipped {problem.message}", file=sys.stderr)
    removed = f", {report.removed} removed" if report.removed else ""
    print(f"indexed {report.documents} reports, {report.chunks} chunks ({report.embedded} embedded, "
          f"{report.chunks - report.embedded} kept{removed}) in the {report.backend} backend at {report.location}",
          file=sys.stderr)


def cmd_index(args) -> int:
    from retrieval.engine import Engine, progress_printer

    engine = Engine(engine_config(args))
    report = engine.build(progress_printer(_bar("embedding")))
    _print_index_report(report)
    return EXIT_ERROR if report.problems and not report.documents else 0


def cmd_serve(args) -> int:
    import uvicorn

    from service.app import ServiceConfig, create_app

    engine = open_engine(args)  # before the server starts, so the first request is answered at once
    engine.warm_up()
    config = ServiceConfig(api_key=os.environ.get("REPORTQA_API_KEY") or None)
    app = create_app(engine, config)
    print(f"serving on http://{args.host}:{args.port}/ (API docs at /docs)", file=sys.stderr)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


def _filters(args):
    from retrieval.backends.base import Filters

    return Filters(tuple(args.city or ()), tuple(args.year or ()))


def cmd_search(args) -> int:
    from retrieval.search.query import checked_question
    from service import schemas

    query = checked_question(args.query)
    engine = open_engine(args)
    outcome = engine.search(query, args.k, args.mode, _filters(args))
    if args.json:
        print(schemas.search_out(outcome).model_dump_json(indent=2))
        return 0
    print(f"{len(outcome.results)} results for {query!r} ({outcome.mode}, {outcome.took_ms:.1f} ms)")
    for r in outcome.results:
        c = r.chunk
        print(f"\n{r.rank:>2}. {c.city or '?'} {c.year or ''} · {c.title} · score {r.score:.4f}")
        if c.heading_path:
            print("    " + " › ".join(c.heading_path))
        print("    " + _terminal_marks(c.text, r.highlights).replace("\n", " "))
        print(f"    {c.path} [{c.start}:{c.end}]")
    return 0


def _terminal_marks(text: str, spans) -> str:
    if not sys.stdout.isatty():
        return text
    out, pos = [], 0
    for s, e in spans:
        out += [text[pos:s], "\033[1;33m", text[s:e], "\033[0m"]
        pos = e
    return "".join(out) + text[pos:]


def cmd_ask(args) -> int:
    from retrieval.search.query import checked_question
    from service import schemas

    question = checked_question(args.question)
    engine = open_engine(args)
    answer = engine.ask(question, _filters(args))
    if args.json:
        print(schemas.ask_out(answer).model_dump_json(indent=2))
        return 0
    print(answer.text)
    for i, e in enumerate(answer.evidence, start=1):
        print(f"  [{i}] {e.chunk.city or ''} · {e.chunk.title} · {' › '.join(e.chunk.heading_path)}")
        print(f"      {e.chunk.path} [{e.span.start}:{e.span.end}]")
    return 0 if answer.found else 3


def cmd_chunks(args) -> int:
    from retrieval.documents.chunking import ChunkingConfig, chunk_document
    from retrieval.documents.outline import find_headings
    from retrieval.documents.reading import read_report

    doc = read_report(Path(args.file))
    print(f"{doc.path}: {doc.title}{' (derived title)' if doc.title_derived else ''}")
    print(f"  city {doc.city} · bureau {doc.bureau} · years {'/'.join(map(str, doc.years))} "
          f"· published {doc.published or '-'} · encoding {doc.encoding}")
    print("outline:")
    for h in find_headings(doc):
        print(f"  {'  ' * h.level}{h.title}  [{h.start}]")
    chunks = chunk_document(doc, ChunkingConfig(max_chars=args.max_chars))
    print(f"{len(chunks)} chunks:")
    for c in chunks:
        print(f"  [{c.start}:{c.end}] {' › '.join(c.heading_path) or '(preamble)'}")
        print(f"      {c.text[:args.width].replace(chr(10), ' ')}{'…' if len(c.text) > args.width else ''}")
    return 0


def cmd_eval(args) -> int:
    from eval.run import run_eval

    engine = open_engine(args)
    return run_eval(engine, Path(args.questions), name=args.name, out_dir=Path(args.out))


def cmd_bench(args) -> int:
    from eval.bench import run_bench

    return run_bench(Path(args.dir), split=args.split, json_out=Path(args.json) if args.json else None,
                     config=engine_config(args), titles=not args.no_titles, limit=args.limit)


def cmd_perf(args) -> int:
    from eval.perf import run_perf

    return run_perf(engine_config(args), out=Path(args.out), quick=args.quick)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="reportqa", description="Search and answers over ecology and environment bureau work reports.")
    sub = p.add_subparsers(dest="command", required=True)

    def with_paths(sp):
        sp.add_argument("--seeds", default="seeds", help="folder of report files (default: seeds)")
        sp.add_argument("--index", default="index", help="index folder (default: index)")
        return sp

    def with_filters(sp):
        sp.add_argument("--city", action="append", help="only this city (repeatable)")
        sp.add_argument("--year", action="append", type=int, help="only reports covering this year (repeatable)")
        sp.add_argument("--json", action="store_true", help="JSON output for programs")

    sp = with_paths(sub.add_parser("index", help="build or update the index, with a progress bar"))
    sp.add_argument("--backend", choices=("local", "milvus"),
                    help="where the collection lives (default: $REPORTQA_BACKEND or local); "
                         "--backend milvus --milvus-uri URI builds the collection there")
    sp.add_argument("--milvus-uri", help="a file path (embedded milvus-lite) or http://host:19530 "
                                         "(default: $REPORTQA_MILVUS_URI or INDEX/milvus.db)")
    sp.set_defaults(run=cmd_index)

    sp = with_paths(sub.add_parser("serve", help="serve the API and the web page"))
    sp.add_argument("--host", default="127.0.0.1")
    sp.add_argument("--port", type=int, default=8000)
    sp.set_defaults(run=cmd_serve)

    sp = with_paths(sub.add_parser("search", help="ranked passages with citations"))
    sp.add_argument("query")
    sp.add_argument("-k", type=int, default=10, choices=range(1, 101), metavar="K", help="results (1-100)")
    sp.add_argument("--mode", default="hybrid", choices=("hybrid", "bm25", "dense"))
    with_filters(sp)
    sp.set_defaults(run=cmd_search)

    sp = with_paths(sub.add_parser("ask", help="a short answer with its evidence"))
    sp.add_argument("question")
    with_filters(sp)
    sp.set_defaults(run=cmd_ask)

    sp = sub.add_parser("chunks", help="print a report's metadata, outline and chunks")
    sp.add_argument("file")
    sp.add_argument("--max-chars", type=int, default=300)
    sp.add_argument("--width", type=int, default=80)
    sp.set_defaults(run=cmd_chunks)

    sp = with_paths(sub.add_parser("eval", help="the recall benchmark on the seed reports"))
    sp.add_argument("questions", nargs="?", default="eval/questions.jsonl")
    sp.add_argument("--name", default="latest", help="results go to eval/results/NAME.*")
    sp.add_argument("--out", default="eval/results")
    sp.set_defaults(run=cmd_eval)

    sp = with_paths(sub.add_parser("bench", help="the same metrics on an external benchmark folder"))
    sp.add_argument("dir")
    sp.add_argument("--split", default="dev")
    sp.add_argument("--json", help="write the metrics to this JSON file")
    sp.add_argument("--no-titles", action="store_true", help="index passages without their titles")
    sp.add_argument("--limit", type=int, default=0, help="only the first N queries (0: all)")
    sp.set_defaults(run=cmd_bench)

    sp = with_paths(sub.add_parser("perf", help="latency, throughput and scale benchmark"))
    sp.add_argument("--out", default="eval/results/perf")
    sp.add_argument("--quick", action="store_true", help="smaller scale curve, for a fast look")
    sp.set_defaults(run=cmd_perf)
    return p


def main(argv: list[str] | None = None) -> int:
    from retrieval.documents.reading import ReportError
    from retrieval.backends.base import BackendError

    args = parser().parse_args(argv)
    try:
        return args.run(args)
    except (ReportError, BackendError, FileNotFoundError, ValueError, RuntimeError) as exc:
        print(f"reportqa {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
