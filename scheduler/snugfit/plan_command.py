"""`snugfit plan`: the cheapest cluster of catalogue node types that serves a workload, under
snugfit and under the model of the default kube-scheduler, with a report people can forward."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from snugfit.simulations.executors import DaskCluster, Executor, LocalPool
from snugfit.simulations.planning.catalogue import BUILTIN, CatalogueError, load_catalogue
from snugfit.simulations.planning.evaluate import Target, scale_workload
from snugfit.simulations.planning.plan import PlanInputs, make_plan
from snugfit.simulations.planning.report import headline, summary, write_report
from snugfit.simulations.runner import default_workers
from snugfit.simulations.seeds import parse_seeds
from snugfit.simulations.trace_error import TraceError
from snugfit.simulations.traces import resolve


def _fail(message: str) -> typer.Exit:
    sys.stderr.write(f"error: {message}\n")
    return typer.Exit(2)


def plan(
    trace: Annotated[str, typer.Option(help="A shipped trace by name.")] = "default",
    pods: Annotated[Path | None, typer.Option(help="Pod list: openb CSV or snugfit YAML.")] = None,
    kubeconfig: Annotated[
        Path | None, typer.Option(help="Plan for a live cluster's pods (read-only snapshot).")
    ] = None,
    context: Annotated[str | None, typer.Option(help="Kubeconfig context.")] = None,
    scale: Annotated[float, typer.Option(help="The same mix this many times over.")] = 1.0,
    catalogue: Annotated[
        Path | None, typer.Option(help="YAML list of node types (default: built-in).")
    ] = None,
    min_pods_placed: Annotated[float, typer.Option(help="Target: % of pods placed.")] = 99.0,
    min_gpu_placed: Annotated[
        float, typer.Option(help="Target: % of the pods' GPU request placed.")
    ] = 99.0,
    arrival: Annotated[
        float, typer.Option(help="Target holds when this % of the workload has arrived.")
    ] = 100.0,
    seeds: Annotated[
        str, typer.Option(help="Arrival orders that must all meet the target.")
    ] = "42",
    workers: Annotated[int, typer.Option(help="Local processes (default: one per core).")] = 0,
    dask: Annotated[
        str | None, typer.Option(help="Run the sweep on this Dask scheduler (tcp://host:8786).")
    ] = None,
    output_dir: Annotated[Path, typer.Option(help="Where report.html and summaries go.")] = Path(
        "snugfit-plan"
    ),
) -> None:
    """Find the cheapest cluster that serves a workload, with snugfit and with the default
    kube-scheduler, and write report.html, summary.md and summary.json."""
    try:
        if not (0 < arrival <= 100 and 0 <= min_pods_placed <= 100 and 0 <= min_gpu_placed <= 100):
            raise ValueError("arrival must be in (0, 100] and the targets in [0, 100]")
        types = load_catalogue(catalogue) if catalogue else BUILTIN
        seed_list = parse_seeds(seeds)
        if kubeconfig is not None:
            from snugfit.scheduler.snapshot import read_snapshot

            try:
                _, pod_list = read_snapshot(kubeconfig, context)
            except Exception as exc:  # unreachable server, refused credentials, bad pods
                raise ValueError(f"reading the cluster through {kubeconfig}: {exc}") from None
            name = f"snapshot of {kubeconfig}" + (f" ({context})" if context else "")
        else:
            name, loaded = resolve(trace, pods, None)
            pod_list = list(loaded.pods)
        workload = scale_workload(pod_list, scale)
    except (ValueError, TraceError, CatalogueError, OSError) as exc:
        raise _fail(str(exc)) from None
    if not workload:
        raise _fail("the workload has no pods")
    if scale != 1:
        name += f", x{scale:g}"
    inputs = PlanInputs(
        name,
        workload,
        tuple(types),
        Target(min_pods_placed, min_gpu_placed, arrival),
        seed_list,
        scale,
    )
    executor: Executor = DaskCluster(dask) if dask else LocalPool(workers or default_workers())
    console = Console(stderr=True)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    try:
        with Progress(*columns, console=console, transient=True) as progress:
            task = progress.add_task(f"planning on {executor.name}", total=None)
            result = make_plan(
                inputs,
                executor,
                on_step=lambda what: progress.update(task, advance=1, description=what),
                on_total=lambda n: progress.update(task, total=n),
            )
    finally:
        if isinstance(executor, DaskCluster):
            executor.close()
    paths = write_report(result, output_dir)
    out = Console()
    out.print(headline(summary(result)))
    out.print(f"Report: {paths['html']}  (also {paths['markdown'].name}, {paths['json'].name})")
