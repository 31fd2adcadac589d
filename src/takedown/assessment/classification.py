"""The classification schemes an analyst records on an item, and the assessment form's rules.

One item is classified in up to five schemes at once (docs/DESIGN.md, "assessment"): the INHOPE
status (baseline / nationally illegal / not illegal), the UK category (A/B/C), the industry
classification (A1/A2/B1/B2), an age band (the IWF's bands) and whether the image is
photographic. Labels are the schemes' published codes only; what each code means is in the
hotline's own assessment guidelines and is deliberately not repeated here.

This module is pure: it turns the submitted form into an ``AssessmentInput`` or a set of
field errors, without the database. What needs the database (is the item one of the case's,
is the bank a block list) is checked in ``assessment.service``.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

NOTE_MAX: Final = 5_000
# ``CaseItem.classification`` and ``BankEntry.classification`` are 64 characters.
CODE_MAX: Final = 64


@dataclass(frozen=True)
class Scheme:
    """One classification scheme: its form field, its name, and its (code, label) choices."""

    field: str
    label: str
    choices: tuple[tuple[str, str], ...]
    # The short key in an item's compact classification code (see ``Classification.code``).
    key: str

    @property
    def codes(self) -> frozenset[str]:
        return frozenset(code for code, _ in self.choices)

    def label_of(self, code: str | None) -> str:
        return dict(self.choices).get(code or "", "not recorded")


INHOPE: Final = Scheme(
    "inhope",
    "INHOPE status",
    (("baseline", "Baseline"), ("national", "Nationally illegal"), ("not_illegal", "Not illegal")),
    "inhope",
)
UK_CATEGORY: Final = Scheme(
    "uk_category", "UK category", (("A", "A"), ("B", "B"), ("C", "C")), "uk"
)
INDUSTRY: Final = Scheme(
    "industry",
    "Industry classification",
    (("A1", "A1"), ("A2", "A2"), ("B1", "B1"), ("B2", "B2")),
    "ind",
)
AGE_BAND: Final = Scheme(
    "age_band",
    "Age band (youngest visible)",
    tuple((band, band) for band in ("0-2", "3-6", "7-10", "11-13", "14-15", "16-17")),
    "age",
)
MEDIA: Final = Scheme(
    "media",
    "Imagery",
    (("photographic", "Photographic"), ("non_photographic", "Non-photographic")),
    "media",
)
SCHEMES: Final = (INHOPE, UK_CATEGORY, INDUSTRY, AGE_BAND, MEDIA)
ILLEGAL: Final = frozenset({"baseline", "national"})
# Schemes that grade illegal material: meaningless, and contradictory, on "not illegal".
_GRADES: Final = (UK_CATEGORY, INDUSTRY, AGE_BAND)


class Decision(StrEnum):
    """What the analyst decides about the items the assessment applies to."""

    CONFIRM = "confirm"
    NOT_ILLEGAL = "not_illegal"
    # No verdict: the case is flagged for someone else and stays in the queue.
    SECOND_OPINION = "second_opinion"

    @property
    def label(self) -> str:
        return {
            "confirm": "Confirm illegal",
            "not_illegal": "Not illegal",
            "second_opinion": "Needs a second opinion",
        }[self.value]


ALL_ITEMS: Final = "all"


@dataclass(frozen=True)
class Classification:
    """One item's classification in every scheme; ``None`` where the analyst recorded none."""

    inhope: str | None = None
    uk_category: str | None = None
    industry: str | None = None
    age_band: str | None = None
    media: str | None = None

    def as_dict(self) -> dict[str, str]:
        return {s.field: v for s in SCHEMES if (v := getattr(self, s.field)) is not None}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Classification:
        return cls(**{s.field: data.get(s.field) for s in SCHEMES})

    def code(self) -> str:
        """The compact form stored on the item and copied to bank entries.

        ``inhope=baseline;uk=A;ind=A1;age=3-6;media=photographic``: readable, greppable, and
        at most 62 characters with the longest choices, within the 64 of both columns. Items
        later matched through a bank entry inherit it (``cases.capture``).
        """
        return ";".join(f"{s.key}={value}" for s in SCHEMES if (value := getattr(self, s.field)))

    def summary(self) -> str:
        """For people: ``Baseline, UK A, A1, 3-6, Photographic``."""
        parts = []
        for scheme in SCHEMES:
            value = getattr(self, scheme.field)
            if value:
                label = scheme.label_of(value)
                parts.append(f"UK {label}" if scheme is UK_CATEGORY else label)
        return ", ".join(parts) or "no classification recorded"


