"""The HTTP service: thin routes over retrieval.Engine. Caller mistakes get a 4xx with
{"error": {"code", "message"}} saying what to fix; a 5xx means a bug here."""

from __future__ import annotations

import hmac
import logging
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from fastapi import FastAPI, Header, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from retrieval.engine import (MAX_REPORT_BYTES, DocumentExists, Engine, UnknownDocument, VersionMismatch,
                              document_version)
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


def _filters(f: schemas.FiltersIn | None) -> Filters:
    if f is None:
        return Filters()
    return Filters(tuple(f.city or ()), tuple(f.year or ()), tuple(f.doc_id or ()))


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
        title="reportqa", version="0.1.0", lifespan=lifespan,
        description="Search and answers over annual work reports of Chinese city ecology and "
                    "environment bureaus, each passage with an exact citation.",
        responses={400: {"model": schemas.ErrorResponse}, 422: {"model": schemas.ErrorResponse}},
    )

    app.add_middleware(GuardMiddleware, limits=config.limits)
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
        authorization = request.headers.get("authorization", "")
        given = request.headers.get("x-api-key") or (authorization[7:] if authorization.startswith("Bearer ") else "")
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

    @app.exception_handler(Exception)
    async def bug(_, exc: Exception):
        log.exception("unhandled error")
        return _error(500, "internal_error", "the service failed on this request; this is a bug in reportqa")

    @app.get("/health")
    def health(request: Request):
        engine = current(request)
        counts = engine.counts()
        return {"status": "ok", "documents": counts.documents, "chunks": counts.chunks,
                "model": engine.encoder.model_id,
                "backend": engine.backend_name, "backend_location": engine.backend_location}

    async def run_search(request: Request, query: str, top_k: int, mode: str, filters: Filters):
        query = _validated_query(query, config.max_query_chars)
        return schemas.search_out(await answered(current(request).search, query, top_k, mode, filters))

    @app.post("/v1/search", response_model=schemas.SearchResponse)
    async def search_post(request: Request, body: schemas.SearchRequest):
        return await run_search(request, body.query, body.top_k, body.mode, _filters(body.filters))

    @app.get("/v1/search", response_model=schemas.SearchResponse)
    async def search_get(request: Request, q: str = Query(..., description="the question"),
                         top_k: int = Query(10, ge=1, le=100), mode: schemas.Mode = "hybrid",
                         city: list[schemas.Name] = Query([], max_length=schemas.MAX_FILTER_VALUES),
                         year: list[int] = Query([], max_length=schemas.MAX_FILTER_VALUES)):
        return await run_search(request, q, top_k, mode, Filters(tuple(city), tuple(year)))

    @app.post("/v1/ask", response_model=schemas.AskResponse)
    async def ask(request: Request, body: schemas.AskRequest):
        question = _validated_query(body.question, config.max_query_chars, "question")
        return schemas.ask_out(await answered(current(request).ask, question, _filters(body.filters), body.top_k))

    @app.get("/v1/documents", response_model=list[schemas.DocumentSummary])
    def documents(request: Request):
        docs = current(request).documents().values()
        return [schemas.document_summary(d) for d in sorted(docs, key=lambda d: d.doc_id)]

    @app.get("/v1/documents/{doc_id}", response_model=schemas.DocumentOut)
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
        except WriterBusy as exc:
            raise ApiError(503, "writer_busy", str(exc), {"Retry-After": "5"}) from None

    report_body = {"requestBody": {"required": True, "content": {"text/plain": {"schema": {"type": "string"}}}}}

    @app.post("/v1/documents", response_model=schemas.DocumentSummary, status_code=201, openapi_extra=report_body)
    async def add_document(request: Request, response: Response,
                           name: schemas.Name = Query(..., description="the report's id, e.g. 005_hangzhou_2024")):
        doc = await store(request, name, replace=False, if_match=None)
        response.headers["ETag"] = f'"{document_version(doc)}"'
        return schemas.document_summary(doc)

    @app.put("/v1/documents/{doc_id}", response_model=schemas.DocumentSummary, openapi_extra=report_body)
    async def put_document(request: Request, response: Response, doc_id: str,
                           if_match: str | None = Header(None, description="the version (ETag) this change is based on")):
        existed = doc_id in current(request).documents()
        doc = await store(request, doc_id, replace=True, if_match=if_match)
        response.status_code = 200 if existed else 201
        response.headers["ETag"] = f'"{document_version(doc)}"'
        return schemas.document_summary(doc)

    @app.delete("/v1/documents/{doc_id}", status_code=200)
    def delete_document(request: Request, doc_id: str):
        require_key(request)
        try:
            current(request).delete_document(doc_id)
        except UnknownDocument:
            raise ApiError(404, "unknown_document", f"no report {doc_id!r}; GET /v1/documents lists them") from None
        return {"deleted": doc_id}

    @app.get("/", include_in_schema=False)
    def page():
        return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8")

    @app.get("/view/{doc_id}", include_in_schema=False)
    def view(doc_id: str):
        return FileResponse(STATIC / "document.html", media_type="text/html; charset=utf-8")

    return app
