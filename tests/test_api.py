import pytest
from fastapi.testclient import TestClient

from service.app import ServiceConfig, create_app

KEY = "test-key"


@pytest.fixture
def client(fake_engine):
    with TestClient(create_app(fake_engine, ServiceConfig(api_key=KEY))) as c:
        yield c


@pytest.fixture
def readonly_client(fake_engine):
    with TestClient(create_app(fake_engine, ServiceConfig(api_key=None))) as c:
        yield c


def assert_cites_exactly(result, project):
    raw = (project / result["source"]["path"]).read_text(encoding="utf-8")
    assert raw[result["source"]["start"] : result["source"]["end"]] == result["text"]


def test_health_once_the_index_is_loaded(client):
    body = client.get("/health").json()
    assert body["status"] == "ok" and body["documents"] == 5 and body["chunks"] > 100


def test_search_answers_in_the_contract_shape(client, project):
    body = client.post("/v1/search", json={"query": "赣州美丽建设项目完成了多少投资", "top_k": 3,
                                           "filters": {"city": ["赣州"], "year": [2022]}}).json()
    assert body["query"] == "赣州美丽建设项目完成了多少投资" and body["mode"] == "hybrid"
    assert isinstance(body["took_ms"], float)
    assert len(body["results"]) == 3
    first = body["results"][0]
    assert set(first) >= {"rank", "score", "chunk_id", "doc_id", "title", "city", "year", "heading_path",
                          "text", "source", "highlights"}
    assert first["rank"] == 1 and first["city"] == "赣州" and first["year"] == 2022
    for result in body["results"]:
        assert_cites_exactly(result, project)
        for s, e in result["highlights"]:
            assert 0 <= s < e <= len(result["text"])


def test_get_search_does_the_same(client):
    posted = client.post("/v1/search", json={"query": "厦门空气质量", "top_k": 4, "mode": "bm25"}).json()
    got = client.get("/v1/search", params={"q": "厦门空气质量", "top_k": 4, "mode": "bm25"}).json()
    assert [r["chunk_id"] for r in got["results"]] == [r["chunk_id"] for r in posted["results"]]


def test_ask_backs_its_answer_with_evidence(client, project):
    body = client.post("/v1/ask", json={"question": "温州全年办了多少行政处罚案件"}).json()
    assert body["found"] is True
    assert "797" in body["answer"]
    assert body["evidence"] and body["results"]
    for evidence in body["evidence"]:
        assert_cites_exactly(evidence, project)


@pytest.mark.parametrize("payload, status, code", [
    ({"query": ""}, 400, "empty_query"),
    ({"query": "   "}, 400, "empty_query"),
    ({"query": "？？！！"}, 400, "nothing_to_search"),
    ({"query": "水" * 2001}, 422, "invalid_request"),
    ({"query": "水质", "top_k": 0}, 422, "invalid_request"),
    ({"query": "水质", "top_k": 101}, 422, "invalid_request"),
    ({"query": "水质", "mode": "sparse"}, 422, "invalid_request"),
    ({"query": "水质", "filters": {"city": "温州"}}, 422, "invalid_request"),
    ({"query": "水质", "filters": {"year": ["last year"]}}, 422, "invalid_request"),
    ({"query": "水质", "filters": {"town": ["温州"]}}, 422, "invalid_request"),
    ({"top_k": 5}, 422, "invalid_request"),
])
def test_caller_mistakes_get_a_4xx_that_says_what_to_fix(client, payload, status, code):
    response = client.post("/v1/search", json=payload)
    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] == code and error["message"]


