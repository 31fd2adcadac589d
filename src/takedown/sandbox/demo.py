"""``takedown run --demo``: the product on the sandbox, with the walk narrated as it happens.

``SandboxDemo`` starts a ``SandboxWorld`` whose providers act within seconds, derives the
demo's settings (the world's services, timings of seconds instead of hours, answer links
pointing at the local server), seeds the directory and the known bank, and publishes a
known-sample page on every hosting provider and one unknown page. Once the server listens
(``begin``), it prints where to look, files a public report for each page, and narrates:
a ``Narrator`` thread reads the new timeline events of those cases from the database, the
SMTP sink tells it about each message, and the simulated providers' actions are read from
the world.

Everything is on loopback and every image is a generated abstract pattern; "known" means
the pattern's hash is in the ``sandbox-known`` bank. A second run on the same database
seeds nothing new; its sites get new ports, so its reports open new cases.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, Final, Self
from urllib.parse import urlsplit

import click
from sqlalchemy import select

from takedown.auth.principal import PUBLIC
from takedown.cases.models import Case, CaseEvent, CaseState
from takedown.clock import SystemClock
from takedown.config import Settings
from takedown.db.session import Database
from takedown.intake import service as intake
from takedown.intake.schemas import ReportIn
from takedown.notices import service as notices
from takedown.sandbox.providers import default_providers, notice_urls
from takedown.sandbox.smtp import ReceivedMessage
from takedown.sandbox.world import KNOWN_BANK, SandboxWorld, Site
from takedown.words import plural

logger = logging.getLogger(__name__)

# Seconds instead of the product's hours, so the whole walk fits in a minute or two.
PROVIDER_DELAY: Final = 3.0
POLICE_WAIT_SECONDS: Final = 20
TIMINGS: Final[dict[str, Any]] = {
    "recheck_first": timedelta(seconds=10),
    "recheck_interval": timedelta(seconds=15),
    "renotice_after": timedelta(seconds=30),
    "worker_poll_seconds": 0.5,
}
POLL_SECONDS: Final = 0.5
# How long a message in the sink waits for the timeline to say its notice was sent.
SINK_WAIT: Final = 5.0
CLOCK: Final = SystemClock()
# Events written in one transaction share a time; this keeps them in the order they happen.
_ORDER: Final = {
    kind: rank
    for rank, kind in enumerate(
        ["captured", "state_changed", "traced", "routed", "police_deconfliction"]
    )
}
_SETTLED: Final = {CaseState.CLOSED, CaseState.AWAITING_ASSESSMENT, CaseState.NOT_ILLEGAL}

Say = Callable[[str, str], None]


class SandboxDemo:
    """The sandbox world, the demo's settings and reports, and the narration of their cases.

    ``with SandboxDemo(...) as demo:`` starts and seeds the world; serve the product with
    ``demo.settings`` and call ``demo.begin()`` once the server listens.
    """

    narrator: Narrator  # from __enter__ on: it needs the settings the running world gives

    def __init__(
        self,
        settings: Settings,
        database: Database,
        *,
        host: str,
        port: int,
        admin_password: str | None = None,
    ) -> None:
        self.base_url = local_url(host, port)
        self.settings = settings  # until the world runs: then with its services and timings
        self.world = SandboxWorld(default_providers(PROVIDER_DELAY), answer_base_url=self.base_url)
        self.sites: list[Site] = []
        self._database = database
        self._admin_password = admin_password
        self._started = time.monotonic()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Self:
        self.world.start()
        try:
            self.settings = self.settings.model_copy(
                update=self.world.settings_overrides()
                | TIMINGS
                | {"public_base_url": self.base_url}
            )
            self.narrator = Narrator(self._database, self.settings, self.world, self.say)
            with self._database.transaction() as session:
                created = self.world.seed(
                    session, self.settings, CLOCK.now(), police_wait_seconds=POLICE_WAIT_SECONDS
                )
            click.echo("sandbox seeded: " + (", ".join(created) if created else "nothing new"))
            self.sites = self.world.add_demo_sites()
            self.world.smtp.on_message(self.narrator.on_message)
        except BaseException:
            self.world.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
        self.world.stop()
        click.echo("demo stopped")

    def begin(self) -> None:
        """Print where to look, file the reports and start narrating (the server listens)."""
        try:
            self._where_to_look()
            self._report()
        except Exception:
            logger.exception("the demo could not file its reports")
            return
        self._thread = threading.Thread(
            target=self.narrator.run, args=(self._stop,), name="demo-narrator", daemon=True
        )
        self._thread.start()

    def say(self, label: str, text: str) -> None:
        """One line of narration: time since the start, which page, what happened."""
        elapsed = int(time.monotonic() - self._started)
        line = f"[+{elapsed // 60}:{elapsed % 60:02d}] {label:<10} {text}"
        with self._lock:  # the narrator and the SMTP sink's thread both print
            click.echo(line)

    def _where_to_look(self) -> None:
        base = self.base_url
        password = self._admin_password or "the password the first run printed"
        web = self.world.web_host(self.sites[0].provider) if self.sites else None
        lines = [
            "",
            "Takedown demo: the product on the sandbox, a simulated internet on loopback.",
            "Every image is a generated abstract pattern; 'known' means its hash is in the",
            f"bank {KNOWN_BANK}. Timings are seconds: police wait {POLICE_WAIT_SECONDS} s,",
            f"providers act {PROVIDER_DELAY:g} s after a notice, re-checks every "
            f"{self.settings.recheck_interval.total_seconds():.0f} s.",
            "",
            f"  API docs     {base}/docs",
            f"  console      {base}/console  (admin / {password}; enrol the second factor with",
            "               any TOTP app on first sign-in, then the API accepts it too)",
            f"  cases        GET {base}/api/v1/cases  (signed in; shows the time to removal)",
            f"  report form  {base}/report",
            "  answer page  a notice's answer link is printed when the first notice goes out",
            f"  SMTP sink    {self.world.smtp.host}:{self.world.smtp.port} (every notice lands"
            " there)",
            "",
            "Sample sites (their names resolve only in the sandbox's own DNS):",
        ]
        for site in self.sites:
            provider = self.world.provider(site.provider)
            what = "known" if site.known else "unknown"
            lines.append(
                f"  {label_of(self.world, site):<10} {site.url}  ({what}; {provider.name},"
            )
            lines.append(f"  {'':<10} {provider.country}, {provider.behaviour.label})")
        if web is not None and self.sites:
            name = urlsplit(self.sites[0].url).hostname
            lines.append(
                f"  e.g. curl --resolve {name}:{web.port}:{web.address} {self.sites[0].url}"
            )
        lines += ["", "Ctrl-C stops. What happens:", ""]
        with self._lock:
            click.echo("\n".join(lines))

    def _report(self) -> None:
        """File every sample page as a public report, as someone finding it would."""
        with self._database.transaction() as session:
            results = [
                (
                    site,
                    intake.submit_one(
                        session, self.settings, PUBLIC, ReportIn(url=site.url), now=CLOCK.now()
                    ),
                )
                for site in self.sites
            ]
        for site, result in results:
            label = label_of(self.world, site)
            self.narrator.follow(label, site.url, result.case_id)
            self.say(label, f"reported {site.url} ({result.status} {result.reference or ''})")


class Narrator:
    """Tells what happens to the demo's cases: timeline events, sink messages, provider acts.

    A message reaches the SMTP sink before the job that sent it commits, so each one waits
    here until the timeline says its notice was sent (or ``SINK_WAIT`` passes): the story
    then reads in the order it happened for the hotline.
    """

    def __init__(
        self, database: Database, settings: Settings, world: SandboxWorld, say: Say
    ) -> None:
        self._database = database
        self._settings = settings
        self._world = world
        self._say = say
        self._cases: dict[uuid.UUID, str] = {}
        self._pages: dict[tuple[str, str], str] = {}
        self._seen: set[uuid.UUID] = set()
        self._inbox: list[tuple[ReceivedMessage, float]] = []
        self._actions = 0
        self._answer_link_shown = False
        self._removals: dict[str, float] = {}
        self._done = False
        self._lock = threading.Lock()

    def follow(self, label: str, url: str, case_id: uuid.UUID | None) -> None:
        """Narrate what happens to the case of ``url`` (and to the page itself)."""
        with self._lock:
            self._pages[_page(url)] = label
            if case_id is not None:
                self._cases[case_id] = label

    def on_message(self, message: ReceivedMessage) -> None:
        """The SMTP sink's callback (its thread): keep the message until its notice is told."""
        with self._lock:
            self._inbox.append((message, time.monotonic()))

    def run(self, stop: threading.Event) -> None:
        """Poll until ``stop`` is set."""
        while not stop.wait(POLL_SECONDS):
            try:
                self.poll()
            except Exception:
                # A locked or restarting database: the next poll tells what this one missed.
                logger.exception("the demo's narration failed to read the database")

    def poll(self) -> None:
        """Tell the followed cases' new events, the sink's messages, the providers' acts."""
        with self._lock:
            cases = dict(self._cases)
        with self._database.sessions() as session:
            events = session.scalars(select(CaseEvent).where(CaseEvent.case_id.in_(cases))).all()
            states = dict(
                session.execute(select(Case.id, Case.state).where(Case.id.in_(cases))).all()
            )
        new = [e for e in events if e.id not in self._seen]
        for event in sorted(new, key=lambda e: (e.at, _ORDER.get(e.kind, len(_ORDER)))):
            self._seen.add(event.id)
            for text in self._describe(event):
                self._say(cases[event.case_id], text)
            if event.kind == "notice_sent":
                self._tell_inbox(sent=event.message)
        self._tell_inbox()
        actions = self._world.actions
        for action in actions[self._actions :]:
            told = _act(action.provider, action.action)
            if told:
                self._say(self._label(action.url), told)
        self._actions = len(actions)
        if cases and not self._done and all(s in _SETTLED for s in states.values()):
            self._done = True
            self._summary(states)

    def _tell_inbox(self, *, sent: str | None = None) -> None:
        """Tell the messages of the notice ``sent`` names, or else those waiting too long."""

        def ready(message: ReceivedMessage, since: float) -> bool:
            if sent is None:
                return time.monotonic() - since > SINK_WAIT
            return message.reference is not None and message.reference in sent

        told: list[ReceivedMessage] = []
        with self._lock:
            waiting, self._inbox = self._inbox, []
            for message, since in waiting:
                if ready(message, since):
                    told.append(message)
                else:
                    self._inbox.append((message, since))
        for message in told:
            urls = notice_urls(message)
            label = self._label(urls[0]) if urls else "-"
            rcpts = ", ".join(message.rcpt_tos)
            self._say(label, f"SMTP sink received it for {rcpts}: '{message.subject}'")

    def _label(self, url: str) -> str:
        with self._lock:
            return self._pages.get(_page(url), "-")

    def _describe(self, event: CaseEvent) -> list[str]:
        data = event.data
        match event.kind:
            case "state_changed":
                return _state_changed(event)
            case "traced" | "routed":
                return [f"{event.kind}: {_lower(event.message)}"]
            case "police_deconfliction":
                seconds = (datetime.fromisoformat(data["until"]) - event.at).total_seconds()
                wait = _lower(event.message.split(", until")[0])
                return [f"police first: {wait} ({seconds:.0f} s)"]
            case "police_timeout":
                return [f"police wait over: {_lower(event.message)}"]
            case "notice_queued":
                return []  # "sent" follows at once
            case "notice_sent":
                return [event.message.split(" (")[0], *self._answer_link(data.get("notice_id"))]
            case "rechecked":
                return [f"re-check: {_lower(event.message)}"]
            case "removed":
                report = data["from_first_report_seconds"]
                notice = data.get("from_first_notice_seconds")
                self._removals[self._cases[event.case_id]] = report
                after = f", {notice:.0f} s from the first notice" if notice is not None else ""
                return [f"re-check: removed; time to removal {report:.0f} s from the report{after}"]
            case _:
                return [event.message]

    def _answer_link(self, notice_id: str | None) -> list[str]:
        if self._answer_link_shown or notice_id is None:
            return []
        self._answer_link_shown = True
        link = notices.answer_url(self._settings, uuid.UUID(notice_id))
        return [f"its answer page, as the recipient sees it: {link}"]

    def _summary(self, states: dict[uuid.UUID, CaseState]) -> None:
        waiting = sum(1 for s in states.values() if s is CaseState.AWAITING_ASSESSMENT)
        removed = ", ".join(f"{label} {s:.0f} s" for label, s in self._removals.items())
        self._say(
            "done",
            f"every case settled. Time to removal from the report: {removed or 'none'}; "
            f"{plural(waiting, 'case waits', 'cases wait')} for an analyst. The server keeps"
            " running; Ctrl-C stops.",
        )
        stats = f"{self._settings.public_base_url.rstrip('/')}/console/stats"
        self._say("done", f"the walk as charts (signed in as admin): {stats}")


