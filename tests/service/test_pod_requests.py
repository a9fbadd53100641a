"""A pod's requests as a PodDemand, for every GPU convention pod_requests.py documents."""

from __future__ import annotations

from typing import Any

import pytest

from snugfit.packing.demand import PodDemand
from snugfit.scheduler.protocol.pod_requests import PodRequestError, allowed_models, pod_demand

GPU = "nvidia.com/gpu"
MEM = "snugfit.io/gpu-memory"
MILLI = "snugfit.io/gpu-milli"
COUNT = "snugfit.io/gpu-count"
ALIYUN = "aliyun.com/gpu-mem"
HAMI_MEM = "nvidia.com/gpumem"
HAMI_PCT = "nvidia.com/gpumem-percentage"
HAMI_CORES = "nvidia.com/gpucores"
CLUSTER_MODELS = ("A100", "T4", "H100")


def container(requests: dict[str, Any] | None = None, limits: dict[str, Any] | None = None) -> Any:
    resources: dict[str, Any] = {}
    if requests is not None:
        resources["requests"] = requests
    if limits is not None:
        resources["limits"] = limits
    return {"name": "c", "resources": resources}


def make_pod(
    *containers: Any,
    init: tuple[Any, ...] = (),
    overhead: dict[str, Any] | None = None,
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": list(containers)}
    if init:
        spec["initContainers"] = list(init)
    if overhead is not None:
        spec["overhead"] = overhead
    return {"metadata": {"name": "p", "annotations": annotations or {}}, "spec": spec}


def req(**kw: Any) -> Any:
    """One container with these requests (keys with '/' passed via a dict)."""
    return make_pod(container(kw))


def one(requests: dict[str, Any], annotations: dict[str, str] | None = None) -> dict[str, Any]:
    return make_pod(container(requests), annotations=annotations)


D = PodDemand


@pytest.mark.parametrize(
    ("pod", "expected"),
    [
        # nothing asked
        (make_pod(), D(0, 0)),
        (make_pod(container()), D(0, 0)),
        # cpu in cores or milli-cores, rounded up; memory in binary/decimal suffixes or bytes
        (req(cpu="500m", memory="512Mi"), D(500, 512)),
        (req(cpu="1.5", memory="1Gi"), D(1500, 1024)),
        (req(cpu=2, memory="1G"), D(2000, 954)),  # 10^9 B / 2^20 = 953.67 -> 954
        (req(cpu="100u", memory="1048576"), D(1, 1)),  # 0.1m -> 1m; bare bytes: 2^20 B = 1Mi
        (req(memory="1048577"), D(0, 2)),  # one byte over 1Mi rounds up
        (req(memory=1048576), D(0, 1)),  # a JSON number is bytes too
        # two app containers add up
        (make_pod(container({"cpu": "500m"}), container({"cpu": "250m"})), D(750, 0)),
        # init containers: the largest one, if larger than the app containers' sum
        (
            make_pod(container({"cpu": "500m"}), init=(container({"cpu": "2"}),)),
            D(2000, 0),
        ),
        (
            make_pod(
                container({"cpu": "500m"}),
                container({"cpu": "250m"}),
                init=(container({"cpu": "100m"}), container({"cpu": "700m"})),
            ),
            D(750, 0),  # max(500 + 250, max(100, 700)) = 750
        ),
        # pod overhead adds on top: max(500, 0) + 250 = 750m; 128 + 64 = 192Mi
        (
            make_pod(
                container({"cpu": "500m", "memory": "128Mi"}),
                overhead={"cpu": "250m", "memory": "64Mi"},
            ),
            D(750, 192),
        ),
        # requests win over limits; limits fill the gaps
        (make_pod(container({"cpu": "1"}, {"cpu": "2", "memory": "1Gi"})), D(1000, 1024)),
        (make_pod(container(None, {GPU: "1"})), D(0, 0, 1, 1000)),
        (make_pod(container({GPU: "1"}, {GPU: "1"})), D(0, 0, 1, 1000)),
        # nvidia.com/gpu: whole GPUs
        (one({GPU: "2", "cpu": "4"}), D(4000, 0, 2, 1000)),
        (one({GPU: 1}), D(0, 0, 1, 1000)),
        (make_pod(container({GPU: "1"}), container({GPU: "2"})), D(0, 0, 3, 1000)),
        # init container with a GPU larger than the app containers' sum
        (make_pod(container({GPU: "1"}), init=(container({GPU: "2"}),)), D(0, 0, 2, 1000)),
        # ours: GPU memory in MiB, or a share in milli-GPU, of one GPU
        (one({MEM: "10240"}), D(0, 0, 1, 0, 10240)),
        (one({MILLI: "250"}), D(0, 0, 1, 250)),
        (one({MILLI: "1000"}), D(0, 0, 1, 1000)),
        # ours with gpu-count: split evenly, 20000 MiB over 2 GPUs = 10000 each
        (one({MEM: "20000"}, {COUNT: "2"}), D(0, 0, 2, 0, 10000)),
        (one({MILLI: "2000"}, {COUNT: "2"}), D(0, 0, 2, 1000)),
        (one({MEM: "8000"}, {COUNT: "1"}), D(0, 0, 1, 0, 8000)),
        # gpushare: GiB of one GPU by default (8 x 1024 MiB)
        (one({ALIYUN: "8"}), D(0, 0, 1, 0, 8192)),
        # HAMi: nvidia.com/gpu is the count, gpumem MiB on each
        (one({GPU: "2", HAMI_MEM: "4000"}), D(0, 0, 2, 0, 4000)),
        (one({HAMI_MEM: "4000"}), D(0, 0, 1, 0, 4000)),  # no count: one GPU
        # HAMi percentage: p% of the GPU = 10 p milli
        (one({GPU: "1", HAMI_PCT: "25"}), D(0, 0, 1, 250)),
        (one({HAMI_PCT: "33"}), D(0, 0, 1, 330)),
        (one({GPU: "2", HAMI_PCT: "100"}), D(0, 0, 2, 1000)),
        # HAMi cores are not packed
        (one({GPU: "1", HAMI_CORES: "30"}), D(0, 0, 1, 1000)),
        # extended resources in limits only, as users usually write them
        (make_pod(container({"cpu": "1"}, {MILLI: "500"})), D(1000, 0, 1, 500)),
    ],
)
def test_pod_demand(pod: dict[str, Any], expected: PodDemand) -> None:
    assert pod_demand(pod, CLUSTER_MODELS) == expected


def test_gpushare_unit() -> None:
    assert pod_demand(one({ALIYUN: "8"}), gpushare_unit_mib=1) == D(0, 0, 1, 0, 8)
    assert pod_demand(one({ALIYUN: "3"}), gpushare_unit_mib=1000) == D(0, 0, 1, 0, 3000)


@pytest.mark.parametrize(
    ("annotations", "expected"),
    [
        ({}, None),
        ({"snugfit.io/gpu-models": ""}, None),
        ({"snugfit.io/gpu-models": "A100, H100"}, {"A100", "H100"}),
        ({"snugfit.io/gpu-models": " A100 ,, "}, {"A100"}),
        ({"nvidia.com/use-gputype": "T4"}, {"T4"}),
        # both allow lists: their intersection
        ({"snugfit.io/gpu-models": "A100,H100", "nvidia.com/use-gputype": "A100,T4"}, {"A100"}),
        # nouse alone: every cluster model but those
        ({"nvidia.com/nouse-gputype": "T4"}, {"A100", "H100"}),
        ({"nvidia.com/use-gputype": "A100,T4", "nvidia.com/nouse-gputype": "T4"}, {"A100"}),
        ({"nvidia.com/nouse-gputype": "A100,T4,H100"}, set()),
    ],
)
def test_model_annotations(annotations: dict[str, str], expected: set[str] | None) -> None:
    want = None if expected is None else frozenset(expected)
    assert allowed_models(annotations, CLUSTER_MODELS) == want
    demand = pod_demand(one({GPU: "1"}, annotations), CLUSTER_MODELS)
    assert demand.allowed_models == want
    assert (demand.gpu_count, demand.gpu_milli) == (1, 1000)


@pytest.mark.parametrize(
    ("pod", "message"),
    [
        ({"metadata": {}}, "pod has no spec"),
        ({"metadata": {}, "spec": None}, "pod has no spec"),
        # two share conventions at once
        (one({MEM: "1000", MILLI: "500"}), f"more than one way: {MEM}, {MILLI}"),
        (one({ALIYUN: "2", HAMI_MEM: "2000"}), f"more than one way: {ALIYUN}, {HAMI_MEM}"),
        (one({MILLI: "500", HAMI_PCT: "50"}), f"more than one way: {MILLI}, {HAMI_PCT}"),
        # ours and nvidia.com/gpu
        (one({GPU: "1", MEM: "1000"}), f"{MEM} cannot be combined with {GPU}"),
        (one({GPU: "2", MILLI: "500"}), f"use the {COUNT} annotation"),
        # uneven split, and a count below one
        (one({MEM: "10001"}, {COUNT: "2"}), f"{MEM} must divide evenly over {COUNT}=2"),
        (one({MILLI: "1000"}, {COUNT: "3"}), f"{MILLI} must divide evenly over {COUNT}=3"),
        (one({MEM: "1000"}, {COUNT: "0"}), f"must divide evenly over {COUNT}=0"),
        (one({MEM: "1000"}, {COUNT: "two"}), "cannot read quantity 'two'"),
        (one({MILLI: "1500"}), f"{MILLI} per GPU is above 1000"),
        (one({HAMI_PCT: "150"}), f"{HAMI_PCT} must be at most 100"),
        (one({GPU: "2", HAMI_PCT: "101"}), f"{HAMI_PCT} must be at most 100"),
        # extended resources are whole numbers
        (one({GPU: "1.5"}), f"{GPU}: must be a whole number, got '1.5'"),
        (one({MILLI: "250m"}), f"{MILLI}: must be a whole number"),
        (one({ALIYUN: "0.5"}), f"{ALIYUN}: must be a whole number"),
        (make_pod(container(None, {MEM: "1.5"})), f"{MEM}: must be a whole number"),
        # unreadable quantities
        (req(cpu="lots"), "cpu: cannot read quantity 'lots'"),
        (req(memory="-1Gi"), "memory: cannot read quantity '-1Gi'"),
        (req(cpu=True), "cpu: expected a quantity"),
        (make_pod(container({"cpu": "1"}), overhead={"cpu": "x"}), "cannot read quantity 'x'"),
    ],
)
def test_pod_request_errors(pod: dict[str, Any], message: str) -> None:
    with pytest.raises(PodRequestError) as caught:
        pod_demand(pod, CLUSTER_MODELS)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    "pod",
    [
        one({MILLI: "1000"}, {COUNT: "2"}),  # 500 milli on each of 2 GPUs
        one({GPU: "2", HAMI_PCT: "50"}),  # HAMi: 50% of each of 2 GPUs
    ],
)
def test_fractional_share_over_several_gpus_is_rejected(pod: dict[str, Any]) -> None:
    """The module docstring describes these conventions, but the core's PodDemand cannot hold a
    fractional share on more than one GPU: the pod gets a PodRequestError (reported as a
    docstring/behaviour mismatch), never a crash."""
    with pytest.raises(PodRequestError, match="fractional share is only allowed with gpu_count"):
        pod_demand(pod, CLUSTER_MODELS)
