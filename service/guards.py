"""What keeps one caller from hurting the others: bounded question bodies, a bounded
queue of questions in progress, a time limit per question, security headers, and a
pause for a client that keeps sending wrong API keys."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass

SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    # Everything is served from here, the API docs' assets included; Redoc runs a blob: worker.
    "content-security-policy": ("default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
                                "img-src 'self' data:; worker-src 'self' blob:; frame-ancestors 'none'"),
}


@dataclass(frozen=True)
class Limits:
    max_question_body: int = 64 * 1024  # bytes of a search or ask request body
    running: int = 8  # questions worked on at once (the model is the bottleneck anyway)
    waiting: int = 64  # questions queued behind them before callers hear 429
    question_timeout_s: float = 20.0
    key_failures: int = 5  # wrong keys from one client within key_window_s before it must wait
    key_window_s: float = 60.0


def _json_error(status: int, code: str, message: str, headers: dict | None = None):
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    extra = [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    return status, [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *extra], body


class GuardMiddleware:
    """Pure ASGI: bodies are counted as they arrive, so a 48 MB body is refused after its
    first 64 KB, before anything parses it; every response gets the security headers."""

    def __init__(self, app, limits: Limits, question_paths: tuple[str, ...] = ("/v1/search", "/v1/ask")):
        self.app, self.limits, self.question_paths = app, limits, question_paths

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [
                    (k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items() if k.encode() not in present]
            await send(message)

        if scope["path"] in self.question_paths and scope["method"] == "POST":
            limit = self.limits.max_question_body
            declared = dict(scope.get("headers", [])).get(b"content-length")
            if declared is not None and declared.isdigit() and int(declared) > limit:
                return await self._reply(send_with_headers, 413, "too_large",
                                         f"a question's body is limited to {limit} bytes")
            body, more = b"", True
            while more:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                body += message.get("body", b"")
                more = message.get("more_body", False)
                if len(body) > limit:
                    return await self._reply(send_with_headers, 413, "too_large",
                                             f"a question's body is limited to {limit} bytes")
            replayed = False

            async def receive_once():
                nonlocal replayed
                if not replayed:
                    replayed = True
                    return {"type": "http.request", "body": body, "more_body": False}
                return await receive()

            return await self.app(scope, receive_once, send_with_headers)
        return await self.app(scope, receive, send_with_headers)

    @staticmethod
    async def _reply(send, status: int, code: str, message: str):
        status, headers, body = _json_error(status, code, message)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


class Busy(Exception):
    """The queue of questions is full."""


class TimedOut(Exception):
    """A question took longer than the limit."""


class QuestionQueue:
    """At most `running` questions at once and `waiting` behind them; more get Busy."""

    def __init__(self, limits: Limits):
        self.limits = limits
        self._running = asyncio.Semaphore(limits.running)
        self._admitted = 0

    async def run(self, work):
        """Await `work()` (a coroutine factory) in turn, within the time limit. A question past
        the limit is answered at once, but keeps its place among the running until its thread
        is done, so abandoned work never piles up beyond `running`."""
        if self._admitted >= self.limits.running + self.limits.waiting:
            raise Busy()
        self._admitted += 1
        try:
            await self._running.acquire()
            task = asyncio.ensure_future(work())
            task.add_done_callback(lambda _: self._running.release())
            try:
                return await asyncio.wait_for(asyncio.shield(task), self.limits.question_timeout_s)
            except asyncio.TimeoutError:
                raise TimedOut() from None
        finally:
            self._admitted -= 1


class KeyAttempts:
    """Wrong API keys per client: after too many within the window, the client must wait."""

    def __init__(self, limits: Limits):
        self.limits = limits
        self._failures: dict[str, deque] = defaultdict(deque)
        self._lock = threading.Lock()

    def wait_needed(self, client: str) -> float:
        """Seconds the client must wait before its next attempt, 0 if none."""
        now = time.monotonic()
        with self._lock:
            failures = self._failures[client]
            while failures and now - failures[0] > self.limits.key_window_s:
                failures.popleft()
            if len(failures) < self.limits.key_failures:
                if not failures:
                    del self._failures[client]  # remember only clients that are failing now
                return 0.0
            return self.limits.key_window_s - (now - failures[0])

    def failed(self, client: str) -> None:
        with self._lock:
            self._failures[client].append(time.monotonic())

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._failures.pop(client, None)
