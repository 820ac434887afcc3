import json
import os
import subprocess
import sys

import pytest


def reportqa(project, *args, model="hashing-64"):
    env = {**os.environ, "REPORTQA_MODEL": model, "REPORTQA_CACHE_DIR": str(project / ".cache")}
    return subprocess.run([sys.executable, "-m", "service.cli", *args], cwd=project, env=env,
                          capture_output=True, text=True, timeout=300)


def test_index_then_search_as_json(project):
    built = reportqa(project, "index")
    assert built.returncode == 0, built.stderr
    assert "indexed 5 reports" in built.stderr and "0 embedded" in built.stderr  # reused the saved vectors
    found = reportqa(project, "search", "赣州美丽建设项目完成了多少投资", "-k", "3", "--json")
    assert found.returncode == 0, found.stderr
    body = json.loads(found.stdout)
    assert len(body["results"]) == 3 and body["results"][0]["city"] == "赣州"
    r = body["results"][0]
    raw = (project / r["source"]["path"]).read_text(encoding="utf-8")
    assert raw[r["source"]["start"] : r["source"]["end"]] == r["text"]


def test_search_for_people(project):
    out = reportqa(project, "search", "厦门空气质量", "-k", "2", "--mode", "bm25", "--city", "厦门")
    assert out.returncode == 0
    assert "2 results" in out.stdout and "seeds/004_68a3d04b2fc60ef8.txt [" in out.stdout


def test_ask_prints_the_answer_and_its_citation(project):
    out = reportqa(project, "ask", "温州全年办了多少行政处罚案件")
    assert out.returncode == 0, out.stderr
    assert "797" in out.stdout and "seeds/000_151f93f2618fcf8d.txt" in out.stdout


@pytest.mark.parametrize("args, message", [
    (("search", "  "), "the question is empty"),
    (("search", "水质", "--index", "nowhere", "--seeds", "nothing"), "no such folder"),
    (("chunks", "seeds/missing.txt"), "missing.txt"),
])
def test_mistakes_get_one_line_and_a_non_zero_exit(project, args, message):
    out = reportqa(project, *args)
    assert out.returncode == (2 if args[1].strip() == "" else 1)  # an empty question is a usage mistake
    assert message in out.stderr
    assert "Traceback" not in out.stderr


def test_corrupt_index_is_reported_not_traced(project):
    segment = next((project / "index" / "segments").iterdir())
    (segment / "chunks.jsonl").write_text("garbage")
    out = reportqa(project, "search", "水质")
    assert out.returncode == 1 and "corrupt" in out.stderr and "reportqa index" in out.stderr
    assert "Traceback" not in out.stderr


def test_chunks_shows_outline_and_chunks(project):
    out = reportqa(project, "chunks", "seeds/004_68a3d04b2fc60ef8.txt")
    assert out.returncode == 0
    assert "厦门市生态环境局2024年生态环境保护工作总结" in out.stdout
    assert "一、坚持改革创新,生态文明建设取得新突破" in out.stdout
    assert "chunks:" in out.stdout


def test_index_moves_a_local_collection_to_milvus_without_embedding_it_again(project):
    uri = project / "moved" / "reportqa.db"
    moved = reportqa(project, "index", "--backend", "milvus", "--milvus-uri", str(uri))
    assert moved.returncode == 0, moved.stderr
    assert "indexed 5 reports" in moved.stderr and "(0 embedded" in moved.stderr
    assert f"milvus backend at {uri}" in moved.stderr
    env_backend = {"REPORTQA_BACKEND": "milvus", "REPORTQA_MILVUS_URI": str(uri)}
    found = subprocess.run([sys.executable, "-m", "service.cli", "search", "赣州美丽建设项目投资", "-k", "1", "--json"],
                           cwd=project, capture_output=True, text=True, timeout=300,
                           env={**os.environ, "REPORTQA_MODEL": "hashing-64", **env_backend})
    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout)["results"][0]["city"] == "赣州"


def test_version_and_the_exit_codes_in_help(project):
    assert reportqa(project, "--version").stdout.startswith("reportqa ")
    helped = reportqa(project, "--help")
    assert "exit codes" in helped.stdout and "3  no answer" in helped.stdout


def test_a_bad_k_says_the_range_not_a_hundred_values(project):
    out = reportqa(project, "search", "水质", "-k", "0")
    assert out.returncode == 2 and "from 1 to 100" in out.stderr and "99" not in out.stderr


def test_ask_json_exits_3_when_nothing_answers(project):
    out = reportqa(project, "ask", "杭州的人口是多少", "--json")
    assert out.returncode == 3 and json.loads(out.stdout)["found"] is False


def test_a_question_from_standard_input(project):
    env = {**os.environ, "REPORTQA_MODEL": "hashing-64", "REPORTQA_CACHE_DIR": str(project / ".cache")}
    out = subprocess.run([sys.executable, "-m", "service.cli", "search", "-", "-k", "1", "--json"], cwd=project,
                         env=env, input="赣州美丽建设项目投资", capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and json.loads(out.stdout)["results"][0]["city"] == "赣州"


def test_piping_into_head_is_quiet(project):
    env = {**os.environ, "REPORTQA_MODEL": "hashing-64", "REPORTQA_CACHE_DIR": str(project / ".cache")}
    out = subprocess.run(f"{sys.executable} -m service.cli search 水质 -k 50 | head -n 1", shell=True, cwd=project,
                         env=env, capture_output=True, text=True, timeout=300)
    assert "Traceback" not in out.stderr and "BrokenPipe" not in out.stderr


def test_serve_on_a_busy_port_says_so_before_loading_anything(project):
    import socket

    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        out = reportqa(project, "serve", "--port", str(held.getsockname()[1]))
    assert out.returncode == 1 and "in use" in out.stderr and "serving" not in out.stderr


@pytest.mark.parametrize("args, message", [
    (("chunks", "README.md"), "not a report"),
    (("eval", "nope.jsonl"), "no such questions file"),
    (("bench", "missing-folder"), "no such folder"),
    (("search", "水质", "--city", "杭州"), "it holds: 厦门"),
])
def test_clear_one_line_errors(project, args, message):
    (project / "README.md").write_text("# not a report\n赣州投资", encoding="utf-8")
    out = reportqa(project, *args)
    assert out.returncode == 1 and message in out.stderr and "Traceback" not in out.stderr


def test_search_and_ask_use_a_running_server_when_one_is_named(project, fake_engine):
    from service.app import create_app

    from .servers import running_server

    with running_server(create_app(fake_engine)) as url:
        env = {**os.environ, "REPORTQA_URL": url, "REPORTQA_MODEL": "hashing-64"}
        # --index nowhere: were it answering itself, it would fail to find an index
        found = subprocess.run([sys.executable, "-m", "service.cli", "search", "赣州美丽建设项目投资", "-k", "2",
                                "--json", "--index", "nowhere"], cwd=project, env=env, capture_output=True,
                               text=True, timeout=120)
        assert found.returncode == 0, found.stderr
        assert json.loads(found.stdout)["results"][0]["city"] == "赣州"
        asked = subprocess.run([sys.executable, "-m", "service.cli", "ask", "温州全年办了多少行政处罚案件",
                                "--index", "nowhere"], cwd=project, env=env, capture_output=True, text=True,
                               timeout=120)
        assert asked.returncode == 0 and "797" in asked.stdout
