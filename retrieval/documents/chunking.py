"""Sentences and chunks that keep their exact offsets in the report file."""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass

from retrieval.models import Chunk, Document, Section, Span
from retrieval.documents.outline import blocks, sections

_ENDERS = set("。！？；!?;")
_CLOSERS = set("”’」』）)")
_OPENERS = {"“": "”", "《": "》", "「": "」", "『": "』", "‘": "’"}
_SOFT_BREAKS = set("，,、：:")


@dataclass(frozen=True)
class ChunkingConfig:
    max_chars: int = 300
    # A quotation left open this long is taken to be unbalanced, not a quotation.
    max_quote_chars: int = 200

    def __post_init__(self):
        if self.max_chars < 20:
            raise ValueError(f"max_chars must be at least 20, got {self.max_chars}")


def split_sentences(text: str, span: Span, config: ChunkingConfig = ChunkingConfig()) -> list[Span]:
    """Sentences of text[span]: cut after 。！？； (and their closing quotes), never inside
    a “…” or 《…》 pair, and at a blank line; a sentence longer than max_chars is cut again at
    a comma."""
    out, start, closing, opened_at = [], span.start, [], 0
    i = span.start
    while i < span.end:
        ch = text[i]
        if ch in _OPENERS:
            if not closing:
                opened_at = i
            closing.append(_OPENERS[ch])
        elif closing and ch == closing[-1]:
            closing.pop()
        elif closing and i - opened_at > config.max_quote_chars:
            closing = []
        if ch == "\n" and start < i and text[start:i].strip():
            blank = i + 1
            while blank < span.end and text[blank] in " \t\r\u3000":
                blank += 1
            if blank < span.end and text[blank] == "\n":
                out.append(Span(start, i))  # a blank line ends a paragraph: a heading is no part of the next sentence
                start, i, closing = blank + 1, blank + 1, []
                continue
        if ch in _ENDERS and not closing:
            end = i + 1
            while end < span.end and text[end] in _CLOSERS:
                end += 1
            out.append(Span(start, end))
            start, i = end, end
            continue
        i += 1
    if start < span.end:
        out.append(Span(start, span.end))
    trimmed = [_trim(text, s) for s in out]
    return [piece for s in trimmed if s for piece in _cut_long(text, s, config.max_chars)]


def _trim(text: str, s: Span) -> Span | None:
    start, end = s.start, s.end
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return Span(start, end) if end > start else None


def _cut_long(text: str, s: Span, max_chars: int) -> list[Span]:
    pieces, start = [], s.start
    while s.end - start > max_chars:
        window = text[start : start + max_chars]
        cut = max((window.rfind(ch) for ch in _SOFT_BREAKS), default=-1)
        if cut < max_chars // 3:
            cut = max_chars - 1
        pieces.append(Span(start, start + cut + 1))
        start += cut + 1
    pieces.append(Span(start, s.end))
    return [p for p in (_trim(text, p) for p in pieces) if p]


def section_sentences(doc: Document, section: Section, config: ChunkingConfig) -> list[Span]:
    """Sentences of one section; block boundaries (lines, inline space runs) end sentences too."""
    out = []
    for block in blocks(doc.text, doc.content):
        start, end = max(block.start, section.start), min(block.end, section.end)
        if end > start:
            out.extend(split_sentences(doc.text, Span(start, end), config))
    return out


def pack(text: str, sentences: list[Span], max_chars: int) -> list[Span]:
    """Whole sentences packed greedily into spans of at most max_chars; sentences with
    anything but white space between them (page furniture) are never joined."""
    chunks, current = [], None
    for s in sentences:
        adjacent = current and not text[current.end : s.start].strip()
        if adjacent and s.end - current.start <= max_chars:
            current = Span(current.start, s.end)
        else:
            if current:
                chunks.append(current)
            current = s
    if current:
        chunks.append(current)
    return chunks


def chunk_document(doc: Document, config: ChunkingConfig = ChunkingConfig()) -> list[Chunk]:
    chunks, seen = [], Counter()
    for section in sections(doc):
        for span in pack(doc.text, section_sentences(doc, section, config), config.max_chars):
            text = doc.text[span.start : span.end]
            chunk_id = _chunk_id(doc.doc_id, section.heading_path, text, seen)
            chunks.append(Chunk(chunk_id, doc.doc_id, doc.path, doc.title, doc.city, section.year,
                                doc.years, section.heading_path, span.start, span.end, text))
    return chunks


def _chunk_id(doc_id: str, path: tuple[str, ...], text: str, seen: Counter) -> str:
    """Stable across rebuilds while the text and its place are unchanged."""
    digest = hashlib.sha1("\x1f".join((*path, text)).encode("utf-8")).hexdigest()[:12]
    seen[digest] += 1
    return f"{doc_id}:{digest}" + (f"-{seen[digest]}" if seen[digest] > 1 else "")
