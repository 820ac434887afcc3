"""Nothing lost, nothing confused: a write killed at every step on both backends, exact
ids, one writer at a time, and a tamper-evident index."""

import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from retrieval.documents.reading import report_files
from retrieval.engine import DocumentExists, Engine, VersionMismatch, document_version
from retrieval.transactions import WriterBusy, writer_lock

from .conftest import ROOT, make_project
from .crash_write import CRASHED, NEW_REPORT, REPLACED, REPLACEMENT, engine_for

ENGINE_STEPS = {"add": ["intent_recorded", "file_staged", "index_committed", "file_in_place"],
                "delete": ["intent_recorded", "index_committed", "file_removed"]}
ENGINE_STEPS["replace"] = ENGINE_STEPS["add"]
BACKEND_STEPS = {"local": ["segment_written", "generation_switched"], "milvus": ["rows_inserted", "report_committed"]}
CASES = [(backend, op, step) for backend in ("local", "milvus") for op in ("add", "replace", "delete")
         for step in ENGINE_STEPS[op] + [s for s in BACKEND_STEPS[backend]
                                         if not (op == "delete" and s in ("rows_inserted", "segment_written"))]]


def run_crashing(project: Path, backend: str, op: str, step: str) -> int:
    return subprocess.run([sys.executable, "-m", "tests.crash_write", str(project), backend, op, step],
                          cwd=ROOT, capture_output=True, text=True, timeout=300).returncode


@pytest.fixture(scope="module")
def built_projects(tmp_path_factory):
    """A project per backend, indexed in a process of its own (so its files are closed)."""
    projects = {}
    for backend in ("local", "milvus"):
        project = make_project(tmp_path_factory.mktemp(f"crash-{backend}") / "project")
        assert run_crashing(project, backend, "build", "none") == 0
        projects[backend] = project
    return projects


def assert_consistent(engine: Engine, project: Path) -> None:
    """The reports listed are exactly the files, each as its file says, and citations hold."""
    files = {p.stem: p for p in report_files(project / "seeds")}
    documents = engine.documents()
    assert set(documents) == set(files)
    for doc_id, doc in documents.items():
        assert doc.text == files[doc_id].read_text(encoding="utf-8"), doc_id
    for question in ("杭州PM2.5浓度", "温州行政处罚案件", "厦门空气质量"):
        for r in engine.search(question, k=20).results:
            raw = (project / r.chunk.path).read_text(encoding="utf-8")
            assert raw[r.chunk.start : r.chunk.end] == r.chunk.text
    assert not [p for p in (project / "seeds").iterdir() if p.name.startswith(".")]  # no staged file left


@pytest.mark.parametrize("backend, op, step", CASES)
def test_a_write_killed_at_any_step_leaves_reports_and_index_in_step(built_projects, tmp_path, backend, op, step):
    project = Path(shutil.copytree(built_projects[backend], tmp_path / "project"))
    assert run_crashing(project, backend, op, step) == CRASHED, f"the write never reached {step}"
    engine = engine_for(project, backend)
    engine.load()  # recovery and the start-up check happen here
    try:
        assert_consistent(engine, project)
        if op == "replace":  # old or new, whole
            text = engine.document(REPLACED).text
            assert text == REPLACEMENT or "797件" in text
        if op == "add" and "005_hangzhou" in engine.documents():
            assert engine.document("005_hangzhou").text == NEW_REPORT
    finally:
        engine.close()


def test_the_start_up_check_repairs_what_changed_behind_the_index(fake_engine, project):
    (project / "seeds" / "005_new.txt").write_text("杭州市生态环境局2024年工作总结\n全市空气优良率90%。", encoding="utf-8")
    (project / "seeds" / "004_68a3d04b2fc60ef8.txt").unlink()
    found = engine_for(project, "local").load()
    assert found.added == ("005_new",) and found.removed == ("004_68a3d04b2fc60ef8",)
    assert "indexed: 005_new" in str(found)


# ----- exact ids ----------------------------------------------------------------------


def test_a_name_with_a_dot_is_its_own_id_and_replaces_nothing(fake_engine):
    fake_engine.add_document("000.151f93f2618fcf8d", "杭州市生态环境局2024年工作总结\n全市空气优良率90%。".encode())
    assert {"000.151f93f2618fcf8d", "000_151f93f2618fcf8d"} <= set(fake_engine.documents())


