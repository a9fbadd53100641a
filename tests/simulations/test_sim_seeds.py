"""Seed lists for `--seeds`: '42-51', '42', '42,45,50-51'."""

from __future__ import annotations

import pytest

from snugfit.simulations.seeds import parse_seeds


@pytest.mark.parametrize(
    ("text", "seeds"),
    [
        ("42", (42,)),
        ("0", (0,)),
        ("42-51", tuple(range(42, 52))),
        ("42,45,50-51", (42, 45, 50, 51)),
        ("5-5", (5,)),
        (" 1 , 2 ", (1, 2)),
        (" 3 - 4 ", (3, 4)),  # blanks around the numbers of a range are fine
        ("3,1,3", (3, 1)),  # repeats dropped, first order kept
        ("1-3,2-4", (1, 2, 3, 4)),  # overlapping ranges merged
        ("10,1-2", (10, 1, 2)),  # not sorted
    ],
)
def test_parse_seeds(text: str, seeds: tuple[int, ...]) -> None:
    assert parse_seeds(text) == seeds


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "seeds: cannot read ''"),
        ("abc", "seeds: cannot read 'abc'"),
        ("1.5", "seeds: cannot read '1.5'"),
        ("42-", "seeds: cannot read '42-'"),
        ("-1", "seeds: cannot read '-1'"),  # a negative seed reads as a range without start
        ("1-2-3", "seeds: cannot read '1-2-3'"),
        ("1,,2", "seeds: cannot read ''"),
        ("1,", "seeds: cannot read ''"),
        ("5-3", "seeds: '5-3' is not a rising range of non-negative seeds"),
        ("1,9-8", "seeds: '9-8' is not a rising range"),
    ],
)
def test_bad_seeds(text: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_seeds(text)
    assert str(info.value).startswith(message)
