import json
import shutil

import numpy as np
import pytest

from retrieval.embedding.encoders import HashingEncoder
from retrieval.engine import Engine, UnknownDocument
from retrieval.search.searcher import Filters, SearchConfig
from retrieval.backends.local.store import IndexStoreError

from .conftest import engine_config


class CountingEncoder(HashingEncoder):
    """The hashing encoder, counting the passages it is asked to embed."""

    def __init__(self):
        super().__init__(64)
        self.passages = 0

    def encode(self, texts, kind):
        if kind == "passage":
            self.passages += len(texts)
        return super().encode(texts, kind)


def test_search_returns_exact_citations(fake_engine, project):
    outcome = fake_engine.search("温州国控断面水质比例", k=5)
    assert outcome.results
    for r in outcome.results:
        raw = (project / r.chunk.path).read_text(encoding="utf-8")
        assert raw[r.chunk.start : r.chunk.end] == r.chunk.text
        for s, e in r.highlights:
            assert 0 <= s < e <= len(r.chunk.text)


def test_city_named_in_the_question_comes_first(fake_engine):
    outcome = fake_engine.search("温州国控断面水质比例", k=3)
    assert outcome.results[0].chunk.city == "温州"
    assert "city:温州" in outcome.results[0].explanation.boosts


def test_highlights_mark_what_matched_even_across_scripts(fake_engine):
    result = fake_engine.search("溫州國控斷面", k=1).results[0]
    marked = [result.chunk.text[s:e] for s, e in result.highlights]
    assert "国控断面" in marked


@pytest.mark.parametrize("mode", ["hybrid", "bm25", "dense"])
def test_filters_keep_only_matching_reports(fake_engine, mode):
    outcome = fake_engine.search("空气质量优良率", k=10, mode=mode, filters=Filters(cities=("厦门",)))
    assert outcome.results and {r.chunk.city for r in outcome.results} == {"厦门"}
    outcome = fake_engine.search("空气质量优良率", k=10, mode=mode, filters=Filters(years=(2019,)))
    assert outcome.results and {r.chunk.city for r in outcome.results} == {"嘉兴"}


def test_questions_across_cities_cover_each_report(fake_engine):
    outcome = fake_engine.search("哪个城市空气优良率最高", k=5)
    assert len({r.chunk.doc_id for r in outcome.results}) == 5


def test_every_hit_explains_itself(fake_engine):
    result = fake_engine.search("赣州美丽建设项目完成投资", k=1).results[0]
    e = result.explanation
    assert e.bm25_rank is not None and e.bm25_score > 0
    assert e.dense_rank is not None and -1 <= e.dense_score <= 1


def test_bad_configuration_fails_early_with_the_valid_values():
    with pytest.raises(ValueError, match="rrf, weighted"):
        SearchConfig(fusion="borda")


def test_unknown_mode_is_refused(fake_engine):
    with pytest.raises(ValueError, match="hybrid, bm25, dense"):
        fake_engine.search("水质", mode="sparse")


def test_saved_index_loads_the_same(fake_engine, project):
    again = Engine(engine_config(project), encoder=HashingEncoder(64))
    again.load()
    assert [c.chunk_id for c in again.corpus.chunks] == [c.chunk_id for c in fake_engine.corpus.chunks]
    assert np.array_equal(again.corpus.vectors, fake_engine.corpus.vectors)
    query = "厦门空气质量全国排名"
    assert [r.chunk.chunk_id for r in again.search(query).results] == [r.chunk.chunk_id for r in fake_engine.search(query).results]


def test_index_built_with_another_model_is_refused_with_what_differs(fake_engine, project):
    other = Engine(engine_config(project), encoder=HashingEncoder(32))
    with pytest.raises(IndexStoreError, match=r"model 'hashing-64' \(configured: 'hashing-32'\).*dimension 64"):
        other.load()


def test_corrupt_index_is_detected(fake_engine, project):
    vectors = fake_engine.store.current() / "vectors.npy"
    vectors.write_bytes(vectors.read_bytes()[:-100])
    with pytest.raises(IndexStoreError, match="corrupt.*vectors.npy.*reportqa index"):
        Engine(engine_config(project), encoder=HashingEncoder(64)).load()


def test_unreadable_manifest_is_detected(fake_engine, project):
    (fake_engine.store.current() / "manifest.json").write_text("{not json")
    with pytest.raises(IndexStoreError, match="corrupt"):
        Engine(engine_config(project), encoder=HashingEncoder(64)).load()


def test_crash_while_saving_leaves_the_previous_index(fake_engine, project, monkeypatch):
    before = fake_engine.store.current()
    (project / "seeds" / "005_new.txt").write_text("杭州市生态环境局2024年工作总结\n全市空气优良率90%。", encoding="utf-8")

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("retrieval.backends.local.store.np.save", crash)
    with pytest.raises(OSError):
        fake_engine.build()
    monkeypatch.undo()
    assert fake_engine.store.current() == before
    reloaded = Engine(engine_config(project), encoder=HashingEncoder(64))
    reloaded.load()
    assert len(reloaded.corpus.documents) == 5
    assert not [p for p in (project / "index").iterdir() if p.name.endswith(".partial")]


