"""Shapes of assessments and four-eyes approvals as the JSON API takes and shows them.

The request body carries exactly what the console's assessment form does, and
``AssessmentBody.as_form`` turns it into that form's fields, so both are checked by the one
``classification.parse_form``: the rules that tie the classification to the decision, the
bank and the whole host to the caller's role, are written once.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from takedown.assessment.approvals import ApprovalRow
from takedown.assessment.classification import ALL_ITEMS, NOTE_MAX, Decision
from takedown.assessment.models import ApprovalStatus
from takedown.cases.models import CaseState
from takedown.cases.schemas import CaseDetailOut
from takedown.textfields import Line, Text

# The schemes' codes (``classification.SCHEMES``), spelled out so the OpenAPI document lists
# them; tests/assessment/test_api.py keeps them equal to the schemes.
InhopeCode = Literal["baseline", "national", "not_illegal"]
UkCategory = Literal["A", "B", "C"]
IndustryCode = Literal["A1", "A2", "B1", "B2"]
AgeBand = Literal["0-2", "3-6", "7-10", "11-13", "14-15", "16-17"]
MediaCode = Literal["photographic", "non_photographic"]


class ClassificationIn(BaseModel):
    """The item's classification in each scheme; leave out a scheme not recorded. Confirming
    needs ``inhope`` (baseline or national) and ``media``; "not illegal" takes no grades."""

    model_config = ConfigDict(extra="forbid")

    inhope: InhopeCode | None = None
    uk_category: UkCategory | None = None
    industry: IndustryCode | None = None
    age_band: AgeBand | None = Field(default=None, description="The youngest visible.")
    media: MediaCode | None = None


class ClassificationOut(BaseModel):
    inhope: str | None = None
    uk_category: str | None = None
    industry: str | None = None
    age_band: str | None = None
    media: str | None = None


class AssessmentBody(BaseModel):
    """One analyst's decision on a case: the console's assessment form, as JSON."""

    model_config = ConfigDict(extra="forbid")

    decision: Decision = Field(
        description="confirm (illegal), not_illegal, or second_opinion (no verdict: the case "
        "is flagged for someone else)."
    )
    scope: Literal["all"] | uuid.UUID = Field(
        default=ALL_ITEMS,
        description="'all': every item left to assess; or the id of one of the case's items.",
    )
    classification: ClassificationIn = Field(default_factory=ClassificationIn)
    note: Text = Field(
        default="",
        max_length=NOTE_MAX,
        description="The reason; needed for not_illegal and second_opinion.",
    )
    bank: Line | None = Field(
        default=None,
        max_length=64,
        description="Confirm only: add the items' hashes to this enabled block-list bank "
        "(needs banks:write).",
    )
    list_host: bool = Field(
        default=False,
        description="Confirm only: the site is dedicated to the material; put the whole host "
        "on the URL list (needs lists:write; pending until a second person approves it).",
    )
    form_id: uuid.UUID | None = Field(
        default=None,
        description="A one-time id for this decision: sending the same id again does nothing "
        "(outcome 'duplicate'). Without it, every call is a new decision.",
    )

    def as_form(self) -> dict[str, str]:
        """The console form's fields for this body (``classification.parse_form`` reads them)."""
        fields = {
            "form_id": str(self.form_id or uuid.uuid4()),
            "decision": self.decision.value,
            "scope": str(self.scope),
            "note": self.note,
            **{k: v for k, v in self.classification.model_dump().items() if v is not None},
        }
        if self.bank is not None:
            fields |= {"add_to_bank": "1", "bank": self.bank}
        if self.list_host:
            fields["list_host"] = "1"
        return fields


class FiledAssessment(BaseModel):
    """The first person's decision, as filed (the body they sent, with its form id)."""

    form_id: uuid.UUID
    decision: Decision
    scope: str
    classification: ClassificationOut
    note: str
    bank: str | None
    list_host: bool


class ApprovalOut(BaseModel):
    """A decision held for a second person (four eyes), and what became of it."""

    id: uuid.UUID
    action: str = Field(description="reverse_decision or not_illegal_trusted: the first reason.")
    needs: list[str] = Field(description="Every four-eyes action the decision amounts to.")
    case_id: uuid.UUID | None
    subject: str
    reason: str
    status: ApprovalStatus
    requested_by: str
    requested_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    decision_note: str | None
    target: CaseState | None = Field(description="Where the case goes when it is approved.")
    assessment: FiledAssessment | None

    @classmethod
    def of(cls, row: ApprovalRow) -> ApprovalOut:
        approval = row.approval
        form = row.form
        target = approval.payload.get("target")
        return cls(
            id=approval.id,
            action=approval.action,
            needs=list(approval.payload.get("needs") or [approval.action]),
            case_id=approval.case_id,
            subject=approval.subject,
            reason=approval.reason,
            status=approval.status,
            requested_by=approval.requested_by,
            requested_at=approval.requested_at,
            decided_by=approval.decided_by,
            decided_at=approval.decided_at,
            decision_note=approval.decision_note,
            target=CaseState(target) if target else None,
            assessment=None
            if form is None
            else FiledAssessment(
                form_id=form.form_id,
                decision=form.decision,
                scope=form.scope,
                classification=ClassificationOut(**form.classification.as_dict()),
                note=form.note,
                bank=form.bank,
                list_host=form.list_host,
            ),
        )


class ApprovalList(BaseModel):
    model_config = ConfigDict(json_schema_serialization_defaults_required=True)

    total: int
    items: list[ApprovalOut]


Outcome = Literal[
    "confirmed", "not_illegal", "items", "second_opinion", "approval", "duplicate", "rejected"
]


class AssessmentOut(BaseModel):
    """What a decision did, the case as it is now, and the approval involved, if any."""

    outcome: Outcome = Field(
        description="confirmed / not_illegal: the case moved there; items: verdicts recorded, "
        "unknown items remain; second_opinion: flagged for someone else; approval: nothing "
        "done yet, a second person decides (202); duplicate: this form_id was acted on "
        "before, nothing done; rejected: the second person refused the held decision."
    )
    case: CaseDetailOut | None
    approval: ApprovalOut | None = None


class DecisionNote(BaseModel):
    """The second person's note: optional when approving, needed when rejecting."""

    model_config = ConfigDict(extra="forbid")

    note: Text = Field(default="", max_length=NOTE_MAX)
