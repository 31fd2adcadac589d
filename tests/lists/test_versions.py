"""URL list entries, versions with diffs, and the publication guard."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from takedown.auth.principal import Principal
from takedown.config import Settings
from takedown.errors import Conflict, ValidationFailed
from takedown.lists import entries, keywords, versions
from takedown.lists.models import EntryScope, EntryStatus, ListName
from takedown.lists.rows import RowError, pack, unpack
from tests.factories import ACTOR, NOW
from tests.routing.support import confirmed_case

SECOND = Principal(kind="user", id="2", label="bea")


def _add(
    db: Session, text: str, settings: Settings, *, dedicated: bool = False
) -> entries.UrlEntry:
    return entries.add_by_hand(
        db,
        text,
        reason="test",
        dedicated_site=dedicated,
        case_id=None,
        actor=ACTOR,
        now=NOW,
        settings=settings,
    )


def _publish(db: Session, settings: Settings, **kw: bool) -> versions.ListVersion | None:
    return versions.publish(db, ListName.URLS, actor=ACTOR, now=NOW, settings=settings, **kw)


def test_expressions_are_canonical_and_scoped(db: Session, settings: Settings) -> None:
    page = _add(db, "HTTP://Shop.Example.test/a/../b.html?x=1", settings)
    directory = _add(db, "shop.example.test/gallery/", settings)
    assert (page.expression, page.scope) == ("shop.example.test/b.html?x=1", EntryScope.URL)
    assert directory.scope is EntryScope.DIRECTORY
    assert page.status is directory.status is EntryStatus.ACTIVE


def test_bad_input_changes_nothing(db: Session, settings: Settings) -> None:
    with pytest.raises(ValidationFailed, match="whole host"):
        _add(db, "https://dedicated.example.test/", settings)
    with pytest.raises(ValidationFailed, match="never matches"):
        _add(db, "deep.example.test/a/b/c/d/", settings)
    with pytest.raises(ValidationFailed):
        _add(db, "http://", settings)
    assert entries.search(db) == []
    _add(db, "site.example.test/x.html", settings)
    with pytest.raises(Conflict, match="already"):
        _add(db, "http://site.example.test/x.html", settings)


def test_a_whole_host_needs_a_second_person(db: Session, settings: Settings) -> None:
    host = _add(db, "dedicated.example.test", settings, dedicated=True)
    assert (host.scope, host.status) == (EntryScope.HOST, EntryStatus.PENDING)
    assert entries.active_rows(db) == []  # pending entries are not published
    with pytest.raises(entries.FourEyesError):
        entries.approve(db, host, actor=ACTOR, now=NOW)
    entries.approve(db, host, actor=SECOND, now=NOW)
    assert (host.status, host.approved_by) == (EntryStatus.ACTIVE, "bea")
    assert [r[0] for r in entries.active_rows(db)] == ["dedicated.example.test/"]


def test_versions_number_diff_and_skip_unchanged(db: Session, settings: Settings) -> None:
    first = _add(db, "one.example.test/a.html", settings)
    v1 = _publish(db, settings)
    assert v1 is not None
    assert (v1.number, v1.entry_count, v1.added_count, v1.removed_count) == (1, 1, 1, 0)
    assert _publish(db, settings) is None  # nothing changed

    _add(db, "two.example.test/dir/", settings)
    entries.withdraw(db, first, actor=ACTOR, now=NOW, reason="content removed")
    v2 = _publish(db, settings)
    assert v2 is not None
    assert (v2.number, v2.added_count, v2.removed_count) == (2, 1, 1)
    assert [r[0] for r in unpack(v2.content)] == ["two.example.test/dir/"]
    latest, change = versions.changes_since(db, ListName.URLS, 1)
    assert latest.number == 2
    assert [r[0] for r in change.added] == ["two.example.test/dir/"]
    assert [r[0] for r in change.removed] == ["one.example.test/a.html"]
    # A withdrawn expression can be listed again (the old entry stays as history).
    again = _add(db, "one.example.test/a.html", settings)
    assert again.id != first.id


def test_guard_refuses_an_oversized_change_unless_approved(db: Session, settings: Settings) -> None:
    small = settings.model_copy(update={"list_guard_max_added": 2})
    for i in range(3):
        _add(db, f"site{i}.example.test/p.html", small)
    with pytest.raises(versions.GuardRefused) as refused:
        _publish(db, small)
    assert refused.value.extra["violations"][0]["rule"] == "too_many_added"
    assert versions.latest(db, ListName.URLS) is None
    approved = _publish(db, small, approve=True)
    assert approved is not None
    assert approved.approved_by == ACTOR.label
    assert approved.guard[0]["rule"] == "too_many_added"


def test_guard_refuses_removing_too_many(db: Session, settings: Settings) -> None:
    small = settings.model_copy(update={"list_guard_max_removed": 1})
    made = [_add(db, f"s{i}.example.test/p.html", small) for i in range(2)]
    assert _publish(db, small) is not None
    for entry in made:
        entries.withdraw(db, entry, actor=ACTOR, now=NOW, reason="gone")
    with pytest.raises(versions.GuardRefused, match="2 entries removed"):
        _publish(db, small)


@pytest.mark.parametrize(
    ("host", "rule"),
    [
        ("google.com", "protected_domain"),
        ("sites.google.com", "protected_domain"),
        ("github.io", "public_suffix"),
        ("co.uk", "public_suffix"),
    ],
)
def test_guard_protects_shared_platforms(
    db: Session, settings: Settings, host: str, rule: str
) -> None:
    entry = _add(db, host, settings, dedicated=True)
    entries.approve(db, entry, actor=SECOND, now=NOW)
    with pytest.raises(versions.GuardRefused) as refused:
        _publish(db, settings)
    assert [v["rule"] for v in refused.value.extra["violations"]] == [rule]


def test_a_page_on_a_shared_platform_is_listed_without_approval(
    db: Session, settings: Settings
) -> None:
    _add(db, "https://someone.github.io/album/page.html", settings)
    _add(db, "https://sites.google.com/view/x/", settings)
    assert _publish(db, settings) is not None


def test_protected_domains_file_replaces_the_packaged_list(
    db: Session, settings: Settings, tmp_path: Path
) -> None:
    listed = tmp_path / "protected.txt"
    listed.write_text("# ours\nexample.test\n")
    ours = settings.model_copy(update={"protected_domains_file": listed})
    entry = _add(db, "www.example.test", ours, dedicated=True)
    entries.approve(db, entry, actor=SECOND, now=NOW)
    with pytest.raises(versions.GuardRefused, match=r"www\.example\.test"):
        _publish(db, ours)


def test_case_entries_are_withdrawn_with_their_case(db: Session, settings: Settings) -> None:
    case = confirmed_case(db, "http://abroad.example.test/p.html")
    entry = entries.add_entry(
        db,
        entries.case_expression(case),
        actor=ACTOR,
        reason="hosted abroad",
        now=NOW,
        case=case,
        settings=settings,
    )
    assert entry.expression == "abroad.example.test/p.html"
    assert case.next_recheck_at == NOW + settings.list_recheck_interval
    # Listing the same URL again returns the live entry.
    assert entries.add_entry(db, entry.expression, actor=ACTOR, reason="", now=NOW) is entry
    assert entries.entries_for_url(db, "http://abroad.example.test/q.html") == []
    assert entries.entries_for_url(db, "http://abroad.example.test/p.html") == [entry]
    entries.withdraw_for_case(db, case, actor=ACTOR, now=NOW, reason="content removed")
    assert entry.status is EntryStatus.WITHDRAWN
    assert entries.case_entries(db, case.id) == []


def test_keyword_list(db: Session, settings: Settings) -> None:
    term = keywords.add(db, "  Example   Term ", "seen in reports", actor=ACTOR, now=NOW)
    assert term.term == "Example Term"
    with pytest.raises(Conflict):
        keywords.add(db, "example term", "again", actor=ACTOR, now=NOW)
    with pytest.raises(ValidationFailed):
        keywords.add(db, "x\u202ey", "bidi control", actor=ACTOR, now=NOW)
    with pytest.raises(ValidationFailed):
        keywords.add(db, "other", "  ", actor=ACTOR, now=NOW)
    version = versions.publish(db, ListName.KEYWORDS, actor=ACTOR, now=NOW, settings=settings)
    assert version is not None
    assert unpack(version.content) == [
        ("Example Term", "seen in reports", NOW.isoformat(timespec="seconds"))
    ]
    keywords.remove(db, term.id, actor=ACTOR, now=NOW + timedelta(hours=1))
    assert keywords.live(db) == []


def test_rows_keep_unusual_line_breaks_inside_fields() -> None:
    rows = [("bank", "sha256", "a" * 64, "A1\u2028note\x0c")]
    assert unpack(pack(ListName.HASHES, rows).content) == rows
    with pytest.raises(RowError):
        pack(ListName.HASHES, [("bank", "sha256", "b" * 64, "tab\there")])
