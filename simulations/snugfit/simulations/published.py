"""The published benchmark results (FGD, USENIX ATC '23): unallocated GPU % at 100% arrived,
mean of seeds 42..51, per trace and policy: the paper's result table, and the authors'
results for the variants that the shared traces do not hold."""

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


# The published variants that the shared traces do not hold, under the same protocol: from the
# authors' per-run allocation curves (hkust-adsl/kubernetes-scheduler-simulator,
# experiments/analysis/expected_results/analysis_allo_discrete.csv at commit 1853fc0e79d7),
# 100 - allocated % at 100 % arrived, mean of seeds 42..51. The same file gives FGD 4.77 on the
# default trace, as the paper's table does.
PUBLISHED_HELD_OUT_AT_100: dict[str, dict[str, float]] = {
    "cpu250": {
        "random": 20.00,
        "dotprod": 16.43,
        "clustering": 12.25,
        "packing": 11.95,
        "bestfit": 8.79,
        "fgd": 6.80,
    },
    "gpushare100": {
        "random": 21.10,
        "dotprod": 18.02,
        "clustering": 17.78,
        "packing": 17.87,
        "bestfit": 15.38,
        "fgd": 13.36,
    },
    "gpuspec25": {
        "random": 14.58,
        "dotprod": 14.56,
        "clustering": 13.59,
        "packing": 13.23,
        "bestfit": 14.33,
        "fgd": 6.09,
    },
    "gpuspec33": {
        "random": 16.13,
        "dotprod": 20.18,
        "clustering": 18.91,
        "packing": 17.78,
        "bestfit": 19.61,
        "fgd": 12.16,
    },
    "multigpu40": {
        "random": 14.62,
        "dotprod": 5.96,
        "clustering": 4.65,
        "packing": 4.41,
        "bestfit": 4.90,
        "fgd": 3.09,
    },
    "multigpu50": {
        "random": 18.72,
        "dotprod": 5.27,
        "clustering": 4.31,
        "packing": 3.94,
        "bestfit": 4.38,
        "fgd": 2.91,
    },
}


def published_at_100(trace: str, policy: str) -> float | None:
    published = PUBLISHED_AT_100.get(trace) or PUBLISHED_HELD_OUT_AT_100.get(trace, {})
    return published.get(policy)
