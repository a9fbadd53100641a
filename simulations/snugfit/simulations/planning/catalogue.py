"""Candidate node types with a price, built in or read from a YAML file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from snugfit.packing.cluster import GpuSpec, NodeSpec

HOURS_PER_MONTH = 730.0


class CatalogueError(ValueError):
    """An unreadable catalogue; the message names the file and the entry."""


@dataclass(frozen=True)
class NodeType:
    name: str
    gpu_model: str
    gpus: int
    gpu_memory_mib: int
    cpu_milli: int
    memory_mib: int
    price_per_hour: float

    def node(self, index: int) -> NodeSpec:
        gpu = GpuSpec(self.gpu_model, self.gpu_memory_mib)
        return NodeSpec(
            f"{self.name}-{index:04d}", self.cpu_milli, self.memory_mib, (gpu,) * self.gpus
        )

    @property
    def price_per_month(self) -> float:
        return self.price_per_hour * HOURS_PER_MONTH


# Indicative on-demand list prices of common cloud GPU node shapes (USD per hour, 2026), with
# the allocatable CPU and memory a kubelet typically leaves to pods. Override with a file.
BUILTIN: tuple[NodeType, ...] = (
    NodeType("a100-80g-x8", "A100-80G", 8, 81920, 94000, 1100 * 1024, 40.97),
    NodeType("h100-x8", "H100", 8, 81920, 190000, 1900 * 1024, 98.32),
    NodeType("l4-x4", "L4", 4, 23034, 46000, 180 * 1024, 4.60),
    NodeType("t4-x4", "T4", 4, 15360, 46000, 180 * 1024, 3.91),
)

POSITIVE = ("gpus", "cpu_milli")
FIELDS: dict[str, type] = {
    "name": str,
    "gpu_model": str,
    "gpus": int,
    "gpu_memory_mib": int,
    "cpu_milli": int,
    "memory_mib": int,
    "price_per_hour": float,
}


def _entry(source: str, i: int, raw: Any) -> NodeType:
    where = f"{source}: node type #{i + 1}"
    if not isinstance(raw, dict):
        raise CatalogueError(f"{where}: expected a mapping with {', '.join(FIELDS)}")
    missing = [f for f in FIELDS if f not in raw]
    unknown = [f for f in raw if f not in FIELDS]
    if missing or unknown:
        raise CatalogueError(
            f"{where}: missing {missing or 'nothing'}, unknown {unknown or 'nothing'}"
        )
    values: dict[str, Any] = {}
    for name, kind in FIELDS.items():
        value = raw[name]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or isinstance(value, bool):
            raise CatalogueError(f"{where}: {name} must be {kind.__name__}, got {value!r}")
        if isinstance(value, int | float) and (value < 0 or (name in POSITIVE and value == 0)):
            raise CatalogueError(f"{where}: {name} must be positive, got {value!r}")
        values[name] = value
    return NodeType(**values)


def load_catalogue(path: Path) -> tuple[NodeType, ...]:
    """A YAML list of node types (the fields of NodeType)."""
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError, UnicodeDecodeError) as error:
        raise CatalogueError(f"{path}: {error}") from None
    if isinstance(raw, dict):
        raw = raw.get("node_types")
    if not isinstance(raw, list) or not raw:
        raise CatalogueError(f"{path}: expected a non-empty list of node types")
    types = tuple(_entry(str(path), i, entry) for i, entry in enumerate(raw))
    names = [t.name for t in types]
    if len(set(names)) != len(names):
        raise CatalogueError(f"{path}: node type names must be unique, got {names}")
    return types
