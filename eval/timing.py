"""Latency figures as the benchmarks report them."""

from __future__ import annotations

import statistics


def percentiles(ms: list[float]) -> dict[str, float]:
    ordered = sorted(ms)

    def at(p):
        return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]

    return {"p50": round(statistics.median(ordered), 2), "p95": round(at(95), 2), "p99": round(at(99), 2), "n": len(ordered)}
