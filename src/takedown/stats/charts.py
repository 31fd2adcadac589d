"""Charts of figures, drawn on the server as SVG (matplotlib), accessible and CSP-clean.

Every function is pure: it takes plain figures (``stats.service`` dataclasses, lists, dicts)
and returns a :class:`Chart`: ``svg`` (a string to put inline in HTML or serve as
``image/svg+xml``) with a ``<title>`` and a ``<desc>``, and ``columns`` and ``rows``, the table
behind the chart, to show beside it (the console puts it one click away in ``<details>``).

- ``removal_distribution(buckets)``: time to removal as a histogram (``breakdowns.Bucket``).
- ``removal_trend(points)``: median and 90th percentile time to removal per week or month
  (``(label, Timing)`` pairs).
- ``removal_shares(points)``: the share removed within 24 hours and within 3 days per week or
  month (``(label, Timing)`` pairs).
- ``cases_by_outcome(counts)``: cases by where they are now (``{outcome: cases}``).
- ``cases_by_country(counts)``: cases by hosting country (``[(country code, cases)]``).
- ``top_providers(cards, limit=10)``: hosting providers (``scorecards.Scorecard``) with the most
  cases, their median time to removal and share within 24 hours.

Why the SVG is rewritten after matplotlib: its output styles elements with ``style``
attributes and a ``<style>`` element, which the console's Content-Security-Policy
(``style-src 'self'``) refuses in an inline ``<svg>``. Each declaration becomes the
equivalent SVG presentation attribute, which no CSP governs, so one string works inline in
the console, in the transparency report and as a file. Text is drawn as paths with the
bundled DejaVu font (nothing is downloaded, and a name is never markup inside the drawing);
ids are prefixed per chart so several charts can share one page. ``text.parse_math`` is off:
an organization's name with ``$`` in it is text, not TeX.
"""

from __future__ import annotations

import functools
import io
import re
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import count
from typing import TYPE_CHECKING, Any, Final, ParamSpec, Protocol

import matplotlib

# Figures are made without pyplot (no global state shared between requests); saving one as
# SVG uses matplotlib's SVG backend, and nothing here opens a window.
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

if TYPE_CHECKING:
    from takedown.stats.scorecards import Scorecard
    from takedown.stats.timings import Timing

SVG_NS: Final = "http://www.w3.org/2000/svg"
XLINK_NS: Final = "http://www.w3.org/1999/xlink"
ET.register_namespace("", SVG_NS)
ET.register_namespace("xlink", XLINK_NS)

_RC: Final[dict[str, Any]] = {
    "svg.fonttype": "path",
    "svg.hashsalt": "takedown",  # ids stay the same from one run to the next
    "text.parse_math": False,
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
}
# Colour-blind safe (Okabe-Ito), and dark enough on white for text-sized marks.
BLUE: Final = "#0072B2"
ORANGE: Final = "#D55E00"
GREEN: Final = "#009E73"
GREY: Final = "#6b6b6b"
# Set once for the process: only these charts draw with matplotlib here. rc_context would
# change the same global settings per call, which concurrent requests would race on.
matplotlib.rcParams.update(_RC)  # type: ignore[arg-type]  # keys are typed as literals
# matplotlib is not thread-safe; requests are served from a thread pool, and a chart takes
# tens of milliseconds, so they are drawn one at a time.
_LOCK: Final = threading.Lock()
_P = ParamSpec("_P")
_URL_REF: Final = re.compile(r"url\(#([^)]+)\)")
_serial = count(1)


@dataclass(frozen=True)
class Chart:
    """An SVG chart and the table it draws."""

    key: str
    title: str
    desc: str
    svg: str
    columns: list[str]
    rows: list[list[str]]


def hours(seconds: int | None) -> float | None:
    return None if seconds is None else seconds / 3600


def human(seconds: int | None) -> str:
    """A duration as people read it in a table: '5 h', '2.5 days', 'not yet'."""
    if seconds is None:
        return "not yet"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def percent(share: float | None) -> str:
    return "-" if share is None else f"{share * 100:.0f}%"


def _figure(width: float = 6.4, height: float = 3.2) -> Figure:
    return Figure(figsize=(width, height), layout="constrained")


def _render(fig: Figure, key: str, title: str, desc: str) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    return _clean(buffer.getvalue(), f"{key}-{next(_serial)}", title, desc)


