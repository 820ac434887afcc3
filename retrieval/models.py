"""What flows between the stages: a read report, its sections, chunks and scored hits."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Span:
    start: int
    end: int


@dataclass(frozen=True)
class Heading:
    level: int  # 0 part (2019年工作总结), 1 一、, 2 (一), 3 1., 4 一是
    title: str
    start: int
    end: int


@dataclass(frozen=True)
class Document:
    doc_id: str
    path: str  # as cited: relative to the project root when the report lies under it
    text: str  # the decoded file, newlines as they are: offsets index this
    encoding: str
    content: tuple[Span, ...]  # the report itself, without web-page furniture
    title: str
    title_derived: bool
    title_span: Span | None  # where the file states its title, if it does
    city: str | None
    bureau: str | None
    summary_year: int | None
    plan_year: int | None
    published: str | None  # ISO date when the page gives one

    @property
    def years(self) -> tuple[int, ...]:
        return tuple(sorted({y for y in (self.summary_year, self.plan_year) if y}))

    @property
    def year(self) -> int | None:
        return self.summary_year or self.plan_year


@dataclass(frozen=True)
class Section:
    heading_path: tuple[str, ...]
    start: int
    end: int
    year: int | None


@dataclass(frozen=True)
class Chunk:
    chunk_id: str
    doc_id: str
    path: str
    title: str
    city: str | None
    year: int | None
    years: tuple[int, ...]
    heading_path: tuple[str, ...]
    start: int
    end: int
    text: str

    def context(self) -> str:
        """What the indexes see: the text with the place it comes from, so a chunk
        that never names its city still matches a question about that city."""
        where = " ".join(p for p in (self.city, str(self.year or ""), *self.heading_path) if p)
        return f"{self.title} {where}\n{self.text}"


@dataclass(frozen=True)
class Hit:
    """One chunk found by one retriever."""

    chunk_id: str
    score: float
    rank: int  # 1-based


@dataclass(frozen=True)
class Explanation:
    bm25_rank: int | None = None
    bm25_score: float | None = None
    dense_rank: int | None = None
    dense_score: float | None = None
    sentence_score: float | None = None  # the passage's best sentence's cosine to the question
    boosts: tuple[str, ...] = ()


@dataclass(frozen=True)
class Result:
    rank: int
    score: float
    chunk: Chunk
    highlights: tuple[tuple[int, int], ...] = ()
    explanation: Explanation = field(default_factory=Explanation)
