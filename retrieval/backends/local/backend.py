"""The local backend: BM25 over term counts and FAISS, in immutable segments on disk.

A write touches only the reports it writes: adding one makes one new segment and a new
generation, replacing one also tombstones its old rows, deleting one only tombstones.
Small segments are merged, and segments mostly made of tombstones rewritten, when that
is worth it (`LocalSettings`). A folder of None keeps the collection in memory only."""

from __future__ import annotations

import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from retrieval.backends.base import Expectation, IndexedDocument, content_hash
from retrieval.backends.local.bm25 import BM25Params
from retrieval.backends.local.dense import DenseConfig
from retrieval.backends.local.segment import Segment, merged
from retrieval.backends.local.state import CollectionState
from retrieval.backends.local.store import IndexStore, new_manifest
from retrieval.transactions import no_checkpoint


@dataclass(frozen=True)
class LocalSettings:
    bm25: BM25Params = field(default_factory=BM25Params)
    dense: DenseConfig = field(default_factory=DenseConfig)
    max_segments: int = 12  # beyond this, the small segments are merged into one
    max_dead_fraction: float = 0.3  # a segment with more tombstoned rows is rewritten

    def __post_init__(self):
        if self.max_segments < 1 or not 0 < self.max_dead_fraction <= 1:
            raise ValueError("max_segments must be >= 1 and max_dead_fraction in (0, 1]")


