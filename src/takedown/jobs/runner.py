"""The worker process: ``python -m takedown.jobs.runner`` or the ``takedown worker`` command.

SIGTERM and SIGINT ask the worker to stop after the job it is running, so a deploy or a
Ctrl-C never cuts a job short; a worker killed harder leaves its job to be retried once its
lease runs out.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from types import FrameType

from takedown.config import Settings, load_settings
from takedown.db.session import Database
from takedown.jobs.registry import load_handlers
from takedown.jobs.worker import Worker

logger = logging.getLogger(__name__)


def run_worker(settings: Settings, *, stop: threading.Event | None = None) -> None:
    """Run a worker until ``stop`` is set or the process is asked to stop by a signal."""
    stop = stop or threading.Event()
    registry = load_handlers(settings)
    database = Database.from_settings(settings)
    restore = _stop_on_signals(stop)
    try:
        Worker(database, settings, registry=registry).run(stop)
    finally:
        restore()
        database.dispose()


def _stop_on_signals(stop: threading.Event) -> Callable[[], None]:
    """Make SIGTERM and SIGINT set ``stop``; return a function restoring the old handlers."""
    if threading.current_thread() is not threading.main_thread():
        # Python lets only the main thread install signal handlers; an embedding caller
        # (a test, the sandbox) stops the worker through ``stop`` instead.
        return lambda: None

    def handle(signum: int, _frame: FrameType | None) -> None:
        logger.info("%s: stopping after the current job", signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGTERM, signal.SIGINT)}

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    return restore


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    run_worker(load_settings())
