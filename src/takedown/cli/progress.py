"""Progress bars for long commands, on standard error and only on a terminal.

As ``takedown scan`` does: a bar on a terminal, nothing when standard error is a pipe or a
file, so scripted output (and the tests comparing it) stays exactly the same.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import TextIO

# tqdm ships no type information (and types-tqdm is not a dependency).
from tqdm import tqdm  # type: ignore[import-untyped]


def on_terminal() -> bool:
    return sys.stderr.isatty()


def lines_read(
    lines: Iterable[str], total_bytes: int, *, show: bool, stream: TextIO | None = None
) -> Iterator[str]:
    """``lines`` unchanged, with a bar of the bytes read out of ``total_bytes``."""
    with tqdm(
        total=total_bytes,
        unit="B",
        unit_scale=True,
        disable=not show,
        file=stream or sys.stderr,
    ) as bar:
        for line in lines:
            yield line
            bar.update(len(line.encode("utf-8")))


def counted(
    items: Iterable[str], unit: str, *, show: bool, stream: TextIO | None = None
) -> Iterator[str]:
    """``items`` unchanged, with a running count of them (their total is not known ahead)."""
    yield from tqdm(items, unit=unit, disable=not show, file=stream or sys.stderr)
