"""Settings an administrator changes in the console, over the environment's.

Only the settings in ``EDITABLE`` can be changed here: deadlines, exposure caps, four-eyes
actions, the list guard and re-notices. Secrets, addresses and anything a process reads once at
start stay in the environment. A change is a ``RuntimeSetting`` row, validated against the
field's type and constraints in ``Settings`` (plus the few extra bounds below), and audited.

Code that should follow an administrator's change asks ``effective(session, settings)`` for the
settings in force instead of using the process's settings directly; intake does so for the
deadline of new cases.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Annotated, Any, Final

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import JSON, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from takedown.audit import service as audit
from takedown.auth.principal import Principal
from takedown.config import Settings
from takedown.db.base import Base
from takedown.errors import NotFound, ValidationFailed

logger = logging.getLogger(__name__)


class RuntimeSetting(Base):
    """A setting an administrator changed in the console; it overrides the environment's.

    Only the settings named in ``EDITABLE`` can be stored here (deadlines,
    exposure caps, the four-eyes actions...); secrets and addresses stay in the environment.
    """

    __tablename__ = "runtime_settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    updated_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime]


@dataclass(frozen=True)
class Editable:
    """A setting the console may change: its key in ``Settings`` and what people read."""

    key: str
    label: str
    help: str


EDITABLE: Final[tuple[Editable, ...]] = (
    Editable(
        "deadline_immediate_danger",
        "Deadline: child may be in immediate danger",
        "Time from the first report to assessment. Applies to cases opened after the change.",
    ),
    Editable("deadline_police", "Deadline: police reports", "As above, for reports by police."),
    Editable(
        "deadline_trusted", "Deadline: trusted flaggers", "As above, for trusted flaggers' reports."
    ),
    Editable("deadline_public", "Deadline: public reports", "As above, for the public's reports."),
    Editable(
        "exposure_daily_reveals",
        "Reveals per analyst per day",
        "At this many reveals an analyst is blocked until a supervisor extends the day.",
    ),
    Editable(
        "exposure_daily_minutes",
        "Viewing minutes per analyst per day",
        "At this much viewing time an analyst is blocked until a supervisor extends the day.",
    ),
    Editable(
        "exposure_warn_ratio",
        "Warn at this share of a cap",
        "A number above 0 and at most 1; 0.8 warns at 80 % of either cap.",
    ),
    Editable(
        "exposure_break_interval",
        "Break reminder interval",
        "How long an analyst works with unknown material before the console asks for a break.",
    ),
    Editable(
        "four_eyes_actions",
        "Actions that need a second person",
        "Names separated by commas; leave a name out to let one person decide it alone.",
    ),
    Editable(
        "list_guard_max_added",
        "List guard: most entries added per version",
        "A list version adding more waits for a supervisor's approval.",
    ),
    Editable(
        "list_guard_max_removed",
        "List guard: most entries removed per version",
        "A list version removing more waits for a supervisor's approval.",
    ),
    Editable(
        "renotice_after",
        "Re-notice after",
        "Content still online and unanswered this long after a notice is noticed again.",
    ),
    Editable(
        "max_renotices",
        "Re-notices before escalation",
        "After this many re-notices the case is escalated along the trace.",
    ),
)
EDITABLE_KEYS: Final = frozenset(e.key for e in EDITABLE)

# A duration typed as a number and a unit (90s, 30m, 24h, 7d) or plain seconds; anything else
# is handed to pydantic, which also reads ISO 8601 (PT24H) and HH:MM:SS.
_DURATION: Final = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$", re.IGNORECASE)
_UNIT_SECONDS: Final = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
# Settings allows any timedelta, but a deadline or interval of zero (or less) would make every
# case overdue at once or spin a loop, and more than a year is a typing mistake.
MAX_DURATION: Final = timedelta(days=365)
# The actions the console knows to ask a second person for: the default set. A name outside
# it would never be asked for, so it is refused rather than stored and silently ignored.
FOUR_EYES_KNOWN: Final = frozenset(Settings.model_fields["four_eyes_actions"].default)


class SettingsRefused(ValidationFailed):
    """One or more values were refused; ``errors`` maps each key to its message."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {m}" for k, m in errors.items()), errors=dict(errors))
        self.errors = dict(errors)


@dataclass(frozen=True)
class SettingRow:
    """One editable setting as the console shows it."""

    editable: Editable
    value: Any  # in force now
    shown: str  # the value in force, as typed into the form
    environment: str  # the environment's value, shown the same way
    override: RuntimeSetting | None


# -- parsing and showing ---------------------------------------------------------------------


@cache
def _adapter(key: str) -> TypeAdapter[Any]:
    field = Settings.model_fields[key]
    # The field's constraints (ge=1, gt=0, le=1...) come along as Annotated metadata.
    annotation: Any = field.annotation
    if field.metadata:
        return TypeAdapter(Annotated[annotation, *field.metadata])
    return TypeAdapter(annotation)


def _is_duration(key: str) -> bool:
    return Settings.model_fields[key].annotation is timedelta


def _is_names(key: str) -> bool:
    return key == "four_eyes_actions"


def parse_duration(raw: str) -> timedelta:
    """A duration as people type it (24h, 30m, 2d, 90s, 3600, PT24H), or ValidationFailed."""
    match = _DURATION.match(raw)
    try:
        if match is not None:
            return timedelta(seconds=int(match.group(1)) * _UNIT_SECONDS[match.group(2).lower()])
        value: timedelta = TypeAdapter(timedelta).validate_python(raw.strip())
    except (ValidationError, OverflowError):
        # OverflowError: more days than a timedelta holds ("99999999999999999999d").
        raise ValidationFailed(
            f"{raw.strip()!r} is not a duration such as 24h, 30m, 2d or 3600 (seconds)"
        ) from None
    return value


