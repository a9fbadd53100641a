"""snugfit's own YAML trace format, and the quantities it reads ('500m', '64Gi', ...).

Errors are TraceErrors "<path>:<line>: problem" where the line is the one of the entry's
first key (the line of its "- "), counting from 1.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
from sim_helpers import Write

from snugfit.packing.cluster import GpuSpec, NodeSpec
from snugfit.packing.demand import PodDemand
from snugfit.simulations import own_format, traces
from snugfit.simulations.trace_error import TraceError
from snugfit.simulations.workload_model import TracePod

# The quantity parser lives in the packing core or (earlier) in the simulator package.
try:
    quantity = importlib.import_module("snugfit.packing.quantity")
except ModuleNotFoundError:  # pragma: no cover - older layout
    quantity = importlib.import_module("snugfit.simulations.quantity")

GiB = 1024  # MiB


def assert_trace_error(exc: TraceError, path: Path, line: int | None, *problem: str) -> None:
    where = f"{path}:{line}" if line is not None else str(path)
    assert str(exc).startswith(f"{where}: "), str(exc)
    assert exc.line == line
    for part in problem:
        assert part in exc.problem, (part, exc.problem)


# ------------------------------------------------------------------ quantities
@pytest.mark.parametrize(
    ("value", "milli"),
    [
        ("500m", 500),
        ("100m", 100),
        ("1m", 1),
        (2, 2000),
        ("2", 2000),
        (1.5, 1500),
        ("1.5", 1500),
        ("0.5", 500),
        (0, 0),
        (" 4 ", 4000),
        ("2.5m", 3),  # milli-cores round up
        (128, 128000),
    ],
)
def test_cpu_quantities(value: object, milli: int) -> None:
    assert quantity.cpu_milli(value) == milli


@pytest.mark.parametrize(
    ("value", "mib"),
    [
        ("64Gi", 64 * GiB),
        ("512Mi", 512),
        ("1Ti", 1024 * GiB),
        ("0.5Gi", 512),
        ("1.5Gi", 1536),
        ("2048Ki", 2),
        ("1Ki", 1),  # 1/1024 MiB rounds up to 1
        ("1G", 954),  # 10**9 / 2**20 = 953.67 -> 954
        ("1M", 1),  # 10**6 / 2**20 = 0.95 -> 1
        ("2k", 1),
        ("1T", 953675),  # 10**12 / 2**20 = 953674.3 -> 953675
        (100, 100),  # a bare number is MiB
        ("100", 100),
        (1.5, 2),  # 1.5 MiB rounds up
        (0, 0),
    ],
)
def test_memory_quantities(value: object, mib: int) -> None:
    assert quantity.mebibytes(value) == mib


@pytest.mark.parametrize(
    ("parse", "value"),
    [
        (quantity.cpu_milli, "abc"),
        (quantity.cpu_milli, ""),
        (quantity.cpu_milli, "-1"),
        (quantity.cpu_milli, -1),
        (quantity.cpu_milli, -0.5),
        (quantity.cpu_milli, True),
        (quantity.cpu_milli, float("nan")),
        (quantity.cpu_milli, float("inf")),
        (quantity.cpu_milli, "1 core"),
        (quantity.mebibytes, "64GB"),
        (quantity.mebibytes, "64 gigs"),
        (quantity.mebibytes, "-1Gi"),
        (quantity.mebibytes, -1),
        (quantity.mebibytes, False),
        (quantity.mebibytes, None),
        (quantity.mebibytes, [1]),
    ],
)
def test_bad_quantities(parse: object, value: object) -> None:
    with pytest.raises(ValueError):
        parse(value)  # type: ignore[operator]


# ------------------------------------------------------------------ good files
NODES_YAML = """
nodes:
  - name: dgx
    count: 2
    cpu: 128
    memory: 1Ti
    gpus: {model: A100-80GB, count: 2, memory: 80Gi}
  - name: mixed
    cpu: 500m
    memory: 512Mi
    gpus:
      - {model: T4}
      - {model: V100, count: 2, memory: 16Gi}
  - name: cpu-only
    cpu: 1.5
    memory: 2048
  - name: no-gpus
    cpu: "2"
    memory: 1G
    gpus: []
