"""The one `snugfit` command."""

from __future__ import annotations


def main() -> None:
    from snugfit.simulations.cli import app

    app()
