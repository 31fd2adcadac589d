"""Real processes for the fault suite: a private PostgreSQL, the product, a steady load.

Nothing here is mocked. ``Cluster`` is a PostgreSQL server of our own (initdb in a temporary
folder, a free loopback port), so a test may stop, crash or restart it without touching the
machine's server. ``Stack`` runs ``takedown serve`` and workers as subprocesses against a
database. ``Load`` sends reports at a steady rate (or from many clients at once) and keeps
every answer, so a test can check what the clients saw against what the database holds.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import httpx

PG_BIN = Path("/usr/lib/postgresql/15/bin")
SRC = Path(__file__).resolve().parents[2] / "src"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def postgres_binaries() -> Path | None:
    """Where initdb and pg_ctl are, or None on a machine without a PostgreSQL server."""
    for candidate in (PG_BIN, *sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)):
        if (candidate / "initdb").exists() and (candidate / "pg_ctl").exists():
            return candidate
    found = shutil.which("pg_ctl")
    return Path(found).parent if found else None


class Cluster:
    """A PostgreSQL server of the test's own, which the test may stop, crash and restart."""

    def __init__(self, root: Path, binaries: Path) -> None:
        self.root = root
        self.data = root / "pgdata"
        self.sockets = root / "sockets"
        self.bin = binaries
        self.port = free_port()
        # PostgreSQL refuses to run as root; CI and this machine run tests as root.
        self._as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [*self._as, *args], capture_output=True, text=True, timeout=120, check=False
        )
        if check and done.returncode != 0:
            log = self.root / "server.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise AssertionError(
                f"{' '.join(args)} failed ({done.returncode}): {done.stdout}{done.stderr}\n{tail}"
            )
        return done

    def init(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.sockets.mkdir(exist_ok=True)
        if self._as:
            shutil.chown(self.root, "postgres")
            shutil.chown(self.sockets, "postgres")
        self._run(
            str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres",
            "--auth=trust", "--no-sync", "-E", "UTF8",
        )  # fmt: skip
        self.start()

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.sockets} "
            "-c fsync=off -c max_connections=200 -c shared_buffers=64MB"
        )
        self._run(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", options,
            "-l", str(self.root / "server.log"), "-w", "-t", "60", "start",
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def restart(self, mode: str = "fast") -> None:
        self.stop(mode)
        self.start()

    def destroy(self) -> None:
        self._run(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop",
            check=False,
        )  # fmt: skip
        shutil.rmtree(self.root, ignore_errors=True)


def env_for(database_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of the product's processes: this checkout's code, fast leases."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAKEDOWN_")}
    env.update(
        PYTHONPATH=str(SRC),
        TAKEDOWN_DATABASE_URL=database_url,
        TAKEDOWN_DATA_DIR=str(data_dir),
        # No DNS query leaves the machine: reported hosts do not resolve, capture fails
        # fast, and the case goes to the analysts.
        TAKEDOWN_FETCH_RESOLVER="static",
        TAKEDOWN_JOB_LEASE_SECONDS="10",
        TAKEDOWN_WORKER_POLL_SECONDS="0.2",
        TAKEDOWN_JOB_BACKOFF_BASE_SECONDS="1",
        TAKEDOWN_API_RATE_LIMIT="10000000",
        TAKEDOWN_TOTP_REQUIRED="false",
    )
    env.update(extra)
    return env


def cli(env: dict[str, str], *args: str, timeout: float = 120) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "takedown", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise AssertionError(f"takedown {' '.join(args)} failed: {done.stdout}{done.stderr}")
    return done.stdout


