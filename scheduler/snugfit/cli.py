"""The one `snugfit` command: subcommands from each part of the project."""

from __future__ import annotations

import typer

from snugfit.scheduler.agent.command import agent
from snugfit.scheduler.app.command import serve
from snugfit.simulations.cli import simulate

app = typer.Typer(
    add_completion=False, no_args_is_help=True, help="GPU-aware packing for Kubernetes."
)
app.command()(simulate)
app.command()(serve)
app.command()(agent)


@app.callback()
def root() -> None:
    """GPU-aware packing for Kubernetes: the extender, its node agent, the simulator."""


def main() -> None:
    app()
