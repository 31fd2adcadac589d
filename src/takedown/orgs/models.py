"""Models of the orgs domain."""
