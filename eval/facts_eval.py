"""Extraction measured against hand annotations (`eval/facts_gold/<doc>.jsonl`: every number
of two whole seed reports, typed value / change / rank / other by a person who saw
neither the code nor its output).

A gold figure (value, change or rank) is found when an extracted fact's value overlaps
its span and states the same number; precision counts the extracted value spans that
overlap a gold figure (ranks without a numeral, such as 全省前列, lie outside the
annotation and are not counted). Among the matches, the attributes (kind, year, unit, scope,
measure) are scored for agreement."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from retrieval.facts.model import Fact
from retrieval.facts.numbers import base_quantity

_NUMERAL = re.compile(r"[\d零〇一二两三四五六七八九十百千万ⅠⅡⅢⅣⅤ]")
GOLD = Path(__file__).parent / "facts_gold"
FIGURES = ("value", "change", "rank")
_MEASURE = {"value": "level", "change": "change", "rank": "rank"}


@dataclass(frozen=True)
class ExtractionScore:
    doc_id: str
    gold: int
    extracted: int
    found: int  # gold figures with a matching fact
    correct: int  # extracted value spans that match a gold figure
    agreement: dict  # attribute -> share of matches that agree

    @property
    def precision(self) -> float:
        return self.correct / self.extracted if self.extracted else 0.0

    @property
    def recall(self) -> float:
        return self.found / self.gold if self.gold else 0.0


def load_gold(doc_id: str, folder: Path = GOLD) -> list[dict]:
    path = folder / f"{doc_id}.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _same_number(fact: Fact, gold: dict) -> bool:
    if gold.get("number") is None or fact.number is None:
        return gold.get("number") is None and fact.number is None
    a = base_quantity(fact.number, fact.unit)[0]
    b = base_quantity(float(gold["number"]), gold.get("unit") or "")[0]
    return abs(a - b) <= 1e-6 * max(1.0, abs(b)) or abs(fact.number - float(gold["number"])) < 1e-9


def _overlaps(fact: Fact, gold: dict) -> bool:
    return fact.value_span.start < gold["end"] and gold["start"] < fact.value_span.end


def score(doc_id: str, facts: list[Fact], gold_rows: list[dict]) -> ExtractionScore:
    figures = [g for g in gold_rows if g["type"] in FIGURES]
    spans = {}
    for f in facts:
        if not _NUMERAL.search(f.value):
            continue  # 全省前列: no numeral, so outside what the annotation covers
        spans.setdefault((f.value_span.start, f.value_span.end), f)
    matched_gold, matched_spans, pairs = set(), set(), []
    for gi, g in enumerate(figures):
        for key, f in spans.items():
            if _overlaps(f, g) and _same_number(f, g):
                matched_gold.add(gi)
                if key not in matched_spans:
                    pairs.append((f, g))
                matched_spans.add(key)
                break
    checks = {
        "kind": lambda f, g: f.kind == g["kind"],
        "year": lambda f, g: f.year == g["year"],
        "unit": lambda f, g: base_quantity(1, f.unit)[1] == base_quantity(1, g.get("unit") or "")[1],
        "measure": lambda f, g: f.measure == _MEASURE[g["type"]],
        "scope": lambda f, g: (f.scope or "") == (g.get("scope") or "") or not g.get("scope"),
    }
    agreement = {name: (sum(check(f, g) for f, g in pairs) / len(pairs) if pairs else 0.0)
                 for name, check in checks.items()}
    return ExtractionScore(doc_id, len(figures), len(spans), len(matched_gold), len(matched_spans), agreement)


def misses(facts: list[Fact], gold_rows: list[dict]) -> tuple[list[dict], list[Fact]]:
    """Gold figures no fact found, and facts that match no gold figure (for review)."""
    figures = [g for g in gold_rows if g["type"] in FIGURES]
    missed = [g for g in figures if not any(_overlaps(f, g) and _same_number(f, g) for f in facts)]
    spurious = [f for f in facts if not any(_overlaps(f, g) and _same_number(f, g) for g in figures)]
    return missed, spurious
