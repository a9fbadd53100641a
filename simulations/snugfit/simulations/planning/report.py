"""The plan for people: a self-contained HTML report (plots inline), Markdown and JSON."""

from __future__ import annotations

import base64
import html
import io
import json
import math
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from snugfit.simulations.planning.catalogue import HOURS_PER_MONTH
from snugfit.simulations.planning.evaluate import Evaluation
from snugfit.simulations.planning.plan import BASELINE, POLICY, PlanResult

LABELS = {POLICY: "snugfit", BASELINE: "default kube-scheduler (model)"}


def label(policy: str) -> str:
    return LABELS.get(policy, policy)


def summary(plan: PlanResult) -> dict[str, Any]:
    """The numbers a reader needs, per policy: the chosen cluster, its cost, the saving."""
    types = {t.name: t for t in plan.inputs.types}
    out: dict[str, Any] = {
        "workload": plan.inputs.workload,
        "pods": len(plan.inputs.pods),
        "scale": plan.inputs.scale,
        "target": plan.inputs.target.describe(),
        "seeds": list(plan.inputs.seeds),
        "executor": plan.executor,
        "seconds": round(plan.seconds, 1),
        "policies": {},
    }
    for policy, found in plan.chosen.items():
        if found is None or found.counts is None:
            out["policies"][policy] = {"label": label(policy), "met": False}
            continue
        runs = [r for r in found.evaluations if r.counts == found.counts]
        out["policies"][policy] = {
            "label": label(policy),
            "met": True,
            "candidate": found.job_label.split(": ", 1)[1],
            "nodes": dict(found.counts),
            "node_total": sum(n for _, n in found.counts),
            "gpus": sum(types[t].gpus * n for t, n in found.counts),
            "cost_per_hour": round(found.cost_per_hour, 2),
            "cost_per_month": round(found.cost_per_hour * HOURS_PER_MONTH, 0),
            "pods_placed_pct": round(min(r.pods_placed_pct for r in runs), 2),
            "gpu_placed_pct": round(min(r.gpu_placed_pct for r in runs), 2),
        }
    ours, base = out["policies"].get(POLICY, {}), out["policies"].get(BASELINE, {})
    if ours.get("met") and base.get("met"):
        out["saving_vs_default"] = {
            "nodes": base["node_total"] - ours["node_total"],
            "gpus": base["gpus"] - ours["gpus"],
            "per_month": round(base["cost_per_month"] - ours["cost_per_month"], 0),
            "pct": round(100 * (1 - ours["cost_per_month"] / base["cost_per_month"]), 1),
        }
    return out


def _money(value: float) -> str:
    return f"${value:,.0f}"


def headline(s: dict[str, Any]) -> str:
    ours = s["policies"].get(POLICY, {})
    if not ours.get("met"):
        return "No cluster of the catalogue's node types meets the target under snugfit."
    nodes = ", ".join(f"{n} x {t}" for t, n in ours["nodes"].items())
    text = (
        f"snugfit needs {ours['node_total']:,} nodes ({nodes}): {ours['gpus']:,} GPUs, "
        f"{_money(ours['cost_per_month'])} per month."
    )
    saving = s.get("saving_vs_default")
    base = s["policies"].get(BASELINE, {})
    if saving and base.get("met"):
        cluster = ", ".join(f"{n} x {t}" for t, n in base["nodes"].items())
        cheaper = "less" if saving["per_month"] >= 0 else "more"
        text += (
            f" That is {_money(abs(saving['per_month']))} per month {cheaper} "
            f"({abs(saving['pct']):g} %) than the default kube-scheduler needs: {cluster}, "
            f"{base['gpus']:,} GPUs."
        )
    elif s["policies"].get(BASELINE, {}).get("met") is False:
        text += " The default kube-scheduler meets the target with no candidate cluster."
    return text


