"""One contract, two backends: every test here runs on the local backend and on Milvus
(the embedded milvus-lite, the same protocol as a Milvus server)."""

import threading
from dataclasses import replace

import numpy as np
import pytest
from fastapi.testclient import TestClient

from retrieval.backends import BackendConfig
from retrieval.backends.base import Filters, SearchBackend, SearchView
from retrieval.backends.milvus import filter_expression
from retrieval.documents.reading import document_from_bytes
from retrieval.embedding.encoders import HashingEncoder
from retrieval.engine import Engine
from service.app import ServiceConfig, create_app

from .conftest import engine_config, make_project

HANGZHOU = "杭州市生态环境局2024年工作总结\n一、成效\n全市PM2.5浓度28微克/立方米。全市空气优良率91%。"


@pytest.fixture(scope="module", params=["local", "milvus"])
def built(request, tmp_path_factory):
    """The seed collection built once per backend; tests that write use `engine` below."""
    root = make_project(tmp_path_factory.mktemp(request.param) / "project")
    config = replace(engine_config(root), backend=BackendConfig(kind=request.param))
    engine = Engine(config, encoder=HashingEncoder(64))
    engine.build()
    yield root, config, engine
    engine.close()


@pytest.fixture
def engine(built):
    root, config, engine = built
    yield engine
    for doc_id in [d for d in engine.documents() if d.startswith("9")]:
        engine.delete_document(doc_id)  # what a test added goes, so the next one starts alike


def test_the_backend_follows_the_protocol(engine):
    assert isinstance(engine.backend, SearchBackend)
    assert isinstance(engine.view(), SearchView)
    assert engine.counts().documents == 5 and engine.counts().chunks > 150


def test_citations_are_exact(engine, built):
    root = built[0]
    for mode in ("hybrid", "bm25", "dense"):
        for r in engine.search("温州国控断面水质比例", k=10, mode=mode).results:
            raw = (root / r.chunk.path).read_text(encoding="utf-8")
            assert raw[r.chunk.start : r.chunk.end] == r.chunk.text


@pytest.mark.parametrize("mode", ["hybrid", "bm25", "dense"])
def test_filters_are_honoured(engine, mode):
    by_city = engine.search("空气质量优良率", k=10, mode=mode, filters=Filters(cities=("厦门",))).results
    assert by_city and {r.chunk.city for r in by_city} == {"厦门"}
    by_year = engine.search("空气质量优良率", k=10, mode=mode, filters=Filters(years=(2019,))).results
    assert by_year and {r.chunk.year for r in by_year} == {2019}
    by_doc = engine.search("水质", k=10, mode=mode, filters=Filters(doc_ids=("002_14e99ec946930a51",))).results
    assert by_doc and {r.chunk.doc_id for r in by_doc} == {"002_14e99ec946930a51"}
    assert not engine.search("水质", k=10, mode=mode, filters=Filters(cities=("杭州",))).results


def test_add_replace_and_delete_leave_the_same_documents(engine):
    engine.add_document("900_hangzhou", HANGZHOU.encode("gbk"))
    assert "900_hangzhou" in engine.documents()
    hit = engine.search("杭州PM2.5浓度", k=1).results[0].chunk
    assert hit.doc_id == "900_hangzhou" and "28微克" in hit.text

    engine.add_document("900_hangzhou", "杭州市生态环境局2024年工作总结\n全市空气优良率93%。".encode(), replace=True)
    texts = [r.chunk.text for r in engine.search("杭州空气优良率", k=10).results if r.chunk.doc_id == "900_hangzhou"]
    assert texts and all("93%" in t or "工作总结" in t for t in texts) and not any("28微克" in t for t in texts)

    engine.delete_document("900_hangzhou")
    assert "900_hangzhou" not in engine.documents() and engine.counts().documents == 5
    assert all(r.chunk.doc_id != "900_hangzhou" for r in engine.search("杭州空气优良率", k=10).results)


def test_the_collection_reopens_as_it_was(engine, built):
    _, config, _ = built
    engine.add_document("901_ningbo", "宁波市生态环境局2024年工作总结\n全市空气优良率92%。".encode())
    counts = engine.counts()
    engine.close()
    again = Engine(config, encoder=HashingEncoder(64))
    again.load()
    try:
        assert again.counts() == counts and "901_ningbo" in again.documents()
        assert again.document("901_ningbo").text == engine.document("901_ningbo").text
    finally:
        again.close()
    engine.load()  # the module's engine goes on with its own connection


