"""The HTTP service: thin routes over retrieval.Engine. Caller mistakes get a 4xx with
{"error": {"code", "message"}} saying what to fix; a 5xx means a bug here."""

from __future__ import annotations

import hmac
import logging
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Literal

from fastapi import FastAPI, Header, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.staticfiles import StaticFiles
from fastapi.responses import FileResponse, JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from retrieval.engine import (MAX_REPORT_BYTES, DocumentExists, Engine, UnknownDocument, UnknownFilterValue,
                              VersionMismatch, document_version)
from retrieval.backends.base import BackendError
from retrieval.transactions import WriterBusy
from retrieval.search.query import MAX_QUESTION_CHARS, QuestionError, checked_question
from retrieval.documents.reading import ReportError
from retrieval.backends.base import Filters

from . import schemas
from .guards import Busy, GuardMiddleware, KeyAttempts, Limits, QuestionQueue, TimedOut

STATIC = Path(__file__).parent / "static"
log = logging.getLogger("reportqa.service")


@dataclass(frozen=True)
class ServiceConfig:
    api_key: str | None = None  # writes are refused (403) when none is configured
    max_query_chars: int = MAX_QUESTION_CHARS
    max_upload_bytes: int = MAX_REPORT_BYTES
    limits: Limits = field(default_factory=Limits)
    cors_origins: tuple[str, ...] = ()  # origins whose browser apps may call the API


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict | None = None):
        self.status, self.code, self.message, self.headers = status, code, message, headers


def _error(status: int, code: str, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)


def _validated_query(text: str, limit: int, what: str = "query") -> str:
    try:
        return checked_question(text, limit, what)
    except QuestionError as exc:
        raise ApiError(422 if exc.code == "unencodable_text" else 400, exc.code, str(exc)) from None


def _filters(engine: Engine, f: schemas.FiltersIn | None) -> Filters:
    if f is None:
        return Filters()
    return _resolved(engine, f.city or (), f.year or (), f.doc_id or ())


def _resolved(engine: Engine, cities, years, doc_ids=()) -> Filters:
    try:
        return engine.resolved_filters(cities, years, doc_ids)
    except UnknownFilterValue as exc:
        raise ApiError(422, "unknown_filter_value", str(exc)) from None


_ERROR_MEANINGS = {
    400: "the question cannot be searched (empty, too long, nothing to search) or the body is not JSON",
    401: "no API key, or a wrong one", 403: "writes are disabled: no API key is configured",
    404: "no such report", 409: "a report by that id exists: replace it with PUT",
    412: "the report is not at the version in If-Match", 413: "the body is over the limit",
    422: "a field is invalid, or a filter value the collection lacks", 429: "too many requests: retry after Retry-After",
    503: "the backend is unavailable, a writer is busy, or the question took too long",
}


def errors(*codes: int) -> dict:
    """OpenAPI entries for the error answers a route can give, all in the one error shape."""
    return {code: {"model": schemas.ErrorResponse, "description": _ERROR_MEANINGS[code]} for code in codes}


