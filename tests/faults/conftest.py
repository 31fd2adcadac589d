"""Fixtures of the fault suite: a private PostgreSQL cluster and a product stack per test.

The suite is marked ``fault`` and runs on its own (``make test-faults``, which CI runs); it
needs PostgreSQL's server binaries (initdb, pg_ctl), which CI installs.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from takedown.db.migrate import upgrade
from takedown.db.session import Database, create_db_engine
from takedown.orgs import service as orgs
from tests.factories import ACTOR, NOW
from tests.faults.harness import Cluster, Stack, TcpProxy, env_for, postgres_binaries


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    binaries = postgres_binaries()
    if binaries is None:
        if os.environ.get("TAKEDOWN_REQUIRE_TOOLS") == "1":
            pytest.fail("PostgreSQL's server binaries (initdb, pg_ctl) are not installed")
        pytest.skip("PostgreSQL's server binaries (initdb, pg_ctl) are not installed")
    # Not under pytest's temporary folder: pytest makes that private to root again at the
    # start of every session, and the server runs as the postgres user.
    root = Path(tempfile.mkdtemp(prefix="takedown-faults-pg-"))
    server = Cluster(root, binaries)
    server.init()
    yield server
    server.destroy()


def fresh_database(server_url: str) -> str:
    """A new, empty database on the server of ``server_url``; its URL."""
    name = f"fault_{uuid.uuid4().hex[:10]}"
    admin = create_db_engine(server_url)
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


@pytest.fixture
def proxy(cluster: Cluster) -> Iterator[TcpProxy]:
    in_front = TcpProxy(cluster.port)
    yield in_front
    in_front.close()


def start_stack(database_url: str, root: Path, workers: int = 2, **env: str) -> tuple[Stack, str]:
    """Migrate, add a trusted flagger with a key, start serve and workers; (stack, key).

    The setup runs in this process: three CLI start-ups would cost more than the fault.
    """
    engine = create_db_engine(database_url)
    upgrade(engine)
    with Database(engine).transaction() as session:
        flagger = orgs.add_org(
            session, ACTOR, name="Flagger", kind="trusted_flagger", country="NL", now=NOW
        )
        key, _ = orgs.create_key(session, ACTOR, flagger, scopes=["reports:write"], now=NOW)
    engine.dispose()
    stack = Stack(env_for(database_url, root / "data", **env), root / "logs")
    stack.start(workers=workers)
    return stack, key
