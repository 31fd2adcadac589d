"""Benchmark the reduced decode: seconds to hash one large-pixel PNG, with and without it.

    .venv/bin/python bench/capture_budget.py               # a 7000x7000 PNG, 2 rounds
    .venv/bin/python bench/capture_budget.py --side 4000 --rounds 1

The image is a benign generated pattern (gradients and stripes), a few hundred kilobytes as
PNG but ``side``x``side`` pixels: the shape of what a hostile page serves to hold a worker.
In the same run, alternating, it times:

* reference: ``Image.open(...).convert("RGB")`` and ``pdqhash.compute`` on all the pixels
  (what pytx / HMA do, and what capture did before the budget);
* full: ``hash_bytes`` as bank uploads and scans use it (every signal, full decode);
* reduced: ``hash_bytes(reduce_to=PDQ_REDUCE_TO)`` as capture uses it (MD5/SHA over the raw
  bytes, PDQ of a box-reduced copy).

It then prints the PDQ distance between full and reduced decode for a sample photo enlarged
to the same width (the generated pattern is no test of that: its PDQ is unstable under any
resampling; a JPEG re-encode alone moves it about 70 bits).

Single-threaded. Prints one line per variant: the best and median time per image.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pdqhash
from PIL import Image

from takedown.matching import hash_bytes
from takedown.matching.images import PDQ_REDUCE_TO
from takedown.matching.pdq import distance

PHOTO = (
    Path(__file__).resolve().parents[1] / "tests" / "data" / "pdq" / "bridge-mods" / "aaa-orig.jpg"
)


def pattern_png(side: int) -> bytes:
    """A benign ``side``x``side`` PNG: colour gradients with a few dark stripes."""
    ramp = (np.arange(side, dtype=np.uint32) * 255 // max(side - 1, 1)).astype(np.uint8)
    pixels = np.empty((side, side, 3), dtype=np.uint8)
    pixels[:, :, 0] = ramp[None, :]
    pixels[:, :, 1] = ramp[:, None]
    pixels[:, :, 2] = 128
    for start in range(0, side, max(side // 7, 1)):
        pixels[start : start + side // 50, :, :] = 0
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()


def reference(data: bytes) -> None:
    pixels = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    pdqhash.compute(pixels)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--side", type=int, default=7000, help="pixels a side")
    parser.add_argument("--rounds", type=int, default=2, help="timings per variant")
    args = parser.parse_args()

    data = pattern_png(args.side)
    pixels = args.side * args.side
    print(f"{args.side}x{args.side} PNG ({pixels / 1e6:.0f} Mpx), {len(data) / 1024:.0f} KiB")
    variants: dict[str, Callable[[], object]] = {
        "reference (pytx-style full decode + pdqhash)": lambda: reference(data),
        "full decode (hash_bytes)": lambda: hash_bytes(data, max_pixels=pixels),
        f"reduced decode (reduce_to={PDQ_REDUCE_TO})": lambda: hash_bytes(
            data, max_pixels=pixels, reduce_to=PDQ_REDUCE_TO
        ),
    }
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(args.rounds):
        for name, run in variants.items():
            started = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - started)
    for name, seconds in times.items():
        print(f"{name:48s} best {min(seconds):7.3f} s  median {statistics.median(seconds):7.3f} s")
    with Image.open(PHOTO) as opened:
        photo = opened.convert("RGB")
    height = photo.height * args.side // photo.width
    out = io.BytesIO()
    photo.resize((args.side, height), Image.Resampling.BICUBIC).save(out, format="PNG")
    limit = args.side * height
    full = hash_bytes(out.getvalue(), max_pixels=limit).pdq
    reduced = hash_bytes(out.getvalue(), max_pixels=limit, reduce_to=PDQ_REDUCE_TO).pdq
    assert full is not None
    assert reduced is not None
    print(
        f"PDQ distance, reduced vs full decode, {PHOTO.name} enlarged to "
        f"{args.side}x{height}: {distance(full.value, reduced.value)} bits (matching: <= 31)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
