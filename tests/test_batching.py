import threading
import time

import numpy as np
import pytest

from retrieval.embedding.batching import QueryBatcher


def wait_until(condition, seconds=5.0):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.001)


def test_concurrent_questions_share_batches_and_get_their_own_vectors():
    batches, release = [], threading.Event()

    def encode(texts):
        batches.append(list(texts))
        release.wait(5)  # hold the first batch so the others queue up behind it
        return np.array([[float(len(t))] for t in texts])

    batcher = QueryBatcher(encode)
    results = {}
    threads = [threading.Thread(target=lambda t=t: results.__setitem__(t, batcher.encode(t))) for t in ("a", "bb", "ccc", "dddd")]
    threads[0].start()
    wait_until(lambda: batches)
    for t in threads[1:]:
        t.start()
    wait_until(lambda: batcher._queue.qsize() == 3)
    release.set()
    for t in threads:
        t.join(5)
    assert {k: v[0] for k, v in results.items()} == {"a": 1.0, "bb": 2.0, "ccc": 3.0, "dddd": 4.0}
    assert batches[0] == ["a"] and sorted(batches[1]) == ["bb", "ccc", "dddd"]


def test_a_failure_reaches_the_caller():
    def encode(texts):
        raise RuntimeError("model failed")

    with pytest.raises(RuntimeError, match="model failed"):
        QueryBatcher(encode).encode("水质")


def test_batch_size_is_checked():
    with pytest.raises(ValueError, match="max_batch"):
        QueryBatcher(lambda texts: texts, max_batch=0)
