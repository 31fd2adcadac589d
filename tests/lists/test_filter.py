"""Matching URLs against clear and hashed list files, reloading them, and `filter check`."""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from takedown.cli.filter import filter_group
from takedown.lists.filter import (
    HashedList,
    ListFileError,
    ReloadingList,
    UrlList,
    open_list,
)

ENTRIES = [
    "example.test/dir/",
    "host.example.test/",
    "example.test/page.html",
    "example.test/p?q=1",
    "192.0.2.7/files/",
]

# (URL, the entry it matches or None)
CASES = [
    ("http://example.test/dir/", "example.test/dir/"),
    ("http://example.test/dir/sub/page.html", "example.test/dir/"),
    ("https://example.test/dir/a/b/c/d.html?x=1", "example.test/dir/"),
    ("http://www.example.test/dir/x.html", "example.test/dir/"),
    ("HTTP://EXAMPLE.TEST:80/dir/./x/../y.html#top", "example.test/dir/"),
    ("http://example.test/%64ir/x", "example.test/dir/"),
    ("http://example.test/dir", None),  # a file named "dir", not the directory
    ("http://example.test/dir2/x.html", None),  # a sibling directory
    ("http://example.test/other.html", None),
    ("http://example.test/", None),
    ("http://host.example.test/", "host.example.test/"),
    ("http://host.example.test/any/where.html?x=1", "host.example.test/"),
    ("http://a.b.host.example.test/x.html", "host.example.test/"),
    ("http://otherhost.example.test/", None),  # a suffix of the name, not of its labels
    ("http://example.test/page.html", "example.test/page.html"),
    ("http://example.test/page.html?utm=1", "example.test/page.html"),
    ("http://example.test/page.html2", None),
    ("http://example.test/p?q=1", "example.test/p?q=1"),
    ("http://example.test/p?q=2", None),
    ("http://example.test/p", None),
    ("http://192.0.2.7/files/a.zip", "192.0.2.7/files/"),
    ("http://3221225991/files/a.zip", "192.0.2.7/files/"),  # the same IPv4 in decimal
    ("http://192.0.2.8/files/a.zip", None),
    # A CONNECT request, as a proxy without TLS interception sees HTTPS: host-level only.
    ("host.example.test:443", "host.example.test/"),
    ("example.test:443", None),
]

INVALID = ["", "   ", "not a url", "ftp://example.test/dir/", "http://", "http://[::1/", "\x00"]


def write_txt(path: Path, entries: list[str]) -> Path:
    path.write_text("# takedown URL list\n\n" + "".join(f"{entry}\n" for entry in entries))
    return path


def write_sha256(path: Path, entries: list[str]) -> Path:
    lines = ["# takedown hashed URL list\n"]
    for entry in entries:
        digest = hashlib.sha256(entry.encode()).hexdigest()
        lines.append(f"{digest[:8]} {digest}\n")
    path.write_text("".join(lines))
    return path


def sha256_hex(entry: str) -> str:
    return hashlib.sha256(entry.encode()).hexdigest()


@pytest.fixture
def txt(tmp_path: Path) -> Path:
    return write_txt(tmp_path / "urls.txt", ENTRIES)


@pytest.fixture
def sha256(tmp_path: Path) -> Path:
    return write_sha256(tmp_path / "urls.sha256", ENTRIES)


@pytest.mark.parametrize(("url", "expected"), CASES)
def test_clear_list(txt: Path, url: str, expected: str | None) -> None:
    assert UrlList.load(txt).match(url) == expected


@pytest.mark.parametrize(("url", "expected"), CASES)
def test_hashed_list_answers_as_the_clear_one(sha256: Path, url: str, expected: str | None) -> None:
    assert HashedList.load(sha256).match(url) == (
        None if expected is None else sha256_hex(expected)
    )


@pytest.mark.parametrize("url", [*INVALID, b"\xff\xfe", "http://\ud800.test/"])
def test_a_url_that_cannot_be_parsed_matches_nothing(
    txt: Path, sha256: Path, url: str | bytes
) -> None:
    assert UrlList.load(txt).match(url) is None
    assert HashedList.load(sha256).match(url) is None


