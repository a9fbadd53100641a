"""Names of the resources, annotations and labels the extender reads and writes."""

from __future__ import annotations

# Whole GPUs (NVIDIA device plugin); also HAMi's GPU count.
NVIDIA_GPU = "nvidia.com/gpu"
# Ours: the pod's GPU memory in MiB, on one GPU (or split evenly over GPU_COUNT_ANNOTATION GPUs).
SNUGFIT_GPU_MEMORY = "snugfit.io/gpu-memory"
# Ours: the pod's GPU share in milli-GPU (1000 = one GPU), on one GPU (or split as above).
SNUGFIT_GPU_MILLI = "snugfit.io/gpu-milli"
GPU_COUNT_ANNOTATION = "snugfit.io/gpu-count"
GPU_MODELS_ANNOTATION = "snugfit.io/gpu-models"  # comma-separated allowed models
# gpushare (Alibaba): GPU memory of one GPU, in GiB unless configured otherwise.
GPUSHARE_GPU_MEM = "aliyun.com/gpu-mem"
# HAMi: per-GPU memory in MiB or percent, with nvidia.com/gpu as the count; cores are not packed.
HAMI_GPU_MEM = "nvidia.com/gpumem"
HAMI_GPU_MEM_PERCENT = "nvidia.com/gpumem-percentage"
HAMI_GPU_CORES = "nvidia.com/gpucores"
HAMI_USE_GPU_TYPE = "nvidia.com/use-gputype"
HAMI_NOUSE_GPU_TYPE = "nvidia.com/nouse-gputype"

# Written at bind: which GPUs the pod got. Read back after a restart.
ASSIGNMENT_ANNOTATION = "snugfit.io/gpu-assignment"
# Written by the node agent: the node's GPUs.
INVENTORY_ANNOTATION = "snugfit.io/gpu-inventory"
# NVIDIA GPU Feature Discovery labels.
GFD_COUNT = "nvidia.com/gpu.count"
GFD_MEMORY = "nvidia.com/gpu.memory"  # MiB per GPU
GFD_PRODUCT = "nvidia.com/gpu.product"

# The resources kube-scheduler should send to the extender (managedResources).
MANAGED_RESOURCES = (
    NVIDIA_GPU,
    SNUGFIT_GPU_MEMORY,
    SNUGFIT_GPU_MILLI,
    GPUSHARE_GPU_MEM,
    HAMI_GPU_MEM,
    HAMI_GPU_MEM_PERCENT,
)
