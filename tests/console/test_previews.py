"""Previews and reveals of unknown items, fetched live from a local web host.

Every image is a benign generated pattern (``sandbox.images``) served on 127.0.0.1; "known"
only means that the item row says it matched a bank. The fixtures here are shared with the
other console tests (imported by name).
"""

from __future__ import annotations

import hashlib
import io
import uuid
from collections.abc import Iterator
from datetime import timedelta

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select

from takedown.audit.models import AuditRecord
from takedown.auth.models import Role, User
from takedown.auth.principal import PUBLIC
from takedown.cases.models import CaseItem, ItemVerdict
from takedown.clock import FrozenClock
from takedown.config import Settings
from takedown.db.session import Database
from takedown.exposure.models import ItemReveal
from takedown.exposure.previews import MAX_BLUR
from takedown.intake import service as intake
from takedown.intake.schemas import ReportIn
from takedown.sandbox.images import sample_image
from takedown.web.deps import SESSION_COOKIE
from tests.console.support import sign_in
from tests.factories import NOW
from tests.monitoring.support import Site
from tests.network import loopback_only

IMAGE = sample_image(3)
OTHER_IMAGE = sample_image(4)
HX = {"HX-Request": "true"}


@pytest.fixture(autouse=True)
def connections(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    return loopback_only(monkeypatch)


@pytest.fixture
def site() -> Iterator[Site]:
    served = Site().start()
    yield served
    served.close()


@pytest.fixture
def settings(settings: Settings, site: Site) -> Settings:
    """The app's settings, with the fetcher allowed to reach the local host (and only it)."""
    return settings.model_copy(update={"fetch_allow_hosts": [site.host]})


def make_case(
    database: Database,
    settings: Settings,
    url: str = "http://example.com/gallery/1",
    descriptions: tuple[str | None, ...] = (None,),
) -> uuid.UUID:
    """A case opened by public reports of ``url`` (one per description)."""
    case_id: uuid.UUID | None = None
    with database.transaction() as session:
        for text in descriptions:
            result = intake.submit_one(
                session, settings, PUBLIC, ReportIn(url=url, description=text), now=NOW
            )
            case_id = result.case_id
    assert case_id is not None
    return case_id


def add_item(
    database: Database,
    case_id: uuid.UUID,
    url: str,
    body: bytes,
    *,
    content_type: str = "image/png",
    known: bool = False,
) -> uuid.UUID:
    """An item as capture would store it: hashes of ``body``, never the bytes."""
    item = CaseItem(
        case_id=case_id,
        url=url,
        content_type=content_type,
        size=len(body),
        width=None,
        height=None,
        md5=hashlib.md5(body, usedforsecurity=False).hexdigest(),
        sha1=hashlib.sha1(body, usedforsecurity=False).hexdigest(),
        sha256=hashlib.sha256(body).hexdigest(),
        pdq=None,
        pdq_quality=None,
        verdict=ItemVerdict.KNOWN if known else ItemVerdict.UNKNOWN,
        classification="A1" if known else None,
        automatic=known,
        match=(
            {"bank": "test-known", "entry_id": 7, "signal_type": "pdq", "distance": 4}
            if known
            else {}
        ),
        captured_at=NOW,
    )
    with database.transaction() as session:
        session.add(item)
    return item.id


def png(response_content: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(response_content))
    assert image.format == "PNG"
    return image.convert("RGB")


def roughness(image: Image.Image) -> float:
    """Mean absolute Laplacian: high-frequency energy (a smooth gradient has none)."""
    a = np.asarray(image.convert("L"), dtype=float)
    laplacian = 4 * a[1:-1, 1:-1] - a[:-2, 1:-1] - a[2:, 1:-1] - a[1:-1, :-2] - a[1:-1, 2:]
    return float(np.abs(laplacian).mean())


def is_grey(image: Image.Image) -> bool:
    pixels = np.asarray(image.convert("RGB"), dtype=int)
    return bool(
        (pixels[..., 0] == pixels[..., 1]).all() and (pixels[..., 1] == pixels[..., 2]).all()
    )


def reveals(database: Database) -> list[ItemReveal]:
    with database.sessions() as session:
        return list(session.scalars(select(ItemReveal).order_by(ItemReveal.revealed_at)))


def audit_actions(database: Database, action: str) -> list[AuditRecord]:
    with database.sessions() as session:
        return list(session.scalars(select(AuditRecord).where(AuditRecord.action == action)))


@pytest.fixture
def unknown(database: Database, settings: Settings, site: Site) -> tuple[uuid.UUID, uuid.UUID]:
    """(case id, item id) of a case with one unknown image served by the local host."""
    case_id = make_case(database, settings)
    url = site.serve("/img/unknown.png", IMAGE, "image/png")
    return case_id, add_item(database, case_id, url, IMAGE)


def reveal(client: TestClient, csrf: str, item_id: uuid.UUID, **headers: str) -> uuid.UUID:
    response = client.post(
        f"/console/items/{item_id}/reveal",
        headers={"X-CSRF-Token": csrf, **headers},
        follow_redirects=False,
    )
    assert response.status_code in (200, 303), response.text
    with_id = [r for r in reveals_of(client, item_id) if r.hidden_at is None]
    assert with_id, "no open reveal after revealing"
    return with_id[-1].id


def reveals_of(client: TestClient, item_id: uuid.UUID) -> list[ItemReveal]:
    database: Database = client.app.state.takedown.database  # type: ignore[attr-defined]
    return [r for r in reveals(database) if r.item_id == item_id]


def test_the_original_is_coloured_and_sharp() -> None:
    original = png(IMAGE)
    assert not is_grey(original)
    assert roughness(original) > 1.0


def test_preview_is_grey_blurred_small_and_not_stored(
    client: TestClient,
    database: Database,
    settings: Settings,
    site: Site,
    unknown: tuple[uuid.UUID, uuid.UUID],
) -> None:
    sign_in(client, database, Role.ANALYST)
    response = client.get(f"/console/items/{unknown[1]}/preview")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    assert response.headers["cache-control"] == "no-store"
    preview = png(response.content)
    assert max(preview.size) <= settings.preview_max_side
    assert is_grey(preview)
    # Blurred on the server: far less high-frequency energy than the same-size original.
    original = png(IMAGE).resize(preview.size)
    assert roughness(preview) < 0.3 * roughness(original)
    assert site.requested == ["/img/unknown.png"]
    # Nothing was recorded as a reveal: a blurred preview does not count as exposure.
    assert reveals(database) == []


def test_reveal_is_recorded_audited_and_the_sharp_image_is_colour(
    client: TestClient, database: Database, unknown: tuple[uuid.UUID, uuid.UUID]
) -> None:
    case_id, item_id = unknown
    analyst, csrf = sign_in(client, database, Role.ANALYST)
    response = client.post(
        f"/console/items/{item_id}/reveal",
        headers={"X-CSRF-Token": csrf},
        follow_redirects=False,
    )
    # Without JavaScript: back to the case page, which shows the open reveal.
    assert response.status_code == 303
    assert response.headers["location"] == f"/console/cases/{case_id}#item-{item_id}"
    [row] = reveals(database)
    assert (row.user_id, row.item_id, row.case_id) == (analyst.id, item_id, case_id)
    assert row.hidden_at is None
    [record] = audit_actions(database, "item.reveal")
    assert record.actor_id == str(analyst.id)
    assert record.object_id == str(item_id)
    assert record.details["reveal_id"] == str(row.id)

    page = client.get(f"/console/cases/{case_id}").text
    assert f'src="/console/items/{item_id}/sharp?r={row.id}"' in page
    assert f'action="/console/items/{item_id}/hide?r={row.id}"' in page

    sharp = client.get(f"/console/items/{item_id}/sharp", params={"r": str(row.id)})
    assert sharp.status_code == 200, sharp.text
    assert sharp.headers["cache-control"] == "no-store"
    image = png(sharp.content)
    assert not is_grey(image)
    original = png(IMAGE).resize(image.size)
    assert roughness(image) > 0.8 * roughness(original)


def test_htmx_reveal_and_hide_swap_the_panel(
    client: TestClient, database: Database, unknown: tuple[uuid.UUID, uuid.UUID]
) -> None:
    _, item_id = unknown
    _, csrf = sign_in(client, database, Role.ANALYST)
    response = client.post(f"/console/items/{item_id}/reveal", headers={"X-CSRF-Token": csrf, **HX})
    assert response.status_code == 200
    [row] = reveals(database)
    assert f'<img class="preview" src="/console/items/{item_id}/sharp?r={row.id}"' in response.text
    assert '<button type="submit" class="primary" autofocus>Hide</button>' in response.text
    assert "<html" not in response.text  # a partial, not a page

    hidden = client.post(
        f"/console/items/{item_id}/hide",
        params={"r": str(row.id)},
        headers={"X-CSRF-Token": csrf, **HX},
    )
    assert hidden.status_code == 200
    assert f'src="/console/items/{item_id}/preview"' in hidden.text
    assert "/sharp" not in hidden.text
    [row] = reveals(database)
    assert row.hidden_at is not None
    refused = client.get(f"/console/items/{item_id}/sharp", params={"r": str(row.id)})
    assert refused.status_code == 403


def test_sharp_image_refuses_another_user(
    client: TestClient, database: Database, unknown: tuple[uuid.UUID, uuid.UUID]
) -> None:
    _, item_id = unknown
    _, csrf = sign_in(client, database, Role.ANALYST, "first")
    reveal_id = reveal(client, csrf, item_id)
    sign_in(client, database, Role.SUPERVISOR, "second")
    refused = client.get(f"/console/items/{item_id}/sharp", params={"r": str(reveal_id)})
    assert refused.status_code == 403
    assert refused.headers["content-type"] != "image/png"


def test_sharp_image_refuses_after_the_reveal_times_out(
    client: TestClient,
    database: Database,
    settings: Settings,
    clock: FrozenClock,
    unknown: tuple[uuid.UUID, uuid.UUID],
) -> None:
    _, item_id = unknown
    _, csrf = sign_in(client, database, Role.ANALYST)
    reveal_id = reveal(client, csrf, item_id)
    clock.advance(timedelta(seconds=settings.exposure_reveal_max_seconds))
    refused = client.get(f"/console/items/{item_id}/sharp", params={"r": str(reveal_id)})
    assert refused.status_code == 403


def test_revealing_another_item_hides_the_first(
    client: TestClient,
    database: Database,
    settings: Settings,
    site: Site,
    unknown: tuple[uuid.UUID, uuid.UUID],
) -> None:
    case_id, first = unknown
    second = add_item(
        database, case_id, site.serve("/img/other.png", OTHER_IMAGE, "image/png"), OTHER_IMAGE
    )
    _, csrf = sign_in(client, database, Role.ANALYST)
    first_reveal = reveal(client, csrf, first)
    response = client.post(f"/console/items/{second}/reveal", headers={"X-CSRF-Token": csrf, **HX})
    assert response.status_code == 200
    # The first item's panel comes back blurred, swapped out of band.
    assert f'id="item-{first}"' in response.text
    assert 'hx-swap-oob="outerHTML"' in response.text
    rows = {r.item_id: r for r in reveals(database)}
    assert rows[first].hidden_at is not None
    assert rows[second].hidden_at is None
    refused = client.get(f"/console/items/{first}/sharp", params={"r": str(first_reveal)})
    assert refused.status_code == 403
    # Revealing the open item again is not a second look.
    again = client.post(f"/console/items/{second}/reveal", headers={"X-CSRF-Token": csrf, **HX})
    assert again.status_code == 200
    assert len(reveals(database)) == 2
    assert len(audit_actions(database, "item.reveal")) == 2


def test_known_items_have_no_preview_and_cannot_be_revealed(
    client: TestClient, database: Database, settings: Settings, site: Site
) -> None:
    case_id = make_case(database, settings)
    item_id = add_item(
        database, case_id, site.serve("/img/known.png", IMAGE, "image/png"), IMAGE, known=True
    )
    _, csrf = sign_in(client, database, Role.ANALYST)
    assert client.get(f"/console/items/{item_id}/preview").status_code == 403
    refused = client.post(
        f"/console/items/{item_id}/reveal", headers={"X-CSRF-Token": csrf}, follow_redirects=False
    )
    assert refused.status_code == 403
    assert reveals(database) == []
    # A made-up reveal id gets nothing either.
    sharp = client.get(f"/console/items/{item_id}/sharp", params={"r": str(uuid.uuid4())})
    assert sharp.status_code == 403
    # Refused before any fetch: the known file was never downloaded.
    assert site.requested == []


def test_changed_content_is_refused(
    client: TestClient, database: Database, settings: Settings, site: Site
) -> None:
    case_id = make_case(database, settings)
    url = site.serve("/img/changed.png", IMAGE, "image/png")
    item_id = add_item(database, case_id, url, IMAGE)
    site.serve("/img/changed.png", OTHER_IMAGE, "image/png")  # the host swapped the file
    _, csrf = sign_in(client, database, Role.ANALYST)
    response = client.get(f"/console/items/{item_id}/preview")
    assert response.status_code == 409
    assert "SHA-256" in response.json()["detail"]
    reveal_id = reveal(client, csrf, item_id)
    assert (
        client.get(f"/console/items/{item_id}/sharp", params={"r": str(reveal_id)}).status_code
        == 409
    )


def test_removed_content_has_no_preview(
    client: TestClient, database: Database, settings: Settings, site: Site
) -> None:
    case_id = make_case(database, settings)
    item_id = add_item(database, case_id, site.url("/img/gone.png"), IMAGE)
    sign_in(client, database, Role.ANALYST)
    assert client.get(f"/console/items/{item_id}/preview").status_code == 502


def test_video_items_get_a_placeholder(
    client: TestClient, database: Database, settings: Settings, site: Site
) -> None:
    case_id = make_case(database, settings)
    body = b"\x00\x00\x00\x18ftypmp42 benign bytes"
    item_id = add_item(database, case_id, site.url("/v.mp4"), body, content_type="video/mp4")
    _, csrf = sign_in(client, database, Role.ANALYST)
    page = client.get(f"/console/cases/{case_id}").text
    assert "Takedown does not decode video" in page
    assert "<video" not in page
    assert f"/console/items/{item_id}/preview" not in page
    assert client.get(f"/console/items/{item_id}/preview").status_code == 409
    refused = client.post(
        f"/console/items/{item_id}/reveal", headers={"X-CSRF-Token": csrf}, follow_redirects=False
    )
    assert refused.status_code == 409
    assert site.requested == []


def test_reveal_needs_the_csrf_token(
    client: TestClient, database: Database, unknown: tuple[uuid.UUID, uuid.UUID]
) -> None:
    sign_in(client, database, Role.ANALYST)
    response = client.post(f"/console/items/{unknown[1]}/reveal", follow_redirects=False)
    assert response.status_code == 403
    assert reveals(database) == []


def test_reveal_works_as_a_plain_form(
    client: TestClient, database: Database, unknown: tuple[uuid.UUID, uuid.UUID]
) -> None:
    _, csrf = sign_in(client, database, Role.ANALYST)
    response = client.post(
        f"/console/items/{unknown[1]}/reveal", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert response.status_code == 303
    assert len(reveals(database)) == 1


def test_police_see_no_pixels(
    client: TestClient, database: Database, site: Site, unknown: tuple[uuid.UUID, uuid.UUID]
) -> None:
    case_id, item_id = unknown
    _, csrf = sign_in(client, database, Role.POLICE)
    assert client.get(f"/console/items/{item_id}/preview").status_code == 403
    refused = client.post(
        f"/console/items/{item_id}/reveal", headers={"X-CSRF-Token": csrf}, follow_redirects=False
    )
    assert refused.status_code == 403
    page = client.get(f"/console/cases/{case_id}")
    assert page.status_code == 200
    assert f"/console/items/{item_id}/preview" not in page.text
    assert "Previews are shown to assessors only" in page.text
    assert site.requested == []


def test_preferences_change_the_preview(
    client: TestClient, database: Database, unknown: tuple[uuid.UUID, uuid.UUID]
) -> None:
    analyst, csrf = sign_in(client, database, Role.ANALYST)
    form = client.get("/console/preferences")
    assert form.status_code == 200
    assert 'name="blur"' in form.text
    default = png(client.get(f"/console/items/{unknown[1]}/preview").content)
    saved = client.post(
        "/console/preferences",
        data={"csrf_token": csrf, "blur": str(MAX_BLUR)},
        follow_redirects=False,
    )
    assert saved.status_code == 303
    with database.sessions() as session:
        user = session.get_one(User, analyst.id)
        assert (user.preview_blur, user.preview_greyscale) == (MAX_BLUR, False)
    assert audit_actions(database, "user.preview_preferences")
    preview = png(client.get(f"/console/items/{unknown[1]}/preview").content)
    assert not is_grey(preview)
    # In colour now, and still blurred: far less detail than the original.
    original = png(IMAGE).resize(preview.size)
    assert roughness(preview) < 0.5 * roughness(original)
    assert is_grey(default)


def test_a_preview_is_never_sharp(
    client: TestClient, database: Database, unknown: tuple[uuid.UUID, uuid.UUID]
) -> None:
    """Blur below the minimum would show the image without a reveal: refused, and a value
    stored before the minimum existed is raised to it."""
    analyst, csrf = sign_in(client, database, Role.ANALYST)
    refused = client.post(
        "/console/preferences", data={"csrf_token": csrf, "blur": "0"}, follow_redirects=False
    )
    assert refused.status_code == 422
    with database.transaction() as session:
        session.get_one(User, analyst.id).preview_blur = 0
    preview = png(client.get(f"/console/items/{unknown[1]}/preview").content)
    original = png(IMAGE).resize(preview.size)
    assert roughness(preview) < 0.3 * roughness(original)
    assert reveals(database) == []


@pytest.mark.parametrize("blur", ["31", "-1", "7", "soft", ""])
def test_preferences_are_validated(client: TestClient, database: Database, blur: str) -> None:
    analyst, csrf = sign_in(client, database, Role.ANALYST)
    response = client.post(
        "/console/preferences",
        data={"csrf_token": csrf, "blur": blur, "greyscale": "on"},
        follow_redirects=False,
    )
    assert response.status_code == 422
    assert 'role="alert"' in response.text
    with database.sessions() as session:
        assert session.get_one(User, analyst.id).preview_blur == 12


def test_signed_out_is_sent_to_sign_in(
    client: TestClient, unknown: tuple[uuid.UUID, uuid.UUID]
) -> None:
    client.cookies.delete(SESSION_COOKIE)
    response = client.get(f"/console/items/{unknown[1]}/preview", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/console/login")