def test_the_first_expression_wins() -> None:
    # expressions() orders the exact path before the host and the host before directories.
    listed = UrlList(["example.test/", "example.test/dir/", "example.test/dir/x.html"])
    assert listed.match("http://example.test/dir/x.html") == "example.test/dir/x.html"
    assert listed.match("http://example.test/dir/y.html") == "example.test/"


def test_comments_blank_lines_crlf_and_uppercase_hex(tmp_path: Path) -> None:
    clear = tmp_path / "urls.txt"
    clear.write_bytes(b"# comment\r\n\r\n  example.test/dir/  \r\n# example.test/other/\r\n")
    assert len(UrlList.load(clear)) == 1
    assert UrlList.load(clear).match("http://example.test/other/") is None
    digest = sha256_hex("example.test/dir/").upper()
    hashed = tmp_path / "urls.sha256"
    hashed.write_text(f"# comment\r\n\r\n{digest[:8]}  {digest}\r\n")
    assert HashedList.load(hashed).match("http://example.test/dir/a") == digest.lower()


def test_empty_list_matches_nothing(tmp_path: Path) -> None:
    empty = write_txt(tmp_path / "urls.txt", [])
    assert len(UrlList.load(empty)) == 0
    assert UrlList.load(empty).match("http://example.test/") is None
    assert len(HashedList.load(write_sha256(tmp_path / "h", []))) == 0


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("example.test/\nexample.test/a b\n", "line 2"),
        ("no-slash-here\n", "line 1"),
        (f"{'a' * 8} {'b' * 64}\n", "hashed list"),
    ],
)
def test_malformed_clear_list(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "urls.txt"
    path.write_text(text)
    with pytest.raises(ListFileError, match=problem):
        UrlList.load(path)


def test_malformed_hashed_list(tmp_path: Path) -> None:
    digest = sha256_hex("example.test/")
    path = tmp_path / "urls.sha256"
    cases = {
        f"{digest[:8]} {digest}\nexample.test/\n": "line 2.*clear list",
        f"00000000 {digest}\n": "line 1.*prefix",
        f"{digest[:8]} {digest[:-1]}x\n": "line 1",  # right shape, not hex
        f"{digest[:8]} {digest}00\n": "line 1",
        # The right length, but a space inside the digest (which fromhex would skip).
        f"{digest[:8]} {digest}\n{digest[:8]} {digest[:30]} {digest[31:]}\n": "line 2",
    }
    for text, problem in cases.items():
        path.write_text(text)
        with pytest.raises(ListFileError, match=problem):
            HashedList.load(path)


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(ListFileError, match="cannot read"):
        UrlList.load(tmp_path / "missing.txt")
    with pytest.raises(ListFileError, match="cannot read"):
        UrlList.load(tmp_path)
    signature = tmp_path / "urls.txt.sig"
    signature.write_bytes(bytes(range(256)))
    with pytest.raises(ListFileError, match="not UTF-8"):
        UrlList.load(signature)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def replace(path: Path, entries: list[str]) -> None:
    """Publish a new version atomically, as a publisher should."""
    staged = path.with_suffix(".new")
    write_txt(staged, entries)
    os.replace(staged, path)


def test_reloads_when_the_file_changes(tmp_path: Path) -> None:
    path = write_txt(tmp_path / "urls.txt", ["example.test/a/"])
    clock = FakeClock()
    listed = ReloadingList(path, clock=clock)
    assert listed.match("http://example.test/b/x") is None
    replace(path, ["example.test/a/", "example.test/b/"])
    # Within the interval the file is not even looked at.
    assert listed.match("http://example.test/b/x") is None
    clock.now += 1.0
    assert listed.match("http://example.test/b/x") == "example.test/b/"
    assert len(listed) == 2


def test_a_rewrite_in_place_or_a_rename_of_the_same_size_is_seen(tmp_path: Path) -> None:
    path = write_txt(tmp_path / "urls.txt", ["example.test/a/"])
    listed = ReloadingList(path, interval=0)
    replace(path, ["example.test/b/"])  # same size, new inode
    assert listed.match("http://example.test/b/") == "example.test/b/"
    write_txt(path, ["example.test/c/"])  # same size, same inode, new mtime
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert listed.match("http://example.test/c/") == "example.test/c/"
    assert listed.match("http://example.test/b/") is None


def test_a_broken_new_file_keeps_the_old_list(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write_txt(tmp_path / "urls.txt", ["example.test/a/"])
    listed = ReloadingList(path, interval=0)
    path.write_text("example.test/b/\nthis is not an expression\n")
    with caplog.at_level(logging.WARNING, logger="takedown.lists.filter"):
        for _ in range(3):
            assert listed.match("http://example.test/a/x") == "example.test/a/"
            assert listed.match("http://example.test/b/x") is None
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1  # once per bad version, not once per check
    assert "line 2" in warnings[0].getMessage()
    assert "still using the list loaded before (1 entries)" in warnings[0].getMessage()
    replace(path, ["example.test/b/"])
    assert listed.match("http://example.test/b/x") == "example.test/b/"


def test_a_deleted_file_keeps_the_old_list(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write_txt(tmp_path / "urls.txt", ["example.test/a/"])
    listed = ReloadingList(path, interval=0)
    path.unlink()
    with caplog.at_level(logging.WARNING, logger="takedown.lists.filter"):
        for _ in range(3):
            assert listed.match("http://example.test/a/") == "example.test/a/"
    assert len(caplog.records) == 1
    assert "cannot read" in caplog.records[0].getMessage()
    write_txt(path, ["example.test/b/"])
    assert listed.match("http://example.test/b/") == "example.test/b/"


def test_the_first_load_must_succeed(tmp_path: Path) -> None:
    with pytest.raises(ListFileError):
        ReloadingList(tmp_path / "missing.txt")
    (tmp_path / "bad.txt").write_text("not an expression\n")
    with pytest.raises(ListFileError):
        ReloadingList(tmp_path / "bad.txt")


def test_open_list_hashed(sha256: Path) -> None:
    listed = open_list(sha256, hashed=True)
    assert listed.match("http://example.test/dir/x") == sha256_hex("example.test/dir/")
    assert len(listed) == len(ENTRIES)


def test_check_listed(txt: Path, sha256: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(filter_group, ["check", "http://example.test/dir/x", "--list", str(txt)])
    assert result.exit_code == 0
    assert result.stdout == "listed: example.test/dir/\n"
    url = "http://a.host.example.test/"
    result = runner.invoke(filter_group, ["check", url, "--hashed", str(sha256)])
    assert result.exit_code == 0
    assert result.stdout == f"listed: {sha256_hex('host.example.test/')}\n"


def test_check_not_listed(txt: Path, sha256: Path) -> None:
    runner = CliRunner()
    for option, path in (("--list", txt), ("--hashed", sha256)):
        result = runner.invoke(filter_group, ["check", "http://example.test/x", option, str(path)])
        assert result.exit_code == 1
        assert result.stdout == "not listed\n"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--list", "{tmp}/missing.txt"], "cannot read the list"),
        (["--list", "{tmp}/bad.txt"], "line 1"),
        (["--hashed", "{tmp}/urls.txt"], "is this a clear list"),
        ([], "exactly one of --list"),
        (["--list", "{tmp}/urls.txt", "--hashed", "{tmp}/urls.sha256"], "exactly one of"),
    ],
)
def test_check_unusable_list(
    tmp_path: Path, txt: Path, sha256: Path, arguments: list[str], message: str
) -> None:
    (tmp_path / "bad.txt").write_text("not an expression\n")
    options = [argument.format(tmp=tmp_path) for argument in arguments]
    result = CliRunner().invoke(filter_group, ["check", "http://example.test/", *options])
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.output


def test_check_invalid_url(txt: Path) -> None:
    result = CliRunner().invoke(filter_group, ["check", "ftp://example.test/", "--list", str(txt)])
    assert result.exit_code == 2
    assert "invalid URL" in result.stderr
