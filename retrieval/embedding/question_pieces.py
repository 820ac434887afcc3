"""A question's token ids without loading the model's whole vocabulary.

Loading the default model's 250,000-piece Unigram tokenizer costs most of a second, which a
one-question command pays in full. A Unigram tokenizer picks a text's pieces only among the
vocabulary pieces occurring in it, and prices an unknown character from the vocabulary's
lowest score; so a tokenizer holding just those pieces, the special ones and the lowest-scored
one cuts the text identically, and its ids map back to the full vocabulary's. The pieces are
kept in an SQLite table written once beside tokenizer.json."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from retrieval.text.substring_table import SubstringTable, write_table

TABLE_FILE = "tokenizer.pieces.sqlite"


def _with_vocab(spec: dict, ids: list[int], rows: list) -> dict:
    """The tokenizer spec over just these vocabulary rows (global ids `ids`), every id in it
    renumbered to its row."""
    spec = json.loads(json.dumps(spec))
    local = {n: i for i, n in enumerate(ids)}
    spec["model"]["vocab"] = rows
    spec["model"]["unk_id"] = local[spec["model"]["unk_id"]]
    for token in spec["added_tokens"]:
        token["id"] = local[token["id"]]
    for special in ((spec.get("post_processor") or {}).get("special_tokens") or {}).values():
        special["ids"] = [local[n] for n in special["ids"]]
    return spec


def write_piece_table(tokenizer_json: Path, table: Path) -> bool:
    """Write the table for a Unigram tokenizer; False (nothing written) for any other kind."""
    spec = json.loads(Path(tokenizer_json).read_text(encoding="utf-8"))
    model = spec.get("model") or {}
    processor = spec.get("post_processor") or {}
    if (model.get("type") != "Unigram" or model.get("byte_fallback") or not spec.get("normalizer")
            or not spec.get("pre_tokenizer") or processor.get("type") not in (None, "TemplateProcessing")):
        return False
    vocab = model.pop("vocab")
    lowest = min(range(len(vocab)), key=lambda i: vocab[i][1])
    special = sorted({t["id"] for t in spec["added_tokens"]} | {model["unk_id"], lowest})
    shell = {"spec": spec, "special_ids": special, "special_rows": [vocab[i] for i in special]}
    write_table(table, ((piece, i, score) for i, (piece, score) in enumerate(vocab)),
                {"shell": json.dumps(shell), "source": source_stamp(tokenizer_json)})
    return True


def source_stamp(tokenizer_json: Path) -> str:
    """Which tokenizer.json a table was made from: a replaced file makes the table stale."""
    stat = Path(tokenizer_json).stat()
    return f"{stat.st_size}:{stat.st_mtime_ns}"


class QuestionPieces:
    def __init__(self, table: Path, pad_token: str, max_length: int):
        """ValueError when the table was made from another tokenizer.json than the one beside it."""
        from tokenizers import Tokenizer

        self._table = SubstringTable(table)
        if self._table.meta.get("source") != source_stamp(Path(table).with_name("tokenizer.json")):
            raise ValueError(f"{table} was made from another tokenizer.json; delete it to have it rewritten")
        shell = json.loads(self._table.meta["shell"])
        self._spec, self._special = shell["spec"], shell["special_ids"]
        self._special_rows = dict(zip(self._special, shell["special_rows"]))
        self._added = [t["content"] for t in self._spec["added_tokens"]]
        self._shell = Tokenizer.from_str(json.dumps(_with_vocab(self._spec, self._special, shell["special_rows"])))
        self.pad_id = next(t["id"] for t in self._spec["added_tokens"] if t["content"] == pad_token)
        self.max_length = max_length

    def handles(self, texts: list[str]) -> bool:
        # an added token written inside a text changes where pre-tokenizing starts: leave such
        # rare texts to the whole tokenizer rather than reason about them
        return not any(token in text for text in texts for token in self._added)

    def _tokenizer_for(self, texts: list[str]):
        from tokenizers import Tokenizer

        words = [word for text in texts for word, _ in
                 self._shell.pre_tokenizer.pre_tokenize_str(self._shell.normalizer.normalize_str(text))]
        found = self._table.within(words)
        rows = dict(self._special_rows) | {n: [piece, weight] for piece, (n, weight) in found.items()}
        ids = sorted(rows)
        tokenizer = Tokenizer.from_str(json.dumps(_with_vocab(self._spec, ids, [rows[n] for n in ids])))
        tokenizer.enable_truncation(max_length=self.max_length)
        return tokenizer, np.array(ids, dtype=np.int64)

    def ids_and_mask(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        tokenizer, to_global = self._tokenizer_for(texts)
        rows = [e.ids for e in tokenizer.encode_batch(texts)]
        width = max(len(r) for r in rows)
        ids = np.full((len(rows), width), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=np.int64)
        for i, row in enumerate(rows):
            ids[i, :len(row)] = to_global[row]
            mask[i, :len(row)] = 1
        return ids, mask
