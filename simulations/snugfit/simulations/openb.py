"""Loaders for the Alibaba GPU trace ("openb") CSV files.

Nodes: sn,cpu_milli,memory_mib,gpu,model. Pods: name,cpu_milli,memory_mib,num_gpu,gpu_milli
and optionally gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time; files with
only the first five columns load too. A bad row raises TraceError naming the file and line.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from snugfit.packing.cluster import GPU_MILLI, GpuSpec, NodeSpec
from snugfit.packing.demand import PodDemand
from snugfit.simulations.trace_error import TraceError
from snugfit.simulations.workload_model import TracePod

NODE_COLUMNS = ("sn", "cpu_milli", "memory_mib", "gpu", "model")
POD_COLUMNS = ("name", "cpu_milli", "memory_mib", "num_gpu", "gpu_milli")

T = TypeVar("T")


def _rows(path: Path, required: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    try:
        handle = path.open(newline="", encoding="utf-8")
    except OSError as exc:
        raise TraceError(path, None, f"cannot read: {exc.strerror}") from exc
    with handle:
        reader = csv.DictReader(handle)
        try:
            header = reader.fieldnames or []
            missing = [c for c in required if c not in header]
            if missing:
                raise TraceError(
                    path, 1, f"missing column(s) {', '.join(missing)}; header is {header}"
                )
            for row in reader:
                if None in row or any(row.get(c) is None for c in required):
                    raise TraceError(path, reader.line_num, "wrong number of fields")
                yield reader.line_num, row
        except UnicodeDecodeError as exc:
            raise TraceError(path, reader.line_num + 1, f"not UTF-8 text ({exc.reason})") from None
        except csv.Error as exc:
            raise TraceError(path, reader.line_num, f"not valid CSV ({exc})") from None


def _int(row: dict[str, str], column: str) -> int:
    text = row[column].strip()
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{column} must be an integer, got {text!r}") from None
    if value < 0:
        raise ValueError(f"{column} must not be negative, got {value}")
    return value


def _time(row: dict[str, str], column: str) -> float | None:
    text = (row.get(column) or "").strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{column} must be a number, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{column} must be a finite non-negative number, got {text!r}")
    return value


def _load(path: Path, required: tuple[str, ...], parse: Callable[[dict[str, str]], T]) -> list[T]:
    items = []
    for line, row in _rows(path, required):
        try:
            items.append(parse(row))
        except ValueError as exc:
            raise TraceError(path, line, str(exc)) from None
    return items


def _node(row: dict[str, str]) -> NodeSpec:
    gpus = _int(row, "gpu")
    model = row["model"].strip()
    if gpus and not model:
        raise ValueError("a node with GPUs needs a model")
    return NodeSpec(
        name=row["sn"].strip(),
        cpu_milli=_int(row, "cpu_milli"),
        memory_mib=_int(row, "memory_mib"),
        gpus=tuple(GpuSpec(model) for _ in range(gpus)),
    )


def _pod(row: dict[str, str]) -> TracePod:
    count = _int(row, "num_gpu")
    milli = min(_int(row, "gpu_milli"), GPU_MILLI) if count else 0
    if count and milli == 0:
        raise ValueError("a GPU pod needs gpu_milli > 0")
    specs = frozenset(s.strip() for s in (row.get("gpu_spec") or "").split("|") if s.strip())
    demand = PodDemand(
        cpu_milli=_int(row, "cpu_milli"),
        memory_mib=_int(row, "memory_mib"),
        gpu_count=count,
        gpu_milli=milli,
        allowed_models=specs or None,
    )
    return TracePod(
        name=row["name"].strip(),
        demand=demand,
        created=_time(row, "creation_time"),
        deleted=_time(row, "deletion_time"),
    )


def load_nodes(path: Path) -> list[NodeSpec]:
    return _load(path, NODE_COLUMNS, _node)


def load_pods(path: Path) -> list[TracePod]:
    return _load(path, POD_COLUMNS, _pod)
