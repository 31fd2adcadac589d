"""Figures: what hotlines are funded and judged on, computed with SQL aggregates.

``periods`` turns a period (day, week, month, year, custom) into UTC bounds; ``service``
computes the figures of a period with filters, and the provider scorecards; ``daily`` keeps
the per-day counts in ``stats_daily`` so they outlive the rows retention purges; ``api``
serves them.
"""
