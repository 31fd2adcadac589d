"""The case state machine: which moves are allowed."""

from __future__ import annotations

from takedown.cases.models import CaseState as S
from takedown.errors import InvalidTransition

# Later work (capture, tracing, notices, monitoring) adds states between these.
TRANSITIONS: dict[S, frozenset[S]] = {
    # NEW → CONFIRMED only automatically, when every captured item matched known material.
    S.NEW: frozenset({S.AWAITING_ASSESSMENT, S.CONFIRMED, S.CLOSED}),
    S.AWAITING_ASSESSMENT: frozenset({S.CONFIRMED, S.NOT_ILLEGAL, S.CLOSED}),
    # CONFIRMED → NOT_ILLEGAL reverses a decision (a second person agrees, by default):
    # its notices are cancelled and its list entries withdrawn (assessment.service).
    S.CONFIRMED: frozenset({S.CLOSED, S.NOT_ILLEGAL}),
    S.NOT_ILLEGAL: frozenset({S.CLOSED, S.AWAITING_ASSESSMENT}),
    # A closed case is reopened for assessment when it is reported again (the content is back).
    S.CLOSED: frozenset({S.AWAITING_ASSESSMENT}),
}

OPEN_FOR_ASSESSMENT = frozenset({S.NEW, S.AWAITING_ASSESSMENT})
# Cases whose host is traced and routed: confirmed illegal and not yet closed.
TRACEABLE = frozenset({S.CONFIRMED})


def check_transition(current: S, target: S) -> None:
    if target not in TRANSITIONS[current]:
        allowed = ", ".join(sorted(s.value for s in TRANSITIONS[current])) or "none"
        raise InvalidTransition(
            f"a case in state {current.value!r} cannot move to {target.value!r} "
            f"(allowed: {allowed})"
        )
