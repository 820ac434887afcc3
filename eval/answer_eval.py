"""`reportqa eval --answers`: answers judged against answer-level gold, for typed answers
and for the sentence-picking method they replace, side by side.

Gold (`eval/answers/*.jsonl`, format in `eval/answers/README.md`): the expected kind; the
value with its unit, year and kind; the cities; a table's cells; a passage's quote; or,
for unanswerable questions, the reason to refuse. A value matches when number (in base
units: 1.2亿元 equals 12000万元), unit, year and kind agree. Cell scores count the gold
cells that have a value."""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from retrieval.answers.extractive import Answer
from retrieval.answers.typed import TypedAnswer
from retrieval.engine import Engine
from retrieval.facts.extraction import kind_of_heading_path
from retrieval.facts.numbers import base_quantity, mentions

# dev: written by a helper, studied while building; seen, seen2, seen3, heldout, heldout2, heldout3,
# heldout4, heldout5, heldout6, heldout7: helpers' held-out sets, each measured unseen, then studied;
# heldout8 to heldout12: written by helpers who saw neither code nor output (refusals included),
# each measured once, then studied; heldout13 and heldout14: likewise, each measured once on session
# 23's final code, then studied in session 24; heldout15: measured once on session 24's final code
# (and on its starting code), not studied; unanswerable: refusals.
SETS = {"dev": "eval/answers/dev.jsonl", "seen": "eval/answers/seen.jsonl", "seen2": "eval/answers/seen2.jsonl",
        "seen3": "eval/answers/seen3.jsonl", "heldout": "eval/answers/heldout.jsonl",
        "heldout2": "eval/answers/heldout2.jsonl", "heldout3": "eval/answers/heldout3.jsonl",
        "heldout4": "eval/answers/heldout4.jsonl", "heldout5": "eval/answers/heldout5.jsonl",
        "heldout6": "eval/answers/heldout6.jsonl", "heldout7": "eval/answers/heldout7.jsonl",
        "heldout8": "eval/answers/heldout8.jsonl", "heldout9": "eval/answers/heldout9.jsonl",
        "heldout10": "eval/answers/heldout10.jsonl", "heldout11": "eval/answers/heldout11.jsonl",
        "heldout12": "eval/answers/heldout12.jsonl", "heldout13": "eval/answers/heldout13.jsonl",
        "heldout14": "eval/answers/heldout14.jsonl", "heldout15": "eval/answers/heldout15.jsonl",
        "unanswerable": "eval/answers/unanswerable.jsonl"}
METHODS = ("typed", "sentence-picking")


@dataclass(frozen=True)
class Cell:
    city: str | None
    year: int | None
    kind: str | None
    number: float | None
    unit: str


@dataclass
class Predicted:
    kind: str  # value, cities, table, passage or not_found
    cells: list[Cell] = field(default_factory=list)  # value: the first is the value given
    cities: set[str] = field(default_factory=set)
    reason: str | None = None
    quoted: list[tuple[str, int, int]] = field(default_factory=list)  # (file name, start, end) of evidence


def load_gold(path: Path) -> list[dict]:
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except ValueError as e:
                raise ValueError(f"{path}:{n}: not JSON ({e})") from None
    return rows


def _cell_of(d: dict) -> Cell:
    return Cell(d.get("city"), d.get("year"), d.get("kind"), d.get("number"), d.get("unit") or "")


def _quantity(number: float | None, unit: str) -> tuple[float, str] | None:
    return None if number is None else base_quantity(float(number), unit)


def same_value(pred: Cell, gold: Cell) -> bool:
    a, b = _quantity(pred.number, pred.unit), _quantity(gold.number, gold.unit)
    if a is None or b is None or a[1] != b[1] or abs(a[0] - b[0]) > 1e-6 * max(1.0, abs(b[0])):
        return False
    return (gold.city is None or pred.city == gold.city) and (gold.year is None or pred.year == gold.year) \
        and (gold.kind is None or pred.kind == gold.kind)


