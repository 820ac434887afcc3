"""Turning read reports into what a backend stores: chunks, their BM25 tokens and their
passage vectors (embedded in batches of similar length, with progress)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from retrieval.backends.base import IndexedDocument
from retrieval.documents.chunking import ChunkingConfig, chunk_document
from retrieval.embedding.encoders import Encoder
from retrieval.models import Chunk, Document
from retrieval.text.tokenize import Tokenizer

Progress = Callable[[int, int], None]  # (done, total) chunks embedded


@dataclass(frozen=True)
class IndexSettings:
    chunking: ChunkingConfig = field(default_factory=ChunkingConfig)
    embed_batch: int = 64


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

    def index_chunks(self, documents: Sequence[Document], chunks: Sequence[Sequence[Chunk]],
                     progress: Progress | None = None, vectors: np.ndarray | None = None) -> list[IndexedDocument]:
        """Documents with chunks made elsewhere (a benchmark's passages); `vectors`, row for
        row over all chunks, when they were embedded before."""
        flat = [c for doc_chunks in chunks for c in doc_chunks]
        contexts = [c.context() for c in flat]
        if vectors is None:
            vectors = embed_passages(self.encoder, contexts, self.settings.embed_batch, progress)
        tokens = [tuple(self.tokenizer.tokens(text)) for text in contexts]
        out, row = [], 0
        for doc, doc_chunks in zip(documents, chunks):
            n = len(doc_chunks)
            out.append(IndexedDocument(doc, tuple(doc_chunks), tuple(tokens[row : row + n]), vectors[row : row + n]))
            row += n
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
