"""Notices as e-mail text: subject, plain text and HTML, in the recipient's language.

Templates live in ``templates/<language>/`` (``subject.txt.j2``, ``notice.txt.j2``,
``notice.html.j2``); a language we have no templates for is written in English. Jinja2 runs
with ``StrictUndefined`` (a misspelt variable fails the render instead of leaving a blank in a
legal notice) and, for HTML, with autoescaping: URLs, host names and organization names come
from outside and are always rendered as text. Reported URLs are never made into links in the
HTML part, so nobody at the receiving abuse desk opens one by a stray click and no mail client
fetches one for a preview; only our own answer links are clickable.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final

import jinja2

from takedown.config import Settings
from takedown.countries import country_name, is_country
from takedown.notices.documents import NoticeContent, NoticeItem
from takedown.notices.legal import legal_basis

TEMPLATES_DIR: Final = Path(__file__).with_name("templates")
FALLBACK_LANGUAGE: Final = "en"
# Answer kinds offered as links, as ``AnswerKind`` stores them; each link is
# ``<answer_url>?answer=<kind>``.
ANSWERS: Final = ("acknowledged", "removed", "cannot_act", "dispute")
# Kinds addressed to a provider (host, upstream, registrar): they quote the legal basis.
# Partner hotlines and police know the law they work under, and a domain alert asks a
# registry to apply its own policy, not to act on a hosting notice (the basis quoted is the
# hosting provider's duty under the DSA, which a registry does not have).
PROVIDER_KINDS: Final = frozenset({"notice", "renotice", "escalation"})

_MONTHS: Final = {
    "en": "January February March April May June July August September October November December",
    "nl": "januari februari maart april mei juni juli augustus september oktober november december",
    "de": "Januar Februar März April Mai Juni Juli August September Oktober November Dezember",
}
_WEEKDAYS: Final = {
    "en": "Monday Tuesday Wednesday Thursday Friday Saturday Sunday",
    "nl": "maandag dinsdag woensdag donderdag vrijdag zaterdag zondag",
    "de": "Montag Dienstag Mittwoch Donnerstag Freitag Samstag Sonntag",
}
_DATE_FORMATS: Final = {
    "en": "{weekday} {day} {month} {year}, {time} UTC",
    "nl": "{weekday} {day} {month} {year}, {time} UTC",
    "de": "{weekday}, {day}. {month} {year}, {time} UTC",
}
# (singular, plural) per unit, and the word joining two units.
_UNITS: Final = {
    "en": (("day", "days"), ("hour", "hours"), ("minute", "minutes"), "and"),
    "nl": (("dag", "dagen"), ("uur", "uur"), ("minuut", "minuten"), "en"),
    # Dative: the German templates only say "vor ..." and "innerhalb von ...".
    "de": (("Tag", "Tagen"), ("Stunde", "Stunden"), ("Minute", "Minuten"), "und"),
}


@dataclass(frozen=True, slots=True)
class RenderedEmail:
    """The three texts of a notice e-mail; ``subject`` is one line."""

    subject: str
    text: str
    html: str


def _environment(*, html: bool) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        # Only the HTML part is markup; the subject and text/plain part are not (escaping
        # them would show "&amp;" to the reader), and no HTML is ever made from them.
        autoescape=html,  # noqa: S701
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["oneline"] = oneline
    return env


def oneline(value: object) -> str:
    """``value`` as text on one line: CR, LF and other control characters become spaces."""
    text = "".join(" " if ord(ch) < 32 or ord(ch) == 127 else ch for ch in str(value))
    return " ".join(text.split())


_TEXT = _environment(html=False)
_HTML = _environment(html=True)


def template_language(language: str | None) -> str:
    """The template directory for ``language`` (``nl-BE`` -> ``nl``), else English."""
    code = (language or "").strip().lower().replace("_", "-").split("-")[0]
    if code.isalpha() and (TEMPLATES_DIR / code / "notice.txt.j2").is_file():
        return code
    return FALLBACK_LANGUAGE


def render_email(content: NoticeContent, settings: Settings) -> RenderedEmail:
    """Render the subject, plain text and HTML of ``content`` in its language."""
    language = template_language(content.language)
    context = _context(content, settings, language)
    subject = oneline(_TEXT.get_template(f"{language}/subject.txt.j2").render(context))
    text = _TEXT.get_template(f"{language}/notice.txt.j2").render(context)
    html = _HTML.get_template(f"{language}/notice.html.j2").render(context)
    return RenderedEmail(subject=subject, text=text, html=html)


def answer_links(answer_url: str | None) -> dict[str, str]:
    """One link per answer kind, or none when the notice has no answer link."""
    if not answer_url:
        return {}
    joiner = "&" if "?" in answer_url else "?"
    return {kind: f"{answer_url}{joiner}answer={kind}" for kind in ANSWERS}


def human_datetime(value: datetime, language: str) -> str:
    """``Monday 23 November 2026, 09:00 UTC`` in ``language`` (English when unknown)."""
    lang = language if language in _DATE_FORMATS else FALLBACK_LANGUAGE
    return _DATE_FORMATS[lang].format(
        weekday=_WEEKDAYS[lang].split()[value.weekday()],
        day=value.day,
        month=_MONTHS[lang].split()[value.month - 1],
        year=value.year,
        time=value.strftime("%H:%M"),
    )


def human_duration(value: timedelta, language: str) -> str:
    """The two largest units of ``value``: ``2 days and 3 hours``, ``45 minutes``."""
    day, hour, minute, joiner = _UNITS[language if language in _UNITS else FALLBACK_LANGUAGE]
    minutes = max(int(value.total_seconds() // 60), 0)
    parts = [
        (amount, names)
        for amount, names in (
            (minutes // 1440, day),
            (minutes % 1440 // 60, hour),
            (minutes % 60, minute),
        )
        if amount
    ][:2]
    if not parts:
        return f"0 {minute[1]}"
    words = [f"{amount} {names[0] if amount == 1 else names[1]}" for amount, names in parts]
    return f" {joiner} ".join(words)


def iso_utc(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _item_view(item: NoticeItem) -> dict[str, str | None]:
    return {
        "sha256": item.sha256,
        "md5": item.md5,
        "sha1": item.sha1,
        "pdq": item.pdq,
        # The scheme code when the label is one ("a1" -> "A1"), else the label as entered.
        "classification": item.industry_class or item.classification,
        "media_type": item.media_type,
    }


def _context(content: NoticeContent, settings: Settings, language: str) -> dict[str, Any]:
    first = content.first_noticed_at
    country = content.country
    return {
        "n": content,
        "kind": content.kind,
        "language": language,
        "hotline": {
            "name": settings.hotline_name,
            "email": settings.hotline_email,
            "url": settings.public_base_url,
        },
        "host": content.host or "",
        "domain": content.domain or content.host or "",
        "items": [_item_view(item) for item in content.items],
        "classification": content.most_severe_class,
        "legal": legal_basis(country, settings, language)
        if content.kind in PROVIDER_KINDS
        else None,
        "country_name": country_name(country) if country and is_country(country) else None,
        "deadline_iso": iso_utc(content.deadline),
        "deadline_human": human_datetime(content.deadline, language),
        "deadline_in": human_duration(content.deadline - content.sent_at, language),
        "first_noticed_human": human_datetime(first, language) if first else None,
        "elapsed": human_duration(content.sent_at - first, language) if first else None,
        "previous": list(content.previous_notice_references),
        "answers": answer_links(content.answer_url),
        "reply_to": content.reply_to or settings.hotline_email,
    }