def markdown(s: dict[str, Any]) -> str:
    lines = [f"# Capacity plan: {s['workload']}", "", headline(s), ""]
    lines += [f"Target: {s['target']}. Seeds: {', '.join(map(str, s['seeds']))}.", ""]
    lines += ["| policy | nodes | GPUs | cost / month | pods placed | GPU request placed |"]
    lines += ["|---|---|---|---|---|---|"]
    for p in s["policies"].values():
        if not p["met"]:
            lines.append(f"| {p['label']} | target not met | | | | |")
            continue
        nodes = ", ".join(f"{n} x {t}" for t, n in p["nodes"].items())
        lines.append(
            f"| {p['label']} | {nodes} | {p['gpus']:,} | {_money(p['cost_per_month'])} | "
            f"{p['pods_placed_pct']:.2f} % | {p['gpu_placed_pct']:.2f} % |"
        )
    lines += ["", f"Computed in {s['seconds']} s on {s['executor']}.", ""]
    return "\n".join(lines)


def _png(fig: Figure) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode()


def _chosen_runs(plan: PlanResult) -> list[tuple[str, Evaluation]]:
    out = []
    for policy, found in plan.chosen.items():
        if found is not None and found.counts is not None:
            run = next(r for r in plan.cross if r.policy == policy and r.counts == found.counts)
            out.append((policy, run))
    return out


def figure_load(plan: PlanResult) -> str:
    fig, ax = plt.subplots(figsize=(7, 4))
    for run in plan.cross:
        cluster = ", ".join(f"{n} {t}" for t, n in run.counts)
        ax.plot(
            run.load_pct, run.unallocated_pct, marker=".", label=f"{label(run.policy)} on {cluster}"
        )
    ax.set_xlabel("GPU requested so far, % of the cluster's GPUs")
    ax.set_ylabel("unallocated GPU, %")
    ax.set_title("Unallocated GPU as the workload arrives")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return _png(fig)


def figure_node_counts(plan: PlanResult) -> str:
    fig, ax = plt.subplots(figsize=(7, 4))
    for search in plan.searches:
        points = sorted({(r.nodes, r.pods_placed_pct) for r in search.evaluations})
        if points:
            xs, ys = zip(*points, strict=True)
            ax.plot(xs, ys, marker="o", label=search.job_label)
    ax.axhline(
        plan.inputs.target.min_pods_placed_pct, color="black", linestyle="--", label="target"
    )
    ax.set_xlabel("nodes in the cluster")
    ax.set_ylabel("pods placed, %")
    ax.set_title("Pods placed against cluster size, per candidate")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return _png(fig)


def _bars(
    plan: PlanResult, values: dict[str, list[tuple[str, float]]], ylabel: str, title: str
) -> str:
    fig, ax = plt.subplots(figsize=(7, 4))
    series = list(values)
    groups = sorted({g for v in values.values() for g, _ in v})
    width = 0.8 / max(1, len(series))
    for i, name in enumerate(series):
        got = dict(values[name])
        xs = [j + i * width for j in range(len(groups))]
        ax.bar(xs, [got.get(g, 0.0) for g in groups], width, label=name)
    ax.set_xticks(
        [j + width * (len(series) - 1) / 2 for j in range(len(groups))], groups, fontsize=7
    )
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3, axis="y")
    return _png(fig)


def figure_fragmentation(plan: PlanResult) -> str:
    values: dict[str, list[tuple[str, float]]] = {
        "idle whole GPUs": [],
        "free share on partly used GPUs": [],
    }
    for policy, run in _chosen_runs(plan):
        for node_type, u in run.usage.items():
            group = f"{label(policy)}\n{node_type}"
            values["idle whole GPUs"].append((group, float(u.idle_whole_gpus)))
            values["free share on partly used GPUs"].append((group, u.fragment_gpus))
    return _bars(plan, values, "GPUs", "Free GPU at the end, by node type")


