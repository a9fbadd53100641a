"""A small plan shared by the planning tests: 2 % of the shipped default trace, two node
types (one too small for the trace's 8-GPU pods), one seed."""

from __future__ import annotations

import pytest

from snugfit.simulations.executors import LocalPool
from snugfit.simulations.planning.catalogue import NodeType
from snugfit.simulations.planning.evaluate import Target, scale_workload
from snugfit.simulations.planning.plan import PlanInputs, PlanResult, make_plan
from snugfit.simulations.traces import resolve

SMALL = NodeType("small-x2", "T4", 2, 15360, 32000, 128 * 1024, 1.0)
BIG = NodeType("big-x8", "A100", 8, 81920, 128000, 1024 * 1024, 10.0)


def small_inputs() -> PlanInputs:
    _, trace = resolve("default", None, None)
    pods = scale_workload(trace.pods, 0.02)
    return PlanInputs("2 % of default", pods, (SMALL, BIG), Target(98.0, 98.0), (42,), 0.02)


@pytest.fixture(scope="session")
def small_plan() -> PlanResult:
    return make_plan(small_inputs(), LocalPool(1))
