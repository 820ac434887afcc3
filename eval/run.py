"""`reportqa eval`: every method on the hand-written questions, side by side, overall and
by language and kind; a table on screen, JSON, Markdown and a PNG chart on disk."""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from pathlib import Path

from retrieval.engine import Engine
from retrieval.search.searcher import SearchConfig, Searcher

from .metrics import METRICS, Judged, covers, mean_metrics
from .questions import Question, load_questions
from .report import bar_chart, markdown_table, print_table


def other_fusion(base: SearchConfig) -> tuple[str, SearchConfig]:
    """The fusion method not configured, as a variant to compare against."""
    other = "rrf" if base.fusion == "weighted" else "weighted"
    return f"hybrid-{other}", dataclasses.replace(base, fusion=other)


def methods(engine: Engine) -> dict[str, tuple[Searcher, str]]:
    """The methods compared: the single retrievers, the configured hybrid, and variants worth a look."""
    base = engine.config.search
    searcher = engine.searcher
    variant, variant_config = other_fusion(base)
    return {
        "bm25": (searcher(base), "bm25"),
        "dense": (searcher(base), "dense"),
        "hybrid": (searcher(base), "hybrid"),
        variant: (searcher(variant_config), "hybrid"),
        "hybrid-no-boost": (searcher(dataclasses.replace(base, city_boost=0.0, year_boost=0.0, diversify=False)), "hybrid"),
    }


def judge(question: Question, results) -> Judged:
    ranks = []
    for gold in question.golds:
        name = Path(gold.file).name
        rank = next((r.rank for r in results
                     if Path(r.chunk.path).name == name and covers(r.chunk.start, r.chunk.end, gold.start, gold.end)), None)
        ranks.append(rank)
    return Judged(question.id, tuple(ranks))


def evaluate(engine: Engine, questions: list[Question], progress: bool = True) -> dict:
    from tqdm import tqdm

    table = {}
    per_question = {}
    latency = {}
    for name, (searcher, mode) in methods(engine).items():
        judged, times = [], []
        for q in tqdm(questions, desc=f"eval {name}", unit="q", file=sys.stderr, disable=not progress):
            started = time.perf_counter()
            outcome = searcher.search(q.question, 10, mode)
            times.append((time.perf_counter() - started) * 1000)
            judged.append(judge(q, outcome.results))
        by = {"overall": judged}
        for q, j in zip(questions, judged):
            by.setdefault(f"language={q.language}", []).append(j)
            by.setdefault(f"kind={q.kind}", []).append(j)
        table[name] = {slice_: {**mean_metrics(js), "n": len(js)} for slice_, js in by.items()}
        per_question[name] = {j.question_id: list(j.gold_ranks) for j in judged}
        latency[name] = sorted(times)[len(times) // 2]
    return {"metrics": table, "ranks": per_question, "median_ms": latency}


def misses(questions: list[Question], ranks: dict, k: int = 10) -> dict[str, list[str]]:
    out = {}
    for method, by_id in ranks.items():
        out[method] = [f"{q.id} {q.question}" for q in questions
                       if all(r is None or r > k for r in by_id[q.id])]
    return out


def run_eval(engine: Engine, questions_path: Path, name: str = "latest", out_dir: Path = Path("eval/results")) -> int:
    root = Path(engine.config.project_root)
    questions = load_questions(questions_path, root)
    result = evaluate(engine, questions)
    missed = misses(questions, result["ranks"])
    out_dir.mkdir(parents=True, exist_ok=True)
    payload = {
        "name": name, "questions": len(questions), "file": str(questions_path),
        "model": engine.encoder.model_id, "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "metrics": result["metrics"], "median_query_ms": result["median_ms"],
        "misses@10": missed, "ranks": result["ranks"],
    }
    (out_dir / f"{name}.json").write_text(json.dumps(payload, ensure_ascii=False, indent=2))
    overall = {m: v["overall"] for m, v in result["metrics"].items()}
    print_table(overall, title=f"{len(questions)} questions, overall")
    slices = sorted({s for v in result["metrics"].values() for s in v if s != "overall"})
    md = [f"# Eval `{name}`: {len(questions)} questions\n", markdown_table(overall), ""]
    for s in slices:
        rows = {m: v[s] for m, v in result["metrics"].items() if s in v}
        n = next(iter(rows.values()))["n"]
        md += [f"\n## {s} ({n} questions)\n", markdown_table(rows)]
    md.append("\n## Missed in the top 10\n")
    for method, items in missed.items():
        md.append(f"- **{method}** ({len(items)}): " + ("; ".join(items) if items else "none"))
    (out_dir / f"{name}.md").write_text("\n".join(md) + "\n", encoding="utf-8")
    bar_chart(result["metrics"], out_dir / f"{name}.png", title=f"reportqa eval — {len(questions)} questions")
    for s in slices:
        rows = {m: v[s] for m, v in result["metrics"].items() if s in v}
        print_table(rows, title=s, metrics=("recall@1", "recall@5", "recall@10", "mrr@10"))
    print("\nmissed in the top 10: " + ", ".join(f"{m} {len(v)}" for m, v in missed.items()))
    print(f"wrote {out_dir / name}.json, .md and .png")
    for line in against_baseline(result["metrics"], root / "eval" / "baseline.json"):
        print(line)
    return 0


def against_baseline(metrics: dict, path: Path) -> list[str]:
    """Recall@5 by method against the committed baseline: better, worse, or the same."""
    if not path.exists():
        return []
    baseline = json.loads(path.read_text(encoding="utf-8"))
    lines = [f"\nagainst {path} (recall@5, tolerance {baseline['tolerance']}):"]
    for method, floor in baseline["recall@5"].items():
        if method not in metrics:
            continue
        measured = metrics[method]["overall"]["recall@5"]
        verdict = ("better" if measured > floor + 0.0005 else "worse" if measured < floor - 0.0005 else "the same")
        if measured < floor - baseline["tolerance"]:
            verdict += ", beyond the tolerance: a regression"
        lines.append(f"  {method:<16} {measured:.3f} vs {floor:.3f}: {verdict}")
    return lines


__all__ = ["run_eval", "evaluate", "METRICS"]
