"""The local backend: segments on disk, tombstones, merges, BM25 against rank-bm25, and
an index that is corrupt, stale or missing."""

import json
import shutil
from dataclasses import replace

import numpy as np
import pytest
from rank_bm25 import BM25Okapi

from retrieval.backends import BackendConfig
from retrieval.backends.base import BackendError, Expectation, Filters, IndexedDocument
from retrieval.backends.local.backend import LocalBackend, LocalSettings
from retrieval.backends.local.dense import DenseConfig
from retrieval.backends.local.store import IndexStoreError
from retrieval.embedding.encoders import HashingEncoder
from retrieval.engine import Engine, UnknownDocument
from retrieval.models import Chunk, Document, Span

from .conftest import engine_config

EXPECT = Expectation("hashing-8", 8, "tok", 300)


class CountingEncoder(HashingEncoder):
    """The hashing encoder, counting the passages it is asked to embed."""

    def __init__(self):
        super().__init__(64)
        self.passages = 0

    def encode(self, texts, kind):
        if kind == "passage":
            self.passages += len(texts)
        return super().encode(texts, kind)


def report(doc_id: str, rows: list[list[str]], seed: int = 0) -> IndexedDocument:
    """A small report whose chunks hold exactly these tokens."""
    doc = Document(doc_id, f"seeds/{doc_id}.txt", "x", "utf-8", (Span(0, 1),), doc_id, False, None, "温州", None,
                   2023, None, None)
    chunks = tuple(Chunk(f"{doc_id}:{i}", doc_id, doc.path, doc_id, "温州", 2023, (2023,), (), 0, 1, " ".join(t))
                   for i, t in enumerate(rows))
    vectors = np.random.default_rng(seed).normal(size=(len(rows), 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return IndexedDocument(doc, chunks, tuple(tuple(t) for t in rows), vectors)


def current_segments(folder):
    generation = (folder / "CURRENT").read_text().strip()
    return json.loads((folder / "generations" / f"{generation}.json").read_text())["segments"]


CORPUS = {
    "a": [["水质", "断面", "优良"], ["空气", "优良", "天数"], ["水质", "水质", "监测"]],
    "b": [["危废", "处置"], ["空气", "质量"], ["断面", "考核", "水质"]],
    "c": [["执法", "案件"], ["罚款", "案件", "案件"]],
}


def bm25_oracle(live: dict, query: list[str]) -> dict[str, float]:
    ids = [f"{d}:{i}" for d, rows in live.items() for i in range(len(rows))]
    scores = BM25Okapi([t for rows in live.values() for t in rows]).get_scores(query)
    return dict(zip(ids, scores))


def test_bm25_agrees_with_rank_bm25_after_adds_replaces_and_deletes(tmp_path):
    backend = LocalBackend(tmp_path / "index", EXPECT)
    backend.upsert([report(d, rows) for d, rows in CORPUS.items()])
    live = dict(CORPUS)
    replacement = [["水质", "改善"], ["处置", "危废", "危废"]]
    backend.upsert([report("b", replacement)])
    live["b"] = replacement
    backend.delete("c")
    del live["c"]
    for query in (["水质"], ["危废", "处置"], ["空气", "优良", "水质"]):
        hits = backend.view().lexical(query, 10)
        expected = bm25_oracle(live, query)
        assert hits, query
        for hit in hits:
            assert np.isclose(hit.score, expected[hit.chunk_id]), (query, hit)
        assert {h.chunk_id for h in hits} == {cid for cid, s in expected.items() if s > 0}


def test_a_write_adds_one_segment_and_rewrites_no_other(tmp_path):
    folder = tmp_path / "index"
    backend = LocalBackend(folder, EXPECT, LocalSettings(max_dead_fraction=1.0))  # keep tombstones
    backend.upsert([report("a", CORPUS["a"])])
    first = current_segments(folder)
    stamp = {p: p.stat().st_mtime_ns for p in (folder / "segments").rglob("*") if p.is_file()}
    backend.upsert([report("b", CORPUS["b"])])
    second = current_segments(folder)
    assert [s["id"] for s in second[:1]] == [s["id"] for s in first] and len(second) == 2
    assert all(p.stat().st_mtime_ns == t for p, t in stamp.items())

    backend.delete("a")  # a tombstone only: no segment is written
    generation = (folder / "CURRENT").read_text().strip()
    manifest = json.loads((folder / "generations" / f"{generation}.json").read_text())
    assert manifest["deleted"] == {first[0]["id"]: ["a"]} and len(manifest["segments"]) == 2


def test_reopening_gives_the_same_collection(tmp_path):
    backend = LocalBackend(tmp_path / "index", EXPECT)
    backend.upsert([report(d, rows, seed=i) for i, (d, rows) in enumerate(CORPUS.items())])
    backend.delete("c")
    again = LocalBackend(tmp_path / "index", EXPECT)
    assert again.view().counts() == backend.view().counts()
    query = np.ones(8, dtype=np.float32) / np.sqrt(8)
    assert again.view().vector(query, 5) == backend.view().vector(query, 5)
    assert again.view().lexical(["水质"], 5) == backend.view().lexical(["水质"], 5)


def test_small_segments_are_merged_and_tombstones_compacted(tmp_path):
    folder = tmp_path / "index"
    backend = LocalBackend(folder, EXPECT, LocalSettings(max_segments=3, max_dead_fraction=0.5))
    for i in range(6):
        backend.upsert([report(f"d{i}", [["水质", f"词{i}"]], seed=i)])
    assert len(backend.view().segments) <= 3
    assert backend.view().counts().documents == 6
    for i in range(3):
        backend.delete(f"d{i}")
    state = backend.view()
    assert state.counts().documents == 3 and all(state.dead_fraction(s) <= 0.5 for s in state.segments)
    assert [h.chunk_id for h in state.lexical(["词5"], 10)] == ["d5:0"]
    assert not state.lexical(["词1"], 10)
    assert len(list((folder / "segments").iterdir())) <= len(state.segments) + 3  # old ones collected


def test_approximate_indexes_can_be_chosen(project):
    shutil.rmtree(project / "index")
    for kind in ("hnsw", "ivf", "ivf_sq8"):
        config = replace(engine_config(project), backend=BackendConfig(dense=DenseConfig(kind=kind)))
        engine = Engine(config, encoder=HashingEncoder(64))
        engine.build()
        assert engine.search("厦门空气质量", k=3, mode="dense").results
        assert engine.search("厦门空气质量", k=3, mode="dense", filters=Filters(cities=("厦门",))).results
        shutil.rmtree(project / "index")
    with pytest.raises(ValueError, match="flat, hnsw, ivf, ivf_sq8"):
        DenseConfig(kind="lsh")


# ----- the engine over the local backend on disk ---------------------------------------


def test_index_built_with_another_model_is_refused_with_what_differs(fake_engine, project):
    other = Engine(engine_config(project), encoder=HashingEncoder(32))
    with pytest.raises(IndexStoreError, match=r"model 'hashing-64' \(configured: 'hashing-32'\).*dimension 64"):
        other.load()


def test_a_changed_segment_file_is_detected(fake_engine, project):
    vectors = project / "index" / "segments" / current_segments(project / "index")[0]["id"] / "vectors.npy"
    vectors.write_bytes(vectors.read_bytes()[:-100])
    with pytest.raises(IndexStoreError, match="corrupt.*vectors.npy.*reportqa index"):
        Engine(engine_config(project), encoder=HashingEncoder(64)).load()


@pytest.mark.parametrize("damage", ["{not json", '{"format_version": 3}', "no segments", "no file list"])
def test_unreadable_manifest_is_detected(fake_engine, project, damage):
    generation = (project / "index" / "CURRENT").read_text().strip()
    path = project / "index" / "generations" / f"{generation}.json"
    manifest = json.loads(path.read_text())
    if damage == "no segments":
        del manifest["segments"]
        damage = json.dumps(manifest)
    elif damage == "no file list":
        del manifest["segments"][0]["files"]  # checksums skipped would let a changed chunk be served
        damage = json.dumps(manifest)
    path.write_text(damage)
    with pytest.raises(IndexStoreError, match="corrupt|match"):
        Engine(engine_config(project), encoder=HashingEncoder(64)).load()


def test_current_may_only_name_a_generation(fake_engine, project):
    (project / "index" / "CURRENT").write_text("../../etc\n")
    with pytest.raises(IndexStoreError, match="not a generation number"):
        Engine(engine_config(project), encoder=HashingEncoder(64)).load()


def test_a_corrupt_index_is_rebuilt_by_reportqa_index(fake_engine, project):
    (project / "index" / "CURRENT").write_text("garbage\n")
    report = Engine(engine_config(project), encoder=HashingEncoder(64)).build()
    assert report.documents == 5 and report.embedded == report.chunks
    assert not Engine(engine_config(project), encoder=HashingEncoder(64)).load().repaired


def test_crash_while_writing_a_segment_leaves_the_previous_index(fake_engine, project, monkeypatch):
    before = (project / "index" / "CURRENT").read_text()
    (project / "seeds" / "005_new.txt").write_text("杭州市生态环境局2024年工作总结\n全市空气优良率90%。", encoding="utf-8")

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("retrieval.backends.local.store.np.save", crash)
    with pytest.raises(OSError):
        fake_engine.build()
    monkeypatch.undo()
    assert (project / "index" / "CURRENT").read_text() == before
    assert not [p for p in (project / "index" / "segments").iterdir() if p.name.endswith(".partial")]
    reloaded = Engine(engine_config(project), encoder=HashingEncoder(64))
    assert reloaded.load().added == ("005_new",)  # the start-up check indexes what the crash left out
    assert len(reloaded.documents()) == 6


def test_adding_replacing_and_deleting_a_report_embeds_only_that_report(project):
    shutil.rmtree(project / "index")
    encoder = CountingEncoder()
    engine = Engine(engine_config(project), encoder=encoder)
    engine.build()
    first = encoder.passages
    view = engine.view()
    assert first == engine.counts().chunks + sum(len(view.sentences(d)[0]) for d in engine.documents())

    doc = engine.add_document("005_hangzhou", "杭州市生态环境局2024年工作总结\n一、成效\n全市PM2.5浓度28微克/立方米。".encode("gbk"))
    assert doc.encoding == "gbk" and doc.city == "杭州"
    added = encoder.passages - first
    assert 0 < added <= 6  # its passages and answer sentences
    stored = (project / "seeds" / "005_hangzhou.txt").read_text(encoding="utf-8")
    hit = engine.search("杭州PM2.5浓度", k=1).results[0].chunk
    assert hit.doc_id == "005_hangzhou" and stored[hit.start : hit.end] == hit.text

    engine.add_document("005_hangzhou", "杭州市生态环境局2024年工作总结\n全市空气优良率91%。".encode("utf-8"), replace=True)
    assert encoder.passages - first - added <= 4
    assert "优良率91%" in engine.search("杭州空气优良率", k=1).results[0].chunk.text

    before_delete = encoder.passages
    engine.delete_document("005_hangzhou")
    assert encoder.passages == before_delete
    assert "005_hangzhou" not in engine.documents()
    assert not (project / "seeds" / "005_hangzhou.txt").exists()
    with pytest.raises(UnknownDocument):
        engine.delete_document("005_hangzhou")


def test_rebuild_after_a_restart_embeds_nothing_unchanged(fake_engine, project):
    encoder = CountingEncoder()
    report = Engine(engine_config(project), encoder=encoder).build()
    assert report.embedded == 0 and encoder.passages == 0
    assert report.chunks == fake_engine.counts().chunks


def test_a_report_removed_from_the_folder_leaves_the_index(fake_engine, project):
    (project / "seeds" / "004_68a3d04b2fc60ef8.txt").unlink()
    report = Engine(engine_config(project), encoder=HashingEncoder(64)).build()
    assert report.removed == 1 and report.documents == 4


def test_manifest_records_what_the_index_needs(fake_engine, project):
    generation = (project / "index" / "CURRENT").read_text().strip()
    manifest = json.loads((project / "index" / "generations" / f"{generation}.json").read_text())
    assert manifest["format_version"] == 3 and manifest["backend"] == "local"
    assert manifest["expectation"]["model_id"] == "hashing-64" and manifest["expectation"]["dimension"] == 64
    assert all(set(s["files"]) == {"documents.jsonl", "chunks.jsonl", "tokens.jsonl", "vectors.npy", "facts.jsonl",
                                   "sentences.jsonl", "sentence_vectors.npy"}
               for s in manifest["segments"])
    assert len(manifest["documents"]) == 5
    assert all(len(d["sha256"]) == 64 for d in manifest["documents"].values())


def test_missing_index_says_how_to_build_one(project):
    shutil.rmtree(project / "index")
    with pytest.raises(BackendError, match="no index.*reportqa index"):
        Engine(engine_config(project), encoder=HashingEncoder(64)).load()
