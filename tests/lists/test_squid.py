"""The Squid external ACL helper: request lines, replies, and the helper as a real process."""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest
from click.testing import CliRunner

from takedown.cli.filter import filter_group
from takedown.lists.filter import UrlList
from takedown.lists.squid import answer, serve

ENTRIES = ["example.test/dir/", "host.example.test/", "example.test/p?q=1"]
LISTED = UrlList(ENTRIES)


def write_txt(path: Path, entries: list[str]) -> Path:
    path.write_text("# takedown URL list\n" + "".join(f"{entry}\n" for entry in entries))
    return path


@pytest.mark.parametrize(
    ("line", "reply"),
    [
        # With concurrency=N: a channel ID to echo, then the URL, then any other values.
        (b"0 http://example.test/dir/a.html\n", b"0 OK message=blocked\n"),
        (b"49 http://example.test/other.html\n", b"49 ERR\n"),
        (b"7 http://www.host.example.test/x 192.0.2.1 -\n", b"7 OK message=blocked\n"),
        (b"3 host.example.test:443\n", b"3 OK message=blocked\n"),  # CONNECT
        # Without concurrency: the URL comes first.
        (b"http://example.test/dir/a.html\n", b"OK message=blocked\n"),
        (b"http://example.test/dir/a.html 192.0.2.1\n", b"OK message=blocked\n"),
        (b"http://example.test/other.html\n", b"ERR\n"),
        (b"http://example.test/dir/a.html\r\n", b"OK message=blocked\n"),
        # Squid URL-escapes the values: decode once, canonicalization does the rest.
        (b"1 http%3A%2F%2Fexample.test%2Fdir%2Fa%20b.html\n", b"1 OK message=blocked\n"),
        (b"2 http://example.test/p?q=1\n", b"2 OK message=blocked\n"),
        (b"2 http://example.test/p%3Fq%3D1\n", b"2 OK message=blocked\n"),
        (b"2 http://example.test/p?q=2\n", b"2 ERR\n"),
        (b"5 http://example.test/%2564ir/x\n", b"5 OK message=blocked\n"),
    ],
)
def test_answer(line: bytes, reply: bytes) -> None:
    assert answer(LISTED, line) == reply


@pytest.mark.parametrize(
    ("line", "reply"),
    [
        (b"\n", b"BH message=no%20URL%20in%20the%20request\n"),
        (b"   \n", b"BH message=no%20URL%20in%20the%20request\n"),
        (b"", b"BH message=no%20URL%20in%20the%20request\n"),
        (b"12 -\n", b"12 ERR\n"),  # Squid's placeholder for a missing value
        (b"4 %zz%\n", b"4 ERR\n"),
        (b"4 %ff%fe%00\n", b"4 ERR\n"),
        (b"\xff\xfe\x00garbage\n", b"ERR\n"),
        (b"8 http://[::1\n", b"8 ERR\n"),
        (b"9 ftp://example.test/dir/\n", b"9 ERR\n"),
        (b"10 http://" + b"a" * 100_000 + b".test/\n", b"10 ERR\n"),
        (b"0\n", b"ERR\n"),  # a lone number is read as the URL
    ],
)
def test_garbage_gets_err_or_bh(line: bytes, reply: bytes) -> None:
    assert answer(LISTED, line) == reply


class Failing:
    def match(self, url: str | bytes) -> str | None:
        raise RuntimeError("disk on fire")

    def __len__(self) -> int:
        return 0


def test_an_internal_error_is_bh_for_that_line_only(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="takedown.lists.squid"):
        assert answer(Failing(), b"6 http://example.test/\n") == b"6 BH message=internal%20error\n"
    assert "disk on fire" in caplog.text


def test_the_reply_never_names_the_entry() -> None:
    reply = answer(LISTED, b"0 http://host.example.test/secret/path.html\n")
    assert reply == b"0 OK message=blocked\n"
    assert b"host" not in reply


class RecordingStream(io.BytesIO):
    """Remembers how much had been written at each flush."""

    def __init__(self) -> None:
        super().__init__()
        self.flushed_at: list[int] = []

    def flush(self) -> None:
        self.flushed_at.append(self.tell())
        super().flush()


def test_serve_answers_each_line_and_flushes_each_reply() -> None:
    stdin = io.BytesIO(b"0 http://example.test/dir/\n1 http://example.test/\n\n2 -\n")
    stdout = RecordingStream()
    assert serve(LISTED, stdin, stdout) == 4
    replies = b"0 OK message=blocked\n1 ERR\nBH message=no%20URL%20in%20the%20request\n2 ERR\n"
    assert stdout.getvalue() == replies
    ends = [sum(len(line) for line in replies.splitlines(keepends=True)[: n + 1]) for n in range(4)]
    assert stdout.flushed_at == ends


def test_squid_helper_command(tmp_path: Path) -> None:
    path = write_txt(tmp_path / "urls.txt", ENTRIES)
    result = CliRunner().invoke(
        filter_group,
        ["squid-helper", "--list", str(path)],
        input=b"1 http://example.test/dir/a\n2 http://example.test/x\n",
    )
    assert result.exit_code == 0
    assert result.stdout == "1 OK message=blocked\n2 ERR\n"


def test_squid_helper_command_refuses_an_unusable_list(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        filter_group, ["squid-helper", "--list", str(tmp_path / "missing.txt")], input=b""
    )
    assert result.exit_code == 2
    assert "cannot read the list" in result.stderr


