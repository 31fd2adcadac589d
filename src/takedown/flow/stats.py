"""The statistics job: write the daily aggregates of the days that have ended."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from takedown.jobs.registry import JobContext, job_handler
from takedown.stats import daily

DAILY_JOB = "stats.daily"


# Hourly, so a day is written soon after midnight even when a run was missed.
@job_handler(DAILY_JOB, every=timedelta(hours=1), timeout=timedelta(minutes=30))
def aggregate(ctx: JobContext, payload: dict[str, Any]) -> None:
    daily.aggregate(ctx.session, ctx.clock.now())
