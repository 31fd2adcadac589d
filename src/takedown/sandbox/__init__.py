"""A simulated internet on loopback for the demo and end-to-end tests."""
