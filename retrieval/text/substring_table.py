"""A large dictionary read one text at a time: the entries that occur in a text.

Both tokenizers behind a question cut a text using only dictionary entries that occur in it
(jieba's word DAG, a Unigram model's lattice). Loading either whole dictionary costs most of a
second; looking up a short text's substrings in an SQLite table costs a millisecond, and the
restricted dictionary cuts exactly as the whole one does."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Iterable

from retrieval.transactions import write_aside

_BATCH = 900  # below SQLite's oldest limit on bound parameters


def write_table(path: Path, rows: Iterable[tuple[str, int, float]], meta: dict[str, str]) -> None:
    """Write (key, number, weight) rows and text settings, atomically: a reader sees the whole
    table or none."""
    def write(scratch: str) -> None:
        with sqlite3.connect(scratch) as db:
            db.execute("CREATE TABLE entries (key TEXT PRIMARY KEY, number INTEGER, weight REAL) WITHOUT ROWID")
            db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
            db.executemany("INSERT OR REPLACE INTO entries VALUES (?, ?, ?)", rows)
            longest = db.execute("SELECT max(length(key)) FROM entries").fetchone()[0] or 0
            db.executemany("INSERT INTO meta VALUES (?, ?)", [*meta.items(), ("longest", str(longest))])
        db.close()

    write_aside(Path(path), write)


class SubstringTable:
    def __init__(self, path: Path):
        self.path = Path(path)
        self._db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
        self.meta = dict(self._db.execute("SELECT key, value FROM meta"))
        self.longest = int(self.meta["longest"])

    def within(self, texts: Iterable[str]) -> dict[str, tuple[int, float]]:
        """Every entry whose key occurs in one of the texts."""
        keys = sorted({text[i:j] for text in texts for i in range(len(text))
                       for j in range(i + 1, min(i + self.longest, len(text)) + 1)})
        found: dict[str, tuple[int, float]] = {}
        for start in range(0, len(keys), _BATCH):
            batch = keys[start:start + _BATCH]
            marks = ",".join("?" * len(batch))
            for key, number, weight in self._db.execute(
                    f"SELECT key, number, weight FROM entries WHERE key IN ({marks})", batch):
                found[key] = (number, weight)
        return found
