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

from takedown.cases.models import Case, CaseEvent, CaseState
from takedown.config import Settings
from takedown.db.session import Database
from takedown.jobs.models import Job, JobStatus
from takedown.monitoring import tasks as monitoring
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
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        hook = self.server
        with hook.lock:
            hook.keys.append(self.headers.get("Idempotency-Key", ""))
            hook.bodies.append(body)
        answer = b'{"ok": true, "ticket": "T-1"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        # The status line and headers are out: the worker has its 200 and reads the body,
        # which does not come before the worker is gone.
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
        self.bodies: list[bytes] = []
        self.lock = threading.Lock()

    @property
    def where(self) -> str:
        return f"127.0.0.1:{self.server_address[1]}"


# -- fixtures ----------------------------------------------------------------------------------


Spawn = Callable[[dict[str, str]], subprocess.Popen[bytes]]


@pytest.fixture
def spawn(committed: Database, database_url: str, tmp_path: Path) -> Iterator[Spawn]:
    """Start ``takedown worker`` processes on the committed database; ended at teardown.

    Depends on ``committed`` so the processes are gone before its tables are emptied.
    """
    processes: list[subprocess.Popen[bytes]] = []
    base = {k: v for k, v in os.environ.items() if not k.startswith("TAKEDOWN_")} | {
        "TAKEDOWN_DATABASE_URL": database_url,
        "TAKEDOWN_DATA_DIR": str(tmp_path / "data"),
        "TAKEDOWN_JOB_LEASE_SECONDS": str(LEASE_SECONDS),
        "TAKEDOWN_WORKER_POLL_SECONDS": "0.1",
        "TAKEDOWN_FETCH_RESOLVER": "static",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }

    def start(env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = (tmp_path / f"worker-{len(processes)}.log").open("wb")
        with log:
            process = subprocess.Popen(
                [sys.executable, "-m", "takedown", "worker"],
                env=base | env,
                cwd=tmp_path,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        processes.append(process)
        return process

    yield start
    for process in processes:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(30)


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
    import socket

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


def kill_after_acceptance(
    spawn: Spawn, victim: Victim, env: dict[str, str]
) -> subprocess.Popen[bytes]:
    """Start a worker and wait until the receiver has killed it with SIGKILL."""
    process = spawn(env)
    victim.pid = process.pid

    def killed() -> bool:
        if process.poll() is not None and not victim.killed.is_set():
            raise AssertionError(f"the worker exited by itself with {process.returncode}")
        return victim.killed.is_set()

    wait_until(killed, WAIT, "the receiver to accept the notice and kill the worker")
    assert process.wait(30) == -signal.SIGKILL
    return process


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
            jobs = session.query(Job).filter(Job.name == notices.SEND_JOB).all()
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
    spawn: Spawn,
    victim: Victim,
    smtp: tuple[KillingSmtp, int],
) -> None:
    server, port = smtp
    env = {"TAKEDOWN_SMTP_HOST": "127.0.0.1", "TAKEDOWN_SMTP_PORT": str(port)}
    notice_id, case_id = queue_notice(committed, settings)
    kill_after_acceptance(spawn, victim, env)
    assert load(committed, notice_id).status is NoticeStatus.SENDING

    remove_content(committed, settings, case_id)
    spawn(env)
    wait_until(finished(committed, notice_id), WAIT, "the retry to settle the notice")

    assert_recorded_as_sent_when_it_started(committed, notice_id, case_id)
    # One message reached the relay, with the notice's Message-ID; none was sent again.
    assert server.message_ids == [load(committed, notice_id).message_id]


@pytest.mark.slow
def test_an_email_accepted_before_the_kill_is_sent_again_with_its_message_id_while_content_is_up(
    committed: Database,
    settings: Settings,
    spawn: Spawn,
    victim: Victim,
    smtp: tuple[KillingSmtp, int],
) -> None:
    server, port = smtp
    env = {"TAKEDOWN_SMTP_HOST": "127.0.0.1", "TAKEDOWN_SMTP_PORT": str(port)}
    notice_id, case_id = queue_notice(committed, settings)
    first = kill_after_acceptance(spawn, victim, env)
    assert first.returncode == -signal.SIGKILL
    killed = load(committed, notice_id)
    assert killed.status is NoticeStatus.SENDING

    spawn(env)
    wait_until(finished(committed, notice_id), WAIT, "the retry to send the notice")

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
    assert event.data["earlier_attempt_at"] == killed.sending_started_at.isoformat()  # type: ignore[union-attr]


@pytest.mark.slow
def test_a_webhook_accepted_before_the_kill_is_recorded_as_sent_when_the_content_is_gone(
    committed: Database,
    settings: Settings,
    spawn: Spawn,
    victim: Victim,
    hook: KillingHook,
) -> None:
    env = {"TAKEDOWN_FETCH_ALLOW_HOSTS": json.dumps([hook.where])}
    notice_id, case_id = queue_notice(
        committed, settings, webhook_url=f"http://{hook.where}/takedown", webhook_secret=SECRET
    )
    kill_after_acceptance(spawn, victim, env)
    assert load(committed, notice_id).status is NoticeStatus.SENDING

    remove_content(committed, settings, case_id)
    spawn(env)
    wait_until(finished(committed, notice_id), WAIT, "the retry to settle the notice")

    assert_recorded_as_sent_when_it_started(committed, notice_id, case_id)
    assert hook.keys == [str(notice_id)]
