"""``takedown run --demo``: the whole walk on the sandbox, narrated, in one process.

The demo runs as ``make run`` starts it, in a subprocess with its own data directory; the
test reads its narration. Every image it serves is a generated abstract pattern.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from takedown.db.session import Database
from tests.jobs.support import wait_until

# Police wait 20 s, the provider 3 s, the first re-check 10 s: about 35 s in all when
# nothing is slow. The bound leaves room for a loaded CI machine.
WALK_SECONDS = 120
STOP_SECONDS = 60
REMOVAL = re.compile(
    r"re-check: removed; time to removal \d+ s from the report, \d+ s from the first notice"
)


class Demo:
    """One ``python -m takedown run --demo`` process and its narration."""

    def __init__(self, process: subprocess.Popen[bytes], log: Path) -> None:
        self.process, self.log = process, log

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def shows(self, pattern: str | re.Pattern[str]) -> Callable[[], bool]:
        """A predicate for wait_until; fails at once, with the output, if the demo died."""

        def check() -> bool:
            if self.process.poll() is not None:
                raise AssertionError(
                    f"the demo exited with {self.process.returncode}:\n{self.output()}"
                )
            return re.search(pattern, self.output()) is not None

        return check

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(STOP_SECONDS)


Start = Callable[[], Demo]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def start_demo(committed: Database, database_url: str, tmp_path: Path) -> Iterator[Start]:
    """Start demo processes on one data directory and database; any left are killed.

    Depends on ``committed`` so that the processes are gone before its tables are emptied
    (a live transaction would block that on PostgreSQL).
    """
    demos: list[Demo] = []
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAKEDOWN_")}
    env |= {
        "TAKEDOWN_DATABASE_URL": database_url,
        "TAKEDOWN_DATA_DIR": str(tmp_path / "data"),
        "PYTHONUNBUFFERED": "1",
    }

    def start() -> Demo:
        log = tmp_path / f"demo-{len(demos)}.log"
        with log.open("wb") as output:
            process = subprocess.Popen(
                [sys.executable, "-m", "takedown", "run", "--demo", "--port", str(free_port())],
                env=env,
                cwd=tmp_path,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        demos.append(Demo(process, log))
        return demos[-1]

    yield start
    for demo in demos:
        if demo.process.poll() is None:
            demo.process.kill()
        demo.process.wait(30)


@pytest.mark.slow
def test_the_demo_narrates_the_walk_and_stops_cleanly_twice(start_demo: Start) -> None:
    demo = start_demo()
    wait_until(demo.shows("confirmed automatically"), WALK_SECONDS, "known items matched")
    wait_until(demo.shows("SMTP sink received it"), WALK_SECONDS, "a notice in the SMTP sink")
    wait_until(demo.shows(REMOVAL), WALK_SECONDS, "a removal seen with its time to removal")
    output = demo.output()
    assert "created user 'admin' with password" in output
    assert "awaits an analyst" in output, "the unknown page waits for a person"
    assert "/notices/answer/" in output, "a notice's answer page is shown"
    assert demo.stop() == 0, demo.output()
    assert "demo stopped" in demo.output()

    # Again on the same data: nothing new to seed, the admin exists, new sites, new cases.
    again = start_demo()
    wait_until(again.shows("confirmed automatically"), WALK_SECONDS, "the second run's walk")
    output = again.output()
    assert "sandbox seeded: nothing new" in output
    assert "created user" not in output
    assert again.stop() == 0, again.output()
