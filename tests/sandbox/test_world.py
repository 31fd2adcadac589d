"""The sandbox world: names, web hosts, the SMTP sink and the providers that react to notices.

Every image served is a generated abstract pattern (``takedown.sandbox.images``).
"""

from __future__ import annotations

import json
import os
import signal
import smtplib
import threading
import time
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import dns.message
import dns.query
import dns.rcode
import pytest
from click.testing import CliRunner
from sqlalchemy.orm import Session

from takedown.config import Settings
from takedown.db.session import Database
from takedown.fetch.build import build_fetcher
from takedown.matching import banks, hash_bytes
from takedown.orgs import service as orgs
from takedown.routing import rules
from takedown.sandbox.cli import sandbox_command
from takedown.sandbox.images import sample_image
from takedown.sandbox.providers import default_providers
from takedown.sandbox.world import KNOWN_BANK, KNOWN_SEED, SandboxWorld
from takedown.tracing.build import build_tracer
from tests.factories import NOW

QUICK = "Sandbox Quick Hosting"
STUBBORN = "Sandbox Stubborn Hosting"
SILENT = "Sandbox Silent Hosting"
ANSWERING = "Sandbox Answering Hosting"
ABROAD = "Sandbox Hosting DE"
REGISTRAR = "Sandbox Registrar"
# Providers act this long after the notice that makes them act.
DELAY = 0.05
# Long enough for a provider that would act to have acted, many times over.
SETTLE = 0.3


@pytest.fixture
def world() -> Iterator[SandboxWorld]:
    with SandboxWorld(default_providers(delay=DELAY)) as running:
        yield running


@pytest.fixture
def sandbox_settings(settings: Settings, world: SandboxWorld) -> Settings:
    return settings.model_copy(update=world.settings_overrides())


def notify(
    world: SandboxWorld,
    provider: str,
    url: str,
    *,
    message_id: str = "<N-TEST-1@takedown.invalid>",
    answer_url: str | None = None,
) -> None:
    """Send a minimal notice, as the hotline would: text, and an X-ARF attachment."""
    msg = EmailMessage()
    msg["From"] = "hotline@takedown.invalid"
    msg["To"] = world.provider(provider).abuse_email
    msg["Subject"] = "Notice N-TEST: child sexual abuse material on your service"
    msg["Message-ID"] = message_id
    msg["X-Takedown-Reference"] = "N-TEST"
    text = f"Please remove the content at {url}.\n"
    if answer_url:
        text += f"Answer here: {answer_url}\n"
    msg.set_content(text)
    xarf = {"xarf_version": "4.2.0", "category": "content", "type": "csam", "url": url}
    msg.add_attachment(
        json.dumps(xarf).encode(), maintype="application", subtype="json", filename="xarf-1.json"
    )
    before = len(world.smtp.messages())
    with smtplib.SMTP(world.smtp.host, world.smtp.port, timeout=5) as client:
        client.send_message(msg)
    world.smtp.wait_for(before + 1, timeout=5)


