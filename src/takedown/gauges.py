"""Gauges of the system's state, read from the database when Prometheus scrapes ``/metrics``.

They are computed at scrape time rather than kept by the processes, because the state lives
in the database: any API process gives the same answer, however many workers there are.
A handful of aggregate queries (one ``GROUP BY`` for the jobs), under a short statement
timeout on PostgreSQL, so a slow database costs a scrape a bounded wait. When the database
does not answer, ``takedown_state_up`` is 0 and the process's counters are served all the
same: the scrape that shows an outage must not fail because of it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Final

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import case, func, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from takedown.cases.models import Case
from takedown.cases.states import OPEN_FOR_ASSESSMENT
from takedown.jobs.models import Job, JobStatus
from takedown.lists.models import ListVersion
from takedown.matching.lookup import index_of
from takedown.web.deps import AppState

log = logging.getLogger(__name__)

# PostgreSQL's statement timeout for the scrape's queries, in milliseconds.
_TIMEOUT_MS: Final = 2000
# A re-check due this long without having run is overdue: workers poll every second, so a
# backlog this old means they are not keeping up (or none runs).
RECHECK_OVERDUE_AFTER: Final = timedelta(minutes=15)
# Succeeded jobs are history, not state: counting them would scan the whole table.
_JOB_STATES: Final = (JobStatus.QUEUED, JobStatus.FAILED, JobStatus.RUNNING, JobStatus.DEAD)


class StateCollector(Collector):
    """Yields the state gauges of one app's database on each scrape."""

    def __init__(self, state: AppState) -> None:
        self.state = state

    def collect(self) -> Iterator[Metric]:
        now = self.state.clock.now()
        up = GaugeMetricFamily(
            "takedown_state_up", "1 when the database answered the scrape's state queries."
        )
        try:
            with self.state.database.transaction() as session:
                if self.state.database.dialect == "postgresql":
                    session.execute(text(f"SET LOCAL statement_timeout = {_TIMEOUT_MS}"))
                gauges = list(_read(session, now))
        except SQLAlchemyError as exc:
            log.warning("metrics: the database did not answer: %s", type(exc).__name__)
            up.add_metric([], 0)
            yield up
        else:
            up.add_metric([], 1)
            yield up
            yield from gauges
        yield from _index(self.state)


def _read(session: Session, now: datetime) -> Iterator[Metric]:
    jobs = GaugeMetricFamily(
        "takedown_jobs",
        "Jobs by kind and status: queued, failed (waiting to retry), running, dead.",
        labels=["kind", "status"],
    )
    counts: dict[str, dict[str, int]] = {}
    rows = session.execute(
        select(Job.name, Job.status, func.count())
        .where(Job.status.in_(_JOB_STATES))
        .group_by(Job.name, Job.status)
    )
    for name, status, count in rows:
        by_status = counts.setdefault(name, {s.value: 0 for s in _JOB_STATES})
        by_status[JobStatus(status).value] = count
    for name, statuses in sorted(counts.items()):
        for label, number in statuses.items():
            jobs.add_metric([name, label], number)
    yield jobs

    waiting, late = session.execute(
        select(func.count(), func.coalesce(func.sum(case((Case.due_at < now, 1), else_=0)), 0))
        .select_from(Case)
        .where(Case.state.in_(OPEN_FOR_ASSESSMENT))
    ).one()
    yield _gauge("takedown_cases_awaiting_assessment", "Cases waiting for assessment.", waiting)
    yield _gauge(
        "takedown_cases_past_assessment_deadline",
        "Cases waiting for assessment whose deadline has passed.",
        late,
    )

    overdue_at = now - RECHECK_OVERDUE_AFTER
    due, overdue = session.execute(
        select(
            func.coalesce(func.sum(case((Case.next_recheck_at <= now, 1), else_=0)), 0),
            func.coalesce(func.sum(case((Case.next_recheck_at < overdue_at, 1), else_=0)), 0),
        ).where(Case.next_recheck_at.is_not(None), Case.removed_at.is_(None))
    ).one()
    yield _gauge("takedown_rechecks_due", "Re-checks whose time has come.", due)
    yield _gauge(
        "takedown_rechecks_overdue",
        f"Re-checks due for more than {int(RECHECK_OVERDUE_AFTER.total_seconds())} s.",
        overdue,
    )

    published = GaugeMetricFamily(
        "takedown_list_last_published_timestamp_seconds",
        "When each list's latest version was published (Unix time); age = time() - this.",
        labels=["list"],
    )
    for name, at in session.execute(
        select(ListVersion.list_name, func.max(ListVersion.created_at)).group_by(
            ListVersion.list_name
        )
    ):
        published.add_metric([name], _unix(at))
    yield published


def _index(state: AppState) -> Iterator[Metric]:
    """This process's match index size, when it is loaded (no query: it is in memory)."""
    index = index_of(state.database, state.settings)
    if not index.ready:
        return
    entries = GaugeMetricFamily(
        "takedown_match_index_entries",
        "Hashes in this API process's match index, by signal type.",
        labels=["signal_type"],
    )
    for signal_type, count in sorted(index.matcher.counts().items()):
        entries.add_metric([signal_type], count)
    yield entries


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


def _unix(at: datetime) -> float:
    # The database's timestamps are UTC; SQLite may give them back without a zone.
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).timestamp()
