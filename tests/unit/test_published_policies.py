"""The published benchmark policies (spec: /tmp/spec-fgd-simulator.md §2-§6), numbers by hand."""

from __future__ import annotations

import numpy as np
import pytest

from snugfit.packing.cluster import ClusterState, GpuSpec, NodeSpec
from snugfit.packing.demand import PodDemand
from snugfit.packing.placement import Placement
from snugfit.packing.policies import POLICIES, PUBLISHED, Policy, PolicyContext, make_policy
from snugfit.packing.policies.bestfit import BestFit
from snugfit.packing.schedule import Scheduler


def policy(name: str, seed: int = 0) -> Policy:
    return make_policy(name, PolicyContext(np.random.default_rng(seed)))


def gpus(count: int, model: str = "A", memory: int = 0) -> tuple[GpuSpec, ...]:
    return (GpuSpec(model, memory),) * count


def vector_cluster() -> ClusterState:
    """The published normalisers: the largest node has 128 cores and 8 GPUs.

    node 0: 128000m / 8 GPUs with 64000m and 4 whole GPUs in use -> free (64000, 4000)
    node 1: 32000m / 2 GPUs, empty                                -> free (32000, 2000)
    node 2: 64000m, no GPU                                        -> free (64000, 0)
    """
    state = ClusterState.from_nodes(
        [
            NodeSpec("n0", 128000, 1 << 20, gpus(8)),
            NodeSpec("n1", 32000, 1 << 20, gpus(2)),
            NodeSpec("n2", 64000, 1 << 20),
        ]
    )
    state.apply(Placement(0, (0, 1, 2, 3), (1000,) * 4, 64000, 0))
    return state


# ---------------------------------------------------------------- registry
def test_registry_lists_every_policy() -> None:
    assert set(POLICIES) == {
        "random",
        "dotprod",
        "clustering",
        "packing",
        "bestfit",
        "fgd",
        "k8s-default",
        "k8s-mostallocated",
        "snugfit",
        "snugfit-oracle",
    }
    assert PUBLISHED == ("random", "dotprod", "clustering", "packing", "bestfit", "fgd")
    for name, factory in POLICIES.items():
        assert factory.name == name  # type: ignore[attr-defined]


def test_unknown_policy_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown policy 'tetris'; known policies: bestfit, "):
        policy("tetris")


def test_published_policies_break_ties_by_a_fixed_rank() -> None:
    ranks = {
        name: make_policy(name, PolicyContext(np.random.default_rng(0), None)).tie_break
        for name in PUBLISHED
        if name != "fgd"
    }
    assert ranks == {
        "random": "uniform",
        "dotprod": "rank",
        "clustering": "rank",
        "packing": "rank",
        "bestfit": "rank",
    }


# ---------------------------------------------------------------- BestFit (§2)
@pytest.mark.parametrize(
    ("demand", "expected"),
    [
        # node 0: s = .5*(64000-32000)/128000 + .5*(4000-1000)/8000 = .125 + .1875 = .3125
        #   -> int(68.75) = 68
        # node 1: s = .5*0/128000 + .5*(2000-1000)/8000 = .0625 -> int(93.75) = 93
        # node 2 cannot host a GPU pod; scored anyway: s = .5*.25 + .5*(-1000/8000) = .0625 -> 93
        (PodDemand(32000, 0, 1, 1000), [68, 93, 93]),
        # CPU pod 32000m: node 0 s = .125 + .25 = .375 -> 62; node 1 s = 0 + .125 -> 87;
        # node 2 s = .125 + 0 -> 87
        (PodDemand(32000, 0), [62, 87, 87]),
        # sharing 500 + 16000m: node 0 .5*.375 + .5*.4375 = .40625 -> int(59.375) = 59
        #   node 1 .5*.125 + .5*.1875 = .15625 -> 84
        (PodDemand(16000, 0, 1, 500), [59, 84, 84]),
    ],
)
def test_bestfit_raw_score(demand: PodDemand, expected: list[int]) -> None:
    state = vector_cluster()
    assert policy("bestfit").score(state, demand, np.arange(3)).tolist() == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ([68, 93], [0, 100]),
        # (s - 1) * 100 // 3: 0, 33, 100
        ([1, 2, 4], [0, 33, 100]),
        ([10, 11, 12, 13], [0, 33, 66, 100]),
        # hi == lo: every node 0
        ([5, 5], [0, 0]),
        ([50], [0]),
        # integer division merges close raws: (s - 0) * 100 // 300 -> 0, 0, 33, 100
        ([0, 2, 100, 300], [0, 0, 33, 100]),
    ],
)
def test_bestfit_normalize(raw: list[int], expected: list[int]) -> None:
    normalised = BestFit(PolicyContext(np.random.default_rng(0))).normalize(
        np.array(raw, dtype=np.float64)
    )
    assert normalised.tolist() == expected


