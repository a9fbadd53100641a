"""The GPU assignment the extender records on a pod at bind, and reads back after a restart.

``snugfit.io/gpu-assignment``: ``{"node": "n1", "gpus": [{"index": 0, "uuid": "GPU-…",
"milli": 500}]}`` — the node, and for each GPU its slot index, UUID (when known) and the share
taken in milli-GPU.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from snugfit.scheduler.protocol import resources as r


@dataclass(frozen=True)
class GpuAssignment:
    node: str
    slots: tuple[int, ...]
    milli: tuple[int, ...]
    uuids: tuple[str, ...]

    def encode(self) -> str:
        gpus = [
            {"index": s, "uuid": u, "milli": m}
            for s, u, m in zip(self.slots, self.uuids, self.milli, strict=True)
        ]
        return json.dumps({"node": self.node, "gpus": gpus}, separators=(",", ":"))


def read_assignment(pod: dict[str, Any]) -> GpuAssignment | None:
    """The pod's recorded assignment, or None when absent or unreadable."""
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    text = annotations.get(r.ASSIGNMENT_ANNOTATION)
    if not text:
        return None
    try:
        data = json.loads(text)
        gpus = data["gpus"]
        return GpuAssignment(
            node=str(data["node"]),
            slots=tuple(int(g["index"]) for g in gpus),
            milli=tuple(int(g["milli"]) for g in gpus),
            uuids=tuple(str(g.get("uuid", "")) for g in gpus),
        )
    except (ValueError, KeyError, TypeError):
        return None
