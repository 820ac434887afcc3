"""Finding a report's outline: headings at every level the reports use, on their own
line or inline in running text, and the leaf sections between them."""

from __future__ import annotations

import re

from retrieval.models import Document, Heading, Section, Span

_NUM = "一二三四五六七八九十"
# Level, pattern at the start of a block. Level 0 is a part of the report
# ("2019年工作总结" standing alone); the others nest in the order the reports use.
_HEADING_STARTS = (
    (0, re.compile(r"(?:19|20)\d\d年(?:工作)?(?:总结|要点|计划|思路|打算)$")),
    (1, re.compile(rf"[{_NUM}]{{1,3}}、")),
    (2, re.compile(rf"[(（][{_NUM}]{{1,3}}[)）]")),
    (3, re.compile(r"\d{1,2}[.．、](?!\d)")),
    (4, re.compile(rf"[{_NUM}]{{1,2}}是(?=[^\s，,、是])")),
)
# 一是/二是 also open a heading inside running text, right after a sentence or a colon.
_INLINE_ENUMERATION = re.compile(rf"(?<=[。；;：:])\s*([{_NUM}]{{1,2}}是)(?=[^\s，,、是])")
_TITLE_END = re.compile(r"[。；;！？!?：:]")
_ENUMERATION_TITLE_END = re.compile(r"[。；;！？!?：:，,]")  # 一是… names its point in one clause
# A run of spaces between two non-ASCII characters separates blocks in reports whose
# paragraphs were flattened into one line ("…新成绩。 一、主要工作成效 一是…").
_BLOCK_BREAK = re.compile(r"(?<=[^\x00-\x7f])[ \u3000\xa0]+(?=[^\x00-\x7f]|[(\d])")
MAX_TITLE_CHARS = 60


def blocks(text: str, content: tuple[Span, ...]) -> list[Span]:
    """Paragraph-like pieces of the content: its lines, split again at inline space runs."""
    out = []
    for span in content:
        pos = span.start
        for m in _BLOCK_BREAK.finditer(text, span.start, span.end):
            out.append(Span(pos, m.start()))
            pos = m.end()
        out.append(Span(pos, span.end))
    return [b for b in out if b.end > b.start]


def _heading_at(text: str, start: int, end: int, levels: tuple[int, ...] | None = None) -> Heading | None:
    piece = text[start:end]
    for level, pattern in _HEADING_STARTS:
        if levels is not None and level not in levels:
            continue
        m = pattern.match(piece)
        if not m:
            continue
        stop = (_ENUMERATION_TITLE_END if level == 4 else _TITLE_END).search(piece, m.end())
        title_end = start + (stop.start() if stop else len(piece))
        title_end = min(title_end, start + MAX_TITLE_CHARS)
        return Heading(level, text[start:title_end].strip(), start, title_end)
    return None


def find_headings(doc: Document) -> list[Heading]:
    text = doc.text
    headings = []
    title = doc.title_span
    for block in blocks(text, doc.content):
        if title and title.start <= block.start < title.end:
            continue
        first = _heading_at(text, block.start, block.end)
        if first:
            headings.append(first)
        for m in _INLINE_ENUMERATION.finditer(text, block.start, block.end):
            inline = _heading_at(text, m.start(1), block.end, levels=(4,))
            if inline and (not first or inline.start > first.start):
                headings.append(inline)
    return sorted(headings, key=lambda h: h.start)


def sections(doc: Document, headings: list[Heading] | None = None) -> list[Section]:
    """Leaf sections: the preamble, then one section from each heading to the next.

    A heading's path holds the open headings above it: a new heading closes every
    open heading at its level or deeper."""
    headings = find_headings(doc) if headings is None else headings
    content_start, content_end = doc.content[0].start, doc.content[-1].end
    out = []
    if not headings or headings[0].start > content_start:
        first = headings[0].start if headings else content_end
        out.append(Section((), content_start, first, doc.year))
    stack: list[Heading] = []
    for i, heading in enumerate(headings):
        while stack and stack[-1].level >= heading.level:
            stack.pop()
        stack.append(heading)
        end = headings[i + 1].start if i + 1 < len(headings) else content_end
        path = tuple(h.title for h in stack)
        out.append(Section(path, heading.start, end, _section_year(path, doc)))
    return [s for s in out if s.end > s.start]


def _section_year(path: tuple[str, ...], doc: Document) -> int | None:
    """The year a section speaks of: the last year its headings name, if the report covers it."""
    for title in reversed(path):
        for year in re.findall(r"((?:19|20)\d\d)年", title):
            if int(year) in doc.years:
                return int(year)
    return doc.year

