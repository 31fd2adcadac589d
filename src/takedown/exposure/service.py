"""How much unknown material each analyst was shown today, against the daily caps.

Looking at abuse material harms the people who do it, so hotlines cap it (the IWF: at most
five hours a day, with hourly breaks). Exposure is counted per user per UTC day from
``ItemReveal`` rows: how many reveals, and how long they were open, each counted for at most
``exposure_reveal_max_seconds`` (a tab left open is not a person looking). Blurred previews
do not count: they are what makes it possible to look less.

The caps are the settings' plus any ``ExposureExtension`` a supervisor granted for the day.
Past ``exposure_warn_ratio`` of either cap the console warns; at a cap reveals are refused
until a supervisor extends it. Every function takes the ``settings`` to apply, so runtime
overrides (an effective ``Settings``) can be passed in without changing anything here.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from takedown.audit import service as audit
from takedown.auth.models import Role, User
from takedown.auth.permissions import ROLE_PERMISSIONS
from takedown.auth.principal import Permission, Principal
from takedown.config import Settings
from takedown.errors import Forbidden, NotFound, ValidationFailed
from takedown.exposure.models import ExposureExtension, ItemReveal

# A pause this long without any reveal counts as a break (the reminder starts over).
BREAK_GAP: Final = timedelta(minutes=10)
# Bounds on one extension: generous, but a typo must not lift the cap for good.
MAX_EXTRA_REVEALS: Final = 1000
MAX_EXTRA_MINUTES: Final = 600
MAX_REASON: Final = 2000


class ExposureStatus(StrEnum):
    OK = "ok"
    WARN = "warn"
    BLOCKED = "blocked"


class ExposureBlocked(Forbidden):
    """A reveal refused because the viewer reached a daily cap."""

    title = "Daily exposure cap reached"


@dataclass(frozen=True)
class Exposure:
    """One user's figures for one UTC day, the caps that apply and what follows from them."""

    day: date
    reveals: int
    seconds: int
    reveal_cap: int
    minute_cap: int
    extra_reveals: int
    extra_minutes: int
    status: ExposureStatus
    # Revealing without a break of BREAK_GAP for longer than exposure_break_interval.
    break_due: bool
    # Minutes since the current run of reveals began (0 when on a break).
    streak_minutes: int

    @property
    def minutes(self) -> int:
        return self.seconds // 60

    @property
    def blocked(self) -> bool:
        return self.status is ExposureStatus.BLOCKED

    @property
    def warn(self) -> bool:
        return self.status is ExposureStatus.WARN

    @property
    def reveals_left(self) -> int:
        return max(self.reveal_cap - self.reveals, 0)

    @property
    def minutes_left(self) -> int:
        return max(self.minute_cap * 60 - self.seconds, 0) // 60

    @property
    def extended(self) -> bool:
        return bool(self.extra_reveals or self.extra_minutes)


@dataclass(frozen=True)
class AnalystExposure:
    user: User
    exposure: Exposure


def utc_day(now: datetime) -> date:
    return now.astimezone(UTC).date()


def day_start(now: datetime) -> datetime:
    return datetime.combine(utc_day(now), time.min, tzinfo=UTC)


def viewing_limit(reveal: ItemReveal, settings: Settings) -> datetime:
    """When a reveal times out if nobody hides it."""
    return reveal.revealed_at + timedelta(seconds=settings.exposure_reveal_max_seconds)


def viewing_end(reveal: ItemReveal, settings: Settings, now: datetime) -> datetime:
    """When a reveal stopped counting: hidden, timed out, or now if it is still open."""
    return min(reveal.hidden_at or now, viewing_limit(reveal, settings), now)


def is_open(reveal: ItemReveal, settings: Settings, now: datetime) -> bool:
    """Whether the sharp image may still be shown for this reveal."""
    return reveal.hidden_at is None and now < viewing_limit(reveal, settings)


