"""PostgreSQL knows how many events a verdict matches, so the figures' plans fit the data.

Without statistics on ``data->>'to'`` the planner guesses 0.5% of the events and walks the
cases once per confirmed event (migration 0013)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from takedown.cases.models import CaseEvent
from tests.stats.seed import seed


def test_the_planner_estimates_the_confirmed_events(db: Session) -> None:
    if db.get_bind().dialect.name != "postgresql":
        pytest.skip("SQLite keeps no statistics on expressions")
    case = seed(db)["a"]
    for n in range(400):
        verdict = "confirmed" if n % 4 else "not_illegal"
        db.add(
            CaseEvent(
                case_id=case.id, at=case.first_reported_at, kind="state_changed",
                actor="user ana", message="decided", data={"to": verdict},
            )
        )  # fmt: skip
    db.flush()
    db.execute(text("ANALYZE case_events"))
    confirmed = CaseEvent.data["to"].as_string() == "confirmed"
    actual = db.scalar(select(func.count()).where(confirmed))
    assert actual is not None
    assert actual >= 300
    query = select(CaseEvent.id).where(confirmed)
    sql = str(query.compile(db.get_bind(), compile_kwargs={"literal_binds": True}))
    plan = db.execute(text("EXPLAIN (FORMAT JSON) " + sql)).scalar_one()
    plan = plan if isinstance(plan, list) else json.loads(plan)
    estimated = plan[0]["Plan"]["Plan Rows"]
    assert actual / 2 <= estimated <= actual * 2
