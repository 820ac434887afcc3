"""Turning read reports into what a backend stores: chunks, their BM25 tokens and their
passage vectors (embedded in batches of similar length, with progress); the sentences an
answer may quote, embedded once here; and the report's typed facts."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Sequence

import re

import numpy as np

from retrieval.backends.base import IndexedDocument
from retrieval.documents.chunking import ChunkingConfig, chunk_document, split_sentences
from retrieval.embedding.encoders import Encoder
from retrieval.facts.extraction import ExtractionConfig, extract_facts
from retrieval.facts.model import Fact
from retrieval.facts.vocabulary import DEFAULT_VOCABULARY, default_vocabulary
from retrieval.models import Chunk, Document, Span
from retrieval.text.tokenize import Tokenizer

Progress = Callable[[int, int], None]  # (done, total) passages and sentences embedded
_WORDY = re.compile(r"[\w\u4e00-\u9fff]{6}")  # a sentence, not a bare heading number or fragment


@dataclass(frozen=True)
class IndexSettings:
    chunking: ChunkingConfig = field(default_factory=ChunkingConfig)
    embed_batch: int = 64
    vocabulary: Path = DEFAULT_VOCABULARY


class Indexer:
    def __init__(self, tokenizer: Tokenizer, encoder: Encoder, settings: IndexSettings = IndexSettings()):
        self.tokenizer = tokenizer
        self.encoder = encoder
        self.settings = settings

    def chunked(self, documents: Sequence[Document]) -> list[list[Chunk]]:
        """Each report's chunks as search results would show them: a chunk that only repeats
        its heading or the report's title is left out (its words stay in the context of the
        chunks under it), so results and answers are never a bare heading."""
        return [[c for c in chunk_document(doc, self.settings.chunking) if not repeats_a_heading(c)]
                for doc in documents]

    def index(self, documents: Sequence[Document], progress: Progress | None = None) -> list[IndexedDocument]:
        return self.index_chunks(documents, self.chunked(documents), progress)

    def embedding_work(self, documents: Sequence[Document], chunks: Sequence[Sequence[Chunk]]) -> int:
        """Passages and answer sentences index_chunks will embed (for progress)."""
        return sum(len(c) + len(answer_sentences(doc, c)) for doc, c in zip(documents, chunks))

    def index_chunks(self, documents: Sequence[Document], chunks: Sequence[Sequence[Chunk]],
                     progress: Progress | None = None, vectors: np.ndarray | None = None,
                     sentence_vectors: np.ndarray | None = None, facts: bool = True) -> list[IndexedDocument]:
        """Documents with chunks made elsewhere (a benchmark's passages). `vectors` (row for
        row over all chunks) and `sentence_vectors` (over all their answer sentences) when
        they were embedded before; without `facts` none are extracted (a retrieval benchmark
        needs none)."""
        flat = [c for doc_chunks in chunks for c in doc_chunks]
        contexts = [c.context() for c in flat]
        sentences = [answer_sentences(doc, doc_chunks) for doc, doc_chunks in zip(documents, chunks)]
        texts = [doc.text[s.start : s.end] for doc, spans in zip(documents, sentences) for s in spans]
        todo = (contexts if vectors is None else []) + (texts if sentence_vectors is None else [])
        embedded = embed_passages(self.encoder, todo, self.settings.embed_batch, progress)
        if vectors is None:
            vectors, embedded = embedded[: len(contexts)], embedded[len(contexts) :]
        if sentence_vectors is None:
            sentence_vectors = embedded
        per_report = [self.tokenizer.repeated_phrases(doc.text) for doc in documents]
        phrases = [report for report, doc_chunks in zip(per_report, chunks) for _ in doc_chunks]
        tokens = [tuple(self.tokenizer.tokens(text, phrases=doc_phrases)) for text, doc_phrases in zip(contexts, phrases)]
        vocabulary = default_vocabulary(self.settings.vocabulary) if facts else None
        out, row, sentence_row = [], 0, 0
        for doc, doc_chunks, spans in zip(documents, chunks, sentences):
            n, m = len(doc_chunks), len(spans)
            found = in_chunks(extract_facts(doc, vocabulary, ExtractionConfig(self.settings.chunking)), doc_chunks) \
                if facts else ()
            out.append(IndexedDocument(doc, tuple(doc_chunks), tuple(tokens[row : row + n]), vectors[row : row + n],
                                       tuple(spans), sentence_vectors[sentence_row : sentence_row + m], found))
            row += n
            sentence_row += m
        return out


def in_chunks(facts: Sequence[Fact], chunks: Sequence[Chunk]) -> tuple[Fact, ...]:
    """Each fact with the chunk that holds its sentence (None when no stored chunk does)."""
    def holder(fact: Fact) -> str | None:
        return next((c.chunk_id for c in chunks if c.start <= fact.sentence.start and fact.sentence.end <= c.end), None)
    return tuple(replace(f, chunk_id=holder(f)) for f in facts)


def answer_sentences(doc: Document, chunks: Sequence[Chunk]) -> list[Span]:
    """The sentences of the chunks an answer may quote, file offsets, each once."""
    seen, out = set(), []
    for chunk in chunks:
        for span in split_sentences(doc.text, Span(chunk.start, chunk.end)):
            if span not in seen and _WORDY.search(doc.text[span.start : span.end]):
                seen.add(span)
                out.append(span)
    return out


def repeats_a_heading(chunk: Chunk) -> bool:
    text = chunk.text.strip().rstrip("。.：:；;")
    return bool(text) and (text == (chunk.heading_path[-1] if chunk.heading_path else None)
                           or text in chunk.title)


def embed_passages(encoder: Encoder, texts: list[str], batch: int = 64, progress: Progress | None = None) -> np.ndarray:
    """Vectors for texts in batches of similar length (less padding), reporting progress."""
    vectors = np.zeros((len(texts), encoder.dimension), dtype=np.float32)
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    for start in range(0, len(order), batch):
        rows = order[start : start + batch]
        vectors[rows] = encoder.encode_passages([texts[i] for i in rows])
        if progress:
            progress(min(start + batch, len(order)), len(order))
    if progress and not order:
        progress(0, 0)
    return vectors
