"""The sandbox world: a simulated internet on loopback for the demo and the end-to-end tests.

One ``SandboxWorld`` runs, all on loopback:

* an authoritative DNS server for ``sandbox.test``, where every sample site's name points at
  its hosting provider's own loopback address (127.0.0.11, 127.0.0.12, ...; Linux routes all
  of 127.0.0.0/8 to the loopback interface, so each provider gets an address of its own);
* one ``SandboxWebHost`` per hosting provider on that address, all on the same port, so URLs
  read ``http://quick.sandbox.test:<port>/gallery.html``;
* the SMTP sink every notice is delivered to, and the ``ProviderSimulator`` that reads each
  one as its recipient would and removes content, suspends names or answers;
* the sandbox RDAP server, answering for ``sandbox.test`` with the sandbox's registrar, so
  traces name the registrar and escalation can reach it.

``seed`` writes the organizations that describe it into the directory (each provider's network
is the /32 of its address, which tracing attributes to that organization in its country), and
``settings_overrides`` gives what a ``Settings`` needs to use it.

Suspending a name removes its A record, so tracing sees it gone. The guarded fetcher resolves
from the static table in the settings (``fetch_static_hosts``), fixed when a process starts,
so the web host also answers 404 for every path of a suspended name: re-checks see the
content gone, as they would when the name stops resolving.

Every image served is a generated abstract pattern (``images.py``); "known" content is the
sample whose hash ``seed`` puts in the ``sandbox-known`` bank.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Self
from urllib.parse import urlsplit

import httpx
from sqlalchemy.orm import Session

from takedown.auth.principal import cli_principal
from takedown.config import Settings
from takedown.matching import banks, hash_bytes
from takedown.orgs import service as orgs
from takedown.orgs.models import OrgKind
from takedown.routing import rules
from takedown.sandbox.dns import AuthoritativeDnsServer
from takedown.sandbox.images import CATALOGUE_SIZE, MEDIA_TYPE, sample_image
from takedown.sandbox.providers import (
    ZONE,
    Provider,
    ProviderAction,
    ProviderSimulator,
    default_providers,
    registrar_rdap,
)
from takedown.sandbox.rdap import RdapServer
from takedown.sandbox.serving import BackgroundServer
from takedown.sandbox.smtp import SmtpSink
from takedown.sandbox.web import SandboxWebHost, bind_all, check_loopback

logger = logging.getLogger(__name__)

SERVICE_ADDRESS: Final = "127.0.0.1"  # DNS, SMTP and RDAP
KNOWN_SEED: Final = 0
KNOWN_BANK: Final = "sandbox-known"
# The code the demo's "known" sample carries in the bank: what a real list entry would say.
KNOWN_CLASSIFICATION: Final = "A1"
ANSWER_TIMEOUT: Final = 10.0
NOTES: Final = "Simulated by the sandbox (takedown sandbox): {behaviour}. Not a real organization."
ACTOR: Final = cli_principal("sandbox")


@dataclass(frozen=True)
class Site:
    """A sample page published on a provider, with the one image it shows."""

    provider: str
    url: str
    image_url: str
    known: bool


class SandboxWorld(BackgroundServer):
    """The simulated internet: DNS, web hosts, SMTP sink and the providers behind them."""

    def __init__(
        self,
        providers: Sequence[Provider] | None = None,
        *,
        port: int = 0,
        dns_port: int = 0,
        smtp_port: int = 0,
        rdap_port: int = 0,
        answer_base_url: str | None = None,
    ) -> None:
        self.providers = tuple(default_providers() if providers is None else providers)
        _check_providers(self.providers)
        self._port = port
        self._answer_base = answer_base_url.rstrip("/") + "/" if answer_base_url else None
        self.dns = AuthoritativeDnsServer([ZONE], host=SERVICE_ADDRESS, port=dns_port)
        self.smtp = SmtpSink(host=SERVICE_ADDRESS, port=smtp_port)
        self.rdap = RdapServer(host=SERVICE_ADDRESS, port=rdap_port)
        self.simulator = ProviderSimulator(
            self.providers, self, is_sandbox_url=lambda url: self._site_of(url) is not None
        )
        self._hosts: dict[str, SandboxWebHost] = {}  # by provider name
        self._sites: dict[str, SandboxWebHost] = {}  # by site host name
        self._published = 0
        self._lock = threading.Lock()
        self._started = False

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> Self:
        """Start every server; on failure, stop what started and raise."""
        if self._started:
            raise RuntimeError("the sandbox world is already started")
        self._started = True
        try:
            self.dns.start()
            hosting = [p for p in self.providers if p.address is not None]
            started = bind_all([p.address for p in hosting if p.address], self._port)
            for provider, host in zip(hosting, started, strict=True):
                self._hosts[provider.name] = host
                if provider.host is not None:
                    self._sites[provider.host] = host
                    self.dns.set(provider.host, "A", host.address, ttl=60)
            self.smtp.on_message(self.simulator.receive)
            self.smtp.start()
            self.rdap.start()
            registrar = next((p for p in self.providers if p.kind is OrgKind.REGISTRAR), None)
            if registrar is not None:
                self.rdap.answer(f"/domain/{ZONE}", registrar_rdap(registrar, ZONE))
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop every server and cancel what providers still had scheduled; safe twice."""
        self.simulator.stop()
        stops = [self.rdap.stop, self.smtp.stop, self.dns.stop]
        stops += [host.stop for host in self._hosts.values()]
        # Each server takes up to its poll interval to notice; stopping them side by side
        # keeps a test's teardown short.
        threads = [threading.Thread(target=_quietly, args=(stop,)) for stop in stops]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self._hosts.clear()
        self._sites.clear()

    def _is_started(self) -> bool:
        return self._started

    # -- looking around ----------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The port every web host serves on."""
        first = next(iter(self._hosts.values()), None)
        if first is None:
            raise RuntimeError("the sandbox world is not started or has no web hosts")
        return first.port

    @property
    def site_names(self) -> list[str]:
        return sorted(self._sites)

    @property
    def actions(self) -> list[ProviderAction]:
        """What the simulated organizations did so far."""
        return self.simulator.actions

    def provider(self, name: str) -> Provider:
        for provider in self.providers:
            if provider.name == name:
                return provider
        raise KeyError(f"the sandbox has no organization named {name!r}")

    def web_host(self, provider_name: str) -> SandboxWebHost:
        try:
            return self._hosts[provider_name]
        except KeyError:
            raise KeyError(f"{provider_name!r} hosts no web server in the sandbox") from None

    def is_live(self, url: str) -> bool:
        """Whether ``url`` answers 200 right now (asked of its web host directly)."""
        found = self._site_of(url)
        if found is None:
            return False
        host, name, path = found
        return host.is_live(name, path)

    def _site_of(self, url: str) -> tuple[SandboxWebHost, str, str] | None:
        try:
            parts = urlsplit(url)
        except ValueError:
            return None
        name = (parts.hostname or "").rstrip(".")
        host = self._sites.get(name)
        return None if host is None else (host, name, parts.path or "/")

    # -- configuration -----------------------------------------------------------------------

    def settings_overrides(self) -> dict[str, Any]:
        """The settings that make a process use the sandbox (``Settings.model_copy(update=)``)."""
        port = self.port
        return {
            "fetch_resolver": "static",
            "fetch_static_hosts": {name: [host.address] for name, host in self._sites.items()},
            "fetch_allow_hosts": [f"{name}:{port}" for name in self._sites],
            "dns_nameservers": [self.dns.host],
            "dns_port": self.dns.port,
            # No IP-to-ASN service in the sandbox; the directory knows every provider.
            "asn_dns_zone": "",
            "rdap_base_url": self.rdap.base_url,
            "smtp_host": self.smtp.host,
            "smtp_port": self.smtp.port,
            "smtp_starttls": False,
            "smtp_username": "",
            "smtp_password": "",
        }

    def environment(self) -> dict[str, str]:
        """``settings_overrides`` as the TAKEDOWN_* variables a server and worker read."""
        env: dict[str, str] = {}
        for name, value in self.settings_overrides().items():
            if isinstance(value, bool):
                text = "true" if value else "false"
            elif isinstance(value, list | dict):
                text = json.dumps(value, separators=(",", ":"))
            else:
                text = str(value)
            env[f"TAKEDOWN_{name.upper()}"] = text
        return env

    # -- the directory -------------------------------------------------------------------------

    def seed(
        self,
        session: Session,
        settings: Settings,
        now: datetime,
        *,
        police_wait_seconds: int | None = None,
    ) -> list[str]:
        """Write the sandbox's organizations and known bank; returns what it created.

        Idempotent by name: an organization or bank already there is left as it is. With
        ``police_wait_seconds``, the home country's routing rule waits that long for police
        deconfliction (the built-in 24 hours is too long for a demo).
        """
        created: list[str] = []
        for provider in self.providers:
            if orgs.find_org(session, provider.name) is not None:
                continue
            orgs.add_org(
                session,
                ACTOR,
                name=provider.name,
                kind=provider.kind,
                country=provider.country,
                abuse_email=provider.abuse_email,
                networks=[f"{provider.address}/32"] if provider.address else [],
                countries=provider.countries,
                tlds=provider.tlds,
                notes=NOTES.format(behaviour=provider.behaviour.label),
                now=now,
            )
            created.append(provider.name)
        if _seed_known_bank(session, now):
            created.append(f"bank {KNOWN_BANK}")
        if police_wait_seconds is not None and _seed_police_wait(
            session, settings, police_wait_seconds, now
        ):
            created.append(f"routing rule {settings.home_country}")
        return created

    # -- content -------------------------------------------------------------------------------

    def add_site(self, provider_name: str, path: str, known: bool = False) -> str:
        """Publish a page showing one benign sample image on a provider; returns the page URL.

        A ``known`` page shows the sample whose hash ``seed`` put in the known bank; the others
        each show another sample, none of which matches it.
        """
        provider = self.provider(provider_name)
        host = self.web_host(provider_name)
        if provider.host is None:
            raise KeyError(f"{provider_name!r} hosts no sample site")
        with self._lock:
            self._published += 1
            number = self._published
        seed = KNOWN_SEED if known else 1 + (number - 1) % (CATALOGUE_SIZE - 1)
        image_path = f"/media/{number:04d}.png"
        host.put(provider.host, image_path, MEDIA_TYPE, sample_image(seed))
        title = f"{provider.name}: sample page {number}"
        host.page(provider.host, path, [image_path], title=title)
        return host.url(provider.host, path)

    def add_demo_sites(self) -> list[Site]:
        """A known-sample page on every hosting provider, and one unknown sample page."""
        sites: list[Site] = []
        for provider in self.providers:
            if provider.host is None or provider.name not in self._hosts:
                continue
            url = self.add_site(provider.name, "/gallery.html", known=True)
            sites.append(Site(provider.name, url, self._image_of(url), True))
        first = next((p for p in self.providers if p.host and p.name in self._hosts), None)
        if first is not None:
            url = self.add_site(first.name, "/holiday.html", known=False)
            sites.append(Site(first.name, url, self._image_of(url), False))
        return sites

    def _image_of(self, url: str) -> str:
        found = self._site_of(url)
        assert found is not None  # the world just published it
        host, name, path = found
        return host.url(name, host.lookup(name, path).images[0])

    # -- effects (what simulated providers do) -------------------------------------------------

    def remove(self, url: str) -> None:
        """Delete the page at ``url`` and the images it shows: 404 from now on."""
        found = self._site_of(url)
        if found is not None:
            host, name, path = found
            host.remove(name, path, with_images=True)

    def suspend(self, url: str) -> None:
        """Suspend the name of ``url``: its A record goes, and its site answers 404."""
        found = self._site_of(url)
        if found is not None:
            host, name, _ = found
            self.dns.delete(name, "A")
            host.suspend(name)

    def answer(self, answer_url: str, kind: str) -> None:
        """POST ``kind`` to a notice's answer link, as a provider clicking it would."""
        if not self._may_answer(answer_url):
            logger.warning("sandbox: not following answer link %s (not the hotline's)", answer_url)
            return
        try:
            with httpx.Client(trust_env=False, timeout=ANSWER_TIMEOUT) as client:
                response = client.post(answer_url, data={"kind": kind})
        except httpx.HTTPError as exc:
            # The provider still acts; only its answer is lost, as a real one's might be.
            logger.warning("sandbox: answer %s to %s failed: %s", kind, answer_url, exc)
            return
        if response.is_error:
            logger.warning(
                "sandbox: answer %s to %s: HTTP %s", kind, answer_url, response.status_code
            )

    def _may_answer(self, url: str) -> bool:
        """Only the hotline's own answer links are followed (loopback when none is set)."""
        if self._answer_base is not None:
            return url.startswith(self._answer_base)
        host = urlsplit(url).hostname or ""
        with contextlib.suppress(ValueError):
            return ipaddress.ip_address(host).is_loopback
        return host == "localhost"


