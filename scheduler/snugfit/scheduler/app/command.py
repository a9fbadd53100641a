"""`snugfit serve`: run the extender."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from snugfit.scheduler.app import logs
from snugfit.scheduler.app.config import ConfigError, load_config
from snugfit.scheduler.kube.connection import ConnectionConfigError


def serve(
    config: Annotated[Path | None, typer.Option(help="YAML configuration file.")] = None,
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    policy: Annotated[
        str | None, typer.Option(help="Packing policy (as in `snugfit simulate`).")
    ] = None,
    mode: Annotated[
        str | None, typer.Option(help="scores (weighted) or narrow (filter keeps the best).")
    ] = None,
    kubeconfig: Annotated[
        Path | None, typer.Option(help="kubeconfig; default: in-cluster.")
    ] = None,
    tls_cert_file: Annotated[
        Path | None, typer.Option(help="Serve HTTPS with this certificate.")
    ] = None,
    tls_key_file: Annotated[Path | None, typer.Option(help="Key of the certificate.")] = None,
    client_ca_file: Annotated[
        Path | None, typer.Option(help="Require client certificates signed by this CA.")
    ] = None,
    log_level: Annotated[str | None, typer.Option(help="DEBUG, INFO, WARNING or ERROR.")] = None,
) -> None:
    """Serve the kube-scheduler extender (filter, prioritize, bind) with live cluster state."""
    from snugfit.scheduler.app.server import connection_for
    from snugfit.scheduler.app.server import serve as run

    try:
        settings = load_config(
            config,
            host=host,
            port=port,
            policy=policy,
            mode=mode,
            kubeconfig=kubeconfig,
            tls_cert_file=tls_cert_file,
            tls_key_file=tls_key_file,
            client_ca_file=client_ca_file,
            log_level=log_level,
        )
        connection_for(settings)
    except (ConfigError, ConnectionConfigError) as exc:
        Console(stderr=True).print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    logs.configure(settings.log_level)
    run(settings)
