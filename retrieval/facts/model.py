"""A typed fact: one figure a report states, with the exact citation of its sentence and
of its value (offsets into the report file, like every citation here)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from retrieval.models import Span

KINDS = ("achieved", "target")
COMPARATORS = ("=", ">=", "<=", ">", "<")
MEASURES = ("level", "change", "rank")


@dataclass(frozen=True)
class Fact:
    doc_id: str
    path: str
    city: str | None
    year: int | None  # the year the sentence states, else its section's
    indicator: str | None  # canonical id from the vocabulary, None when it has none
    indicator_text: str  # the words naming what is measured, as the sentence has them
    value: str  # as written: 18.2微克/立方米
    number: float | None  # None only for a rank without a number (全省前列)
    number_max: float | None  # the top of a range
    unit: str  # canonical spelling: %, μg/m3, 亿元; "" when none is written
    comparator: str
    kind: str  # achieved or target
    measure: str  # level (the figure itself), change (同比降低5.4%) or rank (全省第一)
    scope: str  # 全市, 市区, 市中心城区 ... or ""
    rank: str | None  # a rank stated with the figure
    change: str | None  # a change stated with the figure
    sentence: Span  # in the report file
    value_span: Span  # in the report file
    text: str  # the sentence: the file's [sentence.start:sentence.end]
    heading_path: tuple[str, ...] = ()
    chunk_id: str | None = None  # the stored chunk holding the sentence, for citing it like a passage

    @property
    def fact_id(self) -> str:
        return f"{self.doc_id}@{self.value_span.start}" + (f"/{self.scope}" if self.scope else "") + \
            f"/{self.indicator_text}"

    def row(self) -> dict:
        row = asdict(self)
        row["sentence"] = [self.sentence.start, self.sentence.end]
        row["value_span"] = [self.value_span.start, self.value_span.end]
        row["heading_path"] = list(self.heading_path)
        return row

    @classmethod
    def from_row(cls, row: dict) -> "Fact":
        values = dict(row)
        values["sentence"] = Span(*values["sentence"])
        values["value_span"] = Span(*values["value_span"])
        values["heading_path"] = tuple(values.get("heading_path", ()))
        return cls(**values)