@dataclass(frozen=True)
class AssessmentInput:
    """A validated assessment form."""

    form_id: uuid.UUID
    decision: Decision
    # ``ALL_ITEMS`` or the id of one item.
    scope: str
    classification: Classification
    note: str
    bank: str | None = None
    list_host: bool = False

    def as_payload(self) -> dict[str, Any]:
        """JSON for an approval that carries the assessment out later (``from_payload``)."""
        return {
            "form_id": str(self.form_id),
            "decision": self.decision.value,
            "scope": self.scope,
            "classification": self.classification.as_dict(),
            "note": self.note,
            "bank": self.bank,
            "list_host": self.list_host,
        }

    @classmethod
    def from_payload(cls, data: Mapping[str, Any]) -> AssessmentInput:
        return cls(
            form_id=uuid.UUID(str(data["form_id"])),
            decision=Decision(data["decision"]),
            scope=str(data["scope"]),
            classification=Classification.from_dict(data.get("classification") or {}),
            note=str(data.get("note") or ""),
            bank=data.get("bank") or None,
            list_host=bool(data.get("list_host")),
        )


class FormErrors(Exception):
    """Field name → message, for errors shown beside each field; ``form`` is the whole form."""

    def __init__(self, errors: dict[str, str]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))


def _choice(form: Mapping[str, str], scheme: Scheme, errors: dict[str, str]) -> str | None:
    value = (form.get(scheme.field) or "").strip()
    if not value:
        return None
    if value not in scheme.codes:
        errors[scheme.field] = f"Choose one of the {scheme.label} options."
        return None
    return value


def _check_decision(
    decision: Decision, found: Classification, note: str, errors: dict[str, str]
) -> Classification:
    """The rules that tie the classification to the decision; returns what is stored."""
    if decision is Decision.CONFIRM:
        if found.inhope == "not_illegal":
            errors[INHOPE.field] = "Not illegal contradicts Confirm: choose Baseline or National."
        elif found.inhope is None and INHOPE.field not in errors:
            errors[INHOPE.field] = "Confirming needs the INHOPE status (Baseline or National)."
        if found.media is None and MEDIA.field not in errors:
            errors[MEDIA.field] = "Confirming needs photographic or non-photographic."
        return found
    if decision is Decision.NOT_ILLEGAL:
        if found.inhope in ILLEGAL:
            errors[INHOPE.field] = "Baseline or National contradicts Not illegal."
        for scheme in _GRADES:
            if getattr(found, scheme.field) is not None:
                errors[scheme.field] = f"A {scheme.label} grades illegal material: clear it."
        if not note:
            errors["note"] = "Say why it is not illegal (the reason is kept and shown)."
        return Classification(inhope="not_illegal", media=found.media)
    if not note:
        errors["note"] = "Say what a second person should look at."
    return found


def parse_form(form: Mapping[str, str], *, may_bank: bool, may_list_host: bool) -> AssessmentInput:
    """Validate the assessment form; ``FormErrors`` with every problem at once.

    ``may_bank`` / ``may_list_host``: whether the viewer's role holds banks:write and
    lists:write. The form hides those options from roles without them; a submission that
    carries them anyway is refused rather than silently ignored.
    """
    errors: dict[str, str] = {}
    try:
        form_id = uuid.UUID(form.get("form_id") or "")
    except ValueError:
        errors["form"] = "The form is out of date: reload the case and assess again."
        form_id = uuid.UUID(int=0)
    raw_decision = (form.get("decision") or "").strip()
    decision = Decision(raw_decision) if raw_decision in set(Decision) else None
    if decision is None:
        errors["decision"] = "Choose Confirm, Not illegal or Needs a second opinion."
    scope = (form.get("scope") or "").strip() or ALL_ITEMS
    if scope != ALL_ITEMS:
        try:
            scope = str(uuid.UUID(scope))
        except ValueError:
            errors["scope"] = "Choose all unknown items or one of them."
    found = Classification(**{s.field: _choice(form, s, errors) for s in SCHEMES})
    note = (form.get("note") or "").strip()
    if len(note) > NOTE_MAX:
        errors["note"] = f"At most {NOTE_MAX} characters."
    bank = (form.get("bank") or "").strip() if form.get("add_to_bank") else ""
    list_host = bool(form.get("list_host"))
    if form.get("add_to_bank"):
        if not may_bank:
            errors["bank"] = "Your role cannot add hashes to a bank (it needs banks:write)."
        elif not bank:
            errors["bank"] = "Choose the block-list bank to add the hashes to."
        elif decision is not None and decision is not Decision.CONFIRM:
            errors["bank"] = "Only confirmed items go into a block-list bank."
    if list_host:
        if not may_list_host:
            errors["list_host"] = "Your role cannot add to the URL list (it needs lists:write)."
        elif decision is not None and decision is not Decision.CONFIRM:
            errors["list_host"] = "Only a confirmed case can have its whole host listed."
    if decision is not None:
        found = _check_decision(decision, found, note, errors)
    if errors or decision is None:
        raise FormErrors(errors)
    return AssessmentInput(
        form_id=form_id,
        decision=decision,
        scope=scope,
        classification=found,
        note=note,
        bank=bank or None,
        list_host=list_host,
    )