def from_typed(a: TypedAnswer) -> Predicted:
    quoted = [(Path(e.chunk.path).name, e.span.start, e.span.end) for e in a.evidence]
    if a.kind == "not_found":
        return Predicted("not_found", reason=a.not_found.reason if a.not_found else None)
    facts = [r.fact for r in a.rows if r.fact] if a.kind == "table" else list(a.facts)
    # a rank (全国第3) counts places, as the gold writes it: 3名
    cells = [Cell(f.city, f.year, f.kind, f.number, f.unit or ("名" if f.measure == "rank" else "")) for f in facts]
    return Predicted(a.kind, cells, set(a.cities), None, quoted)


def from_sentences(a: Answer) -> Predicted:
    """The sentence-picking answer read as generously as it allows: the marked value of each
    quoted sentence, with its chunk's city and year and its section's kind."""
    if not a.found:
        return Predicted("not_found")
    cells = []
    for e in a.evidence:
        if e.value is None:
            continue
        found = mentions(e.text[e.value[0] : e.value[1]])
        if found:
            m = found[0]
            cells.append(Cell(e.chunk.city, e.chunk.year, kind_of_heading_path(e.chunk.heading_path) or "achieved", m.number, m.unit))
    quoted = [(Path(e.chunk.path).name, e.span.start, e.span.end) for e in a.evidence]
    return Predicted("passage", cells, {e.chunk.city for e in a.evidence if e.chunk.city}, None, quoted)


@dataclass
class Judgement:
    question: dict
    answered: bool
    correct: bool
    detail: dict


def judge(gold: dict, pred: Predicted, text_of) -> Judgement:
    kind = gold["kind"]
    answered = pred.kind != "not_found"
    if kind == "not_found":
        return Judgement(gold, answered, not answered, {"refused": not answered, "reason": pred.reason,
                                                          "reason_right": pred.reason == gold["reason"]})
    if kind == "value":
        want = _cell_of(gold["value"])
        exact = bool(pred.cells) and same_value(pred.cells[0], want)
        return Judgement(gold, answered, exact, {"exact": exact})
    if kind == "cities":
        want = {c["city"] for c in gold["cities"]}
        got = pred.cities
        tp = len(got & want)
        return Judgement(gold, answered, got == want, {"tp": tp, "fp": len(got - want), "fn": len(want - got)})
    if kind == "table":
        cells = [_cell_of(c) for c in gold["cells"] if c.get("number") is not None]
        found = sum(any(same_value(p, g) for p in pred.cells) for g in cells)
        right = sum(any(same_value(p, g) for g in cells) for p in pred.cells if p.number is not None)
        given = sum(p.number is not None for p in pred.cells)
        targets_as_achieved = sum(1 for p in pred.cells if p.kind == "achieved" and any(
            g.kind == "target" and g.city == p.city and same_value(Cell(p.city, p.year, "target", p.number, p.unit), g)
            for g in cells))
        return Judgement(gold, answered, answered and given == right and found == len(cells),
                         {"gold_cells": len(cells), "found": found, "given": given, "right": right,
                          "targets_as_achieved": targets_as_achieved})
    # passage: a quoted sentence overlaps the gold quote
    name, quote = Path(gold["file"]).name, gold["quote"]
    text = text_of(name)
    start = text.find(quote)
    hit = any(n == name and s < start + len(quote) and start < e for n, s, e in pred.quoted) if start >= 0 else False
    return Judgement(gold, answered, hit, {"hit": hit})


