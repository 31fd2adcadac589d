"""Real resolvers (BIND's named, Unbound) started on loopback for the RPZ tests.

Each resolver runs in the test's temporary folder on a free unprivileged port of 127.0.0.1,
forwards everything to the sandbox's authoritative server (so nothing leaves the machine), and
is stopped when the test ends, whatever happened. A missing binary skips the test, unless
``TAKEDOWN_REQUIRE_TOOLS=1`` (CI), where it fails.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import dns.exception
import dns.message
import dns.query
import dns.rcode

START_TIMEOUT = 8.0
STOP_TIMEOUT = 5.0
QUERY_TIMEOUT = 2.0


def free_port() -> int:
    """A port free on 127.0.0.1 for both UDP and TCP (resolvers listen on both)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port: int = udp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    raise RuntimeError("no port free for both UDP and TCP on 127.0.0.1")


def ask(port: int, name: str, rdtype: str = "A") -> dns.message.Message:
    """One recursive query to the resolver on ``port``."""
    query = dns.message.make_query(name, rdtype)
    return dns.query.udp(query, "127.0.0.1", port=port, timeout=QUERY_TIMEOUT)


@contextlib.contextmanager
def running(command: list[str], folder: Path, port: int, probe: str) -> Iterator[None]:
    """Run ``command`` until the block ends; ready once it answers ``probe`` with NOERROR."""
    log = folder / "output.log"
    with log.open("wb") as output:
        process = subprocess.Popen(command, cwd=folder, stdout=output, stderr=subprocess.STDOUT)
    try:
        _wait_ready(process, port, probe, log)
        yield
    finally:
        _stop(process)


def _wait_ready(process: subprocess.Popen[bytes], port: int, probe: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with {process.returncode}:\n{_tail(log)}")
        with contextlib.suppress(dns.exception.DNSException, OSError):
            query = dns.message.make_query(probe, "A")
            response = dns.query.udp(query, "127.0.0.1", port=port, timeout=0.5)
            if response.rcode() == dns.rcode.NOERROR and response.answer:
                return
        time.sleep(0.1)
    raise RuntimeError(
        f"{process.args!r} did not answer {probe} within {START_TIMEOUT} s:\n{_tail(log)}"
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_TIMEOUT)


def _tail(log: Path, lines: int = 30) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def named_config(folder: Path, port: int, upstream: int, zone: str, zone_file: Path) -> Path:
    """A minimal BIND 9 resolver: recursion via the sandbox server, one response policy zone."""
    config = folder / "named.conf"
    config.write_text(
        f"""
options {{
    directory "{folder}";
    pid-file "{folder}/named.pid";
    session-keyfile "{folder}/session.key";
    managed-keys-directory "{folder}";
    listen-on port {port} {{ 127.0.0.1; }};
    listen-on-v6 {{ none; }};
    recursion yes;
    allow-query {{ localhost; }};
    allow-recursion {{ localhost; }};
    forwarders {{ 127.0.0.1 port {upstream}; }};
    forward only;
    # The sandbox server signs nothing.
    dnssec-validation no;
    notify no;
    response-policy {{ zone "{zone}"; }} qname-wait-recurse no;
}};
controls {{ }};
zone "{zone}" {{ type primary; file "{zone_file}"; allow-query {{ localhost; }}; }};
"""
    )
    return config


def unbound_config(folder: Path, port: int, upstream: int, zone: str, zone_file: Path) -> Path:
    """A minimal Unbound resolver: forwarding to the sandbox server, one ``rpz:`` zone."""
    config = folder / "unbound.conf"
    config.write_text(
        f"""
server:
    interface: 127.0.0.1
    port: {port}
    do-ip6: no
    do-daemonize: no
    chroot: ""
    username: ""
    directory: "{folder}"
    pidfile: "{folder}/unbound.pid"
    use-syslog: no
    logfile: ""
    verbosity: 1
    num-threads: 1
    access-control: 127.0.0.0/8 allow
    module-config: "respip iterator"
    # The forwarder is on loopback, which Unbound refuses to ask by default.
    do-not-query-localhost: no
    # Unbound's own NXDOMAIN for .test would win over the policy zone.
    local-zone: "test." nodefault
forward-zone:
    name: "."
    forward-addr: 127.0.0.1@{upstream}
rpz:
    name: "{zone}"
    zonefile: "{zone_file}"
    rpz-log: yes
"""
    )
    return config
