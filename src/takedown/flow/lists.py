"""The ``lists.publish`` job: publish every list that changed, at most every
``list_publish_interval``.

The job runs every minute so that a shorter interval takes effect without a restart; it does
nothing until the interval since a list's latest version has passed. A version the guard
refuses is not published: it waits, visible as the list's draft, until a supervisor approves
it (``POST /api/v1/lists/{name}/publish`` with ``approve``) or the entries change.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from takedown import runtime
from takedown.auth.principal import SYSTEM
from takedown.jobs.registry import JobContext, job_handler
from takedown.lists import versions
from takedown.lists.models import ListName
from takedown.lists.rows import RowError

log = logging.getLogger(__name__)

PUBLISH_JOB = "lists.publish"


@job_handler(PUBLISH_JOB, every=timedelta(minutes=1))
def publish_lists(ctx: JobContext, payload: dict[str, Any]) -> None:
    now = ctx.clock.now()
    settings = runtime.effective(ctx.session, ctx.settings)  # the guard's limits, if changed
    for name in ListName:
        last = versions.latest(ctx.session, name)
        if last is not None and now - last.created_at < settings.list_publish_interval:
            continue
        try:
            with ctx.session.begin_nested():
                version = versions.publish(
                    ctx.session, name, actor=SYSTEM, now=now, settings=settings
                )
        except versions.GuardRefused as refused:
            log.warning("the %s list waits for a supervisor: %s", name.value, refused.message)
            version = versions.publish_removals(
                ctx.session, name, actor=SYSTEM, now=now, settings=settings
            )
        except RowError as bad:
            # One list's bad data must not keep the other lists from being published.
            log.error("the %s list cannot be published: %s", name.value, bad)
            continue
        if version is not None:
            log.info(
                "published the %s list, version %d (+%d -%d)",
                name.value,
                version.number,
                version.added_count,
                version.removed_count,
            )
