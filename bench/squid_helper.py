"""Benchmark URL list checks: the matcher, and the Squid helper protocol, on a 1,000,000-entry list.

    .venv/bin/python bench/squid_helper.py                  # 1,000,000 entries (about 30 s)
    .venv/bin/python bench/squid_helper.py --n 100000       # a quick run

The list is ``--n`` synthetic expressions on fictional hosts (``s0000042.example.test/``,
``.../dir7/``, ``.../page3.html``, ``.../p?q=9``), written to a temporary file in the ``txt``
format and its ``sha256`` counterpart, then loaded as the helper loads them. The queries are a
third listed URLs (an entry as a URL), a third below an entry (a subdomain of a listed host,
a page under a listed directory) and a third unlisted (unknown hosts, siblings of listed
pages); every answer is checked against the expected one.

Measured in the same run, single-threaded:

* reference: a bare ``set`` lookup of one string per URL (``url in set``), the floor of any
  Python set-based filter, and ``expressions(url)`` alone (canonicalization, the bulk of a
  check);
* ours: ``UrlList.match``, ``HashedList.match``, ``ReloadingList.match`` (one ``stat`` per
  second), ``serve`` over in-memory streams (request parsing, %-decoding, reply, flush per
  line) and the helper as Squid runs it, a subprocess fed through pipes with channel IDs.

Target (from the issue): >= 20,000 checks/s per process against a 1,000,000-entry list.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import io
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

from takedown.lists.filter import HashedList, ReloadingList, UrlList
from takedown.lists.squid import serve
from takedown.urls.expressions import expressions

TARGET_CHECKS = 20_000
ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    args = _parse()
    started = time.perf_counter()
    rng = random.Random(args.seed)
    entries = _entries(args.n)
    queries = _queries(entries, args.queries, rng)
    expected = [hit for _, hit in queries]
    urls = [url for url, _ in queries]
    print(f"list {args.n:,} expressions, {len(urls):,} queries ({sum(expected):,} listed)")

    with tempfile.TemporaryDirectory() as folder:
        txt, hashed = Path(folder) / "urls.txt", Path(folder) / "urls.sha256"
        _write(txt, hashed, entries)
        sizes = [path.stat().st_size / 2**20 for path in (txt, hashed)]
        print(f"files: txt {sizes[0]:.0f} MiB, sha256 {sizes[1]:.0f} MiB")
        url_list = _timed_load("UrlList", lambda: UrlList.load(txt))
        hashed_list = _timed_load("HashedList", lambda: HashedList.load(hashed))
        reloading = ReloadingList(txt)
        rows = _rows(args, urls, expected, entries, url_list, hashed_list, reloading)
        rows.append(_subprocess_row(txt, urls, expected))

    print(f"\n{'method':52} {'checks/s':>10} {'us/check':>9}")
    for name, rate in rows:
        print(f"{name:52} {rate:>10,.0f} {1e6 / rate:>9.1f}")
    ours = min(rate for name, rate in rows if name.startswith("ours"))
    verdict = "met" if ours >= TARGET_CHECKS else "NOT met"
    print(f"\ntarget >= {TARGET_CHECKS:,} checks/s per process: {verdict} (slowest: {ours:,.0f})")
    print(f"total {time.perf_counter() - started:.0f} s")
    return 0 if ours >= TARGET_CHECKS else 1


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="expressions in the list")
    parser.add_argument("--queries", type=int, default=60_000, help="URLs checked per method")
    parser.add_argument("--rounds", type=int, default=3, help="best of this many passes")
    parser.add_argument("--seed", type=int, default=1)
    return parser.parse_args()


def _entries(n: int) -> list[str]:
    """Four kinds of entry in turn, each on a host of its own."""
    kinds = ("{host}/", "{host}/dir{i}/", "{host}/page{i}.html", "{host}/p?q={i}")
    return [kinds[i % 4].format(host=f"s{i:07d}.example.test", i=i % 10) for i in range(n)]


def _queries(entries: list[str], count: int, rng: random.Random) -> list[tuple[str, bool]]:
    """(URL, listed) pairs: listed as such, below an entry, or not listed."""
    queries: list[tuple[str, bool]] = []
    for number in range(count):
        i = rng.randrange(len(entries))
        entry = entries[i]
        host = entry.partition("/")[0]
        kind = number % 3
        if kind == 0:
            queries.append((f"http://{entry}", True))
        elif kind == 1 and i % 4 == 0:  # a subdomain and path under a listed host
            queries.append((f"https://www.{host}/any/where.html?x=1", True))
        elif kind == 1 and i % 4 == 1:  # a page under a listed directory
            queries.append((f"http://{entry}sub/page.html", True))
        elif kind == 1:  # a query string added to a listed page: still the listed page
            queries.append((f"http://{entry.partition('?')[0]}?utm=1", i % 4 == 2))
        elif i % 4 == 0:  # a host that is not on the list
            queries.append((f"http://u{i:07d}.example.test/page.html", False))
        else:  # a sibling of a listed directory, page or query
            queries.append((f"http://{host}/other{i % 10}.html", False))
    return queries


def _write(txt: Path, hashed: Path, entries: list[str]) -> None:
    header = "# takedown URL list (synthetic, benchmark)\n"
    txt.write_text(header + "".join(f"{entry}\n" for entry in entries))
    digests = (hashlib.sha256(entry.encode()).hexdigest() for entry in entries)
    hashed.write_text(header + "".join(f"{d[:8]} {d}\n" for d in digests))


def _timed_load(name: str, load: Callable[[], UrlList | HashedList]) -> UrlList | HashedList:
    gc.collect()
    before = _rss_megabytes()
    started = time.perf_counter()
    loaded = load()
    seconds = time.perf_counter() - started
    gc.collect()
    print(f"{name}: load {seconds:.2f} s, process RSS +{_rss_megabytes() - before:.0f} MiB")
    return loaded


def _rss_megabytes() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _rows(
    args: argparse.Namespace,
    urls: list[str],
    expected: list[bool],
    entries: list[str],
    url_list: UrlList | HashedList,
    hashed_list: UrlList | HashedList,
    reloading: ReloadingList,
) -> list[tuple[str, float]]:
    plain = set(entries)
    rows = [
        (
            "reference: bare set lookup, one string per URL",
            _rate(urls, args.rounds, plain.__contains__),
        ),
        ("reference: expressions(url) alone", _rate(urls, args.rounds, expressions)),
    ]
    for name, matcher in (
        ("ours: UrlList.match", url_list),
        ("ours: HashedList.match", hashed_list),
        ("ours: ReloadingList.match (txt)", reloading),
    ):
        _check([matcher.match(url) is not None for url in urls], expected, name)
        rows.append((name, _rate(urls, args.rounds, matcher.match)))
    rows.append(
        (
            "ours: serve() protocol loop, in-memory streams",
            _serve_rate(args, urls, expected, reloading),
        )
    )
    return rows


def _rate(urls: list[str], rounds: int, check: Callable[[str], object]) -> float:
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        for url in urls:
            check(url)
        best = min(best, time.perf_counter() - started)
    return len(urls) / best


def _requests(urls: list[str]) -> bytes:
    # As Squid sends them with concurrency=50: a channel ID, then the URL-escaped URL.
    return b"".join(f"{n % 50} {quote(url, safe=':/?=&')}\n".encode() for n, url in enumerate(urls))


def _serve_rate(
    args: argparse.Namespace, urls: list[str], expected: list[bool], matcher: ReloadingList
) -> float:
    requests = _requests(urls)
    best = float("inf")
    for _ in range(args.rounds):
        stdin, stdout = io.BytesIO(requests), io.BytesIO()
        started = time.perf_counter()
        serve(matcher, stdin, stdout)
        best = min(best, time.perf_counter() - started)
    _check_replies(stdout.getvalue(), expected, "serve()")
    return len(urls) / best


def _subprocess_row(path: Path, urls: list[str], expected: list[bool]) -> tuple[str, float]:
    """The helper as Squid runs it: its own process, requests and replies through pipes."""
    helper = subprocess.Popen(
        [sys.executable, "-m", "takedown.lists.squid", "--list", str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
    )
    assert helper.stdin is not None
    assert helper.stdout is not None
    # Wait for the list to load (the first reply) before timing.
    helper.stdin.write(b"0 http://warm.example.test/\n")
    helper.stdin.flush()
    helper.stdout.readline()
    requests = _requests(urls)
    writer = threading.Thread(target=_feed, args=(helper.stdin, requests))
    started = time.perf_counter()
    writer.start()
    replies = helper.stdout.read()
    seconds = time.perf_counter() - started
    writer.join()
    helper.wait()
    _check_replies(replies, expected, "subprocess")
    return ("ours: helper subprocess over pipes (as Squid runs it)", len(urls) / seconds)


def _feed(stdin: io.BufferedWriter, data: bytes) -> None:
    stdin.write(data)
    stdin.close()


def _check_replies(replies: bytes, expected: list[bool], name: str) -> None:
    lines = replies.splitlines()
    if any(int(line.split()[0]) != n % 50 for n, line in enumerate(lines)):
        raise SystemExit(f"{name}: a reply does not carry its request's channel ID")
    _check([line.split()[1] == b"OK" for line in lines], expected, name)


def _check(found: list[bool], expected: list[bool], name: str) -> None:
    if found != expected:
        wrong = sum(f != e for f, e in zip(found, expected, strict=False))
        raise SystemExit(f"{name}: {wrong} wrong answers (of {len(expected)})")


if __name__ == "__main__":
    sys.exit(main())
