"""Importing and exporting the directory: happy paths, round trips, errors by line."""

from __future__ import annotations

import textwrap

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from takedown.audit.models import AuditRecord
from takedown.db.session import Database
from takedown.errors import PayloadTooLarge
from takedown.orgs import service as orgs
from takedown.orgs.directory import (
    MAX_BYTES,
    DirectoryFormat,
    ImportFailed,
    ImportReport,
    export_directory,
    import_directory,
)
from takedown.orgs.lookups import OrgIdentifiers
from takedown.orgs.models import Organization, OrgKind
from takedown.orgs.networks import read_revision
from tests.factories import ACTOR, NOW

from .support import ASN_A, ASN_B, NET6_A, NET_A, NET_B, directory_org

YAML = DirectoryFormat.YAML
CSV = DirectoryFormat.CSV

DIRECTORY = textwrap.dedent(
    """\
    - name: Example Hosting
      kind: hosting_provider
      country: NL
      abuse_email: abuse@hosting.example
      webhook_url: https://hooks.hosting.example/takedown
      webhook_secret: a-shared-secret-of-some-length
      language: nl
      notes: "Reacts within hours."
      asns: [64496]
      networks:
        - 192.0.2.0/24
        - 2001:db8::/32
    - name: Example CDN
      kind: cdn
      country: US
      asns: AS64497
      domains: [cdn.example]
    - name: Example Registry
      kind: registry
      country: "NO"
      tlds: [example]
    - name: Hotline NO
      kind: hotline
      country: NO
      countries: [NO, SE]
    """
)


def _import(
    session: Session, text: str, fmt: DirectoryFormat = YAML, **options: bool
) -> ImportReport:
    return import_directory(session, ACTOR, text, fmt=fmt, now=NOW, **options)


def _failed(session: Session, text: str, fmt: DirectoryFormat = YAML) -> list[str]:
    with pytest.raises(ImportFailed) as caught:
        _import(session, text, fmt)
    assert caught.value.extra["error_count"] == len(caught.value.report.errors)
    return [str(error) for error in caught.value.report.errors]


def _count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Organization)) or 0


def test_yaml_import_creates_everything(db: Session) -> None:
    report = _import(db, DIRECTORY)
    assert (report.created, report.updated, report.errors) == (4, 0, [])
    host = orgs.find_org(db, "Example Hosting")
    assert host is not None
    assert (host.language, host.webhook_secret) == ("nl", "a-shared-secret-of-some-length")
    assert orgs.org_for_ip(db, "2001:db8::1") == host
    assert orgs.org_for_asn(db, ASN_B) == orgs.find_org(db, "Example CDN")
    assert orgs.org_for_domain(db, "x.cdn.example") == orgs.find_org(db, "Example CDN")
    registry = orgs.registry_for_tld(db, "example")
    assert registry is not None
    assert registry.country == "NO"  # not YAML's false
    hotline = orgs.find_org(db, "Hotline NO")
    assert hotline is not None
    assert hotline.country == "NO"
    assert orgs.identifiers(db, hotline).countries == ("NO", "SE")
    [record] = db.scalars(select(AuditRecord).where(AuditRecord.action == "directory.import"))
    assert record.details["created"] == 4


def test_an_update_replaces_what_is_given_and_keeps_the_rest(db: Session) -> None:
    _import(db, DIRECTORY)
    report = _import(db, "- name: example hosting\n  abuse_email:\n  networks: [198.51.100.0/24]\n")
    assert (report.created, report.updated) == (0, 1)
    host = orgs.find_org(db, "Example Hosting")
    assert host is not None
    assert host.name == "example hosting"
    assert host.abuse_email is None  # given empty: cleared
    assert host.webhook_secret == "a-shared-secret-of-some-length"  # left out: kept
    assert orgs.identifiers(db, host) == OrgIdentifiers(asns=(ASN_A,), networks=(NET_B,))


def test_csv_import(db: Session) -> None:
    text = (
        "\ufeffName,Kind,Country,ASNs,Networks,Notes\n"
        'Example Hosting,hosting_provider,nl,64496 AS64497,"192.0.2.0/24, 2001:db8::/32",\n'
        "\n"
        'Example CDN,cdn,US,,,"two\nlines"\n'
    )
    report = _import(db, text, CSV)
    assert (report.created, report.errors) == (2, [])
    host = orgs.find_org(db, "Example Hosting")
    cdn = orgs.find_org(db, "Example CDN")
    assert host is not None
    assert cdn is not None
    assert orgs.identifiers(db, host) == OrgIdentifiers(
        asns=(ASN_A, ASN_B), networks=(NET_A, NET6_A)
    )
    assert cdn.notes == "two\nlines"
    # An empty kind cell keeps the kind; an empty list cell empties the set.
    _import(db, "name,kind,asns\nExample Hosting,,\n", CSV)
    assert host.kind is OrgKind.HOSTING_PROVIDER
    assert orgs.identifiers(db, host).asns == ()


