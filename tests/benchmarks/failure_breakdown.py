"""Which pods a policy loses before 100 % arrived, and why: one seed of the published protocol
on a trace, counting failed pods by kind (CPU-only, sharing, k whole GPUs), the GPU share they
asked for, and the most common rejection reason per failure; then what is left idle.

    python tests/benchmarks/failure_breakdown.py k8s-default [--trace default] [--seed 42]
"""

from __future__ import annotations

import argparse
from collections import Counter

from until_full import run_until_full

from snugfit.packing.feasibility import Reason
from snugfit.packing.schedule import Unschedulable
from snugfit.simulations.traces import resolve


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("policy")
    parser.add_argument("--trace", default="default")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    _, trace = resolve(args.trace, None, None)
    state, decisions = run_until_full(trace, args.policy, args.seed)
    capacity = state.total_gpu_milli()
    failed: Counter[str] = Counter()
    failed_milli: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    for demand, decision in decisions:
        if isinstance(decision, Unschedulable):
            kind = (
                "cpu-only"
                if not demand.gpu_count
                else "sharing"
                if demand.is_sharing
                else f"{demand.gpu_count}-GPU"
            )
            failed[kind] += 1
            failed_milli[kind] += demand.total_gpu_milli
            counts = Counter(Reason(int(r)).name for r in decision.reasons)
            reasons[counts.most_common(1)[0][0]] += 1
    free = state.gpu_free
    print(f"{args.policy} on {args.trace}, seed {args.seed}, at 100 % arrived:")
    print(f"  unallocated GPU: {100 - 100 * state.allocated_gpu_milli() / capacity:.2f} %")
    for kind, n in failed.most_common():
        print(
            f"  failed {kind}: {n} pods, {100 * failed_milli[kind] / capacity:.2f} % of GPU capacity"
        )
    print(f"  most common rejection per failure: {dict(reasons)}")
    print(f"  idle whole GPUs: {int((free == 1000).sum())}; GPU share free on partly used GPUs: "
          f"{int(free[(free > 0) & (free < 1000)].sum()) / 1000:.1f} GPUs")  # fmt: skip


if __name__ == "__main__":
    main()
