"""Every example published in the Safe Browsing v4 "URLs and Hashing" documentation."""

from __future__ import annotations

import json
from typing import Any

import pytest

from takedown.urls import canonicalize, expressions, hash_prefix
from tests.conftest import TESTDATA

VECTORS_FILE = TESTDATA / "urls" / "safebrowsing-v4.json"
VECTORS: dict[str, Any] = json.loads(VECTORS_FILE.read_text(encoding="utf-8"))


def _input(vector: dict[str, Any]) -> str | bytes:
    text: str = vector["input"]
    return text.encode("latin-1") if vector.get("input_latin1") else text


def test_vector_file_is_complete() -> None:
    # Guards against a silently empty parametrization if the file moves or shrinks.
    assert len(VECTORS["canonicalization"]) == 33
    assert len(VECTORS["expressions"]) == 3
    assert len(VECTORS["sha256_prefix"]) == 2


@pytest.mark.parametrize("vector", VECTORS["canonicalization"], ids=lambda v: repr(v["input"])[:60])
def test_canonicalization(vector: dict[str, Any]) -> None:
    assert canonicalize(_input(vector)) == vector["expected"]


@pytest.mark.parametrize("vector", VECTORS["canonicalization"], ids=lambda v: repr(v["input"])[:60])
def test_canonical_form_is_a_fixed_point(vector: dict[str, Any]) -> None:
    expected = vector["expected"]
    assert canonicalize(expected) == expected


@pytest.mark.parametrize("vector", VECTORS["expressions"], ids=lambda v: v["url"])
def test_expressions(vector: dict[str, Any]) -> None:
    result = expressions(vector["url"])
    assert set(result) == set(vector["expected"])
    assert len(result) == len(set(result)), "expressions must not repeat"


@pytest.mark.parametrize("vector", VECTORS["sha256_prefix"], ids=lambda v: v["input"][:10])
def test_sha256_prefix(vector: dict[str, Any]) -> None:
    assert hash_prefix(vector["input"], vector["bits"] // 8).hex() == vector["expected_hex"]
