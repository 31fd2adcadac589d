"""Country codes: assigned ISO 3166-1 alpha-2 codes and Kosovo's XK, nothing else."""

from __future__ import annotations

import pytest

from takedown.countries import check_country, country_name, is_country
from takedown.errors import ValidationFailed


@pytest.mark.parametrize(("given", "expected"), [("nl", "NL"), (" de ", "DE"), ("XK", "XK")])
def test_real_codes_pass_upper_cased(given: str, expected: str) -> None:
    assert check_country(given) == expected


@pytest.mark.parametrize("code", ["XX", "EU", "ZZ", "AA"])
def test_unassigned_codes_are_refused(code: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        check_country(code)
    assert caught.value.message == f"unknown country code {code!r}"
    assert caught.value.extra == {"field": "country"}


def test_common_mistakes_get_a_hint() -> None:
    with pytest.raises(
        ValidationFailed, match=r"unknown country code 'UK' \(did you mean 'GB'\?\)"
    ):
        check_country("uk")


@pytest.mark.parametrize("text", ["Germany", "N", "", "N1", "ÄÖ"])
def test_other_text_is_refused_with_the_expected_form(text: str) -> None:
    with pytest.raises(ValidationFailed, match="ISO 3166-1 alpha-2") as caught:
        check_country(text, field="countries")
    assert caught.value.extra == {"field": "countries"}


def test_names() -> None:
    assert country_name("nl") == "Netherlands"
    assert country_name("XK") == "Kosovo"
    assert is_country("gb")
    assert not is_country("EU")
    with pytest.raises(ValidationFailed):
        country_name("EU")
