"""The annual transparency report: the figures of a year, by month, with small counts hidden.

``build`` computes the report of a year from ``service`` (the year, each month, and the
hosting providers' scorecards); ``render`` writes it as ``html`` (one standalone page: no
script, no external asset, one ``<style>`` whose hash ``CSP`` allows), ``csv`` (one row per
figure, spreadsheet-safe like the lists' csv export) or ``json``.

Suppression, so that no report, reporter or victim can be singled out:

- *Primary*: a count from 1 to ``below - 1`` is shown as ``"< below"``. Zero is shown: it
  singles out no one.
- *Complementary*: the report publishes totals and their parts (reports = cases opened +
  duplicates; decisions = by a person + automatic = confirmed + not illegal; each monthly
  count sums to the year's; each column of notices per organization sums to the year's
  notices). Where such a sum and the parts shown would pin a hidden count to one value, one
  more part (the smallest, else the total) is withheld too, shown as ``"withheld"``; this is
  repeated until no published sum pins any hidden count. Figures that are not sums (times,
  shares) are withheld when the count they are computed from is hidden or their cohort is
  smaller than ``below``: a median of three cases describes three cases.

This checks each published sum on its own, as statistical offices' table audits do for
one-dimensional tables; it is not a proof against every combination of several sums.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from base64 import b64encode
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Final, Literal

from sqlalchemy.orm import Session

from takedown.errors import ValidationFailed
from takedown.spreadsheet import safe_row
from takedown.stats import charts, periods, scorecards, service
from takedown.stats.filters import Filters
from takedown.stats.service import Figures
from takedown.stats.timings import Timing
from takedown.web.templating import TEMPLATES

Format = Literal["html", "csv", "json"]
FORMATS: Final = ("html", "csv", "json")
MEDIA_TYPES: Final = {
    "html": "text/html; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
}
WITHHELD: Final = "withheld"

# The page's only style, inline so the file stands alone; CSP allows exactly this text.
STYLE: Final = (
    "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;"
    "color:#1a1a1a;line-height:1.45}table{border-collapse:collapse;margin:0 0 1.5rem}"
    "th,td{border:1px solid #bbb;padding:.25rem .5rem;text-align:right}"
    "th[scope=row],thead th:first-child{text-align:left}caption{text-align:left;"
    "font-weight:600;padding:.25rem 0}.hidden{color:#555;font-style:italic}"
    "footer{margin-top:2rem;font-size:.9rem;color:#444}"
)
CSP: Final = (
    "default-src 'none'; style-src 'sha256-"
    + b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
    + "'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

Kind = Literal["count", "seconds", "share", "number"]


@dataclass(frozen=True)
class Column:
    key: str  # the machine name, in json and csv
    title: str  # the human one, in html
    kind: Kind


@dataclass
class Cell:
    value: int | float | None
    hidden: str | None = None  # "< 5" or "withheld": the value must not leave the report
    key: str | None = None  # the ledger key of a count (suppression bookkeeping)

    @property
    def machine(self) -> int | float | str | None:
        """The value for json and csv: the hidden text instead of a hidden value."""
        if self.hidden is not None:
            return self.hidden
        return round(self.value, 4) if isinstance(self.value, float) else self.value


@dataclass
class Table:
    name: str
    title: str
    label: str  # the title of the first column (what each row is)
    columns: list[Column]
    rows: list[tuple[str, list[Cell]]] = field(default_factory=list)
    note: str = ""


@dataclass
class Report:
    year: int
    hotline: str
    generated_at: datetime
    below: int
    tables: list[Table]
    methodology: list[str]
    # Months whose removal figures are all shown, for the html page's charts.
    chart_points: list[tuple[str, Timing]] = field(default_factory=list)

    @property
    def title(self) -> str:
        return f"{self.hotline}: transparency report {self.year}"


# --- suppression ------------------------------------------------------------------------

Equation = tuple[str, Sequence[str]]  # total = sum(parts), by ledger keys


def suppress(
    values: Mapping[str, int], equations: Sequence[Equation], below: int
) -> dict[str, str]:
    """The hidden keys of ``values`` and what each shows instead (see the module)."""
    small = f"< {below}"
    hidden = {key: small for key, value in values.items() if 0 < value < below}
    changed = True
    while changed:
        changed = False
        for total, parts in equations:
            if total in hidden or not any(p in hidden for p in parts):
                continue
            if not _pinned(values, hidden, total, parts, below):
                continue
            spare = sorted(
                (p for p in parts if p not in hidden),
                key=lambda p: (values[p] == 0, values[p], p),
            )
            hidden[spare[0] if spare else total] = WITHHELD
            changed = True
    return hidden


def _pinned(
    values: Mapping[str, int],
    hidden: Mapping[str, str],
    total: str,
    parts: Sequence[str],
    below: int,
) -> bool:
    """Whether the shown total and shown parts leave some hidden part only one value.

    A part shown as "< below" is known to lie in 1..below-1, a withheld one in 0..total."""
    rest = values[total] - sum(values[p] for p in parts if p not in hidden)
    bounds = [
        (1, below - 1) if hidden[p] != WITHHELD else (0, values[total])
        for p in parts
        if p in hidden
    ]
    low_sum, high_sum = sum(b[0] for b in bounds), sum(b[1] for b in bounds)
    for low, high in bounds:
        least = max(low, rest - (high_sum - high))
        most = min(high, rest - (low_sum - low))
        if least >= most:
            return True
    return False


# --- building ---------------------------------------------------------------------------

COUNT_ROWS: Final = (
    ("reports_received", "Reports received"),
    ("cases_opened", "Cases opened (distinct URLs)"),
    ("duplicates_folded", "Duplicate reports folded into a case"),
    ("decisions", "Cases assessed (first decision)"),
    ("assessed_by_person", "… assessed by an analyst"),
    ("assessed_automatically", "… assessed automatically (every item matched a hash bank)"),
    ("confirmed", "… confirmed as illegal"),
    ("not_illegal", "… not illegal"),
    ("notices_sent", "Notices sent"),
    ("renotices", "Re-notices sent"),
    ("escalations", "Escalations sent (CDN, upstream, registrar)"),
    ("list_entries_added", "URL list entries added"),
    ("list_entries_withdrawn", "URL list entries withdrawn"),
    ("list_size", "URL list entries in force at the end of the year"),
    ("appeals_filed", "Appeals against a listing filed"),
    ("appeals_upheld", "… decided: upheld"),
    ("appeals_rejected", "… decided: rejected"),
    ("appeals_delisted", "… decided: de-listed"),
    ("items_captured", "Items captured"),
    ("items_never_shown", "… never shown to a person"),
    ("items_shown", "… shown to a person"),
)
MONTHLY: Final = ("reports_received", "cases_opened", "confirmed", "notices_sent")
TIMINGS: Final = (
    ("to_assessment", "First report to assessment"),
    ("to_notice", "First report to first notice (confirmed cases)"),
    ("to_removal", "First report to removal (confirmed cases)"),
)
TIMING_COLUMNS: Final = [
    Column("cases", "cases", "count"),
    Column("happened", "happened by the end", "count"),
    Column("median_seconds", "median", "seconds"),
    Column("p90_seconds", "90th percentile", "seconds"),
    Column("within_24h", "within 24 h", "count"),
    Column("share_within_24h", "share within 24 h", "share"),
    Column("within_3d", "within 3 days", "count"),
    Column("share_within_3d", "share within 3 days", "share"),
]

METHODOLOGY: Final = [
    "All times are UTC. The year runs from 1 January 00:00 (included) to the next "
    "1 January 00:00 (excluded); each month likewise.",
    "Counts of events count each event on the day it happened: reports by the time they were "
    "received; cases opened by their first report; duplicates are reports that were not "
    "their case's first; assessments are a case's first decision (confirmed or not illegal), "
    "automatic when the system decided because every item matched a hash bank; notices by "
    "the time they were sent; list entries by the time they were added or withdrawn.",
    "Times are measured from a case's first report, over the cases first reported in the "
    "period: to its first decision, and, for cases confirmed by the end of the period, to the "
    "first notice and to removal (removal is confirmed by a re-check of the URL). A case "
    "whose event had not happened by the end of the period stays in the count as not yet "
    "happened: it counts in every share's denominator and never in its numerator. Medians "
    "and 90th percentiles are nearest-rank; when that rank falls on a case still waiting, "
    "the figure is shown as not reached.",
    "Monthly figures are those of each month on its own: a case reported on the last day of a "
    "month and removed the next day counts as not removed in that month's shares, and as "
    "removed in the year's.",
    "Counts of days whose rows were purged by retention come from daily aggregates kept for "
    "that purpose; times are computed from the rows still kept.",
]


class _Ledger:
    """Every count of the report under a key, with the sums the report publishes."""

    def __init__(self) -> None:
        self.values: dict[str, int] = {}
        self.equations: list[Equation] = []

    def count(self, key: str, value: int) -> Cell:
        self.values[key] = int(value)
        return Cell(int(value), key=key)

    def sums(self, total: str, parts: Iterable[str]) -> None:
        self.equations.append((total, list(parts)))


Progress = Callable[[str], None]


def _no_progress(step: str) -> None:
    return None


def steps() -> int:
    """How many times ``build`` calls its ``progress``: the year, 12 months, providers."""
    return 14


def build(
    session: Session,
    year: int,
    *,
    below: int,
    hotline: str,
    now: datetime,
    progress: Progress = _no_progress,
) -> Report:
    """The transparency report of ``year``, with counts below ``below`` hidden."""
    if not 2000 <= year <= now.year:
        raise ValidationFailed(f"year must be from 2000 to {now.year}, not {year}")
    today = now.date()
    whole = periods.parse("year", str(year), today=today)
    ledger = _Ledger()
    figures = service.figures(session, whole, Filters())
    progress("year")
    tables = [
        _counts_table(ledger, "year", figures),
        _timings_table(figures, "year", "Time to act in the year"),
    ]
    months: list[tuple[str, Figures]] = []
    for month in range(1, 13):
        label = f"{year}-{month:02d}"
        months.append(
            (label, service.figures(session, periods.parse("month", label, today=today), Filters()))
        )
        progress(label)
    tables.append(_monthly_table(ledger, months))
    tables.append(_notices_table(ledger, figures))
    cards = scorecards.scorecards(session, whole)
    progress("providers")
    tables.append(_providers_table(cards))
    hidden = suppress(ledger.values, ledger.equations, below)
    for table in tables:
        _hide(table, hidden, below)
    monthly = tables[2]
    # A chart draws what its table shows: a month with any removal figure withheld is left
    # out, or the bars would give the hidden counts back.
    points = [
        (label, figures.to_removal)
        for (label, figures), (_, cells) in zip(months, monthly.rows, strict=True)
        if figures.to_removal.cases and all(c.hidden is None for c in cells[len(MONTHLY) :])
    ]
    return Report(
        year=year,
        hotline=hotline,
        generated_at=now.astimezone(UTC),
        below=below,
        tables=tables,
        methodology=[
            *METHODOLOGY,
            f"Counts from 1 to {below - 1} are shown as \u201c< {below}\u201d so that no report, "
            "reporter or victim can be singled out. Where a total and the other counts shown "
            "would give such a count away, one more count is withheld too. Times and shares "
            f"computed from fewer than {below} cases, or from a hidden count, are withheld; "
            "the charts leave out the months with a withheld removal figure.",
        ],
        chart_points=points,
    )


def _counts_table(ledger: _Ledger, prefix: str, figures: Figures) -> Table:
    counts = dict(figures.counts)
    counts["decisions"] = counts["assessed_by_person"] + counts["assessed_automatically"]
    counts["list_size"] = figures.list_size
    for outcome, number in figures.appeals.items():
        counts[f"appeals_{outcome}"] = number
    counts["items_captured"] = figures.items_captured
    counts["items_never_shown"] = figures.items_never_shown
    counts["items_shown"] = figures.items_captured - figures.items_never_shown
    table = Table(
        "counts", f"Counts of {figures.period.label}", "figure", [Column("count", "count", "count")]
    )
    for name, title in COUNT_ROWS:
        table.rows.append((title, [ledger.count(f"{prefix}.{name}", counts.get(name, 0))]))
    k = f"{prefix}."
    ledger.sums(k + "reports_received", [k + "cases_opened", k + "duplicates_folded"])
    ledger.sums(k + "decisions", [k + "assessed_by_person", k + "assessed_automatically"])
    ledger.sums(k + "decisions", [k + "confirmed", k + "not_illegal"])
    ledger.sums(k + "items_captured", [k + "items_never_shown", k + "items_shown"])
    return table


def _timing_cells(timing: Timing) -> list[Cell]:
    # Timing counts are not in the ledger's sums; they are hidden when small like any count.
    return [
        Cell(timing.cases),
        Cell(timing.happened),
        Cell(timing.median),
        Cell(timing.p90),
        Cell(timing.within_24h),
        Cell(timing.share_24h),
        Cell(timing.within_3d),
        Cell(timing.share_3d),
    ]


def _timings_table(figures: Figures, name: str, title: str) -> Table:
    table = Table(f"times_{name}", title, "time", list(TIMING_COLUMNS))
    for attr, label in TIMINGS:
        timing: Timing = getattr(figures, attr)
        table.rows.append((label, _timing_cells(timing)))
    table.note = (
        "Median and percentiles are not reached when more of the cases than that were still "
        "waiting at the end of the period."
    )
    return table


def _monthly_table(ledger: _Ledger, months: list[tuple[str, Figures]]) -> Table:
    columns = [Column(name, title, "count") for name, title in COUNT_ROWS if name in MONTHLY]
    columns += [
        Column("removal_cases", "confirmed cases (removal cohort)", "count"),
        Column("removal_median_seconds", "median time to removal", "seconds"),
        Column("removed_within_24h", "removed within 24 h", "count"),
        Column("share_removed_within_24h", "share within 24 h", "share"),
        Column("removed_within_3d", "removed within 3 days", "count"),
        Column("share_removed_within_3d", "share within 3 days", "share"),
    ]
    table = Table("months", "By month", "month", columns)
    for label, figures in months:
        removal = figures.to_removal
        cells = [ledger.count(f"{label}.{name}", figures.counts[name]) for name in MONTHLY]
        cells += [
            Cell(removal.cases),
            Cell(removal.median),
            Cell(removal.within_24h),
            Cell(removal.share_24h),
            Cell(removal.within_3d),
            Cell(removal.share_3d),
        ]
        table.rows.append((label, cells))
    for name in MONTHLY:
        ledger.sums(f"year.{name}", [f"{label}.{name}" for label, _ in months])
    return table


def _notices_table(ledger: _Ledger, figures: Figures) -> Table:
    kinds = (
        ("notices", "notices_sent"),
        ("renotices", "renotices"),
        ("escalations", "escalations"),
    )
    table = Table(
        "notices_by_organization",
        "Notices per receiving organization",
        "organization",
        [Column(kind, kind, "count") for kind, _ in kinds],
    )
    for index, org in enumerate(figures.notices_by_org):
        cells = [ledger.count(f"org{index}.{kind}", getattr(org, kind)) for kind, _ in kinds]
        table.rows.append((org.organization or "(no organization)", cells))
    for kind, total in kinds:
        ledger.sums(f"year.{total}", [f"org{i}.{kind}" for i in range(len(figures.notices_by_org))])
    return table


def _providers_table(cards: list[scorecards.Scorecard]) -> Table:
    table = Table(
        "providers",
        "Hosting providers: cases first reported in the year and their removal",
        "hosting provider",
        [
            Column("cases", "cases", "count"),
            Column("median_seconds", "median time to removal", "seconds"),
            Column("within_24h", "removed within 24 h", "count"),
            Column("share_within_24h", "share within 24 h", "share"),
            Column("renoticed", "needed a re-notice", "count"),
            Column("escalated", "escalated", "count"),
        ],
    )
    for card in cards:
        timing = card.to_removal
        table.rows.append(
            (
                card.organization,
                [
                    Cell(timing.cases),
                    Cell(timing.median),
                    Cell(timing.within_24h),
                    Cell(timing.share_24h),
                    Cell(card.renoticed),
                    Cell(card.escalated),
                ],
            )
        )
    return table


def _hide(table: Table, hidden: Mapping[str, str], below: int) -> None:
    """Hide the ledger's hidden counts, small counts outside it, and what derives from them.

    Within a row, a share follows the count before it and a time the row's first count (its
    cohort): a share of a hidden count would give the count away, a time of few cases
    describes those cases."""
    small = f"< {below}"
    for _, cells in table.rows:
        cohort_hidden = False
        for index, (column, cell) in enumerate(zip(table.columns, cells, strict=True)):
            if column.kind == "count":
                if cell.key is not None and cell.key in hidden:
                    cell.hidden = hidden[cell.key]
                elif cell.key is None and isinstance(cell.value, int) and 0 < cell.value < below:
                    cell.hidden = small
                if index == _cohort_column(table):
                    cohort_hidden = cell.hidden is not None
            elif column.kind == "share":
                before = cells[index - 1]
                if before.hidden is not None or cohort_hidden:
                    cell.hidden = WITHHELD
            elif column.kind == "seconds" and cohort_hidden and cell.value is not None:
                cell.hidden = WITHHELD


def _cohort_column(table: Table) -> int | None:
    """The column of a table's cohort sizes (the cases a time or a share is over)."""
    for index, column in enumerate(table.columns):
        if column.key in ("cases", "removal_cases"):
            return index
    return None


