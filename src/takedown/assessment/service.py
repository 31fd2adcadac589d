"""An analyst's assessment of a case from the console: item verdicts, the case's next state,
hashes into a bank, the whole host onto the URL list, and four eyes where configured.

One call is one transaction's worth of work and either happens whole or not at all: the view
runs it inside a savepoint, so a refusal found half-way (a bank disabled meanwhile) undoes
what was written before it.

What an assessment does, by decision:

- **confirm**: the chosen items (one, or every unknown item) become ``confirmed`` with the
  classification, and the case moves to ``confirmed`` (one illegal item makes the URL
  illegal; the analyst need not look at the rest). Confirming queues tracing
  (``cases.service.transition``).
- **not illegal**: the chosen items become ``not_illegal``. The case moves on only when no
  unknown item is left: to ``not_illegal``, or to ``confirmed`` if another item matched
  known material or was confirmed.
- **second opinion**: nothing is decided; the case is flagged in the queue, released for
  someone else, and the timeline says what to look at.

Four eyes (``settings.four_eyes_actions``): a decision that reverses the case's previous one
(``reverse_decision``) or calls a case not illegal although police, a trusted flagger or a
partner hotline reported it (``not_illegal_trusted``) is not carried out: an ``Approval``
holds it until a second person decides (``assessment.approvals``). Listing the whole host goes
through the URL list's own pending state instead (``lists.entries``), so there is one place
that says whether a host entry is approved.

Double submission: every form carries a one-time ``form_id`` that the resulting timeline event
keeps. A form seen before is a no-op; the case row is locked first (PostgreSQL), so two copies
of one form sent at once are looked at one after the other.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from takedown.assessment.classification import ALL_ITEMS, AssessmentInput, Decision, FormErrors
from takedown.assessment.models import Approval, ApprovalStatus
from takedown.assessment.queue import SECOND_OPINION
from takedown.audit import service as audit
from takedown.auth.principal import SYSTEM, Permission, Principal
from takedown.cases import service as cases
from takedown.cases.models import Case, CaseEvent, CaseItem, CaseState, ItemVerdict
from takedown.config import Settings
from takedown.errors import Conflict, Forbidden, NotFound
from takedown.intake.models import Report, ReporterSource
from takedown.lists import entries
from takedown.matching import banks
from takedown.matching import state as bank_state
from takedown.matching.models import Bank, BankEntry, BankRole
from takedown.notices import service as notices

ASSESSED: Final = "assessed"
APPROVAL_REQUESTED: Final = "approval_requested"
# A case in these states can be assessed from the console: the queue's, and a case called
# not illegal before (confirming it reverses that decision).
ASSESSABLE: Final = frozenset(
    {CaseState.AWAITING_ASSESSMENT, CaseState.NOT_ILLEGAL, CaseState.CONFIRMED}
)
# Reporters whose view of a case is expert: police, trusted flaggers, and partner hotlines
# (which have assessed the content under their own law before sending it on).
TRUSTED_SOURCES: Final = frozenset(
    {ReporterSource.POLICE, ReporterSource.TRUSTED_FLAGGER, ReporterSource.HOTLINE}
)
REVERSE_DECISION: Final = "reverse_decision"
NOT_ILLEGAL_TRUSTED: Final = "not_illegal_trusted"
LIST_HOST: Final = "list_host"
_DECIDED: Final = frozenset({CaseState.CONFIRMED, CaseState.NOT_ILLEGAL})
_SIGNALS: Final = ("md5", "sha1", "sha256", "pdq")


@dataclass(frozen=True)
class Outcome:
    """What an assessment did, for the message the analyst sees next."""

    # confirmed | not_illegal | items | second_opinion | approval | duplicate
    kind: str
    case_id: uuid.UUID
    approval_id: uuid.UUID | None = None


# -- reading ------------------------------------------------------------------------------


def lock_case(session: Session, case_id: uuid.UUID) -> Case:
    """The case, its row locked until the transaction ends (PostgreSQL; SQLite has one
    writer at a time anyway), freshly read so its state is the committed one."""
    case = session.scalars(
        select(Case)
        .where(Case.id == case_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()
    if case is None:
        raise NotFound(f"no case {case_id}")
    return case


def seen_form(session: Session, case_id: uuid.UUID, form_id: uuid.UUID) -> bool:
    """Whether a form with this id has been acted on for the case already."""
    return bool(
        session.scalar(
            select(
                exists().where(
                    CaseEvent.case_id == case_id,
                    CaseEvent.data["form_id"].as_string() == str(form_id),
                )
            )
        )
    )


def pending_approval(session: Session, case_id: uuid.UUID) -> Approval | None:
    return session.scalars(
        select(Approval)
        .where(Approval.case_id == case_id, Approval.status == ApprovalStatus.PENDING)
        .order_by(Approval.requested_at)
        .limit(1)
    ).one_or_none()


def block_list_banks(session: Session) -> list[Bank]:
    """Banks an assessment may add hashes to: enabled block lists."""
    return list(
        session.scalars(
            select(Bank).where(Bank.enabled, Bank.role == BankRole.BLOCK_LIST).order_by(Bank.name)
        )
    )


@dataclass(frozen=True)
class FormContext:
    """What a form for assessing a case offers one person: the banks they may add hashes to
    (none without banks:write), and the decision waiting for a second person, if any (then
    the case cannot be assessed until it is decided)."""

    banks: list[Bank]
    pending: Approval | None


def form_context(session: Session, viewer: Principal, case: Case) -> FormContext:
    """What the assessment form offers ``viewer`` on ``case`` (``console/assess_form.html``)."""
    return FormContext(
        banks=block_list_banks(session) if viewer.can(Permission.BANKS_WRITE) else [],
        pending=pending_approval(session, case.id),
    )


def _previous_decision(session: Session, case: Case) -> CaseState | None:
    """The state the case was last decided into (confirmed or not illegal), if ever."""
    events = session.scalars(
        select(CaseEvent)
        .where(CaseEvent.case_id == case.id, CaseEvent.kind == "state_changed")
        .order_by(CaseEvent.at.desc(), CaseEvent.id.desc())
    )
    for event in events:
        target = event.data.get("to")
        if target in {s.value for s in _DECIDED}:
            return CaseState(target)
    return None


def _reported_by_trusted(session: Session, case: Case) -> bool:
    return bool(
        session.scalar(
            select(exists().where(Report.case_id == case.id, Report.source.in_(TRUSTED_SOURCES)))
        )
    )


# -- checking -----------------------------------------------------------------------------


def _targets(session: Session, case: Case, form: AssessmentInput) -> list[CaseItem]:
    """The items the assessment applies to: unknown ones, and on a case decided not illegal
    before, the items that decision covered. Empty for a case without captured media (a text
    page, a failed capture), where the decision is about the URL itself."""
    open_verdicts = {ItemVerdict.UNKNOWN}
    if case.state is CaseState.NOT_ILLEGAL:
        open_verdicts.add(ItemVerdict.NOT_ILLEGAL)
    if case.state is CaseState.CONFIRMED:
        # Reversing a confirmation covers what people confirmed; known items stay known.
        open_verdicts.add(ItemVerdict.CONFIRMED)
    candidates = [i for i in cases.items(session, case.id) if i.verdict in open_verdicts]
    if form.scope == ALL_ITEMS:
        return candidates
    chosen = [i for i in candidates if str(i.id) == form.scope]
    if not chosen:
        raise FormErrors({"scope": "That item is not one of this case's items left to assess."})
    return chosen


def _bank(session: Session, name: str | None, targets: Sequence[CaseItem]) -> Bank | None:
    if name is None:
        return None
    found = next((b for b in block_list_banks(session) if b.name == name), None)
    if found is None:
        raise FormErrors({"bank": f"There is no enabled block-list bank named {name!r}."})
    if not targets:
        raise FormErrors({"bank": "This case has no captured items whose hashes could be added."})
    return found


def _check_state(session: Session, case: Case, form: AssessmentInput) -> None:
    if case.state not in ASSESSABLE:
        raise Conflict(
            f"This case is {case.state.label.lower()}: only cases awaiting assessment, or "
            "called not illegal before, can be assessed."
        )
    if case.state is CaseState.NOT_ILLEGAL and form.decision is Decision.NOT_ILLEGAL:
        raise Conflict("This case is not illegal already.")
    if case.state is CaseState.CONFIRMED and form.decision is Decision.CONFIRM:
        raise Conflict("This case is confirmed already.")
    if pending_approval(session, case.id) is not None:
        raise Conflict(
            "A decision on this case waits for a second person (Four eyes): it must be "
            "approved or rejected before the case is assessed again."
        )


def _case_target(
    session: Session, case: Case, form: AssessmentInput, targets: Sequence[CaseItem]
) -> CaseState | None:
    """Where the case goes after the item verdicts; None when it waits for more of them."""
    if form.decision is Decision.CONFIRM:
        return CaseState.CONFIRMED
    chosen = {i.id for i in targets}
    others = [i for i in cases.items(session, case.id) if i.id not in chosen]
    if any(i.verdict is ItemVerdict.UNKNOWN for i in others):
        return None
    if any(i.verdict in (ItemVerdict.KNOWN, ItemVerdict.CONFIRMED) for i in others):
        return CaseState.CONFIRMED
    return CaseState.NOT_ILLEGAL


def four_eyes_needed(
    session: Session, case: Case, target: CaseState | None, settings: Settings
) -> list[str]:
    """The configured four-eyes actions that moving ``case`` to ``target`` amounts to."""
    if target is None:
        return []
    needed = []
    previous = _previous_decision(session, case)
    if previous is not None and previous is not target:
        needed.append(REVERSE_DECISION)
    if target is CaseState.NOT_ILLEGAL and _reported_by_trusted(session, case):
        needed.append(NOT_ILLEGAL_TRUSTED)
    return [action for action in needed if action in settings.four_eyes_actions]


# -- acting -------------------------------------------------------------------------------


def assess(
    session: Session,
    case_id: uuid.UUID,
    form: AssessmentInput,
    actor: Principal,
    *,
    settings: Settings,
    now: datetime,
) -> Outcome:
    """Record ``actor``'s assessment of the case, or file it for a second person."""
    if form.bank:
        # The bank change log's lock comes before every other lock (see matching.state).
        bank_state.begin_change(session)
    case = lock_case(session, case_id)
    if seen_form(session, case.id, form.form_id):
        return Outcome("duplicate", case.id)
    _check_state(session, case, form)
    targets = _targets(session, case, form)
    bank = _bank(session, form.bank, targets)
    if form.decision is Decision.SECOND_OPINION:
        _second_opinion(session, case, form, targets, actor, now=now)
        return Outcome("second_opinion", case.id)
    target = _case_target(session, case, form, targets)
    needed = four_eyes_needed(session, case, target, settings)
    if needed and target is not None:
        approval = _request_approval(session, case, form, target, needed, actor, now=now)
        return Outcome("approval", case.id, approval.id)
    return _apply(session, case, form, targets, target, bank, actor, settings=settings, now=now)


