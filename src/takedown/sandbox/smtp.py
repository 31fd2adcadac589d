"""The sandbox's SMTP server on loopback: where notices arrive in the demo and the tests.

It is a real SMTP server (aiosmtpd, in its own thread and event loop), so the code under test
goes through smtplib, the network and MIME parsing as in production. Every accepted message is
parsed back (text, HTML, the X-ARF JSON attachments) and kept; subscribers registered with
``on_message`` see each one as it arrives (the sandbox's simulated providers answer notices
that way).

Faults on demand, for the delivery tests:

* ``fail_next(count, code)`` answers the next ``count`` messages with ``code`` (451: try again
  later; 550: refused for good), after DATA or at RCPT;
* ``set_delay(seconds)`` holds back the reply to DATA. A message counts as received as soon as
  its data is in, like a real server whose "250" is lost with the connection (RFC 1047): a
  sender killed during the delay has delivered it without knowing, and its retry, with the
  same Message-ID, shows up as a second copy in ``by_message_id()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import json
import logging
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from typing import Any, Literal, Self

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from takedown.clock import Clock, SystemClock
from takedown.sandbox.serving import BackgroundServer, start_thread

logger = logging.getLogger(__name__)

Stage = Literal["data", "rcpt"]
# Replies per fault code; an unknown code gets a generic text with its class digit.
_REPLIES = {
    421: "421 4.3.2 Service shutting down (sandbox)",
    450: "450 4.2.0 Mailbox unavailable (sandbox)",
    451: "451 4.3.0 Temporary local problem, try again later (sandbox)",
    452: "452 4.3.1 Insufficient storage (sandbox)",
    550: "550 5.1.1 Mailbox unavailable (sandbox)",
    552: "552 5.3.4 Message too big (sandbox)",
    554: "554 5.7.1 Message refused (sandbox)",
}
_READY_TIMEOUT = 10.0


@dataclass(frozen=True)
class ReceivedMessage:
    """One message the sink accepted, parsed back. ``xarf`` holds the JSON attachments."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    message_id: str | None
    subject: str
    reference: str | None
    text: str | None
    html: str | None
    xarf: list[dict[str, Any]]
    received_at: datetime


class SmtpSink(BackgroundServer):
    """An SMTP server on ``host``:``port`` (0: a free port) that keeps what it receives.

    With ``credentials`` it offers AUTH PLAIN/LOGIN (without TLS: loopback only) and refuses
    mail from a client that has not logged in.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        hostname: str = "smtp.sandbox.test",
        credentials: tuple[str, str] | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._host = host
        self._requested_port = port
        self._port = 0
        self._hostname = hostname
        self._credentials = credentials
        self._clock: Clock = clock or SystemClock()
        self._lock = threading.Condition()
        self._messages: list[ReceivedMessage] = []
        self._callbacks: list[Callable[[ReceivedMessage], None]] = []
        self._failures: list[tuple[int, Stage]] = []
        self._delay = 0.0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.AbstractServer | None = None
        self._thread: threading.Thread | None = None
        self._protocols: list[SMTP] = []

    # -- life cycle ----------------------------------------------------------------------------

    @property
    def host(self) -> str:
        return self._host

    @property
    def port(self) -> int:
        """The port it listens on (known once started)."""
        if not self._port:
            raise RuntimeError("the SMTP sink is not running")
        return self._port

    def start(self) -> Self:
        """Listen and serve in a background thread; returns once connections are accepted."""
        if self._thread is not None:
            raise RuntimeError("the SMTP sink is already running")
        ready = threading.Event()
        failure: list[BaseException] = []
        self._thread = start_thread(self._run, ready, failure, name="smtp-sink")
        if not ready.wait(_READY_TIMEOUT) or failure:
            self._thread.join(_READY_TIMEOUT)
            self._thread = None
            if failure:
                raise failure[0]
            raise RuntimeError("the SMTP sink did not start")
        return self

    def stop(self) -> None:
        """Close the listener and every open session, and end the thread."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join(_READY_TIMEOUT)
        self._thread = None
        self._port = 0

    def _is_started(self) -> bool:
        return self._thread is not None

    def _run(self, ready: threading.Event, failure: list[BaseException]) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        try:
            server = loop.run_until_complete(
                loop.create_server(self._protocol, self._host, self._requested_port)
            )
        except OSError as exc:
            failure.append(exc)
            ready.set()
            loop.close()
            asyncio.set_event_loop(None)
            self._loop = None
            return
        self._server = server
        self._port = int(server.sockets[0].getsockname()[1])
        loop.call_soon(ready.set)
        try:
            loop.run_forever()
        finally:
            self._shutdown(loop, server)

    def _shutdown(self, loop: asyncio.AbstractEventLoop, server: asyncio.AbstractServer) -> None:
        server.close()
        for protocol in self._protocols:
            if protocol.transport is not None:
                protocol.transport.close()
        tasks = asyncio.all_tasks(loop)
        for task in tasks:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
        loop.run_until_complete(server.wait_closed())
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
        asyncio.set_event_loop(None)
        self._loop = None
        self._server = None
        self._protocols.clear()

    def _protocol(self) -> SMTP:
        assert self._loop is not None
        protocol = _SMTP(
            _Handler(self),
            hostname=self._hostname,
            ident="Takedown sandbox SMTP",
            enable_SMTPUTF8=True,
            loop=self._loop,
            authenticator=self._authenticate if self._credentials else None,
            auth_require_tls=self._credentials is None,
        )
        self._protocols = [p for p in self._protocols if p.transport is not None]
        self._protocols.append(protocol)
        return protocol

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        if not isinstance(data, LoginPassword) or self._credentials is None:
            return AuthResult(success=False, handled=False)
        user, password = self._credentials
        ok = data.login == user.encode() and data.password == password.encode()
        return AuthResult(success=ok, handled=False)

    # -- what arrived --------------------------------------------------------------------------

    def messages(self) -> list[ReceivedMessage]:
        """A copy of every message received so far, oldest first."""
        with self._lock:
            return list(self._messages)

    def by_message_id(self) -> Counter[str]:
        """How many copies of each Message-ID arrived (a retry after a lost reply shows 2)."""
        with self._lock:
            return Counter(m.message_id or "" for m in self._messages)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[ReceivedMessage]:
        """Block until at least ``count`` messages arrived; ``TimeoutError`` after ``timeout``."""
        with self._lock:
            if not self._lock.wait_for(lambda: len(self._messages) >= count, timeout):
                raise TimeoutError(
                    f"{len(self._messages)} message(s) arrived in {timeout:g} s, not {count}"
                )
            return list(self._messages)

    def clear(self) -> None:
        """Forget the messages received so far."""
        with self._lock:
            self._messages.clear()

    def on_message(self, callback: Callable[[ReceivedMessage], None]) -> None:
        """Call ``callback`` (in the server's thread) for every message accepted from now on."""
        with self._lock:
            self._callbacks.append(callback)

    # -- faults --------------------------------------------------------------------------------

    def fail_next(self, count: int, code: int = 451, *, stage: Stage = "data") -> None:
        """Answer the next ``count`` messages (``rcpt``: recipients) with ``code``."""
        if not 400 <= code <= 599:
            raise ValueError("a failure code is 4xx (temporary) or 5xx (permanent)")
        with self._lock:
            self._failures.extend([(code, stage)] * count)

    def set_delay(self, seconds: float) -> None:
        """Hold back the reply to DATA this long (0: answer at once)."""
        with self._lock:
            self._delay = max(seconds, 0.0)

    def _take_failure(self, stage: Stage) -> str | None:
        with self._lock:
            if self._failures and self._failures[0][1] == stage:
                code, _ = self._failures.pop(0)
                return _REPLIES.get(code, f"{code} {code // 100}.0.0 Sandbox failure")
        return None

    def _accept(self, envelope: Envelope) -> float:
        """Parse and keep a message, tell subscribers; returns the delay to apply."""
        raw = envelope.original_content or b""
        received = parse_message(
            raw, envelope.mail_from or "", list(envelope.rcpt_tos), self._clock.now()
        )
        with self._lock:
            self._messages.append(received)
            callbacks = list(self._callbacks)
            delay = self._delay
            self._lock.notify_all()
        for callback in callbacks:
            try:
                callback(received)
            except Exception:
                # A subscriber's bug must not turn into an SMTP error for the sender.
                logger.exception("SMTP sink subscriber %r failed", callback)
        return delay


