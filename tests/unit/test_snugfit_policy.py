"""The snugfit policy: the CPU-capped fragmentation measure worked by hand, the online-learned
target workload, and decisions FGD gets wrong."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from snugfit.packing.cluster import ClusterState, GpuSpec, NodeSpec
from snugfit.packing.demand import PodDemand
from snugfit.packing.fragmentation import TargetWorkload, node_fragmentation
from snugfit.packing.lookahead import HostPerShare, host_per_gpu_share, host_stranded_share
from snugfit.packing.placement import Placement
from snugfit.packing.policies import PolicyContext, make_policy
from snugfit.packing.policies.snugfit import LOOKAHEAD_NODES, SnugfitOracle
from snugfit.packing.schedule import Scheduler
from snugfit.packing.workload import WorkloadLearner, shape_counts, target_workload


def one_gpu_shape(
    cpu: int,
    weight: float = 1.0,
    gpu_milli: int = 1000,
    gpu_count: int = 1,
    memory_mib: float | None = None,
) -> TargetWorkload:
    """A workload of one shape: ``cpu`` milli-CPU and one whole GPU (or ``gpu_count`` GPUs of
    ``gpu_milli`` each), and ``memory_mib`` of host memory where given."""
    return TargetWorkload(
        cpu_milli=np.array([cpu]),
        gpu_milli=np.array([gpu_milli]),
        gpu_count=np.array([gpu_count]),
        model_allowed=np.array([[True, False]]),
        weight=np.array([weight]),
        memory_mib=None if memory_mib is None else np.array([memory_mib]),
    )


@pytest.mark.parametrize(
    ("free", "cpu_free", "published", "capped"),
    [
        # 4 free GPUs, CPU for 4 pods of 8 cores: nothing stranded either way
        ([1000] * 4, 32000, 0.0, 0.0),
        # CPU for 2 pods only: FGD sees nothing wrong, the capped measure 2 stranded GPUs
        ([1000] * 4, 16000, 0.0, 2000.0),
        # CPU for 2.5 pods: 1.5 GPUs stranded (the measure is smooth in CPU)
        ([1000] * 4, 20000, 0.0, 1500.0),
        # CPU below one pod: every free GPU is stranded under both
        ([1000] * 4, 7999, 4000.0, 4000.0),
        # a partly used GPU is unusable for whole-GPU pods under both
        ([1000, 1000, 400, 0], 32000, 400.0, 400.0),
        ([1000, 1000, 400, 0], 8000, 400.0, 1400.0),
    ],
)
def test_capped_fragmentation_by_hand(
    free: list[int], cpu_free: int, published: float, capped: float
) -> None:
    wl = one_gpu_shape(8000)
    args = (np.array([free]), np.zeros((1, 4), dtype=np.int64), np.array([cpu_free]), wl)
    assert node_fragmentation(*args)[0] == pytest.approx(published)
    assert node_fragmentation(*args, cpu_capped=True)[0] == pytest.approx(capped)


def test_learner_refreshes_as_the_sample_grows_by_an_eighth_then_on_a_fixed_schedule() -> None:
    learner = WorkloadLearner(refresh_pods=4)
    pods = [
        PodDemand(cpu_milli=1000 * (i + 1), memory_mib=0, gpu_count=1, gpu_milli=1000)
        for i in range(45)
    ]  # every pod a new shape: the mix moves at every refresh
    due = [i + 1 for i, pod in enumerate(pods) if learner.observe(pod, ("A",)) is not None]
    # every pod up to 16, then +2 (16 // 8), +3 from 24, and at most 4 apart from 33
    assert due == [*range(1, 17), 18, 20, 22, 24, 27, 30, 33, 37, 41, 45]
    with pytest.raises(ValueError, match="refresh_pods"):
        WorkloadLearner(refresh_pods=0)


def test_learner_keeps_its_target_while_the_mix_stands_still() -> None:
    """A refresh that would hand out the same mix is skipped: it would only throw away every
    cached node score."""
    learner = WorkloadLearner(refresh_pods=4)
    a = PodDemand(cpu_milli=1000, memory_mib=0, gpu_count=1, gpu_milli=1000)
    b = PodDemand(cpu_milli=2000, memory_mib=0, gpu_count=1, gpu_milli=500)
    due = [i + 1 for i in range(16) if learner.observe(a, ("A",)) is not None]
    assert due == [1]  # due at every pod up to 16, but the mix is always the same
    assert learner.observe(b, ("A",)) is None  # 17 pods: not due (next at 18 = 16 + 16 // 8)
    moved = learner.observe(a, ("A",))  # 18: due, and 17:1 is a new mix
    assert moved is not None and sorted(moved.weight.tolist()) == pytest.approx([1 / 18, 17 / 18])


def test_learner_refreshes_counts_kept_elsewhere_and_when_forced() -> None:
    """The extender's counts come from its watches (pods also leave); it refreshes on the same
    schedule, and a policy built afresh gets the target whatever the schedule."""
    learner = WorkloadLearner(refresh_pods=4)
    a = PodDemand(cpu_milli=1000, memory_mib=0, gpu_count=1, gpu_milli=1000)
    counts = shape_counts([a])
    assert learner.refresh(counts, 1, ("A",)) is not None  # due at 1
    assert learner.refresh(counts, 1, ("A",)) is None  # next due at 2
    forced = learner.refresh(counts, 1, ("A",), force=True)  # same mix, not due: forced
    assert forced is not None and forced.weight.tolist() == [1.0]
    assert learner.refresh(counts, 2, ("A",)) is None  # due, but the mix has not moved


def test_learner_targets_only_the_pods_seen() -> None:
    learner = WorkloadLearner()
    small = PodDemand(cpu_milli=1000, memory_mib=0, gpu_count=1, gpu_milli=300)
    big = PodDemand(cpu_milli=8000, memory_mib=0, gpu_count=8, gpu_milli=1000)
    first = learner.observe(small, ("A",))
    assert first is not None and first.gpu_count.tolist() == [1]
    second = learner.observe(big, ("A",))
    assert second is not None
    expected = target_workload(shape_counts([small, big]), ("A",))
    assert second.gpu_count.tolist() == expected.gpu_count.tolist()
    assert second.weight.tolist() == expected.weight.tolist() == [0.5, 0.5]


def cpu_tight_and_cpu_rich() -> ClusterState:
    """n0: 8 GPUs and 96 cores (12 per GPU); n1: 2 GPUs and 104 cores (52 per GPU)."""
    return ClusterState.from_nodes(
        [
            NodeSpec("n0", 96000, 1 << 20, (GpuSpec("A"),) * 8),
            NodeSpec("n1", 104000, 1 << 20, (GpuSpec("A"),) * 2),
        ]
    )


def scheduler(name: str, wl: TargetWorkload | None, seed: int) -> Scheduler:
    rng = np.random.default_rng(seed)
    return Scheduler(make_policy(name, PolicyContext(rng, wl)), rng)


GPU_POD = PodDemand(cpu_milli=12000, memory_mib=0, gpu_count=1, gpu_milli=1000)
CPU_POD = PodDemand(cpu_milli=32000, memory_mib=0)


@pytest.mark.parametrize("seed", range(8))
def test_cpu_only_pod_goes_where_cpu_is_spare(seed: int) -> None:
    """Once 1-GPU pods of 12 cores have been seen, a 32-core CPU-only pod belongs on n1:
    on n0 it would leave CPU for 5 of the 8 GPUs. FGD sees no difference (the node can still
    host the shape) and leaves it to the fixed node order."""
    state = cpu_tight_and_cpu_rich()
    sched = scheduler("snugfit", None, seed)
    for _ in range(4):
        sched.observe(state, GPU_POD)
    sched.observe(state, CPU_POD)
    decision = sched.decide(state, CPU_POD)
    assert isinstance(decision, Placement) and decision.node == 1


def test_fgd_leaves_the_cpu_only_pod_to_the_node_order() -> None:
    wl = target_workload(shape_counts([GPU_POD] * 4 + [CPU_POD]), ("A",))
    nodes = set()
    for seed in range(16):
        decision = scheduler("fgd", wl, seed).decide(cpu_tight_and_cpu_rich(), CPU_POD)
        assert isinstance(decision, Placement)
        nodes.add(decision.node)
    assert nodes == {0, 1}


def test_snugfit_ignores_the_trace_mix_it_is_handed_and_the_oracle_uses_it() -> None:
    """The simulator hands every policy the whole trace's mix; snugfit must not read it."""
    future = target_workload(shape_counts([GPU_POD] * 4 + [CPU_POD]), ("A",))
    learned = scheduler("snugfit", future, 0)
    assert learned.policy.workload.size == 0  # type: ignore[attr-defined]
    oracle = scheduler("snugfit-oracle", future, 0)
    assert oracle.policy.workload is future  # type: ignore[attr-defined]
    oracle.observe(cpu_tight_and_cpu_rich(), CPU_POD)  # an oracle does not learn
    assert oracle.policy.workload is future  # type: ignore[attr-defined]


