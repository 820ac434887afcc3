import concurrent.futures

import httpx

from service.app import ServiceConfig, create_app

from .servers import running_server


def test_a_real_server_answers_over_http(fake_engine, project):
    with running_server(create_app(fake_engine, ServiceConfig())) as url:
        assert httpx.get(f"{url}/health").json()["status"] == "ok"
        body = httpx.post(f"{url}/v1/search", json={"query": "厦门空气质量全国排名", "top_k": 3}).json()
        assert body["results"][0]["city"] == "厦门"
        for r in body["results"]:
            raw = (project / r["source"]["path"]).read_text(encoding="utf-8")
            assert raw[r["source"]["start"] : r["source"]["end"]] == r["text"]
        error = httpx.post(f"{url}/v1/search", content=b"not json", headers={"content-type": "application/json"})
        assert error.status_code == 400 and error.json()["error"]["code"] == "invalid_json"


def test_concurrent_searches_all_succeed(fake_engine):
    queries = ["温州水质", "嘉兴罚款", "赣州投资", "绍兴PM2.5", "厦门空气"] * 4
    with running_server(create_app(fake_engine, ServiceConfig())) as url:
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            responses = list(pool.map(lambda q: httpx.post(f"{url}/v1/search", json={"query": q}, timeout=30), queries))
    assert all(r.status_code == 200 and r.json()["results"] for r in responses)