def test_bestfit_scheduler_reports_normalised_scores() -> None:
    state = vector_cluster()
    scheduler = Scheduler(policy("bestfit"), np.random.default_rng(0))
    pod = PodDemand(32000, 0, 1, 1000)
    assert scheduler.scores(state, pod, np.array([0, 1])).tolist() == [0, 100]
    assert scheduler.decide(state, pod) == Placement(1, (0,), (1000,), 32000, 0)


# ---------------------------------------------------------------- DotProd (§5)
@pytest.mark.parametrize(
    ("demand", "expected"),
    [
        # node 0: d = (64000/128000)(32000/128000) + (4000/8000)(1000/8000)
        #           = .125 + .0625 = .1875 -> int(100 (1 - .09375)) = int(90.625) = 90
        # node 1: d = .25*.25 + .25*.125 = .09375 -> int(95.3125) = 95
        # node 2: d = .5*.25 + 0 = .125 -> int(93.75) = 93
        (PodDemand(32000, 0, 1, 1000), [90, 95, 93]),
        # CPU pod: only cpu matters: node 0 .125 -> 93; node 1 .0625 -> 96; node 2 .125 -> 93
        (PodDemand(32000, 0), [93, 96, 93]),
        # 2 whole GPUs, no CPU: node 0 .5*.25 = .125 -> 93; node 1 .25*.25 = .0625 -> 96
        (PodDemand(0, 0, 2, 1000), [93, 96, 100]),
    ],
)
def test_dotprod_score(demand: PodDemand, expected: list[int]) -> None:
    state = vector_cluster()
    assert policy("dotprod").score(state, demand, np.arange(3)).tolist() == expected


# ---------------------------------------------------------------- GpuPacking (§3)
def packing_score(node: NodeSpec, used: list[tuple[int, int]], demand: PodDemand) -> float:
    """Score of one node on which ``used`` lists (slot, milli) already taken."""
    state = ClusterState.from_nodes([node])
    for slot, milli in used:
        state.apply(Placement(0, (slot,), (milli,), 0, 0))
    return float(policy("packing").score(state, demand, np.array([0]))[0])


EIGHT = NodeSpec("n", 128000, 1 << 20, gpus(8))
WHOLE = PodDemand(1000, 0, 1, 1000)


