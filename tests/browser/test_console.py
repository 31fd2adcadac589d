"""The analyst console in a real browser: sign in with TOTP, take the next case, reveal one item
(blurred and grey before, sharp after), assess, see the case move on; hostile report text runs
nothing; a form without its CSRF token is refused; an analyst cannot open admin pages; the
exposure cap blocks a reveal. Screenshots of the main pages are saved as artifacts.

Every image is a generated benign pattern served by a local web host.
"""

from __future__ import annotations

import io
import re
import uuid
from collections.abc import Iterator

import numpy as np
import pyotp
import pytest
from PIL import Image
from playwright.sync_api import Page, expect

from takedown.auth import service as auth
from takedown.auth.models import Role
from takedown.auth.principal import PUBLIC
from takedown.cases.models import Case, CaseState
from takedown.config import Settings
from takedown.intake import service as intake
from takedown.intake.schemas import ReportIn
from takedown.runtime import RuntimeSetting
from takedown.sandbox.images import sample_image
from tests.browser.conftest import LiveApp, screenshot
from tests.console.test_previews import add_item
from tests.factories import ACTOR, NOW, PASSWORD
from tests.monitoring.support import Site

HOSTILE = '<script>window.__xss = 1</script><img src=x onerror="window.__xss = 2">'


@pytest.fixture
def site() -> Iterator[Site]:
    served = Site().start()
    yield served
    served.close()


@pytest.fixture
def settings(settings: Settings, site: Site) -> Settings:
    return settings.model_copy(update={"fetch_allow_hosts": [site.host]})


def _case(live: LiveApp, site: Site, path: str, images: int = 2) -> uuid.UUID:
    """A public report whose case waits for an analyst, with ``images`` unknown items."""
    with live.database.transaction() as session:
        result = intake.submit_one(
            session,
            live.settings,
            PUBLIC,
            ReportIn(url=site.url(path), description=HOSTILE),
            now=NOW,
        )
    assert result.case_id is not None
    with live.database.transaction() as session:
        session.get_one(Case, result.case_id).state = CaseState.AWAITING_ASSESSMENT
    for n in range(images):
        body = sample_image(5 + n)
        add_item(
            live.database, result.case_id, site.serve(f"{path}/{n}.png", body, "image/png"), body
        )
    return result.case_id


def _staff(live: LiveApp, username: str, role: Role) -> None:
    with live.database.transaction() as session:
        auth.create_user(session, ACTOR, username=username, password=PASSWORD, role=role, now=NOW)


def _sign_in(page: Page, live: LiveApp, username: str) -> None:
    """Password, then the TOTP enrolment: read the key off the page as a phone app would."""
    page.goto(live.url("/console/login"))
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name=re.compile("Sign in|Continue", re.I)).click()
    key = page.locator("#totp-key").inner_text()
    screenshot(page, "totp-enrolment")
    page.get_by_label("Code from the app").fill(pyotp.TOTP(re.sub(r"\s", "", key)).now())
    page.get_by_role("button", name=re.compile("Confirm and sign in")).click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def _image(page: Page, live: LiveApp, src: str | None) -> Image.Image:
    """What the browser was served for an <img>, fetched with the page's own cookies."""
    assert src is not None
    response = page.request.get(live.url(src))
    assert response.ok, response.status
    return Image.open(io.BytesIO(response.body())).convert("RGB")


def _roughness(image: Image.Image) -> float:
    a = np.asarray(image.convert("L"), dtype=float)
    laplacian = 4 * a[1:-1, 1:-1] - a[:-2, 1:-1] - a[2:, 1:-1] - a[1:-1, :-2] - a[1:-1, 2:]
    return float(np.abs(laplacian).mean())


def _grey(image: Image.Image) -> bool:
    pixels = np.asarray(image, dtype=int)
    return bool(
        (pixels[..., 0] == pixels[..., 1]).all() and (pixels[..., 1] == pixels[..., 2]).all()
    )


