"""`make run PORT=… HOST=…` reaches `takedown run`; an exported HOST (as some shells set) does not.

``make -n`` prints the commands without running them, so nothing is built or served.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from click.testing import CliRunner

from takedown.cli.main import main

ROOT = Path(__file__).resolve().parent.parent


def run_line(*args: str, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        # --no-print-directory: under `make test` this make is nested and would say so.
        ["make", "--no-print-directory", "-n", "run", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
        check=True,
    )
    return result.stdout.strip().splitlines()[-1]


def test_make_run_takes_a_port_and_a_host() -> None:
    assert run_line("PORT=8080", "HOST=0.0.0.0").endswith(
        "takedown run --demo --host '0.0.0.0' --port '8080'"
    )
    assert run_line(env={"HOST": "workstation.local"}).endswith(
        "takedown run --demo --host '127.0.0.1' --port '8000'"
    )


def test_a_port_out_of_range_is_a_usage_error() -> None:
    result = CliRunner().invoke(main, ["run", "--port", "70000"])
    assert result.exit_code == 2
    assert "70000 is not in the range 1<=x<=65535" in result.output
