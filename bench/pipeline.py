"""Pipeline speed in the sandbox: report → notice accepted by SMTP → removal seen, end to end.

Each configuration gets a fresh, migrated database (SQLite in a temp dir; on PostgreSQL a
schema of its own, dropped at the end), a fresh ``SandboxWorld`` and real worker processes
(``python -m takedown.jobs.runner``), so two or four workers really run side by side. The
sandbox's home hosting providers all remove content the moment a notice reaches them, the
home country's rule skips the police step, and the first re-check comes ``--recheck-first``
seconds after the notice. Everything runs on the real clock.

Known pages (each its own URL, dealt round the home hosting providers; the image is the
sandbox's benign generated pattern whose hash is in its bank) are reported through
``intake.submit_one``, one transaction per report, in two phases:

- a light load first: ``--probe`` reports at ``--probe-rate`` per second, which the workers
  keep up with; this is the latency a case sees when nothing is queued ahead of it (an
  idle worker looks for work every ``worker_poll_seconds``, 1 s by default: most of it);
- then the bulk: ``--reports`` reports all at once (back to back from one client; ``--rate``
  spreads them out instead). All at once because the throughput target needs a backlog:
  at a steady rate the workers can keep up with, cases/s is just the rate, whatever the
  number of workers. Its latencies are the time to work through 1,000 reports queued
  together, as when a trusted flagger files a bulk report.

Per case it measures report → notice (the SMTP sink's ``received_at`` for the notice's
X-Takedown-Reference) and report → removal (``cases.removed_at``, set by the re-check that
saw the page gone). References measured in the same run, on the same machine:

- the job queue's rate for empty jobs, with the same workers and database: the ceiling for
  the four jobs (capture, trace, send, re-check) each case costs;
- the SMTP sink's round trip for one small message sent by ``smtplib``, a connection each
  (as the notice sender does): the floor under the send step.

It also prints each job's handler time from the workers' logs, and the CPU the workers and
this process (which runs the sandbox's servers) used during the bulk, since on a small
machine they share the same cores. At the end every case must have exactly one notice (in
the database and in the sink) and be removed; the exit status is 1 otherwise.

    python bench/pipeline.py [--reports 1000] [--workers 1,2,4]
                             [--postgres URL | --no-postgres] [--timeout 600]

Runtime is the product's: about 130 ms of worker CPU per case, so roughly 2.5 minutes per
1,000 cases and worker-core. With the defaults expect about 10 minutes on a 2-core machine
(SQLite 2.5, PostgreSQL with one worker 3.5, with two and four 2 each); ``--reports 300``
takes about 4.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import smtplib
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, func, select, text
from sqlalchemy.engine import make_url

from takedown.auth.principal import PUBLIC, cli_principal
from takedown.cases.models import Case
from takedown.config import Settings
from takedown.db.migrate import upgrade
from takedown.db.registry import import_all_models
from takedown.db.session import Database, create_db_engine
from takedown.intake import service as intake
from takedown.intake.schemas import ReportIn
from takedown.jobs import service as jobs
from takedown.jobs.models import Job, JobStatus
from takedown.jobs.registry import JobContext, job_handler
from takedown.notices.models import Notice
from takedown.orgs.models import OrgKind
from takedown.routing import rules
from takedown.sandbox.images import MEDIA_TYPE, sample_image
from takedown.sandbox.providers import Behaviour, Provider, default_providers
from takedown.sandbox.smtp import SmtpSink
from takedown.sandbox.world import KNOWN_SEED, SandboxWorld

BENCH = Path(__file__).resolve().parent
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
NOOP_JOB = "bench.noop"
ACTOR = cli_principal("bench")
WORKER = [sys.executable, "-m", "takedown.jobs.runner"]
# The runner's log line for every attempt (see jobs.worker.Worker.run_once).
JOB_LINE = re.compile(r"job (\S+) \S+ attempt \d+: (.+) in ([0-9.]+)s$")
NAN = float("nan")


@job_handler(NOOP_JOB)
def noop(ctx: JobContext, payload: dict[str, Any]) -> None:
    """The queue reference's job: claimed, committed and recorded; no work of its own.

    Workers import this module through ``job_modules`` (as ``pipeline``, on PYTHONPATH).
    """


@dataclass
class Latencies:
    """Seconds from report to notice received, and to removal seen, one entry per case."""

    to_notice: list[float] = field(default_factory=list)
    to_removal: list[float] = field(default_factory=list)


@dataclass
class Outcome:
    """What one configuration (database, number of workers) measured."""

    label: str
    workers: int
    probe: Latencies = field(default_factory=Latencies)
    bulk: Latencies = field(default_factory=Latencies)
    cases_per_second: float = NAN
    jobs_per_second: float = NAN
    noop_per_second: float = NAN
    bulk_wall: float = NAN
    worker_cpu: float = NAN
    own_cpu: float = NAN
    cases: int = 0
    one_notice: int = 0
    removed: int = 0
    job_seconds: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    failed_jobs: Counter[str] = field(default_factory=Counter)


# --- the sandbox, the database and the workers ------------------------------------------------


def bench_providers(home: str) -> tuple[Provider, ...]:
    """The sandbox's cast, with every hosting provider at home removing on receipt."""
    return tuple(
        replace(p, behaviour=Behaviour.QUICK, delay=0.0)
        if p.kind is OrgKind.HOSTING_PROVIDER and p.country == home and p.site
        else p
        for p in default_providers(delay=0.0)
    )