def _state_changed(event: CaseEvent) -> list[str]:
    target = event.data.get("to")
    if target == CaseState.CONFIRMED.value and event.data.get("automatic"):
        return ["confirmed automatically: every item matched the known bank, no one viewed it"]
    if target == CaseState.AWAITING_ASSESSMENT.value:
        return ["awaits an analyst: an item matches nothing known"]
    if target == CaseState.CLOSED.value:
        return []  # "removed" said it
    return [f"{event.message} ({event.actor})"]


def _act(provider: str, action: str) -> str | None:
    """A simulated provider's action as a sentence; None for what the sink already told."""
    if action == "removed":
        return f"{provider} removed the page: it answers 404 now"
    if action == "suspended":
        return f"{provider} suspended the name: it no longer resolves"
    return None  # received: the sink told it; answered: the timeline tells it


def _lower(message: str) -> str:
    """A timeline message after a prefix of ours: ``Still live`` → ``still live``."""
    return message[:1].lower() + message[1:]


def _page(url: str) -> tuple[str, str]:
    """What identifies a sample page across spellings of its URL: host name and path."""
    parts = urlsplit(url)
    return (parts.hostname or "").rstrip("."), parts.path or "/"


def label_of(world: SandboxWorld, site: Site) -> str:
    """A short name for a sample page in the narration: its provider's site, or 'unknown'."""
    return (world.provider(site.provider).site or site.provider) if site.known else "unknown"


def local_url(host: str, port: int) -> str:
    """The server's URL as the sandbox's providers reach it (a wildcard host is loopback)."""
    if host in ("", "0.0.0.0", "::"):  # noqa: S104 - reading the bind address, not binding
        host = "127.0.0.1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
