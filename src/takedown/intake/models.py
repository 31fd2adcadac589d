"""Models of the intake domain."""
