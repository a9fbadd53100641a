"""Parsing seed lists: '42-51', '42', '42,45,50-51'."""

from __future__ import annotations


def parse_seeds(text: str) -> tuple[int, ...]:
    seeds: list[int] = []
    for part in text.split(","):
        part = part.strip()
        lo, sep, hi = part.partition("-")
        try:
            first, last = (int(lo), int(hi)) if sep else (int(part), int(part))
        except ValueError:
            raise ValueError(f"seeds: cannot read {part!r}; use e.g. 42-51 or 42,45") from None
        if first > last or first < 0:
            raise ValueError(f"seeds: {part!r} is not a rising range of non-negative seeds")
        seeds.extend(range(first, last + 1))
    if not seeds:
        raise ValueError("seeds: none given")
    return tuple(dict.fromkeys(seeds))
