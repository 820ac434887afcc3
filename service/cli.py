"""The `reportqa` command. Library errors become one-line messages and a non-zero exit;
only this edge (and the service) reads the environment."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_NO_ANSWER = 0, 1, 2, 3
EXIT_CODES = """exit codes:
  0  success
  1  runtime error (a missing file or folder, an unusable index, a busy writer)
  2  usage error (as argparse reports it)
  3  no answer: the reports hold nothing for the question (ask, with or without --json)"""


def engine_config(args, cold_start: bool = False):
    """The engine's configuration from the options and the environment (options win);
    cold_start for a command that answers one question and exits."""
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
                        encoder=encoder, backend=backend, cache_size=int(os.environ.get("REPORTQA_QUERY_CACHE", 256)),
                        cold_start=cold_start)


def _bar(description: str):
    from tqdm import tqdm

    # passages and the answer sentences inside them are embedded alike
    return lambda total: tqdm(total=total, desc=description, unit="text", file=sys.stderr)


def open_engine(args, cold_start: bool = False):
    """The engine with its index loaded; built from the seeds (with a progress bar) if there is none."""
    from retrieval.engine import Engine, progress_printer

    engine = Engine(engine_config(args, cold_start))
    if not engine.has_saved_index():
        print(f"no index in {args.index}: building it from {args.seeds}", file=sys.stderr)
    from retrieval.engine import IndexReport

    report = engine.load_or_build(progress_printer(_bar("embedding")))
    if isinstance(report, IndexReport):  # a start-up repair is logged by the engine itself
        _print_index_report(report)
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


def _port_is_free(host: str, port: int) -> bool:
    import socket

    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def cmd_serve(args) -> int:
    import uvicorn

    from service.app import ServiceConfig, create_app

    if not _port_is_free(args.host, args.port):  # before the model loads, not after
        raise RuntimeError(f"port {args.port} on {args.host} is in use: stop what holds it or pass --port")

    engine = open_engine(args)  # before the server starts, so the first request is answered at once
    engine.warm_up()
    origins = tuple(o.strip() for o in os.environ.get("REPORTQA_CORS_ORIGINS", "").split(",") if o.strip())
    config = ServiceConfig(api_key=os.environ.get("REPORTQA_API_KEY") or None, cors_origins=origins)
    app = create_app(engine, config)
    print(f"serving on http://{args.host}:{args.port}/ (API docs at /docs)", file=sys.stderr)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


def _filters(engine, args):
    """City filters in any form a question accepts (温州市, Wenzhou, 溫州); a city or year the
    collection lacks is an error that lists what it holds."""
    return engine.resolved_filters(args.city or (), args.year or ())


def _question(text: str) -> str:
    """The question as given, or read from standard input when it is `-`."""
    from retrieval.search.query import checked_question

    return checked_question(sys.stdin.read() if text == "-" else text)


def _from_server(route: str, body: dict) -> dict | None:
    """The answer of the server at $REPORTQA_URL, when one is set and reachable: no model to
    load, so a question takes milliseconds. None to answer here instead."""
    url = os.environ.get("REPORTQA_URL", "").rstrip("/")
    if not url:
        return None
    import httpx

    try:
        response = httpx.post(f"{url}{route}", json=body, timeout=60)
    except httpx.HTTPError:
        print(f"{url} is not reachable: answering here", file=sys.stderr)
        return None
    if response.status_code >= 400:
        error = response.json().get("error", {}) if "json" in response.headers.get("content-type", "") else {}
        raise ValueError(error.get("message") or f"{url} answered HTTP {response.status_code}")
    return response.json()


def _filter_body(args) -> dict:
    return {"city": args.city or None, "year": args.year or None}


def cmd_search(args) -> int:
    query = _question(args.query)
    body = _from_server("/v1/search", {"query": query, "top_k": args.k, "mode": args.mode,
                                       "filters": _filter_body(args)})
    if body is None:
        engine = open_engine(args, cold_start=True)
        from service import schemas  # while the model's session starts

        outcome = engine.search(query, args.k, args.mode, _filters(engine, args))
        body = schemas.search_out(outcome).model_dump(by_alias=True)
    if args.json:
        print(json.dumps(body, ensure_ascii=False, indent=2))
        return EXIT_OK
    print(f"{len(body['results'])} results for {query!r} ({body['mode']}, {body['took_ms']:.1f} ms)")
    for r in body["results"]:
        print(f"\n{r['rank']:>2}. {r['city'] or '?'} {r['year'] or ''} · {r['title']} · score {r['score']:.4f}")
        if r["heading_path"]:
            print("    " + " › ".join(r["heading_path"]))
        print("    " + _terminal_marks(r["text"], r["highlights"]).replace("\n", " "))
        print(f"    {r['source']['path']} [{r['source']['start']}:{r['source']['end']}]")
    return EXIT_OK


def _terminal_marks(text: str, spans) -> str:
    if not sys.stdout.isatty():
        return text
    out, pos = [], 0
    for s, e in spans:
        out += [text[pos:s], "\033[1;33m", text[s:e], "\033[0m"]
        pos = e
    return "".join(out) + text[pos:]


def cmd_ask(args) -> int:
    question = _question(args.question)
    body = _from_server("/v1/ask", {"question": question, "filters": _filter_body(args)})
    if body is None:
        engine = open_engine(args, cold_start=True)
        from service import schemas  # while the model's session starts

        body = schemas.ask_out(engine.ask(question, _filters(engine, args))).model_dump(by_alias=True)
    code = EXIT_OK if body["found"] else EXIT_NO_ANSWER
    if args.json:
        print(json.dumps(body, ensure_ascii=False, indent=2))
        return code
    print(body["answer"])
    for i, e in enumerate(body["evidence"], start=1):
        where = " · ".join(part for part in (e["city"], e["title"], " › ".join(e["heading_path"])) if part)
        print(f"  [{i}] {where}")  # a passage before the first heading has no heading path
        print(f"      {e['source']['path']} [{e['source']['start']}:{e['source']['end']}]")
    return code


def cmd_facts(args) -> int:
    """Typed facts: every one the seed reports hold (--all, read from the files: the
    extraction under review), or those of the index matching the filters, as a table."""
    from retrieval.facts.vocabulary import default_vocabulary

    if args.all:
        from retrieval.documents.reading import read_reports, report_files

        documents, problems = read_reports(report_files(Path(args.seeds)))
        for problem in problems:
            print(f"skipped {problem}", file=sys.stderr)
        print(facts_review(documents, default_vocabulary()))
        return EXIT_OK
    from retrieval.backends.base import Filters
    from service import schemas

    engine = open_engine(args, cold_start=True)
    found = engine.facts(args.indicator, Filters(_filters(engine, args).cities, tuple(args.year or ())), args.kind)
    if args.json:
        print(json.dumps({"facts": [schemas.fact_out(f).model_dump() for f in found], "total": len(found)},
                         ensure_ascii=False, indent=2))
        return EXIT_OK
    from service.answer_text import value_text

    print("city | year | kind | indicator | value | source")
    for f in found:
        print(f"{f.city} | {f.year} | {f.kind} | {f.indicator or '-'} {f.indicator_text} | {value_text(f)} | "
              f"{f.path} [{f.sentence.start}:{f.sentence.end}]")
    print(f"{len(found)} facts", file=sys.stderr)
    return EXIT_OK if found else EXIT_NO_ANSWER


def facts_review(documents, vocabulary) -> str:
    """Every fact of these reports, one line each, grouped by report: the extraction as a
    person reviews it (committed as eval/facts_review.md, so a change shows in the diff)."""
    from retrieval.facts.extraction import extract_facts

    lines = ["# Facts extracted from the seed reports", "",
             "`reportqa facts --all`. Per fact: [value offsets] year kind measure, scope, indicator text → "
             "canonical id, value (number unit comparator), rank and change when stated.", ""]
    for doc in sorted(documents, key=lambda d: d.doc_id):
        facts = extract_facts(doc, vocabulary)
        lines += [f"## {doc.doc_id} · {doc.city} · {doc.title} ({len(facts)} facts)", ""]
        for f in facts:
            number = "" if f.number is None else f"{f.number:g}" + (f"–{f.number_max:g}" if f.number_max else "")
            extra = "".join(f" · {label} {v}" for label, v in (("rank", f.rank), ("change", f.change)) if v)
            lines.append(f"- [{f.value_span.start}:{f.value_span.end}] {f.year} {f.kind} {f.measure}"
                         f"{' · ' + f.scope if f.scope else ''} · {f.indicator_text or '∅'} → {f.indicator or '–'}"
                         f" · **{f.value}** ({number} {f.unit} {f.comparator}){extra}")
        lines.append("")
    return "\n".join(lines)


def cmd_chunks(args) -> int:
    if Path(args.file).suffix != ".txt":
        raise ValueError(f"{args.file} is not a report: reports are .txt files, like those in seeds/")
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

    if args.answers:
        from eval.answer_eval import run_answer_eval

        return run_answer_eval(open_engine(args), name=args.name if args.name != "latest" else "answers",
                               out_dir=Path(args.out))

    if not Path(args.questions).is_file():
        raise FileNotFoundError(f"{args.questions}: no such questions file (one JSON question per line, "
                                "like eval/questions.jsonl)")
    engine = open_engine(args)
    if args.ablation:
        from eval.ablation import run_ablation

        return run_ablation(engine, Path(args.questions), name=args.name, out_dir=Path(args.out))
    return run_eval(engine, Path(args.questions), name=args.name, out_dir=Path(args.out))


def cmd_bench(args) -> int:
    from eval.bench import run_bench

    if not Path(args.dir).is_dir():
        raise FileNotFoundError(f"{args.dir}: no such folder (a benchmark folder holds corpus.jsonl, "
                                "queries.jsonl and qrels.tsv)")
    return run_bench(Path(args.dir), split=args.split, json_out=Path(args.json) if args.json else None,
                     config=engine_config(args), titles=not args.no_titles, limit=args.limit)


def cmd_perf(args) -> int:
    from eval.perf import run_perf

    out = args.out or ("eval/results/perf-quick" if args.quick else "eval/results/perf")
    return run_perf(engine_config(args), out=Path(out), quick=args.quick)


def _top_k(text: str) -> int:
    try:
        k = int(text)
    except ValueError:
        k = 0
    if not 1 <= k <= 100:
        raise argparse.ArgumentTypeError(f"must be a whole number from 1 to 100, got {text!r}")
    return k


def parser() -> argparse.ArgumentParser:
    from importlib.metadata import version

    p = argparse.ArgumentParser(prog="reportqa", epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter,
                                description="Search and answers over ecology and environment bureau work reports.")
    p.add_argument("--version", action="version", version=f"reportqa {version('reportqa')}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

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
    sp.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    sp.add_argument("--port", type=int, default=8000, help="port to listen on (default: 8000)")
    sp.set_defaults(run=cmd_serve)

    sp = with_paths(sub.add_parser("search", help="ranked passages with citations"))
    sp.add_argument("query", help="the question, in Chinese or English; - reads it from standard input")
    sp.add_argument("-k", type=_top_k, default=10, metavar="K", help="how many results, 1-100 (default: 10)")
    sp.add_argument("--mode", default="hybrid", choices=("hybrid", "bm25", "dense"),
                    help="hybrid (default) fuses BM25 and dense; or either alone")
    with_filters(sp)
    sp.set_defaults(run=cmd_search)

    sp = with_paths(sub.add_parser("ask", help="a short answer with its evidence"))
    sp.add_argument("question", help="the question, in Chinese or English; - reads it from standard input")
    with_filters(sp)
    sp.set_defaults(run=cmd_ask)

    sp = with_paths(sub.add_parser("facts", help="typed facts (indicator, value, city, year, achieved or target) as a table"))
    sp.add_argument("--indicator", help="a canonical id (pm25_concentration) or words of the indicator text")
    sp.add_argument("--kind", choices=("achieved", "target"), help="only results, or only targets")
    sp.add_argument("--all", action="store_true", help="every fact of the reports in --seeds, read from the files "
                                                      "(the extraction under review; no index needed)")
    with_filters(sp)
    sp.set_defaults(run=cmd_facts)

    sp = sub.add_parser("chunks", help="print a report's metadata, outline and chunks")
    sp.add_argument("file", help="a report file, e.g. seeds/000_151f93f2618fcf8d.txt")
    sp.add_argument("--max-chars", type=int, default=300, help="the chunk size to show (default: 300)")
    sp.add_argument("--width", type=int, default=80, help="characters of each chunk to print (default: 80)")
    sp.set_defaults(run=cmd_chunks)

    sp = with_paths(sub.add_parser("eval", help="the recall benchmark on the seed reports"))
    sp.add_argument("questions", nargs="?", default="eval/questions.jsonl",
                    help="the questions file (default: eval/questions.jsonl)")
    sp.add_argument("--name", default="latest", help="results go to OUT/NAME.json, .md and .png (default: latest)")
    sp.add_argument("--out", default="eval/runs", help="folder for the results (default: eval/runs, not tracked; "
                                                       "eval/results holds the committed ones)")
    sp.add_argument("--answers", action="store_true",
                    help="judge answers instead of recall: typed answers and sentence picking against "
                         "eval/answers/*.jsonl (value, cities, table cells, refusals)")
    sp.add_argument("--ablation", action="store_true",
                    help="each recall mechanism alone and all together, hybrid only "
                         "(OUT/ablation-NAME.json and .md)")
    sp.set_defaults(run=cmd_eval)

    sp = with_paths(sub.add_parser("bench", help="the same metrics on an external benchmark folder"))
    sp.add_argument("dir", help="a folder with corpus.jsonl, queries.jsonl and qrels.tsv")
    sp.add_argument("--split", default="dev", help="which queries to use, by their split field (default: dev)")
    sp.add_argument("--json", help="write the metrics to this JSON file")
    sp.add_argument("--no-titles", action="store_true", help="index passages without their titles")
    sp.add_argument("--limit", type=int, default=0, help="only the first N queries (0: all)")
    sp.set_defaults(run=cmd_bench)

    sp = with_paths(sub.add_parser("perf", help="latency, throughput and scale benchmark"))
    sp.add_argument("--out", help="results go to OUT.json and OUT.png (default: eval/results/perf, "
                                  "or eval/results/perf-quick with --quick, so a quick look never "
                                  "overwrites a full run)")
    sp.add_argument("--quick", action="store_true", help="smaller scale curve, for a fast look")
    sp.set_defaults(run=cmd_perf)
    return p


def main(argv: list[str] | None = None) -> int:
    from retrieval.documents.reading import ReportError
    from retrieval.backends.base import BackendError
    from retrieval.search.query import QuestionError

    args = parser().parse_args(argv)
    # The library's one-time and repair notices (model conversion, start-up check) on stderr.
    logging.basicConfig(format="%(message)s", stream=sys.stderr)
    logging.getLogger("reportqa").setLevel(logging.INFO)
    try:
        return args.run(args)
    except QuestionError as exc:  # an empty or unsearchable question is a usage mistake, as argparse's are
        print(f"reportqa {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        # The reader left (`| head`): say nothing more, and let Python's exit flush nowhere.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except (ReportError, BackendError, OSError, ValueError, RuntimeError) as exc:
        print(f"reportqa {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