def carry_out(
    session: Session, approval: Approval, actor: Principal, *, settings: Settings, now: datetime
) -> Outcome:
    """Carry out an approved assessment as ``actor`` (the second person).

    Everything is checked again: the case may have changed since the request. If it would
    now land elsewhere than the first person asked, nothing is done and the request should be
    rejected and the case assessed afresh.
    """
    form = AssessmentInput.from_payload(approval.payload["assessment"])
    if form.bank and not actor.can(Permission.BANKS_WRITE):
        raise Forbidden(
            f"This decision adds hashes to the bank {form.bank!r}: approving it needs a role "
            "that may add to banks (banks:write)."
        )
    if form.list_host and not actor.can(Permission.LISTS_WRITE):
        raise Forbidden("This decision lists a whole host: approving it needs lists:write.")
    if form.bank:
        bank_state.begin_change(session)
    if approval.case_id is None:
        raise Conflict("the approval names no case")
    case = lock_case(session, approval.case_id)
    if case.state not in ASSESSABLE:
        raise Conflict(
            f"The case is {case.state.label.lower()} now: reject this request and assess the "
            "case again if needed."
        )
    targets = _targets(session, case, form)
    bank = _bank(session, form.bank, targets)
    target = _case_target(session, case, form, targets)
    if target is None or target.value != approval.payload.get("target"):
        raise Conflict(
            "The case has changed since this decision was asked for: reject it and assess "
            "the case again."
        )
    return _apply(
        session,
        case,
        form,
        targets,
        target,
        bank,
        actor,
        settings=settings,
        now=now,
        decided_by=approval.requested_by,
    )


