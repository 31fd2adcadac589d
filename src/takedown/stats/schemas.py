"""The statistics API's answers (documented in OpenAPI)."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field

from takedown.stats.scorecards import Scorecard
from takedown.stats.service import Figures
from takedown.stats.timings import Timing


class TimingOut(BaseModel):
    """Seconds from the first report to an event, over a cohort of cases. Cases where it had
    not happened by the period's end count in ``cases`` (and every share's denominator) but
    not in ``happened``; median and p90 are nearest-rank, ``null`` when they fall on such a
    case (or there are no cases)."""

    cases: int
    happened: int
    median_seconds: int | None
    p90_seconds: int | None
    within_24h: int
    within_3d: int
    share_within_24h: float | None = Field(description="within_24h / cases")
    share_within_3d: float | None = Field(description="within_3d / cases")

    @classmethod
    def of(cls, timing: Timing) -> TimingOut:
        return cls(
            cases=timing.cases,
            happened=timing.happened,
            median_seconds=timing.median,
            p90_seconds=timing.p90,
            within_24h=timing.within_24h,
            within_3d=timing.within_3d,
            share_within_24h=timing.share_24h,
            share_within_3d=timing.share_3d,
        )


class PeriodOut(BaseModel):
    kind: str
    label: str
    start: datetime = Field(description="included, UTC")
    end: datetime = Field(description="excluded, UTC")


class OrgNoticesOut(BaseModel):
    organization: str
    org_id: uuid.UUID | None
    notices: int
    renotices: int
    escalations: int


class StatsOut(BaseModel):
    """Every figure of a period; the README's "Statistics" section says what each counts."""

    period: PeriodOut
    counts: dict[str, int] = Field(
        description="reports_received, cases_opened, duplicates_folded, assessed_by_person, "
        "assessed_automatically, confirmed, not_illegal, notices_sent, renotices, escalations, "
        "list_entries_added, list_entries_withdrawn, appeals_filed, reveals"
    )
    to_assessment: TimingOut
    to_first_notice: TimingOut
    to_removal: TimingOut
    notices_by_organization: list[OrgNoticesOut]
    list_size_at_end: int
    appeals_decided: dict[str, int]
    reveals_per_day: float
    items_captured: int
    items_never_shown: int
    share_never_shown: float | None
    from_daily_aggregates: list[str] = Field(
        description="counts read, for some days, from the daily aggregates"
    )

    @classmethod
    def of(cls, figures: Figures) -> StatsOut:
        p = figures.period
        return cls(
            period=PeriodOut(kind=p.kind, label=p.label, start=p.start, end=p.end),
            counts=figures.counts,
            to_assessment=TimingOut.of(figures.to_assessment),
            to_first_notice=TimingOut.of(figures.to_notice),
            to_removal=TimingOut.of(figures.to_removal),
            notices_by_organization=[
                OrgNoticesOut(
                    organization=o.organization,
                    org_id=o.org_id,
                    notices=o.notices,
                    renotices=o.renotices,
                    escalations=o.escalations,
                )
                for o in figures.notices_by_org
            ],
            list_size_at_end=figures.list_size,
            appeals_decided=figures.appeals,
            reveals_per_day=figures.reveals_per_day,
            items_captured=figures.items_captured,
            items_never_shown=figures.items_never_shown,
            share_never_shown=figures.share_never_shown,
            from_daily_aggregates=figures.from_aggregates,
        )


class ScorecardOut(BaseModel):
    """One hosting provider's cases first reported in the period, and their removal."""

    org_id: uuid.UUID
    organization: str
    to_removal: TimingOut
    renoticed: int = Field(description="cases that needed a re-notice")
    escalated: int = Field(description="cases that were escalated along the trace")

    @classmethod
    def of(cls, card: Scorecard) -> ScorecardOut:
        return cls(
            org_id=card.org_id,
            organization=card.organization,
            to_removal=TimingOut.of(card.to_removal),
            renoticed=card.renoticed,
            escalated=card.escalated,
        )


class ScorecardList(BaseModel):
    period: PeriodOut
    providers: list[ScorecardOut]
