"""The resolver's pace (losses slow it down, answers let it grow back) and the table of silent
zones (two names silent, and the zone is; any answer, and it is not), without a network."""

from __future__ import annotations

import asyncio
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from functools import partial

import pytest

from hsts_coverage.resolve import Pacer, zone_of
from hsts_coverage.resolve.pacer import (
    EPOCH_SECONDS,
    MAX_IN_FLIGHT,
    MIN_IN_FLIGHT,
    MIN_RATE,
    UNPACED,
)
from hsts_coverage.resolve.silent import SilentZones


@pytest.mark.parametrize(
    ("name", "zone"),
    [
        ("www.example.com", "example.com"),
        ("a.b.example.com", "b.example.com"),
        ("example.com", "example.com"),  # the parent is a public suffix: its own zone
        ("shop.example.co.uk", "example.co.uk"),
        ("example.co.uk", "example.co.uk"),
        ("user.github.io", "user.github.io"),
        ("localhost", "localhost"),
    ],
)
def test_the_zone_of_a_name(name: str, zone: str) -> None:
    assert zone_of(name) == zone


def test_a_loss_halves_the_window_and_sets_a_rate_once_per_epoch() -> None:
    pacer = Pacer()
    for _ in range(1000):
        pacer.answered()
    pacer.lost(time.monotonic() - 0.5)
    assert pacer.window == MAX_IN_FLIGHT / 2
    assert pacer.rate is not None
    assert pacer.rate >= MIN_RATE
    rate = pacer.rate
    pacer.lost(time.monotonic())  # within the epoch: the same trouble, no news
    assert (pacer.window, pacer.rate, pacer.slowdowns) == (MAX_IN_FLIGHT / 2, rate, 1)


def test_a_loss_sent_before_the_last_slow_down_changes_nothing() -> None:
    pacer = Pacer()
    before = time.monotonic() - 10
    pacer.lost(time.monotonic())
    pacer._slowed_at -= EPOCH_SECONDS * 2  # an epoch later
    pacer.lost(before)
    assert pacer.slowdowns == 1


def test_losses_never_go_below_the_floors() -> None:
    pacer = Pacer()
    for _ in range(40):
        pacer._slowed_at = -float("inf")
        pacer.lost(time.monotonic())
    assert pacer.window == MIN_IN_FLIGHT
    assert pacer.rate == MIN_RATE


def test_answers_grow_the_pace_back_until_it_is_unpaced() -> None:
    pacer = Pacer()
    pacer.lost(time.monotonic())
    assert pacer.rate is not None
    answers = 0
    while pacer.rate is not None and answers < 10**6:
        pacer.answered()
        answers += 1
    assert pacer.rate is None
    assert pacer.window == MAX_IN_FLIGHT
    assert answers == pytest.approx((UNPACED - MIN_RATE) / 0.1, rel=0.01)


async def test_the_window_bounds_the_queries_in_flight() -> None:
    pacer = Pacer(window=3)
    most = 0

    async def query() -> None:
        nonlocal most
        async with pacer:
            most = max(most, pacer.in_flight)
            await asyncio.sleep(0.01)

    await asyncio.gather(*(query() for _ in range(20)))
    assert most == 3
    assert pacer.in_flight == 0


async def test_a_rate_spaces_the_queries() -> None:
    pacer = Pacer()
    pacer.rate = 100.0
    started = time.monotonic()
    for _ in range(11):
        async with pacer:
            pacer.rate = 100.0  # keep it from growing: no answers here
    assert time.monotonic() - started >= 0.09


def _lookup(
    outcomes: dict[str, bool], calls: list[str], delay: float = 0.05
) -> Callable[[str], Awaitable[bool]]:
    async def resolve(name: str) -> bool:
        calls.append(name)
        await asyncio.sleep(delay)
        return outcomes.get(name, True)  # True: timed out

    return resolve


async def _all(
    zones: SilentZones, names: list[str], outcomes: dict[str, bool]
) -> tuple[list[object], list[str]]:
    calls: list[str] = []
    resolve = _lookup(outcomes, calls)
    results = await asyncio.gather(
        *(zones.lookup("z.test", n, partial(resolve, n), bool) for n in names)
    )
    return list(results), calls


async def test_two_silent_names_silence_the_zone() -> None:
    names = [f"n{i}.z.test" for i in range(50)]
    results, calls = await _all(SilentZones(), names, {})
    assert len(calls) == 2  # the leaders; the 48 others waited and shared
    assert results.count("n0.z.test") == 48


async def test_one_answer_lets_every_name_ask_on_its_own() -> None:
    names = [f"n{i}.z.test" for i in range(50)]
    results, calls = await _all(SilentZones(), names, {"n1.z.test": False})
    assert sorted(calls) == sorted(names)
    assert not any(isinstance(r, str) for r in results)


async def test_a_name_that_is_itself_silent_does_not_silence_its_siblings() -> None:
    zones = SilentZones()
    results, _calls = await _all(zones, ["quiet.z.test", "quiet.z.test"], {})
    assert results == [True, True]  # the same name twice is one vote: nothing shared
    results, _ = await _all(zones, ["n1.z.test"], {"n1.z.test": False})
    assert results == [False]


async def test_both_leaders_answering_is_no_trouble() -> None:
    names = [f"n{i}.z.test" for i in range(10)]
    results, calls = await _all(SilentZones(), names, dict.fromkeys(names, False))
    assert results == [False] * 10
    assert sorted(calls) == sorted(names)


async def test_the_apex_of_a_silent_zone_and_names_below_it_are_silent_too() -> None:
    zones = SilentZones()
    await _all(zones, [f"n{i}.z.test" for i in range(4)], {})
    calls: list[str] = []
    resolve = _lookup({}, calls)
    for name, zone in (("z.test", "test"), ("a.b.z.test", "b.z.test")):
        assert await zones.lookup(zone, name, partial(resolve, name), bool) == "n0.z.test"
    assert calls == []
    assert await zones.lookup("test", "other.test", partial(resolve, "other.test"), bool) is True


def test_the_zone_of_many_names_keeps_none_of_them() -> None:
    # A cache entry per name held every name asked, guesses included, for the whole scan
    # (about 140 bytes a name); the public-suffix answer is cached by parent instead.
    names = [f"n{i}.retained.example.com" for i in range(10_000)]
    zone_of("x.retained.example.com")
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        zones = {zone_of(name) for name in names}
        kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert zones == {"retained.example.com"}
    assert kept < 50_000  # bytes, for 10,000 names (1.4 MB with a cache entry per name)