def _apply(
    session: Session,
    case: Case,
    form: AssessmentInput,
    targets: Sequence[CaseItem],
    target: CaseState | None,
    bank: Bank | None,
    actor: Principal,
    *,
    settings: Settings,
    now: datetime,
    decided_by: str | None = None,
) -> Outcome:
    """Write the verdicts, move the case, bank the hashes, list the host: the decision made."""
    verdict = (
        ItemVerdict.CONFIRMED if form.decision is Decision.CONFIRM else ItemVerdict.NOT_ILLEGAL
    )
    code = form.classification.code() or None
    for item in targets:
        item.verdict = verdict
        item.classification = code
        item.automatic = False
    decider = decided_by or actor.label
    added = (
        _add_to_bank(session, case, bank, targets, actor, code or "", decider, now) if bank else 0
    )
    details = {
        "form_id": str(form.form_id),
        "decision": form.decision.value,
        "items": [str(i.id) for i in targets],
        "classification": form.classification.as_dict(),
        "note": form.note,
        "decided_by": decider,
        **({"approved_by": actor.label} if decided_by else {}),
        **({"bank": bank.name, "bank_entries_added": added} if bank else {}),
    }
    what = f"{len(targets)} item(s)" if targets else "the URL"
    cases.add_event(
        session,
        case,
        ASSESSED,
        f"Assessed {what}: {form.decision.label} ({form.classification.summary()})",
        actor=actor.label,
        at=now,
        data=details,
    )
    audit.record(session, actor, "case.assess", "case", case.id, at=now, details=details)
    if target is None:
        return Outcome("items", case.id)
    _move(session, case, target, actor, form, decider, now=now)
    if form.list_host and target is CaseState.CONFIRMED:
        _list_host(session, case, form, actor, settings=settings, now=now, requested_by=decided_by)
    return Outcome(target.value, case.id)


