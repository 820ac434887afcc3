"""The hand-written eval set: questions with gold evidence given as exact substrings."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

LANGUAGES = ("zh", "en", "zh-hant")
KINDS = ("fact", "which_city", "multi_city", "plan", "paraphrase", "concept")


@dataclass(frozen=True)
class Gold:
    file: str  # relative to the project root, e.g. seeds/000_….txt
    evidence: str
    start: int
    end: int


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    language: str
    kind: str
    golds: tuple[Gold, ...]


class EvalSetError(ValueError):
    pass


def load_questions(path: Path, root: Path) -> list[Question]:
    """Questions with their gold spans located; every evidence must occur exactly once."""
    path, root = Path(path), Path(root)
    texts: dict[str, str] = {}
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            golds = []
            for g in row["gold"]:
                if g["file"] not in texts:
                    texts[g["file"]] = (root / g["file"]).read_text(encoding="utf-8")
                text = texts[g["file"]]
                count = text.count(g["evidence"])
                if count != 1:
                    raise EvalSetError(f"evidence occurs {count} times in {g['file']}, it must occur once: {g['evidence']!r}")
                start = text.index(g["evidence"])
                golds.append(Gold(g["file"], g["evidence"], start, start + len(g["evidence"])))
            if row["language"] not in LANGUAGES or row["kind"] not in KINDS:
                raise EvalSetError(f"language must be one of {LANGUAGES} and kind one of {KINDS}")
            out.append(Question(row["id"], row["question"], row["language"], row["kind"], tuple(golds)))
        except (KeyError, ValueError, OSError) as exc:
            raise EvalSetError(f"{path}:{n}: {exc}") from None
    return out