def test_retarget_keeps_the_node_order_and_drops_cached_scores() -> None:
    state = cpu_tight_and_cpu_rich()
    sched = scheduler("snugfit", None, 3)
    sched.observe(state, GPU_POD)
    sched.decide(state, GPU_POD)
    rank = sched.rank(state.num_nodes)
    cache = sched.cache
    sched.retarget(target_workload(shape_counts([CPU_POD]), ("A",)))
    assert sched.rank(state.num_nodes) is rank
    assert sched.cache is not cache


def test_learned_targets_keep_rare_multi_gpu_shapes() -> None:
    """FGD's target covers 95 % of tasks by count, which drops rare 8-GPU shapes; a learned
    target keeps every shape of two or more GPUs."""
    eight = PodDemand(cpu_milli=64000, memory_mib=0, gpu_count=8, gpu_milli=1000)
    counts = shape_counts([GPU_POD] * 98 + [CPU_POD, eight])
    published = target_workload(counts, ("A",))
    assert published.gpu_count.tolist() == [1]  # 98 % covered by one shape
    kept = target_workload(counts, ("A",), keep_multi_gpu=True)
    assert sorted(kept.gpu_count.tolist()) == [1, 8]
    assert kept.weight.sum() == pytest.approx(1.0)
    learner = WorkloadLearner(refresh_pods=1)  # a new target after every pod
    for demand in [GPU_POD] * 98 + [CPU_POD]:
        learner.observe(demand, ("A",))
    learned = learner.observe(eight, ("A",))
    assert learned is not None and 8 in learned.gpu_count.tolist()


