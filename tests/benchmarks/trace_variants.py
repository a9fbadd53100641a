"""Workload variants built from the default trace, past the published ones: how snugfit
generalises to mixes it was never measured on.

The published benchmark also runs variants of the default trace that are not in the shared
traces (more CPU-only pods, more GPU sharing, more multi-GPU pods, more model constraints).
This builds such variants from the default trace, one knob at a time, by a construction
stated here and checked against the shared variants it can rebuild:

  cpuF        CPU-only pods make F % of all pods (GPU pods kept; CPU-only pods sampled from
              the default trace's, with replacement when more are needed)
  multigpuF   clones of the default trace's multi-GPU pods are added until they carry F % of
              the GPU request
  gpushareF   GPU pods that are not sharing are replaced, in random order, by clones of the
              default trace's sharing pods until sharing pods carry F % of the GPU request
              (the number of pods stays the same)
  gpuspecF    GPU pods without a model constraint get one, in random order, until F % of the
              GPU pods have one; each takes the constraint of a random pod of the same kind
              (sharing, one whole GPU, several GPUs) among the constrained pods of gpuspec20

Then FGD (the whole mix known in advance, as published) and snugfit (learning the mix online)
run the published protocol on each variant, seeds 42..51. With ``--check``, the variants that
the shared traces hold (cpu200, gpushare80, multigpu30, gpuspec20) are also built and run next
to the shared files, to show how close the construction comes to the published one.

    python tests/benchmarks/trace_variants.py [--variants cpu250,multigpu50,...] [--check]
                                              [--policies fgd,snugfit] [--seeds 42-51]
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np

from snugfit.packing.demand import PodDemand
from snugfit.packing.policies.snugfit import pod_kind
from snugfit.simulations.metrics import mean_sd, unallocated_pct_at
from snugfit.simulations.published import PUBLISHED_HELD_OUT_AT_100
from snugfit.simulations.runner import RunResult, RunSpec, default_workers, run_all
from snugfit.simulations.seeds import parse_seeds
from snugfit.simulations.traces import load_nodes, load_pods
from snugfit.simulations.workload_model import Trace, TracePod

BUILD_SEED = 2023  # the variants' own random stream: one fixed variant per name
HELD_OUT = ("cpu250", "gpushare100", "multigpu40", "multigpu50", "gpuspec25", "gpuspec33")
SHARED = ("cpu200", "gpushare80", "multigpu30", "gpuspec20")
Pods = list[TracePod]


def kind(demand: PodDemand) -> str:
    """The policy's pod kinds, with pods of several GPUs told apart from one-GPU ones."""
    return "multi" if demand.gpu_count > 1 else pod_kind(demand)


def gpu_request(pods: Pods, kinds: set[str] | None = None) -> int:
    return sum(p.demand.total_gpu_milli for p in pods if kinds is None or kind(p.demand) in kinds)


def clone(pod: TracePod, n: int) -> TracePod:
    return replace(pod, name=f"{pod.name}-v{n:05d}")


def cpu_variant(base: Pods, fraction: float, rng: np.random.Generator) -> Pods:
    gpu = [p for p in base if p.demand.gpu_count]
    cpu = [p for p in base if not p.demand.gpu_count]
    want = round(fraction * len(gpu) / (1 - fraction))
    if want <= len(cpu):
        keep = sorted(rng.choice(len(cpu), size=want, replace=False))
        return gpu + [cpu[i] for i in keep]
    extra = rng.choice(len(cpu), size=want - len(cpu))
    return gpu + cpu + [clone(cpu[i], n) for n, i in enumerate(extra)]


def multigpu_variant(base: Pods, fraction: float, rng: np.random.Generator) -> Pods:
    donors = [p for p in base if kind(p.demand) == "multi"]
    pods, multi, total = list(base), gpu_request(base, {"multi"}), gpu_request(base)
    while multi < fraction * total:
        pod = clone(donors[int(rng.integers(len(donors)))], len(pods))
        pods.append(pod)
        multi += pod.demand.total_gpu_milli
        total += pod.demand.total_gpu_milli
    return pods


def gpushare_variant(base: Pods, fraction: float, rng: np.random.Generator) -> Pods:
    donors = [p for p in base if kind(p.demand) == "sharing"]
    pods = list(base)
    sharing, total = gpu_request(pods, {"sharing"}), gpu_request(pods)
    for i in rng.permutation(len(pods)):
        if sharing >= fraction * total:
            break
        if kind(pods[i].demand) not in ("whole", "multi"):
            continue
        donor = donors[int(rng.integers(len(donors)))]
        total += donor.demand.total_gpu_milli - pods[i].demand.total_gpu_milli
        sharing += donor.demand.total_gpu_milli
        pods[i] = replace(pods[i], demand=donor.demand)
    return pods


