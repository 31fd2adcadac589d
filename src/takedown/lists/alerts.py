"""Domain alerts: tell a TLD's registry when material is confirmed under a domain it runs.

A registry cannot remove a file, but it can look at the domain under its own policy (many
suspend names registered to distribute child sexual abuse material). When a case is
confirmed, ``cases.service.transition`` enqueues the ``lists.domain_alert`` job; the job
sends the registry of the domain's TLD one notice of kind ``domain_alert`` through the
ordinary notice channels (e-mail or signed webhook, the ``notices.send`` job), at most once
per case and registry.

Who gets no alert:

* a host that is an IP address: there is no domain, so no registry;
* a host under a private public suffix (``someone.github.io``, ``x.blogspot.com``): the
  registry holds the platform's name (``github.io``), not the user's, and a notice to the
  platform is what removes the content; alerting the registry about the platform would ask it
  to weigh a name shared by everyone on it;
* a TLD no registry in the directory runs (``OrgTld``).

When: not before the host (or the hosting country's hotline) has been sent its notice. The
alert says that the host was notified, and at home the route sends nothing until the police
have cleared the case: an alert going out earlier could reach the site's operator through a
suspension and spoil an investigation. The host's notice going out wakes the job
(``notices.service.wake_domain_alert``); as a backstop it also checks again every
``WAIT_INTERVAL`` while the case is confirmed and no such notice is out, and gives up after
``GIVE_UP_AFTER`` with a timeline entry saying why. A police hold pauses the alert like any
notice (the send job checks). A domain alert is never re-noticed or escalated: it opens no
thread in ``monitoring.followup``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from takedown.cases import service as cases
from takedown.cases.models import Case, CaseState
from takedown.config import Settings
from takedown.jobs import service as jobs
from takedown.jobs.registry import JobContext, job_handler
from takedown.notices import service as notices
from takedown.notices.models import Notice, NoticeKind, NoticeStatus
from takedown.orgs import service as orgs
from takedown.orgs.models import Organization
from takedown.police import service as police
from takedown.urls import public_suffix, registered_domain

# Spelled out in cases.service too, which cannot import this module (it imports cases).
ALERT_JOB: Final = "lists.domain_alert"
WAIT_INTERVAL: Final = timedelta(hours=1)
GIVE_UP_AFTER: Final = timedelta(days=7)


@dataclass(frozen=True)
class AlertTarget:
    """The registered domain (as a registrar holds it), its TLD and the registry running it."""

    domain: str
    tld: str
    registry: Organization


def alert_target(session: Session, case: Case) -> AlertTarget | None:
    """Whom a domain alert about ``case`` goes to, or None when nobody should get one."""
    if case.registered_domain is None:
        return None  # an IP address
    domain = registered_domain(case.host, icann_only=True)
    suffix = public_suffix(case.host, icann_only=True)
    if domain is None or suffix is None or domain != case.registered_domain:
        return None  # under a private suffix: the platform's name, not the site's
    # The registry of "co.uk" may be listed under "uk": the nearest listed suffix wins.
    labels = suffix.split(".")
    for start in range(len(labels)):
        tld = ".".join(labels[start:])
        registry = orgs.registry_for_tld(session, tld)
        if registry is not None:
            return AlertTarget(domain=domain, tld=tld, registry=registry)
    return None


def host_notified(session: Session, case_id: uuid.UUID) -> bool:
    """Whether a notice to the host (or a forward to its country's hotline) went out."""
    found = session.scalar(
        select(Notice.id)
        .where(
            Notice.case_id == case_id,
            Notice.kind.in_(notices.HOST_NOTICE_KINDS),
            Notice.status == NoticeStatus.SENT,
        )
        .limit(1)
    )
    return found is not None


def alert_case(
    session: Session, case: Case, *, settings: Settings, now: datetime, since: datetime
) -> Notice | datetime | None:
    """Alert the registry about ``case`` if it is due; returns the alert made, or the time
    to look again (the host has not been notified yet), or None when there is nothing to do.

    Idempotent: a registry that has an alert about the case (queued, held, sent) gets no
    second one, so the job may run any number of times.
    """
    if case.state is not CaseState.CONFIRMED or case.removed_at is not None:
        return None
    target = alert_target(session, case)
    if target is None:
        return None
    registry = target.registry
    if notices.earlier_notice(
        session, case.id, NoticeKind.DOMAIN_ALERT, registry.id, registry.name
    ):
        return None
    # In a route with several groups one may be notified while police still deconflict
    # another: the registry hears nothing until police have had their say.
    if not host_notified(session, case.id) or police.police_steps(session, case.id):
        if now - since < GIVE_UP_AFTER:
            return now + WAIT_INTERVAL
        cases.add_event(
            session,
            case,
            "domain_alert_skipped",
            f"No domain alert to {registry.name} (.{target.tld}): no notice to the host "
            f"went out within {GIVE_UP_AFTER.days} days of confirmation",
            actor="system",
            at=now,
            data={"registry_id": str(registry.id), "domain": target.domain},
        )
        return None
    return notices.create_notice(
        session,
        case,
        kind=NoticeKind.DOMAIN_ALERT,
        org=registry,
        org_name=registry.name,
        country=registry.country,
        settings=settings,
        now=now,
    )


@job_handler(ALERT_JOB)
def send_domain_alert(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Alert the registry of a confirmed case's domain, once the host has been notified.

    Payload: ``case_id``; ``since`` (ISO time of the first run) is added when the job waits,
    so the wait is bounded however often it runs.
    """
    case = ctx.session.get(Case, uuid.UUID(payload["case_id"]))
    if case is None:
        return
    now = ctx.clock.now()
    since = datetime.fromisoformat(payload["since"]) if "since" in payload else now
    outcome = alert_case(ctx.session, case, settings=ctx.settings, now=now, since=since)
    if isinstance(outcome, datetime):
        jobs.enqueue(
            ctx.session,
            ALERT_JOB,
            {"case_id": str(case.id), "since": since.isoformat()},
            run_at=outcome,
        )
