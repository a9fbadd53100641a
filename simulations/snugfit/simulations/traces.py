"""Finding and loading traces: shipped ones by name, users' files by path (openb CSV or ours)."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

from snugfit.packing.cluster import NodeSpec
from snugfit.simulations import openb, own_format
from snugfit.simulations.trace_error import TraceError
from snugfit.simulations.workload_model import Trace, TracePod

SHIPPED = {"default": "openb_pod_list_default.csv"}
DEFAULT_NODES = "openb_node_list_gpu_node.csv"
_OPENB_NAME = re.compile(r"openb_pod_list_(\w+)\.csv$")


def shipped_path(filename: str) -> Path:
    return Path(str(resources.files("snugfit.simulations") / "data" / "openb" / filename))


def trace_name(pods_path: Path) -> str:
    """'gpushare40' for openb_pod_list_gpushare40.csv; the file stem otherwise."""
    match = _OPENB_NAME.search(pods_path.name)
    return match.group(1) if match else pods_path.stem


def load_nodes(path: Path) -> list[NodeSpec]:
    if path.suffix.lower() in (".yaml", ".yml"):
        return own_format.load_nodes(path)
    return openb.load_nodes(path)


def load_pods(path: Path) -> list[TracePod]:
    if path.suffix.lower() in (".yaml", ".yml"):
        return own_format.load_pods(path)
    return openb.load_pods(path)


def resolve(trace: str, pods: Path | None, nodes: Path | None) -> tuple[str, Trace]:
    """The trace to replay and its name: --pods wins over --trace; nodes default to the
    shipped openb GPU node list."""
    if pods is None:
        if trace not in SHIPPED:
            known = ", ".join(sorted(SHIPPED))
            raise TraceError(
                trace,
                None,
                f"no shipped trace of that name (shipped: {known}); give a file with --pods",
            )
        pods = shipped_path(SHIPPED[trace])
        name = trace
    else:
        name = trace_name(pods)
    nodes = nodes or shipped_path(DEFAULT_NODES)
    loaded = Trace(tuple(load_nodes(nodes)), tuple(load_pods(pods)), str(nodes), str(pods))
    if not loaded.nodes:
        raise TraceError(nodes, None, "no nodes")
    return name, loaded
