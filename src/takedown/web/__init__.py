"""Web plumbing shared by every domain: the app, dependencies, errors, limits, templates."""
