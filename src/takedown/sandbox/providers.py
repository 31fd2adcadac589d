"""The simulated organizations of the sandbox, and how each one reacts to the notices it gets.

Every notice the hotline sends in the sandbox lands in the SMTP sink. The
``ProviderSimulator`` reads each one as the recipient organization would and, according to
that organization's ``Behaviour``, acts on the URLs it names:

* ``quick``: acts ``delay`` seconds after the first notice naming a URL;
* ``after_renotice``: acts only once a second, different notice names the URL (a re-notice;
  a re-delivery of the same notice keeps its Message-ID and does not count);
* ``never``: never answers, never acts;
* ``link``: answers "acknowledged" through the notice's answer link at once, acts after
  ``delay``, then answers "removed".

What "acting" is depends on who the organization is: a hosting provider or a partner hotline
gets the file removed (the page answers 404); a registrar or registry suspends the name, which
stops resolving. The effects themselves are the world's (``Effects``), so this module only
decides what happens when.

The demo's cast (``default_providers``): five hosting providers, one per behaviour plus one
in Germany (``abroad.sandbox.test``, so routing forwards to the partner hotline), a registrar
and a registry for ``.test`` that both suspend names when noticed (escalation), the partner
hotline ``Sandbox Hotline DE`` (gets German content removed) and ``Sandbox Police NL`` (never
answers by e-mail: police clear or hold cases in the console).
"""

from __future__ import annotations

import html
import logging
import re
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final, Protocol

from takedown.orgs.models import OrgKind

logger = logging.getLogger(__name__)

ZONE: Final = "sandbox.test"
_URL = re.compile(r"https?://[^\s<>\"'()\[\]]+", re.IGNORECASE)
_ANSWER_PATH: Final = "/notices/answer/"
_TRAILING = ".,;:!?"
# A made-up IANA registrar id for the sandbox's registrar, shown beside its name in traces.
SANDBOX_IANA_ID: Final = "9995"


class Behaviour(StrEnum):
    """How a simulated organization reacts to notices (see the module docstring)."""

    QUICK = "quick"
    AFTER_RENOTICE = "after_renotice"
    NEVER = "never"
    LINK = "link"

    @property
    def label(self) -> str:
        return {
            "quick": "removes soon after a notice",
            "after_renotice": "removes only after a re-notice",
            "never": "never answers",
            "link": "answers through the answer link, then removes",
        }[self.value]


@dataclass(frozen=True)
class Provider:
    """One simulated organization: who it is in the directory and how it behaves.

    Hosting providers have a loopback ``address`` (their web host) and a ``site``, the first
    label of the sample site they host (``quick`` serves ``quick.sandbox.test``).
    """

    name: str
    country: str
    behaviour: Behaviour
    delay: float = 0.0
    kind: OrgKind = OrgKind.HOSTING_PROVIDER
    address: str | None = None
    site: str | None = None
    # Countries a partner hotline or police agency covers; TLDs a registry runs.
    countries: tuple[str, ...] = ()
    tlds: tuple[str, ...] = ()

    @property
    def slug(self) -> str:
        """``Sandbox Quick Hosting`` → ``quick-hosting``: the name as a DNS label."""
        words = re.sub(r"[^a-z0-9]+", "-", self.name.lower()).strip("-")
        return words.removeprefix("sandbox-") or words

    @property
    def abuse_email(self) -> str:
        return f"abuse@{self.slug}.{ZONE}"

    @property
    def host(self) -> str | None:
        """The name of the sample site it hosts, if it hosts one."""
        return f"{self.site}.{ZONE}" if self.site else None

    @property
    def suspends(self) -> bool:
        """Whether acting means suspending the name (registrars, registries)."""
        return self.kind in (OrgKind.REGISTRAR, OrgKind.REGISTRY)


