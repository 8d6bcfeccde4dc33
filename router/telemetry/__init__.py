"""Metrics, structured logs and traces for the router's processes (see README.md)."""
