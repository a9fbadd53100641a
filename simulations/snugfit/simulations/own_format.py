"""snugfit's own YAML format for users' nodes and workloads.

    nodes:
      - name: dgx            # with count > 1 the nodes are named dgx-0, dgx-1, ...
        count: 4
        cpu: 128             # cores, or milli-cores as "500m"
        memory: 1Ti          # Ki/Mi/Gi/Ti (a bare number is MiB)
        gpus: {model: A100-80GB, count: 8, memory: 80Gi}   # or a list of such groups
    pods:
      - name: train
        count: 3
        cpu: 8
        memory: 64Gi
        gpus: 1              # number of GPUs (default 0)
        gpu_share: 0.5       # of each GPU, 0 < share <= 1 (default 1: whole GPUs)
        gpu_memory: 20Gi     # instead of gpu_share: GPU memory on each GPU
        gpu_models: [A100-80GB]   # allowed models (default: any)
        start: 0             # seconds; for the timed replay
        duration: 3600       # seconds; or `end:`

One file may hold both lists. Every error names the file and the line of the entry.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import yaml

from snugfit.packing.cluster import GPU_MILLI, GpuSpec, NodeSpec
from snugfit.packing.demand import PodDemand
from snugfit.packing.quantity import cpu_milli, mebibytes
from snugfit.simulations.trace_error import TraceError
from snugfit.simulations.workload_model import TracePod

T = TypeVar("T")
NODE_KEYS = {"name", "count", "cpu", "memory", "gpus"}
GPU_KEYS = {"model", "count", "memory"}
POD_KEYS = {
    "name",
    "count",
    "cpu",
    "memory",
    "gpus",
    "gpu_share",
    "gpu_memory",
    "gpu_models",
    "start",
    "duration",
    "end",
}


def _entries(path: Path, section: str) -> list[tuple[int, Any]]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TraceError(path, None, f"cannot read: {exc.strerror}") from exc
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        if root is None or not isinstance(root, yaml.MappingNode):
            raise TraceError(path, 1, f"expected a mapping with a '{section}' list")
        for key, value in root.value:
            if key.value == section:
                if not isinstance(value, yaml.SequenceNode):
                    raise TraceError(path, value.start_mark.line + 1, f"'{section}' must be a list")
                return [
                    (item.start_mark.line + 1, loader.construct_object(item, deep=True))
                    for item in value.value
                ]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise TraceError(path, line, f"not valid YAML: {getattr(exc, 'problem', exc)}") from None
    finally:
        loader.dispose()
    raise TraceError(path, None, f"no '{section}' list")


def _load(path: Path, section: str, parse: Callable[[dict[str, Any]], list[T]]) -> list[T]:
    items: list[T] = []
    for line, entry in _entries(path, section):
        try:
            if not isinstance(entry, dict):
                raise ValueError("each entry must be a mapping")
            items.extend(parse(entry))
        except (ValueError, TypeError) as exc:
            raise TraceError(path, line, str(exc)) from None
    return items


def _check_keys(entry: dict[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(entry) - allowed)
    if unknown:
        raise ValueError(
            f"unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}"
        )


def _count(entry: dict[str, Any]) -> int:
    count = entry.get("count", 1)
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise ValueError(f"count must be a positive integer, got {count!r}")
    return count


def _name(entry: dict[str, Any]) -> str:
    name = entry.get("name")
    if not isinstance(name, str) or not name:
        raise ValueError("name is required")
    return name


def _names(entry: dict[str, Any]) -> list[str]:
    name, count = _name(entry), _count(entry)
    return [name] if count == 1 else [f"{name}-{i}" for i in range(count)]


def _gpus(value: Any) -> tuple[GpuSpec, ...]:
    groups = value if isinstance(value, list) else [value]
    gpus: list[GpuSpec] = []
    for group in groups:
        if not isinstance(group, dict):
            raise ValueError("gpus must be a mapping {model, count, memory} or a list of them")
        _check_keys(group, GPU_KEYS)
        model = group.get("model")
        if not isinstance(model, str) or not model:
            raise ValueError("gpus.model is required")
        memory = mebibytes(group["memory"], "gpus.memory") if "memory" in group else 0
        gpus.extend(GpuSpec(model, memory) for _ in range(_count(group)))
    return tuple(gpus)


def _node(entry: dict[str, Any]) -> list[NodeSpec]:
    _check_keys(entry, NODE_KEYS)
    for key in ("cpu", "memory"):
        if key not in entry:
            raise ValueError(f"{key} is required")
    cpu, memory = cpu_milli(entry["cpu"]), mebibytes(entry["memory"])
    gpus = _gpus(entry["gpus"]) if entry.get("gpus") else ()
    return [NodeSpec(name, cpu, memory, gpus) for name in _names(entry)]


def _seconds(entry: dict[str, Any], key: str) -> float | None:
    value = entry.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError(f"{key} must be a non-negative number of seconds, got {value!r}")
    return float(value)


def _demand(entry: dict[str, Any]) -> PodDemand:
    count = entry.get("gpus", 0)
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        raise ValueError(f"gpus must be a non-negative integer, got {count!r}")
    if "gpu_share" in entry and "gpu_memory" in entry:
        raise ValueError("give gpu_share or gpu_memory, not both")
    share = entry.get("gpu_share", 1)
    if isinstance(share, bool) or not isinstance(share, int | float) or not 0 < share <= 1:
        raise ValueError(f"gpu_share must be a number in (0, 1], got {share!r}")
    memory = mebibytes(entry["gpu_memory"], "gpu_memory") if "gpu_memory" in entry else 0
    models = entry.get("gpu_models")
    if models is not None and (
        not isinstance(models, list) or not all(isinstance(m, str) for m in models)
    ):
        raise ValueError("gpu_models must be a list of model names")
    return PodDemand(
        cpu_milli=cpu_milli(entry.get("cpu", 0)),
        memory_mib=mebibytes(entry.get("memory", 0)),
        gpu_count=count,
        gpu_milli=0 if (memory or not count) else round(share * GPU_MILLI),
        gpu_memory_mib=memory if count else 0,
        allowed_models=frozenset(models) if models else None,
    )


def _pod(entry: dict[str, Any]) -> list[TracePod]:
    _check_keys(entry, POD_KEYS)
    demand = _demand(entry)
    start = _seconds(entry, "start")
    duration, end = _seconds(entry, "duration"), _seconds(entry, "end")
    if duration is not None and end is not None:
        raise ValueError("give duration or end, not both")
    if end is None and duration is not None:
        end = (start or 0.0) + duration
    if end is not None and start is not None and end < start:
        raise ValueError("end is before start")
    return [TracePod(name, demand, start, end) for name in _names(entry)]


def load_nodes(path: Path) -> list[NodeSpec]:
    return _load(path, "nodes", _node)


def load_pods(path: Path) -> list[TracePod]:
    return _load(path, "pods", _pod)
