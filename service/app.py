"""The HTTP service: thin routes over retrieval.Engine. Caller mistakes get a 4xx with
{"error": {"code", "message"}} saying what to fix; a 5xx means a bug here."""

from __future__ import annotations

import hmac
import logging
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from retrieval.engine import MAX_REPORT_BYTES, Engine, UnknownDocument
from retrieval.search.query import MAX_QUESTION_CHARS, QuestionError, checked_question
from retrieval.documents.reading import ReportError
from retrieval.backends.base import Filters

from . import schemas

STATIC = Path(__file__).parent / "static"
log = logging.getLogger("reportqa.service")


@dataclass(frozen=True)
class ServiceConfig:
    api_key: str | None = None  # writes are refused (403) when none is configured
    max_query_chars: int = MAX_QUESTION_CHARS
    max_upload_bytes: int = MAX_REPORT_BYTES


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str):
        self.status, self.code, self.message = status, code, message


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def _validated_query(text: str, limit: int, what: str = "query") -> str:
    try:
        return checked_question(text, limit, what)
    except QuestionError as exc:
        raise ApiError(400, exc.code, str(exc)) from None


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
        app.state.engine = engine if engine is not None else engine_factory()
        yield

    app = FastAPI(
        title="reportqa", version="0.1.0", lifespan=lifespan,
        description="Search and answers over annual work reports of Chinese city ecology and "
                    "environment bureaus, each passage with an exact citation.",
        responses={400: {"model": schemas.ErrorResponse}, 422: {"model": schemas.ErrorResponse}},
    )

    def current(request: Request) -> Engine:
        return request.app.state.engine

    def require_key(request: Request) -> None:
        if not config.api_key:
            raise ApiError(403, "writes_disabled",
                           "changing the collection is disabled: start the service with REPORTQA_API_KEY set")
        given = request.headers.get("x-api-key") or request.headers.get("authorization", "").removeprefix("Bearer ")
        if not given or not hmac.compare_digest(given.encode(), config.api_key.encode()):
            raise ApiError(401, "bad_api_key", "send the API key in the X-API-Key header")

    @app.exception_handler(ApiError)
    async def api_error(_, exc: ApiError):
        return _error(exc.status, exc.code, exc.message)

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
        return _error(exc.status_code, code, str(exc.detail))

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

    def run_search(request: Request, query: str, top_k: int, mode: str, filters: Filters):
        query = _validated_query(query, config.max_query_chars)
        return schemas.search_out(current(request).search(query, top_k, mode, filters))

    @app.post("/v1/search", response_model=schemas.SearchResponse)
    def search_post(request: Request, body: schemas.SearchRequest):
        return run_search(request, body.query, body.top_k, body.mode, _filters(body.filters))

    @app.get("/v1/search", response_model=schemas.SearchResponse)
    def search_get(request: Request, q: str = Query(..., description="the question"),
                   top_k: int = Query(10, ge=1, le=100), mode: schemas.Mode = "hybrid",
                   city: list[str] = Query([]), year: list[int] = Query([])):
        return run_search(request, q, top_k, mode, Filters(tuple(city), tuple(year)))

    @app.post("/v1/ask", response_model=schemas.AskResponse)
    def ask(request: Request, body: schemas.AskRequest):
        question = _validated_query(body.question, config.max_query_chars, "question")
        return schemas.ask_out(current(request).ask(question, _filters(body.filters), body.top_k))

    @app.get("/v1/documents", response_model=list[schemas.DocumentSummary])
    def documents(request: Request):
        docs = current(request).documents().values()
        return [schemas.document_summary(d) for d in sorted(docs, key=lambda d: d.doc_id)]

    @app.get("/v1/documents/{doc_id}", response_model=schemas.DocumentOut)
    def document(request: Request, doc_id: str):
        try:
            return schemas.document_out(current(request).document(doc_id))
        except UnknownDocument:
            raise ApiError(404, "unknown_document", f"no report {doc_id!r}; GET /v1/documents lists them") from None

    @app.post("/v1/documents", response_model=schemas.DocumentSummary, status_code=201,
              openapi_extra={"requestBody": {"content": {"text/plain": {"schema": {"type": "string"}}}}})
    async def add_document(request: Request, name: str = Query(..., description="file name, e.g. 005_hangzhou_2024.txt")):
        require_key(request)
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
        engine = current(request)
        try:
            doc = await run_in_threadpool(engine.add_document, name, data)
        except ReportError as exc:
            raise ApiError(422, "unreadable_report", str(exc)) from None
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