@contextmanager
def database_url(server: str | None, tmp: Path) -> Iterator[str]:
    """A URL for an empty database: a SQLite file, or a fresh schema dropped at the end."""
    if server is None:
        yield f"sqlite:///{tmp / 'pipeline.sqlite3'}"
        return
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        url = make_url(server).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def prepare(database: Database, world: SandboxWorld, settings: Settings) -> None:
    """Seed the sandbox's organizations and bank; no police step for content at home."""
    now = datetime.now(UTC)
    home = settings.home_country
    with database.transaction() as session:
        world.seed(session, settings, now)
        rules.set_rule(session, ACTOR, home, now=now, home_country=home, police_first=False)


def publish(world: SandboxWorld, count: int, home: str, prefix: str) -> list[str]:
    """``count`` pages, each showing its own copy of the known sample, round the home hosts.

    What ``SandboxWorld.add_site(known=True)`` publishes, but with the PNG drawn once:
    ``add_site`` draws it again for every page (about 20 ms each, 20 s per 1,000 pages).
    """
    image = sample_image(KNOWN_SEED)
    providers = [p for p in world.providers if p.host and p.country == home]
    urls = []
    for i in range(count):
        provider = providers[i % len(providers)]
        assert provider.host is not None
        host = world.web_host(provider.name)
        image_path = f"/media/{prefix}-{i:05d}.png"
        host.put(provider.host, image_path, MEDIA_TYPE, image)
        host.page(provider.host, f"/{prefix}-{i:05d}.html", [image_path], title=f"{prefix} {i}")
        urls.append(host.url(provider.host, f"/{prefix}-{i:05d}.html"))
    return urls


def worker_env(world: SandboxWorld, url: str, tmp: Path, recheck_first: float) -> dict[str, str]:
    path = os.pathsep.join(filter(None, [str(BENCH), os.environ.get("PYTHONPATH")]))
    return {
        **os.environ,
        **world.environment(),
        "TAKEDOWN_DATABASE_URL": url,
        "TAKEDOWN_DATA_DIR": str(tmp),
        "TAKEDOWN_RECHECK_FIRST": f"PT{recheck_first:g}S",
        "TAKEDOWN_JOB_MODULES": '["pipeline"]',
        "PYTHONPATH": path,
    }


@dataclass(frozen=True)
class Pool:
    """Running worker processes and their log files."""

    pids: list[int]
    logs: list[Path]

    def cpu_seconds(self) -> float:
        """User + system CPU the workers used so far (Linux /proc; NaN elsewhere)."""
        total = 0.0
        try:
            for pid in self.pids:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError):
            return NAN
        return total


@contextmanager
def worker_pool(count: int, env: dict[str, str], logs: Path) -> Iterator[Pool]:
    """``count`` worker processes, started and ready; stopped with SIGTERM at the end."""
    procs: list[subprocess.Popen[bytes]] = []
    files = [logs / f"worker-{i}.log" for i in range(count)]
    try:
        for path in files:
            with path.open("wb") as out:
                procs.append(subprocess.Popen(WORKER, env=env, stdout=out, stderr=out))

        def ready() -> bool:
            if any(p.poll() is not None for p in procs):
                raise RuntimeError(f"a worker exited at start: {files[0].read_text()[-2000:]}")
            return all(" started; handlers" in f.read_text() for f in files)

        wait_for(ready, 60, "the workers to start")
        yield Pool([p.pid for p in procs], files)
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            print(f"  timed out after {timeout:g} s waiting for {what}", file=sys.stderr)
            return False
        time.sleep(0.1)
    return True


