"""`reportqa eval --ablation`: each recall mechanism alone, on top of the ranking without any
of them; all together; and all but each one, on one questions file; a table on screen, JSON and
Markdown on disk.

Caveat: marked terms (“五书同达”) and a report's repeated phrases are whole tokens in the index
in every row; what the rows switch is the query side (a question's cut completed by the
collection's coinages). The phrases were measured apart by rebuilding without them."""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from pathlib import Path

from retrieval.engine import Engine
from retrieval.search.query import QueryAnalyzer
from retrieval.search.searcher import SearchConfig, Searcher

from .metrics import mean_metrics
from .questions import Question, load_questions
from .run import judge

COLUMNS = (("overall", "recall@1"), ("overall", "recall@5"), ("overall", "recall@10"), ("overall", "mrr@10"),
           ("language=en", "recall@1"), ("language=en", "recall@5"), ("kind=which_city", "recall@5"),
           ("kind=multi_city", "recall@5"))

# Everything issue 11 added, switched off: the ranking before it.
NONE = dict(sentence_weight=0.0, synonyms=False, coined_terms=False, per_report_candidates=False, report_floor=0.0,
            results_first=False, plan_boost=0.0, results_boost=0.0, feedback_terms=0)
ALONE = {
    "best sentence": dict(sentence_weight=SearchConfig.sentence_weight),
    "synonyms": dict(synonyms=True),
    "coinages": dict(coined_terms=True),
    "indicator names for English": {},  # the analyzer's switch, below
    "per-report candidates": dict(per_report_candidates=True),
    "no padding of weak reports": dict(report_floor=SearchConfig.report_floor),
    "results before plans": dict(results_first=True),
    "plans for plan questions": dict(plan_boost=SearchConfig.plan_boost),
    "results for questions of what was done": dict(results_boost=SearchConfig.results_boost),
    "pseudo-relevance feedback": dict(feedback_terms=5),
}


def variants(engine: Engine) -> dict[str, Searcher]:
    base = engine.config.search
    plain = QueryAnalyzer(engine.tokenizer, vocabulary_path=None)
    out = {"none (before)": engine.searcher(dataclasses.replace(base, **NONE), plain)}
    for name, change in ALONE.items():
        analyzer = engine.analyzer if name == "indicator names for English" else plain
        out[f"+ {name} alone"] = engine.searcher(dataclasses.replace(base, **(NONE | change)), analyzer)
    out["all (the default)"] = engine.searcher(base)
    for name, change in ALONE.items():
        if name == "pseudo-relevance feedback":
            out["all + feedback"] = engine.searcher(dataclasses.replace(base, **change))
            continue
        analyzer = plain if name == "indicator names for English" else engine.analyzer
        undone = {key: NONE[key] for key in change}
        out[f"all but {name}"] = engine.searcher(dataclasses.replace(base, **undone), analyzer)
    return out


def ablation(engine: Engine, questions: list[Question], progress: bool = True) -> dict[str, dict]:
    from tqdm import tqdm

    table = {}
    for name, searcher in variants(engine).items():
        by: dict[str, list] = {"overall": []}
        for q in tqdm(questions, desc=name, unit="q", file=sys.stderr, disable=not progress):
            judged = judge(q, searcher.search(q.question, 10, "hybrid").results)
            for key in ("overall", f"language={q.language}", f"kind={q.kind}"):
                by.setdefault(key, []).append(judged)
        table[name] = {key: {**mean_metrics(js), "n": len(js)} for key, js in by.items()}
    return table


def _cell(row: dict, slice_: str, metric: str) -> str:
    return f"{row[slice_][metric]:.3f}" if slice_ in row else "-"


def run_ablation(engine: Engine, questions_path: Path, name: str, out_dir: Path) -> int:
    questions = load_questions(questions_path, Path(engine.config.project_root))
    table = ablation(engine, questions)
    header = ["variant (hybrid)"] + [f"{m}" + ("" if s == "overall" else f" {s.split('=')[1]}") for s, m in COLUMNS]
    rows = [[variant] + [_cell(row, s, m) for s, m in COLUMNS] for variant, row in table.items()]
    md = [f"# Ablation `{name}`: {len(questions)} questions ({questions_path})", "",
          "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    md += ["| " + " | ".join(r) + " |" for r in rows]
    width = max(len(r[0]) for r in rows)
    print(f"{'':<{width}}  " + "  ".join(f"{h:>16}" for h in header[1:]))
    for r in rows:
        print(f"{r[0]:<{width}}  " + "  ".join(f"{c:>16}" for c in r[1:]))
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"ablation-{name}.md").write_text("\n".join(md) + "\n", encoding="utf-8")
    (out_dir / f"ablation-{name}.json").write_text(json.dumps(
        {"name": name, "file": str(questions_path), "questions": len(questions),
         "created": time.strftime("%Y-%m-%dT%H:%M:%S"), "variants": table}, ensure_ascii=False, indent=2))
    print(f"wrote {out_dir / f'ablation-{name}'}.json and .md")
    return 0
