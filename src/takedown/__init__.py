"""Takedown: notice-and-takedown of child sexual abuse material, for hotlines and industry."""

__version__ = "0.1.0"
