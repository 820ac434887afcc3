"""The index on disk. Each save writes a complete generation aside, then switches the
CURRENT pointer with one atomic rename: a crash mid-save leaves the previous
generation in use. Loading checks the manifest and every file's checksum."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from retrieval.backends.local.corpus import CorpusIndex, IndexSettings
from retrieval.models import Chunk, Document, Span

FORMAT_VERSION = 1
_FILES = ("documents.jsonl", "chunks.jsonl", "tokens.jsonl", "vectors.npy")


class IndexStoreError(RuntimeError):
    """The index on disk cannot be used; the message says why and what to do."""


@dataclass(frozen=True)
class Expectation:
    """What the running configuration needs of a saved index."""

    model_id: str
    dimension: int
    tokenizer: str  # TokenizerConfig.fingerprint()
    max_chunk_chars: int


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _write_jsonl(path: Path, rows) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def _read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _document_row(doc: Document) -> dict:
    row = asdict(doc)
    row["content"] = [[s.start, s.end] for s in doc.content]
    row["title_span"] = [doc.title_span.start, doc.title_span.end] if doc.title_span else None
    return row


def _document_from(row: dict) -> Document:
    row = dict(row)
    row["content"] = tuple(Span(s, e) for s, e in row["content"])
    row["title_span"] = Span(*row["title_span"]) if row["title_span"] else None
    return Document(**row)


def _chunk_from(row: dict) -> Chunk:
    row = dict(row)
    row["years"] = tuple(row["years"])
    row["heading_path"] = tuple(row["heading_path"])
    return Chunk(**row)


def content_hash(doc: Document) -> str:
    return hashlib.sha256(doc.text.encode("utf-8")).hexdigest()


class IndexStore:
    def __init__(self, folder: Path):
        self.folder = Path(folder)

    @property
    def pointer(self) -> Path:
        return self.folder / "CURRENT"

    def exists(self) -> bool:
        return self.pointer.exists()

    def current(self) -> Path:
        name = self.pointer.read_text().strip()
        return self.folder / name

    def save(self, index: CorpusIndex, expectation: Expectation) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        name = f"gen-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}"
        scratch = self.folder / f".{name}.partial"
        scratch.mkdir()
        try:
            _write_jsonl(scratch / "documents.jsonl", (_document_row(d) for d in index.documents.values()))
            _write_jsonl(scratch / "chunks.jsonl", (asdict(c) for c in index.chunks))
            _write_jsonl(scratch / "tokens.jsonl", index.tokens)
            np.save(scratch / "vectors.npy", index.vectors)
            manifest = {
                "format_version": FORMAT_VERSION,
                "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
                "model": {"id": expectation.model_id, "dimension": expectation.dimension},
                "tokenizer": expectation.tokenizer,
                "chunking": {"max_chars": expectation.max_chunk_chars},
                "counts": {"documents": len(index.documents), "chunks": len(index.chunks)},
                "documents": {d.doc_id: {"path": d.path, "sha256": content_hash(d), "encoding": d.encoding}
                              for d in index.documents.values()},
                "files": {f: _sha256(scratch / f) for f in _FILES},
            }
            (scratch / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2))
            _fsync_tree(scratch)
            final = self.folder / name
            scratch.rename(final)
            tmp_pointer = self.folder / f".CURRENT.{uuid.uuid4().hex[:8]}"
            tmp_pointer.write_text(name + "\n")
            os.replace(tmp_pointer, self.pointer)  # the switch: atomic on POSIX
        except BaseException:
            shutil.rmtree(scratch, ignore_errors=True)
            raise
        self._remove_old_generations(keep=name)
        return final

    def _remove_old_generations(self, keep: str) -> None:
        for path in self.folder.iterdir():
            if path.name != keep and (path.name.startswith("gen-") or path.name.endswith(".partial")):
                shutil.rmtree(path, ignore_errors=True)

    def manifest(self) -> dict:
        if not self.exists():
            raise IndexStoreError(f"there is no index in {self.folder}; build one with `reportqa index`")
        path = self.current() / "manifest.json"
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise IndexStoreError(
                f"the index in {self.folder} is corrupt: its manifest cannot be read ({exc}); "
                "rebuild it with `reportqa index`"
            ) from None

    def load(self, expectation: Expectation, settings: IndexSettings) -> CorpusIndex:
        manifest = self.manifest()
        self._check(manifest, expectation)
        folder = self.current()
        for name, digest in manifest.get("files", {}).items():
            path = folder / name
            if not path.exists() or _sha256(path) != digest:
                raise IndexStoreError(
                    f"the index in {self.folder} is corrupt: {name} is missing or changed since it was "
                    "written; rebuild it with `reportqa index`"
                )
        try:
            documents = {row["doc_id"]: _document_from(row) for row in _read_jsonl(folder / "documents.jsonl")}
            chunks = [_chunk_from(row) for row in _read_jsonl(folder / "chunks.jsonl")]
            tokens = _read_jsonl(folder / "tokens.jsonl")
            vectors = np.load(folder / "vectors.npy")
        except (OSError, ValueError, TypeError, KeyError) as exc:
            raise IndexStoreError(
                f"the index in {self.folder} is corrupt ({exc}); rebuild it with `reportqa index`"
            ) from None
        if vectors.shape != (len(chunks), expectation.dimension) or len(tokens) != len(chunks):
            raise IndexStoreError(
                f"the index in {self.folder} is corrupt: {len(chunks)} chunks, {len(tokens)} token lists "
                f"and vectors of shape {vectors.shape}; rebuild it with `reportqa index`"
            )
        return CorpusIndex(documents, chunks, tokens, vectors, settings)

    def _check(self, manifest: dict, expected: Expectation) -> None:
        problems = []
        if manifest.get("format_version") != FORMAT_VERSION:
            problems.append(f"format version {manifest.get('format_version')} (this reportqa reads {FORMAT_VERSION})")
        model = manifest.get("model", {})
        if model.get("id") != expected.model_id:
            problems.append(f"model {model.get('id')!r} (configured: {expected.model_id!r})")
        if model.get("dimension") != expected.dimension:
            problems.append(f"dimension {model.get('dimension')} (the model gives {expected.dimension})")
        if manifest.get("tokenizer") != expected.tokenizer:
            problems.append("tokenizer settings or domain dictionary changed since the index was built")
        if manifest.get("chunking", {}).get("max_chars") != expected.max_chunk_chars:
            problems.append(f"chunk size {manifest.get('chunking', {}).get('max_chars')} "
                            f"(configured: {expected.max_chunk_chars})")
        if problems:
            raise IndexStoreError(
                f"the index in {self.folder} does not match this configuration: " + "; ".join(problems)
                + ". Rebuild it with `reportqa index`."
            )


def _fsync_tree(folder: Path) -> None:
    for path in folder.iterdir():
        with open(path, "rb") as f:
            os.fsync(f.fileno())
