"""Dense search over chunk vectors with FAISS: exact inner product by default,
HNSW or IVF for large corpora. Rows are chunk positions; -1 slots are dropped."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# flat: exact. hnsw: graph, fast and accurate to ~100k here, slow to build beyond.
# ivf: inverted lists. ivf_sq8: the same with 8-bit scalar-quantised vectors, 4x fewer bytes
# to scan: at a million chunks, recall@10 0.97 in 4.5 ms here (docs/performance.md).
INDEX_KINDS = ("flat", "hnsw", "ivf", "ivf_sq8")


@dataclass(frozen=True)
class DenseConfig:
    kind: str = "flat"
    hnsw_m: int = 32
    hnsw_ef_construction: int = 80
    hnsw_ef_search: int = 64
    ivf_lists: int = 0  # 0: about 4 * sqrt(n)
    ivf_probe: int = 64

    def __post_init__(self):
        if self.kind not in INDEX_KINDS:
            raise ValueError(f"dense index kind must be one of {', '.join(INDEX_KINDS)}, got {self.kind!r}")


def build_faiss_index(vectors: np.ndarray, config: DenseConfig = DenseConfig()):
    import faiss

    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    n, dim = vectors.shape
    if config.kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, config.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = config.hnsw_ef_construction
        index.hnsw.efSearch = config.hnsw_ef_search
    elif config.kind in ("ivf", "ivf_sq8") and n >= 64:
        lists = config.ivf_lists or max(1, min(int(4 * np.sqrt(n)), n // 39))
        quantizer = faiss.IndexFlatIP(dim)
        if config.kind == "ivf":
            index = faiss.IndexIVFFlat(quantizer, dim, lists, faiss.METRIC_INNER_PRODUCT)
        else:
            index = faiss.IndexIVFScalarQuantizer(quantizer, dim, lists, faiss.ScalarQuantizer.QT_8bit,
                                                  faiss.METRIC_INNER_PRODUCT)
        index.cp.max_points_per_centroid = 64  # k-means on a sample: minutes less at a million vectors
        index.train(vectors)
        index.nprobe = config.ivf_probe
    else:
        index = faiss.IndexFlatIP(dim)
    if n:
        index.add(vectors)
    return index


class DenseIndex:
    def __init__(self, vectors: np.ndarray, config: DenseConfig = DenseConfig()):
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self.config = config
        self.faiss = build_faiss_index(self.vectors, config)

    def __len__(self) -> int:
        return len(self.vectors)

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(rows, scores) of the k best chunks, best first."""
        k = min(k, len(self))
        if k <= 0:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        scores, rows = self.faiss.search(np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32), k)
        keep = rows[0] >= 0
        return rows[0][keep], scores[0][keep]

    def scores_for(self, query: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Exact scores of chosen rows: used when filters leave a small subset."""
        return self.vectors[rows] @ query.astype(np.float32)