def summarize(judged: list[Judgement]) -> dict:
    """The figures of one method on one set of questions."""
    out: dict = {"n": len(judged)}
    answerable = [j for j in judged if j.question["kind"] != "not_found"]
    unanswerable = [j for j in judged if j.question["kind"] == "not_found"]
    if answerable:
        out["answered"] = _share(j.answered for j in answerable)
        out["answered_wrongly"] = _share(j.answered and not j.correct for j in answerable)
    for language in ("zh", "en"):
        values = [j for j in answerable if j.question["kind"] == "value" and j.question["language"] == language]
        if values:
            out[f"value_exact_{language}"] = _share(j.correct for j in values)
            out[f"value_n_{language}"] = len(values)
    tables = [j for j in answerable if j.question["kind"] == "table"]
    if tables:
        gold_cells = sum(j.detail["gold_cells"] for j in tables)
        out["cell_recall"] = sum(j.detail["found"] for j in tables) / gold_cells if gold_cells else 0.0
        given = sum(j.detail["given"] for j in tables)
        out["cell_precision"] = sum(j.detail["right"] for j in tables) / given if given else 0.0
        out["table_targets_as_achieved"] = sum(j.detail["targets_as_achieved"] for j in tables)
        out["table_n"] = len(tables)
    cities = [j for j in answerable if j.question["kind"] == "cities"]
    if cities:
        tp, fp, fn = (sum(j.detail[k] for j in cities) for k in ("tp", "fp", "fn"))
        out["city_precision"] = tp / (tp + fp) if tp + fp else 0.0
        out["city_recall"] = tp / (tp + fn) if tp + fn else 0.0
        out["cities_listed_wrongly"] = fp
        out["cities_n"] = len(cities)
    passages = [j for j in answerable if j.question["kind"] == "passage"]
    if passages:
        out["passage_hit"] = _share(j.correct for j in passages)
    if unanswerable:
        out["false_answer_rate"] = _share(j.answered for j in unanswerable)
        for reason in sorted({j.question["reason"] for j in unanswerable}):
            these = [j for j in unanswerable if j.question["reason"] == reason]
            out[f"refused_{reason}"] = _share(not j.answered for j in these)
            out[f"reason_right_{reason}"] = _share(j.detail["reason_right"] for j in these)
    return out


def _share(flags) -> float:
    flags = list(flags)
    return sum(map(bool, flags)) / len(flags) if flags else 0.0