def test_searches_during_writes_never_see_half_a_report(engine):
    """A report whose chunks all hold one rare word, added, replaced by a version with other
    chunks, and deleted, over and over: a question for that word finds every chunk of one
    version or none, never part of one, never two versions mixed."""
    def version(mark: str, n: int) -> str:
        paragraphs = [f"（{i}）杭州稀有词汇臻湛{mark}第{i}项工作全面完成，成效明显。" for i in range(1, n + 1)]
        return "杭州市生态环境局2024年工作总结\n" + "\n".join(paragraphs)

    texts = {"甲": version("甲", 6), "乙": version("乙", 3)}
    whole = {mark: sum("臻湛" in c.text for c in engine.indexer.chunked(
        [document_from_bytes(t.encode(), "902_x", "seeds/902_x.txt", "902_x")])[0]) for mark, t in texts.items()}
    seen, errors, stop = set(), [], threading.Event()

    def search_until_stopped():
        while not stop.is_set():
            try:
                hits = [r for r in engine.search("臻湛", k=50, mode="bm25").results if r.chunk.doc_id == "902_x"]
                marks = {mark for r in hits for mark in texts if f"臻湛{mark}" in r.chunk.text}
                seen.add((tuple(sorted(marks)), len(hits)))
            except Exception as exc:  # noqa: BLE001 - any failure is the finding
                errors.append(exc)

    readers = [threading.Thread(target=search_until_stopped) for _ in range(2)]
    for t in readers:
        t.start()
    for _ in range(3):
        engine.add_document("902_x", texts["甲"].encode())
        engine.add_document("902_x", texts["乙"].encode(), replace=True)
        engine.delete_document("902_x")
    stop.set()
    for t in readers:
        t.join(30)
    assert not errors
    assert seen <= {((), 0), (("甲",), whole["甲"]), (("乙",), whole["乙"])}


def test_the_api_adds_and_deletes_a_searchable_report(engine):
    app = create_app(engine, ServiceConfig(api_key="k"))
    with TestClient(app) as client:
        assert client.get("/health").json()["backend"] == engine.backend_name
        added = client.post("/v1/documents?name=903_hangzhou", content=HANGZHOU.encode(),
                            headers={"X-API-Key": "k", "content-type": "text/plain"})
        assert added.status_code == 201
        found = client.post("/v1/search", json={"query": "杭州PM2.5浓度", "top_k": 3}).json()["results"]
        assert found[0]["doc_id"] == "903_hangzhou"
        assert client.delete("/v1/documents/903_hangzhou", headers={"X-API-Key": "k"}).status_code == 200
        found = client.post("/v1/search", json={"query": "杭州PM2.5浓度", "top_k": 10}).json()["results"]
        assert all(r["doc_id"] != "903_hangzhou" for r in found)


def test_filters_become_milvus_expressions():
    assert filter_expression(Filters()) == ""
    assert (filter_expression(Filters(cities=("温州", '引"号'), years=(2023,)))
            == 'city in ["温州", "引\\"号"] and year in [2023]')


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    root = make_project(tmp_path_factory.mktemp("both") / "project")
    engines = {}
    for kind in ("local", "milvus"):
        config = replace(engine_config(root), index_dir=root / f"index-{kind}", backend=BackendConfig(kind=kind))
        engines[kind] = Engine(config, encoder=HashingEncoder(64))
        engines[kind].build()
    yield engines
    for e in engines.values():
        e.close()


def test_exact_dense_search_returns_the_same_ids_on_both(both):
    encoder = HashingEncoder(64)
    for question in ("温州国控断面水质", "厦门空气质量全国排名", "赣州美丽建设项目投资"):
        vector = encoder.encode_queries([question])[0]
        local, milvus = (both[k].view().vector(vector, 10) for k in ("local", "milvus"))
        assert [h.chunk_id for h in local] == [h.chunk_id for h in milvus]
        assert np.allclose([h.score for h in local], [h.score for h in milvus], atol=1e-5)


def test_answers_use_the_same_term_statistics_on_both(both):
    terms = ["水质", "断面", "空气", "不存在的词"]
    local, milvus = (both[k].view().idf(terms) for k in ("local", "milvus"))
    assert local.keys() == milvus.keys() == {"水质", "断面", "空气"}
    assert all(np.isclose(local[t], milvus[t]) for t in local)


def test_ids_are_exact_and_nothing_is_replaced_by_accident(engine):
    from retrieval.engine import DocumentExists

    engine.add_document("904.x", HANGZHOU.encode())
    engine.add_document("904_x", HANGZHOU.replace("28", "29").encode())
    assert {"904.x", "904_x"} <= set(engine.documents())
    with pytest.raises(DocumentExists):
        engine.add_document("904.x", HANGZHOU.encode())
    for doc_id in ("904.x", "904_x"):
        engine.delete_document(doc_id)