def test_an_analyst_works_a_case_from_the_queue(live_app: LiveApp, site: Site, page: Page) -> None:
    case_id = _case(live_app, site, "/gallery")
    _staff(live_app, "ana", Role.ANALYST)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    _sign_in(page, live_app, "ana")

    page.goto(live_app.url("/console/queue"))
    screenshot(page, "queue")
    page.get_by_role("button", name="Next case").click()
    expect(page).to_have_url(re.compile(f"/console/cases/{case_id}"))

    # The report's text is shown as text, and nothing in it ran.
    expect(page.get_by_text(HOSTILE)).to_be_visible()
    assert page.evaluate("window.__xss") is None
    assert dialogs == []

    first = page.locator("article.item").first
    preview = first.locator("img.preview")
    expect(preview).to_have_attribute("src", re.compile("/preview$"))
    blurred = _image(page, live_app, preview.get_attribute("src"))
    assert _grey(blurred)
    screenshot(page, "case")

    first.get_by_role("button", name="Reveal").click()
    sharp_img = page.locator("article.item").first.locator("img.preview")
    expect(sharp_img).to_have_attribute("src", re.compile("/sharp\\?r="))
    sharp = _image(page, live_app, sharp_img.get_attribute("src"))
    assert not _grey(sharp)
    assert _roughness(sharp.resize(blurred.size)) > 3 * _roughness(blurred)
    screenshot(page, "case-revealed")

    form = page.locator("form[action$='/assess']")
    form.locator("input[name=decision][value=confirm]").check()
    form.locator("input[name=inhope][value=baseline]").check()
    form.locator("input[name=media][value=non_photographic]").check()
    with page.expect_navigation():
        form.get_by_role("button", name="Record assessment").click()
    screenshot(page, "assessed")
    with live_app.database.sessions() as session:
        assert session.get_one(Case, case_id).state is CaseState.CONFIRMED
    page.goto(live_app.url(f"/console/cases/{case_id}"))
    expect(page.locator("body")).to_contain_text("confirmed")

    page.goto(live_app.url("/console/overview"))
    screenshot(page, "overview")
    page.goto(live_app.url("/console/exposure"))
    expect(page.locator("main")).to_contain_text("1 / 150")
    screenshot(page, "exposure")


def test_csrf_roles_and_the_exposure_cap(
    live_app: LiveApp, site: Site, page: Page, settings: Settings
) -> None:
    case_id = _case(live_app, site, "/capped")
    _staff(live_app, "bob", Role.ANALYST)
    _sign_in(page, live_app, "bob")

    # A form posted without its CSRF token is refused, and nothing changes.
    refused = page.request.post(live_app.url("/console/queue/next"), form={})
    assert refused.status == 403
    with live_app.database.sessions() as session:
        assert session.get_one(Case, case_id).state is CaseState.AWAITING_ASSESSMENT

    # An analyst cannot open an admin page.
    response = page.goto(live_app.url("/console/admin/users"))
    assert response is not None
    assert response.status == 403
    screenshot(page, "admin-refused")

    # The cap: one reveal a day; the second item cannot be revealed.
    with live_app.database.transaction() as session:
        session.add(
            RuntimeSetting(
                key="exposure_daily_reveals", value=1, updated_by="tests", updated_at=NOW
            )
        )
    page.goto(live_app.url(f"/console/cases/{case_id}"))
    items = page.locator("article.item")
    items.nth(0).get_by_role("button", name="Reveal").click()
    expect(items.nth(0).locator("img.preview")).to_have_attribute("src", re.compile("/sharp"))
    page.reload()
    expect(page.locator("main")).to_contain_text(re.compile("cap", re.I))
    second = page.locator("article.item").nth(1)
    expect(second.get_by_role("button", name="Reveal")).to_be_disabled()
    screenshot(page, "case-capped")


@pytest.mark.parametrize(
    ("role", "pages"),
    [
        (
            Role.ADMIN,
            [
                "/console/admin",
                "/console/admin/users",
                "/console/admin/settings",
                "/console/admin/jobs",
            ],
        ),
        (Role.SUPERVISOR, ["/console/approvals", "/console/exposure"]),
        (Role.POLICE, ["/console/police"]),
    ],
)
def test_each_role_sees_its_pages(
    live_app: LiveApp, page: Page, role: Role, pages: list[str]
) -> None:
    username = f"b-{role.value}"
    _staff(live_app, username, role)
    _sign_in(page, live_app, username)
    messages: list[str] = []
    page.on("console", lambda message: messages.append(f"{message.type}: {message.text}"))
    for path in pages:
        response = page.goto(live_app.url(path))
        assert response is not None
        assert response.status == 200, path
        screenshot(page, f"{role.value}{path.replace('/console', '').replace('/', '-')}")
    # No CSP violation or script error on any of them (the favicon request aside).
    assert [m for m in messages if m.startswith("error") and "favicon" not in m] == []
