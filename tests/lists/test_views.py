"""The public pages of the URL list: the block page and the appeal form.

Hosts are fictional (``example.test``); what the tests type as hostile input is plain markup.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from takedown.app import create_app
from takedown.clock import FrozenClock
from takedown.config import Settings
from takedown.db.session import Database
from takedown.lists import appeals
from takedown.lists.models import Appeal
from tests.lists.test_appeals import BLOCKED_PAGE, HOSTILE, blocked_form
from tests.notices.support import sent_notice

ATTRIBUTE_BREAK = 'http://evil.example.test/"><img src=x onerror=alert(1)>'


def appeal_count(database: Database) -> int:
    with database.sessions() as session:
        return session.scalar(select(func.count()).select_from(Appeal)) or 0


# -- the block page ----------------------------------------------------------------------------


def test_the_block_page_says_why_where_to_get_help_and_how_to_appeal(
    client: TestClient, settings: Settings
) -> None:
    response = client.get("/blocked")
    assert response.status_code == 200
    text = response.text
    assert "Access to this page has been denied" in text
    assert "images of child sexual abuse" in text
    assert "network provider" in text
    assert settings.hotline_name in text
    assert 'href="https://www.stopitnow.org.uk/"' in text
    assert 'href="https://www.stopitnow.org/"' in text
    assert "your own sexual thoughts or behaviour" in text
    assert 'href="/appeal"' in text


def test_the_block_page_is_private_and_tracks_nobody(client: TestClient) -> None:
    response = client.get("/blocked")
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "set-cookie" not in response.headers
    assert "default-src 'self'" in response.headers["content-security-policy"]
    # Nothing is loaded from another site: the only external URLs are the help links.
    text = response.text
    assert "<script" not in text
    assert "<img" not in text
    assert "<iframe" not in text
    links = [part.split('"')[0] for part in text.split('href="')[1:]]
    assert all(link.startswith("/") or "stopitnow.org" in link for link in links)
    assert all("stopitnow" not in part for part in text.split('src="')[1:])


@pytest.mark.parametrize(
    "query",
    [
        f"url={quote(HOSTILE)}",
        "url=" + quote(ATTRIBUTE_BREAK),
        "url=http%3A%2F%2Fevil.example.test%2Fdir%2F&url=%3Cb%3E",
        "%3Cscript%3E=1",
        "url=" + "x" * 4000,
        "url=%ZZ%00%0d%0aSet-Cookie:%20a=b",
    ],
)
def test_the_block_page_works_with_any_query_and_never_echoes_it(
    client: TestClient, query: str
) -> None:
    plain = client.get("/blocked")
    response = client.get(f"/blocked?{query}")
    assert response.status_code == 200
    # Not shown at all, escaped or not: the page is the same whatever the query.
    assert response.text == plain.text
    assert "evil.example.test" not in response.text
    assert "set-cookie" not in response.headers


# -- the appeal form ---------------------------------------------------------------------------


def test_the_form_asks_for_the_fields_of_each_subject(client: TestClient) -> None:
    blocked = client.get("/appeal")
    assert blocked.status_code == 200
    assert blocked.headers["cache-control"] == "no-store"
    for name in ("url", "network", "seen_at", "contact", "reasons"):
        assert f'name="{name}"' in blocked.text
    assert 'name="notice_reference"' not in blocked.text

    notice = client.get("/appeal?subject=notice")
    for name in ("notice_reference", "urls", "contact", "reasons"):
        assert f'name="{name}"' in notice.text
    assert 'name="network"' not in notice.text

    hostile = client.get(f"/appeal?subject={quote(HOSTILE)}")
    assert hostile.status_code == 200
    assert "<script>" not in hostile.text
    assert "&lt;script" not in hostile.text
    assert 'value="blocked_url"' in hostile.text


def test_missing_fields_are_shown_beside_each_field_and_nothing_is_saved(
    client: TestClient, database: Database
) -> None:
    response = client.post("/appeal", data={"subject": "blocked_url"})
    assert response.status_code == 422
    for name in ("url", "network", "contact", "reasons"):
        assert f'id="{name}-error"' in response.text
        assert f'aria-describedby="{name}-error"' in response.text
    assert 'id="seen_at-error"' not in response.text
    assert appeal_count(database) == 0


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"url": "javascript:alert(1)"}, "url", "not a web address we can read"),
        ({"url": "http://" + "a" * 2100 + ".test/"}, "url", "at most 2048"),
        ({"contact": "not-an-address"}, "contact", "not an e-mail address"),
        ({"contact": "a@b.test\r\nBcc: c@d.test"}, "contact", "not an e-mail address"),
        ({"contact": "a@b.test, c@d.test"}, "contact", "not an e-mail address"),
        ({"contact": "a@b.test,postmaster"}, "contact", "not an e-mail address"),
        ({"contact": "pr\u00fcfer@b.test"}, "contact", "not an e-mail address"),
        ({"reasons": "x" * 5001}, "reasons", "At most 5000 characters"),
        ({"reasons": "   "}, "reasons", "Please tell us why"),
        ({"network": "n" * 201}, "network", "At most 200 characters"),
        ({"seen_at": "s" * 101}, "seen_at", "At most 100 characters"),
        ({"subject": "other"}, "subject", "Choose what your appeal is about"),
    ],
)
def test_bad_values_are_refused_beside_their_field(
    client: TestClient, database: Database, overrides: dict[str, str], field: str, message: str
) -> None:
    response = client.post("/appeal", data=blocked_form(**overrides))
    assert response.status_code == 422
    assert message in response.text
    if field != "subject":
        assert f'id="{field}-error"' in response.text
    assert appeal_count(database) == 0


def test_a_notice_appeal_needs_a_known_notice_and_at_most_twenty_urls(
    client: TestClient, database: Database, settings: Settings
) -> None:
    base = {
        "subject": "notice",
        "contact": "abuse@hosting.example.test",
        "reasons": "Removed already.",
    }
    unknown = client.post(
        "/appeal", data=base | {"notice_reference": "N-00000-00000", "urls": BLOCKED_PAGE}
    )
    assert unknown.status_code == 422
    assert "We have no notice with this reference" in unknown.text
    malformed = client.post("/appeal", data=base | {"notice_reference": HOSTILE, "urls": ""})
    assert "does not look like a notice reference" in malformed.text
    assert 'id="urls-error"' in malformed.text
    assert "<script>" not in malformed.text

    with database.transaction() as session:
        reference = sent_notice(session, settings).reference
    many = "\n".join(f"http://files.example.test/{n}" for n in range(21))
    too_many = client.post("/appeal", data=base | {"notice_reference": reference, "urls": many})
    assert too_many.status_code == 422
    assert "At most 20 addresses; you gave 21" in too_many.text
    bad_line = client.post(
        "/appeal",
        data=base | {"notice_reference": reference, "urls": f"{BLOCKED_PAGE}\nftp://x.test/"},
    )
    assert "Line 2 is not a web address" in bad_line.text
    assert appeal_count(database) == 0


def test_what_was_typed_is_shown_back_escaped(client: TestClient, database: Database) -> None:
    response = client.post(
        "/appeal",
        data=blocked_form(
            reasons=HOSTILE, network='"><script>alert(2)</script>', contact="<b>x</b>"
        ),
    )
    assert response.status_code == 422
    assert "<script>" not in response.text
    assert "<b>x</b>" not in response.text
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;</textarea>" in response.text
    assert 'value="&#34;&gt;&lt;script&gt;alert(2)&lt;/script&gt;"' in response.text
    assert appeal_count(database) == 0


def test_a_good_appeal_redirects_to_its_reference(client: TestClient, database: Database) -> None:
    response = client.post("/appeal", data=blocked_form(), follow_redirects=False)
    assert response.status_code == 303
    assert "set-cookie" not in response.headers
    done = client.get(response.headers["location"])
    assert done.status_code == 200
    assert done.headers["cache-control"] == "no-store"
    with database.sessions() as session:
        appeal = session.scalars(select(Appeal)).one()
    assert appeal.reference in done.text
    assert appeal.reference.startswith("AP-")


def test_the_confirmation_shows_only_well_formed_references(client: TestClient) -> None:
    response = client.get("/appeal/done", params={"reference": "<b>AP-1</b>"})
    assert response.status_code == 200
    assert "AP-1" not in response.text
    assert "&lt;b&gt;" not in response.text


def test_the_form_is_rate_limited_like_intake(
    settings: Settings, database: Database, clock: FrozenClock
) -> None:
    app = create_app(
        settings.model_copy(update={"public_rate_limit": 2}), database=database, clock=clock
    )
    with TestClient(app) as client:
        for _ in range(2):
            client.post("/appeal", data=blocked_form(), follow_redirects=False)
        refused = client.post("/appeal", data=blocked_form(reasons=HOSTILE))
    assert refused.status_code == 429
    assert "<script>" not in refused.text
    assert appeal_count(database) == 2
    assert appeals.MAX_URLS == 20
