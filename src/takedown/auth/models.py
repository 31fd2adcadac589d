"""Models of the auth domain."""