def default_providers(delay: float = 30.0) -> tuple[Provider, ...]:
    """The demo's organizations; simulated removals wait ``delay`` seconds."""
    hosting = OrgKind.HOSTING_PROVIDER
    return (
        Provider(
            "Sandbox Quick Hosting", "NL", Behaviour.QUICK, delay, hosting, "127.0.0.11", "quick"
        ),
        Provider(
            "Sandbox Stubborn Hosting",
            "NL",
            Behaviour.AFTER_RENOTICE,
            delay,
            hosting,
            "127.0.0.12",
            "stubborn",
        ),
        Provider(
            "Sandbox Silent Hosting", "NL", Behaviour.NEVER, 0, hosting, "127.0.0.13", "silent"
        ),
        Provider(
            "Sandbox Answering Hosting",
            "NL",
            Behaviour.LINK,
            delay,
            hosting,
            "127.0.0.14",
            "answering",
        ),
        # Hosted abroad: routing forwards to the partner hotline, which gets it removed.
        Provider(
            "Sandbox Hosting DE", "DE", Behaviour.QUICK, delay, hosting, "127.0.0.15", "abroad"
        ),
        Provider("Sandbox Registrar", "NL", Behaviour.QUICK, delay, OrgKind.REGISTRAR),
        Provider(
            "Sandbox Registry", "NL", Behaviour.QUICK, delay, OrgKind.REGISTRY, tlds=("test",)
        ),
        Provider(
            "Sandbox Hotline DE", "DE", Behaviour.QUICK, delay, OrgKind.HOTLINE, countries=("DE",)
        ),
        Provider("Sandbox Police NL", "NL", Behaviour.NEVER, 0, OrgKind.POLICE, countries=("NL",)),
    )


def registrar_rdap(registrar: Provider, domain: str) -> dict[str, Any]:
    """An RDAP domain answer naming ``registrar``, shaped like a registry's (RFC 9083)."""

    def vcard(*fields: list[Any]) -> list[Any]:
        return ["vcard", [["version", {}, "text", "4.0"], *fields]]

    abuse = {
        "objectClassName": "entity",
        "roles": ["abuse"],
        "vcardArray": vcard(["fn", {}, "text", ""], ["email", {}, "text", registrar.abuse_email]),
    }
    return {
        "objectClassName": "domain",
        "ldhName": domain.upper(),
        "status": ["active"],
        "entities": [
            {
                "objectClassName": "entity",
                "handle": SANDBOX_IANA_ID,
                "roles": ["registrar"],
                "publicIds": [{"type": "IANA Registrar ID", "identifier": SANDBOX_IANA_ID}],
                "vcardArray": vcard(["fn", {}, "text", registrar.name]),
                "entities": [abuse],
            }
        ],
        "rdapConformance": ["rdap_level_0"],
    }


class ReceivedNotice(Protocol):
    """What the simulator reads of a message in the sink (``smtp.ReceivedMessage``)."""

    @property
    def rcpt_tos(self) -> Sequence[str]: ...
    @property
    def message_id(self) -> str | None: ...
    @property
    def text(self) -> str | None: ...
    @property
    def html(self) -> str | None: ...
    @property
    def xarf(self) -> Sequence[Mapping[str, Any]]: ...


class Effects(Protocol):
    """What the world does when a simulated organization acts."""

    def remove(self, url: str) -> None:
        """Delete the content at ``url`` (it answers 404 from now on)."""

    def suspend(self, url: str) -> None:
        """Suspend the name of ``url``: it stops resolving."""

    def answer(self, answer_url: str, kind: str) -> None:
        """Answer a notice through its answer link (``acknowledged``, ``removed``)."""


@dataclass(frozen=True)
class ProviderAction:
    """Something a simulated organization did, for the demo's log and for tests."""

    provider: str
    action: str  # received, removed, suspended, answered:<kind>
    url: str
    at: datetime = field(default_factory=lambda: datetime.now(UTC))


def notice_urls(message: ReceivedNotice) -> list[str]:
    """The URLs a notice names: each X-ARF document's ``url``, else every URL in the text."""
    found = [doc["url"] for doc in message.xarf if isinstance(doc.get("url"), str)]
    if not found:
        found = [url.rstrip(_TRAILING) for url in _URL.findall(message.text or "")]
        found = [url for url in found if _ANSWER_PATH not in url]
    return list(dict.fromkeys(found))


def is_domain_alert(message: ReceivedNotice) -> bool:
    """Whether the message is a domain alert to a registry (its X-ARF tag says so)."""
    return any("notice:domain_alert" in doc.get("tags", ()) for doc in message.xarf)


def answer_link(message: ReceivedNotice) -> str | None:
    """The notice's answer link, from the text or else the HTML part."""
    for body in (message.text or "", html.unescape(message.html or "")):
        for url in _URL.findall(body):
            if _ANSWER_PATH in url:
                return str(url.rstrip(_TRAILING))
    return None


