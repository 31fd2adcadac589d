"""Notice e-mails: languages, wording per kind, what they must contain, escaping, legal basis."""

from __future__ import annotations

from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest

from takedown.errors import ConfigurationError
from takedown.notices.documents import KINDS
from takedown.notices.legal import legal_basis
from takedown.notices.render import (
    RenderedEmail,
    human_datetime,
    human_duration,
    render_email,
    template_language,
)

from .support import ANSWER_URL, NOW, REFERENCE, content, item, settings

LANGUAGES = ("en", "nl", "de")
EU = [
    "AT",
    "BE",
    "BG",
    "CY",
    "CZ",
    "DE",
    "DK",
    "EE",
    "ES",
    "FI",
    "FR",
    "GR",
    "HR",
    "HU",
    "IE",
    "IT",
    "LT",
    "LU",
    "LV",
    "MT",
    "NL",
    "PL",
    "PT",
    "RO",
    "SE",
    "SI",
    "SK",
]


class Tags(HTMLParser):
    """The start tags of an HTML document and the href of every link."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.hrefs += [value or "" for name, value in attrs if name == "href"]


def parse_html(html: str) -> Tags:
    parser = Tags()
    parser.feed(html)
    parser.close()
    return parser


def render(**overrides: object) -> RenderedEmail:
    return render_email(content(**overrides), settings())


# -- languages ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "heading", "subject_word"),
    [
        ("en", "WHAT WE ASK", "Notice"),
        ("nl", "WAT WIJ VRAGEN", "Melding"),
        ("de", "WORUM WIR BITTEN", "Meldung"),
    ],
)
def test_written_in_the_recipients_language(language: str, heading: str, subject_word: str) -> None:
    rendered = render(language=language)

    assert heading in rendered.text
    assert subject_word in rendered.subject
    assert f'<html lang="{language}">' in rendered.html


@pytest.mark.parametrize(
    ("asked", "used"),
    [("fr", "en"), ("nl-BE", "nl"), ("DE", "de"), ("de_AT", "de"), ("", "en"), ("../en", "en")],
)
def test_language_falls_back_to_english(asked: str, used: str) -> None:
    assert template_language(asked) == used
    rendered = render(language=asked)
    assert f'<html lang="{used}">' in rendered.html


# -- every kind, every language ----------------------------------------------------------------

KIND_WORDING = {
    "notice": "Your service hosts it.",
    "renotice": "This is a reminder.",
    "escalation": "You receive this notice because your service is used by the site",
    "forward": "as the hotline for Netherlands",
    "police_referral": "for assessment and possible investigation",
    "domain_alert": "as its registrar or registry",
}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("language", LANGUAGES)
def test_every_kind_renders_in_every_language(kind: str, language: str) -> None:
    rendered = render(
        kind=kind,
        language=language,
        first_noticed_at=NOW - timedelta(days=1),
        previous_notice_references=["N-AAAAA-BBBBB"],
    )

    for part in (rendered.subject, rendered.text, rendered.html):
        assert REFERENCE in part
    assert "\n" not in rendered.subject
    if language == "en":
        assert KIND_WORDING[kind] in rendered.text


def test_kinds_are_worded_differently() -> None:
    texts = {kind: render(kind=kind).text for kind in KINDS}
    subjects = {kind: render(kind=kind).subject for kind in KINDS}

    assert len(set(texts.values())) == len(KINDS)
    assert len(set(subjects.values())) == len(KINDS)


def test_renotice_names_the_earlier_notice_and_the_time_passed() -> None:
    rendered = render(
        kind="renotice",
        first_noticed_at=NOW - timedelta(days=2, hours=3),
        previous_notice_references=["N-AAAAA-BBBBB", "N-CCCCC-DDDDD"],
    )

    for part in (rendered.text, rendered.html):
        assert "N-AAAAA-BBBBB, N-CCCCC-DDDDD" in part
        assert "Friday 20 November 2026, 06:00 UTC" in part
        assert "2 days and 3 hours ago" in part
    assert "Reminder" in rendered.subject


def test_escalation_says_why_the_recipient_gets_it() -> None:
    reason = "You are the upstream network of AS64500, which hosts the site."
    with_reason = render(kind="escalation", escalation_reason=reason)
    without = render(kind="escalation")

    assert reason in with_reason.text
    assert reason in with_reason.html
    assert "your service is used by the site" in without.text
    assert "Why you" not in without.text


# -- what a notice must say --------------------------------------------------------------------


def test_notice_has_reference_locations_hashes_and_classification() -> None:
    notice = content()
    rendered = render_email(notice, settings())

    for part in (rendered.text, rendered.html):
        assert REFERENCE in part
        for url in notice.urls:
            assert url in part
        for entry in notice.items:
            assert entry.sha256 in part
            assert entry.md5 is not None
            assert entry.md5 in part
            assert entry.sha1 is not None
            assert entry.sha1 in part
        assert "A2" in part  # the most severe classification
        assert "no images are attached" in part
    assert "<img" not in rendered.html


def test_deadline_is_given_in_utc_iso_and_in_words() -> None:
    for language, words in [
        ("en", "Monday 23 November 2026, 09:00 UTC"),
        ("nl", "maandag 23 november 2026, 09:00 UTC"),
        ("de", "Montag, 23. November 2026, 09:00 UTC"),
    ]:
        rendered = render(language=language)
        for part in (rendered.text, rendered.html):
            assert "2026-11-23T09:00:00Z" in part
            assert words in part


def test_how_to_answer_links_and_reply_by_email() -> None:
    rendered = render()

    kinds = ["acknowledged", "removed", "cannot_act", "dispute"]
    links = [f"{ANSWER_URL}?answer={kind}" for kind in kinds]
    for link in links:
        assert link in rendered.text
    assert parse_html(rendered.html).hrefs[:4] == links
    assert f"quoting the reference {REFERENCE}" in rendered.text
    assert "hotline@hotline.example.com" in rendered.text


def test_without_answer_link_only_the_reply_is_offered() -> None:
    rendered = render(answer_url=None)

    assert "?answer=" not in rendered.text
    assert "Reply to this e-mail" in rendered.text


def test_reply_to_overrides_the_hotline_address() -> None:
    rendered = render(reply_to="cases@hotline.example.com")

    assert "(cases@hotline.example.com)" in rendered.text


@pytest.mark.parametrize(("removal", "preservation"), [(True, False), (True, True), (False, True)])
def test_asks_only_what_is_asked(removal: bool, preservation: bool) -> None:
    rendered = render(asks_removal=removal, asks_preservation=preservation)

    assert ("Remove the content" in rendered.text) is removal
    assert ("Preserve evidence" in rendered.text) is preservation
    assert ("Preserve evidence" in rendered.html) is preservation


# -- escaping ----------------------------------------------------------------------------------


def test_values_from_outside_are_inert_in_html() -> None:
    url = 'http://files.example.com/x?q="><script>alert(1)</script>'
    rendered = render(
        urls=[url],
        recipient_name="Evil <b>Hosting</b> & Co",
        host="files.example.com",
        kind="escalation",
        escalation_reason="<img src=x onerror=alert(1)>",
        items=[item("one", "<i>B1</i>", "image/<svg>")],
    )

    tags = parse_html(rendered.html)
    assert "script" not in tags.tags
    assert "b" not in tags.tags
    assert "svg" not in tags.tags
    assert "<script>" not in rendered.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in rendered.html
    assert "Evil &lt;b&gt;Hosting&lt;/b&gt; &amp; Co" in rendered.html
    assert "&lt;img src=x onerror=alert(1)&gt;" in rendered.html
    # Reported URLs are shown, never linked.
    assert all("files.example.com" not in href for href in tags.hrefs)
    # The plain-text part shows the URL exactly as it is.
    assert url in rendered.text


def test_subject_stays_one_line_whatever_the_host() -> None:
    rendered = render(host="files.example.com\r\nBcc: someone@example.com")

    assert "\n" not in rendered.subject
    assert "\r" not in rendered.subject


# -- legal basis -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("country", "key", "cited"),
    [
        ("NL", "eu", "Digital Services Act"),
        ("de", "eu", "Directive 2011/93/EU"),
        ("GB", "gb", "Online Safety Act 2023"),
        ("US", "us", "2258A"),
        ("AU", "au", "Online Safety Act 2021"),
        ("BR", "default", "INTERPOL"),
        (None, "default", "INTERPOL"),
    ],
)
def test_legal_basis_per_jurisdiction(country: str | None, key: str, cited: str) -> None:
    basis = legal_basis(country, settings())
    rendered = render(country=country)

    assert basis.key == key
    assert cited in basis.citation
    assert basis.citation in rendered.text
    assert basis.text in rendered.text


def test_every_eu_member_state_shares_the_dsa_text() -> None:
    bases = {legal_basis(code, settings()).text for code in EU}

    assert len(bases) == 1
    assert "Article 16" in bases.pop()


@pytest.mark.parametrize("kind", ["forward", "police_referral"])
def test_hotlines_and_police_get_no_provider_legal_text(kind: str) -> None:
    rendered = render(kind=kind)

    assert "LEGAL BASIS" not in rendered.text
    assert "Digital Services Act" not in rendered.text


GOOD_FILE = """
default:
  citation: Default citation
  text: Default text.