"""


def test_nodes(write: Write) -> None:
    path = write("cluster.yaml", NODES_YAML)
    a100 = GpuSpec("A100-80GB", 80 * GiB)
    assert own_format.load_nodes(path) == [
        # count 2 -> dgx-0, dgx-1; 128 cores; 1Ti = 1048576 MiB; 80Gi = 81920 MiB per GPU
        NodeSpec("dgx-0", 128000, 1024 * GiB, (a100, a100)),
        NodeSpec("dgx-1", 128000, 1024 * GiB, (a100, a100)),
        # a list of GPU groups, in order; no memory given -> 0 (unknown)
        NodeSpec("mixed", 500, 512, (GpuSpec("T4"), GpuSpec("V100", 16 * GiB), GpuSpec("V100", 16 * GiB))),
        NodeSpec("cpu-only", 1500, 2048, ()),
        NodeSpec("no-gpus", 2000, 954, ()),
    ]  # fmt: skip


PODS_YAML = """
pods:
  - name: train
    count: 3
    cpu: 8
    memory: 64Gi
    gpus: 1
    gpu_share: 0.5
  - name: infer
    cpu: 500m
    memory: 512Mi
    gpus: 1
    gpu_memory: 20Gi
    gpu_models: [A100-80GB, V100]
  - name: big
    cpu: 16
    memory: 1G
    gpus: 2
    start: 10
    duration: 3600
  - name: batch
    cpu: 2
    start: 5
    end: 65.5
  - name: web
    cpu: 1
    memory: 256
  - name: whole
    gpus: 1
    gpu_share: 1
  - name: no-start
    duration: 60
  - name: cpu-with-memory-request
    gpus: 0
    gpu_memory: 8Gi
