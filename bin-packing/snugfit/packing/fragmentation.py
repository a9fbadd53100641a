"""FGD's GPU fragmentation measure (Weng et al., USENIX ATC '23), vectorised over nodes.

For a target workload M of task shapes m with frequencies p_m, and a node with free GPU shares
r_g, F_n(m) is the free share that m cannot use: all of it (sum r_g) when m needs no GPU or the
node cannot host m (GPU model, CPU, or fewer than k_m GPUs with r_g >= d_m); otherwise the free
share on GPUs too small for m, sum r_g [r_g < d_m]. F_n(M) = sum_m p_m F_n(m); the cluster's
fragmentation is the sum over nodes. On nodes with mixed GPU models a GPU of a model m does not
accept counts as unusable for m, which reduces to the published rule on single-model nodes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from snugfit.packing.cluster import NO_MODEL, ClusterState

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]


@dataclass(frozen=True)
class TargetWorkload:
    """Task shapes with their frequencies.

    ``model_allowed[m, j]`` says whether shape m accepts GPU model j of the cluster's model list;
    the last column stands for padding slots and is always False.
    """

    cpu_milli: I64  # (M,)
    gpu_milli: I64  # (M,) per-GPU share d_m
    gpu_count: I64  # (M,) k_m
    model_allowed: NDArray[np.bool_]  # (M, models + 1)
    weight: F64  # (M,) p_m
    gpu_memory_mib: I64 | None = None  # (M,) per-GPU memory; d_m then depends on the GPU
    memory_mib: F64 | None = None  # (M,) mean host memory of the shape's pods, where known

    @property
    def size(self) -> int:
        return len(self.weight)


def shape_need(workload: TargetWorkload, gpu_memory: I64 | None, rows: int, slots: int) -> I64:
    """(rows, M, slots) or (1, M, 1): the share each shape needs on each slot. Shapes sized in
    GPU memory need ceil(memory * 1000 / GPU memory); on GPUs of unknown memory they never fit."""
    need = workload.gpu_milli[None, :, None]
    memory = workload.gpu_memory_mib
    if memory is None or not memory.any():
        return need
    if gpu_memory is None:
        gpu_memory = np.zeros((rows, slots), dtype=np.int64)
    sized = gpu_memory[:, None, :] > 0
    by_memory = -(-memory[None, :, None] * 1000 // np.where(sized, gpu_memory[:, None, :], 1))
    by_memory = np.where(sized, by_memory, np.iinfo(np.int64).max // 4)
    result: I64 = np.where(memory[None, :, None] > 0, by_memory, need)
    return result


def slot_model_allowed(workload: TargetWorkload, gpu_model: I64) -> NDArray[np.bool_]:
    """(nodes, M, slots), or (nodes, 1, slots) when every shape takes any model: may shape m
    use the GPU in this slot? (padding -> never)."""
    if workload.model_allowed[:, :-1].all():
        real: NDArray[np.bool_] = (gpu_model != NO_MODEL)[:, None, :]
        return real
    index = np.where(gpu_model == NO_MODEL, workload.model_allowed.shape[1] - 1, gpu_model)
    return np.moveaxis(workload.model_allowed[:, index], 0, 1)


DISTINCT_MIN_ROWS = 64  # below this, finding equal rows costs more than it saves
# odd 63-bit multipliers: a row's key is its dot product with them (wrapping), equal rows
# always get equal keys, and every row is compared with its key's first row before use
_ROW_KEY = np.random.default_rng(20231).integers(1, 2**62, size=64, dtype=np.int64) | 1


def distinct_rows(rows: I64) -> tuple[I64, I64] | None:
    """(first, inverse): the index of the first of each distinct row of ``rows`` (n, k), and
    for every row which of those it equals, so that ``rows[first][inverse] == rows``; None
    when the keys of two different rows collide (then treat every row as distinct)."""
    keys = np.zeros(len(rows), dtype=np.int64)
    for start in range(0, rows.shape[1], len(_ROW_KEY)):
        part = rows[:, start : start + len(_ROW_KEY)]
        with np.errstate(over="ignore"):
            keys += part @ _ROW_KEY[: part.shape[1]]
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    if not np.array_equal(rows[first][inverse.ravel()], rows):
        return None
    return first.astype(np.int64), inverse.ravel().astype(np.int64)


def node_fragmentation(
    gpu_free: I64,
    gpu_model: I64,
    cpu_free: I64,
    workload: TargetWorkload,
    gpu_memory: I64 | None = None,
    cpu_capped: bool = False,
) -> F64:
    """F_n(M) for each row of free shares (rows, slots) with its models, free CPU (rows,) and,
    for shapes sized in GPU memory, the GPUs' memory (rows, slots).

    ``cpu_capped`` counts, for a hostable shape m, the free share that m could not fill before
    the node's CPU runs out as fragmented too: F_n(m) = sum r_g - min(usable share,
    cpu_free / cpu_m * k_m * d_m). Without it (as published) CPU matters only below cpu_m.

    Equal rows (many nodes of one type are empty, or full, or alike) are measured once.
    """
    if workload.size == 0:
        return np.zeros(len(gpu_free), dtype=np.float64)
    if len(gpu_free) >= DISTINCT_MIN_ROWS:
        columns = [gpu_free, gpu_model, cpu_free[:, None]]
        if gpu_memory is not None:
            columns.append(gpu_memory)
        distinct = distinct_rows(np.concatenate(columns, axis=1))
        if distinct is not None and len(distinct[0]) < len(gpu_free):
            first, inverse = distinct
            measured = _node_fragmentation(
                gpu_free[first],
                gpu_model[first],
                cpu_free[first],
                workload,
                None if gpu_memory is None else gpu_memory[first],
                cpu_capped,
            )
            result: F64 = measured[inverse]
            return result
    return _node_fragmentation(gpu_free, gpu_model, cpu_free, workload, gpu_memory, cpu_capped)


def _node_fragmentation(
    gpu_free: I64,
    gpu_model: I64,
    cpu_free: I64,
    workload: TargetWorkload,
    gpu_memory: I64 | None,
    cpu_capped: bool,
) -> F64:
    sums = gpu_row_sums(gpu_free, gpu_model, workload, gpu_memory, cpu_capped)
    return fragmentation_of(sums, np.arange(len(gpu_free)), cpu_free, workload, cpu_capped)


@dataclass(frozen=True)
class GpuRowSums:
    """What the measure reads of each row's GPUs, whatever the node's CPU: the free share, and
    per shape the share and number of GPUs it can use and (for the CPU-capped measure) one
    pod's share per GPU."""

    total: I64  # (rows,)
    usable_share: F64  # (rows, M)
    count: NDArray[np.float32]  # (rows, M)
    pod_share: I64 | None  # (rows, M), or (1, M) when it is the same on every row