class Stack:
    """``takedown serve`` and workers as real processes, with their logs in files."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = env
        self.logs = logs
        self.port = free_port()
        self.server: subprocess.Popen[bytes] | None = None
        self.workers: list[subprocess.Popen[bytes]] = []
        self._files: list[BinaryIO] = []
        logs.mkdir(parents=True, exist_ok=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _spawn(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        log = (self.logs / f"{name}.log").open("ab")
        self._files.append(log)
        return subprocess.Popen(
            [sys.executable, "-m", "takedown", *args],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def start(self, workers: int = 2) -> None:
        self.server = self._spawn("serve", "serve", "--host", "127.0.0.1", "--port", str(self.port))
        for i in range(workers):
            self.workers.append(self._spawn(f"worker{i}", "worker"))
        wait_for(lambda: _healthy(self.base_url), 60, "the server to start")

    def kill_worker(self, index: int) -> None:
        """kill -9 a worker and start a new one in its place."""
        old = self.workers[index]
        old.kill()
        old.wait(30)
        self.workers[index] = self._spawn(f"worker{index}", "worker")

    def terminate(self, timeout: float = 30) -> dict[str, int | None]:
        """SIGTERM every process; return each exit code (None: it had to be killed)."""
        procs = {"serve": self.server, **{f"worker{i}": w for i, w in enumerate(self.workers)}}
        for proc in procs.values():
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        codes: dict[str, int | None] = {}
        for name, proc in procs.items():
            if proc is None:
                continue
            try:
                codes[name] = proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
                codes[name] = None
        for log in self._files:
            log.close()
        return codes

    def log_text(self, name: str = "*") -> str:
        """The logs of the process ``name`` (serve, worker0, ...), or of all."""
        files = sorted(self.logs.glob(f"{name}.log"))
        return "\n".join(p.read_text(errors="replace") for p in files)


def _healthy(base_url: str) -> bool:
    try:
        return httpx.get(f"{base_url}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def wait_for(condition: Callable[[], bool], seconds: float, what: str) -> float:
    """Poll ``condition`` until true; return how long it took, or fail naming ``what``."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if condition():
            return time.monotonic() - started
        time.sleep(0.2)
    raise AssertionError(f"timed out after {seconds:.0f} s waiting for {what}")


@dataclass
class Answer:
    external_id: str
    status: int | None  # None: no answer within the client's timeout, or no connection
    seconds: float
    at: float
    error: str = ""


@dataclass
class Load:
    """Reports with unique URLs sent by ``clients`` threads, ``rate`` per second in all.

    With ``rate`` None each client sends as fast as it is answered (the overload test).
    """

    base_url: str
    key: str
    clients: int = 4
    rate: float | None = 20.0
    timeout: float = 20.0
    run: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    answers: list[Answer] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _count: int = 0

    def _next(self) -> int:
        with self._lock:
            self._count += 1
            return self._count

    def _client(self) -> None:
        interval = self.clients / self.rate if self.rate else 0.0
        headers = {"Authorization": f"Bearer {self.key}"}
        with httpx.Client(base_url=self.base_url, timeout=self.timeout, headers=headers) as http:
            next_at = time.monotonic()
            while not self._stop.is_set():
                n = self._next()
                external_id = f"{self.run}-{n}"
                body = {
                    "url": f"http://r{n}.fault-{self.run}.example/gallery/{n}.jpg",
                    "content_kind": "image",
                    "external_id": external_id,
                }
                started = time.monotonic()
                try:
                    status: int | None = http.post("/api/v1/reports", json=body).status_code
                    error = ""
                except httpx.HTTPError as exc:
                    status, error = None, f"{type(exc).__name__}: {exc}"
                answer = Answer(external_id, status, time.monotonic() - started, started, error)
                with self._lock:
                    self.answers.append(answer)
                if interval:
                    next_at += interval
                    self._stop.wait(max(0.0, next_at - time.monotonic()))

    @contextmanager
    def running(self) -> Iterator[Load]:
        threads = [threading.Thread(target=self._client, daemon=True) for _ in range(self.clients)]
        for thread in threads:
            thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            for thread in threads:
                thread.join(self.timeout + 10)

    def statuses(self) -> dict[int | None, int]:
        counts: dict[int | None, int] = {}
        for answer in self.answers:
            counts[answer.status] = counts.get(answer.status, 0) + 1
        return counts

    def accepted(self) -> set[str]:
        return {a.external_id for a in self.answers if a.status == 201}


class TcpProxy:
    """A loopback TCP proxy in front of the database, to add latency or cut connections.

    Each connection gets two pump threads. ``cut()`` closes every open connection at once, as
    a failed network path or a firewall's idle timeout would; ``delay`` adds latency to every
    chunk forwarded from then on.
    """

    def __init__(self, target_port: int) -> None:
        self.target = ("127.0.0.1", target_port)
        self.port = free_port()
        self.delay = 0.0
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._closed = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            with self._lock:
                self._open.update((client, server))
            for src, dst in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while chunk := src.recv(65536):
                if self.delay:
                    time.sleep(self.delay)
                dst.sendall(chunk)
        except OSError:
            pass
        finally:
            self._drop(src, dst)

    def _drop(self, *socks: socket.socket) -> None:
        for sock in socks:
            with self._lock:
                self._open.discard(sock)
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def cut(self) -> int:
        """Close every connection through the proxy; return how many there were."""
        with self._lock:
            victims = list(self._open)
        self._drop(*victims)
        return len(victims) // 2

    def close(self) -> None:
        self._closed.set()
        self._listener.close()
        self.cut()
