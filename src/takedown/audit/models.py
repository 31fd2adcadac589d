"""Models of the audit domain."""
