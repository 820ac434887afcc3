"""Reading a report file: decoding, web-page furniture, and what the report is about.

Offsets always index the decoded file text; furniture is left in the text but kept out
of `Document.content`, so the content keeps the offsets it has in the original file."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from retrieval.models import Document, Span
from retrieval.text.places import most_named_city


class ReportError(ValueError):
    """A report that cannot be read; the message names the file and what is wrong."""


@dataclass(frozen=True)
class ReadProblem:
    path: str
    message: str


def decode_report(data: bytes) -> tuple[str, str]:
    """The text and its encoding: UTF-8, else GBK/GB18030 (common for government files)."""
    if not data.strip():
        raise ReportError("the file is empty")
    if b"\x00" in data[:4096]:
        raise ReportError("this is a binary file, not a text report")
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    for encoding in ("gbk", "gb18030"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if _looks_chinese(text):
            return text, encoding
    raise ReportError("the bytes are neither UTF-8 nor GBK/GB18030 text; save the report as UTF-8")


def _looks_chinese(text: str) -> bool:
    non_ascii = [ch for ch in text if ord(ch) > 127]
    cjk = sum(1 for ch in non_ascii if "\u4e00" <= ch <= "\u9fff" or "\u3000" <= ch <= "\u303f"
              or "\uff00" <= ch <= "\uffef")
    return not non_ascii or cjk / len(non_ascii) > 0.8


# A whole line is furniture when it matches one of these (after stripping spaces).
_FURNITURE_LINE = re.compile(
    r"^(?:[|\s\xa0]*"  # table rules left from a page: |, |||
    r"|.{0,20}(?:打印本页|关闭本页|关闭窗口).{0,20}"
    r"|(?:相关文章|相关链接|相关阅读|附件下载)[:：]?"
    r"|.*(?:ICP备|公网安备|网站标识码|Copyright|版权所有|建议分辨率).*"
    r"|(?:主\s*办|技术支持|承\s*办|联系我们|网站地图)[:：].*"
    r"|(?:时间|发布时间|日期)[:：]\s*\d{4}-\d{1,2}-\d{1,2}.*"
    r"|(?:索\s*引\s*号|发布机构|生成日期|标\s*题|内容概述|主题分类|文\s*号|来\s*源|浏览次数)\s*[:：|].*"
    r")$"
)
_CELL_RULE = re.compile(r"[\s\xa0]*\|[|\s\xa0]*$")  # a trailing " |" table cell edge
_DATE = re.compile(r"(?<![\d-])((?:19|20)\d\d)-(\d{1,2})-(\d{1,2})(?![\d-])")
_META_TITLE = re.compile(r"^标\s*题\s*[:：]?\s*\|?\s*([^|]+?)\s*\|")


def content_spans(text: str) -> tuple[Span, ...]:
    spans = []
    pos = 0
    for line in text.split("\n"):
        start, end = pos, pos + len(line)
        pos = end + 1
        if _FURNITURE_LINE.match(line.strip()):
            continue
        rule = _CELL_RULE.search(line)
        if rule:
            end = start + rule.start()
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if end > start:
            spans.append(Span(start, end))
    return tuple(spans)


def furniture_lines(text: str) -> list[str]:
    return [line.strip() for line in text.split("\n") if line.strip() and _FURNITURE_LINE.match(line.strip())]


_TITLE_WORDS = re.compile(r"工作|总结|计划|要点|思路|报告|打算")
_SENTENCE_END = re.compile(r"[。；!?！？]")
_SUMMARY_YEAR = re.compile(r"(20\d\d)年[^\d。]{0,10}?(?:总结|情况|成效|回顾)")
_PLAN_YEAR = re.compile(r"(20\d\d)年[^\d。]{0,10}?(?:思路|计划|要点|打算|目标|安排)")
_BUREAU = re.compile(r"([\u4e00-\u9fff]{2,3})市生态环境局")


def _file_title(text: str, content: tuple[Span, ...]) -> tuple[str, tuple[Span, ...]] | None:
    """The title lines at the top of the report, if it has them: short, no sentence end."""
    lines = []
    for span in content[:3]:
        line = text[span.start : span.end]
        if len(line) > 60 or _SENTENCE_END.search(line):
            break
        lines.append(span)
        if not line.endswith(("和", "及", "与", "、")):
            break
    title = "".join(text[s.start : s.end] for s in lines)
    if lines and _TITLE_WORDS.search(title):
        return title, tuple(lines)
    return None


def _meta_title(text: str) -> str | None:
    for line in text.split("\n")[:15]:
        m = _META_TITLE.match(line.strip())
        if m:
            return m.group(1).strip()
    return None


def _first_year(pattern: re.Pattern, *texts: str) -> int | None:
    for t in texts:
        m = pattern.search(t)
        if m:
            return int(m.group(1))
    return None


def doc_id_for(path: Path) -> str:
    """The file's stem: stable, readable, and what citations and benchmarks name. Other
    characters become _ (two files that then share an id are refused when indexing)."""
    stem = path.stem
    return re.sub(r"[^0-9A-Za-z_.\-\u4e00-\u9fff]", "_", stem) or hashlib.sha1(str(path).encode()).hexdigest()[:12]


# A report's id is its name: letters, digits, Chinese, _ - and . (not first), nothing else.
_REPORT_ID = re.compile(r"[0-9A-Za-z_\-\u4e00-\u9fff][0-9A-Za-z_.\-\u4e00-\u9fff]*")
MAX_ID_BYTES = 200  # in UTF-8: with ".txt" and a staging prefix it stays under 255-byte file names


def report_id(name: str) -> str:
    """The id a report is stored and cited under: its file name without .txt, exactly, or
    ReportError saying what is wrong with the name."""
    stem = name[:-4] if name.endswith(".txt") else name
    if not _REPORT_ID.fullmatch(stem) or ".." in stem:
        raise ReportError(f"{name!r} is not a usable report name: use letters, digits, Chinese, _ - and . "
                          "(not first), e.g. 005_hangzhou_2024")
    if len(stem.encode("utf-8")) > MAX_ID_BYTES:
        raise ReportError(f"the report name is {len(stem.encode('utf-8'))} bytes in UTF-8; the limit is {MAX_ID_BYTES}")
    return stem


def read_report(path: Path, cite_as: str | None = None, doc_id: str | None = None) -> Document:
    """Read one report file; ReportError says what is wrong with it."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ReportError(f"{path}: cannot be read ({exc.strerror})") from exc
    return document_from_bytes(data, doc_id or doc_id_for(path), cite_as or str(path), name=str(path))


