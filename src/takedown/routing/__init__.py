"""Routing: jurisdiction rules that turn a confirmed case and its trace into a route."""
