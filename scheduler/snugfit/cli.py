"""The one `snugfit` command: subcommands from each part of the project."""

from __future__ import annotations

import typer

from snugfit.plan_command import plan
from snugfit.scheduler.agent.command import agent
from snugfit.scheduler.app.command import serve
from snugfit.simulations.cli import simulate

app = typer.Typer(
    add_completion=False, no_args_is_help=True, help="GPU-aware packing for Kubernetes."
)
app.command()(simulate)
app.command()(plan)
app.command()(serve)
app.command()(agent)


@app.callback()
def root() -> None:
    """GPU-aware packing for Kubernetes: the extender, its node agent, the simulator and the
    capacity planner."""


def main() -> None:
    app()


if __name__ == "__main__":
    main()
