"""Statistics at scale: the yearly figures and the console overview over 1,000,000 cases.

Fills a fresh database (built by the migrations, so with every index they make) with cases
first reported over two years (2025 and 2026), each with its reports (one in five reported
twice), its timeline (opened, then decided by a person or by the system), one captured item,
notices to one of 300 hosting providers (re-notices and escalations for some), removals
(some still up at the end), analysts' reveals and URL list entries. Rows go in by bulk Core
inserts (COPY on PostgreSQL), never through the ORM one by one.

Then measures, best of ``--rounds``, each beside a reference measured in the same run (a plain
``SELECT count(*)`` over the cases table, the floor under any figure that reads every case):

- the yearly figures of 2026 (``stats.service.figures``), computed from the rows: no daily
  aggregates are written, as on a fresh install or for any filtered figure;
- the console overview (``console.overview.overview``, with the dead jobs as supervisors see
  it), at the end of the two years.

Targets, on PostgreSQL: yearly figures under 5 s, overview under 500 ms. SQLite is reported
beside them against the same targets.

    python bench/stats.py [--database-url URL] [--cases 1000000] [--rounds 2]

Without ``--database-url`` a temporary SQLite file is used. A PostgreSQL URL names a server
and database; the bench works in a schema of its own there and drops it at the end.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Table, create_engine, func, insert, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from takedown.auth.models import User
from takedown.auth.principal import SYSTEM
from takedown.cases.models import Case, CaseEvent, CaseItem
from takedown.console.overview import overview
from takedown.db import migrate
from takedown.db.session import Limits, create_db_engine
from takedown.exposure.models import ItemReveal
from takedown.intake.models import Report
from takedown.lists.models import UrlEntry
from takedown.notices.models import Notice
from takedown.orgs.models import Organization
from takedown.stats import periods
from takedown.stats.filters import Filters
from takedown.stats.service import figures

START = datetime(2025, 1, 1, tzinfo=UTC)
NOW = datetime(2027, 1, 1, tzinfo=UTC)
YEAR = "2026"
PROVIDERS = 300
CHUNK = 20_000
YEARLY_TARGET = 5.0
OVERVIEW_TARGET = 0.5
# Figures over a million rows can take longer than a request may; the bench waits them out.
LIMITS = Limits(statement_timeout=600.0)

TABLES: dict[str, Table] = {
    "cases": Case.__table__,  # type: ignore[dict-item]
    "reports": Report.__table__,  # type: ignore[dict-item]
    "case_events": CaseEvent.__table__,  # type: ignore[dict-item]
    "case_items": CaseItem.__table__,  # type: ignore[dict-item]
    "notices": Notice.__table__,  # type: ignore[dict-item]
    "item_reveals": ItemReveal.__table__,  # type: ignore[dict-item]
    "url_entries": UrlEntry.__table__,  # type: ignore[dict-item]
}


Row = dict[str, Any]


@dataclass
class Batch:
    """The rows of one chunk of cases, by table, in the order foreign keys need."""

    rows: dict[str, list[Row]] = field(default_factory=lambda: {name: [] for name in TABLES})


@dataclass(frozen=True)
class Fixed:
    """Rows every case refers to: the hosting providers and the analyst."""

    providers: list[tuple[uuid.UUID, str]]
    analyst: uuid.UUID


def _after(rng: random.Random, at: datetime, mean_hours: float) -> datetime:
    return at + timedelta(seconds=int(rng.expovariate(1 / (mean_hours * 3600))) + 1)


def case_rows(i: int, rng: random.Random, fixed: Fixed, batch: Batch) -> None:
    """Case ``i`` and everything that happened to it by ``NOW``, appended to ``batch``."""
    span = (NOW - START).total_seconds()
    reported = START + timedelta(seconds=int(rng.random() * span))
    case_id = uuid.uuid4()
    host = f"host{i % 50_000}.example"
    url = f"http://{host}/gallery/{i}/index.html"
    source = rng.choices(("public", "trusted_flagger", "police", "hotline"), (60, 25, 5, 10))[0]
    priority = {"public": "public", "police": "police"}.get(source, "trusted")

    reports = [(reported, source)]
    if rng.random() < 0.2:
        again = _after(rng, reported, 48)
        if again < NOW:
            reports.append((again, "public"))
    for n, (received, from_) in enumerate(reports):
        batch.rows["reports"].append(
            {
                "id": uuid.uuid4(),
                "reference": f"{'RD'[n]}{i:015d}",
                "case_id": case_id,
                "received_at": received,
                "submitted_url": url,
                "source": from_,
                "content_kind": "image",
                "site_kind": "website",
                "immediate_danger": False,
            }
        )
    batch.rows["case_events"].append(_event(case_id, reported, "opened", SYSTEM.label, {}))

    automatic = rng.random() < 0.4
    decided: datetime | None = _after(rng, reported, 0.05 if automatic else 8)
    if decided is not None and (decided >= NOW or rng.random() < 0.01):
        decided = None
    verdict = "confirmed" if automatic or rng.random() < 0.75 else "not_illegal"
    state = "awaiting_assessment" if decided is None else verdict
    first_notice: datetime | None = None
    removed: datetime | None = None
    if decided is not None:
        actor = SYSTEM.label if automatic else "analyst"
        data = {"from": "awaiting_assessment", "to": verdict}
        batch.rows["case_events"].append(_event(case_id, decided, "state_changed", actor, data))
    if decided is not None and verdict == "confirmed":
        first_notice = _after(rng, decided, 0.5)
        removed = _after(rng, first_notice, 36) if rng.random() < 0.92 else None
        first_notice = first_notice if first_notice < NOW else None
        removed = removed if removed is not None and removed < NOW else None
        if first_notice is not None:
            org_id, org_name = fixed.providers[int(rng.paretovariate(1.2)) % PROVIDERS]
            _notices(i, rng, case_id, first_notice, removed, org_id, org_name, batch)
        if rng.random() < 0.25:
            _url_entry(i, case_id, host, url, decided, removed, batch)
    if removed is not None:
        state = "closed"

    item_id = uuid.uuid4()
    captured = reported + timedelta(minutes=2)
    item_verdict = "known" if automatic else ("unknown" if decided is None else verdict)
    batch.rows["case_items"].append(
        {
            "id": item_id,
            "case_id": case_id,
            "url": url.replace("index.html", "1.jpg"),
            "content_type": "image/jpeg",
            "size": 40_000 + i % 9_000,
            "md5": f"{i:032x}",
            "sha1": f"{i:040x}",
            "sha256": f"{i:064x}",
            "verdict": item_verdict,
            "classification": None if decided is None or verdict != "confirmed" else "A1",
            "automatic": automatic,
            "match": {},
            "captured_at": captured,
        }
    )
    if decided is not None and not automatic and rng.random() < 0.5:
        batch.rows["item_reveals"].append(
            {
                "id": uuid.uuid4(),
                "user_id": fixed.analyst,
                "case_id": case_id,
                "item_id": item_id,
                "revealed_at": decided - timedelta(seconds=30),
                "hidden_at": decided,
            }
        )
    batch.rows["cases"].append(
        {
            "id": case_id,
            "url_sha256": hashlib.sha256(url.encode()).hexdigest(),
            "canonical_url": url,
            "url": url,
            "host": host,
            "registered_domain": host,
            "state": state,
            "priority": priority,
            "first_reported_at": reported,
            "last_reported_at": reports[-1][0],
            "due_at": reported + timedelta(hours=24),
            "report_count": len(reports),
            "closed_at": removed,
            "first_notice_at": first_notice,
            "removed_at": removed,
            "created_at": reported,
            "updated_at": removed or decided or reported,
        }
    )


def _event(case_id: uuid.UUID, at: datetime, kind: str, actor: str, data: Row) -> Row:
    return {
        "id": uuid.uuid4(),
        "case_id": case_id,
        "at": at,
        "kind": kind,
        "actor": actor,
        "message": kind.replace("_", " "),
        "data": data,
    }


def _notices(
    i: int,
    rng: random.Random,
    case_id: uuid.UUID,
    first: datetime,
    removed: datetime | None,
    org_id: uuid.UUID,
    org_name: str,
    batch: Batch,
) -> None:
    """The first notice; a re-notice after two days and an escalation after five when the
    content was still up then (for some of those cases)."""
    kinds = [("notice", first, 0)]
    for kind, days, level, share in (("renotice", 2, 0, 0.6), ("escalation", 5, 1, 0.5)):
        at = first + timedelta(days=days)
        if at < NOW and (removed is None or removed > at) and rng.random() < share:
            kinds.append((kind, at, level))
    for n, (kind, at, level) in enumerate(kinds):
        batch.rows["notices"].append(
            {
                "id": uuid.uuid4(),
                "reference": f"N{i:015d}-{n}",
                "case_id": case_id,
                "org_id": org_id,
                "org_name": org_name,
                "kind": kind,
                "channel": "email",
                "recipient": "abuse@provider.example",
                "language": "en",
                "status": "sent",
                "escalation_level": level,
                "created_at": at,
                "deadline_at": at + timedelta(days=2),
                "sent_at": at + timedelta(seconds=5),
                "attempts": 1,
                "message_id": f"<n{i}.{n}@hotline.example>",
                "document": [],
            }
        )


def _url_entry(
    i: int,
    case_id: uuid.UUID,
    host: str,
    url: str,
    added: datetime,
    removed: datetime | None,
    batch: Batch,
) -> None:
    expression = url.removeprefix("http://")
    batch.rows["url_entries"].append(
        {
            "id": uuid.uuid4(),
            "expression": expression,
            "live_key": None if removed else hashlib.sha256(expression.encode()).hexdigest(),
            "host": host,
            "scope": "url",
            "status": "withdrawn" if removed else "active",
            "case_id": case_id,
            "reason": "",
            "added_by": "analyst",
            "added_at": added,
            "withdrawn_by": "system" if removed else None,
            "withdrawn_at": removed,
        }
    )


def fixed_rows(session: Session) -> Fixed:
    providers = [(uuid.uuid4(), f"Provider {n:03d}") for n in range(PROVIDERS)]
    session.execute(
        insert(Organization),
        [
            {"id": org, "name": name, "kind": "hosting_provider", "country": "NL"}
            for org, name in providers
        ],
    )
    analyst = uuid.uuid4()
    session.execute(
        insert(User),
        [
            {
                "id": analyst,
                "username": "analyst",
                "display_name": "Analyst",
                "role": "analyst",
                "password_hash": "-",
            }
        ],
    )
    return Fixed(providers, analyst)


def _copy(session: Session, table: Table, rows: list[Row]) -> None:
    """PostgreSQL's COPY of ``rows`` into ``table`` (JSON columns dumped to text first)."""
    if not rows:
        return
    columns = list(rows[0])
    json_columns = {c for c in columns if c in ("data", "match", "document")}
    raw = session.connection().connection.dbapi_connection
    assert raw is not None
    with raw.cursor() as cursor:  # type: ignore[attr-defined]
        names = ", ".join(columns)
        with cursor.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(
                    [json.dumps(row[c]) if c in json_columns else row[c] for c in columns]
                )