def document_from_bytes(data: bytes, doc_id: str, cite_as: str, name: str) -> Document:
    """A report from its bytes; ReportError names it and says what is wrong."""
    try:
        text, encoding = decode_report(data)
    except ReportError as exc:
        raise ReportError(f"{name}: {exc}") from None
    content = content_spans(text)
    if not content:
        raise ReportError(f"{name}: has no report text, only page furniture or blank lines")
    return build_document(doc_id, cite_as, text, encoding, content)


def build_document(doc_id: str, cite_as: str, text: str, encoding: str,
                   content: tuple[Span, ...]) -> Document:
    body = "\n".join(text[s.start : s.end] for s in content)
    head = "\n".join(text[s.start : s.end] for s in content[:3])
    furniture = "\n".join(furniture_lines(text))

    file_title = _file_title(text, content)
    title = _meta_title(text) or (file_title[0] if file_title else None)
    title = title.replace("\ufeff", "").strip() or None if title else None  # a BOM is not part of a title
    title_text = title or ""

    bureau_match = _BUREAU.search(title_text) or _BUREAU.search(body)
    city = most_named_city(title_text) or most_named_city(body)
    if bureau_match and bureau_match.group(1) == city:
        bureau = bureau_match.group(0)
    else:
        bureau = f"{city}市生态环境局" if city else None

    summary_year = _first_year(_SUMMARY_YEAR, title_text) or _first_year(_SUMMARY_YEAR, head)
    plan_year = _first_year(_PLAN_YEAR, title_text) or _first_year(_PLAN_YEAR, head)
    if summary_year and plan_year and plan_year < summary_year:
        plan_year = None

    title_span = Span(file_title[1][0].start, file_title[1][-1].end) if file_title else None
    derived = title is None
    if title is None:
        kind = "工作总结" if summary_year and not plan_year else "工作计划"
        year = plan_year or summary_year
        title = f"{bureau or ''}{year or ''}年{kind}" if year else f"{bureau or doc_id}工作报告"
    elif city and city not in title:
        title = f"{bureau}{title}"

    date = _DATE.search(furniture)
    published = f"{int(date.group(1)):04d}-{int(date.group(2)):02d}-{int(date.group(3)):02d}" if date else None
    return Document(doc_id, cite_as, text, encoding, content, title, derived, title_span, city, bureau,
                    summary_year, plan_year, published)


def report_files(folder: Path) -> list[Path]:
    folder = Path(folder)
    if not folder.is_dir():
        raise ReportError(f"{folder}: no such folder of reports")
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))


def read_reports(paths: list[Path], cite: callable = str) -> tuple[list[Document], list[ReadProblem]]:
    """Read every report that can be read; the others come back as problems, one per file."""
    documents, problems = [], []
    for path in paths:
        try:
            # An indexed report's id is its exact file name (without .txt), validated.
            documents.append(read_report(path, cite(path), report_id(Path(path).name)))
        except ReportError as exc:
            problems.append(ReadProblem(str(path), str(exc)))
    return documents, problems
