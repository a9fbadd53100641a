"""Which GPU shares belong together: a plan for placing sharing pods, from the learned mix.

A sharing pod leaves residue on its GPU that only smaller pods can fill. FGD's measure counts
a GPU opened for a share as lost to every pod that takes whole GPUs, so it fills any partly
used GPU the pod fits: a 320-milli pod joins a 470-milli one and leaves 210 that almost no
pod fits, where waiting for a 650-milli pod would have left 30 (and the 470 would have met
another 470).

The plan is what an offline packer does with the learned share mix (a fixed number of pods
in its proportions): the GPU contents it ends with, such as 470+470, 650+320, 810+160,
550+230+220. The packer fills each GPU as full as the shares left allow (minimum bin slack);
best-fit decreasing, the textbook packer, needs about 0.5 % more GPUs on the openb mixes, and
the plan takes it where it needs fewer. A placement is on plan when the share already used on
the GPU is made of some of one such content's other shares and the pod's share is part of
that content too, and the node keeps CPU enough for the pods that would complete its partly
used GPUs (for each, the least CPU of a planned partner): a GPU waiting for a partner on a
node whose CPU is gone is residue for good.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from snugfit.packing.cluster import GPU_MILLI
from snugfit.packing.fragmentation import TargetWorkload

I64 = NDArray[np.int64]
Bool = NDArray[np.bool_]

PLAN_PODS = 5000  # pods in the mix's proportions packed to make the plan (insensitive above 1000)
Packer = Callable[[dict[int, int]], Counter[tuple[int, ...]]]
NO_CPU = np.iinfo(np.int64).max // 4  # a share the mix does not have: no pod completes with it


@dataclass(frozen=True)
class ShareMix:
    """Sharing shapes of a workload by share: total frequency and the least CPU asked."""

    weight: dict[int, float]
    least_cpu: dict[int, int]


def share_mix(workload: TargetWorkload) -> ShareMix:
    """The shares (milli-GPU, one GPU) of the workload's sharing shapes; shapes sized in GPU
    memory are left out, since their share depends on the GPU."""
    weight: dict[int, float] = {}
    least_cpu: dict[int, int] = {}
    memory = workload.gpu_memory_mib
    for i in range(workload.size):
        share, count = int(workload.gpu_milli[i]), int(workload.gpu_count[i])
        if count != 1 or not 0 < share < GPU_MILLI or (memory is not None and memory[i] > 0):
            continue
        weight[share] = weight.get(share, 0.0) + float(workload.weight[i])
        cpu = int(workload.cpu_milli[i])
        least_cpu[share] = min(least_cpu.get(share, cpu), cpu)
    return ShareMix(weight, least_cpu)


def best_fit_decreasing(counts: dict[int, int]) -> Counter[tuple[int, ...]]:
    """GPU contents (shares, largest first) and how many GPUs end with each, when the shares,
    largest first, each go to the GPU with the least free share that fits them.

    Pods of one share are moved in groups, exactly as one at a time would go: once a pod
    joins the best-fitting GPU, that GPU stays the best fit for the next ones until it is full,
    and GPUs with equal contents fill one after the other."""
    gpus: Counter[tuple[int, ...]] = Counter()
    for share in sorted(counts, reverse=True):
        left = counts[share]
        while left:
            fitting = [c for c in gpus if GPU_MILLI - sum(c) >= share]
            best = min(fitting, key=lambda c: (GPU_MILLI - sum(c), c)) if fitting else ()
            per_gpu = (GPU_MILLI - sum(best)) // share  # pods of this share it takes when full
            available = gpus[best] if best else left  # a fresh GPU is always available
            filled = min(available, left // per_gpu)
            moves = [(filled, per_gpu)]
            if filled < available and left - filled * per_gpu:
                moves.append((1, left - filled * per_gpu))
            for n, pods in moves:
                if not n:
                    continue
                if best:
                    gpus[best] -= n
                gpus[(*best, *(share,) * pods)] += n
                left -= n * pods
            gpus = +gpus  # drop emptied contents
    return gpus


def fullest_fill(counts: dict[int, int]) -> Counter[tuple[int, ...]]:
    """GPU contents (shares, largest first) and how many GPUs end with each, when each GPU
    takes the largest share left and then the shares left that fill it most (minimum bin
    slack, Gupta and Ho 1999), repeated while the shares left allow.

    On the openb share mixes best-fit decreasing needs about 0.5 % more GPUs (2,007 against
    1,998 for the sharing pods of the default trace's seed 42); on some small mixes it needs
    fewer (see ``tightest_packing``)."""
    left = Counter({share: n for share, n in counts.items() if n > 0})
    gpus: Counter[tuple[int, ...]] = Counter()
    while left:
        first = max(left)
        room = GPU_MILLI - first
        reach: dict[int, tuple[int, ...]] = {0: ()}  # fill -> the shares that make it
        for share in sorted(left, reverse=True):
            for _ in range(min(left[share] - (share == first), room // share)):
                grown = {
                    t + share: (*items, share)
                    for t, items in reach.items()
                    if t + share <= room and t + share not in reach
                }
                if not grown:
                    break
                reach.update(grown)
        content = (first, *reach[max(reach)])
        need = Counter(content)
        repeats = min(left[share] // n for share, n in need.items())
        gpus[tuple(sorted(content, reverse=True))] += repeats
        for share, n in need.items():
            left[share] -= n * repeats
        left = +left
    return gpus


def tightest_packing(counts: dict[int, int]) -> Counter[tuple[int, ...]]:
    """The packing of ``fullest_fill`` or of ``best_fit_decreasing``, whichever needs fewer
    GPUs (the first when equal): never more GPUs than best-fit decreasing."""
    fullest, best_fit = fullest_fill(counts), best_fit_decreasing(counts)
    return best_fit if sum(best_fit.values()) < sum(fullest.values()) else fullest


def _part_sums(shares: tuple[int, ...]) -> set[int]:
    sums = {0}
    for share in shares:
        sums |= {s + share for s in sums}
    return sums


@dataclass(frozen=True)
class SharePlan:
    """``joins[used, share]``: a pod of ``share`` on a GPU with ``used`` taken is on plan.
    ``completing_cpu[used]``: the least CPU of a pod whose share the plan puts on a GPU with
    ``used`` taken (0 when the plan puts none there: the GPU is done)."""

    joins: Bool  # (GPU_MILLI + 1, GPU_MILLI + 1)
    completing_cpu: I64  # (GPU_MILLI + 1,)

    @classmethod
    def empty(cls) -> SharePlan:
        return cls(
            np.zeros((GPU_MILLI + 1, GPU_MILLI + 1), dtype=bool),
            np.zeros(GPU_MILLI + 1, dtype=np.int64),
        )

    def waiting_cpu(self, used: I64, capacity: I64) -> I64:
        """(rows, slots): CPU the pod that completes each partly used GPU needs (0 on idle,
        full and padding GPUs)."""
        partial = (used > 0) & (used < capacity)
        result: I64 = np.where(partial, self.completing_cpu[np.clip(used, 0, GPU_MILLI)], 0)
        return result

    def on_plan(self, used: I64, capacity: I64, share: I64, cpu_after: I64) -> Bool:
        """(rows, slots): a pod of ``share`` on each GPU (``used`` of ``capacity`` taken) is on
        plan: the contents it makes are planned, and the node keeps ``cpu_after`` (rows,)
        enough for the pods that complete its partly used GPUs, this one included.
        Out-of-range shares never are."""
        valid = (used >= 0) & (share > 0) & (used + share <= capacity)
        u = np.where(valid, used, 0)
        after = np.where(valid, used + share, 0)
        waiting = self.waiting_cpu(used, capacity)
        waiting_after = (
            waiting.sum(axis=1, keepdims=True) - waiting + self.waiting_cpu(after, capacity)
        )
        result: Bool = valid & self.joins[u, after - u] & (cpu_after[:, None] >= waiting_after)
        return result

    def keeps_waiting_cpu(self, used: I64, capacity: I64, cpu_after: I64) -> Bool:
        """(rows,): the node keeps ``cpu_after`` enough for the pods that complete its partly
        used GPUs (for a pod that leaves those GPUs as they are)."""
        result: Bool = cpu_after >= self.waiting_cpu(used, capacity).sum(axis=1)
        return result


def share_plan(
    workload: TargetWorkload, pods: int = PLAN_PODS, packer: Packer = tightest_packing
) -> SharePlan:
    """The plan for the workload's share mix (empty when it has no sharing shapes)."""
    mix = share_mix(workload)
    total = sum(mix.weight.values())
    if total <= 0:
        return SharePlan.empty()
    counts = {s: max(1, round(pods * w / total)) for s, w in mix.weight.items()}
    joins = np.zeros((GPU_MILLI + 1, GPU_MILLI + 1), dtype=bool)
    for content in packer(counts):
        for i, share in enumerate(content):
            if i and content[i - 1] == share:
                continue
            rest = content[:i] + content[i + 1 :]
            joins[sorted(_part_sums(rest)), share] = True
    least_cpu = np.full(GPU_MILLI + 1, NO_CPU, dtype=np.int64)
    least_cpu[list(mix.least_cpu)] = list(mix.least_cpu.values())
    completing = np.where(joins, least_cpu[None, :], NO_CPU).min(axis=1)
    return SharePlan(joins, np.where(completing == NO_CPU, 0, completing))
