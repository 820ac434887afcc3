"""The real model through sentence-transformers itself (the `torch` runtime)."""

from __future__ import annotations

import threading

import numpy as np

from retrieval.embedding.encoders import Encoder, EncoderConfig, answer_thresholds_for


class SentenceTransformerEncoder(Encoder):
    def __init__(self, config: EncoderConfig = EncoderConfig()):
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(config.threads)
        self.config = config
        location = config.local_folder() or config.model
        try:
            self.model = SentenceTransformer(str(location), device="cpu")
        except OSError as exc:
            raise RuntimeError(
                f"cannot load the embedding model {config.model!r}: {exc}. Models cannot be "
                "downloaded on this machine; give a local folder or use the default model."
            ) from exc
        self.model.max_seq_length = min(config.max_seq_length, self.model.max_seq_length or config.max_seq_length)
        self.model_id = config.model
        self.dimension = int(self.model.get_embedding_dimension())
        self.answer_thresholds = answer_thresholds_for(config.model)
        self._lock = threading.Lock()

    def encode(self, texts: list[str], kind: str, show_progress: bool = False) -> np.ndarray:
        prefix = self.config.query_prefix if kind == "query" else self.config.passage_prefix
        with self._lock:  # torch inference from several threads at once only contends
            vectors = self.model.encode(
                [prefix + t for t in texts], batch_size=self.config.batch_size,
                normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=show_progress,
            )
        return np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(texts), self.dimension)