def test_squid_helper_help_shows_the_squid_conf_lines_whole() -> None:
    result = CliRunner().invoke(filter_group, ["squid-helper", "--help"])
    assert result.exit_code == 0
    assert (
        "external_acl_type takedown_bl ttl=300 negative_ttl=60 children-max=4 concurrency=50 "
        "%URI /path/to/takedown filter squid-helper --list /var/lib/takedown/urls.txt\n"
    ) in result.output
    assert "deny_info 302:https://hotline.example/blocked takedown_blocked\n" in result.output


class Helper:
    """The helper as Squid runs it: its own process, talking through pipes."""

    def __init__(self, path: Path, *extra: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "takedown.lists.squid", "--list", str(path), *extra],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        # A helper that stops answering must fail the test, not hang it.
        self.watchdog = threading.Timer(30, self.process.kill)
        self.watchdog.start()

    @property
    def stdin(self) -> IO[bytes]:
        assert self.process.stdin is not None
        return self.process.stdin

    @property
    def stdout(self) -> IO[bytes]:
        assert self.process.stdout is not None
        return self.process.stdout

    def ask(self, *lines: bytes) -> list[bytes]:
        """Send the lines at once (as Squid does with concurrency) and read one reply each."""
        self.stdin.write(b"".join(line + b"\n" for line in lines))
        self.stdin.flush()
        return [self.stdout.readline() for _ in lines]

    def close(self) -> tuple[int, str]:
        self.stdin.close()
        code = self.process.wait(timeout=30)
        self.watchdog.cancel()
        assert self.process.stderr is not None
        stderr = self.process.stderr.read().decode()
        self.stdout.close()
        self.process.stderr.close()
        return code, stderr


@pytest.fixture
def helper(tmp_path: Path) -> Iterator[Helper]:
    running = Helper(write_txt(tmp_path / "urls.txt", ENTRIES))
    yield running
    if running.process.poll() is None:
        running.process.kill()
        running.close()


@pytest.mark.slow
def test_helper_process_with_channel_ids(helper: Helper) -> None:
    replies = helper.ask(
        b"0 http://example.test/dir/a.html",
        b"1 http://example.test/other.html",
        b"2 http://www.host.example.test/x",
        b"3 host.example.test:443",
        b"49 http://example.test/p?q=1",
    )
    assert replies == [
        b"0 OK message=blocked\n",
        b"1 ERR\n",
        b"2 OK message=blocked\n",
        b"3 OK message=blocked\n",
        b"49 OK message=blocked\n",
    ]
    # One at a time, each reply must come without more input: the helper flushes per line.
    assert helper.ask(b"7 http://example.test/dir/") == [b"7 OK message=blocked\n"]
    code, stderr = helper.close()
    assert code == 0
    assert "Traceback" not in stderr


@pytest.mark.slow
def test_helper_process_survives_garbage(helper: Helper) -> None:
    garbage = [
        b"",
        b"   ",
        b"5 %zz%",
        b"6 \xff\xfe\x00",
        b"7 http://[::1",
        b"8 " + b"%25" * 50_000,
        b"\x00\x01\x02",
    ]
    no_url = b"BH message=no%20URL%20in%20the%20request\n"
    assert helper.ask(*garbage) == [
        no_url,
        no_url,
        b"5 ERR\n",
        b"6 ERR\n",
        b"7 ERR\n",
        b"8 ERR\n",
        b"ERR\n",
    ]
    assert helper.ask(b"9 http://example.test/dir/x") == [b"9 OK message=blocked\n"]
    code, stderr = helper.close()
    assert code == 0
    assert "Traceback" not in stderr


@pytest.mark.slow
def test_helper_process_without_concurrency(helper: Helper) -> None:
    assert helper.ask(b"http://example.test/dir/a", b"http://example.test/b") == [
        b"OK message=blocked\n",
        b"ERR\n",
    ]
    assert helper.close()[0] == 0


@pytest.mark.slow
def test_helper_process_picks_up_a_new_list(tmp_path: Path, helper: Helper) -> None:
    path = tmp_path / "urls.txt"
    assert helper.ask(b"0 http://new.example.test/") == [b"0 ERR\n"]
    staged = write_txt(tmp_path / "urls.new", [*ENTRIES, "new.example.test/"])
    os.replace(staged, path)
    assert _eventually(helper, b"0 http://new.example.test/", b"0 OK message=blocked\n")
    # A broken list published next leaves the last good one in force.
    path.write_text("new.example.test/\nthis line is not an expression\n")
    time.sleep(1.2)  # past the helper's check interval
    assert helper.ask(b"1 http://new.example.test/", b"2 http://example.test/dir/") == [
        b"1 OK message=blocked\n",
        b"2 OK message=blocked\n",
    ]
    code, stderr = helper.close()
    assert code == 0
    assert "still using the list loaded before (4 entries)" in stderr


def _eventually(helper: Helper, line: bytes, reply: bytes, seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if helper.ask(line) == [reply]:
            return True
        time.sleep(0.1)
    return False


@pytest.mark.slow
def test_helper_process_refuses_to_start_without_a_list(tmp_path: Path) -> None:
    helper = Helper(tmp_path / "missing.txt")
    code, stderr = helper.close()
    assert code == 2
    assert "cannot read the list" in stderr