def count_of(engine: Engine, statement: Any) -> int:
    # A plain engine: takedown's own begins every SQLite transaction IMMEDIATE, and a poll
    # must not queue for the write lock the worker needs.
    with engine.connect() as conn:
        return int(conn.execute(statement).scalar_one())


# --- the measurements -------------------------------------------------------------------------


def queue_reference(database: Database, reader: Engine, count: int, timeout: float) -> float:
    """Empty jobs per second with the running workers: first claim to last finish."""
    with database.transaction() as session:
        jobs.enqueue_many(session, NOOP_JOB, [{} for _ in range(count)])
    done = select(func.count()).where(Job.name == NOOP_JOB, Job.status == JobStatus.SUCCEEDED)
    wait_for(lambda: count_of(reader, done) >= count, timeout, "the empty jobs")
    with database.sessions() as session:
        first, last = session.execute(
            select(func.min(Job.started_at), func.max(Job.finished_at)).where(Job.name == NOOP_JOB)
        ).one()
    return count / seconds(first, last)


def submit(
    database: Database, settings: Settings, urls: Sequence[str], rate: float
) -> set[uuid.UUID]:
    """Report each URL in its own transaction, ``rate`` per second (0: back to back)."""
    started = time.monotonic()
    ids: set[uuid.UUID] = set()
    for i, url in enumerate(urls):
        if rate > 0:
            time.sleep(max(0.0, started + i / rate - time.monotonic()))
        with database.transaction() as session:
            result = intake.submit_one(
                session, settings, PUBLIC, ReportIn(url=url), now=datetime.now(UTC)
            )
        assert result.case_id is not None
        ids.add(result.case_id)
    return ids


def removal_of(reader: Engine, count: int, timeout: float) -> None:
    removed = select(func.count()).where(Case.removed_at.is_not(None))
    wait_for(lambda: count_of(reader, removed) >= count, timeout, f"{count} removals")


def run(server: str | None, workers: int, opts: argparse.Namespace) -> Outcome:
    """One configuration, from an empty database to the last removal."""
    outcome = Outcome("PostgreSQL" if server else "SQLite", workers)
    with tempfile.TemporaryDirectory() as name, database_url(server, Path(name)) as url:
        tmp = Path(name)
        import_all_models()
        engine = create_db_engine(url)
        upgrade(engine)
        database, reader = Database(engine), create_engine(url)
        home = Settings(database_url=url).home_country
        with SandboxWorld(bench_providers(home)) as world:
            settings = Settings(data_dir=tmp, database_url=url, **world.settings_overrides())
            prepare(database, world, settings)
            probe_urls = publish(world, opts.probe, home, "probe")
            bulk_urls = publish(world, opts.reports, home, "bulk")
            env = worker_env(world, url, tmp, opts.recheck_first)
            with worker_pool(workers, env, tmp) as pool:
                outcome.noop_per_second = queue_reference(
                    database, reader, opts.noop_jobs, opts.timeout
                )
                probe = submit(database, settings, probe_urls, opts.probe_rate)
                removal_of(reader, len(probe), opts.timeout)
                cpu, own, wall = pool.cpu_seconds(), time.process_time(), time.monotonic()
                bulk = submit(database, settings, bulk_urls, opts.rate)
                removal_of(reader, len(probe) + len(bulk), opts.timeout)
                outcome.worker_cpu = pool.cpu_seconds() - cpu
                outcome.own_cpu = time.process_time() - own
                outcome.bulk_wall = time.monotonic() - wall
            read_logs(pool.logs, outcome)
            collect(database, world, outcome, probe, bulk)
        reader.dispose()
        engine.dispose()
    return outcome


