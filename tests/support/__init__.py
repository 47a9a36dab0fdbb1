"""Helpers shared by the test packages (imported by tests and conftests; no fixtures here)."""
