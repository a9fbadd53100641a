"""`snugfit simulate`: replay a trace under the published protocol and compare policies."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from snugfit.packing.policies import POLICIES
from snugfit.simulations import outputs
from snugfit.simulations.runner import RunResult, RunSpec, default_workers, run_all
from snugfit.simulations.seeds import parse_seeds
from snugfit.simulations.summary import PolicySummary, summarize, to_json
from snugfit.simulations.trace_error import TraceError
from snugfit.simulations.traces import resolve

app = typer.Typer(no_args_is_help=False, add_completion=False, help=__doc__)
DEFAULT_POLICIES = ("random", "dotprod", "clustering", "packing", "bestfit", "fgd",
                    "k8s-default", "k8s-mostallocated")  # fmt: skip


def _fmt(mean: float, sd: float) -> str:
    return "n/a" if mean != mean else f"{mean:5.2f} ± {sd:.2f}"


def _table(trace: str, summaries: list[PolicySummary], sharing: bool) -> Table:
    title = f"Unallocated GPU % on trace '{trace}'" + ("" if sharing else " (no GPU sharing)")
    table = Table(title=title, title_justify="left")
    table.add_column("policy")
    for level in (90, 100, 130):
        table.add_column(f"@{level}% arrived", justify="right")
    table.add_column("published @100%", justify="right")
    table.add_column("placed %", justify="right")
    table.add_column("s / run", justify="right")
    for s in sorted(summaries, key=lambda s: s.unallocated[100][0]):
        published = "" if s.published_100 is None else f"{s.published_100:.2f}"
        table.add_row(
            s.policy,
            *(_fmt(*s.unallocated[level]) for level in (90, 100, 130)),
            published,
            f"{s.placed_pct:.1f}",
            f"{s.seconds:.1f}",
        )
    return table


def _run(
    trace_name: str, trace: object, specs: list[RunSpec], workers: int, quiet: bool
) -> list[RunResult]:
    from snugfit.simulations.workload_model import Trace

    assert isinstance(trace, Trace)
    progress = Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), console=Console(stderr=True), disable=quiet, transient=True,
    )  # fmt: skip
    with progress:
        task = progress.add_task(f"replaying '{trace_name}'", total=len(specs))
        return run_all(trace, specs, workers, on_done=lambda _: progress.advance(task))


@app.command()
def simulate(
    trace: Annotated[str, typer.Option(help="A shipped trace by name.")] = "default",
    pods: Annotated[Path | None, typer.Option(help="Pod list: openb CSV or snugfit YAML.")] = None,
    nodes: Annotated[
        Path | None, typer.Option(help="Node list (default: shipped openb GPU nodes).")
    ] = None,
    policy: Annotated[
        list[str] | None, typer.Option(help="Policy (repeatable; default: all).")
    ] = None,
    seeds: Annotated[
        str, typer.Option(help="Seeds: a range '42-51', one seed, or a list.")
    ] = "42-51",
    no_sharing: Annotated[
        bool, typer.Option("--no-sharing", help="Fractional pods take whole GPUs.")
    ] = False,
    workers: Annotated[int, typer.Option(help="Parallel processes (default: cores).")] = 0,
    output_dir: Annotated[
        Path, typer.Option(help="Where curves, per-arrival logs and the plot go.")
    ] = Path("snugfit-out"),
    json_out: Annotated[
        bool, typer.Option("--json", help="Print only the JSON summary on stdout.")
    ] = False,
) -> None:
    """Replay a trace with the published protocol (shuffle, clones to 130%, no departures)."""
    err = Console(stderr=True)
    try:
        seed_list = parse_seeds(seeds)
        names = list(policy or DEFAULT_POLICIES)
        unknown = [p for p in names if p not in POLICIES]
        if unknown:
            raise ValueError(f"unknown policy {', '.join(unknown)}; known: {', '.join(POLICIES)}")
        trace_name, loaded = resolve(trace, pods, nodes)
    except (ValueError, TraceError) as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    specs = [RunSpec(p, s, sharing=not no_sharing) for p in names for s in seed_list]
    results = _run(trace_name, loaded, specs, workers or default_workers(), quiet=json_out)
    summaries = summarize(trace_name, results)
    output_dir.mkdir(parents=True, exist_ok=True)
    outputs.write_curves(output_dir / "curves.csv", trace_name, results)
    outputs.write_arrivals(output_dir / "arrivals.csv.gz", results)
    outputs.plot_curves(output_dir / "unallocated_gpu.png", trace_name, results)
    summary = to_json(trace_name, not no_sharing, summaries)
    (output_dir / "summary.json").write_bytes(orjson.dumps(summary, option=orjson.OPT_INDENT_2))
    if json_out:
        sys.stdout.write(orjson.dumps(summary).decode() + "\n")
        return
    out = Console()
    out.print(_table(trace_name, summaries, not no_sharing))
    out.print(f"{len(loaded.nodes)} nodes, {len(loaded.pods)} pods, seeds {seeds}; "
              f"curves, per-arrival logs and plot in {output_dir}/")  # fmt: skip
