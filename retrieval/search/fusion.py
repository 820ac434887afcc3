"""Combining rankings: reciprocal rank fusion, or weighted min-max normalised scores.

Both take rankings as lists of Hits (best first) with a weight each, return new
(chunk_id, score) pairs sorted best first, ties broken by id so results are stable."""

from __future__ import annotations

from retrieval.models import Hit

FUSION_METHODS = ("rrf", "weighted")


def rrf(rankings: list[tuple[float, list[Hit]]], k: int = 60) -> list[tuple[str, float]]:
    fused: dict[str, float] = {}
    for weight, hits in rankings:
        for hit in hits:
            fused[hit.chunk_id] = fused.get(hit.chunk_id, 0.0) + weight / (k + hit.rank)
    return _sorted(fused)


def weighted_scores(rankings: list[tuple[float, list[Hit]]]) -> list[tuple[str, float]]:
    fused: dict[str, float] = {}
    for weight, hits in rankings:
        if not hits:
            continue
        scores = [h.score for h in hits]
        low, high = min(scores), max(scores)
        span = high - low
        for hit in hits:
            norm = (hit.score - low) / span if span > 0 else 1.0
            fused[hit.chunk_id] = fused.get(hit.chunk_id, 0.0) + weight * norm
    return _sorted(fused)


def fuse(method: str, rankings: list[tuple[float, list[Hit]]], rrf_k: int = 60) -> list[tuple[str, float]]:
    if method == "rrf":
        return rrf(rankings, rrf_k)
    if method == "weighted":
        return weighted_scores(rankings)
    raise ValueError(f"fusion must be one of {', '.join(FUSION_METHODS)}, got {method!r}")


def _sorted(fused: dict[str, float]) -> list[tuple[str, float]]:
    return sorted(fused.items(), key=lambda item: (-item[1], item[0]))
