"""Squid external ACL helper: block the URLs of a Takedown URL list at a proxy.

## Blocking a Takedown URL list with Squid

The helper reads the list file (clear `txt`, or hashed `sha256` with `--hashed`), answers
Squid's questions one line at a time and re-reads the file within a second of it changing.
In `squid.conf` (one line each; `%URI` passes the request URL to the helper):

```
external_acl_type takedown_bl ttl=300 negative_ttl=60 children-max=4 concurrency=50 %URI /path/to/takedown filter squid-helper --list /var/lib/takedown/urls.txt
acl takedown_blocked external takedown_bl
http_access deny takedown_blocked
deny_info 302:https://hotline.example/blocked takedown_blocked
```

- `external_acl_type` starts up to `children-max` helper processes (each loads the whole
  list: budget its memory per child) and sends each up to `concurrency` questions at a time.
- `acl ... external` is true when the helper answers `OK` (the URL is listed);
  `http_access deny` refuses those requests, and `deny_info` sends the browser to the
  hotline's splash page instead of Squid's error page (`deny_info ERR_MY_PAGE` or a plain
  403 work too).
- Squid caches each answer: a listed URL for `ttl` seconds (300), an unlisted one for
  `negative_ttl` seconds (60). A newly listed URL is therefore blocked within about a minute
  of the file changing, and a removed one unblocked within five minutes. Lower the TTLs for
  faster updates at the cost of more questions.
- The reply carries only `message=blocked` (Squid's `%o` in error pages): never the matched
  list entry, which would reach the browser.
- HTTPS: without TLS interception (`ssl_bump`) Squid only sees `CONNECT host:443`, so only
  entries that list a whole host (`example.test/`, which also covers its subdomains) can
  match; entries for a path on an HTTPS site match only when Squid bumps the connection.
- Replace the list file atomically (write a temporary file, rename it into place). If a new
  file cannot be read or parsed the helper keeps the previous list and logs a warning to
  stderr, which Squid writes to `cache.log`.

Protocol: each request is `[channel-ID] URL [more values]`, the values URL-escaped; the
reply is `[channel-ID] OK message=blocked`, `[channel-ID] ERR` (not listed, or not a URL) or
`[channel-ID] BH message=...` (the helper failed on that line). Replies are in request order.
"""  # noqa: E501

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from collections.abc import Iterable, Sequence
from typing import IO
from urllib.parse import quote_from_bytes, unquote_to_bytes

from takedown.lists.filter import ListFileError, ListMatcher, open_list

log = logging.getLogger(__name__)

BLOCKED = b"OK message=blocked"
NOT_LISTED = b"ERR"


def serve(matcher: ListMatcher, stdin: Iterable[bytes], stdout: IO[bytes]) -> int:
    """Answer every request line from ``stdin`` on ``stdout`` until end of input.

    Each reply is flushed at once: Squid waits for it. Returns the number of lines answered.
    """
    answered = 0
    for line in stdin:
        stdout.write(answer(matcher, line))
        stdout.flush()
        answered += 1
    return answered


def answer(matcher: ListMatcher, line: bytes) -> bytes:
    """The reply line (with its newline) to one request line."""
    tokens = line.split()
    # With concurrency=N Squid puts a channel ID first; without it the URL comes first. A URL
    # is never all digits (Squid sends "http://..." or "host:port"), so this cannot misread.
    if len(tokens) >= 2 and tokens[0].isdigit():
        channel, tokens = tokens[0] + b" ", tokens[1:]
    else:
        channel = b""
    try:
        verdict = _verdict(matcher, tokens)
    except Exception:
        # One bad line must not take the helper down (Squid would restart it and reload the
        # list); BH tells Squid the helper could not decide.
        log.exception("failed on the request %r", line[:200])
        verdict = _broken("internal error")
    return channel + verdict + b"\n"


def _verdict(matcher: ListMatcher, tokens: Sequence[bytes]) -> bytes:
    if not tokens:
        return _broken("no URL in the request")
    # Squid URL-escapes the values it sends; undo that once, as bytes so that a URL which is
    # not UTF-8 reaches canonicalization intact (which then unescapes the URL's own escapes).
    url = unquote_to_bytes(tokens[0])
    return BLOCKED if matcher.match(url) is not None else NOT_LISTED


def _broken(message: str) -> bytes:
    return b"BH message=" + quote_from_bytes(message.encode("utf-8"), safe="").encode("ascii")


def run(matcher: ListMatcher, stdin: IO[bytes], stdout: IO[bytes]) -> int:
    """Serve Squid on the given streams until it closes them; the process's exit code."""
    log.info("takedown squid helper: %d entries", len(matcher))
    try:
        serve(matcher, stdin, stdout)
    except BrokenPipeError:
        # Squid went away mid-reply; there is nobody left to answer. Point stdout at
        # /dev/null so that flushing it at exit does not raise again (Python's signal docs).
        # In-memory streams have no descriptor (io.UnsupportedOperation is an OSError).
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), stdout.fileno())
    except KeyboardInterrupt:
        return 130
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m takedown.lists.squid",
        description="Squid external ACL helper for a Takedown URL list (see the module doc).",
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--list", help="clear URL list (txt)")
    source.add_argument("--hashed", help="hashed URL list (sha256)")
    args = parser.parse_args(argv)
    # stdout is Squid's channel: every log line must go to stderr (Squid's cache.log).
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s"
    )
    try:
        matcher = open_list(args.list or args.hashed, hashed=args.hashed is not None)
    except ListFileError as exc:
        log.error("%s", exc.message)
        return 2
    return run(matcher, sys.stdin.buffer, sys.stdout.buffer)


if __name__ == "__main__":
    sys.exit(main())
