"""The figures of a seeded month, each computed here from the seed's description."""

from __future__ import annotations

import math
import uuid
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from takedown.intake.models import ReporterSource
from takedown.orgs.models import Organization
from takedown.stats import periods, scorecards, service
from takedown.stats.filters import Filters
from tests.stats.seed import DECEMBER, NOVEMBER, SPECS, Spec, seed

MONTH = periods.parse("month", "2026-11", today=NOVEMBER.date())


def nearest_rank(durations: list[timedelta | None], q: float) -> int | None:
    """The ceil(N*q)-th of the sorted durations, "not yet" (None) sorting last."""
    if not durations:
        return None
    done = sorted(d for d in durations if d is not None)
    rank = math.ceil(len(durations) * q)
    return int(done[rank - 1].total_seconds()) if rank <= len(done) else None


def by(end: datetime, spec: Spec, after: timedelta | None) -> timedelta | None:
    return after if after is not None and spec.reported + after < end else None


def cohort(keep: set[str] | None = None) -> list[Spec]:
    return [
        s for s in SPECS if NOVEMBER <= s.reported < DECEMBER and (keep is None or s.name in keep)
    ]


def test_counts_of_the_month(db: Session) -> None:
    seed(db)
    figures = service.figures(db, MONTH, Filters())
    inside = cohort()
    decided = [s for s in SPECS if s.decided and NOVEMBER <= s.reported + s.decided < DECEMBER]
    assert figures.counts["cases_opened"] == len(inside)
    assert figures.counts["reports_received"] == len(inside) + sum(
        len(s.duplicates) for s in inside
    )
    assert figures.counts["duplicates_folded"] == sum(len(s.duplicates) for s in inside)
    assert figures.counts["assessed_by_person"] == sum(not s.by_system for s in decided)
    assert figures.counts["assessed_automatically"] == sum(s.by_system for s in decided)
    assert figures.counts["confirmed"] == sum(s.verdict == "confirmed" for s in decided)
    assert figures.counts["not_illegal"] == sum(s.verdict == "not_illegal" for s in decided)
    assert figures.counts["renotices"] == 1
    assert figures.counts["escalations"] == 1
    sent = [s for s in SPECS if s.noticed and NOVEMBER <= s.reported + s.noticed < DECEMBER]
    assert figures.counts["notices_sent"] == len(sent)
    by_org = {
        o.organization: (o.notices, o.renotices, o.escalations) for o in figures.notices_by_org
    }
    assert by_org == {"Host A": (2, 1, 0), "Host B": (1, 0, 1)}
    # Every seeded item was captured in its case's first report's minute; none was revealed.
    assert (figures.items_captured, figures.items_never_shown) == (len(inside), len(inside))


def test_times_count_cases_still_up_at_the_end_as_not_removed(db: Session) -> None:
    seed(db)
    figures = service.figures(db, MONTH, Filters())
    inside = cohort()
    assessment = [by(DECEMBER, s, s.decided) for s in inside]
    assert figures.to_assessment.cases == len(inside)
    assert figures.to_assessment.median == nearest_rank(assessment, 0.5)
    assert figures.to_assessment.p90 == nearest_rank(assessment, 0.9)

    confirmed = [s for s in inside if s.verdict == "confirmed"]
    removal = [by(DECEMBER, s, s.removed) for s in confirmed]
    # Case c came down in December: still up at the end of November, it stays in the cohort.
    assert removal.count(None) == 1
    timing = figures.to_removal
    assert timing.cases == len(confirmed)
    assert timing.happened == len(confirmed) - 1
    assert timing.median == nearest_rank(removal, 0.5) == 50 * 3600
    assert timing.p90 is None  # the 90th percentile falls on the case still up
    assert timing.within_24h == sum(d is not None and d <= timedelta(hours=24) for d in removal)
    assert timing.within_3d == sum(d is not None and d <= timedelta(days=3) for d in removal)
    assert timing.share_24h == timing.within_24h / len(confirmed)

    notice = [by(DECEMBER, s, s.noticed) for s in confirmed]
    assert figures.to_notice.median == nearest_rank(notice, 0.5)


def test_the_median_is_none_while_most_of_the_cohort_is_still_up(db: Session) -> None:
    seed(db)
    # The week of the 9th holds one confirmed case, c, still up at the week's end: it is
    # counted as not removed, so there is no median and nothing came down within 24 h.
    week = periods.parse("week", "2026-11-09", today=NOVEMBER.date())
    timing = service.figures(db, week, Filters()).to_removal
    assert (timing.cases, timing.happened, timing.median) == (1, 0, None)
    assert timing.share_24h == 0.0


def test_filters_narrow_the_cases(db: Session) -> None:
    seed(db)
    police = service.figures(db, MONTH, Filters(source=ReporterSource.POLICE))
    assert police.counts["cases_opened"] == 1
    assert police.counts["assessed_automatically"] == 1
    assert police.to_removal.median == 50 * 3600

    german = service.figures(db, MONTH, Filters(country="DE"))
    assert german.counts["cases_opened"] == len([s for s in cohort() if s.country == "DE"])

    a1 = service.figures(db, MONTH, Filters(classification="A1"))
    assert a1.counts["cases_opened"] == 1

    refused = service.figures(db, MONTH, Filters(outcome="not_illegal"))
    assert refused.counts["cases_opened"] == 1
    assert refused.counts["not_illegal"] == 1
    assert refused.counts["confirmed"] == 0

    # The report's own source counts for reports: the trusted flagger's duplicate of a.
    flagged = service.figures(db, MONTH, Filters(source=ReporterSource.TRUSTED_FLAGGER))
    assert flagged.counts["reports_received"] == 1
    assert flagged.counts["duplicates_folded"] == 1
    assert flagged.counts["cases_opened"] == 0


def test_organization_filter_and_scorecards(db: Session) -> None:
    cases = seed(db)
    host_b = service.figures(db, MONTH, Filters(organization=_org_of(db, "Host B")))
    assert host_b.counts["cases_opened"] == 1  # c: d and e never got a notice
    cards = {c.organization: c for c in scorecards.scorecards(db, MONTH)}
    assert set(cards) == {"Host A", "Host B"}
    assert cards["Host A"].to_removal.cases == 2
    assert cards["Host A"].to_removal.median == 10 * 3600
    assert cards["Host A"].to_removal.within_24h == 1
    assert cards["Host A"].renoticed == 1
    assert cards["Host B"].to_removal.median is None  # its one case was still up
    assert cards["Host B"].escalated == 1
    assert cases["c"].removed_at is not None


def _org_of(db: Session, name: str) -> uuid.UUID:
    return db.scalars(select(Organization.id).where(Organization.name == name)).one()
