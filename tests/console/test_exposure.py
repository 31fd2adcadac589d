"""Exposure pages: reveals against the caps, extensions by a supervisor, the break reminder
and the cap on the case page (the figures themselves: tests/exposure/test_figures.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from takedown.auth.models import Role
from takedown.clock import FrozenClock
from takedown.config import Settings
from takedown.db.session import Database
from takedown.exposure.models import ExposureExtension, ItemReveal
from takedown.runtime import RuntimeSetting
from takedown.sandbox.images import sample_image
from takedown.web.deps import SESSION_COOKIE
from tests.console.support import sign_in
from tests.console.test_previews import (
    add_item,
    audit_actions,
    connections,  # noqa: F401 - the loopback tripwire, autouse
    make_case,
    reveals,
    site,  # noqa: F401 - fixture
)
from tests.monitoring.support import Site

NINE = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)


@pytest.fixture
def settings(settings: Settings, site: Site) -> Settings:  # noqa: F811 - overrides conftest's
    """Small caps, so a test reaches them in a few reveals; the local host is reachable."""
    return settings.model_copy(
        update={
            "fetch_allow_hosts": [site.host],
            "exposure_daily_reveals": 2,
            "exposure_daily_minutes": 60,
        }
    )


def test_the_cap_blocks_reveals_until_a_supervisor_extends_it(
    client: TestClient,
    database: Database,
    settings: Settings,
    site: Site,  # noqa: F811
) -> None:
    case_id = make_case(database, settings)
    items = [
        add_item(
            database,
            case_id,
            site.serve(f"/img/{n}.png", sample_image(n), "image/png"),
            sample_image(n),
        )
        for n in range(3)
    ]
    analyst, csrf = sign_in(client, database, Role.ANALYST, "ana")
    analyst_cookie = client.cookies.get(SESSION_COOKIE)
    for item_id in items[:2]:
        response = client.post(
            f"/console/items/{item_id}/reveal",
            headers={"X-CSRF-Token": csrf},
            follow_redirects=False,
        )
        assert response.status_code == 303

    # The third is refused by the server, as a page and as an HTMX panel.
    refused = client.post(
        f"/console/items/{items[2]}/reveal", headers={"X-CSRF-Token": csrf}, follow_redirects=False
    )
    assert refused.status_code == 403
    assert "exposure cap" in refused.text
    panel = client.post(
        f"/console/items/{items[2]}/reveal", headers={"X-CSRF-Token": csrf, "HX-Request": "true"}
    )
    assert 'role="alert"' in panel.text
    assert "/sharp" not in panel.text
    assert len(reveals(database)) == 2
    page = client.get(f"/console/cases/{case_id}").text
    assert 'class="blocked"' in page
    assert "disabled" in page
    mine = client.get("/console/exposure").text
    assert "2 / 2" in mine
    assert 'id="team"' not in mine  # analysts do not see the team

    supervisor, supervisor_csrf = sign_in(client, database, Role.SUPERVISOR, "sue")
    team = client.get("/console/exposure").text
    assert 'id="team"' in team
    assert f'action="/console/exposure/{analyst.id}/extend"' in team
    no_reason = client.post(
        f"/console/exposure/{analyst.id}/extend",
        data={"csrf_token": supervisor_csrf, "extra_reveals": "5", "reason": "  "},
        follow_redirects=False,
    )
    assert no_reason.status_code == 422
    assert "reason is required" in no_reason.text
    granted = client.post(
        f"/console/exposure/{analyst.id}/extend",
        data={
            "csrf_token": supervisor_csrf,
            "extra_reveals": "5",
            "extra_minutes": "0",
            "reason": "Immediate-danger case must be assessed today",
        },
        follow_redirects=False,
    )
    assert granted.status_code == 303
    [record] = audit_actions(database, "exposure.extend")
    assert record.actor_id == str(supervisor.id)
    assert record.object_id == str(analyst.id)
    assert record.details["extra_reveals"] == 5
    assert record.note == "Immediate-danger case must be assessed today"

    assert analyst_cookie is not None
    client.cookies.set(SESSION_COOKIE, analyst_cookie)
    again = client.post(
        f"/console/items/{items[2]}/reveal", headers={"X-CSRF-Token": csrf}, follow_redirects=False
    )
    assert again.status_code == 303
    assert len(reveals(database)) == 3


def test_an_analyst_cannot_extend(client: TestClient, database: Database) -> None:
    other, _ = sign_in(client, database, Role.ANALYST, "other")
    _, csrf = sign_in(client, database, Role.ANALYST, "ana")
    response = client.post(
        f"/console/exposure/{other.id}/extend",
        data={"csrf_token": csrf, "extra_reveals": "5", "reason": "please"},
        follow_redirects=False,
    )
    assert response.status_code == 403
    with database.sessions() as session:
        assert session.scalars(select(ExposureExtension)).all() == []


def test_a_supervisor_cannot_extend_their_own_cap(client: TestClient, database: Database) -> None:
    supervisor, csrf = sign_in(client, database, Role.SUPERVISOR, "sue")
    response = client.post(
        f"/console/exposure/{supervisor.id}/extend",
        data={"csrf_token": csrf, "extra_reveals": "5", "reason": "busy day"},
        follow_redirects=False,
    )
    assert response.status_code == 403
    assert audit_actions(database, "exposure.extend") == []


def test_pages_show_the_cap_and_the_break_reminder(
    client: TestClient,
    database: Database,
    settings: Settings,
    clock: FrozenClock,
    site: Site,  # noqa: F811
) -> None:
    case_id = make_case(database, settings)
    item_id = add_item(
        database, case_id, site.serve("/img/a.png", sample_image(1), "image/png"), sample_image(1)
    )
    analyst, _ = sign_in(client, database, Role.ANALYST)
    # A reveal every 5 minutes for an hour, without a pause.
    with database.transaction() as session:
        for i in range(13):
            session.add(
                ItemReveal(
                    user_id=analyst.id,
                    case_id=case_id,
                    item_id=item_id,
                    revealed_at=clock.now() - timedelta(minutes=65 - 5 * i),
                    hidden_at=clock.now() - timedelta(minutes=64 - 5 * i),
                )
            )
    page = client.get("/console/exposure").text
    assert "Time for a break" in page
    assert 'class="blocked"' in page  # 13 reveals are past the cap of 2
    case_page = client.get(f"/console/cases/{case_id}").text
    assert "Time for a break" in case_page


def test_an_administrators_cap_applies(
    client: TestClient,
    database: Database,
    settings: Settings,
    site: Site,  # noqa: F811
) -> None:
    """The caps come from the settings in force (takedown.runtime), not only the environment."""
    case_id = make_case(database, settings)
    items = [
        add_item(
            database,
            case_id,
            site.serve(f"/img/{n}.png", sample_image(n), "image/png"),
            sample_image(n),
        )
        for n in range(2)
    ]
    with database.transaction() as session:
        session.add(
            RuntimeSetting(
                key="exposure_daily_reveals", value=1, updated_by="admin", updated_at=NINE
            )
        )
    _, csrf = sign_in(client, database, Role.ANALYST)
    statuses = [
        client.post(
            f"/console/items/{item_id}/reveal",
            headers={"X-CSRF-Token": csrf},
            follow_redirects=False,
        ).status_code
        for item_id in items
    ]
    assert statuses == [303, 403]
    assert "1 / 1" in client.get("/console/exposure").text
