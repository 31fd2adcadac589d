"""Rows that are safe to open in a spreadsheet.

CSV exports (lists for members' staff, transparency reports) are opened in Excel or
LibreOffice, where a cell starting with ``=`` (or ``+ - @``) runs as a formula that can call
out to the network or other programs (OWASP "CSV Injection"). A ``'`` before such a field makes
the cell text. It is the one change a CSV export makes to the data; JSON keeps every value.
"""

from __future__ import annotations

from collections.abc import Sequence

# Tab and carriage return are on OWASP's list too.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_row(row: Sequence[str]) -> tuple[str, ...]:
    """``row`` with a ``'`` put before every field a spreadsheet would run as a formula."""
    return tuple("'" + f if f.startswith(FORMULA_STARTS) else f for f in row)
