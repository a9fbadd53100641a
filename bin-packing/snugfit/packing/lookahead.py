"""One arrival of look-ahead: what a placement does for the next pod of the learned mix.

FGD scores a placement by the fragmentation it adds now, and its published scores are
integers, so placements whose growths differ by a few dozen milli-GPU tie. Among the best few
candidates, look-ahead also counts the next arrival: a pod of shape m (probability p_m, the
learned mix) goes where its own growth is least. Before this placement the best it can do on
the candidates is ref_m; after a placement on candidate i, the better of i's node as the
placement leaves it and the other candidates as they are, e_im. The placement's key is its
exact growth plus sum_m p_m (e_im - ref_m): negative where it leaves room that suits a
likely next pod better than any candidate does now, positive where it takes the one room
that suited one. The least key wins.

FGD's measure sees a node's CPU only once it is below a whole shape's request, and its host
memory never, so a pod may take the CPU or memory of a node whose GPUs are still free: where
every GPU pod shares GPUs, nodes ran out of CPU with whole GPUs idle, and on the 8-GPU nodes
of the traces (12 cores and 48 GiB per GPU, about what their mixes ask per GPU) GPUs were
left waiting behind exhausted memory. For every pod the key also counts the growth of the
node's share that its CPU or host memory would strand at the mix's host per GPU share
(``host_stranded_share``): the pod goes where it leaves CPU and memory in proportion to the
GPUs still free. (For pods ranked by the CPU-capped measure the CPU part counts twice; the
measured alternative, memory alone for them, gained no more.)

Look-ahead weighs one next pod, so room that only rare pods use (a node whose GPUs are all
idle, the one place for a pod taking all of them) is worth little to it, and ranking by it
alone used up such nodes faster than FGD's own choice: candidates that would open an idle node
are set aside where others would not (``opens_idle_node``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from snugfit.packing.cluster import GPU_MILLI, ClusterState
from snugfit.packing.demand import PodDemand
from snugfit.packing.fragmentation import (
    TargetWorkload,
    distinct_rows,
    fragmentation_of,
    gpu_row_sums,
    node_fragmentation,
    shape_need,
    slot_model_allowed,
)

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]


def opens_idle_node(state: ClusterState, demand: PodDemand, nodes: I64) -> NDArray[np.bool_]:
    """(nodes,): the pod would take some but not all GPUs of a node whose GPUs are all idle, so
    the node no longer holds a pod of all its GPUs."""
    idle = (state.gpu_free[nodes] == state.gpu_capacity[nodes]).all(axis=1)
    result: NDArray[np.bool_] = (
        idle & (demand.gpu_count > 0) & (state.gpu_count[nodes] > demand.gpu_count)
    )
    return result


def first_of_alike(gpu_free: I64, gpu_model: I64, gpu_memory: I64 | None) -> NDArray[np.bool_]:
    """(rows, slots): the GPU is the first of its node with its free share, model and memory."""
    alike = (gpu_free[:, :, None] == gpu_free[:, None, :]) & (
        gpu_model[:, :, None] == gpu_model[:, None, :]
    )
    if gpu_memory is not None:
        alike &= gpu_memory[:, :, None] == gpu_memory[:, None, :]
    earlier = np.tri(gpu_free.shape[1], k=-1, dtype=bool)  # [g, h]: h < g
    result: NDArray[np.bool_] = ~(alike & earlier[None, :, :]).any(axis=2)
    return result


def best_next_growth(
    gpu_free: I64,
    gpu_model: I64,
    cpu_free: I64,
    workload: TargetWorkload,
    gpu_memory: I64 | None = None,
) -> F64:
    """(rows, M): the least fragmentation growth (FGD's measure) that a pod of each shape can
    have on each node row: a one-GPU shape on any GPU it fits, a whole-GPU shape on the first
    fully free GPUs it fits (shapes of several GPUs sized in memory: the first that fit), a
    CPU-only shape on the node; +inf where it does not fit."""
    rows, slots = gpu_free.shape
    shapes = workload.size
    result = np.full((rows, shapes), np.inf)
    if shapes == 0 or rows == 0:
        return result
    need = np.broadcast_to(shape_need(workload, gpu_memory, rows, slots), (rows, shapes, slots))
    fits = slot_model_allowed(workload, gpu_model) & (gpu_free[:, None, :] >= need) & (need > 0)
    fits &= (cpu_free[:, None] >= workload.cpu_milli[None, :])[:, :, None]
    count = workload.gpu_count[None, :, None]
    whole = (workload.gpu_count >= 2) | (
        (workload.gpu_milli >= GPU_MILLI) & (workload.gpu_count == 1)
    )
    one = (workload.gpu_count == 1) & ~whole

    # one-GPU shapes: every GPU that fits is a choice; GPUs alike (free share, model, memory)
    # give the same node, so only the first of them is tried
    tried = first_of_alike(gpu_free, gpu_model, gpu_memory)
    r1, m1, g1 = np.nonzero(fits & one[None, :, None] & tried[:, None, :])
    free1 = gpu_free[r1].copy()
    free1[np.arange(len(r1)), g1] -= need[r1, m1, g1]
    # whole-GPU shapes: the first k fitting (fully free) GPUs, where there are k
    taken = fits & whole[None, :, None] & (np.cumsum(fits, axis=2) <= count)
    rw, mw = np.nonzero(whole[None, :] & (taken.sum(axis=2) >= workload.gpu_count[None, :]))
    freew = gpu_free[rw] - np.where(taken[rw, mw], need[rw, mw], 0)
    # CPU-only shapes: the node's CPU only
    r0, m0 = np.nonzero(
        (workload.gpu_count[None, :] == 0) & (cpu_free[:, None] >= workload.cpu_milli[None, :])
    )

    # every placement's node: its GPUs (each distinct GPU row measured once) and its CPU
    r = np.concatenate([r1, rw, r0])
    m = np.concatenate([m1, mw, m0])
    if not len(r):
        return result
    placed = np.concatenate([free1, freew, gpu_free[r0]])
    distinct = distinct_rows(np.concatenate([r[:, None], placed], axis=1))
    first, row_of = distinct if distinct is not None else (np.arange(len(r)), np.arange(len(r)))
    node = r[first]
    sums = gpu_row_sums(
        placed[first], gpu_model[node], workload, None if gpu_memory is None else gpu_memory[node]
    )
    after = fragmentation_of(sums, row_of, cpu_free[r] - workload.cpu_milli[m], workload, False)
    before = node_fragmentation(gpu_free, gpu_model, cpu_free, workload, gpu_memory)
    np.minimum.at(result, (r, m), after - before[r])
    return result


def next_pod_gain(before: F64, after: F64, weight: F64) -> F64:
    """(candidates,): how much the placement on each candidate changes the next pod's expected
    growth, from ``best_next_growth`` of the candidates' nodes ``before`` it and of each one's
    node ``after`` it. A next pod of shape m goes where its growth is least: before, the best of
    all candidates; after a placement on candidate i, the better of i's node after it and the
    other candidates as they are. A shape no candidate can take goes elsewhere (growth 0)."""
    before = np.where(np.isfinite(before), before, 0.0)
    after = np.where(np.isfinite(after), after, 0.0)
    n = len(before)
    if n == 1:
        others = np.zeros_like(before)
    else:
        # the least and second least of each column: the best of the others is the second
        # least for the candidate holding the least
        order = np.argsort(before, axis=0, kind="stable")
        least = before[order[0], np.arange(before.shape[1])]
        second = before[order[1], np.arange(before.shape[1])]
        others = np.where(
            np.arange(n)[:, None] == order[0][None, :], second[None, :], least[None, :]
        )
    reference = before.min(axis=0)
    result: F64 = (np.minimum(after, others) - reference[None, :]) @ weight
    return result


@dataclass(frozen=True)
class HostPerShare:
    """What the mix's pods ask of a node's host per milli-GPU of share they ask for: CPU
    (milli-cores) and host memory (MiB); 0 where that is not known or the mix asks for no
    share."""

    cpu: float
    memory: float


def host_per_gpu_share(workload: TargetWorkload) -> HostPerShare:
    """The mix's CPU and host memory per milli-GPU of share: what all its pods ask for (CPU-only
    pods too: they use the same nodes' host) over what its GPU pods ask for in share, both
    weighted by frequency. Shapes sized in GPU memory, whose share depends on the GPU, are left
    out; host memory is 0 where the workload carries none."""
    sized = (
        workload.gpu_memory_mib > 0
        if workload.gpu_memory_mib is not None
        else np.zeros(workload.size, dtype=bool)
    )
    weight = np.where(sized, 0.0, workload.weight)
    share = float(weight @ (workload.gpu_milli * workload.gpu_count))
    if share <= 0:
        return HostPerShare(0.0, 0.0)
    memory = 0.0 if workload.memory_mib is None else float(weight @ workload.memory_mib)
    return HostPerShare(float(weight @ workload.cpu_milli) / share, memory / share)


def host_stranded_share(
    gpu_free: I64, cpu_free: I64, memory_free: I64, per_share: HostPerShare
) -> F64:
    """(rows,): free GPU share of each node row beyond what its free CPU or its free host
    memory serves at ``per_share`` (``host_per_gpu_share``): share that the mix's pods, asking
    for CPU and memory in that proportion, would find no host for. A resource whose
    ``per_share`` is 0 is not counted; 0 everywhere where neither is."""
    served = np.full(len(gpu_free), np.inf)
    if per_share.cpu > 0:
        served = np.minimum(served, cpu_free / per_share.cpu)
    if per_share.memory > 0:
        served = np.minimum(served, memory_free / per_share.memory)
    result: F64 = np.maximum(0.0, gpu_free.sum(axis=1) - served)
    return result


class NextGrowthCache:
    """``best_next_growth`` of node rows, kept by the row's contents (free shares, models,
    memories, free CPU) for one workload: look-ahead asks about the same few best nodes pod
    after pod, a node left by one decision is the node seen by the next, and idle nodes of
    one type are all alike. Emptied when it holds ``max_entries`` rows (about 16 MiB for a mix
    of 48 shapes at the default)."""

    def __init__(self, workload: TargetWorkload, max_entries: int = 1 << 14) -> None:
        self.workload = workload
        self.max_entries = max_entries
        self._entries: dict[tuple[bytes, bytes, bytes, int], F64] = {}

    def growth(self, state: ClusterState, nodes: I64, gpu_free: I64, cpu_free: I64) -> F64:
        """(nodes, M) for ``nodes`` with the rows ``gpu_free`` and ``cpu_free`` (as they are, or
        as a pod would leave them)."""
        if len(self._entries) > self.max_entries:
            self._entries = {}
        model, memory = state.gpu_model[nodes], state.gpu_memory_mib[nodes]
        keys = [
            (gpu_free[i].tobytes(), model[i].tobytes(), memory[i].tobytes(), int(cpu_free[i]))
            for i in range(len(nodes))
        ]
        missing = [i for i, k in enumerate(keys) if k not in self._entries]
        if missing:
            found = best_next_growth(
                gpu_free[missing], model[missing], cpu_free[missing], self.workload, memory[missing]
            )
            for i, row in zip(missing, found, strict=True):
                self._entries[keys[i]] = row
        return np.array([self._entries[k] for k in keys]).reshape(len(nodes), self.workload.size)
