"""Country codes: ISO 3166-1 alpha-2, checked against the table bundled with ``pycountry``.

Only assigned codes pass, plus one exception: ``XK`` for Kosovo. ISO has not assigned Kosovo a
code, so ``XK`` is formally user-assigned, but the European Commission, CLDR and the regional
internet registries use it (RIPE NCC delegates address space to XK), so addresses, registry
data and partner hotlines arrive with it and the directory must be able to say so. Other
user-assigned or reserved codes (``EU``, ``UK``, ``ZZ``) are refused: they name no country a
notice can be routed to.
"""

from __future__ import annotations

from functools import cache
from typing import Final

import pycountry

from takedown.errors import ValidationFailed

# Codes outside ISO 3166-1 that we accept on purpose, with their names (see above).
EXTRA_CODES: Final = {"XK": "Kosovo"}
# Codes people type for a country that has another one; the hint saves a round trip.
_HINTS: Final = {"UK": "GB", "EL": "GR"}


@cache
def _names() -> dict[str, str]:
    """Every accepted code and its short English name (the common name where ISO has one)."""
    names = {
        country.alpha_2: getattr(country, "common_name", None) or country.name
        for country in pycountry.countries
    }
    names.update(EXTRA_CODES)
    return names


def check_country(code: str, *, field: str = "country") -> str:
    """Return ``code`` upper-cased when it names a country, else raise ``ValidationFailed``.

    The error carries ``field`` (an extension member of the problem document), so a caller
    checking several fields can tell which one failed.
    """
    text = code.strip().upper()
    if len(text) != 2 or not (text.isascii() and text.isalpha()):
        raise ValidationFailed(
            f"a country is an ISO 3166-1 alpha-2 code such as 'NL', not {code!r}", field=field
        )
    if text not in _names():
        hint = f" (did you mean {_HINTS[text]!r}?)" if text in _HINTS else ""
        raise ValidationFailed(f"unknown country code {text!r}{hint}", field=field)
    return text


def is_country(code: str) -> bool:
    """Whether ``code`` (any case) names a country ``check_country`` accepts."""
    return code.strip().upper() in _names()


def country_name(code: str) -> str:
    """The English name of a country code, e.g. ``country_name("nl") == "Netherlands"``."""
    return _names()[check_country(code)]
