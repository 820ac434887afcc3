"""FAISS indexes over chunk vectors: exact inner product by default, HNSW or IVF for
large segments. Rows are chunk positions in a segment."""

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
        index.cp.min_points_per_centroid = 1  # small segments train fewer points per list: fine, and no warning
        index.train(vectors)
        index.nprobe = config.ivf_probe
    else:
        index = faiss.IndexFlatIP(dim)
    if n:
        index.add(vectors)
    return index