def share_mix_workload() -> TargetWorkload:
    """Pods of 600 and 400 milli-GPU (one core each) and pods of one whole GPU, a third each."""
    return TargetWorkload(
        cpu_milli=np.array([1000, 1000, 1000]),
        gpu_milli=np.array([600, 400, 1000]),
        gpu_count=np.array([1, 1, 1]),
        model_allowed=np.array([[True, False]] * 3),
        weight=np.full(3, 1 / 3),
    )


def share_cluster(
    free: list[list[int]], cores: list[int] | None = None, memory_mib: list[int] | None = None
) -> ClusterState:
    """One node per row of free shares (GPUs of one model), free cores (64 by default) and free
    host memory (none by default)."""
    cpu = cores or [64000] * len(free)
    memory = memory_mib or [0] * len(free)
    nodes = [
        NodeSpec(f"n{i}", cpu[i], memory[i], (GpuSpec("A", 0),) * len(row))
        for i, row in enumerate(free)
    ]
    state = ClusterState.from_nodes(nodes)
    for i, row in enumerate(free):
        for g, left in enumerate(row):
            if left < 1000:
                state.apply(
                    Placement(
                        node=i, gpu_slots=(g,), gpu_milli=(1000 - left,), cpu_milli=0, memory_mib=0
                    )
                )
    return state


