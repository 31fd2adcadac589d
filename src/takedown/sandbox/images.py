"""Benign sample images for the sandbox, drawn with Pillow: gradients, checkerboards, shapes.

The product ships no photos, and the sandbox must never serve anything that could be mistaken
for real material, so every image the simulated internet serves is an abstract pattern drawn
here. Each is a deterministic function of its seed (the same PNG bytes on every machine with
the same Pillow), so a "known" sample's hash can be put in a bank before the sandbox starts.

Distinct seeds give images whose PDQ hashes are far apart (more than 60 bits, also against
each other's rotations and mirror images, which the matcher checks too), so a demo never
matches an "unknown" sample against a "known" one by accident. ``tests/sandbox/test_images.py``
checks this for the first ``CATALOGUE_SIZE`` seeds.
"""

from __future__ import annotations

import io
import math
import random
from typing import Final

from PIL import Image, ImageDraw

WIDTH: Final = 320
HEIGHT: Final = 240
MEDIA_TYPE: Final = "image/png"
# Seeds the tests check pairwise; the sandbox uses no others.
CATALOGUE_SIZE: Final = 12

Colour = tuple[int, int, int]


def sample_image(seed: int) -> bytes:
    """The PNG of sample ``seed`` (0 and up): a gradient, a checkerboard patch and shapes."""
    if seed < 0:
        raise ValueError("sample seeds start at 0")
    # Reproducible patterns, not secrets: a seeded generator is what we want here.
    rng = random.Random(f"takedown-sandbox-{seed}")  # noqa: S311
    image = _gradient(rng)
    _checkerboard(image, rng)
    _shapes(image, rng)
    buffer = io.BytesIO()
    # No metadata, fixed compression: the bytes depend on the seed alone.
    image.save(buffer, format="PNG", optimize=False, compress_level=6)
    return buffer.getvalue()


def _colour(rng: random.Random) -> Colour:
    return (rng.randrange(256), rng.randrange(256), rng.randrange(256))


def _contrasting(rng: random.Random, other: Colour) -> Colour:
    """A colour whose brightness is far from ``other``'s: PDQ sees luminance only."""
    while True:
        colour = _colour(rng)
        if abs(_luma(colour) - _luma(other)) > 90:
            return colour


def _luma(colour: Colour) -> float:
    red, green, blue = colour
    return 0.299 * red + 0.587 * green + 0.114 * blue


def _gradient(rng: random.Random) -> Image.Image:
    """A linear gradient between two contrasting colours at a random angle."""
    start = _colour(rng)
    end = _contrasting(rng, start)
    angle = rng.uniform(0, 2 * math.pi)
    dx, dy = math.cos(angle), math.sin(angle)
    # Project every pixel on the direction; scale the projection to 0..1 over the image.
    corners = [x * dx + y * dy for x in (0, WIDTH) for y in (0, HEIGHT)]
    low, span = min(corners), max(corners) - min(corners)
    ramp = Image.new("L", (WIDTH, HEIGHT))
    pixels = [
        int(255 * ((x * dx + y * dy) - low) / span) for y in range(HEIGHT) for x in range(WIDTH)
    ]
    ramp.putdata(pixels)
    return Image.composite(
        Image.new("RGB", ramp.size, end), Image.new("RGB", ramp.size, start), ramp
    )


def _checkerboard(image: Image.Image, rng: random.Random) -> None:
    """A checkerboard patch of random size, cell and place."""
    draw = ImageDraw.Draw(image)
    cell = rng.choice((8, 12, 16, 20, 24))
    columns, rows = rng.randint(3, 8), rng.randint(3, 6)
    left = rng.randrange(0, max(1, WIDTH - columns * cell))
    top = rng.randrange(0, max(1, HEIGHT - rows * cell))
    dark = _colour(rng)
    light = _contrasting(rng, dark)
    for row in range(rows):
        for column in range(columns):
            fill = dark if (row + column) % 2 else light
            x, y = left + column * cell, top + row * cell
            draw.rectangle((x, y, x + cell - 1, y + cell - 1), fill=fill)


def _shapes(image: Image.Image, rng: random.Random) -> None:
    """Five to nine ellipses, rectangles and triangles in random colours."""
    draw = ImageDraw.Draw(image)
    for _ in range(rng.randint(5, 9)):
        x, y = rng.randrange(WIDTH), rng.randrange(HEIGHT)
        w, h = rng.randint(20, WIDTH // 2), rng.randint(20, HEIGHT // 2)
        box = (x - w // 2, y - h // 2, x + w // 2, y + h // 2)
        fill = _colour(rng)
        shape = rng.choice(("ellipse", "rectangle", "triangle"))
        if shape == "ellipse":
            draw.ellipse(box, fill=fill)
        elif shape == "rectangle":
            draw.rectangle(box, fill=fill)
        else:
            points = [(rng.randrange(WIDTH), rng.randrange(HEIGHT)) for _ in range(3)]
            draw.polygon(points, fill=fill)