class LocalBackend:
    name = "local"
    checkpoint = staticmethod(no_checkpoint)  # the engine sets its own, for fault-injection tests

    def __init__(self, folder: Path | None, expectation: Expectation, settings: LocalSettings = LocalSettings(),
                 fresh: bool = False):
        """Opens the collection in `folder` (IndexStoreError if it is corrupt or was built
        otherwise), or starts an empty one there when there is none or `fresh` is set."""
        self.store = IndexStore(folder) if folder is not None else None
        self.location = str(folder) if folder is not None else "memory"
        self.expectation = expectation
        self.settings = settings
        self._lock = threading.Lock()
        self._state = CollectionState.empty(settings.bm25)
        self._fresh = fresh
        self._entries: dict[str, dict] = {}  # the current manifest's segment and report entries
        self._documents: dict[str, dict] = {}
        if self.store is not None and self.store.exists():
            # A fresh collection still numbers its generations after the ones on disk.
            self._state = self._state.numbered(self.store.latest_generation()) if fresh else self._load()

    def _load(self) -> CollectionState:
        manifest = self.store.manifest()
        self.store.check(manifest, self.expectation)
        entries = manifest.get("segments")
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise self.store.corrupt("its manifest lists no segments")
        segments = [self.store.read_segment(entry, self.settings.dense, self.expectation.dimension)
                    for entry in entries]
        for segment in segments:
            segment.faiss  # built before any question needs it
        self._entries = {e["id"]: e for e in entries}
        self._documents = dict(manifest.get("documents") or {})
        try:
            deleted = {str(k): frozenset(v) for k, v in manifest.get("deleted", {}).items()}
            return CollectionState.of(segments, deleted, self.settings.bm25, int(manifest["generation"]))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise self.store.corrupt(f"its manifest's tombstones or generation cannot be read ({exc})") from None

    # ----- reads -----------------------------------------------------------------------

    def view(self) -> CollectionState:
        return self._state

    @property
    def generation(self) -> int:
        return self._state.generation

    def close(self) -> None:
        pass

    # ----- writes ----------------------------------------------------------------------

    def upsert(self, documents: Sequence[IndexedDocument]) -> None:
        if not documents:
            return
        with self._writing() as (state, generation):
            segment = Segment.from_documents(self._segment_id(generation), documents, self.settings.dense,
                                             self.expectation.dimension)
            segment.faiss
            for item in documents:
                old = state.segment_of(item.document.doc_id)
                if old is not None:
                    state = state.deleting(old, item.document.doc_id)
            state = state.adding(segment)
            written = {segment.segment_id: [list(t) for item in documents for t in item.tokens]}
            self._publish(*self._merged(state, generation, written), generation)

    def delete(self, doc_id: str) -> None:
        with self._writing() as (state, generation):
            segment_id = state.segment_of(doc_id)
            if segment_id is None:
                raise KeyError(doc_id)
            self._publish(*self._merged(state.deleting(segment_id, doc_id), generation, {}), generation)

    @contextmanager
    def _writing(self):
        """(state, next generation number) under this process's write lock. Across processes
        the caller holds the folder's writer lock (`transactions.writer_lock`; the engine does)."""
        with self._lock:
            if self.store is not None:
                self._catch_up()
            yield self._state, self._state.generation + 1

    def refresh(self) -> None:
        with self._lock:
            if self.store is not None:
                self._catch_up()

    def discard_uncommitted(self) -> None:
        """Segments and partial files no generation names: left by a write a crash interrupted."""
        with self._lock:
            if self.store is not None and self.store.exists():
                self.store.collect_garbage()

    def _catch_up(self) -> None:
        """Another process may have written since this one loaded: start from its generation."""
        if self._fresh:
            return
        on_disk = self.store.current_generation()
        if on_disk is not None and on_disk != self._state.generation:
            self._state = self._load()

    def _segment_id(self, generation: int) -> str:
        return self.store.new_segment_id(generation) if self.store else f"{generation:06d}-mem"

    def _merged(self, state: CollectionState, generation: int, written: dict):
        """The state after the merges worth making now, and the tokens of every new segment."""
        parts = self._merge_plan(state)
        if not parts:
            return state, written
        segment = merged(self._segment_id(generation) + "m", parts, dict(state.deleted), self.settings.dense,
                         self.expectation.dimension)
        segment.faiss
        written = {k: v for k, v in written.items() if k not in {p.segment_id for p in parts}}
        if len(segment):
            written[segment.segment_id] = [segment.tokens_of(row) for row in range(len(segment))]
        return state.replacing(parts, segment), written

    def _merge_plan(self, state: CollectionState) -> list[Segment]:
        segments = state.segments
        heavy = [s for s in segments if state.dead_fraction(s) > self.settings.max_dead_fraction]
        if len(segments) <= self.settings.max_segments:
            return heavy
        # Tiered, as Lucene merges: the smallest segments become one, so the count falls to
        # half the limit and a large segment is rewritten only as rarely as it is worth.
        by_size = sorted(segments, key=lambda s: len(s) * (1 - state.dead_fraction(s)))
        smallest = by_size[: len(segments) - self.settings.max_segments // 2 + 1]
        return smallest + [s for s in heavy if s not in smallest]

    def _publish(self, state: CollectionState, written: dict, generation: int) -> None:
        """Write the new segments, then switch to a manifest that lists them beside the
        entries (checksums included) of every segment and report it keeps: only what this
        write produced is hashed and synced."""
        if self.store is not None:
            entries = dict(self._entries)
            for segment in state.segments:
                if segment.segment_id in written:
                    entries[segment.segment_id] = self.store.write_segment(segment, written[segment.segment_id])
            self.checkpoint("segment_written")
            segments = [entries[s.segment_id] for s in state.segments]
            documents = {}
            for doc_id, doc in state.documents().items():
                segment_id = state.segment_of(doc_id)
                kept = self._documents.get(doc_id)
                documents[doc_id] = (kept if kept and kept["segment"] == segment_id else
                                     {"segment": segment_id, "path": doc.path, "sha256": content_hash(doc),
                                      "encoding": doc.encoding})
            self.store.switch(new_manifest(generation, self.expectation, segments, dict(state.deleted), documents))
            self.checkpoint("generation_switched")
            self.store.collect_garbage()
            self._entries, self._documents = {e["id"]: e for e in segments}, documents
        self._state = state.numbered(generation)
        self._fresh = False
