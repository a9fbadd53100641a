"""Kubernetes resource quantities ('500m', '2', '1.5', '64Gi', '512Mi', '1e3', '1G') as the
units of the core: milli-cores for CPU, MiB for memory, plain integers for counts."""

from __future__ import annotations

import math
import re
from fractions import Fraction

_SUFFIX = {
    "n": Fraction(1, 10**9),
    "u": Fraction(1, 10**6),
    "m": Fraction(1, 1000),
    "": Fraction(1),
    "k": Fraction(10**3),
    "M": Fraction(10**6),
    "G": Fraction(10**9),
    "T": Fraction(10**12),
    "P": Fraction(10**15),
    "E": Fraction(10**18),
    "Ki": Fraction(2**10),
    "Mi": Fraction(2**20),
    "Gi": Fraction(2**30),
    "Ti": Fraction(2**40),
    "Pi": Fraction(2**50),
    "Ei": Fraction(2**60),
}
_PATTERN = re.compile(
    r"^\s*([+]?[0-9]*\.?[0-9]+)(?:[eE]([+-]?[0-9]+)|(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]))?\s*$"
)
_MIB = Fraction(2**20)


def parse_quantity(value: object, what: str = "quantity") -> Fraction:
    """The value of a quantity in base units (cores, bytes, or a count); never negative."""
    if isinstance(value, bool):
        raise ValueError(f"{what}: expected a quantity, got {value!r}")
    if isinstance(value, int):
        number = Fraction(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{what}: expected a finite number, got {value!r}")
        number = Fraction(repr(value))  # the decimal the user wrote, not its binary neighbour
    else:
        match = _PATTERN.match(str(value))
        if not match:
            raise ValueError(f"{what}: cannot read quantity {value!r}")
        digits, exponent, suffix = match.groups()
        number = Fraction(digits)
        number *= Fraction(10) ** int(exponent) if exponent else _SUFFIX[suffix or ""]
    if number < 0:
        raise ValueError(f"{what}: must not be negative, got {value!r}")
    return number


def cpu_milli(value: object, what: str = "cpu") -> int:
    """Cores ('2', 1.5) or milli-cores ('500m') as milli-cores, rounded up."""
    return math.ceil(parse_quantity(value, what) * 1000)


def mebibytes(value: object, what: str = "memory", bare_unit: Fraction = _MIB) -> int:
    """Memory as MiB, rounded up. A bare number counts in ``bare_unit`` (MiB for our own
    formats; pass Fraction(1) to read bare numbers as bytes, as Kubernetes does)."""
    number = parse_quantity(value, what)
    match = _PATTERN.match(value) if isinstance(value, str) else None
    if match and (match.group(2) or match.group(3)):
        return math.ceil(number / _MIB)
    return math.ceil(number * bare_unit / _MIB)


def count(value: object, what: str = "count") -> int:
    """An integer count (extended resources are whole numbers)."""
    number = parse_quantity(value, what)
    if number.denominator != 1:
        raise ValueError(f"{what}: must be a whole number, got {value!r}")
    return int(number)
