"""The local collection on disk: immutable segment folders and numbered generations.

    index/CURRENT                 the current generation's number
    index/generations/000007.json its manifest: segments with every file's sha256,
                                  tombstones, reports, and what built them
    index/segments/<id>/          documents.jsonl chunks.jsonl tokens.jsonl vectors.npy facts.jsonl
                                  sentences.jsonl sentence_vectors.npy

A write stages a new segment (if it adds reports) and a new manifest, fsyncs them, then
switches CURRENT with one atomic rename and fsyncs the folder: a crash at any point leaves
the previous generation whole. Only what the write produced is hashed and synced; files
of other segments are never rewritten. Loading verifies every file against its checksum."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import time
import uuid
from dataclasses import asdict
from pathlib import Path

import numpy as np

from retrieval.backends.base import CollectionOutdated, CollectionUnusable, Expectation
from retrieval.backends.local.dense import DenseConfig
from retrieval.backends.local.segment import Segment, Sentences
from retrieval.facts.model import Fact
from retrieval.models import Chunk, Document, Span
from retrieval.transactions import fsync_path

FORMAT_VERSION = 3
SEGMENT_FILES = ("documents.jsonl", "chunks.jsonl", "tokens.jsonl", "vectors.npy", "facts.jsonl",
                 "sentences.jsonl", "sentence_vectors.npy")
_GENERATION = re.compile(r"[0-9]{6,12}")


class IndexStoreError(CollectionUnusable):
    """The index on disk cannot be used; the message says why and what to do."""


class OutdatedIndex(IndexStoreError, CollectionOutdated):
    """Sound, but built with other settings."""


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


def _read_jsonl(path: Path) -> list:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def document_row(doc: Document) -> dict:
    row = asdict(doc)
    row["content"] = [[s.start, s.end] for s in doc.content]
    row["title_span"] = [doc.title_span.start, doc.title_span.end] if doc.title_span else None
    return row


def document_from(row: dict) -> Document:
    row = dict(row)
    row["content"] = tuple(Span(s, e) for s, e in row["content"])
    row["title_span"] = Span(*row["title_span"]) if row["title_span"] else None
    return Document(**row)


def chunk_row(chunk: Chunk) -> dict:
    return asdict(chunk)


def chunk_from(row: dict) -> Chunk:
    row = dict(row)
    row["years"] = tuple(row["years"])
    row["heading_path"] = tuple(row["heading_path"])
    return Chunk(**row)


class IndexStore:
    def __init__(self, folder: Path):
        self.folder = Path(folder)

    @property
    def pointer(self) -> Path:
        return self.folder / "CURRENT"

    def exists(self) -> bool:
        return self.pointer.exists()

    def corrupt(self, why: str) -> IndexStoreError:
        return IndexStoreError(f"the index in {self.folder} is corrupt: {why}; rebuild it with `reportqa index`")

    # ----- writing ---------------------------------------------------------------------

    def new_segment_id(self, generation: int) -> str:
        return f"{generation:06d}-{uuid.uuid4().hex[:8]}"

    def write_segment(self, segment: Segment, tokens: list[list[str]]) -> dict:
        """The segment's folder, written aside, synced and renamed into place; its manifest entry."""
        segments = self.folder / "segments"
        segments.mkdir(parents=True, exist_ok=True)
        scratch = segments / f".{segment.segment_id}.partial"
        scratch.mkdir()
        try:
            _write_jsonl(scratch / "documents.jsonl", (document_row(d) for d in segment.documents))
            _write_jsonl(scratch / "chunks.jsonl", (chunk_row(c) for c in segment.chunks))
            _write_jsonl(scratch / "tokens.jsonl", tokens)
            np.save(scratch / "vectors.npy", segment.vectors)
            _write_jsonl(scratch / "facts.jsonl", (f.row() for f in segment.facts))
            sentences = segment.sentences
            _write_jsonl(scratch / "sentences.jsonl", ([d, s.start, s.end] for d, s in zip(sentences.doc_ids, sentences.spans)))
            np.save(scratch / "sentence_vectors.npy", sentences.vectors)
            files = {}
            for name in SEGMENT_FILES:
                fsync_path(scratch / name)
                files[name] = _sha256(scratch / name)
            fsync_path(scratch)
            scratch.rename(segments / segment.segment_id)
            fsync_path(segments)
        except BaseException:
            shutil.rmtree(scratch, ignore_errors=True)
            raise
        return {"id": segment.segment_id, "files": files, "chunks": len(segment),
                "documents": [d.doc_id for d in segment.documents]}

    def switch(self, manifest: dict) -> None:
        """Make this manifest the current generation: atomic, and durable once it returns."""
        generations = self.folder / "generations"
        generations.mkdir(parents=True, exist_ok=True)
        name = f"{manifest['generation']:06d}"
        tmp = generations / f".{name}.{uuid.uuid4().hex[:8]}.tmp"
        tmp.write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
        fsync_path(tmp)
        tmp.replace(generations / f"{name}.json")
        fsync_path(generations)
        pointer_tmp = self.folder / f".CURRENT.{uuid.uuid4().hex[:8]}"
        pointer_tmp.write_text(name + "\n")
        fsync_path(pointer_tmp)
        os.replace(pointer_tmp, self.pointer)  # the switch
        fsync_path(self.folder)

    def collect_garbage(self, keep_generations: int = 2) -> None:
        """Drop generations older than the last few, segments none of those names, and what
        an interrupted write left half-done. Runs under the writer lock: no other writer can
        be staging anything now."""
        generations = sorted((self.folder / "generations").glob("*.json"))
        kept = generations[-keep_generations:]
        referenced = set()
        for path in kept:
            try:
                referenced |= {s["id"] for s in json.loads(path.read_text(encoding="utf-8"))["segments"]}
            except (OSError, ValueError, KeyError):
                return  # never delete on a manifest it cannot read
        for path in generations[:-keep_generations]:
            path.unlink(missing_ok=True)
        for path in (self.folder / "segments").glob("*"):
            if path.name not in referenced:
                shutil.rmtree(path, ignore_errors=True)
        for path in self.folder.glob(".CURRENT.*"):
            path.unlink(missing_ok=True)
        for path in (self.folder / "generations").glob(".*.tmp"):
            path.unlink(missing_ok=True)

    # ----- reading ---------------------------------------------------------------------

    def current_generation(self) -> int | None:
        if not self.exists():
            return None
        name = self.pointer.read_text(encoding="utf-8").strip()
        if not _GENERATION.fullmatch(name):
            raise self.corrupt(f"CURRENT names {name[:40]!r}, not a generation number")
        return int(name)

    def latest_generation(self) -> int:
        """The highest generation number on disk, readable or not (0 if none)."""
        names = [p.stem for p in (self.folder / "generations").glob("*.json")]
        return max((int(n) for n in names if _GENERATION.fullmatch(n)), default=0)

    def manifest(self) -> dict:
        generation = self.current_generation()
        if generation is None:
            raise IndexStoreError(f"there is no index in {self.folder}; build one with `reportqa index`")
        path = self.folder / "generations" / f"{generation:06d}.json"
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise self.corrupt(f"its manifest cannot be read ({exc})") from None
        if manifest.get("format_version") != FORMAT_VERSION:
            raise OutdatedIndex(
                f"the index in {self.folder} has format version {manifest.get('format_version')} "
                f"(this reportqa reads {FORMAT_VERSION}); rebuild it with `reportqa index`")
        return manifest

    def check(self, manifest: dict, expectation: Expectation) -> None:
        problems = expectation.mismatches(manifest.get("expectation", {}))
        if problems:
            raise OutdatedIndex(
                f"the index in {self.folder} does not match this configuration: " + "; ".join(problems)
                + ". Rebuild it with `reportqa index`.")

    def read_segment(self, entry: dict, dense: DenseConfig, dimension: int) -> Segment:
        folder = self.folder / "segments" / str(entry.get("id", ""))
        files = entry.get("files") or {}
        if set(files) != set(SEGMENT_FILES):
            raise self.corrupt(f"segment {entry.get('id')!r} does not list a checksum for each of its files")
        for name, digest in files.items():
            path = folder / name
            if not path.exists() or _sha256(path) != digest:
                raise self.corrupt(f"{path.relative_to(self.folder)} is missing or changed since it was written")
        try:
            documents = tuple(document_from(r) for r in _read_jsonl(folder / "documents.jsonl"))
            chunks = tuple(chunk_from(r) for r in _read_jsonl(folder / "chunks.jsonl"))
            tokens = _read_jsonl(folder / "tokens.jsonl")
            vectors = np.load(folder / "vectors.npy")
            facts = tuple(Fact.from_row(r) for r in _read_jsonl(folder / "facts.jsonl"))
            rows = _read_jsonl(folder / "sentences.jsonl")
            sentences = Sentences(tuple(r[0] for r in rows), tuple(Span(r[1], r[2]) for r in rows),
                                  np.load(folder / "sentence_vectors.npy").reshape(len(rows), dimension))
        except (OSError, ValueError, TypeError, KeyError, IndexError) as exc:
            raise self.corrupt(f"segment {entry['id']} cannot be read ({exc})") from None
        if vectors.shape != (len(chunks), dimension) or len(tokens) != len(chunks):
            raise self.corrupt(f"segment {entry['id']} has {len(chunks)} chunks, {len(tokens)} token lists "
                               f"and vectors of shape {vectors.shape}")
        return Segment.from_rows(entry["id"], documents, chunks, tokens, vectors, dense, facts, sentences)


def new_manifest(generation: int, expectation: Expectation, segments: list[dict], deleted: dict,
                 documents: dict) -> dict:
    return {
        "format_version": FORMAT_VERSION, "backend": "local", "generation": generation,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"), "expectation": asdict(expectation),
        "segments": segments, "deleted": {k: sorted(v) for k, v in deleted.items() if v},
        "documents": documents,
        "counts": {"documents": len(documents), "chunks": sum(s["chunks"] for s in segments)},
    }
