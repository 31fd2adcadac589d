"""A notice the receiver accepted is recorded as sent, even when its worker is killed with -9.

These tests kill a real ``takedown worker`` process with SIGKILL after the receiver accepted
the notice (SMTP: the client has read the ``250`` to DATA and sent QUIT; webhook: the client
has the ``200`` status line), so nothing in the worker records the delivery. The notice is left
``sending``, its outcome unknown. What the retry does is the subject:

* content still up: it sends again, with the same Message-ID (the receiver can tell it is the
  same notice), and records it sent;
* content gone (the provider acted on the notice): nothing is sent again, and the notice is
  recorded as sent at the time its attempt started, so the case's first notice and time to
  removal from notice are filled. Never "cancelled".

Organizations are fictional, URLs are example URLs, and the items are hashes of benign bytes.
"""

from __future__ import annotations

import email
import email.policy
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import select

from takedown.cases.models import Case, CaseEvent, CaseState
from takedown.config import Settings
from takedown.db.session import Database
from takedown.flow import monitoring
from takedown.jobs.models import Job, JobStatus
from takedown.monitoring.removal import RecheckOutcome, RecheckStatus
from takedown.notices import service as notices
from takedown.notices.models import Notice, NoticeStatus
from tests.jobs.support import wait_until
from tests.notices.support import events_of, new_notice

ROOT = Path(__file__).resolve().parents[2]
SECRET = "a-webhook-secret-of-enough-length"
# Short, so that the retry comes soon after the kill; the worker renews it while it runs.
LEASE_SECONDS = 2
WAIT = 60.0


# -- receivers that kill the worker once it knows the notice was accepted ----------------------


@dataclass
class Victim:
    """The worker process to kill, once, when a receiver has accepted a notice."""

    pid: int | None = None
    killed: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def kill(self) -> None:
        with self.lock:
            if self.pid is None:
                return
            pid, self.pid = self.pid, None
        os.kill(pid, signal.SIGKILL)
        self.killed.set()


class KillingSmtp:
    """aiosmtpd hooks: accept every message; kill the worker when it says QUIT.

    smtplib sends QUIT only after it has read the ``250`` to DATA, so at that point the worker
    knows the relay took the notice, and is killed before it can write that down.
    """

    def __init__(self, victim: Victim) -> None:
        self.victim = victim
        self.message_ids: list[str] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        message = email.message_from_bytes(
            envelope.original_content or b"", policy=email.policy.default
        )
        with self.lock:
            self.message_ids.append(str(message["Message-ID"]))
        return "250 2.0.0 Accepted"

    async def handle_QUIT(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.victim.kill()
        return "221 Bye"


class _HookHandler(BaseHTTPRequestHandler):
    server: KillingHook

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        hook = self.server
        with hook.lock:
            hook.keys.append(self.headers.get("Idempotency-Key", ""))
        answer = b'{"ok": true, "ticket": "T-1"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        # The receiver has taken the notice and said so; the answer's body stops short, so
        # the worker is still reading it (it cannot have recorded anything) when it is killed.
        self.wfile.write(answer[:5])
        self.wfile.flush()
        if hook.victim.pid is not None:
            hook.victim.kill()
            return
        self.wfile.write(answer[5:])

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the test output is for the tests."""


class KillingHook(ThreadingHTTPServer):
    """An organization's webhook on 127.0.0.1 that kills the worker after answering 200."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, victim: Victim) -> None:
        super().__init__(("127.0.0.1", 0), _HookHandler)
        self.victim = victim
        self.keys: list[str] = []
        self.lock = threading.Lock()

    @property
    def where(self) -> str:
        return f"127.0.0.1:{self.server_address[1]}"


# -- fixtures ----------------------------------------------------------------------------------


class Workers:
    """``takedown worker`` processes on the test's committed database, logging to a folder."""

    def __init__(self, env: dict[str, str], folder: Path) -> None:
        self._env = env
        self._folder = folder
        self._processes: list[subprocess.Popen[bytes]] = []

    def start(self, env: dict[str, str]) -> subprocess.Popen[bytes]:
        with (self._folder / f"worker-{len(self._processes)}.log").open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "takedown", "worker"],
                env=self._env | env,
                cwd=self._folder,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self._processes.append(process)
        return process

    def logs(self) -> str:
        return "\n".join(p.read_text() for p in sorted(self._folder.glob("worker-*.log")))

    def wait(self, process: subprocess.Popen[bytes], done: Callable[[], bool], what: str) -> None:
        """Wait until ``done``; fail with the workers' logs if ``process`` exits first or
        it takes too long."""

        def check() -> bool:
            if done():
                return True
            if process.poll() is not None:
                raise AssertionError(
                    f"the worker exited with {process.returncode} before {what}:\n{self.logs()}"
                )
            return False

        try:
            wait_until(check, WAIT, what)
        except AssertionError as exc:
            if "timed out" not in str(exc):
                raise
            raise AssertionError(f"{exc}\n{self.logs()}") from None

    def stop(self) -> None:
        for process in self._processes:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(30)


