"""A request with a key never queues behind another request that holds the key's row."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, text

from takedown.db.session import Database
from takedown.orgs import service as orgs
from takedown.orgs.models import ApiKey
from tests.factories import ACTOR, NOW


def test_a_locked_key_row_does_not_hold_up_authentication(committed: Database) -> None:
    if committed.dialect != "postgresql":
        pytest.skip("SQLite has one writer at a time; row locks are PostgreSQL's")
    with committed.transaction() as session:
        org = orgs.add_org(
            session, ACTOR, name="Busy", kind="trusted_flagger", country="NL", now=NOW
        )
        key, row = orgs.create_key(session, ACTOR, org, scopes=["reports:write"], now=NOW)
    later = NOW + timedelta(hours=1)
    with committed.engine.connect() as holder:
        # Another request with the same key, busy in a long transaction that touched the row.
        holder.execute(text("SELECT id FROM api_keys FOR UPDATE"))
        with committed.transaction() as session:
            session.execute(text("SET LOCAL lock_timeout = '1s'"))
            # Before, this waited for the row lock and failed with a lock timeout.
            who = orgs.authenticate_key(session, key, now=later)
            assert who.api_key_id == row.id
        holder.rollback()
    with committed.transaction() as session:
        assert session.scalar(select(ApiKey.last_used_at).where(ApiKey.id == row.id)) != later
        orgs.authenticate_key(session, key, now=later)
    with committed.transaction() as session:
        assert session.scalar(select(ApiKey.last_used_at).where(ApiKey.id == row.id)) == later
