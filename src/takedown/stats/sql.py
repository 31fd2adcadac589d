"""Portable SQL pieces for figures: seconds between timestamps, and quantiles.

SQLite has neither interval arithmetic nor ``percentile_cont``; PostgreSQL's epoch extraction
is not SQLite's ``julianday``. These constructs compile to each database's own spelling, so
every figure is one aggregate query on both.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, ColumnElement, FunctionElement, Integer, case, func
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler


class seconds_between(FunctionElement[int]):
    """Whole seconds from the first timestamp to the second (NULL when either is NULL)."""

    type = BigInteger()
    inherit_cache = True
    name = "seconds_between"


@compiles(seconds_between)
def _seconds_default(element: seconds_between, compiler: SQLCompiler, **kw: Any) -> str:
    start, end = (compiler.process(arg, **kw) for arg in element.clauses)
    return f"CAST(ROUND(EXTRACT(EPOCH FROM ({end} - {start}))) AS BIGINT)"


@compiles(seconds_between, "sqlite")
def _seconds_sqlite(element: seconds_between, compiler: SQLCompiler, **kw: Any) -> str:
    start, end = (compiler.process(arg, **kw) for arg in element.clauses)
    # julianday is in days as a float; rounding to whole seconds removes its float error.
    return f"CAST(ROUND((julianday({end}) - julianday({start})) * 86400) AS INTEGER)"


def nearest_rank(count: ColumnElement[int], numerator: int, denominator: int) -> ColumnElement[int]:
    """The 1-based rank of the ``numerator/denominator`` quantile of ``count`` rows:
    ceil(count * q), in integer arithmetic that both databases share."""
    return (count * numerator + (denominator - 1)) // denominator


def count_if(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0).cast(Integer)
