"""Job handlers: the code a job's name stands for, registered by decorator.

A domain's ``tasks.py`` registers its handlers when imported::

    @job_handler("notices.send", max_attempts=10)
    def send(ctx: JobContext, payload: dict[str, Any]) -> None:
        notice = service.get_notice(ctx.session, uuid.UUID(payload["notice_id"]))
        ...

Workers import the handler modules with ``load_handlers(settings)``; processes that only
enqueue jobs need not import any.

A handler may declare ``on_dead``: what to do when its job gives up (attempts used up, or
its last attempt lost the lease). The worker calls it in the same transaction that marks the
job dead, so a job can never die without its reaction (a case waiting on a capture goes to the
analysts with the reason) and the reaction never happens for a job that did not die.
"""

from __future__ import annotations

import importlib
import logging
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from sqlalchemy.orm import Session

from takedown.clock import Clock
from takedown.config import Settings
from takedown.db.session import Database
from takedown.errors import ConfigurationError, ValidationFailed

# Modules whose import registers the product's own handlers; plugins and tests add theirs
# through the ``job_modules`` setting.
BUILTIN_TASK_MODULES: tuple[str, ...] = (
    "takedown.flow.audit",
    "takedown.flow.cases",
    "takedown.flow.tracing",
    "takedown.flow.notices",
    "takedown.flow.police",
    "takedown.flow.monitoring",
    "takedown.flow.lists",
    "takedown.flow.appeals",
    "takedown.flow.stats",
    "takedown.lists.alerts",
)

_NAME = re.compile(r"[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*")
_NAME_MAX_CHARS = 100  # the width of jobs.name


@dataclass(frozen=True)
class JobContext:
    """What a handler gets besides its payload.

    ``session`` is the attempt's transaction: the worker commits it together with the job's
    success, or rolls it back on an exception or a lost lease. Handlers flush, never commit.
    """

    session: Session
    settings: Settings
    clock: Clock
    job_id: uuid.UUID
    attempt: int
    name: str
    # The worker's database, for per-database process state such as the match index.
    database: Database


Handler = Callable[[JobContext, dict[str, Any]], None]
# Called with the dead job's context, its payload and its last error.
DeadHandler = Callable[[JobContext, dict[str, Any], str], None]

logger = logging.getLogger(__name__)


class WorkerState(Protocol):
    """What ``job_died`` needs of the worker calling it."""

    settings: Settings
    clock: Clock
    database: Database


@dataclass(frozen=True)
class JobHandler:
    """A registered handler and how workers treat its jobs.

    ``max_attempts`` overrides the ``job_max_attempts`` setting for jobs that did not set
    their own; ``every`` makes the scheduler enqueue the job once per period; ``timeout``
    bounds one attempt: the lease is not extended past it, so another worker may take the job
    over and the late attempt's work is rolled back. ``on_dead`` runs when the job gives up.
    """

    name: str
    func: Handler
    max_attempts: int | None = None
    every: timedelta | None = None
    timeout: timedelta | None = None
    on_dead: DeadHandler | None = None


def check_job_name(name: str) -> str:
    """Return ``name`` if it has the shape ``<domain>.<verb>``, else raise ValidationFailed."""
    if len(name) > _NAME_MAX_CHARS or not _NAME.fullmatch(name):
        raise ValidationFailed(
            f"job name {name!r} must look like '<domain>.<verb>' "
            f"(lower case, digits, underscores; at most {_NAME_MAX_CHARS} characters)"
        )
    return name


class HandlerRegistry:
    """Job names and their handlers."""

    def __init__(self) -> None:
        self._handlers: dict[str, JobHandler] = {}

    def register(self, handler: JobHandler) -> None:
        check_job_name(handler.name)
        if handler.max_attempts is not None and handler.max_attempts < 1:
            raise ConfigurationError(f"{handler.name}: max_attempts must be at least 1")
        for field in ("every", "timeout"):
            value = getattr(handler, field)
            if value is not None and value <= timedelta(0):
                raise ConfigurationError(f"{handler.name}: {field} must be positive")
        known = self._handlers.get(handler.name)
        if known is not None and _qualified(known.func) != _qualified(handler.func):
            # Two handlers for one name would make which one runs depend on import order.
            raise ConfigurationError(
                f"job {handler.name!r} is handled by {_qualified(known.func)} already; "
                f"{_qualified(handler.func)} cannot register it too"
            )
        self._handlers[handler.name] = handler

    def handler(
        self,
        name: str,
        *,
        max_attempts: int | None = None,
        every: timedelta | None = None,
        timeout: timedelta | None = None,
        on_dead: DeadHandler | None = None,
    ) -> Callable[[Handler], Handler]:
        """A decorator registering a function as the handler of ``name``."""

        def register(func: Handler) -> Handler:
            self.register(JobHandler(name, func, max_attempts, every, timeout, on_dead))
            return func

        return register

    def get(self, name: str) -> JobHandler | None:
        return self._handlers.get(name)

    def names(self) -> list[str]:
        return sorted(self._handlers)

    def job_died(
        self,
        session: Session,
        worker: WorkerState,
        job_id: uuid.UUID,
        name: str,
        payload: dict[str, Any],
        attempt: int,
        error: str,
    ) -> None:
        """Run the ``on_dead`` reaction of a job the caller is marking dead in ``session``.

        The reaction runs in a savepoint: if it fails, its own writes are undone and logged,
        but the job is still recorded dead (and shows in the console), rather than the failure
        rolling back the death and the job being claimed, and failing, for ever.
        """
        handler = self._handlers.get(name)
        if handler is None or handler.on_dead is None:
            return
        context = JobContext(
            session, worker.settings, worker.clock, job_id, attempt, name, worker.database
        )
        try:
            with session.begin_nested():
                handler.on_dead(context, dict(payload), error)
        except Exception:
            logger.exception("job %s %s: its on_dead reaction failed", name, job_id)

    def periodic(self) -> list[JobHandler]:
        """Handlers the scheduler enqueues by itself, in name order."""
        return [h for _, h in sorted(self._handlers.items()) if h.every is not None]


def _qualified(func: Handler) -> str:
    return f"{func.__module__}.{getattr(func, '__qualname__', repr(func))}"


# The process-wide registry that ``job_handler`` fills and workers use by default.
REGISTRY = HandlerRegistry()


def job_handler(
    name: str,
    *,
    max_attempts: int | None = None,
    every: timedelta | None = None,
    timeout: timedelta | None = None,
    on_dead: DeadHandler | None = None,
) -> Callable[[Handler], Handler]:
    """Register the decorated function as the handler of jobs called ``name``."""
    return REGISTRY.handler(
        name, max_attempts=max_attempts, every=every, timeout=timeout, on_dead=on_dead
    )


def load_handlers(settings: Settings) -> HandlerRegistry:
    """Import the built-in task modules and ``settings.job_modules``; return the registry.

    A module that cannot be imported stops the worker at start: a worker missing handlers
    would fail their jobs one attempt at a time until they were dead.
    """
    for module in (*BUILTIN_TASK_MODULES, *settings.job_modules):
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise ConfigurationError(f"cannot import job module {module!r}: {exc}") from exc
    return REGISTRY