def gpuspec_variant(
    base: Pods, fraction: float, rng: np.random.Generator, constrained: Pods
) -> Pods:
    donors: dict[str, list[frozenset[str]]] = {}
    for p in constrained:
        if p.demand.allowed_models is not None:
            donors.setdefault(kind(p.demand), []).append(p.demand.allowed_models)
    pods = list(base)
    gpu_pods = sum(1 for p in pods if p.demand.gpu_count)
    have = sum(1 for p in pods if p.demand.allowed_models is not None)
    for i in rng.permutation(len(pods)):
        if have >= fraction * gpu_pods:
            break
        demand = pods[i].demand
        if not demand.gpu_count or demand.allowed_models is not None:
            continue
        choices = donors[kind(demand)]
        models = choices[int(rng.integers(len(choices)))]
        pods[i] = replace(pods[i], demand=replace(demand, allowed_models=models))
        have += 1
    return pods


def build(name: str, base: Pods, constrained: Pods) -> Pods:
    """The variant called ``name`` (cpu250, gpushare100, multigpu50, gpuspec33, ...)."""
    match = re.fullmatch(r"(cpu|gpushare|multigpu|gpuspec)(\d+)", name)
    if not match:
        raise SystemExit(f"unknown variant {name!r}: cpuF, gpushareF, multigpuF or gpuspecF")
    knob, number = match.group(1), int(match.group(2))
    rng = np.random.default_rng(BUILD_SEED)
    fraction = number / (1000 if knob == "cpu" else 100)  # cpu050 = 5 % of pods
    builders: dict[str, Callable[[], Pods]] = {
        "cpu": lambda: cpu_variant(base, fraction, rng),
        "multigpu": lambda: multigpu_variant(base, fraction, rng),
        "gpushare": lambda: gpushare_variant(base, fraction, rng),
        "gpuspec": lambda: gpuspec_variant(base, fraction, rng, constrained),
    }
    return builders[knob]()


def describe(pods: Pods) -> str:
    gpu = [p for p in pods if p.demand.gpu_count]
    cpu_only = len(pods) - len(gpu)
    total = gpu_request(pods)
    constrained = sum(1 for p in gpu if p.demand.allowed_models is not None)
    return (
        f"{len(pods)} pods, CPU-only {100 * cpu_only / len(pods):.1f} % of pods, of the GPU "
        f"request sharing {100 * gpu_request(pods, {'sharing'}) / total:.1f} % and multi-GPU "
        f"{100 * gpu_request(pods, {'multi'}) / total:.1f} %, model-constrained "
        f"{100 * constrained / len(gpu):.1f} % of GPU pods"
    )


def main() -> None:
    import snugfit_ablation  # noqa: F401  (registers the ablation variants, here only)

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traces-dir", type=Path, default=Path("../shared/traces"))
    parser.add_argument("--variants", default=",".join(HELD_OUT))
    parser.add_argument(
        "--policies", default="fgd,snugfit", help="any policy or snugfit_ablation.py variant"
    )
    parser.add_argument("--seeds", default="42-51")
    parser.add_argument("--check", action="store_true", help="also rebuild the shared variants")
    args = parser.parse_args()
    openb = args.traces_dir / "alibaba-gpu-v2023"
    nodes = tuple(load_nodes(openb / "openb_node_list_gpu_node.csv"))
    base = load_pods(openb / "openb_pod_list_default.csv")
    constrained = load_pods(openb / "openb_pod_list_gpuspec20.csv")
    traces: dict[str, Trace] = {}
    for name in args.variants.split(",") + (list(SHARED) if args.check else []):
        traces[f"{name} (built)"] = Trace(nodes, tuple(build(name, base, constrained)), "", name)
        if name in SHARED and args.check:
            shared = load_pods(openb / f"openb_pod_list_{name}.csv")
            traces[f"{name} (shared)"] = Trace(nodes, tuple(shared), "", name)
    policies = args.policies.split(",")
    seeds = parse_seeds(args.seeds)
    print(f"seeds {args.seeds}; unallocated GPU % at 100 % arrived, mean ± SD")
    for label, trace in traces.items():
        results = run_all(
            trace, [RunSpec(p, s) for p in policies for s in seeds], default_workers()
        )
        cells, means = [], {}
        for policy in policies:
            runs = [r for r in results if isinstance(r, RunResult) and r.spec.policy == policy]
            mean, sd = mean_sd([float(unallocated_pct_at(r.log, [100])[0]) for r in runs])
            cells.append(f"{policy} {mean:5.2f} ± {sd:4.2f}")
            means[policy] = mean
        if "fgd" in means and "snugfit" in means:
            cells.append(f"snugfit / fgd {means['snugfit'] / means['fgd']:.2f}")
        published = PUBLISHED_HELD_OUT_AT_100.get(trace.pods_source, {}).get("fgd")
        if published and "snugfit" in means and label.endswith("(built)"):
            cells.append(
                f"published FGD {published:.2f}, snugfit / published "
                f"{means['snugfit'] / published:.2f}"
            )
        print(f"{label:20s} {' | '.join(cells)}   [{describe(list(trace.pods))}]", flush=True)


if __name__ == "__main__":
    main()