def _quietly(stop: Callable[[], None]) -> None:
    try:
        stop()
    except Exception:
        logger.exception("a sandbox server failed to stop")


def _check_providers(providers: Iterable[Provider]) -> None:
    names: set[str] = set()
    addresses: set[str] = set()
    for provider in providers:
        if provider.name in names:
            raise ValueError(f"two sandbox organizations are named {provider.name!r}")
        names.add(provider.name)
        if provider.address is None:
            continue
        check_loopback(provider.address)
        if provider.address in addresses or provider.address == SERVICE_ADDRESS:
            raise ValueError(f"{provider.name}: address {provider.address} is taken")
        addresses.add(provider.address)


def _seed_known_bank(session: Session, now: datetime) -> bool:
    """The bank holding the known sample's hashes; True if it was created."""
    found = banks.list_banks(session, name=KNOWN_BANK)
    if found:
        bank = found[0].bank
    else:
        bank = banks.create_bank(
            session,
            ACTOR,
            name=KNOWN_BANK,
            description="The sandbox's benign generated sample that the demo treats as known.",
            now=now,
        )
    banks.add_content(
        session,
        ACTOR,
        bank,
        hash_bytes(sample_image(KNOWN_SEED)),
        source="sandbox",
        classification=KNOWN_CLASSIFICATION,
        note="a generated abstract pattern, not real material",
        now=now,
    )
    return not found


def _seed_police_wait(session: Session, settings: Settings, seconds: int, now: datetime) -> bool:
    """Shorten the home country's police wait; True if the rule changed."""
    home = settings.home_country
    current = rules.get_rule(session, home, home_country=home)
    if current.police_wait_seconds == seconds and current.source == "country rule":
        return False
    rules.set_rule(session, ACTOR, home, now=now, home_country=home, police_wait_seconds=seconds)
    return True
