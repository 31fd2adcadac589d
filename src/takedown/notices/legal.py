"""The legal basis a notice quotes, per jurisdiction of its recipient.

The texts live in YAML (``data/legal.yaml``, or the operator's ``legal_basis_file``, which
replaces it), so a hotline's lawyers can change the wording without a release. A file is
checked completely when it is loaded; a mistake stops with a :class:`ConfigurationError` that
names the file and the entry, never with a notice that quotes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

import yaml

from takedown.config import Settings
from takedown.countries import is_country
from takedown.errors import ConfigurationError

PACKAGED_FILE: Final = Path(__file__).with_name("data") / "legal.yaml"
DEFAULT_KEY: Final = "default"
_BASIS_FIELDS: Final = frozenset({"citation", "text", "countries"})

_Fail = Callable[[str, str], ConfigurationError]


@dataclass(frozen=True, slots=True)
class LegalBasis:
    """What a notice to ``country`` cites (``citation``, one line) and says (``text``).

    ``key`` names the entry it came from (``eu``, ``gb`` ..., or ``default``); ``language`` is
    the language of ``text``, English when the file has no translation for the one asked.
    """

    country: str | None
    key: str
    citation: str
    text: str
    language: str


@dataclass(frozen=True, slots=True)
class _Entry:
    citation: str
    texts: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class LegalTable:
    """A loaded, validated legal-basis file."""

    default: _Entry
    entries: Mapping[str, _Entry]
    by_country: Mapping[str, str]

    def lookup(self, country: str | None, language: str = "en") -> LegalBasis:
        code = (country or "").strip().upper() or None
        key = self.by_country.get(code or "", DEFAULT_KEY)
        entry = self.entries[key] if key != DEFAULT_KEY else self.default
        lang = language.strip().lower().split("-")[0] if language else "en"
        if lang not in entry.texts:
            lang = "en"
        return LegalBasis(code, key, entry.citation, entry.texts[lang], lang)


def legal_basis(country: str | None, settings: Settings, language: str = "en") -> LegalBasis:
    """The basis for a recipient in ``country`` (``None`` or unlisted: the default)."""
    return load_table(settings.legal_basis_file).lookup(country, language)


def load_table(path: Path | None = None) -> LegalTable:
    """Load and validate ``path`` (the packaged file when ``None``); cached until it changes."""
    target = path or PACKAGED_FILE
    try:
        stat = target.stat()
    except OSError as exc:
        raise ConfigurationError(f"cannot read the legal basis file {target}: {exc}") from exc
    return _load(str(target), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=8)
def _load(path: str, mtime_ns: int, size: int) -> LegalTable:
    # Modification time and size are only part of the cache key: an edited file is read again.
    try:
        raw: Any = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigurationError(f"cannot read the legal basis file {path}: {exc}") from exc
    return _parse(raw, path)


def _parse(raw: Any, path: str) -> LegalTable:
    def fail(where: str, problem: str) -> ConfigurationError:
        return ConfigurationError(f"legal basis file {path}: {where}: {problem}")

    if not isinstance(raw, dict):
        raise fail("top level", "must be a mapping with 'default' and 'bases'")
    unknown = set(raw) - {"default", "bases"}
    if unknown:
        raise fail("top level", f"unknown key(s) {sorted(map(str, unknown))}")
    if "default" not in raw:
        raise fail("top level", "'default' is missing")
    default = _entry(raw["default"], "default", fail, with_countries=False)
    bases = raw.get("bases") or {}
    if not isinstance(bases, dict):
        raise fail("bases", "must be a mapping of name to basis")
    entries: dict[str, _Entry] = {}
    by_country: dict[str, str] = {}
    for key, value in bases.items():
        name = str(key)
        if name == DEFAULT_KEY:
            raise fail(f"bases.{name}", "the name 'default' is reserved")
        entries[name] = _entry(value, f"bases.{name}", fail, with_countries=True)
        for index, code in enumerate(value["countries"]):
            where = f"bases.{name}.countries[{index}]"
            if not isinstance(code, str) or code != code.strip().upper() or not is_country(code):
                raise fail(where, f"{code!r} is not an ISO 3166-1 alpha-2 code in capitals")
            if code in by_country:
                raise fail(where, f"{code} is already in bases.{by_country[code]}")
            by_country[code] = name
    return LegalTable(default, entries, by_country)


def _entry(value: Any, where: str, fail: _Fail, *, with_countries: bool) -> _Entry:
    if not isinstance(value, dict):
        raise fail(where, "must be a mapping with 'citation' and 'text'")
    allowed = _BASIS_FIELDS if with_countries else _BASIS_FIELDS - {"countries"}
    unknown = set(value) - allowed
    if unknown:
        raise fail(where, f"unknown key(s) {sorted(map(str, unknown))}")
    citation = value.get("citation")
    if not isinstance(citation, str) or not citation.strip():
        raise fail(f"{where}.citation", "must be a non-empty string")
    texts = _texts(value.get("text"), f"{where}.text", fail)
    if with_countries:
        countries = value.get("countries")
        if not isinstance(countries, list) or not countries:
            raise fail(f"{where}.countries", "must be a non-empty list of country codes")
    return _Entry(" ".join(citation.split()), texts)


def _texts(value: Any, where: str, fail: _Fail) -> dict[str, str]:
    """A paragraph, or a mapping of language to paragraph that includes English."""
    if isinstance(value, str):
        value = {"en": value}
    if not isinstance(value, dict):
        raise fail(where, "must be a string or a mapping of language to string")
    texts: dict[str, str] = {}
    for language, text in value.items():
        if not isinstance(language, str) or not language.isalpha() or len(language) > 8:
            raise fail(where, f"{language!r} is not a language code")
        if not isinstance(text, str) or not text.strip():
            raise fail(f"{where}.{language}", "must be a non-empty string")
        texts[language.lower()] = " ".join(text.split())
    if "en" not in texts:
        raise fail(where, "an English ('en') text is required, the fallback for every language")
    return texts
