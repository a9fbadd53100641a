"""`snugfit simulate`: replay a trace and compare packing policies."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from snugfit.packing.policies.registry import ORACLES, POLICIES
from snugfit.simulations import outputs, timed_summary
from snugfit.simulations.runner import RunResult, RunSpec, TimedResult, default_workers, run_all
from snugfit.simulations.seeds import parse_seeds
from snugfit.simulations.summary import PolicySummary, summarize, to_json
from snugfit.simulations.trace_error import TraceError
from snugfit.simulations.traces import resolve
from snugfit.simulations.workload_model import Trace

DEFAULT_POLICIES = tuple(p for p in POLICIES if p not in ORACLES)  # registry order, no oracle


class Mode(StrEnum):
    arrivals = "arrivals"
    timed = "timed"


def _fmt(mean: float, sd: float) -> str:
    return "n/a" if mean != mean else f"{mean:.2f}±{sd:.2f}"


def _arrivals_table(trace: str, summaries: list[PolicySummary], sharing: bool) -> Table:
    title = f"Unallocated GPU % by arrived GPU request, trace '{trace}'"
    table = Table(title=title + ("" if sharing else ", no GPU sharing"), title_justify="left")
    for name in ("policy", "@90%", "@100%", "@130%", "paper @100%", "placed %", "s/run"):
        table.add_column(name, justify="left" if name == "policy" else "right")
    for s in sorted(summaries, key=lambda s: s.unallocated[100][0]):
        published = "" if s.published_100 is None else f"{s.published_100:.2f}"
        levels = (_fmt(*s.unallocated[level]) for level in (90, 100, 130))
        table.add_row(s.policy, *levels, published, f"{s.placed_pct:.1f}", f"{s.seconds:.1f}")
    return table


def _timed_table(trace: str, results: Sequence[TimedResult]) -> Table:
    table = Table(title=f"Timed replay of trace '{trace}'", title_justify="left")
    table.add_column("policy")
    for name in timed_summary.COLUMNS:
        table.add_column(name, justify="right")
    for row in timed_summary.table_rows(results):
        table.add_row(*row)
    return table


def _run(name: str, trace: Trace, specs: list[RunSpec], workers: int, quiet: bool) -> list[Any]:
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        disable=quiet,
        transient=True,
    )
    with progress:
        task = progress.add_task(f"replaying '{name}'", total=len(specs))
        return run_all(trace, specs, workers, on_done=lambda _: progress.advance(task))


def _write_arrivals(
    out: Path, name: str, results: list[RunResult], sharing: bool
) -> dict[str, Any]:
    outputs.write_curves(out / "curves.csv", name, results)
    outputs.write_arrivals(out / "arrivals.csv.gz", results)
    outputs.plot_curves(out / "unallocated_gpu.png", name, results)
    return to_json(name, sharing, summarize(name, results))


def _write_timed(out: Path, name: str, results: list[TimedResult]) -> dict[str, Any]:
    timed_summary.write_timeline(out / "timeline.csv", results)
    timed_summary.plot_timeline(out / "allocation_over_time.png", name, results)
    return timed_summary.to_json(name, results)


def simulate(
    trace: Annotated[str, typer.Option(help="A shipped trace by name.")] = "default",
    pods: Annotated[Path | None, typer.Option(help="Pod list: openb CSV or snugfit YAML.")] = None,
    nodes: Annotated[
        Path | None, typer.Option(help="Node list (default: shipped openb GPU nodes).")
    ] = None,
    policy: Annotated[
        list[str] | None, typer.Option(help="Policy, repeatable (default: all).")
    ] = None,
    seeds: Annotated[
        str, typer.Option(help="A range '42-51', one seed, or a list '42,45'.")
    ] = "42-51",
    mode: Annotated[
        Mode, typer.Option(help="arrivals: published protocol; timed: trace clock.")
    ] = Mode.arrivals,
    no_sharing: Annotated[
        bool, typer.Option("--no-sharing", help="Fractional pods take whole GPUs.")
    ] = False,
    pending_limit: Annotated[
        float | None, typer.Option(help="Timed: seconds a pod may wait.")
    ] = None,
    speedup: Annotated[float, typer.Option(help="Timed: divide arrival times by this.")] = 1.0,
    workers: Annotated[int, typer.Option(help="Parallel processes (default: one per core).")] = 0,
    output_dir: Annotated[Path, typer.Option(help="Where curves, logs and plots go.")] = Path(
        "snugfit-out"
    ),
    json_out: Annotated[bool, typer.Option("--json", help="Print only the JSON summary.")] = False,
) -> None:
    """Replay a trace under each policy and print how much GPU capacity each leaves unused."""
    try:
        seed_list = parse_seeds(seeds)
        names = list(policy or DEFAULT_POLICIES)
        unknown = [p for p in names if p not in POLICIES]
        if unknown:
            raise ValueError(f"unknown policy {', '.join(unknown)}; known: {', '.join(POLICIES)}")
        if speedup <= 0 or (pending_limit is not None and pending_limit < 0):
            raise ValueError("speedup must be positive and pending-limit non-negative")
        trace_name, loaded = resolve(trace, pods, nodes)
    except (ValueError, TraceError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        raise typer.Exit(2) from None
    specs = [
        RunSpec(
            p,
            s,
            sharing=not no_sharing,
            mode=mode.value,
            pending_limit=pending_limit,
            speedup=speedup,
        )
        for p in names
        for s in seed_list
    ]
    results = _run(trace_name, loaded, specs, workers or default_workers(), quiet=json_out)
    output_dir.mkdir(parents=True, exist_ok=True)
    if mode is Mode.timed:
        summary = _write_timed(output_dir, trace_name, results)
        table = _timed_table(trace_name, results)
    else:
        summary = _write_arrivals(output_dir, trace_name, results, not no_sharing)
        table = _arrivals_table(trace_name, summarize(trace_name, results), not no_sharing)
    (output_dir / "summary.json").write_bytes(orjson.dumps(summary, option=orjson.OPT_INDENT_2))
    if json_out:
        sys.stdout.write(orjson.dumps(summary).decode() + "\n")
        return
    out = Console(width=max(Console().width, 110))
    out.print(table)
    out.print(
        f"{len(loaded.nodes)} nodes, {len(loaded.pods)} pods, seeds {seeds}. "
        f"Curves, logs and plots in {output_dir}/"
    )