def test_look_ahead_ranks_only_the_best_nodes_of_the_best_tier() -> None:
    """Nodes in another lift tier keep their scores; of the best tier's, the one whose key is
    least is lifted above every other node, however far below the best its published score
    is."""
    policy = make_policy(
        "snugfit-oracle", PolicyContext(np.random.default_rng(0), share_mix_workload())
    )
    # no node is idle, so none is set aside: the key decides
    state = share_cluster([[700, 1000], [1000, 700], [1000, 400], [1000, 400]])
    pod = PodDemand(cpu_milli=1000, memory_mib=0, gpu_count=1, gpu_milli=400)
    nodes = np.arange(4)
    # node 2 is 20 points below the best, node 3 in the tier below (no plan lift)
    scores = np.array([150.0, 148.0, 130.0, 100.0])
    lifted = policy.look_ahead(state, pod, nodes, scores)  # type: ignore[attr-defined]
    assert lifted[3] == 100.0
    # the 400 completes n2's waiting GPU: nothing is left for any pod to miss, and it opens
    # no GPU that a whole-GPU pod could have used
    assert lifted[2] == 151.0
    assert lifted[:2].tolist() == [150.0, 148.0]


def test_look_ahead_ranks_at_most_the_best_few_nodes() -> None:
    """Only the ``LOOKAHEAD_NODES`` best nodes are ranked: a node past them keeps its score
    even where its key would be least."""
    policy = make_policy(
        "snugfit-oracle", PolicyContext(np.random.default_rng(0), share_mix_workload())
    )
    rows = [[1000, 1000]] * LOOKAHEAD_NODES + [[1000, 400]]
    state = share_cluster(rows)
    pod = PodDemand(cpu_milli=1000, memory_mib=0, gpu_count=1, gpu_milli=400)
    scores = np.array([150.0] * LOOKAHEAD_NODES + [149.0])
    lifted = policy.look_ahead(state, pod, np.arange(len(rows)), scores)  # type: ignore[attr-defined]
    assert lifted[-1] == 149.0


class SnugfitOracleWithoutLookAhead(SnugfitOracle):
    name = "snugfit-oracle-without-look-ahead"
    looks_ahead = False


def cpu_mix_workload() -> TargetWorkload:
    """300- and 500-milli pods (2 and 4 cores), 1-GPU pods of 8 cores, 2-GPU pods of 1 core."""
    return TargetWorkload(
        cpu_milli=np.array([2000, 4000, 8000, 1000]),
        gpu_milli=np.array([300, 500, 1000, 1000]),
        gpu_count=np.array([1, 1, 1, 2]),
        model_allowed=np.array([[True, False]] * 4),
        weight=np.array([0.3, 0.3, 0.3, 0.1]),
    )


def three_tied_nodes() -> ClusterState:
    """Two nodes with 14 free cores and one with 30, each with a fully free GPU that a
    500-milli pod would take half of and the same published score for it."""
    free = [[300, 1000, 1000, 300], [300, 1000, 1000, 300], [700, 1000, 300, 1000]]
    return share_cluster(free, [14000, 14000, 30000])


def test_look_ahead_sends_the_pod_where_the_next_pod_fares_best() -> None:
    """A 4-core 500-milli pod scores the same on all three nodes. On a 14-core node it leaves
    10 cores: a next 500-milli pod there completes the half-used GPU but leaves 6 cores, too
    few for the mix's 8-core whole-GPU pods (growth +100); on the 30-core node it completes the
    GPU with CPU to spare (-200). Look-ahead takes the 30-core node; without it the node order
    decides among the three."""
    pod = PodDemand(cpu_milli=4000, memory_mib=0, gpu_count=1, gpu_milli=500)
    with_look_ahead: set[int] = set()
    without: set[int] = set()
    for seed in range(12):
        for policy, chosen in (
            (SnugfitOracle, with_look_ahead),
            (SnugfitOracleWithoutLookAhead, without),
        ):
            rng = np.random.default_rng(seed)
            sched = Scheduler(policy(PolicyContext(rng, cpu_mix_workload())), rng)
            decision = sched.decide(three_tied_nodes(), pod)
            assert isinstance(decision, Placement)
            chosen.add(decision.node)
    assert with_look_ahead == {2}
    assert without == {0, 1, 2}


class SnugfitOracleSettingNothingAside(SnugfitOracle):
    name = "snugfit-oracle-setting-nothing-aside"
    sets_aside_idle_nodes = False


