"""A job handler for the metrics tests, loaded by worker processes through ``job_modules``."""

from __future__ import annotations

import time
from typing import Any

from takedown.jobs.registry import JobContext, job_handler


@job_handler("tests.metrics_wait")
def wait(ctx: JobContext, payload: dict[str, Any]) -> None:
    # Long enough that both workers claim jobs while the other is busy.
    time.sleep(0.2)
