"""What each idea in the snugfit policy is worth, on one trace, seeds 42..51 of the published
protocol: unallocated GPU % at 100 % arrived (mean ± SD), the worst gap to FGD at any arrival
level 0..130 % (mean curves), and microseconds per decision.

Variants, each one change from the row above it:
  fgd                  as published: the whole trace's task mix known in advance
  fgd-learned          the mix learned from the pods seen so far (what the extender knows),
                       shapes of several GPUs kept in it however rare
  +capped-cpu-only     CPU-only pods scored with the CPU-capped measure
  +capped-whole        ... and pods taking whole GPUs too
  +share-plan          sharing pods first where the share plan of the learned mix puts them
                       (GPU contents of the tightest offline packing of the mix)
  +plan-cpu            ... on plan only where the node keeps CPU for the pod that would
                       complete the GPU
  +model-reserve       ... and pods that may use several GPU models first on models with
                       spare capacity
  +look-ahead          ... and, among the best few nodes (within 5 published-score points of
                       the best), the one whose placement also suits the next pod of the mix
                       best (one arrival of look-ahead)
  +idle-set-aside      ... where some of those nodes would open an idle node and some would
                       not, those that would are set aside
  +host-reserve        ... and pods go first to nodes where they leave the hosts of rare
                       multi-GPU shapes (few nodes fit them) to those shapes
  +cpu-balance         ... and look-ahead ranks sharing pods also by the growth of the
                       share that the node's CPU strands at the mix's CPU per GPU share
  +memory-balance      ... and by the share that its host memory strands at the mix's
                       memory per GPU share
  +every-pod-balanced  ... and every pod so (balanced_kinds)
  snugfit              ... and the best few nodes however far below the best their scores
                       are (no band): the policy
  bfd-share-plan       snugfit with the share plan made by best-fit decreasing alone
  -multi-gpu-shapes    snugfit with rare multi-GPU shapes left out of the learned target
                       (as FGD's 95 % coverage does): nodes are no longer kept whole
  +capped-sharing      snugfit with sharing pods capped too (rejected: worse at 100 %)
  snugfit-oracle       snugfit given the whole trace's mix, as FGD is (a bound, not a policy)

    python tests/benchmarks/snugfit_ablation.py [--trace default] [--seeds 42-51]
                                                [--out FILE] [--variants a,b,...]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from snugfit.packing.fragmentation import TargetWorkload
from snugfit.packing.policies.registry import POLICIES
from snugfit.packing.policies.snugfit import Snugfit
from snugfit.packing.share_plan import SharePlan, best_fit_decreasing, share_plan
from snugfit.simulations.metrics import CURVE_LEVELS, mean_sd, unallocated_pct_at
from snugfit.simulations.runner import RunResult, RunSpec, default_workers, run_all
from snugfit.simulations.seeds import parse_seeds
from snugfit.simulations.traces import resolve

BAND = 5.0  # look-ahead's candidates within 5 published-score points of the best, as first built


class FgdLearned(Snugfit):
    name = "fgd-learned"
    reserves_hosts = False
    capped_kinds = frozenset()
    follows_share_plan = False
    reserves_models = False
    looks_ahead = False


class CappedCpuOnly(Snugfit):
    name = "+capped-cpu-only"
    reserves_hosts = False
    capped_kinds = frozenset({"cpu-only"})
    follows_share_plan = False
    reserves_models = False
    looks_ahead = False


class CappedWhole(Snugfit):
    name = "+capped-whole"
    reserves_hosts = False
    follows_share_plan = False
    reserves_models = False
    looks_ahead = False


class SharePlanWithoutCpu(Snugfit):
    name = "+share-plan"
    reserves_hosts = False
    reserves_models = False
    looks_ahead = False

    def _plan_for(self, workload: TargetWorkload) -> SharePlan:
        plan = super()._plan_for(workload)
        return SharePlan(plan.joins, np.zeros_like(plan.completing_cpu))


class PlanWithCpu(Snugfit):
    name = "+plan-cpu"
    reserves_hosts = False
    reserves_models = False
    looks_ahead = False


class ModelReserveNoLookAhead(Snugfit):
    name = "+model-reserve"
    reserves_hosts = False
    looks_ahead = False


class LookAheadWithoutSettingAside(Snugfit):
    name = "+look-ahead"
    look_ahead_band = BAND
    reserves_hosts = False
    sets_aside_idle_nodes = False
    balanced_kinds: frozenset[str] = frozenset()


class IdleNodesSetAside(Snugfit):
    name = "+idle-set-aside"
    look_ahead_band = BAND
    reserves_hosts = False
    balanced_kinds: frozenset[str] = frozenset()


class HostReserve(Snugfit):
    name = "+host-reserve"
    look_ahead_band = BAND
    balanced_kinds: frozenset[str] = frozenset()


class CpuBalance(Snugfit):
    name = "+cpu-balance"
    look_ahead_band = BAND
    balanced_kinds = frozenset({"sharing"})
    balances_memory = False


class MemoryBalance(Snugfit):
    name = "+memory-balance"
    look_ahead_band = BAND
    balanced_kinds = frozenset({"sharing"})


class EveryPodBalanced(Snugfit):
    name = "+every-pod-balanced"
    look_ahead_band = BAND


class BestFitDecreasingPlan(Snugfit):
    name = "bfd-share-plan"

    def _plan_for(self, workload: TargetWorkload) -> SharePlan:
        return share_plan(workload, packer=best_fit_decreasing)


class WithoutMultiGpuShapes(Snugfit):
    name = "-multi-gpu-shapes"
    keeps_multi_gpu_shapes = False


class CappedAll(Snugfit):
    name = "+capped-sharing"
    capped_kinds = frozenset({"cpu-only", "whole", "sharing"})


# registered at import, so that the worker processes (forked from this one) know them too
for variant in (
    FgdLearned,
    CappedCpuOnly,
    CappedWhole,
    SharePlanWithoutCpu,
    PlanWithCpu,
    ModelReserveNoLookAhead,
    LookAheadWithoutSettingAside,
    IdleNodesSetAside,
    HostReserve,
    CpuBalance,
    MemoryBalance,
    EveryPodBalanced,
    BestFitDecreasingPlan,
    WithoutMultiGpuShapes,
    CappedAll,
):
    POLICIES[variant.name] = variant

VARIANTS = (
    "fgd",
    "fgd-learned",
    "+capped-cpu-only",
    "+capped-whole",
    "+share-plan",
    "+plan-cpu",
    "+model-reserve",
    "+look-ahead",
    "+idle-set-aside",
    "+host-reserve",
    "+cpu-balance",
    "+memory-balance",
    "+every-pod-balanced",
    "snugfit",
    "bfd-share-plan",
    "-multi-gpu-shapes",
    "+capped-sharing",
    "snugfit-oracle",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trace", default="default", help="a shipped trace or an openb name")
    parser.add_argument("--traces-dir", type=Path, default=Path("../shared/traces"))
    parser.add_argument("--seeds", default="42-51")
    parser.add_argument("--out", type=Path, help="also write the numbers here as JSON")
    parser.add_argument(
        "--variants",
        help="comma-separated: run only these (and fgd, the reference of the worst gap); "
        "rows of other variants already in --out are kept",
    )
    args = parser.parse_args()
    variants: tuple[str, ...] = VARIANTS
    if args.variants:
        chosen = set(args.variants.split(","))
        if unknown := chosen - set(VARIANTS):
            parser.error(f"unknown variants: {', '.join(sorted(unknown))}")
        variants = tuple(v for v in VARIANTS if v in chosen or v == "fgd")
    pods = args.traces_dir / "alibaba-gpu-v2023" / f"openb_pod_list_{args.trace}.csv"
    nodes = args.traces_dir / "alibaba-gpu-v2023" / "openb_node_list_gpu_node.csv"
    shipped = args.trace == "default"
    _, trace = resolve(args.trace, None if shipped else pods, None if shipped else nodes)
    seeds = parse_seeds(args.seeds)
    specs = [RunSpec(v, s) for v in variants for s in seeds]
    results = run_all(trace, specs, default_workers())
    curves: dict[str, np.ndarray] = {}
    kept = args.variants and args.out and args.out.exists()
    report: dict[str, dict[str, float]] = json.loads(args.out.read_text()) if kept else {}
    print(f"trace {args.trace}, seeds {args.seeds}")
    print(f"{'variant':18s} {'unalloc @100%':>15s} {'worst vs fgd':>13s} {'us/decision':>12s}")
    for variant in variants:
        runs = [r for r in results if isinstance(r, RunResult) and r.spec.policy == variant]
        at_100 = [float(unallocated_pct_at(r.log, [100])[0]) for r in runs]
        curves[variant] = np.mean([unallocated_pct_at(r.log, CURVE_LEVELS) for r in runs], axis=0)
        worst = float(np.max(curves[variant] - curves["fgd"]))
        us = float(np.mean([1e6 * r.seconds / len(r.log.arrived) for r in runs]))
        mean, sd = mean_sd(at_100)
        report[variant] = {"mean": mean, "sd": sd, "worst_vs_fgd": worst, "us_per_decision": us}
        print(f"{variant:18s} {mean:8.2f} ± {sd:4.2f} {worst:+13.2f} {us:12.0f}")
    if args.out:
        ordered = {v: report[v] for v in VARIANTS if v in report}
        args.out.write_text(json.dumps(ordered, indent=1))


if __name__ == "__main__":
    main()