def test_adding_replacing_and_deleting_a_report_embeds_only_that_report(project):
    shutil.rmtree(project / "index")
    encoder = CountingEncoder()
    engine = Engine(engine_config(project), encoder=encoder)
    engine.build()
    first = encoder.passages
    assert first == len(engine.corpus)

    doc = engine.add_document("005_hangzhou", "杭州市生态环境局2024年工作总结\n一、成效\n全市PM2.5浓度28微克/立方米。".encode("gbk"))
    assert doc.encoding == "gbk" and doc.city == "杭州"
    added = encoder.passages - first
    assert 0 < added <= 3
    assert engine.search("杭州PM2.5浓度", k=1).results[0].chunk.doc_id == "005_hangzhou"
    stored = (project / "seeds" / "005_hangzhou.txt").read_text(encoding="utf-8")
    hit = engine.search("杭州PM2.5浓度", k=1).results[0].chunk
    assert stored[hit.start : hit.end] == hit.text

    engine.add_document("005_hangzhou", "杭州市生态环境局2024年工作总结\n全市空气优良率91%。".encode("utf-8"))
    assert encoder.passages - first - added <= 2
    assert "优良率91%" in engine.search("杭州空气优良率", k=1).results[0].chunk.text

    before_delete = encoder.passages
    engine.delete_document("005_hangzhou")
    assert encoder.passages == before_delete
    assert "005_hangzhou" not in engine.corpus.documents
    assert not (project / "seeds" / "005_hangzhou.txt").exists()
    with pytest.raises(UnknownDocument):
        engine.delete_document("005_hangzhou")


def test_rebuild_after_a_restart_reuses_saved_vectors(fake_engine, project):
    encoder = CountingEncoder()
    restarted = Engine(engine_config(project), encoder=encoder)
    report = restarted.build()
    assert report.embedded == 0 and encoder.passages == 0
    assert report.chunks == len(fake_engine.corpus)


def test_manifest_records_what_the_index_needs(fake_engine):
    manifest = json.loads((fake_engine.store.current() / "manifest.json").read_text())
    assert manifest["format_version"] == 1
    assert manifest["model"] == {"id": "hashing-64", "dimension": 64}
    assert set(manifest["files"]) == {"documents.jsonl", "chunks.jsonl", "tokens.jsonl", "vectors.npy"}
    assert len(manifest["documents"]) == 5
    assert all(len(d["sha256"]) == 64 for d in manifest["documents"].values())


def test_missing_index_says_how_to_build_one(project):
    shutil.rmtree(project / "index")
    with pytest.raises(IndexStoreError, match="reportqa index"):
        Engine(engine_config(project), encoder=HashingEncoder(64)).load()


def test_approximate_indexes_can_be_chosen(project):
    from dataclasses import replace

    from retrieval.backends.local.corpus import IndexSettings
    from retrieval.backends.local.dense import DenseConfig

    shutil.rmtree(project / "index")
    for kind in ("hnsw", "ivf", "ivf_sq8"):
        config = replace(engine_config(project), index=IndexSettings(dense=DenseConfig(kind=kind)))
        engine = Engine(config, encoder=HashingEncoder(64))
        engine.build()
        assert engine.search("厦门空气质量", k=3, mode="dense").results
        shutil.rmtree(project / "index")
    with pytest.raises(ValueError, match="flat, hnsw, ivf, ivf_sq8"):
        DenseConfig(kind="lsh")


def test_a_passage_that_never_names_its_city_still_matches_it(fake_engine):
    # This Wenzhou passage says 全市 (the whole city), never 温州: its indexed context does.
    chunk = next(c for c in fake_engine.corpus.chunks if "启动新一轮老旧柴油货车淘汰" in c.text)
    assert "温州" not in chunk.text
    results = fake_engine.search("温州柴油货车淘汰", k=3, mode="bm25").results
    assert chunk.chunk_id in [r.chunk.chunk_id for r in results]


def test_searches_during_a_write_see_the_old_or_the_new_collection_whole(fake_engine):
    import threading

    seen, errors, stop = set(), [], threading.Event()

    def search_until_stopped():
        while not stop.is_set():
            try:
                outcome = fake_engine.search("杭州空气优良率", k=3, mode="bm25")
                seen.add(len(fake_engine.corpus.documents))
                for r in outcome.results:
                    assert r.chunk.doc_id in fake_engine.corpus.documents or r.chunk.doc_id == "005_hangzhou"
            except Exception as exc:  # noqa: BLE001 - any failure is the finding
                errors.append(exc)

    readers = [threading.Thread(target=search_until_stopped) for _ in range(3)]
    for t in readers:
        t.start()
    fake_engine.add_document("005_hangzhou", "杭州市生态环境局2024年工作总结\n全市空气优良率91%。".encode())
    fake_engine.delete_document("005_hangzhou")
    stop.set()
    for t in readers:
        t.join(10)
    assert not errors
    assert seen <= {5, 6}