def _streak_start(
    reveals: Sequence[ItemReveal], settings: Settings, now: datetime
) -> datetime | None:
    """When the current run of reveals began, or None if the last one ended a break ago."""
    start: datetime | None = None
    last_end: datetime | None = None
    for reveal in sorted(reveals, key=lambda r: r.revealed_at):
        end = viewing_end(reveal, settings, now)
        if last_end is None or reveal.revealed_at - last_end >= BREAK_GAP:
            start = reveal.revealed_at
        last_end = end if last_end is None else max(last_end, end)
    if last_end is None or now - last_end >= BREAK_GAP:
        return None
    return start


def summarize(
    reveals: Sequence[ItemReveal],
    extensions: Iterable[ExposureExtension],
    settings: Settings,
    now: datetime,
) -> Exposure:
    """The figures from one user's recent reveals (see ``recent_since``) and today's extensions."""
    start = day_start(now)
    today = [r for r in reveals if r.revealed_at >= start]
    seconds = sum(
        max((viewing_end(r, settings, now) - r.revealed_at).total_seconds(), 0.0) for r in today
    )
    day = utc_day(now).isoformat()
    granted = [e for e in extensions if e.day == day]
    extra_reveals = sum(e.extra_reveals for e in granted)
    extra_minutes = sum(e.extra_minutes for e in granted)
    reveal_cap = settings.exposure_daily_reveals + extra_reveals
    minute_cap = settings.exposure_daily_minutes + extra_minutes
    whole_seconds = int(seconds)
    ratio = settings.exposure_warn_ratio
    if len(today) >= reveal_cap or whole_seconds >= minute_cap * 60:
        status = ExposureStatus.BLOCKED
    elif len(today) >= ratio * reveal_cap or whole_seconds >= ratio * minute_cap * 60:
        status = ExposureStatus.WARN
    else:
        status = ExposureStatus.OK
    streak = _streak_start(reveals, settings, now)
    streak_seconds = (now - streak).total_seconds() if streak else 0.0
    return Exposure(
        day=utc_day(now),
        reveals=len(today),
        seconds=whole_seconds,
        reveal_cap=reveal_cap,
        minute_cap=minute_cap,
        extra_reveals=extra_reveals,
        extra_minutes=extra_minutes,
        status=status,
        break_due=streak_seconds > settings.exposure_break_interval.total_seconds(),
        streak_minutes=int(streak_seconds // 60),
    )


def recent_since(settings: Settings, now: datetime) -> datetime:
    """How far back reveals are read: the whole UTC day, and far enough back to see whether
    the current run of reveals is longer than the break interval (a run that began before
    this bound has a reveal inside it that began before ``now - break_interval``)."""
    run = settings.exposure_break_interval + BREAK_GAP
    run += timedelta(seconds=settings.exposure_reveal_max_seconds)
    return min(day_start(now), now - run)


def exposures(
    session: Session, user_ids: Sequence[uuid.UUID], settings: Settings, now: datetime
) -> dict[uuid.UUID, Exposure]:
    """Today's figures of several users, in two queries."""
    if not user_ids:
        return {}
    reveals = session.scalars(
        select(ItemReveal).where(
            ItemReveal.user_id.in_(user_ids), ItemReveal.revealed_at >= recent_since(settings, now)
        )
    ).all()
    extensions = session.scalars(
        select(ExposureExtension).where(
            ExposureExtension.user_id.in_(user_ids),
            ExposureExtension.day == utc_day(now).isoformat(),
        )
    ).all()
    return {
        user_id: summarize(
            [r for r in reveals if r.user_id == user_id],
            [e for e in extensions if e.user_id == user_id],
            settings,
            now,
        )
        for user_id in user_ids
    }


def exposure_of(
    session: Session, user_id: uuid.UUID, settings: Settings, now: datetime
) -> Exposure:
    return exposures(session, [user_id], settings, now)[user_id]


def check_reveal_allowed(exposure: Exposure) -> None:
    """Refuse a reveal at a cap; the message says which cap and who can lift it."""
    if not exposure.blocked:
        return
    if exposure.reveals >= exposure.reveal_cap:
        reached = f"{exposure.reveals} of {exposure.reveal_cap} reveals"
    else:
        reached = f"{exposure.minutes} of {exposure.minute_cap} minutes of viewing"
    raise ExposureBlocked(
        f"You have reached today's exposure cap ({reached}). Take a break; a supervisor can "
        "extend the cap for today if this work cannot wait."
    )


def _assessor_roles() -> list[Role]:
    return [role for role, held in ROLE_PERMISSIONS.items() if Permission.CASES_ASSESS in held]


def team(session: Session, settings: Settings, now: datetime) -> list[AnalystExposure]:
    """Every active user who can reveal (their role can assess), with today's figures;
    the most exposed first, so a supervisor sees who needs attention."""
    users = session.scalars(
        select(User)
        .where(User.is_active.is_(True), User.role.in_(_assessor_roles()))
        .order_by(User.username)
    ).all()
    figures = exposures(session, [u.id for u in users], settings, now)
    rows = [AnalystExposure(u, figures[u.id]) for u in users]
    return sorted(rows, key=lambda r: (-r.exposure.seconds, -r.exposure.reveals, r.user.username))


def _count(value: str | int, name: str, maximum: int) -> int:
    try:
        number = int(str(value).strip() or "0")
    except ValueError:
        raise ValidationFailed(f"{name} must be a whole number") from None
    if not 0 <= number <= maximum:
        raise ValidationFailed(f"{name} must be between 0 and {maximum}")
    return number


def extend(
    session: Session,
    actor: Principal,
    user_id: uuid.UUID,
    *,
    extra_reveals: str | int,
    extra_minutes: str | int,
    reason: str,
    now: datetime,
) -> ExposureExtension:
    """A supervisor lets ``user_id`` go past today's caps; audited with the reason."""
    if not actor.can(Permission.CASES_SUPERVISE):
        raise Forbidden("only supervisors can extend an exposure cap")
    if actor.user_id == user_id:
        # A cap that its holder can lift is no cap: another supervisor has to decide.
        raise Forbidden("you cannot extend your own exposure cap; ask another supervisor")
    target = session.get(User, user_id)
    if target is None:
        raise NotFound(f"no user {user_id}")
    reveals = _count(extra_reveals, "Extra reveals", MAX_EXTRA_REVEALS)
    minutes = _count(extra_minutes, "Extra minutes", MAX_EXTRA_MINUTES)
    if reveals == 0 and minutes == 0:
        raise ValidationFailed("give extra reveals, extra minutes or both")
    why = reason.strip()
    if not why:
        raise ValidationFailed("a reason is required")
    if len(why) > MAX_REASON:
        raise ValidationFailed(f"the reason is longer than {MAX_REASON} characters")
    row = ExposureExtension(
        user_id=target.id,
        day=utc_day(now).isoformat(),
        extra_reveals=reveals,
        extra_minutes=minutes,
        reason=why,
        granted_by=actor.label,
        granted_at=now,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor,
        "exposure.extend",
        "user",
        target.id,
        at=now,
        details={
            "username": target.username,
            "day": row.day,
            "extra_reveals": reveals,
            "extra_minutes": minutes,
            "extension_id": str(row.id),
        },
        note=why,
    )
    return row


@dataclass(frozen=True)
class Overview:
    """The exposure page: the viewer's own figures, and the team's for supervisors."""

    mine: Exposure
    team: list[AnalystExposure] | None


def overview(session: Session, viewer: Principal, settings: Settings, now: datetime) -> Overview:
    if viewer.user_id is None:
        raise Forbidden("exposure is counted for signed-in staff members")
    mine = exposure_of(session, viewer.user_id, settings, now)
    supervising = viewer.can(Permission.CASES_SUPERVISE)
    return Overview(mine, team(session, settings, now) if supervising else None)