def test_storing_an_existing_id_needs_replace_and_the_right_version(fake_engine):
    doc_id = "000_151f93f2618fcf8d"
    with pytest.raises(DocumentExists, match="PUT"):
        fake_engine.add_document(doc_id, REPLACEMENT.encode())
    with pytest.raises(VersionMismatch, match="fetch it again"):
        fake_engine.add_document(doc_id, REPLACEMENT.encode(), replace=True, if_match="0123456789abcdef")
    current = document_version(fake_engine.document(doc_id))
    assert fake_engine.add_document(doc_id, REPLACEMENT.encode(), replace=True, if_match=f'"{current}"').text == REPLACEMENT


@pytest.mark.parametrize("name, message", [
    ("x\n", "not a usable report name"),
    ("水" * 84, "252 bytes in UTF-8; the limit is 200"),
    ("../etc", "not a usable report name"),
    (".hidden", "not a usable report name"),
    ("a b", "not a usable report name"),
])
def test_unusable_names_are_refused_before_anything_is_written(fake_engine, project, name, message):
    from retrieval.documents.reading import ReportError

    before = sorted(p.name for p in (project / "seeds").iterdir())
    with pytest.raises(ReportError, match=message):
        fake_engine.add_document(name, "杭州市生态环境局2024年工作总结\n全市空气优良率90%。".encode())
    assert sorted(p.name for p in (project / "seeds").iterdir()) == before


def test_two_files_with_one_id_are_refused_naming_both(project):
    (project / "seeds" / "a_b").write_text("杭州市生态环境局2024年工作总结\n全市空气优良率90%。", encoding="utf-8")
    (project / "seeds" / "a_b.txt").write_text("宁波市生态环境局2024年工作总结\n全市空气优良率91%。", encoding="utf-8")
    (project / "seeds" / "a b.txt").write_text("宁波市生态环境局2024年工作总结\n全市空气优良率92%。", encoding="utf-8")
    report = engine_for(project, "local").build()
    messages = [p.message for p in report.problems]
    assert any("a_b.txt" in m and "seeds/a_b" in m and "already taken" in m for m in messages)
    assert any("'a b.txt' is not a usable report name" in m for m in messages)


def test_a_bom_is_not_part_of_a_title(fake_engine):
    doc = fake_engine.add_document("006_bom", b"\xef\xbb\xbf" + "宁波市生态环境局2024年工作总结\n全市空气优良率91%。".encode())
    assert doc.title == "宁波市生态环境局2024年工作总结" and not doc.text.startswith("\ufeff")


# ----- one writer -----------------------------------------------------------------------


def test_a_second_writer_waits_then_fails_naming_the_holder(tmp_path):
    held, release = threading.Event(), threading.Event()

    def hold():
        with writer_lock(tmp_path):
            held.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(10)
    try:
        with pytest.raises(WriterBusy, match=r"being written by pid \d+"):
            with writer_lock(tmp_path, timeout_s=0.3):
                pass
    finally:
        release.set()
        holder.join(10)
    with writer_lock(tmp_path, timeout_s=1):
        pass  # free again


def test_the_cli_and_a_server_writing_one_index_never_break_it(fake_engine, project):
    """`reportqa index` in another process while this one takes writes (case 5 of the issue)."""
    import os

    env = {**os.environ, "REPORTQA_MODEL": "hashing-64", "REPORTQA_CACHE_DIR": str(project / ".cache")}
    cli = [subprocess.Popen([sys.executable, "-m", "service.cli", "index"], cwd=project, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    for i in range(3):
        fake_engine.add_document(f"90{i}_x", f"宁波市生态环境局2024年工作总结\n全市空气优良率9{i}%。".encode())
    results = [p.communicate(timeout=120) + (p.returncode,) for p in cli]
    assert all(code == 0 for _, _, code in results), results
    again = engine_for(project, "local")
    again.load()
    assert_consistent(again, project)


def test_a_second_process_on_a_milvus_lite_file_is_told_why_it_cannot_write(tmp_path):
    """milvus-lite serves a file to one process: the second writer (here the CLI) gets a clear
    one-line error instead of a half-done write, and the holder's collection is untouched."""
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from retrieval.backends.milvus import MilvusBackend, MilvusSettings;"
        "from retrieval.backends.base import Expectation;"
        f"MilvusBackend(MilvusSettings(uri={str(tmp_path / 'm.db')!r}), Expectation('m', 4, 't', 300));"
        "print('open', flush=True); time.sleep(60)")], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        second = subprocess.run([sys.executable, "-c", (
            "from retrieval.backends.milvus import MilvusBackend, MilvusSettings;"
            "from retrieval.backends.base import Expectation;"
            f"MilvusBackend(MilvusSettings(uri={str(tmp_path / 'm.db')!r}), Expectation('m', 4, 't', 300))")],
            cwd=ROOT, capture_output=True, text=True, timeout=120)
    finally:
        holder.kill()
        holder.wait()
    assert second.returncode != 0 and "one process at a time" in second.stderr
