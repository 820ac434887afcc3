"""Recall@k, MRR@10 and nDCG@10 over ranked lists, where what counts as a hit is
decided by the caller (a span match for the seed questions, an id for benchmarks)."""

from __future__ import annotations

import math
from dataclasses import dataclass

CUTOFFS = (1, 5, 10)
METRICS = ("recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10")


@dataclass(frozen=True)
class Judged:
    """For one question: at which rank (1-based) each gold was first found, None if not in the list."""

    question_id: str
    gold_ranks: tuple[int | None, ...]


def covers(result_start: int, result_end: int, gold_start: int, gold_end: int, at_least: float = 0.8) -> bool:
    """A result covers a gold when it holds at least 80% of the gold's characters."""
    overlap = min(result_end, gold_end) - max(result_start, gold_start)
    return overlap > 0 and overlap >= at_least * (gold_end - gold_start)


def question_metrics(j: Judged) -> dict[str, float]:
    ranks = j.gold_ranks
    n = len(ranks)
    out = {f"recall@{k}": sum(1 for r in ranks if r is not None and r <= k) / n for k in CUTOFFS}
    first = min((r for r in ranks if r is not None and r <= 10), default=None)
    out["mrr@10"] = 1.0 / first if first else 0.0
    dcg = sum(1.0 / math.log2(r + 1) for r in set(ranks) if r is not None and r <= 10)
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(n, 10)))
    out["ndcg@10"] = dcg / ideal if ideal else 0.0
    return out


def mean_metrics(judged: list[Judged]) -> dict[str, float]:
    if not judged:
        return {m: 0.0 for m in METRICS}
    per = [question_metrics(j) for j in judged]
    return {m: sum(p[m] for p in per) / len(per) for m in METRICS}
