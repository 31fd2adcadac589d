"""The life cycle the sandbox servers share: serve from a daemon thread, stop, ``with`` blocks.

Every sandbox server (DNS, RDAP, SMTP, the web hosts and the world that holds them) starts
with ``start()``, stops with ``stop()`` (safe to call twice) and works as a context manager.
The pieces here keep those few lines in one place.
"""

from __future__ import annotations

import socketserver
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from types import TracebackType
from typing import Any, Self


class BackgroundServer(ABC):
    """A server that runs in the background between ``start()`` and ``stop()``.

    ``with server:`` starts it unless it already runs, and stops it when the block ends.
    """

    @abstractmethod
    def start(self) -> Self:
        """Start serving; raise if it already serves."""

    @abstractmethod
    def stop(self) -> None:
        """Stop serving and release what it holds; safe to call twice."""

    @abstractmethod
    def _is_started(self) -> bool:
        """Whether ``start()`` has run (a ``with`` block then leaves it to its starter)."""

    def __enter__(self) -> Self:
        return self if self._is_started() else self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def start_thread(target: Callable[..., object], *args: Any, name: str) -> threading.Thread:
    """Run ``target(*args)`` in a new daemon thread, so a forgotten server never blocks exit."""
    thread = threading.Thread(target=target, args=args, name=name, daemon=True)
    thread.start()
    return thread


def serve_in_thread(
    server: socketserver.BaseServer, *, name: str, poll_interval: float
) -> threading.Thread:
    """Run ``server.serve_forever`` in a daemon thread; ``poll_interval`` bounds a shutdown."""
    return start_thread(server.serve_forever, poll_interval, name=name)


def shut_down(
    server: socketserver.BaseServer, thread: threading.Thread | None, timeout: float
) -> None:
    """End ``serve_forever``, close the listening socket, wait up to ``timeout`` for the thread."""
    server.shutdown()
    server.server_close()
    if thread is not None:
        thread.join(timeout)
