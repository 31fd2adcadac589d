"""Models of the jobs domain."""
