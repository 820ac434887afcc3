"""What makes a write to the collection all-or-nothing across the report file and the
index, on every backend, and one writer at a time across processes.

A write first records its intent (what it is about to do) in the index folder, synced;
then stages the new report file beside its final name; then commits to the backend (the
commit point); then moves the file into place and clears the intent. Whatever step a crash
interrupts, `recover` on the next start finishes the write if the backend committed it and
undoes it if not, so the listed reports always equal the files and every citation holds."""

from __future__ import annotations

import fcntl
import json
import os
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

Checkpoint = Callable[[str], None]  # called with a step's name as a write passes it (fault tests)


def no_checkpoint(step: str) -> None:
    pass


@dataclass(frozen=True)
class Intent:
    op: str  # "put" or "delete"
    doc_id: str
    target: str  # the report file's final path
    staged: str = ""  # put: the staged file, moved to target once the backend committed
    sha256: str = ""  # put: the new text's digest, to tell whether the backend committed it


def fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_aside(target: Path, write: Callable[[str], None]) -> None:
    """`write(scratch_path)` makes the file under a scratch name beside target, which is then
    renamed over it: a reader sees the whole file or none, and a failed write leaves nothing."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, scratch = tempfile.mkstemp(suffix=target.suffix, dir=target.parent)
    os.close(fd)
    try:
        write(scratch)
        os.replace(scratch, target)
    finally:
        if os.path.exists(scratch):
            os.unlink(scratch)


def write_synced(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


class IntentLog:
    def __init__(self, folder: Path):
        self.path = Path(folder) / "WRITE-INTENT.json"

    def pending(self) -> Intent | None:
        try:
            return Intent(**json.loads(self.path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            return None
        except (ValueError, TypeError):
            # A torn intent was never acted on: nothing was staged or committed after it.
            self.path.unlink(missing_ok=True)
            return None

    @contextmanager
    def recording(self, intent: Intent):
        """The intent on disk while the block runs; cleared when it ends, whether it
        succeeded or its failure was handled (a crash leaves it for the next start)."""
        if self.pending() is not None:
            raise RuntimeError("a write is pending recovery: reopen the index before writing")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        write_synced(tmp, json.dumps(asdict(intent), ensure_ascii=False))
        tmp.replace(self.path)
        fsync_path(self.path.parent)
        try:
            yield
        finally:
            self.path.unlink(missing_ok=True)
            fsync_path(self.path.parent)


class WriterBusy(RuntimeError):
    """Another process holds the index for writing; the message names it."""


@contextmanager
def writer_lock(folder: Path, timeout_s: float = 60.0):
    """One writer at a time on an index folder, across processes (the CLI and a server).
    A second writer waits up to timeout_s, then fails naming the holder."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "WRITER.lock"
    with open(path, "a+", encoding="utf-8") as handle:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    handle.seek(0)
                    holder = handle.read().strip() or "another process"
                    raise WriterBusy(f"the index in {folder} is being written by {holder}; "
                                     "wait for it to finish, or stop it, and try again") from None
                time.sleep(0.05)
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} ({' '.join(sys.argv[:2]) or 'python'})")
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            handle.flush()
            fcntl.flock(handle, fcntl.LOCK_UN)