@pytest.mark.parametrize(
    ("node", "used", "demand", "expected"),
    [
        # case 3, every GPU free: max(33 - f, f) for f free GPUs
        (EIGHT, [], WHOLE, 25),  # max(25, 8)
        (NodeSpec("n", 1000, 1000, gpus(2)), [], WHOLE, 31),  # max(31, 2)
        (NodeSpec("n", 1000, 1000, gpus(1)), [], PodDemand(0, 0, 1, 300), 32),  # max(32, 1)
        (NodeSpec("n", 1000, 1000, gpus(20)), [], WHOLE, 20),  # max(13, 20): the cap is f
        # case 2, the pod needs u idle GPUs on a used node: max(50 - u, 33)
        (EIGHT, [(0, 500)], PodDemand(0, 0, 2, 1000), 48),  # u = 2
        # sharing 600: ascending walk 500 (too small), then an idle GPU -> u = 1 -> 49
        (EIGHT, [(0, 500)], PodDemand(0, 0, 1, 600), 49),
        (NodeSpec("n", 1000, 1000, gpus(20)), [(0, 1)], PodDemand(0, 0, 18, 1000), 33),
        # case 1, only partly used GPUs: max(100 - R // 10, 50), R = sum of free percent
        (EIGHT, [(0, 500)], PodDemand(0, 0, 1, 300), 95),  # R = 50
        # least free first: GPU 1 (free 250) before GPU 0 (free 555): R = 25 -> 98
        (NodeSpec("n", 1000, 1000, gpus(2)), [(0, 445), (1, 750)], PodDemand(0, 0, 1, 200), 98),
        # percent floors per GPU: free 555 -> 55 -> 100 - 5 = 95
        (NodeSpec("n", 1000, 1000, gpus(2)), [(0, 445), (1, 900)], PodDemand(0, 0, 1, 200), 95),
        # CPU pods score 0 everywhere
        (EIGHT, [(0, 500)], PodDemand(1000, 0), 0),
        (EIGHT, [], PodDemand(1000, 0), 0),
    ],
)
def test_packing_tiers(
    node: NodeSpec, used: list[tuple[int, int]], demand: PodDemand, expected: int
) -> None:
    assert packing_score(node, used, demand) == expected


def test_packing_case_one_floor_of_fifty() -> None:
    # 8 GPUs of 1000 MiB, each with 10 milli in use (free 990 = 99%). A pod asking 100 MiB on
    # each of 8 GPUs needs 100 milli per GPU and no idle GPU: R = 8 * 99 = 792 ->
    # 100 - 79 = 21 -> raised to 50.
    node = NodeSpec("n", 1000, 1000, gpus(8, memory=1000))
    demand = PodDemand(0, 0, 8, gpu_memory_mib=100)
    assert packing_score(node, [(g, 10) for g in range(8)], demand) == 50


def test_packing_considers_only_gpus_of_allowed_models() -> None:
    # GPU 0 (model A) has 500 in use, GPU 1 (model B) is idle. A pod of 300 that accepts only
    # B can only go on GPU 1, an idle GPU on a used node: case 2, u = 1 -> 49.
    # The core walks GPU 0 (free 500 >= 300) first and scores case 1: 100 - 50 // 10 = 95.
    node = NodeSpec("n", 8000, 8000, (GpuSpec("A"), GpuSpec("B")))
    demand = PodDemand(1000, 0, 1, 300, allowed_models=frozenset({"B"}))
    state = ClusterState.from_nodes([node])
    state.apply(Placement(0, (0,), (500,), 0, 0))
    assert policy("packing").choose_gpus(state, demand, 0) == (1,)
    assert packing_score(node, [(0, 500)], demand) == 49


def test_packing_gpu_choice_is_best_fit() -> None:
    # free [1000, 250, 555, 1000]: a 200 pod takes the least free GPU that fits (slot 1);
    # two whole GPUs: the lowest-index idle ones (0, 3)
    state = ClusterState.from_nodes([NodeSpec("n", 1000, 1000, gpus(4))])
    state.apply(Placement(0, (1,), (750,), 0, 0))
    state.apply(Placement(0, (2,), (445,), 0, 0))
    assert policy("packing").choose_gpus(state, PodDemand(0, 0, 1, 200), 0) == (1,)
    assert policy("packing").choose_gpus(state, PodDemand(0, 0, 1, 300), 0) == (2,)
    assert policy("packing").choose_gpus(state, PodDemand(0, 0, 2, 1000), 0) == (0, 3)


