"""Deadlines and caps changed in the console: checked like the settings, audited, and applied
to new cases by intake."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from takedown import runtime
from takedown.audit.models import AuditRecord
from takedown.auth.models import Role
from takedown.auth.principal import PUBLIC
from takedown.cases.models import Case
from takedown.config import Settings
from takedown.db.session import Database
from takedown.errors import NotFound, ValidationFailed
from takedown.intake import service as intake
from takedown.intake.schemas import ReportIn
from takedown.runtime import RuntimeSetting
from tests.console.support import sign_in
from tests.factories import ACTOR, NOW

PAGE = "/console/admin/settings"


def stored(database: Database) -> dict[str, object]:
    with database.transaction() as session:
        return {row.key: row.value for row in session.scalars(select(RuntimeSetting))}


def audit_rows(database: Database) -> list[tuple[str, dict[str, object]]]:
    with database.transaction() as session:
        rows = session.scalars(select(AuditRecord).order_by(AuditRecord.seq))
        return [(r.action, r.details) for r in rows if r.action.startswith("runtime_setting")]


def error_beside(html: str, key: str) -> str:
    return html.split(f'id="{key}-error">', 1)[1].split("</span>", 1)[0]


# -- parsing ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "raw", "value"),
    [
        ("deadline_public", "2h", timedelta(hours=2)),
        ("deadline_public", " 90m ", timedelta(minutes=90)),
        ("deadline_police", "3600", timedelta(hours=1)),
        ("deadline_trusted", "PT6H", timedelta(hours=6)),
        ("renotice_after", "2d", timedelta(days=2)),
        ("exposure_daily_reveals", "120", 120),
        ("exposure_warn_ratio", "0.5", 0.5),
        ("exposure_warn_ratio", "1", 1.0),
        ("max_renotices", "0", 0),
        ("four_eyes_actions", "list_host, reverse_decision", ("list_host", "reverse_decision")),
        ("four_eyes_actions", "", ()),
    ],
)
def test_values_are_read_as_people_type_them(key: str, raw: str, value: object) -> None:
    assert runtime.parse(key, raw) == value


@pytest.mark.parametrize(
    ("key", "raw", "message"),
    [
        ("deadline_public", "soon", "not a duration"),
        ("deadline_public", "", "give a duration"),
        ("deadline_public", "0", "longer than zero"),
        ("deadline_public", "400d", "at most 365 days"),
        ("exposure_daily_reveals", "0", "greater than or equal to 1"),
        ("exposure_daily_reveals", "many", "valid integer"),
        ("exposure_warn_ratio", "1.5", "less than or equal to 1"),
        ("exposure_warn_ratio", "0", "greater than 0"),
        ("max_renotices", "-1", "greater than or equal to 0"),
        ("list_guard_max_added", "", "give a value"),
        ("four_eyes_actions", "list_host, delete_everything", "unknown actions delete_everything"),
        ("secret_key", "x" * 40, "cannot be changed"),
        ("database_url", "sqlite://", "cannot be changed"),
    ],
)
def test_bad_values_are_refused_with_a_reason(key: str, raw: str, message: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        runtime.parse(key, raw)
    assert message in refused.value.message


@pytest.mark.parametrize(
    "value", [timedelta(hours=24), timedelta(minutes=90), timedelta(seconds=45), timedelta(days=3)]
)
def test_durations_are_shown_as_they_are_read(value: timedelta) -> None:
    shown = runtime.format_duration(value)
    assert runtime.parse_duration(shown) == value
    assert runtime.format_duration(timedelta(hours=24)) == "1d"


# -- the service -----------------------------------------------------------------------------


def test_effective_settings_carry_the_changes(db: Session, settings: Settings) -> None:
    assert runtime.effective(db, settings) is settings
    changed = runtime.update(
        db,
        ACTOR,
        settings,
        {"deadline_public": "2h", "exposure_daily_reveals": "150", "max_renotices": "4"},
        now=NOW,
    )
    # 150 is the value in force already: nothing to store.
    assert changed == ["deadline_public", "max_renotices"]
    effective = runtime.effective(db, settings)
    assert (effective.deadline_public, effective.max_renotices) == (timedelta(hours=2), 4)
    assert effective.deadline_for("public") == timedelta(hours=2)
    assert settings.deadline_public == timedelta(hours=24)  # the environment's, untouched

    runtime.reset(db, ACTOR, "deadline_public", now=NOW)
    assert runtime.effective(db, settings).deadline_public == timedelta(hours=24)
    with pytest.raises(NotFound):
        runtime.reset(db, ACTOR, "deadline_public", now=NOW)


def test_a_stored_value_that_no_longer_validates_is_ignored(
    db: Session, settings: Settings
) -> None:
    db.add(RuntimeSetting(key="exposure_warn_ratio", value="lots", updated_by="x", updated_at=NOW))
    db.add(RuntimeSetting(key="secret_key", value="y" * 40, updated_by="x", updated_at=NOW))
    db.flush()
    effective = runtime.effective(db, settings)
    assert effective.exposure_warn_ratio == settings.exposure_warn_ratio
    assert effective.secret_key == settings.secret_key


def test_one_bad_value_refuses_them_all(db: Session, settings: Settings) -> None:
    with pytest.raises(runtime.SettingsRefused) as refused:
        runtime.update(
            db,
            ACTOR,
            settings,
            {"deadline_public": "2h", "exposure_warn_ratio": "2", "max_renotices": "x"},
            now=NOW,
        )
    assert set(refused.value.errors) == {"exposure_warn_ratio", "max_renotices"}
    assert db.scalars(select(RuntimeSetting)).all() == []


# -- the page and intake ---------------------------------------------------------------------


def test_an_admin_changes_a_deadline_and_new_cases_get_it(
    client: TestClient, database: Database, settings: Settings
) -> None:
    _, csrf = sign_in(client, database, Role.ADMIN)
    page = client.get(PAGE)
    assert page.status_code == 200
    assert 'id="deadline_public" name="deadline_public"' in page.text
    assert 'value="1d"' in page.text

    saved = client.post(
        PAGE, data={"csrf_token": csrf, "deadline_public": "2h"}, follow_redirects=False
    )

    assert saved.status_code == 303
    assert stored(database) == {"deadline_public": "PT2H"}
    assert audit_rows(database) == [
        (
            "runtime_setting.set",
            {"key": "deadline_public", "before": "P1D", "after": "PT2H"},
        )
    ]
    shown = client.get(PAGE).text
    assert 'value="2h"' in shown
    assert "Changed by c-admin" in shown

    # A public report through the form: the case is due two hours after it.
    report = client.post("/report", data={"url": "http://new.example/page"}, follow_redirects=False)
    assert report.status_code == 303
    with database.transaction() as session:
        case = session.scalars(select(Case).where(Case.host == "new.example")).one()
        assert case.due_at == NOW + timedelta(hours=2)
        # Other priorities keep the environment's deadline.
        [result] = intake.submit(
            session,
            settings.model_copy(update={"deadline_police": timedelta(hours=24)}),
            PUBLIC,
            [ReportIn(url="http://other.example/x", immediate_danger=True)],
            now=NOW,
        )
        danger = session.get_one(Case, result.case_id)
        assert danger.due_at == NOW + settings.deadline_immediate_danger

    reset = client.post(
        f"{PAGE}/reset",
        data={"csrf_token": csrf, "key": "deadline_public"},
        follow_redirects=False,
    )
    assert reset.status_code == 303
    assert stored(database) == {}
    client.post("/report", data={"url": "http://later.example/page"})
    with database.transaction() as session:
        later = session.scalars(select(Case).where(Case.host == "later.example")).one()
        assert later.due_at == NOW + settings.deadline_public


@pytest.mark.parametrize(
    ("key", "raw", "message"),
    [
        ("deadline_public", "tomorrow", "not a duration"),
        ("deadline_immediate_danger", "-5", "not a duration"),
        ("exposure_warn_ratio", "1.5", "less than or equal to 1"),
        ("exposure_daily_minutes", "0", "greater than or equal to 1"),
        ("four_eyes_actions", "approve_myself", "unknown actions"),
    ],
)
def test_bad_values_on_the_page_show_the_error_beside_the_field_and_save_nothing(
    client: TestClient, database: Database, key: str, raw: str, message: str
) -> None:
    _, csrf = sign_in(client, database, Role.ADMIN)

    response = client.post(
        PAGE, data={"csrf_token": csrf, key: raw, "max_renotices": "5"}, follow_redirects=False
    )

    assert response.status_code == 422
    assert message in error_beside(response.text, key)
    assert f'value="{raw}"' in response.text  # kept to be corrected
    assert 'aria-invalid="true"' in response.text
    # The good value beside it was not saved either.
    assert stored(database) == {}
    assert audit_rows(database) == []


def test_only_admins_change_deadlines(client: TestClient, database: Database) -> None:
    _, csrf = sign_in(client, database, Role.SUPERVISOR)
    assert client.get(PAGE).status_code == 403
    assert client.post(PAGE, data={"csrf_token": csrf, "deadline_public": "1h"}).status_code == 403
    assert stored(database) == {}


def test_a_page_loaded_before_another_change_does_not_undo_it(
    client: TestClient, database: Database, settings: Settings
) -> None:
    _, csrf = sign_in(client, database, Role.ADMIN)
    page = client.get(PAGE).text
    assert 'name="deadline_public__shown" value="1d"' in page
    # Meanwhile another administrator shortens the public deadline.
    with database.transaction() as session:
        runtime.update(session, ACTOR, settings, {"deadline_public": "2h"}, now=NOW)

    # The first page is saved with every field as it showed them, one changed.
    form = {"csrf_token": csrf}
    for key, shown in (("deadline_public", "1d"), ("max_renotices", "2")):
        form |= {key: shown, f"{key}__shown": shown}
    form["max_renotices"] = "5"
    saved = client.post(PAGE, data=form, follow_redirects=False)

    assert saved.status_code == 303
    assert stored(database) == {"deadline_public": "PT2H", "max_renotices": 5}


@pytest.mark.parametrize("typed", ["99999999999999999999d", "soon", "-5h"])
def test_durations_that_are_not_durations_are_refused(typed: str) -> None:
    with pytest.raises(ValidationFailed):
        runtime.parse_duration(typed)