def fill(engine: Engine, cases: int, *, seed: int = 2026, progress: bool = False) -> None:
    """``cases`` cases with everything that happened to them, in chunks of bulk inserts."""
    rng = random.Random(seed)
    postgres = engine.dialect.name == "postgresql"
    with Session(engine) as session:
        fixed = fixed_rows(session)
        session.commit()
    done = 0
    while done < cases:
        batch = Batch()
        for i in range(done, min(done + CHUNK, cases)):
            case_rows(i, rng, fixed, batch)
        with Session(engine) as session:
            for name, table in TABLES.items():
                rows = batch.rows[name]
                if postgres:
                    _copy(session, table, rows)
                elif rows:
                    session.execute(insert(table), rows)
            session.commit()
        done = min(done + CHUNK, cases)
        if progress:
            print(f"\r  {done:,} cases", end="", flush=True)
    if progress:
        print()
    with engine.connect() as conn:
        # Fresh statistics, as autovacuum (PostgreSQL) or a periodic ANALYZE would leave them.
        conn.execute(text("ANALYZE"))
        conn.commit()


def table_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            name: int(conn.scalar(select(func.count()).select_from(table)) or 0)
            for name, table in TABLES.items()
        }


@dataclass(frozen=True)
class Measured:
    seconds: float
    result: Any


