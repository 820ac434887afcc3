"""Calibrates the "not found" threshold of answers: the cosine between a question and its
best passage, for the eval questions (all answerable) and eval/unanswerable.jsonl.

    python -m eval.calibrate      # prints the table and writes eval/results/calibration.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from retrieval.answer import best_dense_score
from retrieval.engine import Engine

from .questions import load_questions


def scores(engine: Engine, questions: list[str]) -> list[float]:
    return [best_dense_score(engine.search(q, 10, "hybrid")) for q in questions]


def best_threshold(answerable: list[float], unanswerable: list[float]) -> tuple[float, float]:
    """The threshold with the best accuracy, midway between neighbouring scores; ties go to the
    lower threshold, since refusing an answerable question costs more than a weak answer."""
    candidates = sorted(set(answerable) | set(unanswerable))
    best = (-1.0, 0.0)
    for low, high in zip([candidates[0] - 1e-3] + candidates, candidates + [candidates[-1] + 1e-3]):
        t = (low + high) / 2
        correct = sum(s >= t for s in answerable) + sum(s < t for s in unanswerable)
        accuracy = correct / (len(answerable) + len(unanswerable))
        if accuracy > best[0]:
            best = (accuracy, t)
    return best[1], best[0]


def main() -> int:
    from service.cli import open_engine

    class Paths:
        seeds, index = "seeds", "index"

    engine = open_engine(Paths)
    questions = [q.question for q in load_questions(Path("eval/questions.jsonl"), Path("."))]
    negatives = [json.loads(line)["question"] for line in Path("eval/unanswerable.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    answerable, unanswerable = scores(engine, questions), scores(engine, negatives)
    threshold, accuracy = best_threshold(answerable, unanswerable)
    kept = sum(s >= threshold for s in answerable) / len(answerable)
    refused = sum(s < threshold for s in unanswerable) / len(unanswerable)
    print(f"answerable   n={len(answerable)}  min {min(answerable):.4f}  median {sorted(answerable)[len(answerable) // 2]:.4f}")
    print(f"unanswerable n={len(unanswerable)}  max {max(unanswerable):.4f}  median {sorted(unanswerable)[len(unanswerable) // 2]:.4f}")
    print(f"threshold {threshold:.4f}: accuracy {accuracy:.3f}, answers kept {kept:.3f}, unanswerable refused {refused:.3f}")
    out = Path("eval/results/calibration.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"model": engine.encoder.model_id, "threshold": round(threshold, 4), "accuracy": accuracy,
                               "answerable_kept": kept, "unanswerable_refused": refused,
                               "answerable": answerable, "unanswerable": dict(zip(negatives, unanswerable))},
                              ensure_ascii=False, indent=2))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
