"""TLD hopping: a new case flagged when its name was confirmed under another suffix.

Names are fictional, under the reserved and example TLDs (``.test``, ``.example``) and the
PSL's ``co.uk``; nothing is fetched.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from takedown.auth.principal import PUBLIC
from takedown.cases import service as cases
from takedown.cases.models import Case, CaseEvent, CaseState, Priority
from takedown.config import Settings
from takedown.intake import service as intake
from takedown.intake.schemas import ReportIn
from takedown.lists import hopping
from takedown.lists.hopping import candidate_patterns, edit_distance_at_most_one, split_domain
from takedown.urls import parse_url
from tests.factories import ACTOR, NOW

LATER = NOW + timedelta(days=3)


def earlier_case(
    session: Session, url: str, state: CaseState = CaseState.CONFIRMED, *, via: bool = False
) -> Case:
    """A case at ``url`` in ``state``; ``via`` walks it there through the state machine."""
    parsed = parse_url(url)
    case = Case(
        url_sha256=parsed.sha256,
        canonical_url=parsed.url,
        url=url,
        host=parsed.host,
        registered_domain=parsed.registered_domain,
        state=CaseState.AWAITING_ASSESSMENT if via else state,
        priority=Priority.PUBLIC,
        first_reported_at=NOW,
        last_reported_at=NOW,
        due_at=NOW + timedelta(hours=24),
        report_count=1,
        created_at=NOW,
    )
    session.add(case)
    session.flush()
    if via:
        cases.transition(session, case, CaseState.CONFIRMED, ACTOR, now=NOW)
        if state is CaseState.CLOSED:
            cases.transition(session, case, CaseState.CLOSED, ACTOR, now=NOW)
        session.flush()
    return case


def report(session: Session, settings: Settings, url: str) -> uuid.UUID:
    result = intake.submit_one(session, settings, PUBLIC, ReportIn(url=url), now=LATER)
    assert result.case_id is not None
    return result.case_id


def flags(session: Session, case_id: uuid.UUID) -> list[CaseEvent]:
    query = select(CaseEvent).where(
        CaseEvent.case_id == case_id, CaseEvent.kind == hopping.EVENT_KIND
    )
    return list(session.scalars(query).all())


# -- the distance ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "near"),
    [
        ("badsite", "badsite", True),
        ("badsite", "badsife", True),  # one replaced
        ("badsite", "badsites", True),  # one added at the end
        ("badsite", "bbadsite", True),  # one added at the start
        ("badsite", "badite", True),  # one removed
        ("badsite", "adsite", True),
        ("badsite", "badstie", False),  # a swap is two edits
        ("badsite", "badsitess", False),
        ("badsite", "goodsite", False),
        ("", "a", True),
        ("", "ab", False),
        ("abcd", "abdc", False),
    ],
)
def test_edit_distance_at_most_one(a: str, b: str, near: bool) -> None:
    assert edit_distance_at_most_one(a, b) is near
    assert edit_distance_at_most_one(b, a) is near


def test_a_name_splits_at_its_public_suffix() -> None:
    name = split_domain("badsite.co.uk")
    assert name is not None
    assert (name.label, name.suffix) == ("badsite", "co.uk")


def test_candidates_share_the_first_two_characters_and_a_length_within_one() -> None:
    assert candidate_patterns("badsite") == ["ba____.%", "ba_____.%", "ba______.%"]
    # Never shorter than the shortest label compared.
    assert candidate_patterns("bads") == ["ba__.%", "ba___.%"]
    # LIKE's wildcards in a name are matched literally.
    assert candidate_patterns("a_%bc") == ["a\\___.%", "a\\____.%", "a\\_____.%"]


# -- flagged on intake -----------------------------------------------------------------------


def test_the_same_name_under_another_tld_is_flagged_with_the_earlier_cases(
    db: Session, settings: Settings
) -> None:
    first = earlier_case(db, "http://www.badsite.example/a.html")
    second = earlier_case(db, "http://badsite.example/b.html", CaseState.CLOSED, via=True)
    other = earlier_case(db, "http://cdn.badsite.co.uk/c.jpg")

    case_id = report(db, settings, "http://badsite.test/gallery/1.html")

    [flag] = flags(db, case_id)
    assert flag.actor == "system"
    assert flag.at == LATER
    assert "badsite.co.uk" in flag.message
    assert "badsite.example" in flag.message
    assert "TLD hopping" in flag.message
    assert flag.data["domains"] == ["badsite.co.uk", "badsite.example"]
    assert set(flag.data["case_ids"]) == {str(first.id), str(second.id), str(other.id)}
    assert flag.data["case_count"] == 3
    assert flag.data["label"] == "badsite"


def test_a_name_one_edit_away_under_another_tld_is_flagged(db: Session, settings: Settings) -> None:
    earlier = earlier_case(db, "http://badsite.example/a.html")

    case_id = report(db, settings, "http://badsites.test/1.html")

    [flag] = flags(db, case_id)
    assert "badsite.example" in flag.message
    assert "near name" in flag.message
    assert flag.data["case_ids"] == [str(earlier.id)]


def test_only_the_same_registered_domain_is_not_a_hop(db: Session, settings: Settings) -> None:
    earlier_case(db, "http://www.badsite.test/a.html")

    case_id = report(db, settings, "http://badsite.test/other.html")

    assert flags(db, case_id) == []


def test_a_near_name_under_the_same_suffix_is_not_a_hop(db: Session, settings: Settings) -> None:
    earlier_case(db, "http://badsite.test/a.html")

    case_id = report(db, settings, "http://badsites.test/1.html")

    assert flags(db, case_id) == []


def test_short_names_are_not_compared(db: Session, settings: Settings) -> None:
    earlier_case(db, "http://abc.example/a.html")
    earlier_case(db, "http://abcd.example/a.html")

    # A three-letter label is never flagged, and never links to a three-letter one.
    assert flags(db, report(db, settings, "http://abc.test/1.html")) == []
    assert [f.data["domains"] for f in flags(db, report(db, settings, "http://abcd.test/"))] == [
        ["abcd.example"]
    ]


@pytest.mark.parametrize(
    "state", [CaseState.NEW, CaseState.AWAITING_ASSESSMENT, CaseState.NOT_ILLEGAL]
)
def test_earlier_cases_not_confirmed_are_not_linked(
    db: Session, settings: Settings, state: CaseState
) -> None:
    earlier_case(db, "http://badsite.example/a.html", state)

    case_id = report(db, settings, "http://badsite.test/1.html")

    assert flags(db, case_id) == []


def test_a_case_closed_without_confirmation_is_not_linked(db: Session, settings: Settings) -> None:
    earlier_case(db, "http://badsite.example/a.html", CaseState.CLOSED)

    assert flags(db, report(db, settings, "http://badsite.test/1.html")) == []


def test_an_existing_case_reported_again_is_not_flagged(db: Session, settings: Settings) -> None:
    earlier_case(db, "http://badsite.example/a.html")
    case_id = report(db, settings, "http://badsite.test/1.html")

    again = report(db, settings, "http://badsite.test/1.html")

    assert again == case_id
    assert len(flags(db, case_id)) == 1


def test_a_bulk_report_asks_once_for_all_its_names(db: Session, settings: Settings) -> None:
    earlier_case(db, "http://badsite.example/a.html")
    earlier_case(db, "http://othersite.example/a.html")
    urls = [f"http://badsite.test/{n}.html" for n in range(20)] + [
        f"http://othersite.test/{n}.html" for n in range(20)
    ]
    selects: list[str] = []

    def count(conn: object, cursor: object, statement: str, *args: object) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "LIKE" in statement.upper():
            selects.append(statement)

    engine = db.get_bind()
    event.listen(engine, "before_cursor_execute", count)
    try:
        results = intake.submit(db, settings, PUBLIC, [ReportIn(url=u) for u in urls], now=LATER)
    finally:
        event.remove(engine, "before_cursor_execute", count)

    assert len(selects) == 1
    flagged = {r.case_id for r in results if r.case_id is not None and flags(db, r.case_id)}
    assert len(flagged) == 40