def collect(
    database: Database,
    world: SandboxWorld,
    outcome: Outcome,
    probe: set[uuid.UUID],
    bulk: set[uuid.UUID],
) -> None:
    """Per-case latencies, the bulk's throughput, and the one-notice and removal checks."""
    received: dict[str, list[datetime]] = defaultdict(list)
    for message in world.smtp.messages():
        if message.reference:
            received[message.reference].append(message.received_at)
    with database.sessions() as session:
        found = session.execute(select(Case.id, Case.first_reported_at, Case.removed_at)).all()
        references: dict[uuid.UUID, list[str]] = defaultdict(list)
        for case_id, reference in session.execute(select(Notice.case_id, Notice.reference)):
            references[case_id].append(reference)
        first = min(at for case_id, at, _ in found if case_id in bulk)
        count, started, finished = session.execute(
            select(func.count(), func.min(Job.started_at), func.max(Job.finished_at)).where(
                Job.name != NOOP_JOB, Job.status == JobStatus.SUCCEEDED, Job.created_at >= first
            )
        ).one()
    outcome.cases = len(found)
    last = first
    for case_id, reported, removed in found:
        group = outcome.bulk if case_id in bulk else outcome.probe
        arrivals = [at for ref in references[case_id] for at in received.get(ref, [])]
        outcome.one_notice += len(references[case_id]) == 1 and len(arrivals) == 1
        if arrivals:
            group.to_notice.append((min(arrivals) - reported).total_seconds())
        if removed is not None:
            outcome.removed += 1
            group.to_removal.append((removed - reported).total_seconds())
            if case_id in bulk:
                last = max(last, removed)
    outcome.cases_per_second = len(outcome.bulk.to_removal) / seconds(first, last)
    outcome.jobs_per_second = count / seconds(started, finished)


def seconds(start: datetime | None, end: datetime | None) -> float:
    """The span between two instants, never zero; NaN when either is unknown."""
    if start is None or end is None:
        return NAN
    return max((end - start).total_seconds(), 1e-9)


def read_logs(files: Sequence[Path], outcome: Outcome) -> None:
    """Each attempt's handler time from the workers' logs, by job name."""
    for path in files:
        for line in path.read_text(errors="replace").splitlines():
            found = JOB_LINE.search(line)
            if found is None:
                continue
            name, result, duration = found.groups()
            if result == "succeeded":
                outcome.job_seconds[name].append(float(duration))
            else:
                outcome.failed_jobs[name] += 1


def smtp_reference(count: int) -> list[float]:
    """Seconds per message, ``smtplib`` to a fresh sandbox SMTP sink, a connection each."""
    message = EmailMessage()
    message["From"] = "hotline@takedown.invalid"
    message["To"] = "abuse@quick-hosting.sandbox.test"
    message["Subject"] = "reference message"
    message.set_content("A reference message of about the size of a notice's text.\n" * 60)
    timings: list[float] = []
    with SmtpSink() as sink:
        for _ in range(count):
            started = time.perf_counter()
            with smtplib.SMTP(sink.host, sink.port, local_hostname="takedown.invalid") as smtp:
                smtp.send_message(message)
            timings.append(time.perf_counter() - started)
        sink.wait_for(count)
    return timings


# --- the report -------------------------------------------------------------------------------


