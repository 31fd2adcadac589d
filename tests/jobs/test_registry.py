"""Registering handlers and loading their modules."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from takedown.config import Settings
from takedown.errors import ConfigurationError, ValidationFailed
from takedown.jobs.registry import (
    BUILTIN_TASK_MODULES,
    REGISTRY,
    HandlerRegistry,
    JobContext,
    JobHandler,
    load_handlers,
)
from tests.jobs import handlers


def noop(ctx: JobContext, payload: dict[str, Any]) -> None:
    """A handler that does nothing."""


def other(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Another handler that does nothing."""


def test_the_decorator_registers_a_handler_with_its_options() -> None:
    registry = HandlerRegistry()

    @registry.handler("reports.purge", max_attempts=2, every=timedelta(hours=1))
    def purge(ctx: JobContext, payload: dict[str, Any]) -> None:
        """Nothing to purge."""

    registry.register(JobHandler("cases.triage", noop, timeout=timedelta(seconds=30)))
    assert registry.get("reports.purge") == JobHandler(
        "reports.purge", purge, max_attempts=2, every=timedelta(hours=1)
    )
    assert registry.get("nope.nope") is None
    assert registry.names() == ["cases.triage", "reports.purge"]
    assert [h.name for h in registry.periodic()] == ["reports.purge"]


def test_a_name_has_one_handler() -> None:
    registry = HandlerRegistry()
    registry.register(JobHandler("cases.triage", noop))
    registry.register(JobHandler("cases.triage", noop))  # the same function again: harmless
    with pytest.raises(ConfigurationError, match="handled by"):
        registry.register(JobHandler("cases.triage", other))


@pytest.mark.parametrize(
    ("handler", "error"),
    [
        (JobHandler("triage", noop), ValidationFailed),
        (JobHandler("cases.triage", noop, max_attempts=0), ConfigurationError),
        (JobHandler("cases.triage", noop, every=timedelta(0)), ConfigurationError),
        (JobHandler("cases.triage", noop, timeout=timedelta(seconds=-1)), ConfigurationError),
    ],
)
def test_a_bad_registration_is_refused(handler: JobHandler, error: type[Exception]) -> None:
    with pytest.raises(error):
        HandlerRegistry().register(handler)


def test_job_handler_fills_the_process_registry() -> None:
    handler = REGISTRY.get("tests.fail")
    assert handler is not None
    assert (handler.func, handler.max_attempts) == (handlers.fail, 3)


def test_load_handlers_imports_builtin_and_configured_modules(settings: Settings) -> None:
    registry = load_handlers(settings.model_copy(update={"job_modules": ["tests.jobs.handlers"]}))
    assert registry is REGISTRY
    assert "tests.record" in registry.names()
    assert "takedown.flow.cases" in BUILTIN_TASK_MODULES
    assert "cases.capture" in registry.names()


def test_load_handlers_refuses_a_module_that_does_not_import(settings: Settings) -> None:
    with pytest.raises(ConfigurationError, match=r"tests\.jobs\.missing"):
        load_handlers(settings.model_copy(update={"job_modules": ["tests.jobs.missing"]}))