class ProviderSimulator:
    """Reads each message in the sink as its recipients would, and schedules what they do.

    ``receive`` is the sink's callback: it runs on the SMTP server's thread, so it only
    decides and schedules; the effects run on timer threads.
    """

    def __init__(
        self,
        providers: Iterable[Provider],
        effects: Effects,
        *,
        is_sandbox_url: Callable[[str], bool],
    ) -> None:
        self._by_email = {p.abuse_email.lower(): p for p in providers}
        self._effects = effects
        self._is_sandbox_url = is_sandbox_url
        # (provider, url) -> the distinct notices (Message-IDs) that named the URL.
        self._seen: dict[tuple[str, str], set[str]] = defaultdict(set)
        self._timers: set[threading.Timer] = set()
        self._actions: list[ProviderAction] = []
        self._lock = threading.Lock()
        self._stopped = False

    @property
    def actions(self) -> list[ProviderAction]:
        """What the simulated organizations did so far, oldest first; a copy."""
        with self._lock:
            return list(self._actions)

    def stop(self) -> None:
        """Cancel everything still scheduled; later messages are ignored."""
        with self._lock:
            self._stopped = True
            timers, self._timers = set(self._timers), set()
        for timer in timers:
            timer.cancel()

    def receive(self, message: ReceivedNotice) -> None:
        """React to one message on behalf of each simulated recipient."""
        urls = [url for url in notice_urls(message) if self._is_sandbox_url(url)]
        if not urls:
            return
        # A re-delivery after a broken connection keeps its Message-ID: the same notice.
        notice_id = message.message_id or f"no-message-id-{id(message)}"
        alert = is_domain_alert(message)
        for recipient in dict.fromkeys(r.lower() for r in message.rcpt_tos):
            provider = self._by_email.get(recipient)
            if provider is None:
                continue
            if alert:
                # A registry weighs a domain alert under its own policy; the sandbox's acts on
                # escalations only, so the walks show the host's and the registrar's parts.
                for url in urls:
                    self._log(provider, "received", url)
                continue
            self._react(provider, urls, notice_id, answer_link(message))

    def _react(
        self, provider: Provider, urls: list[str], notice_id: str, answer: str | None
    ) -> None:
        # The number of the notice that makes the provider act, for each behaviour.
        acting_count = {
            Behaviour.QUICK: 1,
            Behaviour.LINK: 1,
            Behaviour.AFTER_RENOTICE: 2,
        }.get(provider.behaviour)
        due: list[str] = []
        with self._lock:
            for url in urls:
                seen = self._seen[(provider.name, url)]
                new = notice_id not in seen
                seen.add(notice_id)
                self._log(provider, "received", url)
                if new and len(seen) == acting_count:
                    due.append(url)
        if not due:
            return
        if provider.behaviour is Behaviour.LINK and answer is not None:
            self._schedule(0, self._acknowledge, provider, due, answer)
        else:
            self._schedule(provider.delay, self._act, provider, due)

    def _act(self, provider: Provider, urls: list[str]) -> None:
        for url in urls:
            if provider.suspends:
                self._effects.suspend(url)
                self._log(provider, "suspended", url)
            else:
                self._effects.remove(url)
                self._log(provider, "removed", url)

    def _acknowledge(self, provider: Provider, urls: list[str], answer: str) -> None:
        # Acknowledge first, then act: the answers then arrive in the order a person's would.
        self._answer(provider, answer, "acknowledged", urls[0])
        self._schedule(provider.delay, self._act_and_answer, provider, urls, answer)

    def _act_and_answer(self, provider: Provider, urls: list[str], answer: str) -> None:
        self._act(provider, urls)
        self._answer(provider, answer, "removed", urls[0])

    def _answer(self, provider: Provider, answer: str, kind: str, url: str) -> None:
        self._effects.answer(answer, kind)
        self._log(provider, f"answered:{kind}", url)

    def _log(self, provider: Provider, action: str, url: str) -> None:
        # Callers may or may not hold the lock; a list append is atomic either way.
        self._actions.append(ProviderAction(provider.name, action, url))
        if action != "received":
            logger.info("sandbox: %s %s %s", provider.name, action.replace(":", " "), url)

    def _schedule(self, delay: float, func: Callable[..., None], *args: Any) -> None:
        def run() -> None:
            with self._lock:
                self._timers.discard(timer)
                if self._stopped:
                    return
            try:
                func(*args)
            except Exception:
                # A timer thread has no caller to raise to: the log is where it shows.
                logger.exception("a simulated provider failed to act")

        timer = threading.Timer(max(delay, 0.0), run)
        timer.daemon = True
        with self._lock:
            if self._stopped:
                return
            self._timers.add(timer)
        timer.start()