def create_app(engine: Engine | None = None, config: ServiceConfig = ServiceConfig(),
               engine_factory: Callable[[], Engine] | None = None) -> FastAPI:
    """The app over a ready engine (tests), or one that engine_factory makes at start-up."""
    if (engine is None) == (engine_factory is None):
        raise ValueError("give create_app exactly one of engine or engine_factory")

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        # The model and index load once here, never per request.
        if engine_factory is not None:
            app.state.engine = engine_factory()
        yield

    queue = QuestionQueue(config.limits)
    key_attempts = KeyAttempts(config.limits)

    app = FastAPI(
        title="reportqa", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None,
        description="Search and answers over annual work reports of Chinese city ecology and "
                    "environment bureaus, each passage with an exact citation.",
    )

    app.add_middleware(GuardMiddleware, limits=config.limits)
    if config.cors_origins:  # off unless configured: a browser app on another origin must be named
        app.add_middleware(CORSMiddleware, allow_origins=list(config.cors_origins),
                           allow_methods=["GET", "POST", "PUT", "DELETE"],
                           allow_headers=["Authorization", "X-API-Key", "Content-Type", "If-Match"],
                           expose_headers=["ETag", "Retry-After"])
    if engine is not None:
        app.state.engine = engine  # ready now, for clients that skip the lifespan

    def current(request: Request) -> Engine:
        return request.app.state.engine

    def require_key(request: Request) -> None:
        if not config.api_key:
            raise ApiError(403, "writes_disabled",
                           "changing the collection is disabled: start the service with REPORTQA_API_KEY set")
        client = request.client.host if request.client else "unknown"
        wait = key_attempts.wait_needed(client)
        if wait > 0:
            raise ApiError(429, "too_many_attempts", f"too many wrong API keys from {client}; try again in "
                                                     f"{wait:.0f} s", {"Retry-After": str(max(1, round(wait)))})
        scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
        given = request.headers.get("x-api-key") or (credentials.strip() if scheme.lower() == "bearer" else "")
        if not given or not hmac.compare_digest(given.encode(), config.api_key.encode()):
            key_attempts.failed(client)
            raise ApiError(401, "bad_api_key", "send the API key as `Authorization: Bearer KEY` or in X-API-Key")
        key_attempts.succeeded(client)

    async def answered(work, *args):
        """A question's work, in the bounded queue and within the time limit."""
        try:
            return await queue.run(lambda: run_in_threadpool(work, *args))
        except Busy:
            raise ApiError(429, "busy", "too many questions are waiting; retry in a second",
                           {"Retry-After": "1"}) from None
        except TimedOut:
            raise ApiError(503, "timeout", f"the question took over {config.limits.question_timeout_s:.0f} s; "
                                           "try a shorter one", {"Retry-After": "1"}) from None

    @app.exception_handler(ApiError)
    async def api_error(_, exc: ApiError):
        return _error(exc.status, exc.code, exc.message, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_, exc: RequestValidationError):
        problems = []
        for err in exc.errors():
            if err.get("type") == "json_invalid":
                return _error(400, "invalid_json", "the request body is not valid JSON")
            where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
            problems.append(f"{where or 'body'}: {err.get('msg')}")
        return _error(422, "invalid_request", "; ".join(problems))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_, exc: StarletteHTTPException):
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return _error(exc.status_code, code, str(exc.detail), getattr(exc, "headers", None))  # 405 keeps Allow

    @app.exception_handler(WriterBusy)
    async def writer_busy(_, exc: WriterBusy):
        return _error(503, "writer_busy", str(exc), {"Retry-After": "5"})

    @app.exception_handler(BackendError)
    async def backend_unavailable(_, exc: BackendError):
        log.error("backend error: %s", exc)
        return _error(503, "backend_unavailable", str(exc), {"Retry-After": "5"})

    @app.exception_handler(Exception)
    async def bug(_, exc: Exception):
        log.exception("unhandled error")
        return _error(500, "internal_error", "the service failed on this request; this is a bug in reportqa")

    @app.get("/health", summary="Whether the index is loaded and which backend serves it", responses=errors(503))
    def health(request: Request):
        engine = current(request)
        counts = engine.counts()
        return {"status": "ok", "documents": counts.documents, "chunks": counts.chunks,
                "model": engine.encoder.model_id,
                "backend": engine.backend_name, "backend_location": engine.backend_location}

    async def run_search(request: Request, query: str, size: int, offset: int, mode: str, filters: Filters,
                         facets: bool):
        query = _validated_query(query, config.max_query_chars)
        outcome = await answered(current(request).search, query, size, mode, filters, offset)
        return schemas.search_out(outcome, offset, facets)

    @app.post("/v1/search", response_model=schemas.SearchResponse, summary="Ranked passages with exact citations",
              responses=errors(400, 413, 422, 429, 503))
    async def search_post(request: Request, body: schemas.SearchRequest):
        return await run_search(request, body.query, body.page_size, body.from_, body.mode,
                                _filters(current(request), body.filters), body.facets)

    @app.get("/v1/search", response_model=schemas.SearchResponse, summary="Ranked passages, as a GET",
             responses=errors(400, 422, 429, 503))
    async def search_get(request: Request, q: str = Query(..., description="the question"),
                         top_k: int = Query(10, ge=1, le=100), size: int | None = Query(None, ge=1, le=100),
                         from_: int = Query(0, ge=0, le=99, alias="from"), mode: schemas.Mode = "hybrid",
                         city: list[schemas.Name] = Query([], max_length=schemas.MAX_FILTER_VALUES),
                         year: list[int] = Query([], max_length=schemas.MAX_FILTER_VALUES),
                         facets: bool = False):
        page = size or top_k
        if from_ + page > 100:
            raise ApiError(422, "invalid_request", f"from + size must be at most 100, got {from_} + {page}")
        return await run_search(request, q, page, from_, mode, _resolved(current(request), city, year), facets)

    async def run_ask(request: Request, question: str, top_k: int, filters: Filters):
        question = _validated_query(question, config.max_query_chars, "question")
        return schemas.ask_out(await answered(current(request).ask, question, filters, top_k))

    @app.post("/v1/ask", response_model=schemas.AskResponse, summary="A short answer with its evidence",
              responses=errors(400, 413, 422, 429, 503))
    async def ask(request: Request, body: schemas.AskRequest):
        return await run_ask(request, body.question, body.top_k, _filters(current(request), body.filters))

    @app.get("/v1/ask", response_model=schemas.AskResponse, summary="A short answer, as a GET",
             responses=errors(400, 422, 429, 503))
    async def ask_get(request: Request, q: str = Query(..., description="the question"),
                      top_k: int = Query(10, ge=1, le=100),
                      city: list[schemas.Name] = Query([], max_length=schemas.MAX_FILTER_VALUES),
                      year: list[int] = Query([], max_length=schemas.MAX_FILTER_VALUES)):
        return await run_ask(request, q, top_k, _resolved(current(request), city, year))

    @app.get("/v1/facts", response_model=schemas.FactsResponse, summary="Typed facts the reports state, cited",
             responses=errors(422, 503))
    def facts(request: Request,
              indicator: str | None = Query(None, max_length=200, description="a canonical id (pm25_concentration) "
                                            "or words of the indicator text (优良率)"),
              city: list[schemas.Name] = Query([], max_length=schemas.MAX_FILTER_VALUES),
              year: list[int] = Query([], max_length=schemas.MAX_FILTER_VALUES,
                                      description="the year a fact is about (a plan's target year included)"),
              kind: Literal["achieved", "target"] | None = None,
              size: int = Query(100, ge=1, le=1000), from_: int = Query(0, ge=0, alias="from")):
        engine = current(request)
        found = engine.facts(indicator, Filters(_resolved(engine, city, ()).cities, tuple(year)), kind)
        return schemas.FactsResponse(facts=[schemas.fact_out(f) for f in found[from_ : from_ + size]],
                                     total=len(found), from_=from_)

    @app.get("/v1/documents", response_model=list[schemas.DocumentSummary], summary="The reports in the collection")
    def documents(request: Request):
        docs = current(request).documents().values()
        return [schemas.document_summary(d) for d in sorted(docs, key=lambda d: d.doc_id)]

    @app.get("/v1/documents/{doc_id}", response_model=schemas.DocumentOut, summary="One report with its full text",
             responses=errors(404, 422))
    def document(request: Request, response: Response, doc_id: str):
        try:
            doc = current(request).document(doc_id)
        except UnknownDocument:
            raise ApiError(404, "unknown_document", f"no report {doc_id!r}; GET /v1/documents lists them") from None
        response.headers["ETag"] = f'"{document_version(doc)}"'
        return schemas.document_out(doc)

    async def upload(request: Request) -> bytes:
        declared = request.headers.get("content-length", "0")
        if not declared.isdigit():
            raise ApiError(400, "bad_content_length", "the Content-Length header must be a number of bytes")
        if int(declared) > config.max_upload_bytes:
            raise ApiError(413, "too_large", f"the report is over the {config.max_upload_bytes} byte limit")
        data = b""
        async for part in request.stream():
            data += part
            if len(data) > config.max_upload_bytes:
                raise ApiError(413, "too_large", f"the report is over the {config.max_upload_bytes} byte limit")
        return data

    async def store(request: Request, name: str, replace: bool, if_match: str | None):
        require_key(request)
        data = await upload(request)
        engine = current(request)
        try:
            return await run_in_threadpool(engine.add_document, name, data, replace, if_match)
        except ReportError as exc:
            raise ApiError(422, "unreadable_report", str(exc)) from None
        except DocumentExists as exc:
            raise ApiError(409, "document_exists", str(exc)) from None
        except VersionMismatch as exc:
            raise ApiError(412, "version_mismatch", str(exc)) from None

    report_body = {"requestBody": {"required": True, "content": {"text/plain": {"schema": {"type": "string"}}}}}

    @app.post("/v1/documents", response_model=schemas.DocumentSummary, status_code=201, openapi_extra=report_body,
              summary="Add a report (409 if its id exists)", responses=errors(400, 401, 403, 409, 413, 422, 429, 503))
    async def add_document(request: Request, response: Response,
                           name: schemas.Name = Query(..., description="the report's id, e.g. 005_hangzhou_2024")):
        doc = await store(request, name, replace=False, if_match=None)
        response.headers["ETag"] = f'"{document_version(doc)}"'
        return schemas.document_summary(doc)

    @app.put("/v1/documents/{doc_id}", response_model=schemas.DocumentSummary, openapi_extra=report_body,
             summary="Add or replace a report, optionally only if it is at the version given in If-Match",
             responses={201: {"model": schemas.DocumentSummary, "description": "added"},
                        **errors(400, 401, 403, 412, 413, 422, 429, 503)})
    async def put_document(request: Request, response: Response, doc_id: str,
                           if_match: str | None = Header(None, description="the version (ETag) this change is based on")):
        existed = doc_id in current(request).documents()
        doc = await store(request, doc_id, replace=True, if_match=if_match)
        response.status_code = 200 if existed else 201
        response.headers["ETag"] = f'"{document_version(doc)}"'
        return schemas.document_summary(doc)

    @app.delete("/v1/documents/{doc_id}", status_code=200, summary="Remove a report",
                responses=errors(401, 403, 404, 422, 429, 503))
    async def delete_document(request: Request, doc_id: str):
        require_key(request)
        try:
            await run_in_threadpool(current(request).delete_document, doc_id)
        except UnknownDocument:
            raise ApiError(404, "unknown_document", f"no report {doc_id!r}; GET /v1/documents lists them") from None
        return {"deleted": doc_id}

    # The API docs from assets served here, not a CDN: they work offline.
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/docs", include_in_schema=False)
    def swagger():
        return get_swagger_ui_html(openapi_url=app.openapi_url, title="reportqa API",
                                   swagger_js_url="/static/docs/swagger-ui-bundle.js",
                                   swagger_css_url="/static/docs/swagger-ui.css", swagger_favicon_url="data:,")

    @app.get("/redoc", include_in_schema=False)
    def redoc():
        return get_redoc_html(openapi_url=app.openapi_url, title="reportqa API",
                              redoc_js_url="/static/docs/redoc.standalone.js", redoc_favicon_url="data:,",
                              with_google_fonts=False)

    @app.get("/", include_in_schema=False)
    def page():
        return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8")

    @app.get("/view/{doc_id}", include_in_schema=False)
    def view(doc_id: str):
        return FileResponse(STATIC / "document.html", media_type="text/html; charset=utf-8")

    return app