def evaluate_answers(engine: Engine, sets: dict[str, Path], progress: bool = True) -> dict:
    from tqdm import tqdm

    texts = {p.name: p.read_text(encoding="utf-8") for p in Path(engine.config.seeds_dir).glob("*.txt")}
    results: dict = {"methods": {}, "answers": {}}
    for method in METHODS:
        by_set, answers, times = {}, {}, []
        for set_name, path in sets.items():
            judged = []
            for gold in tqdm(load_gold(path), desc=f"answers {method} {set_name}", unit="q", file=sys.stderr,
                             disable=not progress):
                started = time.perf_counter()
                if method == "typed":
                    pred = from_typed(engine.ask(gold["question"]))
                else:
                    pred = from_sentences(engine.sentence_answer(gold["question"]))
                times.append((time.perf_counter() - started) * 1000)
                j = judge(gold, pred, lambda name: texts.get(name, ""))
                judged.append(j)
                answers[gold["id"]] = {"kind": pred.kind, "correct": j.correct, "reason": pred.reason,
                                       "cities": sorted(pred.cities), "cells": [c.__dict__ for c in pred.cells[:8]]}
            by_set[set_name] = judged
        table = {name: summarize(js) for name, js in by_set.items()}
        answerable = [j for name, js in by_set.items() for j in js if j.question["kind"] != "not_found"]
        table["all answerable"] = summarize(answerable)
        table["all"] = summarize([j for js in by_set.values() for j in js])
        for language in ("zh", "en"):
            table[f"language={language}"] = summarize([j for js in by_set.values() for j in js
                                                       if j.question["language"] == language])
        results["methods"][method] = table
        results["answers"][method] = answers
        results.setdefault("median_ms", {})[method] = sorted(times)[len(times) // 2] if times else 0.0
    return results


HEADLINE = ("value_exact_zh", "value_exact_en", "cell_recall", "cell_precision", "city_precision", "city_recall",
            "answered", "answered_wrongly", "false_answer_rate", "refused_no_city", "refused_other_years",
            "refused_no_indicator", "refused_off_topic")


def run_answer_eval(engine: Engine, name: str = "answers", out_dir: Path = Path("eval/results")) -> int:
    root = Path(engine.config.project_root)
    sets = {k: root / v for k, v in SETS.items() if (root / v).exists()}
    if not sets:
        raise FileNotFoundError(f"no answer gold under {root / 'eval' / 'answers'}")
    results = evaluate_answers(engine, sets)
    results["extraction"] = extraction_scores(engine)
    out_dir.mkdir(parents=True, exist_ok=True)
    payload = {"name": name, "created": time.strftime("%Y-%m-%dT%H:%M:%S"), "model": engine.encoder.model_id,
               **results}
    (out_dir / f"{name}.json").write_text(json.dumps(payload, ensure_ascii=False, indent=2))
    slices = [s for s in ("all", "all answerable", *SETS, "language=zh", "language=en")
              if s in results["methods"]["typed"]]
    lines = [f"# Answer eval `{name}`\n"]
    for s in slices:
        lines.append(f"\n## {s} ({results['methods']['typed'][s]['n']} questions)\n")
        lines.append("| metric | " + " | ".join(METHODS) + " |")
        lines.append("|---|" + "---|" * len(METHODS))
        for metric in HEADLINE:
            if metric in results["methods"]["typed"][s]:
                row = [results["methods"][m][s].get(metric) for m in METHODS]
                lines.append(f"| {metric} | " + " | ".join("" if v is None else f"{v:.3f}" for v in row) + " |")
    lines += ["\n## Extraction against the hand annotations\n", "| report | gold figures | facts | precision | recall | "
              "kind agrees | year agrees | unit agrees | scope agrees |", "|---|---|---|---|---|---|---|---|---|"]
    for doc_id, e in results["extraction"].items():
        a = e["agreement"]
        lines.append(f"| {doc_id} | {e['gold']} | {e['extracted']} | {e['precision']:.3f} | {e['recall']:.3f} | "
                     f"{a['kind']:.3f} | {a['year']:.3f} | {a['unit']:.3f} | {a['scope']:.3f} |")
    (out_dir / f"{name}.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    chart(results["methods"], out_dir / f"{name}.png")
    print("\nmedian ms per answer: " + ", ".join(f"{m} {v:.1f}" for m, v in results["median_ms"].items()))
    print(f"wrote {out_dir / name}.json, .md and .png")
    return 0


def extraction_scores(engine: Engine) -> dict:
    """Facts of each hand-annotated seed report against its annotation (eval/facts_eval.py)."""
    from retrieval.facts.extraction import extract_facts

    from .facts_eval import GOLD, load_gold as load_annotation, score

    out = {}
    documents = engine.documents()
    for path in sorted(GOLD.glob("*.jsonl")):
        doc = documents.get(path.stem)
        if doc is None:
            continue
        s = score(path.stem, list(extract_facts(doc, engine.vocabulary)), load_annotation(path.stem))
        out[path.stem] = {"gold": s.gold, "extracted": s.extracted, "precision": s.precision, "recall": s.recall,
                          "agreement": s.agreement}
    return out


def chart(methods: dict, out: Path, slices: tuple[str, ...] = ("heldout15", "all")) -> None:
    """The headline metrics of both methods: on the held-out questions, and on all of them."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    present = [s for s in slices if s in methods["typed"]]
    fig, axes = plt.subplots(len(present), 1, figsize=(13, 4.4 * len(present)), squeeze=False)
    width = 0.8 / len(METHODS)
    for ax, slice_ in zip(axes[:, 0], present):
        metrics = [m for m in HEADLINE if m in methods["typed"][slice_]]
        for i, method in enumerate(METHODS):
            values = [methods[method][slice_].get(m, 0.0) for m in metrics]
            bars = ax.bar([x + i * width for x in range(len(metrics))], values, width, label=method)
            ax.bar_label(bars, fmt="%.2f", fontsize=6, rotation=90, padding=2)
        ax.set_xticks([x + width / 2 for x in range(len(metrics))])
        ax.set_xticklabels(metrics, rotation=30, ha="right", fontsize=8)
        ax.set_ylim(0, 1.15)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=8)
        ax.set_title(f"{slice_}: {methods['typed'][slice_]['n']} questions")
    fig.suptitle("reportqa answers: typed answers vs sentence picking")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
