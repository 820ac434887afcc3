"""Calibrates when answers say "not found": per question language, the cosine between a
question and its best passage below which nothing relevant was found. Recall comes
first: the threshold is the highest that still answers every eval question (all of
which are answerable); eval/unanswerable.jsonl shows how many it then refuses.

    python -m eval.calibrate      # prints the figures, writes eval/results/calibration.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from retrieval.answers.extractive import best_dense_score, not_found_reason
from retrieval.engine import Engine, EngineConfig

from .questions import load_questions

MARGIN = 0.005  # below the weakest answerable question, so near-ties still get answered


def signals(engine: Engine, questions: list[str]) -> list[dict]:
    out = []
    cities = engine.known_cities(engine.view())
    for q in questions:
        outcome = engine.search(q, 10, "hybrid")
        out.append({"question": q, "language": outcome.analysis.language, "dense": best_dense_score(outcome),
                    "other_rule": not_found_reason(outcome, cities, None)})
    return out


def calibrate(answerable: list[dict], unanswerable: list[dict]) -> dict:
    # Traditional questions are encoded in simplified characters: one scale for both.
    family = {"zh": ("zh", "zh-hant"), "zh-hant": ("zh", "zh-hant"), "en": ("en",)}
    thresholds = {}
    for language in sorted({s["language"] for s in answerable}):
        kept = [s["dense"] for s in answerable if s["language"] in family[language] and not s["other_rule"]]
        thresholds[language] = round(min(kept) - MARGIN, 3) if kept else None

    def refused(s):
        t = thresholds.get(s["language"])
        return bool(s["other_rule"]) or (t is not None and s["dense"] < t)

    return {
        "thresholds": thresholds,
        "answerable_answered": sum(not refused(s) for s in answerable) / len(answerable),
        "unanswerable_refused": sum(refused(s) for s in unanswerable) / len(unanswerable),
        "refused_by_rules": sum(bool(s["other_rule"]) for s in unanswerable),
        "unanswerable": [{**s, "refused": refused(s)} for s in unanswerable],
    }


def main() -> int:
    root = Path(".").resolve()
    engine = Engine(EngineConfig(index_dir=root / "index", seeds_dir=root / "seeds", project_root=root))
    engine.load_or_build()
    questions = [q.question for q in load_questions(Path("eval/questions.jsonl"), Path("."))]
    negatives = [json.loads(line)["question"] for line in
                 Path("eval/unanswerable.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    result = calibrate(signals(engine, questions), signals(engine, negatives))
    print(f"thresholds by language: {result['thresholds']}")
    print(f"answerable questions answered: {result['answerable_answered']:.3f} of {len(questions)}")
    print(f"unanswerable questions refused: {result['unanswerable_refused']:.3f} of {len(negatives)} "
          f"({result['refused_by_rules']} by the city and word rules, the rest by the threshold)")
    for s in result["unanswerable"]:
        print(f"  {'refused ' if s['refused'] else 'ANSWERED'} {s['dense']:.3f} {s['question']}")
    out = Path("eval/results/calibration.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"model": engine.encoder.model_id, **result}, ensure_ascii=False, indent=2))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