def best_of(rounds: int, work: Callable[[], Any]) -> Measured:
    best, result = float("inf"), None
    for _ in range(rounds):
        started = time.perf_counter()
        result = work()
        best = min(best, time.perf_counter() - started)
    return Measured(best, result)


def reference(engine: Engine, rounds: int) -> Measured:
    """``SELECT count(*)`` over the cases: reading every case once, nothing more."""

    def work() -> int:
        with Session(engine) as session:
            return int(session.scalar(select(func.count()).select_from(Case)) or 0)

    return best_of(rounds, work)


def yearly(engine: Engine, rounds: int) -> Measured:
    """The figures of ``YEAR``, unfiltered, from the rows."""
    period = periods.parse("year", YEAR, today=NOW.date())

    def work() -> Any:
        with Session(engine) as session:
            return figures(session, period, Filters())

    return best_of(rounds, work)


def console_overview(engine: Engine, rounds: int) -> Measured:
    """What the console's overview page reads, as a supervisor sees it (dead jobs, charts)."""

    def work() -> Any:
        with Session(engine) as session:
            return overview(session, NOW, with_jobs=True, with_charts=True)

    return best_of(rounds, work)


@contextmanager
def database(url: str | None) -> Iterator[Engine]:
    """A migrated, empty database: a temporary SQLite file, or a fresh PostgreSQL schema."""
    if url is None:
        with tempfile.TemporaryDirectory() as folder:
            engine = create_db_engine(f"sqlite:///{Path(folder) / 'stats.db'}", limits=LIMITS)
            migrate.upgrade(engine)
            try:
                yield engine
            finally:
                engine.dispose()
        return
    schema = f"bench_stats_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    scoped = make_url(url).update_query_dict({"options": f"-csearch_path={schema}"})
    engine = create_db_engine(scoped.render_as_string(hide_password=False), limits=LIMITS)
    try:
        migrate.upgrade(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    with database(args.database_url) as engine:
        name = engine.dialect.name
        started = time.perf_counter()
        print(f"filling {args.cases:,} cases on {name}")
        fill(engine, args.cases, progress=True)
        counts = table_counts(engine)
        print(
            f"filled in {time.perf_counter() - started:.0f} s: "
            + ", ".join(f"{n} {c:,}" for n, c in counts.items())
        )
        floor = reference(engine, args.rounds)
        year = yearly(engine, args.rounds)
        page = console_overview(engine, args.rounds)

    totals = year.result.counts
    print(
        f"{YEAR}: {totals['cases_opened']:,} cases opened, {totals['reports_received']:,} "
        f"reports, median to removal {year.result.to_removal.median} s; "
        f"overview: {sum(page.result.by_state.values()):,} cases, "
        f"{page.result.removed_this_week:,} removed this week"
    )
    print(f"{'measure (' + name + ')':28} {'seconds':>8}   target")
    print(f"{'reference count(*) cases':28} {floor.seconds:>8.3f}")
    print(f"{'yearly figures ' + YEAR:28} {year.seconds:>8.3f}   < {YEARLY_TARGET:.0f} s")
    print(f"{'console overview':28} {page.seconds:>8.3f}   < {OVERVIEW_TARGET * 1000:.0f} ms")
    met = year.seconds < YEARLY_TARGET and page.seconds < OVERVIEW_TARGET
    print(f"targets {'met' if met else 'MISSED'}")
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
