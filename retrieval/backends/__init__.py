"""Backends by name: `local` (BM25 and FAISS in segments on disk) or `milvus` (a Milvus
server by URI, or the embedded milvus-lite for a file path). Each is imported only when
chosen, so the local backend never needs pymilvus."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from retrieval.backends.base import BackendError, Expectation, SearchBackend
from retrieval.backends.local.bm25 import BM25Params
from retrieval.backends.local.dense import DenseConfig

BACKENDS = ("local", "milvus")


@dataclass(frozen=True)
class BackendConfig:
    kind: str = "local"
    bm25: BM25Params = field(default_factory=BM25Params)  # both backends score with these
    dense: DenseConfig = field(default_factory=DenseConfig)  # the local backend's FAISS index
    # milvus: a file path runs the embedded milvus-lite; http://host:19530 is a server.
    # Empty: milvus.db in the index folder.
    milvus_uri: str = ""
    milvus_collection: str = "reportqa"
    milvus_token: str = ""
    milvus_dense_index: str = "auto"  # FLAT on milvus-lite and HNSW on a server; or FLAT, IVF_FLAT, HNSW

    def __post_init__(self):
        if self.kind not in BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {self.kind!r}")

    def location(self, index_dir: Path) -> str:
        if self.kind == "local":
            return str(index_dir)
        return self.milvus_uri or str(Path(index_dir) / "milvus.db")


def open_backend(config: BackendConfig, index_dir: Path, expectation: Expectation, fresh: bool = False) -> SearchBackend:
    """The configured backend over its stored collection; `fresh` starts it empty (locally the
    old collection goes once the first write lands; Milvus drops it at once)."""
    if config.kind == "local":
        from retrieval.backends.local.backend import LocalBackend, LocalSettings

        return LocalBackend(Path(index_dir), expectation, LocalSettings(bm25=config.bm25, dense=config.dense), fresh)
    from retrieval.backends.milvus import MilvusBackend, MilvusSettings

    settings = MilvusSettings(uri=config.location(index_dir), collection=config.milvus_collection,
                              bm25=config.bm25, token=config.milvus_token, dense_index=config.milvus_dense_index)
    return MilvusBackend(settings, expectation, fresh)


__all__ = ["BACKENDS", "BackendConfig", "BackendError", "SearchBackend", "open_backend"]
