"""The openb CSV loaders: good files, five-column files, and every kind of bad row.

Line numbers are physical lines of the file with the header on line 1, so the first data row
is line 2. Every error is a TraceError whose text starts with "<path>:<line>: ".
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sim_helpers import Write, gpus

from snugfit.packing.cluster import NodeSpec
from snugfit.packing.demand import PodDemand
from snugfit.simulations import openb, traces
from snugfit.simulations.trace_error import TraceError
from snugfit.simulations.workload_model import TracePod

NODE_HEADER = "sn,cpu_milli,memory_mib,gpu,model"
POD_HEADER5 = "name,cpu_milli,memory_mib,num_gpu,gpu_milli"
POD_HEADER = (
    "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,"
    "creation_time,deletion_time,scheduled_time"
)


def assert_trace_error(exc: TraceError, path: Path, line: int | None, *problem: str) -> None:
    where = f"{path}:{line}" if line is not None else str(path)
    assert str(exc).startswith(f"{where}: "), str(exc)
    assert exc.path == str(path)
    assert exc.line == line
    for part in problem:
        assert part in exc.problem, (part, exc.problem)


# ------------------------------------------------------------------ good files
def test_nodes_good_file(write: Write) -> None:
    path = write(
        "nodes.csv",
        f"""
        {NODE_HEADER}
        n0,64000,262144,2,P100
        n1,32000,131072,0,
         n2 , 96000 ,393216, 8 , V100M32
        n3,1000,1024,0,T4
        """,
    )
    # n2: names and numbers are stripped of blanks; n3: 0 GPUs, so the model is not used
    assert openb.load_nodes(path) == [
        NodeSpec("n0", 64000, 262144, gpus(2, "P100")),
        NodeSpec("n1", 32000, 131072, ()),
        NodeSpec("n2", 96000, 393216, gpus(8, "V100M32")),
        NodeSpec("n3", 1000, 1024, ()),
    ]


def test_pods_good_file_with_all_columns(write: Write) -> None:
    path = write(
        "pods.csv",
        f"""
        {POD_HEADER}
        p0,12000,16384,1,1000,,LS,Running,0,12537496,0
        p1,6000,12288,1,460,V100M16|V100M32,LS,Running,427061,12902960,427061
        p2,4000,8192,0,0,,BE,Succeeded,10.5,,
        p3,8000,0,2,1000,G2,LS,Running,,,
        p4,1000,1024,0,700,,BE,Running,,,
        p5,1000,1024,1,1500,,BE,Running,,,
        """,
    )
    assert openb.load_pods(path) == [
        TracePod("p0", PodDemand(12000, 16384, 1, 1000), 0.0, 12537496.0),
        TracePod(
            "p1",
            PodDemand(6000, 12288, 1, 460, allowed_models=frozenset({"V100M16", "V100M32"})),
            427061.0,
            12902960.0,
        ),
        # empty deletion time -> None (still running at the end of the trace)
        TracePod("p2", PodDemand(4000, 8192), 10.5, None),
        TracePod("p3", PodDemand(8000, 0, 2, 1000, allowed_models=frozenset({"G2"}))),
        # num_gpu 0: gpu_milli is ignored (a CPU pod)
        TracePod("p4", PodDemand(1000, 1024)),
        # a share above one GPU is capped at the whole GPU
        TracePod("p5", PodDemand(1000, 1024, 1, 1000)),
    ]


def test_pods_with_only_the_first_five_columns(write: Write) -> None:
    path = write(
        "pods.csv",
        f"""
        {POD_HEADER5}
        a,1000,2048,1,250
        b,500,512,0,0
        c,2000,4096,4,1000
        """,
    )
    assert openb.load_pods(path) == [
        TracePod("a", PodDemand(1000, 2048, 1, 250)),
        TracePod("b", PodDemand(500, 512)),
        TracePod("c", PodDemand(2000, 4096, 4, 1000)),
    ]


def test_columns_in_any_order_extra_columns_blank_lines_and_crlf(tmp_path: Path) -> None:
    path = tmp_path / "pods.csv"
    path.write_bytes(
        b"gpu_milli,extra,num_gpu,name,memory_mib,cpu_milli\r\n"
        b"300,x,1,a,100,200\r\n"
        b"\r\n"
        b"0,y,0,b,1,2\r\n"
    )
    assert openb.load_pods(path) == [
        TracePod("a", PodDemand(200, 100, 1, 300)),
        TracePod("b", PodDemand(2, 1)),
    ]


def test_header_only_files_load_as_empty(write: Write) -> None:
    assert openb.load_pods(write("pods.csv", POD_HEADER + "\n")) == []
    assert openb.load_nodes(write("nodes.csv", NODE_HEADER + "\n")) == []


@pytest.mark.parametrize(
    ("spec", "allowed"),
    [
        ("A|B", frozenset({"A", "B"})),
        ("A", frozenset({"A"})),
        (" A | B ", frozenset({"A", "B"})),  # blanks around names are dropped
        ("A||B|", frozenset({"A", "B"})),  # empty names are dropped
        ("", None),  # no restriction
        ("|", None),  # only empty names: no restriction
        ("A|A", frozenset({"A"})),
    ],
)
def test_gpu_spec(write: Write, spec: str, allowed: frozenset[str] | None) -> None:
    path = write("pods.csv", f"{POD_HEADER5},gpu_spec\np,1000,1024,1,500,{spec}\n")
    [pod] = openb.load_pods(path)
    assert pod.demand.allowed_models == allowed


# ------------------------------------------------------------------ bad rows
POD_OK = "ok,1000,1024,1,500"
NODE_OK = "ok,64000,1024,2,P100"


@pytest.mark.parametrize(
    ("rows", "line", "problem"),
    [
        # non-integer values (line 3: header, one good row, then the bad one)
        ([POD_OK, "p,abc,1024,1,500"], 3, ["cpu_milli must be an integer", "'abc'"]),
        ([POD_OK, "p,1000,1.5,1,500"], 3, ["memory_mib must be an integer", "'1.5'"]),
        (["p,1000,1024,one,500"], 2, ["num_gpu must be an integer"]),
        ([POD_OK, POD_OK, "p,1000,1024,1,5e2"], 4, ["gpu_milli must be an integer"]),
        # negative values
        (["p,-1,1024,0,0"], 2, ["cpu_milli must not be negative", "-1"]),
        ([POD_OK, "p,1000,-5,0,0"], 3, ["memory_mib must not be negative"]),
        (["p,1000,1024,-1,500"], 2, ["num_gpu must not be negative"]),
        (["p,1000,1024,1,-500"], 2, ["gpu_milli must not be negative"]),
        # a missing (empty) field
        ([POD_OK, "p,1000,,1,500"], 3, ["memory_mib must be an integer", "''"]),
        (["p,,1024,1,500"], 2, ["cpu_milli must be an integer"]),
        # the wrong number of fields
        ([POD_OK, "p,1000,1024,1"], 3, ["wrong number of fields"]),
        ([POD_OK, "p,1000,1024,1,500,extra"], 3, ["wrong number of fields"]),
        (["p"], 2, ["wrong number of fields"]),
        # a GPU pod with no share, and a fractional share on more than one GPU
        ([POD_OK, "p,1000,1024,1,0"], 3, ["a GPU pod needs gpu_milli > 0"]),
        (["p,1000,1024,2,500"], 2, ["fractional share is only allowed with gpu_count == 1"]),
        # blank lines are skipped but still counted: the bad row is on line 4
        ([POD_OK, "", "p,x,1024,1,500"], 4, ["cpu_milli must be an integer"]),
    ],
)
def test_bad_pod_rows(write: Write, rows: list[str], line: int, problem: list[str]) -> None:
    path = write("pods.csv", "\n".join([POD_HEADER5, *rows]) + "\n")
    with pytest.raises(TraceError) as info:
        openb.load_pods(path)
    assert_trace_error(info.value, path, line, *problem)


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        ("p,1000,1024,1,500,,LS,Running,soon,,", ["creation_time must be a number", "'soon'"]),
        ("p,1000,1024,1,500,,LS,Running,0,later,", ["deletion_time must be a number"]),
        ("p,1000,1024,1,500,,LS,Running,0,10,0,extra", ["wrong number of fields"]),
    ],
)
def test_bad_pod_rows_with_all_columns(write: Write, row: str, problem: list[str]) -> None:
    path = write("pods.csv", f"{POD_HEADER}\np0,1,1,0,0,,LS,Running,0,1,0\n{row}\n")
    with pytest.raises(TraceError) as info:
        openb.load_pods(path)
    assert_trace_error(info.value, path, 3, *problem)


@pytest.mark.parametrize(
    ("rows", "line", "problem"),
    [
        ([NODE_OK, "n,64000,1024,2,"], 3, ["a node with GPUs needs a model"]),
        (["n,64000,1024,2,  "], 2, ["a node with GPUs needs a model"]),
        ([NODE_OK, NODE_OK, "n,64k,1024,0,"], 4, ["cpu_milli must be an integer", "'64k'"]),
        (["n,64000,1024,two,P100"], 2, ["gpu must be an integer"]),
        ([NODE_OK, "n,64000,-1,0,"], 3, ["memory_mib must not be negative"]),
        (["n,64000,1024,-2,P100"], 2, ["gpu must not be negative"]),
        ([NODE_OK, "n,64000,1024,2"], 3, ["wrong number of fields"]),
        ([NODE_OK, "n,64000,1024,2,P100,x"], 3, ["wrong number of fields"]),
    ],
)
def test_bad_node_rows(write: Write, rows: list[str], line: int, problem: list[str]) -> None:
    path = write("nodes.csv", "\n".join([NODE_HEADER, *rows]) + "\n")
    with pytest.raises(TraceError) as info:
        openb.load_nodes(path)
    assert_trace_error(info.value, path, line, *problem)


@pytest.mark.parametrize(
    ("loader", "header", "missing"),
    [
        (openb.load_pods, "name,cpu_milli,memory_mib,num_gpu", ["gpu_milli"]),
        (openb.load_pods, "name,cpu,memory_mib,num_gpu,gpu_milli", ["cpu_milli"]),
        (openb.load_pods, "cpu_milli,memory_mib,gpu_milli", ["name", "num_gpu"]),
        (openb.load_nodes, "sn,cpu_milli,memory_mib,gpu", ["model"]),
        (openb.load_nodes, "name,cpu_milli,memory_mib,gpu,model", ["sn"]),
        (openb.load_nodes, "", ["sn", "cpu_milli", "memory_mib", "gpu", "model"]),
    ],
)
def test_missing_header_column_is_line_1(
    write: Write, loader: object, header: str, missing: list[str]
) -> None:
    path = write("file.csv", header + "\n" + "x,1,2,3\n")
    with pytest.raises(TraceError) as info:
        loader(path)  # type: ignore[operator]
    assert_trace_error(info.value, path, 1, "missing column(s) " + ", ".join(missing))


def test_unreadable_file_names_the_path_without_a_line(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.csv"
    for loader in (openb.load_pods, openb.load_nodes):
        with pytest.raises(TraceError) as info:
            loader(path)
        assert_trace_error(info.value, path, None, "cannot read")


def test_traces_dispatch_csv_to_openb(write: Write) -> None:
    path = write("anything.txt", f"{POD_HEADER5}\na,1,2,0,0\n")
    assert traces.load_pods(path) == [TracePod("a", PodDemand(1, 2))]
    assert traces.trace_name(Path("x/openb_pod_list_gpushare40.csv")) == "gpushare40"
    assert traces.trace_name(Path("x/my_pods.yaml")) == "my_pods"


def test_shipped_trace_loads() -> None:
    # NOTICE.md: 1,213 GPU nodes with 6,212 GPUs; the default pod list has 8,152 rows
    name, trace = traces.resolve("default", None, None)
    assert name == "default"
    assert len(trace.nodes) == 1213
    assert sum(len(n.gpus) for n in trace.nodes) == 6212
    assert len(trace.pods) == 8152


# ------------------------------------------------------------------ bugs
@pytest.mark.parametrize("value", ["nan", "inf"])
def test_non_finite_times_are_rejected(write: Write, value: str) -> None:
    path = write("pods.csv", f"{POD_HEADER}\np,1000,1024,1,500,,LS,Running,{value},10,0\n")
    with pytest.raises(TraceError) as info:
        openb.load_pods(path)
    assert_trace_error(info.value, path, 2, "creation_time")


def test_non_utf8_file_raises_trace_error(tmp_path: Path) -> None:
    path = tmp_path / "pods.csv"
    path.write_bytes(f"{POD_HEADER5}\n".encode() + b"p\xff\xfe,1000,1024,1,500\n")
    with pytest.raises(TraceError) as info:
        openb.load_pods(path)
    assert info.value.path == str(path)


def test_runaway_quote_raises_trace_error(tmp_path: Path) -> None:
    path = tmp_path / "pods.csv"
    rows = "".join(f"p{i},1000,1024,1,500\n" for i in range(10_000))
    path.write_text(f'{POD_HEADER5}\nbad,"1000,1024,1,500\n{rows}', encoding="utf-8")
    with pytest.raises(TraceError) as info:
        openb.load_pods(path)
    assert info.value.path == str(path)