def figure_utilisation(plan: PlanResult) -> str:
    values: dict[str, list[tuple[str, float]]] = {"GPU": [], "CPU": [], "memory": []}
    for policy, run in _chosen_runs(plan):
        for node_type, u in run.usage.items():
            group = f"{label(policy)}\n{node_type}"
            values["GPU"].append((group, 100 * u.gpu_allocated / max(1, u.gpus)))
            values["CPU"].append((group, u.cpu_used_pct))
            values["memory"].append((group, u.memory_used_pct))
    return _bars(plan, values, "% allocated", "Utilisation by node type")


STYLE = """body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3rem .6rem;text-align:right}
th:first-child,td:first-child{text-align:left}.headline{font-size:1.25rem;background:#eef6ee;padding:1rem}
img{max-width:100%;display:block;margin:1rem 0}"""


def report_html(plan: PlanResult) -> str:
    s = summary(plan)
    rows = []
    for p in s["policies"].values():
        if not p["met"]:
            rows.append(
                f"<tr><td>{html.escape(p['label'])}</td><td colspan=5>target not met</td></tr>"
            )
            continue
        nodes = ", ".join(f"{n} &times; {html.escape(t)}" for t, n in p["nodes"].items())
        rows.append(
            f"<tr><td>{html.escape(p['label'])}</td><td>{nodes}</td><td>{p['gpus']:,}</td>"
            f"<td>{_money(p['cost_per_month'])}</td><td>{p['pods_placed_pct']:.2f} %</td>"
            f"<td>{p['gpu_placed_pct']:.2f} %</td></tr>"
        )
    types = "".join(
        f"<tr><td>{html.escape(t.name)}</td><td>{t.gpus} &times; {html.escape(t.gpu_model)}</td>"
        f"<td>{t.cpu_milli / 1000:g}</td><td>{t.memory_mib / 1024:,.0f}</td>"
        f"<td>${t.price_per_hour:,.2f}</td></tr>"
        for t in plan.inputs.types
    )
    figures = [
        ("Unallocated GPU against load", figure_load(plan)),
        ("Cluster size against the target", figure_node_counts(plan)),
        ("GPU fragmentation by node type", figure_fragmentation(plan)),
        ("Utilisation by node type", figure_utilisation(plan)),
    ]
    plots = "".join(
        f'<h2>{html.escape(title)}</h2><img alt="{html.escape(title)}" src="data:image/png;base64,{png}">'
        for title, png in figures
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Capacity plan: {html.escape(s["workload"])}</title>
<style>{STYLE}</style></head><body>
<h1>Capacity plan: {html.escape(s["workload"])}</h1>
<p class="headline">{html.escape(headline(s))}</p>
<h2>Chosen cluster per policy</h2>
<table><tr><th>policy</th><th>nodes</th><th>GPUs</th><th>cost / month</th><th>pods placed</th>
<th>GPU request placed</th></tr>{"".join(rows)}</table>
<p>Target: {html.escape(s["target"])}. Workload: {s["pods"]:,} pods (scale {s["scale"]:g}).
Seeds: {", ".join(map(str, s["seeds"]))}. Prices are per node-hour, {HOURS_PER_MONTH:g} hours a month.</p>
{plots}
<h2>Node types considered</h2>
<table><tr><th>type</th><th>GPUs</th><th>CPU cores</th><th>memory GiB</th><th>price / hour</th>
</tr>{types}</table>
<p>Computed in {s["seconds"]} s on {html.escape(s["executor"])} by replaying the workload through the
same scheduling code the snugfit extender runs.</p>
</body></html>
"""


def write_report(plan: PlanResult, directory: Path) -> dict[str, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    s = summary(plan)
    paths = {
        "html": directory / "report.html",
        "markdown": directory / "summary.md",
        "json": directory / "summary.json",
    }
    paths["html"].write_text(report_html(plan))
    paths["markdown"].write_text(markdown(s))
    paths["json"].write_text(
        json.dumps(s, indent=1, default=lambda v: None if math.isinf(v) else v)
    )
    return paths