def test_facts_and_answer_sentences_are_stored_beside_the_chunks(engine):
    view = engine.view()
    wenzhou = view.facts(Filters(cities=("温州",), years=(2023,)))
    assert wenzhou and {(f.city, f.year) for f in wenzhou} == {("温州", 2023)}
    assert any(f.value == "25μg/m3" and f.indicator == "pm25_concentration" for f in wenzhou)
    spans, vectors = view.sentences("000_151f93f2618fcf8d")
    assert len(spans) == len(vectors) > 20 and vectors.shape[1] == 64

    engine.add_document("902_hangzhou", HANGZHOU.encode())
    added = engine.view().facts(Filters(doc_ids=("902_hangzhou",)))
    assert [(f.value, f.city, f.kind) for f in added] == [("28微克/立方米", "杭州", "achieved"), ("91%", "杭州", "achieved")]
    engine.delete_document("902_hangzhou")
    assert not engine.view().facts(Filters(doc_ids=("902_hangzhou",)))
    assert engine.view().sentences("902_hangzhou")[0] == ()


def test_a_passage_scores_as_its_best_sentence_on_both(both):
    encoder = HashingEncoder(64)
    vector = encoder.encode_queries(["温州国控断面水质比例"])[0]
    scores = {}
    for kind in ("local", "milvus"):
        view = both[kind].view()
        chunks = [view.chunk(h.chunk_id) for h in view.vector(vector, 10)]
        scores[kind] = view.sentence_scores(vector, chunks)
    assert scores["local"].keys() == scores["milvus"].keys() and len(scores["local"]) >= 8
    assert all(np.isclose(scores["local"][c], scores["milvus"][c], atol=1e-5) for c in scores["local"])

    view = both["local"].view()
    chunk = view.chunk(next(iter(scores["local"])))
    spans, vectors = view.sentences(chunk.doc_id)
    inside = [v for s, v in zip(spans, vectors) if chunk.start <= s.start and s.end <= chunk.end]
    assert np.isclose(scores["local"][chunk.chunk_id], max(float(v @ vector) for v in inside))


@pytest.mark.parametrize("kind", ["local", "milvus"])
def test_sentence_scores_cover_candidates_from_many_reports(kind, tmp_path):
    root = tmp_path / "project"
    (root / "seeds").mkdir(parents=True)
    for n in range(60):  # milvus-lite rejected a filter naming each report's version in turn past 50
        (root / "seeds" / f"{n:03d}_city.txt").write_text(f"城市{n}生态环境局2024年工作总结\n全市空气优良率9{n % 10}%。", encoding="utf-8")
    engine = Engine(replace(engine_config(root), backend=BackendConfig(kind=kind)), encoder=HashingEncoder(64))
    engine.build()
    view = engine.view()
    vector = HashingEncoder(64).encode_queries(["空气优良率"])[0]
    chunks = [view.chunk(h.chunk_id) for h in view.vector(vector, 200)]
    assert len({c.doc_id for c in chunks}) == 60
    assert view.sentence_scores(vector, chunks).keys() == {c.chunk_id for c in chunks}
    engine.close()


def test_a_grouped_search_gives_each_report_its_best_chunk(engine):

    view = engine.view()
    tokens = engine.analyzer.analyze("各城市空气质量优良率").tokens
    vector = HashingEncoder(64).encode_queries(["各城市空气质量优良率"])[0]
    for grouped, plain in ((view.lexical_per_report(tokens, 10), view.lexical(tokens, 1000)),
                           (view.vector_per_report(vector, 10), view.vector(vector, 1000))):
        best = {}
        for hit in plain:
            best.setdefault(view.chunk(hit.chunk_id).doc_id, hit)
        assert [h.chunk_id for h in grouped] == [h.chunk_id for h in sorted(best.values(), key=lambda h: h.rank)]
        assert np.allclose([h.score for h in grouped], [best[view.chunk(h.chunk_id).doc_id].score for h in grouped], atol=1e-5)
    assert len(view.lexical_per_report(tokens, 2)) == 2
    assert {view.chunk(h.chunk_id).city for h in view.lexical_per_report(tokens, 10, Filters(cities=("温州",)))} == {"温州"}


def test_questions_across_cities_see_every_report_however_few_the_candidates(engine):
    from retrieval.search.searcher import SearchConfig

    question = "各城市空气质量优良率分别是多少"
    reports = lambda config: {r.chunk.doc_id for r in engine.searcher(config).search(question, 10).results}  # noqa: E731
    few = SearchConfig(candidates=1)
    assert reports(few) == set(engine.documents())  # one grouped search per retriever
    assert len(reports(replace(few, per_report_candidates=False))) < len(engine.documents())
