"""The process's operational metrics, shared by every API and worker process of a machine.

Counters and histograms are kept in prometheus-client's *multiprocess mode*: each process
writes its values to memory-mapped files named for its pid in one directory
(``Settings.metrics_directory``), and the API process that answers ``GET /metrics`` sums the
files of every process (``web/metrics.py``). Nothing is recorded until :func:`configure` has
run, which the app and the worker do only when ``TAKEDOWN_METRICS_TOKEN`` is set, so metrics
cost nothing when they are off.

Cleaning. The client's documentation asks for the directory to be wiped between runs, before
the processes start, or counters of processes long gone add up for ever. Several independent
processes share it here (API processes, workers), so each one holds a shared ``flock`` on a
lock file for its lifetime, and the first process to start while none holds it wipes the
directory. A process that restarts beside others that still run leaves their files alone: the
summed counters then stay monotonic, which is what Prometheus's ``rate`` needs.

Labels hold only bounded values (route templates, job names, channels), never a case id, a
URL or anything a reporter sent.
"""

from __future__ import annotations

import fcntl
import functools
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Final, ParamSpec, TypeVar

from prometheus_client import Counter, Histogram, values

log = logging.getLogger(__name__)

ENV_VAR: Final = "PROMETHEUS_MULTIPROC_DIR"
_LOCK_FILE: Final = "takedown.lock"
# Requests: fast pages to slow list exports. Jobs: a notice in milliseconds to a capture
# bounded by capture_max_seconds (120 s by default).
_HTTP_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
_JOB_BUCKETS: Final = (0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
# Matches: a lookup in the in-memory index takes well under a millisecond to a few; the slow
# tail is an index sync catching up with many bank changes.
_MATCH_BUCKETS: Final = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5)
_P = ParamSpec("_P")
_R = TypeVar("_R")


@dataclass(frozen=True)
class _Metrics:
    requests: Counter
    request_seconds: Histogram
    shed: Counter
    database_unavailable: Counter
    job_seconds: Histogram
    notices: Counter
    match_seconds: Histogram


_lock = threading.Lock()
_active: _Metrics | None = None
_directory: Path | None = None
# Held open (with its shared flock) for the process's lifetime: it says "a process that
# writes here is alive" to the next one that starts.
_held: IO[bytes] | None = None


def configure(directory: Path) -> None:
    """Record this process's metrics in ``directory`` from now on (idempotent)."""
    global _active, _directory, _held
    directory = directory.resolve()
    with _lock:
        if _directory == directory:
            return
        directory.mkdir(parents=True, exist_ok=True)
        if _held is not None:
            _held.close()
        _held = _join(directory)
        # The client picks file-backed values from this variable when a value is created;
        # a fresh value class also forgets files opened for another directory (tests).
        os.environ[ENV_VAR] = str(directory)
        values.ValueClass = values.MultiProcessValue()  # type: ignore[no-untyped-call]
        _active = _create()
        _directory = directory
        log.info("metrics: recording in %s", directory)


def directory() -> Path | None:
    """The directory this process records in; None while metrics are off."""
    return _directory


def reset() -> None:
    """Stop recording (tests); the files stay where they are."""
    global _active, _directory, _held
    with _lock:
        if _held is not None:
            _held.close()
        _active = _directory = _held = None
        os.environ.pop(ENV_VAR, None)
        values.ValueClass = values.MutexValue


def _join(directory: Path) -> IO[bytes]:
    """Take a share of the directory's lock, wiping it first when no other process holds it."""
    handle = (directory / _LOCK_FILE).open("ab")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        pass  # another process records here: its files (and dead ones' counts) stay
    else:
        for stale in directory.glob("*.db"):
            stale.unlink(missing_ok=True)
    # Downgrade (or take) a shared lock; blocks only while another process is wiping.
    fcntl.flock(handle, fcntl.LOCK_SH)
    return handle


def _create() -> _Metrics:
    # registry=None: the exposition reads the files (MultiProcessCollector), not a registry,
    # and configure() may create them again without a duplicate registration.
    return _Metrics(
        requests=Counter(
            "takedown_http_requests",
            "HTTP requests answered, by method, route template and status code.",
            ["method", "route", "status"],
            registry=None,
        ),
        request_seconds=Histogram(
            "takedown_http_request_duration_seconds",
            "Time to answer an HTTP request (admission wait included), by route template.",
            ["method", "route"],
            buckets=_HTTP_BUCKETS,
            registry=None,
        ),
        shed=Counter(
            "takedown_http_shed_requests",
            "Requests refused with 503 by the admission gate (the API at capacity).",
            registry=None,
        ),
        database_unavailable=Counter(
            "takedown_http_database_unavailable",
            "Requests answered 503 because the database was unavailable or too slow.",
            registry=None,
        ),
        job_seconds=Histogram(
            "takedown_job_duration_seconds",
            "Time one job attempt took in a worker, by job kind and outcome.",
            ["kind", "outcome"],
            buckets=_JOB_BUCKETS,
            registry=None,
        ),
        notices=Counter(
            "takedown_notice_deliveries",
            "Notice delivery attempts by channel and result: sent (accepted by the receiver), "
            "refused (permanently) or failed (temporarily, to be retried).",
            ["channel", "result"],
            registry=None,
        ),
        # No labels: which caller matched (API, HMA API, scan, capture) is in the request
        # metrics already, and an unlabelled histogram shows its series before the first match.
        match_seconds=Histogram(
            "takedown_match_duration_seconds",
            "Time to match one piece of content against the banks (index sync, index query, "
            "entries' metadata and allow lists; hashing the file not included).",
            buckets=_MATCH_BUCKETS,
            registry=None,
        ),
    )


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    if (m := _active) is not None:
        m.requests.labels(method, route, str(status)).inc()
        m.request_seconds.labels(method, route).observe(seconds)


def count_shed() -> None:
    if (m := _active) is not None:
        m.shed.inc()


def count_database_unavailable() -> None:
    if (m := _active) is not None:
        m.database_unavailable.inc()


def observe_job(kind: str, succeeded: bool, seconds: float) -> None:
    if (m := _active) is not None:
        m.job_seconds.labels(kind, "succeeded" if succeeded else "failed").observe(seconds)


def count_notice(channel: str, result: str) -> None:
    """One delivery attempt's ``result``: ``sent``, ``refused`` or ``failed``."""
    if (m := _active) is not None:
        m.notices.labels(channel, result).inc()


def observe_match(seconds: float) -> None:
    if (m := _active) is not None:
        m.match_seconds.observe(seconds)


def timed_match(fn: Callable[_P, _R]) -> Callable[_P, _R]:
    """Time each call of the match lookup ``fn`` into the match latency histogram.

    Only lookups that return are observed: one refused for an unknown bank name ends early
    and would pull the latency down.
    """

    @functools.wraps(fn)
    def timed(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        started = time.perf_counter()
        result = fn(*args, **kwargs)
        observe_match(time.perf_counter() - started)
        return result

    return timed
