"""Kubernetes-style quantities for our own trace format: '500m', '2', '64Gi', '512Mi'."""

from __future__ import annotations

import math
import re

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}
_DECIMAL = {"k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}
_PATTERN = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(m|Ki|Mi|Gi|Ti|k|M|G|T)?\s*$")


def _parse(value: object, what: str) -> tuple[float, str]:
    if isinstance(value, bool):
        raise ValueError(f"{what}: expected a quantity, got {value!r}")
    if isinstance(value, int | float):
        if value < 0 or not math.isfinite(value):
            raise ValueError(f"{what}: must be a non-negative number, got {value!r}")
        return float(value), ""
    match = _PATTERN.match(str(value))
    if not match:
        raise ValueError(f"{what}: cannot read quantity {value!r}")
    return float(match.group(1)), match.group(2) or ""


def cpu_milli(value: object, what: str = "cpu") -> int:
    """Cores ('2', 1.5) or milli-cores ('500m') as milli-cores."""
    number, unit = _parse(value, what)
    if unit == "m":
        return math.ceil(number)
    if unit:
        raise ValueError(f"{what}: unit {unit!r} is not a cpu unit (use cores or 'm')")
    return math.ceil(number * 1000)


def mebibytes(value: object, what: str = "memory") -> int:
    """Memory as MiB: a bare number is MiB; '64Gi', '512Mi', '1G' are converted."""
    number, unit = _parse(value, what)
    if unit == "m":
        raise ValueError(f"{what}: 'm' is not a memory unit")
    if not unit:
        return math.ceil(number)
    factor = _BINARY.get(unit) or _DECIMAL[unit]
    return math.ceil(number * factor / 2**20)
