"""Typed configuration of `snugfit serve`: a YAML file, then SNUGFIT_* environment variables,
then command-line flags; validated at start-up with messages that name the field."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import yaml

from snugfit.packing.policies.registry import ORACLES, POLICIES

MODES = ("scores", "narrow")
# GPU memory by product name, for nodes that only advertise nvidia.com/gpu (MiB).
DEFAULT_MODEL_MEMORY_MIB = {
    "NVIDIA-A100-SXM4-80GB": 81920,
    "NVIDIA-A100-SXM4-40GB": 40960,
    "NVIDIA-A100-PCIE-40GB": 40960,
    "NVIDIA-H100-80GB-HBM3": 81559,
    "NVIDIA-H200": 143771,
    "NVIDIA-L4": 23034,
    "NVIDIA-A10G": 23028,
    "Tesla-T4": 15360,
    "Tesla-V100-SXM2-16GB": 16384,
    "Tesla-V100-SXM2-32GB": 32768,
}


class ConfigError(ValueError):
    """Invalid configuration; the message names the field."""


@dataclass(frozen=True)
class ExtenderConfig:
    host: str = "127.0.0.1"
    port: int = 8888
    policy: str = "snugfit"
    mode: str = (
        "scores"  # scores: weighted with kube-scheduler's plugins; narrow: filter keeps the best
    )
    kubeconfig: Path | None = None  # None: in-cluster service account
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    client_ca_file: Path | None = None  # when set, clients must present a certificate it signed
    max_request_bytes: int = 64 * 2**20
    gpushare_unit_mib: int = 1024
    default_model: str = "unknown"
    model_memory_mib: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_MODEL_MEMORY_MIB))
    watch_timeout_s: int = 300
    workload_refresh_pods: int = 4096  # re-learn the target workload after this many new pods
    log_level: str = "INFO"
    seed: int = 0

    def validate(self) -> ExtenderConfig:
        problems = []
        if self.policy not in POLICIES:
            problems.append(f"policy: unknown {self.policy!r}; known: {', '.join(POLICIES)}")
        elif self.policy in ORACLES:
            problems.append(f"policy: {self.policy!r} knows future pods; simulator only")
        if self.mode not in MODES:
            problems.append(f"mode: must be one of {', '.join(MODES)}, got {self.mode!r}")
        if not 0 < self.port < 65536:
            problems.append(f"port: must be 1..65535, got {self.port}")
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            problems.append("tls_cert_file and tls_key_file: give both or neither")
        if self.client_ca_file is not None and self.tls_cert_file is None:
            problems.append("client_ca_file: needs TLS (tls_cert_file, tls_key_file)")
        for name in ("tls_cert_file", "tls_key_file", "client_ca_file", "kubeconfig"):
            path = getattr(self, name)
            if path is not None and not path.is_file():
                problems.append(f"{name}: no such file {path}")
        if self.max_request_bytes < 1024:
            problems.append("max_request_bytes: must be at least 1024")
        if (
            self.gpushare_unit_mib <= 0
            or self.watch_timeout_s <= 0
            or self.workload_refresh_pods <= 0
        ):
            problems.append(
                "gpushare_unit_mib, watch_timeout_s, workload_refresh_pods: must be positive"
            )
        if any(not isinstance(v, int) or v <= 0 for v in self.model_memory_mib.values()):
            problems.append("model_memory_mib: every value must be a positive integer (MiB)")
        if self.log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            problems.append(f"log_level: unknown {self.log_level!r}")
        if problems:
            raise ConfigError("invalid configuration:\n  " + "\n  ".join(problems))
        return self


def _coerce(name: str, kind: Any, value: Any) -> Any:
    if value is None:
        return None
    kind_text = str(kind)
    try:
        if "Path" in kind_text:
            return Path(value)
        if kind_text.startswith("int"):
            return int(value)
        if kind_text.startswith("dict"):
            if isinstance(value, str):
                value = yaml.safe_load(value)
            if not isinstance(value, dict):
                raise ValueError("expected a mapping")
            return {str(k): int(v) for k, v in value.items()}
        return str(value)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{name}: cannot read {value!r} ({exc})") from None


def load_config(
    path: Path | None = None, env: dict[str, str] | None = None, **overrides: Any
) -> ExtenderConfig:
    """File, then SNUGFIT_<FIELD> environment variables, then explicit overrides (flags)."""
    values: dict[str, Any] = {}
    kinds = {f.name: f.type for f in fields(ExtenderConfig)}
    if path is not None:
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"config file {path}: {exc}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"config file {path}: expected a mapping")
        unknown = sorted(set(data) - set(kinds))
        if unknown:
            raise ConfigError(f"config file {path}: unknown field(s) {', '.join(unknown)}")
        values.update(data)
    environ = os.environ if env is None else env
    for name in kinds:
        key = f"SNUGFIT_{name.upper()}"
        if key in environ:
            values[name] = environ[key]
    values.update({k: v for k, v in overrides.items() if v is not None})
    coerced = {k: _coerce(k, kinds[k], v) for k, v in values.items()}
    return replace(ExtenderConfig(), **coerced).validate()