def test_look_ahead_sets_aside_a_node_it_would_open_where_another_stays_whole() -> None:
    """A whole-GPU pod scores 157 on an idle 4-GPU node, the only room for the mix's 4-GPU
    pods, and 152 on a node already in use: both near the best. Ranked by the next pod alone
    the idle node would win (as it does on score alone); look-ahead sets it aside and ranks
    the rest, so the pod goes to the node in use."""
    workload = TargetWorkload(
        cpu_milli=np.array([2000, 2000, 4000, 8000]),
        gpu_milli=np.array([300, 1000, 500, 1000]),
        gpu_count=np.array([1, 1, 1, 4]),
        model_allowed=np.array([[True, False]] * 4),
        weight=np.array([0.225, 0.622, 0.133, 0.02]),
    )
    state = share_cluster([[1000] * 4, [1000, 300, 300, 1000]], [8000, 16000])
    pod = PodDemand(cpu_milli=1000, memory_mib=0, gpu_count=1, gpu_milli=1000)
    nodes = np.arange(2)
    chosen: dict[str, int] = {}
    for policy in (SnugfitOracle, SnugfitOracleWithoutLookAhead, SnugfitOracleSettingNothingAside):
        rng = np.random.default_rng(0)
        scheduler = Scheduler(policy(PolicyContext(rng, workload)), rng)
        assert scheduler.policy.score(state, pod, nodes).tolist() == [157.0, 152.0]
        decision = scheduler.decide(state, pod)
        assert isinstance(decision, Placement)
        chosen[policy.name] = decision.node
    assert chosen == {
        "snugfit-oracle": 1,
        "snugfit-oracle-without-look-ahead": 0,
        "snugfit-oracle-setting-nothing-aside": 0,
    }


def test_host_per_gpu_share_counts_cpu_only_pods_and_leaves_out_memory_sized_ones() -> None:
    """Half the pods take 500 milli, 4 cores and 8 GiB, a quarter are CPU-only with 8 cores and
    16 GiB, a quarter take 2 GPUs sized in GPU memory with 64 cores: (0.5 * 4,000 + 0.25 *
    8,000) CPU over 0.5 * 500 share, 16 milli-cores per milli-GPU, and (0.5 * 8 + 0.25 * 16)
    GiB over it, 32.768 MiB; the memory-sized shape counts for neither. Without host memory in
    the workload, memory counts 0; without share, both do."""
    workload = TargetWorkload(
        cpu_milli=np.array([4000, 8000, 64000]),
        gpu_milli=np.array([500, 0, 0]),
        gpu_count=np.array([1, 0, 2]),
        model_allowed=np.array([[True, False]] * 3),
        weight=np.array([0.5, 0.25, 0.25]),
        gpu_memory_mib=np.array([0, 0, 20000]),
        memory_mib=np.array([8192.0, 16384.0, 500000.0]),
    )
    assert host_per_gpu_share(workload) == HostPerShare(16.0, 32.768)
    assert host_per_gpu_share(one_gpu_shape(8000, gpu_milli=500)) == HostPerShare(16.0, 0.0)
    cpu_only = one_gpu_shape(8000, gpu_milli=0, gpu_count=0, memory_mib=4096.0)
    assert host_per_gpu_share(cpu_only) == HostPerShare(0.0, 0.0)


def test_host_stranded_share_is_the_share_beyond_what_cpu_or_memory_serves() -> None:
    """At 8 milli-cores and 16 MiB per milli-GPU: 2,000 free with 8 cores serves 1,000 (1,000
    stranded); with 40 cores and 64 GiB all of it; with 40 cores and 8 GiB 512 (1,488
    stranded); a node without free GPUs strands nothing; a resource at 0 is not counted."""
    free = np.array([[1000, 1000], [1000, 1000], [1000, 1000], [0, 0]])
    cpu = np.array([8000, 40000, 40000, 0])
    memory = np.array([65536, 65536, 8192, 0])
    both = HostPerShare(8.0, 16.0)
    assert host_stranded_share(free, cpu, memory, both).tolist() == [1000.0, 0.0, 1488.0, 0.0]
    cpu_only = HostPerShare(8.0, 0.0)
    assert host_stranded_share(free, cpu, memory, cpu_only).tolist() == [1000.0, 0.0, 0.0, 0.0]
    neither = HostPerShare(0.0, 0.0)
    assert host_stranded_share(free, cpu, memory, neither).tolist() == [0.0] * 4