bases:
  benelux:
    citation: Benelux citation
    text:
      en: Benelux text in English.
      nl: Benelux-tekst in het Nederlands.
    countries: [BE, NL, LU]
"""


def test_operator_file_replaces_the_packaged_one(tmp_path: Path) -> None:
    path = tmp_path / "legal.yaml"
    path.write_text(GOOD_FILE, encoding="utf-8")
    custom = settings(legal_basis_file=path)

    assert legal_basis("NL", custom, "nl").text == "Benelux-tekst in het Nederlands."
    assert legal_basis("BE", custom, "de").text == "Benelux text in English."
    assert legal_basis("GB", custom).citation == "Default citation"
    rendered = render_email(content(language="nl"), custom)
    assert "Benelux-tekst in het Nederlands." in rendered.text


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("bases: {}\n", "'default' is missing"),
        ("- a list\n", "must be a mapping"),
        ("default: {citation: C, text: T}\nextra: 1\n", "unknown key"),
        ("default: {citation: C}\n", "default.text"),
        ("default: {citation: '', text: T}\n", "default.citation"),
        ("default: {citation: C, text: {nl: T}}\n", "English"),
        (
            "default: {citation: C, text: T}\n"
            "bases: {x: {citation: C, text: T, countries: [GBR]}}\n",
            r"bases.x.countries\[0\]",
        ),
        (
            "default: {citation: C, text: T}\n"
            "bases: {x: {citation: C, text: T, countries: [gb]}}\n",
            "ISO 3166-1",
        ),
        (
            "default: {citation: C, text: T}\n"
            "bases: {x: {citation: C, text: T, countries: [GB]},"
            " y: {citation: C, text: T, countries: [GB]}}\n",
            "already in bases.x",
        ),
        ("default: {citation: C, text: T}\nbases: {x: {citation: C, text: T}}\n", "countries"),
        ("default: [unclosed\n", "cannot read"),
    ],
)
def test_bad_legal_file_is_a_clear_configuration_error(
    tmp_path: Path, text: str, problem: str
) -> None:
    path = tmp_path / "legal.yaml"
    path.write_text(text, encoding="utf-8")

    with pytest.raises(ConfigurationError, match=problem) as caught:
        legal_basis("NL", settings(legal_basis_file=path))
    assert str(path) in caught.value.message


def test_missing_legal_file_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot read the legal basis file"):
        render_email(content(), settings(legal_basis_file=tmp_path / "nowhere.yaml"))


def test_an_edited_legal_file_is_read_again(tmp_path: Path) -> None:
    path = tmp_path / "legal.yaml"
    path.write_text("default: {citation: First, text: T}\n", encoding="utf-8")
    custom = settings(legal_basis_file=path)
    assert legal_basis("NL", custom).citation == "First"

    path.write_text("default: {citation: Second edition, text: T}\n", encoding="utf-8")

    assert legal_basis("NL", custom).citation == "Second edition"


# -- words for times ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "delta", "words"),
    [
        ("en", timedelta(days=2, hours=3, minutes=5), "2 days and 3 hours"),
        ("en", timedelta(hours=1), "1 hour"),
        ("en", timedelta(minutes=45), "45 minutes"),
        ("nl", timedelta(days=1, hours=2), "1 dag en 2 uur"),
        ("de", timedelta(days=2, hours=1), "2 Tagen und 1 Stunde"),
        ("de", timedelta(seconds=20), "0 Minuten"),
        ("fr", timedelta(days=3), "3 days"),
    ],
)
def test_durations_in_words(language: str, delta: timedelta, words: str) -> None:
    assert human_duration(delta, language) == words


def test_dates_in_words() -> None:
    assert human_datetime(NOW, "en") == "Sunday 22 November 2026, 09:00 UTC"
    assert human_datetime(NOW, "nl") == "zondag 22 november 2026, 09:00 UTC"
    assert human_datetime(NOW, "de") == "Sonntag, 22. November 2026, 09:00 UTC"
