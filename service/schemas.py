"""The JSON shapes of the API (GUIDE §1), with examples for the OpenAPI docs."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from retrieval.answers.extractive import Answer, Evidence
from retrieval.models import Chunk, Document, Result
from retrieval.search.searcher import SearchOutcome

Mode = Literal["hybrid", "bm25", "dense"]
MAX_FILTER_VALUES = 50


def _encodable(text: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("holds characters that are not valid Unicode text (a lone surrogate?)") from None
    return text


Text = Annotated[str, AfterValidator(_encodable)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200), AfterValidator(_encodable)]


class FiltersIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    city: list[Name] | None = Field(None, max_length=MAX_FILTER_VALUES, examples=[["温州"]], description="only these cities")
    year: list[int] | None = Field(None, max_length=MAX_FILTER_VALUES, examples=[[2023]],
                                   description="only passages about these years (a report's summary year or plan year)")
    doc_id: list[Name] | None = Field(None, max_length=MAX_FILTER_VALUES, description="only these reports")


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"query": "which city achieved 100% national-section water quality", "top_k": 5},
        {"query": "赣州美丽建设项目完成了多少投资", "top_k": 10, "mode": "hybrid",
         "filters": {"city": ["赣州"], "year": [2022]}},
    ]})
    query: Text = Field(..., description="the question, in Chinese (simplified or traditional) or English")
    top_k: int = Field(10, ge=1, le=100)
    mode: Mode = "hybrid"
    filters: FiltersIn | None = None


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"question": "溫州危廢跨區域處置補償機制"},
        {"question": "which city achieved 100% national-section water quality"},
    ]})
    question: Text
    top_k: int = Field(10, ge=1, le=100)
    filters: FiltersIn | None = None


# [start, end): a list of two offsets (a JSON array of fixed length, valid in any OpenAPI tool).
Span = Annotated[list[int], Field(min_length=2, max_length=2)]


class Source(BaseModel):
    path: str
    start: int
    end: int


class Explanation(BaseModel):
    bm25_rank: int | None
    bm25_score: float | None
    dense_rank: int | None
    dense_score: float | None
    boosts: list[str]


class Cited(BaseModel):
    """A passage of a report and where exactly it stands: text == file[start:end]."""

    chunk_id: str
    doc_id: str
    title: str
    city: str | None
    year: int | None
    heading_path: list[str]
    text: str
    source: Source


class SearchResult(Cited):
    rank: int
    score: float
    highlights: list[Span] = Field(description="[start, end) offsets within text of what matched the question")
    explanation: Explanation


class SearchResponse(BaseModel):
    query: str
    mode: str
    took_ms: float
    language: str
    results: list[SearchResult]


class EvidenceOut(Cited):
    value: Span | None = Field(None, description="the key value's [start, end) within text")


class AskResponse(BaseModel):
    question: str
    answer: str
    found: bool
    evidence: list[EvidenceOut]
    results: list[SearchResult]
    took_ms: float


class DocumentSummary(BaseModel):
    doc_id: str
    path: str
    title: str
    title_derived: bool
    city: str | None
    bureau: str | None
    years: list[int]
    summary_year: int | None
    plan_year: int | None
    published: str | None
    encoding: str
    chars: int


class DocumentOut(DocumentSummary):
    text: str
    content: list[Span] = Field(description="[start, end) spans of the report itself, without page furniture")


class ErrorBody(BaseModel):
    code: str
    message: str


class ErrorResponse(BaseModel):
    error: ErrorBody


def _cited(c: Chunk, text: str, start: int, end: int) -> dict:
    return dict(chunk_id=c.chunk_id, doc_id=c.doc_id, title=c.title, city=c.city, year=c.year,
                heading_path=list(c.heading_path), text=text, source=Source(path=c.path, start=start, end=end))


def result_out(r: Result) -> SearchResult:
    c, e = r.chunk, r.explanation
    return SearchResult(
        **_cited(c, c.text, c.start, c.end), rank=r.rank, score=round(r.score, 6), highlights=[list(h) for h in r.highlights],
        explanation=Explanation(bm25_rank=e.bm25_rank, bm25_score=e.bm25_score, dense_rank=e.dense_rank,
                                dense_score=e.dense_score, boosts=list(e.boosts)),
    )


def search_out(o: SearchOutcome) -> SearchResponse:
    return SearchResponse(query=o.query, mode=o.mode, took_ms=round(o.took_ms, 2),
                          language=o.analysis.language, results=[result_out(r) for r in o.results])


def evidence_out(e: Evidence) -> EvidenceOut:
    return EvidenceOut(**_cited(e.chunk, e.text, e.span.start, e.span.end), value=list(e.value) if e.value else None)


def ask_out(a: Answer) -> AskResponse:
    return AskResponse(question=a.question, answer=a.text, found=a.found,
                       evidence=[evidence_out(e) for e in a.evidence],
                       results=[result_out(r) for r in a.outcome.results], took_ms=round(a.outcome.took_ms, 2))


def document_summary(d: Document) -> DocumentSummary:
    return DocumentSummary(doc_id=d.doc_id, path=d.path, title=d.title, title_derived=d.title_derived,
                           city=d.city, bureau=d.bureau, years=list(d.years), summary_year=d.summary_year,
                           plan_year=d.plan_year, published=d.published, encoding=d.encoding, chars=len(d.text))


def document_out(d: Document) -> DocumentOut:
    return DocumentOut(**document_summary(d).model_dump(), text=d.text,
                       content=[[s.start, s.end] for s in d.content])