class SnugfitOracleBalancingSharingPodsCpu(SnugfitOracle):
    """Look-ahead balancing only CPU, and only for sharing pods (the policy before host memory
    and every pod counted)."""

    name = "snugfit-oracle-balancing-sharing-pods-cpu"
    balanced_kinds = frozenset({"sharing"})
    balances_memory = False


class SnugfitOracleNotBalancing(SnugfitOracle):
    name = "snugfit-oracle-not-balancing"
    balanced_kinds: frozenset[str] = frozenset()


def chosen_nodes(
    policies: dict[str, type[SnugfitOracle]],
    workload: TargetWorkload,
    state_of: Callable[[], ClusterState],
    pod: PodDemand,
) -> dict[str, set[int]]:
    """The nodes each policy puts ``pod`` on, over 12 seeds (the node order for ties)."""
    chosen: dict[str, set[int]] = {key: set() for key in policies}
    for seed in range(12):
        for key, policy in policies.items():
            rng = np.random.default_rng(seed)
            scheduler = Scheduler(policy(PolicyContext(rng, workload)), rng)
            decision = scheduler.decide(state_of(), pod)
            assert isinstance(decision, Placement)
            chosen[key].add(decision.node)
    return chosen


def test_look_ahead_leaves_cpu_for_the_gpus_still_free() -> None:
    """A mix of 500-milli, 4-core pods alone (8 cores per GPU), two idle 2-GPU nodes with 16
    and 40 free cores, and an 8-core 500-milli pod. FGD's measure scores it alike on both
    (each keeps more cores than a next pod asks), and so does the next pod. On the 16-core
    node it would leave 8 cores for 1,500 milli of free share, CPU for 1,000 of it at the
    mix's 8 cores per GPU: 500 stranded, and none on the 40-core node. Look-ahead takes the
    40-core node; without counting that, the node order decides."""
    chosen = chosen_nodes(
        {"balancing": SnugfitOracle, "not": SnugfitOracleNotBalancing},
        one_gpu_shape(4000, gpu_milli=500),
        lambda: share_cluster([[1000, 1000], [1000, 1000]], [16000, 40000]),
        PodDemand(cpu_milli=8000, memory_mib=0, gpu_count=1, gpu_milli=500),
    )
    assert chosen == {"balancing": {1}, "not": {0, 1}}


@pytest.mark.parametrize(
    ("gpu_milli", "pod_memory"),
    [
        # a sharing pod of 32 GiB: 32 left on the 64-GiB node serve 1,000 of the 1,500 free
        (500, 32768),
        # a whole-GPU pod (scored by the CPU-capped measure, blind to memory) of 40 GiB: 24
        # left serve 750 of the 1,000 free
        (1000, 40960),
    ],
)
def test_look_ahead_leaves_host_memory_for_the_gpus_still_free(
    gpu_milli: int, pod_memory: int
) -> None:
    """A mix of pods with 4 cores and 16 GiB per 500 milli (32 MiB per milli-GPU), two idle
    2-GPU nodes with 64 cores each, one with 64 GiB of host memory, one with 160 GiB. FGD's
    measure and the next pod score the pod alike on both; on the 64-GiB node it strands
    share whose pods would find no memory, on the 160-GiB node none. Look-ahead takes the
    160-GiB node; balancing CPU alone (sharing pods only, as before), the node order decides."""
    workload = one_gpu_shape(
        4000 * gpu_milli // 500, gpu_milli=gpu_milli, memory_mib=32.0 * gpu_milli
    )
    chosen = chosen_nodes(
        {"balancing": SnugfitOracle, "cpu": SnugfitOracleBalancingSharingPodsCpu},
        workload,
        lambda: share_cluster([[1000, 1000], [1000, 1000]], None, [65536, 163840]),
        PodDemand(cpu_milli=4000, memory_mib=pod_memory, gpu_count=1, gpu_milli=gpu_milli),
    )
    assert chosen == {"balancing": {1}, "cpu": {0, 1}}