def eventually(check: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return check()


def resolve(world: SandboxWorld, name: str) -> dns.message.Message:
    query = dns.message.make_query(name, "A")
    return dns.query.udp(query, world.dns.host, port=world.dns.port, timeout=2)


def test_the_world_listens_on_loopback_only(world: SandboxWorld) -> None:
    hosting = [p for p in world.providers if p.address]
    assert {world.web_host(p.name).address for p in hosting} == {p.address for p in hosting}
    assert {world.web_host(p.name).port for p in hosting} == {world.port}
    assert world.dns.host == world.smtp.host == "127.0.0.1"
    assert world.rdap.base_url.startswith("http://127.0.0.1:")
    assert world.site_names == [
        "abroad.sandbox.test",
        "answering.sandbox.test",
        "quick.sandbox.test",
        "silent.sandbox.test",
        "stubborn.sandbox.test",
    ]


def test_a_sandbox_name_resolves_to_its_providers_address(world: SandboxWorld) -> None:
    response = resolve(world, "quick.sandbox.test")
    assert [rdata.to_text() for rrset in response.answer for rdata in rrset] == ["127.0.0.11"]
    response = resolve(world, "abroad.sandbox.test")
    assert [rdata.to_text() for rrset in response.answer for rdata in rrset] == ["127.0.0.15"]


def test_the_guarded_fetcher_fetches_a_sandbox_page_and_its_image(
    world: SandboxWorld, sandbox_settings: Settings
) -> None:
    url = world.add_site(QUICK, "/gallery.html", known=True)
    assert url == f"http://quick.sandbox.test:{world.port}/gallery.html"
    fetcher = build_fetcher(sandbox_settings)

    page = fetcher.fetch(url)

    assert page.ok
    assert page.media_type == "text/html"
    assert page.address == "127.0.0.11"
    assert b'<img src="/media/0001.png"' in page.body
    image = fetcher.fetch(f"http://quick.sandbox.test:{world.port}/media/0001.png")
    assert image.ok
    assert image.media_type == "image/png"
    assert image.body == sample_image(KNOWN_SEED)
    assert fetcher.fetch(f"http://silent.sandbox.test:{world.port}/gallery.html").status == 404


def test_a_quick_provider_removes_the_page_after_a_notice(
    world: SandboxWorld, sandbox_settings: Settings
) -> None:
    url = world.add_site(QUICK, "/gallery.html", known=True)
    image = url.replace("/gallery.html", "/media/0001.png")

    notify(world, QUICK, url)

    assert eventually(lambda: not world.is_live(url))
    fetcher = build_fetcher(sandbox_settings)
    assert fetcher.fetch(url).status == 404
    assert fetcher.fetch(image).status == 404  # the file the page showed went with it
    assert [(a.provider, a.action, a.url) for a in world.actions] == [
        (QUICK, "received", url),
        (QUICK, "removed", url),
    ]


def test_after_renotice_removes_only_on_a_second_notice(world: SandboxWorld) -> None:
    url = world.add_site(STUBBORN, "/gallery.html", known=True)

    notify(world, STUBBORN, url, message_id="<N-FIRST@takedown.invalid>")
    # A re-delivery of the same notice (same Message-ID) is not a re-notice.
    notify(world, STUBBORN, url, message_id="<N-FIRST@takedown.invalid>")
    time.sleep(SETTLE)
    assert world.is_live(url)

    notify(world, STUBBORN, url, message_id="<N-SECOND@takedown.invalid>")
    assert eventually(lambda: not world.is_live(url))


def test_a_silent_provider_never_removes(world: SandboxWorld) -> None:
    url = world.add_site(SILENT, "/gallery.html", known=True)

    notify(world, SILENT, url, message_id="<N-1@takedown.invalid>")
    notify(world, SILENT, url, message_id="<N-2@takedown.invalid>")
    notify(world, SILENT, url, message_id="<N-3@takedown.invalid>")
    time.sleep(SETTLE)

    assert world.is_live(url)
    assert {a.action for a in world.actions} == {"received"}
    assert len(world.smtp.messages()) == 3


class AnswerLink:
    """A stand-in for the hotline's answer page: records each answer POSTed to it."""

    def __init__(self) -> None:
        self.answers: list[str] = []
        answers = self.answers

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                answers.extend(parse_qs(body)["kind"])
                self.send_response(303)
                self.send_header("Location", f"{self.path}/thanks")
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/notices/answer/tok-EN_1"


@pytest.fixture
def answer_link() -> Iterator[AnswerLink]:
    link = AnswerLink()
    thread = threading.Thread(target=link.server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield link
    link.server.shutdown()
    link.server.server_close()


def test_a_link_provider_answers_through_the_link_then_removes(
    world: SandboxWorld, answer_link: AnswerLink
) -> None:
    url = world.add_site(ANSWERING, "/gallery.html", known=True)

    notify(world, ANSWERING, url, answer_url=answer_link.url)

    assert eventually(lambda: answer_link.answers == ["acknowledged", "removed"])
    assert not world.is_live(url)


def test_answer_links_elsewhere_are_not_followed(answer_link: AnswerLink) -> None:
    providers = default_providers(delay=DELAY)
    with SandboxWorld(providers, answer_base_url="http://hotline.invalid:8000") as world:
        url = world.add_site(ANSWERING, "/gallery.html", known=True)
        notify(world, ANSWERING, url, answer_url=answer_link.url)
        assert eventually(lambda: not world.is_live(url))
    assert answer_link.answers == []


def test_a_registrar_suspends_the_name(world: SandboxWorld, sandbox_settings: Settings) -> None:
    url = world.add_site(QUICK, "/gallery.html", known=True)

    notify(world, REGISTRAR, url)

    assert eventually(lambda: resolve(world, "quick.sandbox.test").rcode() == dns.rcode.NXDOMAIN)
    assert build_fetcher(sandbox_settings).fetch(url).status == 404
    assert resolve(world, "silent.sandbox.test").answer  # other names are untouched
    assert (REGISTRAR, "suspended", url) in [(a.provider, a.action, a.url) for a in world.actions]


def test_notices_about_other_urls_or_to_others_are_ignored(world: SandboxWorld) -> None:
    url = world.add_site(QUICK, "/gallery.html", known=True)

    notify(world, QUICK, "http://elsewhere.example/gallery.html")
    notify(world, STUBBORN, url, message_id="<N-2@takedown.invalid>")
    time.sleep(SETTLE)

    assert world.is_live(url)


def test_seed_writes_the_directory_once(
    world: SandboxWorld, db: Session, sandbox_settings: Settings
) -> None:
    created = world.seed(db, sandbox_settings, NOW)

    assert set(created) == {p.name for p in world.providers} | {f"bank {KNOWN_BANK}"}
    assert world.seed(db, sandbox_settings, NOW) == []
    quick = orgs.get_org_by_name(db, QUICK)
    assert quick.abuse_email == "abuse@quick-hosting.sandbox.test"
    assert orgs.identifiers(db, quick).networks == ("127.0.0.11/32",)
    registry = orgs.registry_for_tld(db, "test")
    assert registry is not None
    assert registry.name == "Sandbox Registry"
    hotline = orgs.get_org_by_name(db, "Sandbox Hotline DE")
    assert orgs.identifiers(db, hotline).countries == ("DE",)


def test_seed_puts_the_known_sample_in_a_bank(
    world: SandboxWorld, db: Session, sandbox_settings: Settings
) -> None:
    world.seed(db, sandbox_settings, NOW)
    world.seed(db, sandbox_settings, NOW)

    bank = banks.get_bank(db, KNOWN_BANK)
    values = {e.signal_type: e.value for e in banks.list_entries(db, bank)}
    known = hash_bytes(sample_image(KNOWN_SEED))
    assert known.pdq is not None
    assert values["pdq"] == known.pdq.value
    assert values["sha256"] == known.sha256


def test_seed_can_shorten_the_police_wait(
    world: SandboxWorld, db: Session, sandbox_settings: Settings
) -> None:
    created = world.seed(db, sandbox_settings, NOW, police_wait_seconds=60)

    assert "routing rule NL" in created
    rule = rules.get_rule(db, "NL", home_country="NL")
    assert (rule.police_wait_seconds, rule.police_first) == (60, True)
    assert world.seed(db, sandbox_settings, NOW, police_wait_seconds=60) == []


@pytest.mark.parametrize(
    ("host", "provider", "country"),
    [("quick.sandbox.test", QUICK, "NL"), ("abroad.sandbox.test", ABROAD, "DE")],
)
def test_a_sandbox_host_traces_to_its_provider(
    world: SandboxWorld,
    db: Session,
    sandbox_settings: Settings,
    host: str,
    provider: str,
    country: str,
) -> None:
    world.seed(db, sandbox_settings, NOW)

    outcome = build_tracer(sandbox_settings).trace(db, host, now=NOW)

    assert [(h.country, h.org.name if h.org else None) for h in outcome.data.hosting] == [
        (country, provider)
    ]
    assert outcome.data.domain is not None
    assert outcome.data.domain.registry is not None
    assert outcome.data.domain.registry.name == "Sandbox Registry"
    # The registrar comes from the sandbox's RDAP server, matched to the directory by name.
    assert outcome.data.domain.registrar is not None
    assert outcome.data.domain.registrar.name == REGISTRAR
    assert outcome.data.domain.registrar_abuse_email == "abuse@registrar.sandbox.test"


def test_the_environment_gives_the_same_settings(
    world: SandboxWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in world.environment().items():
        monkeypatch.setenv(name, value)

    from_env = Settings()

    for name, value in world.settings_overrides().items():
        assert getattr(from_env, name) == value, name


def test_the_sandbox_command_seeds_prints_and_stops_on_sigterm(
    database_url: str, committed: Database, tmp_path: object
) -> None:
    original = signal.getsignal(signal.SIGTERM)

    def stop_once_waiting() -> None:
        # Only once the command has its own handler: the default would end the test run.
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if signal.getsignal(signal.SIGTERM) is not original:
                os.kill(os.getpid(), signal.SIGTERM)
                return
            time.sleep(0.02)

    stopper = threading.Thread(target=stop_once_waiting, daemon=True)
    stopper.start()
    env = {"TAKEDOWN_DATABASE_URL": database_url, "TAKEDOWN_DATA_DIR": str(tmp_path)}
    ports = ["--port", "0", "--dns-port", "0", "--smtp-port", "0", "--rdap-port", "0"]

    result = CliRunner().invoke(
        sandbox_command, [*ports, "--report"], env=env, catch_exceptions=False
    )
    stopper.join()

    assert result.exit_code == 0, result.output
    assert "seeded: Sandbox Quick Hosting, " in result.output
    assert "export TAKEDOWN_FETCH_RESOLVER=static" in result.output
    assert "reported http://quick.sandbox.test:" in result.output
    assert result.output.rstrip().endswith("stopping the sandbox")
    assert signal.getsignal(signal.SIGTERM) is original
    with committed.sessions() as session:
        assert orgs.find_org(session, QUICK) is not None
