"""Job handlers for the jobs tests; worker processes load them through ``job_modules``.

What a handler did is a row in ``test_job_effects``, a table the tests create and drop
themselves (it is not part of the product's schema). The row is written in the handler's
transaction, so it exists exactly when the attempt's work was committed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Integer, MetaData, String, Table

from takedown.jobs.registry import JobContext, job_handler

EFFECTS = Table(
    "test_job_effects",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("job_id", String(36), nullable=False),
    Column("label", String(100), nullable=False),
    Column("attempt", Integer, nullable=False),
)

# What a "tests.hook" job calls before its effect, by the payload's "hook"; set by a test.
HOOKS: dict[str, Callable[[JobContext], None]] = {}

# Long enough for any test to kill the worker first, short enough to end a forgotten one.
BLOCK_SECONDS = 60.0


def record(ctx: JobContext, payload: dict[str, Any]) -> None:
    ctx.session.execute(
        EFFECTS.insert().values(
            job_id=str(ctx.job_id), label=str(payload.get("label", "")), attempt=ctx.attempt
        )
    )


@job_handler("tests.record")
def record_effect(ctx: JobContext, payload: dict[str, Any]) -> None:
    record(ctx, payload)


@job_handler("tests.fail", max_attempts=3)
def fail(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Write, then fail: the write must be rolled back with the attempt."""
    record(ctx, payload)
    raise ValueError(payload.get("message", "boom"))


@job_handler("tests.flaky")
def flaky(ctx: JobContext, payload: dict[str, Any]) -> None:
    record(ctx, payload)
    if ctx.attempt < payload["succeed_on"]:
        raise RuntimeError(f"attempt {ctx.attempt} fails on purpose")


@job_handler("tests.hook")
def hook(ctx: JobContext, payload: dict[str, Any]) -> None:
    HOOKS[payload["hook"]](ctx)
    record(ctx, payload)


@job_handler("tests.block")
def block_first_attempt(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Write, then on the first attempt signal through a file and hang until killed."""
    record(ctx, payload)
    if ctx.attempt == 1:
        Path(payload["marker"]).touch()
        time.sleep(BLOCK_SECONDS)
        raise TimeoutError("attempt 1 was meant to be killed")


@job_handler("tests.slow")
def slow(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Signal through a file, take a while, then write."""
    Path(payload["marker"]).touch()
    time.sleep(payload["seconds"])
    record(ctx, payload)
