"""Which nodes can host a pod, for all nodes at once, with the first reason each one cannot."""

from __future__ import annotations

from collections import Counter
from enum import IntEnum

import numpy as np
from numpy.typing import NDArray

from snugfit.packing.cluster import ClusterState
from snugfit.packing.demand import PodDemand, gpu_need, model_mask


class Reason(IntEnum):
    """Why a node was rejected, in the order they are checked."""

    FITS = 0
    GPU_MODEL_NOT_ALLOWED = 1
    TOO_FEW_GPUS = 2
    INSUFFICIENT_CPU = 3
    INSUFFICIENT_MEMORY = 4
    NO_GPU_WITH_ENOUGH_FREE_SHARE = 5

    @property
    def message(self) -> str:
        return _MESSAGES[self]


_MESSAGES = {
    Reason.FITS: "fits",
    Reason.GPU_MODEL_NOT_ALLOWED: "no GPU of an allowed model",
    Reason.TOO_FEW_GPUS: "fewer GPUs than the pod asks for",
    Reason.INSUFFICIENT_CPU: "insufficient cpu",
    Reason.INSUFFICIENT_MEMORY: "insufficient memory",
    Reason.NO_GPU_WITH_ENOUGH_FREE_SHARE: "not enough GPUs with the requested free share",
}


def fitting_slots(state: ClusterState, demand: PodDemand) -> NDArray[np.bool_]:
    """(nodes, slots): GPUs of an allowed model whose free share covers the pod's need."""
    need = demand.gpu_milli if demand.gpu_memory_mib == 0 else gpu_need(state, demand)
    return model_mask(state, demand) & (state.gpu_free >= need)


def feasibility(state: ClusterState, demand: PodDemand) -> NDArray[np.int8]:
    """Reason code per node (Reason.FITS where the pod fits)."""
    reasons = np.zeros(state.num_nodes, dtype=np.int8)

    def reject(mask: NDArray[np.bool_], reason: Reason) -> None:
        reasons[(reasons == 0) & mask] = reason

    if demand.gpu_count:
        if demand.allowed_models is None:
            allowed_count = state.gpu_count
        else:
            allowed_count = model_mask(state, demand).sum(axis=1)
            reject((state.gpu_count > 0) & (allowed_count == 0), Reason.GPU_MODEL_NOT_ALLOWED)
        reject(allowed_count < demand.gpu_count, Reason.TOO_FEW_GPUS)
    reject(state.cpu_free < demand.cpu_milli, Reason.INSUFFICIENT_CPU)
    reject(state.memory_free < demand.memory_mib, Reason.INSUFFICIENT_MEMORY)
    if demand.gpu_count:
        fits = fitting_slots(state, demand).sum(axis=1)
        reject(fits < demand.gpu_count, Reason.NO_GPU_WITH_ENOUGH_FREE_SHARE)
    return reasons


def summarize(reasons: NDArray[np.int8]) -> str:
    """A kube-scheduler style line: '0/3 nodes are available: 2 insufficient cpu, 1 ...'."""
    counts = Counter(Reason(int(r)) for r in reasons if r != Reason.FITS)
    fit = int(np.count_nonzero(reasons == Reason.FITS))
    parts = [f"{n} {r.message}" for r, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
    head = f"{fit}/{len(reasons)} nodes are available"
    return head + (": " + ", ".join(parts) if parts else "") + "."


def explain(state: ClusterState, demand: PodDemand, node: int, reason: Reason) -> str:
    """A sentence for people on why ``node`` was rejected, with the numbers behind it."""
    if reason == Reason.INSUFFICIENT_CPU:
        return f"insufficient cpu: pod needs {demand.cpu_milli}m, {state.cpu_free[node]}m free"
    if reason == Reason.INSUFFICIENT_MEMORY:
        return (
            f"insufficient memory: pod needs {demand.memory_mib}Mi, "
            f"{state.memory_free[node]}Mi free"
        )
    models = sorted({state.models[m] for m in state.gpu_model[node] if m >= 0})
    if reason == Reason.GPU_MODEL_NOT_ALLOWED:
        allowed = sorted(demand.allowed_models or ())
        return f"GPU model {', '.join(models)} not among the allowed {', '.join(allowed)}"
    if reason == Reason.TOO_FEW_GPUS:
        return f"pod needs {demand.gpu_count} GPUs, node has {int(state.gpu_count[node])}"
    if reason == Reason.NO_GPU_WITH_ENOUGH_FREE_SHARE:
        want = (
            f"{demand.gpu_memory_mib}Mi of GPU memory"
            if demand.gpu_memory_mib
            else f"{demand.gpu_milli}m of a GPU"
        )
        free = ", ".join(
            f"{int(f)}m"
            for f, real in zip(state.gpu_free[node], state.gpu_real[node], strict=True)
            if real
        )
        return f"pod needs {demand.gpu_count} GPU(s) with {want} free each; free per GPU: {free}"
    return reason.message


def reason_message(demand: PodDemand, reason: Reason) -> str:
    """The same sentence for every node rejected for ``reason``, so that kube-scheduler's
    summary ("0/500 nodes are available: 300 <message>, 200 <message>") stays readable."""
    if reason == Reason.INSUFFICIENT_CPU:
        return f"insufficient cpu for {demand.cpu_milli}m"
    if reason == Reason.INSUFFICIENT_MEMORY:
        return f"insufficient memory for {demand.memory_mib}Mi"
    if reason == Reason.GPU_MODEL_NOT_ALLOWED:
        return f"no GPU of the allowed models ({', '.join(sorted(demand.allowed_models or ()))})"
    if reason == Reason.TOO_FEW_GPUS:
        return "no GPU" if demand.gpu_count == 1 else f"fewer than {demand.gpu_count} GPUs"
    if reason == Reason.NO_GPU_WITH_ENOUGH_FREE_SHARE:
        each = (
            f"{demand.gpu_memory_mib}Mi of GPU memory"
            if demand.gpu_memory_mib
            else f"{demand.gpu_milli / 1000:g} of a GPU"
        )
        count = "no GPU" if demand.gpu_count == 1 else f"fewer than {demand.gpu_count} GPUs"
        return f"{count} with {each} free"
    return reason.message
