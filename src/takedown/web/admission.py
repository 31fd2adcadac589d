"""Admission control: a bounded number of requests at work at once, the rest shed fast.

Why this exists. A request's database work spans several steps that FastAPI runs on AnyIO's
worker threads: the ``principal`` dependency, the endpoint, and the commit of the request's
transaction. Between those steps the request holds its pooled connection (and whatever locks
its transaction took) but no thread. Without a bound, a burst of requests could take every
thread of the pool while waiting for a lock or a connection that only a request *without* a
thread can give back (it needs a thread to commit): a cycle, and the process stopped serving
for good (issue 19: a 3 s hold of a lock under 30 reports/s wedged the API).

The bound breaks that cycle at its root: at most ``max_concurrent_requests`` requests are past
this gate, each uses at most one thread and one connection at a time, and both pools are
sized above it (``db.session.Limits`` and :func:`size_thread_pool`), so an admitted request
always finds a thread to commit on and a connection to work with. Requests beyond the bound
wait up to ``admission_wait_seconds`` in arrival order, then get 503 with ``Retry-After``:
beyond its capacity the server sheds load quickly and keeps serving what it can.

Liveness (``/healthz``) and static files pass without a slot: they touch no database. So does
``/metrics`` (a few aggregate queries under a short timeout), which must answer while the API
sheds load: that is when an operator needs it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import weakref
from collections import deque

import anyio.to_thread
from starlette.types import ASGIApp, Receive, Scope, Send

from takedown import metrics
from takedown.web.problems import MEDIA_TYPE

log = logging.getLogger(__name__)

# /metrics: an overloaded API is when its metrics matter most.
_UNGATED_PREFIXES = ("/healthz", "/static/", "/metrics")
# Threads beyond the admitted requests: static files, /readyz and the console's previews
# (which fetch with no transaction open) use some too.
_SPARE_THREADS = 16


class Gate:
    """A counting semaphore whose waiters give up after a timeout, shared across event loops.

    Slots are handed to waiters in arrival order. It is thread-safe and not bound to one event
    loop, because the test client runs each client in its own loop while a server has one.
    """

    def __init__(self, slots: int) -> None:
        self.slots = slots
        self._free = slots
        self._lock = threading.Lock()
        self._waiters: deque[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = deque()

    @property
    def in_use(self) -> int:
        return self.slots - self._free

    async def acquire(self, timeout: float) -> bool:
        """Take a slot, waiting at most ``timeout`` seconds; False when none came free."""
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._free > 0 and not self._waiters:
                self._free -= 1
                return True
            if timeout <= 0:
                return False
            waiter: asyncio.Future[None] = loop.create_future()
            entry = (loop, waiter)
            self._waiters.append(entry)
        try:
            await asyncio.wait_for(asyncio.shield(waiter), timeout)
        except (TimeoutError, asyncio.CancelledError) as exc:
            with self._lock:
                try:
                    self._waiters.remove(entry)
                    granted = False
                except ValueError:
                    # release() handed us the slot as we gave up: it is ours.
                    granted = True
            if isinstance(exc, asyncio.CancelledError):
                if granted:
                    self.release()
                raise
            return granted
        return True

    def release(self) -> None:
        with self._lock:
            if not self._waiters:
                self._free += 1
                return
            loop, waiter = self._waiters.popleft()
        loop.call_soon_threadsafe(_grant, waiter)


def _grant(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class AdmissionMiddleware:
    """Let at most ``gate.slots`` requests through at once; answer the rest 503 when tired."""

    def __init__(self, app: ASGIApp, gate: Gate, wait_seconds: float) -> None:
        self.app = app
        self.gate = gate
        self.wait_seconds = wait_seconds
        # Loops whose thread pool is sized already (one in a server; one per test client).
        self._sized: weakref.WeakSet[asyncio.AbstractEventLoop] = weakref.WeakSet()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(_UNGATED_PREFIXES):
            await self.app(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        if loop not in self._sized:
            size_thread_pool(self.gate.slots)
            self._sized.add(loop)
        if not await self.gate.acquire(self.wait_seconds):
            log.warning(
                "overloaded: %d requests at work, shedding %s", self.gate.in_use, scope["path"]
            )
            metrics.count_shed()
            await _shed(send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            self.gate.release()


async def _shed(send: Send) -> None:
    body = json.dumps(
        {
            "type": "about:blank",
            "title": "Service unavailable",
            "status": 503,
            "detail": "the server is at capacity; retry after the time in Retry-After",
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 503,
            "headers": [
                (b"content-type", MEDIA_TYPE.encode()),
                (b"content-length", str(len(body)).encode()),
                (b"retry-after", b"1"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def size_thread_pool(admitted: int) -> None:
    """Give AnyIO's default thread pool room for every admitted request and some spare.

    Called once per event loop, from that loop (each loop has its own limiter).
    """
    limiter = anyio.to_thread.current_default_thread_limiter()
    limiter.total_tokens = max(limiter.total_tokens, admitted + _SPARE_THREADS)
