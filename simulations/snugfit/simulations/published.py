"""The published benchmark results (FGD, USENIX ATC '23): unallocated GPU % at 100% arrived,
mean of seeds 42..51, per trace and policy; from the paper's result table."""

from __future__ import annotations

PUBLISHED_AT_100: dict[str, dict[str, float]] = {
    "default": {
        "random": 13.70,
        "dotprod": 9.38,
        "clustering": 8.35,
        "packing": 8.22,
        "bestfit": 7.14,
        "fgd": 4.77,
    },
    "cpu050": {
        "random": 10.98,
        "dotprod": 6.97,
        "clustering": 6.48,
        "packing": 6.54,
        "bestfit": 6.44,
        "fgd": 5.00,
    },
    "cpu100": {
        "random": 12.57,
        "dotprod": 8.27,
        "clustering": 7.58,
        "packing": 7.50,
        "bestfit": 6.74,
        "fgd": 4.79,
    },
    "cpu200": {
        "random": 16.97,
        "dotprod": 12.55,
        "clustering": 10.33,
        "packing": 10.02,
        "bestfit": 7.85,
        "fgd": 5.18,
    },
    "gpushare40": {
        "random": 15.14,
        "dotprod": 10.70,
        "clustering": 10.24,
        "packing": 10.23,
        "bestfit": 8.56,
        "fgd": 6.04,
    },
    "gpushare60": {
        "random": 17.19,
        "dotprod": 13.18,
        "clustering": 13.10,
        "packing": 12.85,
        "bestfit": 10.94,
        "fgd": 8.75,
    },
    "gpushare80": {
        "random": 19.38,
        "dotprod": 15.86,
        "clustering": 15.50,
        "packing": 15.35,
        "bestfit": 13.34,
        "fgd": 10.92,
    },
    "multigpu20": {
        "random": 13.08,
        "dotprod": 8.15,
        "clustering": 6.66,
        "packing": 6.50,
        "bestfit": 6.27,
        "fgd": 4.47,
    },
    "multigpu30": {
        "random": 13.37,
        "dotprod": 6.89,
        "clustering": 5.45,
        "packing": 5.30,
        "bestfit": 5.43,
        "fgd": 3.64,
    },
    "gpuspec10": {
        "random": 13.74,
        "dotprod": 9.83,
        "clustering": 8.04,
        "packing": 7.76,
        "bestfit": 6.90,
        "fgd": 5.34,
    },
    "gpuspec20": {
        "random": 14.10,
        "dotprod": 11.71,
        "clustering": 10.89,
        "packing": 10.72,
        "bestfit": 11.54,
        "fgd": 5.34,
    },
}


def published_at_100(trace: str, policy: str) -> float | None:
    return PUBLISHED_AT_100.get(trace, {}).get(policy)
