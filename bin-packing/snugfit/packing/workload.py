"""The target workload of FGD: the most frequent task shapes and their frequencies."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from snugfit.packing.demand import PodDemand
from snugfit.packing.fragmentation import TargetWorkload

Shape = tuple[int, int, int, frozenset[str] | None, int]


def shape_of(demand: PodDemand) -> Shape:
    """What the fragmentation measure distinguishes: cpu, per-GPU share, GPU count, models,
    and per-GPU memory for pods sized in GPU memory."""
    return (
        demand.cpu_milli,
        demand.gpu_milli,
        demand.gpu_count,
        demand.allowed_models,
        demand.gpu_memory_mib,
    )


def shape_counts(demands: Iterable[PodDemand]) -> Counter[Shape]:
    return Counter(shape_of(d) for d in demands)


def shape_memory(demands: Iterable[PodDemand]) -> Counter[Shape]:
    """Host memory (MiB) asked for by the pods of each shape, summed: the shape leaves host
    memory out (pods of one shape differ in it), the mix's mean per shape keeps it."""
    memory: Counter[Shape] = Counter()
    for d in demands:
        memory[shape_of(d)] += d.memory_mib
    return memory


def _popularity(item: tuple[Shape, int]) -> tuple[int, int, int, int, str, int]:
    (cpu, milli, count, models, memory), n = item
    return (n, cpu, milli, count, "|".join(sorted(models or ())), memory)


def target_workload(
    counts: Counter[Shape],
    models: Sequence[str],
    coverage: float = 0.95,
    keep_multi_gpu: bool = False,
    memory: Mapping[Shape, int] | None = None,
) -> TargetWorkload:
    """The most popular shapes that together cover ``coverage`` of the tasks.

    As published: shapes sorted by count, descending (equal counts: larger cpu, share, GPU
    count first), taken until they cover ``coverage`` of all tasks; frequencies are their
    counts divided by the covered total, so they sum to 1.

    ``keep_multi_gpu`` also keeps every shape taking two or more GPUs, however rare: such
    pods are few by count but large by volume, and only whole free GPUs on one node fit them.

    ``memory``: the host memory of each shape's pods, summed (``shape_memory``); the target
    then carries each shape's mean host memory.
    """
    if not 0 < coverage <= 1:
        raise ValueError(f"coverage must be in (0, 1], got {coverage}")
    total = sum(counts.values())
    chosen: list[tuple[Shape, int]] = []
    covered = 0
    for shape, n in sorted(counts.items(), key=_popularity, reverse=True):
        if covered >= coverage * total and not (keep_multi_gpu and shape[2] >= 2):
            continue
        chosen.append((shape, n))
        covered += n
    allowed = np.zeros((len(chosen), len(models) + 1), dtype=bool)
    for i, ((_, _, _, spec, _), _) in enumerate(chosen):
        allowed[i, : len(models)] = [spec is None or m in spec for m in models]
    return TargetWorkload(
        cpu_milli=np.array([s[0] for s, _ in chosen], dtype=np.int64),
        gpu_milli=np.array([s[1] for s, _ in chosen], dtype=np.int64),
        gpu_count=np.array([s[2] for s, _ in chosen], dtype=np.int64),
        model_allowed=allowed,
        weight=np.array([n / max(covered, 1) for _, n in chosen], dtype=np.float64),
        gpu_memory_mib=np.array([s[4] for s, _ in chosen], dtype=np.int64),
        memory_mib=None
        if memory is None
        else np.array([memory.get(s, 0) / n for s, n in chosen], dtype=np.float64),
    )


REFRESH_GROWTH = 8  # a learned target is rebuilt once the sample has grown by 1/8


def next_refresh(seen: int, refresh_pods: int) -> int:
    """When to rebuild a learned target workload last rebuilt after ``seen`` pods: once the
    sample has grown by an eighth (after every pod while 16 or fewer are seen), and at least
    every ``refresh_pods`` pods. The first pods' placements last: while few pods are seen,
    each one moves the mix (and the share plan made from it) most."""
    return max(1, seen + min(max(1, seen // REFRESH_GROWTH), refresh_pods))


class WorkloadLearner:
    """The target workload learned from the pods seen so far, for a policy that must not know
    the future (multi-GPU shapes always kept): every pod is counted as it arrives, and the
    target is rebuilt (and handed out only when the mix has moved) on ``next_refresh``'s
    schedule: after every pod while 16 or fewer are seen, then as the sample grows by an
    eighth, and at least every ``refresh_pods`` pods (rarely enough that per-node score
    caches stay useful, often enough to follow a changing mix). The simulator counts pods through
    ``observe``; the extender, whose pods come and go with its watches, hands its own counts
    (and host memory per shape) to ``refresh``."""

    def __init__(self, refresh_pods: int = 4096) -> None:
        if refresh_pods <= 0:
            raise ValueError(f"refresh_pods must be positive, got {refresh_pods}")
        self.refresh_pods = refresh_pods
        self.counts: Counter[Shape] = Counter()
        self.memory: Counter[Shape] = Counter()  # host memory per shape, summed
        self.seen = 0
        self._next = 1
        self._current: TargetWorkload | None = None

    def observe(
        self, demand: PodDemand, models: Sequence[str], keep_multi_gpu: bool = True
    ) -> TargetWorkload | None:
        """Count the pod; the new target workload over GPU ``models`` when one is due."""
        shape = shape_of(demand)
        self.counts[shape] += 1
        self.memory[shape] += demand.memory_mib
        self.seen += 1
        return self.refresh(self.counts, self.seen, models, keep_multi_gpu, memory=self.memory)

    def refresh(
        self,
        counts: Counter[Shape],
        seen: int,
        models: Sequence[str],
        keep_multi_gpu: bool = True,
        force: bool = False,
        memory: Mapping[Shape, int] | None = None,
    ) -> TargetWorkload | None:
        """The target workload of ``counts`` (``seen`` pods in all; ``memory``: their host
        memory per shape, summed) when a rebuild is due and the mix has moved since the last
        one handed out; with ``force``, now and whatever the mix (for a policy built afresh).
        The shapes' mean host memory is handed out with them: a move in it alone is no move
        of the mix."""
        if seen < self._next and not force:
            return None
        self._next = next_refresh(seen, self.refresh_pods)
        target = target_workload(counts, models, keep_multi_gpu=keep_multi_gpu, memory=memory)
        if not force and self._current is not None and same_mix(self._current, target):
            return None  # rescoring every node for nothing is what a refresh would cost
        self._current = target
        return target


def _by_shape(w: TargetWorkload) -> dict[tuple[int, int, int, bytes, int], float]:
    memory = w.gpu_memory_mib if w.gpu_memory_mib is not None else np.zeros(w.size, np.int64)
    return {
        (int(c), int(g), int(k), w.model_allowed[i].tobytes(), int(m)): float(w.weight[i])
        for i, (c, g, k, m) in enumerate(
            zip(w.cpu_milli, w.gpu_milli, w.gpu_count, memory, strict=True)
        )
    }


def same_mix(a: TargetWorkload, b: TargetWorkload, tolerance: float = 0.005) -> bool:
    """The same shapes (in any order), each frequency within ``tolerance``."""
    shapes_a, shapes_b = _by_shape(a), _by_shape(b)
    if shapes_a.keys() != shapes_b.keys() or a.model_allowed.shape != b.model_allowed.shape:
        return False
    return all(abs(shapes_a[k] - shapes_b[k]) <= tolerance for k in shapes_a)
