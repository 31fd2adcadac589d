"""Database layer: declarative base, engine and sessions, migrations."""
