"""The cutting-stock LP bound that packing_floor.py sets against the tightest packing."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))

from packing_floor import lp_bound_bins, tightest_bins


def test_pods_over_half_a_gpu_need_a_gpu_each() -> None:
    # the share alone would fit in 2 GPUs; no two 510s share one
    assert lp_bound_bins([510, 510, 510]) == 3


def test_the_bound_sees_what_no_content_can_hold() -> None:
    # 5 x 400 = 2 GPUs of share, but at most two 400s fit one GPU: 2.5 GPUs, so 3
    assert lp_bound_bins([400] * 5) == 3
    # 350 + 330 + 320 fill one GPU exactly, three times over
    assert lp_bound_bins([350, 330, 320] * 3) == 3


def test_bad_shares_are_refused() -> None:
    with pytest.raises(ValueError, match="multiples of 10"):
        lp_bound_bins([335])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 100).map(lambda u: 10 * u), min_size=1, max_size=40))
def test_no_packing_beats_the_bound(shares: list[int]) -> None:
    bound = lp_bound_bins(shares)
    assert -(-sum(shares) // 1000) <= bound <= tightest_bins(shares)
