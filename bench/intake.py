"""Intake throughput: sustained reports per second through the HTTP API, single and bulk.

Starts `takedown serve` on a fresh SQLite database (one uvicorn process, as `make run` does)
and, as the reference for framework overhead, a plain Starlette echo endpoint under the same
server; sends the same load to both; prints reports/s and p50/p99 latency side by side; and
checks at the end that every accepted report is in the database.

    python bench/intake.py [--single 3000] [--bulk-requests 6] [--bulk-size 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent
TAKEDOWN = [sys.executable, "-m", "takedown"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def server(args: list[str], port: int, env: dict[str, str]) -> Iterator[str]:
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(base + "/healthz", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)


async def single_load(
    url: str, n: int, concurrency: int, headers: dict[str, str]
) -> tuple[float, list[float], int]:
    latencies: list[float] = []
    ok = 0
    counter = iter(range(n))

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal ok
        for i in counter:
            start = time.perf_counter()
            r = await client.post(
                url, json={"url": f"http://bench{i % 997}.example/p/{i}.jpg"}, headers=headers
            )
            latencies.append(time.perf_counter() - start)
            ok += r.status_code == 201

    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:
        start = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
    return elapsed, latencies, ok


def bulk_load(
    url: str, requests: int, size: int, headers: dict[str, str], offset: int
) -> tuple[float, list[float], int]:
    latencies: list[float] = []
    accepted = 0
    with httpx.Client(timeout=300) as client:
        start = time.perf_counter()
        for r in range(requests):
            items = [{"url": f"http://bulk{r}.example/{offset + r}/{i}"} for i in range(size)]
            t0 = time.perf_counter()
            resp = client.post(url, json={"reports": items}, headers=headers)
            latencies.append(time.perf_counter() - t0)
            resp.raise_for_status()
            accepted += sum(1 for x in resp.json()["results"] if x["status"] != "rejected")
        elapsed = time.perf_counter() - start
    return elapsed, latencies, accepted


def pct(values: list[float], q: float) -> float:
    if len(values) < 2:
        return values[0] * 1000 if values else float("nan")
    return statistics.quantiles(values, n=100)[int(q) - 1] * 1000


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--single", type=int, default=3000, help="single reports to send")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--bulk-requests", type=int, default=6)
    parser.add_argument("--bulk-size", type=int, default=10_000)
    opts = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "TAKEDOWN_DATA_DIR": tmp,
            "TAKEDOWN_API_RATE_LIMIT": "100000000",
            "TAKEDOWN_DATABASE_URL": f"sqlite:///{tmp}/bench.sqlite3",
            "PYTHONPATH": str(ROOT),
        }
        subprocess.run([*TAKEDOWN, "db", "upgrade"], env=env, check=True, capture_output=True)
        subprocess.run(
            [
                *TAKEDOWN,
                "orgs",
                "add",
                "--name",
                "Bench",
                "--kind",
                "trusted_flagger",
                "--country",
                "NL",
            ],
            env=env,
            check=True,
            capture_output=True,
        )
        key = subprocess.run(
            [*TAKEDOWN, "keys", "create", "--org", "Bench"],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        auth = {"Authorization": f"Bearer {key}"}
        rows: list[tuple[str, str, float, float, float]] = []

        port = free_port()
        echo_args = [
            sys.executable,
            "-m",
            "uvicorn",
            "echo_app:app",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ]
        with server(echo_args, port, env) as base:
            t, lat, _ = asyncio.run(single_load(base + "/echo", opts.single, opts.concurrency, {}))
            rows.append(("starlette echo", "single", opts.single / t, pct(lat, 50), pct(lat, 99)))
            t, lat, _ = bulk_load(base + "/echo", opts.bulk_requests, opts.bulk_size, {}, 0)
            rows.append(
                (
                    "starlette echo",
                    "bulk URLs",
                    opts.bulk_requests * opts.bulk_size / t,
                    pct(lat, 50),
                    pct(lat, 99),
                )
            )

        port = free_port()
        with server([*TAKEDOWN, "serve", "--port", str(port)], port, env) as base:
            t, lat, ok_single = asyncio.run(
                single_load(base + "/api/v1/reports", opts.single, opts.concurrency, auth)
            )
            rows.append(("takedown", "single", opts.single / t, pct(lat, 50), pct(lat, 99)))
            t, lat, ok_bulk = bulk_load(
                base + "/api/v1/reports/bulk", opts.bulk_requests, opts.bulk_size, auth, 10**6
            )
            rows.append(
                (
                    "takedown",
                    "bulk URLs",
                    opts.bulk_requests * opts.bulk_size / t,
                    pct(lat, 50),
                    pct(lat, 99),
                )
            )

        engine = create_engine(env["TAKEDOWN_DATABASE_URL"])
        with engine.connect() as conn:
            stored = conn.execute(text("SELECT count(*) FROM reports")).scalar_one()
        engine.dispose()

    print(f"{'server':<16} {'load':<10} {'per second':>12} {'p50 ms':>9} {'p99 ms':>9}")
    for name, load, rate, p50, p99 in rows:
        print(f"{name:<16} {load:<10} {rate:>12,.0f} {p50:>9.1f} {p99:>9.1f}")
    expected = ok_single + ok_bulk
    verdict = "OK" if stored == expected else "MISMATCH"
    print(f"accepted {expected} reports, {stored} in the database: {verdict}")
    print("targets: 500 single reports/s and 20,000 bulk URLs/s on SQLite")
    return 0 if stored == expected else 1


if __name__ == "__main__":
    sys.exit(main())
