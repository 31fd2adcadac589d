"""Benchmark hashing: images hashed per second for the benign sample photos.

    .venv/bin/python bench/hash.py                  # every photo in tests/data/pdq
    .venv/bin/python bench/hash.py --rounds 1       # a quick run

For each group of sample images (the 1600x1004 bridge photos, the 256x256 LabelMe scenes,
everything else) it times, in the same run:

* reference: what pytx / HMA do per image, ``pdqhash.compute`` on
  ``np.asarray(Image.open(...).convert("RGB"))`` (decode + one PDQ hash, nothing else);
* ours: ``hash_bytes``: byte and pixel limits, EXIF orientation, mode conversion, md5 +
  sha1 + sha256, PDQ with quality and all 8 rotation/flip variants.

Single-threaded; the two alternate image by image for ``--rounds`` passes over each group.
``--max-seconds`` bounds each group.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path

import numpy as np
import pdqhash
from PIL import Image

from takedown.matching import hash_bytes

TESTDATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "pdq"
SUFFIXES = {".jpg", ".jpeg", ".png", ".webp"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=TESTDATA, help="folder of sample images")
    parser.add_argument("--rounds", type=int, default=3, help="passes over each group")
    parser.add_argument("--max-seconds", type=float, default=20.0, help="per group")
    args = parser.parse_args()

    groups = _groups(args.data)
    print(f"{'images':38} {'count':>5} {'reference/s':>12} {'ours/s':>8} {'ours ms':>8}")
    for name, files in groups.items():
        reference, ours = _rates(files, args.rounds, args.max_seconds)
        print(f"{name:38} {len(files):>5} {reference:>12.1f} {ours:>8.1f} {1000 / ours:>8.1f}")
    return 0


def _groups(folder: Path) -> dict[str, list[bytes]]:
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in SUFFIXES)
    groups: dict[str, list[bytes]] = {
        "1600x1004 bridge photos (JPEG)": [],
        "256x256 LabelMe scenes (JPEG)": [],
        "all other samples (modes, PNG, WebP)": [],
    }
    for path in files:
        with Image.open(path) as image:
            size = image.size
        key = (
            "1600x1004 bridge photos (JPEG)"
            if size in {(1600, 1004), (1004, 1600)} and path.suffix == ".jpg"
            else "256x256 LabelMe scenes (JPEG)"
            if "labelme" in str(path)
            else "all other samples (modes, PNG, WebP)"
        )
        groups[key].append(path.read_bytes())
    return {name: data for name, data in groups.items() if data}


def _reference(data: bytes) -> None:
    pdqhash.compute(np.asarray(Image.open(io.BytesIO(data)).convert("RGB")))


def _ours(data: bytes) -> None:
    hash_bytes(data)


def _rates(files: list[bytes], rounds: int, max_seconds: float) -> tuple[float, float]:
    """Images per second for the reference and for ours, measured image by image in turn.

    Alternating per image keeps both under the same conditions: run in long separate
    loops, the two drift apart by up to 20 % with the allocator's state (pdqhash allocates
    ~13 MB float64 buffers per photo) and the VM's speed.
    """
    _reference(files[0])  # warm-up (imports, first allocations)
    _ours(files[0])
    spent = {"reference": 0.0, "ours": 0.0}
    done = 0
    deadline = time.perf_counter() + max_seconds
    for _ in range(rounds):
        for data in files:
            for name, action in (("reference", _reference), ("ours", _ours)):
                started = time.perf_counter()
                action(data)
                spent[name] += time.perf_counter() - started
            done += 1
            if time.perf_counter() > deadline:
                break
        if time.perf_counter() > deadline:
            break
    return done / spent["reference"], done / spent["ours"]


if __name__ == "__main__":
    sys.exit(main())