class _Session(Session):
    """aiosmtpd's session without its own deprecation warning.

    aiosmtpd 1.4 sets the deprecated ``login_data`` itself after every successful AUTH, which
    warns; with warnings as errors (our tests) that would break every login.
    """

    @property
    def login_data(self) -> Any:
        return self._login_data

    @login_data.setter
    def login_data(self, value: Any) -> None:
        self._login_data = value


class _SMTP(SMTP):
    def _create_session(self) -> Session:
        return _Session(self.loop)


class _Handler:
    """aiosmtpd's hooks, forwarding to the sink."""

    def __init__(self, sink: SmtpSink) -> None:
        self._sink = sink

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self._sink._credentials is not None and not session.authenticated:
            return "530 5.7.0 Authentication required"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        failure = self._sink._take_failure("rcpt")
        if failure is not None:
            return failure
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        failure = self._sink._take_failure("data")
        if failure is not None:
            return failure
        delay = self._sink._accept(envelope)
        if delay:
            await asyncio.sleep(delay)
        return "250 2.0.0 OK: queued"


def parse_message(
    raw: bytes, mail_from: str, rcpt_tos: list[str], received_at: datetime
) -> ReceivedMessage:
    """Parse a message as the sink keeps it: text and HTML bodies, X-ARF attachments."""
    # SMTP carries CRLF line ends; the parsed texts use "\n", as Python strings do.
    unix = raw.replace(b"\r\n", b"\n")
    message = email.message_from_bytes(unix, policy=email.policy.default)
    return ReceivedMessage(
        mail_from=mail_from,
        rcpt_tos=rcpt_tos,
        message=message,
        message_id=_header(message, "Message-ID"),
        subject=_header(message, "Subject") or "",
        reference=_header(message, "X-Takedown-Reference"),
        text=_body(message, "plain"),
        html=_body(message, "html"),
        xarf=_json_attachments(message),
        received_at=received_at,
    )


def _header(message: EmailMessage, name: str) -> str | None:
    value = message.get(name)
    return None if value is None else str(value).strip()


def _body(message: EmailMessage, subtype: str) -> str | None:
    part = message.get_body(preferencelist=(subtype,))
    if part is None:
        return None
    with contextlib.suppress(LookupError, UnicodeError):
        content = part.get_content()
        return content if isinstance(content, str) else None
    return None


def _json_attachments(message: EmailMessage) -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for part in message.iter_attachments():
        if part.get_content_type() != "application/json":
            continue
        payload = part.get_content()
        try:
            doc = json.loads(payload)
        except (ValueError, UnicodeError):
            logger.warning("SMTP sink: attachment %s is not JSON", part.get_filename())
            continue
        if isinstance(doc, dict):
            docs.append(doc)
    return docs