# --- rendering --------------------------------------------------------------------------


def render(report: Report, fmt: str) -> bytes:
    if fmt == "json":
        return _json(report)
    if fmt == "csv":
        return _csv(report)
    if fmt == "html":
        return _html(report)
    raise ValidationFailed(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")


def filename(report: Report, fmt: str) -> str:
    return f"transparency-report-{report.year}.{fmt}"


def _json(report: Report) -> bytes:
    document = {
        "title": report.title,
        "year": report.year,
        "generated_at": report.generated_at.isoformat(timespec="seconds"),
        "suppressed_below": report.below,
        "methodology": report.methodology,
        "tables": [
            {
                "name": table.name,
                "title": table.title,
                "note": table.note,
                "rows": [
                    {table.label: label}
                    | {c.key: cell.machine for c, cell in zip(table.columns, cells, strict=True)}
                    for label, cells in table.rows
                ],
            }
            for table in report.tables
        ],
    }
    return json.dumps(document, indent=2, ensure_ascii=False).encode("utf-8") + b"\n"


def _csv(report: Report) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(("table", "row", "column", "value"))
    for table in report.tables:
        for label, cells in table.rows:
            for column, cell in zip(table.columns, cells, strict=True):
                value = cell.machine
                row = (table.name, label, column.key, "" if value is None else str(value))
                # An organization's name is chosen by whoever registered it.
                writer.writerow(safe_row(row))
    return out.getvalue().encode("utf-8")


def shown(column: Column, cell: Cell) -> str:
    """A cell as the html page shows it."""
    if cell.hidden is not None:
        return cell.hidden
    if cell.value is None:
        return "not reached" if column.kind == "seconds" else "-"
    if column.kind == "share":
        return f"{cell.value:.0%}"
    if column.kind == "seconds":
        return _duration(int(cell.value))
    return f"{cell.value:,}"


def _duration(seconds: int) -> str:
    hours, rest = divmod(seconds, 3600)
    if hours >= 48:
        return f"{hours / 24:.1f} days"
    return f"{hours} h {rest // 60:02d} min"


def _html(report: Report) -> bytes:
    template = TEMPLATES.env.get_template("stats/transparency_report.html")
    tables = [
        (
            table,
            [(label, list(zip(table.columns, cells, strict=True))) for label, cells in table.rows],
        )
        for table in report.tables
    ]
    drawn = (
        [charts.removal_shares(report.chart_points), charts.removal_trend(report.chart_points)]
        if report.chart_points
        else []
    )
    page = template.render(report=report, tables=tables, charts=drawn, style=STYLE, shown=shown)
    return page.encode("utf-8")


def latest_complete_year(today: date) -> int:
    """The last year that has ended: what the public page shows."""
    return today.year - 1