def pct(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile by nearest rank; NaN for no values."""
    if not values:
        return NAN
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def spread(values: Sequence[float]) -> str:
    median = statistics.median(values) if values else NAN
    return f"{median:.2f} / {pct(values, 99):.2f}"


def print_latencies(outcomes: Sequence[Outcome], bulk: bool) -> None:
    print(
        f"  {'database':<11}{'workers':>7}  {'→ notice p50 / p99 s':>21}"
        f"  {'→ removal p50 / p99 s':>22}"
        + (f"  {'cases/s':>8}  {'jobs/s':>7}  │ reference: empty jobs/s" if bulk else "")
    )
    for o in outcomes:
        group = o.bulk if bulk else o.probe
        line = (
            f"  {o.label:<11}{o.workers:>7}  {spread(group.to_notice):>21}"
            f"  {spread(group.to_removal):>22}"
        )
        if bulk:
            line += f"  {o.cases_per_second:>8.1f}  {o.jobs_per_second:>7.1f}"
            line += f"  │ {o.noop_per_second:>10.0f}"
        print(line)


def print_work(outcomes: Sequence[Outcome]) -> None:
    names = sorted({name for o in outcomes for name in o.job_seconds} - {NOOP_JOB})
    print("\nHandler time per job, mean / p99 ms, from the workers' logs (all phases):")
    print(f"  {'database':<11}{'workers':>7}" + "".join(f"  {n:>19}" for n in names))
    for o in outcomes:
        cells = ""
        for name in names:
            times = [t * 1000 for t in o.job_seconds.get(name, [])]
            mean = statistics.fmean(times) if times else NAN
            cells += f"  {f'{mean:.1f} / {pct(times, 99):.1f}':>19}"
        print(f"  {o.label:<11}{o.workers:>7}{cells}")
    print("\nCPU during the bulk (s): workers, this process (sandbox servers, submitting), wall:")
    for o in outcomes:
        print(
            f"  {o.label:<11}{o.workers:>7}  workers {o.worker_cpu:6.1f}"
            f"   this process {o.own_cpu:6.1f}   wall {o.bulk_wall:6.1f}"
        )
    failed = sum((o.failed_jobs for o in outcomes), Counter[str]())
    if failed:
        print(f"attempts that did not succeed: {dict(failed)}")


def print_checks(outcomes: Sequence[Outcome]) -> bool:
    ok = True
    for o in outcomes:
        good = o.one_notice == o.cases and o.removed == o.cases
        ok &= good
        print(
            f"check {o.label}, {o.workers} worker(s): {o.one_notice}/{o.cases} cases with exactly"
            f" one notice, {o.removed}/{o.cases} removed: {'OK' if good else 'FAILED'}"
        )
    sqlite = next(o for o in outcomes if o.label == "SQLite")
    bulk = statistics.median(sqlite.bulk.to_notice or [NAN])
    probe = statistics.median(sqlite.probe.to_notice or [NAN])
    print(
        f"target: median report → notice under 5 s with one worker on SQLite:"
        f" bulk {bulk:.2f} s ({'met' if bulk < 5 else 'missed'}),"
        f" light load {probe:.2f} s ({'met' if probe < 5 else 'missed'})"
    )
    rates = [f"{o.workers}: {o.cases_per_second:.1f}" for o in outcomes if o.label != "SQLite"]
    if rates:
        print(f"target: cases/s growing with workers on PostgreSQL: {', '.join(rates)}")
    return ok


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reports", type=int, default=1000, help="reports in the bulk")
    parser.add_argument("--rate", type=float, default=0.0, help="bulk reports/s (0: at once)")
    parser.add_argument("--probe", type=int, default=20, help="reports under light load")
    parser.add_argument("--probe-rate", type=float, default=2.0, help="their reports/s")
    parser.add_argument("--workers", default="1,2,4", help="on PostgreSQL; SQLite runs one")
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES, help="server URL")
    parser.add_argument("--no-postgres", dest="postgres", action="store_const", const=None)
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per phase")
    parser.add_argument("--recheck-first", type=float, default=1.0, help="seconds")
    parser.add_argument("--noop-jobs", type=int, default=2000, help="for the queue reference")
    parser.add_argument("--smtp-messages", type=int, default=300, help="for the SMTP reference")
    opts = parser.parse_args()
    if opts.reports < 1 or opts.probe < 1:
        parser.error("--reports and --probe must be at least 1")
    return opts


def main() -> int:
    opts = parse_args()
    plan: list[tuple[str | None, int]] = [(None, 1)]
    if opts.postgres:
        plan += [(opts.postgres, int(n)) for n in opts.workers.split(",") if n.strip()]
    outcomes = []
    for server, workers in plan:
        started = time.monotonic()
        outcomes.append(run(server, workers, opts))
        print(
            f"ran {outcomes[-1].label} with {workers} worker(s)"
            f" in {time.monotonic() - started:.0f} s",
            flush=True,
        )
    smtp = smtp_reference(opts.smtp_messages)

    rate = f"{opts.rate:g}/s" if opts.rate > 0 else "all at once"
    print(
        f"\nPipeline in the sandbox, {os.cpu_count()} CPUs: known pages on the home hosting"
        f" providers, no police step, removed on receipt, first re-check"
        f" {opts.recheck_first:g} s after the notice. Report → notice received by the SMTP"
        " sink, and → removal seen by the re-check."
    )
    print(f"\nLight load: {opts.probe} reports at {opts.probe_rate:g}/s, before the bulk")
    print_latencies(outcomes, bulk=False)
    print(f"\nBulk: {opts.reports:,} reports, {rate}; cases/s = reported to last removal")
    print_latencies(outcomes, bulk=True)
    print_work(outcomes)
    print(
        f"\nreference: smtplib → SMTP sink, one message per connection ({len(smtp)} messages):"
        f" p50 {statistics.median(smtp) * 1000:.1f} ms, p99 {pct(smtp, 99) * 1000:.1f} ms"
    )
    return 0 if print_checks(outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