"""


def test_pods(write: Write) -> None:
    path = write("work.yaml", PODS_YAML)
    assert own_format.load_pods(path) == [
        # share 0.5 -> 500 milli of one GPU; count 3 -> train-0..2
        *(TracePod(f"train-{i}", PodDemand(8000, 64 * GiB, 1, 500)) for i in range(3)),
        # gpu_memory instead of a share: gpu_milli 0, 20Gi = 20480 MiB per GPU
        TracePod(
            "infer",
            PodDemand(500, 512, 1, 0, 20 * GiB, frozenset({"A100-80GB", "V100"})),
        ),
        # default share 1 (whole GPUs); start 10 + duration 3600 -> leaves at 3610
        TracePod("big", PodDemand(16000, 954, 2, 1000), 10.0, 3610.0),
        TracePod("batch", PodDemand(2000, 0), 5.0, 65.5),
        TracePod("web", PodDemand(1000, 256)),
        TracePod("whole", PodDemand(0, 0, 1, 1000)),
        # a duration without a start counts from 0, but the pod has no arrival time
        TracePod("no-start", PodDemand(0, 0), None, 60.0),
        # GPU memory of a pod without GPUs is ignored
        TracePod("cpu-with-memory-request", PodDemand(0, 0)),
    ]


def test_one_file_holds_both_lists(write: Write) -> None:
    path = write("both.yml", NODES_YAML + PODS_YAML)
    assert len(traces.load_nodes(path)) == 5
    assert len(traces.load_pods(path)) == 10
    name, trace = traces.resolve("ignored", path, path)
    assert name == "both"
    assert trace.nodes_source == trace.pods_source == str(path)


# ------------------------------------------------------------------ errors
def pods_file(write: Write, body: str) -> Path:
    """A pods file whose first entry is on line 3 (line 1 a comment, line 2 'pods:')."""
    return write("pods.yaml", "# my pods\npods:\n" + body)


GOOD_POD = "  - {name: ok, cpu: 1}\n"  # one line


@pytest.mark.parametrize(
    ("body", "line", "problem"),
    [
        ("  - name: a\n    gpu: 1\n", 3, ["unknown key(s) gpu", "allowed:"]),
        (GOOD_POD + "  - name: a\n    cpus: 1\n    mem: 2\n", 4, ["unknown key(s) cpus, mem"]),
        (
            GOOD_POD + GOOD_POD + "  - name: a\n    gpus: 1\n    gpu_share: 0.5\n"
            "    gpu_memory: 8Gi\n",
            5,
            ["give gpu_share or gpu_memory, not both"],
        ),
        ("  - {name: a, gpus: 1, gpu_share: 1.5}\n", 3, ["gpu_share must be a number in (0, 1]"]),
        ("  - {name: a, gpus: 1, gpu_share: 0}\n", 3, ["gpu_share must be a number in (0, 1]"]),
        ("  - {name: a, gpus: 1, gpu_share: half}\n", 3, ["gpu_share must be a number"]),
        ("  - {name: a, gpus: 1, gpu_share: true}\n", 3, ["gpu_share must be a number"]),
        (GOOD_POD + "  - {name: a, memory: 64GB}\n", 4, ["cannot read quantity '64GB'"]),
        ("  - {name: a, cpu: lots}\n", 3, ["cannot read quantity 'lots'"]),
        ("  - {name: a, gpus: 1, gpu_memory: much}\n", 3, ["gpu_memory", "much"]),
        ("  - {name: a, gpus: 1.5}\n", 3, ["gpus must be a non-negative integer"]),
        ("  - {name: a, gpus: -1}\n", 3, ["gpus must be a non-negative integer"]),
        ("  - {name: a, gpus: 2, gpu_share: 0.5}\n", 3, ["fractional share"]),
        ("  - {name: a, count: 0}\n", 3, ["count must be a positive integer"]),
        ("  - {name: a, count: two}\n", 3, ["count must be a positive integer"]),
        ("  - {cpu: 1}\n", 3, ["name is required"]),
        ("  - {name: '', cpu: 1}\n", 3, ["name is required"]),
        ("  - just-a-name\n", 3, ["each entry must be a mapping"]),
        ("  - {name: a, gpu_models: A100}\n", 3, ["gpu_models must be a list"]),
        ("  - {name: a, start: -1}\n", 3, ["start must be a non-negative number"]),
        ("  - {name: a, start: soon}\n", 3, ["start must be a non-negative number"]),
        ("  - {name: a, start: 0, duration: 5, end: 5}\n", 3, ["give duration or end, not both"]),
        ("  - {name: a, start: 10, end: 5}\n", 3, ["end is before start"]),
        # blank and comment lines count
        (GOOD_POD + "\n  # next\n  - {name: a, bogus: 1}\n", 6, ["unknown key(s) bogus"]),
    ],
)
def test_bad_pod_entries(write: Write, body: str, line: int, problem: list[str]) -> None:
    path = pods_file(write, body)
    with pytest.raises(TraceError) as info:
        own_format.load_pods(path)
    assert_trace_error(info.value, path, line, *problem)


@pytest.mark.parametrize(
    ("body", "line", "problem"),
    [
        ("  - {name: n, cpu: 1}\n", 3, ["memory is required"]),
        ("  - {name: n, memory: 1}\n", 3, ["cpu is required"]),
        ("  - {name: n, cpu: 1, memory: 1, gpu: 2}\n", 3, ["unknown key(s) gpu"]),
        ("  - {name: n, cpu: 1, memory: 1, gpus: 8}\n", 3, ["gpus must be a mapping"]),
        ("  - {name: n, cpu: 1, memory: 1, gpus: {count: 2}}\n", 3, ["gpus.model is required"]),
        (
            "  - {name: n, cpu: 1, memory: 1}\n  - name: m\n    cpu: 1\n    memory: 1\n"
            "    gpus: {model: A, count: 1, mem: 8Gi}\n",
            4,
            ["unknown key(s) mem"],
        ),
        ("  - {name: n, cpu: 1, memory: 1, gpus: {model: A, memory: big}}\n", 3, ["gpus.memory"]),
        ("  - {name: n, cpu: 1, memory: 1Gb}\n", 3, ["cannot read quantity '1Gb'"]),
    ],
)
def test_bad_node_entries(write: Write, body: str, line: int, problem: list[str]) -> None:
    path = write("nodes.yaml", "# my nodes\nnodes:\n" + body)
    with pytest.raises(TraceError) as info:
        own_format.load_nodes(path)
    assert_trace_error(info.value, path, line, *problem)


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        # invalid YAML: the line of the problem as the YAML parser reports it
        ("pods:\n  - {name: a, cpu: 1\n  - {name: b}\n", 3, ["not valid YAML"]),
        ("pods:\n  - name: a\n   cpu: 1\n", 3, ["not valid YAML"]),
        ("pods: [\n", 2, ["not valid YAML"]),
        # the section is missing: no line to point at
        ("nodes:\n  - {name: n, cpu: 1, memory: 1}\n", None, ["no 'pods' list"]),
        # the section is not a list: the line of its value
        ("pods:\n  name: a\n  cpu: 1\n", 2, ["'pods' must be a list"]),
        ("pods: 3\n", 1, ["'pods' must be a list"]),
        ("pods:\n", 1, ["'pods' must be a list"]),  # null
        # not a mapping at the top
        ("", 1, ["expected a mapping with a 'pods' list"]),
        ("- a\n- b\n", 1, ["expected a mapping"]),
    ],
)
def test_bad_files(write: Write, text: str, line: int | None, problem: list[str]) -> None:
    path = write("pods.yaml", text)
    with pytest.raises(TraceError) as info:
        own_format.load_pods(path)
    assert_trace_error(info.value, path, line, *problem)


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.yaml"
    with pytest.raises(TraceError) as info:
        traces.load_nodes(path)
    assert_trace_error(info.value, path, None, "cannot read")


# ------------------------------------------------------------------ bugs
@pytest.mark.parametrize(("cores", "milli"), [(1.1, 1100), (2.2, 2200)])
def test_float_cpu_in_yaml_is_exact(write: Write, cores: float, milli: int) -> None:
    path = write("pods.yaml", f"pods:\n  - {{name: a, cpu: {cores}}}\n")
    [pod] = own_format.load_pods(path)
    assert pod.demand.cpu_milli == milli
