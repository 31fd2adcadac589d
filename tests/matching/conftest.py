"""Fixtures for the matching tests (helpers and paths live in ``support.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .support import PDQ_DATA


@pytest.fixture(scope="session")
def pdq_data() -> Path:
    if not PDQ_DATA.is_dir():
        pytest.fail(f"the PDQ test data is missing at {PDQ_DATA}")
    return PDQ_DATA


@pytest.fixture(scope="session")
def bridge_bytes(pdq_data: Path) -> bytes:
    return (pdq_data / "bridge-mods" / "aaa-orig.jpg").read_bytes()
