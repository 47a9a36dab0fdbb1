"""Errors shared by the layers: what an entry point turns into one line for a person."""

from __future__ import annotations


class Fatal(Exception):
    """A start-up problem that a person must fix; printed as one line."""