def format_duration(value: timedelta) -> str:
    """A duration in the largest whole unit, in the form ``parse_duration`` reads back."""
    if value.microseconds:
        return str(TypeAdapter(timedelta).dump_python(value, mode="json"))
    seconds = int(value.total_seconds())
    for unit in ("d", "h", "m"):
        size = _UNIT_SECONDS[unit]
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def show(key: str, value: Any) -> str:
    """A value of ``key`` as the form shows it."""
    if _is_duration(key):
        return format_duration(value)
    if _is_names(key):
        return ", ".join(value)
    return str(value)


def parse(key: str, raw: str) -> Any:
    """The value of ``key`` typed as ``raw``, checked as ``Settings`` checks it; else
    ValidationFailed with a message for the field."""
    if key not in EDITABLE_KEYS:
        raise ValidationFailed(f"{key} cannot be changed in the console")
    given: Any = raw.strip()
    if _is_duration(key):
        if not given:
            raise ValidationFailed("give a duration such as 24h, 30m or 2d")
        given = parse_duration(given)
        if given <= timedelta(0):
            raise ValidationFailed("a duration must be longer than zero")
        if given > MAX_DURATION:
            raise ValidationFailed(f"a duration is at most {MAX_DURATION.days} days")
    elif _is_names(key):
        names = [n for n in re.split(r"[\s,]+", given) if n]
        unknown = sorted(set(names) - FOUR_EYES_KNOWN)
        if unknown:
            known = ", ".join(sorted(FOUR_EYES_KNOWN))
            raise ValidationFailed(f"unknown actions {', '.join(unknown)}; known: {known}")
        given = tuple(dict.fromkeys(names))  # in the order typed, each once
    elif not given:
        raise ValidationFailed("give a value")
    try:
        return _adapter(key).validate_python(given)
    except ValidationError as exc:
        raise ValidationFailed(exc.errors()[0]["msg"]) from None


def _stored(key: str, value: Any) -> Any:
    """The JSON form a value is kept in (durations as ISO 8601, tuples as lists)."""
    return _adapter(key).dump_python(value, mode="json")


# -- reading ---------------------------------------------------------------------------------


def overrides(session: Session) -> dict[str, RuntimeSetting]:
    """The stored changes by key (only editable keys)."""
    rows = session.scalars(select(RuntimeSetting).where(RuntimeSetting.key.in_(EDITABLE_KEYS)))
    return {row.key: row for row in rows}


def _valid_overrides(rows: Mapping[str, RuntimeSetting]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key, row in rows.items():
        try:
            values[key] = _adapter(key).validate_python(row.value)
        except ValidationError:
            # A row written by an older version whose field changed type: the environment's
            # value holds rather than every request failing; the admin page shows the row.
            logger.warning("runtime setting %s holds an invalid value; ignored", key)
    return values


def effective(session: Session, settings: Settings) -> Settings:
    """The settings in force: the environment's, with the administrators' changes over them."""
    values = _valid_overrides(overrides(session))
    return settings.model_copy(update=values) if values else settings


def rows(session: Session, settings: Settings) -> list[SettingRow]:
    """Every editable setting with its value in force and the environment's, in page order."""
    stored = overrides(session)
    values = _valid_overrides(stored)
    result = []
    for editable in EDITABLE:
        key = editable.key
        current = values.get(key, getattr(settings, key))
        result.append(
            SettingRow(
                editable=editable,
                value=current,
                shown=show(key, current),
                environment=show(key, getattr(settings, key)),
                override=stored.get(key),
            )
        )
    return result


# -- changing --------------------------------------------------------------------------------


def update(
    session: Session,
    actor: Principal,
    settings: Settings,
    given: Mapping[str, str],
    *,
    now: datetime,
) -> list[str]:
    """Store the values ``given`` (key → text as typed) that differ from those in force.

    Every value is checked before anything is written: one bad value refuses them all
    (``SettingsRefused`` names each). Returns the keys changed; each change is audited.
    """
    errors: dict[str, str] = {}
    parsed: dict[str, Any] = {}
    for key, raw in given.items():
        try:
            parsed[key] = parse(key, raw)
        except ValidationFailed as exc:
            errors[key] = exc.message
    if errors:
        raise SettingsRefused(errors)
    stored = overrides(session)
    current = effective(session, settings)
    changed: list[str] = []
    for key, value in parsed.items():
        before = getattr(current, key)
        if value == before:
            continue
        row = stored.get(key)
        if row is None:
            row = RuntimeSetting(key=key)
            session.add(row)
        row.value = _stored(key, value)
        row.updated_by = actor.label
        row.updated_at = now
        audit.record(
            session,
            actor,
            "runtime_setting.set",
            "runtime_setting",
            key,
            at=now,
            details={"key": key, "before": _stored(key, before), "after": row.value},
        )
        changed.append(key)
    session.flush()
    return changed


def reset(session: Session, actor: Principal, key: str, *, now: datetime) -> None:
    """Forget the change to ``key``: the environment's value applies again."""
    row = overrides(session).get(key)
    if row is None:
        raise NotFound(f"{key} has not been changed in the console")
    details = {"key": key, "before": row.value}
    session.delete(row)
    session.flush()
    audit.record(
        session, actor, "runtime_setting.reset", "runtime_setting", key, at=now, details=details
    )
