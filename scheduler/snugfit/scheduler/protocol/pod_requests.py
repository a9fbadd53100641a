"""A pod's requests as the packing core's PodDemand.

Pods ask for GPUs in the conventions users already have:
- whole GPUs: ``nvidia.com/gpu: k``;
- a share of one GPU (ours): ``snugfit.io/gpu-memory: MiB`` or ``snugfit.io/gpu-milli: milli``;
  with the annotation ``snugfit.io/gpu-count: k`` GPU memory is split evenly over k GPUs
  (a milli share is for one GPU: k GPUs at a fraction each is not a packing shape);
- gpushare: ``aliyun.com/gpu-mem: n`` (GiB of one GPU by default);
- HAMi: ``nvidia.com/gpu: k`` with ``nvidia.com/gpumem: MiB`` on each of the k GPUs, or
  ``nvidia.com/gpumem-percentage: p`` of one GPU.
Allowed GPU models come from ``snugfit.io/gpu-models`` or HAMi's ``nvidia.com/use-gputype`` /
``nvidia.com/nouse-gputype`` annotations (comma-separated).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from fractions import Fraction
from typing import Any

from snugfit.packing.cluster import GPU_MILLI
from snugfit.packing.demand import PodDemand
from snugfit.packing.quantity import count, cpu_milli, mebibytes
from snugfit.scheduler.protocol import resources as r


class PodRequestError(ValueError):
    """The pod's GPU request cannot be understood; the message says why."""


def _containers(spec: dict[str, Any], key: str) -> list[dict[str, Any]]:
    items = spec.get(key) or []
    return [c for c in items if isinstance(c, dict)]


def _requests(container: dict[str, Any]) -> dict[str, Any]:
    resources = container.get("resources") or {}
    merged = dict(resources.get("limits") or {})
    merged.update(resources.get("requests") or {})  # requests win; limits fill gaps
    return merged


def _total(spec: dict[str, Any], name: str, parse: Any) -> int:
    """Effective pod request: sum over app containers, at least the largest init container,
    plus overhead (sidecar subtleties aside)."""
    app = sum(
        parse(_requests(c)[name], name)
        for c in _containers(spec, "containers")
        if name in _requests(c)
    )
    init = max(
        (
            parse(_requests(c)[name], name)
            for c in _containers(spec, "initContainers")
            if name in _requests(c)
        ),
        default=0,
    )
    overhead = spec.get("overhead") or {}
    extra = parse(overhead[name], name) if name in overhead else 0
    return int(max(app, init) + extra)


def _bytes_as_mib(value: object, what: str) -> int:
    return mebibytes(value, what, bare_unit=Fraction(1))


def _model_list(text: str) -> set[str]:
    return {m.strip() for m in text.split(",") if m.strip()}


def allowed_models(
    annotations: dict[str, str], cluster_models: Sequence[str]
) -> frozenset[str] | None:
    allowed: set[str] | None = None
    for key in (r.GPU_MODELS_ANNOTATION, r.HAMI_USE_GPU_TYPE):
        if annotations.get(key):
            models = _model_list(annotations[key])
            allowed = models if allowed is None else allowed & models
    if annotations.get(r.HAMI_NOUSE_GPU_TYPE):
        excluded = _model_list(annotations[r.HAMI_NOUSE_GPU_TYPE])
        allowed = (set(cluster_models) if allowed is None else allowed) - excluded
    return None if allowed is None else frozenset(allowed)


def pod_demand(
    pod: dict[str, Any], cluster_models: Iterable[str] = (), gpushare_unit_mib: int = 1024
) -> PodDemand:
    """The pod's demand; raises PodRequestError for conflicting or malformed GPU requests."""
    try:
        return _pod_demand(pod, cluster_models, gpushare_unit_mib)
    except (TypeError, AttributeError) as exc:
        raise PodRequestError(f"pod spec is not shaped as Kubernetes sends it: {exc}") from None


def _pod_demand(
    pod: dict[str, Any], cluster_models: Iterable[str], gpushare_unit_mib: int
) -> PodDemand:
    spec = pod.get("spec")
    if not isinstance(spec, dict):
        raise PodRequestError("pod has no spec")
    meta = pod.get("metadata") or {}
    annotations = meta.get("annotations") or {}
    try:
        cpu = _total(spec, "cpu", cpu_milli)
        memory = _total(spec, "memory", _bytes_as_mib)
        whole = _total(spec, r.NVIDIA_GPU, count)
        ours_mem = _total(spec, r.SNUGFIT_GPU_MEMORY, count)
        ours_milli = _total(spec, r.SNUGFIT_GPU_MILLI, count)
        gpushare = _total(spec, r.GPUSHARE_GPU_MEM, count)
        hami_mem = _total(spec, r.HAMI_GPU_MEM, count)
        hami_pct = _total(spec, r.HAMI_GPU_MEM_PERCENT, count)
        split = count(annotations.get(r.GPU_COUNT_ANNOTATION, 1), r.GPU_COUNT_ANNOTATION)
    except ValueError as exc:
        raise PodRequestError(str(exc)) from None
    models = allowed_models(annotations, list(cluster_models))
    used = [
        name
        for name, v in (
            (r.SNUGFIT_GPU_MEMORY, ours_mem),
            (r.SNUGFIT_GPU_MILLI, ours_milli),
            (r.GPUSHARE_GPU_MEM, gpushare),
            (r.HAMI_GPU_MEM, hami_mem),
            (r.HAMI_GPU_MEM_PERCENT, hami_pct),
        )
        if v
    ]
    if len(used) > 1:
        raise PodRequestError(f"pod asks for GPU share in more than one way: {', '.join(used)}")

    def demand(gpus: int = 0, milli: int = 0, memory_mib: int = 0) -> PodDemand:
        return PodDemand(
            cpu_milli=cpu,
            memory_mib=memory,
            gpu_count=gpus,
            gpu_milli=milli,
            gpu_memory_mib=memory_mib,
            allowed_models=models,
        )

    try:
        if ours_mem or ours_milli:
            if whole:
                raise PodRequestError(
                    f"{used[0]} cannot be combined with {r.NVIDIA_GPU}; use the "
                    f"{r.GPU_COUNT_ANNOTATION} annotation for several GPUs"
                )
            if split < 1 or (ours_mem or ours_milli) % split:
                raise PodRequestError(
                    f"{used[0]} must divide evenly over {r.GPU_COUNT_ANNOTATION}={split}"
                )
            if ours_milli and ours_milli // split > GPU_MILLI:
                raise PodRequestError(f"{r.SNUGFIT_GPU_MILLI} per GPU is above {GPU_MILLI}")
            return demand(split, milli=ours_milli // split, memory_mib=ours_mem // split)
        if gpushare:
            return demand(1, memory_mib=gpushare * gpushare_unit_mib)
        if hami_pct:
            if hami_pct > 100:
                raise PodRequestError(f"{r.HAMI_GPU_MEM_PERCENT} must be at most 100")
            return demand(whole or 1, milli=math.ceil(hami_pct * GPU_MILLI / 100))
        if hami_mem:
            return demand(whole or 1, memory_mib=hami_mem)
        return demand(whole, milli=GPU_MILLI if whole else 0)
    except PodRequestError:
        raise
    except ValueError as exc:
        raise PodRequestError(str(exc)) from None