@pytest.mark.parametrize("fmt", [YAML, CSV])
def test_export_then_import_round_trips(database: Database, fmt: DirectoryFormat) -> None:
    with database.transaction() as session:
        _import(session, DIRECTORY)
        exported = export_directory(session, fmt, include_secrets=True)
        for org in orgs.list_orgs(session):
            orgs.delete_org(session, ACTOR, org.id, now=NOW)
    with database.transaction() as session:
        report = _import(session, exported, fmt)
        assert (report.created, report.errors) == (4, [])
        assert export_directory(session, fmt, include_secrets=True) == exported
        host = orgs.find_org(session, "Example Hosting")
        assert host is not None
        assert host.webhook_secret == "a-shared-secret-of-some-length"
        # Importing the same file again changes nothing.
        updates = select(func.count()).where(AuditRecord.action == "org.update")
        before = session.scalar(updates)
        assert _import(session, exported, fmt).updated == 4
        assert session.scalar(updates) == before


@pytest.mark.parametrize("fmt", [YAML, CSV])
def test_exports_leave_secrets_out_unless_asked(db: Session, fmt: DirectoryFormat) -> None:
    _import(db, DIRECTORY)
    assert "a-shared-secret" not in export_directory(db, fmt)
    assert "webhook_secret" not in export_directory(db, fmt)
    assert "a-shared-secret" in export_directory(db, fmt, include_secrets=True)


def test_export_a_subset(db: Session) -> None:
    _import(db, DIRECTORY)
    text = export_directory(db, CSV, kind=OrgKind.HOTLINE)
    assert text.splitlines()[1:] == ["Hotline NO,hotline,NO,,,en,,,,,,NO SE"]
    assert "Hotline NO" in export_directory(db, YAML, country="se")


def test_errors_name_their_line_and_field(db: Session) -> None:
    text = textwrap.dedent(
        """\
        - name: Good
          kind: cdn
          country: NL
        - name: Bad
          kind: hosting_provider
          country: XX
          asns:
            - 64496
            - not-an-asn
          networks: [192.0.2.1/24]
          colour: blue
        - kind: cdn
          country: NL
        - name: New
        """
    )
    assert _failed(db, text) == [
        "line 6: country: unknown country code 'XX'",
        "line 9: asns: 'not-an-asn' is not an AS number (1 to 4294967295)",
        "line 10: networks: '192.0.2.1/24' has host bits set (the network is 192.0.2.0/24)",
        "line 11: unknown field 'colour'; fields are: name, kind, country, abuse_email, "
        "webhook_url, webhook_secret, language, notes, asns, networks, domains, tlds, countries",
        "line 12: name: missing",
        "line 14: kind: missing (needed for a new organization)",
        "line 14: country: missing (needed for a new organization)",
    ]
    assert _count(db) == 0


def test_duplicates_within_the_file_name_both_lines(db: Session) -> None:
    text = textwrap.dedent(
        """\
        - name: A
          kind: cdn
          country: NL
          asns: [64496]
          networks: [192.0.2.0/24, 2001:db8::/32]
          domains: [cdn.example]
        - name: B
          kind: cdn
          country: NL
          asns: [64497, 64496]
          networks:
            - 198.51.100.0/24
            - 192.0.2.128/25
            - 2001:db8::/32
          domains: [CDN.example]
        - name: a
          kind: cdn
          country: NL
          networks: [192.0.0.0/16]
        """
    )
    assert _failed(db, text) == [
        "line 10: asns: AS64496 is also listed on line 4",
        "line 13: networks: 192.0.2.128/25 is inside 192.0.2.0/24 of 'A' on line 5",
        "line 14: networks: 2001:db8::/32 belongs to 'A' already on line 5",
        "line 15: domains: cdn.example is also listed on line 6",
        "line 16: name: 'a' is also on line 1",
        "line 19: networks: 192.0.0.0/16 contains 192.0.2.0/24 of 'A' on line 5",
    ]


def test_conflicts_with_the_database_name_the_holder(db: Session) -> None:
    directory_org(db, "Holder", asns=[ASN_A], networks=[NET_A])
    text = "name,kind,country,asns,networks\nNew,cdn,NL,64496,192.0.2.128/25 198.51.100.0/24\n"
    assert _failed(db, text, CSV) == [
        "line 2: asns: AS64496 belongs to 'Holder' already",
        f"line 2: networks: 192.0.2.128/25 is inside {NET_A} of 'Holder'",
    ]