# ---------------------------------------------------------------- GpuClustering (§4)
def clustering_cluster() -> ClusterState:
    """Largest node: 8 GPUs -> G = 8000.

    n0 (8 GPUs): one sharing pod (500)              free 7500 -> base 25*500//8000  = 1
    n1 (8 GPUs): a sharing pod + a whole-GPU pod    free 6500 -> base 25*1500//8000 = 4
    n2 (8 GPUs): empty                              free 8000 -> base 0
    n3 (8 GPUs): only a CPU pod                     free 8000 -> base 0
    n4 (4 GPUs): one 2-GPU pod                      free 2000 -> base 25*6000//8000 = 18
    """
    state = ClusterState.from_nodes(
        [NodeSpec(f"n{i}", 64000, 1 << 20, gpus(8)) for i in range(4)]
        + [NodeSpec("n4", 64000, 1 << 20, gpus(4))]
    )
    state.apply(Placement(0, (0,), (500,), 1000, 0))
    state.apply(Placement(1, (0,), (500,), 1000, 0))
    state.apply(Placement(1, (1,), (1000,), 1000, 0))
    state.apply(Placement(3, (), (), 1000, 0))
    state.apply(Placement(4, (0, 1), (1000, 1000), 1000, 0))
    return state


@pytest.mark.parametrize(
    ("demand", "expected"),
    [
        # sharing pod: n0 only sharing -> 1+75; n1 both kinds -> 4+50; n2, n3 no GPU pods ->
        # 0+25; n4 only whole-GPU pods -> 18+0
        (PodDemand(1000, 0, 1, 300), [76, 54, 25, 25, 18]),
        # a GPU-memory pod on one GPU counts as sharing
        (PodDemand(1000, 0, 1, gpu_memory_mib=100), [76, 54, 25, 25, 18]),
        # whole-GPU pod: n0 only other kind -> 1; n1 both -> 54; n2, n3 -> 25; n4 only its
        # kind -> 18+75
        (PodDemand(1000, 0, 1, 1000), [1, 54, 25, 25, 93]),
        (PodDemand(1000, 0, 3, 1000), [1, 54, 25, 25, 93]),
        # CPU pods score 0
        (PodDemand(1000, 0), [0, 0, 0, 0, 0]),
    ],
)
def test_clustering_bonuses(demand: PodDemand, expected: list[int]) -> None:
    state = clustering_cluster()
    assert policy("clustering").score(state, demand, np.arange(5)).tolist() == expected


# ---------------------------------------------------------------- Random (§6)
def test_random_scores_all_nodes_equal_and_draws_among_them() -> None:
    state = ClusterState.from_nodes([NodeSpec(f"n{i}", 1000, 1000, gpus(2)) for i in range(4)])
    chosen = set()
    for seed in range(40):
        scheduler = Scheduler(policy("random", seed), np.random.default_rng(seed))
        result = scheduler.decide(state, PodDemand(100, 0, 1, 500))
        assert isinstance(result, Placement)
        chosen.add(result.node)
    assert chosen == {0, 1, 2, 3}
    assert policy("random").score(state, PodDemand(100, 0), np.arange(4)).tolist() == [0] * 4


def test_random_gives_exclusive_pods_the_lowest_idle_gpus() -> None:
    state = ClusterState.from_nodes([NodeSpec("n", 1000, 1000, gpus(8))])
    state.apply(Placement(0, (1,), (200,), 0, 0))
    # idle GPUs: 0, 2, 3, ... -> a 2-GPU pod gets (0, 2) whatever the seed
    choices = {
        policy("random", seed).choose_gpus(state, PodDemand(0, 0, 2, 1000), 0) for seed in range(20)
    }
    assert choices == {(0, 2)}


def test_random_sharing_pod_gpu_is_uniform_among_fitting() -> None:
    # free [1000, 800, 100, 1000]: a 500 pod fits slots 0, 1, 3 (never 2)
    state = ClusterState.from_nodes([NodeSpec("n", 1000, 1000, gpus(4))])
    state.apply(Placement(0, (1,), (200,), 0, 0))
    state.apply(Placement(0, (2,), (900,), 0, 0))
    choices = {
        policy("random", seed).choose_gpus(state, PodDemand(0, 0, 1, 500), 0) for seed in range(40)
    }
    assert choices == {(0,), (1,), (3,)}
