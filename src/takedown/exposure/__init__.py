"""Exposure: how much unknown material a person sees, and how.

- ``service``: daily caps on reveals and viewing time per analyst, warnings, extensions
  granted by a supervisor (never to themselves), break reminders, preview preferences.
- ``previews``: the greyscale, blurred preview of an unknown item, fetched live and never
  stored, and the reveal of one item at a time, each audited.
"""