def test_bad_json_is_named(client):
    response = client.post("/v1/search", content=b'{"query": ', headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_json"


def test_unknown_document_and_route(client):
    response = client.get("/v1/documents/nope")
    assert response.status_code == 404 and response.json()["error"]["code"] == "unknown_document"
    assert client.get("/v2/nothing").json()["error"]["code"] == "not_found"


def test_documents_can_be_listed_and_opened(client):
    listed = client.get("/v1/documents").json()
    assert [d["city"] for d in listed] == ["温州", "嘉兴", "赣州", "绍兴", "厦门"]
    doc = client.get(f"/v1/documents/{listed[4]['doc_id']}").json()
    assert doc["title"] == "厦门市生态环境局2024年生态环境保护工作总结"
    assert len(doc["text"]) == doc["chars"]


def test_writes_are_refused_without_a_configured_key(readonly_client):
    response = readonly_client.post("/v1/documents", params={"name": "x"}, content="温州水质".encode())
    assert response.status_code == 403 and response.json()["error"]["code"] == "writes_disabled"
    assert readonly_client.delete("/v1/documents/000_151f93f2618fcf8d").status_code == 403
    assert readonly_client.get("/v1/documents").status_code == 200


def test_writes_need_the_right_key(client):
    response = client.post("/v1/documents", params={"name": "x"}, content="温州水质".encode(),
                           headers={"X-API-Key": "wrong"})
    assert response.status_code == 401


def test_a_report_added_over_the_api_is_searchable_when_the_call_returns(client, project):
    report = "杭州市生态环境局2024年工作总结\n一、治水成效\n全市钱塘江断面水质优良比例100%。".encode("gbk")
    response = client.post("/v1/documents", params={"name": "005_hangzhou"}, content=report,
                           headers={"X-API-Key": KEY, "content-type": "text/plain"})
    assert response.status_code == 201, response.text
    assert response.json()["encoding"] == "gbk" and response.json()["city"] == "杭州"
    hit = client.post("/v1/search", json={"query": "杭州钱塘江断面水质", "top_k": 1}).json()["results"][0]
    assert hit["doc_id"] == "005_hangzhou"
    assert_cites_exactly(hit, project)

    assert client.delete("/v1/documents/005_hangzhou", headers={"X-API-Key": KEY}).status_code == 200
    assert client.get("/v1/documents/005_hangzhou").status_code == 404


@pytest.mark.parametrize("content, code", [(b"", "unreadable_report"), (b"\x00\x01binary", "unreadable_report")])
def test_unreadable_uploads_are_refused(client, content, code):
    response = client.post("/v1/documents", params={"name": "bad"}, content=content, headers={"X-API-Key": KEY})
    assert response.status_code == 422 and response.json()["error"]["code"] == code


def test_oversized_upload_is_refused(fake_engine):
    small = ServiceConfig(api_key=KEY, max_upload_bytes=100)
    with TestClient(create_app(fake_engine, small)) as c:
        response = c.post("/v1/documents", params={"name": "big"}, content="水".encode() * 200, headers={"X-API-Key": KEY})
    assert response.status_code == 413 and response.json()["error"]["code"] == "too_large"


def test_the_page_and_the_docs_are_served(client):
    page = client.get("/")
    assert page.status_code == 200 and "<form" in page.text
    assert client.get("/view/000_151f93f2618fcf8d").status_code == 200
    spec = client.get("/openapi.json").json()
    assert "/v1/search" in spec["paths"] and "/v1/ask" in spec["paths"]
    assert client.get("/docs").status_code == 200


# ----- bounded requests and HTTP hygiene (docs/reliability.md) -------------------------


def test_a_lone_surrogate_is_refused_not_a_crash(client):
    for route, field in (("/v1/search", "query"), ("/v1/ask", "question")):
        response = client.post(route, content=('{"%s": "\\ud800水质"}' % field).encode(),
                               headers={"content-type": "application/json"})
        assert response.status_code == 422, response.text


def test_a_large_question_body_is_refused_before_parsing(client):
    cities = ",".join('"温州"' for _ in range(30_000))
    body = ('{"query": "水质", "filters": {"city": [%s]}}' % cities).encode()
    response = client.post("/v1/search", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 413 and response.json()["error"]["code"] == "too_large"


def test_filter_lists_are_capped_in_the_schema(client):
    response = client.post("/v1/search", json={"query": "水质", "filters": {"city": ["温州"] * 51}})
    assert response.status_code == 422
    assert client.get("/v1/search", params={"q": "水质", "city": ["温州"] * 51}).status_code == 422


def test_a_full_queue_answers_429_with_retry_after(fake_engine):
    import threading
    import time

    from service.guards import Limits

    release = threading.Event()
    slow = fake_engine.search

    def waiting_search(*args, **kwargs):
        release.wait(5)
        return slow(*args, **kwargs)

    config = ServiceConfig(limits=Limits(running=1, waiting=1))
    fake_engine.search = waiting_search
    try:
        with TestClient(create_app(fake_engine, config)) as c:
            results = []
            threads = [threading.Thread(target=lambda: results.append(c.post("/v1/search", json={"query": "水质"})))
                       for _ in range(2)]
            for t in threads:
                t.start()
            time.sleep(0.5)
            busy = c.post("/v1/search", json={"query": "水质"})
            release.set()
            for t in threads:
                t.join(10)
    finally:
        fake_engine.search = slow
    assert busy.status_code == 429 and busy.headers["retry-after"] == "1"
    assert [r.status_code for r in results] == [200, 200]


def test_only_bearer_or_x_api_key_carry_the_key(client):
    def post(headers):
        return client.post("/v1/documents", params={"name": "907_x"}, headers=headers,
                           content="宁波市生态环境局2024年工作总结\n全市空气优良率91%。".encode())

    assert post({"Authorization": KEY}).status_code == 401
    assert post({"Authorization": f"Bearer {KEY}"}).status_code == 201


def test_wrong_keys_make_the_client_wait(fake_engine):
    with TestClient(create_app(fake_engine, ServiceConfig(api_key=KEY))) as c:
        codes = [c.delete("/v1/documents/x", headers={"X-API-Key": "wrong"}).status_code for _ in range(6)]
        assert codes[:5] == [401] * 5 and codes[5] == 429
        assert c.delete("/v1/documents/x", headers={"X-API-Key": KEY}).status_code == 429  # even the right key waits


def test_existing_ids_answer_409_and_stale_versions_412(client):
    doc_id = "000_151f93f2618fcf8d"
    text = "温州市生态环境局2023年工作总结\n一、成效\n全市行政处罚案件800件。".encode()
    headers = {"X-API-Key": KEY, "content-type": "text/plain"}
    assert client.post("/v1/documents", params={"name": doc_id}, content=text, headers=headers).status_code == 409
    stale = client.put(f"/v1/documents/{doc_id}", content=text, headers={**headers, "If-Match": '"0000"'})
    assert stale.status_code == 412 and stale.json()["error"]["code"] == "version_mismatch"
    etag = client.get(f"/v1/documents/{doc_id}").headers["etag"]
    replaced = client.put(f"/v1/documents/{doc_id}", content=text, headers={**headers, "If-Match": etag})
    assert replaced.status_code == 200 and replaced.headers["etag"] != etag
    created = client.put("/v1/documents/908_new", content=text.replace("温州".encode(), "宁波".encode()), headers=headers)
    assert created.status_code == 201


def test_a_405_says_what_is_allowed_and_every_response_has_security_headers(client):
    response = client.delete("/v1/search")
    assert response.status_code == 405 and "POST" in response.headers["allow"]
    for r in (response, client.get("/"), client.get("/health")):
        assert r.headers["x-content-type-options"] == "nosniff" and r.headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"]


def test_the_openapi_document_is_valid(client):
    from openapi_spec_validator import validate

    validate(client.get("/openapi.json").json())


def test_a_question_over_the_time_limit_answers_503(fake_engine):
    import time

    from service.guards import Limits

    slow = fake_engine.search

    def too_slow(*args, **kwargs):
        time.sleep(0.5)
        return slow(*args, **kwargs)

    fake_engine.search = too_slow
    try:
        with TestClient(create_app(fake_engine, ServiceConfig(limits=Limits(question_timeout_s=0.1)))) as c:
            response = c.post("/v1/search", json={"query": "水质"})
    finally:
        fake_engine.search = slow
    assert response.status_code == 503 and response.json()["error"]["code"] == "timeout"


def test_the_query_cache_is_keyed_by_a_fixed_size_digest(fake_engine):
    from retrieval.backends.base import Filters

    fake_engine.search("水质", filters=Filters(cities=tuple(f"城{i}" for i in range(50))))
    assert all(len(key[1]) == 32 for key in fake_engine._cache)


# ----- API conventions ---------------------------------------------------------------------


@pytest.mark.parametrize("city", ["温州", "温州市", "溫州", "Wenzhou"])
def test_a_city_filter_takes_every_form_a_question_takes(client, city):
    results = client.post("/v1/search", json={"query": "水质", "filters": {"city": [city]}}).json()["results"]
    assert results and {r["city"] for r in results} == {"温州"}
    assert {r["city"] for r in client.get("/v1/search", params={"q": "水质", "city": city}).json()["results"]} == {"温州"}


def test_a_filter_value_the_collection_lacks_lists_what_it_holds(client):
    response = client.post("/v1/search", json={"query": "水质", "filters": {"city": ["杭州"]}})
    assert response.status_code == 422 and response.json()["error"]["code"] == "unknown_filter_value"
    assert "温州" in response.json()["error"]["message"] and "厦门" in response.json()["error"]["message"]
    response = client.get("/v1/search", params={"q": "水质", "year": 2031})
    assert response.status_code == 422 and "2019" in response.json()["error"]["message"]


def test_pages_of_one_ranking_with_a_total_and_facets(client):
    first = client.post("/v1/search", json={"query": "空气质量", "size": 5, "facets": True}).json()
    second = client.post("/v1/search", json={"query": "空气质量", "size": 5, "from": 5}).json()
    assert [r["rank"] for r in second["results"]] == [6, 7, 8, 9, 10] and second["from"] == 5
    assert not {r["chunk_id"] for r in first["results"]} & {r["chunk_id"] for r in second["results"]}
    assert first["total"] >= 10 and first["total"] == second["total"]
    assert sum(f["count"] for f in first["facets"]["city"]) <= first["total"]
    assert {f["value"] for f in first["facets"]["city"]} <= {"温州", "嘉兴", "赣州", "绍兴", "厦门"}
    assert second["facets"] is None
    too_far = client.post("/v1/search", json={"query": "空气质量", "size": 10, "from": 95})
    assert too_far.status_code == 422 and "from + size" in too_far.json()["error"]["message"]


def test_ask_has_a_get_form(client):
    body = client.get("/v1/ask", params={"q": "温州全年办了多少行政处罚案件"}).json()
    assert "797" in body["answer"]


def test_cors_is_off_by_default_and_configurable(fake_engine):
    preflight = {"Origin": "https://app.example", "Access-Control-Request-Method": "POST"}
    with TestClient(create_app(fake_engine)) as c:
        assert "access-control-allow-origin" not in c.options("/v1/search", headers=preflight).headers
    with TestClient(create_app(fake_engine, ServiceConfig(cors_origins=("https://app.example",)))) as c:
        response = c.options("/v1/search", headers=preflight)
        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == "https://app.example"


def test_the_api_docs_work_offline(client):
    for route, asset in (("/docs", "/static/docs/swagger-ui-bundle.js"), ("/redoc", "/static/docs/redoc.standalone.js")):
        page = client.get(route)
        assert page.status_code == 200 and asset in page.text and "cdn." not in page.text
        assert client.get(asset).status_code == 200


def test_a_busy_writer_answers_503_with_retry_after(client, fake_engine, monkeypatch):
    from retrieval.transactions import WriterBusy

    def busy(*args, **kwargs):
        raise WriterBusy("the index in index is being written by pid 1 (reportqa index)")

    monkeypatch.setattr(fake_engine, "delete_document", busy)
    response = client.delete("/v1/documents/000_151f93f2618fcf8d", headers={"X-API-Key": KEY})
    assert response.status_code == 503 and response.json()["error"]["code"] == "writer_busy"
    assert response.headers["retry-after"] == "5"
