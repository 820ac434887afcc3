"""An immutable snapshot of the indexed collection: documents, chunks, BM25 tokens,
vectors, and the two indexes over them. Changes build a new snapshot, reusing the
tokens and vectors of every chunk whose indexed text is unchanged, so adding or
replacing one report embeds only that report's chunks."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from retrieval.backends.local.bm25 import BM25Index, BM25Params
from retrieval.documents.chunking import ChunkingConfig, chunk_document
from retrieval.backends.local.dense import DenseConfig, DenseIndex
from retrieval.embedding.encoders import Encoder
from retrieval.models import Chunk, Document
from retrieval.text.tokenize import Tokenizer

Progress = Callable[[int, int], None]  # (done, total) chunks embedded


def context_key(chunk: Chunk) -> str:
    return hashlib.sha1(chunk.context().encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class IndexSettings:
    chunking: ChunkingConfig = field(default_factory=ChunkingConfig)
    bm25: BM25Params = field(default_factory=BM25Params)
    dense: DenseConfig = field(default_factory=DenseConfig)
    embed_batch: int = 64


class CorpusIndex:
    def __init__(self, documents: dict[str, Document], chunks: list[Chunk], tokens: list[list[str]],
                 vectors: np.ndarray, settings: IndexSettings):
        self.documents = documents
        self.chunks = chunks
        self.tokens = tokens
        self.vectors = vectors
        self.settings = settings
        self.bm25 = BM25Index(tokens, settings.bm25)
        self.dense = DenseIndex(vectors, settings.dense)
        self.row_of = {c.chunk_id: row for row, c in enumerate(chunks)}
        self.city = np.array([c.city or "" for c in chunks], dtype=object)
        self.doc = np.array([c.doc_id for c in chunks], dtype=object)
        self.year = np.array([c.year or 0 for c in chunks], dtype=np.int64)

    def __len__(self) -> int:
        return len(self.chunks)

    def chunk(self, chunk_id: str) -> Chunk:
        return self.chunks[self.row_of[chunk_id]]


class IndexBuilder:
    def __init__(self, tokenizer: Tokenizer, encoder: Encoder, settings: IndexSettings = IndexSettings()):
        self.tokenizer = tokenizer
        self.encoder = encoder
        self.settings = settings

    def build(self, documents: list[Document], previous: CorpusIndex | None = None,
              progress: Progress | None = None) -> tuple[CorpusIndex, int]:
        """A snapshot of exactly these documents, and how many chunks it had to embed;
        what `previous` already holds is reused."""
        reuse: dict[str, tuple[list[str], np.ndarray]] = {}
        if previous is not None:
            for row, chunk in enumerate(previous.chunks):
                reuse[context_key(chunk)] = (previous.tokens[row], previous.vectors[row])
        chunks = [c for doc in documents for c in chunk_document(doc, self.settings.chunking)]
        keys = [context_key(c) for c in chunks]
        fresh = [i for i, key in enumerate(keys) if key not in reuse]
        fresh_tokens, fresh_vectors = self._index_fresh([chunks[i] for i in fresh], progress)
        tokens, vectors = [], np.zeros((len(chunks), self.encoder.dimension), dtype=np.float32)
        fresh_at = {i: j for j, i in enumerate(fresh)}
        for i, key in enumerate(keys):
            if i in fresh_at:
                tokens.append(fresh_tokens[fresh_at[i]])
                vectors[i] = fresh_vectors[fresh_at[i]]
            else:
                tokens.append(reuse[key][0])
                vectors[i] = reuse[key][1]
        return CorpusIndex({d.doc_id: d for d in documents}, chunks, tokens, vectors, self.settings), len(fresh)

    def _index_fresh(self, chunks: list[Chunk], progress: Progress | None):
        contexts = [c.context() for c in chunks]
        tokens = [self.tokenizer.tokens(text) for text in contexts]
        return tokens, embed_passages(self.encoder, contexts, self.settings.embed_batch, progress)


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
