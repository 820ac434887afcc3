"""Encoders by name: the one place that knows every runtime, so no encoder module
imports another. Runtimes import their heavy libraries only when chosen."""

from __future__ import annotations

from typing import Callable

from retrieval.embedding.encoders import Encoder, EncoderConfig, HashingEncoder, answer_thresholds_for


def _hashing(config: EncoderConfig, cold_start: bool) -> Encoder:
    return HashingEncoder(int(config.model.split("-", 1)[1]))


def _onnx(config: EncoderConfig, cold_start: bool) -> Encoder:
    from retrieval.embedding.onnx_encoder import OnnxEncoder

    folder = config.local_folder()
    if folder is None:  # a model given by hub name: only sentence-transformers can try it
        return _torch(config, cold_start)
    encoder = OnnxEncoder(folder, config.model, config.query_prefix, config.passage_prefix,
                          config.threads, config.max_seq_length, config.batch_size, cold_start)
    encoder.answer_thresholds = answer_thresholds_for(config.model)
    return encoder


def _torch(config: EncoderConfig, cold_start: bool) -> Encoder:
    from retrieval.embedding.sentence_transformer import SentenceTransformerEncoder

    return SentenceTransformerEncoder(config)


_BY_RUNTIME: dict[str, Callable[[EncoderConfig, bool], Encoder]] = {"onnx": _onnx, "torch": _torch}


def encoder_for(config: EncoderConfig, cold_start: bool = False) -> Encoder:
    """cold_start: for a process that answers one question and exits (the ONNX runtime then
    cuts questions without loading the whole tokenizer)."""
    if config.model.startswith("hashing-"):
        return _hashing(config, cold_start)
    return _BY_RUNTIME[config.runtime](config, cold_start)
