"""Parallel test workers never share lab addresses (tests/helpers.py `worker_bases`)."""

from __future__ import annotations

import pytest

from tests.helpers import worker_bases

DEFAULTS = {"HSTS_LAB_BASE": "127.78", "HSTS_FLEET_BASE": "127.76", "HSTS_BENCH_BASE": "127.69"}


@pytest.mark.parametrize(
    ("worker", "environ", "expected"),
    [
        ("master", {}, DEFAULTS),
        ("gw0", {}, DEFAULTS),
        (
            "gw1",
            {},
            {"HSTS_LAB_BASE": "127.83", "HSTS_FLEET_BASE": "127.81", "HSTS_BENCH_BASE": "127.74"},
        ),
        (
            "gw2",
            {"HSTS_LAB_BASE": "127.100"},
            {
                **DEFAULTS,
                "HSTS_LAB_BASE": "127.110",
                "HSTS_FLEET_BASE": "127.86",
                "HSTS_BENCH_BASE": "127.79",
            },
        ),
        ("gwx", {}, DEFAULTS),  # not a numbered worker: as without workers
    ],
)
def test_each_worker_moves_every_base(
    worker: str, environ: dict[str, str], expected: dict[str, str]
) -> None:
    assert worker_bases(worker, environ) == expected


def test_the_bases_of_two_workers_never_meet() -> None:
    first, second = worker_bases("gw0", {}), worker_bases("gw1", {})
    assert not set(first.values()) & set(second.values())


def test_no_room_above_a_base_is_an_error() -> None:
    with pytest.raises(ValueError, match="no room for worker gw1"):
        worker_bases("gw1", {"HSTS_LAB_BASE": "127.253"})