def test_identifiers_may_move_between_organizations_of_one_file(db: Session) -> None:
    old = directory_org(db, "Old", asns=[ASN_A], networks=[NET_A])
    text = textwrap.dedent(
        """\
        - name: New
          kind: hosting_provider
          country: DE
          asns: [64496]
          networks: [192.0.2.0/25]
        - name: Old
          networks: [192.0.2.128/25]
          asns: []
        """
    )
    report = _import(db, text)
    assert (report.created, report.updated, report.errors) == (1, 1, [])
    new = orgs.find_org(db, "New")
    assert orgs.org_for_asn(db, ASN_A) == new
    assert orgs.org_for_ip(db, "192.0.2.1") == new
    assert orgs.org_for_ip(db, "192.0.2.129") == old


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "- name: A\n  kind: [cdn\n",
            "line 3: malformed YAML: ",
        ),
        (
            "- name: A\n   kind: cdn\n",
            "line 2: malformed YAML: mapping values are not allowed",
        ),
        ("name: A\n", "line 1: the file must be a list of organizations"),
        ("- just text\n", "line 1: an organization is a mapping of fields to values"),
        ("- name: A\n  name: B\n", "line 2: name: given twice (also on line 1)"),
        ("- name: A\n  notes: [a, b]\n", "line 2: notes: expected a single value"),
        ("- name: A\n  asns: [[1]]\n", "line 2: asns: expected a list of plain values"),
        # An alias is the very node it names, so the line is the anchor's.
        ("- &x {name: A}\n- *x\n", "line 1: aliases and merge keys are not supported"),
        ("- {<<: {kind: cdn}, name: A}\n", "line 1: aliases and merge keys are not supported"),
    ],
)
def test_unreadable_yaml_names_the_line(db: Session, text: str, expected: str) -> None:
    # The start only: the wording of syntax errors differs between libyaml and pure PyYAML.
    assert any(message.startswith(expected) for message in _failed(db, text))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('name,kind\n"A,cdn\n', "line 2: malformed CSV: unexpected end of data"),
        ("name,kind,colour\nA,cdn,blue\n", "line 1: unknown column 'colour'"),
        ("kind,country\ncdn,NL\n", "line 1: the header has no 'name' column"),
        ("name,name\nA,B\n", "line 1: column 'name' given twice"),
        ('name,notes\n"A","x\ny"\nB,cdn,NL\n', "line 4: 3 cells, but the header has 2"),
        ("name,kind,country\nA,cdn,XX\n", "line 2: country: unknown country code 'XX'"),
    ],
)
def test_unreadable_csv_names_the_line(db: Session, text: str, expected: str) -> None:
    assert any(message.startswith(expected) for message in _failed(db, text, CSV))


def test_text_that_is_not_utf8_names_the_line(db: Session) -> None:
    data = b"- name: A\n  kind: cdn\n  notes: caf\xe9\n"
    assert _failed(db, data) == ["line 3: the file is not UTF-8 text"]  # type: ignore[arg-type]


def test_files_over_the_limit_are_refused_unread(db: Session) -> None:
    with pytest.raises(PayloadTooLarge):
        _import(db, "#" * (MAX_BYTES + 1))


def test_nothing_is_imported_when_anything_is_wrong(database: Database) -> None:
    with database.transaction() as session:
        directory_org(session, "Holder", asns=[64511])
        revision = read_revision(session)
    bad = DIRECTORY + "- name: Late\n  kind: cdn\n  country: NL\n  asns: [64511]\n"
    with pytest.raises(ImportFailed) as caught, database.transaction() as session:
        _import(session, bad)
    assert caught.value.message == "1 problem in the file; nothing was imported"
    assert caught.value.extra["errors"] == [
        {"line": 29, "message": "asns: AS64511 belongs to 'Holder' already"}
    ]
    with database.transaction() as session:
        assert [org.name for org in orgs.list_orgs(session)] == ["Holder"]
        assert read_revision(session) == revision


def test_partial_imports_the_good_entries(db: Session) -> None:
    directory_org(db, "Holder", country="DE", asns=[ASN_A])
    text = textwrap.dedent(
        """\
        - name: Good
          kind: cdn
          country: NL
        - name: Holder
          country: XX
          asns: []
        - name: Taker
          kind: cdn
          country: NL
          asns: [64496]
        """
    )
    report = _import(db, text, partial=True)
    assert (report.created, report.updated) == (1, 0)
    # Holder's entry failed, so it keeps its AS, and Taker cannot have it.
    assert [str(e) for e in report.errors] == [
        "line 5: country: unknown country code 'XX'",
        "line 10: asns: AS64496 belongs to 'Holder' already",
    ]
    assert sorted(org.name for org in orgs.list_orgs(db)) == ["Good", "Holder"]
    holder = orgs.find_org(db, "Holder")
    assert holder is not None
    assert holder.country == "DE"
    assert orgs.org_for_asn(db, ASN_A) == holder
