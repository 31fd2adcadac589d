"""URL list exports: seconds to render a 1,000,000-entry version in every URL format.

Builds synthetic benign rows (a quarter whole hosts ``siteN.example/``, the rest pages and
directories below them), then renders each format of ``lists.exports`` once per round and
prints the best time next to a reference measured in the same run: joining the expressions
with line breaks, encoding them and writing them to a temporary file, the floor under any text
export. Target: every format well under 20 s.

    python bench/lists_export.py [--rows 1000000] [--rounds 2]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from takedown.config import Settings
from takedown.lists.exports import FORMATS, render
from takedown.lists.models import ListName
from takedown.lists.rows import Row

PUBLISHED = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
TARGET_SECONDS = 20.0


def synthetic_rows(count: int) -> list[Row]:
    """``count`` URL rows, sorted as a stored version's are; one in four a whole host."""
    rows: list[Row] = []
    for i in range(count):
        host = f"site{i // 4}.example"
        kind = i % 4
        expression = (
            f"{host}/"
            if kind == 0
            else f"{host}/gallery/{i}/"
            if kind == 1
            else f"{host}/page{i}.html"
            if kind == 2
            else f"www.{host}/view?id={i}"
        )
        case = f"00000000-0000-4000-8000-{i:012d}" if i % 10 else ""
        rows.append((expression, case, "2026-11-22T08:00:00+00:00"))
    rows.sort()
    return rows


def best_of(rounds: int, work: Callable[[], int]) -> tuple[float, int]:
    """The fastest of ``rounds`` runs of ``work``, and what it returned (bytes written)."""
    best, result = float("inf"), 0
    for _ in range(rounds):
        started = time.perf_counter()
        result = work()
        best = min(best, time.perf_counter() - started)
    return best, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    settings = Settings(splash_host="splash.hotline.example", rpz_zone="rpz.hotline.example")
    started = time.perf_counter()
    rows = synthetic_rows(args.rows)
    print(f"{len(rows):,} URL rows built in {time.perf_counter() - started:.1f} s")

    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "export"

        def reference() -> int:
            data = ("\n".join(row[0] for row in rows) + "\n").encode("utf-8")
            return out.write_bytes(data)

        seconds, size = best_of(args.rounds, reference)
        print(f"{'format':14} {'seconds':>8} {'MB':>8}   target < {TARGET_SECONDS:.0f} s each")
        print(f"{'reference':14} {seconds:>8.2f} {size / 1e6:>8.1f}   join + encode + write")
        slowest = 0.0
        for fmt in FORMATS[ListName.URLS]:

            def export(fmt: str = fmt) -> int:
                data = render(ListName.URLS, 1, PUBLISHED, rows, fmt, settings)
                return out.write_bytes(data)

            seconds, size = best_of(args.rounds, export)
            slowest = max(slowest, seconds)
            print(f"{fmt:14} {seconds:>8.2f} {size / 1e6:>8.1f}")
    verdict = "met" if slowest < TARGET_SECONDS else "MISSED"
    print(f"slowest format {slowest:.2f} s: target {verdict}")
    return 0 if slowest < TARGET_SECONDS else 1


if __name__ == "__main__":
    raise SystemExit(main())