def _clean(raw: bytes, prefix: str, title: str, desc: str) -> str:
    """matplotlib's SVG with presentation attributes instead of CSS, ids prefixed, and the
    title and description first (``role="img"``, labelled by both)."""
    root = ET.fromstring(raw)  # noqa: S314 - matplotlib's own output
    for parent in list(root.iter()):
        for child in list(parent):
            if child.tag in (f"{{{SVG_NS}}}style", f"{{{SVG_NS}}}metadata"):
                parent.remove(child)
    ids = {e.get("id"): f"{prefix}-{e.get('id')}" for e in root.iter() if e.get("id")}
    href = f"{{{XLINK_NS}}}href"
    for element in root.iter():
        style = element.attrib.pop("style", "")
        for declaration in style.split(";"):
            name, _, value = declaration.partition(":")
            if name.strip() and name.strip() not in element.attrib:
                element.set(name.strip(), value.strip())
        if (own := element.get("id")) is not None:
            element.set("id", ids[own])
        for attr, value in list(element.attrib.items()):
            if attr in (href, "href") and value.startswith("#") and value[1:] in ids:
                element.set(attr, "#" + ids[value[1:]])
            elif "url(#" in value:
                element.set(attr, _URL_REF.sub(lambda m: f"url(#{ids.get(m[1], m[1])})", value))
    # What the removed <style> said for every element, as inherited attributes.
    root.set("stroke-linejoin", "round")
    root.set("stroke-linecap", "butt")
    root.set("role", "img")
    root.set("aria-labelledby", f"{prefix}-title {prefix}-desc")
    root.set("class", "chart")
    heading = ET.Element(f"{{{SVG_NS}}}title", {"id": f"{prefix}-title"})
    heading.text = title
    described = ET.Element(f"{{{SVG_NS}}}desc", {"id": f"{prefix}-desc"})
    described.text = desc
    root.insert(0, described)
    root.insert(0, heading)
    return ET.tostring(root, encoding="unicode")


def _empty(ax: object) -> None:
    from matplotlib.axes import Axes

    assert isinstance(ax, Axes)
    ax.text(0.5, 0.5, "No cases in this period", ha="center", va="center", color=GREY)
    ax.set_axis_off()


def _short(name: str, width: int = 28) -> str:
    return name if len(name) <= width else name[: width - 1] + "…"


def _hbars(
    key: str,
    title: str,
    desc: str,
    labels: Sequence[str],
    values: Sequence[float],
    xlabel: str,
    colour: str = BLUE,
) -> str:
    fig = _figure(6.4, max(1.6, 0.35 * len(labels) + 0.9))
    ax = fig.add_subplot()
    if not labels:
        _empty(ax)
    else:
        positions = list(range(len(labels)))
        ax.barh(positions, values, color=colour)
        ax.set_yticks(positions, [_short(label) for label in labels])
        ax.invert_yaxis()
        ax.set_xlabel(xlabel)
        for y, value in zip(positions, values, strict=True):
            ax.annotate(
                f"{value:g}", (value, y), xytext=(3, 0), textcoords="offset points", va="center"
            )
    return _render(fig, key, title, desc)


def _drawn(fn: Callable[_P, Chart]) -> Callable[_P, Chart]:
    @functools.wraps(fn)
    def locked(*args: _P.args, **kwargs: _P.kwargs) -> Chart:
        with _LOCK:
            return fn(*args, **kwargs)

    return locked


# --- the charts -------------------------------------------------------------------------


class _Bucket(Protocol):
    @property
    def label(self) -> str: ...
    @property
    def cases(self) -> int: ...


@_drawn
def removal_distribution(buckets: Sequence[_Bucket]) -> Chart:
    """Cases by how long their content took to come down, in buckets of time."""
    title = "Time to removal"
    total = sum(b.cases for b in buckets)
    desc = (
        f"Histogram of {total} confirmed cases by time from the first report to removal: "
        + ", ".join(f"{b.label}: {b.cases}" for b in buckets)
        + "."
    )
    fig = _figure()
    ax = fig.add_subplot()
    if not total:
        _empty(ax)
    else:
        colours = [GREY if "not" in b.label else BLUE for b in buckets]
        ax.bar([b.label for b in buckets], [b.cases for b in buckets], color=colours)
        ax.set_ylabel("cases")
        ax.set_xlabel("time from first report to removal")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    svg = _render(fig, "removal-distribution", title, desc)
    rows = [[b.label, str(b.cases)] for b in buckets]
    return Chart("removal-distribution", title, desc, svg, ["Time to removal", "Cases"], rows)


@_drawn
def removal_trend(points: Sequence[tuple[str, Timing]]) -> Chart:
    """Median and 90th percentile time to removal (hours) of each week's or month's cohort."""
    title = "Time to removal over time"
    desc = "Median and 90th percentile hours from first report to removal, by " + (
        "period: " + ", ".join(f"{label}: {human(t.median)}" for label, t in points) + "."
    )
    fig = _figure()
    ax = fig.add_subplot()
    if not any(t.cases for _, t in points):
        _empty(ax)
    else:
        labels = [label for label, _ in points]
        positions = list(range(len(points)))
        median = [hours(t.median) for _, t in points]
        p90 = [hours(t.p90) for _, t in points]
        ax.plot(positions, [float("nan") if v is None else v for v in median], "o-", color=BLUE)
        ax.plot(positions, [float("nan") if v is None else v for v in p90], "s--", color=ORANGE)
        ax.legend(["median", "90th percentile"], frameon=False)
        ax.set_ylabel("hours")
        ax.set_ylim(bottom=0)
        # Every period on the axis, also those with no removal yet at either end: autoscaling
        # to the data would drop them and make a quiet week vanish from the chart.
        ax.set_xticks(positions, labels)
        ax.set_xlim(-0.5, len(points) - 0.5)
        ax.tick_params(axis="x", labelrotation=45 if len(labels) > 6 else 0)
    svg = _render(fig, "removal-trend", title, desc)
    rows = [[label, str(t.cases), human(t.median), human(t.p90)] for label, t in points]
    columns = ["Period", "Cases", "Median", "90th percentile"]
    return Chart("removal-trend", title, desc, svg, columns, rows)


