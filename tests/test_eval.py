import json
from collections import Counter

import pytest

from eval.bench import BenchmarkError, load_benchmark, run_bench
from eval.metrics import Judged, covers, mean_metrics, question_metrics
from eval.questions import EvalSetError, load_questions
from eval.run import run_eval

from .conftest import ROOT, engine_config


@pytest.fixture(scope="module")
def questions():
    return load_questions(ROOT / "eval" / "questions.jsonl", ROOT)


def test_every_evidence_occurs_exactly_once_in_its_file(questions):
    for q in questions:
        for gold in q.golds:
            text = (ROOT / gold.file).read_text(encoding="utf-8")
            assert text.count(gold.evidence) == 1
            assert text[gold.start : gold.end] == gold.evidence


def test_the_eval_set_has_the_questions_it_promises(questions):
    languages = Counter(q.language for q in questions)
    kinds = Counter(q.kind for q in questions)
    assert len(questions) >= 100
    assert languages["en"] >= 25 and languages["zh-hant"] >= 10
    assert kinds["paraphrase"] >= 15 and kinds["multi_city"] >= 10
    assert len({q.id for q in questions}) == len(questions)
    for q in questions:
        if q.kind == "multi_city":
            files = [g.file for g in q.golds]
            assert len(files) >= 2 and len(files) == len(set(files)), "one gold per city"


def test_a_duplicated_evidence_is_refused(tmp_path):
    (tmp_path / "r.txt").write_text("水质100%。水质100%。", encoding="utf-8")
    row = {"id": "x", "question": "水质", "language": "zh", "kind": "fact", "gold": [{"file": "r.txt", "evidence": "水质100%"}]}
    (tmp_path / "q.jsonl").write_text(json.dumps(row, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(EvalSetError, match="occurs 2 times"):
        load_questions(tmp_path / "q.jsonl", tmp_path)


@pytest.mark.parametrize("result, gold, found", [
    ((0, 100), (10, 20), True),      # inside
    ((15, 100), (10, 20), False),    # half of it
    ((12, 100), (10, 20), True),     # 80% of it
    ((0, 9), (10, 20), False),       # next to it
])
def test_a_gold_is_found_when_the_citation_covers_80_percent(result, gold, found):
    assert covers(*result, *gold) is found


def test_metrics_for_one_question():
    m = question_metrics(Judged("q", (3, None)))
    assert m["recall@1"] == 0 and m["recall@5"] == 0.5 and m["mrr@10"] == pytest.approx(1 / 3)
    assert 0 < m["ndcg@10"] < 1
    assert mean_metrics([Judged("a", (1,)), Judged("b", (None,))])["recall@1"] == 0.5


def test_eval_writes_json_markdown_and_a_chart(fake_engine, tmp_path, capsys):
    out = tmp_path / "results"
    assert run_eval(fake_engine, ROOT / "eval" / "questions.jsonl", name="t", out_dir=out) == 0
    payload = json.loads((out / "t.json").read_text())
    assert set(payload["metrics"]) >= {"bm25", "dense", "hybrid"}
    assert payload["metrics"]["hybrid"]["overall"]["n"] == payload["questions"]
    assert "language=en" in payload["metrics"]["bm25"] and "kind=paraphrase" in payload["metrics"]["bm25"]
    assert (out / "t.md").read_text().startswith("# Eval")
    assert (out / "t.png").read_bytes()[:4] == b"\x89PNG"
    assert "recall@5" in capsys.readouterr().out


def write_benchmark(folder):
    folder.mkdir()
    passages = [("p1", "温州", "温州市国控断面水质比例100%"), ("p2", "厦门", "厦门空气质量全国排名第3"),
                ("p3", "赣州", "赣州完成投资92.7亿元"), ("p4", "嘉兴", "嘉兴罚款1.33亿元")]
    (folder / "corpus.jsonl").write_text("\n".join(json.dumps({"id": i, "title": t, "text": x, "doc_id": i}, ensure_ascii=False)
                                                   for i, t, x in passages), encoding="utf-8")
    queries = [("q1", "温州国控断面水质", "dev"), ("q2", "厦门空气排名", "dev"), ("q3", "赣州投资", "trial")]
    (folder / "queries.jsonl").write_text("\n".join(json.dumps({"id": i, "text": x, "split": s}, ensure_ascii=False)
                                                    for i, x, s in queries), encoding="utf-8")
    (folder / "qrels.tsv").write_text("q1\tp1\t1\nq2\tp2\t1\nq3\tp3\t1\n")


def test_bench_writes_the_agreed_json_shape(project, tmp_path):
    write_benchmark(tmp_path / "tiny")
    out = tmp_path / "out.json"
    assert run_bench(tmp_path / "tiny", "dev", out, engine_config(project)) == 0
    result = json.loads(out.read_text())
    assert (result["benchmark"], result["split"], result["queries"], result["passages"]) == ("tiny", "dev", 2, 4)
    assert result["titles_indexed"] is True
    for method in ("bm25", "dense", "hybrid"):
        assert set(result["results"][method]) == {"recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10"}
    assert result["results"]["bm25"]["recall@1"] == 1.0
    assert "embed_s" in result["timings_s"]


def test_bench_says_what_a_folder_lacks(tmp_path):
    (tmp_path / "corpus.jsonl").write_text("")
    with pytest.raises(BenchmarkError, match="queries.jsonl, qrels.tsv"):
        load_benchmark(tmp_path, "dev")