def _move(
    session: Session,
    case: Case,
    target: CaseState,
    actor: Principal,
    form: AssessmentInput,
    decider: str,
    *,
    now: datetime,
) -> None:
    data = {"verdict": target.value, "form_id": str(form.form_id), "decided_by": decider}
    if case.state is CaseState.NOT_ILLEGAL:
        # The state machine has no direct NOT_ILLEGAL → CONFIRMED: the case is reopened and
        # decided again, both steps on the timeline.
        cases.transition(
            session,
            case,
            CaseState.AWAITING_ASSESSMENT,
            actor,
            now=now,
            note="decision reversed",
        )
    reversed_confirmation = case.state is CaseState.CONFIRMED and target is CaseState.NOT_ILLEGAL
    cases.transition(session, case, target, actor, now=now, note=form.note or None, data=data)
    if reversed_confirmation:
        # Nothing may keep acting on a decision that was reversed: no notice goes out any
        # more and the URL leaves the list (re-checks stop with the state).
        reason = "the confirmation was reversed"
        notices.cancel_open(session, case.id, reason, now=now)
        entries.withdraw_for_case(session, case, actor=actor, now=now, reason=reason)


def _add_to_bank(
    session: Session,
    case: Case,
    bank: Bank,
    items: Sequence[CaseItem],
    actor: Principal,
    classification: str,
    decider: str,
    now: datetime,
) -> int:
    """Add every hash of the confirmed items to ``bank``, so the same file is matched (and
    nobody shown it) next time. Hashes the bank holds already are skipped, not refused."""
    added = 0
    for item in items:
        for signal in _SIGNALS:
            value = getattr(item, signal)
            if value is None:
                continue
            held = session.scalar(
                select(BankEntry.id).where(
                    BankEntry.bank_id == bank.id,
                    BankEntry.signal_type == signal,
                    BankEntry.value == value,
                )
            )
            if held is not None:
                continue
            banks.add_entry(
                session,
                actor,
                bank,
                signal_type=signal,
                value=value,
                quality=item.pdq_quality if signal == "pdq" else None,
                source=f"case {case.id}",
                classification=classification,
                note=f"assessed by {decider}",
                now=now,
            )
            added += 1
    return added


