"""The JSON shapes of the API (GUIDE §1), with examples for the OpenAPI docs."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from retrieval.answers.extractive import Evidence
from retrieval.answers.typed import TypedAnswer
from retrieval.facts.model import Fact
from service.answer_text import answer_text, language_of, not_found_text
from retrieval.search.query import MAX_QUESTION_CHARS
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


Text = Annotated[str, StringConstraints(max_length=MAX_QUESTION_CHARS), AfterValidator(_encodable)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200), AfterValidator(_encodable)]


class FiltersIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    city: list[Name] | None = Field(None, max_length=MAX_FILTER_VALUES, examples=[["温州"]], description="only these cities")
    year: list[int] | None = Field(None, max_length=MAX_FILTER_VALUES, examples=[[2023]],
                                   description="only passages about these years (a report's summary year or plan year)")
    doc_id: list[Name] | None = Field(None, max_length=MAX_FILTER_VALUES, description="only these reports")


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, json_schema_extra={"examples": [
        {"query": "which city achieved 100% national-section water quality", "top_k": 5},
        {"query": "赣州美丽建设项目完成了多少投资", "size": 10, "from": 10, "mode": "hybrid",
         "filters": {"city": ["赣州"], "year": [2022]}, "facets": True},
    ]})
    query: Text = Field(..., description="the question, in Chinese (simplified or traditional) or English")
    top_k: int = Field(10, ge=1, le=100, description="results to return (alias: size)")
    size: int | None = Field(None, ge=1, le=100, description="the same as top_k, for paging with from")
    from_: int = Field(0, ge=0, le=99, alias="from", description="results to skip: from + size <= 100")
    mode: Mode = "hybrid"
    filters: FiltersIn | None = None
    facets: bool = Field(False, description="also count the matching passages by city and year")

    @model_validator(mode="after")
    def _page_fits(self):
        if self.from_ + self.page_size > 100:
            raise ValueError(f"from + size must be at most 100, got {self.from_} + {self.page_size}")
        return self

    @property
    def page_size(self) -> int:
        return self.size or self.top_k


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
    sentence_score: float | None = Field(None, description="cosine of the passage's best sentence to the question (hybrid)")
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


class FacetCount(BaseModel):
    value: str | int
    count: int


class FacetsOut(BaseModel):
    city: list[FacetCount]
    year: list[FacetCount]


class SearchResponse(BaseModel):
    model_config = ConfigDict(populate_by_name=True, json_schema_extra={"examples": [{
        "query": "赣州美丽建设项目完成了多少投资", "mode": "hybrid", "took_ms": 14.1, "language": "zh", "total": 64,
        "from": 0, "facets": None,
        "results": [{"rank": 1, "score": 0.93, "chunk_id": "002_14e99ec946930a51:1f0c…", "doc_id": "002_14e99ec946930a51",
                     "title": "赣州市生态环境局2022年工作总结和2023年工作计划", "city": "赣州", "year": 2022,
                     "heading_path": ["一、2022年工作情况", "(一)推进美丽赣州建设,先行先试成效明显。"],
                     "text": "…完成投资92.7亿元,占年度计划投资的114%…",
                     "source": {"path": "seeds/002_14e99ec946930a51.txt", "start": 0, "end": 0},
                     "highlights": [[2, 4]],
                     "explanation": {"bm25_rank": 1, "bm25_score": 21.4, "dense_rank": 1, "dense_score": 0.88,
                                     "sentence_score": 0.9,
                                     "boosts": ["city"]}}]}]})
    query: str
    mode: str
    took_ms: float
    language: str
    total: int = Field(description="passages that matched, of which results is one page")
    from_: int = Field(0, alias="from")
    results: list[SearchResult]
    facets: FacetsOut | None = None


class EvidenceOut(Cited):
    value: Span | None = Field(None, description="the key value's [start, end) within text")


AnswerKind = Literal["value", "cities", "table", "passage", "not_found"]


class FactOut(BaseModel):
    """One figure a report states, cited: text == file[source.start:source.end], and value ==
    text[value_span[0]:value_span[1]]. A table row for a city without the figure has value,
    number and source null."""

    city: str | None
    doc_id: str | None
    year: int | None = Field(description="the year the sentence states, else its section's")
    indicator: str | None = Field(description="canonical id from the indicator vocabulary, when it has one")
    indicator_text: str | None
    value: str | None = Field(description="as written in the report")
    number: float | None
    number_max: float | None = Field(None, description="the top of a range")
    unit: str | None
    comparator: Literal["=", ">=", "<=", ">", "<"] | None
    kind: Literal["achieved", "target"] | None
    measure: Literal["level", "change", "rank"] | None
    scope: str | None
    rank: str | None = None
    change: str | None = None
    heading_path: list[str] = []
    text: str | None
    source: Source | None
    value_span: Span | None


class AskResponse(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "question": "which city achieved 100% national-section water quality", "kind": "cities",
        "answer": "Cities whose reports state it as achieved: Wenzhou, Ganzhou\n...", "found": True, "reason": None,
        "facts": [{"city": "温州", "doc_id": "000_151f93f2618fcf8d", "year": 2023,
                   "indicator": "national_section_good_water_share", "indicator_text": "国控断面Ⅰ-Ⅲ类水质比例",
                   "value": "100%", "number": 100.0, "unit": "%", "comparator": "=", "kind": "achieved",
                   "measure": "level", "scope": "全市", "text": "…2023年全市国控断面Ⅰ-Ⅲ类水质比例100%…",
                   "source": {"path": "seeds/000_151f93f2618fcf8d.txt", "start": 0, "end": 0},
                   "value_span": [0, 0]}],
        "evidence": [], "results": [], "took_ms": 14.2}]})
    question: str
    kind: AnswerKind
    answer: str = Field(description="for a person, in the question's language; each [n] is an evidence entry")
    found: bool = Field(description="false exactly when kind is not_found")
    reason: str | None = Field(None, description="why nothing was found (kind not_found), for a person")
    reason_code: Literal["no_city", "other_years", "no_indicator", "off_topic"] | None = None
    facts: list[FactOut] = Field(description="the rows behind the answer, cited (empty for passage and not_found)")
    evidence: list[EvidenceOut]
    results: list[SearchResult]
    took_ms: float


class FactsResponse(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    facts: list[FactOut]
    total: int = Field(description="facts that match, of which facts is one page")
    from_: int = Field(0, alias="from")


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
                                dense_score=e.dense_score, sentence_score=e.sentence_score, boosts=list(e.boosts)),
    )


def search_out(o: SearchOutcome, offset: int = 0, facets: bool = False) -> SearchResponse:
    counts = None
    if facets and o.facets is not None:
        counts = FacetsOut(city=[FacetCount(value=c, count=n) for c, n in o.facets.cities],
                           year=[FacetCount(value=y, count=n) for y, n in o.facets.years])
    return SearchResponse(query=o.query, mode=o.mode, took_ms=round(o.took_ms, 2), language=o.analysis.language,
                          total=o.total, from_=offset, results=[result_out(r) for r in o.results], facets=counts)


def evidence_out(e: Evidence) -> EvidenceOut:
    return EvidenceOut(**_cited(e.chunk, e.text, e.span.start, e.span.end), value=list(e.value) if e.value else None)


def fact_out(f: Fact) -> FactOut:
    return FactOut(city=f.city, doc_id=f.doc_id, year=f.year, indicator=f.indicator, indicator_text=f.indicator_text,
                   value=f.value, number=f.number, number_max=f.number_max, unit=f.unit, comparator=f.comparator,
                   kind=f.kind, measure=f.measure, scope=f.scope, rank=f.rank, change=f.change,
                   heading_path=list(f.heading_path), text=f.text,
                   source=Source(path=f.path, start=f.sentence.start, end=f.sentence.end),
                   value_span=[f.value_span.start - f.sentence.start, f.value_span.end - f.sentence.start])


def empty_row(city: str) -> FactOut:
    return FactOut(city=city, doc_id=None, year=None, indicator=None, indicator_text=None, value=None, number=None,
                   unit=None, comparator=None, kind=None, measure=None, scope=None, text=None, source=None,
                   value_span=None)


def ask_out(a: TypedAnswer) -> AskResponse:
    if a.kind == "table":
        facts = [fact_out(r.fact) if r.fact else empty_row(r.city) for r in a.rows]
    elif a.kind in ("value", "cities"):
        facts = [fact_out(f) for f in (*a.facts, *a.targets)]
    else:
        facts = []
    reason = a.not_found
    return AskResponse(question=a.question, kind=a.kind, answer=answer_text(a), found=a.kind != "not_found",
                       reason=not_found_text(reason, language_of(a)) if reason else None,
                       reason_code=reason.reason if reason else None, facts=facts,
                       evidence=[evidence_out(e) for e in a.evidence],
                       results=[result_out(r) for r in a.outcome.results], took_ms=round(a.outcome.took_ms, 2))


def document_summary(d: Document) -> DocumentSummary:
    return DocumentSummary(doc_id=d.doc_id, path=d.path, title=d.title, title_derived=d.title_derived,
                           city=d.city, bureau=d.bureau, years=list(d.years), summary_year=d.summary_year,
                           plan_year=d.plan_year, published=d.published, encoding=d.encoding, chars=len(d.text))


def document_out(d: Document) -> DocumentOut:
    return DocumentOut(**document_summary(d).model_dump(), text=d.text,
                       content=[[s.start, s.end] for s in d.content])
