"""The ``takedown`` command."""
