"""Settings from the environment: every duration takes seconds or ISO 8601, as documented."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from takedown import runtime
from takedown.config import MAX_DURATION, Settings, load_settings
from takedown.errors import ConfigurationError
from takedown.runtime import RuntimeSetting
from tests.factories import NOW

# Every field of Settings that holds a duration.
DURATIONS = sorted(
    name for name, field in Settings.model_fields.items() if field.annotation is timedelta
)


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only what a test sets: a developer's own TAKEDOWN_* variables must not leak in."""
    for name in list(os.environ):
        if name.startswith("TAKEDOWN_") and not name.startswith("TAKEDOWN_TEST_"):
            monkeypatch.delenv(name)


def test_the_duration_settings_are_found() -> None:
    # The scan above is what the other tests rely on: it must see the known durations.
    assert {"deadline_public", "trace_retry_interval", "notice_deadline"} <= set(DURATIONS)


@pytest.mark.parametrize("name", DURATIONS)
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("3600", timedelta(hours=1)),
        (" 90 ", timedelta(seconds=90)),
        ("1.5", timedelta(seconds=1.5)),
        ("0", timedelta(0)),
        ("PT1H", timedelta(hours=1)),
        ("P1DT2H", timedelta(days=1, hours=2)),
        ("01:30:00", timedelta(minutes=90)),
    ],
)
def test_every_duration_takes_seconds_or_iso_8601(
    monkeypatch: pytest.MonkeyPatch, name: str, raw: str, expected: timedelta
) -> None:
    monkeypatch.setenv(f"TAKEDOWN_{name.upper()}", raw)
    assert getattr(load_settings(), name) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("-3600", "cannot be negative"),
        ("-PT1H", "cannot be negative"),
        ("soon", "not a duration"),
        ("1h", "not a duration"),
        ("", "not a duration"),
        ("3600 s", "not a duration"),
        ("nan", "not a duration"),
        ("9" * 30, "at most"),
        ("9" * 400, "at most"),
        ("P99999999999D", "not a duration"),
        ("P4000D", "at most"),
    ],
)
@pytest.mark.parametrize("name", ["deadline_public", "trace_retry_interval"])
def test_a_bad_duration_stops_the_process_with_a_clear_message(
    monkeypatch: pytest.MonkeyPatch, name: str, raw: str, message: str
) -> None:
    monkeypatch.setenv(f"TAKEDOWN_{name.upper()}", raw)
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    assert name in str(caught.value)
    assert message in str(caught.value)


def test_durations_given_in_python_are_checked_the_same_way() -> None:
    assert Settings(deadline_public=3600).deadline_public == timedelta(hours=1)
    assert Settings(deadline_public="PT2H").deadline_public == timedelta(hours=2)
    with pytest.raises(ValueError, match="cannot be negative"):
        Settings(deadline_public=timedelta(seconds=-1))
    with pytest.raises(ValueError, match="at most"):
        Settings(notice_token_ttl=MAX_DURATION + timedelta(seconds=1))


# -- the console's runtime settings, which validate through the same fields ------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("3600", timedelta(hours=1)), ("PT1H", timedelta(hours=1)), ("2d", timedelta(days=2))],
)
def test_a_runtime_override_takes_seconds_or_iso_8601(raw: str, expected: timedelta) -> None:
    assert runtime.parse("deadline_public", raw) == expected


@pytest.mark.parametrize("stored", ["3600", 3600, "PT1H"])
def test_a_stored_runtime_override_is_read_as_the_environment_is(
    db: Session, settings: Settings, stored: object
) -> None:
    db.add(RuntimeSetting(key="deadline_public", value=stored, updated_by="admin", updated_at=NOW))
    db.flush()
    assert runtime.effective(db, settings).deadline_public == timedelta(hours=1)


@pytest.mark.parametrize("stored", ["-3600", "soon", "P4000D"])
def test_a_bad_stored_runtime_override_leaves_the_environments_value(
    db: Session, settings: Settings, stored: object
) -> None:
    db.add(RuntimeSetting(key="deadline_public", value=stored, updated_by="admin", updated_at=NOW))
    db.flush()
    assert runtime.effective(db, settings).deadline_public == settings.deadline_public
