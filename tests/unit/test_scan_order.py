"""The order names are checked in (`pipeline.domain.zones_in_turn`): every zone's first names
early, runs of names that sort together spread out, the same order every run."""

from __future__ import annotations

import pytest

from hsts_coverage.pipeline.domain import zones_in_turn
from hsts_coverage.sources.collect import _by_label_from_right

BIG = [f"h{i}.example.com" for i in range(1000)]
SILENT = [f"h{i}.silent.example.com" for i in range(30)]
ONE = ["www.dev.example.com"]


def enumerated(*groups: list[str]) -> list[str]:
    """As the enumeration hands them over: sorted by label from the right."""
    return sorted((name for group in groups for name in group), key=_by_label_from_right)


@pytest.mark.parametrize(
    ("names", "zone", "within"),
    [
        (enumerated(BIG, SILENT), "silent.example.com", 2),  # sorted last, checked at once
        (enumerated(BIG, SILENT, ONE), "dev.example.com", 3),
        (enumerated(BIG, SILENT, ONE), "silent.example.com", 3),
    ],
    ids=["a zone sorted last", "a one-name zone", "among three zones"],
)
def test_every_zone_starts_in_the_first_round(names: list[str], zone: str, within: int) -> None:
    order = zones_in_turn(names)
    first = next(i for i, name in enumerate(order) if name.partition(".")[2] == zone)
    assert first < within


def test_it_is_an_order_of_the_same_names() -> None:
    names = enumerated(BIG, SILENT, ONE)
    order = zones_in_turn(names)
    assert sorted(order) == sorted(names)
    assert zones_in_turn(names) == order  # the same every run


def test_names_numbered_in_a_row_are_spread_out() -> None:
    # h100..h199 (a pool on one dead address, say) sort together in the enumeration.
    order = zones_in_turn(enumerated(BIG))
    pool = sorted(order.index(f"h{i}.example.com") for i in range(100, 200))
    # across the list, not one run of a hundred
    assert pool[0] < 50
    assert pool[-1] > 950


def test_no_names_is_no_names() -> None:
    assert zones_in_turn([]) == []
