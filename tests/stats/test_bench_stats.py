"""bench/stats.py at a small scale, so the script cannot rot: its fill makes the rows it says,
and its measurements compute the figures they time (counts are checked, never timings)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest
from sqlalchemy import Engine, func, inspect, select

from takedown.cases.models import Case, CaseState
from takedown.db.session import Database
from takedown.intake.models import Report
from takedown.notices.models import Notice, NoticeKind

BENCH = Path(__file__).resolve().parents[2] / "bench" / "stats.py"
CASES = 2000


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_stats", BENCH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_stats"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def filled(bench: ModuleType, engine: Engine, committed: Database) -> Engine:
    bench.fill(engine, CASES)
    return engine


def test_fill_makes_every_case_with_its_rows(bench: ModuleType, filled: Engine) -> None:
    counts = bench.table_counts(filled)
    assert counts["cases"] == CASES
    assert counts["case_items"] == CASES
    # One report per case, a second for about one in five.
    assert CASES < counts["reports"] < CASES * 1.3
    with filled.connect() as conn:
        reported = conn.scalar(select(func.sum(Case.report_count)))
        removed = conn.scalar(select(func.count()).where(Case.removed_at.is_not(None)))
        still_up = conn.scalar(
            select(func.count()).where(Case.state == CaseState.CONFIRMED, Case.removed_at.is_(None))
        )
        renotices = conn.scalar(select(func.count()).where(Notice.kind == NoticeKind.RENOTICE))
    assert reported == counts["reports"]
    assert removed
    assert still_up
    assert renotices


def test_measurements_compute_the_figures(bench: ModuleType, filled: Engine) -> None:
    start, end = bench.datetime(2026, 1, 1, tzinfo=bench.UTC), bench.NOW
    with filled.connect() as conn:
        opened = conn.scalar(
            select(func.count()).where(
                Case.first_reported_at >= start, Case.first_reported_at < end
            )
        )
        received = conn.scalar(
            select(func.count()).where(Report.received_at >= start, Report.received_at < end)
        )

    assert bench.reference(filled, 1).result == CASES
    year = bench.yearly(filled, 1).result
    assert year.counts["cases_opened"] == opened
    assert year.counts["reports_received"] == received
    assert 0 < year.to_removal.happened < year.to_removal.cases
    page = bench.console_overview(filled, 1).result
    assert sum(page.by_state.values()) == CASES
    assert page.removed_this_week > 0


@pytest.mark.parametrize(
    ("table", "column"),
    [
        ("item_reveals", "item_id"),
        ("case_items", "captured_at"),
        ("reports", "received_at"),
        ("cases", "first_reported_at"),
        ("cases", "removed_at"),
    ],
)
def test_figures_ranges_and_probes_are_indexed(engine: Engine, table: str, column: str) -> None:
    # Without item_reveals.item_id, "items never shown" took minutes over 100,000 cases.
    indexes = inspect(engine).get_indexes(table)
    assert any(index["column_names"][:1] == [column] for index in indexes)