def _list_host(
    session: Session,
    case: Case,
    form: AssessmentInput,
    actor: Principal,
    *,
    settings: Settings,
    now: datetime,
    requested_by: str | None = None,
) -> None:
    """Put ``host/`` on the URL list: pending until a second person approves it (four eyes,
    ``lists.entries.approve``), unless ``list_host`` is not a four-eyes action here.

    Carrying out a held decision (``requested_by``, approved by ``actor``), the requester
    proposed the host and the approver is its second person: recording the approver as the
    proposer would let the requester approve their own host.
    """
    expression = entries.parse_expression(case.host)
    if entries.live_entry(session, expression) is not None:
        return
    reason = form.note or "the site is dedicated to the material (assessment)"
    proposer = actor
    if requested_by is not None:
        proposer = Principal(kind="user", id=None, label=requested_by)
    entry = entries.add_entry(
        session, expression, actor=proposer, reason=reason, now=now, case=case, settings=settings
    )
    if requested_by is not None:
        entries.approve(session, entry, actor=actor, now=now)
    elif LIST_HOST not in settings.four_eyes_actions:
        # Configured without four eyes: the system stands in as the second person, so the
        # entry's history still says who approved it and why.
        entries.approve(session, entry, actor=SYSTEM, now=now)


def _second_opinion(
    session: Session,
    case: Case,
    form: AssessmentInput,
    targets: Sequence[CaseItem],
    actor: Principal,
    *,
    now: datetime,
) -> None:
    details = {
        "form_id": str(form.form_id),
        "items": [str(i.id) for i in targets],
        "classification": form.classification.as_dict(),
        "note": form.note,
    }
    cases.add_event(
        session,
        case,
        SECOND_OPINION,
        f"{actor.label} asks for a second opinion: {form.note}",
        actor=actor.label,
        at=now,
        data=details,
    )
    audit.record(session, actor, "case.second_opinion", "case", case.id, at=now, details=details)


def _request_approval(
    session: Session,
    case: Case,
    form: AssessmentInput,
    target: CaseState,
    needed: list[str],
    actor: Principal,
    *,
    now: datetime,
) -> Approval:
    """File the decision for a second person instead of carrying it out."""
    action = needed[0]
    approval = Approval(
        action=action,
        case_id=case.id,
        subject=f"{case.canonical_url}: {form.decision.label.lower()}",
        payload={"assessment": form.as_payload(), "target": target.value, "needs": needed},
        reason=form.note,
        status=ApprovalStatus.PENDING,
        requested_by=actor.label,
        requested_at=now,
    )
    session.add(approval)
    session.flush()
    details = {
        "form_id": str(form.form_id),
        "approval_id": str(approval.id),
        "needs": needed,
        "decision": form.decision.value,
        "target": target.value,
    }
    cases.add_event(
        session,
        case,
        APPROVAL_REQUESTED,
        f"{form.decision.label} waits for a second person ({', '.join(needed)})",
        actor=actor.label,
        at=now,
        data=details,
    )
    audit.record(
        session, actor, "approval.request", "approval", approval.id, at=now, details=details
    )
    return approval
