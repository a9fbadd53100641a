"""Fixtures of the simulator tests (defined in sim_helpers)."""

from __future__ import annotations

from sim_helpers import cli, write

__all__ = ["cli", "write"]