@_drawn
def removal_shares(points: Sequence[tuple[str, Timing]]) -> Chart:
    """The share of each week's or month's cohort removed within 24 hours and within 3 days."""
    title = "Removed within 24 hours and 3 days"
    desc = "Share of the cases first reported in each period removed within 24 hours and 3 " + (
        "days: "
        + ", ".join(
            f"{label}: {percent(t.share_24h)} and {percent(t.share_3d)}" for label, t in points
        )
        + "."
    )
    fig = _figure()
    ax = fig.add_subplot()
    if not any(t.cases for _, t in points):
        _empty(ax)
    else:
        positions = list(range(len(points)))
        day = [100 * (t.share_24h or 0) for _, t in points]
        three = [100 * (t.share_3d or 0) for _, t in points]
        ax.bar([p - 0.2 for p in positions], day, width=0.4, color=BLUE, label="within 24 h")
        ax.bar([p + 0.2 for p in positions], three, width=0.4, color=GREEN, label="within 3 days")
        ax.set_xticks(positions, [label for label, _ in points])
        ax.tick_params(axis="x", labelrotation=45 if len(points) > 6 else 0)
        ax.set_ylim(0, 100)
        ax.set_ylabel("% of cases")
        ax.legend(frameon=False)
    svg = _render(fig, "removal-shares", title, desc)
    rows = [[label, str(t.cases), percent(t.share_24h), percent(t.share_3d)] for label, t in points]
    columns = ["Period", "Cases", "Within 24 h", "Within 3 days"]
    return Chart("removal-shares", title, desc, svg, columns, rows)


OUTCOME_LABELS: Final = {
    "removed": "removed",
    "confirmed": "confirmed, still up",
    "not_illegal": "not illegal",
    "pending": "not yet assessed",
}


@_drawn
def cases_by_outcome(counts: Mapping[str, int]) -> Chart:
    """Cases by where they are now (removed, confirmed and still up, not illegal, pending)."""
    title = "Cases by outcome"
    labels = [OUTCOME_LABELS.get(k, k) for k in counts]
    desc = "Cases first reported in the period by outcome: " + (
        ", ".join(f"{label}: {n}" for label, n in zip(labels, counts.values(), strict=True)) + "."
    )
    shown = [(label, n) for label, n in zip(labels, counts.values(), strict=True)]
    if not sum(counts.values()):
        shown = []
    svg = _hbars(
        "cases-by-outcome",
        title,
        desc,
        [label for label, _ in shown],
        [n for _, n in shown],
        "cases",
    )
    rows = [[label, str(n)] for label, n in zip(labels, counts.values(), strict=True)]
    return Chart("cases-by-outcome", title, desc, svg, ["Outcome", "Cases"], rows)


@_drawn
def cases_by_country(counts: Sequence[tuple[str, int]], limit: int = 12) -> Chart:
    """Cases by hosting country, the ``limit`` countries with most cases."""
    title = "Cases by hosting country"
    shown = list(counts)[:limit]
    desc = "Cases first reported in the period by hosting country: " + (
        ", ".join(f"{c}: {n}" for c, n in shown) + "." if shown else "none."
    )
    svg = _hbars(
        "cases-by-country", title, desc, [c for c, _ in shown], [n for _, n in shown], "cases"
    )
    rows = [[country, str(n)] for country, n in counts]
    return Chart("cases-by-country", title, desc, svg, ["Country", "Cases"], rows)


@_drawn
def top_providers(cards: Sequence[Scorecard], limit: int = 10) -> Chart:
    """The ``limit`` hosting providers with most cases: median hours to removal of each."""
    title = "Top hosting providers"
    ranked = sorted(cards, key=lambda c: (-c.to_removal.cases, c.organization))[:limit]
    desc = "Median hours from first report to removal at the hosting providers with most " + (
        "cases: "
        + ", ".join(
            f"{c.organization} ({c.to_removal.cases} cases): {human(c.to_removal.median)}"
            for c in ranked
        )
        + "."
        if ranked
        else "cases: none."
    )
    labels = [f"{c.organization} ({c.to_removal.cases})" for c in ranked]
    values = [round(hours(c.to_removal.median) or 0, 1) for c in ranked]
    svg = _hbars("top-providers", title, desc, labels, values, "median hours to removal", ORANGE)
    rows = [
        [
            c.organization,
            str(c.to_removal.cases),
            human(c.to_removal.median),
            percent(c.to_removal.share_24h),
            str(c.renoticed),
            str(c.escalated),
        ]
        for c in ranked
    ]
    columns = ["Provider", "Cases", "Median", "Within 24 h", "Re-noticed", "Escalated"]
    return Chart("top-providers", title, desc, svg, columns, rows)
