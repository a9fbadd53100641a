"""`snugfit agent`: report this node's GPUs to the API server."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated

import aiohttp
import typer
from rich.console import Console

from snugfit.scheduler.agent.nvml_inventory import NvmlUnavailableError, load_nvml, read_gpus
from snugfit.scheduler.agent.run import report_once, run_agent
from snugfit.scheduler.app import logs
from snugfit.scheduler.kube.client import KubeClient
from snugfit.scheduler.kube.connection import ConnectionConfigError, from_kubeconfig, in_cluster
from snugfit.scheduler.protocol.inventory import encode_inventory


def agent(
    node_name: Annotated[
        str | None, typer.Option(envvar="NODE_NAME", help="This node's name.")
    ] = None,
    kubeconfig: Annotated[
        Path | None, typer.Option(help="kubeconfig; default: in-cluster.")
    ] = None,
    interval: Annotated[float, typer.Option(help="Seconds between reports.")] = 60.0,
    once: Annotated[bool, typer.Option("--once", help="Report once and exit.")] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the inventory; touch nothing.")
    ] = False,
) -> None:
    """Read this node's GPUs through NVML and record them on its Node object."""
    err = Console(stderr=True)
    try:
        nvml = load_nvml()
        if dry_run:
            sys.stdout.write(encode_inventory(read_gpus(nvml)) + "\n")
            return
        if not node_name:
            raise ConnectionConfigError("--node-name (or NODE_NAME) is required")
        connection = from_kubeconfig(kubeconfig) if kubeconfig else in_cluster()
    except (NvmlUnavailableError, ConnectionConfigError) as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    logs.configure("INFO")

    async def main() -> None:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
            kube = KubeClient(connection, session)
            if once:
                await report_once(kube, node_name, nvml)
            else:
                await run_agent(kube, node_name, nvml, interval)

    try:
        asyncio.run(main())
    except NvmlUnavailableError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