def gpu_row_sums(
    gpu_free: I64,
    gpu_model: I64,
    workload: TargetWorkload,
    gpu_memory: I64 | None,
    cpu_capped: bool = False,
) -> GpuRowSums:
    need = shape_need(workload, gpu_memory, *gpu_free.shape)
    usable = slot_model_allowed(workload, gpu_model) & (gpu_free[:, None, :] >= need)  # (n, M, G)
    # usable share and usable GPU count per (node, shape) in one batched product; both are
    # small integers, exact in float32
    per_slot = np.stack([gpu_free, np.ones_like(gpu_free)], axis=2).astype(np.float32)
    sums = np.matmul(usable.astype(np.float32), per_slot)  # (n, M, 2)
    pod_share = None
    if cpu_capped:  # one pod's share per GPU on this node (GPU-memory shapes: per GPU)
        same_everywhere = need.shape[0] == need.shape[2] == 1  # no shape sized in memory
        pod_share = (
            need[0, :, 0][None, :] if same_everywhere else np.where(usable, need, 0).max(axis=2)
        )
    return GpuRowSums(
        gpu_free.sum(axis=1), sums[..., 0].astype(np.float64), sums[..., 1], pod_share
    )


def fragmentation_of(
    sums: GpuRowSums, rows: I64, cpu_free: I64, workload: TargetWorkload, cpu_capped: bool
) -> F64:
    """F_n(M) of nodes whose GPUs are the rows ``rows`` of ``sums`` and whose free CPU is
    ``cpu_free`` (one entry per node)."""
    usable_share, count, total = sums.usable_share[rows], sums.count[rows], sums.total[rows]
    hostable = (
        (workload.gpu_count[None, :] > 0)
        & (count >= workload.gpu_count[None, :])
        & (cpu_free[:, None] >= workload.cpu_milli[None, :])
    )
    filled = usable_share
    if cpu_capped:
        if sums.pod_share is None:
            raise ValueError("the CPU-capped measure needs sums made with cpu_capped")
        share = sums.pod_share if len(sums.pod_share) == 1 else sums.pod_share[rows]
        per_pod = workload.gpu_count[None, :] * share
        pods = cpu_free[:, None] / np.maximum(workload.cpu_milli, 1)[None, :]
        filled = np.minimum(filled, pods * per_pod)
    per_shape = np.where(hostable, total[:, None] - filled, total[:, None]).astype(np.float64)
    # summed row by row in a fixed order (not a matrix product, whose rounding may depend on
    # how many rows it is given): a node's value is the same to the bit whichever rows it is
    # measured with, so a placement that changes nothing grows the measure by exactly 0
    result: F64 = np.add.reduce(per_shape * workload.weight[None, :], axis=1)
    return result


def cluster_fragmentation(state: ClusterState, workload: TargetWorkload) -> float:
    """Sum of F_n(M) over all nodes, in milli-GPU."""
    frag = node_fragmentation(
        state.gpu_free, state.gpu_model, state.cpu_free, workload, state.gpu_memory_mib
    )
    return float(frag.sum())