@pytest.fixture
def workers(committed: Database, database_url: str, tmp_path: Path) -> Iterator[Workers]:
    """Start ``takedown worker`` processes; they are ended at teardown.

    Depends on ``committed`` so the processes are gone before its tables are emptied.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAKEDOWN_")} | {
        "TAKEDOWN_DATABASE_URL": database_url,
        "TAKEDOWN_DATA_DIR": str(tmp_path / "data"),
        "TAKEDOWN_JOB_LEASE_SECONDS": str(LEASE_SECONDS),
        "TAKEDOWN_WORKER_POLL_SECONDS": "0.1",
        "TAKEDOWN_FETCH_RESOLVER": "static",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    started = Workers(env, tmp_path)
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture
def victim() -> Victim:
    return Victim()


@pytest.fixture
def smtp(victim: Victim) -> Iterator[tuple[KillingSmtp, int]]:
    handler = KillingSmtp(victim)
    controller = Controller(handler, hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        yield handler, controller.port
    finally:
        controller.stop()


@pytest.fixture
def hook(victim: Victim) -> Iterator[KillingHook]:
    server = KillingHook(victim)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def _free_port() -> int:
    # aiosmtpd's Controller connects to its own port to know it is up, so it needs a number.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# -- helpers -----------------------------------------------------------------------------------


def queue_notice(database: Database, settings: Settings, **org: Any) -> tuple[uuid.UUID, uuid.UUID]:
    """A confirmed case with a known item and a queued notice, on the real clock."""
    with database.transaction() as session:
        notice = new_notice(session, settings, classification="A1", now=datetime.now(UTC), **org)
        return notice.id, notice.case_id


def load(database: Database, notice_id: uuid.UUID) -> Notice:
    with database.sessions() as session:
        return session.get_one(Notice, notice_id)


def load_case(database: Database, case_id: uuid.UUID) -> Case:
    with database.sessions() as session:
        return session.get_one(Case, case_id)


def kill_after_acceptance(workers: Workers, victim: Victim, env: dict[str, str]) -> None:
    """Start a worker and wait until the receiver has killed it with SIGKILL."""
    process = workers.start(env)
    victim.pid = process.pid
    workers.wait(process, victim.killed.is_set, "the receiver killing the worker")
    assert process.wait(30) == -signal.SIGKILL


def retry(workers: Workers, env: dict[str, str], database: Database, notice_id: uuid.UUID) -> None:
    """Start another worker and wait until it has settled the notice."""
    process = workers.start(env)
    workers.wait(process, finished(database, notice_id), "the retry settling the notice")


def remove_content(database: Database, settings: Settings, case_id: uuid.UUID) -> None:
    """The provider acted: a re-check sees the content gone (404) and closes the case."""
    with database.transaction() as session:
        case = session.get_one(Case, case_id)
        outcome = RecheckOutcome(
            RecheckStatus.REMOVED, "http_404", "the page answers 404", http_status=404
        )
        monitoring.record(session, case, outcome, settings=settings, now=datetime.now(UTC))


def finished(database: Database, notice_id: uuid.UUID) -> Callable[[], bool]:
    """The notice left the open states and its send job is done."""

    def check() -> bool:
        with database.sessions() as session:
            notice = session.get_one(Notice, notice_id)
            jobs = session.scalars(select(Job).where(Job.name == notices.SEND_JOB)).all()
            return notice.status not in notices.OPEN and all(
                job.status is JobStatus.SUCCEEDED for job in jobs
            )

    return check


def sent_events(database: Database, case_id: uuid.UUID) -> list[CaseEvent]:
    with database.sessions() as session:
        return events_of(session, case_id, "notice_sent")


def assert_recorded_as_sent_when_it_started(
    database: Database, notice_id: uuid.UUID, case_id: uuid.UUID
) -> None:
    notice = load(database, notice_id)
    case = load_case(database, case_id)
    assert notice.status is NoticeStatus.SENT, notice.last_error
    assert notice.attempts == 1  # the attempt that was killed; nothing went out again
    assert notice.sent_at is not None
    assert notice.sent_at == notice.sending_started_at
    assert case.first_notice_at == notice.sent_at
    assert case.state is CaseState.CLOSED
    assert case.removed_at is not None
    assert case.removed_at > case.first_notice_at  # time to removal from notice is known
    [event] = sent_events(database, case_id)
    assert event.data["notice_id"] == str(notice_id)
    assert event.data["outcome"] == "uncertain"
    assert "may have" in event.message


# -- the tests ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_an_email_accepted_before_the_kill_is_recorded_as_sent_when_the_content_is_gone(
    committed: Database,
    settings: Settings,
    workers: Workers,
    victim: Victim,
    smtp: tuple[KillingSmtp, int],
) -> None:
    server, port = smtp
    env = {"TAKEDOWN_SMTP_HOST": "127.0.0.1", "TAKEDOWN_SMTP_PORT": str(port)}
    notice_id, case_id = queue_notice(committed, settings)
    kill_after_acceptance(workers, victim, env)
    assert load(committed, notice_id).status is NoticeStatus.SENDING

    remove_content(committed, settings, case_id)
    retry(workers, env, committed, notice_id)

    assert_recorded_as_sent_when_it_started(committed, notice_id, case_id)
    # One message reached the relay, with the notice's Message-ID; none was sent again.
    assert server.message_ids == [load(committed, notice_id).message_id]


@pytest.mark.slow
def test_an_email_accepted_before_the_kill_is_sent_again_with_its_message_id_while_content_is_up(
    committed: Database,
    settings: Settings,
    workers: Workers,
    victim: Victim,
    smtp: tuple[KillingSmtp, int],
) -> None:
    server, port = smtp
    env = {"TAKEDOWN_SMTP_HOST": "127.0.0.1", "TAKEDOWN_SMTP_PORT": str(port)}
    notice_id, case_id = queue_notice(committed, settings)
    kill_after_acceptance(workers, victim, env)
    killed = load(committed, notice_id)
    assert killed.status is NoticeStatus.SENDING
    assert killed.sending_started_at is not None

    retry(workers, env, committed, notice_id)

    notice = load(committed, notice_id)
    case = load_case(committed, case_id)
    assert notice.status is NoticeStatus.SENT
    assert notice.attempts == 2
    assert notice.sent_at is not None
    assert case.first_notice_at == notice.sent_at
    # The copy the relay got twice is one notice to the receiver: the same Message-ID.
    assert server.message_ids == [notice.message_id, notice.message_id]
    [event] = sent_events(committed, case_id)
    assert event.data["outcome"] == "confirmed"
    assert event.data["earlier_attempt_at"] == killed.sending_started_at.isoformat()


@pytest.mark.slow
def test_a_webhook_accepted_before_the_kill_is_recorded_as_sent_when_the_content_is_gone(
    committed: Database,
    settings: Settings,
    workers: Workers,
    victim: Victim,
    hook: KillingHook,
) -> None:
    env = {"TAKEDOWN_FETCH_ALLOW_HOSTS": json.dumps([hook.where])}
    notice_id, case_id = queue_notice(
        committed, settings, webhook_url=f"http://{hook.where}/takedown", webhook_secret=SECRET
    )
    kill_after_acceptance(workers, victim, env)
    assert load(committed, notice_id).status is NoticeStatus.SENDING

    remove_content(committed, settings, case_id)
    retry(workers, env, committed, notice_id)

    assert_recorded_as_sent_when_it_started(committed, notice_id, case_id)
    assert hook.keys == [str(notice_id)]
